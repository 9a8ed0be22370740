/*
 * db_batch.h — bulk inserts: rows are buffered and written as one
 * multi-row INSERT per batch, so loading many rows costs few round trips
 * on PostgreSQL and few statement steps on SQLite.
 */
#ifndef PD_DB_BATCH_H
#define PD_DB_BATCH_H

#include "db/db.h"

typedef struct db_batch db_batch;

/*
 * A batch for table(columns...), ncols columns, holding up to
 * rows_per_insert rows (one INSERT). NULL when out of memory. The table
 * and column names are trusted constants, never input.
 */
db_batch *db_batch_new(db *d, const char *table, const char *const *columns,
                       int ncols, int rows_per_insert);

/*
 * Adds one row of ncols values; text and blob values are copied. A batch
 * never flushes by itself (rows of several tables must reach the
 * database parent first): PD_ETOOBIG when it is full.
 */
int db_batch_add(db_batch *b, const db_arg *row);
/* Rows that still fit before the batch must be flushed. */
int db_batch_room(const db_batch *b);

/* Writes the buffered rows. */
int db_batch_flush(db_batch *b);

/* Flushes, then frees the batch; returns the flush's result. */
int db_batch_finish(db_batch *b);

/* Frees without flushing (after an error). Accepts NULL. */
void db_batch_free(db_batch *b);

#endif
