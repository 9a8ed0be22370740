/*
 * routes.c — the route table of printdesk. Each line says method,
 * pattern, handler and limits; later roles join it here so who may call
 * what is readable in one place.
 */
#include "web/web.h"

#include <stdbool.h>
#include <stddef.h>

static struct app *the_app;

void
web_set_app(struct app *app)
{
    the_app = app;
}

struct app *
web_app(void)
{
    return the_app;
}

static const struct http_route all_routes[] = {
    {"GET", "/", web_home, NULL, 0, ROUTE_HTML},
    {"GET", "/healthz", web_healthz, NULL, 0, 0},
    {"GET", "/readyz", web_readyz, NULL, 0, 0},
    {"GET", "/metrics", web_metrics, NULL, 0, 0},
    {"GET", "/_test/sleep", web_test_sleep, NULL, 0, ROUTE_TEST_ONLY},
    {"POST", "/_test/echo", web_test_echo, NULL, 1024 * 1024,
     ROUTE_TEST_ONLY},
};
#define N_ROUTES (sizeof(all_routes) / sizeof(all_routes[0]))

/*
 * The routes this process serves: test-only routes exist only with
 * PRINTDESK_TEST_ROUTES=1 on a loopback address.
 */
const struct http_route *
web_routes(int *count)
{
    static struct http_route active[N_ROUTES];
    bool tests = the_app != NULL && the_app->cfg->test_routes &&
                 the_app->cfg->local_mode;
    int n = 0;

    for (size_t i = 0; i < N_ROUTES; i++)
        if (tests || !(all_routes[i].flags & ROUTE_TEST_ONLY))
            active[n++] = all_routes[i];
    *count = n;
    return active;
}
