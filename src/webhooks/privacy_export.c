/*
 * privacy_export.c — customers/data_request: the export of what is
 * stored about a customer (orders, pets, images, notes, history, upload
 * sessions; PII decrypted) as JSON, recorded and put in storage.
 */
#include "webhooks/privacy_common.h"

#include "common/err.h"
#include "common/util.h"
#include "obs/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the export: rows as JSON ----------------------------------------- */

enum col_kind { COL_INT, COL_TEXT, COL_TIME };

struct col {
    const char *name;
    enum col_kind kind;
};

/* A JSON string of s; bytes that are not UTF-8 become '?'. */
static json_t *
text_json(const char *s)
{
    json_t *j = json_string(s);
    char *copy;

    if (j != NULL || (copy = strdup(s)) == NULL)
        return j;
    for (char *c = copy; *c != '\0'; c++)
        if ((unsigned char)*c >= 0x80)
            *c = '?';
    j = json_string(copy);
    free(copy);
    return j;
}

static json_t *
col_json(db_rows *r, int i, enum col_kind kind)
{
    char t[40];

    if (db_col_null(r, i))
        return json_null();
    if (kind == COL_INT)
        return json_integer(db_col_int(r, i));
    if (kind == COL_TEXT)
        return text_json(db_col_text(r, i));
    pd_format_time(t, db_col_int(r, i));
    return json_string(t);
}

/* Sets obj's fields from the row's first n columns, named by cols. */
static int
row_json(db_rows *r, const struct col *cols, int n, json_t *obj)
{
    for (int i = 0; i < n; i++)
        if (json_object_set_new(obj, cols[i].name,
                                col_json(r, i, cols[i].kind)) != 0)
            return PD_ENOMEM;
    return PD_OK;
}

/* One list an order's export holds; every `?` is the order's id. */
struct section {
    const char *key;
    const char *sql;
    int nargs;
    const struct col *cols;
    int ncols;
};

static const struct col pet_cols[] = {
    {"position", COL_INT},          {"pet_name", COL_TEXT},
    {"product_title", COL_TEXT},    {"variant_title", COL_TEXT},
    {"print_size", COL_TEXT},       {"quantity", COL_INT},
    {"line_item_id", COL_INT},      {"upload_session", COL_TEXT},
    {"original_image_id", COL_TEXT}, {"processed_image_id", COL_TEXT},
};
static const struct col image_cols[] = {
    {"id", COL_TEXT},   {"kind", COL_TEXT},   {"format", COL_TEXT},
    {"bytes", COL_INT}, {"width", COL_INT},   {"height", COL_INT},
    {"sha256", COL_TEXT}, {"tier", COL_TEXT}, {"created_at", COL_TIME},
};
static const struct col note_cols[] = {
    {"author", COL_TEXT}, {"body", COL_TEXT}, {"created_at", COL_TIME},
};
static const struct col history_cols[] = {
    {"from", COL_TEXT}, {"to", COL_TEXT}, {"actor", COL_TEXT},
    {"at", COL_TIME},
};
static const struct col session_cols[] = {
    {"id", COL_TEXT},          {"created_at", COL_TIME},
    {"last_seen_at", COL_TIME}, {"image_count", COL_INT},
    {"client_addr", COL_TEXT},
};

#define NCOLS(a) ((int)(sizeof(a) / sizeof((a)[0])))

static const struct section sections[] = {
    {"pets",
     "SELECT position, pet_name, product_title, variant_title, print_size, "
     "quantity, line_item_id, session_id, original_image_id, "
     "processed_image_id FROM pets WHERE order_id = ? ORDER BY position, id",
     1, pet_cols, NCOLS(pet_cols)},
    {"images",
     PRIVACY_ORDER_IMAGES("i.id, i.kind, i.format, i.bytes, i.width, "
                          "i.height, i.sha256, i.tier, i.created_at")
     " ORDER BY 9, 1",
     4, image_cols, NCOLS(image_cols)},
    {"notes",
     "SELECT author, body, created_at FROM notes WHERE order_id = ? "
     "ORDER BY created_at, id",
     1, note_cols, NCOLS(note_cols)},
    {"status_history",
     "SELECT from_status, to_status, actor, at FROM status_history "
     "WHERE order_id = ? ORDER BY at, id",
     1, history_cols, NCOLS(history_cols)},
    {"upload_sessions",
     "SELECT id, created_at, last_seen_at, image_count, client_addr "
     "FROM upload_sessions WHERE id IN (SELECT session_id FROM pets "
     "WHERE order_id = ?) ORDER BY created_at, id",
     1, session_cols, NCOLS(session_cols)},
};

/* Adds order[s->key]: an array of one object per row. */
static int
section_json(db *d, int64_t order_id, const struct section *s,
             json_t *order)
{
    db_arg args[4] = {DB_INT(order_id), DB_INT(order_id), DB_INT(order_id),
                      DB_INT(order_id)};
    json_t *arr = json_array(), *o;
    db_rows *r = NULL;
    int rc;

    if (json_object_set_new(order, s->key, arr) != 0)
        return PD_ENOMEM;
    rc = db_query(d, s->sql, args, s->nargs, &r);
    while (rc == PD_OK && (rc = db_step(r)) == 1) {
        o = json_object();
        rc = json_array_append_new(arr, o) == 0
                 ? row_json(r, s->cols, s->ncols, o)
                 : PD_ENOMEM;
    }
    db_rows_free(r);
    return rc < 0 ? rc : PD_OK;
}

/* The plain text of a sealed column; null when absent, or when it
 * cannot be opened (*unreadable is then set). NULL: out of memory. */
static json_t *
pii_json(const pii_keys *k, db_rows *r, int col, bool *unreadable)
{
    size_t len = 0;
    const void *blob;
    json_t *j;
    pd_buf plain;

    if (db_col_null(r, col))
        return json_null();
    blob = db_col_blob(r, col, &len);
    buf_init(&plain);
    if (pii_open(k, blob, len, &plain) == PD_OK) {
        j = plain.failed ? NULL : text_json(buf_cstr(&plain));
    } else {
        j = json_null();
        *unreadable = true;
    }
    buf_free(&plain);
    return j;
}

/* An address sealed as a JSON object is exported as that object. */
static json_t *
address_json(json_t *plain)
{
    json_t *o;

    if (!json_is_string(plain))
        return plain;
    o = json_loads(json_string_value(plain), 0, NULL);
    if (!json_is_object(o)) {
        json_decref(o);
        return plain;
    }
    json_decref(plain);
    return o;
}

static const struct col order_cols[] = {
    {"shopify_id", COL_INT},         {"name", COL_TEXT},
    {"order_number", COL_INT},       {"status", COL_TEXT},
    {"financial_status", COL_TEXT},  {"fulfillment_status", COL_TEXT},
    {"created_at", COL_TIME},        {"updated_at", COL_TIME},
    {"shopify_created_at", COL_TIME}, {"shopify_updated_at", COL_TIME},
    {"note", COL_TEXT},              {"tags", COL_TEXT},
    {"currency", COL_TEXT},          {"total_price", COL_TEXT},
};
#define ORDER_PII_COL NCOLS(order_cols)

/* The customer fields of an order row, decrypted, into o["customer"]. */
static int
customer_json(const pii_keys *k, db_rows *r, int64_t id, json_t *o)
{
    static const char *const names[] = {"name", "email", "phone",
                                        "address"};
    json_t *c = json_object();
    bool unreadable = false;

    if (json_object_set_new(o, "customer", c) != 0)
        return PD_ENOMEM;
    for (int i = 0; i < 4; i++) {
        json_t *v = pii_json(k, r, ORDER_PII_COL + i, &unreadable);

        if (i == 3)
            v = address_json(v);
        if (json_object_set_new(c, names[i], v) != 0)
            return PD_ENOMEM;
    }
    if (unreadable) {
        log_warn("data request: order %lld holds customer data that "
                 "cannot be decrypted (its key is not loaded)",
                 (long long)id);
        if (json_object_set_new(o, "customer_data_unreadable",
                                json_true()) != 0)
            return PD_ENOMEM;
    }
    return PD_OK;
}

static int
order_row_json(db *d, const pii_keys *k, int64_t id, json_t *o)
{
    static const char sql[] =
        "SELECT shopify_id, name, order_number, status, financial_status, "
        "fulfillment_status, created_at, updated_at, shopify_created_at, "
        "shopify_updated_at, note, tags, currency, total_price, "
        "customer_name_enc, email_enc, phone_enc, address_enc "
        "FROM orders WHERE id = ?";
    db_rows *r = NULL;
    int rc = db_query(d, sql, (db_arg[]){DB_INT(id)}, 1, &r);

    if (rc == PD_OK && (rc = db_step(r)) == 1) {
        rc = row_json(r, order_cols, NCOLS(order_cols), o);
        if (rc == PD_OK)
            rc = customer_json(k, r, id, o);
    } else if (rc == 0) {
        rc = PD_ENOTFOUND;
    }
    db_rows_free(r);
    return rc;
}

/* Appends one order, with its lists, to the array orders. */
static int
order_json(db *d, const pii_keys *k, int64_t id, json_t *orders)
{
    json_t *o = json_object();
    int rc;

    if (json_array_append_new(orders, o) != 0)
        return PD_ENOMEM;
    rc = order_row_json(d, k, id, o);
    for (size_t i = 0; rc == PD_OK && i < sizeof(sections) /
                                          sizeof(sections[0]); i++)
        rc = section_json(d, id, &sections[i], o);
    return rc;
}

/* The whole export; *out is freed by the caller (json_decref). */
static int
build_export(db *d, const struct webhook_env *env,
             const struct customer_req *req, int64_t request_id,
             const struct ids *orders, json_t **out)
{
    char now[40];
    json_t *list = json_array(), *root;
    int rc = PD_OK;

    pd_format_time(now, pd_now_ms());
    root = json_pack("{s:s, s:s?, s:s, s:I, s:{s:I, s:s?, s:o}, s:o}",
                     "format", "printdesk customer data export 1",
                     "shop", env->shop, "generated_at", now,
                     "data_request_id", (json_int_t)request_id,
                     "request", "customer_id", (json_int_t)req->customer_id,
                     "email", req->email,
                     "orders_requested",
                     privacy_ids_json(&req->shopify_ids),
                     "orders", list);
    if (root == NULL)
        return PD_ENOMEM;
    for (size_t i = 0; rc == PD_OK && i < orders->n; i++)
        rc = order_json(d, env->keys, orders->v[i], list);
    *out = root;
    return rc;
}

/* ---- customers/data_request ------------------------------------------- */

static int
insert_export(db *d, const char *customer_ref, const char *key,
              int64_t now, int64_t *id)
{
    static const char sql[] =
        "INSERT INTO data_exports (customer_ref, created_at, object_key, "
        "requested_by) VALUES (?, ?, ?, 'shopify') RETURNING id";
    db_rows *r = NULL;
    int rc = db_query(d, sql, (db_arg[]){DB_TEXT(customer_ref), DB_INT(now),
                                         DB_TEXT(key)}, 3, &r);

    if (rc == PD_OK && (rc = db_step(r)) == 1) {
        *id = db_col_int(r, 0);
        rc = PD_OK;
    } else if (rc == 0) {
        rc = PD_ERR;
    }
    db_rows_free(r);
    return rc;
}

/*
 * Records the export (data_exports row, audit row) and then stores it:
 * a failure to store rolls the records back with the transaction.
 */
static int
save_export(db *d, const struct webhook_env *env,
            const struct customer_req *req, int64_t request_id,
            size_t n_orders, json_t *root)
{
    char key[128], ref[40], target[24];
    int64_t now = pd_now_ms(), export_id = 0;
    char *text = json_dumps(root, JSON_INDENT(2));
    int rc = text != NULL ? PD_OK : PD_ENOMEM;

    snprintf(key, sizeof(key), "exports/data-request-%lld-%lld.json",
             (long long)request_id, (long long)now);
    snprintf(ref, sizeof(ref), "customer:%lld", (long long)req->customer_id);
    if (rc == PD_OK)
        rc = insert_export(d, ref, key, now, &export_id);
    snprintf(target, sizeof(target), "%lld", (long long)export_id);
    if (rc == PD_OK)
        rc = privacy_audit_json(
            d, "shopify.data_request", "data_export", target,
            json_pack("{s:I, s:I, s:I, s:s, s:I}",
                      "data_request_id", (json_int_t)request_id,
                      "customer_id", (json_int_t)req->customer_id,
                      "orders", (json_int_t)n_orders,
                      "object_key", key,
                      "bytes", (json_int_t)strlen(text)));
    if (rc == PD_OK)
        rc = store_put_bytes(env->store, key, text, strlen(text));
    if (rc == PD_OK)
        log_info("data request %lld: %zu orders exported to %s",
                 (long long)request_id, n_orders, key);
    free(text);
    return rc;
}

int
webhook_data_request(db *d, const struct webhook_env *env,
                     const struct webhook_delivery *w, json_t *payload,
                     char *reason, size_t reasonlen)
{
    struct customer_req req = {0};
    struct ids orders = {0};
    json_t *root = NULL;
    int64_t request_id = 0;
    int rc;

    (void)w;
    rc = privacy_parse_customer_req(env, payload, "orders_requested", &req,
                                    reason, reasonlen);
    if (rc == PD_OK &&
        !privacy_read_id(json_object_get(json_object_get(payload,
                                                         "data_request"),
                                         "id"), &request_id))
        rc = privacy_invalid(reason, reasonlen, "data_request.id is missing");
    if (rc == PD_OK)
        rc = privacy_find_orders(d, env->keys, &req, &orders);
    if (rc == PD_OK)
        rc = build_export(d, env, &req, request_id, &orders, &root);
    if (rc == PD_OK)
        rc = save_export(d, env, &req, request_id, orders.n, root);
    json_decref(root);
    privacy_ids_free(&orders);
    privacy_ids_free(&req.shopify_ids);
    return rc;
}
