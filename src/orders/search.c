/*
 * search.c — turns what staff type into the search box into a query: an
 * order number ("1042", "#1042") is looked up exactly; anything else is
 * split into words that must all appear as word prefixes, written as an
 * FTS5 MATCH expression (SQLite) or a tsquery (PostgreSQL) that carries
 * no syntax of the user's. Also the other side: how an order's
 * searchable text is written.
 */
#include "orders/orders_internal.h"

#include "common/err.h"
#include "common/util.h"

#include <stdio.h>
#include <string.h>

/* Words beyond this many are ignored. */
#define SEARCH_WORDS_MAX 8

static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

static bool
is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9');
}

/* "1042" or "#1042" (surrounding space allowed): the number, or -1. */
static int64_t
order_number(const char *q, size_t len)
{
    char digits[24];
    size_t start = 0, end = len, n;
    int64_t v;

    while (start < end && is_space(q[start]))
        start++;
    while (end > start && is_space(q[end - 1]))
        end--;
    if (start < end && q[start] == '#')
        start++;
    n = end - start;
    if (n == 0 || n >= 19)
        return -1;
    for (size_t i = start; i < end; i++)
        if (q[i] < '0' || q[i] > '9')
            return -1;
    memcpy(digits, q + start, n);
    digits[n] = '\0';
    return pd_parse_i64(digits, 0, INT64_MAX, &v) == PD_OK ? v : -1;
}

/*
 * A word is a run of ASCII letters and digits; for SQLite, bytes of
 * other UTF-8 characters belong to words too (its tokenizer folds their
 * case and accents). Everything else separates words. Words are
 * lowercased; none contains a quote or an operator.
 */
static bool
word_byte(enum db_kind kind, unsigned char c)
{
    return is_alnum(c) || (kind == DB_SQLITE && c >= 0x80);
}

/* Appends one word as a prefix term. */
static void
add_term(enum db_kind kind, pd_buf *b, const char *w, size_t n, int nth)
{
    if (nth > 0)
        buf_puts(b, kind == DB_SQLITE ? " " : " & ");
    if (kind == DB_SQLITE)
        buf_puts(b, "\"");
    for (size_t i = 0; i < n; i++) {
        char c = w[i];

        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        buf_append(b, &c, 1);
    }
    buf_puts(b, kind == DB_SQLITE ? "\"*" : ":*");
}

/* The match expression for q's words; *words receives how many. */
static int
text_expr(enum db_kind kind, const char *q, pd_buf *b, int *words)
{
    const unsigned char *p = (const unsigned char *)q;
    size_t i = 0;

    *words = 0;
    while (p[i] != '\0' && *words < SEARCH_WORDS_MAX) {
        size_t start;

        while (p[i] != '\0' && !word_byte(kind, p[i]))
            i++;
        start = i;
        while (p[i] != '\0' && word_byte(kind, p[i]))
            i++;
        if (i > start)
            add_term(kind, b, q + start, i - start, (*words)++);
    }
    return b->failed ? PD_ENOMEM : PD_OK;
}

int
orders_search_parse(enum db_kind kind, const char *q, arena *a,
                    struct orders_search *out, char *msg, size_t len)
{
    size_t qlen = q != NULL ? strlen(q) : 0;
    int64_t number;
    int words = 0, rc;
    pd_buf b;

    memset(out, 0, sizeof(*out));
    while (qlen > 0 && is_space(q[qlen - 1]))
        qlen--;
    if (qlen == 0)
        return PD_OK;
    if (qlen > ORDERS_Q_MAX || !orders_utf8_valid(q, qlen)) {
        snprintf(msg, len, "q must be UTF-8 text of at most %d bytes",
                 ORDERS_Q_MAX);
        return PD_EINVAL;
    }
    number = order_number(q, qlen);
    if (number >= 0) {
        out->kind = SEARCH_NUMBER;
        out->number = number;
        snprintf(out->name, sizeof(out->name), "#%lld", (long long)number);
        return PD_OK;
    }
    buf_init(&b);
    rc = text_expr(kind, q, &b, &words);
    if (rc == PD_OK && words > 0) {
        out->kind = SEARCH_TEXT;
        out->expr = arena_strdup(a, buf_cstr(&b));
        rc = out->expr != NULL ? PD_OK : PD_ENOMEM;
    } else if (rc == PD_OK) {
        out->kind = SEARCH_NOTHING;
    }
    buf_free(&b);
    return rc;
}

void
orders_search_add(pd_buf *b, const char *s)
{
    if (s == NULL || s[0] == '\0')
        return;
    if (b->len > 0)
        buf_puts(b, " ");
    for (; *s != '\0'; s++) {
        char c = *s >= 'A' && *s <= 'Z' ? (char)(*s - 'A' + 'a') : *s;

        buf_append(b, &c, 1);
    }
}
