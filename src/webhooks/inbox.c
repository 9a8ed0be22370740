/*
 * inbox.c — POST /webhooks/shopify: checks the signature and headers,
 * writes each delivery (body sealed) to the webhook inbox and commits it
 * before answering, then applies it through the topic table; also the
 * pass over deliveries left unapplied, and the audit helper.
 */
#include "webhooks/webhooks_internal.h"
#include "webhooks/inbox.h"

#include "auth/guard_setup.h"
#include "auth/webhook_sig.h"
#include "common/err.h"
#include "common/util.h"
#include "obs/log.h"
#include "obs/metrics.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define HEADER_MAX 256          /* bytes of one Shopify header value */
#define REASON_MAX 256          /* bytes of a failure reason */
#define APPLY_BUDGET_MS 2000    /* spent by then: apply later instead */
#define APPLY_TRIES 3           /* tries when a concurrent writer wins */
#define PENDING_BATCH 64        /* inbox rows listed per query */

/* What became of one verified delivery. */
enum outcome { OUT_APPLIED, OUT_DUPLICATE, OUT_FAILED, OUT_IGNORED,
               OUT_STORED };

static const char *const outcome_names[] = {
    "applied", "duplicate", "failed", "ignored", "stored"};
static const char *const outcome_bodies[] = {
    "{\"status\":\"applied\"}\n", "{\"status\":\"duplicate\"}\n", "",
    "{\"status\":\"ignored\"}\n", "{\"status\":\"stored\"}\n"};

struct topic_entry {
    const char *name;
    webhook_topic_fn fn;
};

static const struct topic_entry topics[] = {
    {"orders/create", webhook_apply_order},
    {"orders/updated", webhook_apply_order},
    {"orders/paid", webhook_apply_order},
    {"orders/cancelled", webhook_apply_order},
    {"orders/fulfilled", webhook_apply_order},
    {"app/uninstalled", webhook_app_uninstalled},
    {"customers/data_request", webhook_data_request},
    {"customers/redact", webhook_customer_redact},
    {"shop/redact", webhook_shop_redact},
};

#define NTOPICS ((int)(sizeof(topics) / sizeof(topics[0])))

/* The Shopify headers of one request (borrowed from the request). */
struct delivery_headers {
    const char *hmac, *topic, *shop, *version, *webhook_id;
    const char *triggered_at, *event_id, *name; /* optional */
};

static struct webhook_env g_env;
static bool g_ready;
static metrics_family *m_deliveries, *m_created;
/* Orders created by the apply transaction running on this thread. */
static _Thread_local int64_t created_in_tx;

/* ---- set-up, metrics and logs ---- */

/*
 * Every series starts at 0, so the first delivery of an instance's life
 * shows in increase() (Cloud Run starts instances often).
 */
static void
count_zeros(void)
{
    static const char *const refusals[] = {"unauthorized", "bad_request",
                                           "error"};

    for (int t = 0; t < NTOPICS; t++) {
        for (size_t o = 0; o < sizeof(outcome_names) / sizeof(*outcome_names);
             o++)
            metrics_counter_add(m_deliveries, (const char *[]){
                                    topics[t].name, outcome_names[o]}, 0);
        for (size_t r = 0; r < sizeof(refusals) / sizeof(*refusals); r++)
            metrics_counter_add(m_deliveries, (const char *[]){
                                    topics[t].name, refusals[r]}, 0);
    }
    metrics_counter_add(m_created, NULL, 0);
}

void
webhooks_setup(const struct webhook_env *env)
{
    g_env = *env;
    g_ready = env->keys != NULL && env->shop != NULL && env->shop[0];
    if (m_deliveries != NULL)
        return;
    m_deliveries = metrics_counter_family(
        "webhook_deliveries_total", "Shopify webhook deliveries by topic "
        "and what became of them.", "topic,result");
    m_created = metrics_counter_family(
        "orders_created_total", "Orders created from Shopify webhooks.", "");
    count_zeros();
}

void
webhooks_count_order_created(void)
{
    created_in_tx++;
}

static const struct topic_entry *
find_topic(const char *topic)
{
    for (int i = 0; topic != NULL && i < NTOPICS; i++)
        if (strcmp(topics[i].name, topic) == 0)
            return &topics[i];
    return NULL;
}

/* A metric label from a bounded set: a known topic, else "other". */
static const char *
topic_label(const char *topic)
{
    const struct topic_entry *t = find_topic(topic);

    return t != NULL ? t->name : "other";
}

static void
count(const char *topic, const char *result)
{
    const char *labels[] = {topic_label(topic), result};

    metrics_counter_add(m_deliveries, labels, 1);
}

/* One line per delivery: topic, webhook id, result and why (no PII). */
static void
log_delivery(enum log_level level, const char *topic, const char *id,
             const char *result, const char *why)
{
    pd_buf f;

    buf_init(&f);
    buf_puts(&f, "\"topic\":");
    buf_json_string(&f, topic);
    buf_puts(&f, ",\"webhook_id\":");
    buf_json_string(&f, id);
    buf_puts(&f, ",\"result\":");
    buf_json_string(&f, result);
    log_write(level, f.failed ? NULL : buf_cstr(&f), "webhook %s %s: %s%s%s",
              topic != NULL ? topic : "-", id != NULL ? id : "-", result,
              why != NULL && why[0] ? ", " : "", why != NULL ? why : "");
    buf_free(&f);
}

/* ---- the inbox rows ---- */

int
webhook_audit(db *d, const char *action, const char *target_type,
              const char *target_id, int64_t order_id,
              const char *detail_json)
{
    return db_exec(d, "INSERT INTO audit_log (at, actor, action, "
                      "target_type, target_id, order_id, detail) "
                      "VALUES (?, 'shopify', ?, ?, ?, ?, ?)",
                   (db_arg[]){DB_INT(pd_now_ms()), DB_TEXT(action),
                              DB_TEXT(target_type), DB_TEXT(target_id),
                              order_id > 0 ? DB_INT(order_id) : DB_NULL,
                              DB_TEXT(detail_json)}, 6, NULL);
}

static int
mark_failed(db *d, int64_t id, const char *reason)
{
    return db_exec(d, "UPDATE webhook_inbox SET state = 'failed', "
                      "error = ?, attempts = attempts + 1 "
                      "WHERE id = ? AND state = 'received'",
                   (db_arg[]){DB_TEXT(reason), DB_INT(id)}, 2, NULL);
}

static int
mark_ignored(db *d, int64_t id)
{
    return db_exec(d, "UPDATE webhook_inbox SET state = 'ignored', "
                      "applied_at = ?, attempts = attempts + 1 "
                      "WHERE id = ? AND state = 'received'",
                   (db_arg[]){DB_INT(pd_now_ms()), DB_INT(id)}, 2, NULL);
}

/* The Shopify headers as a small JSON object, kept beside the body. */
static void
headers_json(pd_buf *b, const struct delivery_headers *h)
{
    const char *names[] = {
        "X-Shopify-Topic", "X-Shopify-Hmac-Sha256", "X-Shopify-Shop-Domain",
        "X-Shopify-API-Version", "X-Shopify-Webhook-Id",
        "X-Shopify-Triggered-At", "X-Shopify-Event-Id", "X-Shopify-Name"};
    const char *values[] = {h->topic, h->hmac, h->shop, h->version,
                            h->webhook_id, h->triggered_at, h->event_id,
                            h->name};
    bool first = true;

    buf_puts(b, "{");
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (values[i] == NULL)
            continue;
        buf_puts(b, first ? "" : ",");
        buf_json_string(b, names[i]);
        buf_puts(b, ":");
        buf_json_string(b, values[i]);
        first = false;
    }
    buf_puts(b, "}");
}

/* The id and state of the row holding webhook_id (state: "" if none). */
static int
find_row(db *d, const char *webhook_id, int64_t *id, char *state,
         size_t statelen)
{
    db_rows *r = NULL;
    int rc = db_query(d, "SELECT id, state FROM webhook_inbox "
                         "WHERE webhook_id = ?",
                      (db_arg[]){DB_TEXT(webhook_id)}, 1, &r);

    if (rc == PD_OK && (rc = db_step(r)) == 1) {
        *id = db_col_int(r, 0);
        snprintf(state, statelen, "%s", db_col_text(r, 1));
        rc = PD_OK;
    } else if (rc == 0) {
        rc = PD_ENOTFOUND;
    }
    db_rows_free(r);
    return rc;
}

/*
 * Writes the delivery to the inbox (committed when this returns 0).
 * state receives "received" for a new row, else the state of the row an
 * earlier delivery of the same webhook id left.
 */
static int
store_delivery(db *d, const struct delivery_headers *h, const char *body,
               size_t len, int64_t *id, char *state, size_t statelen)
{
    pd_buf sealed, hj;
    db_rows *r = NULL;
    int rc;

    buf_init(&sealed);
    buf_init(&hj);
    headers_json(&hj, h);
    rc = pii_seal(g_env.keys, body, len, &sealed);
    if (rc == PD_OK && (sealed.failed || hj.failed))
        rc = PD_ENOMEM;
    if (rc == PD_OK)
        rc = db_query(d, "INSERT INTO webhook_inbox (webhook_id, topic, "
                         "shop, api_version, headers, body, received_at, "
                         "state) VALUES (?, ?, ?, ?, ?, ?, ?, 'received') "
                         "RETURNING id",
                      (db_arg[]){DB_TEXT(h->webhook_id), DB_TEXT(h->topic),
                                 DB_TEXT(h->shop), DB_TEXT(h->version),
                                 DB_TEXT(buf_cstr(&hj)),
                                 DB_BLOB(sealed.data, sealed.len),
                                 DB_INT(pd_now_ms())}, 7, &r);
    if (rc == PD_OK && (rc = db_step(r)) == 1) {
        *id = db_col_int(r, 0);
        snprintf(state, statelen, "received");
        rc = db_step(r) < 0 ? PD_ERR : PD_OK; /* runs it to its end */
    } else if (rc == 0) {
        rc = PD_ERR;
    }
    db_rows_free(r);
    if (rc == PD_ECONFLICT)
        rc = find_row(d, h->webhook_id, id, state, statelen);
    buf_free(&sealed);
    buf_free(&hj);
    return rc;
}

/* ---- applying ---- */

/* The payload as JSON (integers stay 64-bit integers). */
static int
parse_body(const char *body, size_t len, json_t **out, char *reason,
           size_t rlen)
{
    json_error_t err;
    char *near;

    *out = json_loadb(body, len, 0, &err);
    if (*out == NULL) {
        /* jansson quotes the bytes near the error: they may be PII. */
        near = strstr(err.text, " near ");
        if (near != NULL)
            *near = '\0';
        snprintf(reason, rlen, "malformed JSON at line %d, column %d: %s",
                 err.line, err.column, err.text);
        return PD_EINVAL;
    }
    if (!json_is_object(*out)) {
        json_decref(*out);
        *out = NULL;
        snprintf(reason, rlen, "the payload is not a JSON object");
        return PD_EINVAL;
    }
    return PD_OK;
}

/*
 * One try in one write transaction: claims the row (still 'received'),
 * runs the topic, marks the row applied, commits. *claimed is false when
 * someone else applied the row first.
 */
/* What an applied delivery's body becomes: zero bytes. */
static const unsigned char stripped_body[1];

static int
apply_once(db *d, const struct webhook_env *env,
           const struct webhook_delivery *w, webhook_topic_fn fn,
           json_t *payload, char *reason, size_t rlen, bool *claimed)
{
    int64_t changes = 0;
    int rc = db_begin_write(d);

    if (rc != PD_OK)
        return rc;
    created_in_tx = 0;
    /*
     * Once applied, the raw body (customer data, sealed) has served its
     * purpose and is stripped, so a later redaction leaves none of it
     * behind; the row stays for de-duplication and the record.
     */
    rc = db_exec(d, "UPDATE webhook_inbox SET state = 'applied', "
                    "applied_at = ?, attempts = attempts + 1, error = NULL, "
                    "body = ? WHERE id = ? AND state = 'received'",
                 (db_arg[]){DB_INT(pd_now_ms()), DB_BLOB(stripped_body, 0),
                            DB_INT(w->inbox_id)},
                 3, &changes);
    *claimed = rc == PD_OK && changes == 1;
    if (rc == PD_OK && *claimed)
        rc = fn(d, env, w, payload, reason, rlen);
    if (rc == PD_OK && *claimed)
        rc = db_commit(d);
    if (rc != PD_OK || !*claimed) {
        db_rollback(d);
        created_in_tx = 0;
        return rc;
    }
    if (created_in_tx > 0)
        metrics_counter_add(m_created, NULL, created_in_tx);
    created_in_tx = 0;
    return PD_OK;
}

static int64_t
elapsed_ms(int64_t started_ns)
{
    return (pd_mono_ns() - started_ns) / 1000000;
}

/*
 * Applies a stored delivery. *out says what became of it; the return
 * value is the error behind OUT_STORED (a passing failure), else 0.
 * reason receives why on OUT_FAILED.
 */
static int
apply_delivery(db *d, const struct webhook_env *env,
               const struct webhook_delivery *w, const char *body,
               size_t len, int64_t started_ns, char *reason, size_t rlen,
               enum outcome *out)
{
    const struct topic_entry *t = find_topic(w->topic);
    json_t *payload = NULL;
    bool claimed = false;
    int rc;

    reason[0] = '\0';
    if (t == NULL) {
        *out = OUT_IGNORED;
        return mark_ignored(d, w->inbox_id);
    }
    rc = parse_body(body, len, &payload, reason, rlen);
    for (int i = 0; rc == PD_OK && i < APPLY_TRIES; i++) {
        rc = apply_once(d, env, w, t->fn, payload, reason, rlen, &claimed);
        /* A concurrent delivery created the same row: try again. */
        if (rc != PD_ECONFLICT || elapsed_ms(started_ns) > APPLY_BUDGET_MS)
            break;
    }
    json_decref(payload);
    if (rc == PD_OK) {
        *out = claimed ? OUT_APPLIED : OUT_DUPLICATE;
        return PD_OK;
    }
    if (rc != PD_EINVAL) {
        *out = OUT_STORED;
        return rc;
    }
    *out = OUT_FAILED;
    if (reason[0] == '\0')
        snprintf(reason, rlen, "the payload lacks what %s needs", w->topic);
    rc = mark_failed(d, w->inbox_id, reason);
    if (rc != PD_OK)
        log_error("webhook %s: cannot mark the delivery failed: %s",
                  w->webhook_id, db_errmsg(d));
    return PD_OK;
}

/* ---- the handler ---- */

/* A header value we keep: 1..HEADER_MAX bytes of printable ASCII. */
static const char *
header_value(http_req *req, const char *name)
{
    const char *v = http_header(req, name);
    size_t n;

    if (v == NULL)
        return NULL;
    n = strnlen(v, HEADER_MAX + 1);
    if (n == 0 || n > HEADER_MAX)
        return NULL;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)v[i] < 0x20 || (unsigned char)v[i] > 0x7e)
            return NULL;
    return v;
}

/* Logs, counts and answers a delivery refused before it was stored. */
static int
reject(http_req *req, const char *topic, int status, const char *result,
       const char *message)
{
    log_delivery(LOG_WARNING, topic,
                 header_value(req, "X-Shopify-Webhook-Id"), result, message);
    count(topic, result);
    http_error(req, status, NULL, message);
    return -1;
}

/* Answers 401 unless the raw body bytes carry a valid signature. */
static int
check_signature(http_req *req, const char *body, size_t len)
{
    const char *topic = header_value(req, "X-Shopify-Topic");
    const char *hmac = http_header(req, "X-Shopify-Hmac-Sha256");
    int n = 0;
    const char *const *secrets = guard_secrets(&n);
    int rc;

    if (hmac == NULL)
        return reject(req, topic, 401, "unauthorized",
                      "the X-Shopify-Hmac-Sha256 header is missing");
    rc = webhook_sig_verify(body, len, hmac, secrets, n);
    if (rc == PD_EINVAL)
        return reject(req, topic, 401, "unauthorized",
                      "the webhook signature does not match");
    if (rc != PD_OK)
        return reject(req, topic, 500, "error",
                      "the signature could not be checked");
    return 0;
}

/* Reads the headers; answers 400 naming the first one missing. */
static int
read_headers(http_req *req, struct delivery_headers *h)
{
    static const char *const required[] = {
        "X-Shopify-Topic", "X-Shopify-Shop-Domain", "X-Shopify-API-Version",
        "X-Shopify-Webhook-Id"};
    const char **slots[] = {&h->topic, &h->shop, &h->version,
                            &h->webhook_id};
    char message[96];

    memset(h, 0, sizeof(*h));
    h->hmac = http_header(req, "X-Shopify-Hmac-Sha256");
    for (int i = 0; i < 4; i++) {
        *slots[i] = header_value(req, required[i]);
        if (*slots[i] != NULL)
            continue;
        snprintf(message, sizeof(message), "the %s header is missing or "
                 "malformed", required[i]);
        return reject(req, h->topic, 400, "bad_request", message);
    }
    h->triggered_at = header_value(req, "X-Shopify-Triggered-At");
    h->event_id = header_value(req, "X-Shopify-Event-Id");
    h->name = header_value(req, "X-Shopify-Name");
    if (strcasecmp(h->shop, g_env.shop) != 0)
        return reject(req, h->topic, 401, "unauthorized",
                      "the delivery is for another shop");
    return 0;
}

/* Counts, logs and answers what became of a stored delivery. */
static int
answer(http_req *req, const struct webhook_delivery *w, enum outcome o,
       int err, const char *reason)
{
    const char *name = outcome_names[o];
    const char *why = o == OUT_STORED ? pd_err_str(err) : reason;

    count(w->topic, name);
    log_delivery(o == OUT_FAILED || o == OUT_STORED ? LOG_WARNING : LOG_INFO,
                 w->topic, w->webhook_id, name, why);
    if (o == OUT_FAILED)
        return http_error(req, 400, "invalid_content", reason);
    return http_respond(req, 200, "application/json", outcome_bodies[o],
                        strlen(outcome_bodies[o]), false);
}

/* Stores a verified delivery, applies it when it is new, answers. */
static int
deliver(http_req *req, db *d, const struct delivery_headers *h,
        const char *body, size_t len, int64_t started)
{
    struct webhook_delivery w = {.topic = h->topic, .shop = h->shop,
                                 .api_version = h->version,
                                 .webhook_id = h->webhook_id,
                                 .triggered_at = h->triggered_at};
    char state[16], reason[REASON_MAX] = "";
    enum outcome o = OUT_STORED;
    int rc = store_delivery(d, h, body, len, &w.inbox_id, state,
                            sizeof(state));

    if (rc != PD_OK) {
        reject(req, h->topic, rc == PD_EUNAVAIL || rc == PD_EBUSY ? 503
               : 500, "error", "the delivery could not be stored");
        return 0;
    }
    /* Seen before: answered once already, unless it is still waiting. */
    if (strcmp(state, "received") != 0)
        return answer(req, &w, OUT_DUPLICATE, 0, NULL);
    /* Slow so far (a busy database): stored, applied later. */
    rc = PD_EBUSY;
    if (elapsed_ms(started) <= APPLY_BUDGET_MS)
        rc = apply_delivery(d, &g_env, &w, body, len, started, reason,
                            sizeof(reason), &o);
    return answer(req, &w, o, rc, reason);
}

int
web_webhook_shopify(http_req *req)
{
    struct delivery_headers h;
    int64_t started = pd_mono_ns();
    size_t len = 0;
    const char *body = http_body(req, &len);
    db *d;

    if (!g_ready) {
        reject(req, NULL, 503, "error", "webhooks are not set up");
        return 0;
    }
    /* The signature first: nothing else is read from a forged request. */
    if (check_signature(req, body, len) != 0 || read_headers(req, &h) != 0)
        return 0;
    d = db_thread();
    if (d == NULL) {
        reject(req, h.topic, 503, "error", "the database is unavailable");
        return 0;
    }
    return deliver(req, d, &h, body, len, started);
}

/* ---- deliveries left unapplied ---- */

/* A stored delivery, copied out of its row. */
struct stored {
    char webhook_id[HEADER_MAX + 1], topic[HEADER_MAX + 1];
    char shop[HEADER_MAX + 1], version[HEADER_MAX + 1];
    char triggered_at[HEADER_MAX + 1];
    pd_buf body; /* opened */
};

/* X-Shopify-Triggered-At from the stored headers, "" when absent. */
static void
stored_triggered_at(const char *headers, char *out, size_t len)
{
    json_t *j = json_loads(headers, 0, NULL);
    const char *v = json_string_value(json_object_get(j,
                                      "X-Shopify-Triggered-At"));

    snprintf(out, len, "%s", v != NULL ? v : "");
    json_decref(j);
}

/* Loads row id if it is still 'received'; PD_ENOTFOUND otherwise. */
static int
load_stored(db *d, const struct webhook_env *env, int64_t id,
            struct stored *s)
{
    db_rows *r = NULL;
    const void *blob;
    size_t blen = 0;
    int rc = db_query(d, "SELECT webhook_id, topic, shop, api_version, "
                         "headers, body FROM webhook_inbox "
                         "WHERE id = ? AND state = 'received'",
                      (db_arg[]){DB_INT(id)}, 1, &r);

    if (rc == PD_OK && (rc = db_step(r)) == 1) {
        snprintf(s->webhook_id, sizeof(s->webhook_id), "%s",
                 db_col_text(r, 0));
        snprintf(s->topic, sizeof(s->topic), "%s", db_col_text(r, 1));
        snprintf(s->shop, sizeof(s->shop), "%s", db_col_text(r, 2));
        snprintf(s->version, sizeof(s->version), "%s", db_col_text(r, 3));
        stored_triggered_at(db_col_text(r, 4), s->triggered_at,
                            sizeof(s->triggered_at));
        blob = db_col_blob(r, 5, &blen);
        rc = pii_open(env->keys, blob, blen, &s->body);
    } else if (rc == 0) {
        rc = PD_ENOTFOUND;
    }
    db_rows_free(r);
    return rc;
}

/* Applies one stored row; *applied is set when it was applied now. */
static int
apply_stored(db *d, const struct webhook_env *env, int64_t id,
             bool *applied)
{
    struct stored s;
    struct webhook_delivery w;
    char reason[REASON_MAX];
    enum outcome o = OUT_STORED;
    int rc;

    memset(&s, 0, sizeof(s));
    buf_init(&s.body);
    *applied = false;
    rc = load_stored(d, env, id, &s);
    if (rc == PD_OK) {
        w = (struct webhook_delivery){
            .inbox_id = id, .topic = s.topic, .shop = s.shop,
            .api_version = s.version, .webhook_id = s.webhook_id,
            .triggered_at = s.triggered_at[0] ? s.triggered_at : NULL};
        rc = apply_delivery(d, env, &w, s.body.data != NULL ? s.body.data
                            : "", s.body.len, pd_mono_ns(), reason,
                            sizeof(reason), &o);
        count(w.topic, outcome_names[o]);
        log_delivery(o == OUT_APPLIED ? LOG_INFO : LOG_WARNING, w.topic,
                     w.webhook_id, outcome_names[o],
                     o == OUT_STORED ? pd_err_str(rc) : reason);
        *applied = o == OUT_APPLIED;
    } else if (rc != PD_ENOTFOUND) {
        log_error("webhook inbox row %lld cannot be opened: %s",
                  (long long)id, pd_err_str(rc));
    }
    buf_free(&s.body);
    return rc == PD_ENOTFOUND ? PD_OK : rc;
}

/* Up to max ids of rows still 'received' after after_id, oldest first. */
static int
list_pending(db *d, int64_t after_id, int64_t before_ms, int64_t *ids,
             int max)
{
    db_rows *r = NULL;
    int n = 0, rc = db_query(d, "SELECT id FROM webhook_inbox "
                                "WHERE state = 'received' AND id > ? "
                                "AND received_at <= ? ORDER BY id LIMIT ?",
                             (db_arg[]){DB_INT(after_id), DB_INT(before_ms),
                                        DB_INT(max)},
                             3, &r);

    while (rc == PD_OK && n < max && (rc = db_step(r)) == 1) {
        ids[n++] = db_col_int(r, 0);
        rc = PD_OK;
    }
    db_rows_free(r);
    return rc < 0 ? rc : n;
}

int
webhooks_apply_pending(db *d, const struct webhook_env *env,
                       int64_t received_before_ms)
{
    int64_t ids[PENDING_BATCH], after = 0;
    int applied = 0, n, rc = PD_OK;
    bool one;

    while ((n = list_pending(d, after, received_before_ms, ids,
                             PENDING_BATCH)) > 0) {
        for (int i = 0; i < n; i++) {
            rc = apply_stored(d, env, ids[i], &one);
            applied += one ? 1 : 0;
            /* The database went away: the rest waits for the next pass. */
            if (rc == PD_EUNAVAIL)
                return applied;
        }
        after = ids[n - 1];
    }
    if (n < 0) {
        log_error("webhook inbox cannot be read: %s", db_errmsg(d));
        return applied > 0 ? applied : n;
    }
    if (applied > 0)
        log_info("webhook inbox: applied %d delivery(ies) left waiting",
                 applied);
    return applied;
}
