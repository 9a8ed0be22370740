/*
 * test_synth.c — the demo image synthesiser: every file it hands the
 * seeder decodes as the format and size promised, the cut-out is
 * transparent around the animal, and the looks really differ.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <vips/vips.h>

#include "common/err.h"
#include "images/synth.h"

/* A decoded blob; unref with g_object_unref. */
static VipsImage *
decode(const struct synth_blob *b, const char *want_loader)
{
    const char *loader;
    VipsImage *img;

    assert_non_null(b->data);
    assert_true(b->len > 100);
    loader = vips_foreign_find_load_buffer(b->data, b->len);
    assert_non_null(loader);
    assert_string_equal(loader, want_loader);
    img = vips_image_new_from_buffer(b->data, b->len, "", NULL);
    assert_non_null(img);
    assert_int_equal(vips_image_get_width(img), b->width);
    assert_int_equal(vips_image_get_height(img), b->height);
    return img;
}

/* Band band of the pixel at (x, y). */
static double
pixel(VipsImage *img, int x, int y, int band)
{
    double *v = NULL, out;
    int n = 0;

    assert_int_equal(vips_getpoint(img, &v, &n, x, y, NULL), 0);
    assert_true(band < n);
    out = v[band];
    g_free(v);
    return out;
}

static int
long_edge(int w, int h)
{
    return w > h ? w : h;
}

/* A derivative: JPEG, fits side x side, long edge as expected. */
static void
check_derivative(const struct synth_blob *b, int want_long)
{
    VipsImage *img = decode(b, "VipsForeignLoadJpegBuffer");

    assert_string_equal(b->mime, "image/jpeg");
    assert_int_equal(vips_image_get_bands(img), 3);
    assert_int_equal(long_edge(b->width, b->height), want_long);
    g_object_unref(img);
}

/* The original: a JPEG of exactly the requested size. */
static VipsImage *
check_original(const struct synth_pet *p, int w, int h)
{
    VipsImage *img = decode(&p->original_jpeg, "VipsForeignLoadJpegBuffer");

    assert_string_equal(p->original_jpeg.mime, "image/jpeg");
    assert_int_equal(vips_image_get_width(img), w);
    assert_int_equal(vips_image_get_height(img), h);
    assert_int_equal(vips_image_get_bands(img), 3);
    return img;
}

/*
 * The cut-out: an RGBA PNG of the same size, fully transparent in every
 * corner, opaque in the centre, where its colour is the original's.
 */
static void
check_cutout(const struct synth_pet *p, VipsImage *orig, int w, int h)
{
    VipsImage *cut = decode(&p->cutout_png, "VipsForeignLoadPngBuffer");
    int cx = w / 2, cy = h / 2;

    assert_string_equal(p->cutout_png.mime, "image/png");
    assert_int_equal(vips_image_get_width(cut), w);
    assert_int_equal(vips_image_get_height(cut), h);
    assert_int_equal(vips_image_get_bands(cut), 4);
    assert_true(pixel(cut, 0, 0, 3) == 0.0);
    assert_true(pixel(cut, w - 1, 0, 3) == 0.0);
    assert_true(pixel(cut, 0, h - 1, 3) == 0.0);
    assert_true(pixel(cut, w - 1, h - 1, 3) == 0.0);
    assert_true(pixel(cut, cx, cy, 3) == 255.0);
    for (int b = 0; b < 3; b++)
        assert_true(fabs(pixel(cut, cx, cy, b) - pixel(orig, cx, cy, b)) <
                    24.0);
    g_object_unref(cut);
}

/* Everything a pet of w x h must satisfy; returns the original's mean. */
static double
check_pet(int variant, int w, int h)
{
    struct synth_pet p;
    VipsImage *orig;
    int thumb_long = long_edge(w, h) > SYNTH_THUMB_SIDE ? SYNTH_THUMB_SIDE
                                                        : long_edge(w, h);
    int preview_long = long_edge(w, h) > SYNTH_PREVIEW_SIDE
                           ? SYNTH_PREVIEW_SIDE
                           : long_edge(w, h);
    double mean = 0.0;

    assert_int_equal(synth_make_pet(variant, w, h, &p), 0);
    orig = check_original(&p, w, h);
    check_cutout(&p, orig, w, h);
    check_derivative(&p.original_thumb, thumb_long);
    check_derivative(&p.cutout_thumb, thumb_long);
    check_derivative(&p.original_preview, preview_long);
    check_derivative(&p.cutout_preview, preview_long);
    assert_int_equal(vips_avg(orig, &mean, NULL), 0);
    g_object_unref(orig);
    synth_pet_free(&p);
    return mean;
}

/* A print-sized landscape pet and the small one the seeder flags. */
static void
test_two_variants_decode_and_differ(void **state)
{
    double big, small;

    (void)state;
    big = check_pet(0, 3000, 2400);
    small = check_pet(5, 900, 700);
    assert_true(fabs(big - small) > 3.0);
}

/* A portrait print size works the same way. */
static void
test_portrait(void **state)
{
    (void)state;
    check_pet(1, 2400, 3000);
}

/* The cut-out's derivatives show transparency as a light checkerboard. */
static void
test_cutout_thumb_is_light_where_transparent(void **state)
{
    struct synth_pet p;
    VipsImage *thumb;

    (void)state;
    assert_int_equal(synth_make_pet(2, 800, 600, &p), 0);
    thumb = decode(&p.cutout_thumb, "VipsForeignLoadJpegBuffer");
    for (int b = 0; b < 3; b++)
        assert_true(pixel(thumb, 1, 1, b) > 200.0);
    g_object_unref(thumb);
    synth_pet_free(&p);
}

/* Mean colour of a small rendering of variant v. */
static void
mean_colour(int v, double rgb[3])
{
    struct synth_pet p;
    VipsImage *img, *band;

    assert_int_equal(synth_make_pet(v, 240, 200, &p), 0);
    img = decode(&p.original_jpeg, "VipsForeignLoadJpegBuffer");
    for (int b = 0; b < 3; b++) {
        assert_int_equal(vips_extract_band(img, &band, b, NULL), 0);
        assert_int_equal(vips_avg(band, &rgb[b], NULL), 0);
        g_object_unref(band);
    }
    g_object_unref(img);
    synth_pet_free(&p);
}

/* Every look has its own colours: no two look alike on average. */
static void
test_looks_are_distinct(void **state)
{
    double rgb[SYNTH_LOOKS][3];

    (void)state;
    for (int v = 0; v < SYNTH_LOOKS; v++)
        mean_colour(v, rgb[v]);
    for (int a = 0; a < SYNTH_LOOKS; a++) {
        for (int b = a + 1; b < SYNTH_LOOKS; b++) {
            double d = 0.0;

            for (int k = 0; k < 3; k++)
                d += (rgb[a][k] - rgb[b][k]) * (rgb[a][k] - rgb[b][k]);
            assert_true(sqrt(d) > 10.0);
        }
    }
}

/* The same variant gives the same bytes, so demo data is reproducible. */
static void
test_same_variant_same_bytes(void **state)
{
    struct synth_pet a, b;

    (void)state;
    assert_int_equal(synth_make_pet(3, 320, 240, &a), 0);
    assert_int_equal(synth_make_pet(3, 320, 240, &b), 0);
    assert_int_equal(a.original_jpeg.len, b.original_jpeg.len);
    assert_memory_equal(a.original_jpeg.data, b.original_jpeg.data,
                        a.original_jpeg.len);
    assert_int_equal(a.cutout_png.len, b.cutout_png.len);
    synth_pet_free(&a);
    synth_pet_free(&b);
}

/* Sizes and variants out of range are refused and leave *out zeroed. */
static void
test_rejects_bad_arguments(void **state)
{
    struct synth_pet p, zero;

    (void)state;
    memset(&zero, 0, sizeof(zero));
    assert_int_equal(synth_make_pet(-1, 800, 600, &p), PD_EINVAL);
    assert_memory_equal(&p, &zero, sizeof(p));
    assert_int_equal(synth_make_pet(0, SYNTH_MIN_SIDE - 1, 600, &p),
                     PD_EINVAL);
    assert_int_equal(synth_make_pet(0, 800, SYNTH_MAX_SIDE + 1, &p),
                     PD_EINVAL);
    assert_memory_equal(&p, &zero, sizeof(p));
    assert_int_equal(synth_make_pet(0, 800, 600, NULL), PD_EINVAL);
}

/* Freeing a zeroed struct (or NULL) is safe; freeing zeroes the struct. */
static void
test_free_zeroed(void **state)
{
    struct synth_pet p, zero;

    (void)state;
    memset(&p, 0, sizeof(p));
    memset(&zero, 0, sizeof(zero));
    synth_pet_free(&p);
    synth_pet_free(NULL);
    assert_memory_equal(&p, &zero, sizeof(p));
    assert_int_equal(synth_make_pet(4, 200, 200, &p), 0);
    synth_pet_free(&p);
    assert_memory_equal(&p, &zero, sizeof(p));
}

/* synth_init may be called any number of times. */
static void
test_init_twice(void **state)
{
    (void)state;
    assert_int_equal(synth_init(), 0);
    assert_int_equal(synth_init(), 0);
}

static int
teardown(void **state)
{
    (void)state;
    vips_shutdown();
    return 0;
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_free_zeroed),
        cmocka_unit_test(test_rejects_bad_arguments),
        cmocka_unit_test(test_init_twice),
        cmocka_unit_test(test_two_variants_decode_and_differ),
        cmocka_unit_test(test_portrait),
        cmocka_unit_test(test_cutout_thumb_is_light_where_transparent),
        cmocka_unit_test(test_looks_are_distinct),
        cmocka_unit_test(test_same_variant_same_bytes),
    };

    return cmocka_run_group_tests_name("synth", tests, NULL, teardown);
}
