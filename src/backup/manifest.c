/*
 * manifest.c — what a backup says about itself: the manifest as JSON,
 * row counts per table, the backups a store holds (by name, from their
 * manifests) and the retention that keeps the newest of recent days and
 * weeks.
 */
#include "backup/backup.h"

#include "common/err.h"
#include "common/util.h"
#include "db/db.h"
#include "store/store.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MANIFEST_FORMAT "printdesk-backup/1"
#define MANIFEST_SUFFIX ".manifest.json"
#define BACKUPS_MAX 4096

int
backup_store_open(const char *dest, store **out, char *err, size_t errlen)
{
    char url[1100];

    if (strncmp(dest, "file:", 5) == 0 || strstr(dest, "://") != NULL)
        snprintf(url, sizeof(url), "%s", dest);
    else
        snprintf(url, sizeof(url), "file:%s", dest);
    return store_open(url, out, err, errlen);
}

/* ---- row counts ---- */

static const char sqlite_tables[] =
    "SELECT name FROM sqlite_master WHERE type = 'table' "
    "AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'orders_fts%' "
    "ORDER BY name";
static const char pg_tables[] =
    "SELECT table_name FROM information_schema.tables "
    "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' "
    "ORDER BY table_name";

static int
list_tables(db *d, struct backup_manifest *m)
{
    db_rows *r = NULL;
    int rc = db_query(d, db_kind(d) == DB_SQLITE ? sqlite_tables : pg_tables,
                      NULL, 0, &r);

    m->ntables = 0;
    while (rc == PD_OK && (rc = db_step(r)) == 1) {
        if (m->ntables == BACKUP_TABLES_MAX) {
            rc = PD_ETOOBIG;
            break;
        }
        snprintf(m->tables[m->ntables++].name, sizeof(m->tables[0].name),
                 "%s", db_col_text(r, 0));
        rc = PD_OK;
    }
    db_rows_free(r);
    return rc < 0 ? rc : PD_OK;
}

int
backup_count_tables(db *d, struct backup_manifest *m)
{
    int rc = list_tables(d, m);

    for (int i = 0; rc == PD_OK && i < m->ntables; i++) {
        char sql[128];

        /* Names come from the catalog and hold no quote. */
        snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM \"%s\"",
                 m->tables[i].name);
        rc = db_query_int(d, sql, NULL, 0, &m->tables[i].rows);
    }
    if (rc == PD_OK)
        rc = db_schema_version(d, &m->schema_version);
    return rc;
}

/* ---- JSON ---- */

char *
backup_manifest_json(const struct backup_manifest *m)
{
    json_t *tables = json_object(), *o;
    char created[40];
    char *out;

    pd_format_time(created, m->created_ms);
    for (int i = 0; i < m->ntables; i++)
        json_object_set_new(tables, m->tables[i].name,
                            json_integer(m->tables[i].rows));
    o = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s, s:I, s:s, s:o}",
                  "format", MANIFEST_FORMAT, "name", m->name, "kind",
                  m->kind, "created_at", created, "created_ms",
                  (json_int_t)m->created_ms, "schema_version",
                  (json_int_t)m->schema_version, "data", m->data_key,
                  "bytes", (json_int_t)m->bytes, "sha256", m->sha256,
                  "tables", tables);
    if (o == NULL)
        return NULL;
    out = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
    json_decref(o);
    return out;
}

static int
read_tables(json_t *tables, struct backup_manifest *m)
{
    const char *name;
    json_t *v;

    m->ntables = 0;
    json_object_foreach(tables, name, v) {
        if (m->ntables == BACKUP_TABLES_MAX || !json_is_integer(v) ||
            strlen(name) >= sizeof(m->tables[0].name))
            return PD_EINVAL;
        snprintf(m->tables[m->ntables].name, sizeof(m->tables[0].name),
                 "%s", name);
        m->tables[m->ntables++].rows = json_integer_value(v);
    }
    return PD_OK;
}

int
backup_manifest_parse(const char *json, size_t len, struct backup_manifest *m,
                      char *err, size_t errlen)
{
    json_error_t je;
    json_t *o = json_loadb(json, len, 0, &je), *tables = NULL;
    const char *format = NULL, *name = NULL, *kind = NULL, *data = NULL,
               *sha = NULL;
    json_int_t created = 0, version = 0, bytes = 0;
    int rc = PD_EINVAL;

    memset(m, 0, sizeof(*m));
    if (o != NULL &&
        json_unpack(o, "{s:s, s:s, s:s, s:I, s:I, s:s, s:I, s:s, s:o}",
                    "format", &format, "name", &name, "kind", &kind,
                    "created_ms", &created, "schema_version", &version,
                    "data", &data, "bytes", &bytes, "sha256", &sha,
                    "tables", &tables) == 0 &&
        strcmp(format, MANIFEST_FORMAT) == 0 && json_is_object(tables) &&
        strlen(sha) == 64 && strlen(name) < sizeof(m->name) &&
        strlen(data) < sizeof(m->data_key) && strlen(kind) < sizeof(m->kind)) {
        snprintf(m->name, sizeof(m->name), "%s", name);
        snprintf(m->kind, sizeof(m->kind), "%s", kind);
        snprintf(m->data_key, sizeof(m->data_key), "%s", data);
        snprintf(m->sha256, sizeof(m->sha256), "%s", sha);
        m->created_ms = created;
        m->schema_version = version;
        m->bytes = bytes;
        rc = read_tables(tables, m);
    }
    if (rc != PD_OK)
        snprintf(err, errlen, "the manifest is not a printdesk backup "
                 "manifest%s%s", o == NULL ? ": " : "",
                 o == NULL ? je.text : "");
    json_decref(o);
    return rc;
}

/* ---- the backups a store holds ---- */

int64_t
backup_name_time(const char *name)
{
    struct tm tm = {0};
    int y, mo, d, h, mi, s;
    char z;

    if (sscanf(name, "printdesk-%4d%2d%2dT%2d%2d%2d%c", &y, &mo, &d, &h, &mi,
               &s, &z) != 7 || z != 'Z')
        return -1;
    tm.tm_year = y - 1900;
    tm.tm_mon = mo - 1;
    tm.tm_mday = d;
    tm.tm_hour = h;
    tm.tm_min = mi;
    tm.tm_sec = s;
    return (int64_t)timegm(&tm) * 1000;
}

struct listing {
    char (*names)[64];
    int n;
};

static int
collect(void *ctx, const char *key, const struct store_stat *st)
{
    struct listing *l = ctx;
    const char *base = key + strlen(BACKUP_PREFIX);
    size_t len = strlen(base), suffix = strlen(MANIFEST_SUFFIX);

    (void)st;
    if (len <= suffix || len - suffix >= 64 ||
        strcmp(base + len - suffix, MANIFEST_SUFFIX) != 0 || l->n == BACKUPS_MAX)
        return 0;
    snprintf(l->names[l->n], 64, "%.*s", (int)(len - suffix), base);
    if (backup_name_time(l->names[l->n]) >= 0)
        l->n++;
    return 0;
}

int
backup_list(store *st, char (**names)[64], int *n)
{
    struct listing l = {.names = calloc(BACKUPS_MAX, 64)};
    int rc;

    *names = NULL;
    *n = 0;
    if (l.names == NULL)
        return PD_ENOMEM;
    rc = store_list(st, BACKUP_PREFIX, collect, &l);
    if (rc != PD_OK) {
        free(l.names);
        return rc;
    }
    *names = l.names; /* the stamps sort as the names do */
    *n = l.n;
    return PD_OK;
}

/* ---- retention ---- */

/* Deletes backup name's data (either kind) and manifest. */
static int
delete_backup(store *st, const char *name)
{
    static const char *const suffixes[] = {".sqlite.gz", ".pgdump",
                                           MANIFEST_SUFFIX};
    int rc = PD_OK;

    for (size_t i = 0; i < 3 && rc == PD_OK; i++) {
        char key[160];

        snprintf(key, sizeof(key), BACKUP_PREFIX "%s%s", name, suffixes[i]);
        rc = store_delete(st, key);
    }
    return rc;
}

/* The UTC day, or the week (Monday to Sunday), that t falls in. */
static int64_t
bucket(int64_t t_ms, bool week)
{
    int64_t day = t_ms / 86400000LL;

    return week ? (day + 3) / 7 : day; /* 1970-01-01 was a Thursday */
}

/*
 * Whether the backup at index i (names oldest first) is the newest of
 * its day (or week), and that day is one of the last keep days counting
 * today (or week). Calendar periods, so once a period is over the
 * backup kept for it stays the same from run to run.
 */
static bool
newest_of_period(char (*names)[64], int n, int i, int64_t now_ms, bool week,
                 int keep)
{
    int64_t b = bucket(backup_name_time(names[i]), week);

    if (keep <= 0 || bucket(now_ms, week) - b >= keep)
        return false;
    for (int k = i + 1; k < n; k++)
        if (bucket(backup_name_time(names[k]), week) == b)
            return false;
    return true;
}

int
backup_retain(store *st, int keep_daily, int keep_weekly, int64_t now_ms,
              int *deleted)
{
    char (*names)[64] = NULL;
    int n = 0, rc = backup_list(st, &names, &n);

    *deleted = 0;
    for (int i = 0; rc == PD_OK && i < n - 1; i++) { /* the newest stays */
        if (newest_of_period(names, n, i, now_ms, false, keep_daily) ||
            newest_of_period(names, n, i, now_ms, true, keep_weekly))
            continue;
        rc = delete_backup(st, names[i]);
        if (rc == PD_OK)
            (*deleted)++;
    }
    free(names);
    return rc;
}
