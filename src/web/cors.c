/*
 * cors.c — what the upload routes add around every request: browsers on
 * the shop's pages (ALLOWED_ORIGINS, or printdesk's own origin) may call
 * them, any other page may not (403, before the body is read); answers
 * carry the CORS and tus headers whatever produced them (a handler, a
 * refusal, a body error); and refusals the HTTP layer makes are counted
 * in the upload metrics too.
 */
#include "web/web.h"

#include "auth/guard_setup.h"
#include "uploads/uploads.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define EXPOSED_HEADERS                                                  \
    "Location, Upload-Offset, Upload-Length, Upload-Expires, "           \
    "Upload-Metadata, Tus-Resumable, Tus-Version, Tus-Extension, "       \
    "Tus-Max-Size, Tus-Checksum-Algorithm, X-Image-Id, X-Request-Id, "   \
    "Retry-After"
#define ALLOWED_HEADERS                                                  \
    "Content-Type, Tus-Resumable, Upload-Length, Upload-Metadata, "      \
    "Upload-Offset, Upload-Checksum, Upload-Defer-Length, Upload-Concat, " \
    "X-HTTP-Method-Override, X-Requested-With, X-Request-Id"
#define PREFLIGHT_MAX_AGE "86400"

/* Whether origin is one of the comma-separated entries of list. */
static bool
in_list(const char *list, const char *origin, size_t n)
{
    const char *p = list;

    while (*p != '\0') {
        size_t len;

        p += strspn(p, " ,");
        len = strcspn(p, " ,");
        if (len == n && strncasecmp(p, origin, n) == 0)
            return true;
        p += len;
    }
    return false;
}

/* An Origin naming the host the request was sent to is our own page. */
static bool
same_host(http_req *req, const char *origin)
{
    const char *host = http_header(req, "Host");
    const char *p = strstr(origin, "://");

    return host != NULL && p != NULL && strcasecmp(p + 3, host) == 0;
}

/* No Origin (not a browser) or an allowed one. */
static bool
origin_allowed(http_req *req, const char **origin)
{
    const struct app *app = web_app();

    *origin = http_header(req, "Origin");
    if (*origin == NULL)
        return true;
    if (in_list(app->cfg->allowed_origins, *origin, strlen(*origin)))
        return true;
    return same_host(req, *origin);
}

int
web_guard(http_req *req, const struct http_route *route)
{
    const char *origin;

    if ((route->flags & ROUTE_CORS) && !origin_allowed(req, &origin)) {
        struct upload_refusal why;
        char msg[160];

        snprintf(msg, sizeof(msg), "uploads from %.100s are not allowed",
                 origin);
        if (route->flags & ROUTE_UPLOAD)
            upload_refuse(&why, 403, "forbidden", "forbidden", msg);
        http_refuse(req, 403, "forbidden", msg);
        return -1;
    }
    return guard_check(req, route);
}

void
web_decorate(http_req *req, const struct http_route *route, int status)
{
    const char *origin = NULL;

    if ((route->flags & ROUTE_CORS) && origin_allowed(req, &origin) &&
        origin != NULL) {
        http_add_header(req, "Access-Control-Allow-Origin", origin);
        http_add_header(req, "Vary", "Origin");
        http_add_header(req, "Access-Control-Expose-Headers",
                        EXPOSED_HEADERS);
    }
    if (route->flags & ROUTE_TUS)
        http_add_header(req, "Tus-Resumable", "1.0.0");
    if ((route->flags & ROUTE_UPLOAD) && (status == 413 || status == 429)) {
        struct upload_refusal why;

        upload_refuse(&why, status, "", status == 413 ? "too_large"
                                                      : "rate_limited", "");
    }
}

/* The preflight part of an OPTIONS answer (only for a real preflight). */
void
web_cors_preflight_headers(http_req *req)
{
    if (http_header(req, "Access-Control-Request-Method") == NULL ||
        http_header(req, "Origin") == NULL)
        return;
    http_add_header(req, "Access-Control-Allow-Methods",
                    "POST, HEAD, PATCH, DELETE, OPTIONS");
    http_add_header(req, "Access-Control-Allow-Headers", ALLOWED_HEADERS);
    http_add_header(req, "Access-Control-Max-Age", PREFLIGHT_MAX_AGE);
}

/* OPTIONS on the multipart endpoint: a preflight and nothing else. */
int
web_upload_options(http_req *req)
{
    web_cors_preflight_headers(req);
    return http_respond(req, 204, NULL, "", 0, false);
}

/*
 * Shopify's App Proxy adds path_prefix (e.g. "/apps/fulfillment") to the
 * query of what it forwards; links we hand back go through it too.
 */
const char *
web_path_prefix(http_req *req)
{
    const char *p = http_query(req, "path_prefix");
    size_t n = p ? strlen(p) : 0;

    if (n < 2 || n > 100 || p[0] != '/' || p[n - 1] == '/' ||
        strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789/_-") != n)
        return "";
    return p;
}
