/*
 * db.c — the backend-neutral half of the db module: URL dispatch, the
 * calls every caller makes (forwarded through the backend's vtable),
 * transaction bookkeeping and the prepared-statement cache.
 */
#include "db/db_internal.h"

#include "common/err.h"
#include "obs/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#define SQLITE_SCHEME "sqlite:"

static const char *pg_rest(const char *url)
{
    if (strncmp(url, "postgres://", 11) == 0 ||
        strncmp(url, "postgresql://", 13) == 0)
        return url;
    return NULL;
}

bool db_url_valid(const char *url)
{
    if (url == NULL)
        return false;
    if (strncmp(url, SQLITE_SCHEME, strlen(SQLITE_SCHEME)) == 0)
        return url[strlen(SQLITE_SCHEME)] != '\0';
    return pg_rest(url) != NULL;
}

int db_open(const char *url, db **out, char *err, size_t errlen)
{
    char dummy[8];

    *out = NULL;
    if (err == NULL || errlen == 0) {
        err = dummy;
        errlen = sizeof(dummy);
    }
    err[0] = '\0';
    if (!db_url_valid(url)) {
        snprintf(err, errlen,
                 "database URL must be sqlite:PATH or postgres://...");
        return PD_EINVAL;
    }
    if (pg_rest(url) != NULL)
        return db_pg_open(url, out, err, errlen);
    return db_sqlite_open(url + strlen(SQLITE_SCHEME), out, err, errlen);
}

void db_close(db *d)
{
    if (d == NULL)
        return;
    d->ops->close(d);
}

enum db_kind db_kind(const db *d)
{
    return d->kind;
}

const char *db_errmsg(const db *d)
{
    return d->errmsg;
}

void db_set_err(db *d, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(d->errmsg, sizeof(d->errmsg), fmt, ap);
    va_end(ap);
}

/* Unexpected failures are logged here, once, with the statement's start. */
static int note_failure(db *d, const char *sql, int rc)
{
    if (rc == PD_ERR || rc == PD_EINVAL)
        log_warn("db: %.80s: %s", sql, d->errmsg);
    return rc;
}

/* A statement after the connection broke inside a transaction must not
 * run on its own: the rest of that transaction is gone. */
static int check_tx_lost(db *d)
{
    if (!d->tx_lost)
        return 0;
    db_set_err(d, "the connection was lost inside a transaction; "
                  "roll it back");
    return PD_EUNAVAIL;
}

int db_exec(db *d, const char *sql, const db_arg *args, int nargs,
            int64_t *changes)
{
    int rc;

    if (changes != NULL)
        *changes = 0;
    if (nargs < 0 || (nargs > 0 && args == NULL))
        return PD_EINVAL;
    rc = check_tx_lost(d);
    if (rc == 0)
        rc = d->ops->exec(d, sql, args, nargs, changes);
    return note_failure(d, sql, rc);
}

int db_query(db *d, const char *sql, const db_arg *args, int nargs,
             db_rows **out)
{
    int rc;

    *out = NULL;
    if (nargs < 0 || (nargs > 0 && args == NULL))
        return PD_EINVAL;
    rc = check_tx_lost(d);
    if (rc == 0)
        rc = d->ops->query(d, sql, args, nargs, out);
    return note_failure(d, sql, rc);
}

int db_step(db_rows *r)
{
    return r->d->ops->step(r);
}

int db_column_count(db_rows *r)
{
    return r->d->ops->ncols(r);
}

bool db_col_null(db_rows *r, int col)
{
    return r->d->ops->is_null(r, col);
}

int64_t db_col_int(db_rows *r, int col)
{
    return r->d->ops->get_int(r, col);
}

double db_col_real(db_rows *r, int col)
{
    return r->d->ops->get_real(r, col);
}

const char *db_col_text(db_rows *r, int col)
{
    const char *s = r->d->ops->get_text(r, col);

    return s != NULL ? s : "";
}

const void *db_col_blob(db_rows *r, int col, size_t *len)
{
    return r->d->ops->get_blob(r, col, len);
}

void db_rows_free(db_rows *r)
{
    if (r == NULL)
        return;
    r->d->ops->rows_free(r);
}

int db_query_int(db *d, const char *sql, const db_arg *args, int nargs,
                 int64_t *out)
{
    db_rows *r = NULL;
    int rc;

    *out = 0;
    rc = db_query(d, sql, args, nargs, &r);
    if (rc < 0)
        return rc;
    rc = db_step(r);
    if (rc == 0) {
        db_set_err(d, "query returned no row");
        rc = PD_ENOTFOUND;
    } else if (rc > 0) {
        *out = db_col_int(r, 0);
        rc = 0;
    }
    db_rows_free(r);
    return rc;
}

static int begin_with(db *d, const char *sql)
{
    int rc;

    if (d->in_tx) {
        db_set_err(d, "a transaction is already open");
        return PD_EINVAL;
    }
    rc = db_exec(d, sql, NULL, 0, NULL);
    if (rc == 0) {
        d->in_tx = true;
        d->tx_lost = false;
    }
    return rc;
}

int db_begin(db *d)
{
    return begin_with(d, "BEGIN");
}

int db_begin_write(db *d)
{
    return begin_with(d, d->kind == DB_SQLITE ? "BEGIN IMMEDIATE" : "BEGIN");
}

int db_commit(db *d)
{
    int rc;

    if (d->tx_lost) {
        d->in_tx = false;
        d->tx_lost = false;
        db_set_err(d, "the connection was lost inside the transaction");
        return PD_EUNAVAIL;
    }
    rc = db_exec(d, "COMMIT", NULL, 0, NULL);
    /* A failed COMMIT ends the transaction on both backends except when
     * SQLite is busy; then the caller may retry or roll back. */
    if (rc != PD_EBUSY)
        d->in_tx = false;
    return rc;
}

int db_rollback(db *d)
{
    int rc = 0;

    if (d->tx_lost) {
        d->tx_lost = false;
        d->in_tx = false;
        return 0;
    }
    if (d->in_tx)
        rc = db_exec(d, "ROLLBACK", NULL, 0, NULL);
    d->in_tx = false;
    return rc;
}

int db_ping(db *d)
{
    return d->ops->ping(d);
}

/* --- the prepared-statement cache ------------------------------------ */

void db_cache_init(db *d, void (*release)(db *d, void *handle))
{
    memset(&d->cache, 0, sizeof(d->cache));
    d->cache.release = release;
}

/* FNV-1a, 64 bits. */
uint64_t db_cache_hash(const char *sql)
{
    uint64_t h = 1469598103934665603ULL;

    for (const unsigned char *p = (const unsigned char *)sql; *p; p++) {
        h ^= *p;
        h *= 1099511628211ULL;
    }
    return h;
}

struct db_cache_entry *db_cache_find(db *d, const char *sql, uint64_t hash)
{
    struct db_cache *c = &d->cache;

    for (int i = 0; i < DB_CACHE_MAX; i++) {
        struct db_cache_entry *e = &c->e[i];

        if (e->sql != NULL && e->hash == hash && strcmp(e->sql, sql) == 0) {
            e->last_used = ++c->tick;
            return e;
        }
    }
    return NULL;
}

/* A free slot, or the least recently used idle one after evicting it. */
static struct db_cache_entry *free_slot(db *d)
{
    struct db_cache *c = &d->cache;
    struct db_cache_entry *oldest = NULL;

    for (int i = 0; i < DB_CACHE_MAX; i++) {
        struct db_cache_entry *e = &c->e[i];

        if (e->sql == NULL)
            return e;
        if (!e->busy && (oldest == NULL || e->last_used < oldest->last_used))
            oldest = e;
    }
    if (oldest != NULL) {
        db_cache_drop(d, oldest);
        d->stats.evictions++;
    }
    return oldest;
}

struct db_cache_entry *db_cache_put(db *d, const char *sql, uint64_t hash,
                                    void *handle, int nparams)
{
    struct db_cache_entry *e = free_slot(d);
    char *copy;

    if (e == NULL)
        return NULL;
    copy = strdup(sql);
    if (copy == NULL)
        return NULL;
    e->hash = hash;
    e->sql = copy;
    e->handle = handle;
    e->nparams = nparams;
    e->busy = false;
    e->last_used = ++d->cache.tick;
    d->cache.count++;
    return e;
}

void db_cache_drop(db *d, struct db_cache_entry *e)
{
    if (e->sql == NULL)
        return;
    if (d->cache.release != NULL)
        d->cache.release(d, e->handle);
    free(e->sql);
    memset(e, 0, sizeof(*e));
    d->cache.count--;
}

void db_cache_clear(db *d)
{
    for (int i = 0; i < DB_CACHE_MAX; i++)
        db_cache_drop(d, &d->cache.e[i]);
}

void db_cache_forget(db *d)
{
    for (int i = 0; i < DB_CACHE_MAX; i++) {
        struct db_cache_entry *e = &d->cache.e[i];

        free(e->sql);
        memset(e, 0, sizeof(*e));
    }
    d->cache.count = 0;
}
