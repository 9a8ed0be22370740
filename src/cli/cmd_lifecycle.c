/*
 * cmd_lifecycle.c — `printdesk lifecycle`: moves stored photos to the
 * tier their orders call for and deletes what is past its time, under a
 * lock in the database; `--dry-run` prints the same plan and changes
 * nothing. The rules live in src/lifecycle/.
 */
#include "cli/cli.h"

#include "common/err.h"
#include "common/util.h"
#include "db/db.h"
#include "lifecycle/lifecycle.h"
#include "obs/log.h"
#include "store/store.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Exit statuses besides 0 (done), 1 (failed) and CONFIG_EXIT_BAD. */
#define EXIT_REFUSED 4
#define EXIT_LOCKED 5

static const char help[] =
    "usage: printdesk lifecycle [--dry-run] [--now TIME] [--force] "
    "[OPTIONS]\n\n"
    "Moves stored photos to the tier their orders call for and deletes\n"
    "those past their time (see docs/lifecycle.md):\n"
    "  open order                      order_pending, never deleted\n"
    "  completed order                 order_completed; archived 30 days\n"
    "                                  after completion; deleted after 730\n"
    "  cancelled order                 order_completed; deleted 180 days\n"
    "                                  after cancellation\n"
    "  no order                        temporary; deleted after 7 days\n"
    "  stored object no photo names    deleted once a day old\n"
    "Prints what it did per action (photos, or objects for orphans, and\n"
    "bytes). Only one run works at a time (a lock in the database); a\n"
    "run that finds it taken changes nothing and exits with status 5.\n"
    "A run that would delete more than LIFECYCLE_MAX_DELETE_SHARE (0.2)\n"
    "of the photos, or of the stored objects as orphans, refuses and\n"
    "exits with status 4.\n\n"
    "Options:\n"
    "  --dry-run             print the plan; change nothing\n"
    "  --now TIME            decide as if it were TIME (YYYY-MM-DD or\n"
    "                        YYYY-MM-DDTHH:MM:SS[.mmm]Z, UTC)\n"
    "  --force               run even when the safety check refuses\n"
    "Environment:\n"
    "  LIFECYCLE_MAX_DELETE_SHARE   share of photos one run may delete "
    "(0.2)\n"
    "  LIFECYCLE_LOCK_TTL_SECONDS   lock lifetime, renewed while working "
    "(900)\n" CONFIG_FLAGS_HELP;

struct opts {
    bool dry_run, force;
    int64_t now;
    struct lifecycle_rules rules;
    int64_t lock_ttl_ms;
    enum lifecycle_crash crash;
    int64_t hold_ms; /* test-only pause once the lock is taken */
};

/* ---- the command line and environment ---- */

/* "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SS[.mmm]Z", UTC, into ms. */
static int
parse_time(const char *s, int64_t *out)
{
    struct tm tm = {0};
    int y, mo, d, h = 0, mi = 0, sec = 0, ms = 0, n = 0;

    if (sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &d, &n) != 3)
        return PD_EINVAL;
    s += n;
    if (*s == 'T' &&
        sscanf(s, "T%2d:%2d:%2d%n", &h, &mi, &sec, &n) == 3) {
        s += n;
        if (*s == '.' && sscanf(s, ".%3d%n", &ms, &n) == 1 && n == 4)
            s += n;
        if (*s++ != 'Z')
            return PD_EINVAL;
    }
    if (*s != '\0' || y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 ||
        h > 23 || mi > 59 || sec > 60 || h < 0 || mi < 0 || sec < 0 ||
        ms < 0)
        return PD_EINVAL;
    tm = (struct tm){.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
                     .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    *out = (int64_t)timegm(&tm) * 1000 + ms;
    return PD_OK;
}

/* Takes this command's flags out of argv; config flags remain. */
static int
parse_flags(int *argc, char **argv, struct opts *o)
{
    int out = 1;

    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--dry-run") == 0) {
            o->dry_run = true;
        } else if (strcmp(argv[i], "--force") == 0) {
            o->force = true;
        } else if (strcmp(argv[i], "--now") == 0) {
            if (i + 1 >= *argc || parse_time(argv[++i], &o->now) != PD_OK) {
                fprintf(stderr, "printdesk lifecycle: --now takes a UTC "
                                "time, YYYY-MM-DD or "
                                "YYYY-MM-DDTHH:MM:SSZ\n");
                return -1;
            }
        } else {
            argv[out++] = argv[i];
        }
    }
    *argc = out;
    return 0;
}

/* A number from the environment within [lo, hi]; *v keeps its default
 * when the variable is unset. */
static int
env_number(const char *name, double lo, double hi, double *v)
{
    const char *s = getenv(name);
    char *end = NULL;
    double x;

    if (s == NULL || s[0] == '\0')
        return 0;
    errno = 0;
    x = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || isnan(x) || x < lo ||
        x > hi) {
        fprintf(stderr, "printdesk lifecycle: %s must be a number from %g "
                        "to %g\n", name, lo, hi);
        return -1;
    }
    *v = x;
    return 0;
}

/* The test-only knobs, honoured only with PRINTDESK_TEST_ROUTES. */
static int
test_knobs(const struct config *cfg, struct opts *o)
{
    const char *crash = getenv("PRINTDESK_LIFECYCLE_CRASH");
    double hold = 0;

    if (!cfg->test_routes)
        return 0;
    if (crash != NULL && strcmp(crash, "after-copy") == 0)
        o->crash = LC_CRASH_AFTER_COPY;
    else if (crash != NULL && strcmp(crash, "after-record") == 0)
        o->crash = LC_CRASH_AFTER_RECORD;
    if (env_number("PRINTDESK_LIFECYCLE_HOLD_MS", 0, 600000, &hold) < 0)
        return -1;
    o->hold_ms = (int64_t)hold;
    return 0;
}

static int
load_opts(const struct config *cfg, struct opts *o)
{
    double ttl = 900;

    if (env_number("LIFECYCLE_MAX_DELETE_SHARE", 0, 1,
                   &o->rules.max_delete_share) < 0 ||
        env_number("LIFECYCLE_LOCK_TTL_SECONDS", 1, 86400, &ttl) < 0)
        return -1;
    o->lock_ttl_ms = (int64_t)(ttl * 1000);
    return test_knobs(cfg, o);
}

/* ---- what it prints ---- */

/* The table of actions: "lifecycle WHAT at TIME (NOTE)", then one line
 * per action, always all of them, in one order. */
static void
print_table(const char *what, const char *note, int64_t now,
            const struct lifecycle_tally t[LC_ACTION_COUNT])
{
    char when[40];

    pd_format_time(when, now);
    printf("lifecycle %s at %s (%s)\n", what, when, note);
    printf("  %-24s %10s %16s\n", "action", "count", "bytes");
    for (int a = 0; a < LC_ACTION_COUNT; a++)
        printf("  %-24s %10lld %16lld\n", lifecycle_action_label(a),
               (long long)t[a].count, (long long)t[a].bytes);
}

static void
print_totals(const struct lifecycle_plan *p)
{
    printf("photos: %lld, of open orders (never deleted): %lld; stored "
           "objects listed: %lld\n", (long long)p->photos,
           (long long)p->photos_open, (long long)p->objects_listed);
}

/* ---- the run ---- */

struct held_lock {
    db *d;
    char holder[128];
    int64_t ttl_ms;
    int64_t renewed_at;
};

/* Renews the lock once a third of its life has passed. */
static int
renew_lock(void *ctx)
{
    struct held_lock *l = ctx;
    int64_t now = pd_now_ms();

    if (now - l->renewed_at < l->ttl_ms / 3)
        return 0;
    if (lifecycle_lock_renew(l->d, LIFECYCLE_LOCK_NAME, l->holder,
                             l->ttl_ms) != PD_OK) {
        log_error("lifecycle: lost the lock (%s); stopping", l->holder);
        return -1;
    }
    l->renewed_at = now;
    return 0;
}

static int
take_lock(struct held_lock *l)
{
    struct lifecycle_lock other;
    char host[64] = "host", hex[9] = "0";
    char until[40];
    int rc;

    gethostname(host, sizeof(host) - 1);
    pd_random_hex(hex, 4);
    snprintf(l->holder, sizeof(l->holder), "%.63s/%ld/%s", host,
             (long)getpid(), hex);
    l->renewed_at = pd_now_ms();
    rc = lifecycle_lock_take(l->d, LIFECYCLE_LOCK_NAME, l->holder,
                             l->ttl_ms, &other);
    if (rc == PD_EBUSY) {
        pd_format_time(until, other.expires_at);
        fprintf(stderr, "printdesk lifecycle: another run holds the lock "
                        "(%s, until %s); nothing done\n", other.holder,
                until);
    } else if (rc != PD_OK) {
        fprintf(stderr, "printdesk lifecycle: cannot take the lock: %s "
                        "(%s)\n", pd_err_str(rc), db_errmsg(l->d));
    }
    return rc;
}

/* Plans; prints the plan and refuses when it looks wrong (unless
 * forced). Returns 0 to go on, else the exit status. */
static int
plan_checked(db *d, store *s, const struct opts *o,
             struct lifecycle_plan *p)
{
    char reason[256];

    if (lifecycle_plan_make(d, s, &o->rules, o->now, p) != PD_OK)
        return 1;
    if (o->force || lifecycle_plan_sane(&o->rules, p, reason,
                                        sizeof(reason)))
        return 0;
    print_table("plan", "refused", o->now, p->due);
    print_totals(p);
    fprintf(stderr, "printdesk lifecycle: refused: %s; nothing changed. "
                    "Check DATABASE_URL and STORAGE_URL, or run with "
                    "--force\n", reason);
    return EXIT_REFUSED;
}

static int
dry_run(db *d, store *s, const struct opts *o)
{
    struct lifecycle_plan p;
    int rc = plan_checked(d, s, o, &p);

    if (rc == 0) {
        print_table("plan", "dry run: nothing changed", o->now, p.due);
        print_totals(&p);
    }
    lifecycle_plan_free(&p);
    return rc;
}

static int
carry_out(db *d, store *s, const struct opts *o, struct held_lock *l)
{
    struct lifecycle_run_opts ro = {.rules = &o->rules, .crash = o->crash,
                                    .renew = renew_lock, .renew_ctx = l};
    struct lifecycle_result res;
    struct lifecycle_plan p;
    int rc = plan_checked(d, s, o, &p);

    if (rc == 0) {
        int run_rc = lifecycle_run(d, s, &p, &ro, &res);

        print_table("run", "done", o->now, res.done);
        print_totals(&p);
        printf("skipped: %lld, failed: %lld\n", (long long)res.skipped,
               (long long)res.failed);
        log_notice("lifecycle: %zu actions planned, %lld skipped, %lld "
                   "failed", p.n, (long long)res.skipped,
                   (long long)res.failed);
        rc = run_rc == PD_OK && res.failed == 0 ? 0 : 1;
    }
    lifecycle_plan_free(&p);
    return rc;
}

static int
real_run(db *d, store *s, const struct opts *o)
{
    struct held_lock l = {.d = d, .ttl_ms = o->lock_ttl_ms};
    int rc = take_lock(&l);

    if (rc != PD_OK)
        return rc == PD_EBUSY ? EXIT_LOCKED : 1;
    if (o->hold_ms > 0)
        nanosleep(&(struct timespec){o->hold_ms / 1000,
                                     (o->hold_ms % 1000) * 1000000},
                  NULL);
    rc = carry_out(d, s, o, &l);
    lifecycle_lock_release(d, LIFECYCLE_LOCK_NAME, l.holder);
    return rc;
}

/* Opens the database (migrated) and the store; prints why not. */
static int
open_both(const struct config *cfg, db **d, store **s)
{
    char err[512];

    if (config_prepare_data_dir(cfg, err, sizeof(err)) < 0 ||
        db_open(cfg->database_url, d, err, sizeof(err)) != PD_OK ||
        store_open(cfg->storage_url, s, err, sizeof(err)) != PD_OK) {
        fprintf(stderr, "printdesk lifecycle: %s\n", err);
        return -1;
    }
    if (db_migrate(*d, NULL) != PD_OK) {
        fprintf(stderr, "printdesk lifecycle: migration failed: %s\n",
                db_errmsg(*d));
        return -1;
    }
    return 0;
}

int
cmd_lifecycle(int argc, char **argv)
{
    struct opts o = {.now = pd_now_ms(),
                     .rules = lifecycle_rules_default()};
    struct config cfg;
    db *d = NULL;
    store *s = NULL;
    int rc;

    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    if (parse_flags(&argc, argv, &o) < 0)
        return CONFIG_EXIT_BAD;
    if ((rc = cli_load_config(&cfg, argc, argv)) != 0)
        return rc;
    if (load_opts(&cfg, &o) < 0)
        return CONFIG_EXIT_BAD;
    rc = open_both(&cfg, &d, &s) < 0 ? 1
         : o.dry_run                 ? dry_run(d, s, &o)
                                     : real_run(d, s, &o);
    store_close(s);
    db_close(d);
    return rc;
}
