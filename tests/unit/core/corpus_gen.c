/*
 * corpus_gen.c — the test pictures of corpus_gen.h: libvips renders the
 * photo-like ones and the phone oddities; the PNG bomb's chunks are
 * written by hand with their CRCs.
 */
#include "corpus_gen.h"

#include <stdio.h>
#include <string.h>

#include "common/err.h"

const char corpus_text[] = "Hello, this is not a photo of my dog.\n";

const char corpus_svg[] =
    "<?xml version=\"1.0\"?>\n"
    "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"100\" "
    "height=\"100\"><circle cx=\"50\" cy=\"50\" r=\"40\"/></svg>\n";

/*
 * LeakSanitizer's hook (used only in sanitizer builds): libx265, which
 * libheif uses to write the HEIC file, keeps one buffer for the life of
 * the process. Nothing of ours is suppressed.
 */
const char *__lsan_default_suppressions(void);

const char *
__lsan_default_suppressions(void)
{
    return "leak:libx265.so\n";
}

/* Releases up to four images; NULL entries are skipped. */
static void
unref4(VipsImage *a, VipsImage *b, VipsImage *c, VipsImage *d)
{
    VipsImage *all[] = {a, b, c, d};
    size_t i;

    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++)
        if (all[i] != NULL)
            g_object_unref(all[i]);
}

VipsImage *
corpus_photo(int w, int h, double sigma, int seed)
{
    VipsImage *xy = NULL, *noise = NULL, *xyn = NULL, *sum = NULL;
    VipsImage *band3 = NULL, *out = NULL;
    double a[] = {255.0 / w, 255.0 / h}, b[] = {0, 0};

    if (vips_xyz(&xy, w, h, NULL) != 0 ||
        vips_linear(xy, &xyn, a, b, 2, NULL) != 0 ||
        vips_gaussnoise(&noise, w, h, "sigma", sigma, "mean", 0.0,
                        "seed", seed, NULL) != 0 ||
        vips_add(xyn, noise, &sum, NULL) != 0 ||
        vips_bandjoin_const1(sum, &band3, 128, NULL) != 0 ||
        vips_cast_uchar(band3, &out, NULL) != 0)
        out = NULL;
    unref4(xy, noise, xyn, sum);
    unref4(band3, NULL, NULL, NULL);
    if (out != NULL)
        out->Type = VIPS_INTERPRETATION_sRGB;
    return out;
}

int
corpus_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    int rc = PD_OK;

    if (f == NULL)
        return PD_ERR;
    if (len > 0 && fwrite(data, 1, len, f) != len)
        rc = PD_ERR;
    if (fclose(f) != 0)
        rc = PD_ERR;
    return rc;
}

int
corpus_save_jpeg(VipsImage *img, const char *path, int quality)
{
    return vips_jpegsave(img, path, "Q", quality, NULL) == 0 ? PD_OK
                                                             : PD_ERR;
}

int
corpus_save_oriented(VipsImage *img, const char *path)
{
    VipsImage *tagged = NULL;
    int rc = PD_ERR;

    if (vips_copy(img, &tagged, NULL) != 0)
        return PD_ERR;
    vips_image_set_int(tagged, "orientation", 6);
    vips_image_set_string(tagged, "exif-ifd2-UserComment", "phone photo");
    vips_image_set_string(tagged, "exif-ifd3-GPSLatitudeRef", "N");
    vips_image_set_string(tagged, "exif-ifd3-GPSLatitude",
                          "48/1 51/1 2400/100");
    vips_image_set_string(tagged, "exif-ifd3-GPSLongitudeRef", "E");
    vips_image_set_string(tagged, "exif-ifd3-GPSLongitude",
                          "2/1 21/1 0/1");
    rc = corpus_save_jpeg(tagged, path, 85);
    g_object_unref(tagged);
    return rc;
}

int
corpus_save_deep_png(VipsImage *img, const char *path)
{
    VipsImage *t = NULL, *wide = NULL;
    int rc = PD_ERR;

    if (vips_linear1(img, &t, 257.0, 0.0, NULL) == 0 &&
        vips_cast_ushort(t, &wide, NULL) == 0) {
        wide->Type = VIPS_INTERPRETATION_RGB16;
        rc = vips_pngsave(wide, path, NULL) == 0 ? PD_OK : PD_ERR;
    }
    unref4(t, wide, NULL, NULL);
    return rc;
}

int
corpus_save_cmyk_jpeg(VipsImage *img, const char *path)
{
    VipsImage *cmyk = NULL;
    int rc = PD_ERR;

    if (vips_colourspace(img, &cmyk, VIPS_INTERPRETATION_CMYK, NULL) == 0)
        rc = corpus_save_jpeg(cmyk, path, 85);
    unref4(cmyk, NULL, NULL, NULL);
    return rc;
}

int
corpus_save_heic(VipsImage *img, const char *path)
{
    if (vips_heifsave(img, path, "compression",
                      VIPS_FOREIGN_HEIF_COMPRESSION_HEVC, NULL) == 0)
        return PD_OK;
    vips_error_clear();
    remove(path);
    return CORPUS_ENOHEVC;
}

int
corpus_save_gif(VipsImage *img, const char *path)
{
    return vips_gifsave(img, path, NULL) == 0 ? PD_OK : PD_ERR;
}

int
corpus_save_truncated_jpeg(VipsImage *img, const char *path)
{
    void *buf = NULL;
    size_t len = 0;
    int rc;

    if (vips_jpegsave_buffer(img, &buf, &len, "Q", 85, NULL) != 0)
        return PD_ERR;
    rc = corpus_write_file(path, buf, len / 2);
    g_free(buf);
    return rc;
}

/* Red where x >= w / 2 (alpha 255), transparent black elsewhere. */
int
corpus_save_cutout(int w, int h, const char *path)
{
    VipsImage *black = NULL, *red = NULL, *xy = NULL, *x = NULL;
    VipsImage *alpha = NULL, *rgb = NULL, *rgba = NULL;
    double mul[] = {0, 0, 0}, add[] = {220, 10, 10};
    int rc = PD_ERR;

    if (vips_black(&black, w, h, "bands", 3, NULL) == 0 &&
        vips_linear(black, &red, mul, add, 3, NULL) == 0 &&
        vips_cast_uchar(red, &rgb, NULL) == 0 &&
        vips_xyz(&xy, w, h, NULL) == 0 &&
        vips_extract_band(xy, &x, 0, NULL) == 0 &&
        vips_more_const1(x, &alpha, w / 2 - 1, NULL) == 0 &&
        vips_bandjoin2(rgb, alpha, &rgba, NULL) == 0) {
        rgba->Type = VIPS_INTERPRETATION_sRGB;
        rc = vips_pngsave(rgba, path, NULL) == 0 ? PD_OK : PD_ERR;
    }
    unref4(black, red, xy, x);
    unref4(alpha, rgb, rgba, NULL);
    return rc;
}

static uint32_t
crc32_of(const unsigned char *p, size_t n)
{
    uint32_t c = 0xffffffffu;
    size_t i;
    int k;

    for (i = 0; i < n; i++) {
        c ^= p[i];
        for (k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xedb88320u & (0u - (c & 1u)));
    }
    return c ^ 0xffffffffu;
}

static size_t
put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
    return 4;
}

/* Appends a PNG chunk (length, type, data, CRC over type and data). */
static size_t
put_chunk(unsigned char *p, const char *type, const unsigned char *data,
          uint32_t n)
{
    size_t at = put_be32(p, n);

    memcpy(p + at, type, 4);
    if (n > 0)
        memcpy(p + at + 4, data, n);
    at += 4 + n;
    return at + put_be32(p + at, crc32_of(p + 4, 4 + n));
}

int
corpus_save_png_bomb(uint32_t w, uint32_t h, const char *path)
{
    static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n',
                                         0x1a, '\n'};
    static const unsigned char idat[] = {0x78, 0x9c, 0x63, 0x00, 0x00};
    unsigned char ihdr[13] = {0}, file[128];
    size_t n = sizeof(sig);

    put_be32(ihdr, w);
    put_be32(ihdr + 4, h);
    ihdr[8] = 8; /* bit depth */
    ihdr[9] = 2; /* RGB */
    memcpy(file, sig, sizeof(sig));
    n += put_chunk(file + n, "IHDR", ihdr, sizeof(ihdr));
    n += put_chunk(file + n, "IDAT", idat, sizeof(idat));
    n += put_chunk(file + n, "IEND", NULL, 0);
    return corpus_write_file(path, file, n);
}
