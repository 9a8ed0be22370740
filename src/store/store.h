/*
 * store.h — the blob store: one interface over a local folder and
 * S3-compatible object stores (GCS too). Keys are relative paths of safe
 * characters; the first segment is the retention tier. Readers never see
 * half-written objects.
 */
#ifndef PD_STORE_H
#define PD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct store store;
typedef struct store_writer store_writer;
typedef struct store_reader store_reader;

struct store_stat {
    int64_t size;     /* bytes */
    int64_t mtime_ms; /* last modification, ms since the epoch */
};

/* Retention tiers, in the order an object moves through them. */
enum store_tier {
    TIER_TEMPORARY,
    TIER_ORDER_PENDING,
    TIER_ORDER_COMPLETED,
    TIER_ARCHIVED,
};
#define STORE_TIER_COUNT 4
/* "temporary", "order_pending", ... ; also the key prefix (without '/'). */
const char *store_tier_name(enum store_tier tier);
/* The tier named by a key's first segment, or -1. */
int store_tier_of_key(const char *key);

#define STORE_KEY_MAX 512
/*
 * True when key is acceptable: 1..STORE_KEY_MAX bytes of [A-Za-z0-9._-]
 * and '/', no leading or trailing '/', no empty segment, and no segment
 * that starts with '.' (so no "." or ".." and no hidden files).
 */
bool store_key_valid(const char *key);

/*
 * Opens a store for a URL: "file:DIR" (DIR is created if missing),
 * "s3://BUCKET?endpoint=URL&region=REGION" or "gs://BUCKET" (keys from
 * AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY; docs/storage.md has the
 * options). On failure returns a negative pd_err and a one-line reason in
 * err. A store may be used from several threads at once.
 */
int store_open(const char *url, store **out, char *err, size_t errlen);
void store_close(store *s);
bool store_url_valid(const char *url);
/*
 * Checks the store answers: the folder exists and is writable, or the
 * bucket answers a listing with our keys.
 */
int store_ping(store *s, char *err, size_t errlen);

/*
 * Streams a new object in. Nothing is visible under key until commit
 * succeeds; commit replaces an existing object atomically. Commit and
 * abort free the writer, whatever they return. A failed write makes
 * commit fail too. The local folder cannot hold both "a" and "a/b"
 * (such a put fails with PD_ECONFLICT) nor a segment over 255 bytes
 * (PD_EINVAL).
 */
int store_put_begin(store *s, const char *key, store_writer **out);
int store_put_write(store_writer *w, const void *data, size_t len);
int store_put_commit(store_writer *w);
void store_put_abort(store_writer *w);
/* Whole object from memory (small objects). */
int store_put_bytes(store *s, const char *key, const void *data,
                    size_t len);

/*
 * Opens an object for reading from offset; length -1 means to the end.
 * PD_ENOTFOUND when absent, PD_EINVAL when the range is outside it.
 */
int store_get(store *s, const char *key, int64_t offset, int64_t length,
              store_reader **out);
/* Reads up to len bytes: >0 bytes read, 0 at the end, <0 a pd_err. */
ssize_t store_read(store_reader *r, void *buf, size_t len);
/*
 * The open file behind a reader, for zero-copy sending: the part of the
 * range not read yet is length bytes at offset in fd. PD_EINVAL when the
 * backend has no file (S3). The reader keeps owning fd (closed by
 * store_reader_close): dup() it before handing it to code that closes
 * it, such as MHD_create_response_from_fd_at_offset64.
 */
int store_reader_fd(store_reader *r, int *fd, int64_t *offset,
                    int64_t *length);
void store_reader_close(store_reader *r);

int store_stat(store *s, const char *key, struct store_stat *st);
/* Copies within the store (server-side where the backend can). */
int store_copy(store *s, const char *src_key, const char *dst_key);
/* Deletes an object; deleting a missing one is not an error. */
int store_delete(store *s, const char *key);

/*
 * Calls fn for each object whose key starts with prefix, in key order.
 * fn returns 0 to go on, anything else to stop (returned by store_list).
 */
typedef int (*store_list_fn)(void *ctx, const char *key,
                             const struct store_stat *st);
int store_list(store *s, const char *prefix, store_list_fn fn, void *ctx);

#endif
