/*
 * cmd_staff.c — `printdesk staff add|list|set-role|disable`: who may use
 * the desk, and with which role. Every change is in the audit log.
 */
#include "cli/cli.h"

#include "auth/staff.h"
#include "common/err.h"
#include "common/util.h"
#include "db/db.h"
#include "obs/log.h"

#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: printdesk staff add ID --role ROLE [--name NAME] [--kind KIND]\n"
    "       printdesk staff list\n"
    "       printdesk staff set-role ID ROLE [--kind KIND]\n"
    "       printdesk staff disable ID [--kind KIND]\n\n"
    "Manages who may use the desk. ID is the Shopify customer id the staff\n"
    "member signs in to the shop with (KIND customer, the default), or a\n"
    "Shopify admin user id (KIND admin_user) for the embedded admin.\n"
    "ROLE is viewer (see orders and images), fulfiller (also download,\n"
    "move orders, add notes, claim) or admin (also manage staff).\n\n"
    "Options:\n" CONFIG_FLAGS_HELP;

struct staff_args {
    const char *verb;
    const char *id;
    const char *role;
    const char *name;
    const char *kind;
};

/* Takes the staff words and flags out of argv; config flags remain. */
static int
parse_staff_args(int *argc, char **argv, struct staff_args *a)
{
    int out = 1, words = 0;

    a->kind = "customer";
    for (int i = 1; i < *argc; i++) {
        const char *s = argv[i];
        const char **slot = strcmp(s, "--role") == 0   ? &a->role
                            : strcmp(s, "--name") == 0 ? &a->name
                            : strcmp(s, "--kind") == 0 ? &a->kind
                                                       : NULL;

        if (slot != NULL && i + 1 < *argc) {
            *slot = argv[++i];
        } else if (config_is_flag(s) && i + 1 < *argc) {
            argv[out++] = argv[i++]; /* a config flag and its value */
            argv[out++] = argv[i];
        } else if (s[0] != '-' && words < 3) {
            const char **w[] = {&a->verb, &a->id, &a->role};

            *w[words++] = s;
        } else {
            argv[out++] = argv[i];
        }
    }
    *argc = out;
    return a->verb == NULL ? -1 : 0;
}

static bool
valid_id(const char *id)
{
    size_t n = id ? strlen(id) : 0;

    return n > 0 && n < 32 && strspn(id, "0123456789") == n;
}

static int
audit_cli(db *d, const char *action, const struct staff_args *a)
{
    char target[96], detail[160];

    snprintf(target, sizeof(target), "%s:%s", a->kind, a->id);
    snprintf(detail, sizeof(detail), "{\"role\":\"%s\"}",
             a->role ? a->role : "");
    return db_exec(d, "INSERT INTO audit_log (at, actor, action, "
                      "target_type, target_id, remote_addr, detail) "
                      "VALUES (?, 'cli', ?, 'staff', ?, NULL, ?)",
                   (db_arg[]){DB_INT(pd_now_ms()), DB_TEXT(action),
                              DB_TEXT(target), DB_TEXT(detail)},
                   4, NULL);
}

static int
list_staff(db *d)
{
    db_rows *rows = NULL;
    int rc = db_query(d, "SELECT id_kind, external_id, role, name, "
                         "disabled_at FROM staff ORDER BY id_kind, "
                         "external_id", NULL, 0, &rows);

    if (rc != PD_OK)
        return rc;
    printf("%-11s %-20s %-10s %-8s %s\n", "KIND", "ID", "ROLE", "STATE",
           "NAME");
    while ((rc = db_step(rows)) == 1)
        printf("%-11s %-20s %-10s %-8s %s\n", db_col_text(rows, 0),
               db_col_text(rows, 1), db_col_text(rows, 2),
               db_col_null(rows, 4) ? "active" : "disabled",
               db_col_text(rows, 3));
    db_rows_free(rows);
    return rc < 0 ? rc : PD_OK;
}

/* Runs one verb; returns a pd_err and prints what went wrong. */
static int
run_verb(db *d, const struct staff_args *a)
{
    int role = a->role ? staff_role_parse(a->role) : -1;
    int rc;

    if (strcmp(a->verb, "list") == 0)
        return list_staff(d);
    if (!valid_id(a->id) || (strcmp(a->kind, "customer") != 0 &&
                             strcmp(a->kind, "admin_user") != 0)) {
        fprintf(stderr, "printdesk staff: ID must be a Shopify id (digits) "
                        "and --kind customer or admin_user\n");
        return PD_EINVAL;
    }
    if (strcmp(a->verb, "disable") == 0)
        rc = staff_disable(d, a->kind, a->id);
    else if (role < 0)
        rc = PD_EINVAL;
    else if (strcmp(a->verb, "add") == 0)
        rc = staff_upsert(d, a->kind, a->id, (enum staff_role)role, a->name);
    else if (strcmp(a->verb, "set-role") == 0)
        rc = staff_set_role(d, a->kind, a->id, (enum staff_role)role);
    else
        rc = PD_EINVAL;
    if (rc == PD_EINVAL)
        fprintf(stderr, "printdesk staff: give a verb (add, list, set-role, "
                        "disable) and a role of viewer, fulfiller or admin\n");
    else if (rc == PD_ENOTFOUND)
        fprintf(stderr, "printdesk staff: no staff member %s:%s\n", a->kind,
                a->id);
    if (rc == PD_OK) {
        rc = audit_cli(d, strcmp(a->verb, "add") == 0 ? "staff.add"
                          : strcmp(a->verb, "disable") == 0
                              ? "staff.disable"
                              : "staff.set_role",
                       a);
        log_notice("staff %s: %s:%s%s%s", a->verb, a->kind, a->id,
                   a->role ? " as " : "", a->role ? a->role : "");
    }
    return rc;
}

int
cmd_staff(int argc, char **argv)
{
    struct staff_args a = {0};
    struct config cfg;
    char err[512];
    db *d = NULL;
    int rc;

    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    if (parse_staff_args(&argc, argv, &a) < 0) {
        fputs(help, stderr);
        return CONFIG_EXIT_BAD;
    }
    if ((rc = cli_load_config(&cfg, argc, argv)) != 0)
        return rc;
    if (config_prepare_data_dir(&cfg, err, sizeof(err)) < 0 ||
        db_open(cfg.database_url, &d, err, sizeof(err)) != PD_OK) {
        fprintf(stderr, "printdesk staff: %s\n", err);
        return 1;
    }
    rc = db_migrate(d, NULL);
    if (rc == PD_OK)
        rc = run_verb(d, &a);
    db_close(d);
    return rc == PD_OK ? 0 : rc == PD_EINVAL ? CONFIG_EXIT_BAD : 1;
}
