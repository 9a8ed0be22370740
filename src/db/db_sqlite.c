/*
 * db_sqlite.c — the SQLite backend: opens a file in WAL mode with foreign
 * keys on, keeps each connection's prepared statements in the cache, and
 * maps SQLite's result codes to pd_err.
 */
#include "db/db_internal.h"

#include "common/err.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

#define BUSY_TIMEOUT_MS 5000
/*
 * Reads go through a shared memory map of the file rather than a read()
 * and a copy per page into each connection's cache: the hot pages of
 * the orders lists are the kernel's page cache, shared by every thread.
 */
#define MMAP_BYTES "1073741824"

struct sq_db {
    struct db base;
    sqlite3 *h;
};

struct sq_rows {
    struct db_rows base;
    sqlite3_stmt *st;
    struct db_cache_entry *entry; /* NULL when st is ours alone */
    bool pending;                 /* db_query already stepped onto row 1 */
    bool done;
};

/* A statement handed out for one call: cached or private. */
struct sq_stmt {
    sqlite3_stmt *st;
    struct db_cache_entry *entry;
};

static sqlite3 *handle(db *d)
{
    return ((struct sq_db *)d)->h;
}

static int map_rc(int rc)
{
    switch (rc) {
    case SQLITE_CONSTRAINT_UNIQUE:
    case SQLITE_CONSTRAINT_PRIMARYKEY:
    case SQLITE_CONSTRAINT_ROWID:
    case SQLITE_CONSTRAINT_FOREIGNKEY:
        return PD_ECONFLICT;
    }
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return PD_EBUSY;
    case SQLITE_NOMEM:
        return PD_ENOMEM;
    case SQLITE_TOOBIG:
        return PD_ETOOBIG;
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
        return PD_EIO;
    case SQLITE_RANGE:
    case SQLITE_MISMATCH:
        return PD_EINVAL;
    default:
        return PD_ERR;
    }
}

/* Records the connection's error and returns it as a pd_err. */
static int fail(db *d, int rc)
{
    db_set_err(d, "sqlite: %s", sqlite3_errmsg(handle(d)));
    return map_rc(rc);
}

static void release_stmt(db *d, void *h)
{
    (void)d;
    sqlite3_finalize(h);
}

static bool only_space(const char *s)
{
    for (; *s != '\0'; s++)
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r' && *s != ';')
            return false;
    return true;
}

static int prepare(db *d, const char *sql, sqlite3_stmt **out)
{
    const char *tail = NULL;
    int rc;

    rc = sqlite3_prepare_v3(handle(d), sql, -1, SQLITE_PREPARE_PERSISTENT,
                            out, &tail);
    if (rc != SQLITE_OK)
        return fail(d, rc);
    if (*out == NULL || (tail != NULL && !only_space(tail))) {
        sqlite3_finalize(*out);
        *out = NULL;
        db_set_err(d, "sqlite: expected exactly one statement");
        return PD_EINVAL;
    }
    d->stats.prepares++;
    return 0;
}

/* The cached statement for sql, preparing it on a miss. A statement busy
 * under an open cursor is not shared: a private copy is prepared. */
static int get_stmt(db *d, const char *sql, struct sq_stmt *s)
{
    uint64_t hash = db_cache_hash(sql);
    struct db_cache_entry *e = db_cache_find(d, sql, hash);
    sqlite3_stmt *st = NULL;
    int rc;

    s->st = NULL;
    s->entry = NULL;
    if (e != NULL && !e->busy) {
        d->stats.hits++;
        s->st = e->handle;
        s->entry = e;
        return 0;
    }
    rc = prepare(d, sql, &st);
    if (rc < 0)
        return rc;
    s->st = st;
    if (e == NULL)
        s->entry = db_cache_put(d, sql, hash, st,
                                sqlite3_bind_parameter_count(st));
    return 0;
}

static void put_stmt(struct sq_stmt *s)
{
    if (s->st == NULL)
        return;
    if (s->entry != NULL) {
        sqlite3_reset(s->st);
        sqlite3_clear_bindings(s->st);
        s->entry->busy = false;
    } else {
        sqlite3_finalize(s->st);
    }
    s->st = NULL;
    s->entry = NULL;
}

static int bind_one(sqlite3_stmt *st, int i, const db_arg *a,
                    void (*dtor)(void *))
{
    switch (a->type) {
    case DB_T_NULL:
        return sqlite3_bind_null(st, i);
    case DB_T_INT:
        return sqlite3_bind_int64(st, i, a->i);
    case DB_T_REAL:
        return sqlite3_bind_double(st, i, a->d);
    case DB_T_TEXT:
        return sqlite3_bind_text64(st, i, a->p != NULL ? a->p : "", a->len,
                                   dtor, SQLITE_UTF8);
    case DB_T_BLOB:
        /* A NULL pointer would bind SQL NULL, not an empty blob. */
        if (a->len == 0 || a->p == NULL)
            return sqlite3_bind_zeroblob(st, i, 0);
        return sqlite3_bind_blob64(st, i, a->p, a->len, dtor);
    }
    return SQLITE_MISMATCH;
}

/* copy: the values outlive the call (a cursor), so SQLite copies them. */
static int bind_args(db *d, sqlite3_stmt *st, const db_arg *args, int nargs,
                     bool copy)
{
    int want = sqlite3_bind_parameter_count(st);

    if (want != nargs) {
        db_set_err(d, "sqlite: statement has %d placeholders, %d arguments",
                   want, nargs);
        return PD_EINVAL;
    }
    for (int i = 0; i < nargs; i++) {
        int rc = bind_one(st, i + 1, &args[i],
                          copy ? SQLITE_TRANSIENT : SQLITE_STATIC);

        if (rc != SQLITE_OK)
            return fail(d, rc);
    }
    return 0;
}

static int sq_exec(db *d, const char *sql, const db_arg *args, int nargs,
                   int64_t *changes)
{
    struct sq_stmt s;
    sqlite3_int64 before = sqlite3_total_changes(handle(d));
    int rc;

    rc = get_stmt(d, sql, &s);
    if (rc < 0)
        return rc;
    rc = bind_args(d, s.st, args, nargs, false);
    if (rc == 0) {
        int src;

        while ((src = sqlite3_step(s.st)) == SQLITE_ROW)
            ;
        if (src != SQLITE_DONE)
            rc = fail(d, src);
    }
    /* sqlite3_changes keeps the last DML's count; only trust it when this
     * statement changed something. */
    if (rc == 0 && changes != NULL &&
        sqlite3_total_changes(handle(d)) != before)
        *changes = sqlite3_changes(handle(d));
    put_stmt(&s);
    return rc;
}

static int sq_query(db *d, const char *sql, const db_arg *args, int nargs,
                    db_rows **out)
{
    struct sq_stmt s;
    struct sq_rows *r = NULL;
    int rc, src;

    rc = get_stmt(d, sql, &s);
    if (rc < 0)
        return rc;
    if (s.entry != NULL)
        s.entry->busy = true;
    rc = bind_args(d, s.st, args, nargs, true);
    if (rc < 0)
        goto fail;
    /* The first step runs the statement, so a constraint error in an
     * INSERT ... RETURNING is reported here on both backends. */
    src = sqlite3_step(s.st);
    if (src != SQLITE_ROW && src != SQLITE_DONE) {
        rc = fail(d, src);
        goto fail;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        rc = PD_ENOMEM;
        goto fail;
    }
    r->base.d = d;
    r->st = s.st;
    r->entry = s.entry;
    r->pending = src == SQLITE_ROW;
    r->done = src == SQLITE_DONE;
    *out = &r->base;
    return 0;
fail:
    put_stmt(&s);
    return rc;
}

static int sq_step(db_rows *rows)
{
    struct sq_rows *r = (struct sq_rows *)rows;
    int src;

    if (r->pending) {
        r->pending = false;
        return 1;
    }
    if (r->done)
        return 0;
    src = sqlite3_step(r->st);
    if (src == SQLITE_ROW)
        return 1;
    r->done = true;
    return src == SQLITE_DONE ? 0 : fail(r->base.d, src);
}

static sqlite3_stmt *col_stmt(db_rows *rows, int col)
{
    struct sq_rows *r = (struct sq_rows *)rows;

    if (col < 0 || col >= sqlite3_column_count(r->st))
        return NULL;
    return r->st;
}

static int sq_ncols(db_rows *rows)
{
    return sqlite3_column_count(((struct sq_rows *)rows)->st);
}

static bool sq_is_null(db_rows *r, int col)
{
    sqlite3_stmt *st = col_stmt(r, col);

    return st == NULL || sqlite3_column_type(st, col) == SQLITE_NULL;
}

static int64_t sq_get_int(db_rows *r, int col)
{
    sqlite3_stmt *st = col_stmt(r, col);

    return st != NULL ? sqlite3_column_int64(st, col) : 0;
}

static double sq_get_real(db_rows *r, int col)
{
    sqlite3_stmt *st = col_stmt(r, col);

    return st != NULL ? sqlite3_column_double(st, col) : 0.0;
}

static const char *sq_get_text(db_rows *r, int col)
{
    sqlite3_stmt *st = col_stmt(r, col);

    return st != NULL ? (const char *)sqlite3_column_text(st, col) : NULL;
}

static const void *sq_get_blob(db_rows *r, int col, size_t *len)
{
    sqlite3_stmt *st = col_stmt(r, col);
    const void *p = NULL;

    *len = 0;
    if (st != NULL) {
        p = sqlite3_column_blob(st, col);
        *len = (size_t)sqlite3_column_bytes(st, col);
    }
    return p != NULL ? p : "";
}

static void sq_rows_free(db_rows *rows)
{
    struct sq_rows *r = (struct sq_rows *)rows;
    struct sq_stmt s = {r->st, r->entry};

    put_stmt(&s);
    free(r);
}

static int sq_script(db *d, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(handle(d), sql, NULL, NULL, &msg);

    if (rc == SQLITE_OK)
        return 0;
    db_set_err(d, "sqlite: %s", msg != NULL ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return map_rc(sqlite3_extended_errcode(handle(d)));
}

static int sq_ping(db *d)
{
    return sq_exec(d, "SELECT 1", NULL, 0, NULL);
}

static void sq_close(db *d)
{
    struct sq_db *s = (struct sq_db *)d;

    db_cache_clear(d);
    sqlite3_close_v2(s->h);
    free(s);
}

static const struct db_ops sq_ops = {
    .exec = sq_exec,
    .query = sq_query,
    .script = sq_script,
    .ping = sq_ping,
    .close = sq_close,
    .step = sq_step,
    .ncols = sq_ncols,
    .is_null = sq_is_null,
    .get_int = sq_get_int,
    .get_real = sq_get_real,
    .get_text = sq_get_text,
    .get_blob = sq_get_blob,
    .rows_free = sq_rows_free,
};

/* The folder must exist already: whoever picks the path creates it. */
static int check_folder(const char *path, char *err, size_t errlen)
{
    char copy[PATH_MAX];
    struct stat sb;
    const char *dir;

    if (strcmp(path, ":memory:") == 0)
        return 0;
    if (strlen(path) >= sizeof(copy)) {
        snprintf(err, errlen, "sqlite: path too long");
        return PD_EINVAL;
    }
    snprintf(copy, sizeof(copy), "%s", path);
    dir = dirname(copy);
    if (stat(dir, &sb) != 0) {
        snprintf(err, errlen, "sqlite: cannot use folder %s: %s", dir,
                 strerror(errno));
        return PD_EIO;
    }
    if (!S_ISDIR(sb.st_mode)) {
        snprintf(err, errlen, "sqlite: %s is not a folder", dir);
        return PD_EIO;
    }
    return 0;
}

static int journal_cb(void *arg, int n, char **vals, char **names)
{
    (void)names;
    if (n > 0 && vals[0] != NULL)
        snprintf(arg, 16, "%s", vals[0]);
    return 0;
}

/*
 * Switches a connection to WAL. Two processes opening a new database
 * together can get SQLITE_BUSY at once, without the busy handler (SQLite
 * avoids a deadlock that way); the switch is tried again for as long as
 * the busy timeout.
 */
static int
set_wal(sqlite3 *h, char mode[16])
{
    struct timespec pause = {0, 10 * 1000000};
    int rc, tries = BUSY_TIMEOUT_MS / 10;

    do {
        rc = sqlite3_exec(h, "PRAGMA journal_mode=WAL", journal_cb, mode,
                          NULL);
    } while ((rc & 0xff) == SQLITE_BUSY && --tries > 0 &&
             nanosleep(&pause, NULL) == 0);
    return rc;
}

/* WAL, NORMAL sync, foreign keys; the busy timeout first so a second
 * connection switching the journal mode waits instead of failing. */
static int configure(sqlite3 *h, const char *path, char *err, size_t errlen)
{
    char mode[16] = "";
    int rc;

    sqlite3_extended_result_codes(h, 1);
    sqlite3_busy_timeout(h, BUSY_TIMEOUT_MS);
    rc = set_wal(h, mode);
    if (rc == SQLITE_OK)
        rc = sqlite3_exec(h, "PRAGMA synchronous=NORMAL;"
                             "PRAGMA foreign_keys=ON;"
                             "PRAGMA mmap_size=" MMAP_BYTES ";"
                             "PRAGMA temp_store=MEMORY", NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "sqlite: cannot set up %s: %s", path,
                 sqlite3_errmsg(h));
        return map_rc(sqlite3_extended_errcode(h));
    }
    if (strcmp(path, ":memory:") != 0 && strcmp(mode, "wal") != 0) {
        snprintf(err, errlen, "sqlite: %s refused WAL mode (%s)", path, mode);
        return PD_EIO;
    }
    return 0;
}

int db_sqlite_open(const char *path, db **out, char *err, size_t errlen)
{
    struct sq_db *s = NULL;
    sqlite3 *h = NULL;
    int rc;

    rc = check_folder(path, err, errlen);
    if (rc < 0)
        return rc;
    rc = sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE |
                         SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "sqlite: cannot open %s: %s", path,
                 h != NULL ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
        rc = map_rc(rc);
        goto fail;
    }
    rc = configure(h, path, err, errlen);
    if (rc < 0)
        goto fail;
    s = calloc(1, sizeof(*s));
    if (s == NULL) {
        rc = PD_ENOMEM;
        goto fail;
    }
    s->base.ops = &sq_ops;
    s->base.kind = DB_SQLITE;
    s->h = h;
    db_cache_init(&s->base, release_stmt);
    *out = &s->base;
    return 0;
fail:
    sqlite3_close_v2(h);
    return rc;
}
