/*
 * arena.h — a bump allocator for memory that lives as long as one request
 * (or one command). Everything taken from an arena is freed at once by
 * arena_free; nothing in it is freed alone.
 */
#ifndef PD_ARENA_H
#define PD_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct arena arena;

/* A new empty arena; NULL when out of memory. Free with arena_free. */
arena *arena_new(void);
/* Releases the arena and everything allocated from it. Accepts NULL. */
void arena_free(arena *a);

/* size bytes aligned for any type, zeroed; NULL when out of memory. */
void *arena_alloc(arena *a, size_t size);
/* A copy of the first n bytes of s, NUL-terminated. */
char *arena_strndup(arena *a, const char *s, size_t n);
char *arena_strdup(arena *a, const char *s);
/* printf into the arena. */
char *arena_printf(arena *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
char *arena_vprintf(arena *a, const char *fmt, va_list ap);
/* Bytes handed out so far (for tests and limits). */
size_t arena_used(const arena *a);

#endif
