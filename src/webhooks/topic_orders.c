/*
 * topic_orders.c — orders/create, updated, paid, cancelled, fulfilled:
 * turns Shopify's REST order payload into the order row (customer data
 * sealed, the newer updated_at wins), Shopify's cancellations and
 * fulfilments, and a pet per photo line item linked to its images.
 */
#include "webhooks/webhooks_internal.h"
#include "webhooks/inbox.h"

#include "common/err.h"
#include "common/util.h"
#include "obs/log.h"
#include "orders/orders.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NAME_LEN_MAX (ORDERS_REF_MAX - 1) /* bytes of an order name */
#define REF_LEN_MAX 128       /* bytes of an image or session id */
#define PET_NAME_MAX 200      /* bytes of a pet's name (clipped) */
#define PRINT_SIZE_MAX 15     /* bytes of a print size such as "8x10" */
#define SHORT_MAX 64          /* bytes of a status, currency or price */
#define LINE_ITEMS_MAX 2000   /* line items of one order */
#define QUANTITY_MAX 100000

/* A photo line item, read from the payload (strings borrowed from it). */
struct pet_in {
    int64_t line_item_id; /* 0 when the item has none */
    int position;
    char pet_name[PET_NAME_MAX + 1];
    const char *title, *variant, *session;
    const char *original, *processed; /* image ids named, or NULL */
    char print_size[PRINT_SIZE_MAX + 1];
    int64_t quantity;
};

/* The fields of the order payload we keep (strings borrowed). */
struct order_in {
    int64_t shopify_id, number; /* number 0: none */
    char name[NAME_LEN_MAX + 1];
    int64_t created_ms, updated_ms;
    const char *financial, *fulfillment, *note, *tags, *currency;
    char total_price[SHORT_MAX + 1];
    bool cancelled, fulfilled;
    const char *session; /* the note attribute _pd_session */
    json_t *payload;
    struct pet_in *pets; /* heap; freed by the caller of read_order */
    int n_pets;
};

/* The customer data of an order, sealed. */
struct pii {
    pd_buf name, email, phone, address;
    unsigned char bidx[PII_INDEX_LEN];
    bool has_bidx;
};

/* One application of a payload. */
struct apply {
    db *d;
    const struct webhook_env *env;
    const struct webhook_delivery *w;
    char *reason;
    size_t rlen;
    struct order_in in;
    int64_t now;
    int64_t id;               /* the order row */
    char status[16];          /* its status now */
    char prev_fulfillment[SHORT_MAX + 1];
    bool created;
    int linked, awaited;      /* images linked, images not there yet */
};

static int invalid(struct apply *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Writes why the payload cannot be applied; returns PD_EINVAL. */
static int
invalid(struct apply *a, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(a->reason, a->rlen, fmt, ap);
    va_end(ap);
    return PD_EINVAL;
}

/* ---- reading the payload ---- */

static const char *
str_of(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* A non-empty string of at most max bytes, else NULL. */
static const char *
short_str(json_t *obj, const char *key, size_t max)
{
    const char *s = str_of(obj, key);

    return s != NULL && s[0] != '\0' && strlen(s) <= max ? s : NULL;
}

/*
 * A 64-bit id: a JSON integer, or a string of digits. 0 on success,
 * PD_ENOTFOUND when absent or null, PD_EINVAL when of another kind.
 */
static int
id_of(json_t *v, int64_t *out)
{
    if (v == NULL || json_is_null(v))
        return PD_ENOTFOUND;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return *out > 0 ? PD_OK : PD_EINVAL;
    }
    if (json_is_string(v))
        return pd_parse_i64(json_string_value(v), 1, INT64_MAX, out);
    return PD_EINVAL;
}

/* Copies at most max bytes of s into out, not splitting a character. */
static void
clip_utf8(const char *s, size_t max, char *out)
{
    size_t n = strlen(s);

    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(out, s, n);
    out[n] = '\0';
}

/* A number at p (digits, maybe ".digits"); its length, 0 when none. */
static size_t
number_len(const char *p)
{
    size_t n = 0;

    while (p[n] >= '0' && p[n] <= '9')
        n++;
    if (n > 0 && p[n] == '.' && p[n + 1] >= '0' && p[n + 1] <= '9')
        for (n++; p[n] >= '0' && p[n] <= '9'; n++)
            ;
    return n;
}

/* The first "W x H" in text (x, X or ×), written "WxH"; false if none. */
static bool
print_size_in(const char *text, char out[PRINT_SIZE_MAX + 1])
{
    for (const char *p = text; p != NULL && *p != '\0'; p++) {
        size_t w = number_len(p), gap = 0, h;
        const char *q;

        if (w == 0 || (p > text && p[-1] >= '0' && p[-1] <= '9'))
            continue;
        q = p + w;
        while (q[gap] == ' ')
            gap++;
        q += gap;
        if (*q == 'x' || *q == 'X')
            q++;
        else if ((unsigned char)q[0] == 0xC3 && (unsigned char)q[1] == 0x97)
            q += 2;
        else
            continue;
        while (*q == ' ')
            q++;
        h = number_len(q);
        if (h == 0 || w + 1 + h > PRINT_SIZE_MAX)
            continue;
        snprintf(out, PRINT_SIZE_MAX + 1, "%.*sx%.*s", (int)w, p, (int)h, q);
        return true;
    }
    return false;
}

/* The photo properties of a line item (or the order's attributes). */
struct props {
    const char *session, *original, *processed, *pet_name, *print_size;
};

/* A property value we keep: a non-empty string of at most max bytes. */
static const char *
prop_value(json_t *v, size_t max)
{
    const char *s = json_string_value(v);

    return s != NULL && s[0] != '\0' && strlen(s) <= max ? s : NULL;
}

/* Reads [{name, value}] into p; PD_EINVAL when it is not such a list. */
static int
read_props(struct apply *a, json_t *arr, const char *where, struct props *p)
{
    size_t i;
    json_t *it;

    memset(p, 0, sizeof(*p));
    if (arr == NULL || json_is_null(arr))
        return PD_OK;
    if (!json_is_array(arr))
        return invalid(a, "%s is not an array", where);
    json_array_foreach(arr, i, it) {
        const char *name = str_of(it, "name");
        json_t *v = json_object_get(it, "value");

        if (name == NULL)
            continue;
        if (strcmp(name, "_pd_session") == 0)
            p->session = prop_value(v, REF_LEN_MAX);
        else if (strcmp(name, "_pd_original") == 0)
            p->original = prop_value(v, REF_LEN_MAX);
        else if (strcmp(name, "_pd_processed") == 0)
            p->processed = prop_value(v, REF_LEN_MAX);
        else if (strcmp(name, "_pet_name") == 0)
            p->pet_name = prop_value(v, 4 * PET_NAME_MAX);
        else if (strcmp(name, "_print_size") == 0)
            p->print_size = prop_value(v, 64);
    }
    return PD_OK;
}

/* Reads line item i; *is_pet is false when it has no photo property. */
static int
read_pet(struct apply *a, json_t *item, size_t i, struct pet_in *pet,
         bool *is_pet)
{
    struct props p;
    char where[64];
    json_t *q = json_object_get(item, "quantity");
    int rc;

    snprintf(where, sizeof(where), "line_items[%zu].properties", i);
    if (!json_is_object(item))
        return invalid(a, "line_items[%zu] is not an object", i);
    rc = read_props(a, json_object_get(item, "properties"), where, &p);
    *is_pet = rc == PD_OK && (p.session || p.original || p.processed ||
                              p.pet_name || p.print_size);
    if (!*is_pet)
        return rc;
    memset(pet, 0, sizeof(*pet));
    rc = id_of(json_object_get(item, "id"), &pet->line_item_id);
    if (rc == PD_EINVAL)
        return invalid(a, "line_items[%zu].id is not an integer id", i);
    clip_utf8(p.pet_name != NULL ? p.pet_name : "", PET_NAME_MAX,
              pet->pet_name);
    pet->title = short_str(item, "title", 1024);
    pet->variant = short_str(item, "variant_title", 1024);
    pet->session = p.session != NULL ? p.session : a->in.session;
    pet->original = p.original;
    pet->processed = p.processed;
    if (!print_size_in(p.print_size, pet->print_size) &&
        p.print_size != NULL && strlen(p.print_size) <= PRINT_SIZE_MAX)
        snprintf(pet->print_size, sizeof(pet->print_size), "%s",
                 p.print_size);
    if (pet->print_size[0] == '\0')
        print_size_in(pet->variant, pet->print_size);
    pet->quantity = json_is_integer(q) ? json_integer_value(q) : 1;
    if (pet->quantity < 1 || pet->quantity > QUANTITY_MAX)
        pet->quantity = 1;
    return PD_OK;
}

/* Reads every photo line item into a->in.pets. */
static int
read_pets(struct apply *a, json_t *items)
{
    size_t i, n;
    json_t *item;
    bool is_pet = false;
    int rc = PD_OK;

    if (items == NULL || json_is_null(items))
        return PD_OK;
    if (!json_is_array(items))
        return invalid(a, "line_items is not an array");
    n = json_array_size(items);
    if (n > LINE_ITEMS_MAX)
        return invalid(a, "the order has more than %d line items",
                       LINE_ITEMS_MAX);
    a->in.pets = calloc(n > 0 ? n : 1, sizeof(*a->in.pets));
    if (a->in.pets == NULL)
        return PD_ENOMEM;
    json_array_foreach(items, i, item) {
        struct pet_in *pet = &a->in.pets[a->in.n_pets];

        rc = read_pet(a, item, i, pet, &is_pet);
        if (rc != PD_OK)
            return rc;
        if (is_pet)
            pet->position = a->in.n_pets++;
    }
    return PD_OK;
}

/* The order's identity: id, name, number. */
static int
read_identity(struct apply *a, json_t *o)
{
    struct order_in *in = &a->in;
    const char *name = str_of(o, "name");
    int rc = id_of(json_object_get(o, "id"), &in->shopify_id);

    if (rc != PD_OK)
        return invalid(a, "the order's id is %s",
                       rc == PD_ENOTFOUND ? "missing" : "not an integer id");
    rc = id_of(json_object_get(o, "order_number"), &in->number);
    if (rc == PD_EINVAL)
        return invalid(a, "order_number is not a positive integer");
    if (name != NULL && name[0] != '\0' && strlen(name) <= NAME_LEN_MAX)
        snprintf(in->name, sizeof(in->name), "%s", name);
    else if (name == NULL && in->number > 0)
        snprintf(in->name, sizeof(in->name), "#%lld",
                 (long long)in->number);
    else
        return invalid(a, "the order's name is missing, empty or longer "
                       "than %d bytes", NAME_LEN_MAX);
    return PD_OK;
}

/* Times, statuses and the other plain fields. */
static int
read_fields(struct apply *a, json_t *o)
{
    struct order_in *in = &a->in;
    json_t *price = json_object_get(o, "total_price");
    const char *topic = a->w->topic;

    if (pd_parse_iso_time(str_of(o, "updated_at"), true, &in->updated_ms) !=
        PD_OK)
        return invalid(a, "updated_at is missing or not an ISO 8601 time");
    if (pd_parse_iso_time(str_of(o, "created_at"), true, &in->created_ms) !=
        PD_OK)
        in->created_ms = in->updated_ms;
    in->financial = short_str(o, "financial_status", SHORT_MAX);
    in->fulfillment = short_str(o, "fulfillment_status", SHORT_MAX);
    in->currency = short_str(o, "currency", SHORT_MAX);
    in->note = str_of(o, "note");
    in->tags = str_of(o, "tags");
    if (json_is_string(price) && json_string_length(price) <= SHORT_MAX)
        snprintf(in->total_price, sizeof(in->total_price), "%s",
                 json_string_value(price));
    else if (json_is_number(price))
        snprintf(in->total_price, sizeof(in->total_price), "%.2f",
                 json_number_value(price));
    in->cancelled = strcmp(topic, "orders/cancelled") == 0 ||
                    str_of(o, "cancelled_at") != NULL;
    in->fulfilled = strcmp(topic, "orders/fulfilled") == 0 ||
                    (in->fulfillment != NULL &&
                     strcmp(in->fulfillment, "fulfilled") == 0);
    return PD_OK;
}

static int
read_order(struct apply *a, json_t *o)
{
    struct props attrs;
    int rc;

    a->in.payload = o;
    rc = read_identity(a, o);
    if (rc == PD_OK)
        rc = read_fields(a, o);
    if (rc == PD_OK)
        rc = read_props(a, json_object_get(o, "note_attributes"),
                        "note_attributes", &attrs);
    a->in.session = rc == PD_OK ? attrs.session : NULL;
    if (rc == PD_OK)
        rc = read_pets(a, json_object_get(o, "line_items"));
    return rc;
}

/* ---- customer data and search text ---- */

/* Seals s (nothing when NULL or empty). */
static int
seal_str(struct apply *a, const char *s, pd_buf *out)
{
    if (s == NULL || s[0] == '\0')
        return PD_OK;
    if (pii_seal(a->env->keys, s, strlen(s), out) != PD_OK || out->failed)
        return PD_ERR;
    return PD_OK;
}

/* The customer's name: first and last, else the shipping name. */
static void
customer_name(json_t *o, pd_buf *out)
{
    json_t *c = json_object_get(o, "customer");
    const char *first = str_of(c, "first_name"), *last = str_of(c, "last_name");
    const char *ship = str_of(json_object_get(o, "shipping_address"), "name");

    if (first != NULL && first[0] != '\0')
        buf_puts(out, first);
    if (last != NULL && last[0] != '\0')
        buf_printf(out, "%s%s", out->len > 0 ? " " : "", last);
    if (out->len == 0 && ship != NULL)
        buf_puts(out, ship);
}

/* The first non-empty string among a, b and c. */
static const char *
first_of(const char *x, const char *y, const char *z)
{
    if (x != NULL && x[0] != '\0')
        return x;
    if (y != NULL && y[0] != '\0')
        return y;
    return z;
}

static int
seal_pii(struct apply *a, struct pii *p)
{
    json_t *o = a->in.payload, *c = json_object_get(o, "customer");
    json_t *ship = json_object_get(o, "shipping_address");
    const char *email = first_of(str_of(o, "email"),
                                 str_of(o, "contact_email"),
                                 str_of(c, "email"));
    const char *phone = first_of(str_of(o, "phone"), str_of(c, "phone"),
                                 str_of(ship, "phone"));
    char *addr = json_is_object(ship) && json_object_size(ship) > 0
                     ? json_dumps(ship, JSON_COMPACT) : NULL;
    pd_buf name;
    int rc;

    buf_init(&name);
    customer_name(o, &name);
    rc = seal_str(a, buf_cstr(&name), &p->name);
    if (rc == PD_OK)
        rc = seal_str(a, email, &p->email);
    if (rc == PD_OK)
        rc = seal_str(a, phone, &p->phone);
    if (rc == PD_OK)
        rc = seal_str(a, addr, &p->address);
    if (rc == PD_OK && email != NULL && email[0] != '\0') {
        pii_email_index(a->env->keys, email, p->bidx);
        p->has_bidx = true;
    }
    buf_free(&name);
    free(addr);
    return rc;
}

static db_arg
blob_arg(const pd_buf *b)
{
    return b->len > 0 ? DB_BLOB(b->data, b->len) : DB_NULL;
}

/*
 * What staff search for: name, number, pet names, note and tags (never
 * customer data), then the words of staff notes already on the order.
 */
static int
build_search(struct apply *a, pd_buf *b)
{
    char number[24];
    db_rows *r = NULL;
    int rc = PD_OK;

    orders_search_add(b, a->in.name);
    snprintf(number, sizeof(number), "%lld", (long long)a->in.number);
    orders_search_add(b, a->in.number > 0 ? number : NULL);
    for (int i = 0; i < a->in.n_pets; i++)
        orders_search_add(b, a->in.pets[i].pet_name);
    orders_search_add(b, a->in.note);
    orders_search_add(b, a->in.tags);
    if (a->id > 0)
        rc = db_query(a->d, "SELECT body FROM notes WHERE order_id = ? "
                            "ORDER BY id", (db_arg[]){DB_INT(a->id)}, 1, &r);
    while (rc == PD_OK && r != NULL && (rc = db_step(r)) == 1) {
        buf_puts(b, " ");
        buf_puts(b, db_col_text(r, 0));
        rc = PD_OK;
    }
    db_rows_free(r);
    if (rc == PD_OK && b->failed)
        rc = PD_ENOMEM;
    return rc;
}

/* ---- the order row ---- */

/* Finds the order by Shopify id (locked on PostgreSQL); PD_ENOTFOUND. */
static int
find_order(struct apply *a, int64_t *stored_updated)
{
    const char *sql = db_kind(a->d) == DB_POSTGRES
        ? "SELECT id, status, fulfillment_status, shopify_updated_at "
          "FROM orders WHERE shopify_id = ? FOR UPDATE"
        : "SELECT id, status, fulfillment_status, shopify_updated_at "
          "FROM orders WHERE shopify_id = ?";
    db_rows *r = NULL;
    int rc = db_query(a->d, sql, (db_arg[]){DB_INT(a->in.shopify_id)}, 1,
                      &r);

    if (rc == PD_OK && (rc = db_step(r)) == 1) {
        a->id = db_col_int(r, 0);
        snprintf(a->status, sizeof(a->status), "%s", db_col_text(r, 1));
        snprintf(a->prev_fulfillment, sizeof(a->prev_fulfillment), "%s",
                 db_col_text(r, 2));
        *stored_updated = db_col_null(r, 3) ? 0 : db_col_int(r, 3);
        rc = PD_OK;
    } else if (rc == 0) {
        rc = PD_ENOTFOUND;
    }
    db_rows_free(r);
    return rc;
}

/* Inserts the order as pending; *inserted is false when a unique key
 * (Shopify id or name) is taken. */
static int
insert_order(struct apply *a, const struct pii *p, const char *search,
             bool *inserted)
{
    const struct order_in *in = &a->in;
    db_rows *r = NULL;
    int rc = db_query(a->d,
        "INSERT INTO orders (shopify_id, order_number, name, status, "
        "financial_status, fulfillment_status, created_at, updated_at, "
        "shopify_created_at, shopify_updated_at, status_changed_at, "
        "customer_name_enc, email_enc, phone_enc, address_enc, pii_key_id, "
        "email_bidx, note, tags, currency, total_price, search_text) "
        "VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
        "?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
        (db_arg[]){DB_INT(in->shopify_id),
                   in->number > 0 ? DB_INT(in->number) : DB_NULL,
                   DB_TEXT(in->name), DB_TEXT(in->financial),
                   DB_TEXT(in->fulfillment), DB_INT(in->created_ms),
                   DB_INT(a->now), DB_INT(in->created_ms),
                   DB_INT(in->updated_ms), DB_INT(a->now),
                   blob_arg(&p->name), blob_arg(&p->email),
                   blob_arg(&p->phone), blob_arg(&p->address),
                   DB_INT(pii_current_key_id(a->env->keys)),
                   p->has_bidx ? DB_BLOB(p->bidx, PII_INDEX_LEN) : DB_NULL,
                   DB_TEXT(in->note), DB_TEXT(in->tags),
                   DB_TEXT(in->currency),
                   DB_TEXT(in->total_price[0] ? in->total_price : NULL),
                   DB_TEXT(search)}, 21, &r);

    *inserted = false;
    if (rc == PD_OK && (rc = db_step(r)) == 1) {
        a->id = db_col_int(r, 0);
        *inserted = true;
        rc = db_step(r) < 0 ? PD_ERR : PD_OK;
    }
    db_rows_free(r);
    return rc < 0 ? rc : PD_OK;
}

static int
update_order(struct apply *a, const struct pii *p, const char *search)
{
    const struct order_in *in = &a->in;
    int rc = db_exec(a->d,
        "UPDATE orders SET order_number = ?, name = ?, financial_status = ?, "
        "fulfillment_status = ?, updated_at = ?, shopify_created_at = ?, "
        "shopify_updated_at = ?, customer_name_enc = ?, email_enc = ?, "
        "phone_enc = ?, address_enc = ?, pii_key_id = ?, email_bidx = ?, "
        "note = ?, tags = ?, currency = ?, total_price = ?, search_text = ? "
        "WHERE id = ?",
        (db_arg[]){in->number > 0 ? DB_INT(in->number) : DB_NULL,
                   DB_TEXT(in->name), DB_TEXT(in->financial),
                   DB_TEXT(in->fulfillment), DB_INT(a->now),
                   DB_INT(in->created_ms), DB_INT(in->updated_ms),
                   blob_arg(&p->name), blob_arg(&p->email),
                   blob_arg(&p->phone), blob_arg(&p->address),
                   DB_INT(pii_current_key_id(a->env->keys)),
                   p->has_bidx ? DB_BLOB(p->bidx, PII_INDEX_LEN) : DB_NULL,
                   DB_TEXT(in->note), DB_TEXT(in->tags),
                   DB_TEXT(in->currency),
                   DB_TEXT(in->total_price[0] ? in->total_price : NULL),
                   DB_TEXT(search), DB_INT(a->id)}, 19, NULL);

    if (rc == PD_ECONFLICT)
        return invalid(a, "another order is already named %s", in->name);
    return rc;
}

static int
add_history(struct apply *a, const char *from, const char *to)
{
    return db_exec(a->d, "INSERT INTO status_history (order_id, "
                         "from_status, to_status, actor, at) "
                         "VALUES (?, ?, ?, 'shopify', ?)",
                   (db_arg[]){DB_INT(a->id), DB_TEXT(from), DB_TEXT(to),
                              DB_INT(a->now)}, 4, NULL);
}

/*
 * Creates the order, or updates it when this payload is newer than the
 * stored one. *stale is set when the stored one is as new or newer.
 */
static int
write_order(struct apply *a, const struct pii *p, bool *stale)
{
    int64_t stored = 0;
    bool inserted = false;
    pd_buf search;
    int rc = find_order(a, &stored);

    buf_init(&search);
    *stale = rc == PD_OK && stored >= a->in.updated_ms;
    if (rc == PD_ENOTFOUND && (rc = build_search(a, &search)) == PD_OK)
        rc = insert_order(a, p, buf_cstr(&search), &inserted);
    if (rc == PD_OK && inserted) {
        a->created = true;
        snprintf(a->status, sizeof(a->status), "pending");
        rc = add_history(a, NULL, "pending");
        webhooks_count_order_created();
    } else if (rc == PD_OK && a->id == 0) {
        /* Taken meanwhile by another delivery, or the name is taken. */
        rc = find_order(a, &stored);
        *stale = rc == PD_OK && stored >= a->in.updated_ms;
        if (rc == PD_ENOTFOUND)
            rc = invalid(a, "another order is already named %s",
                         a->in.name);
    }
    if (rc == PD_OK && !a->created && !*stale) {
        buf_reset(&search);
        rc = build_search(a, &search);
        if (rc == PD_OK)
            rc = update_order(a, p, buf_cstr(&search));
    }
    buf_free(&search);
    return rc;
}

/* ---- Shopify's own status changes ---- */

static void
event_detail(struct apply *a, pd_buf *b)
{
    buf_puts(b, "{\"topic\":");
    buf_json_string(b, a->w->topic);
    buf_puts(b, ",\"webhook_id\":");
    buf_json_string(b, a->w->webhook_id);
    buf_puts(b, ",\"status\":");
    buf_json_string(b, a->status);
    buf_puts(b, "}");
}

static int
audit_event(struct apply *a, const char *action)
{
    pd_buf detail;
    int rc;

    buf_init(&detail);
    event_detail(a, &detail);
    rc = detail.failed ? PD_ENOMEM
                       : webhook_audit(a->d, action, "order", a->in.name,
                                       a->id, buf_cstr(&detail));
    buf_free(&detail);
    return rc;
}

/*
 * A Shopify cancellation moves an open order to cancelled. One that
 * staff finished already keeps its status; the event is audited once.
 */
static int
apply_cancel(struct apply *a)
{
    int64_t seen = 0;
    int rc;

    if (!a->in.cancelled || strcmp(a->status, "cancelled") == 0)
        return PD_OK;
    if (!orders_status_is_open(a->status)) {
        rc = db_query_int(a->d, "SELECT COUNT(*) FROM audit_log WHERE "
                                "order_id = ? AND action = "
                                "'shopify.cancelled'",
                          (db_arg[]){DB_INT(a->id)}, 1, &seen);
        return rc != PD_OK || seen > 0 ? rc
                                       : audit_event(a, "shopify.cancelled");
    }
    rc = db_exec(a->d, "UPDATE orders SET status = 'cancelled', "
                       "status_changed_at = ?, updated_at = ? WHERE id = ?",
                 (db_arg[]){DB_INT(a->now), DB_INT(a->now), DB_INT(a->id)},
                 3, NULL);
    if (rc == PD_OK)
        rc = add_history(a, a->status, "cancelled");
    if (rc == PD_OK)
        snprintf(a->status, sizeof(a->status), "cancelled");
    return rc;
}

/* Shopify fulfilled an order staff have not completed: an audit event,
 * staff's status untouched. */
static int
apply_fulfilled(struct apply *a)
{
    if (!a->in.fulfilled || strcmp(a->prev_fulfillment, "fulfilled") == 0 ||
        strcmp(a->status, "completed") == 0)
        return PD_OK;
    return audit_event(a, "shopify.fulfilled");
}

/* ---- pets and their images ---- */

/* Copies the id of the first row of sql into out; false when none. */
static int
first_id(struct apply *a, const char *sql, const db_arg *args, int n,
         char *out, size_t len)
{
    db_rows *r = NULL;
    int rc = db_query(a->d, sql, args, n, &r);

    out[0] = '\0';
    if (rc == PD_OK && (rc = db_step(r)) == 1)
        snprintf(out, len, "%s", db_col_text(r, 0));
    db_rows_free(r);
    return rc < 0 ? rc : PD_OK;
}

static int
image_exists(struct apply *a, const char *id, char *out, size_t len)
{
    out[0] = '\0';
    if (id == NULL)
        return PD_OK;
    return first_id(a, "SELECT id FROM images WHERE id = ? AND "
                       "deleted_at IS NULL",
                    (db_arg[]){DB_TEXT(id)}, 1, out, len);
}

static int
newest_of_session(struct apply *a, const char *session, const char *kind,
                  char *out, size_t len)
{
    return first_id(a, "SELECT id FROM images WHERE session_id = ? AND "
                       "kind = ? AND deleted_at IS NULL "
                       "ORDER BY created_at DESC, id DESC LIMIT 1",
                    (db_arg[]){DB_TEXT(session), DB_TEXT(kind)}, 2, out,
                    len);
}

/*
 * Ties images to the order: the first order to claim an image keeps it,
 * and an image still in the temporary tier moves to order_pending (the
 * column only; moving the stored object is the lifecycle's job). Rows
 * with nothing to change are not written (nor locked).
 */
#define LINK_SET                                                        \
    "UPDATE images SET order_id = COALESCE(order_id, ?), "              \
    "tier_changed_at = CASE WHEN tier = 'temporary' THEN ? "            \
    "ELSE tier_changed_at END, "                                        \
    "tier = CASE WHEN tier = 'temporary' THEN 'order_pending' "         \
    "ELSE tier END WHERE deleted_at IS NULL AND "                       \
    "(order_id IS NULL OR tier = 'temporary') "

static int
link_image(struct apply *a, const char *id)
{
    int64_t changed = 0;
    int rc;

    if (id[0] == '\0')
        return PD_OK;
    rc = db_exec(a->d, LINK_SET "AND id = ?",
                 (db_arg[]){DB_INT(a->id), DB_INT(a->now), DB_TEXT(id)}, 3,
                 &changed);
    a->linked += (int)changed;
    return rc;
}

static int
link_session(struct apply *a, const char *session)
{
    int64_t changed = 0;
    int rc = db_exec(a->d, LINK_SET "AND session_id = ?",
                     (db_arg[]){DB_INT(a->id), DB_INT(a->now),
                                DB_TEXT(session)}, 3, &changed);

    a->linked += (int)changed;
    return rc;
}

/* The images a pet gets, and those it waits for. */
struct pet_images {
    char original[REF_LEN_MAX + 1], processed[REF_LEN_MAX + 1];
    const char *want_original, *want_processed;
};

/*
 * Named images that exist are linked, named ones not there yet are
 * remembered; with only a session, the session's newest original and
 * processed become the pet's and all its images are linked.
 */
static int
pet_images(struct apply *a, const struct pet_in *p, struct pet_images *im)
{
    int rc;

    memset(im, 0, sizeof(*im));
    if (p->original == NULL && p->processed == NULL) {
        if (p->session == NULL)
            return PD_OK;
        rc = newest_of_session(a, p->session, "original", im->original,
                               sizeof(im->original));
        if (rc == PD_OK)
            rc = newest_of_session(a, p->session, "processed",
                                   im->processed, sizeof(im->processed));
        return rc == PD_OK ? link_session(a, p->session) : rc;
    }
    rc = image_exists(a, p->original, im->original, sizeof(im->original));
    if (rc == PD_OK)
        rc = image_exists(a, p->processed, im->processed,
                          sizeof(im->processed));
    if (p->original != NULL && im->original[0] == '\0')
        im->want_original = p->original;
    if (p->processed != NULL && im->processed[0] == '\0')
        im->want_processed = p->processed;
    a->awaited += (im->want_original != NULL) + (im->want_processed != NULL);
    if (rc == PD_OK)
        rc = link_image(a, im->original);
    if (rc == PD_OK)
        rc = link_image(a, im->processed);
    return rc;
}

/* The pet row of this line item (0 when none yet). */
static int
find_pet(struct apply *a, const struct pet_in *p, int64_t *id)
{
    *id = 0;
    if (p->line_item_id > 0)
        return db_query_int(a->d, "SELECT id FROM pets WHERE order_id = ? "
                                  "AND line_item_id = ?",
                            (db_arg[]){DB_INT(a->id),
                                       DB_INT(p->line_item_id)}, 2, id);
    return db_query_int(a->d, "SELECT id FROM pets WHERE order_id = ? AND "
                              "line_item_id IS NULL AND position = ?",
                        (db_arg[]){DB_INT(a->id), DB_INT(p->position)}, 2,
                        id);
}

#define PET_VALUES(p, im)                                                  \
    DB_INT((p)->position),                                                 \
    DB_TEXT((p)->pet_name[0] ? (p)->pet_name : NULL),                      \
    DB_TEXT((p)->title), DB_TEXT((p)->variant),                            \
    DB_TEXT((p)->print_size[0] ? (p)->print_size : NULL),                  \
    DB_INT((p)->quantity), DB_TEXT((p)->session),                          \
    DB_TEXT((im)->original[0] ? (im)->original : NULL),                    \
    DB_TEXT((im)->processed[0] ? (im)->processed : NULL),                  \
    DB_TEXT((im)->want_original), DB_TEXT((im)->want_processed)

/* Creates or updates the pet of one line item (never a second one). */
static int
upsert_pet(struct apply *a, const struct pet_in *p)
{
    struct pet_images im;
    int64_t pet_id = 0;
    int rc = find_pet(a, p, &pet_id);

    if (rc == PD_ENOTFOUND)
        rc = PD_OK;
    if (rc == PD_OK)
        rc = pet_images(a, p, &im);
    if (rc != PD_OK)
        return rc;
    if (pet_id > 0)
        return db_exec(a->d, "UPDATE pets SET position = ?, pet_name = ?, "
                             "product_title = ?, variant_title = ?, "
                             "print_size = ?, quantity = ?, session_id = ?, "
                             "original_image_id = ?, processed_image_id = ?, "
                             "wanted_original_ref = ?, "
                             "wanted_processed_ref = ? WHERE id = ?",
                       (db_arg[]){PET_VALUES(p, &im), DB_INT(pet_id)}, 12,
                       NULL);
    return db_exec(a->d, "INSERT INTO pets (order_id, line_item_id, "
                         "position, pet_name, product_title, variant_title, "
                         "print_size, quantity, session_id, "
                         "original_image_id, processed_image_id, "
                         "wanted_original_ref, wanted_processed_ref) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   (db_arg[]){DB_INT(a->id),
                              p->line_item_id > 0 ? DB_INT(p->line_item_id)
                                                  : DB_NULL,
                              PET_VALUES(p, &im)}, 13, NULL);
}

/* ---- the topic ---- */

static void
log_order(struct apply *a, const char *what)
{
    pd_buf f;

    buf_init(&f);
    buf_puts(&f, "\"order\":");
    buf_json_string(&f, a->in.name);
    buf_puts(&f, ",\"topic\":");
    buf_json_string(&f, a->w->topic);
    buf_puts(&f, ",\"webhook_id\":");
    buf_json_string(&f, a->w->webhook_id);
    log_write(LOG_INFO, f.failed ? NULL : buf_cstr(&f),
              "order %s %s by %s: %d pet(s), %d image(s) linked, %d awaited",
              a->in.name, what, a->w->topic, a->in.n_pets, a->linked,
              a->awaited);
    buf_free(&f);
}

static int
apply_parsed(struct apply *a)
{
    struct pii p;
    bool stale = false;
    int rc;

    memset(&p, 0, sizeof(p));
    buf_init(&p.name);
    buf_init(&p.email);
    buf_init(&p.phone);
    buf_init(&p.address);
    rc = seal_pii(a, &p);
    if (rc == PD_OK)
        rc = write_order(a, &p, &stale);
    if (rc == PD_OK && !stale)
        rc = apply_cancel(a);
    if (rc == PD_OK && !stale)
        rc = apply_fulfilled(a);
    for (int i = 0; rc == PD_OK && !stale && i < a->in.n_pets; i++)
        rc = upsert_pet(a, &a->in.pets[i]);
    if (rc == PD_OK && !stale && a->in.n_pets > 0)
        rc = orders_refresh_warnings(a->d, a->id);
    if (rc == PD_OK)
        log_order(a, stale ? "unchanged (not newer than stored)"
                           : a->created ? "created" : "updated");
    buf_free(&p.name);
    buf_free(&p.email);
    buf_free(&p.phone);
    buf_free(&p.address);
    return rc;
}

int
webhook_apply_order(db *d, const struct webhook_env *env,
                    const struct webhook_delivery *w, json_t *payload,
                    char *reason, size_t reasonlen)
{
    struct apply a;
    int rc;

    a = (struct apply){.d = d, .env = env, .w = w, .reason = reason,
                       .rlen = reasonlen, .now = pd_now_ms()};
    if (reasonlen > 0)
        reason[0] = '\0';
    if (!json_is_object(payload))
        rc = invalid(&a, "the payload is not a JSON object");
    else
        rc = read_order(&a, payload);
    if (rc == PD_OK)
        rc = apply_parsed(&a);
    free(a.in.pets);
    return rc;
}
