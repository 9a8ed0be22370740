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
    cfg->log_level = LOG_INFO;
    cfg->log_json = true;
}

/* One setting by its variable name, from the environment or a flag. */
static int
apply(struct config *cfg, const char *name, const char *v, char *err,
      size_t errlen)
{
    if (strcmp(name, "PORT") == 0) {
        unsigned port;

        if (parse_unsigned(name, v, 1, 65535, &port, err, errlen) < 0)
            return -1;
        cfg->port = (int)port;
        snprintf(cfg->listen_host, sizeof(cfg->listen_host), "0.0.0.0");
        return 0;
    }
    if (strcmp(name, "--listen") == 0) {
        if (config_parse_listen(v, cfg->listen_host,
                                sizeof(cfg->listen_host), &cfg->port) < 0) {
            snprintf(err, errlen, "--listen: \"%s\" is not HOST:PORT with "
                     "a port from 0 to 65535", v);
            return -1;
        }
        return 0;
    }
    if (strcmp(name, "DATABASE_URL") == 0) {
        if (!db_url_valid(v)) {
            snprintf(err, errlen, "DATABASE_URL: \"%.40s\" has an unknown "
                     "scheme (use sqlite:PATH or postgres://...)", v);
            return -1;
        }
        return copy_value(cfg->database_url, sizeof(cfg->database_url),
                          name, v, err, errlen);
    }
    if (strcmp(name, "STORAGE_URL") == 0) {
        if (!store_url_valid(v)) {
            snprintf(err, errlen, "STORAGE_URL: \"%.40s\" has an unknown "
                     "scheme (use file:DIR)", v);
            return -1;
        }
        return copy_value(cfg->storage_url, sizeof(cfg->storage_url), name,
                          v, err, errlen);
    }
    if (strcmp(name, "PRINTDESK_DATA_DIR") == 0)
        return copy_value(cfg->data_dir, sizeof(cfg->data_dir), name, v,
                          err, errlen);
    if (strcmp(name, "SHOPIFY_SHOP") == 0) {
        size_t n = strlen(v);

        if (n < 15 || strcmp(v + n - 14, ".myshopify.com") != 0 ||
            strspn(v, "abcdefghijklmnopqrstuvwxyz0123456789-.") != n) {
            snprintf(err, errlen, "SHOPIFY_SHOP: \"%.60s\" is not a "
                     "*.myshopify.com domain", v);
            return -1;
        }
        return copy_value(cfg->shop, sizeof(cfg->shop), name, v, err,
                          errlen);
    }
    if (strcmp(name, "SHOPIFY_APP_SECRET") == 0)
        return copy_value(cfg->app_secret, sizeof(cfg->app_secret), name, v,
                          err, errlen);
    if (strcmp(name, "SHOPIFY_APP_SECRET_PREVIOUS") == 0)
        return copy_value(cfg->app_secret_previous,
                          sizeof(cfg->app_secret_previous), name, v, err,
                          errlen);
    if (strcmp(name, "SHOPIFY_API_KEY") == 0)
        return copy_value(cfg->api_key, sizeof(cfg->api_key), name, v, err,
                          errlen);
    if (strcmp(name, "PRINTDESK_DATA_KEY") == 0)
        return copy_value(cfg->data_key, sizeof(cfg->data_key), name, v,
                          err, errlen);
    if (strcmp(name, "METRICS_TOKEN") == 0)
        return copy_value(cfg->metrics_token, sizeof(cfg->metrics_token),
                          name, v, err, errlen);
    if (strcmp(name, "ALLOWED_ORIGINS") == 0)
        return copy_value(cfg->allowed_origins,
                          sizeof(cfg->allowed_origins), name, v, err,
                          errlen);
    if (strcmp(name, "GOOGLE_CLOUD_PROJECT") == 0)
        return copy_value(cfg->project_id, sizeof(cfg->project_id), name, v,
                          err, errlen);
    if (strcmp(name, "PRINTDESK_THREADS") == 0)
        return parse_unsigned(name, v, 1, 256, &cfg->threads, err, errlen);
    if (strcmp(name, "CONNECTION_TIMEOUT") == 0)
        return parse_unsigned(name, v, 1, 3600, &cfg->connection_timeout_s,
                              err, errlen);
    if (strcmp(name, "MAX_CONNECTIONS") == 0)
        return parse_unsigned(name, v, 4, 100000, &cfg->max_connections,
                              err, errlen);
    if (strcmp(name, "PER_IP_CONNECTIONS") == 0)
        return parse_unsigned(name, v, 1, 100000, &cfg->per_ip_connections,
                              err, errlen);
    if (strcmp(name, "HEADER_MEMORY_KIB") == 0)
        return parse_unsigned(name, v, 8, 1024, &cfg->header_memory_kib,
                              err, errlen);
    if (strcmp(name, "LOG_LEVEL") == 0) {
        cfg->log_level = log_level_parse(v);
        if (cfg->log_level < 0) {
            snprintf(err, errlen, "LOG_LEVEL: \"%.20s\" is not debug, info, "
                     "notice, warning or error", v);
            return -1;
        }
        return 0;
    }
    if (strcmp(name, "LOG_FORMAT") == 0) {
        if (strcmp(v, "json") != 0 && strcmp(v, "text") != 0) {
            snprintf(err, errlen, "LOG_FORMAT: \"%.20s\" is not json or "
                     "text", v);
            return -1;
        }
        cfg->log_json = strcmp(v, "json") == 0;
        return 0;
    }
    if (strcmp(name, "TRUST_PROXY") == 0) {
        cfg->trust_proxy = strcmp(v, "1") == 0 || strcmp(v, "true") == 0;
        return 0;
    }
    if (strcmp(name, "PRINTDESK_TEST_ROUTES") == 0) {
        cfg->test_routes = strcmp(v, "1") == 0;
        return 0;
    }
    snprintf(err, errlen, "unknown setting %s", name);
    return -1;
}

static const char *const env_names[] = {
    "PORT", "DATABASE_URL", "STORAGE_URL", "PRINTDESK_DATA_DIR",
    "SHOPIFY_SHOP", "SHOPIFY_APP_SECRET", "SHOPIFY_APP_SECRET_PREVIOUS",
    "SHOPIFY_API_KEY", "PRINTDESK_DATA_KEY", "METRICS_TOKEN",
    "ALLOWED_ORIGINS", "GOOGLE_CLOUD_PROJECT", "PRINTDESK_THREADS",
    "CONNECTION_TIMEOUT", "MAX_CONNECTIONS", "PER_IP_CONNECTIONS",
    "HEADER_MEMORY_KIB", "LOG_LEVEL", "LOG_FORMAT", "TRUST_PROXY",
    "PRINTDESK_TEST_ROUTES",
};

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
    for (size_t i = 0; i < sizeof(env_names) / sizeof(env_names[0]); i++) {
        const char *v = getenv(env_names[i]);

        if (v != NULL && *v != '\0' &&
            apply(cfg, env_names[i], v, err, errlen) < 0)
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
