/*
 * pii.c — customer data at rest: AES-256-GCM blobs (version, key id,
 * nonce, ciphertext, tag; version and key id authenticated) under the
 * current or previous data key, and the keyed blind index of e-mails.
 * Loaded keys are never written again, so any thread may share them.
 */
#include "crypto/pii.h"

#include "common/err.h"
#include "common/util.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define KEY_LEN 32
#define HEAD_LEN 5 /* version and key id: the authenticated data */
#define NONCE_LEN 12
#define TAG_LEN 16

struct pii_key {
    unsigned char key[KEY_LEN];
    unsigned char index_key[KEY_LEN]; /* keys the blind index */
    uint32_t id;
    bool loaded;
};

struct pii_keys {
    struct pii_key cur, prev;
};

/* Exactly 2 * KEY_LEN hex digits into key. */
static int
parse_key(const char *hex, unsigned char key[KEY_LEN])
{
    if (strnlen(hex, 2 * KEY_LEN + 1) != 2 * KEY_LEN)
        return PD_EINVAL;
    for (size_t i = 0; i < KEY_LEN; i++) {
        int hi = pd_hex_value(hex[2 * i]), lo = pd_hex_value(hex[2 * i + 1]);

        if (hi < 0 || lo < 0)
            return PD_EINVAL;
        key[i] = (unsigned char)(hi << 4 | lo);
    }
    return PD_OK;
}

static uint32_t
get_be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
           (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static void
put_be32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/*
 * Derives the key's id and index key. The id keeps 31 bits so that it
 * fits a signed 32-bit column (PostgreSQL's INTEGER).
 */
static int
load_key(const char *hex, struct pii_key *k)
{
    static const char id_label[] = "printdesk key id";
    static const char index_label[] = "printdesk email index";
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;

    if (parse_key(hex, k->key) != PD_OK)
        return PD_EINVAL;
    if (HMAC(EVP_sha256(), k->key, KEY_LEN, (const void *)id_label,
             sizeof(id_label) - 1, mac, &n) == NULL || n < 4)
        return PD_ERR;
    k->id = get_be32(mac) & 0x7fffffffu;
    if (k->id == 0)
        k->id = 1;
    if (HMAC(EVP_sha256(), k->key, KEY_LEN, (const void *)index_label,
             sizeof(index_label) - 1, k->index_key, &n) == NULL ||
        n != KEY_LEN)
        return PD_ERR;
    OPENSSL_cleanse(mac, sizeof(mac));
    k->loaded = true;
    return PD_OK;
}

int
pii_keys_load(const char *current_hex, const char *previous_hex,
              pii_keys **out)
{
    pii_keys *k = NULL;
    int rc;

    *out = NULL;
    if (current_hex == NULL)
        return PD_EINVAL;
    k = calloc(1, sizeof(*k));
    if (k == NULL)
        return PD_ENOMEM;
    rc = load_key(current_hex, &k->cur);
    if (rc == PD_OK && previous_hex != NULL && previous_hex[0] != '\0')
        rc = load_key(previous_hex, &k->prev);
    /* Two keys with one id would make a blob's key ambiguous: refuse. */
    if (rc == PD_OK && k->prev.loaded && k->prev.id == k->cur.id &&
        CRYPTO_memcmp(k->prev.key, k->cur.key, KEY_LEN) != 0)
        rc = PD_EINVAL;
    if (rc != PD_OK) {
        pii_keys_free(k);
        return rc;
    }
    *out = k;
    return PD_OK;
}

void
pii_keys_free(pii_keys *k)
{
    if (k == NULL)
        return;
    OPENSSL_cleanse(k, sizeof(*k));
    free(k);
}

uint32_t
pii_current_key_id(const pii_keys *k)
{
    return k->cur.id;
}

/* head: version, key id and nonce (HEAD_LEN + NONCE_LEN bytes). */
static int
gcm_encrypt(const struct pii_key *k, const unsigned char *head,
            const void *plain, size_t len, unsigned char *ct,
            unsigned char *tag)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, rc = PD_ERR;

    if (ctx == NULL)
        return PD_ENOMEM;
    if (EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k->key,
                           head + HEAD_LEN) != 1 ||
        EVP_EncryptUpdate(ctx, NULL, &n, head, HEAD_LEN) != 1)
        goto done;
    if (len > 0 && EVP_EncryptUpdate(ctx, ct, &n, plain, (int)len) != 1)
        goto done;
    if (EVP_EncryptFinal_ex(ctx, ct + len, &n) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, TAG_LEN, tag) != 1)
        goto done;
    rc = PD_OK;
done:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

/* blob: a whole blob of len bytes; plain receives len - overhead bytes. */
static int
gcm_decrypt(const struct pii_key *k, const unsigned char *blob, size_t len,
            unsigned char *plain)
{
    const unsigned char *ct = blob + HEAD_LEN + NONCE_LEN;
    size_t ctlen = len - PII_BLOB_OVERHEAD;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int n = 0, rc = PD_EINVAL;

    if (ctx == NULL)
        return PD_ENOMEM;
    if (EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, k->key,
                           blob + HEAD_LEN) != 1 ||
        EVP_DecryptUpdate(ctx, NULL, &n, blob, HEAD_LEN) != 1)
        goto done;
    if (ctlen > 0 && EVP_DecryptUpdate(ctx, plain, &n, ct, (int)ctlen) != 1)
        goto done;
    if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, TAG_LEN,
                            (void *)(ct + ctlen)) != 1 ||
        EVP_DecryptFinal_ex(ctx, plain + ctlen, &n) != 1)
        goto done;
    rc = PD_OK;
done:
    EVP_CIPHER_CTX_free(ctx);
    return rc;
}

int
pii_seal(const pii_keys *k, const char *plain, size_t len, pd_buf *out)
{
    size_t n = PII_BLOB_OVERHEAD + len;
    unsigned char *blob = NULL;
    int rc;

    if (len > PII_PLAIN_MAX)
        return PD_ETOOBIG;
    if (plain == NULL && len > 0)
        return PD_EINVAL;
    blob = malloc(n);
    if (blob == NULL)
        return PD_ENOMEM;
    blob[0] = PII_VERSION;
    put_be32(blob + 1, k->cur.id);
    rc = pd_random_bytes(blob + HEAD_LEN, NONCE_LEN);
    if (rc == PD_OK)
        rc = gcm_encrypt(&k->cur, blob, plain, len,
                         blob + HEAD_LEN + NONCE_LEN, blob + n - TAG_LEN);
    if (rc == PD_OK) {
        buf_append(out, blob, n);
        if (out->failed)
            rc = PD_ENOMEM;
    }
    free(blob);
    return rc;
}

uint32_t
pii_blob_key_id(const void *blob, size_t len)
{
    const unsigned char *b = blob;

    if (b == NULL || len < PII_BLOB_OVERHEAD || b[0] != PII_VERSION)
        return 0;
    return get_be32(b + 1);
}

/* Tries each loaded key that carries the blob's id. */
static int
open_with_keys(const pii_keys *k, const unsigned char *b, size_t len,
               unsigned char *plain)
{
    const struct pii_key *slots[] = {&k->cur, &k->prev};
    uint32_t id = get_be32(b + 1);
    int rc = PD_ENOTFOUND;

    for (size_t i = 0; i < 2; i++) {
        if (!slots[i]->loaded || slots[i]->id != id)
            continue;
        rc = gcm_decrypt(slots[i], b, len, plain);
        if (rc == PD_OK)
            break;
    }
    return rc;
}

int
pii_open(const pii_keys *k, const void *blob, size_t len, pd_buf *out)
{
    const unsigned char *b = blob;
    unsigned char *plain = NULL;
    size_t n;
    int rc;

    if (pii_blob_key_id(blob, len) == 0)
        return PD_EINVAL;
    n = len - PII_BLOB_OVERHEAD;
    if (n > PII_PLAIN_MAX)
        return PD_EINVAL;
    plain = malloc(n + 1);
    if (plain == NULL)
        return PD_ENOMEM;
    rc = open_with_keys(k, b, len, plain);
    if (rc == PD_OK) {
        buf_append(out, plain, n);
        if (out->failed)
            rc = PD_ENOMEM;
    }
    OPENSSL_cleanse(plain, n + 1);
    free(plain);
    return rc;
}

static bool
is_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' ||
           c == '\r';
}

/* HMAC-SHA256 under index_key of the e-mail, trimmed and lower-cased. */
static int
email_mac(const unsigned char index_key[KEY_LEN], const char *email,
          unsigned char out[PII_INDEX_LEN])
{
    char digest[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
        OSSL_PARAM_construct_end(),
    };
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *ctx = mac != NULL ? EVP_MAC_CTX_new(mac) : NULL;
    const char *p = email, *end = email + strlen(email);
    unsigned char chunk[64];
    size_t outlen = 0;
    int rc = PD_ERR;

    while (p < end && is_space((unsigned char)*p))
        p++;
    while (end > p && is_space((unsigned char)end[-1]))
        end--;
    if (ctx == NULL || EVP_MAC_init(ctx, index_key, KEY_LEN, params) != 1)
        goto done;
    while (p < end) {
        size_t n = (size_t)(end - p) < sizeof(chunk) ? (size_t)(end - p)
                                                     : sizeof(chunk);

        for (size_t i = 0; i < n; i++)
            chunk[i] = (unsigned char)(p[i] >= 'A' && p[i] <= 'Z'
                                           ? p[i] - 'A' + 'a' : p[i]);
        if (EVP_MAC_update(ctx, chunk, n) != 1)
            goto done;
        p += n;
    }
    if (EVP_MAC_final(ctx, out, &outlen, PII_INDEX_LEN) == 1 &&
        outlen == PII_INDEX_LEN)
        rc = PD_OK;
done:
    OPENSSL_cleanse(chunk, sizeof(chunk));
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(mac);
    if (rc != PD_OK)
        memset(out, 0, PII_INDEX_LEN);
    return rc;
}

int
pii_email_index(const pii_keys *k, const char *email,
                unsigned char out[PII_INDEX_LEN])
{
    if (email == NULL) {
        memset(out, 0, PII_INDEX_LEN);
        return PD_EINVAL;
    }
    return email_mac(k->cur.index_key, email, out);
}

int
pii_email_index_previous(const pii_keys *k, const char *email,
                         unsigned char out[PII_INDEX_LEN])
{
    if (!k->prev.loaded) {
        memset(out, 0, PII_INDEX_LEN);
        return PD_ENOTFOUND;
    }
    if (email == NULL) {
        memset(out, 0, PII_INDEX_LEN);
        return PD_EINVAL;
    }
    return email_mac(k->prev.index_key, email, out);
}
