/*
 * make_corpus.c — `make-corpus DIR` writes the upload tests' corpus of
 * hostile and odd files into DIR and prints a JSON manifest (each file's
 * expected multipart status and error code); `make-corpus --probe FILE`
 * prints a picture's size and the mean colours of its four edges' strips.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <vips/vips.h>

#include "common/err.h"
#include "corpus_gen.h"

#define BURST_FILES 20
#define BURST_BYTES (5 * 1024 * 1024)
#define OVER_LIMIT_BYTES (2 * 1024 * 1024)
#define JPEG_COM_MAX 65537 /* marker, length and 65533 bytes of comment */

/* One corpus file: how to make it and what the server must answer. */
struct entry {
    const char *name;
    int (*make)(const char *path);
    int status;              /* under the default limits */
    const char *code;        /* error code, NULL for 200/201 */
    const char *detected;    /* the type a 415 message names */
    const char *image_type;  /* the form field to send */
    const char *content_type;
};

static char out_dir[4096];

static const char *
path_in_dir(const char *name)
{
    static char buf[4200];

    snprintf(buf, sizeof(buf), "%s/%s", out_dir, name);
    return buf;
}

/* Runs save on a fresh photo-like picture; 0 or PD_ERR. */
static int
with_photo(int w, int h, int seed, const char *path,
           int (*save)(VipsImage *, const char *))
{
    VipsImage *img = corpus_photo(w, h, 12.0, seed);
    int rc;

    if (img == NULL)
        return PD_ERR;
    rc = save(img, path);
    g_object_unref(img);
    return rc;
}

static int
make_text(const char *path)
{
    return corpus_write_file(path, corpus_text, strlen(corpus_text));
}

static int
make_svg(const char *path)
{
    return corpus_write_file(path, corpus_svg, strlen(corpus_svg));
}

static int
make_gif(const char *path)
{
    return with_photo(64, 64, 2, path, corpus_save_gif);
}

static int
make_truncated(const char *path)
{
    return with_photo(800, 600, 3, path, corpus_save_truncated_jpeg);
}

static int
make_bomb(const char *path)
{
    return corpus_save_png_bomb(50000, 50000, path);
}

static int
make_empty(const char *path)
{
    return corpus_write_file(path, "", 0);
}

/*
 * A w x h picture whose left half is red and right half blue, with some
 * grain: after EXIF orientation 6 the upright view has red on top.
 */
static VipsImage *
red_left_blue_right(int w, int h)
{
    VipsImage *xy = NULL, *x = NULL, *left = NULL, *black = NULL;
    VipsImage *red = NULL, *blue = NULL, *both = NULL, *noise = NULL;
    VipsImage *grainy = NULL, *out = NULL;
    double mul[] = {0, 0, 0}, r[] = {210, 30, 30}, b[] = {30, 40, 210};

    if (vips_xyz(&xy, w, h, NULL) != 0 ||
        vips_extract_band(xy, &x, 0, NULL) != 0 ||
        vips_less_const1(x, &left, w / 2, NULL) != 0 ||
        vips_black(&black, w, h, "bands", 3, NULL) != 0 ||
        vips_linear(black, &red, mul, r, 3, NULL) != 0 ||
        vips_linear(black, &blue, mul, b, 3, NULL) != 0 ||
        vips_ifthenelse(left, red, blue, &both, NULL) != 0 ||
        vips_gaussnoise(&noise, w, h, "sigma", 8.0, "mean", 0.0,
                        "seed", 4, NULL) != 0 ||
        vips_add(both, noise, &grainy, NULL) != 0 ||
        vips_cast_uchar(grainy, &out, NULL) != 0)
        out = NULL;
    VIPS_UNREF(xy);
    VIPS_UNREF(x);
    VIPS_UNREF(left);
    VIPS_UNREF(black);
    VIPS_UNREF(red);
    VIPS_UNREF(blue);
    VIPS_UNREF(both);
    VIPS_UNREF(noise);
    VIPS_UNREF(grainy);
    if (out != NULL)
        out->Type = VIPS_INTERPRETATION_sRGB;
    return out;
}

static int
make_oriented(const char *path)
{
    VipsImage *img = red_left_blue_right(600, 400);
    int rc;

    if (img == NULL)
        return PD_ERR;
    rc = corpus_save_oriented(img, path);
    g_object_unref(img);
    return rc;
}

static int
make_deep(const char *path)
{
    return with_photo(320, 240, 5, path, corpus_save_deep_png);
}

static int
make_cmyk(const char *path)
{
    return with_photo(600, 400, 6, path, corpus_save_cmyk_jpeg);
}

static int
make_heic(const char *path)
{
    return with_photo(640, 480, 7, path, corpus_save_heic);
}

static int
make_cutout(const char *path)
{
    return corpus_save_cutout(400, 300, path);
}

static int
save_q85(VipsImage *img, const char *path)
{
    return corpus_save_jpeg(img, path, 85);
}

/* A 12-megapixel phone photo: grainy enough to weigh a few MB. */
static int
make_phone(const char *path)
{
    return with_photo(4000, 3000, 9, path, save_q85);
}

/*
 * Writes jpeg (len bytes) to path padded to exactly target bytes with
 * comment segments right after the SOI marker. target - len must be 0
 * or at least 4 (the smallest segment).
 */
static int
write_padded(const unsigned char *jpeg, size_t len, size_t target,
             const char *path)
{
    unsigned char *buf = NULL, *p;
    size_t left = target - len, seg;
    int rc;

    if (len < 2 || len > target || (left > 0 && left < 4) ||
        (buf = malloc(target)) == NULL)
        return PD_ERR;
    memcpy(buf, jpeg, 2);
    for (p = buf + 2; left > 0; p += seg, left -= seg) {
        seg = left > JPEG_COM_MAX ? JPEG_COM_MAX : left;
        if (left - seg > 0 && left - seg < 4)
            seg = left - 4;
        p[0] = 0xff;
        p[1] = 0xfe;
        p[2] = (unsigned char)((seg - 2) >> 8);
        p[3] = (unsigned char)(seg - 2);
        memset(p + 4, 'p', seg - 4);
    }
    memcpy(p, jpeg + 2, len - 2);
    rc = corpus_write_file(path, buf, target);
    free(buf);
    return rc;
}

/*
 * A grainy photo (seed picks the grain) of exactly target bytes: the
 * picture is resized (from a small first guess) until its JPEG lands
 * between 90 % and 100 % of target, then padded. 0 or PD_ERR.
 */
static int
make_sized(int seed, size_t target, const char *path)
{
    double w = 800, h = 600, scale;
    void *buf = NULL;
    size_t len = 0;
    int tries, rc = PD_ERR;

    for (tries = 0; tries < 8 && rc != PD_OK; tries++) {
        VipsImage *img = corpus_photo((int)w, (int)h, 12.0, seed);

        if (img == NULL)
            return PD_ERR;
        g_free(buf);
        buf = NULL;
        if (vips_jpegsave_buffer(img, &buf, &len, "Q", 90, NULL) != 0) {
            g_object_unref(img);
            return PD_ERR;
        }
        g_object_unref(img);
        if (len + 4 <= target && len >= target / 10 * 9)
            rc = PD_OK;
        scale = sqrt(0.95 * (double)target / (double)len);
        w *= scale;
        h *= scale;
    }
    if (rc == PD_OK)
        rc = write_padded(buf, len, target, path);
    g_free(buf);
    return rc;
}

static int
make_over_limit(const char *path)
{
    return make_sized(8, OVER_LIMIT_BYTES, path);
}

static const struct entry entries[] = {
    {"photo.jpg", make_text, 415, "unsupported_type", "text", "original",
     "image/jpeg"},
    {"drawing.svg", make_svg, 415, "unsupported_type", "SVG", "original",
     "image/svg+xml"},
    {"anim.gif", make_gif, 415, "unsupported_type", "GIF", "original",
     "image/gif"},
    {"truncated.jpg", make_truncated, 422, "invalid_content", NULL,
     "original", "image/jpeg"},
    {"bomb.png", make_bomb, 422, "too_many_pixels", NULL, "original",
     "image/png"},
    {"empty.jpg", make_empty, 422, "invalid_content", NULL, "original",
     "image/jpeg"},
    {"rotated.jpg", make_oriented, 201, NULL, NULL, "original",
     "image/jpeg"},
    {"deep.png", make_deep, 201, NULL, NULL, "original", "image/png"},
    {"cmyk.jpg", make_cmyk, 201, NULL, NULL, "original", "image/jpeg"},
    {"phone.heic", make_heic, 201, NULL, NULL, "original", "image/heic"},
    {"cutout.png", make_cutout, 201, NULL, NULL, "processed", "image/png"},
    {"phone-12mp.jpg", make_phone, 201, NULL, NULL, "original",
     "image/jpeg"},
    {"over-2mib.jpg", make_over_limit, 201, NULL, NULL, "original",
     "image/jpeg"},
};

/* Prints s as a JSON string (quotes, backslashes, control bytes). */
static void
put_json_string(const char *s)
{
    putchar('"');
    for (; *s != '\0'; s++) {
        unsigned char c = (unsigned char)*s;

        if (c == '"' || c == '\\')
            printf("\\%c", c);
        else if (c < 0x20)
            printf("\\u%04x", c);
        else
            putchar(c);
    }
    putchar('"');
}

static void
put_field(const char *key, const char *value)
{
    printf(", \"%s\": ", key);
    if (value == NULL)
        fputs("null", stdout);
    else
        put_json_string(value);
}

static void
put_entry(const struct entry *e, const char *path, const char *group,
          int first)
{
    struct stat st;

    printf("%s\n    {\"name\": ", first ? "" : ",");
    put_json_string(e->name);
    put_field("path", path);
    printf(", \"bytes\": %lld, \"status\": %d",
           stat(path, &st) == 0 ? (long long)st.st_size : -1LL, e->status);
    put_field("code", e->code);
    put_field("detected", e->detected);
    put_field("image_type", e->image_type);
    put_field("content_type", e->content_type);
    put_field("group", group);
    putchar('}');
}

/* Makes one file; 1 when made, 0 when skipped (HEVC), -1 on failure. */
static int
make_one(const struct entry *e, const char *path)
{
    int rc = e->make(path);

    if (rc == CORPUS_ENOHEVC) {
        fprintf(stderr, "make-corpus: skipped %s: libheif here cannot "
                "write HEVC\n", e->name);
        return 0;
    }
    if (rc != PD_OK) {
        fprintf(stderr, "make-corpus: %s: %s%s\n", e->name,
                vips_error_buffer(), errno != 0 ? strerror(errno) : "");
        return -1;
    }
    return 1;
}

/* The burst files for the concurrency test: BURST_BYTES each, all
 * different. 0 or -1. */
static int
make_bursts(void)
{
    struct entry e = {NULL, NULL, 201, NULL, NULL, "original",
                      "image/jpeg"};
    char name[32], path[4200];
    int i;

    for (i = 0; i < BURST_FILES; i++) {
        snprintf(name, sizeof(name), "burst-%02d.jpg", i);
        snprintf(path, sizeof(path), "%s", path_in_dir(name));
        if (make_sized(100 + i, BURST_BYTES, path) != PD_OK) {
            fprintf(stderr, "make-corpus: %s: %s\n", name,
                    vips_error_buffer());
            return -1;
        }
        e.name = name;
        put_entry(&e, path, "burst", 0);
    }
    return 0;
}

static int
make_all(void)
{
    size_t i;
    int first = 1, made;

    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "make-corpus: %s: %s\n", out_dir, strerror(errno));
        return -1;
    }
    printf("{\"dir\": ");
    put_json_string(out_dir);
    printf(", \"files\": [");
    for (i = 0; i < sizeof(entries) / sizeof(entries[0]); i++) {
        char path[4200];

        snprintf(path, sizeof(path), "%s", path_in_dir(entries[i].name));
        errno = 0;
        made = make_one(&entries[i], path);
        if (made < 0)
            return -1;
        if (made > 0)
            put_entry(&entries[i], path, "corpus", first);
        first = first && made == 0;
    }
    if (make_bursts() != 0)
        return -1;
    printf("\n]}\n");
    return 0;
}

/* Prints the mean of each of the first three bands of a strip. */
static int
put_strip_mean(VipsImage *img, const char *key, int left, int top, int w,
               int h)
{
    VipsImage *strip = NULL;
    int b, bands = vips_image_get_bands(img) < 3 ? 1 : 3;
    double mean;

    if (vips_extract_area(img, &strip, left, top, w, h, NULL) != 0)
        return -1;
    printf(", \"%s\": [", key);
    for (b = 0; b < bands; b++) {
        VipsImage *band = NULL;

        if (vips_extract_band(strip, &band, b, NULL) != 0 ||
            vips_avg(band, &mean, NULL) != 0) {
            VIPS_UNREF(band);
            g_object_unref(strip);
            return -1;
        }
        printf("%s%.1f", b > 0 ? ", " : "", mean);
        g_object_unref(band);
    }
    putchar(']');
    g_object_unref(strip);
    return 0;
}

/*
 * `--probe FILE`: the picture as stored (no EXIF rotation): its size,
 * bands, orientation tag, and the mean colour of its top, bottom, left
 * and right quarters.
 */
static int
probe(const char *path)
{
    VipsImage *img = vips_image_new_from_file(path, NULL);
    int w, h, rc = -1;

    if (img == NULL) {
        fprintf(stderr, "make-corpus: %s: %s\n", path, vips_error_buffer());
        return -1;
    }
    w = vips_image_get_width(img);
    h = vips_image_get_height(img);
    printf("{\"width\": %d, \"height\": %d, \"bands\": %d, "
           "\"orientation\": %d", w, h, vips_image_get_bands(img),
           vips_image_get_orientation(img));
    if (w >= 4 && h >= 4 &&
        put_strip_mean(img, "top", 0, 0, w, h / 4) == 0 &&
        put_strip_mean(img, "bottom", 0, h - h / 4, w, h / 4) == 0 &&
        put_strip_mean(img, "left", 0, 0, w / 4, h) == 0 &&
        put_strip_mean(img, "right", w - w / 4, 0, w / 4, h) == 0)
        rc = 0;
    printf("}\n");
    g_object_unref(img);
    return rc;
}

static int
usage(void)
{
    fprintf(stderr, "usage: make-corpus DIR | make-corpus --probe FILE\n");
    return 2;
}

int
main(int argc, char **argv)
{
    int rc;

    if (argc != 2 && !(argc == 3 && strcmp(argv[1], "--probe") == 0))
        return usage();
    if (VIPS_INIT(argv[0]) != 0) {
        fprintf(stderr, "make-corpus: libvips: %s\n", vips_error_buffer());
        return 1;
    }
    if (argc == 3) {
        rc = probe(argv[2]);
    } else if (strlen(argv[1]) >= sizeof(out_dir) - 64) {
        rc = usage();
    } else {
        snprintf(out_dir, sizeof(out_dir), "%s", argv[1]);
        rc = make_all();
    }
    fflush(stdout);
    vips_shutdown();
    return rc == 0 ? 0 : 1;
}
