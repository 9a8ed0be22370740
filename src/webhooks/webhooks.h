/*
 * webhooks.h — Shopify webhooks: each verified delivery is written to the
 * inbox and committed before it is answered, then applied (at once when
 * quick, else at the next start); deliveries seen before are not applied
 * again. Topics are applied by the functions of webhooks_internal.h.
 */
#ifndef PD_WEBHOOKS_H
#define PD_WEBHOOKS_H

#include "crypto/pii.h"
#include "db/db.h"
#include "http/http.h"
#include "store/store.h"

/* What topic handlers need besides the database. */
struct webhook_env {
    store *store;
    const pii_keys *keys;
    const char *shop;
};

/* Set once at serve start (the handler reads it). */
void webhooks_setup(const struct webhook_env *env);

/* POST /webhooks/shopify: verify, store, apply, answer. */
int web_webhook_shopify(http_req *req);

/*
 * Applies every inbox row still 'received' that arrived at or before
 * received_before_ms (a process that died after the commit, or a
 * database that was down while applying). Returns how many were applied.
 */
int webhooks_apply_pending(db *d, const struct webhook_env *env,
                           int64_t received_before_ms);

#endif
