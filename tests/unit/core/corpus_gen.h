/*
 * corpus_gen.h — test pictures made with libvips or by hand: photo-like
 * noise, the odd files phones send (EXIF-rotated with GPS, 16-bit, CMYK,
 * HEIC, cut-outs) and hostile ones (truncated, text, SVG, GIF, a PNG
 * decompression bomb). Shared by test_process.c and tools/make_corpus.c.
 */
#ifndef PD_TEST_CORPUS_GEN_H
#define PD_TEST_CORPUS_GEN_H

#include <stddef.h>
#include <stdint.h>

#include <vips/vips.h>

/* Returned by corpus_save_heic when this libheif cannot encode HEVC. */
#define CORPUS_ENOHEVC (-50)

/* Short files the tests write as they are. */
extern const char corpus_text[];  /* a letter, no image at all */
extern const char corpus_svg[];   /* a small SVG drawing */

/*
 * A w x h photo-like 8-bit sRGB picture: colour gradients plus grain of
 * the given sigma (seed picks the grain), so JPEG sizes are realistic and
 * a truncated file misses real data. The caller unrefs it; NULL when
 * libvips fails (its error buffer says why).
 */
VipsImage *corpus_photo(int w, int h, double sigma, int seed);

/*
 * Every saver below returns 0, or PD_ERR (libvips's error buffer, or
 * errno for corpus_write_file, says why), and leaves img untouched.
 */
int corpus_write_file(const char *path, const void *data, size_t len);
int corpus_save_jpeg(VipsImage *img, const char *path, int quality);

/* A JPEG tagged EXIF orientation 6 (rotate 90 degrees clockwise to view)
 * with a user comment and GPS latitude/longitude. */
int corpus_save_oriented(VipsImage *img, const char *path);

/* The picture widened to 16 bits per sample, as an RGB16 PNG. */
int corpus_save_deep_png(VipsImage *img, const char *path);

/* The picture converted to CMYK, as a 4-band JPEG. */
int corpus_save_cmyk_jpeg(VipsImage *img, const char *path);

/* An HEVC-compressed HEIC file; CORPUS_ENOHEVC when this build lacks an
 * HEVC encoder (nothing is written, the libvips error is cleared). */
int corpus_save_heic(VipsImage *img, const char *path);

/* The picture as a GIF (whatever the path's suffix). */
int corpus_save_gif(VipsImage *img, const char *path);

/* The first half of the picture's JPEG encoding (quality 85). */
int corpus_save_truncated_jpeg(VipsImage *img, const char *path);

/*
 * A w x h RGBA PNG cut-out: opaque red (220, 10, 10) where x >= w / 2,
 * fully transparent on the left half.
 */
int corpus_save_cutout(int w, int h, const char *path);

/*
 * A tiny valid-looking 8-bit RGB PNG whose IHDR (with a correct CRC)
 * claims w x h pixels, followed by a few bytes of IDAT and IEND.
 */
int corpus_save_png_bomb(uint32_t w, uint32_t h, const char *path);

#endif
