/*
 * lifecycle_internal.h — what the run (run.c) uses from copies.c: the
 * copies a run has made, so that objects several photos share (demo
 * data) are copied once per run rather than once per photo.
 */
#ifndef PD_LIFECYCLE_INTERNAL_H
#define PD_LIFECYCLE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

/* A set of (source, destination) key pairs; starts {0}. */
struct lifecycle_copies {
    char **slots; /* "src\ndst", or NULL; open addressing */
    size_t cap, n;
};

bool lifecycle_copies_has(const struct lifecycle_copies *c, const char *src,
                          const char *dst);
/* Remembers a copy; PD_ENOMEM when out of memory (then not remembered). */
int lifecycle_copies_add(struct lifecycle_copies *c, const char *src,
                         const char *dst);
void lifecycle_copies_free(struct lifecycle_copies *c);

#endif
