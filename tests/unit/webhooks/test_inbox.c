/*
 * test_inbox.c — the inbox: rows left 'received' are applied by the
 * start-up pass (failed and ignored ones marked so), and the real HTTP
 * handler behind a real server: signatures over the raw bytes, required
 * headers, the shop, duplicates, failures kept with their reason, and
 * 200 deliveries sent 20 at a time.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wh_tests.h"

#include "auth/guard_setup.h"
#include "cli/config.h"
#include "common/err.h"
#include "common/util.h"
#include "http/server.h"
#include "obs/metrics.h"

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BODY_MAX (2 * 1024 * 1024)

static struct config guard_cfg;
static http_server *server;
static const struct http_route routes[] = {
    {"POST", "/webhooks/shopify", web_webhook_shopify, NULL, BODY_MAX, 0, 0},
};

void
wh_guard_init(void)
{
    snprintf(guard_cfg.app_secret, sizeof(guard_cfg.app_secret), "%s",
             WH_SECRET);
    snprintf(guard_cfg.app_secret_previous,
             sizeof(guard_cfg.app_secret_previous), "older-secret");
    snprintf(guard_cfg.shop, sizeof(guard_cfg.shop), "%s", WH_SHOP);
    guard_cfg.staff_rate_per_minute = 100;
    guard_cfg.public_rate_per_minute = 100;
    assert_int_equal(guard_setup(&guard_cfg), PD_OK);
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* ---- metrics ---- */

/* The value of the series whose line starts with prefix (0 if none). */
static int64_t
metric(const char *prefix)
{
    pd_buf b;
    const char *line;
    int64_t v = 0;

    buf_init(&b);
    metrics_render(&b);
    for (line = buf_cstr(&b); line != NULL && *line != '\0';) {
        const char *end = strchr(line, '\n');

        if (strncmp(line, prefix, strlen(prefix)) == 0)
            v = strtoll(line + strlen(prefix), NULL, 10);
        line = end != NULL ? end + 1 : NULL;
    }
    buf_free(&b);
    return v;
}

#define CREATED "orders_created_total "
#define DELIVERED(topic, result)                                          \
    "webhook_deliveries_total{topic=\"" topic "\",result=\"" result "\"} "

/* ---- the start-up pass ---- */

/* Stores a delivery the way the handler does, left in `state`. */
static void
add_row(db *d, const char *webhook_id, const char *topic, const char *body,
        const char *state)
{
    pd_buf sealed;

    buf_init(&sealed);
    assert_int_equal(pii_seal(wh_keys, body, strlen(body), &sealed), 0);
    env_exec_ok(d, "INSERT INTO webhook_inbox (webhook_id, topic, shop, "
                   "api_version, headers, body, received_at, state) "
                   "VALUES (?, ?, ?, '2024-10', '{}', ?, ?, ?)",
                (db_arg[]){DB_TEXT(webhook_id), DB_TEXT(topic),
                           DB_TEXT(WH_SHOP), DB_BLOB(sealed.data, sealed.len),
                           DB_INT(pd_now_ms()), DB_TEXT(state)}, 6);
    buf_free(&sealed);
}

static void
row_state(db *d, const char *webhook_id, char *out, size_t len)
{
    wh_text(d, "SELECT state || '|' || attempts || '|' || "
               "COALESCE(error, '') FROM webhook_inbox WHERE webhook_id = ?",
            (db_arg[]){DB_TEXT(webhook_id)}, 1, out, len);
}

void
test_pending_applies_waiting_rows(void **state)
{
    struct env *e = *state;
    char *order = wh_order_json(&(struct wh_sample){0});
    int64_t created = metric(CREATED);
    int64_t applied = metric(DELIVERED("orders/create", "applied"));
    char text[300];

    add_row(e->d, "wh-1", "orders/create", order, "received");
    add_row(e->d, "wh-2", "products/update", "{}", "received");
    add_row(e->d, "wh-3", "orders/create", "{\"id\": 12,", "received");
    add_row(e->d, "wh-4", "orders/updated", "{\"name\":\"#1\"}", "received");
    add_row(e->d, "wh-5", "orders/create", "{}", "applied");
    free(order);
    assert_int_equal(webhooks_apply_pending(e->d, &wh_env, pd_now_ms()), 1);
    row_state(e->d, "wh-1", text, sizeof(text));
    assert_string_equal(text, "applied|1|");
    row_state(e->d, "wh-2", text, sizeof(text));
    assert_string_equal(text, "ignored|1|");
    row_state(e->d, "wh-3", text, sizeof(text));
    assert_non_null(strstr(text, "failed|1|malformed JSON"));
    row_state(e->d, "wh-4", text, sizeof(text));
    assert_string_equal(text, "failed|1|the order's id is missing");
    row_state(e->d, "wh-5", text, sizeof(text));
    assert_string_equal(text, "applied|0|");
    assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM orders", NULL, 0),
                     1);
    assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM webhook_inbox "
                                   "WHERE state = 'applied' AND applied_at "
                                   "IS NULL", NULL, 0), 1); /* wh-5 */
    assert_true(metric(CREATED) == created + 1);
    assert_true(metric(DELIVERED("orders/create", "applied")) ==
                applied + 1);
    /* A second pass finds nothing left to do. */
    assert_int_equal(webhooks_apply_pending(e->d, &wh_env, pd_now_ms()), 0);
    assert_true(metric(CREATED) == created + 1);
}

/* ---- the HTTP handler ---- */

int
wh_http_setup(void **state)
{
    struct http_server_config hc = {
        .host = "127.0.0.1", .port = 0, .threads = 8,
        .connection_timeout_s = 30, .max_connections = 200,
        .per_ip_connections = 200, .connection_memory = 64 * 1024};
    struct env *e;
    char err[256];

    if (wh_setup(state) != 0)
        return -1;
    e = *state;
    if (db_pool_init(e->url) != PD_OK ||
        http_server_start(&hc, routes, 1, &server, err, sizeof(err)) !=
            PD_OK) {
        print_error("server: %s\n", err);
        return -1;
    }
    return 0;
}

int
wh_http_teardown(void **state)
{
    http_server_stop(server);
    server = NULL;
    db_pool_shutdown();
    return wh_teardown(state);
}

/* One delivery: NULL headers are computed or defaulted, "" omitted. */
struct delivery {
    const char *topic, *id, *shop, *version, *hmac, *secret;
    const char *body;
    size_t len; /* 0: strlen(body) */
};

struct reply {
    long status;
    char body[1024];
    size_t len;
    double seconds;
};

static size_t
on_data(char *p, size_t size, size_t n, void *arg)
{
    struct reply *r = arg;
    size_t take = size * n;

    if (take > sizeof(r->body) - 1 - r->len)
        take = sizeof(r->body) - 1 - r->len;
    memcpy(r->body + r->len, p, take);
    r->len += take;
    r->body[r->len] = '\0';
    return size * n;
}

/* The base64 HMAC-SHA256 Shopify sends, computed here independently. */
static void
sign(const char *secret, const char *body, size_t len, char out[64])
{
    unsigned char mac[32];
    unsigned int n = 0;

    assert_non_null(HMAC(EVP_sha256(), secret, (int)strlen(secret),
                         (const unsigned char *)body, len, mac, &n));
    EVP_EncodeBlock((unsigned char *)out, mac, (int)n);
}

static void
add_header(struct curl_slist **h, const char *name, const char *value,
           const char *fallback)
{
    char line[400];

    if (value == NULL)
        value = fallback;
    if (value[0] == '\0')
        return;
    snprintf(line, sizeof(line), "%s: %s", name, value);
    *h = curl_slist_append(*h, line);
}

static void
post_with(CURL *c, const struct delivery *dl, struct reply *r)
{
    size_t len = dl->len ? dl->len : strlen(dl->body);
    struct curl_slist *h = NULL;
    char url[96], mac[64];

    sign(dl->secret ? dl->secret : WH_SECRET, dl->body, len, mac);
    add_header(&h, "Content-Type", "application/json", NULL);
    add_header(&h, "X-Shopify-Topic", dl->topic, "orders/create");
    add_header(&h, "X-Shopify-Hmac-Sha256", dl->hmac, mac);
    add_header(&h, "X-Shopify-Shop-Domain", dl->shop, WH_SHOP);
    add_header(&h, "X-Shopify-API-Version", dl->version, "2024-10");
    add_header(&h, "X-Shopify-Webhook-Id", dl->id, "d-1");
    add_header(&h, "X-Shopify-Triggered-At", "2024-03-12T14:15:31.000000Z",
               NULL);
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/webhooks/shopify",
             http_server_port(server));
    memset(r, 0, sizeof(*r));
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_POSTFIELDS, dl->body);
    curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)len);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    assert_int_equal(curl_easy_perform(c), CURLE_OK);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_TOTAL_TIME, &r->seconds);
    curl_slist_free_all(h);
}

static void
post(const struct delivery *dl, struct reply *r)
{
    CURL *c = curl_easy_init();

    assert_non_null(c);
    post_with(c, dl, r);
    curl_easy_cleanup(c);
}

/* Posts and checks the status and that the answer contains want. */
static void
expect(const struct delivery *dl, long status, const char *want)
{
    struct reply r;

    post(dl, &r);
    if (r.status != status || strstr(r.body, want) == NULL)
        print_error("got %ld %s, want %ld %s\n", r.status, r.body, status,
                    want);
    assert_int_equal(r.status, status);
    assert_non_null(strstr(r.body, want));
}

static int64_t
inbox_rows(db *d)
{
    return env_int(d, "SELECT COUNT(*) FROM webhook_inbox", NULL, 0);
}

/*
 * An applied delivery's row keeps its headers, but its body (customer
 * data) is stripped once applied.
 */
static void
check_stored_body(db *d, const char *webhook_id, const char *body)
{
    db_rows *r = NULL;
    size_t n = 1;

    (void)body;
    assert_int_equal(db_query(d, "SELECT body, headers, state FROM "
                                 "webhook_inbox WHERE webhook_id = ?",
                              (db_arg[]){DB_TEXT(webhook_id)}, 1, &r), 0);
    assert_int_equal(db_step(r), 1);
    db_col_blob(r, 0, &n);
    assert_int_equal(n, 0);
    assert_string_equal(db_col_text(r, 2), "applied");
    assert_non_null(strstr(db_col_text(r, 1), "\"X-Shopify-Topic\":"
                                              "\"orders/create\""));
    assert_non_null(strstr(db_col_text(r, 1), "\"X-Shopify-Triggered-At\""));
    db_rows_free(r);
}

void
test_http_delivery(void **state)
{
    struct env *e = *state;
    char *body = wh_order_json(&(struct wh_sample){0});
    struct delivery dl = {.body = body};
    char text[64];

    wh_add_images(e->d);
    expect(&dl, 200, "\"applied\"");
    assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM pets", NULL, 0), 3);
    wh_text(e->d, "SELECT tier FROM images WHERE id = 'img-orig-1'", NULL,
            0, text, sizeof(text));
    assert_string_equal(text, "order_pending");
    check_stored_body(e->d, "d-1", body);
    /* The same delivery four more times: answered, not applied again. */
    for (int i = 0; i < 4; i++)
        expect(&dl, 200, "\"duplicate\"");
    assert_int_equal(inbox_rows(e->d), 1);
    assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM orders", NULL, 0),
                     1);
    assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM pets", NULL, 0), 3);
    assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM status_history",
                             NULL, 0), 1);
    /* Header case does not matter for the shop domain. */
    dl = (struct delivery){.body = body, .id = "d-2",
                           .topic = "orders/updated",
                           .shop = "PerkiePrints.MyShopify.com"};
    expect(&dl, 200, "\"applied\"");
    free(body);
}

void
test_http_refusals(void **state)
{
    struct env *e = *state;
    char *body = wh_order_json(&(struct wh_sample){0});
    char *changed = strdup(body), *spaced = NULL, mac[64], bad[64];
    size_t len = strlen(body);

    sign(WH_SECRET, body, len, mac);
    /* One byte of the body changed, the signature kept. */
    changed[len / 2] ^= 1;
    expect(&(struct delivery){.body = changed, .hmac = mac}, 401,
           "signature");
    /* One character of the signature changed. */
    snprintf(bad, sizeof(bad), "%s", mac);
    bad[3] = bad[3] == 'A' ? 'B' : 'A';
    expect(&(struct delivery){.body = body, .hmac = bad}, 401, "signature");
    /* The same JSON with other whitespace is other bytes. */
    assert_non_null(spaced = malloc(len + 2));
    spaced[0] = '{';
    spaced[1] = ' ';
    memcpy(spaced + 2, body + 1, len);
    expect(&(struct delivery){.body = spaced, .hmac = mac}, 401,
           "signature");
    expect(&(struct delivery){.body = body, .hmac = ""}, 401,
           "X-Shopify-Hmac-Sha256");
    expect(&(struct delivery){.body = body, .secret = "not-the-secret"},
           401, "signature");
    expect(&(struct delivery){.body = body, .topic = ""}, 400,
           "X-Shopify-Topic");
    expect(&(struct delivery){.body = body, .id = ""}, 400,
           "X-Shopify-Webhook-Id");
    expect(&(struct delivery){.body = body, .version = ""}, 400,
           "X-Shopify-API-Version");
    expect(&(struct delivery){.body = body, .shop = "evil.myshopify.com"},
           401, "another shop");
    assert_int_equal(inbox_rows(e->d), 0);
    assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM orders", NULL, 0),
                     0);
    /* The previous secret of a rotation still verifies. */
    expect(&(struct delivery){.body = body, .secret = "older-secret"}, 200,
           "\"applied\"");
    free(spaced);
    free(changed);
    free(body);
}

void
test_http_failed_and_ignored(void **state)
{
    struct env *e = *state;
    char text[300];
    char *order = wh_order_json(&(struct wh_sample){0});

    expect(&(struct delivery){.body = "{\"id\": 5,", .id = "bad-1"}, 400,
           "\"invalid_content\"");
    row_state(e->d, "bad-1", text, sizeof(text));
    assert_non_null(strstr(text, "failed|1|malformed JSON"));
    /* Shopify's retry of a failed delivery: seen before. */
    expect(&(struct delivery){.body = "{\"id\": 5,", .id = "bad-1"}, 200,
           "\"duplicate\"");
    expect(&(struct delivery){.body = "{\"name\":\"#1\"}", .id = "bad-2"},
           400, "the order's id is missing");
    expect(&(struct delivery){.body = "{}", .id = "p-1",
                              .topic = "products/update"}, 200,
           "\"ignored\"");
    row_state(e->d, "p-1", text, sizeof(text));
    assert_string_equal(text, "ignored|1|");
    /* Stored, then the process died: the retry applies it. */
    add_row(e->d, "d-wait", "orders/create", order, "received");
    expect(&(struct delivery){.body = order, .id = "d-wait"}, 200,
           "\"applied\"");
    row_state(e->d, "d-wait", text, sizeof(text));
    assert_string_equal(text, "applied|1|");
    assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM orders", NULL, 0),
                     1);
    free(order);
}

/* ---- many at once ---- */

#define SENDERS 20
#define PER_SENDER 10

struct sender {
    int index;
    const char *prefix;    /* webhook ids are prefix-N */
    const char *same_id;   /* non-NULL: every sender sends this id */
    const char *same_body; /* non-NULL: every sender sends this body */
    double seconds[PER_SENDER];
    long status[PER_SENDER];
    char result[PER_SENDER][16];
};

static void *
send_many(void *arg)
{
    struct sender *s = arg;
    CURL *c = curl_easy_init();
    int count = s->same_body != NULL ? 1 : PER_SENDER;

    for (int i = 0; c != NULL && i < count; i++) {
        int k = s->index * PER_SENDER + i;
        char name[16], id[32], *body = NULL;
        struct reply r;

        snprintf(name, sizeof(name), "#%d", 20000 + k);
        snprintf(id, sizeof(id), "%s-%d", s->prefix, k);
        if (s->same_body == NULL)
            body = wh_order_json(&(struct wh_sample){
                .id = WH_ORDER_ID + 1 + k, .name = name, .number = 20000 + k});
        post_with(c, &(struct delivery){
                      .body = body != NULL ? body : s->same_body,
                      .id = s->same_id != NULL ? s->same_id : id}, &r);
        s->seconds[i] = r.seconds;
        s->status[i] = r.status;
        snprintf(s->result[i], sizeof(s->result[i]), "%.15s",
                 strstr(r.body, "applied") ? "applied"
                 : strstr(r.body, "duplicate") ? "duplicate" : r.body);
        free(body);
    }
    curl_easy_cleanup(c);
    return NULL;
}

static int
by_value(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return x < y ? -1 : x > y;
}

static void
run_senders(struct sender *s, const char *prefix, const char *same_id,
            const char *same_body)
{
    pthread_t t[SENDERS];

    for (int i = 0; i < SENDERS; i++) {
        s[i] = (struct sender){.index = i, .prefix = prefix,
                               .same_id = same_id, .same_body = same_body};
        assert_int_equal(pthread_create(&t[i], NULL, send_many, &s[i]), 0);
    }
    for (int i = 0; i < SENDERS; i++)
        pthread_join(t[i], NULL);
}

static void
report(struct env *e, struct sender *s, double wall)
{
    double all[SENDERS * PER_SENDER];
    int n = 0;

    for (int i = 0; i < SENDERS; i++)
        for (int j = 0; j < PER_SENDER; j++) {
            assert_int_equal(s[i].status[j], 200);
            assert_string_equal(s[i].result[j], "applied");
            assert_true(s[i].seconds[j] < 5.0);
            all[n++] = s[i].seconds[j];
        }
    qsort(all, (size_t)n, sizeof(all[0]), by_value);
    print_message("%s: %d orders/create (3 pets) %d at a time: %.0f/s, "
                  "p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
                  e->kind == DB_SQLITE ? "sqlite" : "postgres", n, SENDERS,
                  n / wall, all[n / 2] * 1000, all[n * 99 / 100] * 1000,
                  all[n - 1] * 1000);
}

/* One client, one delivery after another: the cost of one delivery. */
static void
sequential(struct env *e, int n)
{
    CURL *c = curl_easy_init();
    double total = 0, worst = 0;

    assert_non_null(c);
    for (int k = 0; k < n; k++) {
        char name[16], id[32], *body;
        struct reply r;

        snprintf(name, sizeof(name), "#%d", 30000 + k);
        snprintf(id, sizeof(id), "seq-%d", k);
        body = wh_order_json(&(struct wh_sample){
            .id = WH_ORDER_ID + 1000 + k, .name = name, .number = 30000 + k});
        post_with(c, &(struct delivery){.body = body, .id = id}, &r);
        assert_int_equal(r.status, 200);
        total += r.seconds;
        worst = r.seconds > worst ? r.seconds : worst;
        free(body);
    }
    curl_easy_cleanup(c);
    print_message("%s: %d orders/create (3 pets) one at a time: mean "
                  "%.2f ms, max %.2f ms\n",
                  e->kind == DB_SQLITE ? "sqlite" : "postgres", n,
                  total / n * 1000, worst * 1000);
}

/* How many of the senders' single deliveries were answered "applied". */
static int
count_applied(const struct sender *s)
{
    int applied = 0;

    for (int i = 0; i < SENDERS; i++) {
        assert_int_equal(s[i].status[0], 200);
        applied += strcmp(s[i].result[0], "applied") == 0;
    }
    return applied;
}

void
test_http_concurrent(void **state)
{
    struct env *e = *state;
    static struct sender s[SENDERS];
    char *body = wh_order_json(&(struct wh_sample){0});
    int64_t start = pd_mono_ns();

    wh_add_images(e->d);
    run_senders(s, "bulk", NULL, NULL);
    report(e, s, (double)(pd_mono_ns() - start) / 1e9);
    assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM orders", NULL, 0),
                     SENDERS * PER_SENDER);
    assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM pets", NULL, 0),
                     3 * SENDERS * PER_SENDER);
    /* One delivery sent by 20 clients at once is applied exactly once. */
    run_senders(s, "same", "same-1", body);
    assert_int_equal(count_applied(s), 1);
    /* 20 deliveries (other ids) of one new order at once: one order. */
    run_senders(s, "other", NULL, body);
    assert_int_equal(count_applied(s), SENDERS);
    assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM orders WHERE "
                                   "shopify_id = ?",
                             (db_arg[]){DB_INT(WH_ORDER_ID)}, 1), 1);
    assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM pets p JOIN orders "
                                   "o ON o.id = p.order_id WHERE "
                                   "o.shopify_id = ?",
                             (db_arg[]){DB_INT(WH_ORDER_ID)}, 1), 3);
    assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM images WHERE "
                                   "tier = 'order_pending'", NULL, 0), 6);
    sequential(e, 100);
    free(body);
}
