/*
 * synth.h — the demo image synthesiser behind `printdesk seed-demo`: draws
 * photo-like pet pictures with libvips and hands back the original, its
 * background-removed cut-out and the derivatives of both as encoded bytes.
 */
#ifndef PD_SYNTH_H
#define PD_SYNTH_H

#include <stddef.h>

/* Limits on the requested picture size, in pixels per side. */
#define SYNTH_MIN_SIDE 64
#define SYNTH_MAX_SIDE 6000
/* Derivatives: thumbnails fit this square, previews this long edge. */
#define SYNTH_THUMB_SIDE 300
#define SYNTH_PREVIEW_SIDE 1600
/*
 * Variants 0 .. SYNTH_LOOKS-1 are different animals on different
 * backdrops; a larger variant reuses look variant % SYNTH_LOOKS, mirrored
 * every other round, with its own bokeh, markings and grain.
 */
#define SYNTH_LOOKS 8

/* One encoded picture. data is freed by synth_pet_free. */
struct synth_blob {
    unsigned char *data;
    size_t len;
    int width;
    int height;
    const char *mime; /* static string: image/jpeg or image/png */
};

/*
 * A demo pet. The original is a JPEG (quality 85); the cut-out is an RGBA
 * PNG of the same size whose colour is the original's and whose alpha is
 * 0 off the animal. Thumbnails fit SYNTH_THUMB_SIDE square, previews have
 * a long edge of SYNTH_PREVIEW_SIDE (or the original's, when smaller);
 * all four are JPEG, the cut-out's drawn over a light checkerboard. The
 * derivatives are rendered from the same scene at their own size (not by
 * decoding the original), which looks the same and costs far less. The
 * bytes depend only on (variant, width, height).
 */
struct synth_pet {
    struct synth_blob original_jpeg;
    struct synth_blob cutout_png;
    struct synth_blob original_thumb;
    struct synth_blob cutout_thumb;
    struct synth_blob original_preview;
    struct synth_blob cutout_preview;
};

/*
 * Starts libvips once for the whole process (later calls return the first
 * result). Thread-safe. synth_make_pet calls it itself, so only code that
 * needs images pays libvips's start-up cost. 0 or PD_ERR.
 */
int synth_init(void);

/*
 * Draws pet number variant (>= 0) at width x height (each within
 * SYNTH_MIN_SIDE..SYNTH_MAX_SIDE) into *out, which the caller releases
 * with synth_pet_free; after a failure *out is left zeroed. Thread-safe.
 * 0, PD_EINVAL for bad arguments, PD_ENOMEM, or PD_ERR when libvips
 * fails (logged with libvips's error text).
 */
int synth_make_pet(int variant, int width, int height,
                   struct synth_pet *out);

/*
 * Stops libvips (its worker threads end) when it was started; call once,
 * at the end of the process's image work.
 */
void synth_shutdown(void);

/* Frees every buffer in *pet and zeroes it; a zeroed struct is fine. */
void synth_pet_free(struct synth_pet *pet);

#endif
