/*
 * server.h — starting, draining and stopping the HTTP server: the
 * libmicrohttpd daemon in thread-pool mode with epoll, and the limits its
 * defaults leave open.
 */
#ifndef PD_SERVER_H
#define PD_SERVER_H

#include "http/http.h"

#include <stddef.h>

typedef struct http_server http_server;

struct http_server_config {
    const char *host;               /* numeric address to bind */
    int port;                       /* 0: any free port */
    unsigned threads;               /* worker threads (the pool) */
    unsigned connection_timeout_s;  /* idle connection timeout */
    unsigned max_connections;       /* total open connections */
    unsigned per_ip_connections;    /* open connections per address */
    size_t connection_memory;       /* per-connection buffer: caps headers */
    const char *frame_ancestors;    /* CSP frame-ancestors sources */
    http_guard_fn guard;            /* may be NULL: everything is open */
    http_decorate_fn decorate;      /* may be NULL */
    bool trust_proxy;               /* client address from X-Forwarded-For */
    /*
     * May be NULL. Runs when the handler of a request that may change
     * state (any method but GET, HEAD and OPTIONS) has returned, before
     * its answer goes out: caches of what it may have changed drop here.
     */
    void (*after_change)(void);
};

/*
 * Starts serving routes (the table must outlive the server). On failure
 * returns a pd_err with a one-line reason in err.
 */
int http_server_start(const struct http_server_config *cfg,
                      const struct http_route *routes, int nroutes,
                      http_server **out, char *err, size_t errlen);
/* The port actually bound (useful when cfg->port was 0). */
int http_server_port(const http_server *s);
/* Open client connections and requests in flight, for metrics. */
unsigned http_server_connections(const http_server *s);
unsigned http_server_in_flight(const http_server *s);
/*
 * Stops accepting new connections and waits up to timeout_ms for the
 * requests in flight to finish. Returns how many were still running.
 */
unsigned http_server_drain(http_server *s, int timeout_ms);
/* Closes every connection and frees the server. Accepts NULL. */
void http_server_stop(http_server *s);

#endif
