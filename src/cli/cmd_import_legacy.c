/*
 * cmd_import_legacy.c — `printdesk import-legacy`: imports the orders of
 * the shop's old webhook service (the work is in src/dbcopy/legacy.c)
 * into the configured database and prints what became of every row.
 */
#include "cli/cli.h"

#include "common/err.h"
#include "db/db.h"
#include "dbcopy/legacy.h"
#include "obs/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: printdesk import-legacy --from sqlite:PATH [OPTIONS]\n\n"
    "Imports the orders table of the shop's old webhook service (a SQLite\n"
    "file, opened read-only) into the database (DATABASE_URL): each row\n"
    "becomes an order named \"#<order_number>\" with its status, times,\n"
    "pets (names and print sizes from pet_data), notes, and the photos\n"
    "uploaded under its session id. Each row is imported in one\n"
    "transaction or not at all. Rows that cannot be read (no order\n"
    "number, broken pet_data, an unknown status, a time that is not one)\n"
    "are listed and skipped; orders already present are skipped and\n"
    "counted, so a re-run imports nothing twice. Exits 1 when rows were\n"
    "skipped as bad. docs/migrating.md has the status mapping.\n\n"
    "Options:\n"
    "  --from sqlite:PATH    the old service's database\n" CONFIG_FLAGS_HELP;

/* Takes --from out of argv; configuration flags remain. */
static int
parse_flags(int *argc, char **argv, const char **from)
{
    int out = 1;

    *from = NULL;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--from") != 0) {
            argv[out++] = argv[i];
            continue;
        }
        if (i + 1 >= *argc || strncmp(argv[i + 1], "sqlite:", 7) != 0 ||
            argv[i + 1][7] == '\0') {
            fprintf(stderr, "printdesk import-legacy: --from takes "
                            "sqlite:PATH\n");
            return CONFIG_EXIT_BAD;
        }
        *from = argv[++i] + 7;
    }
    *argc = out;
    if (*from == NULL) {
        fprintf(stderr, "printdesk import-legacy: --from sqlite:PATH is "
                        "needed (see --help)\n");
        return CONFIG_EXIT_BAD;
    }
    return 0;
}

static void
print_report(const struct legacy_counts *c)
{
    for (int i = 0; i < c->n_bad_rows; i++)
        printf("bad row %" PRId64 " (order \"%s\"): %s\n",
               c->bad_rows[i].rowid, c->bad_rows[i].order,
               c->bad_rows[i].reason);
    if (c->bad > c->n_bad_rows)
        printf("... and %" PRId64 " more bad rows (see the log)\n",
               c->bad - c->n_bad_rows);
    printf("legacy rows: %" PRId64 "; imported %" PRId64 " (%" PRId64
           " pets, %" PRId64 " photos linked), skipped as present %" PRId64
           ", bad %" PRId64 "\n", c->rows, c->imported, c->pets, c->photos,
           c->present, c->bad);
}

static int
run(const struct config *cfg, const char *path)
{
    struct legacy_counts counts;
    char err[512];
    db *d = NULL;
    int rc = db_open(cfg->database_url, &d, err, sizeof(err));

    if (rc != PD_OK) {
        log_error("import-legacy: cannot open the database: %s", err);
        return 1;
    }
    rc = db_migrate(d, NULL);
    if (rc != PD_OK) {
        log_error("import-legacy: cannot migrate the database: %s",
                  db_errmsg(d));
        db_close(d);
        return 1;
    }
    rc = legacy_import(path, d, &counts, err, sizeof(err));
    print_report(&counts);
    if (rc != PD_OK)
        log_error("import-legacy stopped: %s; rows imported so far stay, "
                  "a re-run goes on", err);
    rc = rc == PD_OK && counts.bad == 0 ? 0 : 1;
    legacy_counts_free(&counts);
    db_close(d);
    return rc;
}

int
cmd_import_legacy(int argc, char **argv)
{
    struct config cfg;
    const char *path;
    char err[512];
    int rc;

    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    if ((rc = parse_flags(&argc, argv, &path)) != 0 ||
        (rc = cli_load_config(&cfg, argc, argv)) != 0)
        return rc;
    if (config_prepare_data_dir(&cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "printdesk import-legacy: %s\n", err);
        return CONFIG_EXIT_BAD;
    }
    return run(&cfg, path);
}
