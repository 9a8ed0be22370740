/*
 * change.c — the two changes staff make to an order: moving it through
 * the workflow and adding a note. Each runs in one write transaction and
 * is idempotent by key, so a phone that retries (or replays a queue
 * after being offline) never applies a change twice or overwrites a
 * move someone else made meanwhile.
 */
#include "orders/orders_internal.h"

#include "common/err.h"
#include "common/util.h"
#include "obs/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Inside a change: the key was taken or the order changed under us by a
 * concurrent writer; roll back and look again. */
#define RETRY 1
#define ATTEMPTS 3

static void say(struct orders_change *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Sets the message that says why a change was refused. */
static void
say(struct orders_change *out, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(out->message, sizeof(out->message), fmt, ap);
    va_end(ap);
}

/* A key is 1..ORDERS_KEY_MAX printable ASCII characters. */
static bool
key_valid(const char *key)
{
    size_t n = 0;

    for (; key[n] != '\0'; n++)
        if ((unsigned char)key[n] < 0x21 || (unsigned char)key[n] > 0x7e)
            return false;
    return n > 0 && n <= ORDERS_KEY_MAX;
}

static bool
actor_valid(const char *actor)
{
    size_t n = actor != NULL ? strlen(actor) : 0;

    return n > 0 && n <= ORDERS_ACTOR_MAX && orders_utf8_valid(actor, n);
}

static void
copy_ref(struct orders_change *out, const struct order_ref *o)
{
    out->order_id = o->id;
    snprintf(out->name, sizeof(out->name), "%s", o->name);
    snprintf(out->status, sizeof(out->status), "%s", o->status);
}

/* Runs one attempt inside a write transaction; commits on success,
 * rolls back otherwise. */
static int
in_transaction(db *d, int (*attempt)(db *, void *), void *arg)
{
    int rc = db_begin_write(d);

    if (rc != PD_OK)
        return rc;
    rc = attempt(d, arg);
    if (rc == PD_OK)
        rc = db_commit(d);
    if (rc != PD_OK)
        db_rollback(d);
    return rc;
}

/* ---- moves ---- */

struct move {
    const char *ref, *to, *actor, *key, *expected;
    struct orders_change *out;
};

/* The earlier move under this key, if any: 1 replayed, 0 none. */
static int
replay_move(db *d, struct move *m, const struct order_ref *o)
{
    static const char sql[] =
        "SELECT order_id, from_status, to_status, at FROM status_history "
        "WHERE idempotency_key = ?";
    db_rows *r = NULL;
    int rc = db_query(d, sql, (db_arg[]){DB_TEXT(m->key)}, 1, &r);

    if (rc == PD_OK && (rc = db_step(r)) == 1) {
        if (db_col_int(r, 0) != o->id || strcmp(db_col_text(r, 2), m->to)) {
            say(m->out, "idempotency key %s was used for another change",
                m->key);
            rc = PD_ECONFLICT;
        } else {
            snprintf(m->out->from, sizeof(m->out->from), "%s",
                     db_col_text(r, 1));
            snprintf(m->out->to, sizeof(m->out->to), "%s", m->to);
            m->out->at = db_col_int(r, 3);
            m->out->replayed = true;
        }
    }
    db_rows_free(r);
    return rc;
}

/* Whether the workflow lets o go to m->to; PD_ECONFLICT says why not. */
static int
check_move(db *d, struct move *m, const struct order_ref *o)
{
    char held[16];
    int rc;

    if (m->expected != NULL && strcmp(m->expected, o->status) != 0) {
        say(m->out, "order %s is %s now, not %s", o->name, o->status,
            m->expected);
        return PD_ECONFLICT;
    }
    if (!orders_move_allowed(o->status, m->to)) {
        say(m->out, "order %s cannot move from %s to %s", o->name,
            o->status, m->to);
        return PD_ECONFLICT;
    }
    if (strcmp(o->status, "on_hold") != 0 || strcmp(m->to, "cancelled") == 0)
        return PD_OK;
    rc = orders_held_from(d, o->id, held, sizeof(held));
    if (rc == PD_OK && orders_move_allowed("on_hold", held) &&
        strcmp(held, "cancelled") != 0 && strcmp(held, m->to) != 0) {
        say(m->out, "order %s was held from %s and can only go back to %s",
            o->name, held, held);
        rc = PD_ECONFLICT;
    }
    return rc;
}

static int
record_move(db *d, struct move *m, const struct order_ref *o, int64_t now)
{
    static const char update[] =
        "UPDATE orders SET status = ?, status_changed_at = ?, "
        "updated_at = ? WHERE id = ? AND status = ?";
    static const char insert[] =
        "INSERT INTO status_history (order_id, from_status, to_status, "
        "actor, at, idempotency_key) VALUES (?, ?, ?, ?, ?, ?)";
    int64_t changed = 0;
    int rc;

    /* Only if nobody moved it since we looked (PostgreSQL writers). */
    rc = db_exec(d, update, (db_arg[]){DB_TEXT(m->to), DB_INT(now),
                 DB_INT(now), DB_INT(o->id), DB_TEXT(o->status)}, 5,
                 &changed);
    if (rc == PD_OK && changed != 1)
        return RETRY;
    if (rc == PD_OK)
        rc = db_exec(d, insert, (db_arg[]){DB_INT(o->id), DB_TEXT(o->status),
                     DB_TEXT(m->to), DB_TEXT(m->actor), DB_INT(now),
                     DB_TEXT(m->key)}, 6, NULL);
    /* A unique key violation: the same key committed meanwhile. */
    return rc == PD_ECONFLICT ? RETRY : rc;
}

static int
move_attempt(db *d, void *arg)
{
    struct move *m = arg;
    struct order_ref o;
    int64_t now = pd_now_ms();
    int rc = orders_resolve(d, m->ref, &o);

    if (rc == PD_ENOTFOUND)
        say(m->out, "no order %s", m->ref);
    if (rc != PD_OK)
        return rc;
    copy_ref(m->out, &o);
    if (m->key != NULL && (rc = replay_move(d, m, &o)) != 0)
        return rc > 0 ? PD_OK : rc;
    rc = check_move(d, m, &o);
    if (rc == PD_OK)
        rc = record_move(d, m, &o, now);
    if (rc != PD_OK)
        return rc;
    snprintf(m->out->from, sizeof(m->out->from), "%s", o.status);
    snprintf(m->out->to, sizeof(m->out->to), "%s", m->to);
    snprintf(m->out->status, sizeof(m->out->status), "%s", m->to);
    m->out->at = now;
    return PD_OK;
}

static int
check_move_args(struct move *m)
{
    if (orders_status_parse(m->to) < 0) {
        say(m->out, "unknown status %s", m->to ? m->to : "(none)");
        return PD_EINVAL;
    }
    if (m->expected != NULL && orders_status_parse(m->expected) < 0) {
        say(m->out, "unknown status %s", m->expected);
        return PD_EINVAL;
    }
    if (!actor_valid(m->actor)) {
        say(m->out, "the actor is missing or too long");
        return PD_EINVAL;
    }
    if (m->key != NULL && !key_valid(m->key)) {
        say(m->out, "an idempotency key is 1 to %d printable ASCII "
                    "characters", ORDERS_KEY_MAX);
        return PD_EINVAL;
    }
    return PD_OK;
}

int
orders_move(db *d, const char *ref, const char *to, const char *actor,
            const char *idempotency_key, const char *expected_from,
            struct orders_change *out)
{
    struct move m = {ref, to, actor, idempotency_key, expected_from, out};
    int rc;

    memset(out, 0, sizeof(*out));
    rc = check_move_args(&m);
    for (int i = 0; rc == PD_OK && i < ATTEMPTS; i++) {
        memset(out, 0, sizeof(*out));
        rc = in_transaction(d, move_attempt, &m);
        if (rc != RETRY)
            return rc;
        rc = PD_OK;
    }
    if (rc == PD_OK) {
        say(out, "order %s changed meanwhile; look again", ref);
        rc = PD_ECONFLICT;
    }
    return rc;
}

/* ---- notes ---- */

struct note {
    const char *ref, *author, *key;
    const char *body; /* trimmed, not NUL-terminated */
    size_t len;
    struct orders_change *out;
};

static bool
is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' ||
           c == '\v';
}

/* The earlier note under this key, if any: 1 replayed, 0 none. */
static int
replay_note(db *d, struct note *n, const struct order_ref *o)
{
    static const char sql[] =
        "SELECT id, order_id, body, created_at FROM notes "
        "WHERE idempotency_key = ?";
    db_rows *r = NULL;
    int rc = db_query(d, sql, (db_arg[]){DB_TEXT(n->key)}, 1, &r);

    if (rc == PD_OK && (rc = db_step(r)) == 1) {
        const char *body = db_col_text(r, 2);

        if (db_col_int(r, 1) != o->id || strlen(body) != n->len ||
            memcmp(body, n->body, n->len) != 0) {
            say(n->out, "idempotency key %s was used for another note",
                n->key);
            rc = PD_ECONFLICT;
        } else {
            n->out->note_id = db_col_int(r, 0);
            n->out->at = db_col_int(r, 3);
            n->out->replayed = true;
        }
    }
    db_rows_free(r);
    return rc;
}

static int
insert_note(db *d, struct note *n, const char *body,
            const struct order_ref *o, int64_t now)
{
    static const char insert[] =
        "INSERT INTO notes (order_id, author, body, created_at, "
        "idempotency_key) VALUES (?, ?, ?, ?, ?) RETURNING id";
    /* The note's words become searchable with the order's. */
    static const char search[] =
        "UPDATE orders SET search_text = search_text || ' ' || ?, "
        "updated_at = ? WHERE id = ?";
    db_rows *r = NULL;
    int rc = db_query(d, insert, (db_arg[]){DB_INT(o->id),
                      DB_TEXT(n->author), DB_TEXT(body), DB_INT(now),
                      DB_TEXT(n->key)}, 5, &r);

    if (rc == PD_ECONFLICT)
        return RETRY; /* the same key committed meanwhile */
    if (rc == PD_OK && (rc = db_step(r)) == 1) {
        n->out->note_id = db_col_int(r, 0);
        rc = PD_OK;
    } else if (rc == 0) {
        rc = PD_ERR;
    }
    db_rows_free(r);
    if (rc == PD_OK)
        rc = db_exec(d, search, (db_arg[]){DB_TEXT(body), DB_INT(now),
                     DB_INT(o->id)}, 3, NULL);
    return rc;
}

static int
note_attempt(db *d, void *arg)
{
    struct note *n = arg;
    struct order_ref o;
    int64_t now = pd_now_ms();
    char body[ORDERS_NOTE_MAX + 1];
    int rc = orders_resolve(d, n->ref, &o);

    if (rc == PD_ENOTFOUND)
        say(n->out, "no order %s", n->ref);
    if (rc != PD_OK)
        return rc;
    copy_ref(n->out, &o);
    if (n->key != NULL && (rc = replay_note(d, n, &o)) != 0)
        return rc > 0 ? PD_OK : rc;
    memcpy(body, n->body, n->len);
    body[n->len] = '\0';
    rc = insert_note(d, n, body, &o, now);
    if (rc == PD_OK)
        n->out->at = now;
    return rc;
}

static int
check_note_args(struct note *n, const char *body)
{
    size_t len = body != NULL ? strlen(body) : 0;

    while (len > 0 && is_space(body[len - 1]))
        len--;
    while (len > 0 && is_space(*body))
        body++, len--;
    n->body = body;
    n->len = len;
    if (len == 0 || len > ORDERS_NOTE_MAX) {
        say(n->out, "a note has 1 to %d bytes of text", ORDERS_NOTE_MAX);
        return PD_EINVAL;
    }
    if (!orders_utf8_valid(body, len)) {
        say(n->out, "a note must be UTF-8 text");
        return PD_EINVAL;
    }
    if (!actor_valid(n->author)) {
        say(n->out, "the author is missing or too long");
        return PD_EINVAL;
    }
    if (n->key != NULL && !key_valid(n->key)) {
        say(n->out, "an idempotency key is 1 to %d printable ASCII "
                    "characters", ORDERS_KEY_MAX);
        return PD_EINVAL;
    }
    return PD_OK;
}

int
orders_add_note(db *d, const char *ref, const char *author,
                const char *body, const char *idempotency_key,
                struct orders_change *out)
{
    struct note n = {.ref = ref, .author = author, .key = idempotency_key,
                     .out = out};
    int rc;

    memset(out, 0, sizeof(*out));
    rc = check_note_args(&n, body);
    for (int i = 0; rc == PD_OK && i < ATTEMPTS; i++) {
        memset(out, 0, sizeof(*out));
        rc = in_transaction(d, note_attempt, &n);
        if (rc != RETRY)
            return rc;
        rc = PD_OK;
    }
    if (rc == PD_OK) {
        say(out, "order %s changed meanwhile; try again", ref);
        rc = PD_ECONFLICT;
    }
    return rc;
}
