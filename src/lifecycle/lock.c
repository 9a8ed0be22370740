/*
 * lock.c — a named lock in the database (table locks: name, holder,
 * expires_at), so that only one lifecycle run works at a time wherever
 * it runs. Taken by one atomic upsert that only replaces an expired
 * holder; renewed while held; a crashed holder's lock lapses.
 */
#include "lifecycle/lifecycle.h"

#include "common/err.h"
#include "common/util.h"
#include "obs/log.h"

#include <stdio.h>
#include <string.h>

/* Who holds the lock now (for the message of a refused run). */
static int
read_holder(db *d, const char *name, struct lifecycle_lock *out)
{
    db_rows *r = NULL;
    int rc = db_query(d, "SELECT holder, expires_at FROM locks "
                         "WHERE name = ?", (db_arg[]){DB_TEXT(name)}, 1, &r);

    memset(out, 0, sizeof(*out));
    if (rc == PD_OK && (rc = db_step(r)) == 1) {
        snprintf(out->holder, sizeof(out->holder), "%s", db_col_text(r, 0));
        out->expires_at = db_col_int(r, 1);
    }
    db_rows_free(r);
    return rc < 0 ? rc : PD_OK;
}

int
lifecycle_lock_take(db *d, const char *name, const char *holder,
                    int64_t ttl_ms, struct lifecycle_lock *other)
{
    int64_t now = pd_now_ms(), changed = 0;
    int rc = db_exec(d, "INSERT INTO locks (name, holder, expires_at) "
                        "VALUES (?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                        "holder = excluded.holder, "
                        "expires_at = excluded.expires_at "
                        "WHERE locks.expires_at <= ?",
                     (db_arg[]){DB_TEXT(name), DB_TEXT(holder),
                                DB_INT(now + ttl_ms), DB_INT(now)}, 4,
                     &changed);

    /* The database itself busy past its timeout is a failure, not the
     * lock being held. */
    if (rc == PD_EBUSY)
        rc = PD_ERR;
    if (rc != PD_OK)
        return rc;
    if (changed == 1)
        return PD_OK;
    if (other != NULL)
        read_holder(d, name, other);
    return PD_EBUSY;
}

int
lifecycle_lock_renew(db *d, const char *name, const char *holder,
                     int64_t ttl_ms)
{
    int64_t changed = 0;
    int rc = db_exec(d, "UPDATE locks SET expires_at = ? WHERE name = ? "
                        "AND holder = ?",
                     (db_arg[]){DB_INT(pd_now_ms() + ttl_ms), DB_TEXT(name),
                                DB_TEXT(holder)}, 3, &changed);

    if (rc == PD_OK && changed == 0)
        rc = PD_EBUSY;
    return rc;
}

int
lifecycle_lock_release(db *d, const char *name, const char *holder)
{
    return db_exec(d, "DELETE FROM locks WHERE name = ? AND holder = ?",
                   (db_arg[]){DB_TEXT(name), DB_TEXT(holder)}, 2, NULL);
}
