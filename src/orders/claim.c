/*
 * claim.c — who is on an order: a fulfiller claims it so others see it is
 * taken, and releases it when done. A claim held by someone else is not
 * taken over, except by an admin (someone left for the day).
 */
#include "orders/orders_internal.h"

#include "common/err.h"
#include "common/util.h"

#include <stdio.h>
#include <string.h>

static int
current_claim(db *d, int64_t order_id, int64_t *by)
{
    db_rows *r = NULL;
    int rc = db_query(d, "SELECT claimed_by FROM orders WHERE id = ?",
                      (db_arg[]){DB_INT(order_id)}, 1, &r);

    *by = 0;
    if (rc == PD_OK && (rc = db_step(r)) > 0) {
        *by = db_col_null(r, 0) ? 0 : db_col_int(r, 0);
        rc = PD_OK;
    } else if (rc == 0) {
        rc = PD_ENOTFOUND;
    }
    db_rows_free(r);
    return rc;
}

/* Sets (staff_id > 0) or clears the claim if it is still `was`. */
static int
swap_claim(db *d, int64_t order_id, int64_t was, int64_t staff_id,
           int64_t now)
{
    int64_t changed = 0;
    int rc = db_exec(
        d, "UPDATE orders SET claimed_by = ?, claimed_at = ? WHERE id = ? "
           "AND COALESCE(claimed_by, 0) = ?",
        (db_arg[]){staff_id > 0 ? DB_INT(staff_id) : DB_NULL,
                   staff_id > 0 ? DB_INT(now) : DB_NULL, DB_INT(order_id),
                   DB_INT(was)},
        4, &changed);

    if (rc == PD_OK && changed == 0)
        rc = PD_ECONFLICT; /* someone else got there first */
    return rc;
}

int
orders_claim(db *d, const char *ref, int64_t staff_id, bool claim,
             bool may_override, struct orders_claim *out)
{
    struct order_ref o;
    int64_t by = 0;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = orders_resolve(d, ref, &o);
    if (rc == PD_OK)
        rc = current_claim(d, o.id, &by);
    if (rc != PD_OK)
        return rc;
    out->order_id = o.id;
    snprintf(out->name, sizeof(out->name), "%s", o.name);
    out->previous = by;
    if (by != 0 && by != staff_id && !may_override) {
        out->claimed_by = by;
        return PD_ECONFLICT;
    }
    if (claim ? by == staff_id : by == 0) {
        out->claimed_by = by;
        out->unchanged = true;
        return PD_OK;
    }
    out->at = pd_now_ms();
    rc = swap_claim(d, o.id, by, claim ? staff_id : 0, out->at);
    if (rc == PD_ECONFLICT)
        current_claim(d, o.id, &out->claimed_by);
    else if (rc == PD_OK)
        out->claimed_by = claim ? staff_id : 0;
    return rc;
}
