/*
 * cli.c — start-up shared by the subcommands: the help flag and loading
 * the configuration with its one-line error.
 */
#include "cli/cli.h"

#include "obs/log.h"

#include <stdio.h>
#include <string.h>

int
cli_wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0)
            return 0;
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return 1;
    }
    return 0;
}

int
cli_load_config(struct config *cfg, int argc, char **argv)
{
    char err[512];

    if (config_load(cfg, argc, argv, err, sizeof(err)) < 0) {
        fprintf(stderr, "printdesk %s: %s\n", argv[0], err);
        return CONFIG_EXIT_BAD;
    }
    log_setup((enum log_level)cfg->log_level, cfg->log_json);
    log_set_project(cfg->project_id);
    return 0;
}

