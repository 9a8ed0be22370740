/*
 * store.c — the front of the blob store: picks a backend by URL, checks
 * every key before a backend sees it, and names the retention tiers.
 */
#include "store/store_internal.h"

#include "common/err.h"

#include <string.h>

static const struct store_backend *const backends[] = {
    &store_file_backend,
    &store_s3_backend,
    &store_gs_backend,
};

static const char *const tier_names[STORE_TIER_COUNT] = {
    [TIER_TEMPORARY] = "temporary",
    [TIER_ORDER_PENDING] = "order_pending",
    [TIER_ORDER_COMPLETED] = "order_completed",
    [TIER_ARCHIVED] = "archived",
};

const char *
store_tier_name(enum store_tier tier)
{
    if ((int)tier < 0 || (int)tier >= STORE_TIER_COUNT)
        return NULL;
    return tier_names[tier];
}

int
store_tier_of_key(const char *key)
{
    size_t seg;

    if (key == NULL)
        return -1;
    seg = strcspn(key, "/");
    for (int i = 0; i < STORE_TIER_COUNT; i++)
        if (strlen(tier_names[i]) == seg &&
            memcmp(key, tier_names[i], seg) == 0)
            return i;
    return -1;
}

static bool
key_char_ok(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
}

/*
 * Checks s as a run of '/'-separated segments. A complete key may not end
 * in '/'; a prefix may (then its last, empty segment is still to come).
 */
static bool
path_valid(const char *s, bool is_prefix)
{
    size_t i = 0;

    for (;;) {
        size_t start = i;

        if (s[i] == '.')
            return false;
        while (key_char_ok((unsigned char)s[i]))
            i++;
        if (i > STORE_KEY_MAX)
            return false;
        if (s[i] == '\0')
            return i > start || (is_prefix && (i == 0 || s[i - 1] == '/'));
        if (s[i] != '/' || i == start)
            return false;
        i++;
    }
}

bool
store_key_valid(const char *key)
{
    return key != NULL && key[0] != '\0' && path_valid(key, false);
}

bool
store_prefix_valid(const char *prefix)
{
    return prefix != NULL && path_valid(prefix, true);
}

static const struct store_backend *
backend_for(const char *url, const char **rest)
{
    if (url == NULL)
        return NULL;
    for (size_t i = 0; i < sizeof(backends) / sizeof(backends[0]); i++) {
        size_t n = strlen(backends[i]->prefix);

        if (strncmp(url, backends[i]->prefix, n) == 0) {
            *rest = url + n;
            return backends[i];
        }
    }
    return NULL;
}

bool
store_url_valid(const char *url)
{
    const char *rest;
    const struct store_backend *b = backend_for(url, &rest);

    return b != NULL && b->url_valid(rest);
}

int
store_open(const char *url, store **out, char *err, size_t errlen)
{
    const char *rest;
    const struct store_backend *b = backend_for(url, &rest);

    *out = NULL;
    if (errlen > 0)
        err[0] = '\0';
    if (b == NULL || !b->url_valid(rest)) {
        if (errlen > 0)
            strncat(err, "storage URL must be file:DIR, "
                    "s3://BUCKET?endpoint=URL&region=REGION or gs://BUCKET "
                    "(see docs/storage.md)", errlen - 1);
        return PD_EINVAL;
    }
    return b->open(rest, out, err, errlen);
}

void
store_close(store *s)
{
    if (s != NULL)
        s->ops->close(s);
}

int
store_ping(store *s, char *err, size_t errlen)
{
    if (errlen > 0)
        err[0] = '\0';
    return s->ops->ping(s, err, errlen);
}

int
store_put_begin(store *s, const char *key, store_writer **out)
{
    *out = NULL;
    if (!store_key_valid(key))
        return PD_EINVAL;
    return s->ops->put_begin(s, key, out);
}

int
store_put_write(store_writer *w, const void *data, size_t len)
{
    if (len == 0)
        return PD_OK;
    return w->ops->put_write(w, data, len);
}

int
store_put_commit(store_writer *w)
{
    return w->ops->put_commit(w);
}

void
store_put_abort(store_writer *w)
{
    if (w != NULL)
        w->ops->put_abort(w);
}

int
store_put_bytes(store *s, const char *key, const void *data, size_t len)
{
    store_writer *w = NULL;
    int rc = store_put_begin(s, key, &w);

    if (rc != PD_OK)
        return rc;
    rc = store_put_write(w, data, len);
    if (rc != PD_OK) {
        store_put_abort(w);
        return rc;
    }
    return store_put_commit(w);
}

int
store_get(store *s, const char *key, int64_t offset, int64_t length,
          store_reader **out)
{
    *out = NULL;
    if (!store_key_valid(key) || offset < 0 || length < -1)
        return PD_EINVAL;
    return s->ops->get(s, key, offset, length, out);
}

ssize_t
store_read(store_reader *r, void *buf, size_t len)
{
    if (len == 0)
        return 0;
    return r->ops->read(r, buf, len);
}

int
store_reader_fd(store_reader *r, int *fd, int64_t *offset, int64_t *length)
{
    if (r->ops->reader_fd == NULL)
        return PD_EINVAL;
    return r->ops->reader_fd(r, fd, offset, length);
}

void
store_reader_close(store_reader *r)
{
    if (r != NULL)
        r->ops->reader_close(r);
}

int
store_stat(store *s, const char *key, struct store_stat *st)
{
    if (!store_key_valid(key))
        return PD_EINVAL;
    return s->ops->stat(s, key, st);
}

int
store_copy(store *s, const char *src_key, const char *dst_key)
{
    if (!store_key_valid(src_key) || !store_key_valid(dst_key))
        return PD_EINVAL;
    return s->ops->copy(s, src_key, dst_key);
}

int
store_delete(store *s, const char *key)
{
    if (!store_key_valid(key))
        return PD_EINVAL;
    return s->ops->del(s, key);
}

int
store_list(store *s, const char *prefix, store_list_fn fn, void *ctx)
{
    if (prefix == NULL)
        prefix = "";
    if (!store_prefix_valid(prefix) || fn == NULL)
        return PD_EINVAL;
    return s->ops->list(s, prefix, fn, ctx);
}
