/*
 * orders.h — the order domain without HTTP: the status workflow, listing
 * and searching orders page by page, one order in full, moving an order
 * through the workflow and adding notes, both idempotent by key.
 */
#ifndef PD_ORDERS_H
#define PD_ORDERS_H

#include "common/arena.h"
#include "common/util.h"
#include "db/db.h"

#include <stdbool.h>
#include <stdint.h>

#define ORDERS_LIMIT_DEFAULT 50
#define ORDERS_LIMIT_MAX 200
#define ORDERS_Q_MAX 200         /* bytes of a search string */
#define ORDERS_REF_MAX 64        /* bytes of an order reference */
#define ORDERS_NOTE_MAX 4000     /* bytes of a note, after trimming */
#define ORDERS_KEY_MAX 128       /* bytes of an idempotency key */
#define ORDERS_ACTOR_MAX 128     /* bytes of an actor label */
#define ORDERS_MSG_MAX 160

enum order_status {
    ORDER_PENDING,
    ORDER_IN_PRODUCTION,
    ORDER_PRINTED,
    ORDER_COMPLETED,
    ORDER_ON_HOLD,
    ORDER_CANCELLED,
    ORDER_STATUS_COUNT
};

/* ---- the workflow (workflow.c) ---- */

/* "pending", "in_production", ...; NULL for a value out of range. */
const char *orders_status_name(enum order_status s);
/* The status a name stands for, or -1. */
int orders_status_parse(const char *name);
/* Open: pending, in_production, printed, on_hold. */
bool orders_status_is_open(const char *status);
/*
 * Whether the workflow has a move from one status to another: one step
 * forward (pending → in_production → printed → completed), on_hold from
 * any other open state and back to any of them, cancelled from any open
 * state. completed and cancelled are final. Unknown names: false.
 */
bool orders_move_allowed(const char *from, const char *to);
/*
 * The moves allowed from a status, in workflow order, into out (static
 * strings; max entries at most). held_from, for an order on hold, is the
 * state it was held from: then only that one is offered to go back to
 * (NULL: any open state). Returns how many.
 */
int orders_next_moves(const char *from, const char *held_from,
                      const char **out, int max);

/* ---- what reads return; strings live in the caller's arena ---- */

struct order_pet {
    int64_t id;
    int position;
    const char *name;          /* the pet's name, or NULL */
    const char *print_size;    /* e.g. "8x10", or NULL */
    const char *product_title, *variant_title;
    int quantity;
    int64_t line_item_id;      /* 0 when unknown (may exceed 2^53) */
    const char *original_image_id;  /* NULL when none yet */
    const char *processed_image_id;
    const char *thumb_image_id; /* the processed image, else the original */
    int print_dpi;   /* the original's effective DPI at print_size; 0: ? */
    int readiness;   /* enum print_readiness (orders/print.h) */
};

struct order_summary {
    int64_t id;
    int64_t number;            /* 0 when the order has none */
    const char *name;          /* "#1042" */
    const char *status;
    int64_t created_at, updated_at;
    int64_t status_changed_at; /* 0 when never changed */
    int warning_flags;
    int64_t claimed_by;        /* a staff id, 0 when unclaimed */
    int64_t claimed_at;
    const char *claimed_by_name; /* NULL when unclaimed */
    struct order_pet *pets;
    int n_pets;
};

/* ---- listing (list.c) ---- */

#define ORDERS_EMAIL_INDEX_LEN 32

struct orders_filter {
    const char *status;  /* NULL: all; a status name; or "open" */
    const char *q;       /* NULL or "": no search; "1042"/"#1042": by
                            number; else words matched as prefixes */
    bool has_from, has_to;
    int64_t from_ms;     /* created_at >= from_ms */
    int64_t to_ms;       /* created_at < to_ms */
    int limit;           /* 1..ORDERS_LIMIT_MAX; 0: the default */
    bool warnings_only;  /* orders with a print-readiness warning */
    int64_t claimed_by;  /* orders this staff id holds; 0: any */
    const char *cursor;  /* NULL, or next_cursor of the previous page */
    /* When set (32 bytes: the blind index of the e-mail in q), q is an
     * e-mail address and matches the orders of that address. */
    const unsigned char *email_index;
    /* During a data-key rotation: the index under the previous key. */
    const unsigned char *email_index_previous;
};

struct orders_page {
    struct order_summary *rows;
    int n;
    const char *next_cursor;  /* NULL on the last page */
    char message[ORDERS_MSG_MAX]; /* why, on PD_EINVAL */
};

/*
 * One page of orders, newest first (created_at, then id, descending),
 * each with its pets. PD_EINVAL (with a message) for a bad status,
 * limit, range, search string or cursor. Everything returned lives in a.
 */
int orders_list(db *d, const struct orders_filter *f, arena *a,
                struct orders_page *out);

struct orders_counts {
    int64_t by_status[ORDER_STATUS_COUNT];
    int64_t open;   /* pending + in_production + printed + on_hold */
    int64_t total;
};

/*
 * Orders per status for filter chips, under the filter's search and
 * created_at range (its status, limit and cursor are ignored).
 */
int orders_count(db *d, const struct orders_filter *f,
                 struct orders_counts *out);
/*
 * orders_count for pages and the API: the unfiltered counts (the status
 * chips of a plain list) are shared across requests for up to a second.
 * The process serves one database.
 */
/*
 * Appends s to an order's search_text (after a space, ASCII lower-cased),
 * the column the full-text search reads; NULL or "" adds nothing.
 */
void orders_search_add(pd_buf *b, const char *s);

int orders_count_shared(db *d, const struct orders_filter *f,
                        struct orders_counts *out);
/* Drops the shared counts: orders may have changed. */
void orders_counts_forget(void);

/* ---- one order (detail.c) ---- */

struct order_image {
    const char *id, *kind, *format, *tier;
    int64_t bytes;
    int width, height;  /* 0 when unknown */
    int64_t created_at;
    bool deleted;
};

struct order_event {
    const char *from;   /* NULL for the first state */
    const char *to;
    const char *actor;
    int64_t at;
};

struct order_note {
    int64_t id;
    const char *author, *body;
    int64_t created_at;
};

/* Something done to an order besides moves and notes (audit log). */
struct order_activity {
    int64_t at;
    const char *actor;       /* "staff:3 (Ann)", "shopify", ... */
    const char *action;      /* "photo.view", "order.download", ... */
    const char *target_type; /* "image", "order", ... */
    const char *target_id;
};

struct order_detail {
    struct order_summary order;
    int64_t shopify_id; /* 0 when unknown (may exceed 2^53) */
    const char *financial_status, *fulfillment_status;
    const char *tags, *currency, *total_price, *customer_note;
    struct order_image *images;
    int n_images;
    struct order_event *history;  /* oldest first */
    int n_history;
    struct order_note *notes;     /* oldest first */
    int n_notes;
    struct order_activity *activity; /* oldest first */
    int n_activity;
    const char *held_from;  /* on hold: the state to go back to */
    const char *next[ORDER_STATUS_COUNT];  /* allowed moves */
    int n_next;
};

/*
 * The order named by ref ("1042", "#1042" or its exact name) with pets,
 * images, status history and notes. PD_ENOTFOUND when there is none.
 */
int orders_get(db *d, const char *ref, arena *a, struct order_detail *out);

/* ---- changes (change.c) ---- */

struct orders_change {
    int64_t order_id;
    char name[ORDERS_REF_MAX];
    char from[16], to[16];   /* a move: the one made or replayed */
    char status[16];         /* the order's status afterwards */
    int64_t at;              /* when the move or note was recorded */
    int64_t note_id;         /* a note: its id */
    bool replayed;           /* the key was seen: nothing new was done */
    char message[ORDERS_MSG_MAX]; /* why, on an error */
};

/*
 * Moves an order to status `to` for actor, in one transaction, recording
 * the move in its status history. idempotency_key (may be NULL): the same
 * key again returns the first result with replayed set and changes
 * nothing. expected_from (may be NULL): the status the caller saw; when
 * the order is elsewhere now, PD_ECONFLICT. A move the workflow refuses:
 * PD_ECONFLICT naming both states; an unknown order: PD_ENOTFOUND; bad
 * arguments: PD_EINVAL. out->message says why on any error.
 */
int orders_move(db *d, const char *ref, const char *to, const char *actor,
                const char *idempotency_key, const char *expected_from,
                struct orders_change *out);

/*
 * Adds a note (trimmed; 1..ORDERS_NOTE_MAX bytes of UTF-8) by author and
 * makes its words searchable. Idempotent by key like orders_move; a key
 * reused for another order or text: PD_ECONFLICT.
 */
int orders_add_note(db *d, const char *ref, const char *author,
                    const char *body, const char *idempotency_key,
                    struct orders_change *out);

/* ---- print readiness (readiness.c) ---- */

/*
 * Recomputes the order's print-readiness warning_flags from its pets'
 * print sizes and their originals' pixels (orders/print.h).
 */
int orders_refresh_warnings(db *d, int64_t order_id);

/* ---- claims (claim.c) ---- */

struct orders_claim {
    int64_t order_id;
    char name[ORDERS_REF_MAX];
    int64_t claimed_by; /* afterwards (on a conflict: who holds it) */
    int64_t previous;   /* before */
    int64_t at;         /* when the claim changed; 0 when it did not */
    bool unchanged;     /* it already was as asked */
};

/*
 * Claims (claim) or releases the order for staff_id. A claim someone
 * else holds is PD_ECONFLICT (out->claimed_by says who) unless
 * may_override (admins). Claiming one's own claim or releasing an
 * unclaimed order changes nothing. PD_ENOTFOUND for an unknown order.
 */
int orders_claim(db *d, const char *ref, int64_t staff_id, bool claim,
                 bool may_override, struct orders_claim *out);

#endif
