/*
 * pages.c — the HTML writer the dashboard pages share: the page frame
 * (head with our own stylesheet, script and web app manifest only,
 * header bar, foot), escaping, links under the App Proxy's path prefix,
 * times and ages.
 */
#include "web/pages.h"

#include "auth/guard.h"
#include "auth/guard_setup.h"
#include "common/err.h"
#include "db/db.h"
#include "web/web.h"

#include <stdio.h>
#include <string.h>

void
pages_text(pd_buf *b, const char *s)
{
    if (s != NULL)
        buf_html_escaped(b, s);
}

void
pages_url(pd_buf *b, http_req *req, const char *path)
{
    buf_html_escaped(b, web_path_prefix(req));
    buf_html_escaped(b, path);
}

/* The meta tags the script reads: where the API is, and the CSRF token. */
static void
head_meta(pd_buf *b, http_req *req)
{
    const struct staff *who = guard_staff(req);
    const char *token = guard_csrf_token(req);

    buf_puts(b, "<meta name=\"pd-base\" content=\"");
    pages_text(b, web_path_prefix(req));
    buf_puts(b, "\">");
    if (token != NULL) {
        buf_puts(b, "<meta name=\"csrf-token\" content=\"");
        pages_text(b, token);
        buf_puts(b, "\">");
    }
    if (who != NULL)
        buf_printf(b, "<meta name=\"pd-role\" content=\"%s\">",
                   staff_role_name(who->role));
}

/* The bar at the top: the desk's name (a link home) and who is in. */
static void
header_bar(pd_buf *b, http_req *req)
{
    const struct staff *who = guard_staff(req);

    buf_puts(b, "<header class=\"bar\"><a class=\"home\" href=\"");
    pages_url(b, req, "/dashboard");
    buf_puts(b, "\">printdesk</a>");
    if (who != NULL) {
        buf_puts(b, "<span class=\"who\">");
        pages_text(b, who->name[0] ? who->name : who->external_id);
        buf_printf(b, " · %s</span>", staff_role_name(who->role));
    }
    /* Through the App Proxy the shop's own sign-in is the session. */
    if (who != NULL && web_path_prefix(req)[0] == '\0' &&
        http_cookie(req, GUARD_SESSION_COOKIE) != NULL)
        buf_puts(b, "<button type=\"button\" class=\"signout\" "
                    "data-signout hidden>Sign out</button>");
    buf_puts(b, "</header>");
}

void
pages_head(pd_buf *b, http_req *req, const char *title)
{
    buf_puts(b, "<!doctype html><html lang=\"en\"><head>"
                "<meta charset=\"utf-8\"><meta name=\"viewport\" "
                "content=\"width=device-width,initial-scale=1\">"
                "<meta name=\"color-scheme\" content=\"light\"><title>");
    pages_text(b, title);
    buf_puts(b, " · printdesk</title><link rel=\"stylesheet\" href=\"");
    pages_asset_url(b, req, "app.css");
    buf_puts(b, "\"><script defer src=\"");
    pages_asset_url(b, req, "app.js");
    buf_puts(b, "\"></script><link rel=\"manifest\" href=\"");
    pages_asset_url(b, req, "manifest.webmanifest");
    buf_puts(b, "\"><meta name=\"theme-color\" content=\"#1d2a36\">");
    head_meta(b, req);
    buf_puts(b, "</head><body>");
    header_bar(b, req);
    buf_puts(b, "<main id=\"main\">");
}

void
pages_foot(pd_buf *b)
{
    buf_puts(b, "</main></body></html>\n");
}

int
pages_send(http_req *req, pd_buf *b)
{
    if (b->failed)
        return PD_ENOMEM;
    http_add_header(req, "Cache-Control", "no-store");
    return http_respond(req, 200, "text/html; charset=utf-8", buf_cstr(b),
                        b->len, true);
}

void
pages_duration(pd_buf *b, int64_t ms)
{
    int64_t s = ms < 0 ? 0 : ms / 1000;

    if (s < 60)
        buf_printf(b, "%lld s", (long long)s);
    else if (s < 3600)
        buf_printf(b, "%lld min", (long long)(s / 60));
    else if (s < 86400)
        buf_printf(b, "%lld h %lld min", (long long)(s / 3600),
                   (long long)(s % 3600 / 60));
    else
        buf_printf(b, "%lld d %lld h", (long long)(s / 86400),
                   (long long)(s % 86400 / 3600));
}

void
pages_age(pd_buf *b, int64_t now_ms, int64_t at_ms)
{
    int64_t s = now_ms > at_ms ? (now_ms - at_ms) / 1000 : 0;

    if (s < 60)
        buf_puts(b, "now");
    else if (s < 3600)
        buf_printf(b, "%lld min", (long long)(s / 60));
    else if (s < 86400)
        buf_printf(b, "%lld h", (long long)(s / 3600));
    else
        buf_printf(b, "%lld d", (long long)(s / 86400));
}

void
pages_time(pd_buf *b, int64_t at_ms)
{
    char iso[40];

    pd_format_time(iso, at_ms);
    /* "2026-12-03T19:41:51.123Z" shown as "2026-12-03 19:41 UTC". */
    buf_printf(b, "<time datetime=\"%s\">%.10s %.5s UTC</time>", iso, iso,
               iso + 11);
}

const char *
pages_status_label(const char *status)
{
    static const struct {
        const char *name, *label;
    } labels[] = {
        {"pending", "Pending"},     {"in_production", "In production"},
        {"printed", "Printed"},     {"completed", "Completed"},
        {"on_hold", "On hold"},     {"cancelled", "Cancelled"},
        {"open", "Open"},
    };

    for (size_t i = 0; status && i < sizeof(labels) / sizeof(labels[0]); i++)
        if (strcmp(labels[i].name, status) == 0)
            return labels[i].label;
    return status != NULL ? status : "";
}

const char *
pages_staff_name(http_req *req, int64_t id)
{
    db *d = db_thread();
    db_rows *rows = NULL;
    const char *name = NULL;

    if (d == NULL || id <= 0)
        return NULL;
    if (db_query(d, "SELECT name, external_id FROM staff WHERE id = ?",
                 (db_arg[]){DB_INT(id)}, 1, &rows) != PD_OK)
        return NULL;
    if (db_step(rows) == 1) {
        const char *n = db_col_text(rows, 0);

        if (n == NULL || n[0] == '\0')
            n = db_col_text(rows, 1);
        name = arena_strdup(http_arena(req), n ? n : "");
    }
    db_rows_free(rows);
    return name;
}
