/*
 * rules.c — the retention rules as a decision table: given what the
 * database says of a photo and of the orders that claim it, which tier
 * it belongs in now, or whether its time is up. No I/O here.
 */
#include "lifecycle/lifecycle.h"

#include "orders/orders.h"

#include <stdio.h>
#include <string.h>

struct lifecycle_rules
lifecycle_rules_default(void)
{
    return (struct lifecycle_rules){
        .temporary_ms = 7 * LIFECYCLE_DAY_MS,
        .archive_ms = 30 * LIFECYCLE_DAY_MS,
        .completed_ms = 180 * LIFECYCLE_DAY_MS,
        .archived_ms = 730 * LIFECYCLE_DAY_MS,
        .orphan_ms = LIFECYCLE_DAY_MS,
        .max_delete_share = 0.2,
    };
}

static const char *const action_labels[LC_ACTION_COUNT] = {
    [LC_MOVE_TEMPORARY] = "move to temporary",
    [LC_MOVE_PENDING] = "move to order_pending",
    [LC_MOVE_COMPLETED] = "move to order_completed",
    [LC_MOVE_ARCHIVED] = "move to archived",
    [LC_DELETE_TEMPORARY] = "delete temporary",
    [LC_DELETE_COMPLETED] = "delete order_completed",
    [LC_DELETE_ARCHIVED] = "delete archived",
    [LC_DELETE_ORPHAN] = "delete orphans",
};

const char *
lifecycle_action_label(enum lifecycle_action a)
{
    if ((int)a < 0 || a >= LC_ACTION_COUNT)
        return "keep";
    return action_labels[a];
}

bool
lifecycle_action_is_move(enum lifecycle_action a)
{
    return a >= LC_MOVE_TEMPORARY && a <= LC_MOVE_ARCHIVED;
}

/* Keeps the latest closing of each kind (completed, cancelled). */
static void
claim_closed(struct lifecycle_facts *f, int64_t order_id,
             const char *status, int64_t closed_at)
{
    if (strcmp(status, "completed") == 0 &&
        (f->completed_order == 0 || closed_at > f->completed_at)) {
        f->completed_order = order_id;
        f->completed_at = closed_at;
    } else if (strcmp(status, "cancelled") == 0 &&
               (f->cancelled_order == 0 || closed_at > f->cancelled_at)) {
        f->cancelled_order = order_id;
        f->cancelled_at = closed_at;
    }
}

/*
 * An order claims a photo through images.order_id or a pet's image
 * columns; by_session, an order's pet names the photo's upload session
 * only. That holds the photo while the order is open and means nothing
 * once it is closed.
 */
void
lifecycle_facts_claim(struct lifecycle_facts *f, int64_t order_id,
                      const char *status, int64_t closed_at,
                      bool by_session)
{
    if (order_id <= 0 || status == NULL)
        return;
    if (orders_status_is_open(status)) {
        if (by_session && f->held_by == 0)
            f->held_by = order_id;
        else if (!by_session && f->open_order == 0)
            f->open_order = order_id;
        return;
    }
    if (!by_session)
        claim_closed(f, order_id, status, closed_at);
}

/* A move into tier unless the row and all its objects are there. */
static enum lifecycle_action
move_unless_there(const struct lifecycle_facts *f, enum store_tier tier)
{
    bool there = f->tier != NULL &&
                 strcmp(f->tier, store_tier_name(tier)) == 0;

    for (int k = 0; there && k < 3; k++)
        if (f->keys[k] != NULL && store_tier_of_key(f->keys[k]) != (int)tier)
            there = false;
    return there ? LC_KEEP : (enum lifecycle_action)(LC_MOVE_TEMPORARY + tier);
}

/*
 * Photos of closed orders. The order that keeps the photo longest
 * decides: a completed order keeps it 730 days after completion (in
 * order_completed for the first 30, then archived); a cancelled one 180
 * days after cancellation, in order_completed.
 */
static enum lifecycle_action
decide_closed(const struct lifecycle_rules *r,
              const struct lifecycle_facts *f, int64_t now, int64_t *order)
{
    bool completed = f->completed_order != 0;
    int64_t purge_completed = f->completed_at + r->archived_ms;
    int64_t purge_cancelled = f->cancelled_at + r->completed_ms;

    if (completed &&
        (f->cancelled_order == 0 || purge_completed >= purge_cancelled)) {
        *order = f->completed_order;
        if (now >= purge_completed)
            return LC_DELETE_ARCHIVED;
        return move_unless_there(f, now >= f->completed_at + r->archive_ms
                                        ? TIER_ARCHIVED
                                        : TIER_ORDER_COMPLETED);
    }
    *order = f->cancelled_order;
    if (now >= purge_cancelled)
        return LC_DELETE_COMPLETED;
    return move_unless_there(f, TIER_ORDER_COMPLETED);
}

enum lifecycle_action
lifecycle_decide(const struct lifecycle_rules *r,
                 const struct lifecycle_facts *f, int64_t now,
                 int64_t *order)
{
    int64_t since = f->created_at;

    *order = 0;
    if (f->open_order != 0) {
        *order = f->open_order;
        return move_unless_there(f, TIER_ORDER_PENDING);
    }
    if (f->held_by != 0) {
        *order = f->held_by;
        return LC_KEEP;
    }
    if (f->completed_order != 0 || f->cancelled_order != 0)
        return decide_closed(r, f, now, order);
    /* Unclaimed: 7 days from when it was uploaded or last moved. */
    if (f->tier_changed_at > since)
        since = f->tier_changed_at;
    if (now >= since + r->temporary_ms)
        return LC_DELETE_TEMPORARY;
    return move_unless_there(f, TIER_TEMPORARY);
}

bool
lifecycle_key_in_tier(const char *key, enum store_tier tier,
                      char out[STORE_KEY_MAX + 1])
{
    size_t seg = strcspn(key, "/");
    const char *rest = key;
    int n;

    if (store_tier_of_key(key) >= 0 && key[seg] == '/')
        rest = key + seg + 1;
    n = snprintf(out, STORE_KEY_MAX + 1, "%s/%s", store_tier_name(tier),
                 rest);
    return n > 0 && n <= STORE_KEY_MAX && store_key_valid(out);
}
