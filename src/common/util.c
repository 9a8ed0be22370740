/* util.c — clocks, randomness, number parsing and the byte buffer. */
#include "common/util.h"

#include "common/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

int64_t
pd_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t
pd_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int
pd_random_bytes(void *buf, size_t n)
{
    unsigned char *p = buf;

    while (n > 0) {
        ssize_t got = getrandom(p, n, 0);

        if (got < 0) {
            if (errno == EINTR)
                continue;
            return PD_EIO;
        }
        p += got;
        n -= (size_t)got;
    }
    return PD_OK;
}

void
pd_hex(char *out, const void *in, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = in;

    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[p[i] >> 4];
        out[2 * i + 1] = digits[p[i] & 15];
    }
    out[2 * n] = '\0';
}

int
pd_random_hex(char *out, size_t nbytes)
{
    unsigned char raw[64];

    if (nbytes > sizeof(raw))
        return PD_EINVAL;
    if (pd_random_bytes(raw, nbytes) != PD_OK)
        return PD_EIO;
    pd_hex(out, raw, nbytes);
    return PD_OK;
}

int
pd_parse_i64(const char *s, int64_t min, int64_t max, int64_t *out)
{
    char *end;
    long long v;

    if (s == NULL || *s == '\0' || *s == ' ' || *s == '+')
        return PD_EINVAL;
    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return PD_EINVAL;
    *out = v;
    return PD_OK;
}

void
pd_format_time(char out[40], int64_t ms)
{
    time_t secs = (time_t)(ms / 1000);
    unsigned millis = (unsigned)(((ms % 1000) + 1000) % 1000) % 1000u;
    struct tm tm;
    size_t n;

    gmtime_r(&secs, &tm);
    n = strftime(out, 40, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 40 - n, ".%03uZ", millis);
}

int
pd_hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Reads exactly n digits at *p into *out and advances *p. */
static bool
take_digits(const char **p, int n, int *out)
{
    int v = 0;

    for (int i = 0; i < n; i++) {
        if ((*p)[i] < '0' || (*p)[i] > '9')
            return false;
        v = v * 10 + ((*p)[i] - '0');
    }
    *p += n;
    *out = v;
    return true;
}

/* The offset that ends a time, in seconds (see pd_parse_iso_time). */
static bool
iso_offset(const char *p, bool strict, int64_t *secs)
{
    int sign, h = 0, m = 0;

    *secs = 0;
    if (!strict) {
        p += strspn(p, " ");
        if (*p == '\0' || strcmp(p, "UTC") == 0)
            return true;
    }
    if ((p[0] == 'Z' || p[0] == 'z') && p[1] == '\0')
        return true;
    if (*p != '+' && *p != '-')
        return false;
    sign = *p++ == '-' ? -1 : 1;
    if (!take_digits(&p, 2, &h))
        return false;
    if (*p == ':')
        p++;
    if ((strict || *p != '\0') && !take_digits(&p, 2, &m))
        return false;
    *secs = sign * (h * 3600 + m * 60);
    return *p == '\0' && h <= 23 && m <= 59;
}

/* HH:MM[:SS[.frac]] at *p; advances *p. */
static bool
iso_clock(const char **p, bool strict, int *h, int *mi, int *sec, int *ms)
{
    int scale = 100;

    if (!take_digits(p, 2, h) || *(*p)++ != ':' || !take_digits(p, 2, mi))
        return false;
    if (**p == ':') {
        (*p)++;
        if (!take_digits(p, 2, sec))
            return false;
    } else if (strict) {
        return false;
    }
    if (**p == '.' || (!strict && **p == ','))
        for ((*p)++; **p >= '0' && **p <= '9'; (*p)++, scale /= 10)
            *ms += (**p - '0') * scale;
    return true;
}

int
pd_parse_iso_time(const char *s, bool strict, int64_t *ms)
{
    int y, mo, d, h = 0, mi = 0, sec = 0, frac = 0;
    const char *p = s;
    int64_t offset, t;
    struct tm tm;
    bool has_clock;

    if (s == NULL || !take_digits(&p, 4, &y) || *p++ != '-' ||
        !take_digits(&p, 2, &mo) || *p++ != '-' || !take_digits(&p, 2, &d))
        return PD_EINVAL;
    has_clock = (*p == 'T' || *p == 't' || *p == ' ') && p[1] >= '0' &&
                p[1] <= '9';
    if (strict && !has_clock)
        return PD_EINVAL;
    if (has_clock && (p++, !iso_clock(&p, strict, &h, &mi, &sec, &frac)))
        return PD_EINVAL;
    if (!iso_offset(p, strict, &offset) || (strict && y < 1970) ||
        mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 60)
        return PD_EINVAL;
    tm = (struct tm){.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                     .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    t = (int64_t)timegm(&tm);
    if (tm.tm_mday != d) /* 31 April and the like roll over */
        return PD_EINVAL;
    *ms = (t - offset) * 1000 + frac;
    return PD_OK;
}

void
buf_init(pd_buf *b)
{
    memset(b, 0, sizeof(*b));
}

void
buf_free(pd_buf *b)
{
    free(b->data);
    buf_init(b);
}

void
buf_reset(pd_buf *b)
{
    b->len = 0;
    b->failed = false;
}

static bool
buf_reserve(pd_buf *b, size_t extra)
{
    size_t want, cap;
    char *p;

    if (b->failed)
        return false;
    want = b->len + extra + 1;
    if (want <= b->cap)
        return true;
    cap = b->cap ? b->cap : 256;
    while (cap < want)
        cap *= 2;
    p = realloc(b->data, cap);
    if (p == NULL) {
        b->failed = true;
        return false;
    }
    b->data = p;
    b->cap = cap;
    return true;
}

void
buf_append(pd_buf *b, const void *data, size_t n)
{
    if (!buf_reserve(b, n))
        return;
    memcpy(b->data + b->len, data, n);
    b->len += n;
    b->data[b->len] = '\0';
}

void
buf_puts(pd_buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

void
buf_printf(pd_buf *b, const char *fmt, ...)
{
    va_list ap;
    size_t room;
    int n;

    if (!buf_reserve(b, 64))
        return;
    /* Most writes fit the room left, so one formatting pass is enough. */
    room = b->cap - b->len;
    va_start(ap, fmt);
    n = vsnprintf(b->data + b->len, room, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->data[b->len] = '\0';
        return;
    }
    if ((size_t)n >= room) {
        if (!buf_reserve(b, (size_t)n))
            return;
        va_start(ap, fmt);
        vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)n;
}

void
buf_json_escaped(pd_buf *b, const char *s)
{
    static const char digits[] = "0123456789abcdef";
    const unsigned char *p = (const unsigned char *)s;
    const unsigned char *run = p;

    for (; *p; p++) {
        char esc[7];
        const char *rep = NULL;

        if (*p >= 0x20 && *p != '"' && *p != '\\')
            continue;
        buf_append(b, run, (size_t)(p - run));
        run = p + 1;
        switch (*p) {
        case '"': rep = "\\\""; break;
        case '\\': rep = "\\\\"; break;
        case '\n': rep = "\\n"; break;
        case '\r': rep = "\\r"; break;
        case '\t': rep = "\\t"; break;
        default:
            memcpy(esc, "\\u00", 4);
            esc[4] = digits[*p >> 4];
            esc[5] = digits[*p & 15];
            esc[6] = '\0';
            rep = esc;
        }
        buf_puts(b, rep);
    }
    buf_append(b, run, (size_t)(p - run));
}

void
buf_json_string(pd_buf *b, const char *s)
{
    if (s == NULL) {
        buf_puts(b, "null");
        return;
    }
    buf_append(b, "\"", 1);
    buf_json_escaped(b, s);
    buf_append(b, "\"", 1);
}

void
buf_html_escaped(pd_buf *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '<': buf_puts(b, "&lt;"); break;
        case '>': buf_puts(b, "&gt;"); break;
        case '&': buf_puts(b, "&amp;"); break;
        case '"': buf_puts(b, "&quot;"); break;
        case '\'': buf_puts(b, "&#39;"); break;
        default: buf_append(b, s, 1);
        }
    }
}

const char *
buf_cstr(pd_buf *b)
{
    return b->data ? b->data : "";
}
