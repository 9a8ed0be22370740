/*
 * jpeg_fast.h — a JPEG decoded straight to about the size a derivative
 * needs (see jpeg_fast.c). Part of printdesk-images.so.
 */
#ifndef PD_IMAGES_JPEG_FAST_H
#define PD_IMAGES_JPEG_FAST_H

#include <vips/vips.h>

/*
 * Decodes the JPEG at path, shrunk by 1, 2, 4 or 8 so its long edge stays
 * at least box (when the file is that big), as 8-bit sRGB or grey pixels
 * in memory, stored orientation (no EXIF rotation applied). Returns 0
 * with *out (unref it), or 1 when the file is better left to libvips
 * (CMYK, or libjpeg reported anything amiss).
 */
int jpeg_fast_load(const char *path, int box, VipsImage **out);

#endif
