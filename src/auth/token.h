/*
 * token.h — printdesk's own signed tokens: expiring, purpose-bound tokens
 * (direct-session hand-off, session cookie) and CSRF tokens bound to a
 * staff identity and an hour window. Also owns the HMAC-SHA256 and
 * base64url primitives that proxy_sig, jwt and webhook_sig share.
 */
#ifndef PD_TOKEN_H
#define PD_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#define TOKEN_MAC_LEN 32      /* HMAC-SHA256 output, bytes */
#define TOKEN_SUBJECT_MAX 80  /* subject: [A-Za-z0-9:_-], 1..80 chars */
#define TOKEN_PURPOSE_MAX 32  /* purpose: [a-z0-9_-], 1..32 chars */
#define TOKEN_MAX_LEN 1024    /* longest token token_verify reads */
#define TOKEN_BUF_LEN 256     /* room for any token_issue output + NUL */
#define CSRF_TOKEN_LEN 43     /* base64url of a MAC, no padding */
#define CSRF_WINDOW_S 3600    /* a CSRF token lives 1-2 windows */

/* Why token_verify or csrf_verify refused; token_reason names them. */
enum token_result {
    TOKEN_OK = 0,
    TOKEN_EMALFORMED = -201, /* not a token of ours, or over the bound */
    TOKEN_EBADSIG = -202,    /* signature does not match any secret */
    TOKEN_EEXPIRED = -203,   /* now_s >= expires */
};

struct token_claims {
    char subject[TOKEN_SUBJECT_MAX + 1]; /* e.g. "customer:42" */
    int64_t expires;                      /* Unix seconds */
    char nonce[33]; /* 32 hex chars: the single-use key */
};

/*
 * Issues "base64url(payload).base64url(mac)" into out (NUL-terminated),
 * payload = "v1|" subject "|" expires_s "|" 16 random bytes in hex, mac =
 * HMAC-SHA256 keyed with HMAC-SHA256(secret, "printdesk/" purpose). The
 * token is valid while now_s < expires_s. 0; PD_EINVAL for an empty
 * secret, a bad subject or purpose, or expires_s < 0; PD_ETOOBIG when
 * outlen is too small (TOKEN_BUF_LEN always fits); PD_EIO, PD_ERR.
 */
int token_issue(const char *secret, const char *purpose, const char *subject,
                int64_t expires_s, char *out, size_t outlen);

/*
 * Checks a token against each non-empty secret in turn (current, then the
 * previous during a rotation) and the purpose, then its expiry. 0 and the
 * claims in *out (may be NULL), or a negative token_result; PD_ERR when
 * the crypto library fails. Single use is the caller's job (the nonce).
 */
int token_verify(const char *const *secrets, int nsecrets,
                 const char *purpose, const char *token, int64_t now_s,
                 struct token_claims *out);

/*
 * A CSRF token for identity (same alphabet as a subject) in the hour
 * window of now_s: base64url(HMAC(key("csrf"), identity "|" window)).
 * Writes CSRF_TOKEN_LEN chars and a NUL into out. 0, PD_EINVAL,
 * PD_ETOOBIG (outlen < CSRF_TOKEN_LEN + 1), PD_ERR.
 */
int csrf_issue(const char *secret, const char *identity, int64_t now_s,
               char *out, size_t outlen);

/*
 * Accepts a token made for this identity in the current or the previous
 * window, with any of the secrets. 0, TOKEN_EMALFORMED (wrong length or
 * NULL), TOKEN_EBADSIG (anything else), PD_ERR.
 */
int csrf_verify(const char *const *secrets, int nsecrets,
                const char *identity, const char *token, int64_t now_s);

/* A short constant reason for a token_result or pd_err code. */
const char *token_reason(int code);

/* ---- primitives shared by the auth signers ---------------------------- */

/* HMAC-SHA256 of msg under key into out. 0 or PD_ERR (library failure). */
int token_hmac_sha256(const void *key, size_t keylen, const void *msg,
                      size_t msglen, unsigned char out[TOKEN_MAC_LEN]);

/* The length base64url without padding gives n bytes: ceil(4n/3). */
size_t token_b64url_len(size_t n);

/*
 * Encodes n bytes as base64url without padding, plus a NUL. Returns the
 * length written, or 0 when outlen < token_b64url_len(n) + 1.
 */
size_t token_b64url_encode(char *out, size_t outlen, const void *in,
                           size_t n);

/*
 * Decodes n chars of unpadded base64url into out. Strict: only the
 * base64url alphabet, no '=', unused trailing bits zero. 0 with *outn set;
 * PD_EINVAL for bad input; PD_ETOOBIG when out is too small.
 */
int token_b64url_decode(const char *in, size_t n, unsigned char *out,
                        size_t outlen, size_t *outn);

#endif
