/*
 * db.h — the database interface: one API over SQLite and PostgreSQL.
 *
 * A `db` is one connection and is used by one thread at a time. SQL is
 * written once with `?` placeholders; the PostgreSQL backend numbers them
 * ($1, $2, ...). Every statement is prepared once per connection and
 * cached. Where the dialects differ, callers ask db_kind() and pass the
 * right text. Timestamps are stored as integer milliseconds since the
 * epoch in both dialects.
 */
#ifndef PD_DB_H
#define PD_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct db db;
typedef struct db_rows db_rows;

enum db_kind { DB_SQLITE, DB_POSTGRES };

enum db_type { DB_T_NULL, DB_T_INT, DB_T_REAL, DB_T_TEXT, DB_T_BLOB };

/* One bound parameter. Text and blob pointers are borrowed for the call. */
typedef struct db_arg {
    enum db_type type;
    int64_t i;
    double d;
    const void *p;
    size_t len;
} db_arg;

#define DB_NULL ((db_arg){.type = DB_T_NULL})
#define DB_INT(v) ((db_arg){.type = DB_T_INT, .i = (int64_t)(v)})
#define DB_REAL(v) ((db_arg){.type = DB_T_REAL, .d = (double)(v)})
#define DB_TEXT(s) db_text_arg(s)
#define DB_BLOB(ptr, n) ((db_arg){.type = DB_T_BLOB, .p = (ptr), .len = (n)})

/* A text parameter, or NULL when s is NULL. */
static inline db_arg
db_text_arg(const char *s)
{
    if (s == NULL)
        return (db_arg){.type = DB_T_NULL};
    return (db_arg){.type = DB_T_TEXT, .p = s, .len = strlen(s)};
}

/*
 * Opens a connection for a URL: "sqlite:PATH" (PATH may be ":memory:") or
 * "postgres://..." / "postgresql://...". On failure returns a negative
 * pd_err and writes a one-line reason (no password) into err.
 */
int db_open(const char *url, db **out, char *err, size_t errlen);
/* Closes the connection and its cached statements. Accepts NULL. */
void db_close(db *d);
enum db_kind db_kind(const db *d);
/* The last error text of this connection (never NULL). */
const char *db_errmsg(const db *d);
/* True when the URL's scheme is one db_open understands. */
bool db_url_valid(const char *url);

/*
 * Runs a statement that returns no rows. *changes (may be NULL) receives
 * the number of rows it changed. Returns 0, PD_ECONFLICT for a unique or
 * foreign-key violation, PD_EUNAVAIL when the server cannot be reached,
 * PD_EBUSY when locked, else PD_ERR.
 */
int db_exec(db *d, const char *sql, const db_arg *args, int nargs,
            int64_t *changes);

/*
 * Runs a query; *out receives a cursor the caller frees with db_rows_free.
 * Errors as for db_exec. Only one cursor per connection is open at a time.
 */
int db_query(db *d, const char *sql, const db_arg *args, int nargs,
             db_rows **out);
/* Advances the cursor: 1 when a row is ready, 0 at the end, <0 on error. */
int db_step(db_rows *r);
int db_column_count(db_rows *r);
bool db_col_null(db_rows *r, int col);
int64_t db_col_int(db_rows *r, int col);
double db_col_real(db_rows *r, int col);
/* Borrowed until the next db_step or db_rows_free; "" for NULL. */
const char *db_col_text(db_rows *r, int col);
/* Borrowed like db_col_text; *len receives the size. */
const void *db_col_blob(db_rows *r, int col, size_t *len);
void db_rows_free(db_rows *r);

/*
 * Convenience: runs a query expected to return one integer (e.g. COUNT).
 * PD_ENOTFOUND when it returns no row.
 */
int db_query_int(db *d, const char *sql, const db_arg *args, int nargs,
                 int64_t *out);

/* Transactions. db_begin_write takes the write lock at once on SQLite. */
int db_begin(db *d);
int db_begin_write(db *d);
int db_commit(db *d);
int db_rollback(db *d);

/* A cheap round trip; reconnects a broken PostgreSQL connection first. */
int db_ping(db *d);

/*
 * Applies pending migrations, each in its own transaction, under a lock
 * that keeps two processes from applying the same one. *applied (may be
 * NULL) receives how many were applied now.
 */
int db_migrate(db *d, int *applied);
/* The highest applied migration version, 0 for an empty database. */
int db_schema_version(db *d, int64_t *version);

/*
 * Per-thread connections for the server: db_pool_init records the URL;
 * db_thread returns the calling thread's connection, opening it on first
 * use (NULL if that fails; the reason is logged). Connections are closed
 * when their thread exits and by db_pool_shutdown.
 */
int db_pool_init(const char *url);
db *db_thread(void);
void db_pool_shutdown(void);
/* Connections currently open in the pool (a metric). */
int db_pool_open_count(void);

#endif
