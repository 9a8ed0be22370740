/*
 * api_orders.c — the orders JSON API: the list (filters, search, cursor,
 * counts), one order in full, moving an order through the workflow and
 * adding a note. Parameters are checked here with messages that say
 * what was wrong; the orders module does the work.
 */
#include "web/web.h"

#include "web/answer_cache.h"

#include "crypto/pii.h"

#include "auth/guard.h"
#include "common/err.h"
#include "db/db.h"
#include "obs/log.h"
#include "orders/orders.h"
#include "orders/print.h"

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* Times a client may pass: from the epoch to the year 9999. */
#define TIME_MS_MAX 253402300799999LL

/* ---- errors ---- */

/* Answers a pd_err with its status and, when given, the module's text. */
static int
fail(http_req *req, int rc, const char *message)
{
    int status = http_status_for_err(rc);

    if (message == NULL || message[0] == '\0')
        message = status == 404 ? "no such order" : pd_err_str(rc);
    if (status >= 500)
        log_error("orders api: %s", pd_err_str(rc));
    return http_error(req, status, NULL, message);
}

/* ---- JSON writers ---- */

/* An id that may exceed 2^53 goes out as a string, null when unknown. */
static void
json_big_id(pd_buf *b, int64_t v)
{
    if (v == 0)
        buf_puts(b, "null");
    else
        buf_printf(b, "\"%lld\"", (long long)v);
}

static void
json_ms(pd_buf *b, const char *key, int64_t v)
{
    if (v == 0)
        buf_printf(b, ",\"%s\":null", key);
    else
        buf_printf(b, ",\"%s\":%lld", key, (long long)v);
}

static void
json_pet(pd_buf *b, const struct order_pet *p)
{
    buf_printf(b, "{\"id\":%lld,\"position\":%d,\"name\":", (long long)p->id,
               p->position);
    buf_json_string(b, p->name);
    buf_puts(b, ",\"print_size\":");
    buf_json_string(b, p->print_size);
    buf_puts(b, ",\"product_title\":");
    buf_json_string(b, p->product_title);
    buf_puts(b, ",\"variant_title\":");
    buf_json_string(b, p->variant_title);
    buf_printf(b, ",\"quantity\":%d,\"line_item_id\":", p->quantity);
    json_big_id(b, p->line_item_id);
    buf_puts(b, ",\"original_image\":");
    buf_json_string(b, p->original_image_id);
    buf_puts(b, ",\"processed_image\":");
    buf_json_string(b, p->processed_image_id);
    buf_puts(b, ",\"thumb_image\":");
    buf_json_string(b, p->thumb_image_id);
    if (p->print_dpi > 0)
        buf_printf(b, ",\"print_dpi\":%d", p->print_dpi);
    else
        buf_puts(b, ",\"print_dpi\":null");
    buf_printf(b, ",\"print_readiness\":\"%s\"}",
               print_readiness_name((enum print_readiness)p->readiness));
}

/* The fields of a summary, without the closing brace. */
static void
json_summary_open(pd_buf *b, const struct order_summary *o)
{
    buf_printf(b, "{\"id\":%lld,\"name\":", (long long)o->id);
    buf_json_string(b, o->name);
    if (o->number > 0)
        buf_printf(b, ",\"number\":%lld", (long long)o->number);
    else
        buf_puts(b, ",\"number\":null");
    buf_puts(b, ",\"status\":");
    buf_json_string(b, o->status);
    buf_printf(b, ",\"created_at\":%lld,\"updated_at\":%lld",
               (long long)o->created_at, (long long)o->updated_at);
    json_ms(b, "status_changed_at", o->status_changed_at);
    buf_printf(b, ",\"warning_flags\":%d", o->warning_flags);
    if (o->claimed_by > 0) {
        buf_printf(b, ",\"claimed_by\":{\"id\":%lld,\"name\":",
                   (long long)o->claimed_by);
        buf_json_string(b, o->claimed_by_name);
        buf_puts(b, "}");
    } else {
        buf_puts(b, ",\"claimed_by\":null");
    }
    json_ms(b, "claimed_at", o->claimed_at);
    buf_puts(b, ",\"pets\":[");
    for (int i = 0; i < o->n_pets; i++) {
        if (i > 0)
            buf_puts(b, ",");
        json_pet(b, &o->pets[i]);
    }
    buf_puts(b, "]");
}

static void
json_next(pd_buf *b, const struct order_detail *o)
{
    buf_puts(b, ",\"held_from\":");
    buf_json_string(b, o->held_from);
    buf_puts(b, ",\"next\":[");
    for (int i = 0; i < o->n_next; i++) {
        buf_puts(b, i ? "," : "");
        buf_json_string(b, o->next[i]);
    }
    buf_puts(b, "]");
}

static void
json_counts(pd_buf *b, const struct orders_counts *c)
{
    buf_puts(b, "{");
    for (int i = 0; i < ORDER_STATUS_COUNT; i++)
        buf_printf(b, "\"%s\":%lld,", orders_status_name(i),
                   (long long)c->by_status[i]);
    buf_printf(b, "\"open\":%lld,\"all\":%lld}", (long long)c->open,
               (long long)c->total);
}

/* ---- GET /api/v1/orders ---- */

/* A query parameter as a number in [min, max]; 400 answered if not. */
static int
query_number(http_req *req, const char *name, int64_t min, int64_t max,
             bool *has, int64_t *out)
{
    const char *v = http_query(req, name);
    char msg[120];

    *has = v != NULL && v[0] != '\0';
    if (!*has || pd_parse_i64(v, min, max, out) == PD_OK)
        return PD_OK;
    if (strcmp(name, "limit") == 0)
        snprintf(msg, sizeof(msg), "limit must be a number from %lld to "
                 "%lld", (long long)min, (long long)max);
    else
        snprintf(msg, sizeof(msg), "%s must be a time in milliseconds "
                 "since the epoch", name);
    http_error(req, 400, NULL, msg);
    return PD_EINVAL;
}

/*
 * A q that is an e-mail address is looked up by its blind index: e-mail
 * addresses are stored only sealed, never as searchable text.
 */
static int
email_filter(http_req *req, struct orders_filter *f)
{
    const pii_keys *keys = web_app()->keys;
    unsigned char *index, *previous;

    if (f->q == NULL || strchr(f->q, '@') == NULL || keys == NULL)
        return PD_OK;
    index = arena_alloc(http_arena(req), 2 * PII_INDEX_LEN);
    if (index == NULL)
        return PD_ENOMEM;
    previous = index + PII_INDEX_LEN;
    if (pii_email_index(keys, f->q, index) != PD_OK)
        return PD_ERR;
    f->email_index = index;
    if (pii_email_index_previous(keys, f->q, previous) == PD_OK)
        f->email_index_previous = previous;
    return PD_OK;
}

/* Fills the filter from the query; answers 400 itself when bad. */
/* warnings=1: print-readiness warnings only; claimed=me: my claims. */
static int
read_flags(http_req *req, struct orders_filter *f)
{
    const char *w = http_query(req, "warnings");
    const char *c = http_query(req, "claimed");
    const struct staff *who = guard_staff(req);

    if ((w != NULL && strcmp(w, "1") != 0 && strcmp(w, "0") != 0) ||
        (c != NULL && c[0] != '\0' && strcmp(c, "me") != 0)) {
        http_error(req, 400, NULL, "warnings must be 0 or 1; claimed must "
                   "be me");
        return PD_EINVAL;
    }
    f->warnings_only = w != NULL && strcmp(w, "1") == 0;
    if (c != NULL && c[0] != '\0' && who != NULL)
        f->claimed_by = who->id;
    return PD_OK;
}

static int
read_filter(http_req *req, struct orders_filter *f, bool *counts)
{
    int64_t limit = 0;
    bool has_limit;
    const char *c = http_query(req, "counts");

    memset(f, 0, sizeof(*f));
    f->status = http_query(req, "status");
    f->q = http_query(req, "q");
    f->cursor = http_query(req, "cursor");
    if (f->cursor != NULL && f->cursor[0] == '\0')
        f->cursor = NULL;
    *counts = c != NULL && strcmp(c, "1") == 0;
    if (query_number(req, "limit", 1, ORDERS_LIMIT_MAX, &has_limit,
                     &limit) != PD_OK ||
        query_number(req, "from", 0, TIME_MS_MAX, &f->has_from,
                     &f->from_ms) != PD_OK ||
        query_number(req, "to", 0, TIME_MS_MAX, &f->has_to,
                     &f->to_ms) != PD_OK)
        return PD_EINVAL;
    f->limit = (int)limit;
    if (read_flags(req, f) != PD_OK)
        return PD_EINVAL;
    return email_filter(req, f);
}

static void
json_page(pd_buf *b, const struct orders_page *page)
{
    buf_puts(b, "{\"orders\":[");
    for (int i = 0; i < page->n; i++) {
        buf_puts(b, i ? "," : "");
        json_summary_open(b, &page->rows[i]);
        buf_puts(b, "}");
    }
    buf_puts(b, "],\"next_cursor\":");
    buf_json_string(b, page->next_cursor);
}

int
web_api_orders_list(http_req *req)
{
    struct orders_filter f;
    struct orders_page page;
    struct orders_counts counts;
    bool want_counts;
    db *d = db_thread();
    const char *key = answer_cache_key(req, "orders.json");
    uint64_t generation = answer_cache_generation();
    pd_buf b;
    int rc;

    if (key != NULL && answer_cache_send(req, key, &rc))
        return rc;
    if (d == NULL)
        return PD_EUNAVAIL;
    if (read_filter(req, &f, &want_counts) != PD_OK)
        return 0;
    rc = orders_list(d, &f, http_arena(req), &page);
    if (rc != PD_OK)
        return fail(req, rc, page.message);
    if (want_counts && (rc = orders_count_shared(d, &f, &counts)) != PD_OK)
        return fail(req, rc, NULL);
    buf_init(&b);
    json_page(&b, &page);
    if (want_counts) {
        buf_puts(&b, ",\"counts\":");
        json_counts(&b, &counts);
    }
    buf_puts(&b, "}\n");
    rc = key != NULL ? answer_cache_send_new(req, key, generation,
                                             "application/json", false, &b)
                     : http_respond_json(req, 200, &b);
    buf_free(&b);
    return rc;
}

/* ---- GET /api/v1/orders/{order} ---- */

static void
json_images(pd_buf *b, const struct order_detail *o)
{
    buf_puts(b, ",\"images\":[");
    for (int i = 0; i < o->n_images; i++) {
        const struct order_image *im = &o->images[i];

        buf_puts(b, i ? ",{\"id\":" : "{\"id\":");
        buf_json_string(b, im->id);
        buf_puts(b, ",\"kind\":");
        buf_json_string(b, im->kind);
        buf_puts(b, ",\"format\":");
        buf_json_string(b, im->format);
        buf_puts(b, ",\"tier\":");
        buf_json_string(b, im->tier);
        buf_printf(b, ",\"bytes\":%lld,\"width\":%d,\"height\":%d,"
                   "\"created_at\":%lld,\"deleted\":%s}",
                   (long long)im->bytes, im->width, im->height,
                   (long long)im->created_at, im->deleted ? "true" : "false");
    }
    buf_puts(b, "]");
}

static void
json_history(pd_buf *b, const struct order_detail *o)
{
    buf_puts(b, ",\"history\":[");
    for (int i = 0; i < o->n_history; i++) {
        const struct order_event *ev = &o->history[i];

        buf_puts(b, i ? ",{\"from\":" : "{\"from\":");
        buf_json_string(b, ev->from);
        buf_puts(b, ",\"to\":");
        buf_json_string(b, ev->to);
        buf_puts(b, ",\"actor\":");
        buf_json_string(b, ev->actor);
        buf_printf(b, ",\"at\":%lld}", (long long)ev->at);
    }
    buf_puts(b, "]");
}

static void
json_note(pd_buf *b, const struct order_note *n)
{
    buf_printf(b, "{\"id\":%lld,\"author\":", (long long)n->id);
    buf_json_string(b, n->author);
    buf_puts(b, ",\"body\":");
    buf_json_string(b, n->body);
    buf_printf(b, ",\"created_at\":%lld", (long long)n->created_at);
}

static void
json_notes(pd_buf *b, const struct order_detail *o)
{
    buf_puts(b, ",\"notes\":[");
    for (int i = 0; i < o->n_notes; i++) {
        buf_puts(b, i ? "," : "");
        json_note(b, &o->notes[i]);
        buf_puts(b, "}");
    }
    buf_puts(b, "]");
}

static void
json_activity(pd_buf *b, const struct order_detail *o)
{
    buf_puts(b, ",\"activity\":[");
    for (int i = 0; i < o->n_activity; i++) {
        const struct order_activity *ev = &o->activity[i];

        buf_printf(b, "%s{\"at\":%lld,\"actor\":", i ? "," : "",
                   (long long)ev->at);
        buf_json_string(b, ev->actor);
        buf_puts(b, ",\"action\":");
        buf_json_string(b, ev->action);
        buf_puts(b, ",\"target_type\":");
        buf_json_string(b, ev->target_type);
        buf_puts(b, ",\"target_id\":");
        buf_json_string(b, ev->target_id);
        buf_puts(b, "}");
    }
    buf_puts(b, "]");
}

static void
json_detail(pd_buf *b, const struct order_detail *o)
{
    static const struct {
        const char *key;
        size_t off;
    } text[] = {
        {"financial_status", offsetof(struct order_detail, financial_status)},
        {"fulfillment_status",
         offsetof(struct order_detail, fulfillment_status)},
        {"tags", offsetof(struct order_detail, tags)},
        {"currency", offsetof(struct order_detail, currency)},
        {"total_price", offsetof(struct order_detail, total_price)},
        {"customer_note", offsetof(struct order_detail, customer_note)},
    };

    json_summary_open(b, &o->order);
    json_next(b, o);
    buf_puts(b, ",\"shopify_id\":");
    json_big_id(b, o->shopify_id);
    for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++) {
        buf_printf(b, ",\"%s\":", text[i].key);
        buf_json_string(b, *(const char *const *)((const char *)o +
                                                   text[i].off));
    }
    json_images(b, o);
    json_history(b, o);
    json_notes(b, o);
    json_activity(b, o);
    buf_puts(b, "}");
}

int
web_api_order_get(http_req *req)
{
    struct order_detail o;
    db *d = db_thread();
    pd_buf b;
    int rc;

    if (d == NULL)
        return PD_EUNAVAIL;
    rc = orders_get(d, http_param(req, "order"), http_arena(req), &o);
    if (rc != PD_OK)
        return fail(req, rc, NULL);
    buf_init(&b);
    buf_puts(&b, "{\"order\":");
    json_detail(&b, &o);
    buf_puts(&b, "}\n");
    rc = http_respond_json(req, 200, &b);
    buf_free(&b);
    return rc;
}

/* ---- POST bodies ---- */

/* The body as a JSON object; answers 400 itself when it is not one. */
static json_t *
read_object(http_req *req)
{
    size_t len = 0;
    const char *body = http_body(req, &len);
    json_error_t err;
    json_t *j = NULL;
    char msg[sizeof(err.text) + 96];

    if (body != NULL && len > 0)
        j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
    if (j != NULL && json_is_object(j))
        return j;
    if (j == NULL && body != NULL && len > 0)
        snprintf(msg, sizeof(msg), "the body is not valid JSON: %s (line "
                 "%d, column %d)", err.text, err.line, err.column);
    else
        snprintf(msg, sizeof(msg), "the body must be a JSON object");
    json_decref(j);
    http_error(req, 400, NULL, msg);
    return NULL;
}

/* A string member (NULL when absent or null); 400 answered when it is
 * of another type or required and missing. */
static int
member_string(http_req *req, json_t *obj, const char *key, bool required,
              const char **out)
{
    json_t *v = json_object_get(obj, key);
    char msg[120];

    *out = NULL;
    if (json_is_string(v) && json_string_length(v) ==
                                 strlen(json_string_value(v))) {
        *out = json_string_value(v);
        return PD_OK;
    }
    if ((v == NULL || json_is_null(v)) && !required)
        return PD_OK;
    snprintf(msg, sizeof(msg), "\"%s\" must be %s", key,
             v == NULL || json_is_null(v) ? "given" : "a string");
    http_error(req, 400, NULL, msg);
    return PD_EINVAL;
}

/* The idempotency key: the body's, else the Idempotency-Key header. */
static int
idempotency_key(http_req *req, json_t *obj, const char **out)
{
    const char *header = http_header(req, "Idempotency-Key");

    if (member_string(req, obj, "idempotency_key", false, out) != PD_OK)
        return PD_EINVAL;
    if (*out != NULL && header != NULL && strcmp(*out, header) != 0) {
        http_error(req, 400, NULL, "the Idempotency-Key header and "
                                   "\"idempotency_key\" differ");
        return PD_EINVAL;
    }
    if (*out == NULL && header != NULL && header[0] != '\0')
        *out = header;
    return PD_OK;
}

/* What a change returns: {"order": summary with next moves, and
 * "change": the move or "note": the note as stored}. */
static int
answer_change(http_req *req, db *d, const struct orders_change *c,
              bool is_note)
{
    struct order_detail o;
    pd_buf b;
    int rc = orders_get(d, http_param(req, "order"), http_arena(req), &o);

    if (rc != PD_OK)
        return fail(req, rc, NULL);
    buf_init(&b);
    buf_puts(&b, "{\"order\":");
    json_summary_open(&b, &o.order);
    json_next(&b, &o);
    if (is_note) {
        buf_puts(&b, "},\"note\":");
        for (int i = 0; i < o.n_notes; i++)
            if (o.notes[i].id == c->note_id)
                json_note(&b, &o.notes[i]);
    } else {
        buf_puts(&b, "},\"change\":{\"from\":");
        buf_json_string(&b, c->from);
        buf_puts(&b, ",\"to\":");
        buf_json_string(&b, c->to);
        buf_printf(&b, ",\"at\":%lld", (long long)c->at);
    }
    buf_printf(&b, ",\"replayed\":%s}}\n", c->replayed ? "true" : "false");
    rc = http_respond_json(req, 200, &b);
    buf_free(&b);
    return rc;
}

/* ---- POST /api/v1/orders/{order}/status ---- */

/* 409 for a move: the message and the status the order is in now. */
static int
conflict(http_req *req, const struct orders_change *c)
{
    pd_buf b;
    int rc;

    if (c->status[0] == '\0')
        return fail(req, PD_ECONFLICT, c->message);
    buf_init(&b);
    buf_puts(&b, "{\"error\":{\"code\":\"conflict\",\"message\":");
    buf_json_string(&b, c->message);
    buf_puts(&b, ",\"status\":");
    buf_json_string(&b, c->status);
    buf_puts(&b, "}}\n");
    rc = http_respond_json(req, 409, &b);
    buf_free(&b);
    return rc;
}

static void
audit_move(http_req *req, const struct orders_change *c)
{
    char detail[96];

    snprintf(detail, sizeof(detail), "{\"from\":\"%s\",\"to\":\"%s\"}",
             c->from, c->to);
    if (guard_audit(req, "order.status", "order", c->name, c->order_id,
                    detail) != PD_OK)
        log_error("audit: cannot record the move of %s", c->name);
}

int
web_api_order_status(http_req *req)
{
    const struct staff *who = guard_staff(req);
    const char *to, *expected, *key;
    char actor[ORDERS_ACTOR_MAX];
    struct orders_change c;
    db *d = db_thread();
    json_t *j;
    int rc;

    if (d == NULL || who == NULL)
        return d == NULL ? PD_EUNAVAIL : PD_ERR;
    if ((j = read_object(req)) == NULL)
        return 0;
    if (member_string(req, j, "to", true, &to) != PD_OK ||
        member_string(req, j, "expected_from", false, &expected) != PD_OK ||
        idempotency_key(req, j, &key) != PD_OK) {
        json_decref(j);
        return 0;
    }
    staff_actor(who, actor, sizeof(actor));
    rc = orders_move(d, http_param(req, "order"), to, actor, key, expected,
                     &c);
    json_decref(j);
    if (rc == PD_ECONFLICT)
        return conflict(req, &c);
    if (rc != PD_OK)
        return fail(req, rc, c.message);
    if (!c.replayed)
        audit_move(req, &c);
    return answer_change(req, d, &c, false);
}

/* ---- POST /api/v1/orders/{order}/notes ---- */

int
web_api_order_note(http_req *req)
{
    const struct staff *who = guard_staff(req);
    const char *body, *key;
    char actor[ORDERS_ACTOR_MAX], detail[64];
    struct orders_change c;
    db *d = db_thread();
    json_t *j;
    int rc;

    if (d == NULL || who == NULL)
        return d == NULL ? PD_EUNAVAIL : PD_ERR;
    if ((j = read_object(req)) == NULL)
        return 0;
    if (member_string(req, j, "body", true, &body) != PD_OK ||
        idempotency_key(req, j, &key) != PD_OK) {
        json_decref(j);
        return 0;
    }
    staff_actor(who, actor, sizeof(actor));
    rc = orders_add_note(d, http_param(req, "order"), actor, body, key, &c);
    json_decref(j);
    if (rc != PD_OK)
        return fail(req, rc, c.message);
    snprintf(detail, sizeof(detail), "{\"note_id\":%lld}",
             (long long)c.note_id);
    if (!c.replayed && guard_audit(req, "order.note", "order", c.name,
                                   c.order_id, detail) != PD_OK)
        log_error("audit: cannot record the note on %s", c.name);
    return answer_change(req, d, &c, true);
}
