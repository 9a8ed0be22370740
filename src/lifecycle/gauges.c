/*
 * gauges.c — storage_bytes_used{tier} and storage_objects{tier} for
 * /metrics: one grouped count over the photos not deleted, by recorded
 * tier, kept for a few seconds so that both gauges of a scrape share it.
 */
#include "lifecycle/lifecycle.h"

#include "common/err.h"
#include "common/util.h"
#include "obs/log.h"
#include "obs/metrics.h"

#include <pthread.h>
#include <string.h>

/* How long one reading serves (both gauges of one scrape read it). */
#define READING_TTL_NS (5LL * 1000 * 1000 * 1000)

struct reading {
    bool valid;
    int64_t taken_ns;
    int64_t objects[STORE_TIER_COUNT];
    int64_t bytes[STORE_TIER_COUNT];
};

static pthread_mutex_t reading_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reading last;

/* Objects: each photo's original and its thumbnail and preview when it
 * has them. Bytes: the originals' recorded sizes. */
static int
read_tiers(struct reading *out)
{
    db *d = db_thread();
    db_rows *r = NULL;
    int rc = d == NULL ? PD_EUNAVAIL
                       : db_query(d, "SELECT tier, COUNT(*) + "
                                     "COUNT(thumb_key) + COUNT(preview_key), "
                                     "COALESCE(SUM(bytes), 0) FROM images "
                                     "WHERE deleted_at IS NULL GROUP BY tier",
                                  NULL, 0, &r);

    memset(out, 0, sizeof(*out));
    while (rc == PD_OK && (rc = db_step(r)) == 1) {
        int t = store_tier_of_key(db_col_text(r, 0));

        rc = PD_OK;
        if (t < 0)
            continue;
        out->objects[t] = db_col_int(r, 1);
        out->bytes[t] = db_col_int(r, 2);
    }
    db_rows_free(r);
    if (rc < 0)
        return rc;
    out->valid = true;
    out->taken_ns = pd_mono_ns();
    return PD_OK;
}

/* Copies a fresh enough reading into out; false when there is none. */
static bool
current_reading(struct reading *out)
{
    int rc = PD_OK;

    pthread_mutex_lock(&reading_lock);
    if (!last.valid || pd_mono_ns() - last.taken_ns > READING_TTL_NS) {
        rc = read_tiers(&last);
        if (rc != PD_OK)
            log_warn("metrics: cannot count stored photos by tier: %s",
                     pd_err_str(rc));
    }
    *out = last;
    pthread_mutex_unlock(&reading_lock);
    return rc == PD_OK && out->valid;
}

static void
report(metrics_gauge_sink *sink, bool bytes)
{
    struct reading r;

    if (!current_reading(&r))
        return;
    for (int t = 0; t < STORE_TIER_COUNT; t++) {
        const char *tier = store_tier_name((enum store_tier)t);

        metrics_gauge_series(sink, &tier,
                             (double)(bytes ? r.bytes[t] : r.objects[t]));
    }
}

static void
bytes_gauge(metrics_gauge_sink *sink)
{
    report(sink, true);
}

static void
objects_gauge(metrics_gauge_sink *sink)
{
    report(sink, false);
}

void
lifecycle_register_metrics(void)
{
    pthread_mutex_lock(&reading_lock);
    last.valid = false;
    pthread_mutex_unlock(&reading_lock);
    metrics_labeled_gauge("storage_bytes_used",
                          "Bytes of stored photo originals, by the tier "
                          "the database records.", "tier", bytes_gauge);
    metrics_labeled_gauge("storage_objects",
                          "Stored objects (originals, thumbnails and "
                          "previews) of photos, by recorded tier.", "tier",
                          objects_gauge);
}
