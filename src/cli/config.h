/*
 * config.h — printdesk's configuration: read from the environment
 * (12-factor; Cloud Run injects PORT), overridden by command-line flags,
 * checked once at start. A bad value stops the program with one line that
 * names the variable, and exit status 2.
 */
#ifndef PD_CONFIG_H
#define PD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define CONFIG_EXIT_BAD 2
#define CONFIG_SECRET_MAX 256

struct config {
    char listen_host[64];
    int port;
    char database_url[1024];
    char storage_url[1024];
    char data_dir[512];
    char shop[256];
    char app_secret[CONFIG_SECRET_MAX];
    char app_secret_previous[CONFIG_SECRET_MAX];
    char api_key[CONFIG_SECRET_MAX];
    char data_key[CONFIG_SECRET_MAX];
    char data_key_previous[CONFIG_SECRET_MAX]; /* during a rotation */
    char metrics_token[CONFIG_SECRET_MAX];
    char public_url[512]; /* how browsers reach printdesk directly */
    char allowed_origins[1024];
    char project_id[128];
    unsigned threads;
    unsigned connection_timeout_s;
    unsigned max_connections;
    unsigned per_ip_connections;
    unsigned header_memory_kib;
    unsigned session_ttl_hours;    /* direct sessions (cookie) */
    unsigned staff_rate_per_minute;
    unsigned public_rate_per_minute; /* per client address, uploads */
    unsigned upload_max_bytes;     /* one multipart request body */
    unsigned tus_max_size;         /* one tus upload's Upload-Length */
    unsigned upload_max_pixels;    /* width x height of an accepted image */
    unsigned upload_session_max_images; /* images one session may hold */
    unsigned tus_expiry_s;         /* an idle unfinished tus upload's life */
    unsigned list_cache_ms;        /* a kept list answer's life; 0: none */
    char upload_spool_dir[512];    /* where uploads wait for checking */
    int log_level;
    bool log_json;
    bool trust_proxy;
    bool test_routes;
    bool local_mode; /* listening on a loopback address */
};

/* The flags every command that reads configuration accepts. */
#define CONFIG_FLAGS_HELP                                                    \
    "  --listen HOST:PORT    where to listen (PORT; default 127.0.0.1:8080)\n" \
    "  --database URL        sqlite:PATH or postgres://... (DATABASE_URL)\n"  \
    "  --storage URL         file:DIR (STORAGE_URL)\n"                         \
    "  --data-dir DIR        local state and generated secrets "             \
    "(PRINTDESK_DATA_DIR; data)\n"                                            \
    "  --shop DOMAIN         the shop served (SHOPIFY_SHOP)\n"                 \
    "  --threads N           worker threads (PRINTDESK_THREADS; one per "    \
    "core)\n"                                                                 \
    "  --log-level LEVEL     debug, info, notice, warning, error "           \
    "(LOG_LEVEL)\n"                                                           \
    "  --log-format FORMAT   json or text (LOG_FORMAT; json)\n"

/*
 * Fills cfg from defaults and the environment, then applies the flags in
 * argv (getopt_long style, starting at argv[optind]); unknown flags are
 * left for the caller when pass_unknown. On a bad value writes one line
 * into err and returns -1.
 */
int config_load(struct config *cfg, int argc, char **argv, char *err,
                size_t errlen);

/*
 * Checks the secrets: in local mode missing ones are generated into the
 * data folder (mode 0600) and reused; elsewhere a missing one is an error.
 */
int config_require_secrets(struct config *cfg, char *err, size_t errlen);

/* Creates the data folder when the embedded defaults point into it. */
int config_prepare_data_dir(const struct config *cfg, char *err,
                            size_t errlen);

/* True for a configuration flag (all take a value), e.g. "--listen". */
bool config_is_flag(const char *arg);

/* Parses "HOST:PORT", "[V6]:PORT", ":PORT" or "PORT". */
int config_parse_listen(const char *text, char *host, size_t hostlen,
                        int *port);

#endif
