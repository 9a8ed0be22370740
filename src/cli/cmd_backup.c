/*
 * cmd_backup.c — `printdesk backup` and `printdesk restore`: their
 * options and help; the work is in src/backup/.
 */
#include "cli/cli.h"

#include "backup/backup.h"
#include "common/err.h"
#include "common/util.h"
#include "obs/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char backup_help[] =
    "usage: printdesk backup --to DEST [--keep-daily N] [--keep-weekly M]\n"
    "                        [--now TIME] [OPTIONS]\n\n"
    "Backs up the database (DATABASE_URL) into DEST, a folder or a store\n"
    "URL (file:DIR, s3://BUCKET?endpoint=URL&region=R, gs://BUCKET), as\n"
    "backups/printdesk-<UTC time>.sqlite.gz or .pgdump and a manifest\n"
    "(time, schema version, rows per table, size, SHA-256) written last.\n"
    "SQLite is copied online (the server keeps running) and checked with\n"
    "PRAGMA integrity_check; PostgreSQL is dumped with pg_dump (custom\n"
    "format), which must be on PATH. Then keeps the newest backup of each\n"
    "of the last N days (7) and of each of the last M weeks (4), and\n"
    "removes the other backups in DEST.\n\n"
    "Options:\n"
    "  --to DEST             where the backup goes (required)\n"
    "  --keep-daily N        days kept (7)\n"
    "  --keep-weekly M       weeks kept (4)\n"
    "  --now TIME            the time to name and keep by (ms since the\n"
    "                        epoch; for drills)\n" CONFIG_FLAGS_HELP;

static const char restore_help[] =
    "usage: printdesk restore --from SRC [--name NAME] [OPTIONS]\n\n"
    "Restores a backup from SRC (a folder or a store URL, as for backup)\n"
    "into DATABASE_URL, which must be empty: a new SQLite file or a\n"
    "PostgreSQL database without tables (pg_restore must be on PATH).\n"
    "NAME is a backup's name (printdesk-20261204T101500Z); the newest\n"
    "when left out. The data's size and SHA-256 are checked against the\n"
    "manifest before anything is written, and the restored row counts\n"
    "after.\n\n"
    "Options:\n"
    "  --from SRC            where the backups are (required)\n"
    "  --name NAME           which backup (the newest)\n" CONFIG_FLAGS_HELP;

/*
 * Takes "--name VALUE" out of argv (so the configuration does not see
 * it); *value is NULL when absent. -1 when the value is missing.
 */
static int
take_option(int *argc, char **argv, const char *name, const char **value)
{
    *value = NULL;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], name) != 0)
            continue;
        if (i + 1 >= *argc) {
            fprintf(stderr, "printdesk %s: %s needs a value\n", argv[0],
                    name);
            return -1;
        }
        *value = argv[i + 1];
        memmove(&argv[i], &argv[i + 2],
                sizeof(*argv) * (size_t)(*argc - i - 1));
        *argc -= 2;
        return 0;
    }
    return 0;
}

static int
take_number(int *argc, char **argv, const char *name, int64_t min,
            int64_t max, int64_t *out)
{
    const char *v;

    if (take_option(argc, argv, name, &v) < 0)
        return -1;
    if (v != NULL && pd_parse_i64(v, min, max, out) != PD_OK) {
        fprintf(stderr, "printdesk %s: %s must be a whole number from %lld "
                "to %lld\n", argv[0], name, (long long)min, (long long)max);
        return -1;
    }
    return 0;
}

static const char *
tmp_dir(void)
{
    const char *t = getenv("TMPDIR");

    return t != NULL && t[0] != '\0' ? t : "/tmp";
}

int
cmd_backup(int argc, char **argv)
{
    struct backup_opts o = {.tmp_dir = tmp_dir()};
    int64_t daily = 7, weekly = 4, now = pd_now_ms();
    struct config cfg;
    char err[1024];
    int rc;

    if (cli_wants_help(argc, argv)) {
        fputs(backup_help, stdout);
        return 0;
    }
    if (take_option(&argc, argv, "--to", &o.dest) < 0 ||
        take_number(&argc, argv, "--keep-daily", 0, 3650, &daily) < 0 ||
        take_number(&argc, argv, "--keep-weekly", 0, 520, &weekly) < 0 ||
        take_number(&argc, argv, "--now", 0, 253402300799999LL, &now) < 0)
        return CONFIG_EXIT_BAD;
    if (o.dest == NULL) {
        fprintf(stderr, "printdesk backup: --to DEST is required\n");
        return CONFIG_EXIT_BAD;
    }
    if ((rc = cli_load_config(&cfg, argc, argv)) != 0)
        return rc;
    if (config_prepare_data_dir(&cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "printdesk backup: %s\n", err);
        return 1;
    }
    o.database_url = cfg.database_url;
    o.keep_daily = (int)daily;
    o.keep_weekly = (int)weekly;
    o.now_ms = now;
    err[0] = '\0';
    if ((rc = backup_run(&o, err, sizeof(err))) != PD_OK) {
        log_error("backup failed: %s", err[0] ? err : pd_err_str(rc));
        return 1;
    }
    return 0;
}

int
cmd_restore(int argc, char **argv)
{
    struct restore_opts o = {.tmp_dir = tmp_dir()};
    struct config cfg;
    char err[1024];
    int rc;

    if (cli_wants_help(argc, argv)) {
        fputs(restore_help, stdout);
        return 0;
    }
    if (take_option(&argc, argv, "--from", &o.src) < 0 ||
        take_option(&argc, argv, "--name", &o.name) < 0)
        return CONFIG_EXIT_BAD;
    if (o.src == NULL) {
        fprintf(stderr, "printdesk restore: --from SRC is required\n");
        return CONFIG_EXIT_BAD;
    }
    if ((rc = cli_load_config(&cfg, argc, argv)) != 0)
        return rc;
    if (config_prepare_data_dir(&cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "printdesk restore: %s\n", err);
        return 1;
    }
    o.database_url = cfg.database_url;
    if ((rc = restore_run(&o, err, sizeof(err))) != PD_OK) {
        log_error("restore refused: %s", err[0] ? err : pd_err_str(rc));
        return 1;
    }
    return 0;
}
