/*
 * s3_http.h — signed requests to one bucket of an S3-compatible API
 * (path-style URLs, AWS Signature Version 4 by libcurl), with a pool of
 * reusable connections, timeouts, retries with backoff for requests that
 * may be repeated, and the store's own error text in every failure.
 * Safe to use from several threads at once.
 */
#ifndef PD_S3_HTTP_H
#define PD_S3_HTTP_H

#include "common/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define S3_ENDPOINT_MAX 512
#define S3_BUCKET_MAX 64  /* bucket names are 3 to 63 bytes */
#define S3_REGION_MAX 64
#define S3_SECRET_MAX 256
#define S3_ETAG_MAX 128
#define S3_ERROR_MAX 400
/* The hex SHA-256 of no bytes, the payload hash of a request without. */
#define S3_EMPTY_SHA256 \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct s3_config {
    char endpoint[S3_ENDPOINT_MAX]; /* "https://host[:port]", no '/' after */
    char bucket[S3_BUCKET_MAX];
    char region[S3_REGION_MAX];
    char access_key[S3_SECRET_MAX];
    char secret_key[S3_SECRET_MAX];
    int attempts;            /* tries of a request that may be repeated */
    long backoff_ms;         /* first pause between tries; doubles */
    long connect_timeout_ms;
    long low_speed_time_s;   /* slower than S3_LOW_SPEED for this long */
};
/* Bytes per second under which a transfer counts as stalled. */
#define S3_LOW_SPEED 1024

typedef struct s3_client s3_client;

/* A new client for cfg (copied). PD_ENOMEM or PD_OK. */
int s3_client_new(const struct s3_config *cfg, s3_client **out);
void s3_client_free(s3_client *c);
const struct s3_config *s3_client_config(const s3_client *c);

/* Bytes to send: length bytes at offset of fd, or of data when fd < 0. */
struct s3_body {
    int fd;
    int64_t offset;
    int64_t length;
    const char *data;
    char sha256[65]; /* lowercase hex hash of those bytes */
};

/* When a failed request may be sent again. */
enum s3_retry {
    S3_RETRY_NEVER,     /* e.g. creating a multipart upload */
    S3_RETRY_ALWAYS,    /* the same request has the same effect */
};

struct s3_request {
    const char *method;     /* "GET", "HEAD", "PUT", "POST", "DELETE" */
    const char *what;       /* what it does, for messages: "put" */
    const char *key;        /* the object, or NULL for the bucket */
    const char *query;      /* canonical query (sorted, encoded) or NULL */
    const char *headers[4]; /* extra "Name: value" lines, NULL-ended */
    const struct s3_body *body; /* NULL: none */
    enum s3_retry retry;
    int attempts;           /* most tries; 0: the client's setting */
    long timeout_ms;        /* the whole request; 0: no limit */
};

/* What came back. Free with s3_reply_free. */
struct s3_reply {
    long status;            /* HTTP status; 0 when no answer came */
    int64_t length;         /* Content-Length, or -1 */
    int64_t total;          /* the size in Content-Range, or -1 */
    int64_t mtime_ms;       /* Last-Modified, or 0 */
    char etag[S3_ETAG_MAX]; /* as sent, quotes included */
    pd_buf body;            /* the body (a bounded amount) */
    char error[S3_ERROR_MAX]; /* "HTTP 403 Code: message", or the
                               * network failure; "" on success */
};

void s3_reply_init(struct s3_reply *r);
void s3_reply_free(struct s3_reply *r);

/*
 * Sends rq, retrying as rq->retry and the failure allow, and fills rp.
 * A 2xx answer whose body is an S3 <Error> document is a failure. On
 * failure rp->error says why and the error is logged (a 404 is not).
 * Returns PD_OK or the pd_err for the failure (s3_status_err).
 */
int s3_call(s3_client *c, const struct s3_request *rq, struct s3_reply *rp);

/*
 * The pd_err for an answer: 404 PD_ENOTFOUND, 416 PD_EINVAL, 409 and 412
 * PD_ECONFLICT, no answer, 401, 403, 429 and 5xx PD_EUNAVAIL, any other
 * failure PD_ERR.
 */
int s3_status_err(long status);

/*
 * Streams an object's bytes [offset, offset + length) (length -1: to the
 * end). The answer's headers are in rp when this returns, whatever it
 * returns; the caller frees rp. A transfer that breaks part-way is taken
 * up again where it stopped, if the object is still the same one.
 */
typedef struct s3_stream s3_stream;
int s3_stream_open(s3_client *c, const char *key, int64_t offset,
                   int64_t length, s3_stream **out, struct s3_reply *rp);
/* >0 bytes read, 0 at the end, <0 a pd_err (logged). */
ssize_t s3_stream_read(s3_stream *st, void *buf, size_t len);
void s3_stream_close(s3_stream *st);

/*
 * Appends s to b encoded as a URI component the way SigV4 wants it:
 * every byte but A-Z a-z 0-9 - _ . ~ as %XX (uppercase hex); '/' too
 * unless keep_slash.
 */
void s3_uri_encode(pd_buf *b, const char *s, bool keep_slash);

#endif
