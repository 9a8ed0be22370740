/*
 * log.h — structured logs: one JSON object per line on stderr, in the shape
 * Cloud Logging reads (severity, message, time, trace, request id, and
 * event fields). The HTTP layer sets the current request on each worker
 * thread, so every line a handler logs names its request.
 */
#ifndef PD_LOG_H
#define PD_LOG_H

#include <stdbool.h>

enum log_level { LOG_DEBUG, LOG_INFO, LOG_NOTICE, LOG_WARNING, LOG_ERROR };

/*
 * Sets the threshold (lines below it are dropped) and whether lines go out
 * as JSON (the default) or as plain text for a terminal.
 */
void log_setup(enum log_level min_level, bool json);
/* True when lines of this level are written (to skip building them). */
bool log_enabled(enum log_level level);
/* Parses "debug", "info", ...; returns -1 for anything else. */
int log_level_parse(const char *name);
/* The project id that turns a trace id into Cloud Logging's trace path. */
void log_set_project(const char *project_id);

/*
 * The request the calling thread is serving, or NULL when none. The
 * strings are borrowed: they must outlive the call to log_clear_request.
 */
void log_set_request(const char *request_id, const char *trace_id);
void log_clear_request(void);
const char *log_request_id(void);

/*
 * Writes one line. fields, when not NULL, is the inside of a JSON object
 * (e.g. "\"order\":\"1042\",\"actor\":\"staff:7\"") appended to the line.
 */
void log_write(enum log_level level, const char *fields, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_debug(...) log_write(LOG_DEBUG, NULL, __VA_ARGS__)
#define log_info(...) log_write(LOG_INFO, NULL, __VA_ARGS__)
#define log_notice(...) log_write(LOG_NOTICE, NULL, __VA_ARGS__)
#define log_warn(...) log_write(LOG_WARNING, NULL, __VA_ARGS__)
#define log_error(...) log_write(LOG_ERROR, NULL, __VA_ARGS__)

/* Writes an already-formatted JSON object line (the access log). */
void log_raw_line(const char *json, unsigned long len);

#endif
