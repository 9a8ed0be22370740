/*
 * s3_http.c — the transport of the S3 backend. Each request runs on a
 * connection taken from the client's pool (a curl easy handle driven by
 * its own multi handle, whose cache keeps the connection open between
 * requests); DNS answers and TLS sessions are shared by all of them.
 * libcurl signs every request (SigV4); we add the payload hash header
 * that S3 wants, read the answer's headers and body, turn S3's <Error>
 * documents into one line of text, and retry what may be retried.
 */
#include "store/s3_http.h"

#include "common/err.h"
#include "obs/log.h"
#include "store/s3_xml.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define IDLE_MAX 32           /* idle connections a client keeps */
#define BODY_MAX (8 << 20)    /* the most of an answer's body we keep */
#define POLL_MS 1000
#define BACKOFF_MAX_MS 8000
#define STREAM_BUF (256 * 1024)
#define HEADER_MAX 1024

struct s3_conn {
    CURL *easy;
    CURLM *multi;
    struct s3_conn *next;
    char errbuf[CURL_ERROR_SIZE];
};

struct s3_client {
    struct s3_config cfg;
    char sigv4[S3_REGION_MAX + 16]; /* "aws:amz:REGION:s3" */
    CURLSH *share;
    pthread_mutex_t share_locks[CURL_LOCK_DATA_LAST];
    pthread_mutex_t lock; /* guards idle and idle_count */
    struct s3_conn *idle;
    int idle_count;
};

/* One try of one request on one connection. */
struct xfer {
    s3_client *c;
    struct s3_conn *cn;   /* NULL when not attached */
    const struct s3_request *rq;
    struct s3_reply *rp;
    struct curl_slist *headers;
    s3_stream *st;        /* a streamed GET: 2xx bodies go there */
    int64_t sent;         /* bytes of rq->body handed to curl */
    bool headers_done;    /* a final (non-1xx) header block is in */
    bool embedded;        /* a 2xx answer carried an <Error> document */
    bool done;
    CURLcode result;
};

struct s3_stream {
    s3_client *c;
    char *key;
    struct s3_request rq;
    struct s3_reply rp;   /* the answer being read */
    struct xfer x;
    char range[64];
    char if_match[S3_ETAG_MAX + 16];
    char etag[S3_ETAG_MAX];
    int64_t pos;          /* the next byte the caller gets */
    int64_t end;          /* one past the last byte wanted; -1 unknown */
    int64_t resumed_at;   /* pos at the last resume */
    int tries;            /* failed tries since the last progress */
    char *buf;            /* bytes received, not yet read: [off, len) */
    size_t off, len, cap;
    bool paused;          /* curl holds a chunk that did not fit */
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_FAILED_INIT;

static void
curl_init(void)
{
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static bool
is_2xx(long status)
{
    return status >= 200 && status < 300;
}

/* ---- the client and its connections ----------------------------------- */

static void
share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *arg)
{
    s3_client *c = arg;

    (void)h;
    (void)access;
    pthread_mutex_lock(&c->share_locks[data]);
}

static void
share_unlock(CURL *h, curl_lock_data data, void *arg)
{
    s3_client *c = arg;

    (void)h;
    pthread_mutex_unlock(&c->share_locks[data]);
}

static void
conn_free(struct s3_conn *cn)
{
    if (cn == NULL)
        return;
    if (cn->multi != NULL)
        curl_multi_cleanup(cn->multi);
    if (cn->easy != NULL)
        curl_easy_cleanup(cn->easy);
    free(cn);
}

/* An idle connection of the pool, or a new one. NULL: out of memory. */
static struct s3_conn *
conn_take(s3_client *c)
{
    struct s3_conn *cn;

    pthread_mutex_lock(&c->lock);
    cn = c->idle;
    if (cn != NULL) {
        c->idle = cn->next;
        c->idle_count--;
    }
    pthread_mutex_unlock(&c->lock);
    if (cn != NULL)
        return cn;
    cn = calloc(1, sizeof(*cn));
    if (cn == NULL)
        return NULL;
    cn->easy = curl_easy_init();
    cn->multi = curl_multi_init();
    if (cn->easy == NULL || cn->multi == NULL) {
        conn_free(cn);
        return NULL;
    }
    return cn;
}

static void
conn_give(s3_client *c, struct s3_conn *cn)
{
    pthread_mutex_lock(&c->lock);
    if (c->idle_count < IDLE_MAX) {
        cn->next = c->idle;
        c->idle = cn;
        c->idle_count++;
        cn = NULL;
    }
    pthread_mutex_unlock(&c->lock);
    conn_free(cn);
}

int
s3_client_new(const struct s3_config *cfg, s3_client **out)
{
    s3_client *c;

    *out = NULL;
    pthread_once(&curl_once, curl_init);
    if (curl_init_rc != CURLE_OK)
        return PD_ERR;
    c = calloc(1, sizeof(*c));
    if (c == NULL)
        return PD_ENOMEM;
    c->cfg = *cfg;
    snprintf(c->sigv4, sizeof(c->sigv4), "aws:amz:%s:s3", cfg->region);
    pthread_mutex_init(&c->lock, NULL);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->share_locks[i], NULL);
    c->share = curl_share_init();
    if (c->share == NULL) {
        s3_client_free(c);
        return PD_ENOMEM;
    }
    curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
    curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
    curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
    curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    *out = c;
    return PD_OK;
}

void
s3_client_free(s3_client *c)
{
    if (c == NULL)
        return;
    while (c->idle != NULL) {
        struct s3_conn *next = c->idle->next;

        conn_free(c->idle);
        c->idle = next;
    }
    if (c->share != NULL)
        curl_share_cleanup(c->share);
    pthread_mutex_destroy(&c->lock);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->share_locks[i]);
    explicit_bzero(c->cfg.secret_key, sizeof(c->cfg.secret_key));
    free(c);
}

const struct s3_config *
s3_client_config(const s3_client *c)
{
    return &c->cfg;
}

/* ---- replies ---------------------------------------------------------- */

void
s3_reply_init(struct s3_reply *r)
{
    memset(r, 0, sizeof(*r));
    buf_init(&r->body);
    r->length = -1;
    r->total = -1;
}

void
s3_reply_free(struct s3_reply *r)
{
    buf_free(&r->body);
}

/* Empties r for a new answer, keeping its buffer. */
static void
reply_reset(struct s3_reply *r)
{
    r->status = 0;
    r->length = -1;
    r->total = -1;
    r->mtime_ms = 0;
    r->etag[0] = '\0';
    r->error[0] = '\0';
    buf_reset(&r->body);
}

int
s3_status_err(long status)
{
    if (is_2xx(status))
        return PD_OK;
    switch (status) {
    case 404: return PD_ENOTFOUND;
    case 416: return PD_EINVAL;
    case 409:
    case 412: return PD_ECONFLICT;
    case 0:
    case 401:
    case 403:
    case 429: return PD_EUNAVAIL;
    default: return status >= 500 ? PD_EUNAVAIL : PD_ERR;
    }
}

static struct s3_xml
body_doc(const struct s3_reply *r)
{
    const char *p = r->body.len > 0 ? r->body.data : "";

    return (struct s3_xml){p, p + r->body.len};
}

/* Sets r->error from the answer: status, S3's <Code> and <Message>. */
static void
describe_answer(struct s3_reply *r)
{
    struct s3_xml doc = body_doc(r);
    char code[128] = "", msg[1024] = "";

    if (s3_xml_root_is(&doc, "Error")) {
        s3_xml_text(&doc, "Code", code, sizeof(code));
        s3_xml_text(&doc, "Message", msg, sizeof(msg));
    }
    if (code[0] != '\0')
        snprintf(r->error, sizeof(r->error), "HTTP %ld %.64s: %.300s",
                 r->status, code, msg[0] ? msg : "(no message)");
    else
        snprintf(r->error, sizeof(r->error), "HTTP %ld", r->status);
}

/* ---- curl callbacks --------------------------------------------------- */

/*
 * The value of a "Name: value" header line when its name is name. A
 * value too long for out reads as "".
 */
static bool
header_value(const char *line, size_t len, const char *name, char *out,
             size_t outlen)
{
    size_t n = strlen(name);

    if (len <= n || strncasecmp(line, name, n) != 0 || line[n] != ':')
        return false;
    line += n + 1;
    len -= n + 1;
    while (len > 0 && (*line == ' ' || *line == '\t'))
        line++, len--;
    while (len > 0 && (line[len - 1] == '\r' || line[len - 1] == '\n' ||
                       line[len - 1] == ' '))
        len--;
    if (len >= outlen)
        len = 0;
    memcpy(out, line, len);
    out[len] = '\0';
    return true;
}

static void
status_line(struct xfer *x, const char *line, size_t len)
{
    char text[64];
    const char *sp;

    snprintf(text, sizeof(text), "%.*s", (int)(len < 63 ? len : 63), line);
    sp = strchr(text, ' ');
    reply_reset(x->rp);
    x->headers_done = false;
    x->rp->status = sp ? strtol(sp + 1, NULL, 10) : 0;
}

static void
header_line(struct s3_reply *r, const char *line, size_t len)
{
    char v[HEADER_MAX];
    const char *slash;
    int64_t n;

    if (header_value(line, len, "Content-Length", v, sizeof(v))) {
        if (pd_parse_i64(v, 0, INT64_MAX, &n) == PD_OK)
            r->length = n;
    } else if (header_value(line, len, "Content-Range", v, sizeof(v))) {
        slash = strrchr(v, '/');
        if (slash && pd_parse_i64(slash + 1, 0, INT64_MAX, &n) == PD_OK)
            r->total = n;
    } else if (header_value(line, len, "ETag", r->etag, sizeof(r->etag))) {
        return;
    } else if (header_value(line, len, "Last-Modified", v, sizeof(v))) {
        time_t t = curl_getdate(v, NULL);

        if (t > 0)
            r->mtime_ms = (int64_t)t * 1000;
    }
}

static size_t
on_header(char *line, size_t size, size_t n, void *arg)
{
    struct xfer *x = arg;
    size_t len = size * n;

    if (len >= 5 && memcmp(line, "HTTP/", 5) == 0)
        status_line(x, line, len);
    else if (len <= 2 && (line[0] == '\r' || line[0] == '\n'))
        x->headers_done = x->rp->status >= 200;
    else
        header_line(x->rp, line, len);
    return len;
}

/* A streamed GET's body: kept while there is room, else curl pauses. */
static size_t
stream_take(s3_stream *st, const char *p, size_t len)
{
    if (st->off == st->len)
        st->off = st->len = 0;
    if (st->cap - st->len < len && st->off > 0) {
        memmove(st->buf, st->buf + st->off, st->len - st->off);
        st->len -= st->off;
        st->off = 0;
    }
    if (st->cap - st->len < len) {
        char *bigger;

        if (st->len > 0) {
            st->paused = true;
            return CURL_WRITEFUNC_PAUSE;
        }
        bigger = realloc(st->buf, len);
        if (bigger == NULL)
            return 0;
        st->buf = bigger;
        st->cap = len;
    }
    memcpy(st->buf + st->len, p, len);
    st->len += len;
    return len;
}

static size_t
on_body(char *p, size_t size, size_t n, void *arg)
{
    struct xfer *x = arg;
    size_t len = size * n;

    if (x->st != NULL && is_2xx(x->rp->status))
        return stream_take(x->st, p, len);
    if (x->rp->body.len + len > BODY_MAX)
        return 0;
    buf_append(&x->rp->body, p, len);
    return x->rp->body.failed ? 0 : len;
}

static size_t
on_send(char *dst, size_t size, size_t n, void *arg)
{
    struct xfer *x = arg;
    const struct s3_body *b = x->rq->body;
    int64_t left = b ? b->length - x->sent : 0;
    size_t want = size * n;
    ssize_t got;

    if (left <= 0)
        return 0;
    if ((int64_t)want > left)
        want = (size_t)left;
    if (b->fd < 0) {
        memcpy(dst, b->data + x->sent, want);
        got = (ssize_t)want;
    } else {
        do
            got = pread(b->fd, dst, want, b->offset + x->sent);
        while (got < 0 && errno == EINTR);
        if (got <= 0) {
            log_error("store: s3 %s %s: reading the spool file: %s",
                      x->rq->what, x->rq->key ? x->rq->key : "",
                      got < 0 ? strerror(errno) : "it is shorter");
            return CURL_READFUNC_ABORT;
        }
    }
    x->sent += got;
    return (size_t)got;
}

static int
on_seek(void *arg, curl_off_t offset, int origin)
{
    struct xfer *x = arg;

    if (origin != SEEK_SET || offset < 0)
        return CURL_SEEKFUNC_CANTSEEK;
    x->sent = offset;
    return CURL_SEEKFUNC_OK;
}

/* ---- one try ---------------------------------------------------------- */

void
s3_uri_encode(pd_buf *b, const char *s, bool keep_slash)
{
    static const char hex[] = "0123456789ABCDEF";

    for (; *s != '\0'; s++) {
        unsigned char ch = (unsigned char)*s;
        char esc[3] = {'%', hex[ch >> 4], hex[ch & 15]};

        if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
            (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' ||
            ch == '.' || ch == '~' || (keep_slash && ch == '/'))
            buf_append(b, s, 1);
        else
            buf_append(b, esc, 3);
    }
}

/* ENDPOINT/BUCKET[/KEY][?QUERY] into url. */
static void
build_url(const s3_client *c, const struct s3_request *rq, pd_buf *url)
{
    buf_printf(url, "%s/", c->cfg.endpoint);
    s3_uri_encode(url, c->cfg.bucket, false);
    if (rq->key != NULL) {
        buf_puts(url, "/");
        s3_uri_encode(url, rq->key, true);
    }
    if (rq->query != NULL && rq->query[0] != '\0')
        buf_printf(url, "?%s", rq->query);
}

static struct curl_slist *
add_header(struct curl_slist *list, const char *line, bool *ok)
{
    struct curl_slist *more = *ok ? curl_slist_append(list, line) : NULL;

    if (more == NULL) {
        *ok = false;
        return list;
    }
    return more;
}

static struct curl_slist *
build_headers(const struct s3_request *rq)
{
    char hash[96];
    struct curl_slist *list = NULL;
    bool ok = true;

    snprintf(hash, sizeof(hash), "x-amz-content-sha256: %s",
             rq->body ? rq->body->sha256 : S3_EMPTY_SHA256);
    list = add_header(list, hash, &ok);
    if (strcmp(rq->method, "POST") == 0)
        list = add_header(list, "Content-Type: application/xml", &ok);
    for (int i = 0; i < 4 && rq->headers[i] != NULL; i++)
        list = add_header(list, rq->headers[i], &ok);
    if (!ok) {
        curl_slist_free_all(list);
        return NULL;
    }
    return list;
}

static void
set_method(CURL *e, struct xfer *x)
{
    const char *m = x->rq->method;
    curl_off_t len = x->rq->body ? x->rq->body->length : 0;

    if (strcmp(m, "HEAD") == 0) {
        curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    } else if (strcmp(m, "PUT") == 0) {
        curl_easy_setopt(e, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(e, CURLOPT_INFILESIZE_LARGE, len);
    } else if (strcmp(m, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, len);
    } else if (strcmp(m, "DELETE") == 0) {
        curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "DELETE");
    }
    curl_easy_setopt(e, CURLOPT_READFUNCTION, on_send);
    curl_easy_setopt(e, CURLOPT_READDATA, x);
    curl_easy_setopt(e, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(e, CURLOPT_SEEKDATA, x);
}

static void
set_common(CURL *e, struct xfer *x, const char *url)
{
    const struct s3_config *cfg = &x->c->cfg;

    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_SHARE, x->c->share);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->cn->errbuf);
    curl_easy_setopt(e, CURLOPT_AWS_SIGV4, x->c->sigv4);
    curl_easy_setopt(e, CURLOPT_USERNAME, cfg->access_key);
    curl_easy_setopt(e, CURLOPT_PASSWORD, cfg->secret_key);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, cfg->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, (long)S3_LOW_SPEED);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, cfg->low_speed_time_s);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    if (x->rq->timeout_ms > 0)
        curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, x->rq->timeout_ms);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
}

/* Takes a connection and starts the request on it. */
static int
xfer_begin(struct xfer *x)
{
    pd_buf url;
    int rc = PD_OK;

    x->sent = 0;
    x->headers_done = x->embedded = x->done = false;
    x->result = CURLE_OK;
    reply_reset(x->rp);
    x->cn = conn_take(x->c);
    x->headers = build_headers(x->rq);
    buf_init(&url);
    build_url(x->c, x->rq, &url);
    if (x->cn == NULL || x->headers == NULL || url.failed) {
        rc = PD_ENOMEM;
    } else {
        x->cn->errbuf[0] = '\0';
        curl_easy_reset(x->cn->easy);
        set_common(x->cn->easy, x, buf_cstr(&url));
        set_method(x->cn->easy, x);
        if (curl_multi_add_handle(x->cn->multi, x->cn->easy) != CURLM_OK)
            rc = PD_ENOMEM;
    }
    buf_free(&url);
    if (rc != PD_OK) {
        curl_slist_free_all(x->headers);
        x->headers = NULL;
        if (x->cn != NULL)
            conn_free(x->cn);
        x->cn = NULL;
        snprintf(x->rp->error, sizeof(x->rp->error), "out of memory");
    }
    return rc;
}

/* Gives the connection back (curl keeps it open when it can). */
static void
xfer_end(struct xfer *x)
{
    if (x->cn == NULL)
        return;
    curl_multi_remove_handle(x->cn->multi, x->cn->easy);
    conn_give(x->c, x->cn);
    x->cn = NULL;
    curl_slist_free_all(x->headers);
    x->headers = NULL;
}

/* Waits for the connection, moves the transfer on, notes its end. */
static void
xfer_step(struct xfer *x)
{
    CURLM *m = x->cn->multi;
    CURLMsg *msg;
    int running = 0, left;

    curl_multi_poll(m, NULL, 0, POLL_MS, NULL);
    if (curl_multi_perform(m, &running) != CURLM_OK) {
        x->done = true;
        x->result = CURLE_OUT_OF_MEMORY;
        return;
    }
    while ((msg = curl_multi_info_read(m, &left)) != NULL) {
        if (msg->msg == CURLMSG_DONE) {
            x->done = true;
            x->result = msg->data.result;
        }
    }
}

/* After the transfer ended: is it a failure, and why. */
static bool
xfer_failed(struct xfer *x)
{
    struct s3_reply *rp = x->rp;
    struct s3_xml doc = body_doc(rp);

    if (x->result != CURLE_OK) {
        const char *why = x->cn && x->cn->errbuf[0]
                              ? x->cn->errbuf
                              : curl_easy_strerror(x->result);

        if (rp->status >= 200)
            snprintf(rp->error, sizeof(rp->error), "HTTP %ld, then the "
                     "transfer broke: %s", rp->status, why);
        else
            snprintf(rp->error, sizeof(rp->error), "no answer: %s", why);
        rp->status = 0;
        return true;
    }
    x->embedded = is_2xx(rp->status) && s3_xml_root_is(&doc, "Error");
    if (is_2xx(rp->status) && !x->embedded)
        return false;
    describe_answer(rp);
    return true;
}

/* ---- retries ---------------------------------------------------------- */

/* Failures of the network (not of our own reading or memory). */
static bool
network_error(CURLcode rc)
{
    switch (rc) {
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT:
    case CURLE_OPERATION_TIMEDOUT:
    case CURLE_SEND_ERROR:
    case CURLE_RECV_ERROR:
    case CURLE_GOT_NOTHING:
    case CURLE_PARTIAL_FILE:
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_HTTP2:
    case CURLE_HTTP2_STREAM:
    case CURLE_WEIRD_SERVER_REPLY:
        return true;
    default:
        return false;
    }
}

/*
 * A request that never reached the server may always go again; one
 * that did, only when repeating it does no harm and the failure is one
 * that passes (network, 5xx, 429, S3's RequestTimeout).
 */
static bool
worth_retry(const struct xfer *x)
{
    const struct s3_reply *rp = x->rp;

    if (x->result == CURLE_COULDNT_CONNECT ||
        x->result == CURLE_COULDNT_RESOLVE_HOST)
        return true;
    if (x->rq->retry == S3_RETRY_NEVER)
        return false;
    if (x->result != CURLE_OK)
        return network_error(x->result);
    return x->embedded || rp->status >= 500 || rp->status == 429 ||
           (rp->status == 400 && strstr(rp->error, "RequestTimeout"));
}

/* The pause before try number next (2, 3, ...): doubling, jittered. */
static long
backoff_ms(const s3_client *c, int next)
{
    long d = c->cfg.backoff_ms > 0 ? c->cfg.backoff_ms : 1;
    unsigned int r = 0;

    for (int i = 2; i < next && d < BACKOFF_MAX_MS; i++)
        d *= 2;
    if (d > BACKOFF_MAX_MS)
        d = BACKOFF_MAX_MS;
    pd_random_bytes(&r, sizeof(r));
    return d / 2 + (long)(r % (unsigned int)(d / 2 + 1));
}

static void
sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* How many tries the request gets. */
static int
attempts_of(const struct xfer *x)
{
    return x->rq->attempts > 0 ? x->rq->attempts : x->c->cfg.attempts;
}

/* Logs a failed try and sleeps before the next one (number next). */
static void
pause_before_retry(const struct xfer *x, int next)
{
    long ms = backoff_ms(x->c, next);

    log_warn("store: s3 %s %s/%s: %s; try %d of %d in %ld ms", x->rq->what,
             x->c->cfg.bucket, x->rq->key ? x->rq->key : "", x->rp->error,
             next, attempts_of(x), ms);
    sleep_ms(ms);
}

static void
log_failure(const struct xfer *x, int tries)
{
    long status = x->rp->status;

    if (status == 404 || status == 416)
        return;
    log_error("store: s3 %s %s/%s: %s (%d %s)", x->rq->what,
              x->c->cfg.bucket, x->rq->key ? x->rq->key : "", x->rp->error,
              tries, tries == 1 ? "try" : "tries");
}

int
s3_call(s3_client *c, const struct s3_request *rq, struct s3_reply *rp)
{
    struct xfer x = {.c = c, .rq = rq, .rp = rp};
    int tries = 0;
    bool failed;

    for (;;) {
        tries++;
        if (xfer_begin(&x) != PD_OK)
            return PD_ENOMEM;
        while (!x.done)
            xfer_step(&x);
        failed = xfer_failed(&x);
        xfer_end(&x);
        if (!failed)
            return PD_OK;
        if (tries >= attempts_of(&x) || !worth_retry(&x))
            break;
        pause_before_retry(&x, tries + 1);
    }
    log_failure(&x, tries);
    return x.embedded ? PD_EUNAVAIL : s3_status_err(rp->status);
}

/* ---- streamed reads --------------------------------------------------- */

/* Starts the GET for [pos, end) and waits for its headers. */
static void
stream_try(s3_stream *st)
{
    int h = 0;

    if (st->pos > 0 || st->end >= 0) {
        if (st->end >= 0)
            snprintf(st->range, sizeof(st->range), "Range: bytes=%lld-%lld",
                     (long long)st->pos, (long long)st->end - 1);
        else
            snprintf(st->range, sizeof(st->range), "Range: bytes=%lld-",
                     (long long)st->pos);
        st->rq.headers[h++] = st->range;
    }
    if (st->etag[0] != '\0') {
        snprintf(st->if_match, sizeof(st->if_match), "If-Match: %s",
                 st->etag);
        st->rq.headers[h++] = st->if_match;
    }
    st->rq.headers[h] = NULL;
    st->off = st->len = 0;
    st->paused = false;
    if (xfer_begin(&st->x) != PD_OK)
        return;
    while (!st->x.done &&
           !(st->x.headers_done && is_2xx(st->rp.status)))
        xfer_step(&st->x);
    if (st->x.headers_done && is_2xx(st->rp.status))
        return; /* the connection stays with the stream */
    xfer_failed(&st->x);
    xfer_end(&st->x);
}

/* Tries (again) until the body flows or it is no use. */
static int
stream_connect(s3_stream *st)
{
    for (;;) {
        stream_try(st);
        if (st->x.cn != NULL)
            return PD_OK;
        st->tries++;
        if (st->tries >= attempts_of(&st->x) || !worth_retry(&st->x))
            break;
        pause_before_retry(&st->x, st->tries + 1);
    }
    log_failure(&st->x, st->tries);
    return s3_status_err(st->rp.status);
}

int
s3_stream_open(s3_client *c, const char *key, int64_t offset,
               int64_t length, s3_stream **out, struct s3_reply *rp)
{
    s3_stream *st = calloc(1, sizeof(*st));
    int rc;

    *out = NULL;
    if (st == NULL || (st->key = strdup(key)) == NULL ||
        (st->buf = malloc(STREAM_BUF)) == NULL) {
        if (st != NULL)
            free(st->key);
        free(st);
        return PD_ENOMEM;
    }
    st->cap = STREAM_BUF;
    st->c = c;
    st->pos = st->resumed_at = offset;
    st->end = length < 0 ? -1 : offset + length;
    st->rq = (struct s3_request){.method = "GET", .what = "get",
                                 .key = st->key, .retry = S3_RETRY_ALWAYS};
    s3_reply_init(&st->rp);
    st->x = (struct xfer){.c = c, .rq = &st->rq, .rp = &st->rp, .st = st};
    rc = stream_connect(st);
    *rp = st->rp;
    rp->body = (pd_buf){0};
    if (rc != PD_OK) {
        s3_stream_close(st);
        return rc;
    }
    if (st->end < 0 && st->rp.length >= 0)
        st->end = st->pos + st->rp.length;
    snprintf(st->etag, sizeof(st->etag), "%s", st->rp.etag);
    *out = st;
    return PD_OK;
}

static size_t
stream_give(s3_stream *st, void *buf, size_t len)
{
    size_t n = st->len - st->off;

    if (n > len)
        n = len;
    memcpy(buf, st->buf + st->off, n);
    st->off += n;
    st->pos += (int64_t)n;
    return n;
}

/*
 * The answer ended: 0 when every byte wanted came, 1 when a new request
 * takes up from where the broken one stopped, or a pd_err.
 */
static int
stream_ended(s3_stream *st)
{
    bool complete = st->x.result == CURLE_OK &&
                    (st->end < 0 || st->pos >= st->end);
    int rc;

    if (complete) {
        xfer_end(&st->x);
        return 0;
    }
    if (!xfer_failed(&st->x))
        snprintf(st->rp.error, sizeof(st->rp.error), "the answer ended "
                 "at byte %lld of %lld", (long long)st->pos,
                 (long long)st->end);
    xfer_end(&st->x);
    if (st->pos > st->resumed_at)
        st->tries = 0; /* progress since the last break: a fresh budget */
    st->resumed_at = st->pos;
    st->tries++;
    if (st->tries >= attempts_of(&st->x)) {
        log_failure(&st->x, st->tries);
        return PD_EUNAVAIL;
    }
    pause_before_retry(&st->x, st->tries + 1);
    rc = stream_connect(st);
    return rc == PD_OK ? 1 : (rc == PD_ECONFLICT ? PD_EIO : rc);
}

ssize_t
s3_stream_read(s3_stream *st, void *buf, size_t len)
{
    for (;;) {
        int rc;

        if (st->len > st->off)
            return (ssize_t)stream_give(st, buf, len);
        if (st->x.cn == NULL)
            return 0;
        if (st->x.done) {
            rc = stream_ended(st);
            if (rc <= 0)
                return rc;
            continue;
        }
        if (st->paused) {
            st->paused = false;
            curl_easy_pause(st->x.cn->easy, CURLPAUSE_CONT);
            continue;
        }
        xfer_step(&st->x);
    }
}

void
s3_stream_close(s3_stream *st)
{
    if (st == NULL)
        return;
    xfer_end(&st->x);
    s3_reply_free(&st->rp);
    free(st->buf);
    free(st->key);
    free(st);
}
