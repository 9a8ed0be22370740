/*
 * copy.c — the run of copy-db: checks that source and target fit
 * (SQLite to PostgreSQL, the same schema version, a target holding only
 * rows this copy wrote), copies each table in dependency order in
 * batches, each one transaction with its progress record, and ends with
 * the sequences and the checks of verify.c.
 */
#include "dbcopy/dbcopy_internal.h"

#include "common/err.h"
#include "obs/log.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* pg_advisory_lock key of copy-db runs ("printdk2"). */
#define COPY_LOCK "8102654602713000754"
#define LOG_EVERY_NS 1000000000LL

struct run {
    const struct dbcopy_options *o;
    struct dbcopy_result *out;
    db *src, *dst;
    char source[PATH_MAX + 16]; /* "sqlite:" + the real path */
    struct copy_plan plan;
    pd_buf *arrays; /* a batch's values, an array literal a column */
    db_arg *args;   /* the arrays as the insert's arguments */
    int widest;     /* columns of the widest table */
    char *err;
    size_t errlen;
};

static void fail_msg(struct run *run, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes why the run stopped (the first reason wins). */
static void
fail_msg(struct run *run, const char *fmt, ...)
{
    va_list ap;

    if (run->err[0] != '\0')
        return;
    va_start(ap, fmt);
    vsnprintf(run->err, run->errlen, fmt, ap);
    va_end(ap);
}

/* ---- opening and checking both sides ---- */

static int
resolve_source(struct run *run)
{
    const char *path;
    char real[PATH_MAX];
    struct stat sb;

    if (strncmp(run->o->from_url, "sqlite:", 7) != 0) {
        fail_msg(run, "--from must be sqlite:PATH (copy-db copies a SQLite "
                 "database into PostgreSQL)");
        return PD_EINVAL;
    }
    path = run->o->from_url + 7;
    errno = 0;
    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode) ||
        realpath(path, real) == NULL) {
        fail_msg(run, "no SQLite database at %s: %s", path,
                 errno != 0 ? strerror(errno) : "not a file");
        return PD_EINVAL;
    }
    snprintf(run->source, sizeof(run->source), "sqlite:%s", real);
    return PD_OK;
}

static int
open_both(struct run *run)
{
    char err[512];
    const char *to = run->o->to_url;

    if (strncmp(to, "postgres://", 11) != 0 &&
        strncmp(to, "postgresql://", 13) != 0) {
        fail_msg(run, "--to must be a postgres:// URL");
        return PD_EINVAL;
    }
    if (db_open(run->o->from_url, &run->src, err, sizeof(err)) != PD_OK) {
        fail_msg(run, "cannot open the source: %s", err);
        return PD_EUNAVAIL;
    }
    if (db_open(to, &run->dst, err, sizeof(err)) != PD_OK) {
        fail_msg(run, "cannot open the target: %s", err);
        return PD_EUNAVAIL;
    }
    return PD_OK;
}

/* The target gets this program's schema; the source must have it too. */
static int
check_schemas(struct run *run)
{
    int64_t from = 0, to = 0;
    int applied = 0;
    int rc = db_schema_version(run->src, &from);

    if (rc == PD_OK && from == 0) {
        fail_msg(run, "%s holds no printdesk schema", run->o->from_url);
        return PD_EINVAL;
    }
    if (rc == PD_OK && (rc = db_migrate(run->dst, &applied)) != PD_OK)
        fail_msg(run, "cannot migrate the target: %s",
                 db_errmsg(run->dst));
    if (rc == PD_OK)
        rc = db_schema_version(run->dst, &to);
    if (rc == PD_OK && from != to) {
        fail_msg(run, "the source is at schema version %" PRId64 " and the "
                 "target at %" PRId64 "; run `printdesk migrate --database "
                 "%s` with this printdesk first", from, to,
                 run->o->from_url);
        return PD_EINVAL;
    }
    if (rc == PD_OK && applied > 0)
        log_info("copy-db: applied %d migration(s) to the target", applied);
    return rc;
}

static int
take_lock(struct run *run)
{
    int64_t got = 0;
    int rc = db_query_int(run->dst, "SELECT CASE WHEN pg_try_advisory_lock("
                                    COPY_LOCK ") THEN 1 ELSE 0 END",
                          NULL, 0, &got);

    if (rc == PD_OK && got == 0) {
        fail_msg(run, "another copy-db is filling this database now");
        return PD_EBUSY;
    }
    return rc;
}

/*
 * Every table of the target must hold exactly the rows this copy wrote
 * (none before the first batch), from this source. Counts the source's
 * rows on the way, for the progress lines.
 */
static int
check_target(struct run *run, struct copy_table *t)
{
    struct copy_progress pr;
    char sql[256];
    int64_t have = 0;
    int rc = progress_read(run->dst, t->name, &pr);

    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", t->quoted);
    if (rc == PD_OK)
        rc = db_query_int(run->dst, sql, NULL, 0, &have);
    if (rc == PD_OK)
        rc = db_query_int(run->src, sql, NULL, 0, &t->source_rows);
    if (rc == PD_OK && pr.found && strcmp(pr.source, run->source) != 0) {
        fail_msg(run, "the target is being filled from %s, not from %s; "
                 "copy-db does not mix two sources", pr.source,
                 run->source);
        rc = PD_ECONFLICT;
    } else if (rc == PD_OK && have != (pr.found ? pr.rows : 0)) {
        fail_msg(run, "target table %s holds %" PRId64 " row(s) that did "
                 "not come from this copy; copy into a new, empty "
                 "database", t->name, have - (pr.found ? pr.rows : 0));
        rc = PD_ECONFLICT;
    }
    progress_clear(&pr);
    return rc;
}

/* ---- copying ---- */

/* The state of one table's copy. */
struct table_copy {
    struct copy_table *t;
    struct pager p;
    int64_t rows;      /* in the target, this run's included */
    int64_t this_run;
    int64_t logged_ns;
};

static void
log_table(const struct table_copy *tc, const char *what)
{
    char fields[160];

    snprintf(fields, sizeof(fields),
             "\"table\":\"%s\",\"rows\":%" PRId64 ",\"source_rows\":%" PRId64,
             tc->t->name, tc->rows, tc->t->source_rows);
    log_write(LOG_INFO, fields, "copy-db: %s: %" PRId64 " of %" PRId64
              " row(s) %s", tc->t->name, tc->rows, tc->t->source_rows, what);
}

/* Appends the current row of r to the arrays. */
static int
add_row(struct run *run, struct table_copy *tc, db_rows *r)
{
    const struct copy_table *t = tc->t;

    for (int c = 0; c < t->ncols; c++) {
        buf_puts(&run->arrays[c], run->arrays[c].len > 1 ? "," : "");
        copy_element(&run->arrays[c], r, c, t->cols[c].cls);
        if (run->arrays[c].failed)
            return PD_ENOMEM;
    }
    return pager_note(&tc->p, r);
}

/* Writes the rows gathered in the arrays with one insert. */
static int
insert_rows(struct run *run, const struct copy_table *t)
{
    for (int c = 0; c < t->ncols; c++) {
        buf_puts(&run->arrays[c], "}");
        if (run->arrays[c].failed)
            return PD_ENOMEM;
        run->args[c] = (db_arg){.type = DB_T_TEXT,
                                .p = run->arrays[c].data,
                                .len = run->arrays[c].len};
    }
    return db_exec(run->dst, t->insert, run->args, t->ncols, NULL);
}

/*
 * Reads one page from the source into the target; *n rows. *failed_on
 * is the side whose error message says why, on failure.
 */
static int
fill_batch(struct run *run, struct table_copy *tc, int *n, db **failed_on)
{
    db_rows *r = NULL;
    int rc = pager_query(&tc->p, &r), wrc = PD_OK;

    for (int c = 0; c < tc->t->ncols; c++) {
        buf_reset(&run->arrays[c]);
        buf_puts(&run->arrays[c], "{");
    }
    while (rc == PD_OK && wrc == PD_OK && (rc = db_step(r)) == 1) {
        rc = PD_OK;
        wrc = add_row(run, tc, r);
        if (wrc == PD_OK)
            (*n)++;
    }
    db_rows_free(r);
    *failed_on = rc < 0 ? run->src : run->dst;
    if (rc < 0 || wrc != PD_OK)
        return rc < 0 ? rc : wrc;
    return *n > 0 ? insert_rows(run, tc->t) : PD_OK;
}

/* One batch in one transaction of the target; *done after the last. */
static int
copy_batch(struct run *run, struct table_copy *tc, bool *done)
{
    db *failed_on = run->dst;
    char *key = NULL;
    int n = 0;
    int rc = db_begin(run->dst);

    if (rc == PD_OK)
        rc = fill_batch(run, tc, &n, &failed_on);
    *done = n < run->o->batch;
    if (rc == PD_OK && tc->p.started) {
        key = pager_key_json(&tc->p);
        rc = key != NULL ? PD_OK : PD_ENOMEM;
    }
    if (rc == PD_OK)
        rc = progress_write(run->dst, tc->t->name, run->source, key,
                            tc->rows + n, *done);
    if (rc == PD_OK)
        rc = db_commit(run->dst);
    if (rc != PD_OK) {
        fail_msg(run, "table %s, the batch after row %" PRId64 ": %s "
                 "(the batches before it stay; a re-run goes on from "
                 "there)", tc->t->name, tc->rows,
                 rc == PD_ENOMEM ? "out of memory" : db_errmsg(failed_on));
        db_rollback(run->dst);
    } else {
        tc->rows += n;
        tc->this_run += n;
    }
    free(key);
    return rc;
}

/* Starts where the progress record says; *done when nothing is left. */
static int
start_table(struct run *run, struct table_copy *tc, bool *done)
{
    struct copy_progress pr;
    int rc = progress_read(run->dst, tc->t->name, &pr);

    *done = pr.done;
    tc->rows = pr.rows;
    if (rc == PD_OK && !pr.done && pr.last_key != NULL &&
        pager_resume(&tc->p, pr.last_key) != PD_OK) {
        fail_msg(run, "table %s: unreadable progress record %s",
                 tc->t->name, pr.last_key);
        rc = PD_EINVAL;
    }
    if (rc == PD_OK && pr.found && !pr.done)
        log_table(tc, "copied before; resuming");
    progress_clear(&pr);
    return rc;
}

static int
copy_table(struct run *run, struct copy_table *t)
{
    struct table_copy tc = {.t = t, .logged_ns = pd_mono_ns()};
    bool done = false, was_done;
    int rc;

    pager_init(&tc.p, run->src, t, run->o->batch);
    rc = start_table(run, &tc, &done);
    was_done = done;
    if (rc == PD_OK && done) {
        run->out->tables_done_before++;
        log_table(&tc, "copied before; nothing to do");
    }
    while (rc == PD_OK && !done) {
        rc = copy_batch(run, &tc, &done);
        if (rc == PD_OK && !done &&
            pd_mono_ns() - tc.logged_ns >= LOG_EVERY_NS) {
            log_table(&tc, "copied");
            tc.logged_ns = pd_mono_ns();
        }
    }
    if (rc == PD_OK && !was_done) {
        run->out->tables_copied++;
        log_table(&tc, "copied; table done");
    }
    run->out->rows_copied += tc.this_run;
    pager_free(&tc.p);
    return rc;
}

/* ---- the run ---- */

static int
prepare(struct run *run)
{
    int rc = resolve_source(run);

    if (rc == PD_OK)
        rc = open_both(run);
    if (rc == PD_OK)
        rc = check_schemas(run);
    if (rc == PD_OK)
        rc = take_lock(run);
    if (rc == PD_OK && (rc = progress_setup(run->dst)) != PD_OK)
        fail_msg(run, "cannot create copy_progress in the target: %s",
                 db_errmsg(run->dst));
    if (rc == PD_OK)
        rc = copy_plan_load(run->src, run->dst, &run->plan, run->err,
                            run->errlen);
    run->widest = 1;
    for (int i = 0; rc == PD_OK && i < run->plan.n; i++) {
        rc = check_target(run, &run->plan.t[i]);
        if (run->plan.t[i].ncols > run->widest)
            run->widest = run->plan.t[i].ncols;
    }
    if (rc == PD_OK) {
        run->arrays = calloc((size_t)run->widest, sizeof(*run->arrays));
        run->args = calloc((size_t)run->widest, sizeof(*run->args));
        rc = run->arrays != NULL && run->args != NULL ? PD_OK : PD_ENOMEM;
    }
    for (int c = 0; rc == PD_OK && c < run->widest; c++)
        buf_init(&run->arrays[c]);
    return rc;
}

static int
check_all(struct run *run)
{
    struct dbcopy_result *out = run->out;
    int rc = PD_OK;

    out->checks = calloc((size_t)(run->plan.n > 0 ? run->plan.n : 1),
                         sizeof(*out->checks));
    if (out->checks == NULL)
        return PD_ENOMEM;
    out->all_match = true;
    for (int i = 0; rc == PD_OK && i < run->plan.n; i++) {
        struct dbcopy_check *c = &out->checks[i];

        rc = copy_check_table(run->src, run->dst, &run->plan.t[i], c);
        if (rc != PD_OK) {
            fail_msg(run, "checking table %s: %s", run->plan.t[i].name,
                     db_errmsg(run->dst));
            break;
        }
        out->n_checks++;
        out->all_match = out->all_match && c->match;
        if (!c->match)
            log_error("copy-db: table %s differs: %" PRId64 " source "
                      "row(s), %" PRId64 " target row(s), checksums %s "
                      "and %s", c->table, c->source_rows, c->target_rows,
                      c->source_sum, c->target_sum);
    }
    return rc;
}

static int
copy_all(struct run *run)
{
    int64_t t0 = pd_mono_ns();
    int rc = PD_OK;

    for (int i = 0; rc == PD_OK && i < run->plan.n; i++)
        rc = copy_table(run, &run->plan.t[i]);
    run->out->copy_seconds = (double)(pd_mono_ns() - t0) / 1e9;
    if (rc == PD_OK)
        rc = copy_reset_sequences(run->dst, &run->plan);
    if (rc != PD_OK)
        fail_msg(run, "cannot set the id sequences: %s",
                 db_errmsg(run->dst));
    return rc;
}

int
dbcopy_run(const struct dbcopy_options *o, struct dbcopy_result *out,
           char *err, size_t errlen)
{
    struct run run = {.o = o, .out = out, .err = err, .errlen = errlen};
    int rc;

    memset(out, 0, sizeof(*out));
    err[0] = '\0';
    if (o->batch < 1 || o->batch > DBCOPY_BATCH_MAX) {
        fail_msg(&run, "the batch must hold 1 to %d rows", DBCOPY_BATCH_MAX);
        return PD_EINVAL;
    }
    rc = prepare(&run);
    if (rc == PD_OK)
        rc = copy_all(&run);
    if (rc == PD_OK)
        rc = check_all(&run);
    if (rc != PD_OK)
        fail_msg(&run, "%s", pd_err_str(rc));
    copy_plan_free(&run.plan);
    for (int c = 0; run.arrays != NULL && c < run.widest; c++)
        buf_free(&run.arrays[c]);
    free(run.arrays);
    free(run.args);
    db_close(run.src);
    db_close(run.dst); /* ends the session, and with it the lock */
    return rc;
}

void
dbcopy_result_free(struct dbcopy_result *r)
{
    free(r->checks);
    memset(r, 0, sizeof(*r));
}
