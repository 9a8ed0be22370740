/*
 * backup.h — backups of printdesk's database and their restore.
 *
 * A backup is two objects in a store (a folder or an object store):
 * backups/printdesk-YYYYMMDDTHHMMSSZ.{sqlite.gz|pgdump}, the data, and the
 * same name with .manifest.json, written last: time, kind, schema
 * version, row count per table, size and SHA-256 of the data. SQLite is
 * copied online with its backup API (the server keeps writing) and
 * checked with PRAGMA integrity_check before it is compressed;
 * PostgreSQL is dumped by pg_dump in custom format from the snapshot the
 * row counts were taken in. A restore goes into an empty database only,
 * and checks the data's digest and the counts against the manifest.
 */
#ifndef PD_BACKUP_H
#define PD_BACKUP_H

#include <stddef.h>
#include <stdint.h>

#define BACKUP_PREFIX "backups/"
#define BACKUP_TABLES_MAX 64

struct backup_table {
    char name[64];
    int64_t rows;
};

struct backup_manifest {
    char kind[16];            /* "sqlite" or "postgres" */
    char name[64];            /* printdesk-20261204T101500Z */
    char data_key[128];       /* backups/<name>.sqlite.gz or .pgdump */
    int64_t created_ms;
    int64_t schema_version;
    int64_t bytes;            /* of the data object */
    char sha256[65];          /* of the data object, hex */
    int ntables;
    struct backup_table tables[BACKUP_TABLES_MAX];
};

struct backup_opts {
    const char *database_url;
    const char *dest;         /* a folder or a store URL */
    const char *tmp_dir;      /* where the copy waits while it is checked */
    int keep_daily;           /* newest backup of each of the last N UTC days */
    int keep_weekly;          /* and of each of the last M weeks (Mon-Sun) */
    int64_t now_ms;
};

struct restore_opts {
    const char *database_url; /* an empty database */
    const char *src;          /* a folder or a store URL */
    const char *name;         /* a backup's name; NULL: the newest */
    const char *tmp_dir;
};

/* Takes a backup and applies retention; prints what it did. */
int backup_run(const struct backup_opts *o, char *err, size_t errlen);
/* Restores a backup into an empty database; prints what it did. */
int restore_run(const struct restore_opts *o, char *err, size_t errlen);

/* ---- shared by the files of this module ---- */

struct store;
struct db;
/* Opens dest: a store URL (file:, s3://, gs://) or a plain folder. */
int backup_store_open(const char *dest, struct store **out, char *err,
                      size_t errlen);
/* Row counts of every table of d (sorted by name) into m. */
int backup_count_tables(struct db *d, struct backup_manifest *m);
/* The manifest as JSON (malloc'd) / from JSON. */
char *backup_manifest_json(const struct backup_manifest *m);
int backup_manifest_parse(const char *json, size_t len,
                          struct backup_manifest *m, char *err,
                          size_t errlen);
/* Names (without suffix) of every backup in st, oldest first. */
int backup_list(struct store *st, char (**names)[64], int *n);
/* Keeps the newest of each recent day and week; deletes the rest. */
int backup_retain(struct store *st, int keep_daily, int keep_weekly,
                  int64_t now_ms, int *deleted);
/* ms since the epoch of a backup name's stamp, or -1. */
int64_t backup_name_time(const char *name);

/* SQLite (snapshot_sqlite.c). */
int sqlite_online_copy(const char *src_path, const char *dst_path,
                       char *err, size_t errlen);
int sqlite_check_copy(const char *path, struct backup_manifest *m,
                      char *err, size_t errlen);
/* PostgreSQL (snapshot_pg.c). */
int pg_dump_snapshot(const char *url, const char *file,
                     struct backup_manifest *m, char *err, size_t errlen);
int pg_restore_file(const char *url, const char *file, char *err,
                    size_t errlen);
/* Runs argv (a program found on PATH), its stderr's last line in err. */
int backup_spawn(char *const argv[], const char *errfile, char *err,
                 size_t errlen);

#endif
