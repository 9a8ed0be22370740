/*
 * bare_mhd.c — the baseline for bench/run.sh: a bare libmicrohttpd server
 * in printdesk's mode (epoll, internal thread pool of 2) that answers every
 * request on 127.0.0.1 with a fixed 16-byte JSON body, queued in the second
 * callback so that keep-alive holds (platform-facts §9). Usage: bare_mhd PORT
 */
#include <microhttpd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define POOL_THREADS 2

static const char body[] = "{\"status\":\"ok\"}\n";

static struct MHD_Response *ok_response;

/* First call (headers in): mark the request and wait; second call: reply. */
static enum MHD_Result
on_request(void *cls, struct MHD_Connection *conn, const char *url,
           const char *method, const char *version, const char *upload,
           size_t *upload_size, void **req_cls)
{
    static int seen;

    (void)cls;
    (void)url;
    (void)method;
    (void)version;
    (void)upload;
    if (*req_cls == NULL) {
        *req_cls = &seen;
        return MHD_YES;
    }
    if (*upload_size != 0) {
        *upload_size = 0;
        return MHD_YES;
    }
    return MHD_queue_response(conn, MHD_HTTP_OK, ok_response);
}

/* Reads PORT (1-65535) from argv; 0 on a bad value. */
static unsigned short
parse_port(int argc, char **argv)
{
    char *end = NULL;
    long v;

    if (argc != 2)
        return 0;
    v = strtol(argv[1], &end, 10);
    if (end == argv[1] || *end != '\0' || v < 1 || v > 65535)
        return 0;
    return (unsigned short)v;
}

int
main(int argc, char **argv)
{
    unsigned short port = parse_port(argc, argv);
    struct sockaddr_in addr = {.sin_family = AF_INET};
    struct MHD_Daemon *d;
    sigset_t stop;
    int sig = 0;

    if (port == 0) {
        fprintf(stderr, "usage: bare_mhd PORT\n");
        return 2;
    }
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    ok_response = MHD_create_response_from_buffer(
        sizeof(body) - 1, (void *)body, MHD_RESPMEM_PERSISTENT);
    if (ok_response == NULL ||
        MHD_add_response_header(ok_response, "Content-Type",
                                "application/json") != MHD_YES)
        return 1;
    d = MHD_start_daemon(MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ITC |
                             MHD_USE_ERROR_LOG,
                         port, NULL, NULL, on_request, NULL,
                         MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
                         MHD_OPTION_THREAD_POOL_SIZE, POOL_THREADS,
                         MHD_OPTION_LISTEN_BACKLOG_SIZE, 1024,
                         MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "bare_mhd: cannot listen on port %u\n", port);
        return 1;
    }
    while (sigwait(&stop, &sig) != 0)
        ;
    MHD_stop_daemon(d);
    MHD_destroy_response(ok_response);
    return 0;
}
