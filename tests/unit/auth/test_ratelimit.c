/*
 * test_ratelimit.c — token buckets on a fake clock: the 101st request in
 * a minute, Retry-After, continuous refill, independent keys, threads
 * racing on one key, and the bounded table with its eviction.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/ratelimit.h"
#include "auth_tests.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define T0 1700000000000LL /* ms */

static void
test_refill_is_continuous(void **state)
{
    ratelimit *rl = ratelimit_new(100, 100, 1000);
    int retry = -1;

    assert_non_null(rl);
    for (int i = 0; i < 100; i++) {
        assert_true(ratelimit_take(rl, "staff:7", T0 + i * 10, &retry));
        assert_int_equal(retry, 0);
    }
    /* 990 ms in, 1.65 tokens came back: two more, then a refusal. */
    assert_true(ratelimit_take(rl, "staff:7", T0 + 990, &retry));
    assert_false(ratelimit_take(rl, "staff:7", T0 + 990, &retry));
    assert_int_equal(retry, 1);
    assert_false(ratelimit_take(rl, "staff:7", T0 + 1000, &retry));
    /* 0.65 token left at 990 ms; one token every 600 ms comes back. */
    assert_false(ratelimit_take(rl, "staff:7", T0 + 1199, &retry));
    assert_true(ratelimit_take(rl, "staff:7", T0 + 1200, &retry));
    assert_false(ratelimit_take(rl, "staff:7", T0 + 1200, &retry));
    /* After a quiet minute the whole burst is back, and no more. */
    for (int i = 0; i < 100; i++)
        assert_true(ratelimit_take(rl, "staff:7", T0 + 62000, NULL));
    assert_false(ratelimit_take(rl, "staff:7", T0 + 62000, NULL));
    ratelimit_free(rl);
}

static void
test_101st_request_in_a_burst_refused(void **state)
{
    ratelimit *rl = ratelimit_new(100, 100, 1000);
    int allowed = 0, retry = 0;

    for (int i = 0; i < 150; i++)
        allowed += ratelimit_take(rl, "a", T0, &retry);
    assert_int_equal(allowed, 100);
    assert_int_equal(retry, 1); /* 600 ms to the next token, rounded up */
    ratelimit_free(rl);
}

static void
test_retry_after_counts_whole_seconds(void **state)
{
    ratelimit *rl = ratelimit_new(1, 1, 10);
    int retry = 0;

    assert_true(ratelimit_take(rl, "k", T0, &retry));
    assert_false(ratelimit_take(rl, "k", T0, &retry));
    assert_int_equal(retry, 60);
    assert_false(ratelimit_take(rl, "k", T0 + 30500, &retry));
    assert_int_equal(retry, 30); /* 29.5 s, rounded up */
    assert_false(ratelimit_take(rl, "k", T0 + 59999, &retry));
    assert_int_equal(retry, 1);
    assert_true(ratelimit_take(rl, "k", T0 + 60000, &retry));
    /* A clock that steps back refills nothing and breaks nothing. */
    assert_false(ratelimit_take(rl, "k", T0, &retry));
    assert_true(retry >= 1);
    ratelimit_free(rl);
}

static void
test_keys_are_independent(void **state)
{
    ratelimit *rl = ratelimit_new(10, 10, 100);

    for (int i = 0; i < 10; i++)
        assert_true(ratelimit_take(rl, "customer:1", T0, NULL));
    assert_false(ratelimit_take(rl, "customer:1", T0, NULL));
    assert_true(ratelimit_take(rl, "customer:2", T0, NULL));
    assert_true(ratelimit_take(rl, "customer:10", T0, NULL));
    assert_true(ratelimit_take(rl, "203.0.113.9", T0, NULL));
    assert_int_equal(ratelimit_tracked(rl), 4);
    ratelimit_free(rl);
}

struct race {
    ratelimit *rl;
    const char *key;
    atomic_int allowed;
};

static void *
hammer(void *arg)
{
    struct race *r = arg;

    for (int i = 0; i < 2000; i++)
        if (ratelimit_take(r->rl, r->key, T0, NULL))
            atomic_fetch_add(&r->allowed, 1);
    return NULL;
}

static void
test_threads_never_exceed_the_limit(void **state)
{
    struct race r = {.rl = ratelimit_new(100, 100, 100000), .key = "hot"};
    pthread_t th[8];

    assert_non_null(r.rl);
    atomic_init(&r.allowed, 0);
    for (int i = 0; i < 8; i++)
        assert_int_equal(pthread_create(&th[i], NULL, hammer, &r), 0);
    for (int i = 0; i < 8; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(atomic_load(&r.allowed), 100);
    ratelimit_free(r.rl);
}

static void
test_table_stays_bounded(void **state)
{
    ratelimit *rl = ratelimit_new(60, 2, 100);
    char key[32];

    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "10.0.0.%d", i);
        assert_true(ratelimit_take(rl, key, T0, NULL));
    }
    assert_true(ratelimit_take(rl, "10.0.0.0", T0, NULL));
    assert_false(ratelimit_take(rl, "10.0.0.0", T0, NULL));
    assert_int_equal(ratelimit_tracked(rl), 100);
    /* Full and nothing has refilled: a newcomer passes untracked. */
    assert_true(ratelimit_take(rl, "new-1", T0, NULL));
    assert_int_equal(ratelimit_tracked(rl), 100);
    assert_int_equal(ratelimit_untracked(rl), 1);
    /* 1 s later the buckets that spent one token are full again and go;
     * the limited key is kept, so it stays limited. */
    assert_true(ratelimit_take(rl, "new-2", T0 + 1000, NULL));
    assert_int_equal(ratelimit_tracked(rl), 2);
    assert_true(ratelimit_take(rl, "10.0.0.0", T0 + 1000, NULL));
    assert_false(ratelimit_take(rl, "10.0.0.0", T0 + 1000, NULL));
    ratelimit_free(rl);
}

static void
test_many_keys_never_grow_the_table(void **state)
{
    ratelimit *rl = ratelimit_new(100, 100, 1000);
    char key[32];

    for (int i = 0; i < 20000; i++) {
        snprintf(key, sizeof(key), "198.51.100.%d:%d", i % 256, i);
        assert_true(ratelimit_take(rl, key, T0 + i / 10, NULL));
        assert_true(ratelimit_tracked(rl) <= 1000);
    }
    assert_true(ratelimit_untracked(rl) > 0);
    ratelimit_free(rl);
}

static void
test_bad_arguments(void **state)
{
    assert_null(ratelimit_new(0, 10, 10));
    assert_null(ratelimit_new(10, 0, 10));
    assert_null(ratelimit_new(10, 10, 0));
    assert_null(ratelimit_new(RATELIMIT_RATE_MAX + 1, 10, 10));
    ratelimit_free(NULL);
}

int
auth_ratelimit_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refill_is_continuous),
        cmocka_unit_test(test_101st_request_in_a_burst_refused),
        cmocka_unit_test(test_retry_after_counts_whole_seconds),
        cmocka_unit_test(test_keys_are_independent),
        cmocka_unit_test(test_threads_never_exceed_the_limit),
        cmocka_unit_test(test_table_stays_bounded),
        cmocka_unit_test(test_many_keys_never_grow_the_table),
        cmocka_unit_test(test_bad_arguments),
    };

    return cmocka_run_group_tests_name("ratelimit", tests, NULL, NULL);
}
