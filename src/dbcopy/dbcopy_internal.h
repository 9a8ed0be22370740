/*
 * dbcopy_internal.h — what the files of copy-db share: the plan (which
 * tables, in which order, with which columns, read from PostgreSQL's
 * catalog), paging through a table by its primary key on either side,
 * the progress record kept in the target, and the per-table checks.
 */
#ifndef PD_DBCOPY_INTERNAL_H
#define PD_DBCOPY_INTERNAL_H

#include "common/util.h"
#include "db/db.h"
#include "dbcopy/dbcopy.h"

#include <stdbool.h>
#include <stdint.h>

/* Columns of a primary key copy-db pages by, at most. */
#define COPY_KEY_MAX 8
/* Columns of a table copy-db copies, at most. */
#define COPY_COLUMNS_MAX 400

/* How a column's values travel, from its PostgreSQL type. */
enum copy_class { CLASS_INT, CLASS_BOOL, CLASS_REAL, CLASS_TEXT, CLASS_BLOB };

struct copy_column {
    char *name;     /* as the catalog spells it */
    char *quoted;   /* "name", for SQL text */
    char *sql_type; /* e.g. "bigint", for casts */
    enum copy_class cls;
    bool identity;  /* GENERATED ... AS IDENTITY: its sequence is reset */
};

struct copy_table {
    char *name, *quoted;
    struct copy_column *cols; /* the columns both sides have, not
                                 generated ones, in the target's order */
    int ncols;
    int key[COPY_KEY_MAX]; /* cols of the primary key, in key order */
    int nkey;
    char *select_first, *select_next; /* the page queries */
    char *insert;         /* a batch's insert: an array a column */
    int64_t source_rows;  /* counted before copying */
};

struct copy_plan {
    struct copy_table *t; /* in dependency order: referenced first */
    int n;
};

/*
 * Reads the target's tables (the schema's own, without schema_migrations
 * and copy_progress), their columns, keys and foreign keys, keeps the
 * columns the source has too, and orders the tables so that every table
 * comes after those it references. A source without one of the tables
 * is an error, as is a table without a primary key or a reference cycle;
 * err says which. The caller frees the plan with copy_plan_free.
 */
int copy_plan_load(db *src, db *dst, struct copy_plan *out, char *err,
                   size_t errlen);
void copy_plan_free(struct copy_plan *p);

/* The last key read, kept between pages. */
struct key_value {
    int64_t i;
    pd_buf s; /* text keys */
};

/* Pages through one table by its primary key, ascending. */
struct pager {
    db *d;
    const struct copy_table *t;
    int limit;
    bool started; /* a key has been read: pages go on after it */
    struct key_value k[COPY_KEY_MAX]; /* the last row's key */
};

void pager_init(struct pager *p, db *d, const struct copy_table *t,
                int limit);
void pager_free(struct pager *p);
/* Runs the query for the page after the last key noted. */
int pager_query(struct pager *p, db_rows **out);
/* Notes the key of the current row of r (call for every row read). */
int pager_note(struct pager *p, db_rows *r);
/* The last key as a JSON array (malloc'd, the caller frees); NULL when
 * out of memory. */
char *pager_key_json(const struct pager *p);
/* Goes on after the key a JSON array from pager_key_json names. */
int pager_resume(struct pager *p, const char *json);

/*
 * Appends column c of the current row of r to b as an element of a
 * PostgreSQL array literal, read as its class says.
 */
void copy_element(pd_buf *b, db_rows *r, int c, enum copy_class cls);

/* ---- the progress record in the target (progress.c) ---- */

struct copy_progress {
    bool found;
    char *source;   /* malloc'd */
    char *last_key; /* malloc'd JSON, NULL before the first batch */
    int64_t rows;
    bool done;
};

int progress_setup(db *dst);
/* Reads the record of one table; out->found is false when none. */
int progress_read(db *dst, const char *table, struct copy_progress *out);
void progress_clear(struct copy_progress *p);
/* Writes the record of one table, inside the caller's transaction. */
int progress_write(db *dst, const char *table, const char *source,
                   const char *last_key, int64_t rows, bool done);

/* ---- checks (verify.c) ---- */

/* Counts and digests one table on both sides into out. */
int copy_check_table(db *src, db *dst, const struct copy_table *t,
                     struct dbcopy_check *out);
/* Sets every identity sequence of the plan past the largest id. */
int copy_reset_sequences(db *dst, const struct copy_plan *plan);

#endif
