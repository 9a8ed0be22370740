/*
 * api_claims.c — POST /api/v1/orders/{order}/claim and /release: a
 * fulfiller takes an order so everyone sees who is on it, and lets go of
 * it. Someone else's claim is a 409 naming them; admins may take it over
 * or release it. Every change goes to the audit log.
 */
#include "web/web.h"

#include "auth/guard.h"
#include "auth/staff.h"
#include "common/err.h"
#include "db/db.h"
#include "obs/log.h"
#include "orders/orders.h"

#include <stdio.h>

/* The name of staff member id (for "claimed by ..."), or "someone". */
static void
holder_name(db *d, int64_t id, char *out, size_t len)
{
    db_rows *r = NULL;

    snprintf(out, len, "someone");
    if (db_query(d, "SELECT name FROM staff WHERE id = ?",
                 (db_arg[]){DB_INT(id)}, 1, &r) == PD_OK &&
        db_step(r) > 0 && !db_col_null(r, 0))
        snprintf(out, len, "%s", db_col_text(r, 0));
    db_rows_free(r);
}

static int
answer_claim(http_req *req, db *d, const struct orders_claim *c)
{
    char name[128];
    pd_buf b;
    int rc;

    buf_init(&b);
    buf_puts(&b, "{\"order\":");
    buf_json_string(&b, c->name);
    if (c->claimed_by > 0) {
        holder_name(d, c->claimed_by, name, sizeof(name));
        buf_printf(&b, ",\"claimed_by\":{\"id\":%lld,\"name\":",
                   (long long)c->claimed_by);
        buf_json_string(&b, name);
        buf_puts(&b, "}");
    } else {
        buf_puts(&b, ",\"claimed_by\":null");
    }
    buf_printf(&b, ",\"changed\":%s}\n", c->unchanged ? "false" : "true");
    rc = http_respond_json(req, 200, &b);
    buf_free(&b);
    return rc;
}

static int
change_claim(http_req *req, bool claim)
{
    const struct staff *who = guard_staff(req);
    struct orders_claim c;
    char msg[200], name[128];
    db *d = db_thread();
    int rc;

    if (d == NULL || who == NULL)
        return d == NULL ? PD_EUNAVAIL : PD_ERR;
    rc = orders_claim(d, http_param(req, "order"), who->id, claim,
                      who->role >= ROLE_ADMIN, &c);
    if (rc == PD_ENOTFOUND)
        return http_error(req, 404, NULL, "no such order");
    if (rc == PD_ECONFLICT) {
        holder_name(d, c.claimed_by, name, sizeof(name));
        snprintf(msg, sizeof(msg), "%s is on this order", name);
        return http_error(req, 409, "claimed", msg);
    }
    if (rc != PD_OK)
        return rc;
    if (!c.unchanged &&
        guard_audit(req, claim ? "order.claim" : "order.release", "order",
                    c.name, c.order_id, NULL) != PD_OK)
        log_error("audit: cannot record the claim change on %s", c.name);
    return answer_claim(req, d, &c);
}

int
web_api_order_claim(http_req *req)
{
    return change_claim(req, true);
}

int
web_api_order_release(http_req *req)
{
    return change_claim(req, false);
}
