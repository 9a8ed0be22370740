/*
 * run.c — carrying a plan out. Orphans go first, then photos whose time
 * is up (checked against the rules again, marked deleted, then their
 * objects removed), then moves (copy, record, delete the old objects).
 * Each photo is its own transaction with its audit row, so a crash at
 * any point leaves every row naming objects that exist.
 */
#include "lifecycle/lifecycle.h"
#include "lifecycle/lifecycle_internal.h"

#include "common/err.h"
#include "common/util.h"
#include "obs/log.h"

#include <jansson.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ACTOR "lifecycle"

struct runner {
    db *d;
    store *s;
    const struct lifecycle_plan *plan;
    const struct lifecycle_run_opts *o;
    struct lifecycle_result *res;
    struct lifecycle_copies copies; /* made by this run */
};

/* How one item ended. */
enum outcome { DONE, SKIPPED, FAILED };

/* ---- small helpers ---- */

/* An audit row (actor "lifecycle"); detail is stolen (freed here). */
static int
audit(db *d, const char *action, const char *type, const char *target,
      int64_t order_id, json_t *detail)
{
    char *text = detail != NULL ? json_dumps(detail, JSON_COMPACT) : NULL;
    int rc = PD_ENOMEM;

    if (text != NULL)
        rc = db_exec(d, "INSERT INTO audit_log (at, actor, action, "
                        "target_type, target_id, order_id, detail) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                     (db_arg[]){DB_INT(pd_now_ms()), DB_TEXT(ACTOR),
                                DB_TEXT(action), DB_TEXT(type),
                                DB_TEXT(target),
                                order_id > 0 ? DB_INT(order_id) : DB_NULL,
                                DB_TEXT(text)}, 7, NULL);
    free(text);
    json_decref(detail);
    return rc;
}

static json_t *
clock_json(int64_t now)
{
    char when[40];

    pd_format_time(when, now);
    return json_string(when);
}

static json_t *
keys_json(char *const keys[3])
{
    json_t *a = json_array();

    for (int k = 0; a != NULL && k < 3; k++)
        json_array_append_new(a, keys[k] ? json_string(keys[k])
                                         : json_null());
    return a;
}

/* True (in *named) when a photo not deleted, or an upload's piece,
 * names key. */
static int
key_named(db *d, const char *key, bool *named)
{
    int64_t n = 0;
    int rc = db_query_int(
        d, "SELECT CASE WHEN EXISTS (SELECT 1 FROM images WHERE "
           "object_key = ? AND deleted_at IS NULL) OR EXISTS (SELECT 1 "
           "FROM images WHERE thumb_key = ? AND deleted_at IS NULL) OR "
           "EXISTS (SELECT 1 FROM images WHERE preview_key = ? AND "
           "deleted_at IS NULL) OR EXISTS (SELECT 1 FROM tus_parts WHERE "
           "object_key = ?) THEN 1 ELSE 0 END",
        (db_arg[]){DB_TEXT(key), DB_TEXT(key), DB_TEXT(key), DB_TEXT(key)},
        4, &n);

    *named = rc != PD_OK || n > 0;
    return rc;
}

/* Deletes each of keys that nothing names any more; a failure leaves an
 * orphan for the next run, so it is logged, not returned. */
static void
delete_unnamed(struct runner *rn, char *const keys[3], const char *why)
{
    for (int k = 0; k < 3; k++) {
        bool named = true;
        int rc;

        if (keys[k] == NULL || key_named(rn->d, keys[k], &named) != PD_OK ||
            named)
            continue;
        rc = store_delete(rn->s, keys[k]);
        if (rc != PD_OK)
            log_error("lifecycle: cannot delete %s (%s): %s; the next run "
                      "removes it as an orphan", keys[k], why,
                      pd_err_str(rc));
    }
}

/* Ends a transaction: commits on success, else rolls back. */
static int
finish_tx(db *d, int rc)
{
    if (rc == PD_OK)
        rc = db_commit(d);
    if (rc != PD_OK)
        db_rollback(d);
    return rc;
}

static void
maybe_crash(const struct runner *rn, enum lifecycle_crash at)
{
    if (rn->o->crash == at) {
        fprintf(stderr, "lifecycle: test crash (%s)\n",
                at == LC_CRASH_AFTER_COPY ? "after-copy" : "after-record");
        _exit(3);
    }
}

/* ---- orphans ---- */

static enum outcome
run_orphan(struct runner *rn, const struct lifecycle_item *it)
{
    const char *key = it->keys[0];
    bool named = true;
    int rc = db_begin_write(rn->d);

    if (rc == PD_OK)
        rc = key_named(rn->d, key, &named);
    if (rc == PD_OK && named) {
        db_rollback(rn->d);
        log_info("lifecycle: %s is named again; not an orphan", key);
        return SKIPPED;
    }
    if (rc == PD_OK)
        rc = audit(rn->d, "object.delete", "object", key, 0,
                   json_pack("{s:s, s:I, s:o}", "reason", "orphan",
                             "bytes", (json_int_t)it->bytes, "clock",
                             clock_json(rn->plan->now)));
    if (rc == PD_OK)
        rc = store_delete(rn->s, key);
    rc = finish_tx(rn->d, rc);
    if (rc != PD_OK) {
        log_error("lifecycle: cannot delete orphan %s: %s", key,
                  pd_err_str(rc));
        return FAILED;
    }
    log_debug("lifecycle: deleted orphan %s", key);
    return DONE;
}

/* ---- photos: reading one again ---- */

/* One photo as the database has it now. */
struct current {
    char tier[32];
    char keys[3][STORE_KEY_MAX + 1];
    char *key_ptrs[3];
    struct lifecycle_facts facts;
};

static int
read_row(db *d, const char *id, struct current *c)
{
    db_rows *r = NULL;
    int rc = db_query(d, "SELECT tier, object_key, thumb_key, preview_key, "
                         "created_at, tier_changed_at FROM images "
                         "WHERE id = ? AND deleted_at IS NULL",
                      (db_arg[]){DB_TEXT(id)}, 1, &r);

    memset(c, 0, sizeof(*c));
    if (rc == PD_OK && (rc = db_step(r)) == 1) {
        rc = PD_OK;
        snprintf(c->tier, sizeof(c->tier), "%s", db_col_text(r, 0));
        for (int k = 0; k < 3; k++) {
            if (db_col_null(r, 1 + k))
                continue;
            snprintf(c->keys[k], sizeof(c->keys[k]), "%s",
                     db_col_text(r, 1 + k));
            c->key_ptrs[k] = c->keys[k];
            c->facts.keys[k] = c->keys[k];
        }
        c->facts.tier = c->tier;
        c->facts.created_at = db_col_int(r, 4);
        c->facts.tier_changed_at = db_col_int(r, 5);
    } else if (rc == 0) {
        rc = PD_ENOTFOUND;
    }
    db_rows_free(r);
    return rc;
}

/* The orders that claim photo id, as in the plan's query. */
static int
read_claims(db *d, const char *id, struct lifecycle_facts *f)
{
#define CLAIM_COLS "SELECT o.id, o.status, " \
                   "COALESCE(o.status_changed_at, o.updated_at), "
    static const char sql[] =
        CLAIM_COLS "0 FROM images i JOIN orders o ON o.id = i.order_id "
        "WHERE i.id = ? UNION ALL "
        CLAIM_COLS "0 FROM pets p JOIN orders o ON o.id = p.order_id "
        "WHERE p.original_image_id = ? UNION ALL "
        CLAIM_COLS "0 FROM pets p JOIN orders o ON o.id = p.order_id "
        "WHERE p.processed_image_id = ? UNION ALL "
        CLAIM_COLS "1 FROM images i JOIN pets p ON p.session_id = "
        "i.session_id JOIN orders o ON o.id = p.order_id "
        "WHERE i.id = ? AND i.order_id IS NULL";
#undef CLAIM_COLS
    db_rows *r = NULL;
    int rc = db_query(d, sql, (db_arg[]){DB_TEXT(id), DB_TEXT(id),
                                         DB_TEXT(id), DB_TEXT(id)}, 4, &r);

    while (rc == PD_OK && (rc = db_step(r)) == 1) {
        rc = PD_OK;
        lifecycle_facts_claim(f, db_col_int(r, 0), db_col_text(r, 1),
                              db_col_int(r, 2), db_col_int(r, 3) != 0);
    }
    db_rows_free(r);
    return rc < 0 ? rc : PD_OK;
}

/* ---- photos: deleting ---- */

/* The tier whose rule a deletion follows. */
static const char *
rule_of(enum lifecycle_action a)
{
    if (a == LC_DELETE_TEMPORARY)
        return store_tier_name(TIER_TEMPORARY);
    if (a == LC_DELETE_COMPLETED)
        return store_tier_name(TIER_ORDER_COMPLETED);
    return store_tier_name(TIER_ARCHIVED);
}

static json_t *
deletion_detail(const struct runner *rn, const struct lifecycle_item *it,
                const struct current *c)
{
    return json_pack("{s:s, s:s, s:o, s:I, s:o}",
                     "rule", rule_of(it->action),
                     "tier", c->tier, "keys", keys_json(c->key_ptrs),
                     "bytes", (json_int_t)it->bytes, "clock",
                     clock_json(rn->plan->now));
}

/* Inside the transaction: the photo is still due for this deletion. */
static int
still_due(struct runner *rn, const struct lifecycle_item *it,
          struct current *c, int64_t *order)
{
    int rc = read_row(rn->d, it->image_id, c);

    if (rc == PD_OK)
        rc = read_claims(rn->d, it->image_id, &c->facts);
    if (rc == PD_OK && lifecycle_decide(rn->o->rules, &c->facts,
                                        rn->plan->now, order) != it->action)
        rc = PD_ECONFLICT;
    return rc;
}

static enum outcome
run_delete(struct runner *rn, const struct lifecycle_item *it)
{
    struct current c;
    int64_t order = 0;
    int rc = db_begin_write(rn->d);

    if (rc == PD_OK)
        rc = still_due(rn, it, &c, &order);
    if (rc == PD_ECONFLICT || rc == PD_ENOTFOUND) {
        db_rollback(rn->d);
        log_info("lifecycle: photo %s is no longer due (%s); left as it is",
                 it->image_id, rc == PD_ENOTFOUND ? "gone" : "claimed");
        return SKIPPED;
    }
    if (rc == PD_OK)
        rc = db_exec(rn->d, "UPDATE images SET deleted_at = ? WHERE id = ? "
                            "AND deleted_at IS NULL",
                     (db_arg[]){DB_INT(rn->plan->now),
                                DB_TEXT(it->image_id)}, 2, NULL);
    if (rc == PD_OK)
        rc = audit(rn->d, "photo.delete", "image", it->image_id, order,
                   deletion_detail(rn, it, &c));
    if ((rc = finish_tx(rn->d, rc)) != PD_OK) {
        log_error("lifecycle: cannot delete photo %s: %s (%s)",
                  it->image_id, pd_err_str(rc), db_errmsg(rn->d));
        return FAILED;
    }
    delete_unnamed(rn, c.key_ptrs, it->image_id);
    log_debug("lifecycle: deleted photo %s (%s)", it->image_id,
              lifecycle_action_label(it->action));
    return DONE;
}

/* ---- photos: moving ---- */

/* A move's keys: as planned (from) and where they go (to). */
struct move {
    enum store_tier tier;
    char *from[3];
    char to[3][STORE_KEY_MAX + 1];
    char *to_ptrs[3];
    char *moved[3]; /* the from keys that were copied */
};

/* Copies src to dst unless this run did already (shared objects). */
static int
copy_once(struct runner *rn, const char *src, const char *dst)
{
    int rc;

    if (lifecycle_copies_has(&rn->copies, src, dst))
        return PD_OK;
    rc = store_copy(rn->s, src, dst);
    if (rc != PD_OK) {
        log_error("lifecycle: cannot copy %s to %s: %s", src, dst,
                  pd_err_str(rc));
        return rc;
    }
    lifecycle_copies_add(&rn->copies, src, dst); /* else: copied again */
    return PD_OK;
}

/* Copies each object not yet in the tier; fills m->to. */
static int
copy_objects(struct runner *rn, const struct lifecycle_item *it,
             struct move *m)
{
    for (int k = 0; k < 3; k++) {
        int rc;

        m->from[k] = it->keys[k];
        m->to_ptrs[k] = NULL;
        m->moved[k] = NULL;
        if (it->keys[k] == NULL)
            continue;
        m->to_ptrs[k] = m->to[k];
        if (store_tier_of_key(it->keys[k]) == (int)m->tier) {
            snprintf(m->to[k], sizeof(m->to[k]), "%s", it->keys[k]);
            continue;
        }
        if (!lifecycle_key_in_tier(it->keys[k], m->tier, m->to[k]))
            return PD_EINVAL;
        rc = copy_once(rn, it->keys[k], m->to[k]);
        if (rc != PD_OK)
            return rc;
        m->moved[k] = it->keys[k];
    }
    return PD_OK;
}

/* The row names the copies, if it still names what was copied. */
static int
record_move(struct runner *rn, const struct lifecycle_item *it,
            const struct move *m)
{
    const char *tier = store_tier_name(m->tier);
    int64_t changed = 0;
    int rc = db_begin_write(rn->d);

    if (rc == PD_OK)
        rc = db_exec(rn->d,
            "UPDATE images SET object_key = ?, thumb_key = ?, "
            "preview_key = ?, tier_changed_at = CASE WHEN tier = ? THEN "
            "tier_changed_at ELSE ? END, tier = ? WHERE id = ? AND "
            "deleted_at IS NULL AND object_key = ? AND "
            "COALESCE(thumb_key, '') = COALESCE(?, '') AND "
            "COALESCE(preview_key, '') = COALESCE(?, '')",
            (db_arg[]){DB_TEXT(m->to_ptrs[0]), DB_TEXT(m->to_ptrs[1]),
                       DB_TEXT(m->to_ptrs[2]), DB_TEXT(tier),
                       DB_INT(rn->plan->now), DB_TEXT(tier),
                       DB_TEXT(it->image_id), DB_TEXT(m->from[0]),
                       DB_TEXT(m->from[1]), DB_TEXT(m->from[2])},
            10, &changed);
    if (rc == PD_OK && changed == 0)
        rc = PD_ECONFLICT;
    if (rc == PD_OK)
        rc = audit(rn->d, "photo.move", "image", it->image_id, it->order_id,
                   json_pack("{s:s, s:s, s:o, s:o, s:I, s:o}", "from",
                             it->tier, "to", tier, "keys",
                             keys_json(m->to_ptrs), "previous_keys",
                             keys_json(m->from), "bytes",
                             (json_int_t)it->bytes, "clock",
                             clock_json(rn->plan->now)));
    return finish_tx(rn->d, rc);
}

static enum outcome
run_move(struct runner *rn, const struct lifecycle_item *it)
{
    struct move m = {.tier = (enum store_tier)(it->action -
                                               LC_MOVE_TEMPORARY)};
    int rc = copy_objects(rn, it, &m);

    if (rc == PD_OK)
        maybe_crash(rn, LC_CRASH_AFTER_COPY);
    if (rc == PD_OK)
        rc = record_move(rn, it, &m);
    if (rc == PD_ECONFLICT) {
        log_info("lifecycle: photo %s changed since it was planned; its "
                 "copies are left as orphans", it->image_id);
        return SKIPPED;
    }
    if (rc != PD_OK) {
        log_error("lifecycle: cannot move photo %s to %s: %s (%s)",
                  it->image_id, store_tier_name(m.tier), pd_err_str(rc),
                  db_errmsg(rn->d));
        return FAILED;
    }
    maybe_crash(rn, LC_CRASH_AFTER_RECORD);
    delete_unnamed(rn, m.moved, it->image_id);
    log_debug("lifecycle: moved photo %s from %s to %s", it->image_id,
              it->tier, store_tier_name(m.tier));
    return DONE;
}

/* ---- the run ---- */

static enum outcome
run_item(struct runner *rn, const struct lifecycle_item *it)
{
    if (it->action == LC_DELETE_ORPHAN)
        return run_orphan(rn, it);
    if (lifecycle_action_is_move(it->action))
        return run_move(rn, it);
    return run_delete(rn, it);
}

/* The pass an action belongs to: orphans, deletions, moves. */
static int
pass_of(enum lifecycle_action a)
{
    if (a == LC_DELETE_ORPHAN)
        return 0;
    return lifecycle_action_is_move(a) ? 2 : 1;
}

/* Counts the outcome; true when the item failed. */
static bool
count(struct runner *rn, const struct lifecycle_item *it, enum outcome o)
{
    if (o == DONE) {
        rn->res->done[it->action].count++;
        rn->res->done[it->action].bytes += it->bytes;
    } else if (o == SKIPPED) {
        rn->res->skipped++;
    } else {
        rn->res->failed++;
    }
    return o == FAILED;
}

/*
 * Many photos may name one key (demo data), so PostgreSQL's generic plan
 * for "is this key named" expects thousands of rows and scans the table,
 * which for a key nobody names any more reads every row. Plans made for
 * each key's value use the index. This connection is the run's own.
 */
static void
prefer_custom_plans(db *d)
{
    if (db_kind(d) == DB_POSTGRES &&
        db_exec(d, "SET plan_cache_mode = force_custom_plan", NULL, 0,
                NULL) != PD_OK)
        log_warn("lifecycle: cannot set plan_cache_mode: %s", db_errmsg(d));
}

int
lifecycle_run(db *d, store *s, const struct lifecycle_plan *p,
              const struct lifecycle_run_opts *o,
              struct lifecycle_result *out)
{
    struct runner rn = {d, s, p, o, out, {0}};
    int rc = PD_OK;

    memset(out, 0, sizeof(*out));
    prefer_custom_plans(d);
    for (int pass = 0; rc == PD_OK && pass < 3; pass++) {
        for (size_t i = 0; rc == PD_OK && i < p->n; i++) {
            if (pass_of(p->items[i].action) != pass)
                continue;
            if (o->renew != NULL && o->renew(o->renew_ctx) != 0)
                rc = PD_EBUSY;
            else if (count(&rn, &p->items[i], run_item(&rn, &p->items[i])) &&
                     db_ping(d) == PD_EUNAVAIL)
                rc = PD_EUNAVAIL;
        }
    }
    lifecycle_copies_free(&rn.copies);
    return rc;
}
