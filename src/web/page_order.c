/*
 * page_order.c — GET /dashboard/orders/{order}: one order for staff. Per
 * pet the original beside its cut-out, a comparison view and the zoom
 * viewer's hooks, print readiness at the ordered size; for fulfillers
 * the workflow's moves, claim, notes and the zip; the timeline
 * (page_timeline.c); previous and next order within the list's filter,
 * which the list's links carry in the query.
 */
#include "web/pages.h"

#include "auth/guard.h"
#include "common/err.h"
#include "db/db.h"
#include "orders/orders.h"
#include "orders/print.h"
#include "web/web.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* The width images are laid out at; height follows the photo's shape. */
#define LAYOUT_W 480

/* Orders a probe for the newer neighbour reads at a time. */
#define PROBE_LIMIT 50
/* Probes at most: windows double from a minute past any date there is,
 * then halve down to a millisecond. */
#define PROBES_MAX 100
#define PROBE_START_MS 60000

struct order_view {
    http_req *req;
    const struct order_detail *o;
    const struct staff *who;
    bool can_act;    /* fulfiller or admin */
    const char *ref; /* the order's reference in URLs, e.g. "1042" */
    bool filtered;   /* the query holds a valid list filter */
    const struct order_summary *prev, *next; /* newer, older; or NULL */
};

static const struct order_image *
find_image(const struct order_detail *o, const char *id)
{
    for (int i = 0; id != NULL && i < o->n_images; i++)
        if (strcmp(o->images[i].id, id) == 0 && !o->images[i].deleted)
            return &o->images[i];
    return NULL;
}

/* Appends the URL of an image variant under the path prefix. */
static void
image_url(pd_buf *b, const struct order_view *v, const char *id,
          const char *variant)
{
    pages_url(b, v->req, "/api/v1/images/");
    pages_text(b, id);
    buf_puts(b, "/");
    buf_puts(b, variant);
}

/* Appends "/api/v1/orders/{ref}/{what}" under the path prefix. */
static void
order_api_url(pd_buf *b, const struct order_view *v, const char *what)
{
    pages_url(b, v->req, "/api/v1/orders/");
    pages_text(b, v->ref);
    buf_puts(b, "/");
    buf_puts(b, what);
}

/* ---- the order's head and actions ---- */

static void
order_header(pd_buf *b, const struct order_view *v)
{
    const struct order_summary *s = &v->o->order;

    buf_puts(b, "<h1>Order ");
    pages_text(b, s->name);
    buf_printf(b, " <span class=\"st st-%s\" id=\"status\">", s->status);
    pages_text(b, pages_status_label(s->status));
    buf_puts(b, "</span></h1><p class=\"meta\">Placed ");
    pages_time(b, s->created_at);
    if (v->o->financial_status != NULL) {
        buf_puts(b, " · ");
        pages_text(b, v->o->financial_status);
    }
    if (s->claimed_by > 0) {
        const char *n = pages_staff_name(v->req, s->claimed_by);

        buf_puts(b, " · <span class=\"claim\">Claimed by ");
        pages_text(b, n ? n : "staff");
        buf_puts(b, "</span>");
    }
    buf_puts(b, "</p>");
    if (v->o->customer_note != NULL && v->o->customer_note[0] != '\0') {
        buf_puts(b, "<p class=\"cnote\"><b>Customer note:</b> ");
        pages_text(b, v->o->customer_note);
        buf_puts(b, "</p>");
    }
}

static void
move_buttons(pd_buf *b, const struct order_view *v)
{
    for (int i = 0; i < v->o->n_next; i++) {
        const char *to = v->o->next[i];

        buf_printf(b, "<button type=\"button\" class=\"btn%s\" "
                      "data-move=\"%s\">", i == 0 ? " primary" : "", to);
        buf_puts(b, strcmp(to, "cancelled") == 0 ? "Cancel order"
                    : strcmp(to, "on_hold") == 0 ? "Put on hold"
                                                 : "Move to ");
        if (strcmp(to, "cancelled") != 0 && strcmp(to, "on_hold") != 0)
            pages_text(b, pages_status_label(to));
        buf_puts(b, "</button>");
    }
}

/* Moves, claim or release, and the zip: fulfillers and admins only. */
static void
actions(pd_buf *b, const struct order_view *v)
{
    const struct order_summary *s = &v->o->order;
    bool mine = s->claimed_by > 0 && s->claimed_by == v->who->id;

    if (!v->can_act)
        return;
    buf_puts(b, "<section class=\"actions\" aria-label=\"Actions\" "
                "id=\"actions\" data-order=\"");
    pages_text(b, v->ref);
    buf_printf(b, "\" data-status=\"%s\"><div class=\"btns\">", s->status);
    move_buttons(b, v);
    if (mine || s->claimed_by <= 0 || v->who->role >= ROLE_ADMIN)
        buf_printf(b, "<button type=\"button\" class=\"btn\" "
                      "data-claim=\"%s\">%s</button>",
                   mine ? "release" : "claim",
                   mine ? "Release" : s->claimed_by > 0 ? "Take over"
                                                        : "Claim");
    buf_puts(b, "<a class=\"btn\" data-zip download href=\"");
    order_api_url(b, v, "download.zip");
    buf_puts(b, "\">Download zip</a></div><p id=\"msg\" class=\"msg\" "
                "role=\"status\" aria-live=\"polite\"></p></section>");
}

/* ---- pets ---- */

static void
readiness(pd_buf *b, const struct order_pet *p, const struct order_image *im)
{
    enum print_readiness r = PRINT_UNKNOWN;
    int dpi = print_effective_dpi(p->print_size, im ? im->width : 0,
                                  im ? im->height : 0, &r);

    buf_printf(b, "<p class=\"dpi dpi-%s\">", print_readiness_name(r));
    if (r == PRINT_UNKNOWN) {
        buf_puts(b, "Print readiness unknown");
    } else {
        buf_printf(b, "<b>%d DPI</b> at ", dpi);
        pages_text(b, p->print_size);
        buf_puts(b, r == PRINT_POOR  ? " · poor: will print blurry"
                    : r == PRINT_LOW ? " · low: below 150 DPI"
                                     : " · ready to print");
    }
    buf_puts(b, "</p>");
}

/*
 * One photo: a button that opens the zoom viewer, with its caption.
 * Phones show the 300-pixel thumbnail (the viewer has the detail), wider
 * screens the preview. The first pet's photos are what a phone shows
 * first (the page's largest paint), so they load at once and first; the
 * others wait until near.
 */
static void
photo(pd_buf *b, const struct order_view *v, const struct order_image *im,
      const char *what, const char *pet, bool first)
{
    int h = im->width > 0 && im->height > 0
                ? (int)((int64_t)LAYOUT_W * im->height / im->width) : LAYOUT_W;

    buf_puts(b, "<figure><button type=\"button\" class=\"zoom\" "
                "data-preview=\"");
    image_url(b, v, im->id, "preview");
    if (v->can_act) {
        buf_puts(b, "\" data-original=\"");
        image_url(b, v, im->id, "original");
    }
    buf_printf(b, "\" aria-label=\"Zoom: %s of ", what);
    pages_text(b, pet);
    buf_puts(b, "\"><picture><source media=\"(min-width: 700px)\" "
                "srcset=\"");
    image_url(b, v, im->id, "preview");
    buf_puts(b, "\"><img src=\"");
    image_url(b, v, im->id, "thumb");
    buf_printf(b, "\" width=\"%d\" height=\"%d\" %s alt=\"%s of ",
               LAYOUT_W, h < 1 ? 1 : h,
               first ? "fetchpriority=\"high\"" : "loading=\"lazy\"", what);
    pages_text(b, pet);
    buf_printf(b, "\"></picture></button><figcaption>%s", what);
    if (im->width > 0)
        buf_printf(b, " · %d×%d px", im->width, im->height);
    if (v->can_act) {
        buf_puts(b, "<a class=\"dl\" download href=\"");
        image_url(b, v, im->id, "original");
        buf_printf(b, "\" aria-label=\"Download the %s of ",
                   strcmp(what, "Original") == 0 ? "original" : "cut-out");
        pages_text(b, pet);
        buf_puts(b, "\">Download</a>");
    }
    buf_puts(b, "</figcaption></figure>");
}

/*
 * The slider over a background: the cut-out revealed over the original,
 * at preview size. Folded until opened, so a phone on mobile data loads
 * those previews only when someone compares.
 */
static void
compare(pd_buf *b, const struct order_view *v, const struct order_image *orig,
        const struct order_image *cut, int n)
{
    buf_printf(b, "<details class=\"compare\" data-compare><summary>"
                  "Compare over a background</summary><div class=\"stage "
                  "checker\" id=\"stage%d\"><img src=\"", n);
    image_url(b, v, orig->id, "preview");
    buf_puts(b, "\" alt=\"\" loading=\"lazy\"><img class=\"top\" src=\"");
    image_url(b, v, cut->id, "preview");
    buf_printf(b, "\" alt=\"\" loading=\"lazy\"></div><div class=\"ctl\">"
                  "<label for=\"cmp%d\">Cut-out shown</label><input "
                  "id=\"cmp%d\" type=\"range\" min=\"0\" max=\"100\" "
                  "value=\"50\"><label for=\"bg%d\">Background</label>"
                  "<select id=\"bg%d\"><option value=\"checker\">"
                  "Checkerboard</option><option value=\"#ffffff\">White"
                  "</option><option value=\"#000000\">Black</option>"
                  "<option value=\"#e8d5b5\">Cream</option><option "
                  "value=\"#2f6f4f\">Green</option></select></div>"
                  "</details>",
               n, n, n, n);
}

static void
pet_section(pd_buf *b, const struct order_view *v, const struct order_pet *p,
            int n)
{
    const struct order_image *orig = find_image(v->o, p->original_image_id);
    const struct order_image *cut = find_image(v->o, p->processed_image_id);
    const char *pet = p->name ? p->name : "the pet";

    buf_puts(b, "<section class=\"pet\"><h2>");
    pages_text(b, p->name ? p->name : "Pet");
    if (p->print_size != NULL) {
        buf_puts(b, " <span class=\"size\">");
        pages_text(b, p->print_size);
        buf_puts(b, "</span>");
    }
    buf_puts(b, "</h2>");
    readiness(b, p, orig);
    buf_puts(b, "<div class=\"pair\">");
    if (orig != NULL)
        photo(b, v, orig, "Original", pet, n == 0);
    if (cut != NULL)
        photo(b, v, cut, "Cut-out", pet, n == 0);
    if (orig == NULL && cut == NULL)
        buf_puts(b, p->original_image_id != NULL ||
                            p->processed_image_id != NULL
                        ? "<p>Photos deleted (by retention or at the "
                          "customer's request).</p>"
                        : "<p>No photos yet.</p>");
    buf_puts(b, "</div>");
    if (orig != NULL && cut != NULL)
        compare(b, v, orig, cut, n);
    buf_puts(b, "</section>");
}

/* ---- previous and next within the list's filter ---- */

/* Whether (at, id) of o is after (at, id) of the current order. */
static bool
is_newer(const struct order_summary *o, int64_t at, int64_t id)
{
    return o->created_at > at || (o->created_at == at && o->id > id);
}

/*
 * One probe: orders of f in [at, at + w) (unbounded when w is 0),
 * newest first. *k: how many are newer than the order; *full: the page
 * holds only newer ones and there are more.
 */
static int
probe(db *d, struct orders_filter f, arena *a, int64_t at, int64_t id,
      int64_t w, struct orders_page *page, int *k, bool *full)
{
    int rc;

    if (!f.has_from || f.from_ms < at)
        f.from_ms = at;
    f.has_from = true;
    if (w > 0 && (!f.has_to || at + w < f.to_ms)) {
        f.to_ms = at + w;
        f.has_to = true;
    }
    f.limit = PROBE_LIMIT;
    f.cursor = NULL;
    *k = 0;
    *full = false;
    if (f.has_to && f.to_ms <= f.from_ms)
        return PD_OK;
    if ((rc = orders_list(d, &f, a, page)) != PD_OK)
        return rc;
    while (*k < page->n && is_newer(&page->rows[*k], at, id))
        (*k)++;
    *full = *k == page->n && page->next_cursor != NULL;
    return PD_OK;
}

/*
 * The order listed just above (newer than) the one at (at, id) under f,
 * or NULL. The list only walks newest first, so windows above `at` grow
 * until one holds a newer order and shrink while one holds too many to
 * see the nearest.
 */
static int
newer_neighbour(db *d, const struct orders_filter *f, arena *a, int64_t at,
                int64_t id, const struct order_summary **out)
{
    struct orders_page page;
    int64_t lo = 0, w = PROBE_START_MS, hi = 0, far = pd_now_ms() - at;
    bool full;
    int k, rc;

    *out = NULL;
    for (int i = 0; i < PROBES_MAX; i++) {
        bool open = hi == 0 && w > far;

        rc = probe(d, *f, a, at, id, open ? 0 : w, &page, &k, &full);
        if (rc != PD_OK)
            return rc;
        if (k > 0 && (!full || w - lo <= 1)) {
            *out = &page.rows[k - 1];
            return PD_OK;
        }
        if (k == 0 && open)
            return PD_OK;
        if (k == 0)
            lo = w;
        else
            hi = w;
        w = hi == 0 ? w * 2 : lo + (hi - lo) / 2;
    }
    return PD_OK;
}

/* The order listed just below (older than) this one, or NULL. */
static int
older_neighbour(db *d, struct orders_filter f, arena *a, int64_t at,
                int64_t id, const struct order_summary **out)
{
    struct orders_page page;
    char cursor[48];
    int rc;

    snprintf(cursor, sizeof(cursor), "%lld_%lld", (long long)at,
             (long long)id);
    f.cursor = cursor;
    f.limit = 1;
    *out = NULL;
    if ((rc = orders_list(d, &f, a, &page)) == PD_OK && page.n > 0)
        *out = &page.rows[0];
    return rc;
}

/* Finds the neighbours when the query holds a valid list filter. */
static int
neighbours(db *d, struct order_view *v)
{
    const struct order_summary *s = &v->o->order;
    struct orders_filter f;
    char msg[ORDERS_MSG_MAX];
    int rc;

    if (pages_list_filter(v->req, &f, msg, sizeof(msg)) != PD_OK)
        return PD_OK; /* a bad filter in a link: no neighbours */
    v->filtered = true;
    rc = older_neighbour(d, f, http_arena(v->req), s->created_at, s->id,
                         &v->next);
    if (rc == PD_OK)
        rc = newer_neighbour(d, &f, http_arena(v->req), s->created_at,
                             s->id, &v->prev);
    return rc == PD_EINVAL ? PD_OK : rc;
}

/* A link to the list or to order o (NULL: the list) with the filter. */
static void
filter_href(pd_buf *b, const struct order_view *v,
            const struct order_summary *o)
{
    pd_buf path;
    char sep = '?';

    buf_init(&path);
    if (o == NULL) {
        buf_puts(&path, "/dashboard");
    } else if (o->number > 0) {
        buf_printf(&path, "/dashboard/orders/%lld", (long long)o->number);
    } else {
        buf_puts(&path, "/dashboard/orders/");
        for (const char *c = o->name + (o->name[0] == '#'); *c; c++)
            buf_printf(&path, strchr("/?#&%+ ", *c) ? "%%%02X" : "%c",
                       (unsigned char)*c);
    }
    if (v->filtered)
        pages_filter_query(&path, v->req, &sep);
    pages_url(b, v->req, buf_cstr(&path));
    buf_free(&path);
}

static void
neighbour_link(pd_buf *b, const struct order_view *v,
               const struct order_summary *o, const char *rel,
               const char *label)
{
    if (o == NULL) {
        buf_printf(b, "<span class=\"btn\" aria-disabled=\"true\">%s"
                      "</span>", label);
        return;
    }
    buf_printf(b, "<a class=\"btn\" rel=\"%s\" id=\"%s\" href=\"", rel,
               rel);
    filter_href(b, v, o);
    buf_printf(b, "\">%s ", label);
    pages_text(b, o->name);
    buf_puts(b, "</a>");
}

/* "All orders" back to the filtered list, and previous / next. */
static void
order_nav(pd_buf *b, const struct order_view *v)
{
    buf_puts(b, "<nav class=\"back\" aria-label=\"Orders\"><a href=\"");
    filter_href(b, v, NULL);
    buf_puts(b, "\">← All orders</a>");
    if (v->filtered) {
        buf_puts(b, " <span class=\"btns\">");
        neighbour_link(b, v, v->prev, "prev", "Previous");
        neighbour_link(b, v, v->next, "next", "Next");
        buf_puts(b, "</span>");
    }
    buf_puts(b, "</nav>");
}

/* ---- GET /dashboard/orders/{order} ---- */

static void
render(pd_buf *b, const struct order_view *v)
{
    pages_head(b, v->req, v->o->order.name);
    order_nav(b, v);
    order_header(b, v);
    actions(b, v);
    for (int i = 0; i < v->o->order.n_pets; i++)
        pet_section(b, v, &v->o->order.pets[i], i);
    pages_timeline(b, v->o, v->can_act);
    pages_foot(b);
}

int
web_page_order(http_req *req)
{
    struct order_detail o;
    struct order_view v = {.req = req, .o = &o, .who = guard_staff(req)};
    db *d = db_thread();
    pd_buf b;
    int rc;

    if (d == NULL)
        return PD_EUNAVAIL;
    if (v.who == NULL)
        return http_error(req, 403, NULL, "Staff only.");
    rc = orders_get(d, http_param(req, "order"), http_arena(req), &o);
    if (rc == PD_ENOTFOUND || rc == PD_EINVAL)
        return http_error(req, 404, NULL, "There is no such order.");
    if (rc != PD_OK)
        return rc;
    v.can_act = v.who->role >= ROLE_FULFILLER;
    v.ref = o.order.number > 0
                ? arena_printf(http_arena(req), "%lld",
                               (long long)o.order.number)
                : o.order.name + (o.order.name[0] == '#');
    if (v.ref == NULL)
        return PD_ENOMEM;
    if ((rc = neighbours(d, &v)) != PD_OK)
        return rc;
    buf_init(&b);
    render(&b, &v);
    rc = pages_send(req, &b);
    buf_free(&b);
    return rc;
}
