/*
 * util.h — small helpers shared by every module: clocks, random ids,
 * range-checked number and time parsing, hex, and a growable byte
 * buffer.
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
/* The value of one hex digit (either case), or -1. */
int pd_hex_value(char c);

/*
 * Parses a whole decimal string into *out, within [min, max]. Leading or
 * trailing junk, an empty string or overflow fail with PD_EINVAL.
 */
int pd_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out);

/*
 * ISO 8601 date and time to ms since the epoch: YYYY-MM-DD, then 'T',
 * 't' or ' ' and HH:MM[:SS[.frac]], then 'Z' or +HH:MM / -HHMM. Strict
 * (what Shopify sends): the time with its seconds and the offset are
 * required and the year is 1970 or later. Lenient: a missing time is
 * midnight, a missing offset (or " UTC") is UTC, ',' may start the
 * fraction and the offset's minutes may be left out. PD_EINVAL for
 * anything else, including days that do not exist (31 April).
 */
int pd_parse_iso_time(const char *s, bool strict, int64_t *ms);

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
