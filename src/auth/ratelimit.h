/*
 * ratelimit.h — per-key token buckets (a staff member, a client address)
 * held in process memory: thread-safe, refilled continuously, and bounded
 * to a fixed number of keys. Limits are per instance, by design.
 */
#ifndef PD_RATELIMIT_H
#define PD_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATELIMIT_KEY_MAX 64       /* longer keys are cut to this */
#define RATELIMIT_RATE_MAX 1000000 /* most per_minute and burst */
#define RATELIMIT_KEYS_MAX 10000000

typedef struct ratelimit ratelimit;

/*
 * A limiter refilling per_minute tokens a minute (per_minute/60000 a
 * millisecond, continuously) into buckets holding at most burst, for at
 * most max_keys keys at once. All memory is taken here. NULL for
 * arguments out of range (1..RATELIMIT_RATE_MAX, 1..RATELIMIT_KEYS_MAX)
 * or out of memory. Free with ratelimit_free.
 */
ratelimit *ratelimit_new(int per_minute, int burst, size_t max_keys);
void ratelimit_free(ratelimit *rl);

/*
 * Takes one token from key's bucket (a new key starts full) at now_ms.
 * true: go ahead. false: refused, and *retry_after_s (may be NULL) gets
 * the whole seconds until a token is back, at least 1; it gets 0 when
 * allowed. When max_keys buckets are all in use and none has refilled
 * (an idle, full bucket is forgotten without loss), a new key is allowed
 * untracked; the first time this happens it is logged once as a warning.
 */
bool ratelimit_take(ratelimit *rl, const char *key, int64_t now_ms,
                    int *retry_after_s);

/* Keys tracked now (for tests and metrics). */
size_t ratelimit_tracked(ratelimit *rl);
/* Requests let through untracked because the table was full. */
uint64_t ratelimit_untracked(ratelimit *rl);

#endif
