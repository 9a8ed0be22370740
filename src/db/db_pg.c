/*
 * db_pg.c — the PostgreSQL backend over libpq: `?` to `$n` rewriting,
 * statements prepared once per connection, text results with bytea
 * decoded, SQLSTATE mapped to pd_err, and reconnecting after the server
 * went away (the failing call reports PD_EUNAVAIL, the next one resets).
 */
#include "db/db_internal.h"

#include "common/err.h"
#include "common/util.h"
#include "obs/log.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

#define CONNECT_TIMEOUT_S "3"
#define MAX_ARGS 1000
#define OID_BOOL 16
#define OID_BYTEA 17
#define RETRY 1
/* After a failed reconnect, calls fail at once for this long instead of
 * each waiting out the connect timeout while the server is down. */
#define RESET_BACKOFF_NS 1000000000LL

struct pg_db {
    struct db base;
    PGconn *conn;
    bool need_reset; /* the connection broke; reset before the next use */
    unsigned next_id; /* statement names s1, s2, ... */
    int64_t reset_failed_ns; /* monotonic time of the last failed reset */
};

struct pg_rows {
    struct db_rows base;
    PGresult *res;
    int row;    /* the current row; -1 before the first step */
    int nrows;
    int ncols;
    unsigned char **blobs; /* bytea of the current row, decoded on demand */
    size_t *blob_len;
};

/* Parameters in libpq's shape, with their text in one block. */
struct pg_params {
    const char **vals;
    int *lens;
    int *fmts;
    char *text;
};

static PGconn *conn_of(db *d)
{
    return ((struct pg_db *)d)->conn;
}

/* Copies a libpq message into out on one line. */
static void one_line(char *out, size_t outlen, const char *msg)
{
    size_t n = 0;

    for (const char *p = msg; *p != '\0' && n + 1 < outlen; p++) {
        if (*p == '\n' && p[1] == '\0')
            break;
        if (*p == '\t' && n > 0 && out[n - 1] == ' ')
            continue;
        out[n++] = *p == '\n' || *p == '\r' || *p == '\t' ? ' ' : *p;
    }
    out[n] = '\0';
}

/* --- `?` placeholders ------------------------------------------------- */

static bool ident_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c >= '0' && c <= '9') || c == '_' || (unsigned char)c >= 0x80;
}

/* Length of a dollar-quote tag at s ("$$" or "$tag$"), or 0. */
static size_t dollar_tag(const char *s)
{
    size_t n = 1;

    if (s[1] >= '0' && s[1] <= '9')
        return 0;
    while (ident_char(s[n]))
        n++;
    return s[n] == '$' ? n + 1 : 0;
}

/* Index just past the quoted run starting at sql[i] (quote q). With
 * backslashes (E'...') a backslash escapes the next character. */
static size_t skip_quoted(const char *sql, size_t i, char q, bool backslashes)
{
    for (i++; sql[i] != '\0'; i++) {
        if (backslashes && sql[i] == '\\' && sql[i + 1] != '\0')
            i++;
        else if (sql[i] == q && sql[i + 1] == q)
            i++;
        else if (sql[i] == q)
            return i + 1;
    }
    return i;
}

/* Index just past the comment or dollar-quoted string at sql[i], or i. */
static size_t skip_other(const char *sql, size_t i)
{
    if (sql[i] == '-' && sql[i + 1] == '-') {
        while (sql[i] != '\0' && sql[i] != '\n')
            i++;
    } else if (sql[i] == '/' && sql[i + 1] == '*') {
        int depth = 0; /* PostgreSQL nests block comments */

        for (; sql[i] != '\0'; i++) {
            if (sql[i] == '/' && sql[i + 1] == '*')
                depth++, i++;
            else if (sql[i] == '*' && sql[i + 1] == '/' && --depth == 0)
                return i + 2;
            else if (sql[i] == '*' && sql[i + 1] == '/')
                i++;
        }
    } else if (sql[i] == '$' && (i == 0 || !ident_char(sql[i - 1]))) {
        size_t tag = dollar_tag(sql + i);
        const char *end;

        if (tag == 0)
            return i;
        end = strstr(sql + i + tag, "$");
        while (end != NULL && strncmp(end, sql + i, tag) != 0)
            end = strstr(end + 1, "$");
        return end != NULL ? (size_t)(end - sql) + tag : strlen(sql);
    }
    return i;
}

/* Writes sql into out with every `?` outside strings, quoted identifiers
 * and comments numbered $1, $2, ...; returns how many, or <0. */
static int rewrite_placeholders(const char *sql, pd_buf *out)
{
    int n = 0;
    size_t i = 0;

    while (sql[i] != '\0') {
        size_t start = i, next;
        char c = sql[i];

        if (c == '\'' || c == '"') {
            bool esc = c == '\'' && i > 0 &&
                       (sql[i - 1] == 'E' || sql[i - 1] == 'e') &&
                       (i < 2 || !ident_char(sql[i - 2]));
            next = skip_quoted(sql, i, c, esc);
        } else if (c == '?') {
            buf_printf(out, "$%d", ++n);
            i++;
            continue;
        } else {
            next = skip_other(sql, i);
            if (next == i)
                next = i + 1;
        }
        buf_append(out, sql + start, next - start);
        i = next;
    }
    buf_append(out, "", 1);
    return out->failed ? PD_ENOMEM : n;
}

/* --- errors and the connection ---------------------------------------- */

static int map_sqlstate(const char *st)
{
    if (st == NULL)
        return PD_ERR;
    if (strcmp(st, "23505") == 0 || strcmp(st, "23503") == 0)
        return PD_ECONFLICT;
    if (strncmp(st, "08", 2) == 0 || strcmp(st, "57P01") == 0 ||
        strcmp(st, "57P02") == 0 || strcmp(st, "57P03") == 0 ||
        strcmp(st, "53300") == 0)
        return PD_EUNAVAIL;
    if (strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0 ||
        strcmp(st, "55P03") == 0)
        return PD_EBUSY;
    if (strcmp(st, "53200") == 0)
        return PD_ENOMEM;
    return PD_ERR;
}

/* The connection is gone: fail this call, reset on the next. */
static int lost(db *d)
{
    struct pg_db *p = (struct pg_db *)d;
    char line[400];

    one_line(line, sizeof(line), PQerrorMessage(p->conn));
    db_set_err(d, "postgres: connection lost: %s", line);
    p->need_reset = true;
    if (d->in_tx)
        d->tx_lost = true;
    return PD_EUNAVAIL;
}

/* 0 when res holds a success, else records the error and maps it. */
static int check_result(db *d, const PGresult *res)
{
    ExecStatusType st = PQresultStatus(res);
    const char *state, *msg;
    char line[400];

    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
        return 0;
    if (PQstatus(conn_of(d)) == CONNECTION_BAD)
        return lost(d);
    state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
    msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
    if (msg == NULL)
        msg = PQerrorMessage(conn_of(d));
    one_line(line, sizeof(line), msg);
    db_set_err(d, "postgres: %s (%s)", line, state != NULL ? state : "-");
    return map_sqlstate(state);
}

/* Reconnects a broken connection; its prepared statements are gone. */
static int ensure_conn(db *d)
{
    struct pg_db *p = (struct pg_db *)d;
    char line[400];

    if (!p->need_reset && PQstatus(p->conn) == CONNECTION_OK)
        return 0;
    if (d->in_tx)
        d->tx_lost = true;
    if (p->reset_failed_ns != 0 &&
        pd_mono_ns() - p->reset_failed_ns < RESET_BACKOFF_NS)
        return PD_EUNAVAIL; /* errmsg still says why */
    PQreset(p->conn);
    db_cache_forget(d);
    if (PQstatus(p->conn) != CONNECTION_OK) {
        one_line(line, sizeof(line), PQerrorMessage(p->conn));
        db_set_err(d, "postgres: reconnect failed: %s", line);
        p->need_reset = true;
        p->reset_failed_ns = pd_mono_ns();
        return PD_EUNAVAIL;
    }
    p->need_reset = false;
    p->reset_failed_ns = 0;
    d->stats.reconnects++;
    log_info("db: reconnected to PostgreSQL");
    return 0;
}

/* Evicted from the cache: the server forgets the statement too. */
static void release_stmt(db *d, void *handle)
{
    char sql[40];
    PGresult *res;

    if (PQstatus(conn_of(d)) != CONNECTION_OK)
        return;
    snprintf(sql, sizeof(sql), "DEALLOCATE s%u", (unsigned)(uintptr_t)handle);
    res = PQexec(conn_of(d), sql);
    PQclear(res);
}

/* --- statements ---------------------------------------------------------- */

static int prepare(db *d, const char *sql, uint64_t hash,
                   struct db_cache_entry **out)
{
    struct pg_db *p = (struct pg_db *)d;
    pd_buf text;
    char name[16];
    PGresult *res = NULL;
    unsigned id = ++p->next_id;
    int n, rc;

    buf_init(&text);
    n = rewrite_placeholders(sql, &text);
    if (n < 0) {
        rc = n;
        goto done;
    }
    snprintf(name, sizeof(name), "s%u", id);
    res = PQprepare(p->conn, name, text.data, n, NULL);
    rc = check_result(d, res);
    if (rc < 0)
        goto done;
    d->stats.prepares++;
    *out = db_cache_put(d, sql, hash, (void *)(uintptr_t)id, n);
    if (*out == NULL) {
        release_stmt(d, (void *)(uintptr_t)id);
        rc = PD_ENOMEM;
    }
done:
    PQclear(res);
    buf_free(&text);
    return rc;
}

static int get_stmt(db *d, const char *sql, struct db_cache_entry **out)
{
    uint64_t hash = db_cache_hash(sql);

    *out = db_cache_find(d, sql, hash);
    if (*out != NULL) {
        d->stats.hits++;
        return 0;
    }
    return prepare(d, sql, hash, out);
}

static void params_free(struct pg_params *pp)
{
    free(pp->vals);
    free(pp->lens);
    free(pp->fmts);
    free(pp->text);
}

/* Bytes of text storage argument a needs (0 for NULL and blobs). */
static size_t text_need(const db_arg *a)
{
    if (a->type == DB_T_INT || a->type == DB_T_REAL)
        return 32;
    return a->type == DB_T_TEXT ? a->len + 1 : 0;
}

static int param_one(db *d, const db_arg *a, char *slot, const char **val,
                     int *len, int *fmt)
{
    switch (a->type) {
    case DB_T_NULL:
        *val = NULL;
        return 0;
    case DB_T_INT:
        snprintf(slot, 32, "%" PRId64, a->i);
        break;
    case DB_T_REAL:
        snprintf(slot, 32, "%.17g", a->d);
        break;
    case DB_T_TEXT:
        if (a->len > 0 && memchr(a->p, '\0', a->len) != NULL) {
            db_set_err(d, "postgres: text argument holds a NUL byte");
            return PD_EINVAL;
        }
        if (a->len > 0)
            memcpy(slot, a->p, a->len);
        slot[a->len] = '\0';
        break;
    case DB_T_BLOB:
        *val = a->p != NULL ? a->p : "";
        *len = (int)a->len;
        *fmt = 1;
        return 0;
    default:
        return PD_EINVAL;
    }
    *val = slot;
    return 0;
}

static int params_build(db *d, const db_arg *args, int n,
                        struct pg_params *pp)
{
    size_t need = 1, off = 0;
    int rc = 0;

    memset(pp, 0, sizeof(*pp));
    for (int i = 0; i < n; i++) {
        if (args[i].len > INT_MAX - 1) {
            db_set_err(d, "postgres: argument %d is too large", i + 1);
            return PD_ETOOBIG;
        }
        need += text_need(&args[i]);
    }
    pp->vals = calloc((size_t)n + 1, sizeof(*pp->vals));
    pp->lens = calloc((size_t)n + 1, sizeof(*pp->lens));
    pp->fmts = calloc((size_t)n + 1, sizeof(*pp->fmts));
    pp->text = malloc(need);
    if (!pp->vals || !pp->lens || !pp->fmts || !pp->text)
        return PD_ENOMEM;
    for (int i = 0; i < n && rc == 0; i++) {
        rc = param_one(d, &args[i], pp->text + off, &pp->vals[i],
                       &pp->lens[i], &pp->fmts[i]);
        off += text_need(&args[i]);
    }
    return rc;
}

static bool has_state(const PGresult *res, const char *want)
{
    const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);

    return st != NULL && strcmp(st, want) == 0;
}

/* 0, <0, or RETRY when the statement should be prepared again. */
static int run_once(db *d, const char *sql, const db_arg *args, int nargs,
                    PGresult **out)
{
    struct db_cache_entry *e = NULL;
    struct pg_params pp;
    char name[16];
    int rc;

    rc = get_stmt(d, sql, &e);
    if (rc < 0)
        return rc;
    if (e->nparams != nargs) {
        db_set_err(d, "postgres: statement has %d placeholders, "
                      "%d arguments", e->nparams, nargs);
        return PD_EINVAL;
    }
    rc = params_build(d, args, nargs, &pp);
    if (rc == 0) {
        snprintf(name, sizeof(name), "s%u", (unsigned)(uintptr_t)e->handle);
        *out = PQexecPrepared(conn_of(d), name, nargs, pp.vals, pp.lens,
                              pp.fmts, 0);
        rc = check_result(d, *out);
        /* The server forgot the statement (DISCARD, a pooler): drop it
         * so that a retry prepares it again. */
        if (rc < 0 && has_state(*out, "26000")) {
            db_cache_drop(d, e);
            rc = RETRY;
        }
    }
    params_free(&pp);
    return rc;
}

/* Runs sql; *out receives the result (the caller PQclears it). */
static int run(db *d, const char *sql, const db_arg *args, int nargs,
               PGresult **out)
{
    int rc;

    *out = NULL;
    if (nargs > MAX_ARGS) {
        db_set_err(d, "postgres: more than %d arguments", MAX_ARGS);
        return PD_ETOOBIG;
    }
    rc = ensure_conn(d);
    if (rc < 0)
        return rc;
    rc = run_once(d, sql, args, nargs, out);
    if (rc == RETRY && !d->in_tx) {
        PQclear(*out);
        *out = NULL;
        rc = run_once(d, sql, args, nargs, out);
    }
    if (rc == RETRY)
        rc = PD_ERR;
    if (rc < 0) {
        PQclear(*out);
        *out = NULL;
    }
    return rc;
}

static int pg_exec(db *d, const char *sql, const db_arg *args, int nargs,
                   int64_t *changes)
{
    PGresult *res = NULL;
    int rc = run(d, sql, args, nargs, &res);

    if (rc == 0 && changes != NULL) {
        const char *n = PQcmdTuples(res);

        *changes = n[0] != '\0' ? strtoll(n, NULL, 10) : 0;
    }
    PQclear(res);
    return rc;
}

static int pg_query(db *d, const char *sql, const db_arg *args, int nargs,
                    db_rows **out)
{
    PGresult *res = NULL;
    struct pg_rows *r;
    int rc = run(d, sql, args, nargs, &res);

    if (rc < 0)
        return rc;
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        PQclear(res);
        return PD_ENOMEM;
    }
    r->base.d = d;
    r->res = res;
    r->row = -1;
    r->nrows = PQntuples(res);
    r->ncols = PQnfields(res);
    *out = &r->base;
    return 0;
}

static void drop_blobs(struct pg_rows *r)
{
    if (r->blobs == NULL)
        return;
    for (int i = 0; i < r->ncols; i++) {
        PQfreemem(r->blobs[i]);
        r->blobs[i] = NULL;
    }
}

static int pg_step(db_rows *rows)
{
    struct pg_rows *r = (struct pg_rows *)rows;

    drop_blobs(r);
    if (r->row < r->nrows)
        r->row++;
    return r->row < r->nrows ? 1 : 0;
}

static int pg_ncols(db_rows *rows)
{
    return ((struct pg_rows *)rows)->ncols;
}

/* The cell's text, or NULL when out of range or SQL NULL. */
static const char *cell(db_rows *rows, int col)
{
    struct pg_rows *r = (struct pg_rows *)rows;

    if (col < 0 || col >= r->ncols || r->row < 0 || r->row >= r->nrows ||
        PQgetisnull(r->res, r->row, col))
        return NULL;
    return PQgetvalue(r->res, r->row, col);
}

static bool pg_is_null(db_rows *r, int col)
{
    return cell(r, col) == NULL;
}

static int64_t pg_get_int(db_rows *rows, int col)
{
    const char *v = cell(rows, col);

    if (v == NULL)
        return 0;
    if (PQftype(((struct pg_rows *)rows)->res, col) == OID_BOOL)
        return v[0] == 't';
    return strtoll(v, NULL, 10);
}

static double pg_get_real(db_rows *rows, int col)
{
    const char *v = cell(rows, col);

    return v != NULL ? strtod(v, NULL) : 0.0;
}

static const char *pg_get_text(db_rows *rows, int col)
{
    return cell(rows, col);
}

/* bytea arrives as text (\x...); decoded once per cell, owned by r. */
static const void *pg_get_blob(db_rows *rows, int col, size_t *len)
{
    struct pg_rows *r = (struct pg_rows *)rows;
    const char *v = cell(rows, col);

    *len = 0;
    if (v == NULL)
        return "";
    if (PQftype(r->res, col) != OID_BYTEA) {
        *len = (size_t)PQgetlength(r->res, r->row, col);
        return v;
    }
    if (r->blobs == NULL) {
        r->blobs = calloc((size_t)r->ncols, sizeof(*r->blobs));
        r->blob_len = calloc((size_t)r->ncols, sizeof(*r->blob_len));
        if (r->blobs == NULL || r->blob_len == NULL)
            return "";
    }
    if (r->blobs[col] == NULL)
        r->blobs[col] = PQunescapeBytea((const unsigned char *)v,
                                        &r->blob_len[col]);
    if (r->blobs[col] == NULL)
        return "";
    *len = r->blob_len[col];
    return r->blobs[col];
}

static void pg_rows_free(db_rows *rows)
{
    struct pg_rows *r = (struct pg_rows *)rows;

    drop_blobs(r);
    free(r->blobs);
    free(r->blob_len);
    PQclear(r->res);
    free(r);
}

static int pg_script(db *d, const char *sql)
{
    PGresult *res;
    int rc = ensure_conn(d);

    if (rc < 0)
        return rc;
    res = PQexec(conn_of(d), sql);
    rc = check_result(d, res);
    PQclear(res);
    return rc;
}

/* After a server restart the first use finds the socket dead; a ping
 * outside a transaction then reconnects and tries once more. */
static int pg_ping(db *d)
{
    struct pg_db *p = (struct pg_db *)d;
    bool known_bad = p->need_reset || PQstatus(p->conn) != CONNECTION_OK;
    int rc = pg_exec(d, "SELECT 1", NULL, 0, NULL);

    /* Only when this call found the break: a failed reset is final. */
    if (rc == PD_EUNAVAIL && !known_bad && !d->in_tx)
        rc = pg_exec(d, "SELECT 1", NULL, 0, NULL);
    return rc;
}

static void pg_close(db *d)
{
    struct pg_db *p = (struct pg_db *)d;

    db_cache_forget(d);
    PQfinish(p->conn);
    free(p);
}

static const struct db_ops pg_ops = {
    .exec = pg_exec,
    .query = pg_query,
    .script = pg_script,
    .ping = pg_ping,
    .close = pg_close,
    .step = pg_step,
    .ncols = pg_ncols,
    .is_null = pg_is_null,
    .get_int = pg_get_int,
    .get_real = pg_get_real,
    .get_text = pg_get_text,
    .get_blob = pg_get_blob,
    .rows_free = pg_rows_free,
};

static void on_notice(void *arg, const char *message)
{
    char line[400];

    (void)arg;
    one_line(line, sizeof(line), message);
    log_debug("postgres notice: %s", line);
}

/* The password of a URL ("user:PASS@" or "password=PASS"), into out. */
static void url_password(const char *url, char *out, size_t outlen)
{
    const char *s = strstr(url, "://"), *at, *colon, *q;
    size_t n = 0;

    out[0] = '\0';
    if (s == NULL)
        return;
    s += 3;
    at = strchr(s, '@');
    colon = strchr(s, ':');
    if (at != NULL && colon != NULL && colon < at &&
        strcspn(s, "/?") > (size_t)(at - s)) {
        n = (size_t)(at - colon - 1);
        snprintf(out, outlen, "%.*s", (int)n, colon + 1);
    }
    q = strstr(url, "password=");
    if (n == 0 && q != NULL)
        snprintf(out, outlen, "%.*s", (int)strcspn(q + 9, "&"), q + 9);
}

/* Writes msg into err unless it would show the URL's password. */
static void safe_err(char *err, size_t errlen, const char *url,
                     const char *what, const char *msg)
{
    char pw[256], line[400];

    url_password(url, pw, sizeof(pw));
    one_line(line, sizeof(line), msg);
    if (pw[0] != '\0' && strstr(line, pw) != NULL)
        snprintf(err, errlen, "postgres: %s (details hidden: they hold "
                              "the password)", what);
    else
        snprintf(err, errlen, "postgres: %s: %s", what, line);
}

static int check_url(const char *url, char *err, size_t errlen)
{
    char *msg = NULL;
    PQconninfoOption *opts = PQconninfoParse(url, &msg);

    if (opts != NULL) {
        PQconninfoFree(opts);
        return 0;
    }
    safe_err(err, errlen, url, "malformed URL",
             msg != NULL ? msg : "out of memory");
    PQfreemem(msg);
    return PD_EINVAL;
}

/* Defaults come first so that the URL's own settings override them. */
int db_pg_open(const char *url, db **out, char *err, size_t errlen)
{
    static const char *const keys[] = {"connect_timeout", "application_name",
                                       "client_encoding", "dbname", NULL};
    const char *vals[] = {CONNECT_TIMEOUT_S, "printdesk", "UTF8", url, NULL};
    struct pg_db *p;
    PGconn *conn;
    int rc = check_url(url, err, errlen);

    if (rc < 0)
        return rc;
    conn = PQconnectdbParams(keys, vals, 1);
    if (conn == NULL)
        return PD_ENOMEM;
    if (PQstatus(conn) != CONNECTION_OK) {
        safe_err(err, errlen, url, "cannot connect", PQerrorMessage(conn));
        PQfinish(conn);
        return PD_EUNAVAIL;
    }
    p = calloc(1, sizeof(*p));
    if (p == NULL) {
        PQfinish(conn);
        return PD_ENOMEM;
    }
    PQsetNoticeProcessor(conn, on_notice, NULL);
    p->base.ops = &pg_ops;
    p->base.kind = DB_POSTGRES;
    p->conn = conn;
    db_cache_init(&p->base, release_stmt);
    *out = &p->base;
    return 0;
}
