/*
 * cli.h — the subcommands of the printdesk binary. Each takes the
 * arguments after its name (argv[0] is the subcommand) and returns the
 * process exit status.
 */
#ifndef PD_CLI_H
#define PD_CLI_H

#include "cli/config.h"

int cmd_serve(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
int cmd_seed_demo(int argc, char **argv);
int cmd_staff(int argc, char **argv);
int cmd_login_url(int argc, char **argv);
int cmd_sign_proxy(int argc, char **argv);
int cmd_rotate_key(int argc, char **argv);
int cmd_copy_db(int argc, char **argv);
int cmd_import_legacy(int argc, char **argv);
int cmd_lifecycle(int argc, char **argv);
int cmd_backup(int argc, char **argv);
int cmd_restore(int argc, char **argv);

/*
 * Shared start-up of commands: loads the configuration (printing the one
 * line and returning CONFIG_EXIT_BAD on error) and sets up logging.
 */
int cli_load_config(struct config *cfg, int argc, char **argv);
/* True when argv holds -h or --help (before any "--"). */
int cli_wants_help(int argc, char **argv);

#endif
