/*
 * http.h — what handlers see of the HTTP layer: the route table entry, the
 * request (arena, parameters, headers, body) and the ways to answer.
 * Every answer carries the request id and the security headers; errors
 * are JSON on API routes and a readable page on HTML routes.
 */
#ifndef PD_HTTP_H
#define PD_HTTP_H

#include "common/arena.h"
#include "common/util.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct http_req http_req;

/* What a handler returns: 0 once it has answered, a pd_err otherwise
 * (the layer then answers with the status that error maps to). */
typedef int (*http_handler_fn)(http_req *req);
/* Streaming routes get each chunk of the body as it arrives. */
typedef int (*http_body_fn)(http_req *req, const char *data, size_t len);

enum http_route_flags {
    ROUTE_HTML = 1 << 0,    /* errors as HTML pages, not JSON */
    ROUTE_NO_LOG = 1 << 1,  /* no access line */
    ROUTE_TEST_ONLY = 1 << 2, /* only with PRINTDESK_TEST_ROUTES=1 */
    ROUTE_PUBLIC_LIMITED = 1 << 3, /* public, rate-limited per address */
    ROUTE_CORS = 1 << 4,    /* browsers on ALLOWED_ORIGINS may call it */
    ROUTE_TUS = 1 << 5,     /* a tus endpoint: Tus-Resumable on answers */
    ROUTE_UPLOAD = 1 << 6,  /* counted in the upload metrics */
};

struct http_route {
    const char *method;
    const char *pattern; /* e.g. "/dashboard/orders/{order}" */
    http_handler_fn handler;
    http_body_fn on_body; /* NULL: the body is buffered (max_body) */
    size_t max_body;      /* 0: HTTP_DEFAULT_MAX_BODY; no limit when
                             streaming */
    unsigned flags;
    int min_role;         /* 0: public; else the least role (auth) */
};

/*
 * The guard runs once the headers of a routed request are in, before its
 * body is read. It returns 0 to let the request through, or calls
 * http_refuse and returns non-zero.
 */
typedef int (*http_guard_fn)(http_req *req, const struct http_route *route);

/*
 * The decorator runs on every answer of a routed request just before it
 * is queued (handler answers, refusals and body errors alike), so a
 * route family can carry headers of its own (CORS, tus) on all of them.
 */
typedef void (*http_decorate_fn)(http_req *req,
                                 const struct http_route *route,
                                 int status);

/*
 * Called once when the request is over, answered or not (the client may
 * have gone away mid-body): where a streaming route lets go of what it
 * holds. The request's arena is still valid.
 */
typedef void (*http_done_fn)(http_req *req, void *arg);
void http_on_done(http_req *req, http_done_fn fn, void *arg);
/* Bytes of body received so far (streaming routes included). */
uint64_t http_body_seen(const http_req *req);

#define HTTP_DEFAULT_MAX_BODY (64 * 1024)

/* The request's arena: memory freed when the request completes. */
arena *http_arena(http_req *req);
const char *http_method(const http_req *req);
/* The decoded path, without the query string. */
const char *http_path(const http_req *req);
/* The query string exactly as sent (without '?'), "" when none. */
const char *http_raw_query(const http_req *req);
const char *http_request_id(const http_req *req);
/* The client's address as text (the socket peer). */
const char *http_client_addr(http_req *req);
/* A captured path parameter, or NULL. */
const char *http_param(const http_req *req, const char *name);
/* A decoded query parameter (its first occurrence), or NULL. */
const char *http_query(http_req *req, const char *name);
/* A request header (case-insensitive), or NULL. */
const char *http_header(http_req *req, const char *name);
/* The buffered body of a non-streaming route (NUL-terminated). */
const char *http_body(const http_req *req, size_t *len);
/* A cookie sent with the request, or NULL. */
const char *http_cookie(http_req *req, const char *name);
/* The route this request matched (NULL for a 404 or 405). */
const struct http_route *http_route_of(const http_req *req);
/* A slot for the guard's identity of the caller (arena-allocated). */
void *http_identity(http_req *req);
void http_set_identity(http_req *req, void *identity);
/*
 * Refuses the request: the error answer is sent once the request is in
 * (any body is read and thrown away, up to a bound), so clients see it.
 */
void http_refuse(http_req *req, int status, const char *code,
                 const char *message);
/* A slot for a streaming handler's own state (arena-allocated). */
void *http_user(http_req *req);
void http_set_user(http_req *req, void *user);
/* True while the server is draining for shutdown. */
bool http_draining(const http_req *req);

/*
 * A form body (multipart/form-data or urlencoded) parsed as it streams
 * in: fn gets each field's value in pieces (off is the piece's place in
 * the value; filename is set for file fields) and returns 0 to go on or
 * a pd_err to stop. http_form_new fails with PD_EINVAL when the request
 * is not a form. http_form_end says whether the body ended cleanly.
 */
typedef int (*http_form_fn)(void *ctx, const char *name,
                            const char *filename, const char *data,
                            uint64_t off, size_t len);
typedef struct http_form http_form;
int http_form_new(http_req *req, http_form_fn fn, void *ctx,
                  http_form **out);
int http_form_feed(http_form *f, const char *data, size_t len);
/* Frees f; PD_OK when the body was a complete form, else PD_EINVAL. */
int http_form_end(http_form *f);

/* Adds a header to the answer this request will get. */
void http_add_header(http_req *req, const char *name, const char *value);

/*
 * Answers with body (copied only if it does not live in the request's
 * arena or static memory: pass copy=true for stack or heap buffers).
 */
int http_respond(http_req *req, int status, const char *content_type,
                 const void *body, size_t len, bool copy);
/*
 * Answers with length bytes of fd from offset (sent by the kernel where
 * it can). Takes fd: it is closed when the answer is done or fails.
 */
int http_respond_fd(http_req *req, int status, const char *content_type,
                    int fd, int64_t offset, int64_t length);
/*
 * Answers with a body produced by read as the client takes it: read
 * returns the bytes it put in buf, 0 at the end, or <0 on failure (the
 * connection is then cut). done(ctx) runs once the answer is over, or at
 * once when it cannot be queued. size -1: unknown (sent chunked).
 */
typedef long (*http_read_fn)(void *ctx, uint64_t pos, char *buf,
                             size_t max);
int http_respond_stream(http_req *req, int status, const char *content_type,
                        int64_t size, http_read_fn read, void (*done)(void *),
                        void *ctx);
/*
 * gzip of len bytes of body, level as for pages, in *out (malloc'd, the
 * caller frees) of *out_len bytes. PD_ENOMEM when it fails.
 */
int http_gzip(const void *body, size_t len, unsigned char **out,
              size_t *out_len);
/*
 * Answers with a body the caller keeps in both forms (copied): gz, its
 * gzip or NULL, goes to clients that would get this route gzipped.
 */
int http_respond_prepared(http_req *req, int status, const char *content_type,
                          const void *body, size_t len, const void *gz,
                          size_t gz_len);
/* Answers with the contents of b as JSON (b is left as it was). */
int http_respond_json(http_req *req, int status, pd_buf *b);
/*
 * Answers with an error: JSON {"error":{"code","message"}} or an HTML page
 * per the route. Returns 0 so handlers can `return http_error(...)`.
 */
int http_error(http_req *req, int status, const char *code,
               const char *message);
/* The status a pd_err maps to (the one place that mapping lives). */
int http_status_for_err(int err);

#endif
