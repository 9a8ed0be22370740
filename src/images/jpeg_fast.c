/*
 * jpeg_fast.c — the quick road from a big JPEG to a small picture of it:
 * libjpeg-turbo decodes straight to the scale needed (1/2, 1/4 or 1/8,
 * inside the DCT) with its fast integer transform and plain upsampling,
 * as photo tools' draft modes do. Only derivatives are made this way; the
 * original is never touched. CMYK files, and any file libjpeg has the
 * least complaint about, are left to libvips, whose verdict on a damaged
 * file stands.
 */
#include "images/jpeg_fast.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>

struct quiet_error {
    struct jpeg_error_mgr pub;
    jmp_buf escape;
};

static void
on_error(j_common_ptr cinfo)
{
    struct quiet_error *e = (struct quiet_error *)cinfo->err;

    longjmp(e->escape, 1);
}

/* Any warning (truncation, bad data) hands the file back to libvips. */
static void
on_message(j_common_ptr cinfo, int level)
{
    if (level < 0)
        on_error(cinfo);
}

/* The largest DCT shrink whose result still covers box on the long edge. */
static int
shrink_for(unsigned w, unsigned h, int box)
{
    unsigned long_edge = w > h ? w : h;
    int d = 8;

    while (d > 1 && long_edge / (unsigned)d < (unsigned)box)
        d /= 2;
    return d;
}

/* Decodes the scanlines into pixels (output_height rows). */
static void
read_pixels(struct jpeg_decompress_struct *ci, unsigned char *pixels)
{
    size_t stride = (size_t)ci->output_width * ci->output_components;

    while (ci->output_scanline < ci->output_height) {
        JSAMPROW row = pixels + stride * ci->output_scanline;

        jpeg_read_scanlines(ci, &row, 1);
    }
}

static int
decode(const unsigned char *data, size_t len, int box, VipsImage **out)
{
    struct jpeg_decompress_struct ci;
    struct quiet_error err;
    unsigned char *volatile pixels = NULL;
    VipsImage *img;

    ci.err = jpeg_std_error(&err.pub);
    err.pub.error_exit = on_error;
    err.pub.emit_message = on_message;
    if (setjmp(err.escape)) {
        jpeg_destroy_decompress(&ci);
        g_free(pixels);
        return 1;
    }
    jpeg_create_decompress(&ci);
    jpeg_mem_src(&ci, data, (unsigned long)len);
    jpeg_read_header(&ci, TRUE);
    if (ci.jpeg_color_space == JCS_CMYK || ci.jpeg_color_space == JCS_YCCK)
        longjmp(err.escape, 1);
    ci.out_color_space = ci.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
    ci.scale_num = 1;
    ci.scale_denom = (unsigned)shrink_for(ci.image_width, ci.image_height,
                                          box);
    ci.dct_method = JDCT_IFAST;
    ci.do_fancy_upsampling = FALSE;
    jpeg_start_decompress(&ci);
    /* Held in a volatile so the error path frees it. */
    pixels = g_malloc((size_t)ci.output_width * ci.output_height *
                      ci.output_components);
    read_pixels(&ci, pixels);
    jpeg_finish_decompress(&ci);
    img = vips_image_new_from_memory_copy(
        pixels, (size_t)ci.output_width * ci.output_height *
                    ci.output_components,
        (int)ci.output_width, (int)ci.output_height, ci.output_components,
        VIPS_FORMAT_UCHAR);
    g_free(pixels);
    jpeg_destroy_decompress(&ci);
    if (img == NULL)
        return 1;
    img->Type = ci.output_components == 1 ? VIPS_INTERPRETATION_B_W
                                          : VIPS_INTERPRETATION_sRGB;
    *out = img;
    return 0;
}

/*
 * The file is mapped whole: libjpeg-turbo's quick Huffman decoder works
 * only while plenty of input is buffered, which a mapping always is.
 */
int
jpeg_fast_load(const char *path, int box, VipsImage **out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    void *map = MAP_FAILED;
    int rc = 1;

    *out = NULL;
    if (fd < 0)
        return 1;
    if (fstat(fd, &st) == 0 && st.st_size > 0)
        map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return 1;
    rc = decode(map, (size_t)st.st_size, box, out);
    munmap(map, (size_t)st.st_size);
    return rc;
}
