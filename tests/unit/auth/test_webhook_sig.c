/*
 * test_webhook_sig.c — webhook HMAC header checks: the notes' vector, a
 * changed or re-serialised body, malformed headers and secret rotation.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "auth/webhook_sig.h"
#include "auth_tests.h"
#include "common/err.h"

#include <string.h>

#define BODY "{\"id\":820982911946154508,\"name\":\"#9999\"}"
#define SIG "YBwnJ9vsibq7srObgXybmGHWuwos+jDEL//7749XS78="

static const char *const hush[] = {"hush"};

static int
check(const char *body, const char *header, const char *const *secrets,
      int n)
{
    return webhook_sig_verify(body, strlen(body), header, secrets, n);
}

static void
test_vector_verifies(void **state)
{
    assert_int_equal(check(BODY, SIG, hush, 1), PD_OK);
}

static void
test_changed_body_refused(void **state)
{
    char body[] = BODY;

    for (size_t i = 0; i < sizeof(body) - 1; i++) {
        char keep = body[i];

        body[i] = (char)(keep ^ 1);
        assert_int_equal(check(body, SIG, hush, 1), PD_EINVAL);
        body[i] = keep;
    }
    /* Same JSON, other bytes: only the raw body verifies. */
    assert_int_equal(
        check("{\"id\": 820982911946154508, \"name\": \"#9999\"}", SIG, hush,
              1),
        PD_EINVAL);
    assert_int_equal(check(BODY "\n", SIG, hush, 1), PD_EINVAL);
    assert_int_equal(webhook_sig_verify(BODY, strlen(BODY) - 1, SIG, hush, 1),
                     PD_EINVAL);
}

static void
test_bad_headers_refused(void **state)
{
    char sig[] = SIG;

    assert_int_equal(check(BODY, NULL, hush, 1), PD_EINVAL);
    assert_int_equal(check(BODY, "", hush, 1), PD_EINVAL);
    assert_int_equal(check(BODY, "not base64 at all!!", hush, 1), PD_EINVAL);
    /* Unpadded, URL alphabet, hex: all other spellings are refused. */
    assert_int_equal(check(BODY, "YBwnJ9vsibq7srObgXybmGHWuwos+jDEL//7749XS78",
                           hush, 1),
                     PD_EINVAL);
    assert_int_equal(check(BODY, "YBwnJ9vsibq7srObgXybmGHWuwos-jDEL__7749XS78=",
                           hush, 1),
                     PD_EINVAL);
    assert_int_equal(check(BODY, SIG " ", hush, 1), PD_EINVAL);
    for (size_t i = 0; i < sizeof(sig) - 2; i++) {
        char keep = sig[i];

        sig[i] = keep == 'A' ? 'B' : 'A';
        assert_int_equal(check(BODY, sig, hush, 1), PD_EINVAL);
        sig[i] = keep;
    }
}

static void
test_rotation_and_empty_secrets(void **state)
{
    static const char *const rotated[] = {"new-secret", "hush"};
    static const char *const only_new[] = {"new-secret"};
    static const char *const none[] = {NULL, ""};

    assert_int_equal(check(BODY, SIG, rotated, 2), PD_OK);
    assert_int_equal(check(BODY, SIG, only_new, 1), PD_EINVAL);
    assert_int_equal(check(BODY, SIG, none, 2), PD_EINVAL);
}

int
auth_webhook_sig_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector_verifies),
        cmocka_unit_test(test_changed_body_refused),
        cmocka_unit_test(test_bad_headers_refused),
        cmocka_unit_test(test_rotation_and_empty_secrets),
    };

    return cmocka_run_group_tests_name("webhook_sig", tests, NULL, NULL);
}
