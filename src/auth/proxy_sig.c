/*
 * proxy_sig.c — the App Proxy signature: parsing the raw query the way
 * Rack's parse_query does, building the sorted "key=value" message, and
 * the checks around it (timestamp window, repeated fields, shop).
 */
#include "auth/proxy_sig.h"

#include "auth/token.h"
#include "common/err.h"
#include "common/util.h"

#include <openssl/crypto.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* One decoded parameter; a bare key has an empty value. */
struct param {
    const char *key, *val;
    size_t klen, vlen;
    unsigned idx; /* position in the query, for a stable order */
};

/* A parsed query: parameters sorted by key, equal keys in query order. */
struct query {
    struct param *p;
    size_t n;
    size_t raw_len;
};

/* A key=value string of the message. */
struct entry {
    const char *s;
    size_t len;
};

/* ---- parsing ------------------------------------------------------------ */

/* Form-decodes n bytes of src into dst ('+' is a space); -1 on a bad %. */
static long
form_decode(const char *src, size_t n, char *dst)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        if (src[i] == '+') {
            dst[o++] = ' ';
        } else if (src[i] != '%') {
            dst[o++] = src[i];
        } else {
            int hi, lo;

            if (n - i < 3)
                return -1;
            hi = pd_hex_value(src[i + 1]);
            lo = pd_hex_value(src[i + 2]);
            if (hi < 0 || lo < 0)
                return -1;
            dst[o++] = (char)(hi << 4 | lo);
            i += 2;
        }
    }
    return (long)o;
}

static bool
same_key(const struct param *a, const struct param *b)
{
    return a->klen == b->klen && memcmp(a->key, b->key, a->klen) == 0;
}

static int
param_cmp(const void *x, const void *y)
{
    const struct param *a = x, *b = y;
    size_t n = a->klen < b->klen ? a->klen : b->klen;
    int c = memcmp(a->key, b->key, n);

    if (c != 0)
        return c;
    if (a->klen != b->klen)
        return a->klen < b->klen ? -1 : 1;
    return a->idx < b->idx ? -1 : (a->idx > b->idx);
}

/* Decodes one piece "key[=value]" into *p; dec is the decoding cursor. */
static int
parse_piece(const char *s, size_t n, char **dec, struct param *p)
{
    const char *eq = memchr(s, '=', n);
    size_t kraw = eq != NULL ? (size_t)(eq - s) : n;
    long len;

    len = form_decode(s, kraw, *dec);
    if (len < 0)
        return PROXY_EMALFORMED;
    p->key = *dec;
    p->klen = (size_t)len;
    *dec += len;
    p->val = *dec;
    p->vlen = 0;
    if (eq != NULL) {
        len = form_decode(eq + 1, n - kraw - 1, *dec);
        if (len < 0)
            return PROXY_EMALFORMED;
        p->vlen = (size_t)len;
        *dec += len;
    }
    return PD_OK;
}

/* Splits raw on '&', skipping empty pieces, and sorts by key. */
static int
parse_query(const char *raw, arena *a, struct query *q)
{
    size_t len = strnlen(raw, PROXY_MAX_QUERY + 1), slots;
    const char *s = raw, *end;
    char *dec;

    if (len > PROXY_MAX_QUERY)
        return PROXY_EMALFORMED;
    end = raw + len;
    q->raw_len = len;
    q->n = 0;
    /* n non-empty pieces need at least 2n - 1 bytes. */
    slots = len / 2 + 1 < PROXY_MAX_PARAMS ? len / 2 + 1 : PROXY_MAX_PARAMS;
    q->p = arena_alloc(a, sizeof(*q->p) * slots);
    dec = arena_alloc(a, len + 1);
    if (q->p == NULL || dec == NULL)
        return PD_ENOMEM;
    while (s < end) {
        const char *amp = memchr(s, '&', (size_t)(end - s));
        size_t n = amp != NULL ? (size_t)(amp - s) : (size_t)(end - s);

        if (n > 0) {
            if (q->n == slots)
                return PROXY_EMALFORMED;
            if (parse_piece(s, n, &dec, &q->p[q->n]) != PD_OK)
                return PROXY_EMALFORMED;
            q->p[q->n].idx = (unsigned)q->n;
            q->n++;
        }
        s += n + 1;
    }
    qsort(q->p, q->n, sizeof(*q->p), param_cmp);
    return PD_OK;
}

/* ---- the message ------------------------------------------------------- */

static bool
key_is(const struct param *p, const char *name)
{
    size_t n = strlen(name);

    return p->klen == n && memcmp(p->key, name, n) == 0;
}

/* How many parameters have key name; *first gets the first of them. */
static size_t
find_key(const struct query *q, const char *name, const struct param **first)
{
    size_t count = 0;

    *first = NULL;
    for (size_t i = 0; i < q->n; i++) {
        if (!key_is(&q->p[i], name))
            continue;
        if (count++ == 0)
            *first = &q->p[i];
    }
    return count;
}

static int
entry_cmp(const void *x, const void *y)
{
    const struct entry *a = x, *b = y;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->s, b->s, n);

    if (c != 0)
        return c;
    return a->len < b->len ? -1 : (a->len > b->len);
}

/* Writes one "key=v1,v2" entry for the run of equal keys at p[i..j). */
static size_t
write_entry(const struct param *p, size_t i, size_t j, char *out)
{
    size_t o = 0;

    memcpy(out, p[i].key, p[i].klen);
    o += p[i].klen;
    out[o++] = '=';
    for (size_t k = i; k < j; k++) {
        if (k > i)
            out[o++] = ',';
        memcpy(out + o, p[k].val, p[k].vlen);
        o += p[k].vlen;
    }
    return o;
}

/*
 * The signed message: the "key=values" entries of every key but
 * signature, sorted bytewise and concatenated. Allocated in a.
 */
static int
build_message(const struct query *q, arena *a, char **msg, size_t *msglen)
{
    /* Decoded text is no longer than the raw query; add '=' and ','. */
    size_t cap = q->raw_len + 2 * q->n + 1, ne = 0, o = 0;
    struct entry *e = arena_alloc(a, sizeof(*e) * (q->n + 1));
    char *text = arena_alloc(a, cap), *out = arena_alloc(a, cap);

    if (e == NULL || text == NULL || out == NULL)
        return PD_ENOMEM;
    for (size_t i = 0, j; i < q->n; i = j) {
        j = i + 1;
        while (j < q->n && same_key(&q->p[i], &q->p[j]))
            j++;
        if (key_is(&q->p[i], "signature"))
            continue;
        e[ne].s = text + o;
        e[ne].len = write_entry(q->p, i, j, text + o);
        o += e[ne++].len;
    }
    qsort(e, ne, sizeof(*e), entry_cmp);
    o = 0;
    for (size_t i = 0; i < ne; i++) {
        memcpy(out + o, e[i].s, e[i].len);
        o += e[i].len;
    }
    *msg = out;
    *msglen = o;
    return PD_OK;
}

/* ---- verification --------------------------------------------------- */

static bool
lower_hex64(const struct param *sig)
{
    if (sig->vlen != PROXY_SIG_HEX)
        return false;
    for (size_t i = 0; i < PROXY_SIG_HEX; i++) {
        char c = sig->val[i];

        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return true;
}

/* Whether the message's MAC under any non-empty secret is sig. */
static int
match_signature(const char *msg, size_t len, const char *const *secrets,
                int nsecrets, const char *sig)
{
    unsigned char mac[TOKEN_MAC_LEN];
    char hex[PROXY_SIG_HEX + 1];

    for (int i = 0; i < nsecrets; i++) {
        if (secrets[i] == NULL || secrets[i][0] == '\0')
            continue;
        if (token_hmac_sha256(secrets[i], strlen(secrets[i]), msg, len,
                              mac) != PD_OK)
            return PD_ERR;
        pd_hex(hex, mac, sizeof(mac));
        if (CRYPTO_memcmp(hex, sig, PROXY_SIG_HEX) == 0)
            return PD_OK;
    }
    return PROXY_EBADSIG;
}

/* A field Shopify sets must appear at most once. */
static int
check_repeats(const struct query *q)
{
    static const char *const once[] = {"signature", "shop", "timestamp",
                                       "logged_in_customer_id",
                                       "path_prefix"};
    const struct param *first;

    for (size_t i = 0; i < sizeof(once) / sizeof(once[0]); i++)
        if (find_key(q, once[i], &first) > 1)
            return PROXY_EREPEATED;
    return PD_OK;
}

static int
check_timestamp(const struct query *q, int64_t now_s, int64_t *ts)
{
    const struct param *p;
    int64_t v = 0;

    if (find_key(q, "timestamp", &p) == 0)
        return PROXY_ENOTS;
    if (p->vlen == 0 || p->vlen > 18)
        return PROXY_EBADTS;
    for (size_t i = 0; i < p->vlen; i++) {
        if (p->val[i] < '0' || p->val[i] > '9')
            return PROXY_EBADTS;
        v = v * 10 + (p->val[i] - '0');
    }
    if (v > now_s + PROXY_MAX_SKEW_S || v < now_s - PROXY_MAX_SKEW_S)
        return PROXY_ESTALE;
    *ts = v;
    return PD_OK;
}

static int
check_shop(const struct query *q, const char *shop)
{
    const struct param *p;

    if (shop == NULL || shop[0] == '\0' || find_key(q, "shop", &p) == 0)
        return PROXY_ESHOP;
    if (p->vlen != strlen(shop) || strncasecmp(p->val, shop, p->vlen) != 0)
        return PROXY_ESHOP;
    return PD_OK;
}

/* An arena copy of key's value into *out, "" when absent. */
static int
value_copy(const struct query *q, const char *key, arena *a,
           const char **out)
{
    const struct param *p;

    *out = "";
    if (find_key(q, key, &p) == 0)
        return PD_OK;
    if (memchr(p->val, '\0', p->vlen) != NULL)
        return PROXY_EMALFORMED;
    *out = arena_strndup(a, p->val, p->vlen);
    return *out != NULL ? PD_OK : PD_ENOMEM;
}

static int
fill_request(const struct query *q, int64_t ts, arena *a,
             struct proxy_request *out)
{
    int rc = value_copy(q, "shop", a, &out->shop);

    if (rc == PD_OK)
        rc = value_copy(q, "logged_in_customer_id", a,
                        &out->logged_in_customer_id);
    if (rc == PD_OK)
        rc = value_copy(q, "path_prefix", a, &out->path_prefix);
    out->timestamp = ts;
    return rc;
}

int
proxy_verify(const char *raw_query, const char *const *secrets,
             int nsecrets, const char *shop, int64_t now_s, arena *a,
             struct proxy_request *out)
{
    const struct param *sig;
    struct query q;
    char *msg;
    size_t msglen;
    int64_t ts = 0;
    int rc;

    rc = parse_query(raw_query != NULL ? raw_query : "", a, &q);
    if (rc == PD_OK)
        rc = check_repeats(&q);
    if (rc != PD_OK)
        return rc;
    if (find_key(&q, "signature", &sig) == 0 || sig->vlen == 0)
        return PROXY_ENOSIG;
    if (!lower_hex64(sig))
        return PROXY_EBADSIG;
    rc = build_message(&q, a, &msg, &msglen);
    if (rc == PD_OK)
        rc = match_signature(msg, msglen, secrets, nsecrets, sig->val);
    if (rc == PD_OK)
        rc = check_timestamp(&q, now_s, &ts);
    if (rc == PD_OK)
        rc = check_shop(&q, shop);
    if (rc == PD_OK && out != NULL)
        rc = fill_request(&q, ts, a, out);
    return rc;
}

int
proxy_sign(const char *raw_query, const char *secret,
           char out_hex[PROXY_SIG_HEX + 1])
{
    unsigned char mac[TOKEN_MAC_LEN];
    arena *a = NULL;
    struct query q;
    char *msg;
    size_t msglen;
    int rc;

    if (secret == NULL || secret[0] == '\0')
        return PD_EINVAL;
    a = arena_new();
    if (a == NULL)
        return PD_ENOMEM;
    rc = parse_query(raw_query != NULL ? raw_query : "", a, &q);
    if (rc == PROXY_EMALFORMED)
        rc = PD_EINVAL;
    if (rc == PD_OK)
        rc = build_message(&q, a, &msg, &msglen);
    if (rc == PD_OK)
        rc = token_hmac_sha256(secret, strlen(secret), msg, msglen, mac);
    if (rc == PD_OK)
        pd_hex(out_hex, mac, sizeof(mac));
    arena_free(a);
    return rc;
}

const char *
proxy_reason(int code)
{
    switch (code) {
    case PROXY_OK: return "ok";
    case PROXY_ENOSIG: return "missing signature";
    case PROXY_EBADSIG: return "bad signature";
    case PROXY_ENOTS: return "missing timestamp";
    case PROXY_EBADTS: return "bad timestamp";
    case PROXY_ESTALE: return "stale timestamp";
    case PROXY_EREPEATED: return "repeated parameter";
    case PROXY_ESHOP: return "wrong shop";
    case PROXY_EMALFORMED: return "malformed query";
    }
    return pd_err_str(code);
}
