/*
 * server.c — the libmicrohttpd glue. Owns the daemon, the life cycle of
 * each request (created when the request line arrives, freed when the
 * library reports the request complete), request ids, body reading with
 * limits, dispatch through the router, the access log and the request
 * metrics, and the drain at shutdown.
 */
#include "http/server.h"

#include "common/err.h"
#include "http/http_internal.h"
#include "obs/log.h"
#include "obs/metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* The most of a refused body read (and thrown away) to answer it. */
#define HTTP_DISCARD_MAX (32 * 1024 * 1024)

struct http_server {
    struct MHD_Daemon *daemon;
    router *router;
    const struct http_route *routes;
    int nroutes;
    int metric_ids[ROUTER_MAX_ROUTES];
    int port;
    char csp[512]; /* the Content-Security-Policy, built once */
    atomic_uint connections;
    atomic_uint in_flight;
    atomic_bool draining;
    http_guard_fn guard;
    http_decorate_fn decorate;
    void (*after_change)(void);
    bool trust_proxy;
};

http_decorate_fn
http_server_decorator(const struct http_server *s)
{
    return s->decorate;
}

const char *
http_server_csp(const struct http_server *s)
{
    return s->csp;
}

bool
http_server_is_draining(const struct http_server *s)
{
    return atomic_load(&s->draining);
}

/* ---- accessors for handlers ---- */

arena *
http_arena(http_req *req)
{
    return req->arena;
}

const char *
http_method(const http_req *req)
{
    return req->method;
}

const char *
http_path(const http_req *req)
{
    return req->path;
}

const char *
http_raw_query(const http_req *req)
{
    return req->raw_query;
}

const char *
http_request_id(const http_req *req)
{
    return req->request_id;
}

bool
http_draining(const http_req *req)
{
    return http_server_is_draining(req->server);
}

/* The first hop of X-Forwarded-For (the client as the proxy saw it). */
static const char *
forwarded_for(http_req *req)
{
    const char *h = http_header(req, "X-Forwarded-For");
    size_t n;

    if (h == NULL)
        return NULL;
    h += strspn(h, " ");
    n = strcspn(h, ", ");
    if (n == 0 || n >= INET6_ADDRSTRLEN)
        return NULL;
    return arena_strndup(req->arena, h, n);
}

const char *
http_client_addr(http_req *req)
{
    const union MHD_ConnectionInfo *ci;
    char text[INET6_ADDRSTRLEN] = "";

    if (req->client_addr != NULL)
        return req->client_addr;
    if (req->server->trust_proxy &&
        (req->client_addr = forwarded_for(req)) != NULL)
        return req->client_addr;
    ci = MHD_get_connection_info(req->conn,
                                 MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci != NULL && ci->client_addr != NULL) {
        const struct sockaddr *sa = ci->client_addr;

        if (sa->sa_family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr,
                      text, sizeof(text));
        else if (sa->sa_family == AF_INET6)
            inet_ntop(AF_INET6,
                      &((const struct sockaddr_in6 *)sa)->sin6_addr, text,
                      sizeof(text));
    }
    req->client_addr = arena_strdup(req->arena, text);
    return req->client_addr;
}

const char *
http_param(const http_req *req, const char *name)
{
    for (int i = 0; i < req->params.count; i++)
        if (strcmp(req->params.names[i], name) == 0)
            return req->params.values[i];
    return NULL;
}

const char *
http_query(http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
                                       name);
}

const char *
http_header(http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

const char *
http_body(const http_req *req, size_t *len)
{
    if (len != NULL)
        *len = req->body.len;
    return buf_cstr((pd_buf *)&req->body);
}

const char *
http_cookie(http_req *req, const char *name)
{
    return MHD_lookup_connection_value(req->conn, MHD_COOKIE_KIND, name);
}

const struct http_route *
http_route_of(const http_req *req)
{
    return req->route;
}

void *
http_identity(http_req *req)
{
    return req->identity;
}

void
http_set_identity(http_req *req, void *identity)
{
    req->identity = identity;
}

void
http_refuse(http_req *req, int status, const char *code, const char *message)
{
    req->refused_status = status;
    req->refused_code = code ? arena_strdup(req->arena, code) : NULL;
    req->refused_message = arena_strdup(req->arena, message);
    if (req->body_error == PD_OK)
        req->body_error = PD_EINVAL; /* the body is read and discarded */
}

void
http_on_done(http_req *req, http_done_fn fn, void *arg)
{
    req->done_fn = fn;
    req->done_arg = arg;
}

uint64_t
http_body_seen(const http_req *req)
{
    return req->body_seen;
}

void *
http_user(http_req *req)
{
    return req->user;
}

void
http_set_user(http_req *req, void *user)
{
    req->user = user;
}

/* ---- request ids ---- */

/* A fast per-thread generator for request ids (unique, not secret). */
static uint64_t
next_random(void)
{
    static _Thread_local uint64_t state;
    uint64_t z;

    if (state == 0 && pd_random_bytes(&state, sizeof(state)) != PD_OK)
        state = (uint64_t)pd_mono_ns() | 1;
    z = (state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/*
 * Takes the trace id from X-Cloud-Trace-Context ("TRACE/SPAN;o=1") when
 * it is well formed (1..32 hex digits); the request id is that trace id,
 * or 32 fresh hex digits.
 */
static void
assign_request_id(http_req *req)
{
    const char *h = http_header(req, "X-Cloud-Trace-Context");
    size_t n = 0;

    if (h != NULL) {
        while (n < 32 && h[n] != '\0' && strchr("0123456789abcdefABCDEF",
                                                  h[n]) != NULL)
            n++;
        if (n > 0 && (h[n] == '\0' || h[n] == '/')) {
            memcpy(req->trace_id, h, n);
            req->trace_id[n] = '\0';
            memcpy(req->request_id, h, n + 1);
            req->request_id[n] = '\0';
            return;
        }
    }
    {
        uint64_t raw[2] = {next_random(), next_random()};

        pd_hex(req->request_id, raw, sizeof(raw));
    }
}

/* ---- life cycle ---- */

/* Called by the library when the request line is in: the raw URI. */
static void *
on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
    struct http_server *s = cls;
    arena *a = arena_new();
    http_req *req = a ? arena_alloc(a, sizeof(*req)) : NULL;
    const char *q;

    if (req == NULL) {
        arena_free(a);
        return NULL;
    }
    req->arena = a;
    req->server = s;
    req->conn = conn;
    req->start_ns = pd_mono_ns();
    req->route_index = ROUTER_NOT_FOUND;
    req->raw_uri = arena_strdup(req->arena, uri);
    q = strchr(req->raw_uri, '?');
    req->raw_query = q ? q + 1 : "";
    buf_init(&req->body);
    atomic_fetch_add(&s->in_flight, 1);
    return req;
}

/* Query parameters whose values are credentials: logged cut short. */
static const char *const secret_params[] = {"signature=", "token=",
                                            "id_token="};

/* Length of the credential parameter name starting at p, or 0. */
static size_t
secret_param_at(const char *uri, const char *p)
{
    if (p != uri && p[-1] != '?' && p[-1] != '&')
        return 0;
    for (size_t i = 0; i < sizeof(secret_params) / sizeof(*secret_params);
         i++) {
        size_t n = strlen(secret_params[i]);

        if (strncmp(p, secret_params[i], n) == 0)
            return n;
    }
    return 0;
}

/*
 * Appends the request URL (JSON-escaped) with the value of every
 * credential parameter cut to its first 6 characters, so logs never hold
 * a usable signature or token.
 */
static void
append_redacted_url(pd_buf *b, const char *uri)
{
    const char *p = uri;
    int keep = -1; /* characters of a credential value still to show */

    for (; *p != '\0'; p++) {
        char one[2] = {*p, '\0'};
        size_t name = secret_param_at(uri, p);

        if (name > 0) {
            buf_append(b, p, name);
            p += name - 1;
            keep = 6;
            continue;
        }
        if (keep >= 0 && *p == '&') {
            buf_puts(b, "...");
            keep = -1;
        }
        if (keep == 0)
            continue;
        if (keep > 0)
            keep--;
        buf_json_escaped(b, one);
    }
    if (keep >= 0)
        buf_puts(b, "...");
}

static void
access_log(http_req *req, double seconds)
{
    const char *ua;
    enum log_level level = req->status >= 500   ? LOG_ERROR
                           : req->status >= 400 ? LOG_WARNING
                                                : LOG_INFO;
    pd_buf f;

    if (!log_enabled(level))
        return;
    ua = http_header(req, "User-Agent");
    buf_init(&f);
    buf_puts(&f, "\"httpRequest\":{\"requestMethod\":");
    buf_json_string(&f, req->method ? req->method : "");
    buf_puts(&f, ",\"requestUrl\":\"");
    append_redacted_url(&f, req->raw_uri ? req->raw_uri : "");
    buf_puts(&f, "\"");
    buf_printf(&f, ",\"status\":%d,\"responseSize\":\"%llu\"",
               req->status, (unsigned long long)req->response_bytes);
    buf_puts(&f, ",\"remoteIp\":");
    buf_json_string(&f, http_client_addr(req));
    buf_puts(&f, ",\"userAgent\":");
    buf_json_string(&f, ua ? ua : "");
    buf_printf(&f, ",\"latency\":\"%.6fs\",\"protocol\":\"HTTP/1.1\"}",
               seconds);
    if (req->route != NULL) {
        buf_puts(&f, ",\"route\":");
        buf_json_string(&f, req->route->pattern);
    }
    log_write(level, buf_cstr(&f), "%s %s %d", req->method ? req->method : "-",
              req->path ? req->path : "-", req->status);
    buf_free(&f);
}

/* The route a request counts under: its own, or for a 405 the route
 * whose pattern the path fits. */
static int
metric_route(const http_req *req)
{
    const struct http_server *s = req->server;

    if (req->route != NULL)
        return s->metric_ids[req->route_index];
    if (req->route_index == ROUTER_METHOD_NOT_ALLOWED &&
        req->params.path_match >= 0)
        return s->metric_ids[req->params.path_match];
    return METRICS_ROUTE_UNMATCHED;
}

/* Called by the library when the request is finished, one way or other. */
static void
on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
             enum MHD_RequestTerminationCode why)
{
    struct http_server *s = cls;
    http_req *req = *req_cls;
    double seconds;

    if (req == NULL)
        return;
    seconds = (double)(pd_mono_ns() - req->start_ns) / 1e9;
    if (req->done_fn != NULL) {
        log_set_request(req->request_id, req->trace_id);
        req->done_fn(req, req->done_arg);
        req->done_fn = NULL;
    }
    if (req->started) {
        log_set_request(req->request_id, req->trace_id);
        if (!req->answered)
            req->status = why == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED
                              ? 408 : 499;
        if (req->route == NULL || !(req->route->flags & ROUTE_NO_LOG))
            access_log(req, seconds);
        metrics_http_done(metric_route(req),
                          req->method ? req->method : "OTHER",
                          req->status, seconds);
        log_clear_request();
    }
    buf_free(&req->body);
    *req_cls = NULL;
    arena_free(req->arena); /* req itself lives in its arena */
    atomic_fetch_sub(&s->in_flight, 1);
}

static void
on_connection(void *cls, struct MHD_Connection *conn, void **socket_ctx,
              enum MHD_ConnectionNotificationCode code)
{
    struct http_server *s = cls;

    if (code == MHD_CONNECTION_NOTIFY_STARTED)
        atomic_fetch_add(&s->connections, 1);
    else
        atomic_fetch_sub(&s->connections, 1);
}

/* ---- dispatch ---- */

/* A route's body limit in bytes; 0 for a streaming route without one. */
static size_t
body_limit(const struct http_route *rt)
{
    if (rt->max_body > 0)
        return rt->max_body;
    return rt->on_body != NULL ? 0 : HTTP_DEFAULT_MAX_BODY;
}

/* First call: route the request and check the declared body size. */
static void
begin_request(http_req *req, const char *method, const char *url)
{
    struct http_server *s = req->server;
    char *scratch;
    const char *cl;

    req->started = true;
    req->method = arena_strdup(req->arena, method);
    req->path = arena_strdup(req->arena, url);
    assign_request_id(req);
    log_set_request(req->request_id, req->trace_id);
    scratch = arena_alloc(req->arena, strlen(url) + 1);
    if (scratch == NULL) {
        req->body_error = PD_ENOMEM;
        return;
    }
    req->route_index = router_match(s->router, method, url, scratch,
                                    &req->params, req->allow,
                                    sizeof(req->allow));
    if (req->route_index >= 0)
        req->route = &s->routes[req->route_index];
    if (req->route != NULL && s->guard != NULL)
        s->guard(req, req->route);
    cl = http_header(req, "Content-Length");
    if (req->route != NULL && cl != NULL && req->refused_status == 0) {
        int64_t n;
        size_t max = body_limit(req->route);

        if (max > 0 && pd_parse_i64(cl, 0, INT64_MAX, &n) == PD_OK &&
            (uint64_t)n > max)
            req->body_error = PD_ETOOBIG;
    }
}

/*
 * Whether to refuse a body before reading it. Answering early makes the
 * library close the connection while the client may still be sending,
 * which many clients report as a network error instead of the 413; so
 * moderate bodies are read and discarded, and only a client that waits
 * for "100 Continue" or declares a huge body is answered at once.
 */
static bool
refuse_early(http_req *req)
{
    const char *expect = http_header(req, "Expect");
    const char *cl = http_header(req, "Content-Length");
    int64_t n = 0;

    if (req->body_error == PD_OK)
        return false;
    if (expect != NULL && strcasecmp(expect, "100-continue") == 0)
        return true;
    return cl != NULL && pd_parse_i64(cl, 0, INT64_MAX, &n) == PD_OK &&
           n > HTTP_DISCARD_MAX;
}

/*
 * libmicrohttpd 0.9.75 in epoll mode can miss a close that arrives
 * together with the last bytes of a body, and would wait for the idle
 * timeout. A streaming route's client that is gone is found with a peek
 * after each chunk of a body still short of its Content-Length, and its
 * connection is timed out at once, so the route lets go of what arrived.
 */
static void
notice_peer_close(http_req *req)
{
    const union MHD_ConnectionInfo *ci;
    const char *cl = http_header(req, "Content-Length");
    int64_t declared = 0;
    char c;

    if (cl == NULL || pd_parse_i64(cl, 0, INT64_MAX, &declared) != PD_OK ||
        req->body_seen >= (uint64_t)declared)
        return;
    ci = MHD_get_connection_info(req->conn,
                                 MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci != NULL &&
        recv(ci->connect_fd, &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
        MHD_set_connection_option(req->conn, MHD_CONNECTION_OPTION_TIMEOUT,
                                  1u);
}

/* A chunk of body: buffered within the limit, or handed to the route. */
static void
take_body(http_req *req, const char *data, size_t len)
{
    const struct http_route *rt = req->route;
    size_t max;

    req->body_seen += len;
    if (req->body_error != PD_OK || rt == NULL)
        return; /* discarded; the answer says why */
    max = body_limit(rt);
    if (rt->on_body != NULL) {
        if (max > 0 && req->body_seen > max)
            req->body_error = PD_ETOOBIG;
        else
            req->body_error = rt->on_body(req, data, len);
        if (req->body_error == PD_OK)
            notice_peer_close(req);
        return;
    }
    if (req->body.len + len > max) {
        req->body_error = PD_ETOOBIG;
        buf_free(&req->body);
        return;
    }
    buf_append(&req->body, data, len);
    if (req->body.failed)
        req->body_error = PD_ENOMEM;
}

static void
answer_body_error(http_req *req)
{
    int err = req->body_error;

    if (req->refused_status != 0)
        http_error(req, req->refused_status, req->refused_code,
                   req->refused_message);
    else if (err == PD_ETOOBIG)
        http_error(req, 413, NULL, "the request body is too large");
    else
        http_error(req, http_status_for_err(err), NULL,
                   "the request body could not be read");
}

/* Any method but the safe ones may change what is stored. */
static bool
may_change_state(const http_req *req)
{
    const char *m = req->method ? req->method : "";

    return strcmp(m, "GET") != 0 && strcmp(m, "HEAD") != 0 &&
           strcmp(m, "OPTIONS") != 0;
}

/* Last call: the whole request is in; run the handler. */
static void
finish_request(http_req *req)
{
    int rc;

    if (req->body_error != PD_OK && !req->answered) {
        answer_body_error(req);
        return;
    }
    if (req->route_index == ROUTER_METHOD_NOT_ALLOWED) {
        http_add_header(req, "Allow", req->allow);
        http_error(req, 405, NULL, "this method is not allowed here");
        return;
    }
    if (req->route == NULL) {
        http_error(req, 404, NULL, "no such page");
        return;
    }
    rc = req->route->handler(req);
    if (may_change_state(req) && req->server->after_change != NULL)
        req->server->after_change();
    if (!req->answered) {
        if (rc == PD_OK) {
            log_error("handler for %s returned without answering",
                      req->route->pattern);
            rc = PD_ERR;
        }
        http_error(req, http_status_for_err(rc), NULL,
                   rc == PD_EUNAVAIL ? "a service this needs is unavailable"
                                     : "the request failed");
    }
}

static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
           const char *method, const char *version, const char *upload,
           size_t *upload_size, void **req_cls)
{
    http_req *req = *req_cls;

    if (req == NULL)
        return MHD_NO;
    if (!req->started) {
        begin_request(req, method, url);
        if (refuse_early(req)) {
            answer_body_error(req);
            log_clear_request();
            return req->answered ? MHD_YES : MHD_NO;
        }
        log_clear_request();
        return MHD_YES;
    }
    log_set_request(req->request_id, req->trace_id);
    if (*upload_size > 0) {
        if (!req->answered)
            take_body(req, upload, *upload_size);
        *upload_size = 0;
        log_clear_request();
        /* Stop reading a refused body past the discard allowance. */
        return req->body_error != PD_OK && req->body_seen > HTTP_DISCARD_MAX
                   ? MHD_NO
                   : MHD_YES;
    }
    if (!req->answered)
        finish_request(req);
    log_clear_request();
    /* Closing is the only way left when no answer could be queued. */
    return req->answered ? MHD_YES : MHD_NO;
}

/* ---- daemon ---- */

static void
on_mhd_log(void *cls, const char *fmt, va_list ap)
{
    char line[512];
    size_t n;

    vsnprintf(line, sizeof(line), fmt, ap);
    n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    log_warn("http: %s", line);
}

static int
resolve_bind(const char *host, int port, struct sockaddr_storage *ss,
             char *err, size_t errlen)
{
    struct addrinfo hints = {.ai_flags = AI_NUMERICHOST | AI_PASSIVE,
                             .ai_socktype = SOCK_STREAM};
    struct addrinfo *ai = NULL;
    char service[16];
    int rc;

    snprintf(service, sizeof(service), "%d", port);
    rc = getaddrinfo(host, service, &hints, &ai);
    if (rc != 0 || ai == NULL) {
        snprintf(err, errlen, "cannot listen on %s: %s", host,
                 gai_strerror(rc));
        return PD_EINVAL;
    }
    memcpy(ss, ai->ai_addr, ai->ai_addrlen);
    freeaddrinfo(ai);
    return PD_OK;
}

static int
build_router(struct http_server *s, char *err, size_t errlen)
{
    s->router = router_new();
    if (s->router == NULL)
        return PD_ENOMEM;
    for (int i = 0; i < s->nroutes; i++) {
        const struct http_route *rt = &s->routes[i];

        if (router_add(s->router, rt->method, rt->pattern) != i) {
            snprintf(err, errlen, "bad route pattern %s", rt->pattern);
            return PD_EINVAL;
        }
        s->metric_ids[i] = metrics_route_register(rt->pattern);
    }
    return PD_OK;
}

static struct MHD_Daemon *
start_daemon(struct http_server *s, const struct http_server_config *cfg,
             const struct sockaddr_storage *addr)
{
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC |
                     MHD_USE_ERROR_LOG;

    if (addr->ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    return MHD_start_daemon(
        flags, (uint16_t)cfg->port, NULL, NULL, on_request, s,
        MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, s,
        MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)addr,
        MHD_OPTION_THREAD_POOL_SIZE, cfg->threads,
        MHD_OPTION_CONNECTION_TIMEOUT, cfg->connection_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->per_ip_connections,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->connection_memory,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024,
        MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_END);
}

int
http_server_start(const struct http_server_config *cfg,
                  const struct http_route *routes, int nroutes,
                  http_server **out, char *err, size_t errlen)
{
    struct http_server *s = calloc(1, sizeof(*s));
    struct sockaddr_storage addr;
    const union MHD_DaemonInfo *info;
    int rc;

    if (s == NULL)
        return PD_ENOMEM;
    s->routes = routes;
    s->nroutes = nroutes;
    snprintf(s->csp, sizeof(s->csp),
             "default-src 'self'; img-src 'self' data: blob:; "
             "style-src 'self'; script-src 'self'; object-src 'none'; "
             "base-uri 'none'; form-action 'self'; frame-ancestors %s",
             cfg->frame_ancestors && *cfg->frame_ancestors
                 ? cfg->frame_ancestors
                 : "'none'");
    s->guard = cfg->guard;
    s->decorate = cfg->decorate;
    s->after_change = cfg->after_change;
    s->trust_proxy = cfg->trust_proxy;
    rc = build_router(s, err, errlen);
    if (rc == PD_OK)
        rc = resolve_bind(cfg->host, cfg->port, &addr, err, errlen);
    if (rc != PD_OK)
        goto fail;
    s->daemon = start_daemon(s, cfg, &addr);
    if (s->daemon == NULL) {
        snprintf(err, errlen, "cannot listen on %s port %d: %s", cfg->host,
                 cfg->port, errno ? strerror(errno) : "unknown error");
        rc = PD_EIO;
        goto fail;
    }
    info = MHD_get_daemon_info(s->daemon, MHD_DAEMON_INFO_BIND_PORT);
    s->port = info ? info->port : cfg->port;
    *out = s;
    return PD_OK;
fail:
    router_free(s->router);
    free(s);
    return rc;
}

int
http_server_port(const http_server *s)
{
    return s->port;
}

unsigned
http_server_connections(const http_server *s)
{
    return atomic_load(&((http_server *)s)->connections);
}

unsigned
http_server_in_flight(const http_server *s)
{
    return atomic_load(&((http_server *)s)->in_flight);
}

unsigned
http_server_drain(http_server *s, int timeout_ms)
{
    MHD_socket listen_fd;
    int64_t deadline = pd_mono_ns() + (int64_t)timeout_ms * 1000000;
    struct timespec tick = {0, 10 * 1000000};

    atomic_store(&s->draining, true);
    listen_fd = MHD_quiesce_daemon(s->daemon);
    if (listen_fd != MHD_INVALID_SOCKET)
        close(listen_fd);
    while (atomic_load(&s->in_flight) > 0 && pd_mono_ns() < deadline)
        nanosleep(&tick, NULL);
    return atomic_load(&s->in_flight);
}

void
http_server_stop(http_server *s)
{
    if (s == NULL)
        return;
    if (s->daemon != NULL)
        MHD_stop_daemon(s->daemon);
    router_free(s->router);
    free(s);
}
