/*
 * config.c — defaults, environment variables and flags, validated into a
 * struct config; and the secrets a local first run generates for itself.
 */
#include "cli/config.h"

#include "common/err.h"
#include "common/util.h"
#include "db/db.h"
#include "obs/log.h"
#include "store/store.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int
copy_value(char *dst, size_t dstlen, const char *name, const char *value,
           char *err, size_t errlen)
{
    if (strlen(value) >= dstlen) {
        snprintf(err, errlen, "%s: value is too long (at most %zu bytes)",
                 name, dstlen - 1);
        return -1;
    }
    memcpy(dst, value, strlen(value) + 1);
    return 0;
}

static int
parse_unsigned(const char *name, const char *value, int64_t min,
               int64_t max, unsigned *out, char *err, size_t errlen)
{
    int64_t v;

    if (pd_parse_i64(value, min, max, &v) != PD_OK) {
        snprintf(err, errlen, "%s: \"%s\" is not a number from %lld to %lld",
                 name, value, (long long)min, (long long)max);
        return -1;
    }
    *out = (unsigned)v;
    return 0;
}

int
config_parse_listen(const char *text, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(text, ':');
    const char *port_text = colon ? colon + 1 : text;
    size_t hlen = colon ? (size_t)(colon - text) : 0;
    int64_t p;

    if (hlen >= 2 && text[0] == '[' && text[hlen - 1] == ']') {
        text++;
        hlen -= 2;
    }
    if (pd_parse_i64(port_text, 0, 65535, &p) != PD_OK || hlen >= hostlen)
        return -1;
    if (hlen == 0) {
        text = "127.0.0.1";
        hlen = strlen(text);
    }
    memcpy(host, text, hlen);
    host[hlen] = '\0';
    *port = (int)p;
    return 0;
}

static bool
is_loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
           strcmp(host, "localhost") == 0;
}

static void
set_defaults(struct config *cfg)
{
    long cores = sysconf(_SC_NPROCESSORS_ONLN);

    memset(cfg, 0, sizeof(*cfg));
    snprintf(cfg->listen_host, sizeof(cfg->listen_host), "127.0.0.1");
    cfg->port = 8080;
    snprintf(cfg->data_dir, sizeof(cfg->data_dir), "data");
    snprintf(cfg->shop, sizeof(cfg->shop), "perkieprints.myshopify.com");
    cfg->threads = cores > 0 ? (unsigned)cores : 1;
    cfg->connection_timeout_s = 30;
    cfg->max_connections = 1000;
    cfg->per_ip_connections = 256;
    cfg->header_memory_kib = 32;
    cfg->session_ttl_hours = 12;
    cfg->staff_rate_per_minute = 100;
    cfg->public_rate_per_minute = 120;
    cfg->upload_max_bytes = 25u * 1024 * 1024;
    cfg->tus_max_size = 200u * 1024 * 1024;
    cfg->upload_max_pixels = 100000000;
    cfg->upload_session_max_images = 40;
    cfg->tus_expiry_s = 24 * 3600;
    cfg->list_cache_ms = 1000;
    cfg->log_level = LOG_INFO;
    cfg->log_json = true;
}

/* Settings with a rule of their own, checked by a function. */
static int
apply_port(struct config *cfg, const char *name, const char *v, char *err,
           size_t errlen)
{
    unsigned port;

    if (parse_unsigned(name, v, 1, 65535, &port, err, errlen) < 0)
        return -1;
    cfg->port = (int)port;
    snprintf(cfg->listen_host, sizeof(cfg->listen_host), "0.0.0.0");
    return 0;
}

static int
apply_listen(struct config *cfg, const char *name, const char *v, char *err,
             size_t errlen)
{
    if (config_parse_listen(v, cfg->listen_host, sizeof(cfg->listen_host),
                            &cfg->port) == 0)
        return 0;
    snprintf(err, errlen, "%s: \"%s\" is not HOST:PORT with a port from 0 "
             "to 65535", name, v);
    return -1;
}

static int
apply_database(struct config *cfg, const char *name, const char *v,
               char *err, size_t errlen)
{
    if (!db_url_valid(v)) {
        snprintf(err, errlen, "%s: \"%.40s\" has an unknown scheme (use "
                 "sqlite:PATH or postgres://...)", name, v);
        return -1;
    }
    return copy_value(cfg->database_url, sizeof(cfg->database_url), name, v,
                      err, errlen);
}

static int
apply_storage(struct config *cfg, const char *name, const char *v,
              char *err, size_t errlen)
{
    if (!store_url_valid(v)) {
        snprintf(err, errlen, "%s: \"%.40s\" is not a storage URL (use "
                 "file:DIR, s3://BUCKET?endpoint=URL&region=REGION or "
                 "gs://BUCKET; see docs/storage.md)", name, v);
        return -1;
    }
    return copy_value(cfg->storage_url, sizeof(cfg->storage_url), name, v,
                      err, errlen);
}

static int
apply_shop(struct config *cfg, const char *name, const char *v, char *err,
           size_t errlen)
{
    size_t n = strlen(v);

    if (n < 15 || strcmp(v + n - 14, ".myshopify.com") != 0 ||
        strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-.") != n) {
        snprintf(err, errlen, "%s: \"%.60s\" is not a *.myshopify.com "
                 "domain", name, v);
        return -1;
    }
    return copy_value(cfg->shop, sizeof(cfg->shop), name, v, err, errlen);
}

static int
apply_log_level(struct config *cfg, const char *name, const char *v,
                char *err, size_t errlen)
{
    cfg->log_level = log_level_parse(v);
    if (cfg->log_level >= 0)
        return 0;
    snprintf(err, errlen, "%s: \"%.20s\" is not debug, info, notice, "
             "warning or error", name, v);
    return -1;
}

static int
apply_log_format(struct config *cfg, const char *name, const char *v,
                 char *err, size_t errlen)
{
    if (strcmp(v, "json") != 0 && strcmp(v, "text") != 0) {
        snprintf(err, errlen, "%s: \"%.20s\" is not json or text", name, v);
        return -1;
    }
    cfg->log_json = strcmp(v, "json") == 0;
    return 0;
}

typedef int (*apply_fn)(struct config *, const char *, const char *, char *,
                        size_t);

enum setting_kind { S_TEXT, S_COUNT, S_FLAG, S_CUSTOM };

/* Every setting: its variable, its kind, where it goes, its limits. */
static const struct setting {
    const char *name;
    enum setting_kind kind;
    size_t offset; /* in struct config */
    size_t size;   /* S_TEXT: the field's size */
    int64_t min, max; /* S_COUNT */
    apply_fn custom;
} settings[] = {
#define TEXT(n, f) {n, S_TEXT, offsetof(struct config, f), \
                    sizeof(((struct config *)0)->f), 0, 0, NULL}
#define COUNT(n, f, lo, hi) {n, S_COUNT, offsetof(struct config, f), 0, \
                             lo, hi, NULL}
#define FLAG(n, f) {n, S_FLAG, offsetof(struct config, f), 0, 0, 0, NULL}
#define CUSTOM(n, fn) {n, S_CUSTOM, 0, 0, 0, 0, fn}
    CUSTOM("PORT", apply_port),
    CUSTOM("--listen", apply_listen),
    CUSTOM("DATABASE_URL", apply_database),
    CUSTOM("STORAGE_URL", apply_storage),
    TEXT("PRINTDESK_DATA_DIR", data_dir),
    CUSTOM("SHOPIFY_SHOP", apply_shop),
    TEXT("SHOPIFY_APP_SECRET", app_secret),
    TEXT("SHOPIFY_APP_SECRET_PREVIOUS", app_secret_previous),
    TEXT("SHOPIFY_API_KEY", api_key),
    TEXT("PRINTDESK_DATA_KEY", data_key),
    TEXT("PRINTDESK_DATA_KEY_PREVIOUS", data_key_previous),
    TEXT("METRICS_TOKEN", metrics_token),
    TEXT("ALLOWED_ORIGINS", allowed_origins),
    TEXT("GOOGLE_CLOUD_PROJECT", project_id),
    COUNT("PRINTDESK_THREADS", threads, 1, 256),
    COUNT("CONNECTION_TIMEOUT", connection_timeout_s, 1, 3600),
    COUNT("MAX_CONNECTIONS", max_connections, 4, 100000),
    COUNT("PER_IP_CONNECTIONS", per_ip_connections, 1, 100000),
    COUNT("HEADER_MEMORY_KIB", header_memory_kib, 8, 1024),
    COUNT("SESSION_TTL_HOURS", session_ttl_hours, 1, 168),
    COUNT("STAFF_RATE_PER_MINUTE", staff_rate_per_minute, 1, 1000000),
    COUNT("PUBLIC_RATE_PER_MINUTE", public_rate_per_minute, 1, 1000000),
    COUNT("UPLOAD_MAX_BYTES", upload_max_bytes, 1024, 1024 * 1024 * 1024),
    COUNT("TUS_MAX_SIZE", tus_max_size, 1024, 4000000000),
    COUNT("UPLOAD_MAX_PIXELS", upload_max_pixels, 1, 1000000000),
    COUNT("UPLOAD_SESSION_MAX_IMAGES", upload_session_max_images, 1, 10000),
    COUNT("TUS_EXPIRY_SECONDS", tus_expiry_s, 1, 30 * 24 * 3600),
    COUNT("LIST_CACHE_MS", list_cache_ms, 0, 60000),
    TEXT("UPLOAD_SPOOL_DIR", upload_spool_dir),
    TEXT("PUBLIC_URL", public_url),
    CUSTOM("LOG_LEVEL", apply_log_level),
    CUSTOM("LOG_FORMAT", apply_log_format),
    FLAG("TRUST_PROXY", trust_proxy),
    FLAG("PRINTDESK_TEST_ROUTES", test_routes),
#undef TEXT
#undef COUNT
#undef FLAG
#undef CUSTOM
};
#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

/* One setting by its variable name, from the environment or a flag. */
static int
apply(struct config *cfg, const char *name, const char *v, char *err,
      size_t errlen)
{
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const struct setting *st = &settings[i];
        char *field = (char *)cfg + st->offset;

        if (strcmp(st->name, name) != 0)
            continue;
        switch (st->kind) {
        case S_TEXT:
            return copy_value(field, st->size, name, v, err, errlen);
        case S_COUNT:
            return parse_unsigned(name, v, st->min, st->max,
                                  (unsigned *)(void *)field, err, errlen);
        case S_FLAG:
            *(bool *)(void *)field =
                strcmp(v, "1") == 0 || strcmp(v, "true") == 0;
            return 0;
        case S_CUSTOM:
            return st->custom(cfg, name, v, err, errlen);
        }
    }
    snprintf(err, errlen, "unknown setting %s", name);
    return -1;
}

/* Flags map onto the variable they override. */
static const struct option long_flags[] = {
    {"listen", required_argument, NULL, 'l'},
    {"database", required_argument, NULL, 'd'},
    {"storage", required_argument, NULL, 's'},
    {"data-dir", required_argument, NULL, 'D'},
    {"shop", required_argument, NULL, 'S'},
    {"threads", required_argument, NULL, 't'},
    {"log-level", required_argument, NULL, 'L'},
    {"log-format", required_argument, NULL, 'F'},
    {NULL, 0, NULL, 0},
};

bool
config_is_flag(const char *arg)
{
    if (strncmp(arg, "--", 2) != 0)
        return false;
    for (const struct option *o = long_flags; o->name != NULL; o++)
        if (strcmp(arg + 2, o->name) == 0)
            return true;
    return false;
}

static const char *
flag_variable(int c)
{
    switch (c) {
    case 'l': return "--listen";
    case 'd': return "DATABASE_URL";
    case 's': return "STORAGE_URL";
    case 'D': return "PRINTDESK_DATA_DIR";
    case 'S': return "SHOPIFY_SHOP";
    case 't': return "PRINTDESK_THREADS";
    case 'L': return "LOG_LEVEL";
    case 'F': return "LOG_FORMAT";
    }
    return NULL;
}

static int
load_environment(struct config *cfg, char *err, size_t errlen)
{
    for (size_t i = 0; i < N_SETTINGS; i++) {
        const char *name = settings[i].name;
        const char *v = name[0] == '-' ? NULL : getenv(name);

        if (v != NULL && *v != '\0' && apply(cfg, name, v, err, errlen) < 0)
            return -1;
    }
    return 0;
}

static int
load_flags(struct config *cfg, int argc, char **argv, char *err,
           size_t errlen)
{
    int c;

    opterr = 0;
    while ((c = getopt_long(argc, argv, "+", long_flags, NULL)) != -1) {
        const char *name = flag_variable(c);

        if (name == NULL) {
            snprintf(err, errlen, "unknown or incomplete option %s "
                     "(see --help)", argv[optind - 1]);
            return -1;
        }
        if (apply(cfg, name, optarg, err, errlen) < 0)
            return -1;
    }
    if (optind < argc) {
        snprintf(err, errlen, "unexpected argument \"%s\" (see --help)",
                 argv[optind]);
        return -1;
    }
    return 0;
}

/* Defaults that depend on other settings (the data folder, the shop). */
static void
fill_derived(struct config *cfg)
{
    if (cfg->database_url[0] == '\0')
        snprintf(cfg->database_url, sizeof(cfg->database_url),
                 "sqlite:%s/printdesk.db", cfg->data_dir);
    if (cfg->storage_url[0] == '\0')
        snprintf(cfg->storage_url, sizeof(cfg->storage_url), "file:%s/objects",
                 cfg->data_dir);
    if (cfg->allowed_origins[0] == '\0')
        snprintf(cfg->allowed_origins, sizeof(cfg->allowed_origins),
                 "https://%s", cfg->shop);
    cfg->local_mode = is_loopback(cfg->listen_host);
}

int
config_load(struct config *cfg, int argc, char **argv, char *err,
            size_t errlen)
{
    set_defaults(cfg);
    if (load_environment(cfg, err, errlen) < 0 ||
        load_flags(cfg, argc, argv, err, errlen) < 0)
        return -1;
    fill_derived(cfg);
    return 0;
}

/* Reads DIR/NAME, or creates it with 32 random bytes as hex (0600). */
static int
local_secret(const struct config *cfg, const char *name, char *out,
             size_t outlen, char *err, size_t errlen)
{
    char path[600], hex[65];
    FILE *f;
    int fd;

    snprintf(path, sizeof(path), "%s/%s", cfg->data_dir, name);
    f = fopen(path, "r");
    if (f != NULL) {
        bool ok = fgets(out, (int)outlen, f) != NULL;

        fclose(f);
        out[strcspn(out, "\r\n")] = '\0';
        if (ok && out[0] != '\0')
            return 0;
        snprintf(err, errlen, "%s is empty; delete it to make a new one",
                 path);
        return -1;
    }
    if (pd_random_hex(hex, 32) != PD_OK)
        goto fail;
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        goto fail;
    if (write(fd, hex, 64) != 64 || write(fd, "\n", 1) != 1 ||
        fsync(fd) != 0) {
        close(fd);
        goto fail;
    }
    close(fd);
    snprintf(out, outlen, "%s", hex);
    log_notice("generated a new local secret in %s", path);
    return 0;
fail:
    snprintf(err, errlen, "cannot create %s: %s", path, strerror(errno));
    return -1;
}

static bool
is_hex_key(const char *s)
{
    return strlen(s) == 64 && strspn(s, "0123456789abcdefABCDEF") == 64;
}

int
config_require_secrets(struct config *cfg, char *err, size_t errlen)
{
    struct {
        const char *var, *file;
        char *value;
    } secrets[] = {
        {"SHOPIFY_APP_SECRET", "app_secret", cfg->app_secret},
        {"PRINTDESK_DATA_KEY", "data_key", cfg->data_key},
    };

    if (cfg->data_key[0] != '\0' && !is_hex_key(cfg->data_key)) {
        snprintf(err, errlen, "PRINTDESK_DATA_KEY: must be 64 hex digits "
                 "(32 bytes)");
        return -1;
    }
    for (size_t i = 0; i < 2; i++) {
        if (secrets[i].value[0] != '\0')
            continue;
        if (!cfg->local_mode) {
            snprintf(err, errlen, "%s: required when serving on %s (only a "
                     "loopback address generates local secrets)",
                     secrets[i].var, cfg->listen_host);
            return -1;
        }
        if (local_secret(cfg, secrets[i].file, secrets[i].value,
                         CONFIG_SECRET_MAX, err, errlen) < 0)
            return -1;
    }
    if (!is_hex_key(cfg->data_key)) {
        snprintf(err, errlen, "PRINTDESK_DATA_KEY: must be 64 hex digits "
                 "(32 bytes)");
        return -1;
    }
    if (cfg->data_key_previous[0] != '\0' &&
        !is_hex_key(cfg->data_key_previous)) {
        snprintf(err, errlen, "PRINTDESK_DATA_KEY_PREVIOUS: must be 64 hex "
                 "digits (32 bytes)");
        return -1;
    }
    return 0;
}

int
config_prepare_data_dir(const struct config *cfg, char *err, size_t errlen)
{
    if (mkdir(cfg->data_dir, 0750) == 0 || errno == EEXIST)
        return 0;
    snprintf(err, errlen, "PRINTDESK_DATA_DIR: cannot create \"%s\": %s",
             cfg->data_dir, strerror(errno));
    return -1;
}
