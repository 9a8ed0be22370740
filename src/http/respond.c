/*
 * respond.c — building answers: the security headers every response
 * carries, JSON and HTML errors, and the one mapping from pd_err to an
 * HTTP status.
 */
#include "http/http_internal.h"

#include "common/err.h"
#include "obs/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

int
http_status_for_err(int err)
{
    switch (err) {
    case PD_OK: return 200;
    case PD_EINVAL: return 400;
    case PD_ENOTFOUND: return 404;
    case PD_ECONFLICT: return 409;
    case PD_ETOOBIG: return 413;
    case PD_EUNAVAIL: return 503;
    case PD_EBUSY: return 503;
    default: return 500;
    }
}

/* The short machine-readable code that goes with a status. */
static const char *
code_for_status(int status)
{
    switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthenticated";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 409: return "conflict";
    case 413: return "too_large";
    case 415: return "unsupported_type";
    case 422: return "invalid_content";
    case 429: return "rate_limited";
    case 503: return "unavailable";
    default: return status >= 500 ? "internal" : "error";
    }
}

void
http_add_header(http_req *req, const char *name, const char *value)
{
    struct pending_header *h = arena_alloc(req->arena, sizeof(*h));

    if (h == NULL)
        return;
    h->name = arena_strdup(req->arena, name);
    h->value = arena_strdup(req->arena, value);
    h->next = req->headers;
    req->headers = h;
}

static bool
has_pending(const http_req *req, const char *name)
{
    for (const struct pending_header *h = req->headers; h; h = h->next)
        if (strcasecmp(h->name, name) == 0)
            return true;
    return false;
}

static void
add_security_headers(http_req *req, struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "Content-Security-Policy",
                            http_server_csp(req->server));
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
    if (!has_pending(req, "Cache-Control"))
        MHD_add_response_header(resp, "Cache-Control", "no-store");
}

int
http_queue(http_req *req, int status, struct MHD_Response *resp)
{
    enum MHD_Result ok;

    if (req->answered) {
        MHD_destroy_response(resp);
        log_error("a second answer for one request was dropped");
        return PD_ERR;
    }
    if (req->route != NULL && http_server_decorator(req->server) != NULL)
        http_server_decorator(req->server)(req, req->route, status);
    for (struct pending_header *h = req->headers; h; h = h->next)
        MHD_add_response_header(resp, h->name, h->value);
    MHD_add_response_header(resp, "X-Request-Id", req->request_id);
    add_security_headers(req, resp);
    if (http_server_is_draining(req->server))
        MHD_add_response_header(resp, "Connection", "close");
    ok = MHD_queue_response(req->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    if (ok != MHD_YES)
        return PD_ERR;
    req->answered = true;
    req->status = status;
    return PD_OK;
}

/* Pages smaller than a packet are not worth compressing. */
#define GZIP_MIN_BYTES 1400
#define GZIP_LEVEL 5

static bool
accepts_gzip(http_req *req)
{
    const char *ae = http_header(req, "Accept-Encoding");

    return ae != NULL && strstr(ae, "gzip") != NULL;
}

int
http_gzip(const void *body, size_t len, unsigned char **out, size_t *out_len)
{
    z_stream z = {0};
    size_t cap = compressBound((uLong)len) + 32;
    unsigned char *gz = malloc(cap);
    int rc = PD_ENOMEM;

    if (gz == NULL || deflateInit2(&z, GZIP_LEVEL, Z_DEFLATED, 15 + 16, 8,
                                   Z_DEFAULT_STRATEGY) != Z_OK) {
        free(gz);
        return PD_ENOMEM;
    }
    z.next_in = (Bytef *)body;
    z.avail_in = (uInt)len;
    z.next_out = gz;
    z.avail_out = (uInt)cap;
    if (deflate(&z, Z_FINISH) == Z_STREAM_END) {
        *out = gz;
        *out_len = z.total_out;
        rc = PD_OK;
    } else {
        free(gz);
    }
    deflateEnd(&z);
    return rc;
}

/* Whether this answer should go out gzipped: an HTML route, a client
 * that takes gzip, and a body bigger than a packet. */
static bool
wants_gzip(http_req *req, size_t len)
{
    return len >= GZIP_MIN_BYTES && req->route != NULL &&
           (req->route->flags & ROUTE_HTML) && accepts_gzip(req);
}

static void
mark_gzipped(struct MHD_Response *resp)
{
    MHD_add_response_header(resp, "Content-Encoding", "gzip");
    MHD_add_response_header(resp, "Vary", "Accept-Encoding");
}

/*
 * HTML pages go out gzipped to clients that take it (phones on mobile
 * data): a list page shrinks about tenfold. NULL when not worth it or
 * when compression fails; the caller then sends the body as it is.
 */
static struct MHD_Response *
gzipped_response(http_req *req, const void *body, size_t len)
{
    unsigned char *gz;
    size_t gz_len;
    struct MHD_Response *resp;

    if (!wants_gzip(req, len) || http_gzip(body, len, &gz, &gz_len) != PD_OK)
        return NULL;
    resp = MHD_create_response_from_buffer(gz_len, gz, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(gz);
        return NULL;
    }
    mark_gzipped(resp);
    req->response_bytes = gz_len;
    return resp;
}

int
http_respond_prepared(http_req *req, int status, const char *content_type,
                      const void *body, size_t len, const void *gz,
                      size_t gz_len)
{
    bool use_gz = gz != NULL && wants_gzip(req, len);
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        use_gz ? gz_len : len, (void *)(use_gz ? gz : body),
        MHD_RESPMEM_MUST_COPY);

    if (resp == NULL)
        return PD_ENOMEM;
    if (use_gz)
        mark_gzipped(resp);
    if (content_type != NULL)
        MHD_add_response_header(resp, "Content-Type", content_type);
    req->response_bytes = use_gz ? gz_len : len;
    return http_queue(req, status, resp);
}

int
http_respond(http_req *req, int status, const char *content_type,
             const void *body, size_t len, bool copy)
{
    struct MHD_Response *resp = gzipped_response(req, body, len);

    if (resp != NULL) {
        if (content_type != NULL)
            MHD_add_response_header(resp, "Content-Type", content_type);
        return http_queue(req, status, resp);
    }
    resp = MHD_create_response_from_buffer(
        len, (void *)body,
        copy ? MHD_RESPMEM_MUST_COPY : MHD_RESPMEM_PERSISTENT);
    if (resp == NULL)
        return PD_ENOMEM;
    if (content_type != NULL)
        MHD_add_response_header(resp, "Content-Type", content_type);
    req->response_bytes = len;
    return http_queue(req, status, resp);
}

int
http_respond_json(http_req *req, int status, pd_buf *b)
{
    if (b->failed)
        return http_error(req, 500, "internal", "out of memory");
    return http_respond(req, status, "application/json", buf_cstr(b),
                        b->len, true);
}

static void
error_page(pd_buf *b, int status, const char *message, const char *rid)
{
    buf_printf(b,
               "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
               "<meta name=\"viewport\" content=\"width=device-width,"
               "initial-scale=1\"><title>%d — printdesk</title></head>"
               "<body><main><h1>%d</h1><p>", status, status);
    buf_html_escaped(b, message);
    buf_puts(b, "</p><p><small>Request ");
    buf_html_escaped(b, rid);
    buf_puts(b, "</small></p></main></body></html>\n");
}

/*
 * Errors on HTML routes are pages; so are errors outside any route when a
 * browser asked for HTML (a mistyped link), everything else gets JSON.
 */
static bool
wants_html(http_req *req)
{
    const char *accept;

    if (req->route != NULL)
        return (req->route->flags & ROUTE_HTML) != 0;
    accept = http_header(req, "Accept");
    return accept != NULL && strstr(accept, "text/html") != NULL;
}

int
http_error(http_req *req, int status, const char *code,
           const char *message)
{
    pd_buf b;
    bool html = wants_html(req);
    int rc;

    buf_init(&b);
    if (code == NULL)
        code = code_for_status(status);
    if (html) {
        error_page(&b, status, message, req->request_id);
    } else {
        buf_puts(&b, "{\"error\":{\"code\":");
        buf_json_string(&b, code);
        buf_puts(&b, ",\"message\":");
        buf_json_string(&b, message);
        buf_puts(&b, "}}\n");
    }
    rc = http_respond(req, status,
                      html ? "text/html; charset=utf-8" : "application/json",
                      buf_cstr(&b), b.len, true);
    buf_free(&b);
    return rc;
}

int
http_respond_fd(http_req *req, int status, const char *content_type,
                int fd, int64_t offset, int64_t length)
{
    struct MHD_Response *resp;

    resp = MHD_create_response_from_fd_at_offset64((uint64_t)length, fd,
                                                   (uint64_t)offset);
    if (resp == NULL) {
        close(fd);
        return PD_ENOMEM;
    }
    if (content_type != NULL)
        MHD_add_response_header(resp, "Content-Type", content_type);
    req->response_bytes = (uint64_t)length;
    return http_queue(req, status, resp);
}

/* The library's reader, over the handler's. */
struct stream {
    http_read_fn read;
    void (*done)(void *);
    void *ctx;
};

static ssize_t
stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    struct stream *s = cls;
    long n = s->read(s->ctx, pos, buf, max);

    if (n > 0)
        return n;
    return n == 0 ? MHD_CONTENT_READER_END_OF_STREAM
                  : MHD_CONTENT_READER_END_WITH_ERROR;
}

static void
stream_free(void *cls)
{
    struct stream *s = cls;

    if (s->done != NULL)
        s->done(s->ctx);
    free(s);
}

int
http_respond_stream(http_req *req, int status, const char *content_type,
                    int64_t size, http_read_fn read, void (*done)(void *),
                    void *ctx)
{
    struct stream *s = malloc(sizeof(*s));
    struct MHD_Response *resp = NULL;

    if (s != NULL) {
        *s = (struct stream){read, done, ctx};
        resp = MHD_create_response_from_callback(
            size < 0 ? MHD_SIZE_UNKNOWN : (uint64_t)size, 64 * 1024,
            stream_read, s, stream_free);
    }
    if (resp == NULL) {
        free(s);
        if (done != NULL)
            done(ctx);
        return PD_ENOMEM;
    }
    if (content_type != NULL)
        MHD_add_response_header(resp, "Content-Type", content_type);
    req->response_bytes = size < 0 ? 0 : (uint64_t)size;
    return http_queue(req, status, resp);
}
