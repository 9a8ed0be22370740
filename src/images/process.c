/*
 * process.c — checks uploaded photos and makes their derivatives with
 * libvips: the format from the bytes, the header facts, a pixel limit
 * applied before any decoding, truncation found by a cheap shrunk decode,
 * and upright, stripped JPEG thumbnails and previews.
 */
#include "images/process.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <vips/vips.h>

#include "common/err.h"
#include "images/jpeg_fast.h"
#include "images/synth.h"
#include "obs/log.h"

#define JPEG_Q 85
/* The truncation check decodes into a box this small (shrink-on-load). */
#define CHECK_SIDE 32
/* Checkerboard behind transparency: squares per long edge, two greys. */
#define CHECKER_SQUARES 40
#define CHECKER_MIN_SQUARE 4
#define CHECKER_LIGHT 255.0
#define CHECKER_DARK 226.0
/* Bytes looked at to tell text from other unknown data. */
#define SNIFF_BYTES 512

/* An accepted format, as the loader's nickname names it. */
struct format {
    const char *loader; /* nickname, e.g. "jpegload" */
    const char *name;
    const char *upper; /* for reasons: "truncated or corrupt JPEG" */
    const char *mime;
};

static const struct format formats[] = {
    {"jpegload", "jpeg", "JPEG", "image/jpeg"},
    {"pngload", "png", "PNG", "image/png"},
    {"webpload", "webp", "WebP", "image/webp"},
    {"heifload", "heif", "HEIF", "image/heif"},
};

static pthread_once_t setup_once = PTHREAD_ONCE_INIT;
static int setup_rc = PD_ERR;

/*
 * libvips's operation cache would keep uploaded files open (and their
 * descriptors alive after deletion) and could answer a new file at a
 * reused path with an old header, so the module runs without it.
 */
static void
setup(void)
{
    if (synth_init() != 0)
        return;
    vips_cache_set_max(0);
    setup_rc = PD_OK;
}

static int
start(void)
{
    pthread_once(&setup_once, setup);
    return setup_rc;
}

/* Logs libvips's error text for a step on file path, then clears it. */
static void
vips_note(const char *what, const char *path)
{
    const char *msg = vips_error_buffer();
    size_t n = strlen(msg);

    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    log_info("images: %s of %s failed: %.*s", what, path, (int)n, msg);
    vips_error_clear();
}

/* Writes the reason (when the caller wants one) and returns code. */
static int refuse(int code, char *reason, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
refuse(int code, char *reason, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (reason != NULL && len > 0) {
        va_start(ap, fmt);
        vsnprintf(reason, len, fmt, ap);
        va_end(ap);
    }
    return code;
}

/* "text" when the first bytes look like text, else "unrecognised data". */
static const char *
sniff_kind(const char *path)
{
    unsigned char buf[SNIFF_BYTES];
    FILE *f = fopen(path, "rb");
    size_t n, i;

    if (f == NULL)
        return "unreadable";
    n = fread(buf, 1, sizeof(buf), f);
    fclose(f);
    for (i = 0; i < n; i++) {
        unsigned char c = buf[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f')
            return "unrecognised data";
    }
    return "text";
}

/* The nickname of the loader libvips picks from the file's bytes. */
static const char *
loader_nickname(const char *path)
{
    const char *cls = vips_foreign_find_load(path);
    GType type;

    if (cls == NULL) {
        vips_error_clear();
        return NULL;
    }
    type = g_type_from_name(cls);
    return type != 0 ? vips_nickname_find(type) : NULL;
}

/*
 * The accepted format of the file, or a refusal: empty, not an image, or
 * an image type we do not take ("unsupported type gif").
 */
static int
detect(const char *path, const struct format **fmt, char *reason,
       size_t len)
{
    struct stat st;
    const char *nick;
    char type[32];
    size_t i, n;

    if (stat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
        log_error("images: cannot stat %s: %s", path, strerror(errno));
        return PD_EIO;
    }
    if (st.st_size == 0)
        return refuse(IMAGE_EINVALID, reason, len, "the file is empty");
    nick = loader_nickname(path);
    if (nick == NULL)
        return refuse(IMAGE_EUNSUPPORTED, reason, len, "not an image (%s)",
                      sniff_kind(path));
    for (i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        if (strcmp(nick, formats[i].loader) == 0) {
            *fmt = &formats[i];
            return 0;
        }
    }
    n = strcspn(nick, "_");
    if (n > 4 && strncmp(nick + n - 4, "load", 4) == 0)
        n -= 4;
    snprintf(type, sizeof(type), "%.*s", (int)n, nick);
    return refuse(IMAGE_EUNSUPPORTED, reason, len, "unsupported type %s",
                  type);
}

/* An EXIF rational such as "300/1 (300, Rational, ...)"; 0 if none. */
static double
exif_rational(VipsImage *img, const char *field)
{
    const char *s = NULL;
    double num, den;

    if (vips_image_get_typeof(img, field) == 0 ||
        vips_image_get_string(img, field, &s) != 0 || s == NULL)
        return 0;
    if (sscanf(s, "%lf/%lf", &num, &den) != 2 || den <= 0 || num <= 0)
        return 0;
    return num / den;
}

/*
 * Horizontal DPI when the file states one. libvips leaves xres at its
 * default of 1 pixel/mm when the header says nothing; WebP and HEIF
 * carry resolution only in EXIF, which libvips does not copy to xres.
 */
static double
stated_dpi(VipsImage *img)
{
    double xres = vips_image_get_xres(img);
    double v;
    int unit = 2;

    if (xres > 0 && (xres < 0.999 || xres > 1.001))
        return xres * 25.4;
    v = exif_rational(img, "exif-ifd0-XResolution");
    if (v <= 0)
        return 0;
    if (vips_image_get_typeof(img, "exif-ifd0-ResolutionUnit") != 0) {
        const char *s = NULL;
        if (vips_image_get_string(img, "exif-ifd0-ResolutionUnit", &s) == 0
            && s != NULL)
            unit = (int)strtol(s, NULL, 10);
    }
    if (unit == 3)
        return v * 2.54;
    return unit == 2 ? v : 0;
}

/* HEIF files are named after their codec: heic (HEVC) or avif (AV1). */
static void
name_heif(VipsImage *img, struct image_info *out)
{
    const char *c = NULL;

    if (vips_image_get_typeof(img, "heif-compression") == 0 ||
        vips_image_get_string(img, "heif-compression", &c) != 0 || !c)
        return;
    if (strcmp(c, "hevc") == 0) {
        out->format = "heic";
        out->mime = "image/heic";
    } else if (strcmp(c, "av1") == 0) {
        out->format = "avif";
        out->mime = "image/avif";
    }
}

static void
fill_info(VipsImage *img, const struct format *fmt, struct image_info *out)
{
    int o = vips_image_get_orientation(img);

    out->format = fmt->name;
    out->mime = fmt->mime;
    if (strcmp(fmt->loader, "heifload") == 0)
        name_heif(img, out);
    out->width = vips_image_get_width(img);
    out->height = vips_image_get_height(img);
    out->bands = vips_image_get_bands(img);
    out->bits = (int)vips_format_sizeof(vips_image_get_format(img)) * 8;
    out->orientation = o >= 1 && o <= 8 ? o : 1;
    out->dpi = stated_dpi(img);
    out->has_alpha = vips_image_hasalpha(img) != 0;
    out->colourspace = vips_enum_nick(VIPS_TYPE_INTERPRETATION,
                                      vips_image_get_interpretation(img));
}

/* Decodes the whole file into a tiny box, failing on truncation. */
static int
decodes_fully(const char *path)
{
    VipsImage *t = NULL;
    double avg;
    int rc;

    rc = vips_thumbnail(path, &t, CHECK_SIDE, "height", CHECK_SIDE,
                        "no_rotate", TRUE, "fail_on", VIPS_FAIL_ON_ERROR,
                        NULL);
    if (rc == 0)
        rc = vips_avg(t, &avg, NULL);
    if (t != NULL)
        g_object_unref(t);
    if (rc != 0)
        vips_note("full decode", path);
    return rc == 0;
}

/* The header, the pixel limit, then (when asked) the decode check. */
static int
inspect_file(const char *path, const struct format *fmt, int64_t max_pixels,
             bool full, struct image_info *out, char *reason, size_t len)
{
    VipsImage *img;
    int64_t pixels;

    img = vips_image_new_from_file(path, "access", VIPS_ACCESS_SEQUENTIAL,
                                   NULL);
    if (img == NULL) {
        vips_note("header", path);
        return refuse(IMAGE_EINVALID, reason, len,
                      "truncated or corrupt %s", fmt->upper);
    }
    fill_info(img, fmt, out);
    g_object_unref(img);
    pixels = (int64_t)out->width * (int64_t)out->height;
    if (pixels > max_pixels) {
        return refuse(IMAGE_ETOOMANYPIXELS, reason, len,
                      "%d\u00d7%d is over the limit of %g megapixels",
                      out->width, out->height, (double)max_pixels / 1e6);
    }
    if (full && !decodes_fully(path))
        return refuse(IMAGE_EINVALID, reason, len,
                      "truncated or corrupt %s", fmt->upper);
    return 0;
}

static int
inspect(const char *path, int64_t max_pixels, bool full,
        struct image_info *out, char *reason, size_t len)
{
    const struct format *fmt = NULL;
    int rc;

    if (reason != NULL && len > 0)
        reason[0] = '\0';
    if (path == NULL || out == NULL || max_pixels < 1 ||
        max_pixels > IMAGE_MAX_PIXELS_LIMIT)
        return PD_EINVAL;
    memset(out, 0, sizeof(*out));
    if (start() != 0)
        return PD_ERR;
    rc = detect(path, &fmt, reason, len);
    if (rc == 0)
        rc = inspect_file(path, fmt, max_pixels, full, out, reason, len);
    if (rc != 0)
        memset(out, 0, sizeof(*out));
    return rc;
}

int
image_inspect(const char *path, int64_t max_pixels, struct image_info *out,
              char *reason, size_t len)
{
    return inspect(path, max_pixels, true, out, reason, len);
}

int
image_inspect_header(const char *path, int64_t max_pixels,
                     struct image_info *out, char *reason, size_t len)
{
    return inspect(path, max_pixels, false, out, reason, len);
}

/* n image slots released with ctx. */
static VipsImage **
slots(VipsObject *ctx, int n)
{
    return (VipsImage **)vips_object_local_array(ctx, n);
}

/* A w x h sRGB checkerboard of two light greys. */
static int
checker(VipsObject *ctx, int w, int h, VipsImage **out)
{
    VipsImage **t = slots(ctx, 6);
    int side = (w > h ? w : h) / CHECKER_SQUARES;

    if (side < CHECKER_MIN_SQUARE)
        side = CHECKER_MIN_SQUARE;
    if (vips_xyz(&t[0], w, h, NULL) ||
        vips_remainder_const1(t[0], &t[1], 2.0 * side, NULL) ||
        vips_moreeq_const1(t[1], &t[2], side, NULL) ||
        vips_bandbool(t[2], &t[3], VIPS_OPERATION_BOOLEAN_EOR, NULL) ||
        vips_linear1(t[3], &t[4], (CHECKER_DARK - CHECKER_LIGHT) / 255.0,
                     CHECKER_LIGHT, "uchar", TRUE, NULL))
        return -1;
    if (vips_bandjoin((VipsImage *[]){t[4], t[4], t[4]}, &t[5], 3, NULL))
        return -1;
    return vips_copy(t[5], out, "interpretation", VIPS_INTERPRETATION_sRGB,
                     NULL);
}

/*
 * in as 8-bit sRGB without alpha: converted from CMYK, 16-bit or grey,
 * and any transparency drawn over the checkerboard.
 */
static int
to_plain_srgb(VipsObject *ctx, VipsImage *in, VipsImage **out)
{
    VipsImage **t = slots(ctx, 5);

    if (vips_colourspace(in, &t[0], VIPS_INTERPRETATION_sRGB, NULL))
        return -1;
    if (!vips_image_hasalpha(t[0]))
        return vips_cast_uchar(t[0], out, NULL);
    if (checker(ctx, t[0]->Xsize, t[0]->Ysize, &t[1]) ||
        vips_composite2(t[1], t[0], &t[2], VIPS_BLEND_MODE_OVER, NULL) ||
        vips_extract_band(t[2], &t[3], 0, "n", 3, NULL))
        return -1;
    return vips_cast_uchar(t[3], out, NULL);
}

/* Encodes plain sRGB img as a stripped JPEG into *b. */
static int
encode(VipsImage *img, struct image_blob *b)
{
    void *buf = NULL;
    size_t n = 0;

    if (vips_jpegsave_buffer(img, &buf, &n, "Q", JPEG_Q, "strip", TRUE,
                             NULL))
        return -1;
    b->data = buf;
    b->len = n;
    b->width = vips_image_get_width(img);
    b->height = vips_image_get_height(img);
    return 0;
}

/* mem shrunk to fit side x side (never enlarged), encoded into *b. */
static int
encode_fit(VipsObject *ctx, VipsImage *mem, int side, struct image_blob *b)
{
    VipsImage **t = slots(ctx, 1);

    if (vips_image_get_width(mem) <= side &&
        vips_image_get_height(mem) <= side)
        return encode(mem, b);
    if (vips_thumbnail_image(mem, &t[0], side, "height", side,
                             "size", VIPS_SIZE_DOWN, NULL))
        return -1;
    return encode(t[0], b);
}

/*
 * One decode serves both: the file is shrunk on load to the larger of the
 * two boxes, turned upright, made plain sRGB and held in memory (at most
 * IMAGE_MAX_SIDE squared, 3 bytes a pixel); each derivative is then cut
 * from that copy.
 */
/*
 * A JPEG through the fast decoder (jpeg_fast.c): shrunk in the DCT, turned
 * upright by its EXIF orientation, then fitted to box. Non-zero when the
 * file is better left to libvips.
 */
static int
load_jpeg_fast(VipsObject *ctx, const char *path, int box, VipsImage **out)
{
    VipsImage **t = slots(ctx, 3);
    int orientation;

    t[0] = vips_image_new_from_file(path, NULL);
    if (t[0] == NULL) {
        vips_error_clear();
        return -1;
    }
    orientation = vips_image_get_orientation(t[0]);
    if (jpeg_fast_load(path, box, &t[1]) != 0)
        return -1;
    vips_image_set_int(t[1], VIPS_META_ORIENTATION, orientation);
    if (vips_autorot(t[1], &t[2], NULL))
        return -1;
    return vips_thumbnail_image(t[2], out, box, "height", box, "size",
                                VIPS_SIZE_DOWN, NULL);
}

/* The file shrunk on load to fit box, upright. */
static int
load_shrunk(VipsObject *ctx, const char *path, const struct format *fmt,
            int box, VipsImage **out)
{
    if (strcmp(fmt->name, "jpeg") == 0 &&
        load_jpeg_fast(ctx, path, box, out) == 0)
        return 0;
    vips_error_clear();
    return vips_thumbnail(path, out, box, "height", box, "size",
                          VIPS_SIZE_DOWN, "fail_on", VIPS_FAIL_ON_ERROR,
                          NULL);
}

static int
derive_all(const char *path, const struct format *fmt, int thumb_side,
           int preview_side, struct image_derived *out)
{
    VipsImage *ctx = vips_image_new();
    VipsImage **t = slots(VIPS_OBJECT(ctx), 3);
    int big = thumb_side > preview_side ? thumb_side : preview_side;
    int rc;

    rc = load_shrunk(VIPS_OBJECT(ctx), path, fmt, big, &t[0]);
    if (rc == 0)
        rc = to_plain_srgb(VIPS_OBJECT(ctx), t[0], &t[1]);
    if (rc == 0) {
        t[2] = vips_image_copy_memory(t[1]);
        rc = t[2] != NULL ? 0 : -1;
    }
    if (rc == 0)
        rc = encode_fit(VIPS_OBJECT(ctx), t[2], preview_side, &out->preview);
    if (rc == 0)
        rc = encode_fit(VIPS_OBJECT(ctx), t[2], thumb_side, &out->thumb);
    if (rc != 0)
        vips_note("derivatives", path);
    g_object_unref(ctx);
    return rc;
}

int
image_derive(const char *path, int thumb_side, int preview_side,
             struct image_derived *out, char *reason, size_t len)
{
    const struct format *fmt = NULL;
    int rc;

    if (reason != NULL && len > 0)
        reason[0] = '\0';
    if (out != NULL)
        memset(out, 0, sizeof(*out));
    if (path == NULL || out == NULL || thumb_side < 1 ||
        thumb_side > IMAGE_MAX_SIDE || preview_side < 1 ||
        preview_side > IMAGE_MAX_SIDE)
        return PD_EINVAL;
    if (start() != 0)
        return PD_ERR;
    rc = detect(path, &fmt, reason, len);
    if (rc != 0)
        return rc;
    if (derive_all(path, fmt, thumb_side, preview_side, out) != 0) {
        image_derived_free(out);
        return refuse(IMAGE_EINVALID, reason, len,
                      "truncated or corrupt %s", fmt->upper);
    }
    return 0;
}

void
image_derived_free(struct image_derived *d)
{
    if (d == NULL)
        return;
    g_free(d->thumb.data);
    g_free(d->preview.data);
    memset(d, 0, sizeof(*d));
}
