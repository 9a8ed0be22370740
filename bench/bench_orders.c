/*
 * bench_orders.c — figures for the orders list, search, counts and
 * detail on a seeded database (seed-demo --orders 100000): each case
 * runs ROUNDS times on one connection and prints its median and p95.
 * A measuring tool, not a test: it passes or fails nothing.
 */
#include "common/arena.h"
#include "common/err.h"
#include "common/util.h"
#include "db/db.h"
#include "obs/log.h"
#include "orders/orders.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROUNDS_MAX 100000

struct bench_case {
    const char *label;
    struct orders_filter f;
    int depth;     /* walk this many pages first and time the next */
    int kind;      /* 0 list, 1 counts, 2 detail */
};

static int
cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return x < y ? -1 : x > y;
}

/* Moves f's cursor depth pages down; the cursor lives in a. */
static int
descend(db *d, struct orders_filter *f, int depth, arena *a)
{
    for (int i = 0; i < depth; i++) {
        struct orders_page p;
        int rc = orders_list(d, f, a, &p);

        if (rc != PD_OK || p.next_cursor == NULL)
            return rc != PD_OK ? rc : PD_ENOTFOUND;
        f->cursor = p.next_cursor;
    }
    return PD_OK;
}

static int
run_once(db *d, const struct bench_case *c, const struct orders_filter *f,
         const char *ref, int *rows)
{
    arena *a = arena_new();
    struct orders_page p;
    struct orders_counts n;
    struct order_detail o;
    int rc;

    if (c->kind == 0) {
        rc = orders_list(d, f, a, &p);
        *rows = p.n;
    } else if (c->kind == 1) {
        rc = orders_count(d, f, &n);
        *rows = (int)n.total;
    } else {
        rc = orders_get(d, ref, a, &o);
        *rows = o.order.n_pets;
    }
    arena_free(a);
    return rc;
}

static int
run_case(db *d, const struct bench_case *c, int rounds, const char *ref)
{
    int64_t *t = calloc((size_t)rounds, sizeof(*t));
    struct orders_filter f = c->f;
    arena *keep = arena_new();
    int rows = 0, rc = t != NULL && keep != NULL ? PD_OK : PD_ENOMEM;

    if (rc == PD_OK)
        rc = descend(d, &f, c->depth, keep);
    for (int i = 0; i < rounds && rc == PD_OK; i++) {
        int64_t t0 = pd_mono_ns();

        rc = run_once(d, c, &f, ref, &rows);
        t[i] = pd_mono_ns() - t0;
    }
    if (rc == PD_OK) {
        qsort(t, (size_t)rounds, sizeof(*t), cmp_i64);
        printf("%-40s %6d rows  median %8.1f us  p95 %8.1f us  "
               "p99 %8.1f us\n", c->label, rows, (double)t[rounds / 2] / 1e3,
               (double)t[(rounds * 95) / 100] / 1e3,
               (double)t[(rounds * 99) / 100] / 1e3);
    } else {
        printf("%-40s failed: %s (%s)\n", c->label, pd_err_str(rc),
               db_errmsg(d));
    }
    free(t);
    arena_free(keep);
    return rc;
}

int
main(int argc, char **argv)
{
    static const struct bench_case cases[] = {
        {"list all, page 1", {.limit = 50}, 0, 0},
        {"list all, page 200", {.limit = 50}, 199, 0},
        {"list status=pending, page 1", {.status = "pending"}, 0, 0},
        {"list status=completed, page 1", {.status = "completed"}, 0, 0},
        {"list status=completed, page 200", {.status = "completed"}, 199, 0},
        {"list status=open, page 1", {.status = "open"}, 0, 0},
        {"list status=open, page 50", {.status = "open"}, 49, 0},
        {"list from/to one day", {.has_from = true, .has_to = true}, 0, 0},
        {"search q=#50000", {.q = "#50000"}, 0, 0},
        {"search q=bella (pet name)", {.q = "bella"}, 0, 0},
        {"search q=bel status=pending", {.q = "bel", .status = "pending"},
         0, 0},
        {"search q=bella status=completed",
         {.q = "bella", .status = "completed"}, 0, 0},
        {"search q=whiskers (note word)", {.q = "whiskers"}, 0, 0},
        {"search q=demo (every order)", {.q = "demo"}, 0, 0},
        {"counts, all orders", {0}, 0, 1},
        {"counts, q=bella", {.q = "bella"}, 0, 1},
        {"counts, one day", {.has_from = true, .has_to = true}, 0, 1},
        {"detail of one order", {0}, 0, 2},
    };
    int64_t rounds = 200, newest = 0;
    char err[512], ref[32];
    db *d = NULL;
    int failed = 0;

    if (argc < 2 || (argc > 2 && pd_parse_i64(argv[2], 1, ROUNDS_MAX,
                                              &rounds) != PD_OK)) {
        fprintf(stderr, "usage: bench_orders DATABASE_URL [ROUNDS]\n");
        return 2;
    }
    log_setup(LOG_WARNING, false);
    if (db_open(argv[1], &d, err, sizeof(err)) != PD_OK) {
        fprintf(stderr, "bench_orders: %s\n", err);
        return 1;
    }
    db_query_int(d, "SELECT MAX(created_at) FROM orders", NULL, 0, &newest);
    snprintf(ref, sizeof(ref), "50000");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct bench_case c = cases[i];

        if (c.f.has_from) {
            c.f.from_ms = newest - 86400000LL;
            c.f.to_ms = newest + 1;
        }
        failed += run_case(d, &c, (int)rounds, ref) != PD_OK;
    }
    db_close(d);
    return failed != 0;
}
