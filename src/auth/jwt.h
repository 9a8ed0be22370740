/*
 * jwt.h — Shopify admin session tokens (App Bridge ID tokens): HS256 JWTs
 * signed with the app secret. Verifies algorithm, signature, audience,
 * destination and validity times, and hands back the claims.
 */
#ifndef PD_JWT_H
#define PD_JWT_H

#include <stdint.h>

#define JWT_MAX_LEN 4096 /* longest token read */
#define JWT_LEEWAY_S 10  /* clock tolerance on exp and nbf */

/* Why jwt_verify_shopify refused; jwt_reason names them. */
enum jwt_result {
    JWT_OK = 0,
    JWT_EMALFORMED = -301, /* not three base64url JSON parts, bad claims */
    JWT_EALG = -302,       /* header alg is anything but "HS256" */
    JWT_EBADSIG = -303,    /* no secret gives this signature */
    JWT_EAUD = -304,       /* aud is not the API key (or no API key) */
    JWT_EDEST = -305,      /* dest is not https://shop; iss not dest/admin */
    JWT_EEXPIRED = -306,   /* exp + 10 s < now */
    JWT_ENOTYET = -307,    /* nbf - 10 s > now */
};

struct jwt_claims {
    char sub[24];   /* the staff (admin user) id: 1..20 digits */
    char dest[256]; /* "https://{shop}" */
    int64_t exp;
    int64_t nbf; /* 0 when absent */
    int64_t iat; /* 0 when absent */
    char jti[128]; /* "" when absent */
    char sid[256]; /* "" when absent */
};

/*
 * Verifies a session token (the text after "Bearer "). The header's alg is
 * checked before anything else; the signature is tried with each
 * non-empty secret in turn; then exp/nbf (10 s leeway), aud == api_key,
 * dest == "https://" shop and, when present, iss == dest "/admin". sub
 * must be a decimal string. 0 and the claims in *out (may be NULL), a
 * negative jwt_result, or PD_ENOMEM/PD_ERR.
 */
int jwt_verify_shopify(const char *token, const char *const *secrets,
                       int nsecrets, const char *api_key, const char *shop,
                       int64_t now_s, struct jwt_claims *out);

/* A short constant reason for a jwt_result or pd_err code. */
const char *jwt_reason(int code);

#endif
