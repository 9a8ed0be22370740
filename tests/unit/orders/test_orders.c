/*
 * test_orders.c — the orders module, run once on SQLite and once on
 * PostgreSQL (TEST_PG_URL): the workflow table, listing order, cursor
 * pages, filters, search (and that search text carries no syntax),
 * counts, moves with history and idempotency, holds, notes, the detail.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../db/db_env.h"

#include "common/arena.h"
#include "common/err.h"
#include "common/util.h"
#include "obs/log.h"
#include "orders/orders.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- fixtures ---- */

static int64_t
insert_id(db *d, const char *sql, const db_arg *a, int n)
{
    db_rows *r = NULL;
    int64_t id;
    int rc = db_query(d, sql, a, n, &r);

    if (rc != 0)
        print_error("%s -> %d: %s\n", sql, rc, db_errmsg(d));
    assert_int_equal(rc, 0);
    assert_int_equal(db_step(r), 1);
    id = db_col_int(r, 0);
    db_rows_free(r);
    return id;
}

/* An order "#number" in status, created at `at`, with search text. */
static int64_t
add_order(db *d, int64_t number, const char *status, int64_t at,
          const char *search)
{
    char name[32];

    snprintf(name, sizeof(name), "#%lld", (long long)number);
    return insert_id(d, "INSERT INTO orders (name, order_number, status, "
                        "created_at, updated_at, search_text) VALUES "
                        "(?, ?, ?, ?, ?, ?) RETURNING id",
                     (db_arg[]){DB_TEXT(name), DB_INT(number),
                                DB_TEXT(status), DB_INT(at), DB_INT(at),
                                DB_TEXT(search)}, 6);
}

static void
add_image(db *d, const char *id, const char *kind, int64_t order_id)
{
    env_exec_ok(d, "INSERT INTO images (id, session_id, kind, order_id, "
                   "object_key, tier, bytes, width, height, format, sha256, "
                   "created_at) VALUES (?, 'sess', ?, ?, ?, 'order_pending', "
                   "1234, 3000, 2400, 'jpeg', ?, 5)",
                (db_arg[]){DB_TEXT(id), DB_TEXT(kind), DB_INT(order_id),
                           DB_TEXT(id), DB_TEXT(id)}, 5);
}

static void
add_pet(db *d, int64_t order_id, int position, const char *name,
        const char *original, const char *processed)
{
    env_exec_ok(d, "INSERT INTO pets (order_id, position, pet_name, "
                   "print_size, line_item_id, original_image_id, "
                   "processed_image_id) VALUES (?, ?, ?, '8x10', ?, ?, ?)",
                (db_arg[]){DB_INT(order_id), DB_INT(position),
                           DB_TEXT(name), DB_INT(9007199254740993LL),
                           DB_TEXT(original), DB_TEXT(processed)}, 6);
}

/* Names of a page joined with commas, e.g. "#3,#2,#1". */
static void
names_of(const struct orders_page *p, char *out, size_t len)
{
    size_t n = 0;

    out[0] = '\0';
    for (int i = 0; i < p->n && n < len; i++)
        n += (size_t)snprintf(out + n, len - n, "%s%s", i ? "," : "",
                              p->rows[i].name);
}

/* The names a filter lists on one page of up to 200. */
static void
list_names(db *d, const struct orders_filter *f, char *out, size_t len)
{
    struct orders_page p;
    arena *a = arena_new();
    int rc = orders_list(d, f, a, &p);

    if (rc != PD_OK)
        print_error("orders_list: %d %s %s\n", rc, p.message, db_errmsg(d));
    assert_int_equal(rc, PD_OK);
    names_of(&p, out, len);
    arena_free(a);
}

static void
search_names(db *d, const char *q, char *out, size_t len)
{
    struct orders_filter f = {.q = q, .limit = 200};

    list_names(d, &f, out, len);
}

static int64_t
history_rows(db *d, int64_t order_id)
{
    return env_int(d, "SELECT COUNT(*) FROM status_history WHERE "
                      "order_id = ?", (db_arg[]){DB_INT(order_id)}, 1);
}

static const char *
status_of(db *d, int64_t order_id, char *out, size_t len)
{
    db_rows *r = NULL;

    assert_int_equal(db_query(d, "SELECT status FROM orders WHERE id = ?",
                              (db_arg[]){DB_INT(order_id)}, 1, &r), 0);
    assert_int_equal(db_step(r), 1);
    snprintf(out, len, "%s", db_col_text(r, 0));
    db_rows_free(r);
    return out;
}

/* ---- the workflow ---- */

static void
test_workflow_table(void **state)
{
    /* Written out independently of the module's table. */
    static const char *const ok[] = {
        "pending>in_production", "pending>on_hold", "pending>cancelled",
        "in_production>printed", "in_production>on_hold",
        "in_production>cancelled", "printed>completed", "printed>on_hold",
        "printed>cancelled", "on_hold>pending", "on_hold>in_production",
        "on_hold>printed", "on_hold>cancelled",
    };
    static const char *const all[] = {"pending", "in_production", "printed",
                                      "completed", "on_hold", "cancelled"};
    int allowed = 0;

    (void)state;
    for (int f = 0; f < 6; f++) {
        for (int t = 0; t < 6; t++) {
            char pair[40];
            bool want = false;

            snprintf(pair, sizeof(pair), "%s>%s", all[f], all[t]);
            for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
                want = want || strcmp(ok[i], pair) == 0;
            if (orders_move_allowed(all[f], all[t]) != want)
                print_error("%s: expected %d\n", pair, want);
            assert_int_equal(orders_move_allowed(all[f], all[t]), want);
            allowed += want;
        }
    }
    assert_int_equal(allowed, 13);
    assert_false(orders_move_allowed("pending", "shipped"));
    assert_false(orders_move_allowed(NULL, "pending"));
    assert_false(orders_move_allowed("open", "pending"));
}

static void
test_next_moves(void **state)
{
    const char *next[6];
    int n;

    (void)state;
    n = orders_next_moves("pending", NULL, next, 6);
    assert_int_equal(n, 3);
    assert_string_equal(next[0], "in_production");
    assert_string_equal(next[1], "on_hold");
    assert_string_equal(next[2], "cancelled");
    assert_int_equal(orders_next_moves("completed", NULL, next, 6), 0);
    assert_int_equal(orders_next_moves("cancelled", NULL, next, 6), 0);
    assert_int_equal(orders_next_moves("bogus", NULL, next, 6), 0);
    /* On hold: back where it came from, or cancelled. */
    n = orders_next_moves("on_hold", "printed", next, 6);
    assert_int_equal(n, 2);
    assert_string_equal(next[0], "printed");
    assert_string_equal(next[1], "cancelled");
    /* History unknown: any open state. */
    n = orders_next_moves("on_hold", NULL, next, 6);
    assert_int_equal(n, 4);
    assert_int_equal(orders_next_moves("printed", NULL, next, 2), 2);
    assert_true(orders_status_is_open("on_hold"));
    assert_false(orders_status_is_open("completed"));
    assert_int_equal(orders_status_parse("printed"), ORDER_PRINTED);
    assert_int_equal(orders_status_parse("PRINTED"), -1);
}

/* ---- listing ---- */

/* 25 orders, three per created_at, statuses cycling through all six. */
static void
seed_25(db *d, int64_t ids[25])
{
    static const char *const st[] = {"pending", "in_production", "printed",
                                     "completed", "on_hold", "cancelled"};

    for (int i = 0; i < 25; i++)
        ids[i] = add_order(d, 1000 + i, st[i % 6], 1000 + i / 3, "demo");
}

/* Walks every page of f with a small limit; checks the order and that
 * every expected order shows exactly once. */
static void
walk_pages(db *d, struct orders_filter f, const int64_t *ids,
           const bool *expect, int n_ids)
{
    int *seen = calloc((size_t)n_ids, sizeof(*seen));
    int pages = 0, total = 0, want = 0;
    int64_t prev_at = INT64_MAX, prev_id = INT64_MAX;
    const char *cursor = NULL;
    arena *a = arena_new();

    do {
        struct orders_page p;

        f.cursor = cursor;
        assert_non_null(seen);
        assert_int_equal(orders_list(d, &f, a, &p), PD_OK);
        assert_true(p.n <= f.limit);
        assert_true(p.next_cursor == NULL || p.n == f.limit);
        for (int i = 0; i < p.n; i++) {
            const struct order_summary *o = &p.rows[i];

            assert_true(o->created_at < prev_at ||
                        (o->created_at == prev_at && o->id < prev_id));
            prev_at = o->created_at;
            prev_id = o->id;
            for (int k = 0; k < n_ids; k++)
                if (ids[k] == o->id)
                    seen[k]++;
            total++;
        }
        cursor = p.next_cursor;
        pages++;
    } while (cursor != NULL && pages < 1000);
    for (int k = 0; k < n_ids; k++) {
        assert_int_equal(seen[k], expect[k] ? 1 : 0);
        want += expect[k];
    }
    assert_int_equal(total, want);
    free(seen);
    arena_free(a);
}

static void
test_list_pages(void **state)
{
    struct env *e = *state;
    int64_t ids[25];
    bool every[25], printed[25], open[25];
    char got[400];
    struct orders_filter f = {.limit = 4};

    seed_25(e->d, ids);
    for (int i = 0; i < 25; i++) {
        every[i] = true;
        printed[i] = i % 6 == 2;
        open[i] = i % 6 != 3 && i % 6 != 5;
    }
    for (int limit = 1; limit <= 7; limit++) {
        f.limit = limit;
        f.status = NULL;
        walk_pages(e->d, f, ids, every, 25);
        f.status = "printed";
        walk_pages(e->d, f, ids, printed, 25);
        f.status = "open";
        walk_pages(e->d, f, ids, open, 25);
    }
    f.status = NULL;
    f.limit = 25;
    list_names(e->d, &f, got, sizeof(got));
    assert_true(strncmp(got, "#1024,#1023,#1022,#1021,#1020,", 30) == 0);
    /* Exactly a page's worth: no cursor to an empty page. */
    {
        struct orders_page p;
        arena *a = arena_new();

        assert_int_equal(orders_list(e->d, &f, a, &p), PD_OK);
        assert_int_equal(p.n, 25);
        assert_null(p.next_cursor);
        f.limit = 24;
        assert_int_equal(orders_list(e->d, &f, a, &p), PD_OK);
        assert_non_null(p.next_cursor);
        arena_free(a);
    }
}

static void
test_list_filters(void **state)
{
    struct env *e = *state;
    int64_t ids[25];
    char got[400];
    struct orders_filter f = {.limit = 200};

    seed_25(e->d, ids);
    f.status = "on_hold";
    list_names(e->d, &f, got, sizeof(got));
    assert_string_equal(got, "#1022,#1016,#1010,#1004");
    f.status = "open";
    f.limit = 5;
    list_names(e->d, &f, got, sizeof(got));
    assert_string_equal(got, "#1024,#1022,#1020,#1019,#1018");
    /* created_at in [1002, 1004): orders 1006..1011. */
    f.status = NULL;
    f.limit = 200;
    f.has_from = f.has_to = true;
    f.from_ms = 1002;
    f.to_ms = 1004;
    list_names(e->d, &f, got, sizeof(got));
    assert_string_equal(got, "#1011,#1010,#1009,#1008,#1007,#1006");
    f.status = "open";
    list_names(e->d, &f, got, sizeof(got));
    assert_string_equal(got, "#1010,#1008,#1007,#1006");
    f.has_to = false;
    f.status = "cancelled";
    list_names(e->d, &f, got, sizeof(got));
    assert_string_equal(got, "#1023,#1017,#1011");
}

static void
test_list_bad_input(void **state)
{
    static const char *const bad_cursors[] = {
        "abc", "1_", "_1", "1_0", "-1_5", "1__5", "1_5x", "1 _5",
        "99999999999999999999_1", "1.5",
    };
    struct env *e = *state;
    struct orders_filter f = {0};
    struct orders_page p;
    arena *a = arena_new();
    char q[300];

    add_order(e->d, 1, "pending", 1, "x");
    f.status = "shipped";
    assert_int_equal(orders_list(e->d, &f, a, &p), PD_EINVAL);
    assert_non_null(strstr(p.message, "status"));
    f.status = "";
    assert_int_equal(orders_list(e->d, &f, a, &p), PD_OK);
    assert_int_equal(p.n, 1);
    f.status = NULL;
    f.limit = 201;
    assert_int_equal(orders_list(e->d, &f, a, &p), PD_EINVAL);
    assert_non_null(strstr(p.message, "limit"));
    f.limit = -1;
    assert_int_equal(orders_list(e->d, &f, a, &p), PD_EINVAL);
    f.limit = 0;
    for (size_t i = 0; i < sizeof(bad_cursors) / sizeof(*bad_cursors); i++) {
        f.cursor = bad_cursors[i];
        assert_int_equal(orders_list(e->d, &f, a, &p), PD_EINVAL);
        assert_non_null(strstr(p.message, "cursor"));
    }
    f.cursor = NULL;
    f.has_from = f.has_to = true;
    f.from_ms = f.to_ms = 5;
    assert_int_equal(orders_list(e->d, &f, a, &p), PD_EINVAL);
    f.has_from = f.has_to = false;
    memset(q, 'a', sizeof(q) - 1);
    q[sizeof(q) - 1] = '\0';
    f.q = q;
    assert_int_equal(orders_list(e->d, &f, a, &p), PD_EINVAL);
    f.q = "bad \xff utf8";
    assert_int_equal(orders_list(e->d, &f, a, &p), PD_EINVAL);
    arena_free(a);
}

static void
test_list_pets(void **state)
{
    struct env *e = *state;
    int64_t a1 = add_order(e->d, 1, "pending", 10, "");
    int64_t a2 = add_order(e->d, 2, "pending", 20, "");
    struct orders_filter f = {0};
    struct orders_page p;
    arena *a = arena_new();

    add_order(e->d, 3, "pending", 30, "");
    add_image(e->d, "img_o1", "original", a1);
    add_image(e->d, "img_p1", "processed", a1);
    add_image(e->d, "img_o2", "original", a1);
    add_image(e->d, "img_o3", "original", a2);
    add_pet(e->d, a1, 1, "Max", "img_o2", NULL);
    add_pet(e->d, a1, 0, "Bella", "img_o1", "img_p1");
    add_pet(e->d, a2, 0, "Luna", "img_o3", NULL);
    assert_int_equal(orders_list(e->d, &f, a, &p), PD_OK);
    assert_int_equal(p.n, 3);
    assert_string_equal(p.rows[0].name, "#3");
    assert_int_equal(p.rows[0].n_pets, 0);
    assert_int_equal(p.rows[1].n_pets, 1);
    assert_string_equal(p.rows[1].pets[0].name, "Luna");
    assert_string_equal(p.rows[1].pets[0].thumb_image_id, "img_o3");
    assert_null(p.rows[1].pets[0].processed_image_id);
    assert_int_equal(p.rows[2].n_pets, 2);
    assert_string_equal(p.rows[2].pets[0].name, "Bella");
    assert_string_equal(p.rows[2].pets[0].print_size, "8x10");
    assert_string_equal(p.rows[2].pets[0].thumb_image_id, "img_p1");
    assert_string_equal(p.rows[2].pets[0].original_image_id, "img_o1");
    assert_true(p.rows[2].pets[0].line_item_id == 9007199254740993LL);
    assert_string_equal(p.rows[2].pets[1].name, "Max");
    arena_free(a);
}

/* ---- search ---- */

static void
seed_search(db *d)
{
    add_order(d, 1042, "pending", 1, "#1042 1042 bella golden retriever");
    add_order(d, 1043, "printed", 2, "#1043 1043 max beagle rush");
    add_order(d, 1044, "pending", 3, "#1044 1044 bellatrix zoë");
    add_order(d, 10420, "completed", 4, "#10420 10420 o'brien max bella");
}

static void
test_search_number_and_words(void **state)
{
    struct env *e = *state;
    struct orders_filter f = {.limit = 200};
    char got[200];

    seed_search(e->d);
    search_names(e->d, "1042", got, sizeof(got));
    assert_string_equal(got, "#1042");
    search_names(e->d, "#1042", got, sizeof(got));
    assert_string_equal(got, "#1042");
    search_names(e->d, "  #10420 ", got, sizeof(got));
    assert_string_equal(got, "#10420");
    search_names(e->d, "9999", got, sizeof(got));
    assert_string_equal(got, "");
    search_names(e->d, "bel", got, sizeof(got));
    assert_string_equal(got, "#10420,#1044,#1042");
    search_names(e->d, "BELLA", got, sizeof(got));
    assert_string_equal(got, "#10420,#1044,#1042");
    search_names(e->d, "bella max", got, sizeof(got));
    assert_string_equal(got, "#10420");
    search_names(e->d, "o'brien", got, sizeof(got));
    assert_string_equal(got, "#10420");
    search_names(e->d, "zo", got, sizeof(got));
    assert_string_equal(got, "#1044");
    search_names(e->d, "#1043 rush", got, sizeof(got));
    assert_string_equal(got, "#1043");
    search_names(e->d, "   ", got, sizeof(got));
    assert_string_equal(got, "#10420,#1044,#1043,#1042");
    f.q = "bel";
    f.status = "pending";
    list_names(e->d, &f, got, sizeof(got));
    assert_string_equal(got, "#1044,#1042");
    f.status = "open";
    list_names(e->d, &f, got, sizeof(got));
    assert_string_equal(got, "#1044,#1042");
    f.q = "1043";
    list_names(e->d, &f, got, sizeof(got));
    assert_string_equal(got, "#1043");
}

/* Quotes, operators and column filters are words or separators, never
 * syntax: each query runs and finds what its words find. */
static void
test_search_no_injection(void **state)
{
    static const struct {
        const char *q, *want;
    } cases[] = {
        {"\"", ""},
        {"bella\"", "#10420,#1044,#1042"},
        {"\"bella", "#10420,#1044,#1042"},
        {"*", ""},
        {"bel*", "#10420,#1044,#1042"},
        {":", ""},
        {"bella:*", "#10420,#1044,#1042"},
        {"search_text:max", ""},
        {"max:A", ""},
        {"&|!", ""},
        {"max & !bella", "#10420"},
        {"max | beagle", "#1043"},
        {"!max", "#10420,#1043"},
        {"(max", "#10420,#1043"},
        {"NEAR(max bella)", ""},
        {"max OR golden", ""},
        {"max AND", ""},
        {"max NOT bella", ""},
        {"') OR 1=1 --", ""},
        {"bella'; DROP TABLE orders; --", ""},
        {"^max", "#10420,#1043"},
        {"-max", "#10420,#1043"},
        {"+max", "#10420,#1043"},
        {"\\", ""},
        {"max\\", "#10420,#1043"},
        {"'", ""},
        {"zo\xc3\xab", "#1044"},
    };
    struct env *e = *state;
    char got[200];

    seed_search(e->d);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        search_names(e->d, cases[i].q, got, sizeof(got));
        if (strcmp(got, cases[i].want) != 0)
            print_error("q=[%s]: got [%s], want [%s]\n", cases[i].q, got,
                        cases[i].want);
        assert_string_equal(got, cases[i].want);
    }
    assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM orders", NULL, 0),
                     4);
}

/* Enough matches that SQLite walks the index and probes each entry
 * (a rare word is fetched match by match instead): both agree. */
static void
test_search_many(void **state)
{
    static const char *const st[] = {"pending", "printed", "completed"};
    enum { N = 700 };
    struct env *e = *state;
    int64_t *ids = calloc(N, sizeof(*ids));
    bool *common = calloc(N, sizeof(*common));
    bool *printed = calloc(N, sizeof(*printed));
    bool *rare = calloc(N, sizeof(*rare));
    struct orders_filter f = {.q = "common", .limit = 9};
    struct orders_counts c;

    assert_true(ids && common && printed && rare);
    assert_int_equal(db_begin_write(e->d), 0);
    for (int i = 0; i < N; i++) {
        const char *text = i % 7 == 0 ? "x rareword" : "common words";

        ids[i] = add_order(e->d, 5000 + i, st[i % 3], 100 + i / 4, text);
        common[i] = i % 7 != 0;
        printed[i] = common[i] && i % 3 == 1;
        rare[i] = i % 7 == 0 && i % 3 == 1;
    }
    assert_int_equal(db_commit(e->d), 0);
    walk_pages(e->d, f, ids, common, N);
    f.status = "printed";
    walk_pages(e->d, f, ids, printed, N);
    f.status = "printed";
    f.q = "rarew";
    walk_pages(e->d, f, ids, rare, N);
    f.q = "common";
    assert_int_equal(orders_count(e->d, &f, &c), PD_OK);
    assert_int_equal(c.total, 600);
    assert_int_equal(c.by_status[ORDER_PRINTED], 200);
    free(ids);
    free(common);
    free(printed);
    free(rare);
}

static void
test_counts(void **state)
{
    struct env *e = *state;
    struct orders_filter f = {0};
    struct orders_counts c;
    int64_t ids[25];

    seed_25(e->d, ids);
    assert_int_equal(orders_count(e->d, &f, &c), PD_OK);
    /* i % 6 over 0..24: five of 0, four each of 1..5. */
    assert_int_equal(c.by_status[ORDER_PENDING], 5);
    assert_int_equal(c.by_status[ORDER_IN_PRODUCTION], 4);
    assert_int_equal(c.by_status[ORDER_PRINTED], 4);
    assert_int_equal(c.by_status[ORDER_COMPLETED], 4);
    assert_int_equal(c.by_status[ORDER_ON_HOLD], 4);
    assert_int_equal(c.by_status[ORDER_CANCELLED], 4);
    assert_int_equal(c.open, 17);
    assert_int_equal(c.total, 25);
    /* The status filter does not narrow the chips. */
    f.status = "printed";
    assert_int_equal(orders_count(e->d, &f, &c), PD_OK);
    assert_int_equal(c.total, 25);
    f.has_from = f.has_to = true;
    f.from_ms = 1002;
    f.to_ms = 1004;
    assert_int_equal(orders_count(e->d, &f, &c), PD_OK);
    assert_int_equal(c.total, 6);
    assert_int_equal(c.by_status[ORDER_PENDING], 1);
    assert_int_equal(c.by_status[ORDER_CANCELLED], 1);
    assert_int_equal(c.open, 4);
    f.has_from = f.has_to = false;
    f.q = "1010";
    assert_int_equal(orders_count(e->d, &f, &c), PD_OK);
    assert_int_equal(c.total, 1);
    assert_int_equal(c.by_status[ORDER_ON_HOLD], 1);
    f.q = "dem";
    assert_int_equal(orders_count(e->d, &f, &c), PD_OK);
    assert_int_equal(c.total, 25);
    f.q = "***";
    assert_int_equal(orders_count(e->d, &f, &c), PD_OK);
    assert_int_equal(c.total, 0);
}

/* ---- moves ---- */

static void
test_move_and_history(void **state)
{
    struct env *e = *state;
    int64_t id = add_order(e->d, 1042, "pending", 1, "");
    struct orders_change c;
    struct order_detail o;
    arena *a = arena_new();
    char st[16];
    int64_t before = pd_now_ms();

    assert_int_equal(orders_move(e->d, "1042", "in_production",
                                 "customer:7", NULL, NULL, &c), PD_OK);
    assert_string_equal(c.from, "pending");
    assert_string_equal(c.to, "in_production");
    assert_string_equal(c.status, "in_production");
    assert_string_equal(c.name, "#1042");
    assert_false(c.replayed);
    assert_true(c.at >= before);
    assert_string_equal(status_of(e->d, id, st, sizeof(st)), "in_production");
    assert_int_equal(env_int(e->d, "SELECT status_changed_at FROM orders "
                                   "WHERE id = ?", (db_arg[]){DB_INT(id)}, 1),
                     c.at);
    assert_int_equal(orders_get(e->d, "#1042", a, &o), PD_OK);
    assert_int_equal(o.n_history, 1);
    assert_string_equal(o.history[0].from, "pending");
    assert_string_equal(o.history[0].to, "in_production");
    assert_string_equal(o.history[0].actor, "customer:7");
    assert_int_equal(o.n_next, 3);
    assert_string_equal(o.next[0], "printed");

    /* Skipping a step, going back, unknown names and orders. */
    assert_int_equal(orders_move(e->d, "1042", "completed", "customer:7",
                                 NULL, NULL, &c), PD_ECONFLICT);
    assert_non_null(strstr(c.message, "in_production"));
    assert_non_null(strstr(c.message, "completed"));
    assert_int_equal(orders_move(e->d, "1042", "pending", "customer:7",
                                 NULL, NULL, &c), PD_ECONFLICT);
    assert_int_equal(orders_move(e->d, "1042", "in_production", "c:7", NULL,
                                 NULL, &c), PD_ECONFLICT);
    assert_int_equal(orders_move(e->d, "1042", "shipped", "customer:7",
                                 NULL, NULL, &c), PD_EINVAL);
    assert_int_equal(orders_move(e->d, "9999", "printed", "customer:7",
                                 NULL, NULL, &c), PD_ENOTFOUND);
    assert_int_equal(orders_move(e->d, "1042", "printed", "", NULL, NULL,
                                 &c), PD_EINVAL);
    assert_int_equal(orders_move(e->d, "1042", "printed", "customer:7",
                                 "bad key", NULL, &c), PD_EINVAL);
    assert_int_equal(history_rows(e->d, id), 1);
    assert_string_equal(status_of(e->d, id, st, sizeof(st)), "in_production");
    arena_free(a);
}

static void
test_move_idempotent(void **state)
{
    struct env *e = *state;
    int64_t id = add_order(e->d, 7, "pending", 1, "");
    struct orders_change c;
    char st[16];

    add_order(e->d, 8, "pending", 2, "");
    assert_int_equal(orders_move(e->d, "7", "in_production", "customer:1",
                                 "key-1", NULL, &c), PD_OK);
    assert_false(c.replayed);
    /* The phone retries: the same result, no second row. */
    assert_int_equal(orders_move(e->d, "7", "in_production", "customer:1",
                                 "key-1", NULL, &c), PD_OK);
    assert_true(c.replayed);
    assert_string_equal(c.from, "pending");
    assert_string_equal(c.to, "in_production");
    assert_int_equal(history_rows(e->d, id), 1);
    /* A replay after someone moved it on answers the old move; the
     * status reported is the one now. */
    assert_int_equal(orders_move(e->d, "7", "printed", "customer:2", "key-2",
                                 NULL, &c), PD_OK);
    assert_int_equal(orders_move(e->d, "7", "in_production", "customer:1",
                                 "key-1", "pending", &c), PD_OK);
    assert_true(c.replayed);
    assert_string_equal(c.status, "printed");
    assert_string_equal(status_of(e->d, id, st, sizeof(st)), "printed");
    /* The key names one change only. */
    assert_int_equal(orders_move(e->d, "7", "completed", "customer:1",
                                 "key-1", NULL, &c), PD_ECONFLICT);
    assert_int_equal(orders_move(e->d, "8", "in_production", "customer:1",
                                 "key-1", NULL, &c), PD_ECONFLICT);
    assert_string_equal(status_of(e->d, id, st, sizeof(st)), "printed");
    assert_int_equal(history_rows(e->d, id), 2);
}

static void
test_move_expected_from(void **state)
{
    struct env *e = *state;
    int64_t id = add_order(e->d, 5, "pending", 1, "");
    struct orders_change c;
    char st[16];

    /* Someone else moved it first; the offline replay must not win. */
    assert_int_equal(orders_move(e->d, "5", "in_production", "customer:1",
                                 NULL, "pending", &c), PD_OK);
    assert_int_equal(orders_move(e->d, "5", "on_hold", "customer:2", "k9",
                                 "pending", &c), PD_ECONFLICT);
    assert_non_null(strstr(c.message, "in_production"));
    assert_string_equal(c.status, "in_production");
    assert_string_equal(status_of(e->d, id, st, sizeof(st)), "in_production");
    assert_int_equal(history_rows(e->d, id), 1);
    assert_int_equal(orders_move(e->d, "5", "on_hold", "customer:2", "k9",
                                 "bogus", &c), PD_EINVAL);
    /* The refused key was not spent. */
    assert_int_equal(orders_move(e->d, "5", "on_hold", "customer:2", "k9",
                                 "in_production", &c), PD_OK);
    assert_false(c.replayed);
}

static void
test_final_states(void **state)
{
    static const char *const all[] = {"pending", "in_production", "printed",
                                      "completed", "on_hold", "cancelled"};
    struct env *e = *state;
    int64_t done = add_order(e->d, 1, "completed", 1, "");
    int64_t gone = add_order(e->d, 2, "cancelled", 2, "");
    struct orders_change c;

    for (int i = 0; i < 6; i++) {
        assert_int_equal(orders_move(e->d, "1", all[i], "customer:1", NULL,
                                     NULL, &c), PD_ECONFLICT);
        assert_int_equal(orders_move(e->d, "#2", all[i], "customer:1", NULL,
                                     NULL, &c), PD_ECONFLICT);
    }
    assert_int_equal(history_rows(e->d, done) + history_rows(e->d, gone), 0);
    /* Cancelled from every open state. */
    for (int i = 0; i < 6; i++) {
        char ref[8];

        if (!orders_status_is_open(all[i]))
            continue;
        add_order(e->d, 10 + i, all[i], 3, "");
        snprintf(ref, sizeof(ref), "%d", 10 + i);
        assert_int_equal(orders_move(e->d, ref, "cancelled", "customer:1",
                                     NULL, NULL, &c), PD_OK);
    }
}

static void
test_hold_and_resume(void **state)
{
    struct env *e = *state;
    struct orders_change c;
    struct order_detail o;
    arena *a = arena_new();

    add_order(e->d, 3, "printed", 1, "");
    assert_int_equal(orders_move(e->d, "3", "on_hold", "customer:1", NULL,
                                 NULL, &c), PD_OK);
    assert_int_equal(orders_get(e->d, "3", a, &o), PD_OK);
    assert_string_equal(o.held_from, "printed");
    assert_int_equal(o.n_next, 2);
    assert_string_equal(o.next[0], "printed");
    assert_string_equal(o.next[1], "cancelled");
    assert_int_equal(orders_move(e->d, "3", "pending", "customer:1", NULL,
                                 NULL, &c), PD_ECONFLICT);
    assert_non_null(strstr(c.message, "printed"));
    assert_int_equal(orders_move(e->d, "3", "printed", "customer:1", NULL,
                                 NULL, &c), PD_OK);
    assert_int_equal(orders_move(e->d, "3", "completed", "customer:1", NULL,
                                 NULL, &c), PD_OK);
    /* A hold with no history (set by a webhook) resumes anywhere open. */
    add_order(e->d, 4, "on_hold", 2, "");
    assert_int_equal(orders_move(e->d, "4", "in_production", "customer:1",
                                 NULL, NULL, &c), PD_OK);
    arena_free(a);
}

/* Several connections make the same move at once. */
struct racer {
    const struct env *e;
    pthread_barrier_t *go;
    const char *key;
    int rc;
    bool replayed;
};

static void *
race(void *arg)
{
    struct racer *r = arg;
    struct orders_change c;
    db *d = env_open(r->e);

    pthread_barrier_wait(r->go);
    r->rc = orders_move(d, "1", "in_production", "customer:1", r->key,
                        NULL, &c);
    r->replayed = c.replayed;
    db_close(d);
    return NULL;
}

static void
run_race(const struct env *e, bool same_key, int *ok, int *fresh)
{
    enum { N = 4 };
    pthread_barrier_t go;
    struct racer r[N];
    pthread_t t[N];
    char keys[N][8];

    pthread_barrier_init(&go, NULL, N);
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "%c%d", same_key ? 'a' : 'b',
                 same_key ? 0 : i);
        r[i] = (struct racer){e, &go, keys[i], 0, false};
        assert_int_equal(pthread_create(&t[i], NULL, race, &r[i]), 0);
    }
    *ok = *fresh = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        if (r[i].rc == PD_OK)
            (*ok)++;
        else
            assert_int_equal(r[i].rc, PD_ECONFLICT);
        if (r[i].rc == PD_OK && !r[i].replayed)
            (*fresh)++;
    }
    pthread_barrier_destroy(&go);
}

static void
test_concurrent_moves(void **state)
{
    struct env *e = *state;
    int64_t id = add_order(e->d, 1, "pending", 1, "");
    int ok, fresh;

    /* One key: everybody gets the one move. */
    run_race(e, true, &ok, &fresh);
    assert_int_equal(ok, 4);
    assert_int_equal(fresh, 1);
    assert_int_equal(history_rows(e->d, id), 1);
    /* Different keys: one wins, the others are told it moved. */
    env_exec_ok(e->d, "UPDATE orders SET status = 'pending'", NULL, 0);
    run_race(e, false, &ok, &fresh);
    assert_int_equal(ok, 1);
    assert_int_equal(fresh, 1);
    assert_int_equal(history_rows(e->d, id), 2);
}

/* ---- notes ---- */

static void
test_notes(void **state)
{
    struct env *e = *state;
    int64_t id = add_order(e->d, 1042, "pending", 1, "#1042 1042 bella");
    struct orders_change c;
    struct order_detail o;
    arena *a = arena_new();
    char got[100], *big = malloc(ORDERS_NOTE_MAX + 3);

    assert_non_null(big);
    assert_int_equal(orders_add_note(e->d, "1042", "customer:7",
                                     "  Whiskers need care\n ", "n-1", &c),
                     PD_OK);
    assert_false(c.replayed);
    assert_true(c.note_id > 0);
    assert_int_equal(orders_add_note(e->d, "1042", "customer:7",
                                     "  Whiskers need care\n ", "n-1", &c),
                     PD_OK);
    assert_true(c.replayed);
    assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM notes WHERE "
                                   "order_id = ?", (db_arg[]){DB_INT(id)}, 1),
                     1);
    assert_int_equal(orders_add_note(e->d, "1042", "customer:7", "other",
                                     "n-1", &c), PD_ECONFLICT);
    assert_int_equal(orders_get(e->d, "1042", a, &o), PD_OK);
    assert_int_equal(o.n_notes, 1);
    assert_string_equal(o.notes[0].body, "Whiskers need care");
    assert_string_equal(o.notes[0].author, "customer:7");
    search_names(e->d, "whisk", got, sizeof(got));
    assert_string_equal(got, "#1042");
    search_names(e->d, "bella whiskers", got, sizeof(got));
    assert_string_equal(got, "#1042");

    /* Sizes, encoding, unknown orders. */
    assert_int_equal(orders_add_note(e->d, "1042", "customer:7", " \t\n ",
                                     NULL, &c), PD_EINVAL);
    assert_int_equal(orders_add_note(e->d, "1042", "customer:7", "",
                                     NULL, &c), PD_EINVAL);
    assert_int_equal(orders_add_note(e->d, "1042", "customer:7", "a\xc3",
                                     NULL, &c), PD_EINVAL);
    assert_int_equal(orders_add_note(e->d, "1042", "customer:7",
                                     "\xed\xa0\x80", NULL, &c), PD_EINVAL);
    memset(big, 'x', ORDERS_NOTE_MAX + 1);
    big[ORDERS_NOTE_MAX + 1] = '\0';
    assert_int_equal(orders_add_note(e->d, "1042", "customer:7", big, NULL,
                                     &c), PD_EINVAL);
    assert_non_null(strstr(c.message, "4000"));
    big[0] = ' ';
    assert_int_equal(orders_add_note(e->d, "1042", "customer:7", big, NULL,
                                     &c), PD_OK);
    assert_int_equal(orders_add_note(e->d, "1043", "customer:7", "hi", NULL,
                                     &c), PD_ENOTFOUND);
    assert_int_equal(orders_add_note(e->d, "1042", "customer:7",
                                     "Gr\xc3\xbc\xc3\x9f" "e", NULL, &c),
                     PD_OK);
    assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM notes", NULL, 0), 3);
    free(big);
    arena_free(a);
}

/* ---- one order ---- */

static void
test_detail(void **state)
{
    struct env *e = *state;
    int64_t id = add_order(e->d, 1042, "pending", 1, "");
    struct order_detail o;
    arena *a = arena_new();

    env_exec_ok(e->d, "UPDATE orders SET shopify_id = 9007199254740993, "
                      "currency = 'USD', total_price = '49.00' WHERE id = ?",
                (db_arg[]){DB_INT(id)}, 1);
    add_image(e->d, "img_o", "original", id);
    add_image(e->d, "img_p", "processed", id);
    add_pet(e->d, id, 0, "Bella", "img_o", "img_p");
    assert_int_equal(orders_get(e->d, "1042", a, &o), PD_OK);
    assert_int_equal(o.order.id, id);
    assert_int_equal(o.order.number, 1042);
    assert_string_equal(o.order.name, "#1042");
    assert_true(o.shopify_id == 9007199254740993LL);
    assert_string_equal(o.currency, "USD");
    assert_null(o.tags);
    assert_int_equal(o.order.n_pets, 1);
    assert_int_equal(o.n_images, 2);
    assert_string_equal(o.images[0].id, "img_o");
    assert_string_equal(o.images[0].kind, "original");
    assert_int_equal(o.images[0].width, 3000);
    assert_int_equal(o.images[0].bytes, 1234);
    assert_string_equal(o.images[1].tier, "order_pending");
    assert_false(o.images[1].deleted);
    assert_int_equal(o.n_history, 0);
    assert_int_equal(o.n_next, 3);
    assert_null(o.held_from);
    assert_int_equal(orders_get(e->d, "#1042", a, &o), PD_OK);
    assert_int_equal(orders_get(e->d, "1043", a, &o), PD_ENOTFOUND);
    assert_int_equal(orders_get(e->d, "", a, &o), PD_ENOTFOUND);
    assert_int_equal(orders_get(e->d, "1042' OR '1'='1", a, &o),
                     PD_ENOTFOUND);
    arena_free(a);
}


#define DB_TEST(f) cmocka_unit_test_setup_teardown(f, env_setup_migrated, \
                                                    env_teardown)

#define COMMON_TESTS                                                        \
    cmocka_unit_test(test_workflow_table), cmocka_unit_test(test_next_moves), \
        DB_TEST(test_list_pages), DB_TEST(test_list_filters),              \
        DB_TEST(test_list_bad_input), DB_TEST(test_list_pets),             \
        DB_TEST(test_search_number_and_words),                             \
        DB_TEST(test_search_no_injection), DB_TEST(test_search_many),      \
        DB_TEST(test_counts),           \
        DB_TEST(test_move_and_history), DB_TEST(test_move_idempotent),     \
        DB_TEST(test_move_expected_from), DB_TEST(test_final_states),      \
        DB_TEST(test_hold_and_resume), DB_TEST(test_concurrent_moves),     \
        DB_TEST(test_notes), DB_TEST(test_detail)

int
main(void)
{
    const struct CMUnitTest tests[] = {COMMON_TESTS};
    int failed;

    log_setup(LOG_ERROR, false);
    failed = env_run_groups("orders", tests, ENV_COUNT(tests), tests,
                            ENV_COUNT(tests));
    return failed != 0;
}
