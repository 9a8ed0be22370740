/*
 * db_batch.c — buffered multi-row INSERTs. A full batch always has the
 * same SQL text, so the statement is prepared once and reused.
 */
#include "db/db_batch.h"

#include "common/arena.h"
#include "common/err.h"
#include "common/util.h"

#include <stdlib.h>
#include <string.h>

struct db_batch {
    db *d;
    const char *table;
    const char *const *columns;
    int ncols;
    int capacity; /* rows per INSERT */
    int rows;     /* rows buffered now */
    db_arg *args;
    arena *copies; /* text and blob copies of the buffered rows */
    char *full_sql;
};

/* INSERT INTO t (a, b) VALUES (?, ?), (?, ?) ... for nrows rows. */
static char *
build_sql(const db_batch *b, int nrows)
{
    pd_buf sql;

    buf_init(&sql);
    buf_printf(&sql, "INSERT INTO %s (", b->table);
    for (int c = 0; c < b->ncols; c++)
        buf_printf(&sql, "%s%s", c ? ", " : "", b->columns[c]);
    buf_puts(&sql, ") VALUES ");
    for (int r = 0; r < nrows; r++) {
        buf_puts(&sql, r ? ", (" : "(");
        for (int c = 0; c < b->ncols; c++)
            buf_puts(&sql, c ? ", ?" : "?");
        buf_puts(&sql, ")");
    }
    if (sql.failed) {
        buf_free(&sql);
        return NULL;
    }
    return sql.data;
}

db_batch *
db_batch_new(db *d, const char *table, const char *const *columns,
             int ncols, int rows_per_insert)
{
    db_batch *b = calloc(1, sizeof(*b));

    if (b == NULL)
        return NULL;
    b->d = d;
    b->table = table;
    b->columns = columns;
    b->ncols = ncols;
    b->capacity = rows_per_insert > 0 ? rows_per_insert : 1;
    b->args = calloc((size_t)(b->capacity * ncols), sizeof(db_arg));
    b->copies = arena_new();
    b->full_sql = build_sql(b, b->capacity);
    if (b->args == NULL || b->copies == NULL || b->full_sql == NULL) {
        db_batch_free(b);
        return NULL;
    }
    return b;
}

int
db_batch_flush(db_batch *b)
{
    char *partial = NULL;
    const char *sql = b->full_sql;
    int rc;

    if (b->rows == 0)
        return PD_OK;
    if (b->rows < b->capacity) {
        partial = build_sql(b, b->rows);
        if (partial == NULL)
            return PD_ENOMEM;
        sql = partial;
    }
    rc = db_exec(b->d, sql, b->args, b->rows * b->ncols, NULL);
    free(partial);
    arena_free(b->copies);
    b->copies = arena_new();
    b->rows = 0;
    if (rc == PD_OK && b->copies == NULL)
        rc = PD_ENOMEM;
    return rc;
}

int
db_batch_add(db_batch *b, const db_arg *row)
{
    db_arg *slot;

    if (b->rows == b->capacity)
        return PD_ETOOBIG;
    slot = &b->args[b->rows * b->ncols];
    for (int c = 0; c < b->ncols; c++) {
        slot[c] = row[c];
        if ((row[c].type == DB_T_TEXT || row[c].type == DB_T_BLOB) &&
            row[c].len > 0) {
            void *copy = arena_alloc(b->copies, row[c].len + 1);

            if (copy == NULL)
                return PD_ENOMEM;
            memcpy(copy, row[c].p, row[c].len);
            slot[c].p = copy;
        }
    }
    b->rows++;
    return PD_OK;
}

int
db_batch_room(const db_batch *b)
{
    return b->capacity - b->rows;
}

int
db_batch_finish(db_batch *b)
{
    int rc = db_batch_flush(b);

    db_batch_free(b);
    return rc;
}

void
db_batch_free(db_batch *b)
{
    if (b == NULL)
        return;
    arena_free(b->copies);
    free(b->args);
    free(b->full_sql);
    free(b);
}
