/*
 * test_print_claim.c — print readiness (sizes as shops write them, DPI at
 * the print size either way round, the 150/100 marks, readiness in the
 * orders list) and claims (take, keep, refuse someone else's, admin
 * override, release), and the audit activity an order page shows, on
 * SQLite and PostgreSQL.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../db/db_env.h"

#include "common/arena.h"
#include "common/err.h"
#include "obs/log.h"
#include "orders/orders.h"
#include "orders/print.h"

#include <stdio.h>

static void
test_print_sizes(void **state)
{
    double w = 0, h = 0;

    (void)state;
    assert_true(print_size_parse("8x10", &w, &h));
    assert_true(w == 8 && h == 10);
    assert_true(print_size_parse("11 x 14 in / Matte", &w, &h));
    assert_true(w == 11 && h == 14);
    assert_true(print_size_parse("8\xc3\x97" "10", &w, &h));
    assert_true(print_size_parse("Canvas 5X7", &w, &h));
    assert_true(w == 5 && h == 7);
    assert_false(print_size_parse("Matte", &w, &h));
    assert_false(print_size_parse("8 by 10", &w, &h));
    assert_false(print_size_parse("0x10", &w, &h));
    assert_false(print_size_parse("500x700", &w, &h));
    assert_false(print_size_parse(NULL, &w, &h));
}

static void
test_effective_dpi(void **state)
{
    enum print_readiness r;

    (void)state;
    /* 3000x2400 on 8x10: long 3000/10 = 300, short 2400/8 = 300. */
    assert_int_equal(print_effective_dpi("8x10", 3000, 2400, &r), 300);
    assert_int_equal(r, PRINT_OK);
    /* A portrait photo on a landscape-written size: same answer. */
    assert_int_equal(print_effective_dpi("10x8", 2400, 3000, &r), 300);
    /* 12 MP phone photo on 11x14: min(4000/14, 3000/11) = 272. */
    assert_int_equal(print_effective_dpi("11x14", 4000, 3000, &r), 272);
    assert_int_equal(print_effective_dpi("8x10", 1400, 1200, &r), 140);
    assert_int_equal(r, PRINT_LOW);
    assert_int_equal(print_effective_dpi("8x10", 1500, 1200, &r), 150);
    assert_int_equal(r, PRINT_OK);
    assert_int_equal(print_effective_dpi("8x10", 900, 700, &r), 87);
    assert_int_equal(r, PRINT_POOR);
    assert_int_equal(print_effective_dpi("8x10", 0, 0, &r), 0);
    assert_int_equal(r, PRINT_UNKNOWN);
    assert_int_equal(print_effective_dpi(NULL, 3000, 2000, &r), 0);
    assert_string_equal(print_readiness_name(PRINT_LOW), "low");
}

static int64_t
add_order(db *d, int64_t number, const char *status)
{
    char name[32];
    int64_t id = 0;

    snprintf(name, sizeof(name), "#%lld", (long long)number);
    env_exec_ok(d, "INSERT INTO orders (name, order_number, status, "
                   "created_at, updated_at) VALUES (?, ?, ?, 1, 1)",
                (db_arg[]){DB_TEXT(name), DB_INT(number), DB_TEXT(status)},
                3);
    id = env_int(d, "SELECT id FROM orders WHERE name = ?",
                 (db_arg[]){DB_TEXT(name)}, 1);
    return id;
}

static void
test_readiness_in_list(void **state)
{
    struct env *e = *state;
    int64_t id = add_order(e->d, 1042, "pending");
    struct orders_filter f = {0};
    struct orders_page page;
    arena *a = arena_new();

    env_exec_ok(e->d, "INSERT INTO images (id, session_id, kind, order_id, "
                      "object_key, width, height, sha256, created_at) "
                      "VALUES ('img_small', 's', 'original', ?, 'k', 1000, "
                      "800, 'x', 1)", (db_arg[]){DB_INT(id)}, 1);
    env_exec_ok(e->d, "INSERT INTO pets (order_id, position, pet_name, "
                      "print_size, original_image_id) VALUES (?, 0, "
                      "'Bella', '8x10', 'img_small'), (?, 1, 'Max', "
                      "'8x10', NULL)",
                (db_arg[]){DB_INT(id), DB_INT(id)}, 2);
    assert_int_equal(orders_list(e->d, &f, a, &page), PD_OK);
    assert_int_equal(page.n, 1);
    assert_int_equal(page.rows[0].n_pets, 2);
    assert_int_equal(page.rows[0].pets[0].print_dpi, 100);
    assert_int_equal(page.rows[0].pets[0].readiness, PRINT_LOW);
    assert_int_equal(page.rows[0].pets[1].print_dpi, 0);
    assert_int_equal(page.rows[0].pets[1].readiness, PRINT_UNKNOWN);
    arena_free(a);
}

static int64_t
add_staff(db *d, const char *ext, const char *name)
{
    env_exec_ok(d, "INSERT INTO staff (id_kind, external_id, name, role, "
                   "created_at) VALUES ('customer', ?, ?, 'fulfiller', 1)",
                (db_arg[]){DB_TEXT(ext), DB_TEXT(name)}, 2);
    return env_int(d, "SELECT id FROM staff WHERE external_id = ?",
                   (db_arg[]){DB_TEXT(ext)}, 1);
}

static void
test_claims(void **state)
{
    struct env *e = *state;
    int64_t ann = add_staff(e->d, "1", "Ann"), bob = add_staff(e->d, "2",
                                                                "Bob");
    struct orders_claim c;
    struct orders_filter f = {0};
    struct orders_page page;
    arena *a = arena_new();

    add_order(e->d, 7, "in_production");
    assert_int_equal(orders_claim(e->d, "7", ann, true, false, &c), PD_OK);
    assert_int_equal(c.claimed_by, ann);
    assert_false(c.unchanged);
    assert_int_equal(orders_claim(e->d, "#7", ann, true, false, &c), PD_OK);
    assert_true(c.unchanged);
    /* Bob cannot take or release Ann's claim. */
    assert_int_equal(orders_claim(e->d, "7", bob, true, false, &c),
                     PD_ECONFLICT);
    assert_int_equal(c.claimed_by, ann);
    assert_int_equal(orders_claim(e->d, "7", bob, false, false, &c),
                     PD_ECONFLICT);
    /* Everyone sees who is on it. */
    assert_int_equal(orders_list(e->d, &f, a, &page), PD_OK);
    assert_int_equal(page.rows[0].claimed_by, ann);
    assert_string_equal(page.rows[0].claimed_by_name, "Ann");
    /* An admin may take it over; its holder may release it. */
    assert_int_equal(orders_claim(e->d, "7", bob, true, true, &c), PD_OK);
    assert_int_equal(c.previous, ann);
    assert_int_equal(c.claimed_by, bob);
    assert_int_equal(orders_claim(e->d, "7", bob, false, false, &c), PD_OK);
    assert_int_equal(c.claimed_by, 0);
    assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM orders WHERE "
                                   "claimed_by IS NULL AND claimed_at IS "
                                   "NULL", NULL, 0), 1);
    assert_int_equal(orders_claim(e->d, "8", ann, true, false, &c),
                     PD_ENOTFOUND);
    arena_free(a);
}

static void
test_warning_and_claim_filters(void **state)
{
    struct env *e = *state;
    int64_t low = add_order(e->d, 1, "pending");
    int64_t fine = add_order(e->d, 2, "pending");
    int64_t ann = add_staff(e->d, "1", "Ann");
    struct orders_filter f = {.warnings_only = true};
    struct orders_counts counts;
    struct orders_page page;
    struct orders_claim c;
    arena *a = arena_new();

    env_exec_ok(e->d, "INSERT INTO images (id, session_id, kind, object_key, "
                      "width, height, sha256, created_at) VALUES "
                      "('img_low', 's', 'original', 'k1', 1000, 800, 'a', 1), "
                      "('img_big', 's', 'original', 'k2', 3000, 2400, 'b', 1)",
                NULL, 0);
    env_exec_ok(e->d, "INSERT INTO pets (order_id, position, print_size, "
                      "original_image_id) VALUES (?, 0, '8x10', 'img_low'), "
                      "(?, 0, '8x10', 'img_big')",
                (db_arg[]){DB_INT(low), DB_INT(fine)}, 2);
    assert_int_equal(orders_refresh_warnings(e->d, low), PD_OK);
    assert_int_equal(orders_refresh_warnings(e->d, fine), PD_OK);
    assert_int_equal(env_int(e->d, "SELECT warning_flags FROM orders WHERE "
                                   "id = ?", (db_arg[]){DB_INT(low)}, 1),
                     PRINT_FLAG_LOW);
    assert_int_equal(orders_list(e->d, &f, a, &page), PD_OK);
    assert_int_equal(page.n, 1);
    assert_int_equal(page.rows[0].id, low);
    assert_int_equal(orders_count(e->d, &f, &counts), PD_OK);
    assert_int_equal(counts.total, 1);
    /* Claimed by me. */
    assert_int_equal(orders_claim(e->d, "2", ann, true, false, &c), PD_OK);
    f = (struct orders_filter){.claimed_by = ann};
    assert_int_equal(orders_list(e->d, &f, a, &page), PD_OK);
    assert_int_equal(page.n, 1);
    assert_int_equal(page.rows[0].id, fine);
    f.status = "open";
    assert_int_equal(orders_list(e->d, &f, a, &page), PD_OK);
    assert_int_equal(page.n, 1);
    arena_free(a);
}

static void
test_activity(void **state)
{
    struct env *e = *state;
    int64_t id = add_order(e->d, 9, "printed");
    struct order_detail o;
    arena *a = arena_new();

    env_exec_ok(e->d, "INSERT INTO audit_log (at, actor, action, "
                      "target_type, target_id, order_id) VALUES "
                      "(3, 'staff:1 (Ann)', 'photo.view', 'image', 'img_a', ?), "
                      "(2, 'staff:1 (Ann)', 'order.status', 'order', '#9', ?), "
                      "(1, 'shopify', 'shopify.fulfilled', 'order', '#9', ?), "
                      "(4, 'staff:2 (Bob)', 'photo.view', 'image', 'img_b', ?)",
                (db_arg[]){DB_INT(id), DB_INT(id), DB_INT(id),
                           DB_INT(id + 1000)}, 4);
    assert_int_equal(orders_get(e->d, "9", a, &o), PD_OK);
    assert_int_equal(o.n_activity, 2);
    assert_string_equal(o.activity[0].action, "shopify.fulfilled");
    assert_string_equal(o.activity[1].action, "photo.view");
    assert_string_equal(o.activity[1].target_id, "img_a");
    assert_string_equal(o.activity[1].actor, "staff:1 (Ann)");
    arena_free(a);
}

#define DB_TEST(f) cmocka_unit_test_setup_teardown(f, env_setup_migrated, \
                                                    env_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_print_sizes),
        cmocka_unit_test(test_effective_dpi),
        DB_TEST(test_readiness_in_list),
        DB_TEST(test_claims),
        DB_TEST(test_warning_and_claim_filters),
        DB_TEST(test_activity),
    };

    log_setup(LOG_ERROR, false);
    return env_run_groups("print_claim", tests, ENV_COUNT(tests), tests,
                          ENV_COUNT(tests)) != 0;
}
