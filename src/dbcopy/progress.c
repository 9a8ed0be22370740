/*
 * progress.c — copy-db's record in the target: per table, the source it
 * is filled from, the key of the last row copied, how many rows, and
 * whether the table is done. Each batch writes it in the batch's own
 * transaction, so the record and the rows never disagree.
 */
#include "dbcopy/dbcopy_internal.h"

#include "common/err.h"

#include <stdlib.h>
#include <string.h>

static const char create_sql[] =
    "CREATE TABLE IF NOT EXISTS copy_progress ("
    " table_name TEXT PRIMARY KEY,"
    " source TEXT NOT NULL,"
    " last_key TEXT,"
    " rows_copied BIGINT NOT NULL DEFAULT 0,"
    " done BOOLEAN NOT NULL DEFAULT false,"
    " updated_at BIGINT NOT NULL)";

int
progress_setup(db *dst)
{
    return db_exec(dst, create_sql, NULL, 0, NULL);
}

int
progress_read(db *dst, const char *table, struct copy_progress *out)
{
    db_rows *r = NULL;
    int rc = db_query(dst, "SELECT source, last_key, rows_copied, done "
                           "FROM copy_progress WHERE table_name = ?",
                      (db_arg[]){DB_TEXT(table)}, 1, &r);

    memset(out, 0, sizeof(*out));
    if (rc == PD_OK && (rc = db_step(r)) == 1) {
        out->found = true;
        out->source = strdup(db_col_text(r, 0));
        out->last_key = db_col_null(r, 1) ? NULL : strdup(db_col_text(r, 1));
        out->rows = db_col_int(r, 2);
        out->done = db_col_int(r, 3) != 0;
        rc = out->source == NULL || (!db_col_null(r, 1) && !out->last_key)
                 ? PD_ENOMEM
                 : PD_OK;
    }
    db_rows_free(r);
    return rc < 0 ? rc : PD_OK;
}

void
progress_clear(struct copy_progress *p)
{
    free(p->source);
    free(p->last_key);
    memset(p, 0, sizeof(*p));
}

int
progress_write(db *dst, const char *table, const char *source,
               const char *last_key, int64_t rows, bool done)
{
    return db_exec(dst,
        "INSERT INTO copy_progress (table_name, source, last_key, "
        "rows_copied, done, updated_at) VALUES (?, ?, ?, ?, ?, ?) "
        "ON CONFLICT (table_name) DO UPDATE SET "
        "last_key = excluded.last_key, rows_copied = excluded.rows_copied, "
        "done = excluded.done, updated_at = excluded.updated_at",
        (db_arg[]){DB_TEXT(table), DB_TEXT(source), DB_TEXT(last_key),
                   DB_INT(rows), DB_TEXT(done ? "true" : "false"),
                   DB_INT(pd_now_ms())}, 6, NULL);
}
