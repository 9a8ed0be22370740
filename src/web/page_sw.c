/*
 * page_sw.c — GET /dashboard/sw.js: the dashboard's service worker (the
 * embedded web/static/sw.js), revalidated on every load, and allowed the
 * scope {prefix}/dashboard so it covers the list page as well.
 */
#include "web/pages.h"

#include "common/err.h"
#include "web/web.h"

#include <string.h>

int
web_page_sw(http_req *req)
{
    const struct static_asset *a = NULL;
    const char *scope;

    for (int i = 0; i < static_assets_count && a == NULL; i++)
        if (strcmp(static_assets[i].name, "sw.js") == 0)
            a = &static_assets[i];
    if (a == NULL)
        return http_error(req, 404, NULL, "no such file");
    scope = arena_printf(http_arena(req), "%s/dashboard",
                         web_path_prefix(req));
    if (scope == NULL)
        return PD_ENOMEM;
    http_add_header(req, "Cache-Control", "no-cache");
    http_add_header(req, "Service-Worker-Allowed", scope);
    return http_respond(req, 200, a->content_type, a->data, a->len, false);
}
