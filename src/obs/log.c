/*
 * log.c — structured log lines on stderr. Each line is built in a
 * thread-local buffer and written with one write(2), so lines from
 * different threads never interleave.
 */
#include "obs/log.h"

#include "common/util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define LOG_MESSAGE_MAX 2048

static enum log_level min_level = LOG_INFO;
static bool as_json = true;
static char project_id[128];

static _Thread_local const char *current_request_id;
static _Thread_local const char *current_trace_id;

static const char *const severity_names[] = {
    [LOG_DEBUG] = "DEBUG",     [LOG_INFO] = "INFO",
    [LOG_NOTICE] = "NOTICE",   [LOG_WARNING] = "WARNING",
    [LOG_ERROR] = "ERROR",
};

void
log_setup(enum log_level level, bool json)
{
    min_level = level;
    as_json = json;
}

bool
log_enabled(enum log_level level)
{
    return level >= min_level;
}

int
log_level_parse(const char *name)
{
    static const char *const names[] = {"debug", "info", "notice",
                                        "warning", "error"};

    for (int i = 0; i < (int)(sizeof(names) / sizeof(names[0])); i++)
        if (strcasecmp(name, names[i]) == 0)
            return i;
    return -1;
}

void
log_set_project(const char *id)
{
    snprintf(project_id, sizeof(project_id), "%s", id ? id : "");
}

void
log_set_request(const char *request_id, const char *trace_id)
{
    current_request_id = request_id;
    current_trace_id = trace_id;
}

void
log_clear_request(void)
{
    current_request_id = NULL;
    current_trace_id = NULL;
}

const char *
log_request_id(void)
{
    return current_request_id;
}

static void
write_all(const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(STDERR_FILENO, p, n);

        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

void
log_raw_line(const char *json, unsigned long len)
{
    write_all(json, len);
}

/* The request/trace part shared by every JSON line. */
static void
append_request_fields(pd_buf *b)
{
    if (current_trace_id != NULL && current_trace_id[0] != '\0') {
        buf_puts(b, ",\"logging.googleapis.com/trace\":\"");
        if (project_id[0] != '\0') {
            buf_puts(b, "projects/");
            buf_json_escaped(b, project_id);
            buf_puts(b, "/traces/");
        }
        buf_json_escaped(b, current_trace_id);
        buf_puts(b, "\"");
    }
    if (current_request_id != NULL) {
        buf_puts(b, ",\"requestId\":");
        buf_json_string(b, current_request_id);
    }
}

/* RFC 3339 time of now; the seconds part is formatted once a second. */
static void
now_text(char out[40])
{
    static _Thread_local int64_t cached_second = -1;
    static _Thread_local char cached[40];
    int64_t ms = pd_now_ms();

    if (ms / 1000 != cached_second) {
        cached_second = ms / 1000;
        pd_format_time(cached, cached_second * 1000);
    }
    memcpy(out, cached, 20); /* "YYYY-MM-DDTHH:MM:SS." */
    out[20] = (char)('0' + ms % 1000 / 100);
    out[21] = (char)('0' + ms % 100 / 10);
    out[22] = (char)('0' + ms % 10);
    out[23] = 'Z';
    out[24] = '\0';
}

static void
format_json(pd_buf *b, enum log_level level, const char *fields,
            const char *message)
{
    char when[40];

    now_text(when);
    buf_printf(b, "{\"severity\":\"%s\",\"time\":\"%s\",\"message\":",
               severity_names[level], when);
    buf_json_string(b, message);
    append_request_fields(b);
    if (fields != NULL && fields[0] != '\0') {
        buf_puts(b, ",");
        buf_puts(b, fields);
    }
    buf_puts(b, "}\n");
}

static void
format_text(pd_buf *b, enum log_level level, const char *fields,
            const char *message)
{
    char when[40];

    now_text(when);
    buf_printf(b, "%s %-7s ", when, severity_names[level]);
    if (current_request_id != NULL)
        buf_printf(b, "[%.8s] ", current_request_id);
    buf_puts(b, message);
    if (fields != NULL && fields[0] != '\0')
        buf_printf(b, " {%s}", fields);
    buf_puts(b, "\n");
}

void
log_write(enum log_level level, const char *fields, const char *fmt, ...)
{
    pd_buf line;
    char message[LOG_MESSAGE_MAX];
    va_list ap;

    if (level < min_level)
        return;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);

    buf_init(&line);
    if (as_json)
        format_json(&line, level, fields, message);
    else
        format_text(&line, level, fields, message);
    if (!line.failed)
        write_all(line.data, line.len);
    buf_free(&line);
}
