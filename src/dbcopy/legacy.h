/*
 * legacy.h — `printdesk import-legacy`: reads the orders table of the
 * shop's old webhook service (a SQLite file, opened read-only) into
 * printdesk's schema. Each legacy row is imported in one transaction or
 * not at all; rows that cannot be read are reported and skipped; orders
 * already present are skipped and counted, so a re-run imports nothing
 * twice.
 */
#ifndef PD_LEGACY_H
#define PD_LEGACY_H

#include "db/db.h"

#include <stddef.h>
#include <stdint.h>

#define LEGACY_ACTOR "import-legacy"
#define LEGACY_REPORT_MAX 1000 /* bad rows kept for the report */

/* A legacy row that was not imported, and why. */
struct legacy_bad_row {
    int64_t rowid;
    char order[64];   /* the legacy order number as read, or "" */
    char reason[256];
};

struct legacy_counts {
    int64_t rows;      /* legacy rows read */
    int64_t imported;
    int64_t present;   /* skipped: an order by that number exists */
    int64_t bad;       /* skipped: unreadable rows */
    int64_t pets;      /* pets imported */
    int64_t photos;    /* images linked to imported orders */
    struct legacy_bad_row *bad_rows; /* the first LEGACY_REPORT_MAX */
    int n_bad_rows;
};

/*
 * Imports every row of the legacy database at path into d (migrated
 * already), then writes one audit row for the run. Returns 0 when every
 * row was looked at (out says what became of them), else a pd_err with
 * the reason in err: the legacy file cannot be read, or the database
 * failed (rows imported until then stay; a re-run goes on). The caller
 * frees out with legacy_counts_free.
 */
int legacy_import(const char *path, db *d, struct legacy_counts *out,
                  char *err, size_t errlen);

void legacy_counts_free(struct legacy_counts *c);

#endif
