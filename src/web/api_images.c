/*
 * api_images.c — GET /api/v1/images/{id}/{variant}: a photo's thumbnail
 * or zoom preview (any staff), or the stored file itself, byte for byte
 * (`original` for any image, also `processed` for a cut-out; fulfillers
 * and admins).
 * Streamed from the store; ids are never reused, so answers are cached.
 */
#include "web/web.h"

#include "auth/guard.h"
#include "common/err.h"
#include "db/db.h"
#include "obs/log.h"
#include "store/store.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct image_file {
    char key[STORE_KEY_MAX];
    char mime[40];
    char sha256[65];
    char format[16];
};

/* The key and type of one variant of an image; PD_ENOTFOUND if none. */
static int
find_variant(const char *id, const char *variant, struct image_file *f)
{
    const char *col = strcmp(variant, "thumb") == 0     ? "thumb_key"
                      : strcmp(variant, "preview") == 0 ? "preview_key"
                                                         : "object_key";
    bool derived = col[0] != 'o';
    char sql[256];
    db_rows *r = NULL;
    int rc;

    snprintf(sql, sizeof(sql), "SELECT %s, mime, sha256, format, kind "
             "FROM images WHERE id = ? AND deleted_at IS NULL", col);
    rc = db_query(db_thread(), sql, (db_arg[]){DB_TEXT(id)}, 1, &r);
    if (rc == PD_OK && (rc = db_step(r)) > 0) {
        const char *key = db_col_text(r, 0);
        const char *kind = db_col_text(r, 4);

        rc = PD_OK;
        /* `original` is the stored file of any image; `processed`
         * names a cut-out's only. */
        if (key == NULL || (strcmp(variant, "processed") == 0 &&
                            strcmp(kind, "processed") != 0))
            rc = PD_ENOTFOUND;
        snprintf(f->key, sizeof(f->key), "%s", key ? key : "");
        snprintf(f->mime, sizeof(f->mime), "%s",
                 derived ? "image/jpeg"
                 : db_col_null(r, 1) ? "application/octet-stream"
                                     : db_col_text(r, 1));
        snprintf(f->sha256, sizeof(f->sha256), "%s", db_col_text(r, 2));
        snprintf(f->format, sizeof(f->format), "%s",
                 db_col_null(r, 3) ? "bin" : db_col_text(r, 3));
    } else if (rc == 0) {
        rc = PD_ENOTFOUND;
    }
    db_rows_free(r);
    return rc;
}

/* The order an image belongs to, 0 when none (for the audit row). */
static int64_t
image_order_id(const char *id)
{
    int64_t order = 0;

    if (db_query_int(db_thread(), "SELECT COALESCE(order_id, 0) FROM "
                                  "images WHERE id = ?",
                     (db_arg[]){DB_TEXT(id)}, 1, &order) != PD_OK)
        return 0;
    return order;
}

static long
read_store(void *ctx, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    return (long)store_read(ctx, buf, max);
}

static void
close_store(void *ctx)
{
    store_reader_close(ctx);
}

/* Sends the object: from its file when the store has one. */
static int
send_object(http_req *req, const struct image_file *f, store_reader *rd,
            int64_t size)
{
    int fd = -1, dupfd;
    int64_t off = 0, len = 0;

    if (store_reader_fd(rd, &fd, &off, &len) == PD_OK &&
        (dupfd = dup(fd)) >= 0) {
        store_reader_close(rd);
        return http_respond_fd(req, 200, f->mime, dupfd, off, len);
    }
    return http_respond_stream(req, 200, f->mime, size, read_store,
                               close_store, rd);
}

static void
add_file_headers(http_req *req, const char *id, const char *variant,
                 const struct image_file *f)
{
    char value[160];

    http_add_header(req, "Cache-Control",
                    "private, max-age=31536000, immutable");
    if (strcmp(variant, "thumb") == 0 || strcmp(variant, "preview") == 0)
        return;
    snprintf(value, sizeof(value), "\"%s\"", f->sha256);
    http_add_header(req, "ETag", value);
    snprintf(value, sizeof(value), "inline; filename=\"%s.%s\"", id,
             strcmp(f->format, "jpeg") == 0 ? "jpg" : f->format);
    http_add_header(req, "Content-Disposition", value);
}

/*
 * Who looked at a customer's photo: every preview and file served is in
 * the audit log (thumbnails, shown by the dozen in lists, are not).
 */
static void
audit_view(http_req *req, const char *id, const char *variant)
{
    char detail[64];

    if (strcmp(variant, "thumb") == 0)
        return;
    snprintf(detail, sizeof(detail), "{\"variant\":\"%s\"}", variant);
    if (guard_audit(req, strcmp(variant, "preview") == 0 ? "photo.view"
                                                         : "photo.download",
                    "image", id, image_order_id(id), detail) != PD_OK)
        log_error("audit: cannot record the view of image %s", id);
}

int
web_api_image_get(http_req *req)
{
    const char *id = http_param(req, "id");
    const char *variant = strrchr(http_path(req), '/') + 1;
    struct image_file f;
    struct store_stat st;
    store_reader *rd = NULL;
    int rc;

    if (db_thread() == NULL)
        return PD_EUNAVAIL;
    rc = find_variant(id, variant, &f);
    if (rc == PD_ENOTFOUND)
        return http_error(req, 404, NULL, "no such image");
    if (rc != PD_OK)
        return rc;
    rc = store_stat(web_app()->store, f.key, &st);
    if (rc == PD_OK)
        rc = store_get(web_app()->store, f.key, 0, -1, &rd);
    if (rc == PD_ENOTFOUND) {
        log_error("image %s: its %s object %s is missing from storage", id,
                  variant, f.key);
        return http_error(req, 404, NULL, "the image file is missing");
    }
    if (rc != PD_OK)
        return PD_EUNAVAIL;
    add_file_headers(req, id, variant, &f);
    audit_view(req, id, variant);
    return send_object(req, &f, rd, st.size);
}
