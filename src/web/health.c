/*
 * health.c — the operator's routes: liveness, readiness (the database
 * and the storage answer), Prometheus metrics (with the readiness found
 * at each scrape as a gauge), the front page, and the test-only routes
 * (a slow request, a body echo) the tests drive.
 */
#include "web/web.h"

#include "common/err.h"
#include "db/db.h"
#include "obs/log.h"
#include "obs/metrics.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int
web_healthz(http_req *req)
{
    static const char body[] = "{\"status\":\"ok\"}\n";

    return http_respond(req, 200, "application/json", body,
                        sizeof(body) - 1, false);
}

static const char *
check_database(char *reason, size_t len)
{
    db *d = db_thread();

    if (d == NULL) {
        snprintf(reason, len, "cannot connect");
        return reason;
    }
    /* A connection the server dropped fails once, then reconnects. */
    if (db_ping(d) != PD_OK && db_ping(d) != PD_OK) {
        snprintf(reason, len, "%s", db_errmsg(d));
        return reason;
    }
    return NULL;
}

/* 1 when the last readiness check (a /readyz or a scrape) passed. */
static atomic_int last_ready = 1;

/* What one readiness check found: a reason per failed part, or NULL. */
struct readiness {
    char db_reason[256], store_reason[256];
    const char *db_fail, *store_fail;
};

/* Checks the database and the storage; true when both answer. */
static bool
check_ready(struct readiness *r)
{
    bool ok;

    r->db_fail = check_database(r->db_reason, sizeof(r->db_reason));
    r->store_fail = NULL;
    if (store_ping(web_app()->store, r->store_reason,
                   sizeof(r->store_reason)) != PD_OK)
        r->store_fail = r->store_reason;
    ok = r->db_fail == NULL && r->store_fail == NULL;
    if (!ok)
        log_warn("not ready: database %s; storage %s",
                 r->db_fail ? r->db_fail : "ok",
                 r->store_fail ? r->store_fail : "ok");
    atomic_store(&last_ready, ok);
    return ok;
}

int
web_readyz(http_req *req)
{
    struct readiness r;
    bool ready = check_ready(&r);
    pd_buf b;
    int rc;

    buf_init(&b);
    buf_printf(&b, "{\"status\":\"%s\",\"checks\":{\"database\":",
               ready ? "ok" : "unavailable");
    buf_json_string(&b, r.db_fail ? r.db_fail : "ok");
    buf_puts(&b, ",\"storage\":");
    buf_json_string(&b, r.store_fail ? r.store_fail : "ok");
    buf_puts(&b, "}}\n");
    rc = http_respond_json(req, ready ? 200 : 503, &b);
    buf_free(&b);
    return rc;
}

/* True when the text equals the configured token (constant time). */
static bool
token_matches(const char *given, const char *want)
{
    size_t n = strlen(want);

    return given != NULL && strlen(given) == n &&
           CRYPTO_memcmp(given, want, n) == 0;
}

/*
 * True when no token is configured, or the request carries it: as a
 * bearer token, or as ?token= for scrapers that cannot send headers
 * (Cloud Run's Prometheus sidecar; access logs cut the value short).
 */
static bool
metrics_allowed(http_req *req)
{
    const char *want = web_app()->cfg->metrics_token;
    const char *auth = http_header(req, "Authorization");

    if (want[0] == '\0')
        return true;
    if (auth != NULL && strncmp(auth, "Bearer ", 7) == 0)
        return token_matches(auth + 7, want);
    return token_matches(http_query(req, "token"), want);
}

int
web_metrics(http_req *req)
{
    struct readiness r;
    pd_buf b;
    int rc;

    if (!metrics_allowed(req)) {
        http_add_header(req, "WWW-Authenticate", "Bearer");
        return http_error(req, 401, NULL, "a metrics token is required");
    }
    check_ready(&r); /* for the printdesk_ready gauge */
    buf_init(&b);
    metrics_render(&b);
    if (b.failed)
        rc = http_error(req, 500, NULL, "out of memory");
    else
        rc = http_respond(req, 200, "text/plain; version=0.0.4",
                          buf_cstr(&b), b.len, true);
    buf_free(&b);
    return rc;
}

/* Appends one list item per status with its order count. */
static int
status_counts(pd_buf *b)
{
    db *d = db_thread();
    db_rows *rows = NULL;
    int rc;

    if (d == NULL)
        return PD_EUNAVAIL;
    rc = db_query(d, "SELECT status, COUNT(*) FROM orders GROUP BY status "
                     "ORDER BY status", NULL, 0, &rows);
    if (rc != PD_OK)
        return rc;
    while ((rc = db_step(rows)) == 1) {
        buf_puts(b, "<li>");
        buf_html_escaped(b, db_col_text(rows, 0));
        buf_printf(b, ": %lld</li>", (long long)db_col_int(rows, 1));
    }
    db_rows_free(rows);
    return rc < 0 ? rc : PD_OK;
}

/* The front page: that the desk runs, and how many orders it holds. */
int
web_home(http_req *req)
{
    pd_buf b;
    int rc;

    buf_init(&b);
    buf_puts(&b, "<!doctype html><html lang=\"en\"><head>"
                 "<meta charset=\"utf-8\"><meta name=\"viewport\" "
                 "content=\"width=device-width,initial-scale=1\">"
                 "<title>printdesk</title></head><body><main>"
                 "<h1>printdesk</h1><p>The fulfillment desk is running."
                 "</p><h2>Orders by status</h2><ul>");
    rc = status_counts(&b);
    if (rc != PD_OK) {
        buf_free(&b);
        return rc;
    }
    buf_puts(&b, "</ul><p><a href=\"dashboard\">Open the desk</a> · "
                 "<a href=\"readyz\">Readiness</a> · "
                 "<a href=\"metrics\">Metrics</a></p></main></body>"
                 "</html>\n");
    http_add_header(req, "Cache-Control", "no-cache");
    rc = http_respond(req, 200, "text/html; charset=utf-8", buf_cstr(&b),
                      b.len, true);
    buf_free(&b);
    return rc;
}

/* Sleeps ms milliseconds (at most 30 s), then answers. */
int
web_test_sleep(http_req *req)
{
    const char *ms_text = http_query(req, "ms");
    int64_t ms = 1000;
    struct timespec ts;

    if (ms_text != NULL && pd_parse_i64(ms_text, 0, 30000, &ms) != PD_OK)
        return http_error(req, 400, NULL, "ms must be 0..30000");
    ts.tv_sec = ms / 1000;
    ts.tv_nsec = (ms % 1000) * 1000000;
    while (nanosleep(&ts, &ts) != 0)
        ;
    return http_respond(req, 200, "application/json", "{\"slept\":true}\n",
                        15, false);
}

/* Answers with the size and SHA-256 of the buffered body. */
int
web_test_echo(http_req *req)
{
    unsigned char digest[32];
    char hex[65];
    size_t len;
    const char *body = http_body(req, &len);
    pd_buf b;
    int rc;

    SHA256((const unsigned char *)body, len, digest);
    pd_hex(hex, digest, sizeof(digest));
    buf_init(&b);
    buf_printf(&b, "{\"bytes\":%zu,\"sha256\":\"%s\"}\n", len, hex);
    rc = http_respond_json(req, 200, &b);
    buf_free(&b);
    return rc;
}

static double
resident_bytes(void)
{
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");

    if (f == NULL)
        return 0;
    if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
        resident = 0;
    fclose(f);
    return (double)resident * (double)sysconf(_SC_PAGESIZE);
}

static double
start_time_seconds(void)
{
    return (double)web_app()->started_ms / 1000.0;
}

static double
uptime_seconds(void)
{
    return (double)(pd_now_ms() - web_app()->started_ms) / 1000.0;
}

static double
open_connections(void)
{
    return web_app()->server ? http_server_connections(web_app()->server)
                             : 0;
}

static double
in_flight(void)
{
    return web_app()->server ? http_server_in_flight(web_app()->server) : 0;
}

static double
ready(void)
{
    return atomic_load(&last_ready);
}

static double
pool_connections(void)
{
    return db_pool_open_count();
}

void
web_register_gauges(void)
{
    metrics_gauge("process_resident_memory_bytes",
                  "Resident memory of the process in bytes.",
                  resident_bytes);
    metrics_gauge("process_start_time_seconds",
                  "Start time of the process since the epoch, in seconds.",
                  start_time_seconds);
    metrics_gauge("printdesk_uptime_seconds",
                  "Seconds since the server started.", uptime_seconds);
    metrics_gauge("http_open_connections",
                  "Client connections open now.", open_connections);
    metrics_gauge("http_requests_in_flight",
                  "Requests being served now.", in_flight);
    metrics_gauge("printdesk_ready",
                  "1 when the database and the storage answered the check "
                  "made at this scrape (as /readyz), else 0.", ready);
    metrics_gauge("db_pool_connections",
                  "Database connections open in the per-thread pool.",
                  pool_connections);
}
