/*
 * topic_privacy.c — the erasing topics: customers/redact (a customer's
 * PII and photos), shop/redact (all of the shop's data) and
 * app/uninstalled (audited). Each runs in the inbox's transaction.
 */
#include "webhooks/privacy_common.h"

#include "common/err.h"
#include "common/util.h"
#include "obs/log.h"

#include <stdio.h>
#include <string.h>

/* ---- customers/redact ------------------------------------------------- */

struct redaction {
    struct ids orders;  /* our ids of the orders redacted */
    struct strs keys;   /* stored objects that may be freed */
    int64_t images;     /* image rows deleted */
    int64_t exports;    /* data exports deleted */
    int64_t objects;    /* stored objects deleted */
};

/* Deletes the order's images rows, keeping their object keys in keys. */
static int
drop_order_images(db *d, int64_t id, struct redaction *x)
{
    static const char sql[] =
        PRIVACY_ORDER_IMAGES("i.id, i.object_key, i.thumb_key, i.preview_key");
    db_arg args[4] = {DB_INT(id), DB_INT(id), DB_INT(id), DB_INT(id)};
    struct strs image_ids = {0};
    db_rows *r = NULL;
    int rc = db_query(d, sql, args, 4, &r);

    while (rc == PD_OK && (rc = db_step(r)) == 1) {
        rc = privacy_strs_add(&image_ids, db_col_text(r, 0));
        for (int c = 1; rc == PD_OK && c <= 3; c++)
            if (!db_col_null(r, c))
                rc = privacy_strs_add(&x->keys, db_col_text(r, c));
    }
    db_rows_free(r);
    for (size_t i = 0; rc >= 0 && i < image_ids.n; i++)
        rc = db_exec(d, "DELETE FROM images WHERE id = ?",
                     (db_arg[]){DB_TEXT(image_ids.v[i])}, 1, NULL);
    if (rc >= 0)
        x->images += (int64_t)image_ids.n;
    privacy_strs_free(&image_ids);
    return rc < 0 ? rc : PD_OK;
}

/* What customers/redact clears of an order; every `?` is its id. */
static const char *const redact_sql[] = {
    "DELETE FROM notes WHERE order_id = ?",
    "UPDATE pets SET pet_name = NULL WHERE order_id = ?",
    "UPDATE upload_sessions SET client_addr = NULL WHERE id IN "
    "(SELECT session_id FROM pets WHERE order_id = ?)",
    "DELETE FROM tus_uploads WHERE session_id IN "
    "(SELECT session_id FROM pets WHERE order_id = ?)",
    /* What stays searchable: the order's name and number. */
    "UPDATE orders SET customer_name_enc = NULL, email_enc = NULL, "
    "phone_enc = NULL, address_enc = NULL, pii_key_id = NULL, "
    "email_bidx = NULL, note = NULL, search_text = lower(name) || ' ' || "
    "COALESCE(CAST(order_number AS TEXT), '') WHERE id = ?",
};

/*
 * Erases one order's customer data: PII, note, notes, pet names, photos
 * (rows now, objects later), upload records. The order row, its status,
 * history and pets' products stay, anonymous.
 */
static int
redact_order(db *d, int64_t id, int64_t now, struct redaction *x)
{
    static const char staging[] =
        "SELECT object_key FROM tus_parts WHERE upload_id IN "
        "(SELECT id FROM tus_uploads WHERE session_id IN "
        "(SELECT session_id FROM pets WHERE order_id = ?))";
    int rc = privacy_collect_texts(d, staging, (db_arg[]){DB_INT(id)}, 1,
                                   &x->keys);

    if (rc == PD_OK)
        rc = drop_order_images(d, id, x);
    for (size_t i = 0; rc == PD_OK &&
                       i < sizeof(redact_sql) / sizeof(redact_sql[0]); i++)
        rc = db_exec(d, redact_sql[i], (db_arg[]){DB_INT(id)}, 1, NULL);
    if (rc == PD_OK)
        rc = db_exec(d, "UPDATE orders SET updated_at = ? WHERE id = ?",
                     (db_arg[]){DB_INT(now), DB_INT(id)}, 2, NULL);
    return rc;
}

/* Earlier exports of the customer hold their PII: rows and files go. */
static int
drop_exports(db *d, int64_t customer_id, struct redaction *x)
{
    char ref[40];
    db_arg arg;
    int rc;

    snprintf(ref, sizeof(ref), "customer:%lld", (long long)customer_id);
    arg = DB_TEXT(ref);
    rc = privacy_collect_texts(d, "SELECT object_key FROM data_exports "
                                  "WHERE customer_ref = ?", &arg, 1,
                               &x->keys);
    if (rc == PD_OK)
        rc = db_exec(d, "DELETE FROM data_exports WHERE customer_ref = ?",
                     &arg, 1, &x->exports);
    return rc;
}

static int
audit_redaction(db *d, const struct customer_req *req,
                const struct redaction *x)
{
    char target[24];

    snprintf(target, sizeof(target), "%lld", (long long)req->customer_id);
    return privacy_audit_json(
        d, "shopify.customer_redact", "customer", target,
        json_pack("{s:I, s:o, s:o, s:I, s:I, s:I}",
                  "customer_id", (json_int_t)req->customer_id,
                  "orders_to_redact", privacy_ids_json(&req->shopify_ids),
                  "orders_redacted", privacy_ids_json(&x->orders),
                  "images_deleted", (json_int_t)x->images,
                  "objects_deleted", (json_int_t)x->objects,
                  "exports_deleted", (json_int_t)x->exports));
}

int
webhook_customer_redact(db *d, const struct webhook_env *env,
                        const struct webhook_delivery *w, json_t *payload,
                        char *reason, size_t reasonlen)
{
    struct customer_req req = {0};
    struct redaction x = {0};
    int64_t now = pd_now_ms();
    int rc;

    (void)w;
    rc = privacy_parse_customer_req(env, payload, "orders_to_redact", &req,
                                    reason, reasonlen);
    if (rc == PD_OK)
        rc = privacy_find_orders(d, env->keys, &req, &x.orders);
    for (size_t i = 0; rc == PD_OK && i < x.orders.n; i++)
        rc = redact_order(d, x.orders.v[i], now, &x);
    if (rc == PD_OK)
        rc = drop_exports(d, req.customer_id, &x);
    if (rc == PD_OK)
        rc = privacy_delete_objects(d, env->store, &x.keys, true, &x.objects);
    if (rc == PD_OK)
        rc = audit_redaction(d, &req, &x);
    if (rc == PD_OK)
        log_info("customers/redact: customer %lld, %zu orders, %lld "
                 "objects deleted", (long long)req.customer_id,
                 x.orders.n, (long long)x.objects);
    privacy_ids_free(&x.orders);
    privacy_strs_free(&x.keys);
    privacy_ids_free(&req.shopify_ids);
    return rc;
}

/* ---- shop/redact ------------------------------------------------------ */

/* Every key the database knows of a stored object. */
static const char *const shop_keys_sql[] = {
    "SELECT object_key FROM images",
    "SELECT thumb_key FROM images",
    "SELECT preview_key FROM images",
    "SELECT object_key FROM tus_parts",
    "SELECT object_key FROM data_exports",
};

/* What the audit row counts, read before the rows go. */
enum shop_count { ER_ORDERS, ER_IMAGES, ER_SESSIONS, ER_EXPORTS, ER_COUNT };
static const char *const shop_count_sql[ER_COUNT] = {
    [ER_ORDERS] = "SELECT COUNT(*) FROM orders",
    [ER_IMAGES] = "SELECT COUNT(*) FROM images",
    [ER_SESSIONS] = "SELECT COUNT(*) FROM upload_sessions",
    [ER_EXPORTS] = "SELECT COUNT(*) FROM data_exports",
};

/*
 * Everything the shop's customers left, in foreign-key order. Orders
 * take their pets, notes and status history with them (ON DELETE
 * CASCADE). Staff, locks and the audit log stay.
 */
static const char *const shop_erase_sqlite[] = {
    "DELETE FROM tus_parts",    "DELETE FROM tus_uploads",
    "DELETE FROM upload_sessions",
    "DELETE FROM orders",       "DELETE FROM images",
    "DELETE FROM data_exports", "DELETE FROM idempotency_keys",
};
/* The same on PostgreSQL, where deleting images row by row scans pets
 * for each (its image columns have no index): minutes for 60,000
 * images. No CASCADE: a new table that refers to these fails loudly
 * here instead of being emptied unseen. */
static const char shop_erase_pg[] =
    "TRUNCATE TABLE tus_parts, tus_uploads, upload_sessions, pets, notes, "
    "status_history, images, orders, data_exports, idempotency_keys";

/* The raw deliveries hold the same PII: their bodies are emptied, their
 * ids kept (so a retried delivery is still known), and those not
 * applied yet are not applied any more. */
static const char inbox_erase_sql[] =
    "UPDATE webhook_inbox SET body = ?, "
    "error = CASE WHEN state = 'received' THEN 'erased by shop/redact' "
    "ELSE error END, "
    "state = CASE WHEN state = 'received' THEN 'ignored' ELSE state END "
    "WHERE id <> ?";

struct shop_erasure {
    struct strs keys;
    int64_t counts[ER_COUNT];
    int64_t objects;
};

static int
erase_shop_rows(db *d, const struct webhook_delivery *w,
                struct shop_erasure *x)
{
    size_t nkeys = sizeof(shop_keys_sql) / sizeof(shop_keys_sql[0]);
    size_t nerase = sizeof(shop_erase_sqlite) / sizeof(shop_erase_sqlite[0]);
    bool pg = db_kind(d) == DB_POSTGRES;
    int rc = PD_OK;

    for (size_t i = 0; rc == PD_OK && i < nkeys; i++)
        rc = privacy_collect_texts(d, shop_keys_sql[i], NULL, 0, &x->keys);
    for (int i = 0; rc == PD_OK && i < ER_COUNT; i++)
        rc = db_query_int(d, shop_count_sql[i], NULL, 0, &x->counts[i]);
    if (rc == PD_OK && pg)
        rc = db_exec(d, shop_erase_pg, NULL, 0, NULL);
    for (size_t i = 0; rc == PD_OK && !pg && i < nerase; i++)
        rc = db_exec(d, shop_erase_sqlite[i], NULL, 0, NULL);
    if (rc == PD_OK)
        rc = db_exec(d, inbox_erase_sql,
                     (db_arg[]){DB_BLOB("", 0), DB_INT(w->inbox_id)}, 2,
                     NULL);
    return rc;
}

static int
list_one(void *ctx, const char *key, const struct store_stat *st)
{
    (void)st;
    return privacy_strs_add(ctx, key);
}

/* Adds every stored object under the tiers and the exports to keys:
 * with no rows left, none is anybody's (orphans of crashes included). */
static int
list_all_objects(store *s, struct strs *keys)
{
    static const char *const prefixes[] = {
        "temporary/", "order_pending/", "order_completed/", "archived/",
        "exports/",
    };
    int rc = PD_OK;

    for (size_t i = 0; rc == PD_OK && i < 5; i++)
        rc = store_list(s, prefixes[i], list_one, keys);
    return rc;
}

int
webhook_shop_redact(db *d, const struct webhook_env *env,
                    const struct webhook_delivery *w, json_t *payload,
                    char *reason, size_t reasonlen)
{
    struct shop_erasure x = {0};
    int rc = privacy_check_shop(env, payload, true, reason, reasonlen);

    if (rc == PD_OK)
        rc = erase_shop_rows(d, w, &x);
    if (rc == PD_OK)
        rc = list_all_objects(env->store, &x.keys);
    if (rc == PD_OK)
        rc = privacy_delete_objects(d, env->store, &x.keys, false, &x.objects);
    if (rc == PD_OK)
        rc = privacy_audit_json(
            d, "shopify.shop_redact", "shop", env->shop,
            json_pack("{s:I, s:I, s:I, s:I, s:I}",
                      "orders_deleted", (json_int_t)x.counts[ER_ORDERS],
                      "images_deleted", (json_int_t)x.counts[ER_IMAGES],
                      "upload_sessions_deleted",
                      (json_int_t)x.counts[ER_SESSIONS],
                      "exports_deleted", (json_int_t)x.counts[ER_EXPORTS],
                      "objects_deleted", (json_int_t)x.objects));
    if (rc == PD_OK)
        log_notice("shop/redact: %lld orders, %lld images and %lld stored "
                   "objects erased", (long long)x.counts[ER_ORDERS],
                   (long long)x.counts[ER_IMAGES], (long long)x.objects);
    privacy_strs_free(&x.keys);
    return rc;
}

/* ---- app/uninstalled -------------------------------------------------- */

int
webhook_app_uninstalled(db *d, const struct webhook_env *env,
                        const struct webhook_delivery *w, json_t *payload,
                        char *reason, size_t reasonlen)
{
    const char *shop = w->shop != NULL ? w->shop : env->shop;
    int64_t shop_id = 0;

    if (!json_is_object(payload))
        return privacy_invalid(reason, reasonlen,
                               "the payload is not a JSON object");
    if (!privacy_read_id(json_object_get(payload, "id"), &shop_id))
        shop_id = 0;
    log_notice("app/uninstalled from %s", shop ? shop : "the shop");
    return privacy_audit_json(d, "shopify.app_uninstalled", "shop", shop,
                              json_pack("{s:s?, s:I, s:s?}", "shop", shop,
                                        "shop_id", (json_int_t)shop_id,
                                        "webhook_id", w->webhook_id));
}