/*
 * db_env.h — fixtures for the db unit tests: a fresh database per test on
 * the backend of the group being run (a temp SQLite file, or a fresh
 * schema in the PostgreSQL database named by TEST_PG_URL).
 */
#ifndef PD_TEST_DB_ENV_H
#define PD_TEST_DB_ENV_H

#include "db/db.h"

struct env {
    enum db_kind kind;
    char url[1200];  /* opens another connection to the same database */
    char dir[256];   /* SQLite: the temp folder */
    char schema[48]; /* PostgreSQL: the schema made for this test */
    db *d;           /* the test's connection */
};

/* Selects the backend of the group about to run; pg_url for PostgreSQL. */
int env_use_sqlite(void **state);
int env_use_postgres(void **state);
int env_group_done(void **state);
enum db_kind env_kind(void);
/* TEST_PG_URL, or NULL. */
const char *env_pg_url(void);

struct CMUnitTest;

/*
 * Runs sqlite_tests as the group "<label> sqlite", then pg_tests as
 * "<label> postgres" when TEST_PG_URL is set, else a group that is
 * reported skipped. Returns the number of failures.
 */
int env_run_groups(const char *label, const struct CMUnitTest *sqlite_tests,
                   size_t n_sqlite, const struct CMUnitTest *pg_tests,
                   size_t n_pg);
#define ENV_COUNT(tests) (sizeof(tests) / sizeof((tests)[0]))

/* Per-test fixtures: an empty database, or one with all migrations. */
int env_setup_fresh(void **state);
int env_setup_migrated(void **state);
int env_teardown(void **state);

/* A second connection to the test's database; the caller closes it. */
db *env_open(const struct env *e);

/* Runs sql and fails the test (with the database's message) unless 0. */
void env_exec_ok(db *d, const char *sql, const db_arg *args, int nargs);
int64_t env_int(db *d, const char *sql, const db_arg *args, int nargs);

#endif
