/*
 * webhook_sig.c — checks a webhook body's HMAC header by computing the
 * expected base64 text and comparing it in constant time, so only the
 * canonical encoding Shopify sends is accepted.
 */
#include "auth/webhook_sig.h"

#include "auth/token.h"
#include "common/err.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>

int
webhook_sig_verify(const void *body, size_t len, const char *header_b64,
                   const char *const *secrets, int nsecrets)
{
    unsigned char mac[TOKEN_MAC_LEN];
    char want[WEBHOOK_SIG_B64_LEN + 1];

    if (header_b64 == NULL ||
        strnlen(header_b64, WEBHOOK_SIG_B64_LEN + 1) != WEBHOOK_SIG_B64_LEN)
        return PD_EINVAL;
    if (body == NULL && len > 0)
        return PD_EINVAL;
    for (int i = 0; i < nsecrets; i++) {
        if (secrets[i] == NULL || secrets[i][0] == '\0')
            continue;
        if (token_hmac_sha256(secrets[i], strlen(secrets[i]),
                              body != NULL ? body : "", len, mac) != PD_OK)
            return PD_ERR;
        if (EVP_EncodeBlock((unsigned char *)want, mac, sizeof(mac)) !=
            WEBHOOK_SIG_B64_LEN)
            return PD_ERR;
        if (CRYPTO_memcmp(want, header_b64, WEBHOOK_SIG_B64_LEN) == 0)
            return PD_OK;
    }
    return PD_EINVAL;
}
