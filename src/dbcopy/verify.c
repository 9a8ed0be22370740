/*
 * verify.c — the proof of a copy: every table is read again on both
 * sides, each row written out in one canonical form and hashed with
 * SHA-256, and the row hashes summed (so the digest does not depend on
 * the order rows come in, which differs between SQLite's and
 * PostgreSQL's collations); and the identity sequences set past the
 * copied ids.
 */
#include "dbcopy/dbcopy_internal.h"

#include "common/err.h"

#include <openssl/sha.h>
#include <stdio.h>
#include <string.h>

#define CHECK_PAGE 5000

struct digest {
    uint64_t lane[4]; /* sums, modulo 2^64, of the row hashes' quarters */
    int64_t rows;
};

/* Appends one value: a tag, then its canonical text or bytes. */
static void
put_value(pd_buf *b, db_rows *r, int c, enum copy_class cls)
{
    unsigned char len[8];
    size_t n = 0;
    const void *v;

    if (db_col_null(r, c)) {
        buf_puts(b, "N");
        return;
    }
    switch (cls) {
    case CLASS_INT: /* as text: a SQLite value that is no integer shows */
        buf_printf(b, "I%s", db_col_text(r, c));
        break;
    case CLASS_BOOL:
        buf_printf(b, "I%d", db_col_int(r, c) != 0);
        break;
    case CLASS_REAL:
        buf_printf(b, "R%.17g", db_col_real(r, c));
        break;
    default: /* text and blobs alike: their bytes */
        v = db_col_blob(r, c, &n);
        for (int i = 0; i < 8; i++)
            len[i] = (unsigned char)((uint64_t)n >> (8 * i));
        buf_puts(b, "S");
        buf_append(b, len, sizeof(len));
        buf_append(b, v, n);
        break;
    }
    buf_append(b, "", 1); /* ends the value */
}

static int
add_row(db_rows *r, const struct copy_table *t, pd_buf *row,
        struct digest *out)
{
    unsigned char h[SHA256_DIGEST_LENGTH];

    buf_reset(row);
    for (int c = 0; c < t->ncols; c++)
        put_value(row, r, c, t->cols[c].cls);
    if (row->failed)
        return PD_ENOMEM;
    SHA256((const unsigned char *)row->data, row->len, h);
    for (int l = 0; l < 4; l++) {
        uint64_t q = 0;

        for (int i = 0; i < 8; i++)
            q |= (uint64_t)h[8 * l + i] << (8 * i);
        out->lane[l] += q;
    }
    out->rows++;
    return PD_OK;
}

/* Reads all of t on d into out. */
static int
digest_table(db *d, const struct copy_table *t, struct digest *out)
{
    struct pager p;
    pd_buf row;
    int n, rc;

    memset(out, 0, sizeof(*out));
    buf_init(&row);
    pager_init(&p, d, t, CHECK_PAGE);
    do {
        db_rows *r = NULL;

        n = 0;
        rc = pager_query(&p, &r);
        while (rc == PD_OK && (rc = db_step(r)) == 1) {
            n++;
            rc = add_row(r, t, &row, out);
            if (rc == PD_OK)
                rc = pager_note(&p, r);
        }
        db_rows_free(r);
    } while (rc == PD_OK && n == CHECK_PAGE);
    pager_free(&p);
    buf_free(&row);
    return rc;
}

int
copy_check_table(db *src, db *dst, const struct copy_table *t,
                 struct dbcopy_check *out)
{
    struct digest s, d;
    int rc;

    memset(out, 0, sizeof(*out));
    snprintf(out->table, sizeof(out->table), "%s", t->name);
    rc = digest_table(src, t, &s);
    if (rc == PD_OK)
        rc = digest_table(dst, t, &d);
    if (rc != PD_OK)
        return rc;
    out->source_rows = s.rows;
    out->target_rows = d.rows;
    snprintf(out->source_sum, sizeof(out->source_sum), "%016llx",
             (unsigned long long)s.lane[0]);
    snprintf(out->target_sum, sizeof(out->target_sum), "%016llx",
             (unsigned long long)d.lane[0]);
    out->match = s.rows == d.rows && memcmp(s.lane, d.lane,
                                            sizeof(s.lane)) == 0;
    return PD_OK;
}

/* Makes the sequence of t.c hand out ids above the largest copied. */
static int
reset_sequence(db *dst, const struct copy_table *t,
               const struct copy_column *c)
{
    char sql[512];
    int64_t next = 0;

    snprintf(sql, sizeof(sql),
             "SELECT COALESCE(setval(pg_get_serial_sequence(?, ?), "
             "COALESCE(MAX(%s), 0) + 1, false), 0) FROM %s",
             c->quoted, t->quoted);
    return db_query_int(dst, sql,
                        (db_arg[]){DB_TEXT(t->quoted), DB_TEXT(c->name)}, 2,
                        &next);
}

int
copy_reset_sequences(db *dst, const struct copy_plan *plan)
{
    int rc = PD_OK;

    for (int i = 0; rc == PD_OK && i < plan->n; i++)
        for (int c = 0; rc == PD_OK && c < plan->t[i].ncols; c++)
            if (plan->t[i].cols[c].identity)
                rc = reset_sequence(dst, &plan->t[i], &plan->t[i].cols[c]);
    return rc;
}
