/*
 * cmd_sign_proxy.c — `printdesk sign-proxy-query`: signs a query string
 * the way Shopify's App Proxy does, with this desk's app secret. For
 * checking a proxy set-up by hand and for tests.
 */
#include "cli/cli.h"

#include "auth/proxy_sig.h"
#include "common/err.h"
#include "common/util.h"

#include <stdio.h>
#include <string.h>

static const char help[] =
    "usage: printdesk sign-proxy-query QUERY [--now]\n\n"
    "Prints QUERY&signature=HEX, signed as Shopify's App Proxy signs the\n"
    "requests it forwards (with SHOPIFY_APP_SECRET, or the local secret).\n"
    "--now first appends timestamp=<now>. QUERY is taken as it is, still\n"
    "URL-encoded, e.g. 'shop=x.myshopify.com&logged_in_customer_id=1'.\n\n"
    "Options:\n" CONFIG_FLAGS_HELP;

int
cmd_sign_proxy(int argc, char **argv)
{
    const char *query = NULL;
    bool now = false;
    int out = 1, rc;
    struct config cfg;
    char err[512], hex[PROXY_SIG_HEX + 1];
    pd_buf q;

    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--now") == 0) {
            now = true;
        } else if (config_is_flag(argv[i]) && i + 1 < argc) {
            argv[out++] = argv[i++]; /* a config flag and its value */
            argv[out++] = argv[i];
        } else if (query == NULL && argv[i][0] != '-') {
            query = argv[i];
        } else {
            argv[out++] = argv[i];
        }
    }
    if (query == NULL) {
        fputs(help, stderr);
        return CONFIG_EXIT_BAD;
    }
    if ((rc = cli_load_config(&cfg, out, argv)) != 0)
        return rc;
    if (config_prepare_data_dir(&cfg, err, sizeof(err)) < 0 ||
        config_require_secrets(&cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "printdesk sign-proxy-query: %s\n", err);
        return CONFIG_EXIT_BAD;
    }
    buf_init(&q);
    buf_puts(&q, query);
    if (now)
        buf_printf(&q, "%stimestamp=%lld", q.len ? "&" : "",
                   (long long)(pd_now_ms() / 1000));
    rc = proxy_sign(buf_cstr(&q), cfg.app_secret, hex);
    if (rc == PD_OK)
        printf("%s&signature=%s\n", buf_cstr(&q), hex);
    else
        fprintf(stderr, "printdesk sign-proxy-query: cannot sign: %s\n",
                proxy_reason(rc));
    buf_free(&q);
    return rc == PD_OK ? 0 : CONFIG_EXIT_BAD;
}
