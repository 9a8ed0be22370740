/*
 * main.c — the printdesk binary: picks the subcommand and hands it the
 * rest of the command line.
 */
#include "cli/cli.h"


#include <stdio.h>
#include <string.h>

struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {"serve", cmd_serve, "the HTTP server (dashboard, API, uploads, "
                         "webhooks, metrics)"},
    {"migrate", cmd_migrate, "apply database schema migrations"},
    {"seed-demo", cmd_seed_demo, "fill an empty database with demo orders "
                                 "and photos"},
    {"staff", cmd_staff, "add, list, change or disable staff members"},
    {"login-url", cmd_login_url, "print a one-time link that opens a "
                                 "dashboard session"},
    {"sign-proxy-query", cmd_sign_proxy, "sign a query as Shopify's App "
                                         "Proxy does"},
    {"rotate-data-key", cmd_rotate_key, "re-encrypt customer data under "
                                        "the current data key"},
    {"copy-db", cmd_copy_db, "copy a SQLite database into PostgreSQL, "
                             "checked"},
    {"import-legacy", cmd_import_legacy, "import the old webhook service's "
                                         "SQLite orders"},
    {"lifecycle", cmd_lifecycle, "move and purge stored photos by retention "
                                 "tier"},
    {"backup", cmd_backup, "back up the database into a folder or a store"},
    {"restore", cmd_restore, "restore a backup into an empty database"},
};

static void
usage(FILE *out)
{
    fprintf(out, "usage: printdesk COMMAND [OPTIONS]\n\n"
                 "The fulfillment desk of a Shopify print shop.\n\n"
                 "Commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        fprintf(out, "  %-17s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun `printdesk COMMAND --help` for a command's options."
                 "\n");
}

int
main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "help") == 0 ||
        strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return argc < 2 ? CONFIG_EXIT_BAD : 0;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
        if (strcmp(argv[1], commands[i].name) == 0)
            return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "printdesk: unknown command \"%s\"\n\n", argv[1]);
    usage(stderr);
    return CONFIG_EXIT_BAD;
}
