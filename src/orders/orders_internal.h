/*
 * orders_internal.h — what the orders module's files share and nobody
 * else uses: finding an order by reference, reading summary rows and
 * their pets, arena arrays, and turning a search string into a query.
 */
#ifndef PD_ORDERS_INTERNAL_H
#define PD_ORDERS_INTERNAL_H

#include "orders/orders.h"

#include <stddef.h>

/* The columns orders_read_summary expects, in this order. */
#define ORDERS_SUMMARY_COLS                                             \
    "id, order_number, name, status, created_at, updated_at, "          \
    "status_changed_at, warning_flags, claimed_by, claimed_at, "        \
    "(SELECT staff.name FROM staff WHERE staff.id = claimed_by) "       \
    "AS claimed_by_name"
#define ORDERS_SUMMARY_NCOLS 11

/* An order found by reference. */
struct order_ref {
    int64_t id;
    char name[ORDERS_REF_MAX];
    char status[16];
};

/*
 * Finds the order ref names: its exact name, "#" + ref, or its number.
 * PD_ENOTFOUND when none (also for an empty or over-long ref).
 */
int orders_resolve(db *d, const char *ref, struct order_ref *out);

/* Fills s from the current row, whose first columns are
 * ORDERS_SUMMARY_COLS; strings are copied into a. */
int orders_read_summary(db_rows *r, arena *a, struct order_summary *s);

/* Loads the pets of n orders with one query and attaches them. */
int orders_load_pets(db *d, arena *a, struct order_summary *rows, int n);

/* A copy of the column's text in a, or NULL when it is NULL. */
const char *orders_col_str(db_rows *r, int col, arena *a);

/*
 * Makes room for one more element in an arena array (doubling; the old
 * block stays in the arena). PD_ENOMEM, or PD_ETOOBIG past max.
 */
int orders_grow(arena *a, void **items, int *cap, int n, size_t size,
                int max);

/* True when s holds well-formed UTF-8 (no overlongs or surrogates). */
bool orders_utf8_valid(const char *s, size_t len);

/* The status an order on hold was held from (from its history), in out;
 * "" when unknown. */
int orders_held_from(db *d, int64_t order_id, char *out, size_t len);

/* ---- search strings (search.c) ---- */

enum orders_search_kind {
    SEARCH_NONE,    /* no search string */
    SEARCH_NUMBER,  /* "1042" or "#1042": by order number or name */
    SEARCH_TEXT,    /* words as prefixes over the search text */
    SEARCH_NOTHING, /* no searchable word: matches no order */
    SEARCH_EMAIL,   /* an e-mail address, by its blind index */
};

struct orders_search {
    enum orders_search_kind kind;
    int64_t number;
    char name[32];     /* "#1042" */
    const char *expr;  /* the FTS5 MATCH or tsquery text, in the arena */
    const unsigned char *email_index; /* SEARCH_EMAIL: 32 bytes */
    const unsigned char *email_index_previous; /* or NULL */
};

/* Parses q for a backend; PD_EINVAL (with msg) when too long or not
 * UTF-8. */
int orders_search_parse(enum db_kind kind, const char *q, arena *a,
                        struct orders_search *out, char *msg, size_t len);

#endif
