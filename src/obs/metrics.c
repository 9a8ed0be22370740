/*
 * metrics.c — counters and histograms in fixed arrays of atomics for the
 * request path, a mutex-guarded list for labelled domain counters, gauges
 * (plain or labelled) read at scrape time, and the Prometheus text
 * renderer.
 */
#include "obs/metrics.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Methods and statuses get fixed slots so recording is one atomic add. */
static const char *const method_names[] = {
    "GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "OTHER",
};
#define N_METHODS 8

static const int status_codes[] = {
    200, 201, 204, 206, 301, 302, 303, 304, 400, 401, 403, 404, 405,
    408, 409, 410, 412, 413, 415, 416, 422, 429, 460, 500, 502, 503,
    504,
};
#define N_STATUS_KNOWN ((int)(sizeof(status_codes) / sizeof(int)))
#define N_STATUS (N_STATUS_KNOWN + 1) /* the last slot: any other code */

static const double bucket_bounds[] = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
    0.25, 0.5, 1, 2, 2.5, 5, 10,
};
#define N_BUCKETS ((int)(sizeof(bucket_bounds) / sizeof(double)))

struct route_stats {
    atomic_uint_fast64_t requests[N_METHODS][N_STATUS];
    atomic_uint_fast64_t buckets[N_BUCKETS];
    atomic_uint_fast64_t count;
    atomic_uint_fast64_t sum_ns;
};

/* Slot 0 is the unmatched route; registered routes follow. */
static char *route_labels[METRICS_MAX_ROUTES + 1];
static struct route_stats route_stats[METRICS_MAX_ROUTES + 1];
static atomic_int route_count = 1;

struct series {
    struct series *next;
    char *labels; /* rendered: topic="orders/create",result="ok" */
    atomic_int_fast64_t value;
};

struct metrics_family {
    struct metrics_family *next;
    char *name;
    char *help;
    char **label_names;
    int n_labels;
    struct series *series;
};

struct gauge {
    struct gauge *next;
    char *name;
    char *help;
    metrics_gauge_fn fn;
};

struct labeled_gauge {
    struct labeled_gauge *next;
    char *name;
    char *help;
    char **label_names;
    int n_labels;
    metrics_labeled_gauge_fn fn;
};

/* Where a labelled gauge's reading goes while it renders. */
struct metrics_gauge_sink {
    pd_buf *out;
    const struct labeled_gauge *g;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct metrics_family *families;
static struct gauge *gauges;
/* Prepended at start and freed only at shutdown, so a render may walk
 * the list outside the lock. */
static struct labeled_gauge *labeled_gauges;

int
metrics_route_register(const char *label)
{
    int idx;

    pthread_mutex_lock(&registry_lock);
    /* Methods of one pattern share its slot: one series per route. */
    for (idx = 1; idx < atomic_load(&route_count); idx++) {
        if (strcmp(route_labels[idx], label) == 0) {
            pthread_mutex_unlock(&registry_lock);
            return idx - 1;
        }
    }
    idx = atomic_load(&route_count);
    if (idx > METRICS_MAX_ROUTES) {
        pthread_mutex_unlock(&registry_lock);
        return -1;
    }
    route_labels[idx] = strdup(label);
    atomic_store(&route_count, idx + 1);
    pthread_mutex_unlock(&registry_lock);
    return idx - 1;
}

static int
method_slot(const char *method)
{
    for (int i = 0; i < N_METHODS - 1; i++)
        if (strcmp(method, method_names[i]) == 0)
            return i;
    return N_METHODS - 1;
}

static int
status_slot(int status)
{
    for (int i = 0; i < N_STATUS_KNOWN; i++)
        if (status_codes[i] == status)
            return i;
    return N_STATUS_KNOWN;
}

void
metrics_http_done(int route, const char *method, int status,
                  double seconds)
{
    int slot = route + 1;
    struct route_stats *rs;

    if (slot < 0 || slot >= atomic_load(&route_count))
        slot = 0;
    rs = &route_stats[slot];
    atomic_fetch_add_explicit(
        &rs->requests[method_slot(method)][status_slot(status)], 1,
        memory_order_relaxed);
    for (int i = 0; i < N_BUCKETS; i++) {
        if (seconds <= bucket_bounds[i]) {
            atomic_fetch_add_explicit(&rs->buckets[i], 1,
                                      memory_order_relaxed);
            break;
        }
    }
    atomic_fetch_add_explicit(&rs->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&rs->sum_ns,
                              (uint_fast64_t)(seconds * 1e9),
                              memory_order_relaxed);
}

/* Splits "a,b" into a malloc'd array of malloc'd names. */
static int
split_labels(const char *names, char ***out)
{
    int n = 0;
    char **arr = NULL;
    const char *p = names;

    while (p != NULL && *p != '\0') {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        char **grown = realloc(arr, sizeof(char *) * (size_t)(n + 1));

        if (grown == NULL)
            break;
        arr = grown;
        arr[n++] = strndup(p, len);
        p = comma ? comma + 1 : NULL;
    }
    *out = arr;
    return n;
}

metrics_family *
metrics_counter_family(const char *name, const char *help,
                       const char *label_names)
{
    metrics_family *f = calloc(1, sizeof(*f));

    if (f == NULL)
        return NULL;
    f->name = strdup(name);
    f->help = strdup(help);
    f->n_labels = split_labels(label_names, &f->label_names);
    pthread_mutex_lock(&registry_lock);
    f->next = families;
    families = f;
    pthread_mutex_unlock(&registry_lock);
    return f;
}

/* Label values escaped as the exposition format asks (\\, \", \n). */
static void
append_label_value(pd_buf *b, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            buf_printf(b, "\\%c", *v);
        else if (*v == '\n')
            buf_puts(b, "\\n");
        else
            buf_append(b, v, 1);
    }
}

static struct series *
find_series(metrics_family *f, const char *labels)
{
    for (struct series *s = f->series; s != NULL; s = s->next)
        if (strcmp(s->labels, labels) == 0)
            return s;
    return NULL;
}

void
metrics_counter_add(metrics_family *f, const char *const *values,
                    int64_t by)
{
    pd_buf key;
    struct series *s;

    if (f == NULL)
        return;
    buf_init(&key);
    for (int i = 0; i < f->n_labels; i++) {
        buf_printf(&key, "%s%s=\"", i ? "," : "", f->label_names[i]);
        append_label_value(&key, values[i] ? values[i] : "");
        buf_puts(&key, "\"");
    }
    pthread_mutex_lock(&registry_lock);
    s = find_series(f, buf_cstr(&key));
    if (s == NULL && !key.failed && (s = calloc(1, sizeof(*s))) != NULL) {
        s->labels = strdup(buf_cstr(&key));
        s->next = f->series;
        f->series = s;
    }
    pthread_mutex_unlock(&registry_lock);
    if (s != NULL)
        atomic_fetch_add_explicit(&s->value, by, memory_order_relaxed);
    buf_free(&key);
}

void
metrics_gauge(const char *name, const char *help, metrics_gauge_fn fn)
{
    struct gauge *g = calloc(1, sizeof(*g));

    if (g == NULL)
        return;
    g->name = strdup(name);
    g->help = strdup(help);
    g->fn = fn;
    pthread_mutex_lock(&registry_lock);
    g->next = gauges;
    gauges = g;
    pthread_mutex_unlock(&registry_lock);
}

void
metrics_labeled_gauge(const char *name, const char *help,
                      const char *label_names, metrics_labeled_gauge_fn fn)
{
    struct labeled_gauge *g = calloc(1, sizeof(*g));

    if (g == NULL)
        return;
    g->name = strdup(name);
    g->help = strdup(help);
    g->n_labels = split_labels(label_names, &g->label_names);
    g->fn = fn;
    pthread_mutex_lock(&registry_lock);
    g->next = labeled_gauges;
    labeled_gauges = g;
    pthread_mutex_unlock(&registry_lock);
}

void
metrics_gauge_series(metrics_gauge_sink *sink, const char *const *values,
                     double value)
{
    const struct labeled_gauge *g = sink->g;

    buf_printf(sink->out, "%s{", g->name);
    for (int i = 0; i < g->n_labels; i++) {
        buf_printf(sink->out, "%s%s=\"", i ? "," : "", g->label_names[i]);
        append_label_value(sink->out, values[i] ? values[i] : "");
        buf_puts(sink->out, "\"");
    }
    buf_printf(sink->out, "} %.17g\n", value);
}

/* Reads each labelled gauge; called without the registry's lock. */
static void
render_labeled_gauges(pd_buf *b, struct labeled_gauge *head)
{
    for (struct labeled_gauge *g = head; g != NULL; g = g->next) {
        struct metrics_gauge_sink sink = {b, g};

        buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", g->name, g->help,
                   g->name);
        g->fn(&sink);
    }
}

static const char *
route_label(int slot)
{
    return slot == 0 ? "unmatched" : route_labels[slot];
}

static void
render_requests_total(pd_buf *b, int n_routes)
{
    buf_puts(b, "# HELP http_requests_total HTTP requests answered, by "
                "route pattern, method and status.\n"
                "# TYPE http_requests_total counter\n");
    for (int r = 0; r < n_routes; r++) {
        for (int m = 0; m < N_METHODS; m++) {
            for (int s = 0; s < N_STATUS; s++) {
                uint64_t v = atomic_load(&route_stats[r].requests[m][s]);

                if (v == 0)
                    continue;
                buf_puts(b, "http_requests_total{route=\"");
                append_label_value(b, route_label(r));
                if (s < N_STATUS_KNOWN)
                    buf_printf(b, "\",method=\"%s\",status=\"%d\"} %lu\n",
                               method_names[m], status_codes[s],
                               (unsigned long)v);
                else
                    buf_printf(b, "\",method=\"%s\",status=\"other\"} "
                                  "%lu\n", method_names[m],
                               (unsigned long)v);
            }
        }
    }
}

static void
render_histogram_route(pd_buf *b, int r)
{
    const char *name = "dashboard_request_duration_seconds";
    struct route_stats *rs = &route_stats[r];
    uint64_t cumulative = 0, count = atomic_load(&rs->count);

    if (count == 0)
        return;
    for (int i = 0; i < N_BUCKETS; i++) {
        cumulative += atomic_load(&rs->buckets[i]);
        buf_printf(b, "%s_bucket{route=\"", name);
        append_label_value(b, route_label(r));
        buf_printf(b, "\",le=\"%g\"} %lu\n", bucket_bounds[i],
                   (unsigned long)cumulative);
    }
    buf_printf(b, "%s_bucket{route=\"", name);
    append_label_value(b, route_label(r));
    buf_printf(b, "\",le=\"+Inf\"} %lu\n", (unsigned long)count);
    buf_printf(b, "%s_sum{route=\"", name);
    append_label_value(b, route_label(r));
    buf_printf(b, "\"} %.6f\n", (double)atomic_load(&rs->sum_ns) / 1e9);
    buf_printf(b, "%s_count{route=\"", name);
    append_label_value(b, route_label(r));
    buf_printf(b, "\"} %lu\n", (unsigned long)count);
}

static void
render_families(pd_buf *b)
{
    for (metrics_family *f = families; f != NULL; f = f->next) {
        buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n", f->name,
                   f->help, f->name);
        for (struct series *s = f->series; s != NULL; s = s->next) {
            if (s->labels[0] == '\0')
                buf_printf(b, "%s %ld\n", f->name,
                           (long)atomic_load(&s->value));
            else
                buf_printf(b, "%s{%s} %ld\n", f->name, s->labels,
                           (long)atomic_load(&s->value));
        }
    }
    for (struct gauge *g = gauges; g != NULL; g = g->next)
        buf_printf(b, "# HELP %s %s\n# TYPE %s gauge\n%s %.17g\n",
                   g->name, g->help, g->name, g->name, g->fn());
}

void
metrics_render(pd_buf *b)
{
    int n_routes = atomic_load(&route_count);
    struct labeled_gauge *labeled;

    render_requests_total(b, n_routes);
    buf_puts(b, "# HELP dashboard_request_duration_seconds Time from "
                "request headers to the response being queued, by route.\n"
                "# TYPE dashboard_request_duration_seconds histogram\n");
    for (int r = 0; r < n_routes; r++)
        render_histogram_route(b, r);
    pthread_mutex_lock(&registry_lock);
    render_families(b);
    labeled = labeled_gauges;
    pthread_mutex_unlock(&registry_lock);
    render_labeled_gauges(b, labeled);
}

static void
free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static void
free_labeled_gauge(struct labeled_gauge *g)
{
    free_names(g->label_names, g->n_labels);
    free(g->name);
    free(g->help);
    free(g);
}

static void
free_family(metrics_family *f)
{
    struct series *s, *next;

    for (s = f->series; s != NULL; s = next) {
        next = s->next;
        free(s->labels);
        free(s);
    }
    free_names(f->label_names, f->n_labels);
    free(f->name);
    free(f->help);
    free(f);
}

void
metrics_shutdown(void)
{
    pthread_mutex_lock(&registry_lock);
    while (families != NULL) {
        metrics_family *f = families;

        families = f->next;
        free_family(f);
    }
    while (gauges != NULL) {
        struct gauge *g = gauges;

        gauges = g->next;
        free(g->name);
        free(g->help);
        free(g);
    }
    while (labeled_gauges != NULL) {
        struct labeled_gauge *g = labeled_gauges;

        labeled_gauges = g->next;
        free_labeled_gauge(g);
    }
    for (int i = 1; i < atomic_load(&route_count); i++) {
        free(route_labels[i]);
        route_labels[i] = NULL;
    }
    atomic_store(&route_count, 1);
    memset(route_stats, 0, sizeof(route_stats));
    pthread_mutex_unlock(&registry_lock);
}
