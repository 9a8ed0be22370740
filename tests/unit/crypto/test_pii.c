/*
 * test_pii.c — customer data at rest (src/crypto/pii.c): sealing and
 * opening, the blob layout, tampering, keys that rotate, the e-mail blind
 * index and malformed keys. The rotation command is in test_rotate.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "crypto_tests.h"

#include "common/err.h"
#include "common/util.h"
#include "crypto/pii.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdlib.h>
#include <string.h>

const char key_a[] =
    "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";
const char key_b[] =
    "f0e1d2c3b4a5968778695a4b3c2d1e0f00112233445566778899aabbccddeeff";
const char key_c[] =
    "5555555555555555555555555555555555555555555555555555555555555555";

pii_keys *
keys_or_fail(const char *cur, const char *prev)
{
    pii_keys *k = NULL;

    assert_int_equal(pii_keys_load(cur, prev, &k), PD_OK);
    assert_non_null(k);
    return k;
}

void
seal_or_fail(const pii_keys *k, const char *text, size_t len, pd_buf *out)
{
    buf_reset(out);
    assert_int_equal(pii_seal(k, text, len, out), PD_OK);
    assert_false(out->failed);
}

/* Seals text, opens it again, and checks the bytes came back. */
static void
round_trip(const pii_keys *k, const char *text, size_t len)
{
    pd_buf blob, plain;

    buf_init(&blob);
    buf_init(&plain);
    seal_or_fail(k, text, len, &blob);
    assert_int_equal(blob.len, len + PII_BLOB_OVERHEAD);
    assert_int_equal(pii_open(k, blob.data, blob.len, &plain), PD_OK);
    assert_int_equal(plain.len, len);
    if (len > 0)
        assert_memory_equal(plain.data, text, len);
    assert_string_equal(buf_cstr(&plain), len > 0 ? plain.data : "");
    buf_free(&blob);
    buf_free(&plain);
}

static void
test_round_trip(void **state)
{
    static const char utf8[] = "Zoë Ångström, 東京都 🐾 «Bärchen»";
    pii_keys *k = keys_or_fail(key_a, NULL);
    char *big = malloc(10240);

    (void)state;
    assert_non_null(big);
    assert_int_equal(pd_random_bytes(big, 10240), PD_OK);
    round_trip(k, "", 0);
    round_trip(k, utf8, strlen(utf8));
    round_trip(k, big, 10240); /* any bytes, NUL included */
    free(big);
    pii_keys_free(k);
}

/* The layout is the documented one: raw OpenSSL opens it. */
static void
test_blob_layout(void **state)
{
    static const char text[] = "alice@example.com";
    unsigned char key[32], plain[sizeof(text)], mac[32];
    unsigned int maclen = 0;
    pii_keys *k = keys_or_fail(key_a, NULL);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    const unsigned char *b;
    size_t n = strlen(text);
    int outl = 0;
    pd_buf blob;

    (void)state;
    for (int i = 0; i < 32; i++)
        key[i] = (unsigned char)i; /* key_a */
    buf_init(&blob);
    seal_or_fail(k, text, n, &blob);
    b = (const unsigned char *)blob.data;
    assert_int_equal(b[0], 1);
    /* Key id: HMAC-SHA256(key, "printdesk key id"), 31 bits, big endian. */
    HMAC(EVP_sha256(), key, 32, (const unsigned char *)"printdesk key id",
         16, mac, &maclen);
    assert_int_equal(pii_blob_key_id(b, blob.len),
                     ((uint32_t)mac[0] << 24 | (uint32_t)mac[1] << 16 |
                      (uint32_t)mac[2] << 8 | mac[3]) & 0x7fffffffu);
    mac[0] &= 0x7f;
    assert_memory_equal(b + 1, mac, 4);
    assert_int_equal(EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, key,
                                        b + 5), 1);
    assert_int_equal(EVP_DecryptUpdate(ctx, NULL, &outl, b, 5), 1);
    assert_int_equal(EVP_DecryptUpdate(ctx, plain, &outl, b + 17, (int)n),
                     1);
    assert_int_equal(EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, 16,
                                         (void *)(b + 17 + n)), 1);
    assert_int_equal(EVP_DecryptFinal_ex(ctx, plain + outl, &outl), 1);
    assert_memory_equal(plain, text, n);
    EVP_CIPHER_CTX_free(ctx);
    buf_free(&blob);
    pii_keys_free(k);
}

static void
test_every_byte_flipped(void **state)
{
    pii_keys *k = keys_or_fail(key_a, key_b);
    pd_buf blob, plain;

    (void)state;
    buf_init(&blob);
    buf_init(&plain);
    seal_or_fail(k, "12 Baker Street, London", 23, &blob);
    for (size_t i = 0; i < blob.len; i++) {
        for (int bit = 0; bit < 8; bit += 7) {
            blob.data[i] ^= (char)(1 << bit);
            assert_true(pii_open(k, blob.data, blob.len, &plain) < 0);
            assert_int_equal(plain.len, 0);
            blob.data[i] ^= (char)(1 << bit);
        }
    }
    /* Cut short, or too short to be a blob. */
    assert_int_equal(pii_open(k, blob.data, blob.len - 1, &plain),
                     PD_EINVAL);
    assert_int_equal(pii_open(k, blob.data, PII_BLOB_OVERHEAD - 1, &plain),
                     PD_EINVAL);
    assert_int_equal(pii_open(k, NULL, 0, &plain), PD_EINVAL);
    assert_int_equal(plain.len, 0);
    /* Untouched, it still opens. */
    assert_int_equal(pii_open(k, blob.data, blob.len, &plain), PD_OK);
    assert_string_equal(buf_cstr(&plain), "12 Baker Street, London");
    buf_free(&blob);
    buf_free(&plain);
    pii_keys_free(k);
}

static void
test_key_ids(void **state)
{
    pii_keys *a = keys_or_fail(key_a, NULL), *b = keys_or_fail(key_b, NULL);
    pii_keys *a_upper = keys_or_fail(
        "000102030405060708090A0B0C0D0E0F101112131415161718191A1B1C1D1E1F",
        NULL);
    static const char json[] = "{\"id\":1,\"email\":\"a@b.c\"}";
    pd_buf blob;

    (void)state;
    buf_init(&blob);
    assert_int_not_equal(pii_current_key_id(a), 0);
    assert_true(pii_current_key_id(a) <= 0x7fffffffu);
    assert_int_not_equal(pii_current_key_id(a), pii_current_key_id(b));
    assert_int_equal(pii_current_key_id(a), pii_current_key_id(a_upper));
    seal_or_fail(a, "x", 1, &blob);
    assert_int_equal(pii_blob_key_id(blob.data, blob.len),
                     pii_current_key_id(a));
    seal_or_fail(b, "x", 1, &blob);
    assert_int_equal(pii_blob_key_id(blob.data, blob.len),
                     pii_current_key_id(b));
    /* Not blobs: plain JSON (a webhook body), short input, nothing. */
    assert_int_equal(pii_blob_key_id(json, strlen(json)), 0);
    assert_int_equal(pii_blob_key_id(blob.data, PII_BLOB_OVERHEAD - 1), 0);
    assert_int_equal(pii_blob_key_id(NULL, 0), 0);
    buf_free(&blob);
    pii_keys_free(a);
    pii_keys_free(b);
    pii_keys_free(a_upper);
}

static void
test_previous_key(void **state)
{
    pii_keys *a = keys_or_fail(key_a, NULL);
    pii_keys *b_after_a = keys_or_fail(key_b, key_a);
    pii_keys *b = keys_or_fail(key_b, NULL);
    pd_buf blob, plain;

    (void)state;
    buf_init(&blob);
    buf_init(&plain);
    seal_or_fail(a, "+44 20 7946 0958", 16, &blob);
    assert_int_equal(pii_open(b_after_a, blob.data, blob.len, &plain),
                     PD_OK);
    assert_string_equal(buf_cstr(&plain), "+44 20 7946 0958");
    buf_reset(&plain);
    assert_int_equal(pii_open(b, blob.data, blob.len, &plain),
                     PD_ENOTFOUND);
    assert_int_equal(plain.len, 0);
    /* New values go under the new key, which both B-loads open. */
    assert_int_equal(pii_current_key_id(b_after_a), pii_current_key_id(b));
    seal_or_fail(b_after_a, "new", 3, &blob);
    assert_int_equal(pii_open(b, blob.data, blob.len, &plain), PD_OK);
    assert_int_equal(pii_open(a, blob.data, blob.len, &plain),
                     PD_ENOTFOUND);
    buf_free(&blob);
    buf_free(&plain);
    pii_keys_free(a);
    pii_keys_free(b_after_a);
    pii_keys_free(b);
}

static void
test_fresh_nonce(void **state)
{
    pii_keys *k = keys_or_fail(key_a, NULL);
    pd_buf one, two;

    (void)state;
    buf_init(&one);
    buf_init(&two);
    seal_or_fail(k, "Jane Doe", 8, &one);
    seal_or_fail(k, "Jane Doe", 8, &two);
    assert_int_equal(one.len, two.len);
    assert_memory_not_equal(one.data + 5, two.data + 5, 12); /* nonce */
    assert_memory_not_equal(one.data + 17, two.data + 17, 8);
    buf_free(&one);
    buf_free(&two);
    pii_keys_free(k);
}

static void
test_blind_index(void **state)
{
    pii_keys *a = keys_or_fail(key_a, NULL), *a2 = keys_or_fail(key_a, NULL);
    pii_keys *b = keys_or_fail(key_b, key_a);
    unsigned char x[PII_INDEX_LEN], y[PII_INDEX_LEN];

    (void)state;
    assert_int_equal(pii_email_index(a, "alice@example.com", x), PD_OK);
    assert_int_equal(pii_email_index(a, " \tAlice@Example.COM\r\n ", y),
                     PD_OK);
    assert_memory_equal(x, y, PII_INDEX_LEN);
    assert_int_equal(pii_email_index(a2, "ALICE@EXAMPLE.COM", y), PD_OK);
    assert_memory_equal(x, y, PII_INDEX_LEN); /* stable across loads */
    assert_int_equal(pii_email_index(a, "alice@example.org", y), PD_OK);
    assert_memory_not_equal(x, y, PII_INDEX_LEN);
    assert_int_equal(pii_email_index(a, "al ice@example.com", y), PD_OK);
    assert_memory_not_equal(x, y, PII_INDEX_LEN); /* inner space counts */
    /* Only ASCII is folded. */
    assert_int_equal(pii_email_index(a, "\xc3\x89mile@example.com", x),
                     PD_OK);
    assert_int_equal(pii_email_index(a, "\xc3\xa9mile@example.com", y),
                     PD_OK);
    assert_memory_not_equal(x, y, PII_INDEX_LEN);
    /* Another key, another index; the previous key's is A's. */
    assert_int_equal(pii_email_index(a, "alice@example.com", x), PD_OK);
    assert_int_equal(pii_email_index(b, "alice@example.com", y), PD_OK);
    assert_memory_not_equal(x, y, PII_INDEX_LEN);
    assert_int_equal(pii_email_index_previous(b, "Alice@example.com ", y),
                     PD_OK);
    assert_memory_equal(x, y, PII_INDEX_LEN);
    assert_int_equal(pii_email_index_previous(a, "alice@example.com", y),
                     PD_ENOTFOUND);
    pii_keys_free(a);
    pii_keys_free(a2);
    pii_keys_free(b);
}

static void
test_malformed_keys(void **state)
{
    static const char *const bad[] = {
        "",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f0",
        "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1g",
        " 00102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
        "0x0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",
    };
    pii_keys *k = NULL;

    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(pii_keys_load(bad[i], NULL, &k), PD_EINVAL);
        assert_null(k);
        assert_int_equal(pii_keys_load(key_a, bad[i][0] ? bad[i] : "z", &k),
                         PD_EINVAL);
        assert_null(k);
    }
    assert_int_equal(pii_keys_load(NULL, NULL, &k), PD_EINVAL);
    assert_null(k);
    /* An empty previous key means none. */
    assert_int_equal(pii_keys_load(key_a, "", &k), PD_OK);
    pii_keys_free(k);
}

/* Two different keys whose ids collide (found by search) are refused. */
static void
test_colliding_key_ids(void **state)
{
    static const char one[] =
        "855e7ed4c1053c455b46ef20870844fd5c8bdbaea96f7c424515b570f72b527f";
    static const char two[] =
        "93516f207d6504723b4fdd272c67a8419c1231a0574e118f9c8b4a69c37eb2df";
    pii_keys *a = keys_or_fail(one, NULL), *b = keys_or_fail(two, NULL);
    pii_keys *k = NULL;

    (void)state;
    assert_int_equal(pii_current_key_id(a), 0x41fdf5b9);
    assert_int_equal(pii_current_key_id(b), 0x41fdf5b9);
    assert_int_equal(pii_keys_load(two, one, &k), PD_EINVAL);
    assert_null(k);
    pii_keys_free(keys_or_fail(one, one)); /* the same key twice is fine */
    pii_keys_free(a);
    pii_keys_free(b);
}

int
run_pii_tests(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_blob_layout),
        cmocka_unit_test(test_every_byte_flipped),
        cmocka_unit_test(test_key_ids),
        cmocka_unit_test(test_previous_key),
        cmocka_unit_test(test_fresh_nonce),
        cmocka_unit_test(test_blind_index),
        cmocka_unit_test(test_malformed_keys),
        cmocka_unit_test(test_colliding_key_ids),
    };

    return cmocka_run_group_tests_name("pii", tests, NULL, NULL);
}
