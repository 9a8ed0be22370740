/*
 * migrate.c — applies the embedded schema migrations of the connection's
 * dialect, each in its own transaction, recorded in schema_migrations.
 * PostgreSQL runs under an advisory lock; SQLite under BEGIN IMMEDIATE.
 */
#include "db/db_internal.h"

#include "common/err.h"
#include "common/util.h"
#include "obs/log.h"

#include <inttypes.h>

/* pg_advisory_lock key shared by every printdesk process: "printdk1". */
#define PG_MIGRATE_LOCK "8102654602713000753"

static const char create_sql[] =
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    " version BIGINT PRIMARY KEY,"
    " name TEXT NOT NULL,"
    " applied_at BIGINT NOT NULL)";

static void migrations_for(const db *d, const struct db_migration **list,
                           int *n)
{
    if (db_kind(d) == DB_POSTGRES) {
        *list = db_migrations_postgres;
        *n = db_migrations_postgres_count;
    } else {
        *list = db_migrations_sqlite;
        *n = db_migrations_sqlite_count;
    }
}

int db_schema_version(db *d, int64_t *version)
{
    const char *exists_sql =
        db_kind(d) == DB_POSTGRES
            ? "SELECT CASE WHEN to_regclass('schema_migrations') IS NULL "
              "THEN 0 ELSE 1 END"
            : "SELECT COUNT(*) FROM sqlite_master "
              "WHERE type = 'table' AND name = 'schema_migrations'";
    int64_t exists = 0;
    int rc;

    *version = 0;
    rc = db_query_int(d, exists_sql, NULL, 0, &exists);
    if (rc < 0 || exists == 0)
        return rc;
    return db_query_int(d, "SELECT COALESCE(MAX(version), 0) "
                           "FROM schema_migrations", NULL, 0, version);
}

/* One migration in one write transaction; the version is checked again
 * inside it, so a second process that waited for the lock skips it. */
static int apply_one(db *d, const struct db_migration *m, bool *done)
{
    db_arg check[] = {DB_INT(m->version)};
    db_arg rec[] = {DB_INT(m->version), DB_TEXT(m->name),
                    DB_INT(pd_now_ms())};
    int64_t have = 0;
    int rc;

    *done = false;
    rc = db_begin_write(d);
    if (rc < 0)
        return rc;
    rc = db_query_int(d, "SELECT COUNT(*) FROM schema_migrations "
                         "WHERE version = ?", check, 1, &have);
    if (rc == 0 && have == 0) {
        rc = d->ops->script(d, m->sql);
        if (rc == 0)
            rc = db_exec(d, "INSERT INTO schema_migrations "
                            "(version, name, applied_at) VALUES (?, ?, ?)",
                         rec, 3, NULL);
        *done = rc == 0;
    }
    if (rc == 0)
        rc = db_commit(d);
    if (rc < 0) {
        log_error("db: migration %04" PRId64 "_%s failed: %s", m->version,
                  m->name, db_errmsg(d));
        db_rollback(d);
        *done = false;
    }
    return rc;
}

static int apply_pending(db *d, int *applied)
{
    const struct db_migration *list;
    int64_t current = 0;
    int n, rc;

    migrations_for(d, &list, &n);
    rc = db_exec(d, create_sql, NULL, 0, NULL);
    if (rc == 0)
        rc = db_schema_version(d, &current);
    for (int i = 0; i < n && rc == 0; i++) {
        bool done;

        if (list[i].version <= current)
            continue;
        rc = apply_one(d, &list[i], &done);
        if (done) {
            (*applied)++;
            log_info("db: applied migration %04" PRId64 "_%s",
                     list[i].version, list[i].name);
        }
    }
    if (rc == 0 && n > 0 && current > list[n - 1].version)
        log_warn("db: schema version %" PRId64 " is newer than this "
                 "program's %" PRId64, current, list[n - 1].version);
    return rc;
}

int db_migrate(db *d, int *applied)
{
    int count = 0, rc;

    if (applied != NULL)
        *applied = 0;
    if (d->in_tx) {
        db_set_err(d, "migrate inside a transaction");
        return PD_EINVAL;
    }
    /* Session-level: held across the per-migration transactions, and
     * released by the server if this connection dies. */
    if (db_kind(d) == DB_POSTGRES) {
        rc = db_exec(d, "SELECT pg_advisory_lock(" PG_MIGRATE_LOCK ")",
                     NULL, 0, NULL);
        if (rc < 0)
            return rc;
    }
    rc = apply_pending(d, &count);
    if (db_kind(d) == DB_POSTGRES) {
        char saved[sizeof(d->errmsg)];

        memcpy(saved, d->errmsg, sizeof(saved));
        db_exec(d, "SELECT pg_advisory_unlock(" PG_MIGRATE_LOCK ")", NULL, 0,
                NULL);
        if (rc < 0)
            memcpy(d->errmsg, saved, sizeof(saved));
    }
    if (applied != NULL)
        *applied = count;
    return rc;
}
