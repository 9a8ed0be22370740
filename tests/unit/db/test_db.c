/*
 * test_db.c — the db module's cases, run once on SQLite and once on
 * PostgreSQL (when TEST_PG_URL names a server): opening, migrations,
 * value round trips, errors, transactions, the statement cache, search,
 * index use, reconnecting and the per-thread pool.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "db_env.h"

#include "common/err.h"
#include "common/util.h"
#include "db/db_internal.h"
#include "obs/log.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char staff_sql[] =
    "INSERT INTO staff (id_kind, external_id, role, created_at) "
    "VALUES (?, ?, ?, ?) RETURNING id";

static const char order_sql[] =
    "INSERT INTO orders (name, status, shopify_id, created_at, updated_at, "
    "search_text) VALUES (?, ?, ?, ?, ?, ?) RETURNING id";

static int migration_count(enum db_kind kind)
{
    return kind == DB_SQLITE ? db_migrations_sqlite_count
                             : db_migrations_postgres_count;
}

/* Runs an INSERT ... RETURNING id and gives back the id. */
static int64_t insert_id(db *d, const char *sql, const db_arg *a, int n)
{
    db_rows *r = NULL;
    int64_t id;
    int rc = db_query(d, sql, a, n, &r);

    if (rc != 0)
        print_error("%s -> %d: %s\n", sql, rc, db_errmsg(d));
    assert_int_equal(rc, 0);
    assert_int_equal(db_step(r), 1);
    id = db_col_int(r, 0);
    assert_int_equal(db_step(r), 0);
    db_rows_free(r);
    return id;
}

static int64_t add_staff(db *d, const char *external_id)
{
    db_arg a[] = {DB_TEXT("customer"), DB_TEXT(external_id),
                  DB_TEXT("fulfiller"), DB_INT(pd_now_ms())};

    return insert_id(d, staff_sql, a, 4);
}

static int64_t add_order(db *d, const char *name, const char *status,
                         int64_t created, const char *search)
{
    db_arg a[] = {DB_TEXT(name), DB_TEXT(status), DB_NULL, DB_INT(created),
                  DB_INT(created), DB_TEXT(search)};

    return insert_id(d, order_sql, a, 6);
}

/* --- opening ------------------------------------------------------------ */

static void test_open_errors_sqlite(void)
{
    char err[512], dir[256], path[300];
    db *d = NULL;
    FILE *f;

    assert_int_equal(db_open("sqlite:/nonexistent-pd/x/t.db", &d, err,
                             sizeof(err)), PD_EIO);
    assert_null(d);
    assert_non_null(strstr(err, "/nonexistent-pd/x"));
    assert_int_equal(db_open("sqlite:", &d, err, sizeof(err)), PD_EINVAL);
    /* A file that is not a database is refused at open. */
    snprintf(dir, sizeof(dir), "/tmp/pd-dbtest-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/junk.db", dir);
    f = fopen(path, "w");
    assert_non_null(f);
    fputs("this is not an SQLite database, just some text....", f);
    fclose(f);
    snprintf(path, sizeof(path), "sqlite:%s/junk.db", dir);
    assert_true(db_open(path, &d, err, sizeof(err)) < 0);
    assert_null(d);
    assert_non_null(strstr(err, "not a database"));
    unlink(path + strlen("sqlite:"));
    rmdir(dir);
}

static void test_open_errors_pg(void)
{
    char err[512];
    db *d = NULL;

    assert_int_equal(db_open("postgres://pd:s3cretpw@127.0.0.1:1/x", &d, err,
                             sizeof(err)), PD_EUNAVAIL);
    assert_null(d);
    assert_true(strlen(err) > 10);
    assert_null(strstr(err, "s3cretpw"));
    assert_int_equal(db_open("postgres://pd:s3cretpw@127.0.0.1/x?bogus=1", &d,
                             err, sizeof(err)), PD_EINVAL);
    assert_null(strstr(err, "s3cretpw"));
    assert_non_null(strstr(err, "bogus"));
}

static void test_open_errors(void **state)
{
    char err[512];
    db *d = NULL;

    (void)state;
    assert_false(db_url_valid("mysql://h/db"));
    assert_false(db_url_valid(NULL));
    assert_true(db_url_valid("sqlite:data/printdesk.db"));
    assert_true(db_url_valid("postgresql://h/db"));
    assert_int_equal(db_open("mysql://h/db", &d, err, sizeof(err)),
                     PD_EINVAL);
    assert_null(d);
    assert_true(strlen(err) > 0);
    if (env_kind() == DB_SQLITE)
        test_open_errors_sqlite();
    else
        test_open_errors_pg();
}

/* --- migrations -------------------------------------------------------- */

static void test_migrate_fresh(void **state)
{
    struct env *e = *state;
    int64_t version = -1;
    int applied = -1;
    int n = migration_count(e->kind);

    assert_int_equal(db_schema_version(e->d, &version), 0);
    assert_int_equal(version, 0);
    assert_int_equal(db_migrate(e->d, &applied), 0);
    assert_int_equal(applied, n);
    assert_int_equal(db_schema_version(e->d, &version), 0);
    assert_int_equal(version, e->kind == DB_SQLITE
                                  ? db_migrations_sqlite[n - 1].version
                                  : db_migrations_postgres[n - 1].version);
    assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM orders", NULL, 0),
                     0);
    if (e->kind == DB_SQLITE)
        assert_int_equal(env_int(e->d, "PRAGMA foreign_keys", NULL, 0), 1);
}

static void test_migrate_twice(void **state)
{
    struct env *e = *state;
    int applied = -1;

    assert_int_equal(db_migrate(e->d, &applied), 0);
    assert_int_equal(applied, 0);
    assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM schema_migrations",
                             NULL, 0), migration_count(e->kind));
}

#define MIGRATORS 4

struct migrator {
    const struct env *e;
    pthread_barrier_t *start;
    int rc;
    int applied;
};

/* No cmocka asserts here: they cannot cross threads. */
static void *migrate_thread(void *arg)
{
    struct migrator *m = arg;
    char err[512];
    db *d = NULL;

    m->rc = db_open(m->e->url, &d, err, sizeof(err));
    pthread_barrier_wait(m->start);
    if (m->rc == 0) {
        m->rc = db_migrate(d, &m->applied);
        if (m->rc != 0)
            fprintf(stderr, "migrate: %s\n", db_errmsg(d));
    }
    db_close(d);
    return NULL;
}

static void test_migrate_concurrent(void **state)
{
    struct env *e = *state;
    struct migrator m[MIGRATORS];
    pthread_t t[MIGRATORS];
    pthread_barrier_t start;
    int total = 0;

    pthread_barrier_init(&start, NULL, MIGRATORS);
    for (int i = 0; i < MIGRATORS; i++) {
        m[i] = (struct migrator){.e = e, .start = &start};
        assert_int_equal(pthread_create(&t[i], NULL, migrate_thread, &m[i]),
                         0);
    }
    for (int i = 0; i < MIGRATORS; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(m[i].rc, 0);
        total += m[i].applied;
    }
    pthread_barrier_destroy(&start);
    assert_int_equal(total, migration_count(e->kind));
    assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM schema_migrations",
                             NULL, 0), migration_count(e->kind));
}

/* --- values ------------------------------------------------------------ */

static void test_insert_returning(void **state)
{
    struct env *e = *state;
    int64_t a = add_staff(e->d, "1001"), b = add_staff(e->d, "1002");
    int64_t changes = -1;
    db_arg upd[] = {DB_TEXT("Ana"), DB_INT(a)};
    db_arg none[] = {DB_TEXT("Ana"), DB_INT(-5)};

    assert_true(a > 0);
    assert_true(b > a);
    assert_int_equal(db_exec(e->d, "UPDATE staff SET name = ? WHERE id = ?",
                             upd, 2, &changes), 0);
    assert_int_equal(changes, 1);
    assert_int_equal(db_exec(e->d, "UPDATE staff SET name = ? WHERE id = ?",
                             none, 2, &changes), 0);
    assert_int_equal(changes, 0);
    assert_int_equal(db_exec(e->d, "DELETE FROM staff", NULL, 0, &changes),
                     0);
    assert_int_equal(changes, 2);
}

static void test_int64_roundtrip(void **state)
{
    struct env *e = *state;
    const int64_t ids[] = {9007199254740993LL, INT64_MAX, 5820572631104LL};
    db_rows *r = NULL;

    for (int i = 0; i < 3; i++) {
        char name[16];

        snprintf(name, sizeof(name), "#%d", 1000 + i);
        db_arg a[] = {DB_TEXT(name), DB_TEXT("pending"), DB_INT(ids[i]),
                      DB_INT(INT64_MIN + i), DB_INT(1), DB_TEXT("")};
        insert_id(e->d, order_sql, a, 6);
    }
    for (int i = 0; i < 3; i++) {
        db_arg a[] = {DB_INT(ids[i])};

        assert_int_equal(db_query(e->d, "SELECT shopify_id, created_at "
                                        "FROM orders WHERE shopify_id = ?",
                                  a, 1, &r), 0);
        assert_int_equal(db_step(r), 1);
        assert_true(db_col_int(r, 0) == ids[i]);
        assert_true(db_col_int(r, 1) == INT64_MIN + i);
        assert_int_equal(db_step(r), 0);
        db_rows_free(r);
    }
}

static void check_text(db *d, const char *s)
{
    db_arg a[] = {DB_TEXT(s), DB_TEXT("x'y"), DB_INT(1)};
    db_rows *r = NULL;
    size_t len = 0;

    env_exec_ok(d, "DELETE FROM locks", NULL, 0);
    env_exec_ok(d, "INSERT INTO locks (name, holder, expires_at) "
                   "VALUES (?, ?, ?)", a, 3);
    assert_int_equal(db_query(d, "SELECT name, holder FROM locks", NULL, 0,
                              &r), 0);
    assert_int_equal(db_step(r), 1);
    assert_string_equal(db_col_text(r, 0), s);
    db_col_blob(r, 0, &len);
    assert_int_equal(len, strlen(s));
    assert_false(db_col_null(r, 0));
    assert_string_equal(db_col_text(r, 1), "x'y");
    db_rows_free(r);
}

static void test_text_roundtrip(void **state)
{
    struct env *e = *state;
    db_arg bang[] = {DB_TEXT("!")};
    db_rows *r = NULL;

    check_text(e->d, "B\xc3\xa9lla \xf0\x9f\x90\xb6 \xc2\xabRex\xc2\xbb "
                     "\xe6\x97\xa5\xe6\x9c\xac");
    check_text(e->d, "O'Brien \"Max\" \\ back; -- not a comment ?");
    check_text(e->d, "");
    /* A `?` inside literals, identifiers and comments is not a
     * placeholder: one argument for one real `?`. */
    assert_int_equal(db_query(e->d,
                              "SELECT 'what?' || ? AS \"col?\" /* a ? */ "
                              "-- and ? here\n",
                              bang, 1, &r), 0);
    assert_int_equal(db_step(r), 1);
    assert_string_equal(db_col_text(r, 0), "what?!");
    db_rows_free(r);
    if (e->kind != DB_POSTGRES)
        return;
    /* PostgreSQL's own quoting: E'' with \', dollar quotes, nested
     * block comments. */
    assert_int_equal(db_query(e->d,
                              "SELECT E'it\\'s?' || $$ ?$$ || $t$?'$t$ "
                              "/* a /* nested ? */ ? */ || ?",
                              bang, 1, &r), 0);
    assert_int_equal(db_step(r), 1);
    assert_string_equal(db_col_text(r, 0), "it's? ?\?'!");
    db_rows_free(r);
}

static void test_blob_roundtrip(void **state)
{
    struct env *e = *state;
    size_t big = 1 << 20, len = 0;
    unsigned char *data = malloc(big);
    db_rows *r = NULL;

    assert_non_null(data);
    for (size_t i = 0; i < big; i++)
        data[i] = (unsigned char)(i * 7 + i / 256);
    assert_int_equal(data[0], 0);
    for (int i = 0; i < 3; i++) {
        size_t n = i == 0 ? 300 : i == 1 ? 0 : big;
        db_arg a[] = {DB_TEXT(i == 0 ? "w0" : i == 1 ? "w1" : "w2"),
                      DB_TEXT("orders/create"), DB_BLOB(data, n), DB_INT(1)};
        db_arg q[] = {a[0]};
        const void *p;

        env_exec_ok(e->d, "INSERT INTO webhook_inbox (webhook_id, topic, "
                          "body, received_at) VALUES (?, ?, ?, ?)", a, 4);
        assert_int_equal(db_query(e->d, "SELECT body FROM webhook_inbox "
                                        "WHERE webhook_id = ?", q, 1, &r), 0);
        assert_int_equal(db_step(r), 1);
        assert_false(db_col_null(r, 0));
        p = db_col_blob(r, 0, &len);
        assert_non_null(p);
        assert_int_equal(len, n);
        assert_memory_equal(p, data, n);
        db_rows_free(r);
    }
    free(data);
}

static void test_null_handling(void **state)
{
    struct env *e = *state;
    const char *volatile no_note = NULL; /* as a caller's variable */
    db_arg a[] = {DB_TEXT("#1"), DB_TEXT("pending"), DB_NULL, DB_INT(1),
                  DB_INT(1), DB_TEXT(no_note)};
    db_rows *r = NULL;
    size_t len = 99;

    assert_int_equal(a[5].type, DB_T_NULL);
    insert_id(e->d, "INSERT INTO orders (name, status, shopify_id, "
                    "created_at, updated_at, note) VALUES (?, ?, ?, ?, ?, ?) "
                    "RETURNING id", a, 6);
    /* Demo orders have no Shopify id: NULLs never collide. */
    add_order(e->d, "#2", "pending", 2, "");
    assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM orders WHERE "
                                   "shopify_id IS NULL", NULL, 0), 2);
    assert_int_equal(db_query(e->d, "SELECT shopify_id, note, warning_flags, "
                                    "email_enc FROM orders WHERE name = '#1'",
                              NULL, 0, &r), 0);
    assert_int_equal(db_step(r), 1);
    assert_int_equal(db_column_count(r), 4);
    assert_true(db_col_null(r, 0));
    assert_int_equal(db_col_int(r, 0), 0);
    assert_true(db_col_null(r, 1));
    assert_string_equal(db_col_text(r, 1), "");
    assert_false(db_col_null(r, 2));
    assert_int_equal(db_col_int(r, 2), 0);
    assert_true(db_col_null(r, 3));
    assert_non_null(db_col_blob(r, 3, &len));
    assert_int_equal(len, 0);
    db_rows_free(r);
}

static void test_real_and_args(void **state)
{
    struct env *e = *state;
    db_arg a[] = {DB_REAL(0.1)};
    db_arg extra[] = {DB_INT(1)};
    db_rows *r = NULL;
    int64_t v;

    assert_int_equal(db_query(e->d, "SELECT CAST(? AS DOUBLE PRECISION)", a,
                              1, &r), 0);
    assert_int_equal(db_step(r), 1);
    assert_true(db_col_real(r, 0) == 0.1);
    db_rows_free(r);
    assert_int_equal(db_query_int(e->d, "SELECT id FROM staff WHERE id = 7",
                                  NULL, 0, &v), PD_ENOTFOUND);
    assert_int_equal(db_exec(e->d, "SELECT COUNT(*) FROM staff WHERE id = ?",
                             NULL, 0, NULL), PD_EINVAL);
    assert_int_equal(db_exec(e->d, "SELECT COUNT(*) FROM staff", extra, 1,
                             NULL), PD_EINVAL);
    assert_true(strlen(db_errmsg(e->d)) > 0);
}

/* --- errors and transactions ------------------------------------------- */

static void test_unique_conflict(void **state)
{
    struct env *e = *state;
    db_arg s[] = {DB_TEXT("customer"), DB_TEXT("77"), DB_TEXT("viewer"),
                  DB_INT(1)};
    db_arg o[] = {DB_TEXT("#5"), DB_TEXT("pending"), DB_INT(5), DB_INT(1),
                  DB_INT(1), DB_TEXT("")};
    db_rows *r = NULL;

    add_staff(e->d, "77");
    assert_int_equal(db_exec(e->d, staff_sql, s, 4, NULL), PD_ECONFLICT);
    assert_true(strlen(db_errmsg(e->d)) > 0);
    insert_id(e->d, order_sql, o, 6);
    /* The error of an INSERT ... RETURNING comes from db_query itself. */
    assert_int_equal(db_query(e->d, order_sql, o, 6, &r), PD_ECONFLICT);
    assert_null(r);
    o[0] = DB_TEXT("#6"); /* same shopify_id */
    assert_int_equal(db_query(e->d, order_sql, o, 6, &r), PD_ECONFLICT);
    assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM orders", NULL, 0),
                     1);
}

static void test_fk_conflict(void **state)
{
    struct env *e = *state;
    db_arg pet[] = {DB_INT(424242), DB_TEXT("Rex")};
    int64_t id = add_order(e->d, "#9", "pending", 1, "");
    db_arg ok[] = {DB_INT(id), DB_TEXT("Rex")};

    assert_int_equal(db_exec(e->d, "INSERT INTO pets (order_id, pet_name) "
                                   "VALUES (?, ?)", pet, 2, NULL),
                     PD_ECONFLICT);
    env_exec_ok(e->d, "INSERT INTO pets (order_id, pet_name) VALUES (?, ?)",
                ok, 2);
    assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM pets", NULL, 0), 1);
    /* Deleting the order takes its pets with it. */
    env_exec_ok(e->d, "DELETE FROM orders", NULL, 0);
    assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM pets", NULL, 0), 0);
}

static void test_transactions(void **state)
{
    struct env *e = *state;
    const char *count = "SELECT COUNT(*) FROM staff";

    assert_int_equal(db_begin(e->d), 0);
    assert_int_equal(db_begin(e->d), PD_EINVAL);
    add_staff(e->d, "1");
    assert_int_equal(db_rollback(e->d), 0);
    assert_int_equal(env_int(e->d, count, NULL, 0), 0);

    assert_int_equal(db_begin_write(e->d), 0);
    add_staff(e->d, "2");
    assert_int_equal(db_commit(e->d), 0);
    assert_int_equal(env_int(e->d, count, NULL, 0), 1);

    /* A failed statement, then a rollback: the connection is fine. */
    assert_int_equal(db_begin(e->d), 0);
    add_staff(e->d, "3");
    assert_int_equal(db_exec(e->d, "INSERT INTO nope VALUES (1)", NULL, 0,
                             NULL), PD_ERR);
    assert_int_equal(db_rollback(e->d), 0);
    assert_int_equal(env_int(e->d, count, NULL, 0), 1);
}

static void test_busy(void **state)
{
    struct env *e = *state;
    db *other = env_open(e);
    int64_t id = add_staff(e->d, "5");
    db_arg a[] = {DB_INT(id)};
    const char *upd = "UPDATE staff SET name = 'x' WHERE id = ?";

    if (e->kind == DB_SQLITE)
        env_exec_ok(other, "PRAGMA busy_timeout = 50", NULL, 0);
    else
        env_exec_ok(other, "SET lock_timeout = '100ms'", NULL, 0);
    assert_int_equal(db_begin_write(e->d), 0);
    env_exec_ok(e->d, upd, a, 1);
    assert_int_equal(db_exec(other, upd, a, 1, NULL), PD_EBUSY);
    assert_int_equal(db_rollback(e->d), 0);
    env_exec_ok(other, upd, a, 1);
    db_close(other);
}

/* --- statement cache -------------------------------------------------- */

static void test_stmt_cache(void **state)
{
    struct env *e = *state;
    struct db_stats before = e->d->stats;
    char sql[80];

    for (int i = 0; i < 500; i++) {
        db_arg a[] = {DB_INT(i)};

        assert_int_equal(env_int(e->d, "SELECT COUNT(*) FROM staff "
                                       "WHERE id > ?", a, 1), 0);
    }
    assert_int_equal(e->d->stats.prepares - before.prepares, 1);
    assert_true(e->d->stats.hits - before.hits >= 499);
    for (int i = 0; i < 300; i++) {
        snprintf(sql, sizeof(sql), "SELECT %d + COUNT(*) FROM staff", i);
        assert_int_equal(env_int(e->d, sql, NULL, 0), i);
    }
    assert_true(e->d->cache.count <= DB_CACHE_MAX);
    assert_true(e->d->stats.evictions >= 300 - DB_CACHE_MAX);
    snprintf(sql, sizeof(sql), "SELECT %d + COUNT(*) FROM staff", 0);
    assert_int_equal(env_int(e->d, sql, NULL, 0), 0);
    if (e->kind == DB_POSTGRES)
        assert_true(env_int(e->d, "SELECT COUNT(*) FROM "
                                  "pg_prepared_statements", NULL, 0) <=
                    DB_CACHE_MAX);
}

/* The same statement again while its cursor is open. */
static void test_stmt_nested(void **state)
{
    struct env *e = *state;
    const char *sql = "SELECT id FROM staff WHERE id >= ? ORDER BY id";
    db_rows *r = NULL;
    int rows = 0;

    add_staff(e->d, "1");
    add_staff(e->d, "2");
    add_staff(e->d, "3");
    db_arg zero[] = {DB_INT(0)};
    assert_int_equal(db_query(e->d, sql, zero, 1, &r), 0);
    while (db_step(r) == 1) {
        db_arg from[] = {DB_INT(db_col_int(r, 0))};
        db_rows *inner = NULL;
        int n = 0;

        assert_int_equal(db_query(e->d, sql, from, 1, &inner), 0);
        while (db_step(inner) == 1)
            n++;
        db_rows_free(inner);
        assert_int_equal(n, 3 - rows);
        rows++;
    }
    db_rows_free(r);
    assert_int_equal(rows, 3);
}

/* --- search and indexes ------------------------------------------------- */

/* Names of the orders whose search text matches q, joined by commas. */
static void search(db *d, const char *q, char *out, size_t outlen)
{
    const char *sql =
        db_kind(d) == DB_SQLITE
            ? "SELECT o.name FROM orders o JOIN orders_fts f "
              "ON f.rowid = o.id WHERE orders_fts MATCH ? ORDER BY o.id"
            : "SELECT name FROM orders "
              "WHERE search_tsv @@ to_tsquery('simple', ?) ORDER BY id";
    db_arg a[] = {DB_TEXT(q)};
    db_rows *r = NULL;
    size_t n = 0;

    out[0] = '\0';
    assert_int_equal(db_query(d, sql, a, 1, &r), 0);
    while (db_step(r) == 1)
        n += (size_t)snprintf(out + n, outlen - n, "%s%s", n ? "," : "",
                              db_col_text(r, 0));
    db_rows_free(r);
}

static void test_search(void **state)
{
    struct env *e = *state;
    bool lite = e->kind == DB_SQLITE;
    char got[200];

    add_order(e->d, "#1042", "pending", 1, "#1042 bella golden retriever");
    add_order(e->d, "#1043", "pending", 2, "#1043 max beagle rush");
    add_order(e->d, "#1044", "printed", 3, "#1044 bellatrix");
    search(e->d, "bella", got, sizeof(got));
    assert_string_equal(got, "#1042");
    search(e->d, lite ? "bella*" : "bella:*", got, sizeof(got));
    assert_string_equal(got, "#1042,#1044");
    search(e->d, "1043", got, sizeof(got));
    assert_string_equal(got, "#1043");
    env_exec_ok(e->d, "UPDATE orders SET search_text = '#1043 rocky' "
                      "WHERE name = '#1043'", NULL, 0);
    search(e->d, "max", got, sizeof(got));
    assert_string_equal(got, "");
    search(e->d, "rocky", got, sizeof(got));
    assert_string_equal(got, "#1043");
    env_exec_ok(e->d, "DELETE FROM orders WHERE name = '#1042'", NULL, 0);
    search(e->d, "bella", got, sizeof(got));
    assert_string_equal(got, "");
}

/* The plan's text, all rows and columns joined. */
static void plan_of(db *d, const char *sql, char *out, size_t outlen)
{
    db_rows *r = NULL;
    size_t n = 0;

    out[0] = '\0';
    assert_int_equal(db_query(d, sql, NULL, 0, &r), 0);
    while (db_step(r) == 1)
        for (int c = 0; c < db_column_count(r) && n < outlen; c++)
            n += (size_t)snprintf(out + n, outlen - n, "%s | ",
                                  db_col_text(r, c));
    db_rows_free(r);
}

static void test_newest_index(void **state)
{
    struct env *e = *state;
    const char *explain = e->kind == DB_SQLITE ? "EXPLAIN QUERY PLAN "
                                               : "EXPLAIN ";
    char sql[300], plan[2000];

    for (int i = 0; i < 50; i++) {
        char name[16];

        snprintf(name, sizeof(name), "#%d", i);
        add_order(e->d, name, i % 3 ? "pending" : "printed", i, "");
    }
    if (e->kind == DB_POSTGRES)
        env_exec_ok(e->d, "SET enable_seqscan = off", NULL, 0);
    snprintf(sql, sizeof(sql), "%sSELECT id FROM orders WHERE status = "
             "'pending' ORDER BY created_at DESC, id DESC LIMIT 50", explain);
    plan_of(e->d, sql, plan, sizeof(plan));
    assert_non_null(strstr(plan, "orders_status_created_idx"));
    assert_null(strstr(plan, "TEMP B-TREE"));
    assert_null(strstr(plan, "Sort"));
    snprintf(sql, sizeof(sql), "%sSELECT id FROM orders "
             "ORDER BY created_at DESC, id DESC LIMIT 50", explain);
    plan_of(e->d, sql, plan, sizeof(plan));
    assert_non_null(strstr(plan, "orders_created_idx"));
    assert_null(strstr(plan, "TEMP B-TREE"));
    assert_null(strstr(plan, "Sort"));
}

/* --- PostgreSQL only: reconnecting ------------------------------------------ */

/* Ends d's server session from another connection and waits for it. */
static void kill_backend(const struct env *e, db *d)
{
    int64_t pid = env_int(d, "SELECT pg_backend_pid()", NULL, 0);
    db_arg a[] = {DB_INT(pid)};
    db *k = env_open(e);

    assert_int_equal(env_int(k, "SELECT CASE WHEN "
                                "pg_terminate_backend(?, 5000) THEN 1 "
                                "ELSE 0 END", a, 1), 1);
    db_close(k);
}

static void test_reconnect(void **state)
{
    struct env *e = *state;
    const char *count = "SELECT COUNT(*) FROM staff";
    int64_t v = -1;

    add_staff(e->d, "1");
    kill_backend(e, e->d);
    /* The call that finds the break fails cleanly; the next reconnects
     * and its statement (cached before) is prepared again. */
    assert_int_equal(db_query_int(e->d, count, NULL, 0, &v), PD_EUNAVAIL);
    assert_int_equal(env_int(e->d, count, NULL, 0), 1);
    assert_int_equal(e->d->stats.reconnects, 1);

    /* Lost inside a transaction: the rest of it must not run alone. */
    assert_int_equal(db_begin(e->d), 0);
    add_staff(e->d, "2");
    kill_backend(e, e->d);
    assert_int_equal(db_exec(e->d, count, NULL, 0, NULL), PD_EUNAVAIL);
    assert_int_equal(db_exec(e->d, count, NULL, 0, NULL), PD_EUNAVAIL);
    assert_int_equal(db_commit(e->d), PD_EUNAVAIL);
    assert_int_equal(env_int(e->d, count, NULL, 0), 1);

    /* db_ping reconnects by itself. */
    kill_backend(e, e->d);
    assert_int_equal(db_ping(e->d), 0);
    assert_int_equal(env_int(e->d, count, NULL, 0), 1);
}

static void test_server_restart(void **state)
{
    struct env *e = *state;
    const char *cmd = getenv("TEST_PG_RESTART_CMD");
    const char *count = "SELECT COUNT(*) FROM staff";
    db *other = NULL;
    int64_t v = -1;
    int rc;

    if (cmd == NULL || cmd[0] == '\0')
        skip();
    other = env_open(e);
    add_staff(e->d, "1");
    assert_int_equal(env_int(other, count, NULL, 0), 1);
    assert_int_equal(system(cmd), 0);
    rc = db_query_int(e->d, count, NULL, 0, &v);
    assert_true(rc == 0 || rc == PD_EUNAVAIL);
    assert_int_equal(env_int(e->d, count, NULL, 0), 1);
    assert_int_equal(db_ping(other), 0);
    assert_int_equal(env_int(other, count, NULL, 0), 1);
    db_close(other);
}

/* --- the per-thread pool ------------------------------------------------ */

struct pool_user {
    pthread_barrier_t *opened, *finish;
    db *first, *second;
};

static void *pool_thread(void *arg)
{
    struct pool_user *u = arg;

    u->first = db_thread();
    u->second = db_thread();
    if (u->first != NULL && db_ping(u->first) != 0)
        u->first = NULL;
    pthread_barrier_wait(u->opened);
    pthread_barrier_wait(u->finish);
    return NULL;
}

static void test_pool(void **state)
{
    struct env *e = *state;
    pthread_barrier_t opened, finish;
    struct pool_user u[2] = {{&opened, &finish, NULL, NULL},
                             {&opened, &finish, NULL, NULL}};
    pthread_t t[2];
    db *mine;

    assert_null(db_thread());
    assert_int_equal(db_pool_init(e->url), 0);
    assert_int_equal(db_pool_init(e->url), PD_EINVAL);
    pthread_barrier_init(&opened, NULL, 3);
    pthread_barrier_init(&finish, NULL, 3);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, pool_thread, &u[i]), 0);
    pthread_barrier_wait(&opened);
    assert_int_equal(db_pool_open_count(), 2);
    pthread_barrier_wait(&finish);
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        assert_non_null(u[i].first);
        assert_ptr_equal(u[i].first, u[i].second);
    }
    assert_ptr_not_equal(u[0].first, u[1].first);
    /* Thread exit closed their connections. */
    assert_int_equal(db_pool_open_count(), 0);
    mine = db_thread();
    assert_non_null(mine);
    assert_int_equal(db_pool_open_count(), 1);
    db_pool_shutdown();
    assert_int_equal(db_pool_open_count(), 0);
    assert_null(db_thread());
    pthread_barrier_destroy(&opened);
    pthread_barrier_destroy(&finish);
}

/* --- schema parity (PostgreSQL group only) ------------------------------ */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "table.column" of every table column, sorted bytewise; caller frees. */
static int list_columns(db *d, char **out, int max)
{
    const char *sql =
        db_kind(d) == DB_SQLITE
            ? "SELECT m.name || '.' || p.name FROM sqlite_master m, "
              "pragma_table_info(m.name) p WHERE m.type = 'table' AND "
              "m.name NOT LIKE 'orders_fts%' AND m.name NOT LIKE 'sqlite_%'"
            : "SELECT table_name || '.' || column_name FROM "
              "information_schema.columns WHERE table_schema = "
              "current_schema() AND column_name <> 'search_tsv'";
    db_rows *r = NULL;
    int n = 0;

    assert_int_equal(db_query(d, sql, NULL, 0, &r), 0);
    while (db_step(r) == 1 && n < max)
        out[n++] = strdup(db_col_text(r, 0));
    db_rows_free(r);
    qsort(out, (size_t)n, sizeof(*out), cmp_str);
    return n;
}

static void test_schema_parity(void **state)
{
    struct env *e = *state, lite;
    char *pg_cols[400], *lite_cols[400];
    int n_pg, n_lite;
    char dir[256];

    snprintf(dir, sizeof(dir), "/tmp/pd-dbtest-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(lite.url, sizeof(lite.url), "sqlite:%s/p.db", dir);
    lite.d = env_open(&lite);
    assert_int_equal(db_migrate(lite.d, NULL), 0);
    n_pg = list_columns(e->d, pg_cols, 400);
    n_lite = list_columns(lite.d, lite_cols, 400);
    assert_true(n_pg > 100);
    for (int i = 0; i < n_pg && i < n_lite; i++)
        assert_string_equal(pg_cols[i], lite_cols[i]);
    assert_int_equal(n_pg, n_lite);
    for (int i = 0; i < n_pg; i++)
        free(pg_cols[i]);
    for (int i = 0; i < n_lite; i++)
        free(lite_cols[i]);
    db_close(lite.d);
    snprintf(lite.url, sizeof(lite.url), "%s/p.db", dir);
    unlink(lite.url);
    rmdir(dir);
}

#define FRESH(f) cmocka_unit_test_setup_teardown(f, env_setup_fresh, \
                                                  env_teardown)
#define MIGRATED(f) cmocka_unit_test_setup_teardown(f, env_setup_migrated, \
                                                     env_teardown)

/* The cases both backends run. */
#define COMMON_TESTS                                                        \
    cmocka_unit_test(test_open_errors), FRESH(test_migrate_fresh),         \
        MIGRATED(test_migrate_twice), FRESH(test_migrate_concurrent),      \
        MIGRATED(test_insert_returning), MIGRATED(test_int64_roundtrip),   \
        MIGRATED(test_text_roundtrip), MIGRATED(test_blob_roundtrip),      \
        MIGRATED(test_null_handling), MIGRATED(test_real_and_args),        \
        MIGRATED(test_unique_conflict), MIGRATED(test_fk_conflict),        \
        MIGRATED(test_transactions), MIGRATED(test_busy),                  \
        MIGRATED(test_stmt_cache), MIGRATED(test_stmt_nested),             \
        MIGRATED(test_search), MIGRATED(test_newest_index),                \
        MIGRATED(test_pool)

int main(void)
{
    const struct CMUnitTest sqlite_tests[] = {COMMON_TESTS};
    const struct CMUnitTest pg_tests[] = {
        COMMON_TESTS,
        MIGRATED(test_reconnect),
        MIGRATED(test_server_restart),
        MIGRATED(test_schema_parity),
    };

    log_setup(LOG_WARNING, true);
    return env_run_groups("db", sqlite_tests, ENV_COUNT(sqlite_tests),
                          pg_tests, ENV_COUNT(pg_tests)) != 0;
}
