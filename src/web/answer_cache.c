/*
 * answer_cache.c — a small table of recent list answers (see
 * answer_cache.h for what is kept and when it is dropped).
 *
 * A fixed number of slots under one mutex; a full table gives up its
 * least recently used slot. Entries are immutable once kept and counted
 * by reference, so a hit copies its bytes into the answer outside the
 * lock while a newer answer may already replace it.
 */
#include "web/answer_cache.h"

#include "auth/guard.h"
#include "auth/guard_setup.h"
#include "auth/staff.h"
#include "common/arena.h"
#include "common/err.h"
#include "obs/metrics.h"
#include "web/web.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define CACHE_SLOTS 64
/* Bounds that keep the cache small beside the server's other memory. */
#define CACHE_MAX_BYTES (8u << 20)
#define CACHE_MAX_ANSWER (1u << 20)

struct answer {
    int refs;                 /* the slot's and each sender's; under mu */
    uint64_t hash;
    char *key;
    uint64_t generation;
    int64_t born_ms;
    const char *content_type; /* a string literal of the caller's */
    char *body;
    size_t len;
    unsigned char *gz;        /* NULL for JSON or when not smaller */
    size_t gz_len;
};

struct slot {
    struct answer *a;
    int64_t used_ms;
};

static struct {
    pthread_mutex_t mu;
    struct slot slots[CACHE_SLOTS];
    size_t bytes;
    atomic_uint_fast64_t generation;
    atomic_int_fast64_t life_ms;
    metrics_family *lookups; /* list_cache_lookups_total{result} */
} cache = {
    .mu = PTHREAD_MUTEX_INITIALIZER,
    .life_ms = 1000,
};

/* FNV-1a: keys are short and trusted to be ours. */
static uint64_t
key_hash(const char *key)
{
    uint64_t h = 1469598103934665603ull;

    for (const unsigned char *p = (const unsigned char *)key; *p; p++)
        h = (h ^ *p) * 1099511628211ull;
    return h;
}

static size_t
answer_bytes(const struct answer *a)
{
    return a->len + a->gz_len + strlen(a->key) + sizeof(*a);
}

static void
answer_free(struct answer *a)
{
    free(a->key);
    free(a->body);
    free(a->gz);
    free(a);
}

/* Drops one reference; under mu. */
static void
answer_release_locked(struct answer *a)
{
    if (--a->refs == 0)
        answer_free(a);
}

/* Empties slot s; under mu. */
static void
slot_clear_locked(struct slot *s)
{
    if (s->a == NULL)
        return;
    cache.bytes -= answer_bytes(s->a);
    answer_release_locked(s->a);
    s->a = NULL;
}

const char *
answer_cache_key(http_req *req, const char *kind)
{
    const struct staff *who = guard_staff(req);
    char actor[96] = "anonymous";

    if (who != NULL)
        staff_actor(who, actor, sizeof(actor));
    return arena_printf(http_arena(req), "%s|%s|%s|%d|%d|%s", kind,
                        web_path_prefix(req), actor,
                        who != NULL ? (int)who->role : -1,
                        http_cookie(req, GUARD_SESSION_COOKIE) != NULL,
                        http_raw_query(req));
}

static double
kept_bytes(void)
{
    size_t bytes;

    pthread_mutex_lock(&cache.mu);
    bytes = cache.bytes;
    pthread_mutex_unlock(&cache.mu);
    return (double)bytes;
}

static void
count_lookup_by(const char *result, int64_t by)
{
    if (cache.lookups != NULL)
        metrics_counter_add(cache.lookups, (const char *const[]){result}, by);
}

static void
count_lookup(const char *result)
{
    count_lookup_by(result, 1);
}

void
answer_cache_configure(int64_t life_ms)
{
    atomic_store(&cache.life_ms, life_ms < 0 ? 0 : life_ms);
    answer_cache_invalidate();
    if (cache.lookups != NULL)
        return;
    cache.lookups = metrics_counter_family(
        "list_cache_lookups_total", "Order list answers asked of the kept "
        "ones: hit (sent as kept) or miss (built afresh).", "result");
    metrics_gauge("list_cache_bytes", "Bytes of order list answers kept.",
                  kept_bytes);
    count_lookup_by("hit", 0);
    count_lookup_by("miss", 0);
}

void
answer_cache_invalidate(void)
{
    atomic_fetch_add(&cache.generation, 1);
}

uint64_t
answer_cache_generation(void)
{
    return atomic_load(&cache.generation);
}

static bool
fresh(const struct answer *a, uint64_t generation, int64_t now_ms)
{
    return a->generation == generation &&
           now_ms - a->born_ms < atomic_load(&cache.life_ms);
}

/* The slot holding key, or NULL; under mu. */
static struct slot *
find_locked(const char *key, uint64_t hash)
{
    for (int i = 0; i < CACHE_SLOTS; i++) {
        struct answer *a = cache.slots[i].a;

        if (a != NULL && a->hash == hash && strcmp(a->key, key) == 0)
            return &cache.slots[i];
    }
    return NULL;
}

/* A fresh answer for key with a reference taken, or NULL. */
static struct answer *
take(const char *key)
{
    uint64_t hash = key_hash(key), generation = answer_cache_generation();
    int64_t now = pd_now_ms();
    struct answer *a = NULL;
    struct slot *s;

    pthread_mutex_lock(&cache.mu);
    s = find_locked(key, hash);
    if (s != NULL && fresh(s->a, generation, now)) {
        a = s->a;
        a->refs++;
        s->used_ms = now;
    } else if (s != NULL) {
        slot_clear_locked(s);
    }
    pthread_mutex_unlock(&cache.mu);
    return a;
}

bool
answer_cache_send(http_req *req, const char *key, int *rc)
{
    struct answer *a;

    if (atomic_load(&cache.life_ms) <= 0)
        return false;
    if ((a = take(key)) == NULL) {
        count_lookup("miss");
        return false;
    }
    count_lookup("hit");
    *rc = http_respond_prepared(req, 200, a->content_type, a->body, a->len,
                                a->gz, a->gz_len);
    pthread_mutex_lock(&cache.mu);
    answer_release_locked(a);
    pthread_mutex_unlock(&cache.mu);
    return true;
}

/* A new answer holding copies of key and body (and body's gzip). */
static struct answer *
answer_new(const char *key, uint64_t generation, const char *content_type,
           bool html, const pd_buf *b)
{
    struct answer *a = calloc(1, sizeof(*a));

    if (a == NULL)
        return NULL;
    a->refs = 1;
    a->hash = key_hash(key);
    a->generation = generation;
    a->born_ms = pd_now_ms();
    a->content_type = content_type;
    a->key = strdup(key);
    a->body = malloc(b->len ? b->len : 1);
    a->len = b->len;
    if (a->key == NULL || a->body == NULL) {
        answer_free(a);
        return NULL;
    }
    memcpy(a->body, b->data, b->len);
    if (html && http_gzip(a->body, a->len, &a->gz, &a->gz_len) != PD_OK) {
        a->gz = NULL;
        a->gz_len = 0;
    }
    return a;
}

/* The slot a new answer goes in: key's own, a free one, or the least
 * recently used; under mu. */
static struct slot *
victim_locked(const char *key, uint64_t hash)
{
    struct slot *s = find_locked(key, hash), *oldest = &cache.slots[0];

    if (s != NULL)
        return s;
    for (int i = 0; i < CACHE_SLOTS; i++) {
        if (cache.slots[i].a == NULL)
            return &cache.slots[i];
        if (cache.slots[i].used_ms < oldest->used_ms)
            oldest = &cache.slots[i];
    }
    return oldest;
}

/* Makes room for bytes more by dropping the least recently used; mu. */
static void
shrink_locked(size_t bytes)
{
    while (cache.bytes + bytes > CACHE_MAX_BYTES && cache.bytes > 0) {
        struct slot *oldest = NULL;

        for (int i = 0; i < CACHE_SLOTS; i++)
            if (cache.slots[i].a != NULL &&
                (oldest == NULL || cache.slots[i].used_ms < oldest->used_ms))
                oldest = &cache.slots[i];
        slot_clear_locked(oldest);
    }
}

/* Keeps a (taking its reference) unless something changed meanwhile. */
static void
keep(struct answer *a)
{
    struct slot *s;

    pthread_mutex_lock(&cache.mu);
    if (a->generation != answer_cache_generation()) {
        answer_release_locked(a);
        pthread_mutex_unlock(&cache.mu);
        return;
    }
    s = victim_locked(a->key, a->hash);
    slot_clear_locked(s);
    shrink_locked(answer_bytes(a));
    s->a = a;
    s->used_ms = a->born_ms;
    cache.bytes += answer_bytes(a);
    pthread_mutex_unlock(&cache.mu);
}

int
answer_cache_send_new(http_req *req, const char *key, uint64_t gen,
                      const char *content_type, bool html, pd_buf *b)
{
    struct answer *a = NULL;
    int rc;

    if (b->failed)
        return PD_ENOMEM;
    if (atomic_load(&cache.life_ms) > 0 && b->len <= CACHE_MAX_ANSWER)
        a = answer_new(key, gen, content_type, html, b);
    if (a == NULL)
        return http_respond(req, 200, content_type, buf_cstr(b), b->len,
                            true);
    rc = http_respond_prepared(req, 200, content_type, a->body, a->len,
                               a->gz, a->gz_len);
    keep(a);
    return rc;
}
