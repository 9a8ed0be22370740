/*
 * test_webhooks.c — the orders topics, run on SQLite and on PostgreSQL
 * (TEST_PG_URL): a realistic orders/create makes the order, its pets and
 * links to photos uploaded before; re-deliveries and older updates change
 * nothing; cancellations and fulfilments; customer data sealed yet found
 * by e-mail; malformed payloads refused with a reason. The inbox and
 * HTTP cases live in test_inbox.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wh_tests.h"

#include "common/arena.h"
#include "common/err.h"
#include "common/util.h"
#include "obs/log.h"
#include "orders/orders.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* 2024-03-12T10:15:30-04:00 and later times, in ms. */
#define T_CREATED 1710252930000LL
#define T_LATER "2024-03-12T10:20:00.250-04:00"
#define T_LATER_MS 1710253200250LL
#define T_LATEST "2024-03-12T16:00:00Z"
#define T_EARLIER "2024-03-12T09:00:00-04:00"

/* Applies one payload as the inbox would: in a write transaction. */
static int
apply_topic(db *d, const char *topic, const char *json, char *reason,
            size_t rlen)
{
    struct webhook_delivery w = {.inbox_id = 1, .topic = topic,
                                 .shop = WH_SHOP, .api_version = "2024-10",
                                 .webhook_id = "test-delivery"};
    json_error_t err;
    json_t *payload = json_loads(json, 0, &err);
    int rc;

    if (payload == NULL)
        print_error("test payload: %s\n", err.text);
    assert_non_null(payload);
    assert_int_equal(db_begin_write(d), 0);
    rc = webhook_apply_order(d, &wh_env, &w, payload, reason, rlen);
    if (rc == PD_OK)
        assert_int_equal(db_commit(d), 0);
    else
        assert_int_equal(db_rollback(d), 0);
    json_decref(payload);
    return rc;
}

/* Applies the sample; the test fails unless it applies. */
static void
apply_ok(db *d, const char *topic, const struct wh_sample *s)
{
    char reason[256] = "";
    char *json = wh_order_json(s);
    int rc = apply_topic(d, topic, json, reason, sizeof(reason));

    if (rc != PD_OK)
        print_error("apply %s: %d %s (%s)\n", topic, rc, reason,
                    db_errmsg(d));
    assert_int_equal(rc, PD_OK);
    free(json);
}

static int64_t
count_of(db *d, const char *sql)
{
    return env_int(d, sql, NULL, 0);
}

static int64_t
order_id(db *d)
{
    return env_int(d, "SELECT id FROM orders WHERE shopify_id = ?",
                   (db_arg[]){DB_INT(WH_ORDER_ID)}, 1);
}

/* The pet at position pos: its column col as text. */
static void
pet_text(db *d, int pos, const char *col, char *out, size_t len)
{
    char sql[400];

    snprintf(sql, sizeof(sql), "SELECT %s FROM pets WHERE position = ?",
             col);
    wh_text(d, sql, (db_arg[]){DB_INT(pos)}, 1, out, len);
}

static void
image_state(db *d, const char *id, char *tier, size_t len, int64_t *order)
{
    db_rows *r = NULL;

    assert_int_equal(db_query(d, "SELECT tier, order_id FROM images "
                                 "WHERE id = ?",
                              (db_arg[]){DB_TEXT(id)}, 1, &r), 0);
    assert_int_equal(db_step(r), 1);
    snprintf(tier, len, "%s", db_col_text(r, 0));
    *order = db_col_null(r, 1) ? 0 : db_col_int(r, 1);
    db_rows_free(r);
}

/* Names of the orders a staff search finds, joined with commas. */
static void
search(db *d, const char *q, char *out, size_t len)
{
    struct orders_filter f = {.q = q, .limit = 50};
    struct orders_page p;
    arena *a = arena_new();
    size_t n = 0;

    assert_int_equal(orders_list(d, &f, a, &p), PD_OK);
    out[0] = '\0';
    for (int i = 0; i < p.n && n < len; i++)
        n += (size_t)snprintf(out + n, len - n, "%s%s", i ? "," : "",
                              p.rows[i].name);
    arena_free(a);
}

/* ---- create ---- */

static void
check_order_row(db *d)
{
    char text[256];
    db_rows *r = NULL;

    assert_int_equal(count_of(d, "SELECT COUNT(*) FROM orders"), 1);
    assert_int_equal(db_query(d, "SELECT shopify_id, order_number, name, "
                                 "status, financial_status, currency, "
                                 "total_price, shopify_updated_at, "
                                 "shopify_created_at, pii_key_id, tags "
                                 "FROM orders", NULL, 0, &r), 0);
    assert_int_equal(db_step(r), 1);
    assert_true(db_col_int(r, 0) == WH_ORDER_ID);
    assert_int_equal(db_col_int(r, 1), 1234);
    assert_string_equal(db_col_text(r, 2), "#9999");
    assert_string_equal(db_col_text(r, 3), "pending");
    assert_string_equal(db_col_text(r, 4), "paid");
    assert_string_equal(db_col_text(r, 5), "USD");
    assert_string_equal(db_col_text(r, 6), "403.00");
    assert_true(db_col_int(r, 7) == T_CREATED);
    assert_true(db_col_int(r, 8) == T_CREATED);
    assert_true((uint32_t)db_col_int(r, 9) == pii_current_key_id(wh_keys));
    assert_string_equal(db_col_text(r, 10), "Rush, VIP");
    db_rows_free(r);
    wh_text(d, "SELECT actor || ':' || to_status FROM status_history",
            NULL, 0, text, sizeof(text));
    assert_string_equal(text, "shopify:pending");
}

static void
check_pets(db *d)
{
    char text[256];

    assert_int_equal(count_of(d, "SELECT COUNT(*) FROM pets"), 3);
    /* Line item ids above 2^53 come back exactly. */
    assert_true(env_int(d, "SELECT line_item_id FROM pets WHERE "
                           "position = 0", NULL, 0) == 866550311766439020LL);
    assert_true(env_int(d, "SELECT line_item_id FROM pets WHERE "
                           "position = 2", NULL, 0) ==
                1000000000000000003LL);
    pet_text(d, 0, "pet_name || '|' || print_size || '|' || variant_title "
             "|| '|' || original_image_id || '|' || processed_image_id",
             text, sizeof(text));
    assert_string_equal(text, "Biscuit|8x10|8x10 / Matte|img-orig-1|"
                              "img-proc-1");
    pet_text(d, 1, "pet_name || '|' || print_size || '|' || quantity || "
             "'|' || original_image_id || '|' || session_id || '|' || "
             "wanted_processed_ref", text, sizeof(text));
    assert_string_equal(text, "Mochi \xc3\xa9t\xc3\xa9|12x16|2|img-orig-2|"
                              "sess-def|img-proc-later");
    assert_int_equal(env_int(d, "SELECT COUNT(*) FROM pets WHERE position "
                                "= 1 AND processed_image_id IS NULL", NULL,
                             0), 1);
    /* Only a pet name: the order's session gives its newest photos. */
    pet_text(d, 2, "pet_name || '|' || session_id || '|' || "
             "original_image_id || '|' || processed_image_id", text,
             sizeof(text));
    assert_string_equal(text, "Pepper|sess-xyz|xyz-o-new|xyz-p");
    assert_int_equal(env_int(d, "SELECT COUNT(*) FROM pets WHERE position "
                                "= 2 AND print_size IS NULL", NULL, 0), 1);
}

static void
check_images(db *d, int64_t oid)
{
    static const char *const linked[] = {"img-orig-1", "img-proc-1",
                                         "img-orig-2", "xyz-o-old",
                                         "xyz-o-new", "xyz-p"};
    char tier[32];
    int64_t owner;

    for (size_t i = 0; i < sizeof(linked) / sizeof(linked[0]); i++) {
        image_state(d, linked[i], tier, sizeof(tier), &owner);
        if (strcmp(tier, "order_pending") != 0)
            print_error("%s is %s\n", linked[i], tier);
        assert_string_equal(tier, "order_pending");
        assert_true(owner == oid);
    }
    image_state(d, "img-other", tier, sizeof(tier), &owner);
    assert_string_equal(tier, "temporary");
    assert_true(owner == 0);
    assert_int_equal(count_of(d, "SELECT COUNT(*) FROM images WHERE tier = "
                                 "'order_pending' AND tier_changed_at IS "
                                 "NULL"), 0);
}

static void
test_create_links_photos(void **state)
{
    struct env *e = *state;
    char names[256];

    wh_add_images(e->d);
    apply_ok(e->d, "orders/create", &(struct wh_sample){0});
    check_order_row(e->d);
    check_pets(e->d);
    check_images(e->d, order_id(e->d));
    /* Staff find it by number, name, pet name, tag and note. */
    search(e->d, "9999", names, sizeof(names));
    assert_string_equal(names, "#9999");
    search(e->d, "biscuit", names, sizeof(names));
    assert_string_equal(names, "#9999");
    search(e->d, "pepper rush", names, sizeof(names));
    assert_string_equal(names, "#9999");
    search(e->d, "hurry", names, sizeof(names));
    assert_string_equal(names, "#9999");
    /* The e-mail address is not in the search text. */
    search(e->d, "jon", names, sizeof(names));
    assert_string_equal(names, "");
}

/* ---- again, older, newer ---- */

static void
test_reapply_no_duplicates(void **state)
{
    struct env *e = *state;
    struct orders_change c;
    char text[128], names[128];

    wh_add_images(e->d);
    for (int i = 0; i < 3; i++)
        apply_ok(e->d, "orders/create", &(struct wh_sample){0});
    assert_int_equal(orders_add_note(e->d, "9999", "staff:1",
                                     "glitter frame", NULL, &c), PD_OK);
    /* A newer update: fields change, pets are updated in place. */
    apply_ok(e->d, "orders/updated",
             &(struct wh_sample){.updated_at = T_LATER,
                                 .financial = "partially_refunded",
                                 .note = "Second thoughts"});
    apply_ok(e->d, "orders/paid", &(struct wh_sample){.updated_at = T_LATER,
             .financial = "partially_refunded", .note = "Second thoughts"});
    assert_int_equal(count_of(e->d, "SELECT COUNT(*) FROM orders"), 1);
    assert_int_equal(count_of(e->d, "SELECT COUNT(*) FROM pets"), 3);
    assert_int_equal(count_of(e->d, "SELECT COUNT(*) FROM status_history"),
                     1);
    assert_int_equal(count_of(e->d, "SELECT COUNT(*) FROM images WHERE "
                                    "order_id IS NOT NULL"), 6);
    wh_text(e->d, "SELECT financial_status FROM orders", NULL, 0, text,
            sizeof(text));
    assert_string_equal(text, "partially_refunded");
    assert_true(count_of(e->d, "SELECT shopify_updated_at FROM orders") ==
                T_LATER_MS);
    /* The staff note still finds the order; the old note does not. */
    search(e->d, "glitter", names, sizeof(names));
    assert_string_equal(names, "#9999");
    search(e->d, "thoughts", names, sizeof(names));
    assert_string_equal(names, "#9999");
    search(e->d, "hurry", names, sizeof(names));
    assert_string_equal(names, "");
}

static void
test_older_update_changes_nothing(void **state)
{
    struct env *e = *state;
    char text[128];

    apply_ok(e->d, "orders/updated",
             &(struct wh_sample){.updated_at = T_LATER, .note = "newest"});
    apply_ok(e->d, "orders/updated",
             &(struct wh_sample){.updated_at = T_EARLIER,
                                 .financial = "pending", .note = "old",
                                 .cancelled_at = "\"" T_EARLIER "\""});
    wh_text(e->d, "SELECT financial_status || '|' || note || '|' || status "
                  "FROM orders", NULL, 0, text, sizeof(text));
    assert_string_equal(text, "paid|newest|pending");
    assert_true(count_of(e->d, "SELECT shopify_updated_at FROM orders") ==
                T_LATER_MS);
    assert_int_equal(count_of(e->d, "SELECT COUNT(*) FROM status_history"),
                     1);
}

/* ---- Shopify's own changes ---- */

static void
test_cancelled(void **state)
{
    struct env *e = *state;
    char text[128];

    apply_ok(e->d, "orders/create", &(struct wh_sample){0});
    apply_ok(e->d, "orders/cancelled",
             &(struct wh_sample){.updated_at = T_LATER,
                                 .financial = "voided",
                                 .cancelled_at = "\"" T_LATER "\""});
    wh_text(e->d, "SELECT status FROM orders", NULL, 0, text, sizeof(text));
    assert_string_equal(text, "cancelled");
    wh_text(e->d, "SELECT from_status || '>' || to_status || ':' || actor "
                  "FROM status_history WHERE to_status = 'cancelled'", NULL,
            0, text, sizeof(text));
    assert_string_equal(text, "pending>cancelled:shopify");
    /* A later update of the cancelled order keeps it cancelled, once. */
    apply_ok(e->d, "orders/updated",
             &(struct wh_sample){.updated_at = T_LATEST,
                                 .cancelled_at = "\"" T_LATER "\""});
    assert_int_equal(count_of(e->d, "SELECT COUNT(*) FROM status_history"),
                     2);
}

/* Moves the sample order through the workflow as staff would. */
static void
staff_move(db *d, const char *to)
{
    struct orders_change c;
    int rc = orders_move(d, "9999", to, "staff:1", NULL, NULL, &c);

    if (rc != PD_OK)
        print_error("move to %s: %s\n", to, c.message);
    assert_int_equal(rc, PD_OK);
}

static void
test_cancel_after_completion(void **state)
{
    struct env *e = *state;
    char text[256];

    apply_ok(e->d, "orders/create", &(struct wh_sample){0});
    staff_move(e->d, "in_production");
    staff_move(e->d, "printed");
    staff_move(e->d, "completed");
    apply_ok(e->d, "orders/cancelled",
             &(struct wh_sample){.updated_at = T_LATER,
                                 .cancelled_at = "\"" T_LATER "\""});
    apply_ok(e->d, "orders/updated",
             &(struct wh_sample){.updated_at = T_LATEST,
                                 .cancelled_at = "\"" T_LATER "\""});
    wh_text(e->d, "SELECT status FROM orders", NULL, 0, text, sizeof(text));
    assert_string_equal(text, "completed");
    assert_int_equal(count_of(e->d, "SELECT COUNT(*) FROM audit_log WHERE "
                                    "action = 'shopify.cancelled'"), 1);
    wh_text(e->d, "SELECT actor || '|' || target_id || '|' || detail FROM "
                  "audit_log WHERE action = 'shopify.cancelled'", NULL, 0,
            text, sizeof(text));
    assert_non_null(strstr(text, "shopify|#9999|"));
    assert_non_null(strstr(text, "\"status\":\"completed\""));
}

static void
test_fulfilled_by_shopify(void **state)
{
    struct env *e = *state;
    char text[256];

    apply_ok(e->d, "orders/create", &(struct wh_sample){0});
    staff_move(e->d, "in_production");
    apply_ok(e->d, "orders/fulfilled",
             &(struct wh_sample){.updated_at = T_LATER,
                                 .fulfillment = "\"fulfilled\""});
    apply_ok(e->d, "orders/updated",
             &(struct wh_sample){.updated_at = T_LATEST,
                                 .fulfillment = "\"fulfilled\""});
    /* Staff's status stands; the timeline has Shopify's event once. */
    wh_text(e->d, "SELECT status || '|' || fulfillment_status FROM orders",
            NULL, 0, text, sizeof(text));
    assert_string_equal(text, "in_production|fulfilled");
    assert_int_equal(count_of(e->d, "SELECT COUNT(*) FROM audit_log WHERE "
                                    "action = 'shopify.fulfilled' AND "
                                    "actor = 'shopify'"), 1);
    assert_true(count_of(e->d, "SELECT order_id FROM audit_log WHERE "
                               "action = 'shopify.fulfilled'") ==
                order_id(e->d));
}

/* ---- customer data ---- */

/* The raw bytes of the sealed columns never hold the plain text. */
static void
check_sealed_columns(db *d)
{
    static const char *const plain[] = {
        WH_ORDER_EMAIL, "john@example.com", "Smith", "Shipping Street",
        "555-555-SHIP", "Steve Shipper", "Billing Street"};
    db_rows *r = NULL;

    assert_int_equal(db_query(d, "SELECT customer_name_enc, email_enc, "
                                 "phone_enc, address_enc, email_bidx, "
                                 "search_text, note, tags FROM orders",
                              NULL, 0, &r), 0);
    assert_int_equal(db_step(r), 1);
    for (int col = 0; col < 8; col++) {
        size_t n = 0;
        const void *v = col < 5 ? db_col_blob(r, col, &n)
                                : db_col_text(r, col);

        if (col >= 5)
            n = strlen(v);
        for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
            assert_false(wh_contains(v, n, plain[i]));
    }
    db_rows_free(r);
}

/* Opens one sealed column of the order. */
static void
open_column(db *d, const char *col, pd_buf *out)
{
    char sql[96];
    db_rows *r = NULL;
    const void *blob;
    size_t n = 0;

    snprintf(sql, sizeof(sql), "SELECT %s FROM orders", col);
    assert_int_equal(db_query(d, sql, NULL, 0, &r), 0);
    assert_int_equal(db_step(r), 1);
    blob = db_col_blob(r, 0, &n);
    assert_true(n > 0);
    assert_int_equal(pii_open(wh_keys, blob, n, out), PD_OK);
    db_rows_free(r);
}

/* Reads a whole file into b (nothing when it does not exist). */
static void
read_file(const char *path, pd_buf *b)
{
    char chunk[65536];
    size_t n;
    FILE *f = fopen(path, "rb");

    if (f == NULL)
        return;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(b, chunk, n);
    fclose(f);
}

/* The database file and its write-ahead log, byte for byte. */
static void
check_sqlite_file(const struct env *e)
{
    char path[400];
    pd_buf b;

    buf_init(&b);
    snprintf(path, sizeof(path), "%s/test.db", e->dir);
    read_file(path, &b);
    snprintf(path, sizeof(path), "%s/test.db-wal", e->dir);
    read_file(path, &b);
    assert_false(b.failed);
    /* What staff search for is there in the clear... */
    assert_true(wh_contains(b.data, b.len, "biscuit"));
    /* ...the customer's data is not. */
    assert_false(wh_contains(b.data, b.len, WH_ORDER_EMAIL));
    assert_false(wh_contains(b.data, b.len, "Shipping Street"));
    assert_false(wh_contains(b.data, b.len, "Smith"));
    assert_false(wh_contains(b.data, b.len, "555-555-SHIP"));
    buf_free(&b);
}

static void
test_pii_sealed_and_found_by_email(void **state)
{
    struct env *e = *state;
    unsigned char bidx[PII_INDEX_LEN];
    char name[64];
    pd_buf b;

    apply_ok(e->d, "orders/create", &(struct wh_sample){0});
    check_sealed_columns(e->d);
    buf_init(&b);
    open_column(e->d, "email_enc", &b);
    assert_string_equal(buf_cstr(&b), WH_ORDER_EMAIL);
    buf_reset(&b);
    open_column(e->d, "customer_name_enc", &b);
    assert_string_equal(buf_cstr(&b), "John Smith");
    buf_reset(&b);
    open_column(e->d, "phone_enc", &b);
    assert_string_equal(buf_cstr(&b), "555-555-SHIP");
    buf_reset(&b);
    open_column(e->d, "address_enc", &b);
    assert_non_null(strstr(buf_cstr(&b), "\"address1\":\"123 Shipping "
                                         "Street\""));
    buf_free(&b);
    /* The blind index finds the order from the address as typed. */
    pii_email_index(wh_keys, "  Jon@Example.COM ", bidx);
    wh_text(e->d, "SELECT name FROM orders WHERE email_bidx = ?",
            (db_arg[]){DB_BLOB(bidx, sizeof(bidx))}, 1, name, sizeof(name));
    assert_string_equal(name, "#9999");
    pii_email_index(wh_keys, "john@example.com", bidx);
    assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM orders WHERE "
                                   "email_bidx = ?",
                             (db_arg[]){DB_BLOB(bidx, sizeof(bidx))}, 1), 0);
    if (e->kind == DB_SQLITE)
        check_sqlite_file(e);
}

/* ---- refused payloads ---- */

/* Applies text; expects PD_EINVAL with a reason containing want. */
static void
refused(db *d, const char *json, const char *want)
{
    char reason[256] = "";
    int rc = apply_topic(d, "orders/create", json, reason, sizeof(reason));

    if (rc != PD_EINVAL || strstr(reason, want) == NULL)
        print_error("got %d \"%s\", want \"%s\"\n", rc, reason, want);
    assert_int_equal(rc, PD_EINVAL);
    assert_non_null(strstr(reason, want));
}

/* The sample with the first occurrence of from replaced by to. */
static char *
sample_with(const char *from, const char *to)
{
    char *json = wh_order_json(&(struct wh_sample){0});
    char *at = strstr(json, from);
    pd_buf b;

    assert_non_null(at);
    buf_init(&b);
    buf_append(&b, json, (size_t)(at - json));
    buf_puts(&b, to);
    buf_puts(&b, at + strlen(from));
    free(json);
    return b.data;
}

static void
test_malformed_payloads(void **state)
{
    static const char *const cases[][3] = {
        {"{\"id\":820982911946154508,", "{", "id is missing"},
        {"{\"id\":820982911946154508,", "{\"id\":8.2e17,",
         "id is not an integer id"},
        {"\"line_items\":[", "\"line_items\":\"none\",\"x\":[",
         "line_items is not an array"},
        {"\"properties\":[{", "\"properties\":{\"a\":1},\"x\":[{",
         "line_items[0].properties is not an array"},
        {"\"updated_at\":\"2024-03-12T10:15:30-04:00\"",
         "\"updated_at\":\"yesterday\"", "updated_at"},
        {"\"updated_at\":\"2024-03-12T10:15:30-04:00\"",
         "\"updated_at\":\"2024-04-31T10:15:30-04:00\"", "updated_at"},
        {"\"name\":\"#9999\"", "\"name\":\"\"", "name"},
        {"\"note_attributes\":[", "\"note_attributes\":7,\"x\":[",
         "note_attributes is not an array"},
    };
    struct env *e = *state;

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *json = sample_with(cases[i][0], cases[i][1]);

        refused(e->d, json, cases[i][2]);
        free(json);
    }
    refused(e->d, "[1, 2]", "not a JSON object");
    assert_int_equal(count_of(e->d, "SELECT COUNT(*) FROM orders"), 0);
    assert_int_equal(count_of(e->d, "SELECT COUNT(*) FROM pets"), 0);
}

/* A pet's print size comes from _print_size or the variant title. */
static void
test_print_sizes_and_times(void **state)
{
    struct env *e = *state;
    char *json = sample_with("\"variant_title\":\"8x10 \\/ Matte\"",
                             "\"variant_title\":\"A4 \\/ 8.5 \\u00d7 11 "
                             "in\"");
    char reason[256], text[64];

    assert_int_equal(apply_topic(e->d, "orders/create", json, reason,
                                 sizeof(reason)), PD_OK);
    free(json);
    pet_text(e->d, 0, "print_size", text, sizeof(text));
    assert_string_equal(text, "8.5x11");
    /* Fractions of a second and offsets: milliseconds since the epoch. */
    apply_ok(e->d, "orders/updated",
             &(struct wh_sample){.updated_at = T_LATER});
    assert_true(count_of(e->d, "SELECT shopify_updated_at FROM orders") ==
                T_LATER_MS);
    apply_ok(e->d, "orders/updated",
             &(struct wh_sample){.updated_at = T_LATEST});
    assert_true(count_of(e->d, "SELECT shopify_updated_at FROM orders") ==
                1710259200000LL);
}


#define WH_TEST(f) cmocka_unit_test_setup_teardown(f, wh_setup, wh_teardown)
#define HTTP_TEST(f)                                                       \
    cmocka_unit_test_setup_teardown(f, wh_http_setup, wh_http_teardown)

#define COMMON_TESTS                                                       \
    WH_TEST(test_create_links_photos),                                     \
    WH_TEST(test_reapply_no_duplicates),                                   \
    WH_TEST(test_older_update_changes_nothing),                            \
    WH_TEST(test_cancelled),                                               \
    WH_TEST(test_cancel_after_completion),                                 \
    WH_TEST(test_fulfilled_by_shopify),                                    \
    WH_TEST(test_pii_sealed_and_found_by_email),                           \
    WH_TEST(test_malformed_payloads),                                      \
    WH_TEST(test_print_sizes_and_times),                                   \
    WH_TEST(test_pending_applies_waiting_rows),                            \
    HTTP_TEST(test_http_delivery),                                         \
    HTTP_TEST(test_http_refusals),                                         \
    HTTP_TEST(test_http_failed_and_ignored),                               \
    HTTP_TEST(test_http_concurrent)

int
main(void)
{
    const struct CMUnitTest tests[] = {COMMON_TESTS};
    int failed;

    log_setup(LOG_ERROR, false);
    if (pii_keys_load("000102030405060708090a0b0c0d0e0f"
                      "101112131415161718191a1b1c1d1e1f", NULL,
                      &wh_keys) != PD_OK)
        return 1;
    wh_guard_init();
    failed = env_run_groups("webhooks", tests, ENV_COUNT(tests), tests,
                            ENV_COUNT(tests));
    pii_keys_free(wh_keys);
    return failed != 0;
}
