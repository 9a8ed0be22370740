/*
 * cmd_copy_db.c — `printdesk copy-db`: moves a SQLite database into
 * PostgreSQL (the work is in src/dbcopy/) and prints the per-table
 * checks and the copy's speed.
 */
#include "cli/cli.h"

#include "common/err.h"
#include "common/util.h"
#include "dbcopy/dbcopy.h"
#include "obs/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: printdesk copy-db --from sqlite:PATH --to postgres://... "
    "[--batch N]\n\n"
    "Copies every table of a printdesk SQLite database into PostgreSQL:\n"
    "migrates the target's schema, then copies the tables in dependency\n"
    "order, N rows per transaction (default 2000, at most 50000), each\n"
    "batch recorded in the target's copy_progress table. Interrupted, it\n"
    "resumes after the last batch committed; run on a finished copy, it\n"
    "copies nothing. A target holding rows this copy did not write is\n"
    "refused. At the end it counts and checksums every table on both\n"
    "sides, prints them, and exits 1 when any differ. Stop the servers\n"
    "that write to the source first.\n\n"
    "Options:\n"
    "  --from sqlite:PATH    the database to copy\n"
    "  --to URL              the PostgreSQL database to fill\n"
    "  --batch N             rows per transaction (2000)\n" CONFIG_FLAGS_HELP;

/* Takes copy-db's flags out of argv; configuration flags remain. */
static int
parse_flags(int *argc, char **argv, struct dbcopy_options *o)
{
    int out = 1;
    int64_t v;

    for (int i = 1; i < *argc; i++) {
        const char *a = argv[i];
        bool has_value = i + 1 < *argc;

        if (strcmp(a, "--from") == 0 || strcmp(a, "--to") == 0) {
            if (!has_value) {
                fprintf(stderr, "printdesk copy-db: %s needs a URL\n", a);
                return CONFIG_EXIT_BAD;
            }
            *(a[2] == 'f' ? &o->from_url : &o->to_url) = argv[++i];
        } else if (strcmp(a, "--batch") == 0) {
            if (!has_value || pd_parse_i64(argv[++i], 1, DBCOPY_BATCH_MAX,
                                           &v) != PD_OK) {
                fprintf(stderr, "printdesk copy-db: --batch takes a number "
                                "from 1 to %d\n", DBCOPY_BATCH_MAX);
                return CONFIG_EXIT_BAD;
            }
            o->batch = (int)v;
        } else {
            argv[out++] = argv[i];
        }
    }
    *argc = out;
    if (o->from_url == NULL || o->to_url == NULL) {
        fprintf(stderr, "printdesk copy-db: --from sqlite:PATH and --to "
                        "postgres://... are both needed (see --help)\n");
        return CONFIG_EXIT_BAD;
    }
    return 0;
}

static void
print_checks(const struct dbcopy_result *r)
{
    printf("%-20s %12s %12s  %-16s  %-16s\n", "table", "source rows",
           "target rows", "source sum", "target sum");
    for (int i = 0; i < r->n_checks; i++) {
        const struct dbcopy_check *c = &r->checks[i];

        printf("%-20s %12" PRId64 " %12" PRId64 "  %-16s  %-16s  %s\n",
               c->table, c->source_rows, c->target_rows, c->source_sum,
               c->target_sum, c->match ? "ok" : "DIFFERENT");
    }
}

static void
print_summary(const struct dbcopy_result *r)
{
    double rate = r->copy_seconds > 0
                      ? (double)r->rows_copied / r->copy_seconds
                      : 0.0;

    printf("copied %" PRId64 " rows in %.1f s (%.0f rows/s); %d table(s) "
           "finished now, %d before\n", r->rows_copied, r->copy_seconds,
           rate, r->tables_copied, r->tables_done_before);
    printf("%d table(s) checked: %s\n", r->n_checks,
           r->all_match ? "counts and checksums match"
                        : "SOME DIFFER (see above)");
}

int
cmd_copy_db(int argc, char **argv)
{
    struct dbcopy_options o = {.batch = DBCOPY_BATCH_DEFAULT};
    struct dbcopy_result result;
    struct config cfg;
    char err[1024];
    int rc;

    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    if ((rc = parse_flags(&argc, argv, &o)) != 0 ||
        (rc = cli_load_config(&cfg, argc, argv)) != 0)
        return rc;
    rc = dbcopy_run(&o, &result, err, sizeof(err));
    if (result.n_checks > 0)
        print_checks(&result);
    if (rc == PD_OK) {
        print_summary(&result);
        fflush(stdout);
    } else {
        log_error("copy-db stopped: %s", err);
    }
    rc = rc == PD_OK && result.all_match ? 0 : 1;
    dbcopy_result_free(&result);
    return rc;
}
