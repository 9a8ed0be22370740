/*
 * lifecycle.h — retention of stored photos: which tier each photo belongs
 * in given its orders (the rules), what is due at a given time (the
 * plan), carrying a plan out (the run), the lock that keeps two runs
 * apart, and the per-tier storage gauges of /metrics.
 */
#ifndef PD_LIFECYCLE_H
#define PD_LIFECYCLE_H

#include "db/db.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LIFECYCLE_DAY_MS (24LL * 3600 * 1000)

/* The timings; lifecycle_rules_default() gives the shop's. */
struct lifecycle_rules {
    int64_t temporary_ms;  /* an unclaimed photo's life (7 days) */
    int64_t archive_ms;    /* completed order → archived (30 days) */
    int64_t completed_ms;  /* a cancelled order's photos (180 days) */
    int64_t archived_ms;   /* a completed order's photos (730 days) */
    int64_t orphan_ms;     /* an unnamed object's grace (1 day) */
    double max_delete_share; /* refuse above this share (0.2) */
};

struct lifecycle_rules lifecycle_rules_default(void);

/*
 * What can happen to a photo (or, for LC_DELETE_ORPHAN, to an object no
 * row names). The moves come first, in tier order: LC_MOVE_TEMPORARY +
 * tier is the move into that store tier.
 */
enum lifecycle_action {
    LC_KEEP = -1,
    LC_MOVE_TEMPORARY = 0,
    LC_MOVE_PENDING,
    LC_MOVE_COMPLETED,
    LC_MOVE_ARCHIVED,
    LC_DELETE_TEMPORARY, /* unclaimed, 7 days in the temporary tier */
    LC_DELETE_COMPLETED, /* cancelled order, 180 days after closing */
    LC_DELETE_ARCHIVED,  /* completed order, 730 days after closing */
    LC_DELETE_ORPHAN,
    LC_ACTION_COUNT
};

/* "move to order_pending", "delete orphans", ... */
const char *lifecycle_action_label(enum lifecycle_action a);
bool lifecycle_action_is_move(enum lifecycle_action a);

/* ---- the rules (rules.c) ---- */

/* What the database says of one photo and the orders that claim it. */
struct lifecycle_facts {
    const char *tier;    /* as recorded in images.tier */
    const char *keys[3]; /* original, thumbnail, preview (NULL: none) */
    int64_t created_at;
    int64_t tier_changed_at; /* 0 when never recorded */
    int64_t open_order;      /* an open order that claims it, or 0 */
    int64_t held_by;  /* an open order whose pet names its session, or 0 */
    int64_t completed_order, completed_at; /* latest completed claimer */
    int64_t cancelled_order, cancelled_at; /* latest cancelled claimer */
};

/* Folds one claiming order (status, closing time) into f. */
void lifecycle_facts_claim(struct lifecycle_facts *f, int64_t order_id,
                           const char *status, int64_t closed_at,
                           bool by_session);

/*
 * The decision table: what is due for the photo at now. *order receives
 * the order the decision follows (0 when none), for the audit log.
 */
enum lifecycle_action lifecycle_decide(const struct lifecycle_rules *r,
                                       const struct lifecycle_facts *f,
                                       int64_t now, int64_t *order);

/* The key of an object moved into tier: key with its first segment
 * replaced by the tier (or the tier put in front when the first segment
 * names none). False when the result is not a valid key. */
bool lifecycle_key_in_tier(const char *key, enum store_tier tier,
                           char out[STORE_KEY_MAX + 1]);

/* ---- the plan (plan.c, orphans.c) ---- */

/* One due action. Strings are owned by the plan. */
struct lifecycle_item {
    enum lifecycle_action action;
    char *image_id;   /* NULL for an orphan */
    char *keys[3];    /* the photo's keys as planned; an orphan: keys[0] */
    char *tier;       /* the recorded tier as planned (NULL: orphan) */
    int64_t bytes;    /* the original's (or the orphan's) size */
    int64_t order_id; /* the order the decision follows, or 0 */
};

struct lifecycle_tally {
    int64_t count; /* photos (objects for orphans) */
    int64_t bytes;
};

struct lifecycle_plan {
    int64_t now;
    struct lifecycle_item *items;
    size_t n, cap;
    struct lifecycle_tally due[LC_ACTION_COUNT];
    int64_t photos;         /* photos not deleted, in all */
    int64_t photos_open;    /* of these, kept for open orders */
    int64_t objects_listed; /* objects under the tier prefixes */
};

/*
 * Decides what is due at now: every photo by the rules, then every
 * stored object under a tier prefix that no photo, nor unfinished
 * upload, names and that is older than the orphan grace. Changes
 * nothing. The caller frees out with lifecycle_plan_free, even on
 * failure.
 */
int lifecycle_plan_make(db *d, store *s, const struct lifecycle_rules *r,
                        int64_t now, struct lifecycle_plan *out);
void lifecycle_plan_free(struct lifecycle_plan *p);
/* Appends an item (copying its strings) and counts it as due. */
int lifecycle_plan_add(struct lifecycle_plan *p,
                       const struct lifecycle_item *it);

/* Adds the orphans among the objects under the tier prefixes (orphans.c). */
int lifecycle_plan_orphans(db *d, store *s, const struct lifecycle_rules *r,
                           struct lifecycle_plan *p);

/*
 * The safety check: false (and why, in reason) when the plan would
 * delete more than the rules' share of the photos, or of the stored
 * objects as orphans.
 */
bool lifecycle_plan_sane(const struct lifecycle_rules *r,
                         const struct lifecycle_plan *p, char *reason,
                         size_t len);

/* ---- the run (run.c) ---- */

/* Test-only faults: the process exits (status 3) at that point. */
enum lifecycle_crash {
    LC_CRASH_NONE,
    LC_CRASH_AFTER_COPY,   /* objects copied, row not changed yet */
    LC_CRASH_AFTER_RECORD, /* row changed, old objects not deleted */
};

struct lifecycle_result {
    struct lifecycle_tally done[LC_ACTION_COUNT];
    int64_t skipped; /* no longer due when their turn came */
    int64_t failed;  /* failed; the log says why; retried next run */
};

/* Renews the run's lock; non-zero when it is lost (the run stops). */
typedef int (*lifecycle_renew_fn)(void *ctx);

struct lifecycle_run_opts {
    const struct lifecycle_rules *rules;
    enum lifecycle_crash crash;
    lifecycle_renew_fn renew; /* called between items; may be NULL */
    void *renew_ctx;
};

/*
 * Carries the plan out: orphans first, then deletions, then moves, each
 * photo in its own transaction with its audit row (actor "lifecycle").
 * A deletion is checked against the rules again first. A move copies,
 * records, then deletes the old objects no photo names any more. Returns
 * 0, or the error that stopped it (the lock lost, the database gone).
 */
int lifecycle_run(db *d, store *s, const struct lifecycle_plan *p,
                  const struct lifecycle_run_opts *o,
                  struct lifecycle_result *out);

/* ---- the lock (lock.c) ---- */

#define LIFECYCLE_LOCK_NAME "lifecycle"

struct lifecycle_lock {
    char holder[128];
    int64_t expires_at; /* wall clock, ms */
};

/*
 * Takes the named lock for ttl_ms unless someone else holds an unexpired
 * one: then PD_EBUSY, and *other (may be NULL) receives who and until
 * when. One atomic statement on both databases. holder names this run.
 */
int lifecycle_lock_take(db *d, const char *name, const char *holder,
                        int64_t ttl_ms, struct lifecycle_lock *other);
/* Extends a held lock; PD_EBUSY when it is no longer ours. */
int lifecycle_lock_renew(db *d, const char *name, const char *holder,
                         int64_t ttl_ms);
/* Lets the lock go (only if it is still ours). */
int lifecycle_lock_release(db *d, const char *name, const char *holder);

/* ---- /metrics (gauges.c) ---- */

/*
 * Registers storage_bytes_used{tier} and storage_objects{tier}, read
 * from the database (the server's per-thread connection) when /metrics
 * is scraped.
 */
void lifecycle_register_metrics(void);

#endif
