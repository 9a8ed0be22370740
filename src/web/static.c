/*
 * static.c — GET /static/{name}: the front-end assets embedded at build
 * time. By content-hashed name they are cached for a year (immutable); by
 * plain name they are revalidated by ETag, except the storefront bridge,
 * which the shop's theme includes by its plain name from another site: it
 * is kept five minutes before revalidation, and any page may load it.
 * Gzip goes to clients that take it.
 */
#include "web/pages.h"

#include "web/web.h"

#include <stdbool.h>
#include <string.h>

static const struct static_asset *
find_asset(const char *name, bool *hashed)
{
    for (int i = 0; name != NULL && i < static_assets_count; i++) {
        const struct static_asset *a = &static_assets[i];

        if (strcmp(a->hashed_name, name) == 0) {
            *hashed = true;
            return a;
        }
        if (strcmp(a->name, name) == 0) {
            *hashed = false;
            return a;
        }
    }
    return NULL;
}

void
pages_asset_url(pd_buf *b, http_req *req, const char *name)
{
    bool hashed;
    const struct static_asset *a = find_asset(name, &hashed);

    pages_url(b, req, "/static/");
    buf_html_escaped(b, a != NULL ? a->hashed_name : name);
}

/* Whether an If-None-Match header names etag (or is "*"). */
static bool
etag_matches(const char *header, const char *etag)
{
    size_t n = strlen(etag);

    if (header == NULL)
        return false;
    if (strcmp(header, "*") == 0)
        return true;
    for (const char *p = strstr(header, etag); p; p = strstr(p + 1, etag))
        if ((p == header || p[-1] == ' ' || p[-1] == ',' || p[-1] == '/') &&
            (p[n] == '\0' || p[n] == ',' || p[n] == ' '))
            return true;
    return false;
}

/* Whether the client takes gzip (a q=0 refusal counts as no). */
static bool
takes_gzip(http_req *req)
{
    const char *ae = http_header(req, "Accept-Encoding");
    const char *g = ae ? strstr(ae, "gzip") : NULL;

    if (g == NULL)
        return false;
    g += 4;
    while (*g == ' ')
        g++;
    return strncmp(g, ";q=0", 4) != 0 || g[4] == '.';
}

/* Assets other sites include by their plain name (the shop's theme). */
static bool
included_by_themes(const struct static_asset *a)
{
    return strcmp(a->name, "bridge.js") == 0;
}

static const char *
cache_control(const struct static_asset *a, bool hashed)
{
    if (hashed)
        return "public, max-age=31536000, immutable";
    if (included_by_themes(a))
        return "public, max-age=300, must-revalidate";
    return "no-cache";
}

int
web_static_get(http_req *req)
{
    bool hashed = false;
    const struct static_asset *a = find_asset(http_param(req, "name"),
                                              &hashed);
    bool gz;

    if (a == NULL)
        return http_error(req, 404, NULL, "no such file");
    http_add_header(req, "Cache-Control", cache_control(a, hashed));
    if (included_by_themes(a))
        http_add_header(req, "Access-Control-Allow-Origin", "*");
    http_add_header(req, "ETag", a->etag);
    http_add_header(req, "Vary", "Accept-Encoding");
    if (etag_matches(http_header(req, "If-None-Match"), a->etag))
        return http_respond(req, 304, a->content_type, "", 0, false);
    gz = a->gz_len > 0 && takes_gzip(req);
    if (gz)
        http_add_header(req, "Content-Encoding", "gzip");
    return http_respond(req, 200, a->content_type, gz ? a->gz : a->data,
                        gz ? a->gz_len : a->len, false);
}
