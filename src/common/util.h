/*
 * util.h — small helpers shared by every module: clocks, random ids,
 * range-checked number parsing, and a growable byte buffer.
 */
#ifndef PD_UTIL_H
#define PD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Wall clock, milliseconds since the Unix epoch (UTC). */
int64_t pd_now_ms(void);
/* Monotonic clock in nanoseconds, for durations. */
int64_t pd_mono_ns(void);

/* Fills buf with n cryptographically random bytes. 0 or PD_EIO. */
int pd_random_bytes(void *buf, size_t n);
/* Writes 2*nbytes lowercase hex digits and a NUL into out. */
int pd_random_hex(char *out, size_t nbytes);
/* Lowercase hex of n bytes into out (2n+1 bytes). */
void pd_hex(char *out, const void *in, size_t n);

/*
 * Parses a whole decimal string into *out, within [min, max]. Leading or
 * trailing junk, an empty string or overflow fail with PD_EINVAL.
 */
int pd_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/* Formats ms since the epoch as RFC 3339 UTC with milliseconds. */
void pd_format_time(char out[40], int64_t ms);

/* A growable byte buffer on the heap; the owner calls buf_free. */
typedef struct pd_buf {
    char *data;
    size_t len;
    size_t cap;
    bool failed; /* an append ran out of memory; data is incomplete */
} pd_buf;

void buf_init(pd_buf *b);
void buf_free(pd_buf *b);
void buf_reset(pd_buf *b);
void buf_append(pd_buf *b, const void *data, size_t n);
void buf_puts(pd_buf *b, const char *s);
void buf_printf(pd_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Appends s as the inside of a JSON string (quotes not included). */
void buf_json_escaped(pd_buf *b, const char *s);
/* Appends "s" as a JSON string, or null when s is NULL. */
void buf_json_string(pd_buf *b, const char *s);
/* Appends s with &, <, >, " and ' escaped for HTML text and attributes. */
void buf_html_escaped(pd_buf *b, const char *s);
/* A NUL-terminated view of the contents ("" when empty). */
const char *buf_cstr(pd_buf *b);

#endif
