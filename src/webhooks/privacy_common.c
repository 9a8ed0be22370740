/*
 * privacy_common.c — helpers the privacy topics share: id and string
 * lists, reading a customers/... or shop payload, finding the orders a
 * request names, audit rows and deleting stored objects.
 */
#include "webhooks/privacy_common.h"

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

void
privacy_ids_free(struct ids *l)
{
    free(l->v);
    *l = (struct ids){0};
}

int
privacy_strs_add(struct strs *l, const char *s)
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

void
privacy_strs_free(struct strs *l)
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
int
privacy_collect_texts(db *d, const char *sql, const db_arg *args,
                      int nargs, struct strs *out)
{
    db_rows *r = NULL;
    int rc = db_query(d, sql, args, nargs, &r);

    while (rc == PD_OK && (rc = db_step(r)) == 1)
        rc = db_col_null(r, 0) ? PD_OK
                               : privacy_strs_add(out, db_col_text(r, 0));
    db_rows_free(r);
    return rc < 0 ? rc : PD_OK;
}

/* ---- reading the payload ---------------------------------------------- */

/* Writes the reason a payload cannot be applied; returns PD_EINVAL. */
int
privacy_invalid(char *reason, size_t len, const char *fmt, ...)
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
bool
privacy_read_id(const json_t *v, int64_t *out)
{
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return *out > 0;
    }
    return json_is_string(v) &&
           pd_parse_i64(json_string_value(v), 1, INT64_MAX, out) == PD_OK;
}

/* The payload's shop_domain, when present (or required), must be ours. */
int
privacy_check_shop(const struct webhook_env *env, const json_t *payload,
                   bool required, char *reason, size_t len)
{
    const json_t *v = json_object_get(payload, "shop_domain");

    if (!json_is_object(payload))
        return privacy_invalid(reason, len,
                               "the payload is not a JSON object");
    if (v == NULL || json_is_null(v))
        return required ? privacy_invalid(reason, len,
                                          "shop_domain is missing")
                        : PD_OK;
    if (!json_is_string(v))
        return privacy_invalid(reason, len, "shop_domain is not a string");
    if (env->shop == NULL || strcasecmp(json_string_value(v), env->shop))
        return privacy_invalid(reason, len, "shop_domain %.80s is not %.80s",
                               json_string_value(v),
                               env->shop ? env->shop : "configured");
    return PD_OK;
}

static int
parse_email(const json_t *customer, struct customer_req *req, char *reason,
            size_t len)
{
    const json_t *v = json_object_get(customer, "email");

    if (v == NULL || json_is_null(v))
        return PD_OK;
    if (!json_is_string(v))
        return privacy_invalid(reason, len, "customer.email is not a string");
    if (json_string_length(v) > PRIVACY_EMAIL_MAX)
        return privacy_invalid(reason, len,
                               "customer.email is over %d bytes",
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
        return privacy_invalid(reason, len,
                               "%s is not an array of order ids", name);
    if (json_array_size(list) > PRIVACY_IDS_MAX)
        return privacy_invalid(reason, len, "%s lists over %d orders", name,
                               PRIVACY_IDS_MAX);
    json_array_foreach(list, i, v) {
        int64_t id;

        if (!privacy_read_id(v, &id))
            return privacy_invalid(reason, len,
                                   "%s[%zu] is not an order id", name, i);
        if ((rc = ids_add(&req->shopify_ids, id)) != PD_OK)
            break;
    }
    return rc;
}

int
privacy_parse_customer_req(const struct webhook_env *env,
                           const json_t *payload, const char *list_name,
                           struct customer_req *req, char *reason,
                           size_t len)
{
    const json_t *c;
    int rc = privacy_check_shop(env, payload, false, reason, len);

    if (rc != PD_OK)
        return rc;
    c = json_object_get(payload, "customer");
    if (!json_is_object(c))
        return privacy_invalid(reason, len, "customer is missing");
    if (!privacy_read_id(json_object_get(c, "id"), &req->customer_id))
        return privacy_invalid(reason, len,
                               "customer.id is missing or not an id");
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
int
privacy_find_orders(db *d, const pii_keys *k,
                    const struct customer_req *req, struct ids *out)
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
int
privacy_audit_json(db *d, const char *action, const char *target_type,
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
json_t *
privacy_ids_json(const struct ids *l)
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

/* ---- deleting stored objects ------------------------------------------ */

/*
 * Deletes the stored objects named in keys that no images row names any
 * more (with check_refs; else every one). Runs after the rows are gone,
 * inside the caller's transaction: storage is not transactional, so a
 * crash before the commit leaves rows naming deleted objects until the
 * delivery is applied again. *deleted counts the objects deleted.
 */
int
privacy_delete_objects(db *d, store *s, struct strs *keys,
                       bool check_refs, int64_t *deleted)
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
