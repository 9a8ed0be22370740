/*
 * module.c — the export table of printdesk-images.so. The server finds
 * it with dlsym; everything else in the module stays private.
 */
#include "images/images.h"

/* Exported: the one symbol the loader looks up. */
extern const struct images_api printdesk_images_api;

const struct images_api printdesk_images_api = {
    .abi_version = IMAGES_ABI_VERSION,
    .make_demo_pet = synth_make_pet,
    .free_demo_pet = synth_pet_free,
    .inspect = image_inspect,
    .inspect_header = image_inspect_header,
    .derive = image_derive,
    .free_derived = image_derived_free,
    .shutdown = synth_shutdown,
};
