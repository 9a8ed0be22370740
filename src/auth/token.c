/*
 * token.c — signed, expiring, purpose-bound tokens and CSRF tokens, and
 * the HMAC-SHA256/base64url primitives under them. Secrets are compared in
 * constant time and never logged.
 */
#include "auth/token.h"

#include "common/err.h"
#include "common/util.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define PAYLOAD_MAX 160 /* "v1|" + 80 + "|" + 20 digits + "|" + 32 */
#define NONCE_BYTES 16

/* ---- HMAC-SHA256 -------------------------------------------------------- */

/*
 * OpenSSL 3 spends most of an HMAC fetching the algorithm and parsing its
 * parameters; a context set up once and duplicated per call costs half.
 */
static EVP_MAC_CTX *hmac_template;
static pthread_once_t hmac_once = PTHREAD_ONCE_INIT;

static void
hmac_setup(void)
{
    char digest[] = "SHA256";
    OSSL_PARAM params[2];
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = NULL;

    if (mac == NULL)
        return;
    ctx = EVP_MAC_CTX_new(mac);
    EVP_MAC_free(mac);
    params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
                                                 digest, 0);
    params[1] = OSSL_PARAM_construct_end();
    if (ctx != NULL && EVP_MAC_CTX_set_params(ctx, params) != 1) {
        EVP_MAC_CTX_free(ctx);
        ctx = NULL;
    }
    hmac_template = ctx;
}

int
token_hmac_sha256(const void *key, size_t keylen, const void *msg,
                  size_t msglen, unsigned char out[TOKEN_MAC_LEN])
{
    EVP_MAC_CTX *ctx = NULL;
    size_t outn = 0;
    int rc = PD_ERR;

    pthread_once(&hmac_once, hmac_setup);
    if (hmac_template == NULL || keylen == 0)
        return PD_ERR;
    ctx = EVP_MAC_CTX_dup(hmac_template);
    if (ctx == NULL)
        return PD_ERR;
    if (EVP_MAC_init(ctx, key, keylen, NULL) == 1 &&
        EVP_MAC_update(ctx, msg, msglen) == 1 &&
        EVP_MAC_final(ctx, out, &outn, TOKEN_MAC_LEN) == 1 &&
        outn == TOKEN_MAC_LEN)
        rc = PD_OK;
    EVP_MAC_CTX_free(ctx);
    return rc;
}

/* ---- base64url -------------------------------------------------------- */

static const char b64url_digits[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

size_t
token_b64url_len(size_t n)
{
    return (n / 3) * 4 + (n % 3 == 0 ? 0 : n % 3 + 1);
}

size_t
token_b64url_encode(char *out, size_t outlen, const void *in, size_t n)
{
    const unsigned char *p = in;
    size_t len = token_b64url_len(n), o = 0, i;

    if (n > ((size_t)-1) / 2 || outlen < len + 1)
        return 0;
    for (i = 0; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16 | (uint32_t)p[i + 1] << 8 | p[i + 2];

        out[o++] = b64url_digits[v >> 18];
        out[o++] = b64url_digits[(v >> 12) & 63];
        out[o++] = b64url_digits[(v >> 6) & 63];
        out[o++] = b64url_digits[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)p[i] << 16;

        if (i + 1 < n)
            v |= (uint32_t)p[i + 1] << 8;
        out[o++] = b64url_digits[v >> 18];
        out[o++] = b64url_digits[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = b64url_digits[(v >> 6) & 63];
    }
    out[o] = '\0';
    return o;
}

static int
b64url_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '-')
        return 62;
    if (c == '_')
        return 63;
    return -1;
}

int
token_b64url_decode(const char *in, size_t n, unsigned char *out,
                    size_t outlen, size_t *outn)
{
    uint32_t acc = 0;
    int bits = 0;
    size_t o = 0;

    if (n % 4 == 1)
        return PD_EINVAL;
    if ((n / 4) * 3 + (n % 4 == 0 ? 0 : n % 4 - 1) > outlen)
        return PD_ETOOBIG;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value((unsigned char)in[i]);

        if (v < 0)
            return PD_EINVAL;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    /* The leftover bits of a canonical encoding are zero. */
    if (acc != 0)
        return PD_EINVAL;
    *outn = o;
    return PD_OK;
}

/* ---- shared checks ---------------------------------------------------- */

static bool
subject_ok(const char *s)
{
    size_t n = 0;

    if (s == NULL)
        return false;
    for (; s[n] != '\0'; n++) {
        unsigned char c = (unsigned char)s[n];

        if (n >= TOKEN_SUBJECT_MAX)
            return false;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
              (c >= '0' && c <= '9') || c == ':' || c == '_' || c == '-'))
            return false;
    }
    return n > 0;
}

static bool
purpose_ok(const char *s)
{
    size_t n = 0;

    if (s == NULL)
        return false;
    for (; s[n] != '\0'; n++) {
        unsigned char c = (unsigned char)s[n];

        if (n >= TOKEN_PURPOSE_MAX)
            return false;
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-'))
            return false;
    }
    return n > 0;
}

/* The key for one purpose: HMAC-SHA256(secret, "printdesk/" purpose). */
static int
derive_key(const char *secret, const char *purpose,
           unsigned char key[TOKEN_MAC_LEN])
{
    char label[16 + TOKEN_PURPOSE_MAX];
    int n = snprintf(label, sizeof(label), "printdesk/%s", purpose);

    if (n < 0 || (size_t)n >= sizeof(label))
        return PD_EINVAL;
    return token_hmac_sha256(secret, strlen(secret), label, (size_t)n, key);
}

/* The base64url MAC of msg under the purpose key of secret. */
static int
purpose_mac_b64(const char *secret, const char *purpose, const void *msg,
                size_t len, char out[CSRF_TOKEN_LEN + 1])
{
    unsigned char key[TOKEN_MAC_LEN], mac[TOKEN_MAC_LEN];
    int rc = derive_key(secret, purpose, key);

    if (rc == PD_OK)
        rc = token_hmac_sha256(key, sizeof(key), msg, len, mac);
    if (rc == PD_OK)
        token_b64url_encode(out, CSRF_TOKEN_LEN + 1, mac, sizeof(mac));
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

/*
 * Whether sig (CSRF_TOKEN_LEN chars) is the MAC of msg under any secret.
 * 0 on a match, TOKEN_EBADSIG, or PD_ERR when the library failed.
 */
static int
match_any_secret(const char *const *secrets, int nsecrets,
                 const char *purpose, const void *msg, size_t len,
                 const char *sig)
{
    char want[CSRF_TOKEN_LEN + 1];

    for (int i = 0; i < nsecrets; i++) {
        if (secrets[i] == NULL || secrets[i][0] == '\0')
            continue;
        if (purpose_mac_b64(secrets[i], purpose, msg, len, want) != PD_OK)
            return PD_ERR;
        if (CRYPTO_memcmp(want, sig, CSRF_TOKEN_LEN) == 0)
            return PD_OK;
    }
    return TOKEN_EBADSIG;
}

/* ---- purpose tokens ----------------------------------------------------- */

int
token_issue(const char *secret, const char *purpose, const char *subject,
            int64_t expires_s, char *out, size_t outlen)
{
    char payload[PAYLOAD_MAX], nonce[2 * NONCE_BYTES + 1];
    char mac[CSRF_TOKEN_LEN + 1];
    size_t plen, need, o;
    int n;

    if (secret == NULL || secret[0] == '\0' || !purpose_ok(purpose) ||
        !subject_ok(subject) || expires_s < 0 || out == NULL)
        return PD_EINVAL;
    if (pd_random_hex(nonce, NONCE_BYTES) != PD_OK)
        return PD_EIO;
    n = snprintf(payload, sizeof(payload), "v1|%s|%lld|%s", subject,
                 (long long)expires_s, nonce);
    if (n < 0 || (size_t)n >= sizeof(payload))
        return PD_EINVAL;
    plen = (size_t)n;
    need = token_b64url_len(plen) + 1 + CSRF_TOKEN_LEN + 1;
    if (outlen < need)
        return PD_ETOOBIG;
    if (purpose_mac_b64(secret, purpose, payload, plen, mac) != PD_OK)
        return PD_ERR;
    o = token_b64url_encode(out, outlen, payload, plen);
    out[o++] = '.';
    memcpy(out + o, mac, CSRF_TOKEN_LEN + 1);
    return PD_OK;
}

/* Reads the decimal of 1..18 digits in [s, end) into *out. */
static bool
parse_digits(const char *s, const char *end, int64_t *out)
{
    int64_t v = 0;

    if (s == end || end - s > 18)
        return false;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9')
            return false;
        v = v * 10 + (*s - '0');
    }
    *out = v;
    return true;
}

/* Splits a verified payload "v1|subject|expires|nonce" into claims. */
static int
parse_payload(const char *p, size_t len, struct token_claims *c)
{
    const char *end = p + len, *bar1, *bar2;
    size_t slen;

    if (len < 3 || memcmp(p, "v1|", 3) != 0)
        return TOKEN_EMALFORMED;
    p += 3;
    bar1 = memchr(p, '|', (size_t)(end - p));
    if (bar1 == NULL)
        return TOKEN_EMALFORMED;
    bar2 = memchr(bar1 + 1, '|', (size_t)(end - bar1 - 1));
    slen = (size_t)(bar1 - p);
    if (bar2 == NULL || slen == 0 || slen > TOKEN_SUBJECT_MAX ||
        end - bar2 - 1 != 2 * NONCE_BYTES)
        return TOKEN_EMALFORMED;
    memcpy(c->subject, p, slen);
    c->subject[slen] = '\0';
    memcpy(c->nonce, bar2 + 1, 2 * NONCE_BYTES);
    c->nonce[2 * NONCE_BYTES] = '\0';
    if (!subject_ok(c->subject) || !parse_digits(bar1 + 1, bar2, &c->expires))
        return TOKEN_EMALFORMED;
    for (int i = 0; i < 2 * NONCE_BYTES; i++)
        if (!((c->nonce[i] >= '0' && c->nonce[i] <= '9') ||
              (c->nonce[i] >= 'a' && c->nonce[i] <= 'f')))
            return TOKEN_EMALFORMED;
    return PD_OK;
}

int
token_verify(const char *const *secrets, int nsecrets, const char *purpose,
             const char *token, int64_t now_s, struct token_claims *out)
{
    unsigned char payload[PAYLOAD_MAX];
    struct token_claims claims;
    const char *dot;
    size_t len, plen;
    int rc;

    if (token == NULL || !purpose_ok(purpose))
        return TOKEN_EMALFORMED;
    len = strnlen(token, TOKEN_MAX_LEN + 1);
    dot = memchr(token, '.', len);
    if (len > TOKEN_MAX_LEN || dot == NULL ||
        len - (size_t)(dot - token) - 1 != CSRF_TOKEN_LEN)
        return TOKEN_EMALFORMED;
    if (token_b64url_decode(token, (size_t)(dot - token), payload,
                            sizeof(payload), &plen) != PD_OK)
        return TOKEN_EMALFORMED;
    rc = match_any_secret(secrets, nsecrets, purpose, payload, plen, dot + 1);
    if (rc != PD_OK)
        return rc;
    memset(&claims, 0, sizeof(claims));
    rc = parse_payload((const char *)payload, plen, &claims);
    if (rc != PD_OK)
        return rc;
    if (now_s >= claims.expires)
        return TOKEN_EEXPIRED;
    if (out != NULL)
        *out = claims;
    return PD_OK;
}

/* ---- CSRF ----------------------------------------------------------- */

static int
csrf_message(const char *identity, int64_t window, char *buf, size_t len)
{
    int n = snprintf(buf, len, "%s|%lld", identity, (long long)window);

    return (n < 0 || (size_t)n >= len) ? -1 : n;
}

int
csrf_issue(const char *secret, const char *identity, int64_t now_s,
           char *out, size_t outlen)
{
    char msg[TOKEN_SUBJECT_MAX + 24];
    int n;

    if (secret == NULL || secret[0] == '\0' || !subject_ok(identity) ||
        now_s < 0 || out == NULL)
        return PD_EINVAL;
    if (outlen < CSRF_TOKEN_LEN + 1)
        return PD_ETOOBIG;
    n = csrf_message(identity, now_s / CSRF_WINDOW_S, msg, sizeof(msg));
    if (n < 0)
        return PD_EINVAL;
    return purpose_mac_b64(secret, "csrf", msg, (size_t)n, out) == PD_OK
               ? PD_OK
               : PD_ERR;
}

int
csrf_verify(const char *const *secrets, int nsecrets, const char *identity,
            const char *token, int64_t now_s)
{
    char msg[TOKEN_SUBJECT_MAX + 24];
    int64_t window;

    if (token == NULL || strnlen(token, CSRF_TOKEN_LEN + 1) != CSRF_TOKEN_LEN)
        return TOKEN_EMALFORMED;
    if (!subject_ok(identity) || now_s < 0)
        return TOKEN_EBADSIG;
    window = now_s / CSRF_WINDOW_S;
    for (int64_t w = window; w >= window - 1 && w >= 0; w--) {
        int n = csrf_message(identity, w, msg, sizeof(msg));
        int rc;

        if (n < 0)
            return TOKEN_EBADSIG;
        rc = match_any_secret(secrets, nsecrets, "csrf", msg, (size_t)n,
                              token);
        if (rc != TOKEN_EBADSIG)
            return rc;
    }
    return TOKEN_EBADSIG;
}

const char *
token_reason(int code)
{
    switch (code) {
    case TOKEN_OK: return "ok";
    case TOKEN_EMALFORMED: return "malformed token";
    case TOKEN_EBADSIG: return "bad signature";
    case TOKEN_EEXPIRED: return "expired";
    }
    return pd_err_str(code);
}
