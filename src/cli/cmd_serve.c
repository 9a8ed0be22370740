/*
 * cmd_serve.c — `printdesk serve`: checks the configuration, prepares the
 * database and storage, serves HTTP until SIGTERM or SIGINT, then drains
 * the requests in flight (up to Cloud Run's 10 s grace period) and exits.
 */
#include "cli/cli.h"

#include "common/err.h"
#include "auth/guard_setup.h"
#include "crypto/pii.h"
#include "db/db.h"
#include "http/server.h"
#include "images/images.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "store/store.h"
#include "uploads/tus.h"
#include "uploads/uploads.h"
#include "lifecycle/lifecycle.h"
#include "web/answer_cache.h"
#include "web/web.h"
#include "webhooks/webhooks.h"

#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <stdio.h>
#include <string.h>

#define DRAIN_TIMEOUT_MS 10000

static const char help[] =
    "usage: printdesk serve [OPTIONS]\n\n"
    "Serves the dashboard, the API, uploads, webhooks and metrics until\n"
    "SIGTERM or SIGINT, then lets requests in flight finish (up to 10 s).\n"
    "On a loopback address (local mode) missing secrets are generated\n"
    "into the data folder; anywhere else they must be set.\n\nOptions:\n"
    CONFIG_FLAGS_HELP
    "\nEnvironment: SHOPIFY_APP_SECRET, SHOPIFY_APP_SECRET_PREVIOUS,\n"
    "PRINTDESK_DATA_KEY, SHOPIFY_API_KEY, ALLOWED_ORIGINS, METRICS_TOKEN,\n"
    "CONNECTION_TIMEOUT, MAX_CONNECTIONS, PER_IP_CONNECTIONS,\n"
    "HEADER_MEMORY_KIB, TRUST_PROXY, GOOGLE_CLOUD_PROJECT,\n"
    "UPLOAD_MAX_BYTES, UPLOAD_MAX_PIXELS, UPLOAD_SESSION_MAX_IMAGES,\n"
    "TUS_MAX_SIZE, TUS_EXPIRY_SECONDS, UPLOAD_SPOOL_DIR, LIST_CACHE_MS.\n";

/* Configuration checks that need more than one setting. */
static int
check_config(struct config *cfg)
{
    char err[512];

    if (config_prepare_data_dir(cfg, err, sizeof(err)) < 0 ||
        config_require_secrets(cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "printdesk serve: %s\n", err);
        return CONFIG_EXIT_BAD;
    }
    return 0;
}

/*
 * Loads the data keys, hands the webhook side what it needs, and applies
 * deliveries a previous process stored but did not get to apply.
 */
static int
prepare_webhooks(const struct config *cfg, struct app *app, pii_keys **keys,
                 struct webhook_env *env)
{
    int applied;

    if (pii_keys_load(cfg->data_key, cfg->data_key_previous, keys) !=
        PD_OK) {
        log_error("cannot load PRINTDESK_DATA_KEY");
        return -1;
    }
    app->keys = *keys;
    *env = (struct webhook_env){.store = app->store, .keys = *keys,
                                .shop = cfg->shop};
    webhooks_setup(env);
    applied = webhooks_apply_pending(db_thread(), env, pd_now_ms());
    if (applied > 0)
        log_notice("applied %d stored webhook deliveries left from before",
                   applied);
    return 0;
}

/*
 * Housekeeping, on its own thread and connection: once a minute the retry
 * pass applies deliveries that were stored but could not be applied (the
 * database was down) and that no retry from Shopify has picked up since;
 * and abandoned tus uploads are swept as they expire (checked every
 * minute, or more often when uploads expire sooner).
 */
#define RETRY_PASS_S 60

static struct {
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t wake;
    bool stop;
    bool started;
    const struct webhook_env *env;
    store *store;
    unsigned tick_s;
} house = {.lock = PTHREAD_MUTEX_INITIALIZER,
           .wake = PTHREAD_COND_INITIALIZER};

static void
housekeeping_pass(int64_t *last_retry_ms)
{
    int64_t now = pd_now_ms();
    db *d = db_thread();

    if (d == NULL)
        return;
    tus_sweep(d, house.store, now);
    if (now - *last_retry_ms >= RETRY_PASS_S * 1000) {
        webhooks_apply_pending(d, house.env, now - RETRY_PASS_S * 1000);
        *last_retry_ms = now;
    }
}

static void *
housekeeping_loop(void *unused)
{
    struct timespec until;
    int64_t last_retry = pd_now_ms();

    (void)unused;
    pthread_mutex_lock(&house.lock);
    while (!house.stop) {
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += house.tick_s;
        if (pthread_cond_timedwait(&house.wake, &house.lock, &until) == 0 ||
            house.stop)
            continue;
        pthread_mutex_unlock(&house.lock);
        housekeeping_pass(&last_retry);
        pthread_mutex_lock(&house.lock);
    }
    pthread_mutex_unlock(&house.lock);
    return NULL;
}

static void
start_housekeeping(const struct config *cfg, const struct webhook_env *env,
                   store *st)
{
    house.env = env;
    house.store = st;
    house.tick_s = cfg->tus_expiry_s < RETRY_PASS_S ? cfg->tus_expiry_s
                                                    : RETRY_PASS_S;
    house.started = pthread_create(&house.thread, NULL, housekeeping_loop,
                                   NULL) == 0;
    if (!house.started)
        log_warn("housekeeping not started; stored deliveries wait for "
                 "Shopify's retries or the next start, expired uploads "
                 "for the next start");
}

static void
stop_housekeeping(void)
{
    if (!house.started)
        return;
    pthread_mutex_lock(&house.lock);
    house.stop = true;
    pthread_cond_signal(&house.wake);
    pthread_mutex_unlock(&house.lock);
    pthread_join(house.thread, NULL);
    house.started = false;
}

/*
 * Uploads wait in the spool folder while they are checked: UPLOAD_SPOOL_DIR,
 * else "spool" in the data folder. Files a stopped process left are
 * removed (each server has its own spool).
 */
static void
prepare_uploads(const struct config *cfg, store *st)
{
    static char dir[600];
    struct upload_env env = {
        .store = st,
        .spool_dir = dir,
        .max_pixels = cfg->upload_max_pixels,
        .session_max_images = cfg->upload_session_max_images,
    };

    if (cfg->upload_spool_dir[0] != '\0')
        snprintf(dir, sizeof(dir), "%s", cfg->upload_spool_dir);
    else
        snprintf(dir, sizeof(dir), "%s/spool", cfg->data_dir);
    spool_sweep(dir);
    uploads_setup(&env);
    if (db_thread() != NULL)
        tus_sweep(db_thread(), st, pd_now_ms());
}

/* Opens the database, applies migrations, opens the store. */
static int
prepare_backends(const struct config *cfg, store **st)
{
    char err[512];
    db *d;
    int applied = 0;

    if (db_pool_init(cfg->database_url) != PD_OK)
        return -1;
    d = db_thread();
    if (d == NULL)
        return -1;
    if (db_migrate(d, &applied) != PD_OK) {
        log_error("cannot migrate the database: %s", db_errmsg(d));
        return -1;
    }
    if (applied > 0)
        log_notice("applied %d database migration(s)", applied);
    if (store_open(cfg->storage_url, st, err, sizeof(err)) != PD_OK) {
        log_error("cannot open storage %s: %s", cfg->storage_url, err);
        return -1;
    }
    return 0;
}

static int
start_http(const struct config *cfg, http_server **out)
{
    struct http_server_config hc = {
        .host = cfg->listen_host,
        .port = cfg->port,
        .threads = cfg->threads,
        .connection_timeout_s = cfg->connection_timeout_s,
        .max_connections = cfg->max_connections,
        .per_ip_connections = cfg->per_ip_connections,
        .connection_memory = (size_t)cfg->header_memory_kib * 1024,
        .guard = web_guard,
        .decorate = web_decorate,
        .trust_proxy = cfg->trust_proxy,
        .after_change = web_after_change,
    };
    char ancestors[300], err[512];
    const struct http_route *routes;
    int nroutes;

    snprintf(ancestors, sizeof(ancestors), "https://%s "
             "https://admin.shopify.com", cfg->shop);
    hc.frame_ancestors = ancestors;
    answer_cache_configure(cfg->list_cache_ms);
    routes = web_routes(&nroutes);
    if (http_server_start(&hc, routes, nroutes, out, err, sizeof(err)) !=
        PD_OK) {
        log_error("%s", err);
        return -1;
    }
    return 0;
}

/* Blocks until SIGTERM or SIGINT; returns the signal's number. */
static int
wait_for_stop(const sigset_t *set)
{
    int sig = 0;

    while (sigwait(set, &sig) != 0)
        ;
    return sig;
}

static void
announce(const struct config *cfg, const http_server *server)
{
    const char *host = cfg->listen_host;
    bool v6 = strchr(host, ':') != NULL;
    char fields[128];

    snprintf(fields, sizeof(fields), "\"port\":%d,\"threads\":%u",
             http_server_port(server), cfg->threads);
    log_write(LOG_NOTICE, fields, "printdesk listening on http://%s%s%s:%d/",
              v6 ? "[" : "", host, v6 ? "]" : "", http_server_port(server));
}

int
cmd_serve(int argc, char **argv)
{
    static struct config cfg;
    struct app app = {.cfg = &cfg, .started_ms = pd_now_ms()};
    static struct webhook_env webhook_env;
    pii_keys *keys = NULL;
    sigset_t stop_signals;
    int rc, sig;
    unsigned left;

    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    if ((rc = cli_load_config(&cfg, argc, argv)) != 0 ||
        (rc = check_config(&cfg)) != 0)
        return rc;

    /* Every thread started from here on inherits the blocked signals. */
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);
    signal(SIGPIPE, SIG_IGN);

    web_set_app(&app);
    rc = 1;
    if (prepare_backends(&cfg, &app.store) < 0 ||
        prepare_webhooks(&cfg, &app, &keys, &webhook_env) < 0)
        goto done;
    prepare_uploads(&cfg, app.store);
    web_register_gauges();
    lifecycle_register_metrics();
    if (guard_setup(&cfg) != PD_OK) {
        log_error("could not set up the request guard (rate limits): out "
                  "of memory");
        goto done;
    }
    if (start_http(&cfg, &app.server) < 0)
        goto done;
    start_housekeeping(&cfg, &webhook_env, app.store);
    announce(&cfg, app.server);

    sig = wait_for_stop(&stop_signals);
    log_notice("%s received: no new connections; waiting up to %d ms for "
               "%u request(s) in flight", sig == SIGTERM ? "SIGTERM" : "SIGINT",
               DRAIN_TIMEOUT_MS, http_server_in_flight(app.server));
    left = http_server_drain(app.server, DRAIN_TIMEOUT_MS);
    if (left > 0)
        log_warn("%u request(s) still running after %d ms are cut off", left,
                 DRAIN_TIMEOUT_MS);
    rc = 0;
done:
    stop_housekeeping();
    http_server_stop(app.server);
    app.server = NULL;
    db_pool_shutdown();
    images_shutdown();
    guard_shutdown();
    store_close(app.store);
    pii_keys_free(keys);
    metrics_shutdown();
    if (rc == 0)
        log_notice("printdesk stopped cleanly");
    return rc;
}
