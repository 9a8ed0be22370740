/*
 * bench_auth.c — the cost of letting one proxied staff request in:
 * verifying the App Proxy signature and finding the staff member (the
 * guard's per-thread cache over a SQLite staff table), on one core.
 * Prints ns per request, and the two halves alone.
 *   bench_auth [ROUNDS]
 */
#include "auth/proxy_sig.h"
#include "auth/staff.h"
#include "common/arena.h"
#include "common/err.h"
#include "common/util.h"
#include "db/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SECRET "bench-app-secret-0123456789abcdef"
#define SHOP "shop-name.myshopify.com"

static int
prepare_staff(db *d)
{
    char id[16];
    int rc = db_migrate(d, NULL);

    for (int i = 0; i < 50 && rc == PD_OK; i++) {
        snprintf(id, sizeof(id), "%d", 1000 + i);
        rc = staff_upsert(d, "customer", id, ROLE_FULFILLER, "Bench");
    }
    return rc;
}

/* The two halves on their own, to see where the time goes. */
static void
print_parts(db *d, const char *query, const char *const *secrets,
            int64_t now, long rounds)
{
    struct proxy_request pr;
    struct staff st;
    int64_t t0 = pd_mono_ns(), t1, t2;

    for (long i = 0; i < rounds; i++) {
        arena *a = arena_new();

        proxy_verify(query, secrets, 1, SHOP, now, a, &pr);
        arena_free(a);
    }
    t1 = pd_mono_ns();
    for (long i = 0; i < rounds; i++)
        staff_find(d, "customer", "1042", &st);
    t2 = pd_mono_ns();
    printf("auth_proxy_verify: %.0f ns; auth_staff_lookup_uncached: %.0f "
           "ns (the guard caches rows for 2 s)\n",
           (double)(t1 - t0) / (double)rounds,
           (double)(t2 - t1) / (double)rounds);
}

int
main(int argc, char **argv)
{
    const char *secrets[] = {SECRET};
    char path[] = "/tmp/printdesk-bench-auth-XXXXXX", url[64], err[256];
    char query[512], hex[PROXY_SIG_HEX + 1];
    long rounds = argc > 1 ? atol(argv[1]) : 200000;
    int64_t now = pd_now_ms() / 1000, t0, t1;
    struct proxy_request pr;
    struct staff st;
    db *d = NULL;
    int fd = mkstemp(path);

    if (fd < 0 || rounds <= 0)
        return 1;
    close(fd);
    snprintf(url, sizeof(url), "sqlite:%s", path);
    if (db_open(url, &d, err, sizeof(err)) != PD_OK || prepare_staff(d)) {
        fprintf(stderr, "bench_auth: %s\n", err);
        return 1;
    }
    snprintf(query, sizeof(query), "view=list&shop=%s&logged_in_customer_id"
             "=1042&path_prefix=%%2Fapps%%2Ffulfillment&timestamp=%lld",
             SHOP, (long long)now);
    proxy_sign(query, SECRET, hex);
    snprintf(query + strlen(query), sizeof(query) - strlen(query),
             "&signature=%s", hex);
    t0 = pd_mono_ns();
    for (long i = 0; i < rounds; i++) {
        arena *a = arena_new();

        if (proxy_verify(query, secrets, 1, SHOP, now, a, &pr) != 0 ||
            staff_find_cached(d, "customer", "1042", &st) != PD_OK) {
            fprintf(stderr, "bench_auth: verification failed\n");
            return 1;
        }
        arena_free(a);
    }
    t1 = pd_mono_ns();
    print_parts(d, query, secrets, now, rounds);
    printf("auth_verify_and_lookup: %.0f ns per request (proxy signature "
           "+ staff row, one core, %ld rounds; target < 5000 ns)\n",
           (double)(t1 - t0) / (double)rounds, rounds);
    db_close(d);
    unlink(path);
    return 0;
}
