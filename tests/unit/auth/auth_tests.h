/*
 * auth_tests.h — the test groups of the auth unit-test program, one per
 * module, and the helpers they share. Each group returns its failures.
 */
#ifndef PD_AUTH_TESTS_H
#define PD_AUTH_TESTS_H

#include <stddef.h>

int auth_proxy_sig_tests(void);
int auth_token_tests(void);
int auth_jwt_tests(void);
int auth_ratelimit_tests(void);
int auth_webhook_sig_tests(void);

/* Lowercase hex HMAC-SHA256 straight from libcrypto, as a reference. */
void ref_hmac_hex(const char *key, const void *msg, size_t len,
                  char out[65]);

#endif
