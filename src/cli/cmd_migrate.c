/* cmd_migrate.c — `printdesk migrate`: apply pending schema migrations. */
#include "cli/cli.h"

#include "common/err.h"
#include "db/db.h"
#include "obs/log.h"

#include <stdio.h>

static const char help[] =
    "usage: printdesk migrate [OPTIONS]\n\n"
    "Applies the pending schema migrations to the database, each in its\n"
    "own transaction. Safe to run while other instances start: a lock\n"
    "keeps each migration from being applied twice.\n\nOptions:\n"
    CONFIG_FLAGS_HELP;

int
cmd_migrate(int argc, char **argv)
{
    struct config cfg;
    char err[512];
    db *d = NULL;
    int applied = 0, rc;
    int64_t version = 0;

    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    if ((rc = cli_load_config(&cfg, argc, argv)) != 0)
        return rc;
    if (config_prepare_data_dir(&cfg, err, sizeof(err)) < 0 ||
        db_open(cfg.database_url, &d, err, sizeof(err)) != PD_OK) {
        fprintf(stderr, "printdesk migrate: %s\n", err);
        return 1;
    }
    rc = db_migrate(d, &applied);
    if (rc == PD_OK)
        rc = db_schema_version(d, &version);
    if (rc != PD_OK)
        log_error("migration failed: %s", db_errmsg(d));
    else
        log_notice("applied %d migration(s); schema version %lld", applied,
                   (long long)version);
    db_close(d);
    return rc == PD_OK ? 0 : 1;
}
