/*
 * routes.c — the route table of printdesk. Each line says method,
 * pattern, handler and limits; later roles join it here so who may call
 * what is readable in one place.
 */
#include "web/web.h"

#include "auth/staff.h"
#include "orders/orders.h"
#include "web/answer_cache.h"
#include "web/pages.h"
#include "webhooks/webhooks.h"

/* Shopify's order payloads stay well under this. */
#define WEBHOOK_MAX_BODY (2 * 1024 * 1024)

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

void
web_after_change(void)
{
    answer_cache_invalidate();
    orders_counts_forget();
}

/*
 * Every route: method, pattern, handler, body streamer, body limit,
 * flags, and the least role that may call it (ROLE_PUBLIC: anyone).
 */
#define PUBLIC ROLE_PUBLIC
#define VIEWER ROLE_VIEWER
#define FULFILLER ROLE_FULFILLER
#define ADMIN ROLE_ADMIN
#define UPLOAD_FLAGS (ROUTE_CORS | ROUTE_PUBLIC_LIMITED | ROUTE_UPLOAD)
#define TUS_FLAGS (UPLOAD_FLAGS | ROUTE_TUS)
#define TUS_OPEN (ROUTE_CORS | ROUTE_TUS)
static const struct http_route all_routes[] = {
    /* Operators and the platform. */
    {"GET", "/healthz", web_healthz, NULL, 0, 0, PUBLIC},
    {"GET", "/readyz", web_readyz, NULL, 0, 0, PUBLIC},
    {"GET", "/metrics", web_metrics, NULL, 0, 0, PUBLIC},
    /* Shopify. */
    {"POST", "/webhooks/shopify", web_webhook_shopify, NULL,
     WEBHOOK_MAX_BODY, 0, PUBLIC},
    /* The storefront's uploads (public, per-address rate limit). */
    {"POST", "/api/v2/customer-upload", web_upload_multipart,
     web_upload_body, 0, UPLOAD_FLAGS, PUBLIC},
    {"OPTIONS", "/api/v2/customer-upload", web_upload_options, NULL, 0,
     ROUTE_CORS, PUBLIC},
    {"OPTIONS", "/api/v2/uploads", web_tus_options, NULL, 0, TUS_OPEN,
     PUBLIC},
    {"POST", "/api/v2/uploads", web_tus_create, web_tus_body, 0, TUS_FLAGS,
     PUBLIC},
    {"OPTIONS", "/api/v2/uploads/{id}", web_tus_options, NULL, 0, TUS_OPEN,
     PUBLIC},
    {"HEAD", "/api/v2/uploads/{id}", web_tus_head, NULL, 0, TUS_FLAGS,
     PUBLIC},
    {"GET", "/api/v2/uploads/{id}", web_tus_get, NULL, 0, TUS_FLAGS,
     PUBLIC},
    {"PATCH", "/api/v2/uploads/{id}", web_tus_patch, web_tus_body, 0,
     TUS_FLAGS, PUBLIC},
    {"DELETE", "/api/v2/uploads/{id}", web_tus_delete, NULL, 0, TUS_FLAGS,
     PUBLIC},
    {"POST", "/api/v2/uploads/{id}", web_tus_override,
     web_tus_override_body, 0, TUS_FLAGS, PUBLIC},
    /* Signing in and out. */
    {"GET", "/auth/handoff", web_auth_handoff, NULL, 0, ROUTE_HTML, PUBLIC},
    {"POST", "/auth/logout", web_auth_logout, NULL, 0, 0, VIEWER},
    {"GET", "/auth/direct-link", web_auth_direct_link, NULL, 0, 0, VIEWER},
    {"GET", "/auth/whoami", web_auth_whoami, NULL, 0, 0, VIEWER},
    /* Staff pages and API. */
    {"GET", "/", web_home, NULL, 0, ROUTE_HTML, VIEWER},
    {"GET", "/dashboard", web_page_list, NULL, 0, ROUTE_HTML, VIEWER},
    {"GET", "/dashboard/orders/{order}", web_page_order, NULL, 0,
     ROUTE_HTML, VIEWER},
    {"GET", "/dashboard/sw.js", web_page_sw, NULL, 0, ROUTE_NO_LOG, PUBLIC},
    {"GET", "/static/{name}", web_static_get, NULL, 0, ROUTE_NO_LOG,
     PUBLIC},
    {"GET", "/api/v1/orders", web_api_orders_list, NULL, 0, 0, VIEWER},
    {"GET", "/api/v1/orders/download.zip", web_api_orders_zip, NULL, 0, 0,
     FULFILLER},
    {"GET", "/api/v1/orders/{order}", web_api_order_get, NULL, 0, 0, VIEWER},
    {"POST", "/api/v1/orders/{order}/status", web_api_order_status, NULL, 0,
     0, FULFILLER},
    {"POST", "/api/v1/orders/{order}/notes", web_api_order_note, NULL, 0, 0,
     FULFILLER},
    {"POST", "/api/v1/orders/{order}/claim", web_api_order_claim, NULL, 0,
     0, FULFILLER},
    {"POST", "/api/v1/orders/{order}/release", web_api_order_release, NULL,
     0, 0, FULFILLER},
    {"GET", "/api/v1/orders/{order}/download.zip", web_api_order_zip, NULL,
     0, 0, FULFILLER},
    {"GET", "/api/v1/print-queue.zip", web_api_print_queue_zip, NULL, 0, 0,
     FULFILLER},
    {"GET", "/api/v1/staff", web_api_staff_list, NULL, 0, 0, ADMIN},
    {"GET", "/api/v1/images/{id}/thumb", web_api_image_get, NULL, 0, 0,
     VIEWER},
    {"GET", "/api/v1/images/{id}/preview", web_api_image_get, NULL, 0, 0,
     VIEWER},
    {"GET", "/api/v1/images/{id}/original", web_api_image_get, NULL, 0, 0,
     FULFILLER},
    {"GET", "/api/v1/images/{id}/processed", web_api_image_get, NULL, 0, 0,
     FULFILLER},
    /* Test-only routes (PRINTDESK_TEST_ROUTES=1, loopback). */
    {"GET", "/_test/sleep", web_test_sleep, NULL, 0, ROUTE_TEST_ONLY,
     PUBLIC},
    {"POST", "/_test/echo", web_test_echo, NULL, 1024 * 1024,
     ROUTE_TEST_ONLY, PUBLIC},
    {"POST", "/_test/limited", web_test_echo, NULL, 0,
     ROUTE_TEST_ONLY | ROUTE_PUBLIC_LIMITED, PUBLIC},
};
#define N_ROUTES (sizeof(all_routes) / sizeof(all_routes[0]))

/* Served only in local mode (a loopback address): the demo storefront. */
static const struct http_route local_routes[] = {
    {"GET", "/demo/storefront", web_page_demo, NULL, 0, ROUTE_HTML, PUBLIC},
};
#define N_LOCAL (sizeof(local_routes) / sizeof(local_routes[0]))

/*
 * The routes this process serves: test-only routes exist only with
 * PRINTDESK_TEST_ROUTES=1 on a loopback address, local ones only on a
 * loopback address.
 */
const struct http_route *
web_routes(int *count)
{
    static struct http_route active[N_ROUTES + N_LOCAL];
    bool local = the_app != NULL && the_app->cfg->local_mode;
    bool tests = local && the_app->cfg->test_routes;
    int n = 0;

    for (size_t i = 0; i < N_ROUTES; i++) {
        if (!tests && (all_routes[i].flags & ROUTE_TEST_ONLY))
            continue;
        active[n] = all_routes[i];
        if (active[n].on_body == web_upload_body && the_app != NULL)
            active[n].max_body = the_app->cfg->upload_max_bytes;
        n++;
    }
    for (size_t i = 0; local && i < N_LOCAL; i++)
        active[n++] = local_routes[i];
    *count = n;
    return active;
}
