/*
 * pii.h — customer data at rest: AES-256-GCM under PRINTDESK_DATA_KEY with
 * a fresh nonce per value and the key's id stored beside each value (so
 * keys can rotate), and a keyed blind index so e-mail addresses can be
 * found without being stored in the clear.
 */
#ifndef PD_PII_H
#define PD_PII_H

#include "common/util.h"

#include <stddef.h>
#include <stdint.h>

typedef struct pii_keys pii_keys;

#define PII_INDEX_LEN 32 /* bytes of a blind index */
#define PII_VERSION 1    /* the first byte of a blob */
/* A blob is the plain text and this much: version, key id, nonce, tag. */
#define PII_BLOB_OVERHEAD (1 + 4 + 12 + 16)
#define PII_PLAIN_MAX (64u << 20) /* bytes one blob may hold */

/*
 * Loads the current key and, during a rotation, the previous one (each 64
 * hex digits; previous may be NULL or ""). Key ids are derived from the
 * keys. PD_EINVAL for a malformed key, or for two different keys with one
 * id (odds 1 in 2^31: pick another new key). Free with pii_keys_free.
 */
int pii_keys_load(const char *current_hex, const char *previous_hex,
                  pii_keys **out);
void pii_keys_free(pii_keys *k);
/*
 * The id of the current key (what new values are sealed under): from 1 to
 * 2^31 - 1, so it fits orders.pii_key_id on both databases.
 */
uint32_t pii_current_key_id(const pii_keys *k);

/*
 * Seals plain text into a self-describing blob appended to out:
 * version, key id, nonce, ciphertext, tag. 0, PD_ETOOBIG over
 * PII_PLAIN_MAX, PD_ENOMEM or PD_ERR.
 */
int pii_seal(const pii_keys *k, const char *plain, size_t len, pd_buf *out);
/*
 * Opens a blob sealed under the current or the previous key; the plain
 * text (NUL-terminated) is appended to out. PD_EINVAL for a damaged or
 * foreign blob, PD_ENOTFOUND when its key is not loaded, PD_ENOMEM.
 */
int pii_open(const pii_keys *k, const void *blob, size_t len, pd_buf *out);
/* The key id a blob was sealed under (0 when it is not a blob). */
uint32_t pii_blob_key_id(const void *blob, size_t len);

/*
 * The blind index of an e-mail address (trimmed of ASCII white space,
 * ASCII lower-cased), keyed by a key derived from the current data key.
 * 0, or PD_ERR (out is then zeroed; OpenSSL failed, e.g. out of memory).
 */
int pii_email_index(const pii_keys *k, const char *email,
                    unsigned char out[PII_INDEX_LEN]);
/*
 * The same under the previous key (for rotation); 0, PD_ENOTFOUND when
 * no previous key is loaded, or PD_ERR.
 */
int pii_email_index_previous(const pii_keys *k, const char *email,
                             unsigned char out[PII_INDEX_LEN]);

#endif
