/*
 * rotate_key.h — the work of `printdesk rotate-data-key`: re-seals the
 * customer data of orders and sealed webhook bodies under the current
 * data key, batch by batch, so it can be stopped and run again.
 */
#ifndef PD_ROTATE_KEY_H
#define PD_ROTATE_KEY_H

#include "crypto/pii.h"
#include "db/db.h"

#include <stdint.h>

#define ROTATE_BATCH_DEFAULT 500
#define ROTATE_BATCH_MAX 10000

struct rotate_counts {
    int64_t rotated;       /* orders rows re-sealed now */
    int64_t current;       /* orders rows already current (or without PII) */
    int64_t failed;        /* orders rows neither key opens; left as is */
    int64_t inbox_rotated; /* webhook_inbox bodies re-sealed now */
    int64_t inbox_failed;  /* sealed bodies neither key opens */
};

/*
 * Re-seals, under k's current key, every orders row whose pii_key_id is
 * not the current key's id (the four *_enc columns; NULL stays NULL),
 * with email_bidx recomputed and pii_key_id set; and every webhook_inbox
 * body sealed under another key. batch rows (1..ROTATE_BATCH_MAX) per
 * transaction. A row neither key opens is logged by id and counted in
 * *out, not returned as an error. Returns 0, or the pd_err of a database
 * failure (the batch under way is rolled back; earlier ones stay done).
 */
int rotate_data_key(db *d, const pii_keys *k, int batch,
                    struct rotate_counts *out);

#endif
