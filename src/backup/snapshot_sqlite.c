/*
 * snapshot_sqlite.c — a consistent copy of a live SQLite database with
 * SQLite's online backup API (one read snapshot; the server's writers go
 * on meanwhile in WAL mode), turned into a single self-contained file,
 * and the checks a copy must pass: PRAGMA integrity_check and its row
 * counts.
 */
#include "backup/backup.h"

#include "common/err.h"
#include "db/db.h"

#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#define COPY_TRIES 200 /* 50 ms apart while a writer holds the lock */

static int
fail(sqlite3 *h, const char *what, char *err, size_t errlen)
{
    snprintf(err, errlen, "%s: %s", what,
             h != NULL ? sqlite3_errmsg(h) : "out of memory");
    return PD_ERR;
}

/* Copies every page of src into dst in one step (one snapshot). */
static int
copy_pages(sqlite3 *src, sqlite3 *dst, char *err, size_t errlen)
{
    sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
    int rc = SQLITE_OK;

    if (b == NULL)
        return fail(dst, "starting the copy", err, errlen);
    for (int i = 0; i < COPY_TRIES; i++) {
        rc = sqlite3_backup_step(b, -1);
        if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
            break;
        sqlite3_sleep(50);
    }
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE)
        return fail(dst, "copying the database", err, errlen);
    return PD_OK;
}

int
sqlite_online_copy(const char *src_path, const char *dst_path, char *err,
                   size_t errlen)
{
    sqlite3 *src = NULL, *dst = NULL;
    int rc = PD_ERR;

    if (sqlite3_open_v2(src_path, &src, SQLITE_OPEN_READWRITE, NULL) !=
        SQLITE_OK) {
        rc = fail(src, src_path, err, errlen);
    } else if (sqlite3_open(dst_path, &dst) != SQLITE_OK) {
        rc = fail(dst, dst_path, err, errlen);
    } else {
        sqlite3_busy_timeout(src, 5000);
        rc = copy_pages(src, dst, err, errlen);
        /* One file, no -wal beside it: what gets compressed is whole. */
        if (rc == PD_OK &&
            sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL,
                         NULL) != SQLITE_OK)
            rc = fail(dst, "closing the copy's journal", err, errlen);
    }
    sqlite3_close(src);
    sqlite3_close(dst);
    return rc;
}

int
sqlite_check_copy(const char *path, struct backup_manifest *m, char *err,
                  size_t errlen)
{
    char url[600];
    db *d = NULL;
    db_rows *r = NULL;
    int rc;

    snprintf(url, sizeof(url), "sqlite:%s", path);
    if ((rc = db_open(url, &d, err, errlen)) != PD_OK)
        return rc;
    rc = db_query(d, "PRAGMA integrity_check", NULL, 0, &r);
    if (rc == PD_OK && (rc = db_step(r)) == 1 &&
        strcmp(db_col_text(r, 0), "ok") == 0) {
        rc = PD_OK;
    } else {
        snprintf(err, errlen, "the copy failed SQLite's integrity check: %s",
                 rc == 1 ? db_col_text(r, 0) : db_errmsg(d));
        rc = PD_EINVAL;
    }
    db_rows_free(r);
    if (rc == PD_OK && (rc = backup_count_tables(d, m)) != PD_OK)
        snprintf(err, errlen, "counting the copy's rows: %s", db_errmsg(d));
    db_close(d);
    return rc;
}
