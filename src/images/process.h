/*
 * process.h — what the upload pipeline asks of libvips: tell an uploaded
 * file's type from its bytes and check it (image_inspect), then make its
 * thumbnail and zoom preview (image_derive). Lives in printdesk-images.so.
 */
#ifndef PD_IMAGES_PROCESS_H
#define PD_IMAGES_PROCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Refusals of an uploaded file, beside the pd_err codes (err.h). The
 * HTTP layer answers IMAGE_EUNSUPPORTED with 415 and the other two with
 * 422; the reason text is written for the customer.
 */
enum image_err {
    IMAGE_EUNSUPPORTED = -101,   /* not JPEG, PNG, WebP or HEIF/HEIC */
    IMAGE_EINVALID = -102,       /* empty, truncated or corrupt */
    IMAGE_ETOOMANYPIXELS = -103, /* width * height over the limit */
};

/* Limits on what callers may ask for. */
#define IMAGE_MAX_SIDE 4096               /* thumb_side, preview_side */
#define IMAGE_MAX_PIXELS_LIMIT 1000000000 /* max_pixels of image_inspect */

/* The header facts of an accepted file. Strings are static. */
struct image_info {
    const char *format; /* "jpeg", "png", "webp", "heic", "avif", "heif" */
    const char *mime;   /* "image/jpeg", ... */
    int width;          /* stored pixels, before EXIF rotation */
    int height;
    int bands;          /* including alpha */
    int bits;           /* per sample: 8 or 16 */
    int orientation;    /* EXIF 1..8; 1 when the file has none */
    double dpi;         /* horizontal; 0 when the file states none */
    bool has_alpha;
    const char *colourspace; /* libvips's name: "srgb", "cmyk", "b-w"... */
};

/*
 * Looks at the file at path: the format from its bytes (never its name),
 * the header, and a cheap full decode (a shrink-on-load thumbnail read
 * with fail-on-error) that finds truncated or corrupt data. Pixels are
 * never decoded when the header already refuses the file.
 * Returns 0 with *out filled, or IMAGE_EUNSUPPORTED, IMAGE_EINVALID,
 * IMAGE_ETOOMANYPIXELS with a customer-readable reason in reason (len
 * bytes, always terminated); PD_EINVAL for bad arguments (max_pixels
 * 1..IMAGE_MAX_PIXELS_LIMIT), PD_EIO when the file cannot be read,
 * PD_ERR when libvips fails to start. Thread-safe.
 */
int image_inspect(const char *path, int64_t max_pixels,
                  struct image_info *out, char *reason, size_t len);

/*
 * image_inspect without the decode check: the type, the header and the
 * pixel limit only. For callers that decode the file next anyway
 * (image_derive fails on truncated or corrupt data).
 */
int image_inspect_header(const char *path, int64_t max_pixels,
                         struct image_info *out, char *reason, size_t len);

/* One encoded derivative: a baseline JPEG, quality 85, no metadata. */
struct image_blob {
    unsigned char *data; /* g_malloc'd; freed by image_derived_free */
    size_t len;
    int width;
    int height;
};

struct image_derived {
    struct image_blob thumb;   /* fits thumb_side x thumb_side */
    struct image_blob preview; /* long edge preview_side */
};

/*
 * Makes the thumbnail and the preview of the file at path, which
 * image_inspect has accepted: both shrunk, never enlarged, turned upright
 * from the EXIF orientation, converted to sRGB, transparency drawn over a
 * light checkerboard, all metadata stripped (GPS included). Sides are
 * 1..IMAGE_MAX_SIDE. Returns 0 with *out to release with
 * image_derived_free (zeroed on failure), IMAGE_EUNSUPPORTED or
 * IMAGE_EINVALID with a reason, PD_EINVAL, or PD_ERR. Thread-safe.
 */
int image_derive(const char *path, int thumb_side, int preview_side,
                 struct image_derived *out, char *reason, size_t len);

/* Frees both buffers and zeroes *d; a zeroed struct is fine. */
void image_derived_free(struct image_derived *d);

#endif
