/*
 * webhook_sig.h — Shopify webhook signatures: X-Shopify-Hmac-Sha256 is the
 * standard, padded base64 of HMAC-SHA256 over the raw body bytes, keyed
 * with the app secret (current or, during a rotation, the previous one).
 */
#ifndef PD_WEBHOOK_SIG_H
#define PD_WEBHOOK_SIG_H

#include <stddef.h>

#define WEBHOOK_SIG_B64_LEN 44 /* base64 of 32 bytes, with padding */

/*
 * 0 when header_b64 is exactly the base64 HMAC of the len bytes at body
 * under any non-empty secret (compared in constant time); PD_EINVAL when
 * it is not (missing, wrong length, not canonical base64, no match);
 * PD_ERR when the crypto library fails. The body is never re-serialised:
 * pass the bytes as received.
 */
int webhook_sig_verify(const void *body, size_t len, const char *header_b64,
                       const char *const *secrets, int nsecrets);

#endif
