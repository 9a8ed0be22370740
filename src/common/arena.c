/*
 * arena.c — the request arena: a chain of blocks, bump-allocated. The first
 * block is small so a typical request costs one malloc; large requests grow
 * the chain with blocks that double in size.
 */
#include "common/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_FIRST_BLOCK 4096
#define ARENA_ALIGN 16

struct block {
    struct block *next;
    size_t size;
    size_t used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
};

struct arena {
    struct block *head;
    size_t total_used;
};

static struct block *
block_new(size_t size)
{
    struct block *b = malloc(sizeof(*b) + size);

    if (b == NULL)
        return NULL;
    b->next = NULL;
    b->size = size;
    b->used = 0;
    return b;
}

arena *
arena_new(void)
{
    arena *a = malloc(sizeof(*a));

    if (a == NULL)
        return NULL;
    a->head = block_new(ARENA_FIRST_BLOCK);
    if (a->head == NULL) {
        free(a);
        return NULL;
    }
    a->total_used = 0;
    return a;
}

void
arena_free(arena *a)
{
    struct block *b, *next;

    if (a == NULL)
        return;
    for (b = a->head; b != NULL; b = next) {
        next = b->next;
        free(b);
    }
    free(a);
}

void *
arena_alloc(arena *a, size_t size)
{
    size_t need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    struct block *b = a->head;
    void *p;

    if (need < size)
        return NULL;
    if (b->size - b->used < need) {
        size_t grow = b->size * 2;

        while (grow < need)
            grow *= 2;
        b = block_new(grow);
        if (b == NULL)
            return NULL;
        b->next = a->head;
        a->head = b;
    }
    p = b->data + b->used;
    b->used += need;
    a->total_used += need;
    memset(p, 0, size);
    return p;
}

char *
arena_strndup(arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);

    if (p == NULL)
        return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *
arena_strdup(arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

char *
arena_vprintf(arena *a, const char *fmt, va_list ap)
{
    va_list copy;
    int n;
    char *p;

    va_copy(copy, ap);
    n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    if (n < 0)
        return NULL;
    p = arena_alloc(a, (size_t)n + 1);
    if (p != NULL)
        vsnprintf(p, (size_t)n + 1, fmt, ap);
    return p;
}

char *
arena_printf(arena *a, const char *fmt, ...)
{
    va_list ap;
    char *p;

    va_start(ap, fmt);
    p = arena_vprintf(a, fmt, ap);
    va_end(ap);
    return p;
}

size_t
arena_used(const arena *a)
{
    return a->total_used;
}
