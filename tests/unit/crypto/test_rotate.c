/*
 * test_rotate.c — `printdesk rotate-data-key`'s work (rotate_data_key) on
 * SQLite and, with TEST_PG_URL, PostgreSQL: orders and webhook bodies
 * sealed under key A move to key B, the blind index follows, rows neither
 * key opens are left alone, and a second run changes nothing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../db/db_env.h"
#include "crypto_tests.h"

#include "cli/cli.h"
#include "cli/rotate_key.h"
#include "common/err.h"
#include "obs/log.h"

#include <stdio.h>
#include <string.h>

/* An order's customer data; NULL fields are not stored. */
struct person {
    const char *name, *email, *phone, *address;
};

static const struct person people[] = {
    {"Alice Martin", "Alice@Example.com", "+1 555 0100",
     "{\"city\":\"Paris\",\"zip\":\"75001\"}"},
    {"Bob \xc3\x9cnal", "bob@example.org", NULL, NULL},
    {"", "carol@example.net", "+44 20 7946 0958", "1 Main St"},
    {"Dan", NULL, "+1 555 0101", NULL},
    {"Eve \xf0\x9f\x90\xbe", "  eve@example.com ", "", "Flat 2, 3 High St"},
    {"Fay", "fay@example.com", "+1 555 0102", "9 Elm Rd"},
    {"Gus", "gus@example.com", NULL, "4 Oak Ave"},
};
#define N_PEOPLE (int)(sizeof(people) / sizeof(people[0]))

static const char *
field(const struct person *p, int c)
{
    const char *f[] = {p->name, p->email, p->phone, p->address};

    return f[c];
}

static const char *const columns[] = {"customer_name_enc", "email_enc",
                                      "phone_enc", "address_enc"};

/* Inserts order #number with p's data sealed under k. Returns its id. */
static int64_t
insert_order(db *d, const pii_keys *k, int number, const struct person *p)
{
    pd_buf s[4];
    unsigned char bidx[PII_INDEX_LEN];
    db_arg a[9];
    char name[16];
    db_rows *r = NULL;
    int64_t id;

    snprintf(name, sizeof(name), "#%d", number);
    a[0] = DB_TEXT(name);
    a[1] = DB_INT(1700000000000 + number);
    for (int c = 0; c < 4; c++) {
        buf_init(&s[c]);
        if (field(p, c) != NULL)
            seal_or_fail(k, field(p, c), strlen(field(p, c)), &s[c]);
        a[2 + c] = field(p, c) ? DB_BLOB(s[c].data, s[c].len) : DB_NULL;
    }
    a[6] = DB_INT(pii_current_key_id(k));
    if (p->email != NULL)
        assert_int_equal(pii_email_index(k, p->email, bidx), PD_OK);
    a[7] = p->email ? DB_BLOB(bidx, sizeof(bidx)) : DB_NULL;
    assert_int_equal(db_query(d, "INSERT INTO orders (name, created_at, "
        "updated_at, customer_name_enc, email_enc, phone_enc, address_enc, "
        "pii_key_id, email_bidx) VALUES (?, ?, 0, ?, ?, ?, ?, ?, ?) "
        "RETURNING id", a, 8, &r), 0);
    assert_int_equal(db_step(r), 1);
    id = db_col_int(r, 0);
    db_rows_free(r);
    for (int c = 0; c < 4; c++)
        buf_free(&s[c]);
    return id;
}

/* An order without customer data (pii_key_id NULL). */
static void
insert_bare_order(db *d, int number)
{
    char name[16];

    snprintf(name, sizeof(name), "#%d", number);
    env_exec_ok(d, "INSERT INTO orders (name, created_at, updated_at) "
                   "VALUES (?, 0, 0)", (db_arg[]){DB_TEXT(name)}, 1);
}

static void
insert_inbox(db *d, const char *webhook_id, const void *body, size_t len)
{
    env_exec_ok(d, "INSERT INTO webhook_inbox (webhook_id, topic, body, "
                   "received_at) VALUES (?, 'orders/create', ?, 0)",
                (db_arg[]){DB_TEXT(webhook_id), DB_BLOB(body, len)}, 2);
}

/* The body of an inbox row, into out. */
static void
read_body(db *d, const char *webhook_id, pd_buf *out)
{
    db_rows *r = NULL;
    size_t len = 0;
    const void *p;

    assert_int_equal(db_query(d, "SELECT body FROM webhook_inbox WHERE "
                                 "webhook_id = ?",
                              (db_arg[]){DB_TEXT(webhook_id)}, 1, &r), 0);
    assert_int_equal(db_step(r), 1);
    p = db_col_blob(r, 0, &len);
    buf_reset(out);
    buf_append(out, p, len);
    db_rows_free(r);
}

/* Every sealed byte of every order and inbox row, in id order. */
static void
snapshot(db *d, pd_buf *out)
{
    db_rows *r = NULL;

    buf_reset(out);
    assert_int_equal(db_query(d, "SELECT id, customer_name_enc, email_enc, "
        "phone_enc, address_enc, email_bidx, pii_key_id FROM orders "
        "ORDER BY id", NULL, 0, &r), 0);
    while (db_step(r) == 1)
        for (int c = 0; c < 7; c++) {
            size_t len = 0;
            const void *p = db_col_blob(r, c, &len);

            buf_printf(out, "|%d:%zu:", db_col_null(r, c), len);
            buf_append(out, p, len);
        }
    db_rows_free(r);
    assert_int_equal(db_query(d, "SELECT body FROM webhook_inbox ORDER BY "
                                 "id", NULL, 0, &r), 0);
    while (db_step(r) == 1) {
        size_t len = 0;
        const void *p = db_col_blob(r, 0, &len);

        buf_printf(out, "|%zu:", len);
        buf_append(out, p, len);
    }
    db_rows_free(r);
}

/* Checks order id holds p's data, opened with k alone, and k's index. */
static void
check_order(db *d, const pii_keys *k, int64_t id, const struct person *p)
{
    unsigned char want[PII_INDEX_LEN];
    db_rows *r = NULL;
    pd_buf plain;
    size_t len = 0;
    const void *blob;

    buf_init(&plain);
    assert_int_equal(db_query(d, "SELECT customer_name_enc, email_enc, "
        "phone_enc, address_enc, pii_key_id, email_bidx FROM orders "
        "WHERE id = ?", (db_arg[]){DB_INT(id)}, 1, &r), 0);
    assert_int_equal(db_step(r), 1);
    for (int c = 0; c < 4; c++) {
        assert_int_equal(db_col_null(r, c), field(p, c) == NULL);
        if (field(p, c) == NULL)
            continue;
        blob = db_col_blob(r, c, &len);
        buf_reset(&plain);
        assert_int_equal(pii_open(k, blob, len, &plain), PD_OK);
        assert_string_equal(buf_cstr(&plain), field(p, c));
    }
    assert_int_equal(db_col_int(r, 4), pii_current_key_id(k));
    assert_int_equal(db_col_null(r, 5), p->email == NULL);
    if (p->email != NULL) {
        assert_int_equal(pii_email_index(k, p->email, want), PD_OK);
        blob = db_col_blob(r, 5, &len);
        assert_int_equal(len, PII_INDEX_LEN);
        assert_memory_equal(blob, want, PII_INDEX_LEN);
    }
    db_rows_free(r);
    buf_free(&plain);
}

/* The order the blind index under k finds for email ("" when none). */
static int64_t
find_by_email(db *d, const pii_keys *k, const char *email)
{
    unsigned char idx[PII_INDEX_LEN];
    db_rows *r = NULL;
    int64_t id = 0;

    assert_int_equal(pii_email_index(k, email, idx), PD_OK);
    assert_int_equal(db_query(d, "SELECT id FROM orders WHERE email_bidx = "
                                 "?", (db_arg[]){DB_BLOB(idx, sizeof(idx))},
                              1, &r), 0);
    if (db_step(r) == 1)
        id = db_col_int(r, 0);
    assert_int_not_equal(db_step(r), 1); /* one order at most */
    db_rows_free(r);
    return id;
}

static void
rotate_ok(db *d, const pii_keys *k, int batch, struct rotate_counts *n)
{
    int rc = rotate_data_key(d, k, batch, n);

    if (rc != 0)
        print_error("rotate_data_key: %d: %s\n", rc, db_errmsg(d));
    assert_int_equal(rc, 0);
}

static void
test_rotate_a_to_b(void **state)
{
    struct env *e = *state;
    pii_keys *a = keys_or_fail(key_a, NULL), *ba = keys_or_fail(key_b, key_a);
    pii_keys *b = keys_or_fail(key_b, NULL);
    static const char json[] = "{\"id\":820982911946154508}";
    int64_t ids[N_PEOPLE];
    struct rotate_counts n;
    pd_buf blob, before, after;

    buf_init(&blob);
    buf_init(&before);
    buf_init(&after);
    for (int i = 0; i < N_PEOPLE; i++)
        ids[i] = insert_order(e->d, a, 1001 + i, &people[i]);
    insert_bare_order(e->d, 2001);
    seal_or_fail(a, json, strlen(json), &blob);
    insert_inbox(e->d, "sealed-a", blob.data, blob.len);
    insert_inbox(e->d, "plain", json, strlen(json));
    assert_int_equal(find_by_email(e->d, b, "alice@example.com"), 0);

    rotate_ok(e->d, ba, 3, &n); /* three batches of orders */
    assert_int_equal(n.rotated, N_PEOPLE);
    assert_int_equal(n.current, 1);
    assert_int_equal(n.failed, 0);
    assert_int_equal(n.inbox_rotated, 1);
    assert_int_equal(n.inbox_failed, 0);
    for (int i = 0; i < N_PEOPLE; i++)
        check_order(e->d, b, ids[i], &people[i]);
    assert_int_equal(find_by_email(e->d, b, " ALICE@example.com"), ids[0]);
    assert_int_equal(find_by_email(e->d, b, "eve@EXAMPLE.com"), ids[4]);
    assert_int_equal(find_by_email(e->d, a, "alice@example.com"), 0);
    assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM orders WHERE "
                                   "pii_key_id IS NULL", NULL, 0), 1);

    read_body(e->d, "sealed-a", &blob);
    assert_int_equal(pii_blob_key_id(blob.data, blob.len),
                     pii_current_key_id(b));
    buf_reset(&after);
    assert_int_equal(pii_open(b, blob.data, blob.len, &after), PD_OK);
    assert_string_equal(buf_cstr(&after), json);
    read_body(e->d, "plain", &blob);
    assert_int_equal(blob.len, strlen(json));
    assert_memory_equal(blob.data, json, blob.len);

    /* A second run finds nothing to do and writes nothing. */
    snapshot(e->d, &before);
    rotate_ok(e->d, ba, ROTATE_BATCH_DEFAULT, &n);
    assert_int_equal(n.rotated, 0);
    assert_int_equal(n.current, N_PEOPLE + 1);
    assert_int_equal(n.failed + n.inbox_rotated + n.inbox_failed, 0);
    snapshot(e->d, &after);
    assert_int_equal(before.len, after.len);
    assert_memory_equal(before.data, after.data, before.len);

    buf_free(&blob);
    buf_free(&before);
    buf_free(&after);
    pii_keys_free(a);
    pii_keys_free(ba);
    pii_keys_free(b);
}

/* A run that stopped half-way: some rows are under B already. */
static void
test_rotate_resumes(void **state)
{
    struct env *e = *state;
    pii_keys *a = keys_or_fail(key_a, NULL), *ba = keys_or_fail(key_b, key_a);
    pii_keys *b = keys_or_fail(key_b, NULL);
    int64_t ids[N_PEOPLE];
    struct rotate_counts n;

    for (int i = 0; i < N_PEOPLE; i++)
        ids[i] = insert_order(e->d, i % 2 ? ba : a, 1001 + i, &people[i]);
    rotate_ok(e->d, ba, 1, &n);
    assert_int_equal(n.rotated, (N_PEOPLE + 1) / 2);
    assert_int_equal(n.current, N_PEOPLE / 2);
    assert_int_equal(n.failed, 0);
    for (int i = 0; i < N_PEOPLE; i++)
        check_order(e->d, b, ids[i], &people[i]);
    for (int i = 0; i < N_PEOPLE; i++)
        if (people[i].email != NULL)
            assert_int_equal(find_by_email(e->d, b, people[i].email),
                             ids[i]);
    pii_keys_free(a);
    pii_keys_free(ba);
    pii_keys_free(b);
}

/* The sealed bytes of one column of order id, into out. */
static void
read_column(db *d, int64_t id, int c, pd_buf *out)
{
    char sql[96];
    db_rows *r = NULL;
    size_t len = 0;
    const void *p;

    snprintf(sql, sizeof(sql), "SELECT %s FROM orders WHERE id = ?",
             columns[c]);
    assert_int_equal(db_query(d, sql, (db_arg[]){DB_INT(id)}, 1, &r), 0);
    assert_int_equal(db_step(r), 1);
    p = db_col_blob(r, 0, &len);
    buf_reset(out);
    buf_append(out, p, len);
    db_rows_free(r);
}

/* Rows under an unknown key or damaged are reported and left alone. */
static void
test_rotate_unopenable(void **state)
{
    struct env *e = *state;
    pii_keys *a = keys_or_fail(key_a, NULL), *ba = keys_or_fail(key_b, key_a);
    pii_keys *b = keys_or_fail(key_b, NULL), *c = keys_or_fail(key_c, NULL);
    int64_t good, foreign, damaged;
    struct rotate_counts n;
    pd_buf blob, x, y;

    buf_init(&blob);
    buf_init(&x);
    buf_init(&y);
    good = insert_order(e->d, a, 1, &people[0]);
    foreign = insert_order(e->d, c, 2, &people[1]);
    damaged = insert_order(e->d, a, 3, &people[2]);
    read_column(e->d, damaged, 3, &blob);
    blob.data[blob.len - 1] ^= 1; /* the address's tag */
    env_exec_ok(e->d, "UPDATE orders SET address_enc = ? WHERE id = ?",
                (db_arg[]){DB_BLOB(blob.data, blob.len), DB_INT(damaged)},
                2);
    seal_or_fail(c, "{}", 2, &blob);
    insert_inbox(e->d, "sealed-c", blob.data, blob.len);

    read_column(e->d, foreign, 1, &x);
    rotate_ok(e->d, ba, 2, &n);
    assert_int_equal(n.rotated, 1);
    assert_int_equal(n.failed, 2);
    assert_int_equal(n.inbox_failed, 1);
    check_order(e->d, b, good, &people[0]);
    check_order(e->d, c, foreign, &people[1]); /* untouched, still C */
    read_column(e->d, foreign, 1, &y);
    assert_int_equal(x.len, y.len);
    assert_memory_equal(x.data, y.data, x.len);
    read_column(e->d, damaged, 0, &y); /* the name was not rewritten */
    assert_int_equal(pii_blob_key_id(y.data, y.len), pii_current_key_id(a));
    read_body(e->d, "sealed-c", &y);
    assert_int_equal(pii_blob_key_id(y.data, y.len), pii_current_key_id(c));

    rotate_ok(e->d, ba, 2, &n); /* still reported, nothing else done */
    assert_int_equal(n.rotated, 0);
    assert_int_equal(n.failed, 2);
    assert_int_equal(n.inbox_failed, 1);
    assert_int_equal(rotate_data_key(e->d, ba, 0, &n), PD_EINVAL);
    assert_int_equal(rotate_data_key(e->d, ba, ROTATE_BATCH_MAX + 1, &n),
                     PD_EINVAL);
    buf_free(&blob);
    buf_free(&x);
    buf_free(&y);
    pii_keys_free(a);
    pii_keys_free(ba);
    pii_keys_free(b);
    pii_keys_free(c);
}


#define DB_TEST(f) cmocka_unit_test_setup_teardown(f, env_setup_migrated, \
                                                    env_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        DB_TEST(test_rotate_a_to_b),
        DB_TEST(test_rotate_resumes),
        DB_TEST(test_rotate_unopenable),
    };
    int failed;

    log_setup(LOG_ERROR, false);
    failed = run_pii_tests();
    failed += env_run_groups("rotate", tests, ENV_COUNT(tests), tests,
                             ENV_COUNT(tests));
    return failed != 0;
}
