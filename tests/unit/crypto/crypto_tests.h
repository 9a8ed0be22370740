/*
 * crypto_tests.h — what the crypto test program's files share: fixed test
 * keys, small helpers that fail the test on error, and the groups main
 * runs.
 */
#ifndef PD_TEST_CRYPTO_H
#define PD_TEST_CRYPTO_H

#include "common/util.h"
#include "crypto/pii.h"

#include <stddef.h>

/* Three distinct data keys (64 hex digits each). */
extern const char key_a[], key_b[], key_c[];

pii_keys *keys_or_fail(const char *cur, const char *prev);
/* Replaces out's contents with the blob of text under k's current key. */
void seal_or_fail(const pii_keys *k, const char *text, size_t len,
                  pd_buf *out);

int run_pii_tests(void);

#endif
