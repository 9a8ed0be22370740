/*
 * webhooks_internal.h — the contract between the inbox (inbox.c), which
 * verifies, stores and dispatches deliveries, and the topic handlers
 * (topic_orders.c, topic_privacy.c, privacy_export.c).
 */
#ifndef PD_WEBHOOKS_INTERNAL_H
#define PD_WEBHOOKS_INTERNAL_H

#include "webhooks/webhooks.h"

#include <jansson.h>

struct webhook_delivery {
    int64_t inbox_id;
    const char *topic;
    const char *shop;
    const char *api_version;
    const char *webhook_id;
    const char *triggered_at; /* may be NULL */
};

/*
 * A topic handler applies one parsed delivery inside the transaction the
 * inbox opened on d (it must not commit or roll back). Returns 0; or
 * PD_EINVAL with a reason a person can read in reason (the payload lacks
 * what the topic needs: the delivery is kept as failed); or another
 * pd_err for a passing failure (database down: retried later).
 */
typedef int (*webhook_topic_fn)(db *d, const struct webhook_env *env,
                                const struct webhook_delivery *w,
                                json_t *payload, char *reason,
                                size_t reasonlen);

/* orders/create, orders/updated, orders/paid, orders/cancelled,
 * orders/fulfilled (topic_orders.c). */
int webhook_apply_order(db *d, const struct webhook_env *env,
                        const struct webhook_delivery *w, json_t *payload,
                        char *reason, size_t reasonlen);

/* app/uninstalled, customers/redact, shop/redact (topic_privacy.c) and
 * customers/data_request (privacy_export.c). */
int webhook_app_uninstalled(db *d, const struct webhook_env *env,
                            const struct webhook_delivery *w,
                            json_t *payload, char *reason, size_t reasonlen);
int webhook_data_request(db *d, const struct webhook_env *env,
                         const struct webhook_delivery *w, json_t *payload,
                         char *reason, size_t reasonlen);
int webhook_customer_redact(db *d, const struct webhook_env *env,
                            const struct webhook_delivery *w,
                            json_t *payload, char *reason, size_t reasonlen);
int webhook_shop_redact(db *d, const struct webhook_env *env,
                        const struct webhook_delivery *w, json_t *payload,
                        char *reason, size_t reasonlen);

/* Writes an audit row (actor "shopify") in the current transaction. */
int webhook_audit(db *d, const char *action, const char *target_type,
                  const char *target_id, int64_t order_id,
                  const char *detail_json);

#endif
