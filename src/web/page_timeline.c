/*
 * page_timeline.c — the order page's timeline: everything that happened
 * to an order, oldest first. Moves (with the time the order then spent
 * in that stage), notes, and the audit log's entries for the order:
 * Shopify's events, claims, zip downloads, and each view and download
 * of a customer's photo, named by pet and kind. Repeats of one thing by
 * one person in a row (a photo opened five times) show as one line.
 */
#include "web/pages.h"

#include "common/arena.h"
#include "orders/orders.h"

#include <stdlib.h>
#include <string.h>

/* Repeats closer than this to the previous one join its line. */
#define REPEAT_JOIN_MS (30 * 60 * 1000)

enum item_kind { ITEM_MOVE, ITEM_NOTE, ITEM_ACTIVITY };

struct item {
    int64_t at;
    enum item_kind kind;
    int index; /* into history, notes or activity */
};

static void
note_form(pd_buf *b)
{
    buf_puts(b, "<form class=\"note-form\" id=\"note-form\"><label "
                "for=\"note\">Add a note</label><textarea id=\"note\" "
                "name=\"body\" rows=\"3\" maxlength=\"4000\" required>"
                "</textarea><button type=\"submit\" class=\"btn\">Add note"
                "</button></form>");
}

static void
move_item(pd_buf *b, const struct order_detail *o, int i, int64_t now)
{
    const struct order_event *ev = &o->history[i];
    int64_t until = i + 1 < o->n_history ? o->history[i + 1].at : now;

    buf_puts(b, "<li class=\"ev\">");
    pages_time(b, ev->at);
    buf_puts(b, " <b>");
    if (ev->from != NULL) {
        pages_text(b, pages_status_label(ev->from));
        buf_puts(b, " → ");
    }
    pages_text(b, pages_status_label(ev->to));
    buf_puts(b, "</b> by ");
    pages_text(b, ev->actor ? ev->actor : "Shopify");
    buf_puts(b, "<span class=\"stay\">");
    pages_text(b, pages_status_label(ev->to));
    buf_puts(b, " for ");
    pages_duration(b, until - ev->at);
    buf_puts(b, i + 1 < o->n_history ? "" : " so far");
    buf_puts(b, "</span></li>");
}

static void
note_item(pd_buf *b, const struct order_note *n)
{
    buf_puts(b, "<li class=\"nt\">");
    pages_time(b, n->created_at);
    buf_puts(b, " <b>Note</b> by ");
    pages_text(b, n->author);
    buf_puts(b, "<span class=\"body\">");
    pages_text(b, n->body);
    buf_puts(b, "</span></li>");
}

/* What an audit action says to staff; NULL for one to show as it is. */
static const char *
action_label(const char *action)
{
    static const struct {
        const char *action, *label;
    } labels[] = {
        {"photo.view", "Viewed"},
        {"photo.download", "Downloaded"},
        {"order.download", "Downloaded the order's zip"},
        {"order.claim", "Claimed"},
        {"order.release", "Released"},
        {"shopify.cancelled", "Cancelled in Shopify"},
        {"shopify.fulfilled", "Fulfilled in Shopify"},
        {"photo.move", "Moved to another storage tier:"},
        {"photo.delete", "Deleted by retention:"},
    };

    for (size_t i = 0; i < sizeof(labels) / sizeof(labels[0]); i++)
        if (strcmp(labels[i].action, action) == 0)
            return labels[i].label;
    return NULL;
}

/* Names the photo with id: "Bella's cut-out", "pet 2's original". */
static void
photo_name(pd_buf *b, const struct order_detail *o, const char *id)
{
    for (int i = 0; id != NULL && i < o->order.n_pets; i++) {
        const struct order_pet *p = &o->order.pets[i];
        bool original = p->original_image_id != NULL &&
                        strcmp(p->original_image_id, id) == 0;
        bool cutout = p->processed_image_id != NULL &&
                      strcmp(p->processed_image_id, id) == 0;

        if (!original && !cutout)
            continue;
        if (p->name != NULL && p->name[0] != '\0') {
            pages_text(b, p->name);
            buf_puts(b, "'s");
        } else {
            buf_printf(b, "pet %d's", i + 1);
        }
        buf_puts(b, original ? " original" : " cut-out");
        return;
    }
    buf_puts(b, "photo ");
    pages_text(b, id ? id : "?");
}

static bool
same_activity(const struct order_activity *a, const struct order_activity *b)
{
    return strcmp(a->action, b->action) == 0 &&
           strcmp(a->actor ? a->actor : "", b->actor ? b->actor : "") == 0 &&
           strcmp(a->target_id ? a->target_id : "",
                  b->target_id ? b->target_id : "") == 0 &&
           b->at - a->at < REPEAT_JOIN_MS;
}

static void
activity_item(pd_buf *b, const struct order_detail *o, int i, int times)
{
    const struct order_activity *ev = &o->activity[i];
    const char *label = action_label(ev->action);
    bool photo = ev->target_type != NULL &&
                 strcmp(ev->target_type, "image") == 0;

    buf_puts(b, "<li class=\"ac\">");
    pages_time(b, ev->at);
    buf_puts(b, " <b>");
    pages_text(b, label ? label : ev->action);
    if (photo) {
        buf_puts(b, " ");
        photo_name(b, o, ev->target_id);
    }
    buf_puts(b, "</b>");
    if (times > 1)
        buf_printf(b, " ×%d", times);
    buf_puts(b, " by ");
    pages_text(b, ev->actor ? ev->actor : "someone");
    buf_puts(b, "</li>");
}

static int
item_order(const void *x, const void *y)
{
    const struct item *a = x, *b = y;

    if (a->at != b->at)
        return a->at < b->at ? -1 : 1;
    if (a->kind != b->kind)
        return a->kind < b->kind ? -1 : 1;
    return a->index - b->index;
}

/* Every entry as an item, sorted by time; NULL when out of memory. */
static struct item *
collect(const struct order_detail *o, int *n)
{
    int total = o->n_history + o->n_notes + o->n_activity, k = 0;
    struct item *items = malloc(sizeof(*items) * (size_t)(total + 1));

    if (items == NULL)
        return NULL;
    for (int i = 0; i < o->n_history; i++)
        items[k++] = (struct item){o->history[i].at, ITEM_MOVE, i};
    for (int i = 0; i < o->n_notes; i++)
        items[k++] = (struct item){o->notes[i].created_at, ITEM_NOTE, i};
    for (int i = 0; i < o->n_activity; i++)
        items[k++] = (struct item){o->activity[i].at, ITEM_ACTIVITY, i};
    qsort(items, (size_t)k, sizeof(*items), item_order);
    *n = k;
    return items;
}

/* The activity item at k and its repeats right after it; returns how
 * many items it took. */
static int
activity_run(pd_buf *b, const struct order_detail *o,
             const struct item *items, int n, int k)
{
    const struct order_activity *first = &o->activity[items[k].index];
    const struct order_activity *last = first;
    int times = 1;

    while (k + times < n && items[k + times].kind == ITEM_ACTIVITY &&
           same_activity(last, &o->activity[items[k + times].index])) {
        last = &o->activity[items[k + times].index];
        times++;
    }
    activity_item(b, o, items[k].index, times);
    return times;
}

void
pages_timeline(pd_buf *b, const struct order_detail *o, bool can_note)
{
    int64_t now = pd_now_ms();
    int n = 0;
    struct item *items = collect(o, &n);

    buf_puts(b, "<section class=\"tl\"><h2>Timeline</h2>");
    if (can_note)
        note_form(b);
    buf_puts(b, "<ol class=\"timeline\" id=\"timeline\">");
    for (int k = 0; items != NULL && k < n;) {
        if (items[k].kind == ITEM_MOVE)
            move_item(b, o, items[k++].index, now);
        else if (items[k].kind == ITEM_NOTE)
            note_item(b, &o->notes[items[k++].index]);
        else
            k += activity_run(b, o, items, n, k);
    }
    if (items == NULL)
        b->failed = true;
    buf_puts(b, "</ol></section>");
    free(items);
}
