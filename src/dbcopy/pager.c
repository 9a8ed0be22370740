/*
 * pager.c — reading a table page by page in primary-key order (keyset
 * pagination: each page starts after the last key read, so a page costs
 * the same wherever it falls), the last key as JSON for the progress
 * record, and a value read as its class says, written as an element of
 * a PostgreSQL array literal (a batch goes out as one array a column).
 */
#include "dbcopy/dbcopy_internal.h"

#include "common/err.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>


void
pager_init(struct pager *p, db *d, const struct copy_table *t, int limit)
{
    memset(p, 0, sizeof(*p));
    p->d = d;
    p->t = t;
    p->limit = limit;
    for (int k = 0; k < COPY_KEY_MAX; k++)
        buf_init(&p->k[k].s);
}

void
pager_free(struct pager *p)
{
    for (int k = 0; k < COPY_KEY_MAX; k++)
        buf_free(&p->k[k].s);
}

static enum copy_class
key_class(const struct pager *p, int k)
{
    return p->t->cols[p->t->key[k]].cls;
}

static db_arg
key_arg(const struct pager *p, int k)
{
    const pd_buf *s = &p->k[k].s;

    if (key_class(p, k) == CLASS_INT)
        return DB_INT(p->k[k].i);
    return (db_arg){.type = DB_T_TEXT, .p = s->data != NULL ? s->data : "",
                    .len = s->len};
}

int
pager_query(struct pager *p, db_rows **out)
{
    db_arg args[COPY_KEY_MAX + 1];
    int n = 0;

    if (!p->started)
        return db_query(p->d, p->t->select_first,
                        (db_arg[]){DB_INT(p->limit)}, 1, out);
    for (int k = 0; k < p->t->nkey; k++)
        args[n++] = key_arg(p, k);
    args[n++] = DB_INT(p->limit);
    return db_query(p->d, p->t->select_next, args, n, out);
}

int
pager_note(struct pager *p, db_rows *r)
{
    for (int k = 0; k < p->t->nkey; k++) {
        int col = p->t->key[k];
        size_t len = 0;
        const void *v;

        if (key_class(p, k) == CLASS_INT) {
            p->k[k].i = db_col_int(r, col);
            continue;
        }
        v = db_col_blob(r, col, &len);
        buf_reset(&p->k[k].s);
        buf_append(&p->k[k].s, v, len);
        if (p->k[k].s.failed)
            return PD_ENOMEM;
    }
    p->started = true;
    return PD_OK;
}

char *
pager_key_json(const struct pager *p)
{
    json_t *a = json_array();
    char *text = NULL;
    bool ok = a != NULL;

    for (int k = 0; ok && k < p->t->nkey; k++) {
        const pd_buf *s = &p->k[k].s;
        json_t *v = key_class(p, k) == CLASS_INT
                        ? json_integer(p->k[k].i)
                        : json_stringn(s->data != NULL ? s->data : "",
                                       s->len);

        ok = v != NULL && json_array_append_new(a, v) == 0;
    }
    if (ok)
        text = json_dumps(a, JSON_COMPACT);
    json_decref(a);
    return text;
}

int
pager_resume(struct pager *p, const char *json)
{
    json_t *a = json_loads(json, 0, NULL);
    int rc = json_is_array(a) && (int)json_array_size(a) == p->t->nkey
                 ? PD_OK
                 : PD_EINVAL;

    for (int k = 0; rc == PD_OK && k < p->t->nkey; k++) {
        json_t *v = json_array_get(a, (size_t)k);

        if (key_class(p, k) == CLASS_INT && json_is_integer(v)) {
            p->k[k].i = (int64_t)json_integer_value(v);
        } else if (key_class(p, k) == CLASS_TEXT && json_is_string(v)) {
            buf_reset(&p->k[k].s);
            buf_append(&p->k[k].s, json_string_value(v),
                       json_string_length(v));
            rc = p->k[k].s.failed ? PD_ENOMEM : PD_OK;
        } else {
            rc = PD_EINVAL;
        }
    }
    json_decref(a);
    if (rc == PD_OK)
        p->started = true;
    return rc;
}

/* Appends bytes as a quoted array element: \ and " escaped. */
static void
quoted_element(pd_buf *b, const char *p, size_t n)
{
    size_t run = 0;

    buf_puts(b, "\"");
    for (size_t i = 0; i < n; i++) {
        if (p[i] != '"' && p[i] != '\\')
            continue;
        buf_append(b, p + run, i - run);
        buf_append(b, "\\", 1);
        run = i;
    }
    buf_append(b, p + run, n - run);
    buf_puts(b, "\"");
}

/* bytea in hex, "\\x0a1b...", quoted for an array. */
static void
blob_element(pd_buf *b, const unsigned char *p, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    char chunk[512];
    size_t k = 0;

    buf_puts(b, "\"\\\\x");
    for (size_t i = 0; i < n; i++) {
        chunk[k++] = hex[p[i] >> 4];
        chunk[k++] = hex[p[i] & 15];
        if (k == sizeof(chunk)) {
            buf_append(b, chunk, k);
            k = 0;
        }
    }
    buf_append(b, chunk, k);
    buf_puts(b, "\"");
}

void
copy_element(pd_buf *b, db_rows *r, int c, enum copy_class cls)
{
    size_t len = 0;
    const void *v;

    if (db_col_null(r, c)) {
        buf_puts(b, "NULL");
        return;
    }
    switch (cls) {
    case CLASS_INT:
        buf_printf(b, "%lld", (long long)db_col_int(r, c));
        break;
    case CLASS_BOOL:
        buf_puts(b, db_col_int(r, c) != 0 ? "t" : "f");
        break;
    case CLASS_REAL:
        buf_printf(b, "\"%.17g\"", db_col_real(r, c));
        break;
    case CLASS_TEXT:
        v = db_col_blob(r, c, &len);
        quoted_element(b, v, len);
        break;
    case CLASS_BLOB:
    default:
        v = db_col_blob(r, c, &len);
        blob_element(b, v, len);
        break;
    }
}
