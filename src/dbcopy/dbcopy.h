/*
 * dbcopy.h — `printdesk copy-db`: copies every table of a printdesk
 * SQLite database into PostgreSQL, batch by batch, each batch committed
 * with a record of how far it got, so an interrupted copy resumes and a
 * finished one changes nothing; then proves the copy with row counts and
 * checksums taken on both sides.
 */
#ifndef PD_DBCOPY_H
#define PD_DBCOPY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DBCOPY_BATCH_DEFAULT 2000
#define DBCOPY_BATCH_MAX 50000
#define DBCOPY_NAME_MAX 64 /* bytes of a table name we report */

struct dbcopy_options {
    const char *from_url; /* sqlite:PATH, an existing printdesk database */
    const char *to_url;   /* postgres://... */
    int batch;            /* rows per transaction, 1..DBCOPY_BATCH_MAX */
};

/* The check of one table after the copy. */
struct dbcopy_check {
    char table[DBCOPY_NAME_MAX + 1];
    int64_t source_rows, target_rows;
    char source_sum[17], target_sum[17]; /* 16 hex digits of each digest */
    bool match;
};

struct dbcopy_result {
    int64_t rows_copied;   /* rows written by this run */
    double copy_seconds;   /* time this run spent copying */
    int tables_copied;     /* tables finished by this run */
    int tables_done_before; /* tables an earlier run had finished */
    struct dbcopy_check *checks; /* one per table, in copy order */
    int n_checks;
    bool all_match;
};

/*
 * Runs the copy: migrates the target's schema, refuses a target holding
 * rows this copy did not write (or being filled from another source),
 * copies what is left, sets the identity sequences past the copied ids,
 * then checks every table on both sides into *out (the caller frees it
 * with dbcopy_result_free, also after a failure). Returns 0 when the copy
 * ran to the end (out->all_match says whether the checks agree), else a
 * pd_err with the reason in err.
 */
int dbcopy_run(const struct dbcopy_options *o, struct dbcopy_result *out,
               char *err, size_t errlen);

void dbcopy_result_free(struct dbcopy_result *r);

#endif
