/*
 * cmd_login_url.c — `printdesk login-url`: prints a one-time link that
 * opens a direct session for a staff member (signed, short-lived, single
 * use), for local runs and for large downloads outside the App Proxy.
 */
#include "cli/cli.h"

#include "auth/staff.h"
#include "auth/guard_setup.h"
#include "auth/token.h"
#include "common/err.h"
#include "common/util.h"
#include "db/db.h"

#include <stdio.h>
#include <string.h>

#define LOGIN_TTL_DEFAULT 60
#define LOGIN_TTL_MAX 3600

static const char help[] =
    "usage: printdesk login-url --customer ID [--base URL] [--ttl SECONDS]\n"
    "       printdesk login-url --admin-user ID [--base URL] ...\n\n"
    "Prints a link that opens a dashboard session for staff member ID. The\n"
    "link works once, within SECONDS (default 60, at most 3600). URL is\n"
    "where printdesk is reached (default: its listen address).\n\n"
    "Options:\n" CONFIG_FLAGS_HELP;

struct login_args {
    const char *kind;
    const char *id;
    const char *base;
    int64_t ttl;
};

static int
parse_login_args(int *argc, char **argv, struct login_args *a)
{
    int out = 1;

    a->ttl = LOGIN_TTL_DEFAULT;
    for (int i = 1; i < *argc; i++) {
        const char *s = argv[i];
        bool more = i + 1 < *argc;

        if (more && strcmp(s, "--customer") == 0) {
            a->kind = "customer";
            a->id = argv[++i];
        } else if (more && strcmp(s, "--admin-user") == 0) {
            a->kind = "admin_user";
            a->id = argv[++i];
        } else if (more && strcmp(s, "--base") == 0) {
            a->base = argv[++i];
        } else if (more && strcmp(s, "--ttl") == 0) {
            if (pd_parse_i64(argv[++i], 1, LOGIN_TTL_MAX, &a->ttl) != PD_OK)
                return -1;
        } else {
            argv[out++] = argv[i];
        }
    }
    *argc = out;
    return a->id != NULL && strspn(a->id, "0123456789") == strlen(a->id) &&
                   a->id[0] != '\0' && strlen(a->id) < 32
               ? 0
               : -1;
}

/* Warns (without failing) when the link would not let anyone in. */
static void
warn_if_not_staff(const struct config *cfg, const struct login_args *a)
{
    char err[256];
    struct staff st;
    db *d = NULL;
    int rc;

    if (db_open(cfg->database_url, &d, err, sizeof(err)) != PD_OK)
        return;
    rc = staff_find(d, a->kind, a->id, &st);
    if (rc == PD_ENOTFOUND)
        fprintf(stderr, "printdesk login-url: %s:%s is not staff yet; add "
                        "them with `printdesk staff add`\n", a->kind, a->id);
    else if (rc == PD_OK && st.disabled)
        fprintf(stderr, "printdesk login-url: %s:%s is disabled\n", a->kind,
                a->id);
    db_close(d);
}

int
cmd_login_url(int argc, char **argv)
{
    struct login_args a = {0};
    struct config cfg;
    char err[512], subject[96], token[512], base[300];
    int rc;

    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    if (parse_login_args(&argc, argv, &a) < 0) {
        fprintf(stderr, "printdesk login-url: give --customer ID (digits) "
                        "and, optionally, --ttl 1..%d\n", LOGIN_TTL_MAX);
        return CONFIG_EXIT_BAD;
    }
    if ((rc = cli_load_config(&cfg, argc, argv)) != 0)
        return rc;
    if (config_prepare_data_dir(&cfg, err, sizeof(err)) < 0 ||
        config_require_secrets(&cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "printdesk login-url: %s\n", err);
        return CONFIG_EXIT_BAD;
    }
    snprintf(subject, sizeof(subject), "%s:%s", a.kind, a.id);
    if (token_issue(cfg.app_secret, TOKEN_PURPOSE_HANDOFF, subject,
                    pd_now_ms() / 1000 + a.ttl, token, sizeof(token)) !=
        PD_OK) {
        fprintf(stderr, "printdesk login-url: cannot make a token\n");
        return 1;
    }
    if (a.base == NULL) {
        bool any = strcmp(cfg.listen_host, "0.0.0.0") == 0 ||
                   strcmp(cfg.listen_host, "::") == 0;

        snprintf(base, sizeof(base), "http://%s:%d",
                 any ? "127.0.0.1" : cfg.listen_host, cfg.port);
        a.base = base;
    }
    warn_if_not_staff(&cfg, &a);
    printf("%.*s/auth/handoff?token=%s\n",
           (int)(strlen(a.base) - (a.base[strlen(a.base) - 1] == '/')),
           a.base, token);
    return 0;
}
