/*
 * snapshot_pg.c — PostgreSQL backups with the server's own tools:
 * pg_dump in custom format from an exported snapshot (the one the
 * manifest's row counts were taken in, so they match the dump exactly
 * while the server keeps writing), and pg_restore into an empty
 * database.
 */
#include "backup/backup.h"

#include "common/err.h"
#include "db/db.h"
#include "obs/log.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

/* The last non-empty line of file path, in out. */
static void
last_line(const char *path, char *out, size_t len)
{
    char line[512];
    FILE *f = fopen(path, "r");

    out[0] = '\0';
    if (f == NULL)
        return;
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] != '\0')
            snprintf(out, len, "%.300s", line);
    }
    fclose(f);
}

int
backup_spawn(char *const argv[], const char *errfile, char *err,
             size_t errlen)
{
    posix_spawn_file_actions_t fa;
    pid_t pid;
    int status = 0, rc;
    char why[400];

    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 2, errfile,
                                     O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        snprintf(err, errlen, "cannot run %s: %s", argv[0], strerror(rc));
        return PD_EUNAVAIL;
    }
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return PD_OK;
    last_line(errfile, why, sizeof(why));
    snprintf(err, errlen, "%s failed (status %d): %s", argv[0],
             WIFEXITED(status) ? WEXITSTATUS(status) : -1,
             why[0] ? why : "no message");
    return PD_ERR;
}

/* Opens a read-only repeatable-read transaction and exports its
 * snapshot's name into snap. */
static int
begin_snapshot(db *d, char *snap, size_t len)
{
    db_rows *r = NULL;
    int rc = db_exec(d, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
                     NULL, 0, NULL);

    if (rc == PD_OK)
        rc = db_query(d, "SELECT pg_export_snapshot()", NULL, 0, &r);
    if (rc == PD_OK && (rc = db_step(r)) == 1) {
        snprintf(snap, len, "%s", db_col_text(r, 0));
        rc = PD_OK;
    } else if (rc == 0) {
        rc = PD_ERR;
    }
    db_rows_free(r);
    return rc;
}

int
pg_dump_snapshot(const char *url, const char *file, struct backup_manifest *m,
                 char *err, size_t errlen)
{
    char snap[128], snap_arg[160], file_arg[600], url_arg[1100], errfile[620];
    db *d = NULL;
    int rc;

    if ((rc = db_open(url, &d, err, errlen)) != PD_OK)
        return rc;
    rc = begin_snapshot(d, snap, sizeof(snap));
    if (rc == PD_OK)
        rc = backup_count_tables(d, m);
    if (rc != PD_OK) {
        snprintf(err, errlen, "reading the database: %s", db_errmsg(d));
    } else {
        char *argv[] = {"pg_dump", "--format=custom", "--no-owner",
                        snap_arg, file_arg, url_arg, NULL};

        snprintf(snap_arg, sizeof(snap_arg), "--snapshot=%s", snap);
        snprintf(file_arg, sizeof(file_arg), "--file=%s", file);
        snprintf(url_arg, sizeof(url_arg), "--dbname=%s", url);
        snprintf(errfile, sizeof(errfile), "%s.log", file);
        rc = backup_spawn(argv, errfile, err, errlen);
        unlink(errfile);
    }
    db_exec(d, "COMMIT", NULL, 0, NULL);
    db_close(d);
    return rc;
}

int
pg_restore_file(const char *url, const char *file, char *err, size_t errlen)
{
    char url_arg[1100], errfile[620];
    char *argv[] = {"pg_restore", "--no-owner", "--no-privileges",
                    "--exit-on-error", "--single-transaction", url_arg,
                    (char *)file, NULL};
    int rc;

    snprintf(url_arg, sizeof(url_arg), "--dbname=%s", url);
    snprintf(errfile, sizeof(errfile), "%s.log", file);
    rc = backup_spawn(argv, errfile, err, errlen);
    unlink(errfile);
    return rc;
}
