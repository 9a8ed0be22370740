/*
 * jwt.c — verification of Shopify admin session tokens: header, HS256
 * signature (constant-time, current and previous secret), and the claims
 * Shopify documents. Parses JSON with jansson, refusing duplicate keys.
 */
#include "auth/jwt.h"

#include "auth/token.h"
#include "common/err.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>

#define SIG_B64_LEN 43 /* base64url of 32 bytes, no padding */
#define PART_MAX ((JWT_MAX_LEN / 4) * 3)

/* Decodes one base64url part and parses it as a JSON object. */
static int
decode_part(const char *s, size_t n, json_t **out)
{
    unsigned char buf[PART_MAX];
    size_t len;
    json_t *j;

    *out = NULL;
    if (token_b64url_decode(s, n, buf, sizeof(buf), &len) != PD_OK)
        return JWT_EMALFORMED;
    j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, NULL);
    if (j == NULL || !json_is_object(j)) {
        json_decref(j);
        return JWT_EMALFORMED;
    }
    *out = j;
    return PD_OK;
}

/* Only HS256: never "none", RS256 (key confusion) or other HMACs. */
static int
check_header(const char *token, size_t hlen)
{
    json_t *h = NULL, *alg;
    int rc = decode_part(token, hlen, &h);

    if (rc != PD_OK)
        return rc;
    alg = json_object_get(h, "alg");
    if (!json_is_string(alg) || strcmp(json_string_value(alg), "HS256") != 0 ||
        json_string_length(alg) != 5)
        rc = JWT_EALG;
    json_decref(h);
    return rc;
}

static int
check_signature(const char *token, size_t signed_len, const char *sig,
                size_t siglen, const char *const *secrets, int nsecrets)
{
    unsigned char mac[TOKEN_MAC_LEN];
    char want[SIG_B64_LEN + 1];

    if (siglen != SIG_B64_LEN)
        return JWT_EBADSIG;
    for (int i = 0; i < nsecrets; i++) {
        if (secrets[i] == NULL || secrets[i][0] == '\0')
            continue;
        if (token_hmac_sha256(secrets[i], strlen(secrets[i]), token,
                              signed_len, mac) != PD_OK)
            return PD_ERR;
        token_b64url_encode(want, sizeof(want), mac, sizeof(mac));
        if (CRYPTO_memcmp(want, sig, SIG_B64_LEN) == 0)
            return PD_OK;
    }
    return JWT_EBADSIG;
}

/* ---- claims ------------------------------------------------------------- */

/*
 * A time claim (a JSON number of seconds; RFC 7519 lets it have a
 * fraction, which Shopify's own test tokens use), rounded down. *v = 0
 * when absent and not required.
 */
static int
get_int(json_t *o, const char *key, bool required, int64_t *v)
{
    json_t *j = json_object_get(o, key);
    double d;

    *v = 0;
    if (j == NULL)
        return required ? JWT_EMALFORMED : PD_OK;
    if (json_is_integer(j)) {
        *v = (int64_t)json_integer_value(j);
        return PD_OK;
    }
    if (!json_is_real(j))
        return JWT_EMALFORMED;
    d = json_real_value(j);
    if (!(d >= 0 && d < 1e15))
        return JWT_EMALFORMED;
    *v = (int64_t)d;
    return PD_OK;
}

/* A string claim into buf; "" when absent. Too long or with NUL: bad. */
static int
get_str(json_t *o, const char *key, char *buf, size_t cap)
{
    json_t *j = json_object_get(o, key);
    size_t n;

    buf[0] = '\0';
    if (j == NULL)
        return PD_OK;
    if (!json_is_string(j))
        return JWT_EMALFORMED;
    n = json_string_length(j);
    if (n >= cap || memchr(json_string_value(j), '\0', n) != NULL)
        return JWT_EMALFORMED;
    memcpy(buf, json_string_value(j), n + 1);
    return PD_OK;
}

static int
read_claims(json_t *p, struct jwt_claims *c)
{
    int rc = get_str(p, "sub", c->sub, sizeof(c->sub));
    size_t n = strlen(c->sub);

    if (rc != PD_OK || n == 0 || n > 20 ||
        strspn(c->sub, "0123456789") != n)
        return JWT_EMALFORMED;
    if (get_str(p, "dest", c->dest, sizeof(c->dest)) != PD_OK ||
        get_str(p, "jti", c->jti, sizeof(c->jti)) != PD_OK ||
        get_str(p, "sid", c->sid, sizeof(c->sid)) != PD_OK ||
        get_int(p, "exp", true, &c->exp) != PD_OK ||
        get_int(p, "nbf", false, &c->nbf) != PD_OK ||
        get_int(p, "iat", false, &c->iat) != PD_OK)
        return JWT_EMALFORMED;
    return PD_OK;
}

/* aud is the API key, or (per RFC 7519) an array holding it. */
static bool
audience_ok(json_t *aud, const char *api_key)
{
    size_t i;
    json_t *v;

    if (api_key == NULL || api_key[0] == '\0')
        return false;
    if (json_is_string(aud))
        return strcmp(json_string_value(aud), api_key) == 0;
    json_array_foreach(aud, i, v)
        if (json_is_string(v) && strcmp(json_string_value(v), api_key) == 0)
            return true;
    return false;
}

/*
 * dest is "https://" shop; iss, when present, names the same shop's admin:
 * "https://SHOP/admin" as Shopify issues it, or "SHOP/admin" as the test
 * helpers of Shopify's own library write it.
 */
static bool
destination_ok(json_t *p, const char *dest, const char *shop)
{
    json_t *iss = json_object_get(p, "iss");
    size_t n = shop != NULL ? strlen(shop) : 0;
    size_t dlen = strlen(dest);
    const char *v;

    if (n == 0 || dlen != 8 + n || strncmp(dest, "https://", 8) != 0 ||
        strncasecmp(dest + 8, shop, n) != 0)
        return false;
    if (iss == NULL)
        return true;
    if (!json_is_string(iss))
        return false;
    v = json_string_value(iss);
    if (strncmp(v, "https://", 8) == 0)
        v += 8;
    return strlen(v) == n + 6 && strncasecmp(v, shop, n) == 0 &&
           strcmp(v + n, "/admin") == 0;
}

static int
check_claims(json_t *p, const char *api_key, const char *shop,
             int64_t now_s, struct jwt_claims *c)
{
    int rc = read_claims(p, c);

    if (rc != PD_OK)
        return rc;
    if (c->exp < now_s - JWT_LEEWAY_S)
        return JWT_EEXPIRED;
    if (c->nbf > now_s + JWT_LEEWAY_S)
        return JWT_ENOTYET;
    if (!audience_ok(json_object_get(p, "aud"), api_key))
        return JWT_EAUD;
    if (!destination_ok(p, c->dest, shop))
        return JWT_EDEST;
    return PD_OK;
}

int
jwt_verify_shopify(const char *token, const char *const *secrets,
                   int nsecrets, const char *api_key, const char *shop,
                   int64_t now_s, struct jwt_claims *out)
{
    const char *dot1, *dot2, *end;
    struct jwt_claims claims;
    json_t *payload = NULL;
    size_t len;
    int rc;

    if (token == NULL)
        return JWT_EMALFORMED;
    len = strnlen(token, JWT_MAX_LEN + 1);
    dot1 = memchr(token, '.', len);
    if (len > JWT_MAX_LEN || dot1 == NULL)
        return JWT_EMALFORMED;
    rc = check_header(token, (size_t)(dot1 - token));
    if (rc != PD_OK)
        return rc;
    end = token + len;
    dot2 = memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1));
    if (dot2 == NULL || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)))
        return JWT_EMALFORMED;
    rc = check_signature(token, (size_t)(dot2 - token), dot2 + 1,
                         (size_t)(end - dot2 - 1), secrets, nsecrets);
    if (rc == PD_OK)
        rc = decode_part(dot1 + 1, (size_t)(dot2 - dot1 - 1), &payload);
    if (rc == PD_OK) {
        memset(&claims, 0, sizeof(claims));
        rc = check_claims(payload, api_key, shop, now_s, &claims);
    }
    json_decref(payload);
    if (rc == PD_OK && out != NULL)
        *out = claims;
    return rc;
}

const char *
jwt_reason(int code)
{
    switch (code) {
    case JWT_OK: return "ok";
    case JWT_EMALFORMED: return "malformed token";
    case JWT_EALG: return "algorithm not allowed";
    case JWT_EBADSIG: return "bad signature";
    case JWT_EAUD: return "wrong audience";
    case JWT_EDEST: return "wrong destination";
    case JWT_EEXPIRED: return "expired";
    case JWT_ENOTYET: return "not yet valid";
    }
    return pd_err_str(code);
}
