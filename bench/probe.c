/*
 * probe.c — the timing helper of bench/run.sh: finds a free loopback port,
 * waits for GET /healthz to answer 200 (one try per millisecond), and times
 * a server from spawn to its first 200. Prints milliseconds on stdout.
 *   probe free-port
 *   probe wait PORT TIMEOUT_MS [PID]   (gives up early once PID has exited)
 *   probe start PORT TIMEOUT_MS CMD [ARGS...]   (CMD's output is discarded)
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define POLL_INTERVAL_NS 1000000L /* 1 ms between tries */
#define STOP_GRACE_MS 15000       /* SIGKILL a child that ignores SIGTERM */

static const char request[] =
    "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";

static double
now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void
sleep_interval(void)
{
    struct timespec ts = {0, POLL_INTERVAL_NS};

    nanosleep(&ts, NULL);
}

/* Parses a decimal in [lo, hi]; -1 when it is not one. */
static long
parse_num(const char *s, long lo, long hi)
{
    char *end = NULL;
    long v;

    errno = 0;
    v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
        return -1;
    return v;
}

static struct sockaddr_in
loopback(unsigned short port)
{
    struct sockaddr_in a = {.sin_family = AF_INET};

    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

/* One try: 1 when GET /healthz answered with status 200, else 0. */
static int
healthz_ok(unsigned short port)
{
    struct sockaddr_in a = loopback(port);
    struct timeval tv = {1, 0};
    char buf[64];
    size_t got = 0;
    ssize_t n;
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), ok = 0;

    if (fd < 0)
        return 0;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        write(fd, request, sizeof(request) - 1) !=
            (ssize_t)(sizeof(request) - 1))
        goto done;
    while (got < 12 &&
           (n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
        got += (size_t)n;
    buf[got] = '\0';
    ok = got >= 12 && strncmp(buf, "HTTP/1.", 7) == 0 &&
         strncmp(buf + 8, " 200", 4) == 0;
done:
    close(fd);
    return ok;
}

/* Prints a port the kernel hands out for 127.0.0.1 (free right now). */
static int
free_port(void)
{
    struct sockaddr_in a = loopback(0);
    socklen_t len = sizeof(a);
    int fd = socket(AF_INET, SOCK_STREAM, 0);

    if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) != 0) {
        perror("probe: free-port");
        return 1;
    }
    close(fd);
    printf("%u\n", ntohs(a.sin_port));
    return 0;
}

/* 1 when process pid (not our child) is gone or a zombie. */
static int
process_gone(pid_t pid)
{
    char path[64], buf[256], *close_paren;
    FILE *f;
    size_t n;

    snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    f = fopen(path, "r");
    if (f == NULL)
        return 1;
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    close_paren = strrchr(buf, ')');
    return close_paren != NULL && close_paren[1] == ' ' &&
           close_paren[2] == 'Z';
}

/* 1 when the watched server has exited: our child (reaped) or another. */
static int
server_exited(pid_t child, pid_t other)
{
    int status;

    if (child > 0 && waitpid(child, &status, WNOHANG) == child)
        return 1;
    return other > 0 && process_gone(other);
}

/*
 * Polls until 200 (returns 0), the timeout (1) or the exit of child (our
 * own, reaped) or other (someone else's) (2).
 */
static int
poll_until_ok(unsigned short port, double start, long timeout_ms,
              pid_t child, pid_t other)
{
    for (;;) {
        if (healthz_ok(port))
            return 0;
        if (server_exited(child, other)) {
            fprintf(stderr, "probe: the server exited before it answered\n");
            return 2;
        }
        if (now_ms() - start > (double)timeout_ms) {
            fprintf(stderr, "probe: no 200 from /healthz on port %u "
                    "within %ld ms\n", port, timeout_ms);
            return 1;
        }
        sleep_interval();
    }
}

static pid_t
spawn_quiet(char **argv)
{
    pid_t pid = fork();
    int null_fd;

    if (pid != 0)
        return pid;
    null_fd = open("/dev/null", O_RDWR);
    if (null_fd >= 0) {
        dup2(null_fd, STDIN_FILENO);
        dup2(null_fd, STDOUT_FILENO);
        dup2(null_fd, STDERR_FILENO);
    }
    execvp(argv[0], argv);
    _exit(127);
}

/* SIGTERM, then SIGKILL after STOP_GRACE_MS; reaps the child. */
static void
stop_child(pid_t pid)
{
    double start = now_ms();
    int status;

    kill(pid, SIGTERM);
    while (waitpid(pid, &status, WNOHANG) == 0) {
        if (now_ms() - start > STOP_GRACE_MS) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return;
        }
        sleep_interval();
    }
}

/* Times CMD from fork to the first 200 from /healthz, then stops it. */
static int
time_start(unsigned short port, long timeout_ms, char **cmd)
{
    double start = now_ms(), elapsed;
    pid_t pid = spawn_quiet(cmd);
    int rc;

    if (pid < 0) {
        perror("probe: fork");
        return 1;
    }
    rc = poll_until_ok(port, start, timeout_ms, pid, 0);
    elapsed = now_ms() - start;
    if (rc != 2)
        stop_child(pid);
    if (rc == 0)
        printf("%.2f\n", elapsed);
    return rc == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
    long port = argc > 2 ? parse_num(argv[2], 1, 65535) : -1;
    long timeout = argc > 3 ? parse_num(argv[3], 1, 600000) : -1;
    long other = argc == 5 ? parse_num(argv[4], 1, 1L << 30) : 0;
    double start = now_ms();

    if (argc == 2 && strcmp(argv[1], "free-port") == 0)
        return free_port();
    if ((argc == 4 || argc == 5) && strcmp(argv[1], "wait") == 0 &&
        port > 0 && timeout > 0 && other >= 0) {
        if (poll_until_ok((unsigned short)port, start, timeout, 0,
                          (pid_t)other) != 0)
            return 1;
        printf("%.2f\n", now_ms() - start);
        return 0;
    }
    if (argc >= 5 && strcmp(argv[1], "start") == 0 && port > 0 &&
        timeout > 0)
        return time_start((unsigned short)port, timeout, argv + 4);
    fprintf(stderr, "usage: probe free-port | probe wait PORT TIMEOUT_MS "
            "[PID] | probe start PORT TIMEOUT_MS CMD [ARGS...]\n");
    return 2;
}
