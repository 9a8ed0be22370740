/*
 * backup.c — `printdesk backup`: takes the copy (snapshot_sqlite.c or
 * snapshot_pg.c) into a private temporary folder, sends it to the store
 * (SQLite's compressed with gzip on the way) while hashing what is sent,
 * writes the manifest last, then applies retention.
 */
#include "backup/backup.h"

#include "common/err.h"
#include "common/util.h"
#include "db/db.h"
#include "obs/log.h"
#include "store/store.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#define CHUNK (256 * 1024)

/* Where the bytes of a backup go: the store writer, hashed on the way. */
struct sink {
    store_writer *w;
    EVP_MD_CTX *md;
    int64_t bytes;
};

static int
sink_write(struct sink *s, const void *data, size_t len)
{
    s->bytes += (int64_t)len;
    EVP_DigestUpdate(s->md, data, len);
    return store_put_write(s->w, data, len);
}

/* Sends the file at path to s, gzip-compressed when gzip. */
static int
send_file(const char *path, bool gzip, struct sink *s)
{
    unsigned char *in = malloc(CHUNK), *out = malloc(CHUNK);
    z_stream z = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = PD_OK, flush;
    ssize_t n;

    if (in == NULL || out == NULL || fd < 0 ||
        (gzip && deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8,
                              Z_DEFAULT_STRATEGY) != Z_OK))
        rc = fd < 0 ? PD_EIO : PD_ENOMEM;
    while (rc == PD_OK && (n = read(fd, in, CHUNK)) >= 0) {
        if (!gzip) {
            if (n == 0)
                break;
            rc = sink_write(s, in, (size_t)n);
            continue;
        }
        flush = n == 0 ? Z_FINISH : Z_NO_FLUSH;
        z.next_in = in;
        z.avail_in = (uInt)n;
        do {
            z.next_out = out;
            z.avail_out = CHUNK;
            deflate(&z, flush);
            rc = sink_write(s, out, CHUNK - z.avail_out);
        } while (rc == PD_OK && z.avail_out == 0);
        if (flush == Z_FINISH)
            break;
    }
    if (gzip)
        deflateEnd(&z);
    if (fd >= 0)
        close(fd);
    free(in);
    free(out);
    return rc;
}

/* Puts the file at path under m->data_key; fills bytes and sha256. */
static int
upload_data(store *st, const char *path, bool gzip, struct backup_manifest *m,
            char *err, size_t errlen)
{
    struct sink s = {.md = EVP_MD_CTX_new()};
    unsigned char digest[32];
    int rc = s.md != NULL ? PD_OK : PD_ENOMEM;

    if (rc == PD_OK && EVP_DigestInit_ex(s.md, EVP_sha256(), NULL) != 1)
        rc = PD_ERR;
    if (rc == PD_OK)
        rc = store_put_begin(st, m->data_key, &s.w);
    if (rc == PD_OK && (rc = send_file(path, gzip, &s)) != PD_OK)
        store_put_abort(s.w);
    else if (rc == PD_OK)
        rc = store_put_commit(s.w);
    if (rc == PD_OK && EVP_DigestFinal_ex(s.md, digest, NULL) == 1) {
        pd_hex(m->sha256, digest, sizeof(digest));
        m->bytes = s.bytes;
    }
    if (rc != PD_OK)
        snprintf(err, errlen, "storing %s: %s", m->data_key, pd_err_str(rc));
    EVP_MD_CTX_free(s.md);
    return rc;
}

static int
put_manifest(store *st, const struct backup_manifest *m, char *err,
             size_t errlen)
{
    char key[160], *json = backup_manifest_json(m);
    int rc;

    if (json == NULL)
        return PD_ENOMEM;
    snprintf(key, sizeof(key), BACKUP_PREFIX "%s.manifest.json", m->name);
    rc = store_put_bytes(st, key, json, strlen(json));
    if (rc != PD_OK)
        snprintf(err, errlen, "storing %s: %s", key, pd_err_str(rc));
    free(json);
    return rc;
}

/* Names the backup after the time: printdesk-20261204T101500Z. */
static void
name_backup(struct backup_manifest *m, int64_t now_ms, bool sqlite)
{
    time_t t = (time_t)(now_ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(m->name, sizeof(m->name), "printdesk-%Y%m%dT%H%M%SZ", &tm);
    snprintf(m->kind, sizeof(m->kind), "%s", sqlite ? "sqlite" : "postgres");
    snprintf(m->data_key, sizeof(m->data_key), BACKUP_PREFIX "%s%s", m->name,
             sqlite ? ".sqlite.gz" : ".pgdump");
    m->created_ms = now_ms;
}

/* Takes the copy into file (under a private folder) and counts it. */
static int
take_copy(const struct backup_opts *o, const char *file,
          struct backup_manifest *m, char *err, size_t errlen)
{
    const char *url = o->database_url;

    if (strncmp(url, "sqlite:", 7) != 0)
        return pg_dump_snapshot(url, file, m, err, errlen);
    if (sqlite_online_copy(url + 7, file, err, errlen) != PD_OK)
        return PD_ERR;
    return sqlite_check_copy(file, m, err, errlen);
}

/* Removes the copy, whatever SQLite may have left beside it. */
static void
remove_copy(const char *dir, const char *file)
{
    static const char *const extra[] = {"", "-wal", "-shm", "-journal"};
    char path[720];

    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
        snprintf(path, sizeof(path), "%s%s", file, extra[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void
print_summary(const struct backup_manifest *m, int deleted, double seconds)
{
    int64_t rows = 0;

    for (int i = 0; i < m->ntables; i++)
        rows += m->tables[i].rows;
    printf("backup %s: %s, schema %lld, %d tables, %lld rows, %lld bytes, "
           "sha256 %s, %.1f s; %d old backup(s) removed\n", m->name,
           m->kind, (long long)m->schema_version, m->ntables,
           (long long)rows, (long long)m->bytes, m->sha256, seconds, deleted);
}

int
backup_run(const struct backup_opts *o, char *err, size_t errlen)
{
    struct backup_manifest m = {0};
    char dir[600], file[700];
    int64_t start = pd_mono_ns();
    int deleted = 0, rc;
    store *st = NULL;

    snprintf(dir, sizeof(dir), "%s/printdesk-backup.XXXXXX", o->tmp_dir);
    if (mkdtemp(dir) == NULL) {
        snprintf(err, errlen, "cannot make a folder in %s", o->tmp_dir);
        return PD_EIO;
    }
    name_backup(&m, o->now_ms, strncmp(o->database_url, "sqlite:", 7) == 0);
    snprintf(file, sizeof(file), "%s/copy", dir);
    rc = backup_store_open(o->dest, &st, err, errlen);
    if (rc == PD_OK)
        rc = take_copy(o, file, &m, err, errlen);
    if (rc == PD_OK)
        rc = upload_data(st, file, strcmp(m.kind, "sqlite") == 0, &m, err,
                         errlen);
    if (rc == PD_OK && (rc = put_manifest(st, &m, err, errlen)) != PD_OK)
        store_delete(st, m.data_key); /* no half backups */
    if (rc == PD_OK &&
        backup_retain(st, o->keep_daily, o->keep_weekly, o->now_ms,
                      &deleted) != PD_OK)
        log_warn("backup %s: retention could not remove old backups",
                    m.name);
    if (rc == PD_OK)
        print_summary(&m, deleted, (double)(pd_mono_ns() - start) / 1e9);
    remove_copy(dir, file);
    store_close(st);
    return rc;
}
