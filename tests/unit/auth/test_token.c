/*
 * test_token.c — printdesk's own tokens: round trips, tampering with each
 * part, purpose binding, the expiry boundary, secret rotation, CSRF
 * windows and identities, and the HMAC and base64url primitives.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/token.h"
#include "auth_tests.h"
#include "common/err.h"

#include <stdio.h>
#include <string.h>

static const char *const one[] = {"app-secret"};
#define T0 1700000000

static void
issue(const char *purpose, const char *subject, int64_t expires, char *out)
{
    assert_int_equal(token_issue("app-secret", purpose, subject, expires,
                                 out, TOKEN_BUF_LEN),
                     PD_OK);
}

/* ---- purpose tokens ----------------------------------------------------- */

static void
test_round_trip(void **state)
{
    char a[TOKEN_BUF_LEN], b[TOKEN_BUF_LEN];
    struct token_claims ca, cb;

    issue("handoff", "customer:42", T0 + 300, a);
    issue("handoff", "customer:42", T0 + 300, b);
    assert_string_not_equal(a, b);
    assert_int_equal(token_verify(one, 1, "handoff", a, T0, &ca), PD_OK);
    assert_int_equal(token_verify(one, 1, "handoff", b, T0, &cb), PD_OK);
    assert_string_equal(ca.subject, "customer:42");
    assert_int_equal(ca.expires, T0 + 300);
    assert_int_equal(strlen(ca.nonce), 32);
    assert_int_equal(strspn(ca.nonce, "0123456789abcdef"), 32);
    assert_string_not_equal(ca.nonce, cb.nonce);
    /* Only [A-Za-z0-9._-] and one dot: safe in a URL and a cookie. */
    assert_int_equal(strspn(a, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnop"
                               "qrstuvwxyz0123456789-_."),
                     strlen(a));
    assert_non_null(strchr(a, '.'));
    assert_null(strchr(strchr(a, '.') + 1, '.'));
}

static void
test_wrong_purpose_refused(void **state)
{
    char t[TOKEN_BUF_LEN];

    issue("handoff", "customer:42", T0 + 300, t);
    assert_int_equal(token_verify(one, 1, "session", t, T0, NULL),
                     TOKEN_EBADSIG);
    assert_int_equal(token_verify(one, 1, "handoff", t, T0, NULL), PD_OK);
}

static void
test_every_character_change_refused(void **state)
{
    static const char alphabet[] = "Aa0-_.";
    char t[TOKEN_BUF_LEN];
    size_t len;

    issue("session", "admin_user:7", T0 + 60, t);
    len = strlen(t);
    for (size_t i = 0; i < len; i++) {
        char keep = t[i];

        for (const char *c = alphabet; *c != '\0'; c++) {
            if (*c == keep)
                continue;
            t[i] = *c;
            assert_int_not_equal(token_verify(one, 1, "session", t, T0, NULL),
                                 PD_OK);
        }
        t[i] = keep;
    }
    assert_int_equal(token_verify(one, 1, "session", t, T0, NULL), PD_OK);
}

static void
test_forged_payload_refused(void **state)
{
    char t[TOKEN_BUF_LEN], forged[TOKEN_BUF_LEN], p64[TOKEN_BUF_LEN];
    const char *payload =
        "v1|customer:1|9999999999|00112233445566778899aabbccddeeff";

    issue("session", "customer:42", T0 + 60, t);
    token_b64url_encode(p64, sizeof(p64), payload, strlen(payload));
    snprintf(forged, sizeof(forged), "%s%s", p64, strchr(t, '.'));
    assert_int_equal(token_verify(one, 1, "session", forged, T0, NULL),
                     TOKEN_EBADSIG);
}

static void
test_malformed_tokens(void **state)
{
    char t[TOKEN_BUF_LEN], big[TOKEN_MAX_LEN + 2];

    issue("session", "customer:42", T0 + 60, t);
    assert_int_equal(token_verify(one, 1, "session", NULL, T0, NULL),
                     TOKEN_EMALFORMED);
    assert_int_equal(token_verify(one, 1, "session", "", T0, NULL),
                     TOKEN_EMALFORMED);
    *strchr(t, '.') = 'x';
    assert_int_equal(token_verify(one, 1, "session", t, T0, NULL),
                     TOKEN_EMALFORMED);
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    big[100] = '.';
    assert_int_equal(token_verify(one, 1, "session", big, T0, NULL),
                     TOKEN_EMALFORMED);
}

static void
test_expiry_boundary(void **state)
{
    char t[TOKEN_BUF_LEN];

    issue("handoff", "customer:42", T0 + 120, t);
    assert_int_equal(token_verify(one, 1, "handoff", t, T0 + 119, NULL),
                     PD_OK);
    assert_int_equal(token_verify(one, 1, "handoff", t, T0 + 120, NULL),
                     TOKEN_EEXPIRED);
    assert_int_equal(token_verify(one, 1, "handoff", t, T0 + 99999, NULL),
                     TOKEN_EEXPIRED);
}

static void
test_rotation_accepts_previous_secret(void **state)
{
    static const char *const rotated[] = {"next-secret", "app-secret"};
    static const char *const only_next[] = {"next-secret"};
    static const char *const holes[] = {NULL, "", "app-secret"};
    char t[TOKEN_BUF_LEN];

    issue("session", "customer:42", T0 + 60, t);
    assert_int_equal(token_verify(rotated, 2, "session", t, T0, NULL), PD_OK);
    assert_int_equal(token_verify(holes, 3, "session", t, T0, NULL), PD_OK);
    assert_int_equal(token_verify(only_next, 1, "session", t, T0, NULL),
                     TOKEN_EBADSIG);
}

static void
test_issue_checks_its_input(void **state)
{
    char t[TOKEN_BUF_LEN], sub[TOKEN_SUBJECT_MAX + 2];

    memset(sub, 'a', sizeof(sub) - 1);
    sub[sizeof(sub) - 1] = '\0';
    assert_int_equal(token_issue("s", "session", sub, T0, t, sizeof(t)),
                     PD_EINVAL);
    sub[TOKEN_SUBJECT_MAX] = '\0';
    assert_int_equal(token_issue("s", "session", sub, T0, t, sizeof(t)),
                     PD_OK);
    assert_int_equal(
        token_issue("s", "session", "customer 42", T0, t, sizeof(t)),
        PD_EINVAL);
    assert_int_equal(
        token_issue("s", "session", "customer|42", T0, t, sizeof(t)),
        PD_EINVAL);
    assert_int_equal(token_issue("s", "session", "", T0, t, sizeof(t)),
                     PD_EINVAL);
    assert_int_equal(
        token_issue("", "session", "customer:42", T0, t, sizeof(t)),
        PD_EINVAL);
    assert_int_equal(
        token_issue("s", "Session!", "customer:42", T0, t, sizeof(t)),
        PD_EINVAL);
    assert_int_equal(token_issue("s", "session", "customer:42", T0, t, 40),
                     PD_ETOOBIG);
    assert_string_equal(token_reason(TOKEN_EEXPIRED), "expired");
    assert_string_equal(token_reason(TOKEN_EBADSIG), "bad signature");
    assert_string_equal(token_reason(TOKEN_EMALFORMED), "malformed token");
}

/* ---- CSRF ----------------------------------------------------------- */

static void
test_csrf_round_trip_and_identity(void **state)
{
    char t[CSRF_TOKEN_LEN + 1];

    assert_int_equal(
        csrf_issue("app-secret", "customer:42", T0, t, sizeof(t)), PD_OK);
    assert_int_equal(strlen(t), CSRF_TOKEN_LEN);
    assert_int_equal(csrf_verify(one, 1, "customer:42", t, T0), PD_OK);
    assert_int_equal(csrf_verify(one, 1, "customer:43", t, T0),
                     TOKEN_EBADSIG);
    assert_int_equal(csrf_verify(one, 1, "admin_user:42", t, T0),
                     TOKEN_EBADSIG);
    t[5] = t[5] == 'A' ? 'B' : 'A';
    assert_int_equal(csrf_verify(one, 1, "customer:42", t, T0),
                     TOKEN_EBADSIG);
    assert_int_equal(csrf_verify(one, 1, "customer:42", "short", T0),
                     TOKEN_EMALFORMED);
    assert_int_equal(csrf_verify(one, 1, "customer:42", NULL, T0),
                     TOKEN_EMALFORMED);
    assert_int_equal(csrf_issue("app-secret", "customer:42", T0, t, 43),
                     PD_ETOOBIG);
}

static void
test_csrf_windows(void **state)
{
    const int64_t start = (T0 / CSRF_WINDOW_S) * CSRF_WINDOW_S;
    char t[CSRF_TOKEN_LEN + 1], later[CSRF_TOKEN_LEN + 1];

    assert_int_equal(
        csrf_issue("app-secret", "customer:42", start, t, sizeof(t)), PD_OK);
    assert_int_equal(csrf_verify(one, 1, "customer:42", t, start + 3599),
                     PD_OK);
    assert_int_equal(csrf_verify(one, 1, "customer:42", t, start + 3600),
                     PD_OK);
    assert_int_equal(csrf_verify(one, 1, "customer:42", t, start + 7199),
                     PD_OK);
    assert_int_equal(csrf_verify(one, 1, "customer:42", t, start + 7200),
                     TOKEN_EBADSIG);
    /* A token from a window that has not begun is not accepted. */
    assert_int_equal(csrf_issue("app-secret", "customer:42", start + 3600,
                                later, sizeof(later)),
                     PD_OK);
    assert_string_not_equal(t, later);
    assert_int_equal(csrf_verify(one, 1, "customer:42", later, start),
                     TOKEN_EBADSIG);
}

static void
test_csrf_rotation(void **state)
{
    static const char *const rotated[] = {"next-secret", "app-secret"};
    static const char *const only_next[] = {"next-secret"};
    char t[CSRF_TOKEN_LEN + 1];

    assert_int_equal(
        csrf_issue("app-secret", "customer:42", T0, t, sizeof(t)), PD_OK);
    assert_int_equal(csrf_verify(rotated, 2, "customer:42", t, T0), PD_OK);
    assert_int_equal(csrf_verify(only_next, 1, "customer:42", t, T0),
                     TOKEN_EBADSIG);
}

/* ---- primitives ------------------------------------------------------- */

static void
test_hmac_rfc4231_case2(void **state)
{
    unsigned char mac[TOKEN_MAC_LEN];
    const char *msg = "what do ya want for nothing?";
    char hex[65];
    static const char digits[] = "0123456789abcdef";

    assert_int_equal(token_hmac_sha256("Jefe", 4, msg, strlen(msg), mac),
                     PD_OK);
    for (int i = 0; i < TOKEN_MAC_LEN; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 15];
    }
    hex[64] = '\0';
    assert_string_equal(
        hex,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

static void
test_b64url_rfc4648_vectors(void **state)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob",
                                        "fooba", "foobar"};
    static const char *const coded[] = {"", "Zg", "Zm8", "Zm9v", "Zm9vYg",
                                        "Zm9vYmE", "Zm9vYmFy"};
    unsigned char back[16];
    char out[16];
    size_t n;

    for (int i = 0; i < 7; i++) {
        assert_int_equal(token_b64url_encode(out, sizeof(out), plain[i],
                                             strlen(plain[i])),
                         strlen(coded[i]));
        assert_string_equal(out, coded[i]);
        assert_int_equal(token_b64url_decode(coded[i], strlen(coded[i]),
                                             back, sizeof(back), &n),
                         PD_OK);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(back, plain[i], n);
    }
    /* The URL alphabet: 0xfb 0xff is "-_8", not "+/8". */
    assert_int_equal(token_b64url_encode(out, sizeof(out), "\xfb\xff", 2), 3);
    assert_string_equal(out, "-_8");
    assert_int_equal(token_b64url_encode(out, 3, "foo", 3), 0);
}

static void
test_b64url_decode_is_strict(void **state)
{
    unsigned char back[16];
    size_t n;

    assert_int_equal(token_b64url_decode("Zh", 2, back, sizeof(back), &n),
                     PD_EINVAL); /* trailing bits set */
    assert_int_equal(token_b64url_decode("Zg==", 4, back, sizeof(back), &n),
                     PD_EINVAL);
    assert_int_equal(token_b64url_decode("Zm9vY", 5, back, sizeof(back), &n),
                     PD_EINVAL);
    assert_int_equal(token_b64url_decode("+/8", 3, back, sizeof(back), &n),
                     PD_EINVAL);
    assert_int_equal(token_b64url_decode("Zm9v", 4, back, 2, &n),
                     PD_ETOOBIG);
}

int
auth_token_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_wrong_purpose_refused),
        cmocka_unit_test(test_every_character_change_refused),
        cmocka_unit_test(test_forged_payload_refused),
        cmocka_unit_test(test_malformed_tokens),
        cmocka_unit_test(test_expiry_boundary),
        cmocka_unit_test(test_rotation_accepts_previous_secret),
        cmocka_unit_test(test_issue_checks_its_input),
        cmocka_unit_test(test_csrf_round_trip_and_identity),
        cmocka_unit_test(test_csrf_windows),
        cmocka_unit_test(test_csrf_rotation),
        cmocka_unit_test(test_hmac_rfc4231_case2),
        cmocka_unit_test(test_b64url_rfc4648_vectors),
        cmocka_unit_test(test_b64url_decode_is_strict),
    };

    return cmocka_run_group_tests_name("token", tests, NULL, NULL);
}
