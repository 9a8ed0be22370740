/*
 * topic_privacy.c — app/uninstalled and Shopify's compliance topics: an
 * export of what is stored about a customer (customers/data_request), the
 * erasure of a customer's PII and photos (customers/redact) and of all of
 * the shop's data (shop/redact). Each runs in the inbox's transaction.
 */
#include "webhooks/webhooks_internal.h"

#include "common/err.h"
#include "common/util.h"
#include "obs/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Order ids one compliance request may list; more is refused. */
#define PRIVACY_IDS_MAX 10000
/* Bytes of an e-mail address (the SMTP path limit). */
#define PRIVACY_EMAIL_MAX 320

/* ---- small lists ------------------------------------------------------ */

struct ids {
    int64_t *v;
    size_t n, cap;
};

struct strs {
    char **v;
    size_t n, cap;
};

/* Room for one more element: v, or a bigger copy; NULL when out of
 * memory (v is then still valid). */
static void *
grow(void *v, size_t *cap, size_t n, size_t size)
{
    size_t ncap;
    void *nv;

    if (n < *cap)
        return v;
    ncap = *cap ? *cap * 2 : 16;
    nv = realloc(v, ncap * size);
    if (nv != NULL)
        *cap = ncap;
    return nv;
}

/* Adds id unless the list holds it already. */
static int
ids_add(struct ids *l, int64_t id)
{
    int64_t *v;

    for (size_t i = 0; i < l->n; i++)
        if (l->v[i] == id)
            return PD_OK;
    v = grow(l->v, &l->cap, l->n, sizeof(*v));
    if (v == NULL)
        return PD_ENOMEM;
    l->v = v;
    l->v[l->n++] = id;
    return PD_OK;
}

static void
ids_free(struct ids *l)
{
    free(l->v);
    *l = (struct ids){0};
}

static int
strs_add(struct strs *l, const char *s)
{
    char **v = grow(l->v, &l->cap, l->n, sizeof(*v));

    if (v == NULL)
        return PD_ENOMEM;
    l->v = v;
    l->v[l->n] = strdup(s);
    if (l->v[l->n] == NULL)
        return PD_ENOMEM;
    l->n++;
    return PD_OK;
}

static void
strs_free(struct strs *l)
{
    for (size_t i = 0; i < l->n; i++)
        free(l->v[i]);
    free(l->v);
    *l = (struct strs){0};
}

static int
str_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts the list and drops repeated strings. */
static void
strs_unique(struct strs *l)
{
    size_t out = 0;

    if (l->n > 1)
        qsort(l->v, l->n, sizeof(l->v[0]), str_cmp);
    for (size_t i = 0; i < l->n; i++) {
        if (out > 0 && strcmp(l->v[out - 1], l->v[i]) == 0)
            free(l->v[i]);
        else
            l->v[out++] = l->v[i];
    }
    l->n = out;
}

/* Appends the first column of every row the query returns (NULLs
 * skipped) to out. */
static int
collect_texts(db *d, const char *sql, const db_arg *args, int nargs,
              struct strs *out)
{
    db_rows *r = NULL;
    int rc = db_query(d, sql, args, nargs, &r);

    while (rc == PD_OK && (rc = db_step(r)) == 1)
        rc = db_col_null(r, 0) ? PD_OK : strs_add(out, db_col_text(r, 0));
    db_rows_free(r);
    return rc < 0 ? rc : PD_OK;
}

/* ---- reading the payload ---------------------------------------------- */

static int invalid(char *reason, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes the reason a payload cannot be applied; returns PD_EINVAL. */
static int
invalid(char *reason, size_t len, const char *fmt, ...)
{
    va_list ap;

    if (len > 0) {
        va_start(ap, fmt);
        vsnprintf(reason, len, fmt, ap);
        va_end(ap);
    }
    return PD_EINVAL;
}

/* An id: a JSON integer above 0, or its decimal digits as a string
 * (never a real: ids exceed 2^53). */
static bool
read_id(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return *out > 0;
    }
    return json_is_string(v) &&
           pd_parse_i64(json_string_value(v), 1, INT64_MAX, out) == PD_OK;
}

/* The payload's shop_domain, when present (or required), must be ours. */
static int
check_shop(const struct webhook_env *env, const json_t *payload,
           bool required, char *reason, size_t len)
{
    const json_t *v = json_object_get(payload, "shop_domain");

    if (!json_is_object(payload))
        return invalid(reason, len, "the payload is not a JSON object");
    if (v == NULL || json_is_null(v))
        return required ? invalid(reason, len, "shop_domain is missing")
                        : PD_OK;
    if (!json_is_string(v))
        return invalid(reason, len, "shop_domain is not a string");
    if (env->shop == NULL || strcasecmp(json_string_value(v), env->shop))
        return invalid(reason, len, "shop_domain %.80s is not %.80s",
                       json_string_value(v),
                       env->shop ? env->shop : "configured");
    return PD_OK;
}

/* What a customers/... request names. */
struct customer_req {
    int64_t customer_id;
    const char *email;     /* borrowed from the payload; NULL if none */
    struct ids shopify_ids; /* the listed orders; the caller frees */
};

static int
parse_email(const json_t *customer, struct customer_req *req, char *reason,
            size_t len)
{
    const json_t *v = json_object_get(customer, "email");

    if (v == NULL || json_is_null(v))
        return PD_OK;
    if (!json_is_string(v))
        return invalid(reason, len, "customer.email is not a string");
    if (json_string_length(v) > PRIVACY_EMAIL_MAX)
        return invalid(reason, len, "customer.email is over %d bytes",
                       PRIVACY_EMAIL_MAX);
    if (json_string_length(v) > 0)
        req->email = json_string_value(v);
    return PD_OK;
}

/* The order ids in payload[name]: absent or null reads as none. */
static int
parse_order_ids(const json_t *payload, const char *name,
                struct customer_req *req, char *reason, size_t len)
{
    json_t *list = json_object_get(payload, name), *v;
    size_t i;
    int rc = PD_OK;

    if (list == NULL || json_is_null(list))
        return PD_OK;
    if (!json_is_array(list))
        return invalid(reason, len, "%s is not an array of order ids",
                       name);
    if (json_array_size(list) > PRIVACY_IDS_MAX)
        return invalid(reason, len, "%s lists over %d orders", name,
                       PRIVACY_IDS_MAX);
    json_array_foreach(list, i, v) {
        int64_t id;

        if (!read_id(v, &id))
            return invalid(reason, len, "%s[%zu] is not an order id", name,
                           i);
        if ((rc = ids_add(&req->shopify_ids, id)) != PD_OK)
            break;
    }
    return rc;
}

static int
parse_customer_req(const struct webhook_env *env, const json_t *payload,
                   const char *list_name, struct customer_req *req,
                   char *reason, size_t len)
{
    const json_t *c;
    int rc = check_shop(env, payload, false, reason, len);

    if (rc != PD_OK)
        return rc;
    c = json_object_get(payload, "customer");
    if (!json_is_object(c))
        return invalid(reason, len, "customer is missing");
    if (!read_id(json_object_get(c, "id"), &req->customer_id))
        return invalid(reason, len, "customer.id is missing or not an id");
    rc = parse_email(c, req, reason, len);
    if (rc == PD_OK)
        rc = parse_order_ids(payload, list_name, req, reason, len);
    return rc;
}

/* ---- finding the customer's orders ------------------------------------ */

static int
collect_ids(db *d, const char *sql, const db_arg *args, int nargs,
            struct ids *out)
{
    db_rows *r = NULL;
    int rc = db_query(d, sql, args, nargs, &r);

    while (rc == PD_OK && (rc = db_step(r)) == 1)
        rc = ids_add(out, db_col_int(r, 0));
    db_rows_free(r);
    return rc < 0 ? rc : PD_OK;
}

static int
id_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

    return (x > y) - (x < y);
}

/*
 * Our ids of the orders a request names: those listed by Shopify id and
 * those whose e-mail's blind index (under the current or the previous
 * data key) matches. Sorted; the caller frees out.
 */
static int
find_orders(db *d, const pii_keys *k, const struct customer_req *req,
            struct ids *out)
{
    static const char by_email[] =
        "SELECT id FROM orders WHERE email_bidx = ? OR email_bidx = ?";
    unsigned char cur[PII_INDEX_LEN], prev[PII_INDEX_LEN];
    int rc = PD_OK;

    for (size_t i = 0; rc == PD_OK && i < req->shopify_ids.n; i++)
        rc = collect_ids(d, "SELECT id FROM orders WHERE shopify_id = ?",
                         (db_arg[]){DB_INT(req->shopify_ids.v[i])}, 1, out);
    if (rc == PD_OK && req->email != NULL) {
        pii_email_index(k, req->email, cur);
        if (pii_email_index_previous(k, req->email, prev) != PD_OK)
            memcpy(prev, cur, sizeof(prev));
        rc = collect_ids(d, by_email,
                         (db_arg[]){DB_BLOB(cur, sizeof(cur)),
                                    DB_BLOB(prev, sizeof(prev))}, 2, out);
    }
    if (out->n > 1)
        qsort(out->v, out->n, sizeof(out->v[0]), id_cmp);
    return rc;
}

/* An audit row whose detail is a JSON object (stolen: freed here). */
static int
audit_json(db *d, const char *action, const char *target_type,
           const char *target_id, json_t *detail)
{
    char *text = detail ? json_dumps(detail, JSON_COMPACT) : NULL;
    int rc = PD_ENOMEM;

    if (text != NULL)
        rc = webhook_audit(d, action, target_type, target_id, 0, text);
    free(text);
    json_decref(detail);
    return rc;
}

/* A JSON array of the ids (NULL when out of memory). */
static json_t *
ids_json(const struct ids *l)
{
    json_t *a = json_array();

    for (size_t i = 0; a != NULL && i < l->n; i++) {
        if (json_array_append_new(a, json_integer(l->v[i])) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    return a;
}

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

/*
 * The images of an order: linked to it, named by its pets, or uploaded
 * in its pets' sessions and not linked to any order. A UNION, so each
 * part walks its own index; cols are columns of `i`.
 */
#define ORDER_IMAGES(cols)                                                 \
    "SELECT " cols " FROM images i WHERE i.order_id = ? UNION "            \
    "SELECT " cols " FROM pets p JOIN images i "                           \
    "ON i.id = p.original_image_id WHERE p.order_id = ? UNION "            \
    "SELECT " cols " FROM pets p JOIN images i "                           \
    "ON i.id = p.processed_image_id WHERE p.order_id = ? UNION "           \
    "SELECT " cols " FROM pets p JOIN images i "                           \
    "ON i.session_id = p.session_id "                                      \
    "WHERE p.order_id = ? AND i.order_id IS NULL"

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
     ORDER_IMAGES("i.id, i.kind, i.format, i.bytes, i.width, i.height, "
                  "i.sha256, i.tier, i.created_at") " ORDER BY 9, 1",
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
                     "orders_requested", ids_json(&req->shopify_ids),
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
        rc = audit_json(d, "shopify.data_request", "data_export", target,
                        json_pack("{s:I, s:I, s:I, s:s, s:I}",
                                  "data_request_id", (json_int_t)request_id,
                                  "customer_id",
                                  (json_int_t)req->customer_id,
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
    rc = parse_customer_req(env, payload, "orders_requested", &req, reason,
                            reasonlen);
    if (rc == PD_OK &&
        !read_id(json_object_get(json_object_get(payload, "data_request"),
                                 "id"), &request_id))
        rc = invalid(reason, reasonlen, "data_request.id is missing");
    if (rc == PD_OK)
        rc = find_orders(d, env->keys, &req, &orders);
    if (rc == PD_OK)
        rc = build_export(d, env, &req, request_id, &orders, &root);
    if (rc == PD_OK)
        rc = save_export(d, env, &req, request_id, orders.n, root);
    json_decref(root);
    ids_free(&orders);
    ids_free(&req.shopify_ids);
    return rc;
}

/* ---- deleting stored objects ------------------------------------------ */

/*
 * Deletes the stored objects named in keys that no images row names any
 * more (with check_refs; else every one). Runs after the rows are gone,
 * inside the caller's transaction: storage is not transactional, so a
 * crash before the commit leaves rows naming deleted objects until the
 * delivery is applied again. *deleted counts the objects deleted.
 */
static int
delete_objects(db *d, store *s, struct strs *keys, bool check_refs,
               int64_t *deleted)
{
    static const char refs[] =
        "SELECT 1 FROM images WHERE object_key = ? OR thumb_key = ? OR "
        "preview_key = ? LIMIT 1";
    int rc = PD_OK;

    strs_unique(keys);
    for (size_t i = 0; rc == PD_OK && i < keys->n; i++) {
        const char *k = keys->v[i];
        int64_t named = 0;

        if (check_refs) {
            rc = db_query_int(d, refs, (db_arg[]){DB_TEXT(k), DB_TEXT(k),
                                                  DB_TEXT(k)}, 3, &named);
            if (rc == PD_ENOTFOUND)
                rc = PD_OK; /* no row names it */
        }
        if (rc != PD_OK || named)
            continue;
        if (!store_key_valid(k)) {
            log_warn("privacy: not a storage key, left alone: %.120s", k);
            continue;
        }
        rc = store_delete(s, k);
        if (rc == PD_OK)
            (*deleted)++;
        else
            log_error("privacy: cannot delete stored %s: %s", k,
                      pd_err_str(rc));
    }
    return rc;
}

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
        ORDER_IMAGES("i.id, i.object_key, i.thumb_key, i.preview_key");
    db_arg args[4] = {DB_INT(id), DB_INT(id), DB_INT(id), DB_INT(id)};
    struct strs image_ids = {0};
    db_rows *r = NULL;
    int rc = db_query(d, sql, args, 4, &r);

    while (rc == PD_OK && (rc = db_step(r)) == 1) {
        rc = strs_add(&image_ids, db_col_text(r, 0));
        for (int c = 1; rc == PD_OK && c <= 3; c++)
            if (!db_col_null(r, c))
                rc = strs_add(&x->keys, db_col_text(r, c));
    }
    db_rows_free(r);
    for (size_t i = 0; rc >= 0 && i < image_ids.n; i++)
        rc = db_exec(d, "DELETE FROM images WHERE id = ?",
                     (db_arg[]){DB_TEXT(image_ids.v[i])}, 1, NULL);
    if (rc >= 0)
        x->images += (int64_t)image_ids.n;
    strs_free(&image_ids);
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
        "SELECT staging_key FROM tus_uploads WHERE session_id IN "
        "(SELECT session_id FROM pets WHERE order_id = ?)";
    int rc = collect_texts(d, staging, (db_arg[]){DB_INT(id)}, 1, &x->keys);

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
    rc = collect_texts(d, "SELECT object_key FROM data_exports WHERE "
                          "customer_ref = ?", &arg, 1, &x->keys);
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
    return audit_json(d, "shopify.customer_redact", "customer", target,
                      json_pack("{s:I, s:o, s:o, s:I, s:I, s:I}",
                                "customer_id", (json_int_t)req->customer_id,
                                "orders_to_redact",
                                ids_json(&req->shopify_ids),
                                "orders_redacted", ids_json(&x->orders),
                                "images_deleted", (json_int_t)x->images,
                                "objects_deleted", (json_int_t)x->objects,
                                "exports_deleted",
                                (json_int_t)x->exports));
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
    rc = parse_customer_req(env, payload, "orders_to_redact", &req, reason,
                            reasonlen);
    if (rc == PD_OK)
        rc = find_orders(d, env->keys, &req, &x.orders);
    for (size_t i = 0; rc == PD_OK && i < x.orders.n; i++)
        rc = redact_order(d, x.orders.v[i], now, &x);
    if (rc == PD_OK)
        rc = drop_exports(d, req.customer_id, &x);
    if (rc == PD_OK)
        rc = delete_objects(d, env->store, &x.keys, true, &x.objects);
    if (rc == PD_OK)
        rc = audit_redaction(d, &req, &x);
    if (rc == PD_OK)
        log_info("customers/redact: customer %lld, %zu orders, %lld "
                 "objects deleted", (long long)req.customer_id,
                 x.orders.n, (long long)x.objects);
    ids_free(&x.orders);
    strs_free(&x.keys);
    ids_free(&req.shopify_ids);
    return rc;
}

/* ---- shop/redact ------------------------------------------------------ */

/* Every key the database knows of a stored object. */
static const char *const shop_keys_sql[] = {
    "SELECT object_key FROM images",
    "SELECT thumb_key FROM images",
    "SELECT preview_key FROM images",
    "SELECT staging_key FROM tus_uploads",
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
    "DELETE FROM tus_uploads",  "DELETE FROM upload_sessions",
    "DELETE FROM orders",       "DELETE FROM images",
    "DELETE FROM data_exports", "DELETE FROM idempotency_keys",
};
/* The same on PostgreSQL, where deleting images row by row scans pets
 * for each (its image columns have no index): minutes for 60,000
 * images. No CASCADE: a new table that refers to these fails loudly
 * here instead of being emptied unseen. */
static const char shop_erase_pg[] =
    "TRUNCATE TABLE tus_uploads, upload_sessions, pets, notes, "
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
        rc = collect_texts(d, shop_keys_sql[i], NULL, 0, &x->keys);
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
    return strs_add(ctx, key);
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
    int rc = check_shop(env, payload, true, reason, reasonlen);

    if (rc == PD_OK)
        rc = erase_shop_rows(d, w, &x);
    if (rc == PD_OK)
        rc = list_all_objects(env->store, &x.keys);
    if (rc == PD_OK)
        rc = delete_objects(d, env->store, &x.keys, false, &x.objects);
    if (rc == PD_OK)
        rc = audit_json(d, "shopify.shop_redact", "shop", env->shop,
                        json_pack("{s:I, s:I, s:I, s:I, s:I}",
                                  "orders_deleted",
                                  (json_int_t)x.counts[ER_ORDERS],
                                  "images_deleted",
                                  (json_int_t)x.counts[ER_IMAGES],
                                  "upload_sessions_deleted",
                                  (json_int_t)x.counts[ER_SESSIONS],
                                  "exports_deleted",
                                  (json_int_t)x.counts[ER_EXPORTS],
                                  "objects_deleted", (json_int_t)x.objects));
    if (rc == PD_OK)
        log_notice("shop/redact: %lld orders, %lld images and %lld stored "
                   "objects erased", (long long)x.counts[ER_ORDERS],
                   (long long)x.counts[ER_IMAGES], (long long)x.objects);
    strs_free(&x.keys);
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
        return invalid(reason, reasonlen, "the payload is not a JSON object");
    if (!read_id(json_object_get(payload, "id"), &shop_id))
        shop_id = 0;
    log_notice("app/uninstalled from %s", shop ? shop : "the shop");
    return audit_json(d, "shopify.app_uninstalled", "shop", shop,
                      json_pack("{s:s?, s:I, s:s?}", "shop", shop,
                                "shop_id", (json_int_t)shop_id,
                                "webhook_id", w->webhook_id));
}
