/*
 * detail.c — one order in full for its page: the order, its pets, every
 * image that belongs to it, its status history, its notes, what else
 * happened to it (the audit log), and where the workflow lets it go next.
 */
#include "orders/orders_internal.h"

#include "common/err.h"

#include <string.h>

/* Rows of each list an order shows at most (history, notes, images);
 * more are left out. */
#define DETAIL_ROWS_MAX 1000

static int
read_order(db *d, int64_t id, arena *a, struct order_detail *out)
{
    static const char sql[] =
        "SELECT " ORDERS_SUMMARY_COLS ", shopify_id, financial_status, "
        "fulfillment_status, tags, currency, total_price, note "
        "FROM orders WHERE id = ?";
    db_rows *r = NULL;
    int rc = db_query(d, sql, (db_arg[]){DB_INT(id)}, 1, &r);
    int c = ORDERS_SUMMARY_NCOLS;

    if (rc == PD_OK && (rc = db_step(r)) == 1) {
        rc = orders_read_summary(r, a, &out->order);
        out->shopify_id = db_col_null(r, c) ? 0 : db_col_int(r, c);
        out->financial_status = orders_col_str(r, c + 1, a);
        out->fulfillment_status = orders_col_str(r, c + 2, a);
        out->tags = orders_col_str(r, c + 3, a);
        out->currency = orders_col_str(r, c + 4, a);
        out->total_price = orders_col_str(r, c + 5, a);
        out->customer_note = orders_col_str(r, c + 6, a);
    } else if (rc == 0) {
        rc = PD_ENOTFOUND; /* deleted since it was resolved */
    }
    db_rows_free(r);
    return rc;
}

static int
read_images(db *d, int64_t id, arena *a, struct order_detail *out)
{
    /* A UNION, not ORs: each part walks its own index. */
    static const char sql[] =
        "SELECT id, kind, format, tier, bytes, width, height, created_at, "
        "deleted_at FROM images WHERE order_id = ? UNION "
        "SELECT i.id, i.kind, i.format, i.tier, i.bytes, i.width, i.height, "
        "i.created_at, i.deleted_at FROM pets p JOIN images i "
        "ON i.id = p.original_image_id WHERE p.order_id = ? UNION "
        "SELECT i.id, i.kind, i.format, i.tier, i.bytes, i.width, i.height, "
        "i.created_at, i.deleted_at FROM pets p JOIN images i "
        "ON i.id = p.processed_image_id WHERE p.order_id = ? "
        "ORDER BY 8, 1";
    db_rows *r = NULL;
    int cap = 0, rc;

    rc = db_query(d, sql, (db_arg[]){DB_INT(id), DB_INT(id), DB_INT(id)}, 3,
                  &r);
    while (rc == PD_OK && (rc = db_step(r)) == 1) {
        struct order_image *im;

        rc = orders_grow(a, (void **)&out->images, &cap, out->n_images,
                         sizeof(*im), DETAIL_ROWS_MAX);
        if (rc != PD_OK)
            break;
        im = &out->images[out->n_images++];
        im->id = orders_col_str(r, 0, a);
        im->kind = orders_col_str(r, 1, a);
        im->format = orders_col_str(r, 2, a);
        im->tier = orders_col_str(r, 3, a);
        im->bytes = db_col_int(r, 4);
        im->width = (int)db_col_int(r, 5);
        im->height = (int)db_col_int(r, 6);
        im->created_at = db_col_int(r, 7);
        im->deleted = !db_col_null(r, 8);
    }
    db_rows_free(r);
    return rc < 0 && rc != PD_ETOOBIG ? rc : PD_OK;
}

static int
read_history(db *d, int64_t id, arena *a, struct order_detail *out)
{
    static const char sql[] =
        "SELECT from_status, to_status, actor, at FROM status_history "
        "WHERE order_id = ? ORDER BY at, id";
    db_rows *r = NULL;
    int cap = 0, rc = db_query(d, sql, (db_arg[]){DB_INT(id)}, 1, &r);

    while (rc == PD_OK && (rc = db_step(r)) == 1) {
        struct order_event *ev;

        rc = orders_grow(a, (void **)&out->history, &cap, out->n_history,
                         sizeof(*ev), DETAIL_ROWS_MAX);
        if (rc != PD_OK)
            break;
        ev = &out->history[out->n_history++];
        ev->from = orders_col_str(r, 0, a);
        ev->to = orders_col_str(r, 1, a);
        ev->actor = orders_col_str(r, 2, a);
        ev->at = db_col_int(r, 3);
    }
    db_rows_free(r);
    return rc < 0 && rc != PD_ETOOBIG ? rc : PD_OK;
}

static int
read_notes(db *d, int64_t id, arena *a, struct order_detail *out)
{
    static const char sql[] =
        "SELECT id, author, body, created_at FROM notes "
        "WHERE order_id = ? ORDER BY created_at, id";
    db_rows *r = NULL;
    int cap = 0, rc = db_query(d, sql, (db_arg[]){DB_INT(id)}, 1, &r);

    while (rc == PD_OK && (rc = db_step(r)) == 1) {
        struct order_note *note;

        rc = orders_grow(a, (void **)&out->notes, &cap, out->n_notes,
                         sizeof(*note), DETAIL_ROWS_MAX);
        if (rc != PD_OK)
            break;
        note = &out->notes[out->n_notes++];
        note->id = db_col_int(r, 0);
        note->author = orders_col_str(r, 1, a);
        note->body = orders_col_str(r, 2, a);
        note->created_at = db_col_int(r, 3);
    }
    db_rows_free(r);
    return rc < 0 && rc != PD_ETOOBIG ? rc : PD_OK;
}

/* The state the latest hold came from, read off the history. */
static const char *
held_from(const struct order_detail *o)
{
    for (int i = o->n_history - 1; i >= 0; i--)
        if (o->history[i].to != NULL &&
            strcmp(o->history[i].to, "on_hold") == 0)
            return o->history[i].from;
    return NULL;
}

/*
 * Everything else the audit log knows of the order, newest last: photo
 * views and downloads, zips, claims, Shopify's events. Moves and notes
 * have their own lists.
 */
static int
read_activity(db *d, int64_t id, arena *a, struct order_detail *out)
{
    static const char sql[] =
        "SELECT at, actor, action, target_type, target_id FROM audit_log "
        "WHERE order_id = ? AND action NOT IN ('order.status', "
        "'order.note') ORDER BY at, id";
    db_rows *r = NULL;
    int cap = 0, rc = db_query(d, sql, (db_arg[]){DB_INT(id)}, 1, &r);

    while (rc == PD_OK && (rc = db_step(r)) == 1) {
        struct order_activity *ev;

        rc = orders_grow(a, (void **)&out->activity, &cap, out->n_activity,
                         sizeof(*ev), DETAIL_ROWS_MAX);
        if (rc != PD_OK)
            break;
        ev = &out->activity[out->n_activity++];
        ev->at = db_col_int(r, 0);
        ev->actor = orders_col_str(r, 1, a);
        ev->action = orders_col_str(r, 2, a);
        ev->target_type = orders_col_str(r, 3, a);
        ev->target_id = orders_col_str(r, 4, a);
    }
    db_rows_free(r);
    return rc < 0 && rc != PD_ETOOBIG ? rc : PD_OK;
}

int
orders_get(db *d, const char *ref, arena *a, struct order_detail *out)
{
    struct order_ref found;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = orders_resolve(d, ref, &found);
    if (rc == PD_OK)
        rc = read_order(d, found.id, a, out);
    if (rc == PD_OK)
        rc = orders_load_pets(d, a, &out->order, 1);
    if (rc == PD_OK)
        rc = read_images(d, found.id, a, out);
    if (rc == PD_OK)
        rc = read_history(d, found.id, a, out);
    if (rc == PD_OK)
        rc = read_notes(d, found.id, a, out);
    if (rc == PD_OK)
        rc = read_activity(d, found.id, a, out);
    if (rc != PD_OK)
        return rc;
    if (strcmp(out->order.status, "on_hold") == 0)
        out->held_from = held_from(out);
    out->n_next = orders_next_moves(out->order.status, out->held_from,
                                    out->next, ORDER_STATUS_COUNT);
    return PD_OK;
}
