/*
 * orphans.c — finding stored objects nobody names: the store is listed
 * tier by tier, and objects past the grace are looked up in batches
 * (photos not deleted, unfinished uploads' pieces). Those left are
 * orphans, e.g. the copy a crashed move left behind.
 */
#include "lifecycle/lifecycle.h"

#include "common/err.h"
#include "common/util.h"
#include "obs/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keys looked up per query; a short batch is padded to keep one text. */
#define BATCH 128

struct candidate {
    char key[STORE_KEY_MAX + 1];
    int64_t size;
    bool named;
};

struct scan {
    db *d;
    const struct lifecycle_rules *rules;
    struct lifecycle_plan *plan;
    struct candidate batch[BATCH];
    int n;
    char *sql; /* the lookup for a full batch */
    int rc;
};

/* "SELECT col FROM table WHERE col IN (?, ...)" for each place a key
 * may be named, joined by UNION. */
static char *
lookup_sql(void)
{
    static const char *const parts[] = {
        "SELECT object_key FROM images WHERE deleted_at IS NULL AND "
        "object_key IN (",
        "SELECT thumb_key FROM images WHERE deleted_at IS NULL AND "
        "thumb_key IN (",
        "SELECT preview_key FROM images WHERE deleted_at IS NULL AND "
        "preview_key IN (",
        "SELECT object_key FROM tus_parts WHERE object_key IN (",
    };
    pd_buf b;

    buf_init(&b);
    for (int p = 0; p < 4; p++) {
        buf_puts(&b, p ? " UNION " : "");
        buf_puts(&b, parts[p]);
        for (int i = 0; i < BATCH; i++)
            buf_puts(&b, i ? ", ?" : "?");
        buf_puts(&b, ")");
    }
    if (b.failed) {
        buf_free(&b);
        return NULL;
    }
    return b.data;
}

/* Marks the batch's keys that the query returns as named. */
static int
mark_named(struct scan *sc)
{
    db_arg args[4 * BATCH];
    db_rows *r = NULL;
    int rc;

    for (int i = 0; i < 4 * BATCH; i++) {
        int at = i % BATCH;

        args[i] = DB_TEXT(sc->batch[at < sc->n ? at : 0].key);
    }
    rc = db_query(sc->d, sc->sql, args, 4 * BATCH, &r);
    while (rc == PD_OK && (rc = db_step(r)) == 1) {
        const char *key = db_col_text(r, 0);

        rc = PD_OK;
        for (int i = 0; i < sc->n; i++)
            if (strcmp(sc->batch[i].key, key) == 0)
                sc->batch[i].named = true;
    }
    db_rows_free(r);
    return rc < 0 ? rc : PD_OK;
}

/* Looks the batch up and adds its unnamed objects to the plan. */
static int
flush(struct scan *sc)
{
    int rc = sc->n > 0 ? mark_named(sc) : PD_OK;

    for (int i = 0; rc == PD_OK && i < sc->n; i++) {
        struct lifecycle_item it = {.action = LC_DELETE_ORPHAN,
                                    .bytes = sc->batch[i].size};

        if (sc->batch[i].named)
            continue;
        it.keys[0] = sc->batch[i].key;
        rc = lifecycle_plan_add(sc->plan, &it);
    }
    sc->n = 0;
    return rc;
}

static int
on_object(void *ctx, const char *key, const struct store_stat *st)
{
    struct scan *sc = ctx;
    struct candidate *c;

    sc->plan->objects_listed++;
    if (st->mtime_ms > sc->plan->now - sc->rules->orphan_ms)
        return 0;
    if (strlen(key) > STORE_KEY_MAX)
        return 0;
    c = &sc->batch[sc->n++];
    snprintf(c->key, sizeof(c->key), "%s", key);
    c->size = st->size;
    c->named = false;
    if (sc->n == BATCH)
        sc->rc = flush(sc);
    return sc->rc;
}

int
lifecycle_plan_orphans(db *d, store *s, const struct lifecycle_rules *r,
                       struct lifecycle_plan *p)
{
    struct scan *sc = calloc(1, sizeof(*sc));
    int rc = PD_OK;

    if (sc == NULL || (sc->sql = lookup_sql()) == NULL) {
        free(sc);
        return PD_ENOMEM;
    }
    *sc = (struct scan){.d = d, .rules = r, .plan = p, .sql = sc->sql};
    for (int t = 0; rc == PD_OK && t < STORE_TIER_COUNT; t++) {
        char prefix[32];

        snprintf(prefix, sizeof(prefix), "%s/", store_tier_name(t));
        rc = store_list(s, prefix, on_object, sc);
        if (rc == PD_OK)
            rc = flush(sc);
        if (rc != PD_OK)
            log_error("lifecycle: cannot look for orphans under %s: %s",
                      prefix, pd_err_str(rc));
    }
    free(sc->sql);
    free(sc);
    return rc;
}
