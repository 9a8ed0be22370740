/*
 * proxy_sig.h — Shopify App Proxy request signatures: verifying the
 * `signature` Shopify adds to every proxied query (with the timestamp,
 * repetition and shop checks), and computing one for tests and login-url.
 */
#ifndef PD_PROXY_SIG_H
#define PD_PROXY_SIG_H

#include "common/arena.h"

#include <stdint.h>

#define PROXY_MAX_QUERY 16384 /* longest raw query read, bytes */
#define PROXY_MAX_PARAMS 256  /* most parameters (non-empty pieces) */
#define PROXY_MAX_SKEW_S 90   /* |now - timestamp| allowed, seconds */
#define PROXY_SIG_HEX 64      /* lowercase hex HMAC-SHA256 */

/* Why proxy_verify refused; proxy_reason names them. */
enum proxy_result {
    PROXY_OK = 0,
    PROXY_ENOSIG = -101,     /* no (or an empty) signature parameter */
    PROXY_EBADSIG = -102,    /* not 64 lowercase hex, or no secret matches */
    PROXY_ENOTS = -103,      /* no timestamp parameter */
    PROXY_EBADTS = -104,     /* timestamp is not 1..18 digits */
    PROXY_ESTALE = -105,     /* timestamp more than 90 s from now */
    PROXY_EREPEATED = -106,  /* shop, timestamp, signature,
                                logged_in_customer_id or path_prefix twice */
    PROXY_ESHOP = -107,      /* shop missing or not the configured one */
    PROXY_EMALFORMED = -108, /* bad % escape, too long, too many params */
};

/* What a verified proxied request says. Strings are NUL-free, decoded. */
struct proxy_request {
    const char *shop;
    const char *logged_in_customer_id; /* "" when nobody is logged in */
    const char *path_prefix;           /* "" when absent */
    int64_t timestamp;                 /* Unix seconds */
};

/*
 * Verifies a raw (still URL-encoded) query string as Shopify's App Proxy
 * signs it: every parameter except `signature`, decoded, repeated values
 * joined with ',', "key=value" strings sorted bytewise and concatenated,
 * HMAC-SHA256 with each non-empty secret in turn (current, then previous
 * during a rotation), compared in constant time with the lowercase hex
 * signature. Then the timestamp must be within 90 s of now_s and shop must
 * equal the configured shop (ASCII case-insensitive). Scratch memory and
 * the strings in *out come from the arena a (freed with it).
 * 0, a negative proxy_result, or PD_ENOMEM/PD_ERR.
 */
int proxy_verify(const char *raw_query, const char *const *secrets,
                 int nsecrets, const char *shop, int64_t now_s, arena *a,
                 struct proxy_request *out);

/*
 * The signature of raw_query under secret (any signature in the query is
 * ignored), as 64 lowercase hex chars and a NUL. No timestamp, shop or
 * repetition checks. 0, PD_EINVAL (malformed query, empty secret),
 * PD_ENOMEM, PD_ERR.
 */
int proxy_sign(const char *raw_query, const char *secret,
               char out_hex[PROXY_SIG_HEX + 1]);

/* A short constant reason for a proxy_result or pd_err code. */
const char *proxy_reason(int code);

#endif
