/*
 * ratelimit.c — token buckets in a fixed-size, sharded hash table. Token
 * counts are integers in units of 1/60000 token, so a bucket gains exactly
 * per_minute units a millisecond and refills without drift.
 */
#include "auth/ratelimit.h"

#include "common/err.h"
#include "common/util.h"
#include "obs/log.h"

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#ifndef RATELIMIT_SHARDS
#define RATELIMIT_SHARDS 16 /* a power of two */
#endif
#define SHARD_MIN_KEYS 64    /* small tables stay in one shard */
#define UNITS 60000          /* units per token */
#define SWEEP_BACKOFF_MS 1000

struct bucket {
    uint64_t hash;
    int64_t units;
    int64_t last_ms;
    int32_t next; /* next in the chain or the free list, -1 at the end */
    uint8_t klen;
    char key[RATELIMIT_KEY_MAX];
};

struct shard {
    _Alignas(64) pthread_mutex_t mu; /* one cache line per shard */
    int32_t *heads;
    uint32_t mask;
    struct bucket *b;
    uint32_t cap, used;
    int32_t free_list;
    int64_t next_sweep_ms;
    bool ready; /* mu was initialised */
};

struct ratelimit {
    int64_t per_minute;
    int64_t capacity;      /* burst * UNITS */
    int64_t full_after_ms; /* an empty bucket is full again after this */
    uint64_t seed;
    size_t max_keys;
    unsigned nshards;
    struct shard *shards;
    atomic_bool warned;
    atomic_uint_fast64_t untracked;
};

/* ---- the table ------------------------------------------------------- */

static uint64_t
key_hash(uint64_t seed, const char *key, size_t n)
{
    uint64_t h = 1469598103934665603ULL ^ seed;

    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)key[i];
        h *= 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

static int
shard_init(struct shard *s, uint32_t cap)
{
    uint32_t nheads = 1;

    while (nheads < cap)
        nheads <<= 1;
    s->heads = malloc(sizeof(*s->heads) * nheads);
    s->b = calloc(cap, sizeof(*s->b));
    if (s->heads == NULL || s->b == NULL ||
        pthread_mutex_init(&s->mu, NULL) != 0)
        return PD_ENOMEM;
    s->ready = true;
    memset(s->heads, 0xff, sizeof(*s->heads) * nheads);
    s->mask = nheads - 1;
    s->cap = cap;
    for (uint32_t i = 0; i < cap; i++)
        s->b[i].next = i + 1 < cap ? (int32_t)(i + 1) : -1;
    s->free_list = 0;
    return PD_OK;
}

static int32_t
shard_find(struct shard *s, uint64_t h, const char *key, size_t klen)
{
    int32_t i = s->heads[h & s->mask];

    for (; i >= 0; i = s->b[i].next)
        if (s->b[i].hash == h && s->b[i].klen == klen &&
            memcmp(s->b[i].key, key, klen) == 0)
            return i;
    return -1;
}

/* Whether b has refilled to capacity by now_ms (it can be forgotten). */
static bool
bucket_full(const ratelimit *rl, const struct bucket *b, int64_t now_ms)
{
    int64_t elapsed = now_ms - b->last_ms;

    if (elapsed >= rl->full_after_ms)
        return true;
    return elapsed > 0 && b->units + elapsed * rl->per_minute >= rl->capacity;
}

/* Frees every bucket that is full again; returns how many. */
static uint32_t
shard_sweep(const ratelimit *rl, struct shard *s, int64_t now_ms)
{
    uint32_t freed = 0;

    for (uint32_t h = 0; h <= s->mask; h++) {
        int32_t *link = &s->heads[h];

        while (*link >= 0) {
            int32_t i = *link;

            if (!bucket_full(rl, &s->b[i], now_ms)) {
                link = &s->b[i].next;
                continue;
            }
            *link = s->b[i].next;
            s->b[i].next = s->free_list;
            s->free_list = i;
            freed++;
        }
    }
    s->used -= freed;
    return freed;
}

/* A new full bucket for key, or -1 when the shard stays full. */
static int32_t
shard_insert(const ratelimit *rl, struct shard *s, uint64_t h,
             const char *key, size_t klen, int64_t now_ms)
{
    struct bucket *b;
    int32_t i;

    if (s->free_list < 0 && now_ms >= s->next_sweep_ms &&
        shard_sweep(rl, s, now_ms) == 0)
        s->next_sweep_ms = now_ms + SWEEP_BACKOFF_MS;
    if (s->free_list < 0)
        return -1;
    i = s->free_list;
    b = &s->b[i];
    s->free_list = b->next;
    b->hash = h;
    b->units = rl->capacity;
    b->last_ms = now_ms;
    b->klen = (uint8_t)klen;
    memcpy(b->key, key, klen);
    b->next = s->heads[h & s->mask];
    s->heads[h & s->mask] = i;
    s->used++;
    return i;
}

/* ---- the limiter ------------------------------------------------------ */

static unsigned
shard_count(size_t max_keys)
{
    unsigned n = 1;

    while (n < RATELIMIT_SHARDS && max_keys / (n * 2) >= SHARD_MIN_KEYS)
        n *= 2;
    return n;
}

ratelimit *
ratelimit_new(int per_minute, int burst, size_t max_keys)
{
    ratelimit *rl;

    if (per_minute < 1 || per_minute > RATELIMIT_RATE_MAX || burst < 1 ||
        burst > RATELIMIT_RATE_MAX || max_keys < 1 ||
        max_keys > RATELIMIT_KEYS_MAX)
        return NULL;
    rl = calloc(1, sizeof(*rl));
    if (rl == NULL)
        return NULL;
    rl->per_minute = per_minute;
    rl->capacity = (int64_t)burst * UNITS;
    rl->full_after_ms = (rl->capacity + per_minute - 1) / per_minute;
    rl->max_keys = max_keys;
    rl->nshards = shard_count(max_keys);
    if (pd_random_bytes(&rl->seed, sizeof(rl->seed)) != PD_OK)
        rl->seed = (uint64_t)pd_mono_ns();
    rl->shards = aligned_alloc(64, sizeof(struct shard) * rl->nshards);
    if (rl->shards == NULL) {
        free(rl);
        return NULL;
    }
    memset(rl->shards, 0, sizeof(struct shard) * rl->nshards);
    for (unsigned i = 0; i < rl->nshards; i++) {
        size_t cap = max_keys / rl->nshards + (i < max_keys % rl->nshards);

        if (shard_init(&rl->shards[i], (uint32_t)cap) != PD_OK) {
            rl->nshards = i + 1;
            ratelimit_free(rl);
            return NULL;
        }
    }
    return rl;
}

void
ratelimit_free(ratelimit *rl)
{
    if (rl == NULL)
        return;
    for (unsigned i = 0; i < rl->nshards; i++) {
        struct shard *s = &rl->shards[i];

        if (s->ready)
            pthread_mutex_destroy(&s->mu);
        free(s->heads);
        free(s->b);
    }
    free(rl->shards);
    free(rl);
}

static void
note_untracked(ratelimit *rl)
{
    atomic_fetch_add(&rl->untracked, 1);
    if (!atomic_exchange(&rl->warned, true))
        log_warn("rate limiter full (%zu keys in use): new keys pass "
                 "unlimited until buckets refill",
                 rl->max_keys);
}

/* Refills b up to now_ms; a clock going back refills nothing. */
static void
refill(const ratelimit *rl, struct bucket *b, int64_t now_ms)
{
    int64_t elapsed = now_ms - b->last_ms;

    if (elapsed <= 0)
        return;
    if (elapsed >= rl->full_after_ms)
        b->units = rl->capacity;
    else if (b->units + elapsed * rl->per_minute >= rl->capacity)
        b->units = rl->capacity;
    else
        b->units += elapsed * rl->per_minute;
    b->last_ms = now_ms;
}

/* Whole seconds until the bucket holds one token again, at least 1. */
static int
retry_after(const ratelimit *rl, const struct bucket *b)
{
    int64_t ms = (UNITS - b->units + rl->per_minute - 1) / rl->per_minute;
    int64_t s = (ms + 999) / 1000;

    return s < 1 ? 1 : (s > INT_MAX ? INT_MAX : (int)s);
}

bool
ratelimit_take(ratelimit *rl, const char *key, int64_t now_ms,
               int *retry_after_s)
{
    size_t klen = strnlen(key, RATELIMIT_KEY_MAX);
    uint64_t h = key_hash(rl->seed, key, klen);
    struct shard *s = &rl->shards[(h >> 40) & (rl->nshards - 1)];
    struct bucket *b;
    bool ok = true;
    int32_t i;

    if (retry_after_s != NULL)
        *retry_after_s = 0;
    pthread_mutex_lock(&s->mu);
    i = shard_find(s, h, key, klen);
    if (i < 0)
        i = shard_insert(rl, s, h, key, klen, now_ms);
    if (i < 0) {
        pthread_mutex_unlock(&s->mu);
        note_untracked(rl);
        return true;
    }
    b = &s->b[i];
    refill(rl, b, now_ms);
    if (b->units >= UNITS)
        b->units -= UNITS;
    else
        ok = false;
    if (!ok && retry_after_s != NULL)
        *retry_after_s = retry_after(rl, b);
    pthread_mutex_unlock(&s->mu);
    return ok;
}

size_t
ratelimit_tracked(ratelimit *rl)
{
    size_t n = 0;

    for (unsigned i = 0; i < rl->nshards; i++) {
        pthread_mutex_lock(&rl->shards[i].mu);
        n += rl->shards[i].used;
        pthread_mutex_unlock(&rl->shards[i].mu);
    }
    return n;
}

uint64_t
ratelimit_untracked(ratelimit *rl)
{
    return atomic_load(&rl->untracked);
}
