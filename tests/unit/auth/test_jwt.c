/*
 * test_jwt.c — Shopify admin session tokens: the static HS256 vector, and
 * tokens built here for each refusal (algorithm, signature, audience,
 * destination, times) and the 10 s leeway boundaries.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/jwt.h"
#include "auth/token.h"
#include "auth_tests.h"
#include "common/err.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <string.h>

#define SHOP "shop-name.myshopify.com"
#define API_KEY "client-id-123"
#define NOW 1591765000
#define HS256 "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

/* The notes' vector: header and payload base64url, and its signature. */
#define VEC_HEADER "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9"
#define VEC_PAYLOAD                                                       \
    "eyJpc3MiOiJodHRwczovL3Nob3AtbmFtZS5teXNob3BpZnkuY29tL2FkbWluIiwiZGVz" \
    "dCI6Imh0dHBzOi8vc2hvcC1uYW1lLm15c2hvcGlmeS5jb20iLCJhdWQiOiJjbGllbnQt" \
    "aWQtMTIzIiwic3ViIjoiNDIiLCJleHAiOjE1OTE3NjUwNTgsIm5iZiI6MTU5MTc2NDk5" \
    "OCwiaWF0IjoxNTkxNzY0OTk4LCJqdGkiOiJmODkxMjEyOS0xYWY2LTRjYWQtOWNhMy03" \
    "NmIwZjc2MjEwODciLCJzaWQiOiJhYmMifQ"
#define VEC_SIG "EwBR34X3W5Y2awfZNHcy_wvalmGuEQ2nNiSvwTGM1S8"
#define VECTOR VEC_HEADER "." VEC_PAYLOAD "." VEC_SIG

static const char *const hush[] = {"hush"};

/* header.payload.HMAC(secret) with the given JSON texts. */
static void
make_jwt(const char *header, const char *payload, const char *secret,
         char *out, size_t outlen)
{
    unsigned char mac[32];
    unsigned int maclen = 0;
    size_t o;

    o = token_b64url_encode(out, outlen, header, strlen(header));
    assert_true(o > 0);
    out[o++] = '.';
    o += token_b64url_encode(out + o, outlen - o, payload, strlen(payload));
    HMAC(EVP_sha256(), secret, (int)strlen(secret), (unsigned char *)out, o,
         mac, &maclen);
    out[o++] = '.';
    assert_true(token_b64url_encode(out + o, outlen - o, mac, maclen) > 0);
}

/* A payload with the given claims (aud, dest, exp, nbf) and the rest. */
static void
claims_json(char *out, size_t len, const char *aud, const char *dest,
            int64_t exp, int64_t nbf)
{
    snprintf(out, len,
             "{\"iss\":\"%s/admin\",\"dest\":\"%s\",\"aud\":\"%s\","
             "\"sub\":\"42\",\"exp\":%lld,\"nbf\":%lld,\"iat\":%lld,"
             "\"jti\":\"j-1\",\"sid\":\"s-1\"}",
             dest, dest, aud, (long long)exp, (long long)nbf,
             (long long)nbf);
}

static int
verify_built(const char *header, const char *payload, int64_t now)
{
    char t[2048];

    make_jwt(header, payload, "hush", t, sizeof(t));
    return jwt_verify_shopify(t, hush, 1, API_KEY, SHOP, now, NULL);
}

static void
test_static_vector(void **state)
{
    struct jwt_claims c;

    assert_int_equal(
        jwt_verify_shopify(VECTOR, hush, 1, API_KEY, SHOP, NOW, &c), PD_OK);
    assert_string_equal(c.sub, "42");
    assert_string_equal(c.dest, "https://" SHOP);
    assert_int_equal(c.exp, 1591765058);
    assert_int_equal(c.nbf, 1591764998);
    assert_int_equal(c.iat, 1591764998);
    assert_string_equal(c.jti, "f8912129-1af6-4cad-9ca3-76b0f7621087");
    assert_string_equal(c.sid, "abc");
    /* The vector is long expired on a real clock. */
    assert_int_equal(jwt_verify_shopify(VECTOR, hush, 1, API_KEY, SHOP,
                                        1700000000, NULL),
                     JWT_EEXPIRED);
}

static void
test_builder_reproduces_vector(void **state)
{
    const char *payload =
        "{\"iss\":\"https://shop-name.myshopify.com/admin\",\"dest\":"
        "\"https://shop-name.myshopify.com\",\"aud\":\"client-id-123\","
        "\"sub\":\"42\",\"exp\":1591765058,\"nbf\":1591764998,\"iat\":"
        "1591764998,\"jti\":\"f8912129-1af6-4cad-9ca3-76b0f7621087\","
        "\"sid\":\"abc\"}";
    char t[1024];

    make_jwt(HS256, payload, "hush", t, sizeof(t));
    assert_string_equal(t, VECTOR);
}

static void
test_algorithms_other_than_hs256_refused(void **state)
{
    static const char *const headers[] = {
        "{\"alg\":\"none\",\"typ\":\"JWT\"}",
        "{\"alg\":\"RS256\",\"typ\":\"JWT\"}",
        "{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
        "{\"alg\":\"hs256\",\"typ\":\"JWT\"}",
        "{\"typ\":\"JWT\"}",
        "{\"alg\":256}",
    };
    char p[512], t[1024], *dot;

    claims_json(p, sizeof(p), API_KEY, "https://" SHOP, NOW + 50, NOW - 10);
    for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++)
        assert_int_equal(verify_built(headers[i], p, NOW), JWT_EALG);
    /* alg "none" with an empty signature, and with no third part. */
    make_jwt(headers[0], p, "hush", t, sizeof(t));
    dot = strrchr(t, '.');
    dot[1] = '\0';
    assert_int_equal(jwt_verify_shopify(t, hush, 1, API_KEY, SHOP, NOW, NULL),
                     JWT_EALG);
    dot[0] = '\0';
    assert_int_equal(jwt_verify_shopify(t, hush, 1, API_KEY, SHOP, NOW, NULL),
                     JWT_EALG);
    /* A duplicated alg cannot smuggle a second value past the check. */
    assert_int_equal(
        verify_built("{\"alg\":\"HS256\",\"alg\":\"none\"}", p, NOW),
        JWT_EMALFORMED);
    assert_int_equal(verify_built(HS256, p, NOW), PD_OK);
}

static void
test_every_signature_character_change_refused(void **state)
{
    static const char alphabet[] = "ABSTab01-_";
    char t[sizeof(VECTOR)];
    size_t off = sizeof(VECTOR) - 1 - strlen(VEC_SIG);

    memcpy(t, VECTOR, sizeof(VECTOR));
    for (size_t i = off; t[i] != '\0'; i++) {
        char keep = t[i];

        for (const char *c = alphabet; *c != '\0'; c++) {
            if (*c == keep)
                continue;
            t[i] = *c;
            assert_int_equal(
                jwt_verify_shopify(t, hush, 1, API_KEY, SHOP, NOW, NULL),
                JWT_EBADSIG);
        }
        t[i] = keep;
    }
    /* A change in the payload breaks the signature too. */
    t[off - 5] = t[off - 5] == 'A' ? 'B' : 'A';
    assert_int_equal(jwt_verify_shopify(t, hush, 1, API_KEY, SHOP, NOW, NULL),
                     JWT_EBADSIG);
}

static void
test_secrets_and_rotation(void **state)
{
    static const char *const wrong[] = {"hush2"};
    static const char *const rotated[] = {"new", "hush"};
    static const char *const holes[] = {NULL, "", "hush"};

    assert_int_equal(
        jwt_verify_shopify(VECTOR, wrong, 1, API_KEY, SHOP, NOW, NULL),
        JWT_EBADSIG);
    assert_int_equal(
        jwt_verify_shopify(VECTOR, rotated, 2, API_KEY, SHOP, NOW, NULL),
        PD_OK);
    assert_int_equal(
        jwt_verify_shopify(VECTOR, holes, 3, API_KEY, SHOP, NOW, NULL),
        PD_OK);
    assert_int_equal(
        jwt_verify_shopify(VECTOR, NULL, 0, API_KEY, SHOP, NOW, NULL),
        JWT_EBADSIG);
}

static void
test_audience(void **state)
{
    char p[512];

    claims_json(p, sizeof(p), "someone-else", "https://" SHOP, NOW + 50,
                NOW - 10);
    assert_int_equal(verify_built(HS256, p, NOW), JWT_EAUD);
    assert_int_equal(
        jwt_verify_shopify(VECTOR, hush, 1, "", SHOP, NOW, NULL), JWT_EAUD);
    assert_int_equal(
        jwt_verify_shopify(VECTOR, hush, 1, NULL, SHOP, NOW, NULL), JWT_EAUD);
    snprintf(p, sizeof(p),
             "{\"dest\":\"https://" SHOP "\",\"aud\":[\"x\",\"" API_KEY
             "\"],\"sub\":\"42\",\"exp\":%d}",
             NOW + 50);
    assert_int_equal(verify_built(HS256, p, NOW), PD_OK);
    snprintf(p, sizeof(p),
             "{\"dest\":\"https://" SHOP "\",\"sub\":\"42\",\"exp\":%d}",
             NOW + 50);
    assert_int_equal(verify_built(HS256, p, NOW), JWT_EAUD);
}

static void
test_destination(void **state)
{
    char p[512];

    claims_json(p, sizeof(p), API_KEY, "https://evil.myshopify.com",
                NOW + 50, NOW - 10);
    assert_int_equal(verify_built(HS256, p, NOW), JWT_EDEST);
    claims_json(p, sizeof(p), API_KEY, "http://" SHOP, NOW + 50, NOW - 10);
    assert_int_equal(verify_built(HS256, p, NOW), JWT_EDEST);
    assert_int_equal(
        jwt_verify_shopify(VECTOR, hush, 1, API_KEY, "", NOW, NULL),
        JWT_EDEST);
    /* iss must be dest + "/admin" when present. */
    snprintf(p, sizeof(p),
             "{\"iss\":\"https://evil.myshopify.com/admin\",\"dest\":"
             "\"https://" SHOP "\",\"aud\":\"" API_KEY
             "\",\"sub\":\"42\",\"exp\":%d}",
             NOW + 50);
    assert_int_equal(verify_built(HS256, p, NOW), JWT_EDEST);
}

static void
test_times_and_leeway(void **state)
{
    char p[512];

    claims_json(p, sizeof(p), API_KEY, "https://" SHOP, NOW - 10, NOW - 70);
    assert_int_equal(verify_built(HS256, p, NOW), PD_OK);
    claims_json(p, sizeof(p), API_KEY, "https://" SHOP, NOW - 11, NOW - 70);
    assert_int_equal(verify_built(HS256, p, NOW), JWT_EEXPIRED);
    claims_json(p, sizeof(p), API_KEY, "https://" SHOP, NOW + 60, NOW + 10);
    assert_int_equal(verify_built(HS256, p, NOW), PD_OK);
    claims_json(p, sizeof(p), API_KEY, "https://" SHOP, NOW + 60, NOW + 11);
    assert_int_equal(verify_built(HS256, p, NOW), JWT_ENOTYET);
    /* The vector lives 1591764998..1591765058, leeway included. */
    assert_int_equal(jwt_verify_shopify(VECTOR, hush, 1, API_KEY, SHOP,
                                        1591765068, NULL),
                     PD_OK);
    assert_int_equal(jwt_verify_shopify(VECTOR, hush, 1, API_KEY, SHOP,
                                        1591765069, NULL),
                     JWT_EEXPIRED);
    assert_int_equal(jwt_verify_shopify(VECTOR, hush, 1, API_KEY, SHOP,
                                        1591764988, NULL),
                     PD_OK);
    assert_int_equal(jwt_verify_shopify(VECTOR, hush, 1, API_KEY, SHOP,
                                        1591764987, NULL),
                     JWT_ENOTYET);
}

static void
test_malformed(void **state)
{
    static const char *const payloads[] = {
        "{\"dest\":\"https://" SHOP "\",\"aud\":\"" API_KEY "\","
        "\"sub\":\"42\"}", /* no exp */
        "{\"dest\":\"https://" SHOP "\",\"aud\":\"" API_KEY "\","
        "\"sub\":\"gid://shopify/User/42\",\"exp\":1591765050}",
        "{\"dest\":\"https://" SHOP "\",\"aud\":\"" API_KEY "\","
        "\"exp\":1591765050}", /* no sub */
        "{\"dest\":\"https://" SHOP "\",\"aud\":\"" API_KEY "\","
        "\"sub\":\"42\",\"exp\":\"1591765050\"}",
        "{\"dest\":\"https://" SHOP "\",\"aud\":\"" API_KEY "\","
        "\"sub\":\"42\",\"exp\":1591765050,\"exp\":1999999999}",
        "[\"sub\",\"42\"]",
        "not json",
    };
    char big[JWT_MAX_LEN + 2];

    for (size_t i = 0; i < sizeof(payloads) / sizeof(payloads[0]); i++)
        assert_int_equal(verify_built(HS256, payloads[i], NOW),
                         JWT_EMALFORMED);
    assert_int_equal(jwt_verify_shopify(NULL, hush, 1, API_KEY, SHOP, NOW,
                                        NULL),
                     JWT_EMALFORMED);
    assert_int_equal(jwt_verify_shopify(VECTOR ".x", hush, 1, API_KEY, SHOP,
                                        NOW, NULL),
                     JWT_EMALFORMED);
    assert_int_equal(jwt_verify_shopify("e30", hush, 1, API_KEY, SHOP, NOW,
                                        NULL),
                     JWT_EMALFORMED);
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, VECTOR, strlen(VECTOR));
    assert_int_equal(jwt_verify_shopify(big, hush, 1, API_KEY, SHOP, NOW,
                                        NULL),
                     JWT_EMALFORMED);
    assert_string_equal(jwt_reason(JWT_EALG), "algorithm not allowed");
    assert_string_equal(jwt_reason(JWT_ENOTYET), "not yet valid");
}

int
auth_jwt_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_static_vector),
        cmocka_unit_test(test_builder_reproduces_vector),
        cmocka_unit_test(test_algorithms_other_than_hs256_refused),
        cmocka_unit_test(test_every_signature_character_change_refused),
        cmocka_unit_test(test_secrets_and_rotation),
        cmocka_unit_test(test_audience),
        cmocka_unit_test(test_destination),
        cmocka_unit_test(test_times_and_leeway),
        cmocka_unit_test(test_malformed),
    };

    return cmocka_run_group_tests_name("jwt", tests, NULL, NULL);
}
