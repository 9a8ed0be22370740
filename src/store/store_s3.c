/*
 * store_s3.c — the S3-compatible backend ("s3://BUCKET?endpoint=URL&
 * region=REGION", and "gs://BUCKET" for Google Cloud Storage's XML API).
 * A put gathers its bytes in an anonymous spool file, one part at a
 * time: an object up to the multipart threshold goes up in one PUT at
 * commit; a bigger one as a multipart upload whose parts go up as the
 * spool fills, completed at commit and aborted on any failure, so
 * nothing is visible before commit and nothing is left after an abort.
 */
#include "store/store_internal.h"

#include "common/err.h"
#include "common/util.h"
#include "obs/log.h"
#include "store/s3_http.h"
#include "store/s3_xml.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MIB (1024 * 1024)
#define THRESHOLD_DEFAULT (16 * (int64_t)MIB)
#define THRESHOLD_MIN (5 * (int64_t)MIB)    /* S3's smallest part */
#define THRESHOLD_MAX (5120 * (int64_t)MIB) /* S3's largest part */
#define MAX_PARTS 10000
#define LIST_PAGE_DEFAULT 1000
#define UPLOAD_ID_MAX 1024
#define TOKEN_MAX 2048
#define ORPHANS_MAX 256
#define PING_TIMEOUT_MS 5000
/* Retries and timeouts (docs/storage.md). */
#define ATTEMPTS 4             /* tries of a request that may be repeated */
#define BACKOFF_MS 200         /* pause before the second; then doubled */
#define CONNECT_TIMEOUT_MS 5000
#define LOW_SPEED_TIME_S 30    /* under S3_LOW_SPEED bytes/s this long */

/* A multipart upload whose abort failed: tried again later. */
struct orphan {
    char key[STORE_KEY_MAX + 1];
    char upload_id[UPLOAD_ID_MAX];
};

struct s3store {
    struct store base;
    s3_client *client;
    int64_t part_size;   /* the multipart threshold and part size */
    int list_page;       /* keys per ListObjectsV2 page */
    /* "x-amz-storage-class: GLACIER_IR" (or x-goog-) for copies into
     * archived/; "" keeps the bucket's default class. */
    char archive_header[64];
    char spool_dir[256];
    pthread_mutex_t lock; /* guards the orphans */
    struct orphan *orphans;
    int n_orphans;
};

struct s3writer {
    struct store_writer base;
    struct s3store *s;
    int fd;                  /* spool of the part being gathered */
    int64_t spooled;         /* bytes in it */
    int64_t total;           /* bytes written in all */
    EVP_MD_CTX *sha;         /* hash of the spooled bytes */
    char upload_id[UPLOAD_ID_MAX]; /* "" until the first part goes up */
    char (*etags)[S3_ETAG_MAX];    /* of the parts sent */
    int parts;
    int err;                 /* first failure; commit returns it */
    char key[STORE_KEY_MAX + 1];
};

struct s3reader {
    struct store_reader base;
    s3_stream *st; /* NULL: an empty range */
};

static const struct store_ops s3_ops;

/* ---- the URL ---------------------------------------------------------- */

struct s3_url {
    struct s3_config cfg; /* without the keys */
    int64_t threshold;
    int list_page;
    char archive_class[33]; /* "" for none */
    bool has_endpoint, has_region, has_archive_class;
};

/* A storage class name: 1 to 32 of A-Z, 0-9 and '_'. */
static bool
class_valid(const char *v)
{
    size_t n = strlen(v);

    if (n == 0 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((v[i] >= 'A' && v[i] <= 'Z') || (v[i] >= '0' && v[i] <= '9') ||
              v[i] == '_'))
            return false;
    return true;
}

static int
url_error(char *err, size_t errlen, const char *msg, const char *name)
{
    if (errlen > 0)
        snprintf(err, errlen, "storage URL: %s%s", name, msg);
    return PD_EINVAL;
}

/* 3 to 63 of [a-z0-9._-], starting and ending with a letter or digit. */
static bool
bucket_valid(const char *b, size_t n)
{
    if (n < 3 || n >= S3_BUCKET_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = b[i];
        bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');

        if (!alnum && ((i == 0 || i == n - 1) ||
                       (c != '.' && c != '-' && c != '_')))
            return false;
    }
    return true;
}

/* Decodes %XX escapes of n bytes at in into out (NUL-terminated). */
static bool
percent_decode(const char *in, size_t n, char *out, size_t outlen)
{
    size_t o = 0;

    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)in[i];

        if (c == '%') {
            int hi = i + 2 < n ? pd_hex_value(in[i + 1]) : -1;
            int lo = i + 2 < n ? pd_hex_value(in[i + 2]) : -1;

            if (hi < 0 || lo < 0 || (hi | lo) == 0)
                return false;
            c = hi * 16 + lo;
            i += 2;
        }
        if (o + 1 >= outlen)
            return false;
        out[o++] = (char)c;
    }
    out[o] = '\0';
    return true;
}

/* "http(s)://host[:port]" with an optional '/' after; no path. */
static bool
endpoint_valid(char *e)
{
    size_t n = strlen(e);
    const char *host;

    if (n > 0 && e[n - 1] == '/')
        e[--n] = '\0';
    if (strncmp(e, "https://", 8) == 0)
        host = e + 8;
    else if (strncmp(e, "http://", 7) == 0)
        host = e + 7;
    else
        return false;
    if (*host == '\0' || *host == ':')
        return false;
    return strspn(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                        "0123456789.-:[]") == strlen(host);
}

static bool
region_valid(const char *r)
{
    size_t n = strlen(r);

    return n > 0 && n < S3_REGION_MAX &&
           strspn(r, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* One "name=value" of the query. */
static int
url_param(struct s3_url *u, const char *p, size_t n, char *err,
          size_t errlen)
{
    const char *eq = memchr(p, '=', n);
    char name[32], value[S3_ENDPOINT_MAX];
    size_t nlen = eq ? (size_t)(eq - p) : n;
    int64_t v;

    if (eq == NULL || nlen >= sizeof(name))
        return url_error(err, errlen, "each parameter must be name=value",
                         "");
    memcpy(name, p, nlen);
    name[nlen] = '\0';
    if (!percent_decode(eq + 1, n - nlen - 1, value, sizeof(value)))
        return url_error(err, errlen, " has a bad %-escape", name);
    if (strcmp(name, "endpoint") == 0 && !u->has_endpoint &&
        endpoint_valid(value)) {
        snprintf(u->cfg.endpoint, sizeof(u->cfg.endpoint), "%s", value);
        u->has_endpoint = true;
    } else if (strcmp(name, "region") == 0 && !u->has_region &&
               region_valid(value)) {
        memcpy(u->cfg.region, value, strlen(value) + 1); /* fits: valid */
        u->has_region = true;
    } else if (strcmp(name, "multipart_threshold") == 0 &&
               pd_parse_i64(value, THRESHOLD_MIN, THRESHOLD_MAX, &v) ==
                   PD_OK) {
        u->threshold = v;
    } else if (strcmp(name, "archive_class") == 0 &&
               !u->has_archive_class &&
               (value[0] == '\0' || class_valid(value))) {
        memcpy(u->archive_class, value, strlen(value) + 1); /* fits */
        u->has_archive_class = true;
    } else if (strcmp(name, "list_page") == 0 &&
               pd_parse_i64(value, 1, 1000, &v) == PD_OK) {
        u->list_page = (int)v;
    } else {
        return url_error(err, errlen, " is unknown, repeated or out of "
                         "range (see docs/storage.md)", name);
    }
    return PD_OK;
}

/* Fills u from "BUCKET[?QUERY]" with the defaults of the scheme. */
static int
parse_url(bool gcs, const char *rest, struct s3_url *u, char *err,
          size_t errlen)
{
    size_t blen = strcspn(rest, "?");
    const char *q = rest + blen;
    int rc = PD_OK;

    memset(u, 0, sizeof(*u));
    u->threshold = THRESHOLD_DEFAULT;
    u->list_page = LIST_PAGE_DEFAULT;
    if (!bucket_valid(rest, blen))
        return url_error(err, errlen, "the bucket name must be 3 to 63 of "
                         "a-z, 0-9, '.', '-' and '_'", "");
    memcpy(u->cfg.bucket, rest, blen);
    while (rc == PD_OK && *q != '\0') {
        size_t n = strcspn(++q, "&");

        rc = url_param(u, q, n, err, errlen);
        q += n;
    }
    if (rc != PD_OK)
        return rc;
    if (!u->has_region)
        snprintf(u->cfg.region, sizeof(u->cfg.region), "%s",
                 gcs ? "auto" : "us-east-1");
    /* GCS has a colder class everywhere; other stores name their own. */
    if (!u->has_archive_class && gcs)
        snprintf(u->archive_class, sizeof(u->archive_class), "ARCHIVE");
    if (!u->has_endpoint && gcs)
        snprintf(u->cfg.endpoint, sizeof(u->cfg.endpoint),
                 "https://storage.googleapis.com");
    else if (!u->has_endpoint)
        snprintf(u->cfg.endpoint, sizeof(u->cfg.endpoint),
                 "https://s3.%s.amazonaws.com", u->cfg.region);
    return PD_OK;
}

static bool
s3_url_valid(const char *rest)
{
    struct s3_url u;

    return parse_url(false, rest, &u, NULL, 0) == PD_OK;
}

static bool
gs_url_valid(const char *rest)
{
    struct s3_url u;

    return parse_url(true, rest, &u, NULL, 0) == PD_OK;
}

/* ---- orphaned multipart uploads --------------------------------------- */

/* Aborts a multipart upload; true when it is gone. */
static bool
abort_upload(struct s3store *s, const char *key, const char *upload_id,
             int attempts)
{
    struct s3_reply rp;
    pd_buf q;
    int rc;

    buf_init(&q);
    buf_puts(&q, "uploadId=");
    s3_uri_encode(&q, upload_id, false);
    s3_reply_init(&rp);
    rc = q.failed ? PD_ENOMEM
                  : s3_call(s->client,
                            &(struct s3_request){.method = "DELETE",
                                                 .what = "abort upload of",
                                                 .key = key,
                                                 .query = buf_cstr(&q),
                                                 .retry = S3_RETRY_ALWAYS,
                                                 .attempts = attempts},
                            &rp);
    s3_reply_free(&rp);
    buf_free(&q);
    return rc == PD_OK || rc == PD_ENOTFOUND;
}

static void
remember_orphan(struct s3store *s, const char *key, const char *upload_id)
{
    struct orphan *o = NULL;

    pthread_mutex_lock(&s->lock);
    if (s->n_orphans < ORPHANS_MAX) {
        o = &s->orphans[s->n_orphans++];
        snprintf(o->key, sizeof(o->key), "%s", key);
        snprintf(o->upload_id, sizeof(o->upload_id), "%s", upload_id);
    }
    pthread_mutex_unlock(&s->lock);
    if (o != NULL)
        log_warn("store: s3 multipart upload of %s stays until it can be "
                 "aborted; trying again with the next put", key);
    else
        log_error("store: s3 multipart upload %s of %s is left behind (too "
                  "many aborts failed); the bucket's lifecycle rule must "
                  "remove it", upload_id, key);
}

/* Aborts an upload now, or later when the store does not answer. */
static void
abort_or_remember(struct s3store *s, const char *key, const char *upload_id)
{
    if (!abort_upload(s, key, upload_id, 0))
        remember_orphan(s, key, upload_id);
}

/* Tries the aborts that failed before, once each. */
static void
retry_orphans(struct s3store *s)
{
    struct orphan *list;
    int n;

    pthread_mutex_lock(&s->lock);
    n = s->n_orphans;
    list = n > 0 ? malloc((size_t)n * sizeof(*list)) : NULL;
    if (list != NULL) {
        memcpy(list, s->orphans, (size_t)n * sizeof(*list));
        s->n_orphans = 0;
    }
    pthread_mutex_unlock(&s->lock);
    if (list == NULL)
        return;
    for (int i = 0; i < n; i++) {
        if (abort_upload(s, list[i].key, list[i].upload_id, 1))
            log_notice("store: s3 aborted the multipart upload of %s left "
                       "by an earlier failure", list[i].key);
        else
            remember_orphan(s, list[i].key, list[i].upload_id);
    }
    free(list);
}

/* ---- writing ---------------------------------------------------------- */

/* An anonymous file in dir (gone when closed). -1 with errno. */
static int
open_spool(const char *dir)
{
    char path[300];
    int fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR &&
                    errno != EINVAL))
        return fd;
    snprintf(path, sizeof(path), "%s/printdesk-s3-XXXXXX", dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd >= 0)
        unlink(path);
    return fd;
}

static void
writer_free(struct s3writer *w)
{
    if (w->fd >= 0)
        close(w->fd);
    EVP_MD_CTX_free(w->sha);
    free(w->etags);
    free(w);
}

static int
s3_put_begin(store *st, const char *key, store_writer **out)
{
    struct s3store *s = (struct s3store *)st;
    struct s3writer *w = calloc(1, sizeof(*w));

    retry_orphans(s);
    if (w == NULL)
        return PD_ENOMEM;
    w->base.ops = &s3_ops;
    w->s = s;
    w->fd = open_spool(s->spool_dir);
    w->sha = EVP_MD_CTX_new();
    snprintf(w->key, sizeof(w->key), "%s", key);
    if (w->fd < 0) {
        log_error("store: s3 put %s: no spool file in %s: %s", key,
                  s->spool_dir, strerror(errno));
        writer_free(w);
        return PD_EIO;
    }
    if (w->sha == NULL || EVP_DigestInit_ex(w->sha, EVP_sha256(), NULL) != 1) {
        writer_free(w);
        return PD_ENOMEM;
    }
    *out = &w->base;
    return PD_OK;
}

static int
spool_append(struct s3writer *w, const char *p, size_t n)
{
    if (EVP_DigestUpdate(w->sha, p, n) != 1)
        return PD_ENOMEM;
    while (n > 0) {
        ssize_t k = pwrite(w->fd, p, n, w->spooled);

        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            log_error("store: s3 put %s: spool file: %s", w->key,
                      strerror(errno));
            return PD_EIO;
        }
        p += k;
        n -= (size_t)k;
        w->spooled += k;
        w->total += k;
    }
    return PD_OK;
}

/* The spooled bytes as a request body; restarts the hash. */
static int
spool_body(struct s3writer *w, struct s3_body *b)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;

    if (EVP_DigestFinal_ex(w->sha, md, &len) != 1 || len != 32 ||
        EVP_DigestInit_ex(w->sha, EVP_sha256(), NULL) != 1)
        return PD_ENOMEM;
    *b = (struct s3_body){.fd = w->fd, .offset = 0, .length = w->spooled};
    pd_hex(b->sha256, md, 32);
    return PD_OK;
}

static int
create_upload(struct s3writer *w)
{
    struct s3_reply rp;
    struct s3_xml doc;
    int rc;

    s3_reply_init(&rp);
    rc = s3_call(w->s->client,
                 &(struct s3_request){.method = "POST",
                                      .what = "start multipart upload of",
                                      .key = w->key, .query = "uploads=",
                                      .retry = S3_RETRY_NEVER},
                 &rp);
    doc = (struct s3_xml){buf_cstr(&rp.body), buf_cstr(&rp.body) +
                                                  rp.body.len};
    if (rc == PD_OK &&
        s3_xml_text(&doc, "UploadId", w->upload_id,
                    sizeof(w->upload_id)) <= 0) {
        log_error("store: s3 start multipart upload of %s: no UploadId in "
                  "the answer", w->key);
        rc = PD_EUNAVAIL;
    }
    s3_reply_free(&rp);
    return rc;
}

/* Room in w->etags for one more part. */
static int
etag_room(struct s3writer *w)
{
    void *more;

    if (w->parts == MAX_PARTS) {
        log_error("store: s3 put %s: over %d parts", w->key, MAX_PARTS);
        return PD_ETOOBIG;
    }
    if (w->parts % 64 != 0)
        return PD_OK;
    more = realloc(w->etags, (size_t)(w->parts + 64) * sizeof(*w->etags));
    if (more == NULL)
        return PD_ENOMEM;
    w->etags = more;
    return PD_OK;
}

/* UploadPart of body as part number n; its ETag into etag. */
static int
upload_part(struct s3writer *w, const struct s3_body *body, int n,
            char etag[S3_ETAG_MAX])
{
    struct s3_reply rp;
    char what[64];
    pd_buf q;
    int rc;

    buf_init(&q);
    buf_printf(&q, "partNumber=%d&uploadId=", n);
    s3_uri_encode(&q, w->upload_id, false);
    snprintf(what, sizeof(what), "upload part %d of", n);
    s3_reply_init(&rp);
    rc = q.failed ? PD_ENOMEM
                  : s3_call(w->s->client,
                            &(struct s3_request){.method = "PUT",
                                                 .what = what,
                                                 .key = w->key,
                                                 .query = buf_cstr(&q),
                                                 .body = body,
                                                 .retry = S3_RETRY_ALWAYS},
                            &rp);
    if (rc == PD_OK && rp.etag[0] == '\0') {
        log_error("store: s3 %s %s: no ETag in the answer", what, w->key);
        rc = PD_EUNAVAIL;
    }
    if (rc == PD_OK)
        memcpy(etag, rp.etag, S3_ETAG_MAX);
    s3_reply_free(&rp);
    buf_free(&q);
    return rc;
}

/* Sends the spooled bytes as the next part; the spool starts over. */
static int
send_part(struct s3writer *w)
{
    struct s3_body body;
    int rc = w->upload_id[0] ? PD_OK : create_upload(w);

    if (rc == PD_OK)
        rc = etag_room(w);
    if (rc == PD_OK)
        rc = spool_body(w, &body);
    if (rc == PD_OK)
        rc = upload_part(w, &body, w->parts + 1, w->etags[w->parts]);
    if (rc == PD_OK) {
        w->parts++;
        w->spooled = 0;
    }
    return rc;
}

static int
s3_put_write(store_writer *sw, const void *data, size_t len)
{
    struct s3writer *w = (struct s3writer *)sw;
    const char *p = data;

    while (w->err == PD_OK && len > 0) {
        size_t n;

        if (w->spooled == w->s->part_size &&
            (w->err = send_part(w)) != PD_OK)
            break;
        n = (size_t)(w->s->part_size - w->spooled);
        if (n > len)
            n = len;
        w->err = spool_append(w, p, n);
        p += n;
        len -= n;
    }
    return w->err;
}

/* The whole object (up to the threshold) in one PUT. */
static int
put_whole(struct s3writer *w)
{
    struct s3_body body;
    struct s3_reply rp;
    int rc = spool_body(w, &body);

    if (rc != PD_OK)
        return rc;
    s3_reply_init(&rp);
    rc = s3_call(w->s->client,
                 &(struct s3_request){.method = "PUT", .what = "put",
                                      .key = w->key, .body = &body,
                                      .retry = S3_RETRY_ALWAYS},
                 &rp);
    s3_reply_free(&rp);
    return rc;
}

/* <CompleteMultipartUpload> naming every part and its ETag. */
static void
complete_xml(const struct s3writer *w, pd_buf *b)
{
    buf_puts(b, "<CompleteMultipartUpload>");
    for (int i = 0; i < w->parts; i++) {
        buf_printf(b, "<Part><PartNumber>%d</PartNumber><ETag>", i + 1);
        s3_xml_escape(b, w->etags[i]);
        buf_puts(b, "</ETag></Part>");
    }
    buf_puts(b, "</CompleteMultipartUpload>");
}

static void
sha256_hex(const void *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;

    EVP_Digest(data, len, md, &n, EVP_sha256(), NULL);
    pd_hex(out, md, 32);
}

/*
 * A completion that went through but whose answer was lost is retried
 * and finds no upload: then the object must be there, whole.
 */
static int
completed_already(struct s3writer *w)
{
    struct store_stat st;

    if (store_stat(&w->s->base, w->key, &st) == PD_OK &&
        st.size == w->total) {
        log_notice("store: s3 multipart upload of %s had completed before "
                   "its answer was lost", w->key);
        return PD_OK;
    }
    return PD_EUNAVAIL;
}

static int
complete_upload(struct s3writer *w)
{
    struct s3_body body = {.fd = -1};
    struct s3_reply rp;
    pd_buf xml, q;
    int rc;

    buf_init(&xml);
    buf_init(&q);
    complete_xml(w, &xml);
    buf_puts(&q, "uploadId=");
    s3_uri_encode(&q, w->upload_id, false);
    body.data = buf_cstr(&xml);
    body.length = (int64_t)xml.len;
    sha256_hex(body.data, xml.len, body.sha256);
    s3_reply_init(&rp);
    rc = xml.failed || q.failed
             ? PD_ENOMEM
             : s3_call(w->s->client,
                       &(struct s3_request){.method = "POST",
                                            .what = "complete upload of",
                                            .key = w->key,
                                            .query = buf_cstr(&q),
                                            .body = &body,
                                            .retry = S3_RETRY_ALWAYS},
                       &rp);
    if (rc == PD_ENOTFOUND)
        rc = completed_already(w);
    s3_reply_free(&rp);
    buf_free(&xml);
    buf_free(&q);
    return rc;
}

static int
s3_put_commit(store_writer *sw)
{
    struct s3writer *w = (struct s3writer *)sw;
    int rc = w->err;

    if (rc == PD_OK && w->upload_id[0] == '\0')
        rc = put_whole(w);
    else if (rc == PD_OK && (rc = send_part(w)) == PD_OK)
        rc = complete_upload(w);
    if (rc != PD_OK && w->upload_id[0] != '\0')
        abort_or_remember(w->s, w->key, w->upload_id);
    writer_free(w);
    return rc;
}

static void
s3_put_abort(store_writer *sw)
{
    struct s3writer *w = (struct s3writer *)sw;

    if (w->upload_id[0] != '\0')
        abort_or_remember(w->s, w->key, w->upload_id);
    writer_free(w);
}

/* ---- reading ---------------------------------------------------------- */

static int
new_reader(s3_stream *st, store_reader **out)
{
    struct s3reader *r = calloc(1, sizeof(*r));

    if (r == NULL) {
        s3_stream_close(st);
        return PD_ENOMEM;
    }
    r->base.ops = &s3_ops;
    r->st = st;
    *out = &r->base;
    return PD_OK;
}

static int s3_stat(store *st, const char *key, struct store_stat *out);

/* A range with no bytes: fine when it starts within the object. */
static int
empty_range(store *s, const char *key, int64_t offset, store_reader **out)
{
    struct store_stat st;
    int rc = s3_stat(s, key, &st);

    if (rc != PD_OK)
        return rc;
    if (offset > st.size)
        return PD_EINVAL;
    return new_reader(NULL, out);
}

static int
s3_get(store *s, const char *key, int64_t offset, int64_t length,
       store_reader **out)
{
    struct s3store *ss = (struct s3store *)s;
    struct s3_reply rp;
    s3_stream *st = NULL;
    int64_t total;
    long rp_status;
    int rc;

    if (length == 0)
        return empty_range(s, key, offset, out);
    s3_reply_init(&rp);
    rc = s3_stream_open(ss->client, key, offset, length, &st, &rp);
    total = rp.status == 206 ? rp.total : rp.length;
    rp_status = rp.status;
    s3_reply_free(&rp);
    if (rc == PD_EINVAL && length < 0)
        return empty_range(s, key, offset, out);
    if (rc != PD_OK)
        return rc;
    if ((offset > 0 || length >= 0) && rp_status != 206) {
        log_error("store: s3 get %s: HTTP %ld to a range request", key,
                  rp_status);
        s3_stream_close(st);
        return PD_EIO;
    }
    if (total >= 0 && (offset > total ||
                       (length >= 0 && length > total - offset))) {
        s3_stream_close(st);
        return PD_EINVAL;
    }
    return new_reader(st, out);
}

static ssize_t
s3_read(store_reader *sr, void *buf, size_t len)
{
    struct s3reader *r = (struct s3reader *)sr;

    return r->st ? s3_stream_read(r->st, buf, len) : 0;
}

static void
s3_reader_close(store_reader *sr)
{
    struct s3reader *r = (struct s3reader *)sr;

    s3_stream_close(r->st);
    free(r);
}

/* ---- stat, copy, delete ----------------------------------------------- */

static int
s3_stat(store *s, const char *key, struct store_stat *out)
{
    struct s3_reply rp;
    int rc;

    s3_reply_init(&rp);
    rc = s3_call(((struct s3store *)s)->client,
                 &(struct s3_request){.method = "HEAD", .what = "stat",
                                      .key = key, .retry = S3_RETRY_ALWAYS},
                 &rp);
    if (rc == PD_OK && rp.length < 0) {
        log_error("store: s3 stat %s: no Content-Length", key);
        rc = PD_EUNAVAIL;
    }
    if (rc == PD_OK) {
        out->size = rp.length;
        out->mtime_ms = rp.mtime_ms;
    }
    s3_reply_free(&rp);
    return rc;
}

/* The storage-class header a copy into key carries, or NULL. */
static const char *
archive_header(const struct s3store *ss, const char *key)
{
    return ss->archive_header[0] != '\0' &&
                   store_tier_of_key(key) == TIER_ARCHIVED
               ? ss->archive_header
               : NULL;
}

static int
s3_copy(store *s, const char *src_key, const char *dst_key)
{
    struct s3store *ss = (struct s3store *)s;
    const struct s3_config *cfg = s3_client_config(ss->client);
    struct store_stat st;
    struct s3_reply rp;
    pd_buf src;
    int rc;

    if (strcmp(src_key, dst_key) == 0)
        return s3_stat(s, src_key, &st);
    buf_init(&src);
    buf_puts(&src, "x-amz-copy-source: /");
    s3_uri_encode(&src, cfg->bucket, false);
    buf_puts(&src, "/");
    s3_uri_encode(&src, src_key, true);
    s3_reply_init(&rp);
    rc = src.failed
             ? PD_ENOMEM
             : s3_call(ss->client,
                       &(struct s3_request){.method = "PUT", .what = "copy to",
                                            .key = dst_key,
                                            .headers = {buf_cstr(&src),
                                                        archive_header(
                                                            ss, dst_key)},
                                            .retry = S3_RETRY_ALWAYS},
                       &rp);
    if (rc == PD_ENOTFOUND)
        log_info("store: s3 copy %s to %s: no such object", src_key,
                 dst_key);
    s3_reply_free(&rp);
    buf_free(&src);
    return rc;
}

static int
s3_delete(store *s, const char *key)
{
    struct s3_reply rp;
    int rc;

    s3_reply_init(&rp);
    rc = s3_call(((struct s3store *)s)->client,
                 &(struct s3_request){.method = "DELETE", .what = "delete",
                                      .key = key, .retry = S3_RETRY_ALWAYS},
                 &rp);
    s3_reply_free(&rp);
    return rc == PD_ENOTFOUND ? PD_OK : rc;
}

/* ---- listing ---------------------------------------------------------- */

/* The canonical query of one ListObjectsV2 page (names sorted). */
static void
list_query(const struct s3store *s, const char *prefix, const char *token,
           pd_buf *q)
{
    if (token[0] != '\0') {
        buf_puts(q, "continuation-token=");
        s3_uri_encode(q, token, false);
        buf_puts(q, "&");
    }
    buf_printf(q, "list-type=2&max-keys=%d&prefix=", s->list_page);
    s3_uri_encode(q, prefix, false);
}

/* One <Contents>: its key and stat. False when it is not ours. */
static bool
list_entry(const struct s3_xml *item, char *key, size_t keylen,
           struct store_stat *st)
{
    char size[32], mtime[64];

    if (s3_xml_text(item, "Key", key, keylen) <= 0 || !store_key_valid(key))
        return false;
    if (s3_xml_text(item, "Size", size, sizeof(size)) <= 0 ||
        pd_parse_i64(size, 0, INT64_MAX, &st->size) != PD_OK)
        return false;
    if (s3_xml_text(item, "LastModified", mtime, sizeof(mtime)) <= 0 ||
        !s3_xml_time(mtime, &st->mtime_ms))
        st->mtime_ms = 0;
    return true;
}

/*
 * Calls fn for each object of a page; token becomes the next page's
 * continuation token ("" after the last page). fn's non-zero stops it.
 */
static int
walk_page(const pd_buf *body, store_list_fn fn, void *ctx, char *token,
          size_t tokenlen)
{
    struct s3_xml doc = {buf_cstr((pd_buf *)body),
                         buf_cstr((pd_buf *)body) + body->len};
    struct s3_xml scan = doc, item;
    char key[STORE_KEY_MAX + 1], truncated[8];
    struct store_stat st;
    int rc;

    if (!s3_xml_root_is(&doc, "ListBucketResult")) {
        log_error("store: s3 list: the answer is not a ListBucketResult");
        return PD_EUNAVAIL;
    }
    while (s3_xml_next(&scan, "Contents", &item)) {
        if (!list_entry(&item, key, sizeof(key), &st)) {
            log_debug("store: s3 list: skipped an object that is not ours");
            continue;
        }
        if ((rc = fn(ctx, key, &st)) != 0)
            return rc;
    }
    token[0] = '\0';
    if (s3_xml_text(&doc, "IsTruncated", truncated, sizeof(truncated)) > 0 &&
        strcmp(truncated, "true") == 0 &&
        s3_xml_text(&doc, "NextContinuationToken", token, tokenlen) <= 0) {
        log_error("store: s3 list: a truncated page without a token");
        return PD_EUNAVAIL;
    }
    return PD_OK;
}

static int
s3_list(store *s, const char *prefix, store_list_fn fn, void *ctx)
{
    struct s3store *ss = (struct s3store *)s;
    char *token = calloc(1, TOKEN_MAX);
    struct s3_reply rp;
    pd_buf q;
    int rc = token ? PD_OK : PD_ENOMEM;

    s3_reply_init(&rp);
    buf_init(&q);
    while (rc == PD_OK) {
        buf_reset(&q);
        list_query(ss, prefix, token, &q);
        rc = q.failed ? PD_ENOMEM
                      : s3_call(ss->client,
                                &(struct s3_request){.method = "GET",
                                                     .what = "list",
                                                     .query = buf_cstr(&q),
                                                     .retry =
                                                         S3_RETRY_ALWAYS},
                                &rp);
        if (rc == PD_OK)
            rc = walk_page(&rp.body, fn, ctx, token, TOKEN_MAX);
        if (token == NULL || token[0] == '\0')
            break;
    }
    buf_free(&q);
    s3_reply_free(&rp);
    free(token);
    return rc;
}

/* ---- opening, closing, ping ------------------------------------------- */

static void
s3_close(store *st)
{
    struct s3store *s = (struct s3store *)st;

    retry_orphans(s);
    s3_client_free(s->client);
    pthread_mutex_destroy(&s->lock);
    free(s->orphans);
    free(s);
}

/* The keys from the environment into cfg. */
static int
read_keys(struct s3_config *cfg, char *err, size_t errlen)
{
    const char *id = getenv("AWS_ACCESS_KEY_ID");
    const char *secret = getenv("AWS_SECRET_ACCESS_KEY");

    if (id == NULL || id[0] == '\0' || secret == NULL || secret[0] == '\0') {
        snprintf(err, errlen, "storage bucket %s: set AWS_ACCESS_KEY_ID and "
                 "AWS_SECRET_ACCESS_KEY (for GCS: an HMAC key)",
                 cfg->bucket);
        return PD_EINVAL;
    }
    if (strlen(id) >= sizeof(cfg->access_key) ||
        strlen(secret) >= sizeof(cfg->secret_key) || strchr(id, ':')) {
        snprintf(err, errlen, "storage bucket %s: AWS_ACCESS_KEY_ID or "
                 "AWS_SECRET_ACCESS_KEY is not a key", cfg->bucket);
        return PD_EINVAL;
    }
    snprintf(cfg->access_key, sizeof(cfg->access_key), "%s", id);
    snprintf(cfg->secret_key, sizeof(cfg->secret_key), "%s", secret);
    return PD_OK;
}

static int
open_common(bool gcs, const char *rest, store **out, char *err,
            size_t errlen)
{
    struct s3_url u;
    struct s3store *s;
    const char *tmp = getenv("TMPDIR");
    int rc = parse_url(gcs, rest, &u, err, errlen);

    if (rc == PD_OK)
        rc = read_keys(&u.cfg, err, errlen);
    if (rc != PD_OK)
        return rc;
    u.cfg.attempts = ATTEMPTS;
    u.cfg.backoff_ms = BACKOFF_MS;
    u.cfg.connect_timeout_ms = CONNECT_TIMEOUT_MS;
    u.cfg.low_speed_time_s = LOW_SPEED_TIME_S;
    s = calloc(1, sizeof(*s));
    if (s == NULL || (s->orphans = calloc(ORPHANS_MAX,
                                          sizeof(*s->orphans))) == NULL ||
        s3_client_new(&u.cfg, &s->client) != PD_OK) {
        if (s != NULL)
            free(s->orphans);
        free(s);
        explicit_bzero(u.cfg.secret_key, sizeof(u.cfg.secret_key));
        snprintf(err, errlen, "storage bucket %s: out of memory",
                 u.cfg.bucket);
        return PD_ENOMEM;
    }
    explicit_bzero(u.cfg.secret_key, sizeof(u.cfg.secret_key));
    s->base.ops = &s3_ops;
    s->part_size = u.threshold;
    s->list_page = u.list_page;
    if (u.archive_class[0] != '\0')
        snprintf(s->archive_header, sizeof(s->archive_header),
                 "x-%s-storage-class: %s", gcs ? "goog" : "amz",
                 u.archive_class);
    snprintf(s->spool_dir, sizeof(s->spool_dir), "%s",
             tmp && tmp[0] == '/' ? tmp : "/tmp");
    pthread_mutex_init(&s->lock, NULL);
    log_info("store: bucket %s at %s (region %s), multipart above %lld "
             "bytes", u.cfg.bucket, u.cfg.endpoint, u.cfg.region,
             (long long)u.threshold);
    *out = &s->base;
    return PD_OK;
}

static int
s3_open(const char *rest, store **out, char *err, size_t errlen)
{
    return open_common(false, rest, out, err, errlen);
}

static int
gs_open(const char *rest, store **out, char *err, size_t errlen)
{
    return open_common(true, rest, out, err, errlen);
}

/* The bucket answers a one-key listing with our keys. */
static int
s3_ping(store *st, char *err, size_t errlen)
{
    struct s3store *s = (struct s3store *)st;
    const struct s3_config *cfg = s3_client_config(s->client);
    struct s3_reply rp;
    int rc;

    s3_reply_init(&rp);
    rc = s3_call(s->client,
                 &(struct s3_request){.method = "GET", .what = "ping",
                                      .query = "list-type=2&max-keys=1",
                                      .retry = S3_RETRY_ALWAYS,
                                      .attempts = 1,
                                      .timeout_ms = PING_TIMEOUT_MS},
                 &rp);
    if (rc != PD_OK)
        snprintf(err, errlen, "bucket %s at %s: %s", cfg->bucket,
                 cfg->endpoint, rp.error);
    s3_reply_free(&rp);
    if (rc == PD_OK)
        retry_orphans(s);
    return rc == PD_OK ? PD_OK : PD_EUNAVAIL;
}

static const struct store_ops s3_ops = {
    .close = s3_close,
    .ping = s3_ping,
    .put_begin = s3_put_begin,
    .put_write = s3_put_write,
    .put_commit = s3_put_commit,
    .put_abort = s3_put_abort,
    .get = s3_get,
    .read = s3_read,
    .reader_fd = NULL,
    .reader_close = s3_reader_close,
    .stat = s3_stat,
    .copy = s3_copy,
    .del = s3_delete,
    .list = s3_list,
};

const struct store_backend store_s3_backend = {
    .prefix = "s3://",
    .url_valid = s3_url_valid,
    .open = s3_open,
};

const struct store_backend store_gs_backend = {
    .prefix = "gs://",
    .url_valid = gs_url_valid,
    .open = gs_open,
};
