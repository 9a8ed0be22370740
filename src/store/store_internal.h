/*
 * store_internal.h — the contract between store.c and its backends. A
 * backend embeds struct store / store_writer / store_reader as the first
 * member of its own structs and fills a store_ops table. store.c checks
 * keys and arguments before it calls any of these.
 */
#ifndef PD_STORE_INTERNAL_H
#define PD_STORE_INTERNAL_H

#include "store/store.h"

struct store_ops {
    void (*close)(store *s);
    int (*ping)(store *s, char *err, size_t errlen);

    int (*put_begin)(store *s, const char *key, store_writer **out);
    int (*put_write)(store_writer *w, const void *data, size_t len);
    int (*put_commit)(store_writer *w); /* frees w */
    void (*put_abort)(store_writer *w); /* frees w */

    int (*get)(store *s, const char *key, int64_t offset, int64_t length,
               store_reader **out);
    ssize_t (*read)(store_reader *r, void *buf, size_t len);
    /* NULL when the backend has no file descriptor to offer. */
    int (*reader_fd)(store_reader *r, int *fd, int64_t *offset,
                     int64_t *length);
    void (*reader_close)(store_reader *r);

    int (*stat)(store *s, const char *key, struct store_stat *st);
    int (*copy)(store *s, const char *src_key, const char *dst_key);
    int (*del)(store *s, const char *key);
    /* prefix is "" or checked by store_prefix_valid. */
    int (*list)(store *s, const char *prefix, store_list_fn fn, void *ctx);
};

struct store {
    const struct store_ops *ops;
};

struct store_writer {
    const struct store_ops *ops;
};

struct store_reader {
    const struct store_ops *ops;
};

/*
 * One URL scheme. prefix is what the URL starts with ("file:", "s3://",
 * "gs://"); the backend gets the rest of the URL.
 */
struct store_backend {
    const char *prefix;
    bool (*url_valid)(const char *rest);
    int (*open)(const char *rest, store **out, char *err, size_t errlen);
};

extern const struct store_backend store_file_backend;
/* S3-compatible APIs, and Google Cloud Storage's XML API (store_s3.c). */
extern const struct store_backend store_s3_backend;
extern const struct store_backend store_gs_backend;

/*
 * True for a list prefix: "" or the start of a valid key (it may end in
 * '/' or in the middle of a segment).
 */
bool store_prefix_valid(const char *prefix);

#endif
