/*
 * copies.c — the copies one lifecycle run has made, as a hash set of
 * "source\ndestination" strings (keys hold no newline). A source never
 * changes while a photo names it, so a pair copied once in a run need
 * not be copied again.
 */
#include "lifecycle/lifecycle_internal.h"

#include "common/err.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t
hash_pair(const char *src, const char *dst)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */

    for (const char *p = src; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    h = (h ^ '\n') * 1099511628211ULL;
    for (const char *p = dst; *p; p++)
        h = (h ^ (unsigned char)*p) * 1099511628211ULL;
    return h;
}

static bool
same_pair(const char *slot, const char *src, const char *dst)
{
    size_t n = strlen(src);

    return strncmp(slot, src, n) == 0 && slot[n] == '\n' &&
           strcmp(slot + n + 1, dst) == 0;
}

/* The slot of the pair, or of the empty slot where it would go. */
static size_t
find_slot(char **slots, size_t cap, const char *src, const char *dst)
{
    size_t i = (size_t)(hash_pair(src, dst) & (cap - 1));

    while (slots[i] != NULL && !same_pair(slots[i], src, dst))
        i = (i + 1) & (cap - 1);
    return i;
}

bool
lifecycle_copies_has(const struct lifecycle_copies *c, const char *src,
                     const char *dst)
{
    return c->cap > 0 && c->slots[find_slot(c->slots, c->cap, src, dst)];
}

/* Doubles the table (kept at most half full). */
static int
grow(struct lifecycle_copies *c)
{
    size_t cap = c->cap ? c->cap * 2 : 256;
    char **slots = calloc(cap, sizeof(*slots));

    if (slots == NULL)
        return PD_ENOMEM;
    for (size_t i = 0; i < c->cap; i++) {
        char *pair = c->slots[i], *nl;

        if (pair == NULL)
            continue;
        nl = strchr(pair, '\n');
        *nl = '\0';
        slots[find_slot(slots, cap, pair, nl + 1)] = pair;
        *nl = '\n';
    }
    free(c->slots);
    c->slots = slots;
    c->cap = cap;
    return PD_OK;
}

int
lifecycle_copies_add(struct lifecycle_copies *c, const char *src,
                     const char *dst)
{
    size_t len = strlen(src) + strlen(dst) + 2, i;
    char *pair;

    if ((c->n + 1) * 2 > c->cap && grow(c) != PD_OK)
        return PD_ENOMEM;
    i = find_slot(c->slots, c->cap, src, dst);
    if (c->slots[i] != NULL)
        return PD_OK;
    if ((pair = malloc(len)) == NULL)
        return PD_ENOMEM;
    snprintf(pair, len, "%s\n%s", src, dst);
    c->slots[i] = pair;
    c->n++;
    return PD_OK;
}

void
lifecycle_copies_free(struct lifecycle_copies *c)
{
    for (size_t i = 0; i < c->cap; i++)
        free(c->slots[i]);
    free(c->slots);
    *c = (struct lifecycle_copies){0};
}
