/*
 * db_env.c — the db tests' fixtures: which backend a group runs on, a
 * fresh database for each test, and small assertion helpers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "db_env.h"

#include "common/util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static enum db_kind group_kind;
static db *admin; /* PostgreSQL: makes and drops the per-test schemas */

enum db_kind env_kind(void)
{
    return group_kind;
}

const char *env_pg_url(void)
{
    const char *u = getenv("TEST_PG_URL");

    return u != NULL && u[0] != '\0' ? u : NULL;
}

int env_use_sqlite(void **state)
{
    (void)state;
    group_kind = DB_SQLITE;
    return 0;
}

int env_use_postgres(void **state)
{
    char err[512];

    (void)state;
    group_kind = DB_POSTGRES;
    if (db_open(env_pg_url(), &admin, err, sizeof(err)) != 0) {
        print_error("cannot open TEST_PG_URL: %s\n", err);
        return -1;
    }
    return 0;
}

int env_group_done(void **state)
{
    (void)state;
    db_close(admin);
    admin = NULL;
    return 0;
}

void env_exec_ok(db *d, const char *sql, const db_arg *args, int nargs)
{
    int rc = db_exec(d, sql, args, nargs, NULL);

    if (rc != 0)
        print_error("%s\n  -> %d: %s\n", sql, rc, db_errmsg(d));
    assert_int_equal(rc, 0);
}

int64_t env_int(db *d, const char *sql, const db_arg *args, int nargs)
{
    int64_t v = -1;
    int rc = db_query_int(d, sql, args, nargs, &v);

    if (rc != 0)
        print_error("%s\n  -> %d: %s\n", sql, rc, db_errmsg(d));
    assert_int_equal(rc, 0);
    return v;
}

db *env_open(const struct env *e)
{
    char err[512];
    db *d = NULL;

    if (db_open(e->url, &d, err, sizeof(err)) != 0)
        print_error("db_open %s: %s\n", e->url, err);
    assert_non_null(d);
    return d;
}

static void make_sqlite(struct env *e)
{
    const char *tmp = getenv("TMPDIR");

    snprintf(e->dir, sizeof(e->dir), "%s/pd-dbtest-XXXXXX",
             tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
    assert_non_null(mkdtemp(e->dir));
    snprintf(e->url, sizeof(e->url), "sqlite:%s/test.db", e->dir);
}

static void make_schema(struct env *e)
{
    const char *base = env_pg_url();
    char hex[17], sql[96];

    assert_int_equal(pd_random_hex(hex, 8), 0);
    snprintf(e->schema, sizeof(e->schema), "pdt_%s", hex);
    snprintf(sql, sizeof(sql), "CREATE SCHEMA %s", e->schema);
    env_exec_ok(admin, sql, NULL, 0);
    snprintf(e->url, sizeof(e->url), "%s%coptions=-c%%20search_path%%3D%s",
             base, strchr(base, '?') != NULL ? '&' : '?', e->schema);
}

int env_setup_fresh(void **state)
{
    struct env *e = calloc(1, sizeof(*e));

    assert_non_null(e);
    e->kind = group_kind;
    if (e->kind == DB_SQLITE)
        make_sqlite(e);
    else
        make_schema(e);
    e->d = env_open(e);
    *state = e;
    return 0;
}

int env_setup_migrated(void **state)
{
    struct env *e;
    int applied = 0;

    env_setup_fresh(state);
    e = *state;
    if (db_migrate(e->d, &applied) != 0) {
        print_error("migrate: %s\n", db_errmsg(e->d));
        return -1;
    }
    return 0;
}

static void remove_dir(const char *dir)
{
    char path[512];
    struct dirent *ent;
    DIR *dh = opendir(dir);

    if (dh == NULL)
        return;
    while ((ent = readdir(dh)) != NULL) {
        if (strcmp(ent->d_name, ".") == 0 || strcmp(ent->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof(path), "%s/%s", dir, ent->d_name);
        unlink(path);
    }
    closedir(dh);
    rmdir(dir);
}

int env_teardown(void **state)
{
    struct env *e = *state;
    char sql[96];

    if (e == NULL)
        return 0;
    db_close(e->d);
    if (e->kind == DB_SQLITE) {
        remove_dir(e->dir);
    } else {
        /* A test may have restarted the server under us. */
        assert_int_equal(db_ping(admin), 0);
        snprintf(sql, sizeof(sql), "DROP SCHEMA %s CASCADE", e->schema);
        env_exec_ok(admin, sql, NULL, 0);
    }
    free(e);
    *state = NULL;
    return 0;
}

static void
test_pg_skipped(void **state)
{
    (void)state;
    skip();
}

int
env_run_groups(const char *label, const struct CMUnitTest *sqlite_tests,
               size_t n_sqlite, const struct CMUnitTest *pg_tests,
               size_t n_pg)
{
    const struct CMUnitTest skipped[] = {cmocka_unit_test(test_pg_skipped)};
    char sqlite_name[96], pg_name[96];
    int failed;

    snprintf(sqlite_name, sizeof(sqlite_name), "%s sqlite", label);
    snprintf(pg_name, sizeof(pg_name), "%s postgres", label);
    failed = _cmocka_run_group_tests(sqlite_name, sqlite_tests, n_sqlite,
                                     env_use_sqlite, env_group_done);
    if (env_pg_url() != NULL)
        return failed + _cmocka_run_group_tests(pg_name, pg_tests, n_pg,
                                                env_use_postgres,
                                                env_group_done);
    print_message("postgres group SKIPPED: TEST_PG_URL is not set "
                  "(tests/db-pg.sh start DIR PORT prints one)\n");
    return failed + _cmocka_run_group_tests(pg_name, skipped, 1, NULL, NULL);
}
