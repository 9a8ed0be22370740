/*
 * tus.c — resumable uploads' rows and pieces (see tus.h): creating and
 * reading an upload, receiving a piece into the store with its optional
 * checksum, chaining pieces by compare-and-set on the offset, putting the
 * pieces back together for the checks, and removing uploads that are
 * done with, terminated or abandoned.
 */
#include "uploads/tus.h"

#include "common/err.h"
#include "obs/log.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PIECE_PREFIX "temporary/tus/"
#define COPY_CHUNK (256 * 1024)

static void
copy_text(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

int
tus_create(db *d, const struct tus_upload *u, const char *metadata)
{
    int64_t now = pd_now_ms();

    return db_exec(
        d, "INSERT INTO tus_uploads (id, session_id, image_type, length, "
           "upload_offset, metadata, pet_index, created_at, expires_at, "
           "state) VALUES (?, ?, ?, ?, 0, ?, ?, ?, ?, 'receiving')",
        (db_arg[]){DB_TEXT(u->id), DB_TEXT(u->session_id), DB_TEXT(u->kind),
                   DB_INT(u->length), DB_TEXT(metadata),
                   u->pet_index >= 0 ? DB_INT(u->pet_index) : DB_NULL,
                   DB_INT(now), DB_INT(u->expires_at)},
        8, NULL);
}

int
tus_get(db *d, const char *id, struct tus_upload *out)
{
    db_rows *r = NULL;
    int rc = db_query(d, "SELECT id, session_id, image_type, length, "
                         "upload_offset, expires_at, state, image_id, "
                         "pet_index FROM tus_uploads WHERE id = ?",
                      (db_arg[]){DB_TEXT(id)}, 1, &r);

    if (rc == PD_OK && (rc = db_step(r)) > 0) {
        memset(out, 0, sizeof(*out));
        copy_text(out->id, sizeof(out->id), db_col_text(r, 0));
        copy_text(out->session_id, sizeof(out->session_id),
                  db_col_text(r, 1));
        copy_text(out->kind, sizeof(out->kind), db_col_text(r, 2));
        out->length = db_col_int(r, 3);
        out->offset = db_col_int(r, 4);
        out->expires_at = db_col_int(r, 5);
        out->done = strcmp(db_col_text(r, 6), "done") == 0;
        copy_text(out->image_id, sizeof(out->image_id), db_col_text(r, 7));
        out->pet_index = db_col_null(r, 8) ? -1 : (int)db_col_int(r, 8);
        rc = PD_OK;
    } else if (rc == 0) {
        rc = PD_ENOTFOUND;
    }
    db_rows_free(r);
    return rc;
}

/* ---- pieces ---- */

struct tus_piece {
    store *store;
    store_writer *w;
    EVP_MD_CTX *sum;
    char upload_id[TUS_ID_LEN + 1];
    char key[STORE_KEY_MAX];
    int64_t offset, length;
    int err;
};

int
tus_piece_begin(store *s, const char *upload_id, int64_t offset,
                enum tus_checksum sum, tus_piece **out)
{
    tus_piece *p = calloc(1, sizeof(*p));
    char salt[9];
    int rc;

    *out = NULL;
    if (p == NULL || pd_random_hex(salt, 4) != PD_OK) {
        free(p);
        return PD_ENOMEM;
    }
    p->store = s;
    p->offset = offset;
    copy_text(p->upload_id, sizeof(p->upload_id), upload_id);
    snprintf(p->key, sizeof(p->key), PIECE_PREFIX "%s/%016lld-%s",
             upload_id, (long long)offset, salt);
    if (sum != TUS_SUM_NONE) {
        p->sum = EVP_MD_CTX_new();
        if (p->sum == NULL ||
            EVP_DigestInit_ex(p->sum, sum == TUS_SUM_SHA1 ? EVP_sha1()
                                                          : EVP_sha256(),
                              NULL) != 1) {
            tus_piece_abort(p);
            return PD_ENOMEM;
        }
    }
    rc = store_put_begin(s, p->key, &p->w);
    if (rc != PD_OK) {
        tus_piece_abort(p);
        return rc;
    }
    *out = p;
    return PD_OK;
}

int
tus_piece_write(tus_piece *p, const void *data, size_t len)
{
    if (p->err == PD_OK)
        p->err = store_put_write(p->w, data, len);
    if (p->err == PD_OK) {
        if (p->sum != NULL)
            EVP_DigestUpdate(p->sum, data, len);
        p->length += (int64_t)len;
    }
    return p->err;
}

int64_t
tus_piece_length(const tus_piece *p)
{
    return p->length;
}

bool
tus_piece_matches(tus_piece *p, const unsigned char *expected, size_t n)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int got = 0;

    if (p->sum == NULL || EVP_DigestFinal_ex(p->sum, md, &got) != 1)
        return false;
    return got == n && CRYPTO_memcmp(md, expected, n) == 0;
}

void
tus_piece_abort(tus_piece *p)
{
    if (p == NULL)
        return;
    if (p->w != NULL)
        store_put_abort(p->w);
    EVP_MD_CTX_free(p->sum);
    free(p);
}

/* Moves the offset past the piece and records it, in one transaction. */
static int
chain_piece(db *d, const tus_piece *p, int64_t expires_at)
{
    int64_t changed = 0;
    int rc = db_begin_write(d);

    if (rc != PD_OK)
        return rc;
    rc = db_exec(d, "UPDATE tus_uploads SET upload_offset = ?, "
                    "expires_at = ? WHERE id = ? AND upload_offset = ? "
                    "AND state = 'receiving' AND ? <= length",
                 (db_arg[]){DB_INT(p->offset + p->length),
                            DB_INT(expires_at), DB_TEXT(p->upload_id),
                            DB_INT(p->offset),
                            DB_INT(p->offset + p->length)},
                 5, &changed);
    if (rc == PD_OK && changed == 0)
        rc = PD_ECONFLICT;
    if (rc == PD_OK)
        rc = db_exec(d, "INSERT INTO tus_parts (upload_id, part_offset, "
                        "length, object_key) VALUES (?, ?, ?, ?)",
                     (db_arg[]){DB_TEXT(p->upload_id), DB_INT(p->offset),
                                DB_INT(p->length), DB_TEXT(p->key)},
                     4, NULL);
    if (rc == PD_OK)
        rc = db_commit(d);
    if (rc != PD_OK)
        db_rollback(d);
    return rc;
}

int
tus_piece_commit(db *d, tus_piece *p, int64_t expires_at)
{
    store_writer *w = p->w;
    int rc = p->err;

    p->w = NULL;
    if (rc != PD_OK || p->length == 0) {
        store_put_abort(w);
        tus_piece_abort(p);
        return rc;
    }
    rc = store_put_commit(w);
    if (rc == PD_OK) {
        rc = chain_piece(d, p, expires_at);
        if (rc != PD_OK)
            store_delete(p->store, p->key);
    }
    tus_piece_abort(p);
    return rc;
}

/* ---- finishing and removing ---- */

/* The keys of an upload's pieces in offset order (*keys to free). */
struct piece_list {
    char (*keys)[STORE_KEY_MAX];
    int64_t *lengths;
    int n;
};

static void
piece_list_free(struct piece_list *l)
{
    free(l->keys);
    free(l->lengths);
    memset(l, 0, sizeof(*l));
}

static int
piece_list(db *d, const char *id, struct piece_list *l)
{
    db_rows *r = NULL;
    int cap = 0, rc;

    memset(l, 0, sizeof(*l));
    rc = db_query(d, "SELECT object_key, length FROM tus_parts WHERE "
                     "upload_id = ? ORDER BY part_offset",
                  (db_arg[]){DB_TEXT(id)}, 1, &r);
    while (rc == PD_OK && (rc = db_step(r)) > 0) {
        if (l->n == cap) {
            int ncap = cap ? cap * 2 : 16;
            void *k = realloc(l->keys, (size_t)ncap * sizeof(*l->keys));
            void *n = k ? realloc(l->lengths, (size_t)ncap * sizeof(int64_t))
                        : NULL;

            if (k != NULL)
                l->keys = k;
            if (n == NULL) {
                rc = PD_ENOMEM;
                break;
            }
            l->lengths = n;
            cap = ncap;
        }
        copy_text(l->keys[l->n], STORE_KEY_MAX, db_col_text(r, 0));
        l->lengths[l->n++] = db_col_int(r, 1);
        rc = PD_OK;
    }
    db_rows_free(r);
    if (rc < 0)
        piece_list_free(l);
    return rc < 0 ? rc : PD_OK;
}

static int
copy_piece(store *s, const char *key, int64_t length, spool *sp)
{
    static _Thread_local char chunk[COPY_CHUNK];
    store_reader *rd = NULL;
    int64_t got = 0;
    int rc = store_get(s, key, 0, -1, &rd);

    while (rc == PD_OK) {
        ssize_t n = store_read(rd, chunk, sizeof(chunk));

        if (n <= 0) {
            rc = n == 0 ? PD_OK : (int)n;
            break;
        }
        got += n;
        rc = spool_write(sp, chunk, (size_t)n);
    }
    store_reader_close(rd);
    if (rc == PD_OK && got != length) {
        log_error("uploads: tus piece %s holds %lld bytes, %lld recorded",
                  key, (long long)got, (long long)length);
        rc = PD_EIO;
    }
    return rc;
}

int
tus_assemble(db *d, store *s, const char *id, spool *sp)
{
    struct piece_list l;
    int rc = piece_list(d, id, &l);

    for (int i = 0; rc == PD_OK && i < l.n; i++)
        rc = copy_piece(s, l.keys[i], l.lengths[i], sp);
    piece_list_free(&l);
    return rc;
}

static void
delete_pieces(db *d, store *s, const char *id)
{
    struct piece_list l;

    if (piece_list(d, id, &l) != PD_OK)
        return;
    for (int i = 0; i < l.n; i++)
        store_delete(s, l.keys[i]);
    piece_list_free(&l);
}

int
tus_finish(db *d, store *s, const char *id, const char *image_id,
           int64_t expires_at)
{
    int rc;

    delete_pieces(d, s, id);
    rc = db_exec(d, "DELETE FROM tus_parts WHERE upload_id = ?",
                 (db_arg[]){DB_TEXT(id)}, 1, NULL);
    if (rc == PD_OK)
        rc = db_exec(d, "UPDATE tus_uploads SET state = 'done', "
                        "image_id = ?, expires_at = ? WHERE id = ?",
                     (db_arg[]){DB_TEXT(image_id), DB_INT(expires_at),
                                DB_TEXT(id)}, 3, NULL);
    return rc;
}

int
tus_remove(db *d, store *s, const char *id)
{
    int rc;

    delete_pieces(d, s, id);
    rc = db_exec(d, "DELETE FROM tus_parts WHERE upload_id = ?",
                 (db_arg[]){DB_TEXT(id)}, 1, NULL);
    if (rc == PD_OK)
        rc = db_exec(d, "DELETE FROM tus_uploads WHERE id = ?",
                     (db_arg[]){DB_TEXT(id)}, 1, NULL);
    return rc;
}

/* Expired uploads, a batch at a time. */
#define SWEEP_BATCH 100

static int
expired_ids(db *d, int64_t now, char ids[][TUS_ID_LEN + 1], int *n)
{
    db_rows *r = NULL;
    int rc = db_query(d, "SELECT id FROM tus_uploads WHERE expires_at < ? "
                         "ORDER BY expires_at LIMIT ?",
                      (db_arg[]){DB_INT(now), DB_INT(SWEEP_BATCH)}, 2, &r);

    *n = 0;
    while (rc == PD_OK && (rc = db_step(r)) > 0) {
        copy_text(ids[*n], TUS_ID_LEN + 1, db_col_text(r, 0));
        (*n)++;
        rc = PD_OK;
    }
    db_rows_free(r);
    return rc < 0 ? rc : PD_OK;
}

/* Pieces no upload row names (left by a crash), older than cutoff. */
struct orphan_scan {
    db *d;
    store *s;
    int64_t cutoff;
    int removed;
};

static int
orphan_piece(void *ctx, const char *key, const struct store_stat *st)
{
    struct orphan_scan *o = ctx;
    int64_t n = 0;

    if (st->mtime_ms >= o->cutoff)
        return 0;
    if (db_query_int(o->d, "SELECT count(*) FROM tus_parts WHERE "
                           "object_key = ?",
                     (db_arg[]){DB_TEXT(key)}, 1, &n) == PD_OK && n == 0) {
        store_delete(o->s, key);
        o->removed++;
    }
    return 0;
}

int
tus_sweep(db *d, store *s, int64_t now)
{
    char ids[SWEEP_BATCH][TUS_ID_LEN + 1];
    struct orphan_scan o = {d, s, now - 3600 * 1000, 0};
    int n = 0, removed = 0;

    do {
        if (expired_ids(d, now, ids, &n) != PD_OK)
            return removed;
        for (int i = 0; i < n; i++)
            if (tus_remove(d, s, ids[i]) == PD_OK)
                removed++;
    } while (n == SWEEP_BATCH);
    store_list(s, PIECE_PREFIX, orphan_piece, &o);
    if (removed > 0 || o.removed > 0)
        log_info("uploads: swept %d expired tus uploads and %d stray "
                 "pieces", removed, o.removed);
    return removed;
}
