/*
 * page_list.c — GET /dashboard: the order list for staff phones. Filter
 * chips with counts per status, a search form that works without script,
 * rows newest first with cut-out thumbnails, print size, print-readiness
 * warnings and who has claimed them, and a "More" link to the next page.
 */
#include "web/pages.h"

#include "auth/guard.h"
#include "common/err.h"
#include "crypto/pii.h"
#include "db/db.h"
#include "obs/log.h"
#include "orders/orders.h"
#include "web/web.h"

#include <stdbool.h>
#include <string.h>

/* Bits of an order's warning_flags (set when its photos come in). */
#define WARN_LOW 1  /* some photo under 150 DPI at its print size */
#define WARN_POOR 2 /* some photo under 100 DPI */

/* Thumbnails in a row, at most; the order page shows them all. */
#define ROW_THUMBS_MAX 4

struct list_view {
    const char *status; /* NULL: all */
    const char *q;      /* NULL: no search */
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

/*
 * A link to the list with a status, the current search and a cursor
 * (each may be NULL), escaped for an attribute.
 */
static void
list_href(pd_buf *b, http_req *req, const char *status, const char *q,
          const char *cursor)
{
    pd_buf qs;
    char sep = '?';

    buf_init(&qs);
    buf_puts(&qs, "/dashboard");
    if (status != NULL) {
        buf_printf(&qs, "%cstatus=", sep);
        url_encoded(&qs, status);
        sep = '&';
    }
    if (q != NULL) {
        buf_printf(&qs, "%cq=", sep);
        url_encoded(&qs, q);
        sep = '&';
    }
    if (cursor != NULL) {
        buf_printf(&qs, "%ccursor=", sep);
        url_encoded(&qs, cursor);
    }
    pages_url(b, req, buf_cstr(&qs));
    buf_free(&qs);
}

/* The link to one order's page. */
static void
order_href(pd_buf *b, http_req *req, const struct order_summary *o)
{
    pd_buf path;

    buf_init(&path);
    buf_puts(&path, "/dashboard/orders/");
    if (o->number > 0)
        buf_printf(&path, "%lld", (long long)o->number);
    else
        url_encoded(&path, o->name[0] == '#' ? o->name + 1 : o->name);
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

/* The filter from the query; answers 400 itself for a bad status. */
static int
read_filter(http_req *req, struct orders_filter *f, struct list_view *v)
{
    const char *status = http_query(req, "status");
    const char *q = http_query(req, "q");

    memset(f, 0, sizeof(*f));
    memset(v, 0, sizeof(*v));
    if (status != NULL && status[0] != '\0') {
        if (strcmp(status, "open") != 0 && orders_status_parse(status) < 0) {
            http_error(req, 400, NULL, "There is no such order status.");
            return PD_EINVAL;
        }
        v->status = f->status = status;
    }
    if (q != NULL && q[0] != '\0')
        v->q = f->q = q;
    f->cursor = http_query(req, "cursor");
    if (f->cursor != NULL && f->cursor[0] == '\0')
        f->cursor = NULL;
    return email_filter(req, f);
}

/* ---- the page's parts ---- */

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
    if (v->status != NULL) {
        buf_puts(b, "<input type=\"hidden\" name=\"status\" value=\"");
        pages_text(b, v->status);
        buf_puts(b, "\">");
    }
    buf_puts(b, "<button type=\"submit\">Search</button></div></form>");
}

static void
chip(pd_buf *b, http_req *req, const struct list_view *v, const char *status,
     const char *label, int64_t count)
{
    bool on = (status == NULL && v->status == NULL) ||
              (status != NULL && v->status != NULL &&
               strcmp(status, v->status) == 0);

    buf_puts(b, "<li><a class=\"chip\" href=\"");
    list_href(b, req, status, v->q, NULL);
    buf_puts(b, on ? "\" aria-current=\"page\">" : "\">");
    pages_text(b, label);
    buf_printf(b, " <span class=\"n\">%lld</span></a></li>", (long long)count);
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

static void
order_row(pd_buf *b, http_req *req, const struct order_summary *o,
          int64_t now)
{
    buf_puts(b, "<li class=\"order\"><a class=\"row\" href=\"");
    order_href(b, req, o);
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
        order_row(b, req, &page->rows[i], now);
    buf_puts(b, "</ol>");
    if (page->next_cursor != NULL) {
        buf_puts(b, "<p class=\"more\"><a class=\"btn\" rel=\"next\" "
                    "id=\"more\" href=\"");
        list_href(b, req, v->status, v->q, page->next_cursor);
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
    buf_puts(b, "<p class=\"queue\"><a class=\"btn\" download href=\"");
    pages_url(b, req, "/api/v1/print-queue.zip");
    buf_puts(b, "\">Download the print queue</a></p>");
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
    pd_buf b;
    int rc;

    if (d == NULL)
        return PD_EUNAVAIL;
    if ((rc = read_filter(req, &f, &v)) != PD_OK)
        return rc == PD_EINVAL ? 0 : rc;
    rc = orders_list(d, &f, http_arena(req), &page);
    if (rc == PD_EINVAL)
        return http_error(req, 400, NULL, page.message);
    if (rc != PD_OK || (rc = orders_count(d, &f, &counts)) != PD_OK)
        return rc;
    buf_init(&b);
    pages_head(&b, req, "Orders");
    buf_puts(&b, "<h1>Orders</h1>");
    search_form(&b, req, &v);
    chips(&b, req, &v, &counts);
    queue_link(&b, req);
    rows(&b, req, &v, &page);
    pages_foot(&b);
    rc = pages_send(req, &b);
    buf_free(&b);
    return rc;
}
