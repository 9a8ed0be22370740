/*
 * http_internal.h — the request context shared by server.c (which owns
 * its life cycle) and respond.c (which builds answers). Not for handlers.
 */
#ifndef PD_HTTP_INTERNAL_H
#define PD_HTTP_INTERNAL_H

#include "http/http.h"
#include "http/router.h"

#include <microhttpd.h>
#include <stdint.h>

struct http_server;

struct pending_header {
    struct pending_header *next;
    const char *name;
    const char *value;
};

struct http_req {
    struct http_server *server;
    struct MHD_Connection *conn;
    arena *arena;
    const struct http_route *route;
    int route_index;          /* or a ROUTER_* code */
    char allow[64];           /* methods allowed, for a 405 */
    const char *method;
    const char *path;
    const char *raw_uri;      /* as sent: path and query */
    const char *raw_query;
    const char *client_addr;
    struct router_params params;
    char request_id[40];
    char trace_id[40];
    int64_t start_ns;
    bool started;             /* the access handler has run once */
    bool answered;
    int status;
    uint64_t response_bytes;
    int body_error;           /* pd_err from reading the body */
    int refused_status;       /* set by http_refuse */
    const char *refused_code;
    const char *refused_message;
    void *identity;
    uint64_t body_seen;
    pd_buf body;
    struct pending_header *headers;
    void *user;
    http_done_fn done_fn;
    void *done_arg;
};

/* The Content-Security-Policy value, and whether the server drains. */
const char *http_server_csp(const struct http_server *s);
bool http_server_is_draining(const struct http_server *s);
http_decorate_fn http_server_decorator(const struct http_server *s);

/* Adds the request id and security headers, then queues the response. */
int http_queue(http_req *req, int status, struct MHD_Response *resp);

#endif
