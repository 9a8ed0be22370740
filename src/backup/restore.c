/*
 * restore.c — `printdesk restore`: finds the backup's manifest (the
 * newest when none is named), fetches the data into a private temporary
 * folder checking its size and SHA-256 against the manifest (a damaged
 * or tampered file is refused before anything is written), then puts it
 * into the target database, which must be empty, and checks the row
 * counts there against the manifest.
 */
#include "backup/backup.h"

#include "common/err.h"
#include "common/util.h"
#include "db/db.h"
#include "store/store.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define CHUNK (256 * 1024)
#define MANIFEST_MAX (1 << 20)

/* Reads the manifest of backup name (the newest when NULL). */
static int
load_manifest(store *st, const char *name, struct backup_manifest *m,
              char *err, size_t errlen)
{
    char (*names)[64] = NULL, key[160], *json = malloc(MANIFEST_MAX);
    store_reader *r = NULL;
    int n = 0, rc = json ? backup_list(st, &names, &n) : PD_ENOMEM;
    ssize_t got, len = 0;

    if (rc == PD_OK && name == NULL && n == 0) {
        snprintf(err, errlen, "no backups here");
        rc = PD_ENOTFOUND;
    }
    if (rc == PD_OK) {
        snprintf(key, sizeof(key), BACKUP_PREFIX "%s.manifest.json",
                 name != NULL ? name : names[n - 1]);
        if ((rc = store_get(st, key, 0, -1, &r)) == PD_ENOTFOUND)
            snprintf(err, errlen, "no backup manifest %s", key);
    }
    while (rc == PD_OK && len < MANIFEST_MAX &&
           (got = store_read(r, json + len, MANIFEST_MAX - len)) > 0)
        len += got;
    store_reader_close(r);
    if (rc == PD_OK)
        rc = backup_manifest_parse(json, (size_t)len, m, err, errlen);
    free(names);
    free(json);
    return rc;
}

/* Copies the data object into file, checking its size and digest. */
static int
fetch_data(store *st, const struct backup_manifest *m, const char *file,
           char *err, size_t errlen)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    unsigned char digest[32], *buf = malloc(CHUNK);
    store_reader *r = NULL;
    int fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int rc = md && buf && fd >= 0 ? PD_OK : PD_EIO;
    int64_t total = 0;
    char hex[65] = "";
    ssize_t n = 0;

    if (rc == PD_OK && EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1)
        rc = PD_ERR;
    if (rc == PD_OK && (rc = store_get(st, m->data_key, 0, -1, &r)) != PD_OK)
        snprintf(err, errlen, "the backup's data %s: %s", m->data_key,
                 pd_err_str(rc));
    while (rc == PD_OK && (n = store_read(r, buf, CHUNK)) > 0) {
        EVP_DigestUpdate(md, buf, (size_t)n);
        total += n;
        if (write(fd, buf, (size_t)n) != n)
            rc = PD_EIO;
    }
    if (rc == PD_OK && n < 0)
        rc = (int)n;
    if (rc == PD_OK && EVP_DigestFinal_ex(md, digest, NULL) == 1)
        pd_hex(hex, digest, sizeof(digest));
    if (rc == PD_OK && (total != m->bytes || strcmp(hex, m->sha256) != 0)) {
        snprintf(err, errlen, "%s is damaged: %lld bytes with SHA-256 %.12s…"
                 " where the manifest says %lld bytes, %.12s…", m->data_key,
                 (long long)total, hex, (long long)m->bytes, m->sha256);
        rc = PD_EINVAL;
    }
    store_reader_close(r);
    if (fd >= 0)
        close(fd);
    free(buf);
    EVP_MD_CTX_free(md);
    return rc;
}

/* Whether the database at url holds no table. */
static int
target_empty(const char *url, char *err, size_t errlen)
{
    struct backup_manifest now = {0};
    db *d = NULL;
    int rc;

    if (strncmp(url, "sqlite:", 7) == 0) {
        struct stat sb;

        if (stat(url + 7, &sb) == 0 && sb.st_size > 0) {
            snprintf(err, errlen, "%s exists: restore only into a new "
                     "database", url + 7);
            return PD_ECONFLICT;
        }
        return PD_OK;
    }
    if ((rc = db_open(url, &d, err, errlen)) != PD_OK)
        return rc;
    rc = db_query_int(d, "SELECT COUNT(*) FROM information_schema.tables "
                         "WHERE table_schema = current_schema()", NULL, 0,
                      &now.schema_version);
    if (rc == PD_OK && now.schema_version > 0) {
        snprintf(err, errlen, "the target database holds %lld tables: "
                 "restore only into an empty database",
                 (long long)now.schema_version);
        rc = PD_ECONFLICT;
    }
    db_close(d);
    return rc;
}

/* Inflates the gzip file gz into path. */
static int
gunzip_to(const char *gz, const char *path)
{
    gzFile in = gzopen(gz, "rb");
    unsigned char *buf = malloc(CHUNK);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int rc = in && buf && fd >= 0 ? PD_OK : PD_EIO, n = 0;

    while (rc == PD_OK && (n = gzread(in, buf, CHUNK)) > 0)
        if (write(fd, buf, (size_t)n) != n)
            rc = PD_EIO;
    if (rc == PD_OK && (n < 0 || fsync(fd) != 0))
        rc = PD_EIO;
    if (in != NULL)
        gzclose(in);
    if (fd >= 0)
        close(fd);
    free(buf);
    return rc;
}

/* Compares the restored database's counts with the manifest's. */
static int
check_counts(const char *url, const struct backup_manifest *m, char *err,
             size_t errlen)
{
    struct backup_manifest now = {0};
    db *d = NULL;
    int rc = db_open(url, &d, err, errlen);

    if (rc == PD_OK && (rc = backup_count_tables(d, &now)) != PD_OK)
        snprintf(err, errlen, "counting rows: %s", db_errmsg(d));
    db_close(d);
    for (int i = 0; rc == PD_OK && i < m->ntables; i++) {
        int k = 0;

        while (k < now.ntables && strcmp(now.tables[k].name,
                                         m->tables[i].name) != 0)
            k++;
        if (k == now.ntables || now.tables[k].rows != m->tables[i].rows) {
            snprintf(err, errlen, "table %s has %lld rows where the "
                     "manifest says %lld", m->tables[i].name,
                     k < now.ntables ? (long long)now.tables[k].rows : -1LL,
                     (long long)m->tables[i].rows);
            rc = PD_EINVAL;
        }
    }
    return rc;
}

/* Puts the fetched data into the target database. */
static int
load_data(const char *url, const struct backup_manifest *m, const char *file,
          char *err, size_t errlen)
{
    char tmp[700];
    int rc;

    if (strcmp(m->kind, "postgres") == 0)
        return pg_restore_file(url, file, err, errlen);
    snprintf(tmp, sizeof(tmp), "%s.restoring", url + 7);
    unlink(tmp);
    rc = gunzip_to(file, tmp);
    if (rc == PD_OK && (rc = sqlite_check_copy(tmp, &(struct backup_manifest){0},
                                               err, errlen)) == PD_OK &&
        rename(tmp, url + 7) != 0)
        rc = PD_EIO;
    if (rc != PD_OK) {
        if (err[0] == '\0')
            snprintf(err, errlen, "cannot write %s", url + 7);
        unlink(tmp);
    }
    return rc;
}

/* The backup's kind must suit the target's. */
static int
kinds_match(const char *url, const struct backup_manifest *m, char *err,
            size_t errlen)
{
    bool sqlite = strncmp(url, "sqlite:", 7) == 0;

    if (sqlite == (strcmp(m->kind, "sqlite") == 0))
        return PD_OK;
    snprintf(err, errlen, "%s is a %s backup and the target is %s (copy-db "
             "moves a database from SQLite to PostgreSQL)", m->name, m->kind,
             sqlite ? "SQLite" : "PostgreSQL");
    return PD_EINVAL;
}

int
restore_run(const struct restore_opts *o, char *err, size_t errlen)
{
    struct backup_manifest m;
    char dir[600], file[700];
    int64_t start = pd_mono_ns();
    store *st = NULL;
    int rc;

    err[0] = '\0';
    snprintf(dir, sizeof(dir), "%s/printdesk-restore.XXXXXX", o->tmp_dir);
    if (mkdtemp(dir) == NULL) {
        snprintf(err, errlen, "cannot make a folder in %s", o->tmp_dir);
        return PD_EIO;
    }
    snprintf(file, sizeof(file), "%s/data", dir);
    rc = backup_store_open(o->src, &st, err, errlen);
    if (rc == PD_OK)
        rc = load_manifest(st, o->name, &m, err, errlen);
    if (rc == PD_OK)
        rc = kinds_match(o->database_url, &m, err, errlen);
    if (rc == PD_OK)
        rc = target_empty(o->database_url, err, errlen);
    if (rc == PD_OK)
        rc = fetch_data(st, &m, file, err, errlen);
    if (rc == PD_OK)
        rc = load_data(o->database_url, &m, file, err, errlen);
    if (rc == PD_OK)
        rc = check_counts(o->database_url, &m, err, errlen);
    if (rc == PD_OK)
        printf("restored %s (%s, schema %lld, %d tables) in %.1f s; row "
               "counts match the manifest\n", m.name, m.kind,
               (long long)m.schema_version, m.ntables,
               (double)(pd_mono_ns() - start) / 1e9);
    unlink(file);
    rmdir(dir);
    store_close(st);
    return rc;
}
