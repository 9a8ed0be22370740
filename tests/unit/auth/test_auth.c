/*
 * test_auth.c — runs the auth test groups (App Proxy signatures, tokens
 * and CSRF, admin session tokens, rate limits, webhook signatures) and
 * holds the reference HMAC they check against.
 */
#include "auth_tests.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <string.h>

void
ref_hmac_hex(const char *key, const void *msg, size_t len, char out[65])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char mac[32];
    unsigned int n = 0;

    HMAC(EVP_sha256(), key, (int)strlen(key), msg, len, mac, &n);
    for (unsigned i = 0; i < 32; i++) {
        out[2 * i] = digits[mac[i] >> 4];
        out[2 * i + 1] = digits[mac[i] & 15];
    }
    out[64] = '\0';
}

int
main(void)
{
    int failed = 0;

    failed += auth_proxy_sig_tests();
    failed += auth_token_tests();
    failed += auth_jwt_tests();
    failed += auth_ratelimit_tests();
    failed += auth_webhook_sig_tests();
    return failed == 0 ? 0 : 1;
}
