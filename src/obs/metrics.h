/*
 * metrics.h — Prometheus metrics: the HTTP request counters and latency
 * histogram (lock-free, on the hot path), labelled counters for domain
 * events, gauges read at scrape time, and the text exposition format.
 */
#ifndef PD_METRICS_H
#define PD_METRICS_H

#include "common/util.h"

#include <stdint.h>

#define METRICS_MAX_ROUTES 64
#define METRICS_ROUTE_UNMATCHED (-1)

/*
 * Registers a route label (its path pattern) before serving starts;
 * returns the index to pass to metrics_http_done, or -1 when full.
 */
int metrics_route_register(const char *label);

/*
 * Records one finished request: route index (or METRICS_ROUTE_UNMATCHED),
 * method, status and duration. Safe from any thread.
 */
void metrics_http_done(int route, const char *method, int status,
                       double seconds);

/* A counter family with labels, e.g. ("webhook_deliveries_total", ...,
 * "topic,result"). Families live until exit; create them at start. */
typedef struct metrics_family metrics_family;
metrics_family *metrics_counter_family(const char *name, const char *help,
                                       const char *label_names);
/* Adds `by` to the series with these label values (as many as names). */
void metrics_counter_add(metrics_family *f, const char *const *values,
                         int64_t by);

/* A gauge whose value is read when /metrics is scraped. */
typedef double (*metrics_gauge_fn)(void);
void metrics_gauge(const char *name, const char *help, metrics_gauge_fn fn);

/*
 * A gauge family with labels, read when /metrics is scraped: fn reports
 * each series through metrics_gauge_series (from inside fn only). fn
 * runs outside the registry's lock, so it may query the database.
 * Register at start; families live until metrics_shutdown.
 */
typedef struct metrics_gauge_sink metrics_gauge_sink;
typedef void (*metrics_labeled_gauge_fn)(metrics_gauge_sink *sink);
void metrics_labeled_gauge(const char *name, const char *help,
                           const char *label_names,
                           metrics_labeled_gauge_fn fn);
/* One series of the family being read: as many values as label names. */
void metrics_gauge_series(metrics_gauge_sink *sink,
                          const char *const *values, double value);

/* Appends the whole exposition (text format 0.0.4) to out. */
void metrics_render(pd_buf *out);

/* Frees the families (at exit, so leak checkers stay quiet). */
void metrics_shutdown(void);

#endif
