/*
 * test_proxy_sig.c — App Proxy signatures: Shopify's published vectors,
 * the message rules (decoding, repeated keys, bytewise order, bare keys),
 * every refusal reason, secret rotation and the timestamp window.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/proxy_sig.h"
#include "auth_tests.h"
#include "common/arena.h"
#include "common/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DOCS_SHOP "shop-name.myshopify.com"
#define DOCS_TS 1317327555
#define DOCS_BASE                                                         \
    "extra=1&extra=2&shop=shop-name.myshopify.com&logged_in_customer_id=1" \
    "&path_prefix=%2Fapps%2Fawesome_reviews&timestamp=1317327555"
#define DOCS_SIG                                                          \
    "4c68c8624d737112c91818c11017d24d334b524cb5c2b8ba08daa056f7395ddb"
#define ANON_SIG                                                          \
    "e072b6d7e6622d85912a5214b860d3100dc1e73d9bc29f43796ac8c9ff8093cb"
#define GEM_SHOP "some-random-store.myshopify.com"
#define GEM_TS 1466106083
#define GEM_BASE                                                          \
    "shop=some-random-store.myshopify.com&path_prefix=%2Fapps%2Fmy-app"   \
    "&timestamp=1466106083"

static const char *const hush[] = {"hush"};

/* proxy_verify with a fresh arena, keeping nothing. */
static int
verify(const char *query, const char *const *secrets, int n,
       const char *shop, int64_t now)
{
    arena *a = arena_new();
    struct proxy_request pr;
    int rc;

    assert_non_null(a);
    rc = proxy_verify(query, secrets, n, shop, now, a, &pr);
    arena_free(a);
    return rc;
}

/* base "&signature=" + its signature under secret, in a heap string. */
static char *
signed_query(const char *base, const char *secret)
{
    char hex[PROXY_SIG_HEX + 1];
    size_t len = strlen(base) + 12 + PROXY_SIG_HEX + 1;
    char *q = malloc(len);

    assert_non_null(q);
    assert_int_equal(proxy_sign(base, secret, hex), PD_OK);
    snprintf(q, len, "%s&signature=%s", base, hex);
    return q;
}

/* Signs base with "k", verifies it at now (shop "s.myshopify.com"). */
static int
sign_and_verify(const char *base, int64_t now)
{
    static const char *const k[] = {"k"};
    char *q = signed_query(base, "k");
    int rc = verify(q, k, 1, "s.myshopify.com", now);

    free(q);
    return rc;
}

/* ---- Shopify's vectors ---------------------------------------------- */

static void
test_docs_example_verifies(void **state)
{
    arena *a = arena_new();
    struct proxy_request pr;

    assert_int_equal(proxy_verify(DOCS_BASE "&signature=" DOCS_SIG, hush, 1,
                                  DOCS_SHOP, DOCS_TS + 30, a, &pr),
                     PD_OK);
    assert_string_equal(pr.shop, DOCS_SHOP);
    assert_string_equal(pr.logged_in_customer_id, "1");
    assert_string_equal(pr.path_prefix, "/apps/awesome_reviews");
    assert_int_equal(pr.timestamp, DOCS_TS);
    arena_free(a);
}

static void
test_docs_anonymous_variant(void **state)
{
    const char *q =
        "extra=1&extra=2&shop=shop-name.myshopify.com&logged_in_customer_id="
        "&path_prefix=%2Fapps%2Fawesome_reviews&timestamp=1317327555"
        "&signature=" ANON_SIG;
    arena *a = arena_new();
    struct proxy_request pr;

    assert_int_equal(
        proxy_verify(q, hush, 1, DOCS_SHOP, DOCS_TS, a, &pr), PD_OK);
    assert_string_equal(pr.logged_in_customer_id, "");
    arena_free(a);
}

static void
test_sign_matches_docs_and_ignores_signature(void **state)
{
    const char *msg = "extra=1,2logged_in_customer_id=1path_prefix=/apps/"
                      "awesome_reviewsshop=shop-name.myshopify.com"
                      "timestamp=1317327555";
    char hex[PROXY_SIG_HEX + 1];

    assert_int_equal(proxy_sign(DOCS_BASE, "hush", hex), PD_OK);
    assert_string_equal(hex, DOCS_SIG);
    assert_int_equal(
        proxy_sign(DOCS_BASE "&signature=" DOCS_SIG, "hush", hex), PD_OK);
    assert_string_equal(hex, DOCS_SIG);
    /* The docs' message, concatenated by hand. */
    ref_hmac_hex("hush", msg, strlen(msg), hex);
    assert_string_equal(hex, DOCS_SIG);
}

static void
test_shopify_app_gem_vectors(void **state)
{
    static const char *const secret[] = {"secret"};
    const char *sig1 =
        "f5cd7233558b1c50102a6f33c0b63ad1e1072a2fc126cb58d4500f75223cefcd";
    const char *sig2 =
        "bbf3aa60e098f08919a2ea4c64a388414f164e6a117a63b03479ac7aa9464b4f";
    const char *nested = "&foo=bar&baz[1]&baz[2]=b&baz[c[0]]=whatup"
                         "&baz[c[1]]=notmuch";
    char q[512];

    snprintf(q, sizeof(q), "%s&signature=%s", GEM_BASE, sig1);
    assert_int_equal(verify(q, secret, 1, GEM_SHOP, GEM_TS), PD_OK);
    snprintf(q, sizeof(q), "%s&evil=1&signature=%s", GEM_BASE, sig1);
    assert_int_equal(verify(q, secret, 1, GEM_SHOP, GEM_TS), PROXY_EBADSIG);
    snprintf(q, sizeof(q), "%s%s&signature=%s", GEM_BASE, nested, sig2);
    assert_int_equal(verify(q, secret, 1, GEM_SHOP, GEM_TS), PD_OK);
    /* Order of appearance does not matter, only the sorted message. */
    snprintf(q, sizeof(q), "signature=%s%s&%s", sig2, nested, GEM_BASE);
    assert_int_equal(verify(q, secret, 1, GEM_SHOP, GEM_TS), PD_OK);
}

/* ---- message rules --------------------------------------------------- */

static void
test_plus_and_pct20_are_spaces(void **state)
{
    char a[65], b[65], want[65];
    const char *msg = "q=red catshop=s";

    assert_int_equal(proxy_sign("q=red+cat&shop=s", "k", a), PD_OK);
    assert_int_equal(proxy_sign("q=red%20cat&shop=s", "k", b), PD_OK);
    ref_hmac_hex("k", msg, strlen(msg), want);
    assert_string_equal(a, want);
    assert_string_equal(b, want);
    /* A literal '+' is %2B and stays a plus. */
    assert_int_equal(proxy_sign("q=red%2Bcat&shop=s", "k", a), PD_OK);
    assert_string_not_equal(a, want);
}

static void
test_prefix_keys_sort_bytewise(void **state)
{
    char got[65], want[65];

    /* '1' (0x31) sorts before '=' (0x3D): item1=b comes first. */
    assert_int_equal(proxy_sign("item=a&item1=b", "k", got), PD_OK);
    ref_hmac_hex("k", "item1=bitem=a", 13, want);
    assert_string_equal(got, want);
    /* Upper case sorts before lower case, unlike locale collation. */
    assert_int_equal(proxy_sign("alpha=1&Zeta=2", "k", got), PD_OK);
    ref_hmac_hex("k", "Zeta=2alpha=1", 13, want);
    assert_string_equal(got, want);
}

static void
test_utf8_and_reserved_bytes_decoded(void **state)
{
    char got[65], want[65];
    const char *msg = "a=b=c\xc3\xa9name=Rex \xf0\x9f\x90\xb6";

    /* Keys decode too; an '=' inside a decoded key stays in the message. */
    assert_int_equal(
        proxy_sign("name=Rex+%F0%9F%90%B6&a%3Db=c%C3%A9", "k", got), PD_OK);
    ref_hmac_hex("k", msg, strlen(msg), want);
    assert_string_equal(got, want);
    /* Lower- and upper-case escapes are the same byte. */
    assert_int_equal(
        proxy_sign("name=Rex+%f0%9f%90%b6&a%3db=c%c3%a9", "k", got), PD_OK);
    assert_string_equal(got, want);
    /* %25 is a literal percent sign, not the start of another escape. */
    assert_int_equal(proxy_sign("v=100%25", "k", got), PD_OK);
    ref_hmac_hex("k", "v=100%", 6, want);
    assert_string_equal(got, want);
}

static void
test_bare_keys_empty_values_empty_pieces(void **state)
{
    char got[65], want[65], other[65];

    /* A bare key is "key=", an empty piece is skipped, "=v" keeps "". */
    assert_int_equal(proxy_sign("flag&&x=1&=v&", "k", got), PD_OK);
    ref_hmac_hex("k", "=vflag=x=1", 10, want);
    assert_string_equal(got, want);
    assert_int_equal(proxy_sign("flag=&x=1&=v", "k", other), PD_OK);
    assert_string_equal(got, other);
    /* Repeated values join with ',' in order of appearance. */
    assert_int_equal(proxy_sign("e=2&x=0&e=1&e", "k", got), PD_OK);
    ref_hmac_hex("k", "e=2,1,x=0", 9, want);
    assert_string_equal(got, want);
}

/* ---- refusals --------------------------------------------------------- */

static void
test_signature_missing_or_bad(void **state)
{
    assert_int_equal(verify(DOCS_BASE, hush, 1, DOCS_SHOP, DOCS_TS),
                     PROXY_ENOSIG);
    assert_int_equal(
        verify(DOCS_BASE "&signature=", hush, 1, DOCS_SHOP, DOCS_TS),
        PROXY_ENOSIG);
    assert_int_equal(verify(DOCS_BASE "&signature=abc", hush, 1, DOCS_SHOP,
                            DOCS_TS),
                     PROXY_EBADSIG);
    assert_int_equal(verify(DOCS_BASE "&signature=" DOCS_SIG "0", hush, 1,
                            DOCS_SHOP, DOCS_TS),
                     PROXY_EBADSIG);
    assert_int_equal(verify(DOCS_BASE "&signature=" ANON_SIG, hush, 1,
                            DOCS_SHOP, DOCS_TS),
                     PROXY_EBADSIG);
    assert_int_equal(verify(DOCS_BASE "&x=1&signature=" DOCS_SIG, hush, 1,
                            DOCS_SHOP, DOCS_TS),
                     PROXY_EBADSIG);
}

static void
test_every_single_character_change_refused(void **state)
{
    static const char hexd[] = "0123456789abcdef";
    char q[512];
    size_t off;

    snprintf(q, sizeof(q), "%s&signature=%s", DOCS_BASE, DOCS_SIG);
    off = strlen(q) - PROXY_SIG_HEX;
    for (size_t i = 0; i < PROXY_SIG_HEX; i++) {
        char keep = q[off + i];

        for (int d = 0; d < 16; d++) {
            if (hexd[d] == keep)
                continue;
            q[off + i] = hexd[d];
            assert_int_equal(verify(q, hush, 1, DOCS_SHOP, DOCS_TS),
                             PROXY_EBADSIG);
        }
        q[off + i] = keep;
    }
    assert_int_equal(verify(q, hush, 1, DOCS_SHOP, DOCS_TS), PD_OK);
}

static void
test_uppercase_hex_refused(void **state)
{
    char q[512];
    size_t off;

    snprintf(q, sizeof(q), "%s&signature=%s", DOCS_BASE, DOCS_SIG);
    off = strlen(q) - PROXY_SIG_HEX;
    for (size_t i = off; q[i] != '\0'; i++)
        if (q[i] >= 'a' && q[i] <= 'f')
            q[i] = (char)(q[i] - 'a' + 'A');
    assert_int_equal(verify(q, hush, 1, DOCS_SHOP, DOCS_TS), PROXY_EBADSIG);
}

static void
test_timestamp_rules(void **state)
{
    const int64_t t = 1700000000;

    assert_int_equal(sign_and_verify("shop=s.myshopify.com", t),
                     PROXY_ENOTS);
    assert_int_equal(sign_and_verify("shop=s.myshopify.com&timestamp=", t),
                     PROXY_EBADTS);
    assert_int_equal(
        sign_and_verify("shop=s.myshopify.com&timestamp=17e8", t),
        PROXY_EBADTS);
    assert_int_equal(
        sign_and_verify("shop=s.myshopify.com&timestamp=-1700000000", t),
        PROXY_EBADTS);
    assert_int_equal(
        sign_and_verify("shop=s.myshopify.com&timestamp=+1700000000", t),
        PROXY_EBADTS);
    assert_int_equal(
        sign_and_verify("shop=s.myshopify.com&timestamp=1700000000.0", t),
        PROXY_EBADTS);
    assert_int_equal(sign_and_verify("shop=s.myshopify.com&timestamp="
                                     "99999999999999999999",
                                     t),
                     PROXY_EBADTS);
}

static void
test_timestamp_window_is_90_seconds(void **state)
{
    const char *base = "shop=s.myshopify.com&timestamp=1700000000";
    const int64_t t = 1700000000;

    assert_int_equal(sign_and_verify(base, t), PD_OK);
    assert_int_equal(sign_and_verify(base, t + 90), PD_OK);
    assert_int_equal(sign_and_verify(base, t - 90), PD_OK);
    assert_int_equal(sign_and_verify(base, t + 91), PROXY_ESTALE);
    assert_int_equal(sign_and_verify(base, t - 91), PROXY_ESTALE);
    assert_int_equal(verify(DOCS_BASE "&signature=" DOCS_SIG, hush, 1,
                            DOCS_SHOP, 1700000000),
                     PROXY_ESTALE);
}

static void
test_repeated_fields_refused(void **state)
{
    const int64_t t = 1700000000;

    assert_int_equal(sign_and_verify("shop=s.myshopify.com&shop=s.myshopify"
                                     ".com&timestamp=1700000000",
                                     t),
                     PROXY_EREPEATED);
    assert_int_equal(sign_and_verify("shop=s.myshopify.com&timestamp="
                                     "1700000000&timestamp=1700000000",
                                     t),
                     PROXY_EREPEATED);
    assert_int_equal(sign_and_verify("shop=s.myshopify.com&timestamp="
                                     "1700000000&logged_in_customer_id=5"
                                     "&logged_in_customer_id=1",
                                     t),
                     PROXY_EREPEATED);
    assert_int_equal(verify(DOCS_BASE "&signature=" DOCS_SIG
                                      "&signature=" DOCS_SIG,
                            hush, 1, DOCS_SHOP, DOCS_TS),
                     PROXY_EREPEATED);
    /* Other keys may repeat (extra=1&extra=2 in the docs vector). */
    assert_int_equal(sign_and_verify("shop=s.myshopify.com&timestamp="
                                     "1700000000&id=1&id=2",
                                     t),
                     PD_OK);
}

static void
test_wrong_or_missing_shop(void **state)
{
    static const char *const k[] = {"k"};
    char *q = signed_query("timestamp=1700000000", "k");

    assert_int_equal(verify(q, k, 1, "s.myshopify.com", 1700000000),
                     PROXY_ESHOP);
    free(q);
    assert_int_equal(verify(DOCS_BASE "&signature=" DOCS_SIG, hush, 1,
                            "other.myshopify.com", DOCS_TS),
                     PROXY_ESHOP);
    assert_int_equal(verify(DOCS_BASE "&signature=" DOCS_SIG, hush, 1,
                            "shop-name.myshopify.co", DOCS_TS),
                     PROXY_ESHOP);
    assert_int_equal(
        verify(DOCS_BASE "&signature=" DOCS_SIG, hush, 1, "", DOCS_TS),
        PROXY_ESHOP);
    /* Host names compare without regard to case. */
    assert_int_equal(verify(DOCS_BASE "&signature=" DOCS_SIG, hush, 1,
                            "Shop-Name.myshopify.com", DOCS_TS),
                     PD_OK);
}

static void
test_malformed_queries(void **state)
{
    char hex[65];
    char *big;
    size_t i;

    assert_int_equal(verify("a=%zz&" DOCS_BASE "&signature=" DOCS_SIG,
                            hush, 1, DOCS_SHOP, DOCS_TS),
                     PROXY_EMALFORMED);
    assert_int_equal(verify(DOCS_BASE "&signature=" DOCS_SIG "&a=%4", hush,
                            1, DOCS_SHOP, DOCS_TS),
                     PROXY_EMALFORMED);
    assert_int_equal(verify(DOCS_BASE "&signature=" DOCS_SIG "&a%=1", hush,
                            1, DOCS_SHOP, DOCS_TS),
                     PROXY_EMALFORMED);
    assert_int_equal(proxy_sign("a=%", "k", hex), PD_EINVAL);
    /* A NUL in a field we hand out cannot pass as a shorter string. */
    assert_int_equal(sign_and_verify("shop=s.myshopify.com&timestamp="
                                     "1700000000&logged_in_customer_id=1%002",
                                     1700000000),
                     PROXY_EMALFORMED);

    /* 16 KiB is the most read; 257 parameters are too many. */
    big = malloc(PROXY_MAX_QUERY + 2);
    assert_non_null(big);
    memset(big, 'a', PROXY_MAX_QUERY + 1);
    big[PROXY_MAX_QUERY + 1] = '\0';
    assert_int_equal(verify(big, hush, 1, DOCS_SHOP, DOCS_TS),
                     PROXY_EMALFORMED);
    big[PROXY_MAX_QUERY] = '\0';
    assert_int_equal(verify(big, hush, 1, DOCS_SHOP, DOCS_TS),
                     PROXY_ENOSIG);
    for (i = 0; i < 257; i++)
        memcpy(big + 2 * i, "a&", 2);
    big[2 * 257 - 1] = '\0';
    assert_int_equal(proxy_sign(big, "k", hex), PD_EINVAL);
    big[2 * 256 - 1] = '\0';
    assert_int_equal(proxy_sign(big, "k", hex), PD_OK);
    free(big);
}

static void
test_secret_rotation(void **state)
{
    static const char *const rotated[] = {"new-secret", "hush"};
    static const char *const only_new[] = {"new-secret"};
    static const char *const holes[] = {NULL, "", "hush"};
    static const char *const none[] = {NULL, ""};
    const char *q = DOCS_BASE "&signature=" DOCS_SIG;

    assert_int_equal(verify(q, rotated, 2, DOCS_SHOP, DOCS_TS), PD_OK);
    assert_int_equal(verify(q, holes, 3, DOCS_SHOP, DOCS_TS), PD_OK);
    assert_int_equal(verify(q, only_new, 1, DOCS_SHOP, DOCS_TS),
                     PROXY_EBADSIG);
    assert_int_equal(verify(q, none, 2, DOCS_SHOP, DOCS_TS), PROXY_EBADSIG);
    assert_int_equal(verify(q, NULL, 0, DOCS_SHOP, DOCS_TS), PROXY_EBADSIG);
}

static void
test_reasons_are_named(void **state)
{
    assert_string_equal(proxy_reason(PROXY_ENOSIG), "missing signature");
    assert_string_equal(proxy_reason(PROXY_EBADSIG), "bad signature");
    assert_string_equal(proxy_reason(PROXY_ENOTS), "missing timestamp");
    assert_string_equal(proxy_reason(PROXY_EBADTS), "bad timestamp");
    assert_string_equal(proxy_reason(PROXY_ESTALE), "stale timestamp");
    assert_string_equal(proxy_reason(PROXY_EREPEATED), "repeated parameter");
    assert_string_equal(proxy_reason(PROXY_ESHOP), "wrong shop");
    assert_string_equal(proxy_reason(PROXY_EMALFORMED), "malformed query");
    assert_string_equal(proxy_reason(PD_ENOMEM), "out of memory");
}

int
auth_proxy_sig_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_example_verifies),
        cmocka_unit_test(test_docs_anonymous_variant),
        cmocka_unit_test(test_sign_matches_docs_and_ignores_signature),
        cmocka_unit_test(test_shopify_app_gem_vectors),
        cmocka_unit_test(test_plus_and_pct20_are_spaces),
        cmocka_unit_test(test_prefix_keys_sort_bytewise),
        cmocka_unit_test(test_utf8_and_reserved_bytes_decoded),
        cmocka_unit_test(test_bare_keys_empty_values_empty_pieces),
        cmocka_unit_test(test_signature_missing_or_bad),
        cmocka_unit_test(test_every_single_character_change_refused),
        cmocka_unit_test(test_uppercase_hex_refused),
        cmocka_unit_test(test_timestamp_rules),
        cmocka_unit_test(test_timestamp_window_is_90_seconds),
        cmocka_unit_test(test_repeated_fields_refused),
        cmocka_unit_test(test_wrong_or_missing_shop),
        cmocka_unit_test(test_malformed_queries),
        cmocka_unit_test(test_secret_rotation),
        cmocka_unit_test(test_reasons_are_named),
    };

    return cmocka_run_group_tests_name("proxy_sig", tests, NULL, NULL);
}
