/*
 * test_privacy.c — the compliance topics (topic_privacy.c) on SQLite and
 * PostgreSQL (TEST_PG_URL), with a file store and real sealed PII: the
 * data export, a customer's redaction (shared objects kept), the shop's
 * erasure, app/uninstalled, and payloads that must be refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../db/db_env.h"

#include "common/err.h"
#include "common/util.h"
#include "crypto/pii.h"
#include "obs/log.h"
#include "store/store.h"
#include "webhooks/webhooks_internal.h"

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SHOP "perkieprints.myshopify.com"
#define DATA_KEY                                                            \
    "00112233445566778899aabbccddeeff0f1e2d3c4b5a69788796a5b4c3d2e1f0"
#define NEW_KEY                                                             \
    "ffeeddccbbaa99887766554433221100f0e1d2c3b4a5968778695a4b3c2d1e0f"

/* Shopify ids above 2^53: a double would round them. */
#define ALICE_ID 9007199254740993LL
#define ORDER_A1 9007199254740995LL /* listed in requests */
#define ORDER_A2 9007199254740997LL /* found by e-mail only */
#define ORDER_B1 9007199254740999LL

/* ---- fixture ---------------------------------------------------------- */

struct fixture {
    struct env *e;
    char dir[256]; /* the store's folder */
    store *s;
    pii_keys *k;
    struct webhook_env wenv;
    int64_t a1, a2, b1; /* our ids of the three orders */
};

static void seed(struct fixture *f);

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    const char *tmp = getenv("TMPDIR");
    char url[300], err[256];
    void *es = NULL;

    assert_non_null(f);
    if (env_setup_migrated(&es) != 0)
        return -1;
    f->e = es;
    snprintf(f->dir, sizeof(f->dir), "%s/pd-privacy-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    snprintf(url, sizeof(url), "file:%s", f->dir);
    assert_int_equal(store_open(url, &f->s, err, sizeof(err)), 0);
    assert_int_equal(pii_keys_load(DATA_KEY, NULL, &f->k), 0);
    f->wenv = (struct webhook_env){.store = f->s, .keys = f->k,
                                   .shop = SHOP};
    seed(f);
    *state = f;
    return 0;
}

static int
remove_one(const char *path, const struct stat *st, int flag,
           struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    void *es;

    if (f == NULL)
        return 0;
    es = f->e;
    store_close(f->s);
    pii_keys_free(f->k);
    nftw(f->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    env_teardown(&es);
    free(f);
    *state = NULL;
    return 0;
}

/* ---- seeding ---------------------------------------------------------- */

struct person {
    const char *name, *email, *phone, *address;
};

static const struct person alice = {
    "Alice Liddell", "Alice@Example.com", "+1 555 625 1199",
    "{\"address1\":\"1 Rabbit Hole\",\"city\":\"Oxford\"}"};
static const struct person bob = {
    "Bob Builder", "bob@example.net", "+1 555 000 0001",
    "{\"address1\":\"2 Yard Lane\",\"city\":\"Leeds\"}"};

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

static void
seal(struct fixture *f, const char *plain, pd_buf *out)
{
    buf_init(out);
    assert_int_equal(pii_seal(f->k, plain, strlen(plain), out), 0);
}

static int64_t
add_order(struct fixture *f, int64_t number, int64_t shopify_id,
          const struct person *p, const char *pet)
{
    static const char sql[] =
        "INSERT INTO orders (shopify_id, order_number, name, status, "
        "created_at, updated_at, customer_name_enc, email_enc, phone_enc, "
        "address_enc, pii_key_id, email_bidx, note, search_text) VALUES "
        "(?, ?, ?, 'in_production', 1000, 1000, ?, ?, ?, ?, ?, ?, "
        "'ring twice, ask for me', ?) RETURNING id";
    unsigned char bidx[PII_INDEX_LEN];
    char name[16], search[96];
    pd_buf b[4];
    int64_t id;

    snprintf(name, sizeof(name), "#%lld", (long long)number);
    snprintf(search, sizeof(search), "#%lld %lld %s ring twice",
             (long long)number, (long long)number, pet);
    seal(f, p->name, &b[0]);
    seal(f, p->email, &b[1]);
    seal(f, p->phone, &b[2]);
    seal(f, p->address, &b[3]);
    pii_email_index(f->k, p->email, bidx);
    id = insert_id(f->e->d, sql, (db_arg[]){
        DB_INT(shopify_id), DB_INT(number), DB_TEXT(name),
        DB_BLOB(b[0].data, b[0].len), DB_BLOB(b[1].data, b[1].len),
        DB_BLOB(b[2].data, b[2].len), DB_BLOB(b[3].data, b[3].len),
        DB_INT(pii_current_key_id(f->k)), DB_BLOB(bidx, sizeof(bidx)),
        DB_TEXT(search)}, 10);
    for (int i = 0; i < 4; i++)
        buf_free(&b[i]);
    return id;
}

static void
put_object(struct fixture *f, const char *key)
{
    assert_int_equal(store_put_bytes(f->s, key, key, strlen(key)), 0);
}

static bool
object_exists(struct fixture *f, const char *key)
{
    struct store_stat st;

    return store_stat(f->s, key, &st) == 0;
}

/* An image row (and its stored objects: original and a thumbnail). */
static void
add_image(struct fixture *f, const char *id, const char *session,
          const char *kind, int64_t order_id, const char *key)
{
    char thumb[96];

    snprintf(thumb, sizeof(thumb), "%s.thumb.jpg", key);
    env_exec_ok(f->e->d, "INSERT INTO images (id, session_id, kind, "
                         "order_id, object_key, thumb_key, tier, bytes, "
                         "sha256, created_at) VALUES (?, ?, ?, ?, ?, ?, "
                         "'order_pending', 2048, ?, 2000)",
                (db_arg[]){DB_TEXT(id), DB_TEXT(session), DB_TEXT(kind),
                           order_id > 0 ? DB_INT(order_id) : DB_NULL,
                           DB_TEXT(key), DB_TEXT(thumb), DB_TEXT(id)}, 7);
    put_object(f, key);
    put_object(f, thumb);
}

/* One pet with an original and a cut-out, its session, a note and a
 * history row. shared_cutout: the cut-out's object key. */
static void
add_pet_and_more(struct fixture *f, int64_t order_id, const char *tag,
                 const char *pet, const char *shared_cutout)
{
    char session[32], orig[32], cut[32], orig_key[96], cut_key[96];
    db *d = f->e->d;

    snprintf(session, sizeof(session), "sess-%s", tag);
    snprintf(orig, sizeof(orig), "img-%s-o", tag);
    snprintf(cut, sizeof(cut), "img-%s-p", tag);
    snprintf(orig_key, sizeof(orig_key), "order_pending/%s.jpg", orig);
    snprintf(cut_key, sizeof(cut_key), "order_pending/%s.png", cut);
    add_image(f, orig, session, "original", order_id, orig_key);
    add_image(f, cut, session, "processed", order_id,
              shared_cutout ? shared_cutout : cut_key);
    env_exec_ok(d, "INSERT INTO pets (order_id, pet_name, print_size, "
                   "session_id, original_image_id, processed_image_id) "
                   "VALUES (?, ?, '8x10', ?, ?, ?)",
                (db_arg[]){DB_INT(order_id), DB_TEXT(pet), DB_TEXT(session),
                           DB_TEXT(orig), DB_TEXT(cut)}, 5);
    env_exec_ok(d, "INSERT INTO upload_sessions (id, created_at, "
                   "last_seen_at, client_addr) VALUES (?, 1, 2, "
                   "'203.0.113.7')", (db_arg[]){DB_TEXT(session)}, 1);
    env_exec_ok(d, "INSERT INTO notes (order_id, author, body, created_at) "
                   "VALUES (?, 'staff:1', ?, 3000)",
                (db_arg[]){DB_INT(order_id), DB_TEXT(pet)}, 2);
    env_exec_ok(d, "INSERT INTO status_history (order_id, from_status, "
                   "to_status, actor, at) VALUES (?, 'pending', "
                   "'in_production', 'staff:1', 4000)",
                (db_arg[]){DB_INT(order_id)}, 1);
}

/*
 * Alice: #1001 (Rex; plus a photo uploaded in its session but never
 * linked) and #1002 (Tom). Bob: #1003 (Fido), whose cut-out row names
 * the same stored object as Alice's #1001 cut-out.
 */
static void
seed(struct fixture *f)
{
    f->a1 = add_order(f, 1001, ORDER_A1, &alice, "rex");
    f->a2 = add_order(f, 1002, ORDER_A2, &alice, "tom");
    f->b1 = add_order(f, 1003, ORDER_B1, &bob, "fido");
    add_pet_and_more(f, f->a1, "a1", "Rex", "order_pending/shared.png");
    add_image(f, "img-a1-extra", "sess-a1", "original", 0,
              "temporary/img-a1-extra.jpg");
    add_pet_and_more(f, f->a2, "a2", "Tom", NULL);
    add_pet_and_more(f, f->b1, "b1", "Fido", "order_pending/shared.png");
    env_exec_ok(f->e->d, "INSERT INTO staff (id_kind, external_id, role, "
                         "created_at) VALUES ('customer', '42', 'admin', 1)",
                NULL, 0);
}

/* ---- applying a delivery the way the inbox does ---------------------- */

static int
apply(struct fixture *f, webhook_topic_fn fn, const char *topic,
      const char *json, char *reason, size_t len)
{
    struct webhook_delivery w = {.inbox_id = 0, .topic = topic,
                                 .shop = SHOP, .api_version = "2025-07",
                                 .webhook_id = "wh-test"};
    json_error_t jerr;
    json_t *p = json_loads(json, JSON_DECODE_ANY, &jerr);
    db *d = f->e->d;
    int rc;

    if (p == NULL)
        print_error("bad test JSON: %s\n", jerr.text);
    assert_non_null(p);
    reason[0] = '\0';
    assert_int_equal(db_begin_write(d), 0);
    rc = fn(d, &f->wenv, &w, p, reason, len);
    if (rc == PD_OK) {
        assert_int_equal(db_commit(d), 0);
    } else {
        assert_int_equal(db_rollback(d), 0);
        if (rc != PD_EINVAL)
            print_error("%s: %d (%s) %s\n", topic, rc, reason,
                        db_errmsg(d));
    }
    json_decref(p);
    return rc;
}

static const char data_request_json[] =
    "{\"shop_id\": 954889, \"shop_domain\": \"" SHOP "\", "
    "\"orders_requested\": [9007199254740995, 299938], "
    "\"customer\": {\"id\": 9007199254740993, "
    "\"email\": \" alice@EXAMPLE.com\", \"phone\": \"555-625-1199\"}, "
    "\"data_request\": {\"id\": 9999}}";

static const char redact_alice_json[] =
    "{\"shop_id\": 954889, \"shop_domain\": \"" SHOP "\", "
    "\"customer\": {\"id\": 9007199254740993, "
    "\"email\": \"alice@example.com\", \"phone\": \"555-625-1199\"}, "
    "\"orders_to_redact\": [9007199254740995]}";

static const char redact_bob_json[] =
    "{\"shop_domain\": \"" SHOP "\", "
    "\"customer\": {\"id\": \"77\", \"email\": null}, "
    "\"orders_to_redact\": [9007199254740999]}";

static int
run_ok(struct fixture *f, webhook_topic_fn fn, const char *topic,
       const char *json)
{
    char reason[256];
    int rc = apply(f, fn, topic, json, reason, sizeof(reason));

    assert_int_equal(rc, PD_OK);
    return rc;
}

static int64_t
count(struct fixture *f, const char *sql)
{
    return env_int(f->e->d, sql, NULL, 0);
}

static int64_t
count_for(struct fixture *f, const char *sql, int64_t id)
{
    return env_int(f->e->d, sql, (db_arg[]){DB_INT(id)}, 1);
}

/* The text of the first column of the first row sql returns. */
static char *
text_of(struct fixture *f, const char *sql, const db_arg *a, int n)
{
    db_rows *r = NULL;
    char *s;

    assert_int_equal(db_query(f->e->d, sql, a, n, &r), 0);
    assert_int_equal(db_step(r), 1);
    s = strdup(db_col_text(r, 0));
    db_rows_free(r);
    assert_non_null(s);
    return s;
}

/* Reads a stored object whole (at most 1 MiB); the caller frees it. */
static char *
read_object(struct fixture *f, const char *key)
{
    store_reader *r = NULL;
    size_t len = 0, cap = 1 << 20;
    char *buf = malloc(cap + 1);
    ssize_t n;

    assert_non_null(buf);
    assert_int_equal(store_get(f->s, key, 0, -1, &r), 0);
    while ((n = store_read(r, buf + len, cap - len)) > 0)
        len += (size_t)n;
    store_reader_close(r);
    assert_true(n == 0);
    buf[len] = '\0';
    return buf;
}

/* The decrypted e-mail of order id ("" when erased). */
static void
email_of(struct fixture *f, int64_t id, char *out, size_t len)
{
    db_rows *r = NULL;
    pd_buf plain;
    const void *blob;
    size_t n = 0;

    out[0] = '\0';
    assert_int_equal(db_query(f->e->d, "SELECT email_enc FROM orders "
                              "WHERE id = ?", (db_arg[]){DB_INT(id)}, 1, &r),
                     0);
    assert_int_equal(db_step(r), 1);
    if (!db_col_null(r, 0)) {
        blob = db_col_blob(r, 0, &n);
        buf_init(&plain);
        assert_int_equal(pii_open(f->k, blob, n, &plain), 0);
        snprintf(out, len, "%s", buf_cstr(&plain));
        buf_free(&plain);
    }
    db_rows_free(r);
}

/* ---- customers/data_request ------------------------------------------- */

static const json_t *
order_named(const json_t *orders, const char *name)
{
    size_t i;
    json_t *o;

    json_array_foreach(orders, i, o)
        if (strcmp(json_string_value(json_object_get(o, "name")), name) == 0)
            return o;
    return NULL;
}

static void
check_alice_order(const json_t *o)
{
    const json_t *c = json_object_get(o, "customer");
    const json_t *pets = json_object_get(o, "pets");
    const json_t *images = json_object_get(o, "images");

    assert_non_null(o);
    assert_true(json_integer_value(json_object_get(o, "shopify_id")) ==
                ORDER_A1);
    assert_string_equal(json_string_value(json_object_get(c, "email")),
                        "Alice@Example.com");
    assert_string_equal(json_string_value(json_object_get(c, "name")),
                        "Alice Liddell");
    assert_string_equal(json_string_value(json_object_get(c, "phone")),
                        "+1 555 625 1199");
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(c, "address"), "city")),
                        "Oxford");
    assert_int_equal(json_array_size(pets), 1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(pets, 0), "pet_name")), "Rex");
    /* original, cut-out, and the unlinked upload of the same session */
    assert_int_equal(json_array_size(images), 3);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(images, 0), "sha256")),
                        "img-a1-extra");
    assert_int_equal(json_array_size(json_object_get(o, "notes")), 1);
    assert_int_equal(json_array_size(json_object_get(o, "status_history")),
                     1);
    assert_string_equal(json_string_value(json_object_get(
                            json_array_get(json_object_get(
                                o, "upload_sessions"), 0), "client_addr")),
                        "203.0.113.7");
}

/* Runs the data request; returns the export's key (caller frees). */
static char *
request_export(struct fixture *f)
{
    run_ok(f, webhook_data_request, "customers/data_request",
           data_request_json);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM data_exports WHERE "
                              "customer_ref = 'customer:9007199254740993' "
                              "AND requested_by = 'shopify'"), 1);
    return text_of(f, "SELECT object_key FROM data_exports", NULL, 0);
}

static void
test_data_request(void **state)
{
    struct fixture *f = *state;
    char *key = request_export(f), *text, *detail;
    json_t *root;

    assert_true(strncmp(key, "exports/data-request-9999-", 26) == 0);
    text = read_object(f, key);
    root = json_loads(text, 0, NULL);
    assert_non_null(root);
    assert_int_equal(json_integer_value(json_object_get(root,
                                                        "data_request_id")),
                     9999);
    /* #1001 by id, #1002 by e-mail (any case), never Bob's #1003 */
    assert_int_equal(json_array_size(json_object_get(root, "orders")), 2);
    check_alice_order(order_named(json_object_get(root, "orders"), "#1001"));
    assert_non_null(order_named(json_object_get(root, "orders"), "#1002"));
    assert_null(strstr(text, "bob@example.net"));
    assert_null(strstr(text, "Fido"));
    /* the audit names the export and holds no PII */
    detail = text_of(f, "SELECT detail FROM audit_log WHERE action = "
                        "'shopify.data_request'", NULL, 0);
    assert_non_null(strstr(detail, key));
    assert_null(strcasestr(detail, "alice"));
    free(detail);
    json_decref(root);
    free(text);
    free(key);
}

/* ---- customers/redact ------------------------------------------------- */

static void
check_redacted(struct fixture *f, int64_t id, const char *search)
{
    char email[128], *s;

    email_of(f, id, email, sizeof(email));
    assert_string_equal(email, "");
    assert_int_equal(count_for(f, "SELECT COUNT(*) FROM orders WHERE "
                                  "id = ? AND status = 'in_production' AND "
                                  "customer_name_enc IS NULL AND "
                                  "phone_enc IS NULL AND address_enc IS "
                                  "NULL AND email_bidx IS NULL AND note IS "
                                  "NULL", id), 1);
    assert_int_equal(count_for(f, "SELECT COUNT(*) FROM pets WHERE "
                                  "order_id = ? AND pet_name IS NULL AND "
                                  "print_size = '8x10'", id), 1);
    assert_int_equal(count_for(f, "SELECT COUNT(*) FROM notes WHERE "
                                  "order_id = ?", id), 0);
    assert_int_equal(count_for(f, "SELECT COUNT(*) FROM images WHERE "
                                  "order_id = ?", id), 0);
    assert_int_equal(count_for(f, "SELECT COUNT(*) FROM status_history "
                                  "WHERE order_id = ?", id), 1);
    s = text_of(f, "SELECT search_text FROM orders WHERE id = ?",
                (db_arg[]){DB_INT(id)}, 1);
    assert_string_equal(s, search);
    free(s);
}

static void
check_bob_untouched(struct fixture *f)
{
    char email[128];

    email_of(f, f->b1, email, sizeof(email));
    assert_string_equal(email, "bob@example.net");
    assert_int_equal(count_for(f, "SELECT COUNT(*) FROM pets WHERE "
                                  "order_id = ? AND pet_name = 'Fido'",
                               f->b1), 1);
    assert_int_equal(count_for(f, "SELECT COUNT(*) FROM images WHERE "
                                  "order_id = ?", f->b1), 2);
    assert_true(object_exists(f, "order_pending/img-b1-o.jpg"));
    assert_true(object_exists(f, "order_pending/img-b1-o.jpg.thumb.jpg"));
}

static void
test_customer_redact(void **state)
{
    struct fixture *f = *state;
    char *export_key = request_export(f), *detail;

    run_ok(f, webhook_customer_redact, "customers/redact",
           redact_alice_json);
    check_redacted(f, f->a1, "#1001 1001");
    check_redacted(f, f->a2, "#1002 1002");
    assert_int_equal(count(f, "SELECT COUNT(*) FROM orders"), 3);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM upload_sessions WHERE "
                              "client_addr IS NOT NULL"), 1);
    /* Alice's photos are gone, the object Bob's row names stays */
    assert_false(object_exists(f, "order_pending/img-a1-o.jpg"));
    assert_false(object_exists(f, "order_pending/img-a1-o.jpg.thumb.jpg"));
    assert_false(object_exists(f, "order_pending/img-a2-p.png"));
    assert_false(object_exists(f, "temporary/img-a1-extra.jpg"));
    assert_int_equal(count(f, "SELECT COUNT(*) FROM images WHERE id = "
                              "'img-a1-extra'"), 0);
    assert_true(object_exists(f, "order_pending/shared.png"));
    /* her earlier export held her PII: it went too */
    assert_false(object_exists(f, export_key));
    assert_int_equal(count(f, "SELECT COUNT(*) FROM data_exports"), 0);
    check_bob_untouched(f);
    /* both audit rows remain; the new one names orders, not PII */
    assert_int_equal(count(f, "SELECT COUNT(*) FROM audit_log"), 2);
    detail = text_of(f, "SELECT detail FROM audit_log WHERE action = "
                        "'shopify.customer_redact'", NULL, 0);
    assert_non_null(strstr(detail, "9007199254740995"));
    assert_null(strcasestr(detail, "alice"));
    assert_null(strstr(detail, "Rex"));
    free(detail);
    free(export_key);
}

/* Once the last row naming the shared object goes, so does the object. */
static void
test_redact_frees_shared_object_last(void **state)
{
    struct fixture *f = *state;

    run_ok(f, webhook_customer_redact, "customers/redact",
           redact_alice_json);
    assert_true(object_exists(f, "order_pending/shared.png"));
    run_ok(f, webhook_customer_redact, "customers/redact", redact_bob_json);
    assert_false(object_exists(f, "order_pending/shared.png"));
    assert_false(object_exists(f, "order_pending/img-b1-o.jpg"));
    check_redacted(f, f->b1, "#1003 1003");
    /* applying it again changes nothing and still succeeds */
    run_ok(f, webhook_customer_redact, "customers/redact", redact_bob_json);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM orders"), 3);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM audit_log WHERE "
                              "action = 'shopify.customer_redact'"), 3);
}

/* ---- shop/redact ------------------------------------------------------ */

static int
count_object(void *ctx, const char *key, const struct store_stat *st)
{
    (void)key;
    (void)st;
    (*(int *)ctx)++;
    return 0;
}

static int
stored_objects(struct fixture *f)
{
    int n = 0;

    assert_int_equal(store_list(f->s, "", count_object, &n), 0);
    return n;
}

static void
add_inbox_row(struct fixture *f, const char *id, const char *state)
{
    env_exec_ok(f->e->d, "INSERT INTO webhook_inbox (webhook_id, topic, "
                         "body, received_at, state) VALUES (?, "
                         "'orders/create', ?, 1, ?)",
                (db_arg[]){DB_TEXT(id), DB_BLOB("alice@example.com", 17),
                           DB_TEXT(state)}, 3);
}

static void
test_shop_redact(void **state)
{
    struct fixture *f = *state;
    char *key = request_export(f);

    add_inbox_row(f, "old-applied", "applied");
    add_inbox_row(f, "old-pending", "received");
    put_object(f, "temporary/orphan-of-a-crash.jpg");
    assert_int_equal(stored_objects(f), 14);
    run_ok(f, webhook_shop_redact, "shop/redact",
           "{\"shop_id\": 954889, "
           "\"shop_domain\": \"PerkiePrints.myshopify.com\"}");
    assert_int_equal(count(f, "SELECT COUNT(*) FROM orders"), 0);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM images"), 0);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM pets"), 0);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM notes"), 0);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM upload_sessions"), 0);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM data_exports"), 0);
    assert_int_equal(stored_objects(f), 0);
    assert_false(object_exists(f, key));
    /* the inbox keeps its ids but not the bodies; nothing left to apply */
    assert_int_equal(count(f, "SELECT COUNT(*) FROM webhook_inbox"), 2);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM webhook_inbox WHERE "
                              "length(body) > 0 OR state = 'received'"), 0);
    /* staff and the audit trail stay */
    assert_int_equal(count(f, "SELECT COUNT(*) FROM staff"), 1);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM audit_log WHERE action "
                              "IN ('shopify.data_request', "
                              "'shopify.shop_redact')"), 2);
    free(key);
}

/* ---- app/uninstalled -------------------------------------------------- */

static void
test_app_uninstalled(void **state)
{
    struct fixture *f = *state;
    char *detail;

    run_ok(f, webhook_app_uninstalled, "app/uninstalled",
           "{\"id\": 954889, \"name\": \"Perkie Prints\", "
           "\"myshopify_domain\": \"" SHOP "\"}");
    detail = text_of(f, "SELECT detail FROM audit_log WHERE action = "
                        "'shopify.app_uninstalled' AND target_id = '" SHOP
                        "'", NULL, 0);
    assert_non_null(strstr(detail, "954889"));
    free(detail);
    /* nothing else stops or goes */
    assert_int_equal(count(f, "SELECT COUNT(*) FROM orders WHERE "
                              "email_enc IS NOT NULL"), 3);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM images"), 7);
}

/* ---- refused payloads ------------------------------------------------- */

struct refusal {
    webhook_topic_fn fn;
    const char *json;
    const char *reason; /* a part of the reason */
};

static const struct refusal refusals[] = {
    {webhook_shop_redact, "{\"shop_id\": 1, \"shop_domain\": "
     "\"other.myshopify.com\"}", "other.myshopify.com"},
    {webhook_shop_redact, "{\"shop_id\": 954889}", "shop_domain"},
    {webhook_shop_redact, "[]", "JSON object"},
    {webhook_data_request, "{\"shop_domain\": \"other.myshopify.com\", "
     "\"customer\": {\"id\": 1}, \"data_request\": {\"id\": 2}}",
     "other.myshopify.com"},
    {webhook_data_request, "{\"customer\": {\"id\": 1}}", "data_request"},
    {webhook_data_request, "{\"data_request\": {\"id\": 2}}", "customer"},
    {webhook_data_request, "{\"customer\": {\"id\": 1.5}, "
     "\"data_request\": {\"id\": 2}}", "customer.id"},
    {webhook_customer_redact, "{\"customer\": {\"email\": "
     "\"alice@example.com\"}, \"orders_to_redact\": []}", "customer.id"},
    {webhook_customer_redact, "{\"customer\": {\"id\": 1}, "
     "\"orders_to_redact\": 9007199254740995}", "orders_to_redact"},
    {webhook_customer_redact, "{\"customer\": {\"id\": 1}, "
     "\"orders_to_redact\": [9007199254740995, \"x\"]}",
     "orders_to_redact[1]"},
    {webhook_customer_redact, "{\"customer\": {\"id\": 1, \"email\": 5}}",
     "customer.email"},
    {webhook_app_uninstalled, "\"shop\"", "JSON object"},
};

static void
test_refused_payloads(void **state)
{
    struct fixture *f = *state;
    char reason[256];

    for (size_t i = 0; i < sizeof(refusals) / sizeof(refusals[0]); i++) {
        int rc = apply(f, refusals[i].fn, "refused", refusals[i].json,
                       reason, sizeof(reason));

        if (rc != PD_EINVAL || strstr(reason, refusals[i].reason) == NULL)
            print_error("case %zu: rc %d, reason \"%s\"\n", i, rc, reason);
        assert_int_equal(rc, PD_EINVAL);
        assert_non_null(strstr(reason, refusals[i].reason));
    }
    /* nothing was changed or recorded */
    assert_int_equal(count(f, "SELECT COUNT(*) FROM orders WHERE "
                              "email_enc IS NOT NULL"), 3);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM audit_log"), 0);
    assert_int_equal(stored_objects(f), 12);
}

/* A request that matches nothing still records itself. */
static void
test_unknown_customer(void **state)
{
    struct fixture *f = *state;

    run_ok(f, webhook_customer_redact, "customers/redact",
           "{\"customer\": {\"id\": 5, \"email\": \"nobody@example.org\"}, "
           "\"orders_to_redact\": [123]}");
    assert_int_equal(count(f, "SELECT COUNT(*) FROM orders WHERE "
                              "email_enc IS NOT NULL"), 3);
    assert_int_equal(stored_objects(f), 12);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM audit_log WHERE "
                              "action = 'shopify.customer_redact'"), 1);
}

/* During a key rotation, data sealed and indexed under the previous key
 * is still found by e-mail and decrypted. */
static void
test_previous_key(void **state)
{
    struct fixture *f = *state;
    pii_keys *rotated = NULL;
    char *key, *text;
    json_t *root;

    assert_int_equal(pii_keys_load(NEW_KEY, DATA_KEY, &rotated),
                     0);
    f->wenv.keys = rotated;
    key = request_export(f);
    text = read_object(f, key);
    root = json_loads(text, 0, NULL);
    assert_int_equal(json_array_size(json_object_get(root, "orders")), 2);
    check_alice_order(order_named(json_object_get(root, "orders"), "#1001"));
    json_decref(root);
    free(text);
    free(key);
    run_ok(f, webhook_customer_redact, "customers/redact",
           "{\"customer\": {\"id\": 1, \"email\": \"BOB@example.net\"}}");
    check_redacted(f, f->b1, "#1003 1003");
    f->wenv.keys = f->k;
    pii_keys_free(rotated);
}


#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_data_request),     T(test_customer_redact),
        T(test_redact_frees_shared_object_last),
        T(test_shop_redact),      T(test_app_uninstalled),
        T(test_refused_payloads), T(test_unknown_customer),
        T(test_previous_key),
    };
    int failed;

    log_setup(LOG_ERROR, false);
    failed = env_run_groups("privacy", tests, ENV_COUNT(tests), tests,
                            ENV_COUNT(tests));
    return failed != 0;
}
