/*
 * images.h — the door to everything that needs libvips. libvips and the
 * hundred libraries it pulls in cost the server about 15 MiB and 25 ms at
 * start, so the image code lives in a shared module (printdesk-images.so,
 * beside the binary) that is loaded the first time an image is touched.
 */
#ifndef PD_IMAGES_H
#define PD_IMAGES_H

#include "images/process.h"
#include "images/synth.h"

/* Bumped whenever the table below changes shape. */
#define IMAGES_ABI_VERSION 4

/* What the module exports, as one table of functions. */
struct images_api {
    int abi_version;
    int (*make_demo_pet)(int variant, int width, int height,
                         struct synth_pet *out);
    void (*free_demo_pet)(struct synth_pet *pet);
    /* Upload checks and derivatives: see process.h. */
    int (*inspect)(const char *path, int64_t max_pixels,
                   struct image_info *out, char *reason, size_t len);
    int (*inspect_header)(const char *path, int64_t max_pixels,
                          struct image_info *out, char *reason, size_t len);
    int (*derive)(const char *path, int thumb_side, int preview_side,
                  struct image_derived *out, char *reason, size_t len);
    void (*free_derived)(struct image_derived *d);
    void (*shutdown)(void); /* ends libvips's threads, before exit */
};

/* The symbol name of the table inside the module. */
#define IMAGES_API_SYMBOL "printdesk_images_api"

/*
 * Loads the module once per process (thread-safe) and returns its table
 * in *out. The module is PRINTDESK_IMAGES_MODULE when set, else
 * printdesk-images.so in the binary's folder. PD_EUNAVAIL (logged, with
 * the loader's reason) when it cannot be loaded.
 */
int images_load(const struct images_api **out);

/*
 * Ends libvips's worker threads when the module was loaded; once, before
 * exit, after the last image call (leak checkers need a quiet process).
 */
void images_shutdown(void);

#endif
