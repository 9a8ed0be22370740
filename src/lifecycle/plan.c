/*
 * plan.c — what is due at a given time: one pass over the photos and the
 * orders that claim them (the rules decide each), then the orphans of the
 * store (orphans.c). The plan changes nothing; the dry run prints it and
 * the real run carries it out.
 */
#include "lifecycle/lifecycle.h"

#include "common/err.h"
#include "obs/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * Every photo not deleted, once per order that claims it (or once with
 * no order): through images.order_id or a pet's image columns
 * (by_session 0), or as an unlinked upload of a session a pet names
 * (by_session 1). Rows of one photo are adjacent.
 */
static const char photos_sql[] =
    "WITH claims (image_id, order_id, by_session) AS ("
    "SELECT id, order_id, 0 FROM images WHERE order_id IS NOT NULL "
    "UNION ALL SELECT original_image_id, order_id, 0 FROM pets "
    "WHERE original_image_id IS NOT NULL "
    "UNION ALL SELECT processed_image_id, order_id, 0 FROM pets "
    "WHERE processed_image_id IS NOT NULL "
    "UNION ALL SELECT i.id, p.order_id, 1 FROM pets p JOIN images i "
    "ON i.session_id = p.session_id WHERE i.order_id IS NULL) "
    "SELECT i.id, i.tier, i.object_key, i.thumb_key, i.preview_key, "
    "i.bytes, i.created_at, i.tier_changed_at, o.id, o.status, "
    "COALESCE(o.status_changed_at, o.updated_at), c.by_session "
    "FROM images i LEFT JOIN claims c ON c.image_id = i.id "
    "LEFT JOIN orders o ON o.id = c.order_id "
    "WHERE i.deleted_at IS NULL ORDER BY i.id";

enum { C_ID, C_TIER, C_KEY0, C_BYTES = 5, C_CREATED, C_TIER_AT, C_ORDER,
       C_STATUS, C_CLOSED, C_BY_SESSION };

/* The photo being read: its columns copied out of the cursor. */
struct photo {
    char id[256];
    char tier[32];
    char keys[3][STORE_KEY_MAX + 1];
    int64_t bytes;
    struct lifecycle_facts facts;
    bool usable; /* every text fitted its buffer */
};

static bool
copy_col(db_rows *r, int col, char *out, size_t len)
{
    const char *v = db_col_text(r, col);

    return (size_t)snprintf(out, len, "%s", v) < len;
}

/* Starts a new photo from the first of its rows. */
static void
photo_start(struct photo *ph, db_rows *r)
{
    memset(ph, 0, sizeof(*ph));
    ph->usable = copy_col(r, C_ID, ph->id, sizeof(ph->id)) &&
                 copy_col(r, C_TIER, ph->tier, sizeof(ph->tier));
    for (int k = 0; k < 3; k++) {
        if (db_col_null(r, C_KEY0 + k))
            continue;
        ph->usable = ph->usable && copy_col(r, C_KEY0 + k, ph->keys[k],
                                            sizeof(ph->keys[k]));
        ph->facts.keys[k] = ph->keys[k];
    }
    ph->facts.tier = ph->tier;
    ph->bytes = db_col_int(r, C_BYTES);
    ph->facts.created_at = db_col_int(r, C_CREATED);
    ph->facts.tier_changed_at = db_col_int(r, C_TIER_AT);
}

/* Folds the claiming order of this row, if any, into the photo. */
static void
photo_claim(struct photo *ph, db_rows *r)
{
    if (db_col_null(r, C_ORDER))
        return;
    lifecycle_facts_claim(&ph->facts, db_col_int(r, C_ORDER),
                          db_col_text(r, C_STATUS), db_col_int(r, C_CLOSED),
                          db_col_int(r, C_BY_SESSION) != 0);
}

/* Decides a whole photo and adds what is due to the plan. */
static int
photo_finish(const struct lifecycle_rules *rules, struct photo *ph,
             struct lifecycle_plan *p)
{
    struct lifecycle_item it = {0};
    int64_t order = 0;

    p->photos++;
    if (ph->facts.open_order != 0)
        p->photos_open++;
    if (!ph->usable) {
        log_warn("lifecycle: photo %.80s has a value too long to handle; "
                 "left as it is", ph->id);
        return PD_OK;
    }
    it.action = lifecycle_decide(rules, &ph->facts, p->now, &order);
    if (it.action == LC_KEEP)
        return PD_OK;
    it.image_id = ph->id;
    for (int k = 0; k < 3; k++)
        it.keys[k] = (char *)ph->facts.keys[k];
    it.tier = ph->tier;
    it.bytes = ph->bytes;
    it.order_id = order;
    return lifecycle_plan_add(p, &it);
}

/* One pass over the photos; the cursor is the only one open. */
static int
plan_photos(db *d, const struct lifecycle_rules *rules,
            struct lifecycle_plan *p)
{
    struct photo *ph = calloc(1, sizeof(*ph));
    db_rows *r = NULL;
    bool have = false;
    int rc = ph == NULL ? PD_ENOMEM : db_query(d, photos_sql, NULL, 0, &r);

    while (rc == PD_OK && (rc = db_step(r)) == 1) {
        rc = PD_OK;
        if (!have || strcmp(ph->id, db_col_text(r, C_ID)) != 0) {
            if (have)
                rc = photo_finish(rules, ph, p);
            photo_start(ph, r);
            have = true;
        }
        photo_claim(ph, r);
    }
    if (rc == 0 && have)
        rc = photo_finish(rules, ph, p);
    db_rows_free(r);
    free(ph);
    return rc < 0 ? rc : PD_OK;
}

static char *
dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

int
lifecycle_plan_add(struct lifecycle_plan *p, const struct lifecycle_item *it)
{
    struct lifecycle_item *copy;

    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct lifecycle_item *v = realloc(p->items, cap * sizeof(*v));

        if (v == NULL)
            return PD_ENOMEM;
        p->items = v;
        p->cap = cap;
    }
    copy = &p->items[p->n];
    *copy = *it;
    copy->image_id = dup_or_null(it->image_id);
    copy->tier = dup_or_null(it->tier);
    for (int k = 0; k < 3; k++)
        copy->keys[k] = dup_or_null(it->keys[k]);
    p->n++;
    p->due[it->action].count++;
    p->due[it->action].bytes += it->bytes;
    if ((it->image_id != NULL && copy->image_id == NULL) ||
        (it->keys[0] != NULL && copy->keys[0] == NULL))
        return PD_ENOMEM;
    return PD_OK;
}

void
lifecycle_plan_free(struct lifecycle_plan *p)
{
    for (size_t i = 0; i < p->n; i++) {
        free(p->items[i].image_id);
        free(p->items[i].tier);
        for (int k = 0; k < 3; k++)
            free(p->items[i].keys[k]);
    }
    free(p->items);
    memset(p, 0, sizeof(*p));
}

int
lifecycle_plan_make(db *d, store *s, const struct lifecycle_rules *r,
                    int64_t now, struct lifecycle_plan *out)
{
    int rc;

    memset(out, 0, sizeof(*out));
    out->now = now;
    rc = plan_photos(d, r, out);
    if (rc != PD_OK)
        log_error("lifecycle: cannot read the photos: %s (%s)",
                  pd_err_str(rc), db_errmsg(d));
    if (rc == PD_OK)
        rc = lifecycle_plan_orphans(d, s, r, out);
    return rc;
}

/* More than share of total (both counts); false when total is 0. */
static bool
over_share(int64_t part, int64_t total, double share)
{
    return part > 0 && (double)part > share * (double)total;
}

bool
lifecycle_plan_sane(const struct lifecycle_rules *r,
                    const struct lifecycle_plan *p, char *reason, size_t len)
{
    int64_t photos = p->due[LC_DELETE_TEMPORARY].count +
                     p->due[LC_DELETE_COMPLETED].count +
                     p->due[LC_DELETE_ARCHIVED].count;
    int64_t orphans = p->due[LC_DELETE_ORPHAN].count;

    if (over_share(photos, p->photos, r->max_delete_share)) {
        snprintf(reason, len, "it would delete %lld of %lld photos, more "
                 "than the allowed share %g", (long long)photos,
                 (long long)p->photos, r->max_delete_share);
        return false;
    }
    if (over_share(orphans, p->objects_listed, r->max_delete_share)) {
        snprintf(reason, len, "it would delete %lld of %lld stored objects "
                 "as orphans, more than the allowed share %g",
                 (long long)orphans, (long long)p->objects_listed,
                 r->max_delete_share);
        return false;
    }
    return true;
}
