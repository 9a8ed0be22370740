/*
 * guard.h — the front door: every request to a staff route is identified
 * (App Proxy signature, session cookie or Shopify admin bearer token),
 * looked up in the staff table, checked against the route's least role,
 * CSRF-checked when it changes state, and rate-limited. Refusals are
 * answered here, logged and counted.
 */
#ifndef PD_GUARD_H
#define PD_GUARD_H

#include "auth/staff.h"
#include "http/http.h"

/* The staff member behind the current request, or NULL on public routes. */
const struct staff *guard_staff(http_req *req);

/* The CSRF token for the current staff member, for pages and scripts. */
const char *guard_csrf_token(http_req *req);

/*
 * Records a staff action in the audit log: who (the request's staff),
 * what, on which target, from where. detail_json may be NULL.
 */
int guard_audit(http_req *req, const char *action, const char *target_type,
                const char *target_id, int64_t order_id,
                const char *detail_json);

#endif
