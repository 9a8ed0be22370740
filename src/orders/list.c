/*
 * list.c — pages of orders, newest first, and the counts per status
 * behind the dashboard's filter chips. Pages use keyset pagination on
 * (created_at, id) so a deep page costs what the first one does, and
 * each status filter walks orders_status_created_idx in order.
 */
#include "orders/orders_internal.h"

#include "common/err.h"
#include "common/util.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#define QUERY_ARGS_MAX 40
/* Below this many full-text matches SQLite fetches each by rowid. */
#define RARE_MATCHES 500
#define RARE_MATCHES_STR "500"

static const enum order_status open_states[] = {
    ORDER_PENDING, ORDER_IN_PRODUCTION, ORDER_PRINTED, ORDER_ON_HOLD,
};
#define N_OPEN 4

/* Which orders a page may show, resolved from the filter. */
struct plan {
    int status;       /* a status, STATUS_ALL or STATUS_OPEN */
    struct orders_search search;
    int64_t from;     /* created_at >= from */
    int64_t upper_at; /* (created_at, id) < (upper_at, upper_id) */
    int64_t upper_id;
    int limit;
    bool rare;        /* SQLite: the search word has few matches */
    bool warnings;    /* only orders with a warning flag */
    int64_t claimed_by; /* only orders this staff member holds; 0: any */
};
#define STATUS_ALL (-1)
#define STATUS_OPEN (-2)

/* A statement under construction and its arguments. */
struct query {
    pd_buf sql;
    db_arg args[QUERY_ARGS_MAX];
    int n;
    bool pg;
};

static void
add_arg(struct query *q, db_arg a)
{
    if (q->n < QUERY_ARGS_MAX)
        q->args[q->n++] = a;
    else
        q->sql.failed = true;
}

/* ---- the filter ---- */

/* "created_id" of the last row shown; PD_EINVAL when malformed. */
static int
parse_cursor(const char *c, int64_t *at, int64_t *id)
{
    char part[24];
    const char *sep = strchr(c, '_');
    size_t n = sep != NULL ? (size_t)(sep - c) : 0;

    if (sep == NULL || n == 0 || n >= sizeof(part))
        return PD_EINVAL;
    memcpy(part, c, n);
    part[n] = '\0';
    if (pd_parse_i64(part, 0, INT64_MAX, at) != PD_OK ||
        pd_parse_i64(sep + 1, 1, INT64_MAX, id) != PD_OK)
        return PD_EINVAL;
    return PD_OK;
}

static int
parse_status(const char *s, int *out)
{
    if (s == NULL || s[0] == '\0')
        *out = STATUS_ALL;
    else if (strcmp(s, "open") == 0)
        *out = STATUS_OPEN;
    else if ((*out = orders_status_parse(s)) < 0)
        return PD_EINVAL;
    return PD_OK;
}

/* The upper bound is the lower of `to` and the cursor's position. */
static int
make_bounds(const struct orders_filter *f, struct plan *p, char *msg,
            size_t len)
{
    int64_t at, id;

    p->from = f->has_from ? f->from_ms : INT64_MIN;
    p->upper_at = f->has_to ? f->to_ms : INT64_MAX;
    p->upper_id = f->has_to ? INT64_MIN : INT64_MAX;
    if (f->has_from && f->has_to && f->from_ms >= f->to_ms) {
        snprintf(msg, len, "from must be before to");
        return PD_EINVAL;
    }
    if (f->cursor == NULL)
        return PD_OK;
    if (parse_cursor(f->cursor, &at, &id) != PD_OK) {
        snprintf(msg, len, "cursor is not valid");
        return PD_EINVAL;
    }
    if (at < p->upper_at || (at == p->upper_at && id < p->upper_id)) {
        p->upper_at = at;
        p->upper_id = id;
    }
    return PD_OK;
}

static int
make_plan(db *d, const struct orders_filter *f, arena *a, struct plan *p,
          char *msg, size_t len)
{
    memset(p, 0, sizeof(*p));
    if (parse_status(f->status, &p->status) != PD_OK) {
        snprintf(msg, len, "status must be open or one of pending, "
                           "in_production, printed, completed, on_hold, "
                           "cancelled");
        return PD_EINVAL;
    }
    p->limit = f->limit == 0 ? ORDERS_LIMIT_DEFAULT : f->limit;
    if (p->limit < 1 || p->limit > ORDERS_LIMIT_MAX) {
        snprintf(msg, len, "limit must be from 1 to %d", ORDERS_LIMIT_MAX);
        return PD_EINVAL;
    }
    if (make_bounds(f, p, msg, len) != PD_OK)
        return PD_EINVAL;
    p->warnings = f->warnings_only;
    p->claimed_by = f->claimed_by;
    if (f->email_index != NULL) {
        memset(&p->search, 0, sizeof(p->search));
        p->search.kind = SEARCH_EMAIL;
        p->search.email_index = f->email_index;
        p->search.email_index_previous = f->email_index_previous;
        return PD_OK;
    }
    return orders_search_parse(db_kind(d), f->q, a, &p->search, msg, len);
}

/* ---- the statement ---- */

static void
add_range(struct query *q, const struct plan *p)
{
    const char *param = q->pg ? "CAST(? AS BIGINT)" : "?";

    buf_printf(&q->sql, "created_at >= %s AND (created_at, id) < (%s, %s)",
               param, param, param);
    add_arg(q, DB_INT(p->from));
    add_arg(q, DB_INT(p->upper_at));
    add_arg(q, DB_INT(p->upper_id));
    if (p->warnings)
        buf_puts(&q->sql, " AND warning_flags <> 0");
    if (p->claimed_by > 0) {
        buf_printf(&q->sql, " AND claimed_by = %s",
                   q->pg ? "CAST(? AS BIGINT)" : "?");
        add_arg(q, DB_INT(p->claimed_by));
    }
}

/* The status as a literal from the workflow's own names: a plan cached
 * for one status must not be reused for another of other selectivity. */
static void
add_status(struct query *q, const struct plan *p)
{
    if (p->status >= 0)
        buf_printf(&q->sql, " AND status = '%s'",
                   orders_status_name(p->status));
    else if (p->status == STATUS_OPEN)
        buf_puts(&q->sql, " AND status IN ('pending', 'in_production', "
                          "'printed', 'on_hold')");
}

/*
 * The search as a condition. While walking an index in order (walk),
 * SQLite probes each entry against the set of full-text matches; `+id`
 * keeps its planner from fetching every match by rowid and sorting them
 * all instead. Counting needs every match anyway, so it fetches them.
 */
/* email_bidx matching the address's index (under either key). */
static void
add_email(struct query *q, const struct orders_search *s)
{
    const unsigned char *prev = s->email_index_previous;

    buf_puts(&q->sql, prev ? "email_bidx IN (?, ?)" : "email_bidx = ?");
    add_arg(q, DB_BLOB(s->email_index, ORDERS_EMAIL_INDEX_LEN));
    if (prev != NULL)
        add_arg(q, DB_BLOB(prev, ORDERS_EMAIL_INDEX_LEN));
}

static void
add_search(struct query *q, const struct orders_search *s, bool walk)
{
    if (s->kind == SEARCH_NUMBER) {
        buf_puts(&q->sql, " AND (order_number = ? OR name = ?)");
        add_arg(q, DB_INT(s->number));
        add_arg(q, DB_TEXT(s->name));
    } else if (s->kind == SEARCH_TEXT && q->pg) {
        buf_puts(&q->sql, " AND search_tsv @@ to_tsquery('simple', ?)");
        add_arg(q, DB_TEXT(s->expr));
    } else if (s->kind == SEARCH_TEXT) {
        buf_printf(&q->sql, " AND %sid IN (SELECT rowid FROM orders_fts "
                   "WHERE orders_fts MATCH ?)", walk ? "+" : "");
        add_arg(q, DB_TEXT(s->expr));
    } else if (s->kind == SEARCH_EMAIL) {
        buf_puts(&q->sql, " AND ");
        add_email(q, s);
    }
}

static const char order_by[] = " ORDER BY created_at DESC, id DESC";

/*
 * What the inner scans select. SQLite walks an index for the page's ids
 * only (the index covers them, so the walk never touches the table) and
 * reads the rows of those ids afterwards; PostgreSQL reads the rows as
 * it walks.
 */
static const char *
scan_cols(const struct query *q)
{
    return q->pg ? ORDERS_SUMMARY_COLS : "id, created_at";
}

/* One ordered index walk, or the few matches of a rare search word
 * fetched by rowid and sorted. */
static void
scan_single(struct query *q, const struct plan *p)
{
    if (p->search.kind == SEARCH_EMAIL) {
        /* A customer's few orders, found by the e-mail index first. */
        buf_puts(&q->sql, "SELECT ");
        buf_puts(&q->sql, scan_cols(q));
        buf_puts(&q->sql, " FROM (SELECT id AS rid FROM orders WHERE ");
        add_email(q, &p->search);
        /* CROSS JOIN keeps SQLite's loop order; PostgreSQL says JOIN. */
        buf_printf(&q->sql, ") AS f %sJOIN orders ON orders.id = f.rid "
                   "WHERE ", q->pg ? "" : "CROSS ");
        add_range(q, p);
        add_status(q, p);
    } else if (p->rare) {
        /* CROSS JOIN: SQLite keeps the matches as the outer loop. */
        buf_printf(&q->sql, "SELECT %s FROM (SELECT rowid AS rid FROM "
                   "orders_fts WHERE orders_fts MATCH ?) AS f CROSS JOIN "
                   "orders ON orders.id = f.rid WHERE ", scan_cols(q));
        add_arg(q, DB_TEXT(p->search.expr));
        add_range(q, p);
        add_status(q, p);
    } else {
        buf_printf(&q->sql, "SELECT %s FROM orders WHERE ", scan_cols(q));
        add_range(q, p);
        add_status(q, p);
        add_search(q, &p->search, true);
    }
    buf_printf(&q->sql, "%s LIMIT ?", order_by);
    add_arg(q, DB_INT(p->limit + 1));
}

/*
 * The open orders without a search: the newest of each open status
 * (each an ordered walk of the status index), merged. An IN list over
 * the index would have to sort every open order instead.
 */
static void
scan_open_union(struct query *q, const struct plan *p)
{
    for (int i = 0; i < N_OPEN; i++) {
        buf_printf(&q->sql, "%sSELECT * FROM (SELECT %s FROM orders "
                   "WHERE status = '%s' AND ", i ? " UNION ALL " : "",
                   scan_cols(q), orders_status_name(open_states[i]));
        add_range(q, p);
        buf_printf(&q->sql, "%s LIMIT ?) AS s%d", order_by, i);
        add_arg(q, DB_INT(p->limit + 1));
    }
    buf_printf(&q->sql, "%s LIMIT ?", order_by);
    add_arg(q, DB_INT(p->limit + 1));
}

static void
page_select(struct query *q, const struct plan *p)
{
    if (!q->pg)
        buf_puts(&q->sql, "SELECT " ORDERS_SUMMARY_COLS " FROM orders "
                          "WHERE id IN (SELECT id FROM (");
    if (p->status == STATUS_OPEN && p->search.kind == SEARCH_NONE)
        scan_open_union(q, p);
    else
        scan_single(q, p);
    if (!q->pg)
        buf_printf(&q->sql, ") AS page)%s", order_by);
}

/*
 * SQLite: a word with few matches is cheaper to fetch match by match
 * than to find by walking the index; count up to RARE_MATCHES of them.
 */
static int
check_rare(db *d, struct plan *p)
{
    static const char sql[] =
        "SELECT COUNT(*) FROM (SELECT rowid FROM orders_fts "
        "WHERE orders_fts MATCH ? LIMIT " RARE_MATCHES_STR ")";
    int64_t n = 0;
    int rc;

    if (db_kind(d) != DB_SQLITE || p->search.kind != SEARCH_TEXT)
        return PD_OK;
    rc = db_query_int(d, sql, (db_arg[]){DB_TEXT(p->search.expr)}, 1, &n);
    p->rare = rc == PD_OK && n < RARE_MATCHES;
    return rc;
}

/* ---- the page ---- */

static int
read_page(db *d, struct query *q, const struct plan *p, arena *a,
          struct orders_page *out)
{
    db_rows *r = NULL;
    int rc = db_query(d, buf_cstr(&q->sql), q->args, q->n, &r);
    int n = 0;

    while (rc == PD_OK && (rc = db_step(r)) == 1) {
        if (n == p->limit) {
            /* One more row than asked for: there is a next page. */
            const struct order_summary *last = &out->rows[n - 1];

            out->next_cursor = arena_printf(a, "%lld_%lld",
                                            (long long)last->created_at,
                                            (long long)last->id);
            rc = out->next_cursor != NULL ? 0 : PD_ENOMEM;
            break;
        }
        rc = orders_read_summary(r, a, &out->rows[n++]);
    }
    db_rows_free(r);
    out->n = n;
    return rc < 0 ? rc : PD_OK;
}

int
orders_list(db *d, const struct orders_filter *f, arena *a,
            struct orders_page *out)
{
    struct query q = {.pg = db_kind(d) == DB_POSTGRES};
    struct plan p;
    int rc;

    memset(out, 0, sizeof(*out));
    rc = make_plan(d, f, a, &p, out->message, sizeof(out->message));
    if (rc != PD_OK || p.search.kind == SEARCH_NOTHING)
        return rc;
    out->rows = arena_alloc(a, (size_t)p.limit * sizeof(*out->rows));
    if (out->rows == NULL || (rc = check_rare(d, &p)) != PD_OK)
        return out->rows == NULL ? PD_ENOMEM : rc;
    buf_init(&q.sql);
    page_select(&q, &p);
    rc = q.sql.failed ? PD_ENOMEM : read_page(d, &q, &p, a, out);
    buf_free(&q.sql);
    if (rc == PD_OK)
        rc = orders_load_pets(d, a, out->rows, out->n);
    return rc;
}

/* ---- counts ---- */

static void
tally(struct orders_counts *out, const char *status, int64_t n)
{
    int s = orders_status_parse(status);

    if (s < 0)
        return;
    out->by_status[s] += n;
}

static void
totals(struct orders_counts *out)
{
    out->open = out->total = 0;
    for (int i = 0; i < ORDER_STATUS_COUNT; i++) {
        out->total += out->by_status[i];
        if (orders_status_is_open(orders_status_name(i)))
            out->open += out->by_status[i];
    }
}

/*
 * Unfiltered: completed orders outnumber the rest by far, so count all
 * orders (SQLite keeps that count cheap) and the others, and subtract.
 * One statement, so one consistent snapshot.
 */
static int
count_all(db *d, struct orders_counts *out)
{
    static const char sql[] =
        "SELECT (SELECT COUNT(*) FROM orders), "
        "(SELECT COUNT(*) FROM orders WHERE status = 'pending'), "
        "(SELECT COUNT(*) FROM orders WHERE status = 'in_production'), "
        "(SELECT COUNT(*) FROM orders WHERE status = 'printed'), "
        "(SELECT COUNT(*) FROM orders WHERE status = 'on_hold'), "
        "(SELECT COUNT(*) FROM orders WHERE status = 'cancelled')";
    static const enum order_status cols[] = {
        ORDER_PENDING, ORDER_IN_PRODUCTION, ORDER_PRINTED, ORDER_ON_HOLD,
        ORDER_CANCELLED};
    db_rows *r = NULL;
    int rc = db_query(d, sql, NULL, 0, &r);
    int64_t rest;

    if (rc == PD_OK && (rc = db_step(r)) == 1) {
        rest = db_col_int(r, 0);
        for (int i = 0; i < 5; i++) {
            out->by_status[cols[i]] = db_col_int(r, i + 1);
            rest -= out->by_status[cols[i]];
        }
        out->by_status[ORDER_COMPLETED] = rest;
        rc = PD_OK;
    } else if (rc == 0) {
        rc = PD_ERR;
    }
    db_rows_free(r);
    return rc;
}

/*
 * The unfiltered counts of the status chips, shared by every request for
 * COUNTS_FRESH_MS: they cost a millisecond or more on a large shop and
 * every list page shows them, while a second's lag in a chip is harmless.
 */
#define COUNTS_FRESH_MS 1000

static struct {
    pthread_mutex_t lock;
    bool valid;
    int64_t at_ms;
    uint64_t generation; /* bumped by orders_counts_forget */
    struct orders_counts counts;
} shared_counts = {.lock = PTHREAD_MUTEX_INITIALIZER};

void
orders_counts_forget(void)
{
    pthread_mutex_lock(&shared_counts.lock);
    shared_counts.valid = false;
    shared_counts.generation++;
    pthread_mutex_unlock(&shared_counts.lock);
}

static uint64_t
counts_generation(void)
{
    uint64_t g;

    pthread_mutex_lock(&shared_counts.lock);
    g = shared_counts.generation;
    pthread_mutex_unlock(&shared_counts.lock);
    return g;
}

static bool
fresh_counts(struct orders_counts *out)
{
    bool hit;

    pthread_mutex_lock(&shared_counts.lock);
    hit = shared_counts.valid &&
          pd_now_ms() - shared_counts.at_ms < COUNTS_FRESH_MS;
    if (hit)
        *out = shared_counts.counts;
    pthread_mutex_unlock(&shared_counts.lock);
    return hit;
}

static int
count_all_shared(db *d, struct orders_counts *out)
{
    uint64_t generation;
    int rc;

    if (fresh_counts(out))
        return PD_OK;
    generation = counts_generation();
    rc = count_all(d, out);
    if (rc != PD_OK)
        return rc;
    pthread_mutex_lock(&shared_counts.lock);
    if (generation == shared_counts.generation) {
        shared_counts.counts = *out;
        shared_counts.at_ms = pd_now_ms();
        shared_counts.valid = true;
    }
    pthread_mutex_unlock(&shared_counts.lock);
    return PD_OK;
}

static int
count_filtered(db *d, const struct plan *p, struct orders_counts *out)
{
    struct query q = {.pg = db_kind(d) == DB_POSTGRES};
    db_rows *r = NULL;
    int rc;

    buf_init(&q.sql);
    buf_puts(&q.sql, "SELECT status, COUNT(*) FROM orders WHERE ");
    add_range(&q, p);
    add_search(&q, &p->search, false);
    buf_puts(&q.sql, " GROUP BY status");
    rc = q.sql.failed ? PD_ENOMEM
                      : db_query(d, buf_cstr(&q.sql), q.args, q.n, &r);
    while (rc == PD_OK && (rc = db_step(r)) == 1) {
        tally(out, db_col_text(r, 0), db_col_int(r, 1));
        rc = PD_OK;
    }
    db_rows_free(r);
    buf_free(&q.sql);
    return rc < 0 ? rc : PD_OK;
}

static int
count(db *d, const struct orders_filter *f, bool shared,
      struct orders_counts *out)
{
    struct orders_filter g = *f;
    struct plan p;
    char msg[ORDERS_MSG_MAX];
    arena *a = arena_new();
    int rc;

    memset(out, 0, sizeof(*out));
    if (a == NULL)
        return PD_ENOMEM;
    g.status = NULL;
    g.limit = 0;
    g.cursor = NULL;
    rc = make_plan(d, &g, a, &p, msg, sizeof(msg));
    if (rc == PD_OK && p.search.kind == SEARCH_NONE && !f->has_from &&
        !f->has_to && !p.warnings && p.claimed_by == 0)
        rc = shared ? count_all_shared(d, out) : count_all(d, out);
    else if (rc == PD_OK && p.search.kind != SEARCH_NOTHING)
        rc = count_filtered(d, &p, out);
    arena_free(a);
    if (rc == PD_OK)
        totals(out);
    return rc;
}

int
orders_count(db *d, const struct orders_filter *f,
             struct orders_counts *out)
{
    return count(d, f, false, out);
}

int
orders_count_shared(db *d, const struct orders_filter *f,
                    struct orders_counts *out)
{
    return count(d, f, true, out);
}
