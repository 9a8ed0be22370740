/*
 * test_lifecycle.c — the retention rules as a table, then the planner,
 * the run, the lock and the storage gauges on SQLite and PostgreSQL
 * (TEST_PG_URL) with a file store: photos of open orders kept whatever
 * their age, moves that keep shared objects until the last photo lets
 * go, orphans by age, deletions checked again before they happen.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../db/db_env.h"

#include "common/err.h"
#include "common/util.h"
#include "lifecycle/lifecycle.h"
#include "lifecycle/lifecycle_internal.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "store/store.h"

#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define DAY LIFECYCLE_DAY_MS
/* A fixed "now" for the pure rules: 2027-01-15. */
#define T0 1800000000000LL

/* ---- the rules, as a table ------------------------------------------- */

struct rule_case {
    const char *what;
    const char *tier;     /* recorded */
    const char *key_tier; /* where the objects are */
    int64_t age;          /* created this long before now */
    int64_t open, held;   /* order ids (0: none) */
    int64_t completed_ago, cancelled_ago; /* -1: no such order */
    enum lifecycle_action want;
    int64_t want_order;
};

static const struct rule_case rule_cases[] = {
    {"open order, 400 days old, objects still temporary", "order_pending",
     "temporary", 400 * DAY, 7, 0, -1, -1, LC_MOVE_PENDING, 7},
    {"open order, in place", "order_pending", "order_pending", 400 * DAY,
     7, 0, -1, -1, LC_KEEP, 7},
    {"open order beats a completed one long past", "archived", "archived",
     900 * DAY, 7, 0, 800 * DAY, -1, LC_MOVE_PENDING, 7},
    {"completed 10 days ago", "order_pending", "order_pending", 20 * DAY, 0,
     0, 10 * DAY, -1, LC_MOVE_COMPLETED, 8},
    {"completed just under 30 days ago", "order_completed",
     "order_completed", 40 * DAY, 0, 0, 30 * DAY - 1, -1, LC_KEEP, 8},
    {"completed 30 days ago", "order_completed", "order_completed",
     40 * DAY, 0, 0, 30 * DAY, -1, LC_MOVE_ARCHIVED, 8},
    {"completed 729 days ago, archived", "archived", "archived", 800 * DAY,
     0, 0, 729 * DAY, -1, LC_KEEP, 8},
    {"completed 730 days ago", "archived", "archived", 800 * DAY, 0, 0,
     730 * DAY, -1, LC_DELETE_ARCHIVED, 8},
    {"completed long ago, never moved", "order_pending", "temporary",
     900 * DAY, 0, 0, 731 * DAY, -1, LC_DELETE_ARCHIVED, 8},
    {"cancelled 179 days ago", "order_pending", "order_pending", 200 * DAY,
     0, 0, -1, 179 * DAY, LC_MOVE_COMPLETED, 9},
    {"cancelled 180 days ago", "order_completed", "order_completed",
     200 * DAY, 0, 0, -1, 180 * DAY, LC_DELETE_COMPLETED, 9},
    {"cancelled lately outlives a completion about to expire",
     "archived", "archived", 800 * DAY, 0, 0, 700 * DAY, 10 * DAY,
     LC_MOVE_COMPLETED, 9},
    {"completed outlives a cancellation", "order_completed",
     "order_completed", 300 * DAY, 0, 0, 200 * DAY, 190 * DAY,
     LC_MOVE_ARCHIVED, 8},
    {"session of an open order holds an old upload", "temporary",
     "temporary", 100 * DAY, 0, 11, -1, -1, LC_KEEP, 11},
    {"unclaimed, 6 days", "temporary", "temporary", 6 * DAY, 0, 0, -1, -1,
     LC_KEEP, 0},
    {"unclaimed, 7 days", "temporary", "temporary", 7 * DAY, 0, 0, -1, -1,
     LC_DELETE_TEMPORARY, 0},
    {"unclaimed, its order gone", "order_pending", "order_pending", DAY, 0,
     0, -1, -1, LC_MOVE_TEMPORARY, 0},
};

static void
facts_of(const struct rule_case *c, char keys[3][80],
         struct lifecycle_facts *f)
{
    memset(f, 0, sizeof(*f));
    f->tier = c->tier;
    for (int k = 0; k < 3; k++) {
        snprintf(keys[k], 80, "%s/s1/img-%d.jpg", c->key_tier, k);
        f->keys[k] = keys[k];
    }
    f->created_at = T0 - c->age;
    f->tier_changed_at = f->created_at;
    lifecycle_facts_claim(f, c->open, "in_production", 0, false);
    lifecycle_facts_claim(f, c->held, "pending", 0, true);
    if (c->completed_ago >= 0)
        lifecycle_facts_claim(f, 8, "completed", T0 - c->completed_ago,
                              false);
    if (c->cancelled_ago >= 0)
        lifecycle_facts_claim(f, 9, "cancelled", T0 - c->cancelled_ago,
                              false);
}

static void
test_rule_table(void **state)
{
    struct lifecycle_rules r = lifecycle_rules_default();
    size_t n = sizeof(rule_cases) / sizeof(rule_cases[0]);

    (void)state;
    for (size_t i = 0; i < n; i++) {
        const struct rule_case *c = &rule_cases[i];
        struct lifecycle_facts f;
        char keys[3][80];
        int64_t order = -1;
        enum lifecycle_action got;

        facts_of(c, keys, &f);
        got = lifecycle_decide(&r, &f, T0, &order);
        if (got != c->want || order != c->want_order)
            print_error("%s: got %s (order %lld), want %s (order %lld)\n",
                        c->what, lifecycle_action_label(got),
                        (long long)order, lifecycle_action_label(c->want),
                        (long long)c->want_order);
        assert_int_equal(got, c->want);
        assert_int_equal(order, c->want_order);
    }
}

/* A closed order's session claim means nothing; an unlinked upload of
 * it goes after 7 days like any other. */
static void
test_session_of_closed_order(void **state)
{
    struct lifecycle_rules r = lifecycle_rules_default();
    struct lifecycle_facts f = {.tier = "temporary",
                                .keys = {"temporary/s/a.jpg"},
                                .created_at = T0 - 8 * DAY};
    int64_t order;

    (void)state;
    lifecycle_facts_claim(&f, 5, "completed", T0 - DAY, true);
    assert_int_equal(lifecycle_decide(&r, &f, T0, &order),
                     LC_DELETE_TEMPORARY);
    /* A move back to temporary restarts its 7 days. */
    f.tier_changed_at = T0 - 2 * DAY;
    assert_int_equal(lifecycle_decide(&r, &f, T0, &order), LC_KEEP);
}

static void
test_key_in_tier(void **state)
{
    char out[STORE_KEY_MAX + 1], long_key[STORE_KEY_MAX + 1];

    (void)state;
    assert_true(lifecycle_key_in_tier("temporary/s1/a.jpg", TIER_ARCHIVED,
                                      out));
    assert_string_equal(out, "archived/s1/a.jpg");
    assert_true(lifecycle_key_in_tier("demo/pet-1.jpg", TIER_ORDER_PENDING,
                                      out));
    assert_string_equal(out, "order_pending/demo/pet-1.jpg");
    memset(long_key, 'a', STORE_KEY_MAX - 4);
    memcpy(long_key, "tmp/", 4);
    long_key[STORE_KEY_MAX - 4] = '\0';
    assert_false(lifecycle_key_in_tier(long_key, TIER_ORDER_COMPLETED,
                                       out));
}

static void
test_safety_share(void **state)
{
    struct lifecycle_rules r = lifecycle_rules_default();
    struct lifecycle_plan p = {.photos = 10, .objects_listed = 30};
    char why[256];

    (void)state;
    p.due[LC_DELETE_TEMPORARY].count = 1;
    p.due[LC_DELETE_ARCHIVED].count = 1;
    assert_true(lifecycle_plan_sane(&r, &p, why, sizeof(why)));
    p.due[LC_DELETE_COMPLETED].count = 1;
    assert_false(lifecycle_plan_sane(&r, &p, why, sizeof(why)));
    assert_non_null(strstr(why, "3 of 10 photos"));
    memset(p.due, 0, sizeof(p.due));
    p.due[LC_DELETE_ORPHAN].count = 7;
    assert_false(lifecycle_plan_sane(&r, &p, why, sizeof(why)));
    /* An empty database beside a full bucket: everything is an orphan. */
    p.photos = 0;
    p.due[LC_DELETE_ORPHAN].count = 30;
    assert_false(lifecycle_plan_sane(&r, &p, why, sizeof(why)));
    r.max_delete_share = 1;
    assert_true(lifecycle_plan_sane(&r, &p, why, sizeof(why)));
}

/* The run's memory of its copies: pairs, not keys, and it grows. */
static void
test_copies_set(void **state)
{
    struct lifecycle_copies c = {0};
    char src[64], dst[64];

    (void)state;
    assert_false(lifecycle_copies_has(&c, "a", "b"));
    for (int i = 0; i < 1000; i++) {
        snprintf(src, sizeof(src), "temporary/s/%d.jpg", i);
        snprintf(dst, sizeof(dst), "order_pending/s/%d.jpg", i);
        assert_int_equal(lifecycle_copies_add(&c, src, dst), 0);
    }
    assert_int_equal(lifecycle_copies_add(&c, "temporary/s/7.jpg",
                                          "order_pending/s/7.jpg"), 0);
    assert_int_equal(c.n, 1000);
    assert_true(lifecycle_copies_has(&c, "temporary/s/999.jpg",
                                     "order_pending/s/999.jpg"));
    assert_false(lifecycle_copies_has(&c, "temporary/s/999.jpg",
                                      "archived/s/999.jpg"));
    assert_false(lifecycle_copies_has(&c, "temporary/s/99", "9.jpg"));
    lifecycle_copies_free(&c);
}

/* ---- fixture: a migrated database and a file store ------------------- */

struct fixture {
    struct env *e;
    char dir[256];
    store *s;
    struct lifecycle_rules rules;
    int64_t now; /* the real clock at setup */
};

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    const char *tmp = getenv("TMPDIR");
    char url[300], err[256];
    void *es = NULL;

    assert_non_null(f);
    if (env_setup_migrated(&es) != 0)
        return -1;
    f->e = es;
    snprintf(f->dir, sizeof(f->dir), "%s/pd-lifecycle-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    snprintf(url, sizeof(url), "file:%s", f->dir);
    assert_int_equal(store_open(url, &f->s, err, sizeof(err)), 0);
    f->rules = lifecycle_rules_default();
    f->rules.max_delete_share = 1;
    f->now = pd_now_ms();
    *state = f;
    return 0;
}

static int
remove_one(const char *path, const struct stat *st, int flag,
           struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int
teardown(void **state)
{
    struct fixture *f = *state;
    void *es;

    if (f == NULL)
        return 0;
    es = f->e;
    store_close(f->s);
    nftw(f->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    env_teardown(&es);
    free(f);
    *state = NULL;
    return 0;
}

static int64_t
count(struct fixture *f, const char *sql)
{
    return env_int(f->e->d, sql, NULL, 0);
}

static int64_t
add_order(struct fixture *f, const char *name, const char *status,
          int64_t changed_at)
{
    db_rows *r = NULL;
    int64_t id;

    assert_int_equal(db_query(f->e->d, "INSERT INTO orders (name, status, "
                                       "created_at, updated_at, "
                                       "status_changed_at) VALUES "
                                       "(?, ?, ?, ?, ?) RETURNING id",
                              (db_arg[]){DB_TEXT(name), DB_TEXT(status),
                                         DB_INT(changed_at),
                                         DB_INT(changed_at),
                                         DB_INT(changed_at)}, 5, &r), 0);
    assert_int_equal(db_step(r), 1);
    id = db_col_int(r, 0);
    db_rows_free(r);
    return id;
}

static void
put_object(struct fixture *f, const char *key)
{
    assert_int_equal(store_put_bytes(f->s, key, key, strlen(key)), 0);
}

static bool
object_exists(struct fixture *f, const char *key)
{
    struct store_stat st;

    return store_stat(f->s, key, &st) == 0;
}

/* Sets an object's modification time to when (ms). */
static void
age_object(struct fixture *f, const char *key, int64_t when)
{
    char path[600];
    struct timespec ts[2] = {{when / 1000, 0}, {when / 1000, 0}};

    snprintf(path, sizeof(path), "%s/%s", f->dir, key);
    assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* A photo row with its three objects under base ("tier/session/id"). */
static void
add_photo(struct fixture *f, const char *id, const char *base,
          const char *tier, int64_t created_at, int64_t order_id)
{
    char key[3][200];
    static const char *const ext[3] = {".jpg", "-thumb.jpg", "-preview.jpg"};

    for (int k = 0; k < 3; k++) {
        snprintf(key[k], sizeof(key[k]), "%s%s", base, ext[k]);
        if (!object_exists(f, key[k]))
            put_object(f, key[k]);
    }
    env_exec_ok(f->e->d,
                "INSERT INTO images (id, session_id, kind, order_id, "
                "object_key, thumb_key, preview_key, tier, bytes, sha256, "
                "created_at, tier_changed_at) VALUES (?, ?, 'original', ?, "
                "?, ?, ?, ?, 1000, ?, ?, ?)",
                (db_arg[]){DB_TEXT(id), DB_TEXT(id),
                           order_id > 0 ? DB_INT(order_id) : DB_NULL,
                           DB_TEXT(key[0]), DB_TEXT(key[1]), DB_TEXT(key[2]),
                           DB_TEXT(tier), DB_TEXT(id), DB_INT(created_at),
                           DB_INT(created_at)}, 10);
}

static void
add_pet(struct fixture *f, int64_t order_id, const char *image_id,
        const char *session)
{
    env_exec_ok(f->e->d, "INSERT INTO pets (order_id, session_id, "
                         "original_image_id) VALUES (?, ?, ?)",
                (db_arg[]){DB_INT(order_id), DB_TEXT(session),
                           DB_TEXT(image_id)}, 3);
}

static const char *
tier_of(struct fixture *f, const char *id, char *out, size_t len)
{
    db_rows *r = NULL;

    assert_int_equal(db_query(f->e->d, "SELECT tier || ' ' || object_key "
                                       "FROM images WHERE id = ?",
                              (db_arg[]){DB_TEXT(id)}, 1, &r), 0);
    assert_int_equal(db_step(r), 1);
    snprintf(out, len, "%s", db_col_text(r, 0));
    db_rows_free(r);
    return out;
}

static void
plan_and_run(struct fixture *f, int64_t now, struct lifecycle_plan *p,
             struct lifecycle_result *res)
{
    struct lifecycle_run_opts o = {.rules = &f->rules};

    assert_int_equal(lifecycle_plan_make(f->e->d, f->s, &f->rules, now, p),
                     0);
    assert_int_equal(lifecycle_run(f->e->d, f->s, p, &o, res), 0);
}

/* ---- the planner and the run ----------------------------------------- */

/*
 * One of each: an open order's photo 400 days old, a completed order's
 * (31 days), a cancelled order's (181 days), unclaimed uploads (8 and 3
 * days old) and one claimed by a pet only. What the plan says is what
 * the run does, and the audit log has a row for each.
 */
static void
test_plan_then_run(void **state)
{
    struct fixture *f = *state;
    int64_t now = f->now + 2 * DAY, t = now;
    int64_t open = add_order(f, "#1", "in_production", t - 400 * DAY);
    int64_t done = add_order(f, "#2", "completed", t - 31 * DAY);
    int64_t gone = add_order(f, "#3", "cancelled", t - 181 * DAY);
    int64_t fresh = add_order(f, "#4", "pending", t - DAY);
    struct lifecycle_plan p;
    struct lifecycle_result res;
    char buf[300];

    add_photo(f, "old_open", "temporary/s1/old_open", "order_pending",
              t - 400 * DAY, open);
    add_photo(f, "done", "order_pending/s2/done", "order_pending",
              t - 60 * DAY, done);
    add_photo(f, "gone", "order_completed/s3/gone", "order_completed",
              t - 200 * DAY, gone);
    add_photo(f, "stale", "temporary/s4/stale", "temporary", t - 8 * DAY, 0);
    add_photo(f, "young", "temporary/s5/young", "temporary", t - 3 * DAY, 0);
    add_photo(f, "by_pet", "temporary/s6/by_pet", "temporary", t - 9 * DAY,
              0);
    add_pet(f, fresh, "by_pet", "s6");
    plan_and_run(f, now, &p, &res);

    assert_int_equal(p.photos, 6);
    assert_int_equal(p.photos_open, 2);
    assert_int_equal(p.due[LC_MOVE_PENDING].count, 2);
    assert_int_equal(p.due[LC_MOVE_ARCHIVED].count, 1);
    assert_int_equal(p.due[LC_DELETE_COMPLETED].count, 1);
    assert_int_equal(p.due[LC_DELETE_TEMPORARY].count, 1);
    assert_int_equal(p.due[LC_DELETE_TEMPORARY].bytes, 1000);
    assert_memory_equal(p.due, res.done, sizeof(p.due));
    assert_int_equal(res.failed + res.skipped, 0);

    assert_string_equal(tier_of(f, "old_open", buf, sizeof(buf)),
                        "order_pending order_pending/s1/old_open.jpg");
    assert_string_equal(tier_of(f, "done", buf, sizeof(buf)),
                        "archived archived/s2/done.jpg");
    assert_string_equal(tier_of(f, "by_pet", buf, sizeof(buf)),
                        "order_pending order_pending/s6/by_pet.jpg");
    assert_true(object_exists(f, "archived/s2/done-preview.jpg"));
    assert_false(object_exists(f, "order_pending/s2/done-thumb.jpg"));
    assert_false(object_exists(f, "temporary/s1/old_open.jpg"));
    assert_false(object_exists(f, "order_completed/s3/gone.jpg"));
    assert_false(object_exists(f, "temporary/s4/stale-thumb.jpg"));
    assert_true(object_exists(f, "temporary/s5/young.jpg"));
    assert_int_equal(count(f, "SELECT COUNT(*) FROM images WHERE "
                              "deleted_at IS NOT NULL"), 2);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM audit_log WHERE actor "
                              "= 'lifecycle' AND action = 'photo.move'"), 3);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM audit_log WHERE actor "
                              "= 'lifecycle' AND action = 'photo.delete' "
                              "AND target_type = 'image'"), 2);
    lifecycle_plan_free(&p);

    /* Nothing more is due at the same time. */
    plan_and_run(f, now, &p, &res);
    assert_int_equal(p.n, 0);
    lifecycle_plan_free(&p);
}

/* Two photos name the same objects (as demo data does): the first to
 * move leaves them for the second, which frees them. */
static void
test_shared_objects_freed_last(void **state)
{
    struct fixture *f = *state;
    int64_t now = f->now, t = now;
    int64_t a = add_order(f, "#10", "completed", t - 40 * DAY);
    int64_t b = add_order(f, "#11", "pending", t - DAY);
    struct lifecycle_plan p;
    struct lifecycle_result res;

    add_photo(f, "a", "order_completed/demo/pet-1", "order_completed",
              t - 50 * DAY, a);
    add_photo(f, "b", "order_completed/demo/pet-1", "order_completed",
              t - 50 * DAY, b);
    add_photo(f, "c", "order_completed/demo/pet-1", "order_completed",
              t - 50 * DAY, a);
    /* b's order is open: b goes to order_pending, a and c to archived
     * (the objects are copied once for both). */
    plan_and_run(f, now, &p, &res);
    assert_int_equal(res.done[LC_MOVE_ARCHIVED].count, 2);
    assert_int_equal(res.done[LC_MOVE_PENDING].count, 1);
    assert_false(object_exists(f, "order_completed/demo/pet-1.jpg"));
    assert_true(object_exists(f, "archived/demo/pet-1.jpg"));
    assert_true(object_exists(f, "order_pending/demo/pet-1.jpg"));
    lifecycle_plan_free(&p);

    /* Deleting one photo keeps the objects the other still names. */
    env_exec_ok(f->e->d, "DELETE FROM images WHERE id = 'c'", NULL, 0);
    env_exec_ok(f->e->d, "UPDATE images SET object_key = ?, thumb_key = ?, "
                         "preview_key = ?, tier = 'archived' WHERE id = 'b'",
                (db_arg[]){DB_TEXT("archived/demo/pet-1.jpg"),
                           DB_TEXT("archived/demo/pet-1-thumb.jpg"),
                           DB_TEXT("archived/demo/pet-1-preview.jpg")}, 3);
    /* b's order completes 50 days later than a's: a goes first. */
    env_exec_ok(f->e->d, "UPDATE orders SET status = 'completed', "
                         "status_changed_at = ? WHERE id = ?",
                (db_arg[]){DB_INT(t + 10 * DAY), DB_INT(b)}, 2);
    plan_and_run(f, now + 700 * DAY, &p, &res);
    assert_int_equal(res.done[LC_DELETE_ARCHIVED].count, 1);
    assert_true(object_exists(f, "archived/demo/pet-1.jpg"));
    lifecycle_plan_free(&p);
    plan_and_run(f, now + 800 * DAY, &p, &res);
    assert_int_equal(res.done[LC_DELETE_ARCHIVED].count, 1);
    assert_false(object_exists(f, "archived/demo/pet-1.jpg"));
    lifecycle_plan_free(&p);
}

/* Orphans: unnamed and a day old go; younger ones, those a photo or an
 * upload's piece names, and everything outside the tiers stay. */
static void
test_orphans(void **state)
{
    struct fixture *f = *state;
    int64_t now = f->now;
    struct lifecycle_plan p;
    struct lifecycle_result res;

    add_photo(f, "named", "temporary/s1/named", "temporary", now, 0);
    put_object(f, "archived/x/old-orphan.jpg");
    put_object(f, "order_pending/x/young-orphan.jpg");
    put_object(f, "temporary/tus/u1/0000-piece");
    put_object(f, "exports/data-request-1.json");
    env_exec_ok(f->e->d, "INSERT INTO tus_uploads (id, session_id, "
                         "image_type, created_at, expires_at) VALUES "
                         "('u1', 's1', 'original', 0, 0)", NULL, 0);
    env_exec_ok(f->e->d, "INSERT INTO tus_parts (upload_id, part_offset, "
                         "length, object_key) VALUES ('u1', 0, 5, "
                         "'temporary/tus/u1/0000-piece')", NULL, 0);
    age_object(f, "archived/x/old-orphan.jpg", now - DAY);
    age_object(f, "temporary/s1/named.jpg", now - 3 * DAY);
    age_object(f, "temporary/tus/u1/0000-piece", now - 3 * DAY);
    age_object(f, "exports/data-request-1.json", now - 30 * DAY);
    age_object(f, "order_pending/x/young-orphan.jpg", now - DAY + 60000);

    plan_and_run(f, now, &p, &res);
    assert_int_equal(p.objects_listed, 6);
    assert_int_equal(p.due[LC_DELETE_ORPHAN].count, 1);
    assert_int_equal(res.done[LC_DELETE_ORPHAN].count, 1);
    assert_false(object_exists(f, "archived/x/old-orphan.jpg"));
    assert_true(object_exists(f, "order_pending/x/young-orphan.jpg"));
    assert_true(object_exists(f, "temporary/tus/u1/0000-piece"));
    assert_true(object_exists(f, "exports/data-request-1.json"));
    assert_true(object_exists(f, "temporary/s1/named-thumb.jpg"));
    assert_int_equal(count(f, "SELECT COUNT(*) FROM audit_log WHERE "
                              "action = 'object.delete' AND target_id = "
                              "'archived/x/old-orphan.jpg'"), 1);
    lifecycle_plan_free(&p);
}

/* A photo planned for deletion and claimed by a new order before its
 * turn is left alone (and the run says it skipped it). */
static void
test_deletion_checked_again(void **state)
{
    struct fixture *f = *state;
    int64_t now = f->now;
    struct lifecycle_run_opts o = {.rules = &f->rules};
    struct lifecycle_plan p;
    struct lifecycle_result res;
    int64_t order;

    add_photo(f, "late", "temporary/s9/late", "temporary", now - 8 * DAY,
              0);
    assert_int_equal(lifecycle_plan_make(f->e->d, f->s, &f->rules, now, &p),
                     0);
    assert_int_equal(p.due[LC_DELETE_TEMPORARY].count, 1);
    order = add_order(f, "#20", "pending", now);
    add_pet(f, order, "late", "s9");
    assert_int_equal(lifecycle_run(f->e->d, f->s, &p, &o, &res), 0);
    assert_int_equal(res.skipped, 1);
    assert_int_equal(res.done[LC_DELETE_TEMPORARY].count, 0);
    assert_int_equal(count(f, "SELECT COUNT(*) FROM images WHERE "
                              "deleted_at IS NULL"), 1);
    assert_true(object_exists(f, "temporary/s9/late.jpg"));
    lifecycle_plan_free(&p);
}

/* A move whose copy exists but whose row still names the old objects
 * (a crash between copy and record) is simply done again. */
static void
test_move_after_crash(void **state)
{
    struct fixture *f = *state;
    int64_t now = f->now;
    int64_t order = add_order(f, "#30", "pending", now);
    struct lifecycle_plan p;
    struct lifecycle_result res;
    char buf[300];

    add_photo(f, "p", "temporary/s/p", "order_pending", now, order);
    put_object(f, "order_pending/s/p.jpg"); /* the crashed run's copy */
    plan_and_run(f, now, &p, &res);
    assert_int_equal(res.done[LC_MOVE_PENDING].count, 1);
    assert_string_equal(tier_of(f, "p", buf, sizeof(buf)),
                        "order_pending order_pending/s/p.jpg");
    assert_false(object_exists(f, "temporary/s/p.jpg"));
    lifecycle_plan_free(&p);
}

/* ---- the lock -------------------------------------------------------- */

static void
test_lock(void **state)
{
    struct fixture *f = *state;
    db *other = env_open(f->e);
    struct lifecycle_lock held;

    assert_int_equal(lifecycle_lock_take(f->e->d, "t", "one", 60000, NULL),
                     0);
    assert_int_equal(lifecycle_lock_take(other, "t", "two", 60000, &held),
                     PD_EBUSY);
    assert_string_equal(held.holder, "one");
    assert_true(held.expires_at > pd_now_ms());
    assert_int_equal(lifecycle_lock_renew(f->e->d, "t", "one", 60000), 0);
    assert_int_equal(lifecycle_lock_renew(other, "t", "two", 60000),
                     PD_EBUSY);
    /* An expired lock is taken over; its old holder then lost it. */
    env_exec_ok(f->e->d, "UPDATE locks SET expires_at = ? WHERE name = 't'",
                (db_arg[]){DB_INT(pd_now_ms() - 1)}, 1);
    assert_int_equal(lifecycle_lock_take(other, "t", "two", 60000, NULL), 0);
    assert_int_equal(lifecycle_lock_renew(f->e->d, "t", "one", 60000),
                     PD_EBUSY);
    /* Release lets only the holder go. */
    assert_int_equal(lifecycle_lock_release(f->e->d, "t", "one"), 0);
    assert_int_equal(lifecycle_lock_take(f->e->d, "t", "one", 60000, NULL),
                     PD_EBUSY);
    assert_int_equal(lifecycle_lock_release(other, "t", "two"), 0);
    assert_int_equal(lifecycle_lock_take(f->e->d, "t", "one", 60000, NULL),
                     0);
    db_close(other);
}

/* ---- the gauges ------------------------------------------------------ */

static void
test_gauges(void **state)
{
    struct fixture *f = *state;
    pd_buf out;

    add_photo(f, "g1", "temporary/s/g1", "temporary", f->now, 0);
    add_photo(f, "g2", "temporary/s/g2", "order_pending", f->now, 0);
    add_photo(f, "g3", "temporary/s/g3", "order_pending", f->now, 0);
    env_exec_ok(f->e->d, "UPDATE images SET deleted_at = 1 WHERE id = 'g1'",
                NULL, 0);
    assert_int_equal(db_pool_init(f->e->url), 0);
    lifecycle_register_metrics();
    buf_init(&out);
    metrics_render(&out);
    assert_non_null(strstr(buf_cstr(&out), "# TYPE storage_bytes_used "
                                           "gauge\n"));
    assert_non_null(strstr(buf_cstr(&out),
                           "storage_bytes_used{tier=\"order_pending\"} "
                           "2000\n"));
    assert_non_null(strstr(buf_cstr(&out),
                           "storage_objects{tier=\"order_pending\"} 6\n"));
    assert_non_null(strstr(buf_cstr(&out),
                           "storage_objects{tier=\"temporary\"} 0\n"));
    buf_free(&out);
    metrics_shutdown();
    db_pool_shutdown();
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int
main(void)
{
    const struct CMUnitTest rules[] = {
        cmocka_unit_test(test_rule_table),
        cmocka_unit_test(test_session_of_closed_order),
        cmocka_unit_test(test_key_in_tier),
        cmocka_unit_test(test_safety_share),
        cmocka_unit_test(test_copies_set),
    };
    const struct CMUnitTest tests[] = {
        T(test_plan_then_run),     T(test_shared_objects_freed_last),
        T(test_orphans),           T(test_deletion_checked_again),
        T(test_move_after_crash),  T(test_lock),
        T(test_gauges),
    };
    int failed;

    log_setup(LOG_ERROR, false);
    failed = cmocka_run_group_tests_name("lifecycle rules", rules, NULL,
                                         NULL);
    failed += env_run_groups("lifecycle", tests, ENV_COUNT(tests), tests,
                             ENV_COUNT(tests));
    return failed != 0;
}
