/*
 * orders.c — the parts of the orders module the others build on: finding
 * an order by reference, reading summary rows, loading the pets of a
 * page of orders with one query, arena arrays and UTF-8 checks.
 */
#include "orders/orders_internal.h"
#include "orders/print.h"

#include "common/err.h"
#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The most pets one page loads (200 orders of several pets each). */
#define PETS_MAX 20000

static bool
all_digits(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s != '\0'; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

int
orders_resolve(db *d, const char *ref, struct order_ref *out)
{
    static const char sql[] =
        "SELECT id, name, status FROM orders "
        "WHERE name = ? OR name = ? OR order_number = ? "
        "ORDER BY CASE WHEN name = ? THEN 0 WHEN name = ? THEN 1 "
        "ELSE 2 END, id LIMIT 1";
    char hashed[ORDERS_REF_MAX + 1];
    const char *digits, *alt = NULL;
    int64_t number = 0;
    bool has_number;
    db_rows *r = NULL;
    int rc;

    memset(out, 0, sizeof(*out));
    if (ref == NULL || ref[0] == '\0' || strlen(ref) >= ORDERS_REF_MAX)
        return PD_ENOTFOUND;
    digits = ref[0] == '#' ? ref + 1 : ref;
    has_number = all_digits(digits) &&
                 pd_parse_i64(digits, 0, INT64_MAX, &number) == PD_OK;
    if (ref[0] != '#') {
        snprintf(hashed, sizeof(hashed), "#%s", ref);
        alt = hashed;
    }
    rc = db_query(d, sql, (db_arg[]){DB_TEXT(ref), DB_TEXT(alt),
                  has_number ? DB_INT(number) : DB_NULL, DB_TEXT(ref),
                  DB_TEXT(alt)}, 5, &r);
    if (rc != PD_OK)
        return rc;
    rc = db_step(r);
    if (rc == 1) {
        out->id = db_col_int(r, 0);
        snprintf(out->name, sizeof(out->name), "%s", db_col_text(r, 1));
        snprintf(out->status, sizeof(out->status), "%s", db_col_text(r, 2));
        rc = PD_OK;
    } else if (rc == 0) {
        rc = PD_ENOTFOUND;
    }
    db_rows_free(r);
    return rc;
}

const char *
orders_col_str(db_rows *r, int col, arena *a)
{
    if (db_col_null(r, col))
        return NULL;
    return arena_strdup(a, db_col_text(r, col));
}

int
orders_read_summary(db_rows *r, arena *a, struct order_summary *s)
{
    memset(s, 0, sizeof(*s));
    s->id = db_col_int(r, 0);
    s->number = db_col_null(r, 1) ? 0 : db_col_int(r, 1);
    s->name = arena_strdup(a, db_col_text(r, 2));
    s->status = arena_strdup(a, db_col_text(r, 3));
    s->created_at = db_col_int(r, 4);
    s->updated_at = db_col_int(r, 5);
    s->status_changed_at = db_col_null(r, 6) ? 0 : db_col_int(r, 6);
    s->warning_flags = (int)db_col_int(r, 7);
    s->claimed_by = db_col_null(r, 8) ? 0 : db_col_int(r, 8);
    s->claimed_at = db_col_null(r, 9) ? 0 : db_col_int(r, 9);
    s->claimed_by_name = orders_col_str(r, 10, a);
    return s->name != NULL && s->status != NULL ? PD_OK : PD_ENOMEM;
}

int
orders_grow(arena *a, void **items, int *cap, int n, size_t size, int max)
{
    int want;
    void *bigger;

    if (n < *cap)
        return PD_OK;
    if (n >= max)
        return PD_ETOOBIG;
    want = *cap > 0 ? *cap * 2 : 8;
    if (want > max)
        want = max;
    bigger = arena_alloc(a, (size_t)want * size);
    if (bigger == NULL)
        return PD_ENOMEM;
    if (n > 0)
        memcpy(bigger, *items, (size_t)n * size);
    *items = bigger;
    *cap = want;
    return PD_OK;
}

/* ---- pets ---- */

/* The order ids as one bound value: a JSON array for SQLite's
 * json_each, an array literal for PostgreSQL's ANY. */
static int
id_list(db *d, const struct order_summary *rows, int n, pd_buf *b)
{
    bool pg = db_kind(d) == DB_POSTGRES;

    buf_puts(b, pg ? "{" : "[");
    for (int i = 0; i < n; i++)
        buf_printf(b, "%s%lld", i ? "," : "", (long long)rows[i].id);
    buf_puts(b, pg ? "}" : "]");
    return b->failed ? PD_ENOMEM : PD_OK;
}

static int
read_pet(db_rows *r, arena *a, struct order_pet *p)
{
    enum print_readiness ready;

    p->id = db_col_int(r, 1);
    p->position = (int)db_col_int(r, 2);
    p->name = orders_col_str(r, 3, a);
    p->print_size = orders_col_str(r, 4, a);
    p->product_title = orders_col_str(r, 5, a);
    p->variant_title = orders_col_str(r, 6, a);
    p->quantity = (int)db_col_int(r, 7);
    p->original_image_id = orders_col_str(r, 8, a);
    p->processed_image_id = orders_col_str(r, 9, a);
    p->line_item_id = db_col_null(r, 10) ? 0 : db_col_int(r, 10);
    p->thumb_image_id = p->processed_image_id != NULL
                            ? p->processed_image_id
                            : p->original_image_id;
    p->print_dpi = print_effective_dpi(
        p->print_size, db_col_null(r, 11) ? 0 : (int)db_col_int(r, 11),
        db_col_null(r, 12) ? 0 : (int)db_col_int(r, 12), &ready);
    p->readiness = (int)ready;
    return PD_OK;
}

/* Hands each order its run of pets (pets come sorted by order id). */
static void
attach(struct order_summary *rows, int n, struct order_pet *pets,
       const int64_t *owner, int npets)
{
    for (int i = 0; i < n; i++) {
        int first = -1, count = 0;

        for (int k = 0; k < npets; k++) {
            if (owner[k] != rows[i].id)
                continue;
            if (first < 0)
                first = k;
            count++;
        }
        rows[i].pets = first >= 0 ? pets + first : NULL;
        rows[i].n_pets = count;
    }
}

/* Each pet with the pixels of its original, for print readiness. */
#define PET_COLS                                                        \
    "SELECT p.order_id, p.id, p.position, p.pet_name, p.print_size, "   \
    "p.product_title, p.variant_title, p.quantity, p.original_image_id, " \
    "p.processed_image_id, p.line_item_id, i.width, i.height "          \
    "FROM pets p LEFT JOIN images i ON i.id = p.original_image_id "     \
    "AND i.deleted_at IS NULL "

/* One statement for any number of orders: the ids are one value. */
static const char pets_sql_pg[] =
    PET_COLS "WHERE p.order_id = ANY(CAST(? AS BIGINT[])) "
    "ORDER BY p.order_id, p.position, p.id";
static const char pets_sql_sqlite[] =
    PET_COLS "WHERE p.order_id IN (SELECT value FROM json_each(?)) "
    "ORDER BY p.order_id, p.position, p.id";

int
orders_load_pets(db *d, arena *a, struct order_summary *rows, int n)
{
    const char *sql =
        db_kind(d) == DB_POSTGRES ? pets_sql_pg : pets_sql_sqlite;
    struct order_pet *pets = NULL;
    int64_t *owner = NULL;
    int npets = 0, cap = 0, ocap = 0, rc;
    db_rows *r = NULL;
    pd_buf ids;

    if (n == 0)
        return PD_OK;
    buf_init(&ids);
    rc = id_list(d, rows, n, &ids);
    if (rc == PD_OK)
        rc = db_query(d, sql, (db_arg[]){DB_TEXT(buf_cstr(&ids))}, 1, &r);
    while (rc == PD_OK && (rc = db_step(r)) == 1) {
        rc = orders_grow(a, (void **)&pets, &cap, npets, sizeof(*pets),
                         PETS_MAX);
        if (rc == PD_OK)
            rc = orders_grow(a, (void **)&owner, &ocap, npets,
                             sizeof(*owner), PETS_MAX);
        if (rc == PD_OK) {
            owner[npets] = db_col_int(r, 0);
            rc = read_pet(r, a, &pets[npets++]);
        }
    }
    db_rows_free(r);
    buf_free(&ids);
    if (rc < 0)
        return rc;
    attach(rows, n, pets, owner, npets);
    return PD_OK;
}

/* ---- held orders ---- */

int
orders_held_from(db *d, int64_t order_id, char *out, size_t len)
{
    static const char sql[] =
        "SELECT from_status FROM status_history "
        "WHERE order_id = ? AND to_status = 'on_hold' "
        "ORDER BY at DESC, id DESC LIMIT 1";
    db_rows *r = NULL;
    int rc;

    out[0] = '\0';
    rc = db_query(d, sql, (db_arg[]){DB_INT(order_id)}, 1, &r);
    if (rc != PD_OK)
        return rc;
    rc = db_step(r);
    if (rc == 1)
        snprintf(out, len, "%s", db_col_text(r, 0));
    db_rows_free(r);
    return rc < 0 ? rc : PD_OK;
}

/* ---- UTF-8 ---- */

/* Length of the sequence a lead byte starts, or 0 when invalid. */
static int
utf8_len(unsigned char c)
{
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        return 2;
    if (c >= 0xe0 && c <= 0xef)
        return 3;
    if (c >= 0xf0 && c <= 0xf4)
        return 4;
    return 0;
}

bool
orders_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    while (i < len) {
        int n = utf8_len(p[i]);

        if (n == 0 || i + (size_t)n > len)
            return false;
        for (int k = 1; k < n; k++)
            if ((p[i + k] & 0xc0) != 0x80)
                return false;
        /* Overlong three- and four-byte forms, surrogates, > U+10FFFF. */
        if ((p[i] == 0xe0 && p[i + 1] < 0xa0) ||
            (p[i] == 0xed && p[i + 1] >= 0xa0) ||
            (p[i] == 0xf0 && p[i + 1] < 0x90) ||
            (p[i] == 0xf4 && p[i + 1] >= 0x90))
            return false;
        i += (size_t)n;
    }
    return true;
}
