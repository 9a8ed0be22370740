/*
 * privacy_common.h — what the privacy topics (privacy_export.c,
 * topic_privacy.c) share: small lists, reading a compliance payload,
 * finding a customer's orders, audit rows and deleting stored objects.
 */
#ifndef PD_WEBHOOKS_PRIVACY_COMMON_H
#define PD_WEBHOOKS_PRIVACY_COMMON_H

#include "webhooks/webhooks_internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A list of ids without repeats; starts {0}, freed by privacy_ids_free. */
struct ids {
    int64_t *v;
    size_t n, cap;
};

/* A list of owned strings; starts {0}, freed by privacy_strs_free. */
struct strs {
    char **v;
    size_t n, cap;
};

/* What a customers/... request names. */
struct customer_req {
    int64_t customer_id;
    const char *email;     /* borrowed from the payload; NULL if none */
    struct ids shopify_ids; /* the listed orders; the caller frees */
};

/*
 * The images of an order: linked to it, named by its pets, or uploaded
 * in its pets' sessions and not linked to any order. A UNION, so each
 * part walks its own index; cols are columns of `i`.
 */
#define PRIVACY_ORDER_IMAGES(cols)                                         \
    "SELECT " cols " FROM images i WHERE i.order_id = ? UNION "            \
    "SELECT " cols " FROM pets p JOIN images i "                           \
    "ON i.id = p.original_image_id WHERE p.order_id = ? UNION "            \
    "SELECT " cols " FROM pets p JOIN images i "                           \
    "ON i.id = p.processed_image_id WHERE p.order_id = ? UNION "           \
    "SELECT " cols " FROM pets p JOIN images i "                           \
    "ON i.session_id = p.session_id "                                      \
    "WHERE p.order_id = ? AND i.order_id IS NULL"

/* Frees the list's array and empties it. */
void privacy_ids_free(struct ids *l);
/* Appends a copy of s (the list owns it); PD_ENOMEM when out of memory. */
int privacy_strs_add(struct strs *l, const char *s);
/* Frees every string and the array, and empties the list. */
void privacy_strs_free(struct strs *l);
/* Appends (copies of) the first column of every row, NULLs skipped. */
int privacy_collect_texts(db *d, const char *sql, const db_arg *args,
                          int nargs, struct strs *out);

/* Writes the reason a payload cannot be applied; returns PD_EINVAL. */
int privacy_invalid(char *reason, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Reads an id above 0 (JSON integer or decimal string); false if not. */
bool privacy_read_id(const json_t *v, int64_t *out);
/* Checks the payload is an object whose shop_domain (when present, or
 * required) is ours; else PD_EINVAL with a reason. */
int privacy_check_shop(const struct webhook_env *env, const json_t *payload,
                       bool required, char *reason, size_t len);
/* Reads customer.id, customer.email and the order ids in
 * payload[list_name] into req (email borrowed from the payload; the
 * caller frees req->shopify_ids, even on failure). */
int privacy_parse_customer_req(const struct webhook_env *env,
                               const json_t *payload,
                               const char *list_name,
                               struct customer_req *req, char *reason,
                               size_t len);

/* Adds our ids of the orders req names (by Shopify id or e-mail blind
 * index, current or previous key) to out, sorted; the caller frees out. */
int privacy_find_orders(db *d, const pii_keys *k,
                        const struct customer_req *req, struct ids *out);
/* Writes an audit row whose detail is detail (stolen: freed here; NULL
 * reads as out of memory). */
int privacy_audit_json(db *d, const char *action, const char *target_type,
                       const char *target_id, json_t *detail);
/* A new JSON array of the ids (the caller owns it); NULL if no memory. */
json_t *privacy_ids_json(const struct ids *l);

/* Sorts and dedups keys, then deletes the stored objects no images row
 * names (with check_refs; else all); counts them in *deleted. Runs inside
 * the caller's transaction, after the rows are gone. */
int privacy_delete_objects(db *d, store *s, struct strs *keys,
                           bool check_refs, int64_t *deleted);

#endif
