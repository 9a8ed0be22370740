/*
 * web.h — the application's handlers and the route table. The serve
 * command fills one struct app at start; handlers read it.
 */
#ifndef PD_WEB_H
#define PD_WEB_H

#include "cli/config.h"
#include "http/http.h"
#include "http/server.h"
#include "store/store.h"

#include <stdint.h>

struct app {
    const struct config *cfg;
    store *store;
    const struct pii_keys *keys; /* customer data at rest */
    http_server *server;
    int64_t started_ms;
};

/* Sets the context handlers use; called once before serving. */
void web_set_app(struct app *app);
struct app *web_app(void);

/* The route table: every route, its least role, in one place. */
const struct http_route *web_routes(int *count);

/* Registers the process and pool gauges in /metrics. */
void web_register_gauges(void);

/* Handlers (health.c). */
int web_healthz(http_req *req);
int web_readyz(http_req *req);
int web_metrics(http_req *req);
int web_home(http_req *req);
int web_test_sleep(http_req *req);
int web_test_echo(http_req *req);

/* Direct sessions (auth_pages.c). */
int web_auth_handoff(http_req *req);
int web_auth_logout(http_req *req);
int web_auth_direct_link(http_req *req);
int web_auth_whoami(http_req *req);

/* The demo storefront, local mode only (page_demo.c). */
int web_page_demo(http_req *req);

/* Staff administration (api_staff.c). */
int web_api_staff_list(http_req *req);

/* Around the upload routes: origins, CORS and tus headers (cors.c). */
int web_guard(http_req *req, const struct http_route *route);
void web_decorate(http_req *req, const struct http_route *route,
                  int status);
void web_cors_preflight_headers(http_req *req);
int web_upload_options(http_req *req);
/*
 * The server's after_change hook: a request that may have changed orders
 * has been handled, so kept list answers and counts are dropped.
 */
void web_after_change(void);
/* The App Proxy's path prefix of this request ("" when direct). */
const char *web_path_prefix(http_req *req);

/* Storefront uploads (api_upload.c, api_tus.c). */
int web_upload_body(http_req *req, const char *data, size_t len);
int web_upload_multipart(http_req *req);
int web_tus_body(http_req *req, const char *data, size_t len);
int web_tus_create(http_req *req);
int web_tus_patch(http_req *req);
int web_tus_head(http_req *req);
int web_tus_get(http_req *req);
int web_tus_delete(http_req *req);
int web_tus_options(http_req *req);
int web_tus_override_body(http_req *req, const char *data, size_t len);
int web_tus_override(http_req *req);

/* Claims (api_claims.c). */
int web_api_order_claim(http_req *req);
int web_api_order_release(http_req *req);

/* Zip downloads (api_zip.c). */
int web_api_order_zip(http_req *req);
int web_api_print_queue_zip(http_req *req);
int web_api_orders_zip(http_req *req);

/* Image files for staff (api_images.c). */
int web_api_image_get(http_req *req);

/* Orders API (api_orders.c). */
int web_api_orders_list(http_req *req);
int web_api_order_get(http_req *req);
int web_api_order_status(http_req *req);
int web_api_order_note(http_req *req);

#endif
