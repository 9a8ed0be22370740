/*
 * s3_xml.c — reads the few elements of S3 answers (listings, errors,
 * upload ids) and escapes the text of the bodies we send. See s3_xml.h
 * for what it does not try to be.
 */
#include "store/s3_xml.h"

#include <string.h>
#include <time.h>

static bool
starts(const char *p, const char *end, const char *lit)
{
    size_t n = strlen(lit);

    return (size_t)(end - p) >= n && memcmp(p, lit, n) == 0;
}

/* Where the literal lit ends after p, or NULL when it never comes. */
static const char *
past(const char *p, const char *end, const char *lit)
{
    const char *hit = memmem(p, (size_t)(end - p), lit, strlen(lit));

    return hit ? hit + strlen(lit) : NULL;
}

/*
 * At a '<' that opens a comment, CDATA section, processing instruction
 * or declaration: where it ends (NULL when never). Elsewhere: p itself.
 */
static const char *
skip_special(const char *p, const char *end)
{
    if (starts(p, end, "<!--"))
        return past(p + 4, end, "-->");
    if (starts(p, end, "<![CDATA["))
        return past(p + 9, end, "]]>");
    if (starts(p, end, "<?"))
        return past(p + 2, end, "?>");
    if (starts(p, end, "<!"))
        return past(p + 2, end, ">");
    return p;
}

static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* True when a name that starts at p is exactly tag (then a delimiter). */
static bool
name_is(const char *p, const char *end, const char *tag)
{
    size_t n = strlen(tag);

    if ((size_t)(end - p) <= n || memcmp(p, tag, n) != 0)
        return false;
    return p[n] == '>' || p[n] == '/' || is_space(p[n]);
}

/* The '>' that closes the tag opened at p, skipping quoted values. */
static const char *
tag_end(const char *p, const char *end)
{
    char quote = 0;

    for (; p < end; p++) {
        if (quote != 0) {
            if (*p == quote)
                quote = 0;
        } else if (*p == '"' || *p == '\'') {
            quote = *p;
        } else if (*p == '>') {
            return p;
        }
    }
    return NULL;
}

/*
 * The next real tag at or after p: *at is its '<'. Comments and the
 * like are stepped over. False at the end of the span.
 */
static bool
next_tag(const char *p, const char *end, const char **at)
{
    while ((p = memchr(p, '<', (size_t)(end - p))) != NULL) {
        const char *after = skip_special(p, end);

        if (after == NULL)
            return false;
        if (after == p) {
            *at = p;
            return true;
        }
        p = after;
    }
    return false;
}

/* Finds "</tag>" from p; *close is its '<', returns its end or NULL. */
static const char *
find_close(const char *p, const char *end, const char *tag,
           const char **close)
{
    const char *at;

    while (next_tag(p, end, &at)) {
        if (at + 1 < end && at[1] == '/' && name_is(at + 2, end, tag)) {
            const char *q = at + 2 + strlen(tag);

            while (q < end && is_space(*q))
                q++;
            if (q < end && *q == '>') {
                *close = at;
                return q + 1;
            }
        }
        p = at + 1;
    }
    return NULL;
}

bool
s3_xml_next(struct s3_xml *doc, const char *tag, struct s3_xml *inner)
{
    const char *p = doc->p, *end = doc->end, *at, *gt, *close, *after;

    while (next_tag(p, end, &at)) {
        p = at + 1;
        if (!name_is(at + 1, end, tag))
            continue;
        gt = tag_end(at + 1, end);
        if (gt == NULL)
            return false;
        if (gt[-1] == '/') {
            inner->p = inner->end = gt + 1;
            doc->p = gt + 1;
            return true;
        }
        after = find_close(gt + 1, end, tag, &close);
        if (after == NULL)
            return false;
        inner->p = gt + 1;
        inner->end = close;
        doc->p = after;
        return true;
    }
    return false;
}

bool
s3_xml_root_is(const struct s3_xml *doc, const char *tag)
{
    const char *at;

    return next_tag(doc->p, doc->end, &at) && name_is(at + 1, doc->end, tag);
}

/* ---- text ------------------------------------------------------------- */

struct text_out {
    char *p;
    size_t len;
    size_t cap;
};

static bool
put_byte(struct text_out *o, char c)
{
    if (o->len + 1 >= o->cap)
        return false;
    o->p[o->len++] = c;
    return true;
}

/* True for a code point XML allows in a document. */
static bool
xml_char(unsigned long cp)
{
    return cp == 0x9 || cp == 0xA || cp == 0xD ||
           (cp >= 0x20 && cp <= 0xD7FF) || (cp >= 0xE000 && cp <= 0xFFFD) ||
           (cp >= 0x10000 && cp <= 0x10FFFF);
}

static bool
put_utf8(struct text_out *o, unsigned long cp)
{
    if (cp < 0x80)
        return put_byte(o, (char)cp);
    if (cp < 0x800)
        return put_byte(o, (char)(0xC0 | (cp >> 6))) &&
               put_byte(o, (char)(0x80 | (cp & 0x3F)));
    if (cp < 0x10000)
        return put_byte(o, (char)(0xE0 | (cp >> 12))) &&
               put_byte(o, (char)(0x80 | ((cp >> 6) & 0x3F))) &&
               put_byte(o, (char)(0x80 | (cp & 0x3F)));
    return put_byte(o, (char)(0xF0 | (cp >> 18))) &&
           put_byte(o, (char)(0x80 | ((cp >> 12) & 0x3F))) &&
           put_byte(o, (char)(0x80 | ((cp >> 6) & 0x3F))) &&
           put_byte(o, (char)(0x80 | (cp & 0x3F)));
}

/* "#65" or "#x41": the code point, or 0 when malformed. */
static unsigned long
char_ref(const char *p, size_t n)
{
    int base = 10;
    unsigned long cp = 0;

    if (n < 2 || p[0] != '#')
        return 0;
    p++, n--;
    if (p[0] == 'x') {
        base = 16;
        p++, n--;
    }
    if (n == 0 || n > 8)
        return 0;
    for (size_t i = 0; i < n; i++) {
        const char *digits = "0123456789abcdef";
        const char *d = memchr(digits, p[i] | (base == 16 ? 0x20 : 0),
                               (size_t)base);

        if (d == NULL)
            return 0;
        cp = cp * (unsigned long)base + (unsigned long)(d - digits);
    }
    return xml_char(cp) ? cp : 0;
}

/* Decodes the reference after '&' at *pp (up to ';'); moves *pp past. */
static bool
put_reference(struct text_out *o, const char **pp, const char *end)
{
    static const struct {
        const char *name;
        char c;
    } named[] = {{"lt", '<'}, {"gt", '>'}, {"amp", '&'}, {"quot", '"'},
                 {"apos", '\''}};
    const char *p = *pp + 1;
    const char *semi = memchr(p, ';', (size_t)(end - p));
    size_t n;
    unsigned long cp;

    if (semi == NULL)
        return false;
    n = (size_t)(semi - p);
    *pp = semi + 1;
    for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
        if (strlen(named[i].name) == n && memcmp(p, named[i].name, n) == 0)
            return put_byte(o, named[i].c);
    cp = char_ref(p, n);
    return cp != 0 && put_utf8(o, cp);
}

/* Copies a CDATA section at *pp as it is; moves *pp past it. */
static bool
put_cdata(struct text_out *o, const char **pp, const char *end)
{
    const char *start = *pp + 9;
    const char *stop = past(start, end, "]]>");

    if (stop == NULL)
        return false;
    for (const char *q = start; q < stop - 3; q++)
        if (*q == '\0' || !put_byte(o, *q))
            return false;
    *pp = stop;
    return true;
}

int
s3_xml_decode(const struct s3_xml *in, char *out, size_t outlen)
{
    struct text_out o = {out, 0, outlen};
    const char *p = in->p;
    bool ok = outlen > 0;

    while (ok && p < in->end) {
        if (*p == '&')
            ok = put_reference(&o, &p, in->end);
        else if (starts(p, in->end, "<![CDATA["))
            ok = put_cdata(&o, &p, in->end);
        else if (*p == '<' || *p == '\0')
            ok = false;
        else
            ok = put_byte(&o, *p++);
    }
    if (!ok) {
        if (outlen > 0)
            out[0] = '\0';
        return -1;
    }
    out[o.len] = '\0';
    return (int)o.len;
}

int
s3_xml_text(const struct s3_xml *doc, const char *tag, char *out,
            size_t outlen)
{
    struct s3_xml scan = *doc, inner;

    if (!s3_xml_next(&scan, tag, &inner)) {
        if (outlen > 0)
            out[0] = '\0';
        return -1;
    }
    return s3_xml_decode(&inner, out, outlen);
}

void
s3_xml_escape(pd_buf *b, const char *s)
{
    for (; *s != '\0'; s++) {
        switch (*s) {
        case '&': buf_puts(b, "&amp;"); break;
        case '<': buf_puts(b, "&lt;"); break;
        case '>': buf_puts(b, "&gt;"); break;
        case '"': buf_puts(b, "&quot;"); break;
        case '\'': buf_puts(b, "&apos;"); break;
        default: buf_append(b, s, 1);
        }
    }
}

/* ---- times ------------------------------------------------------------ */

/* Reads exactly n digits at *s into *out and moves past them. */
static bool
digits(const char **s, int n, int *out)
{
    *out = 0;
    for (int i = 0; i < n; i++) {
        char c = (*s)[i];

        if (c < '0' || c > '9')
            return false;
        *out = *out * 10 + (c - '0');
    }
    *s += n;
    return true;
}

static bool
expect(const char **s, char c)
{
    if (**s != c)
        return false;
    (*s)++;
    return true;
}

bool
s3_xml_time(const char *s, int64_t *ms)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, sec, frac = 0, scale = 1;

    if (!digits(&s, 4, &y) || !expect(&s, '-') || !digits(&s, 2, &mo) ||
        !expect(&s, '-') || !digits(&s, 2, &d) || !expect(&s, 'T') ||
        !digits(&s, 2, &h) || !expect(&s, ':') || !digits(&s, 2, &mi) ||
        !expect(&s, ':') || !digits(&s, 2, &sec))
        return false;
    if (*s == '.') {
        s++;
        for (int i = 0; *s >= '0' && *s <= '9'; i++, s++) {
            if (i < 3) {
                frac = frac * 10 + (*s - '0');
                scale *= 10;
            }
        }
    }
    if (strcmp(s, "Z") != 0 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
        h > 23 || mi > 59 || sec > 60)
        return false;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = sec;
    *ms = (int64_t)timegm(&tm) * 1000 + (int64_t)frac * 1000 / scale;
    return true;
}
