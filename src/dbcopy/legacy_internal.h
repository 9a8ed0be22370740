/*
 * legacy_internal.h — reading one row of the old webhook service's
 * orders table (legacy_parse.c) for the import (legacy.c): its order
 * number, status, times and pet_data, each checked, into printdesk's
 * terms.
 */
#ifndef PD_LEGACY_INTERNAL_H
#define PD_LEGACY_INTERNAL_H

#include "dbcopy/legacy.h"

#include <stdbool.h>

#define LEGACY_PETS_MAX 100
#define LEGACY_PET_NAME_MAX 200  /* bytes kept of a pet's name */
#define LEGACY_PRINT_SIZE_MAX 15 /* bytes kept of a print size */

/* The legacy orders columns read, in this order. */
enum legacy_col {
    LC_NUMBER, LC_SESSION, LC_PET_DATA, LC_STATUS, LC_CREATED, LC_UPDATED,
    LC_COMPLETED, LC_NOTES, LC_DOWNLOADS, LC_ACCESSED, LC_COUNT
};

/* A value as SQLite stored it. */
enum legacy_type { LV_NULL, LV_INT, LV_REAL, LV_TEXT };

struct legacy_value {
    enum legacy_type type;
    int64_t i;
    double d;
    const char *text; /* LV_TEXT: borrowed, NUL-terminated */
};

struct legacy_pet {
    char name[LEGACY_PET_NAME_MAX + 1];
    char print_size[LEGACY_PRINT_SIZE_MAX + 1];
};

/* One legacy row, read and checked. */
struct legacy_order {
    int64_t rowid;
    int64_t number;
    char name[32];         /* "#1042" */
    const char *status;    /* printdesk's status (static) */
    const char *legacy_status; /* as stored (borrowed), or NULL */
    int64_t created_ms, updated_ms, completed_ms; /* 0: none */
    int64_t last_accessed_ms;
    int64_t download_count;
    const char *session;   /* borrowed; NULL when none */
    const char *notes;     /* borrowed; NULL when empty */
    struct legacy_pet *pets; /* malloc'd; freed by legacy_order_clear */
    int n_pets;
};

/*
 * The status of a legacy fulfillment_status: trimmed, case and the
 * separators " " and "-" ignored; NULL or empty is pending. NULL for a
 * status the mapping does not know.
 */
const char *legacy_status(const char *legacy);

/*
 * A legacy time in ms since the epoch: ISO 8601 text ("2025-08-16
 * 14:03:22", "2025-08-16T14:03:22.123456+02:00", "2025-08-16"; no
 * offset is UTC, as SQLite's CURRENT_TIMESTAMP writes), or epoch seconds
 * or milliseconds, as a number or digits. *ms is 0 for NULL or empty.
 * PD_EINVAL for anything else, or a time before 2000 or after 2100.
 */
int legacy_time(const struct legacy_value *v, int64_t *ms);

/* The order number of "1042", "#1042" or 1042; PD_EINVAL otherwise. */
int legacy_number(const struct legacy_value *v, int64_t *out);

/*
 * The pets of pet_data: {"pets": [...]} (other keys ignored), a list of
 * pets, or one pet object; a pet is an object with its name in "name",
 * "petName" or "pet_name" and its print size in "printSize",
 * "print_size" or "size", or a string (its name). PD_EINVAL with reason
 * for text that is not such JSON. *pets is malloc'd (NULL when none).
 */
int legacy_pets(const char *json, struct legacy_pet **pets, int *n,
                char *reason, size_t len);

/*
 * Reads a whole row (its columns by enum legacy_col) into o, borrowing
 * the row's strings; PD_EINVAL with reason when the row cannot be
 * imported.
 */
int legacy_read_row(int64_t rowid, const struct legacy_value cols[LC_COUNT],
                    struct legacy_order *o, char *reason, size_t len);
void legacy_order_clear(struct legacy_order *o);

#endif
