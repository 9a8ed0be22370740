/*
 * test_process.c — upload checks and derivatives (src/images/process.c)
 * on files the test makes itself (corpus_gen.c): accepted
 * formats with their header facts, refused files with their reasons, a
 * decompression bomb refused from its header, upright stripped thumbnails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <vips/vips.h>

#include "common/err.h"
#include "corpus_gen.h"
#include "images/process.h"
#include "images/synth.h"

#define MAX_PIXELS 100000000
#define THUMB 300
#define PREVIEW 1600

static char dir[] = "/tmp/pd-test-process-XXXXXX";

static const char *
path_of(const char *name)
{
    static char buf[256];

    snprintf(buf, sizeof(buf), "%s/%s", dir, name);
    return buf;
}

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void
write_bytes(const char *name, const void *data, size_t len)
{
    assert_int_equal(corpus_write_file(path_of(name), data, len), 0);
}

/* A photo-like picture with grain (corpus_gen.c). */
static VipsImage *
photo(int w, int h)
{
    VipsImage *img = corpus_photo(w, h, 12.0, 1);

    assert_non_null(img);
    return img;
}

static void
save_jpeg(VipsImage *img, const char *name)
{
    assert_int_equal(corpus_save_jpeg(img, path_of(name), 85), 0);
}

static long
file_size(const char *name)
{
    FILE *f = fopen(path_of(name), "rb");
    long n;

    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fclose(f);
    return n;
}

/* A derivative decodes as a 3-band sRGB JPEG of the promised size. */
static VipsImage *
decode_blob(const struct image_blob *b)
{
    VipsImage *img;

    assert_non_null(b->data);
    assert_string_equal(vips_foreign_find_load_buffer(b->data, b->len),
                        "VipsForeignLoadJpegBuffer");
    img = vips_image_new_from_buffer(b->data, b->len, "", NULL);
    assert_non_null(img);
    assert_int_equal(vips_image_get_width(img), b->width);
    assert_int_equal(vips_image_get_height(img), b->height);
    assert_int_equal(vips_image_get_bands(img), 3);
    assert_int_equal(vips_image_get_format(img), VIPS_FORMAT_UCHAR);
    /* stripped: no EXIF (so no GPS), no XMP, no ICC */
    assert_int_equal(vips_image_get_typeof(img, "exif-data"), 0);
    assert_int_equal(vips_image_get_typeof(img, "xmp-data"), 0);
    assert_int_equal(vips_image_get_typeof(img, "icc-profile-data"), 0);
    return img;
}

static void
derive_ok(const char *name, int thumb_w, int thumb_h, int prev_w,
          int prev_h, struct image_derived *d)
{
    char reason[128];
    VipsImage *img;

    assert_int_equal(image_derive(path_of(name), THUMB, PREVIEW, d,
                                  reason, sizeof(reason)), 0);
    assert_int_equal(d->thumb.width, thumb_w);
    assert_int_equal(d->thumb.height, thumb_h);
    assert_int_equal(d->preview.width, prev_w);
    assert_int_equal(d->preview.height, prev_h);
    img = decode_blob(&d->thumb);
    g_object_unref(img);
    img = decode_blob(&d->preview);
    g_object_unref(img);
}

static void
expect_refusal(const char *name, int want, const char *want_reason)
{
    struct image_info info;
    char reason[128] = "x";

    assert_int_equal(image_inspect(path_of(name), MAX_PIXELS, &info,
                                   reason, sizeof(reason)), want);
    assert_string_equal(reason, want_reason);
    assert_null(info.format);
}

static void
test_jpeg_accepted(void **state)
{
    VipsImage *img = photo(640, 480), *dpi = NULL;
    struct image_info info;
    struct image_derived d;
    char reason[128];

    (void)state;
    assert_int_equal(vips_copy(img, &dpi, "xres", 300 / 25.4,
                               "yres", 300 / 25.4, NULL), 0);
    save_jpeg(dpi, "photo.jpg");
    assert_int_equal(image_inspect(path_of("photo.jpg"), MAX_PIXELS, &info,
                                   reason, sizeof(reason)), 0);
    assert_string_equal(reason, "");
    assert_string_equal(info.format, "jpeg");
    assert_string_equal(info.mime, "image/jpeg");
    assert_int_equal(info.width, 640);
    assert_int_equal(info.height, 480);
    assert_int_equal(info.bands, 3);
    assert_int_equal(info.bits, 8);
    assert_int_equal(info.orientation, 1);
    assert_false(info.has_alpha);
    assert_string_equal(info.colourspace, "srgb");
    assert_true(info.dpi > 299.5 && info.dpi < 300.5);
    /* thumbnail fits 300 x 300; the preview is not enlarged */
    derive_ok("photo.jpg", 300, 225, 640, 480, &d);
    image_derived_free(&d);
    assert_null(d.thumb.data);
    g_object_unref(img);
    g_object_unref(dpi);
}

/* A cut-out: left half transparent, right half opaque red. */
static void
test_png_alpha_on_checkerboard(void **state)
{
    VipsImage *thumb;
    struct image_info info;
    struct image_derived d;
    char reason[128];
    double *px = NULL;
    int n = 0;

    (void)state;
    assert_int_equal(corpus_save_cutout(400, 300, path_of("cutout.png")),
                     0);
    assert_int_equal(image_inspect(path_of("cutout.png"), MAX_PIXELS, &info,
                                   reason, sizeof(reason)), 0);
    assert_string_equal(info.format, "png");
    assert_int_equal(info.bands, 4);
    assert_true(info.has_alpha);
    derive_ok("cutout.png", 300, 225, 400, 300, &d);
    thumb = vips_image_new_from_buffer(d.thumb.data, d.thumb.len, "", NULL);
    /* transparent side: light grey checkerboard, not black */
    assert_int_equal(vips_getpoint(thumb, &px, &n, 20, 100, NULL), 0);
    assert_true(px[0] > 210 && px[1] > 210 && px[2] > 210);
    g_free(px);
    /* opaque side keeps its red */
    assert_int_equal(vips_getpoint(thumb, &px, &n, 250, 100, NULL), 0);
    assert_true(px[0] > 190 && px[1] < 50 && px[2] < 50);
    g_free(px);
    g_object_unref(thumb);
    image_derived_free(&d);
}

static void
test_webp_accepted(void **state)
{
    VipsImage *img = photo(500, 700);
    struct image_info info;
    struct image_derived d;
    char reason[128];

    (void)state;
    assert_int_equal(vips_webpsave(img, path_of("photo.webp"), NULL), 0);
    assert_int_equal(image_inspect(path_of("photo.webp"), MAX_PIXELS, &info,
                                   reason, sizeof(reason)), 0);
    assert_string_equal(info.format, "webp");
    assert_string_equal(info.mime, "image/webp");
    assert_int_equal(info.width, 500);
    assert_int_equal(info.height, 700);
    derive_ok("photo.webp", 214, 300, 500, 700, &d);
    image_derived_free(&d);
    g_object_unref(img);
}

static void
test_text_named_jpg(void **state)
{
    (void)state;
    write_bytes("letter.jpg", corpus_text, strlen(corpus_text));
    expect_refusal("letter.jpg", IMAGE_EUNSUPPORTED, "not an image (text)");
}

static void
test_gif_refused(void **state)
{
    VipsImage *img = photo(64, 64);

    (void)state;
    assert_int_equal(corpus_save_gif(img, path_of("anim.png")), 0);
    expect_refusal("anim.png", IMAGE_EUNSUPPORTED, "unsupported type gif");
    g_object_unref(img);
}

static void
test_svg_refused(void **state)
{
    (void)state;
    write_bytes("drawing.jpg", corpus_svg, strlen(corpus_svg));
    expect_refusal("drawing.jpg", IMAGE_EUNSUPPORTED, "unsupported type svg");
}

static void
test_empty_file(void **state)
{
    struct image_derived d;
    char reason[128];

    (void)state;
    write_bytes("empty.jpg", "", 0);
    expect_refusal("empty.jpg", IMAGE_EINVALID, "the file is empty");
    assert_int_equal(image_derive(path_of("empty.jpg"), THUMB, PREVIEW, &d,
                                  reason, sizeof(reason)), IMAGE_EINVALID);
    assert_null(d.thumb.data);
}

static void
test_truncated_jpeg(void **state)
{
    VipsImage *img = photo(800, 600);
    struct image_derived d;
    char reason[128];

    (void)state;
    assert_int_equal(corpus_save_truncated_jpeg(img, path_of("half.jpg")),
                     0);
    expect_refusal("half.jpg", IMAGE_EINVALID, "truncated or corrupt JPEG");
    assert_int_equal(image_derive(path_of("half.jpg"), THUMB, PREVIEW, &d,
                                  reason, sizeof(reason)), IMAGE_EINVALID);
    assert_string_equal(reason, "truncated or corrupt JPEG");
    assert_null(d.thumb.data);
    assert_null(d.preview.data);
    g_object_unref(img);
}

static void
test_png_bomb_refused_from_header(void **state)
{
    struct rusage before, after;
    double t0, ms;

    (void)state;
    assert_int_equal(corpus_save_png_bomb(50000, 50000, path_of("bomb.png")),
                     0);
    getrusage(RUSAGE_SELF, &before);
    t0 = now_ms();
    expect_refusal("bomb.png", IMAGE_ETOOMANYPIXELS,
                   "50000\u00d750000 is over the limit of 100 megapixels");
    ms = now_ms() - t0;
    getrusage(RUSAGE_SELF, &after);
    printf("# PNG bomb (7.5 GB of pixels claimed): refused in %.2f ms, "
           "peak RSS grew %ld KiB\n", ms, after.ru_maxrss - before.ru_maxrss);
    assert_true(ms < 500);
    assert_true(after.ru_maxrss - before.ru_maxrss < 32 * 1024);
}

/* A landscape-stored photo tagged "rotate 90° clockwise", with GPS. */
static void
test_orientation_6_upright_and_stripped(void **state)
{
    VipsImage *img = photo(400, 200), *orig = NULL, *thumb;
    struct image_info info;
    struct image_derived d;
    char reason[128];

    (void)state;
    assert_int_equal(corpus_save_oriented(img, path_of("rotated.jpg")), 0);
    /* the file really carries the tag and the GPS field */
    orig = vips_image_new_from_file(path_of("rotated.jpg"), NULL);
    assert_non_null(orig);
    assert_int_equal(vips_image_get_orientation(orig), 6);
    assert_int_not_equal(vips_image_get_typeof(orig, "exif-data"), 0);
    g_object_unref(orig);

    assert_int_equal(image_inspect(path_of("rotated.jpg"), MAX_PIXELS,
                                   &info, reason, sizeof(reason)), 0);
    assert_int_equal(info.orientation, 6);
    assert_int_equal(info.width, 400); /* stored, before rotation */
    assert_int_equal(info.height, 200);
    /* upright: portrait, width and height swapped */
    derive_ok("rotated.jpg", 150, 300, 200, 400, &d);
    thumb = vips_image_new_from_buffer(d.thumb.data, d.thumb.len, "", NULL);
    assert_int_equal(vips_image_get_typeof(thumb, "exif-data"), 0);
    assert_int_equal(vips_image_get_orientation(thumb), 1);
    g_object_unref(thumb);
    image_derived_free(&d);
    g_object_unref(img);
}

static void
test_16bit_png(void **state)
{
    VipsImage *img = photo(320, 240);
    struct image_info info;
    struct image_derived d;
    char reason[128];

    (void)state;
    assert_int_equal(corpus_save_deep_png(img, path_of("deep.png")), 0);
    assert_int_equal(image_inspect(path_of("deep.png"), MAX_PIXELS, &info,
                                   reason, sizeof(reason)), 0);
    assert_string_equal(info.format, "png");
    assert_int_equal(info.bits, 16);
    assert_string_equal(info.colourspace, "rgb16");
    assert_false(info.has_alpha);
    derive_ok("deep.png", 300, 225, 320, 240, &d);
    image_derived_free(&d);
    g_object_unref(img);
}

static void
test_cmyk_jpeg(void **state)
{
    VipsImage *img = photo(600, 400), *thumb;
    struct image_info info;
    struct image_derived d;
    char reason[128];
    double *px = NULL;
    int n = 0;

    (void)state;
    assert_int_equal(corpus_save_cmyk_jpeg(img, path_of("print.jpg")), 0);
    assert_int_equal(image_inspect(path_of("print.jpg"), MAX_PIXELS, &info,
                                   reason, sizeof(reason)), 0);
    assert_string_equal(info.format, "jpeg");
    assert_string_equal(info.colourspace, "cmyk");
    assert_int_equal(info.bands, 4);
    assert_false(info.has_alpha); /* the fourth band is black, not alpha */
    derive_ok("print.jpg", 300, 200, 600, 400, &d);
    /* colours survive: the photo's blue channel is a constant mid level */
    thumb = vips_image_new_from_buffer(d.thumb.data, d.thumb.len, "", NULL);
    assert_int_equal(vips_getpoint(thumb, &px, &n, 150, 100, NULL), 0);
    assert_true(px[2] > 90 && px[2] < 170);
    g_free(px);
    g_object_unref(thumb);
    image_derived_free(&d);
    g_object_unref(img);
}

static void
test_heic(void **state)
{
    VipsImage *img = photo(640, 480);
    struct image_info info;
    struct image_derived d;
    char reason[128];

    (void)state;
    if (corpus_save_heic(img, path_of("phone.heic")) == CORPUS_ENOHEVC) {
        g_object_unref(img);
        printf("# SKIP heic: libheif here cannot write HEVC\n");
        skip();
    }
    assert_int_equal(image_inspect(path_of("phone.heic"), MAX_PIXELS, &info,
                                   reason, sizeof(reason)), 0);
    assert_string_equal(info.format, "heic");
    assert_string_equal(info.mime, "image/heic");
    assert_int_equal(info.width, 640);
    assert_int_equal(info.height, 480);
    derive_ok("phone.heic", 300, 225, 640, 480, &d);
    image_derived_free(&d);
    g_object_unref(img);
}

static void
test_limits_and_arguments(void **state)
{
    VipsImage *img = photo(400, 300);
    struct image_info info;
    struct image_derived d;
    char reason[128];

    (void)state;
    save_jpeg(img, "small.jpg");
    assert_int_equal(image_inspect(path_of("small.jpg"), 100000, &info,
                                   reason, sizeof(reason)),
                     IMAGE_ETOOMANYPIXELS);
    assert_string_equal(reason,
                        "400\u00d7300 is over the limit of 0.1 megapixels");
    assert_int_equal(image_inspect(path_of("small.jpg"), 120000, &info,
                                   reason, sizeof(reason)), 0);
    assert_int_equal(image_inspect(path_of("small.jpg"), 0, &info,
                                   reason, sizeof(reason)), PD_EINVAL);
    assert_int_equal(image_derive(path_of("small.jpg"), 0, PREVIEW, &d,
                                  reason, sizeof(reason)), PD_EINVAL);
    assert_int_equal(image_derive(path_of("small.jpg"), THUMB,
                                  IMAGE_MAX_SIDE + 1, &d, reason,
                                  sizeof(reason)), PD_EINVAL);
    assert_int_equal(image_inspect(path_of("missing.jpg"), MAX_PIXELS,
                                   &info, reason, sizeof(reason)), PD_EIO);
    g_object_unref(img);
}

/*
 * Figures for the report: a 12 MP phone-sized JPEG, the demo synthesiser's
 * photo-like pet (a smooth scene with film grain, as a phone writes).
 */
static void
test_timing_12mp(void **state)
{
    struct synth_pet pet;
    struct image_info info;
    struct image_derived d;
    char reason[128];
    double t0, inspect_ms = 0, derive_ms = 0, thumb_ms = 0;
    int i;

    (void)state;
    assert_int_equal(synth_make_pet(3, 4000, 3000, &pet), 0);
    write_bytes("big.jpg", pet.original_jpeg.data, pet.original_jpeg.len);
    synth_pet_free(&pet);
    for (i = 0; i < 2; i++) { /* the first round warms the page cache */
        t0 = now_ms();
        assert_int_equal(image_inspect(path_of("big.jpg"), MAX_PIXELS,
                                       &info, reason, sizeof(reason)), 0);
        inspect_ms = now_ms() - t0;
        t0 = now_ms();
        derive_ok("big.jpg", 300, 225, 1600, 1200, &d);
        derive_ms = now_ms() - t0;
        image_derived_free(&d);
        t0 = now_ms();
        assert_int_equal(image_derive(path_of("big.jpg"), THUMB, THUMB, &d,
                                      reason, sizeof(reason)), 0);
        thumb_ms = now_ms() - t0;
        image_derived_free(&d);
    }
    printf("# 4000x3000 JPEG (%ld KiB): inspect %.1f ms, thumbnail %.1f ms, "
           "thumbnail + preview %.1f ms\n", file_size("big.jpg") / 1024,
           inspect_ms, thumb_ms, derive_ms);
}

static int
setup(void **state)
{
    (void)state;
    return mkdtemp(dir) != NULL && synth_init() == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jpeg_accepted),
        cmocka_unit_test(test_png_alpha_on_checkerboard),
        cmocka_unit_test(test_webp_accepted),
        cmocka_unit_test(test_text_named_jpg),
        cmocka_unit_test(test_gif_refused),
        cmocka_unit_test(test_svg_refused),
        cmocka_unit_test(test_empty_file),
        cmocka_unit_test(test_truncated_jpeg),
        cmocka_unit_test(test_png_bomb_refused_from_header),
        cmocka_unit_test(test_orientation_6_upright_and_stripped),
        cmocka_unit_test(test_16bit_png),
        cmocka_unit_test(test_cmyk_jpeg),
        cmocka_unit_test(test_heic),
        cmocka_unit_test(test_limits_and_arguments),
        cmocka_unit_test(test_timing_12mp),
    };
    int rc = cmocka_run_group_tests(tests, setup, teardown);

    synth_shutdown();
    return rc;
}
