/*
 * page_list.c — GET /dashboard: the order list for staff phones. Filter
 * chips with counts per status, "has a print warning" and "claimed by
 * me" toggles, a date range and a search form, all plain GET parameters
 * that work without script; rows newest first with cut-out thumbnails,
 * print size, warnings and claims, a "More" link, and for fulfillers
 * checkboxes and the bulk bar list.js drives. Also the list filter's
 * reading and query string, which the order page shares.
 */
#include "web/pages.h"

#include "auth/guard.h"
#include "common/err.h"
#include "crypto/pii.h"
#include "db/db.h"
#include "obs/log.h"
#include "orders/orders.h"
#include "web/answer_cache.h"
#include "web/web.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Bits of an order's warning_flags (set when its photos come in). */
#define WARN_LOW 1  /* some photo under 150 DPI at its print size */
#define WARN_POOR 2 /* some photo under 100 DPI */

/* Thumbnails in a row, at most; the order page shows them all. */
#define ROW_THUMBS_MAX 4

struct list_view {
    const char *status; /* NULL: all */
    const char *q;      /* NULL: no search */
    bool warnings;      /* warnings=1 */
    bool claimed;       /* claimed=me */
    const char *from, *to; /* "YYYY-MM-DD" as given, or NULL */
    bool can_bulk;      /* fulfillers and admins */
    const char *order_qs; /* the filter for order links: "" or "?..." */
};

/* Appends s percent-encoded for a query string value. */
static void
url_encoded(pd_buf *b, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";

    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || strchr("-_.~", *p) != NULL) {
            buf_append(b, p, 1);
        } else {
            char esc[3] = {'%', hex[*p >> 4], hex[*p & 15]};

            buf_append(b, esc, 3);
        }
    }
}

/* Appends "{sep}name=value" (value encoded) when value is set. */
static void
query_param(pd_buf *b, char *sep, const char *name, const char *value)
{
    if (value == NULL || value[0] == '\0')
        return;
    buf_printf(b, "%c%s=", *sep, name);
    url_encoded(b, value);
    *sep = '&';
}

/* The filter's parameters besides status, as the request gave them. */
static void
filter_rest(pd_buf *b, http_req *req, char *sep)
{
    const char *w = http_query(req, "warnings");
    const char *c = http_query(req, "claimed");

    query_param(b, sep, "q", http_query(req, "q"));
    query_param(b, sep, "from", http_query(req, "from"));
    query_param(b, sep, "to", http_query(req, "to"));
    if (w != NULL && strcmp(w, "1") == 0)
        query_param(b, sep, "warnings", "1");
    if (c != NULL && strcmp(c, "me") == 0)
        query_param(b, sep, "claimed", "me");
}

/*
 * Appends the list's filter (status, q, from, to, warnings, claimed) as
 * query parameters, each introduced by *sep ('?' then '&'). Not escaped
 * for HTML: callers pass the result through pages_url.
 */
void
pages_filter_query(pd_buf *b, http_req *req, char *sep)
{
    query_param(b, sep, "status", http_query(req, "status"));
    filter_rest(b, req, sep);
}

/*
 * A link to the list with a status (NULL: all), the rest of the current
 * filter, a toggle flipped ("warnings" or "claimed", or NULL) and a
 * cursor (or NULL), escaped for an attribute.
 */
static void
list_href(pd_buf *b, http_req *req, const struct list_view *v,
          const char *status, const char *flip, const char *cursor)
{
    bool w = v->warnings, c = v->claimed;
    pd_buf qs;
    char sep = '?';

    if (flip != NULL && strcmp(flip, "warnings") == 0)
        w = !w;
    if (flip != NULL && strcmp(flip, "claimed") == 0)
        c = !c;
    buf_init(&qs);
    buf_puts(&qs, "/dashboard");
    query_param(&qs, &sep, "status", status);
    query_param(&qs, &sep, "q", v->q);
    query_param(&qs, &sep, "from", v->from);
    query_param(&qs, &sep, "to", v->to);
    query_param(&qs, &sep, "warnings", w ? "1" : NULL);
    query_param(&qs, &sep, "claimed", c ? "me" : NULL);
    query_param(&qs, &sep, "cursor", cursor);
    pages_url(b, req, buf_cstr(&qs));
    buf_free(&qs);
}

/* The link to one order's page, carrying the list's filter. */
static void
order_href(pd_buf *b, http_req *req, const struct list_view *v,
           const struct order_summary *o)
{
    pd_buf path;

    buf_init(&path);
    buf_puts(&path, "/dashboard/orders/");
    if (o->number > 0)
        buf_printf(&path, "%lld", (long long)o->number);
    else
        url_encoded(&path, o->name[0] == '#' ? o->name + 1 : o->name);
    buf_puts(&path, v->order_qs);
    pages_url(b, req, buf_cstr(&path));
    buf_free(&path);
}

/* ---- the filter ---- */

/* A q that is an e-mail address is matched through its blind index. */
static int
email_filter(http_req *req, struct orders_filter *f)
{
    const pii_keys *keys = web_app() ? web_app()->keys : NULL;
    unsigned char *index;

    if (f->q == NULL || strchr(f->q, '@') == NULL || keys == NULL)
        return PD_OK;
    index = arena_alloc(http_arena(req), 2 * PII_INDEX_LEN);
    if (index == NULL)
        return PD_ENOMEM;
    if (pii_email_index(keys, f->q, index) != PD_OK)
        return PD_ERR;
    f->email_index = index;
    if (pii_email_index_previous(keys, f->q, index + PII_INDEX_LEN) ==
        PD_OK)
        f->email_index_previous = index + PII_INDEX_LEN;
    return PD_OK;
}

/* Days from 1970-01-01 to a proleptic Gregorian date. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
    int64_t era, yoe, doy;

    y -= m <= 2;
    era = (y >= 0 ? y : y - 399) / 400;
    yoe = y - era * 400;
    doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    return era * 146097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719468;
}

/* "YYYY-MM-DD" (1970..9999) to the ms its UTC day starts at. */
static int
parse_date(const char *s, int64_t *ms)
{
    static const int mdays[] = {31, 29, 31, 30, 31, 30,
                                31, 31, 30, 31, 30, 31};
    int64_t y, m, d;
    char part[5];

    if (strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return PD_EINVAL;
    memcpy(part, s, 4);
    part[4] = '\0';
    if (pd_parse_i64(part, 1970, 9999, &y) != PD_OK)
        return PD_EINVAL;
    memcpy(part, s + 5, 2);
    part[2] = '\0';
    if (pd_parse_i64(part, 1, 12, &m) != PD_OK)
        return PD_EINVAL;
    memcpy(part, s + 8, 2);
    if (pd_parse_i64(part, 1, mdays[m - 1], &d) != PD_OK)
        return PD_EINVAL;
    if (m == 2 && d == 29 && (y % 4 != 0 || (y % 100 == 0 && y % 400)))
        return PD_EINVAL;
    *ms = days_from_civil(y, (int)m, (int)d) * 86400000;
    return PD_OK;
}

#define DAY_MS 86400000LL

/* from and to as dates: from its day's start to the end of to's day. */
static int
read_dates(http_req *req, struct orders_filter *f, char *msg, size_t len)
{
    const char *from = http_query(req, "from");
    const char *to = http_query(req, "to");

    if (from != NULL && from[0] != '\0') {
        if (parse_date(from, &f->from_ms) != PD_OK) {
            snprintf(msg, len, "from must be a date like 2026-12-03");
            return PD_EINVAL;
        }
        f->has_from = true;
    }
    if (to != NULL && to[0] != '\0') {
        if (parse_date(to, &f->to_ms) != PD_OK) {
            snprintf(msg, len, "to must be a date like 2026-12-03");
            return PD_EINVAL;
        }
        f->to_ms += DAY_MS;
        f->has_to = true;
    }
    if (f->has_from && f->has_to && f->from_ms >= f->to_ms) {
        snprintf(msg, len, "The first day must not be after the last.");
        return PD_EINVAL;
    }
    return PD_OK;
}

/*
 * The list's filter from the query (status, q, from, to as dates,
 * warnings=1, claimed=me; not the cursor). PD_EINVAL with msg for a
 * bad value; strings point into the request.
 */
int
pages_list_filter(http_req *req, struct orders_filter *f, char *msg,
                  size_t len)
{
    const char *status = http_query(req, "status");
    const char *q = http_query(req, "q");
    const char *w = http_query(req, "warnings");
    const char *c = http_query(req, "claimed");
    const struct staff *who = guard_staff(req);

    memset(f, 0, sizeof(*f));
    if (status != NULL && status[0] != '\0') {
        if (strcmp(status, "open") != 0 && orders_status_parse(status) < 0) {
            snprintf(msg, len, "There is no such order status.");
            return PD_EINVAL;
        }
        f->status = status;
    }
    if (q != NULL && q[0] != '\0')
        f->q = q;
    f->warnings_only = w != NULL && strcmp(w, "1") == 0;
    if (c != NULL && strcmp(c, "me") == 0 && who != NULL)
        f->claimed_by = who->id;
    if (read_dates(req, f, msg, len) != PD_OK)
        return PD_EINVAL;
    return email_filter(req, f);
}

/* The filter's query for order links, made once for all the rows. */
static int
order_query(http_req *req, struct list_view *v)
{
    pd_buf qs;
    char sep = '?';

    buf_init(&qs);
    pages_filter_query(&qs, req, &sep);
    v->order_qs = qs.failed ? NULL
                            : arena_strdup(http_arena(req), buf_cstr(&qs));
    buf_free(&qs);
    return v->order_qs != NULL ? PD_OK : PD_ENOMEM;
}

/* The filter and the view from the query; answers 400 itself. */
static int
read_filter(http_req *req, struct orders_filter *f, struct list_view *v)
{
    const struct staff *who = guard_staff(req);
    char msg[ORDERS_MSG_MAX];
    int rc = pages_list_filter(req, f, msg, sizeof(msg));

    if (rc == PD_EINVAL)
        http_error(req, 400, NULL, msg);
    if (rc != PD_OK)
        return rc;
    memset(v, 0, sizeof(*v));
    v->status = f->status;
    v->q = f->q;
    v->warnings = f->warnings_only;
    v->claimed = f->claimed_by > 0;
    v->from = f->has_from ? http_query(req, "from") : NULL;
    v->to = f->has_to ? http_query(req, "to") : NULL;
    v->can_bulk = who != NULL && who->role >= ROLE_FULFILLER;
    if ((rc = order_query(req, v)) != PD_OK)
        return rc;
    f->cursor = http_query(req, "cursor");
    if (f->cursor != NULL && f->cursor[0] == '\0')
        f->cursor = NULL;
    return rc;
}

/* ---- the page's parts ---- */

/* Hidden inputs that keep the status and toggles when searching. */
static void
kept_inputs(pd_buf *b, const struct list_view *v)
{
    if (v->status != NULL) {
        buf_puts(b, "<input type=\"hidden\" name=\"status\" value=\"");
        pages_text(b, v->status);
        buf_puts(b, "\">");
    }
    if (v->warnings)
        buf_puts(b, "<input type=\"hidden\" name=\"warnings\" value=\"1\">");
    if (v->claimed)
        buf_puts(b, "<input type=\"hidden\" name=\"claimed\" "
                    "value=\"me\">");
}

/* The date range: two date inputs, sent with the search. */
static void
date_inputs(pd_buf *b, const struct list_view *v)
{
    buf_puts(b, "<div class=\"dates\"><label for=\"from\">From</label>"
                "<input id=\"from\" name=\"from\" type=\"date\" "
                "value=\"");
    pages_text(b, v->from);
    buf_puts(b, "\"><label for=\"to\">To</label><input id=\"to\" "
                "name=\"to\" type=\"date\" value=\"");
    pages_text(b, v->to);
    buf_puts(b, "\"></div>");
}

static void
search_form(pd_buf *b, http_req *req, const struct list_view *v)
{
    buf_puts(b, "<form class=\"search\" role=\"search\" method=\"get\" "
                "action=\"");
    pages_url(b, req, "/dashboard");
    buf_puts(b, "\"><label for=\"q\">Search orders</label><div class=\"sq\">"
                "<input id=\"q\" name=\"q\" type=\"search\" "
                "autocomplete=\"off\" maxlength=\"200\" placeholder=\"1042, "
                "pet name, e-mail, note\" value=\"");
    pages_text(b, v->q);
    buf_puts(b, "\">");
    kept_inputs(b, v);
    buf_puts(b, "<button type=\"submit\">Search</button></div>");
    date_inputs(b, v);
    buf_puts(b, "</form>");
}

static void
chip(pd_buf *b, http_req *req, const struct list_view *v, const char *status,
     const char *label, int64_t count)
{
    bool on = (status == NULL && v->status == NULL) ||
              (status != NULL && v->status != NULL &&
               strcmp(status, v->status) == 0);

    buf_puts(b, "<li><a class=\"chip\" href=\"");
    list_href(b, req, v, status, NULL, NULL);
    buf_puts(b, on ? "\" aria-current=\"page\">" : "\">");
    pages_text(b, label);
    buf_printf(b, " <span class=\"n\">%lld</span></a></li>", (long long)count);
}

/* A chip that turns a filter on or off (a link to the list with the
 * filter flipped). */
static void
toggle(pd_buf *b, http_req *req, const struct list_view *v, const char *flip,
       bool on, const char *label)
{
    buf_puts(b, "<li><a class=\"chip\" href=\"");
    list_href(b, req, v, v->status, flip, NULL);
    buf_puts(b, on ? "\" aria-current=\"true\">" : "\">");
    buf_puts(b, on ? "✓ " : "");
    pages_text(b, label);
    buf_puts(b, "</a></li>");
}

static void
chips(pd_buf *b, http_req *req, const struct list_view *v,
      const struct orders_counts *c)
{
    buf_puts(b, "<nav aria-label=\"Filter by status\"><ul class=\"chips\">");
    chip(b, req, v, "open", "Open", c->open);
    for (int i = 0; i < ORDER_STATUS_COUNT; i++) {
        const char *name = orders_status_name(i);

        chip(b, req, v, name, pages_status_label(name), c->by_status[i]);
    }
    chip(b, req, v, NULL, "All", c->total);
    buf_puts(b, "</ul></nav><nav aria-label=\"More filters\">"
                "<ul class=\"chips\" id=\"toggles\">");
    toggle(b, req, v, "warnings", v->warnings, "Has a print warning");
    toggle(b, req, v, "claimed", v->claimed, "Claimed by me");
    buf_puts(b, "</ul></nav>");
}

static void
row_thumbs(pd_buf *b, http_req *req, const struct order_summary *o)
{
    int shown = 0;

    buf_puts(b, "<span class=\"thumbs\">");
    for (int i = 0; i < o->n_pets && shown < ROW_THUMBS_MAX; i++) {
        const struct order_pet *p = &o->pets[i];

        if (p->thumb_image_id == NULL)
            continue;
        buf_puts(b, "<img src=\"");
        pages_url(b, req, "/api/v1/images/");
        pages_text(b, p->thumb_image_id);
        buf_puts(b, "/thumb\" width=\"56\" height=\"56\" loading=\"lazy\" "
                    "decoding=\"async\" alt=\"");
        pages_text(b, p->name ? p->name : "Pet");
        buf_puts(b, "\">");
        shown++;
    }
    buf_puts(b, "</span>");
}

/* Print sizes of the pets, without repeats, and readiness warnings. */
static void
row_facts(pd_buf *b, http_req *req, const struct order_summary *o)
{
    const char *claimer;

    buf_puts(b, "<span class=\"facts\">");
    for (int i = 0; i < o->n_pets; i++) {
        const char *size = o->pets[i].print_size;
        bool seen = false;

        for (int j = 0; size != NULL && j < i; j++)
            seen |= o->pets[j].print_size != NULL &&
                    strcmp(o->pets[j].print_size, size) == 0;
        if (size == NULL || seen)
            continue;
        buf_puts(b, "<span class=\"size\">");
        pages_text(b, size);
        buf_puts(b, "</span>");
    }
    if (o->warning_flags & WARN_POOR)
        buf_puts(b, "<span class=\"warn poor\">Poor DPI</span>");
    else if (o->warning_flags & WARN_LOW)
        buf_puts(b, "<span class=\"warn\">Low DPI</span>");
    claimer = o->claimed_by > 0 ? pages_staff_name(req, o->claimed_by) : NULL;
    if (o->claimed_by > 0) {
        buf_puts(b, "<span class=\"claim\">Claimed by ");
        pages_text(b, claimer ? claimer : "staff");
        buf_puts(b, "</span>");
    }
    buf_puts(b, "</span>");
}

/* A fulfiller's checkbox for bulk actions, with its label. */
static void
row_select(pd_buf *b, const struct order_summary *o)
{
    const char *ref = o->name[0] == '#' ? o->name + 1 : o->name;

    buf_printf(b, "<input type=\"checkbox\" class=\"sel\" "
                  "id=\"sel-%lld\" value=\"", (long long)o->id);
    if (o->number > 0)
        buf_printf(b, "%lld", (long long)o->number);
    else
        pages_text(b, ref);
    buf_printf(b, "\" data-status=\"%s\"><label class=\"sel-l\" "
                  "for=\"sel-%lld\">Select ", o->status, (long long)o->id);
    pages_text(b, o->name);
    buf_puts(b, "</label>");
}

static void
order_row(pd_buf *b, http_req *req, const struct list_view *v,
          const struct order_summary *o, int64_t now)
{
    buf_puts(b, "<li class=\"order\">");
    if (v->can_bulk)
        row_select(b, o);
    buf_puts(b, "<a class=\"row\" href=\"");
    order_href(b, req, v, o);
    buf_puts(b, "\"><span class=\"top\"><span class=\"name\">");
    pages_text(b, o->name);
    buf_printf(b, "</span><span class=\"st st-%s\">", o->status);
    pages_text(b, pages_status_label(o->status));
    buf_puts(b, "</span><span class=\"age\" title=\"Age\">");
    pages_age(b, now, o->created_at);
    buf_puts(b, "</span></span>");
    row_thumbs(b, req, o);
    row_facts(b, req, o);
    buf_puts(b, "</a></li>");
}

static void
rows(pd_buf *b, http_req *req, const struct list_view *v,
     const struct orders_page *page)
{
    int64_t now = pd_now_ms();

    if (page->n == 0) {
        buf_puts(b, "<p class=\"empty\">No orders match.</p>");
        return;
    }
    buf_puts(b, "<ol class=\"orders\" id=\"orders\">");
    for (int i = 0; i < page->n; i++)
        order_row(b, req, v, &page->rows[i], now);
    buf_puts(b, "</ol>");
    if (page->next_cursor != NULL) {
        buf_puts(b, "<p class=\"more\"><a class=\"btn\" rel=\"next\" "
                    "id=\"more\" href=\"");
        list_href(b, req, v, v->status, NULL, page->next_cursor);
        buf_puts(b, "\">More orders</a></p>");
    }
}

/* Fulfillers get the day's print queue (every in_production order). */
static void
queue_link(pd_buf *b, http_req *req)
{
    const struct staff *who = guard_staff(req);

    if (who == NULL || who->role < ROLE_FULFILLER)
        return;
    buf_puts(b, "<p class=\"queue\"><a class=\"btn\" data-zip download "
                "href=\"");
    pages_url(b, req, "/api/v1/print-queue.zip");
    buf_puts(b, "\">Download the print queue</a></p>");
}

/* The moves a bulk change offers (each order's own move is checked). */
static const char *const bulk_moves[] = {
    "in_production", "printed", "completed", "on_hold", "cancelled",
};

/* Bulk actions on the selected orders, for fulfillers; list.js shows
 * the bar and does the work (the page without script has no use for
 * it, so it starts hidden). */
static void
bulk_bar(pd_buf *b, http_req *req, const struct list_view *v)
{
    if (!v->can_bulk)
        return;
    buf_puts(b, "<form class=\"bulk\" id=\"bulk\" hidden data-zip=\"");
    pages_url(b, req, "/api/v1/orders/download.zip");
    buf_puts(b, "\"><p id=\"bulk-n\">No orders selected.</p><div "
                "class=\"btns\"><label for=\"bulk-to\">Move selected to"
                "</label><select id=\"bulk-to\">");
    for (size_t i = 0; i < sizeof(bulk_moves) / sizeof(bulk_moves[0]); i++)
        buf_printf(b, "<option value=\"%s\">%s</option>", bulk_moves[i],
                   pages_status_label(bulk_moves[i]));
    buf_puts(b, "</select><button type=\"submit\" class=\"btn\" "
                "id=\"bulk-move\">Move</button><a class=\"btn\" "
                "id=\"bulk-zip\" data-zip download role=\"link\" "
                "aria-disabled=\"true\">Download zip of selected</a></div>"
                "<p id=\"bulk-msg\" class=\"msg\" role=\"status\" "
                "aria-live=\"polite\"></p></form>");
}

/* ---- GET /dashboard ---- */

int
web_page_list(http_req *req)
{
    struct orders_filter f;
    struct orders_page page;
    struct orders_counts counts;
    struct list_view v;
    db *d = db_thread();
    const char *key = answer_cache_key(req, "list.html");
    uint64_t generation = answer_cache_generation();
    pd_buf b;
    int rc;

    if (key != NULL && answer_cache_send(req, key, &rc))
        return rc;
    if (d == NULL)
        return PD_EUNAVAIL;
    if ((rc = read_filter(req, &f, &v)) != PD_OK)
        return rc == PD_EINVAL ? 0 : rc;
    rc = orders_list(d, &f, http_arena(req), &page);
    if (rc == PD_EINVAL)
        return http_error(req, 400, NULL, page.message);
    if (rc != PD_OK || (rc = orders_count_shared(d, &f, &counts)) != PD_OK)
        return rc;
    buf_init(&b);
    pages_head(&b, req, "Orders");
    buf_puts(&b, "<h1>Orders</h1>");
    search_form(&b, req, &v);
    chips(&b, req, &v, &counts);
    queue_link(&b, req);
    bulk_bar(&b, req, &v);
    rows(&b, req, &v, &page);
    if (v.can_bulk) {
        buf_puts(&b, "<script defer src=\"");
        pages_asset_url(&b, req, "list.js");
        buf_puts(&b, "\"></script>");
    }
    pages_foot(&b);
    rc = key != NULL ? answer_cache_send_new(req, key, generation,
                                             "text/html; charset=utf-8",
                                             true, &b)
                     : pages_send(req, &b);
    buf_free(&b);
    return rc;
}
