/*
 * ingest.c — the one path every uploaded photo takes once its bytes are
 * in the spool: the same bytes again answer with the image already
 * accepted; otherwise the session's bound, libvips's verdict (type from
 * the bytes, pixel limit from the header), the thumbnail and preview
 * (made before the answer: Cloud Run throttles CPU after it), the
 * objects in the store, and last the database row. A failure at any step
 * removes what the earlier steps wrote.
 */
#include "uploads/uploads.h"

#include "common/err.h"
#include "images/images.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "orders/orders.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define COPY_CHUNK (256 * 1024)

static struct upload_env env;
static metrics_family *m_uploads, *m_bytes;

/* What an upload can come to (README); each series starts at 0. */
static const char *const upload_results[] = {
    "ok", "duplicate", "too_large", "unsupported", "invalid",
    "too_many_pixels", "session_full", "bad_request", "forbidden",
    "rate_limited", "error"};

void
uploads_setup(const struct upload_env *e)
{
    env = *e;
    if (m_uploads != NULL)
        return;
    m_uploads = metrics_counter_family(
        "image_uploads_total", "Storefront photo uploads by outcome.",
        "result");
    m_bytes = metrics_counter_family(
        "image_upload_bytes_total", "Bytes of photo uploads received, by "
        "way of uploading.", "via");
    for (size_t i = 0; i < sizeof(upload_results) / sizeof(*upload_results);
         i++)
        metrics_counter_add(m_uploads, &upload_results[i], 0);
}

const struct upload_env *
uploads_env(void)
{
    return &env;
}

void
upload_count_bytes(const char *via, int64_t bytes)
{
    if (m_bytes != NULL && bytes > 0)
        metrics_counter_add(m_bytes, (const char *[]){via}, bytes);
}

static void
count(const char *result)
{
    if (m_uploads != NULL)
        metrics_counter_add(m_uploads, (const char *[]){result}, 1);
}

bool
upload_session_id_valid(const char *id)
{
    size_t n = id ? strlen(id) : 0;

    if (n == 0 || n > UPLOAD_SESSION_ID_MAX)
        return false;
    return strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                      "0123456789_-") == n;
}

bool
upload_kind_valid(const char *kind)
{
    return kind != NULL &&
           (strcmp(kind, "original") == 0 || strcmp(kind, "processed") == 0);
}

int
upload_refuse(struct upload_refusal *why, int status, const char *code,
              const char *result, const char *message)
{
    why->status = status;
    why->code = code;
    snprintf(why->message, sizeof(why->message), "%s", message);
    count(result);
    return status >= 500 ? PD_ERR : PD_EINVAL;
}

/* ---- reading records ---- */

#define IMAGE_COLUMNS                                                   \
    "id, session_id, kind, pet_index, width, height, bytes, sha256, "   \
    "format, orientation, dpi"

static void
copy_text(char *dst, size_t len, const char *src)
{
    snprintf(dst, len, "%s", src ? src : "");
}

static void
read_image(db_rows *r, struct upload_image *out)
{
    memset(out, 0, sizeof(*out));
    copy_text(out->id, sizeof(out->id), db_col_text(r, 0));
    copy_text(out->session_id, sizeof(out->session_id), db_col_text(r, 1));
    copy_text(out->kind, sizeof(out->kind), db_col_text(r, 2));
    out->pet_index = db_col_null(r, 3) ? -1 : (int)db_col_int(r, 3);
    out->width = (int)db_col_int(r, 4);
    out->height = (int)db_col_int(r, 5);
    out->bytes = db_col_int(r, 6);
    copy_text(out->sha256, sizeof(out->sha256), db_col_text(r, 7));
    copy_text(out->format, sizeof(out->format), db_col_text(r, 8));
    out->orientation = db_col_null(r, 9) ? 1 : (int)db_col_int(r, 9);
    out->dpi = db_col_null(r, 10) ? 0 : (int)db_col_int(r, 10);
}

static int
query_image(db *d, const char *sql, const db_arg *args, int n,
            struct upload_image *out)
{
    db_rows *r = NULL;
    int rc = db_query(d, sql, args, n, &r);

    if (rc == PD_OK) {
        rc = db_step(r);
        if (rc > 0) {
            read_image(r, out);
            rc = PD_OK;
        } else if (rc == 0) {
            rc = PD_ENOTFOUND;
        }
    }
    db_rows_free(r);
    return rc;
}

int
upload_image_get(db *d, const char *id, struct upload_image *out)
{
    return query_image(d, "SELECT " IMAGE_COLUMNS " FROM images WHERE "
                          "id = ? AND deleted_at IS NULL",
                       (db_arg[]){DB_TEXT(id)}, 1, out);
}

static int
find_same_bytes(db *d, const struct upload_request *rq, const char *sha,
                struct upload_image *out)
{
    return query_image(d, "SELECT " IMAGE_COLUMNS " FROM images WHERE "
                          "session_id = ? AND kind = ? AND sha256 = ? AND "
                          "deleted_at IS NULL",
                       (db_arg[]){DB_TEXT(rq->session_id),
                                  DB_TEXT(rq->kind), DB_TEXT(sha)},
                       3, out);
}

void
upload_image_json(pd_buf *b, const struct upload_image *img,
                  const char *prefix)
{
    const char *p = prefix ? prefix : "";

    buf_puts(b, "{\"id\":");
    buf_json_string(b, img->id);
    buf_puts(b, ",\"session_id\":");
    buf_json_string(b, img->session_id);
    buf_puts(b, ",\"image_type\":");
    buf_json_string(b, img->kind);
    if (img->pet_index >= 0)
        buf_printf(b, ",\"pet_index\":%d", img->pet_index);
    else
        buf_puts(b, ",\"pet_index\":null");
    buf_printf(b, ",\"width\":%d,\"height\":%d,\"bytes\":%lld,\"sha256\":",
               img->width, img->height, (long long)img->bytes);
    buf_json_string(b, img->sha256);
    buf_puts(b, ",\"format\":");
    buf_json_string(b, img->format);
    buf_printf(b, ",\"orientation\":%d", img->orientation);
    if (img->dpi > 0)
        buf_printf(b, ",\"dpi\":%d", img->dpi);
    else
        buf_puts(b, ",\"dpi\":null");
    buf_printf(b, ",\"thumbnail_url\":\"%s/api/v1/images/%s/thumb\","
                  "\"preview_url\":\"%s/api/v1/images/%s/preview\","
                  "\"duplicate\":%s}",
               p, img->id, p, img->id, img->duplicate ? "true" : "false");
}

/* ---- the steps ---- */

/* Where an image's three objects live. */
struct image_keys {
    char original[STORE_KEY_MAX], thumb[STORE_KEY_MAX],
        preview[STORE_KEY_MAX];
};

static const char *
extension_of(const char *format)
{
    return strcmp(format, "jpeg") == 0 ? "jpg" : format;
}

static void
make_keys(const struct upload_request *rq, const char *id,
          const char *format, struct image_keys *k)
{
    const char *tier = store_tier_name(TIER_TEMPORARY);

    snprintf(k->original, sizeof(k->original), "%s/%s/%s.%s", tier,
             rq->session_id, id, extension_of(format));
    snprintf(k->thumb, sizeof(k->thumb), "%s/%s/%s-thumb.jpg", tier,
             rq->session_id, id);
    snprintf(k->preview, sizeof(k->preview), "%s/%s/%s-preview.jpg", tier,
             rq->session_id, id);
}

static void
delete_objects(const struct image_keys *k)
{
    store_delete(env.store, k->original);
    store_delete(env.store, k->thumb);
    store_delete(env.store, k->preview);
}

/* Streams the spool file into the store under key. */
static int
put_file(const char *path, const char *key)
{
    static _Thread_local char chunk[COPY_CHUNK];
    store_writer *w = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc;

    if (fd < 0) {
        log_error("uploads: cannot reopen spool file %s: %s", path,
                  strerror(errno));
        return PD_EIO;
    }
    rc = store_put_begin(env.store, key, &w);
    while (rc == PD_OK) {
        ssize_t n = read(fd, chunk, sizeof(chunk));

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rc = n == 0 ? PD_OK : PD_EIO;
            break;
        }
        rc = store_put_write(w, chunk, (size_t)n);
    }
    close(fd);
    if (w != NULL)
        rc = rc == PD_OK ? store_put_commit(w) : (store_put_abort(w), rc);
    return rc;
}

static int
put_objects(const char *path, const struct image_derived *dv,
            const struct image_keys *k)
{
    int rc = put_file(path, k->original);

    if (rc == PD_OK)
        rc = store_put_bytes(env.store, k->thumb, dv->thumb.data,
                             dv->thumb.len);
    if (rc == PD_OK)
        rc = store_put_bytes(env.store, k->preview, dv->preview.data,
                             dv->preview.len);
    if (rc != PD_OK)
        delete_objects(k);
    return rc;
}

/* libvips's verdict, and the derivatives of an accepted file. */
static int
check_and_derive(const struct images_api *api, spool *sp,
                 struct image_info *info, struct image_derived *dv,
                 struct upload_refusal *why)
{
    char reason[200];
    int rc;

    rc = api->inspect_header(spool_path(sp), env.max_pixels, info, reason,
                             sizeof(reason));
    if (rc == PD_OK)
        rc = api->derive(spool_path(sp), UPLOAD_THUMB_SIDE,
                         UPLOAD_PREVIEW_SIDE, dv, reason, sizeof(reason));
    switch (rc) {
    case PD_OK:
        return PD_OK;
    case IMAGE_EUNSUPPORTED: {
        char msg[256];

        snprintf(msg, sizeof(msg), "%s: send a JPEG, PNG, WebP or HEIC "
                 "photo", reason);
        return upload_refuse(why, 415, "unsupported_type", "unsupported",
                             msg);
    }
    case IMAGE_ETOOMANYPIXELS:
        return upload_refuse(why, 422, "too_many_pixels", "too_many_pixels",
                             reason);
    case IMAGE_EINVALID:
        return upload_refuse(why, 422, "invalid_content", "invalid", reason);
    default:
        return upload_refuse(why, 500, "internal", "error",
                             "the photo could not be processed");
    }
}

static int
session_image_count(db *d, const char *session, int64_t *n)
{
    return db_query_int(d, "SELECT count(*) FROM images WHERE "
                           "session_id = ? AND deleted_at IS NULL",
                        (db_arg[]){DB_TEXT(session)}, 1, n);
}

static void
fill_new(struct upload_image *img, const struct upload_request *rq,
         const char *id, const struct image_info *info, int64_t bytes,
         const char *sha)
{
    memset(img, 0, sizeof(*img));
    copy_text(img->id, sizeof(img->id), id);
    copy_text(img->session_id, sizeof(img->session_id), rq->session_id);
    copy_text(img->kind, sizeof(img->kind), rq->kind);
    img->pet_index = rq->pet_index;
    img->width = info->width;
    img->height = info->height;
    img->bytes = bytes;
    copy_text(img->sha256, sizeof(img->sha256), sha);
    copy_text(img->format, sizeof(img->format), info->format);
    img->orientation = info->orientation > 0 ? info->orientation : 1;
    img->dpi = info->dpi > 0 ? (int)lround(info->dpi) : 0;
}

/* The order a newly linked original belongs to gets its flags anew. */
static int
refresh_order_of(db *d, const char *image_id)
{
    int64_t order_id = 0;
    int rc = db_query_int(d, "SELECT COALESCE(order_id, 0) FROM images "
                             "WHERE id = ?",
                          (db_arg[]){DB_TEXT(image_id)}, 1, &order_id);

    if (rc != PD_OK || order_id == 0)
        return rc;
    return orders_refresh_warnings(d, order_id);
}

/*
 * An order that arrived before its photos: the first of the session's
 * pets still without an image of this kind (the one at pet_index when
 * given) gets this one, and the image joins the order.
 */
static int
link_waiting_pet(db *d, const struct upload_image *img, int64_t now)
{
    bool orig = strcmp(img->kind, "original") == 0;
    char sql[512];
    int64_t changed = 0;
    int rc;

    snprintf(sql, sizeof(sql),
             "UPDATE pets SET %s = ? WHERE id = (SELECT id FROM pets WHERE "
             "session_id = ? AND %s IS NULL AND (? < 0 OR position = ?) "
             "ORDER BY position, id LIMIT 1)",
             orig ? "original_image_id" : "processed_image_id",
             orig ? "original_image_id" : "processed_image_id");
    rc = db_exec(d, sql,
                 (db_arg[]){DB_TEXT(img->id), DB_TEXT(img->session_id),
                            DB_INT(img->pet_index), DB_INT(img->pet_index)},
                 4, &changed);
    if (rc != PD_OK || changed == 0)
        return rc;
    snprintf(sql, sizeof(sql),
             "UPDATE images SET order_id = (SELECT order_id FROM pets "
             "WHERE %s = ? LIMIT 1), tier = 'order_pending', "
             "tier_changed_at = ? WHERE id = ?",
             orig ? "original_image_id" : "processed_image_id");
    rc = db_exec(d, sql,
                 (db_arg[]){DB_TEXT(img->id), DB_INT(now),
                            DB_TEXT(img->id)}, 3, NULL);
    if (rc == PD_OK && orig)
        rc = refresh_order_of(d, img->id);
    return rc;
}

static int
insert_rows(db *d, const struct upload_request *rq,
            const struct upload_image *img, const struct image_keys *k,
            const char *mime, int64_t now)
{
    int rc = db_exec(
        d, "INSERT INTO upload_sessions (id, created_at, last_seen_at, "
           "image_count, client_addr) VALUES (?, ?, ?, 1, ?) "
           "ON CONFLICT (id) DO UPDATE SET last_seen_at = "
           "excluded.last_seen_at, "
           "image_count = upload_sessions.image_count + 1",
        (db_arg[]){DB_TEXT(rq->session_id), DB_INT(now), DB_INT(now),
                   DB_TEXT(rq->client_addr)}, 4, NULL);

    if (rc == PD_OK)
        rc = db_exec(
            d, "INSERT INTO images (id, session_id, kind, object_key, "
               "thumb_key, preview_key, tier, bytes, width, height, "
               "format, mime, sha256, orientation, dpi, created_at, "
               "tier_changed_at, pet_index) VALUES (?, ?, ?, ?, ?, ?, "
               "'temporary', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (db_arg[]){DB_TEXT(img->id), DB_TEXT(img->session_id),
                       DB_TEXT(img->kind), DB_TEXT(k->original),
                       DB_TEXT(k->thumb), DB_TEXT(k->preview),
                       DB_INT(img->bytes), DB_INT(img->width),
                       DB_INT(img->height), DB_TEXT(img->format),
                       DB_TEXT(mime), DB_TEXT(img->sha256),
                       DB_INT(img->orientation),
                       img->dpi > 0 ? DB_INT(img->dpi) : DB_NULL,
                       DB_INT(now), DB_INT(now),
                       img->pet_index >= 0 ? DB_INT(img->pet_index)
                                           : DB_NULL},
            17, NULL);
    if (rc == PD_OK)
        rc = link_waiting_pet(d, img, now);
    return rc;
}

static int
record(db *d, const struct upload_request *rq, const struct upload_image *img,
       const struct image_keys *k, const char *mime)
{
    int rc = db_begin_write(d);

    if (rc != PD_OK)
        return rc;
    rc = insert_rows(d, rq, img, k, mime, pd_now_ms());
    if (rc == PD_OK)
        rc = db_commit(d);
    if (rc != PD_OK)
        db_rollback(d);
    return rc;
}

/* The image row went in concurrently with the same bytes: answer it. */
static int
lost_race(db *d, const struct upload_request *rq, const char *sha,
          struct upload_image *out, struct upload_refusal *why)
{
    if (find_same_bytes(d, rq, sha, out) != PD_OK)
        return upload_refuse(why, 500, "internal", "error",
                             "the photo could not be recorded");
    out->duplicate = true;
    count("duplicate");
    return PD_OK;
}

static int
store_and_record(db *d, const struct upload_request *rq, spool *sp,
                 const struct image_info *info,
                 const struct image_derived *dv, struct upload_image *out,
                 struct upload_refusal *why)
{
    struct image_keys k;
    char id[UPLOAD_IMAGE_ID_LEN + 1] = "img_";
    char sha[65];
    int rc;

    spool_sha256(sp, sha);
    if (pd_random_hex(id + 4, 16) != PD_OK)
        return upload_refuse(why, 500, "internal", "error",
                             "no randomness for an image id");
    make_keys(rq, id, info->format, &k);
    fill_new(out, rq, id, info, spool_size(sp), sha);
    rc = put_objects(spool_path(sp), dv, &k);
    if (rc != PD_OK)
        return upload_refuse(why, 503, "unavailable", "error",
                             "the photo could not be stored; try again");
    rc = record(d, rq, out, &k, info->mime);
    if (rc == PD_OK)
        return PD_OK;
    delete_objects(&k);
    if (rc == PD_ECONFLICT)
        return lost_race(d, rq, sha, out, why);
    return upload_refuse(why, 503, "unavailable", "error",
                         "the photo could not be recorded; try again");
}

static void
log_accepted(const struct upload_request *rq, const struct upload_image *img,
             int64_t started_ns)
{
    log_info("upload %s: %s %s for session %s via %s, %dx%d %s, %lld "
             "bytes, %.0f ms", img->duplicate ? "repeated" : "accepted",
             img->id, img->kind, img->session_id, rq->via, img->width,
             img->height, img->format, (long long)img->bytes,
             (double)(pd_mono_ns() - started_ns) / 1e6);
}

int
upload_ingest(db *d, const struct upload_request *rq, spool *sp,
              struct upload_image *out, struct upload_refusal *why)
{
    const struct images_api *api = NULL;
    struct image_info info;
    struct image_derived dv = {0};
    int64_t started = pd_mono_ns(), held = 0;
    char sha[65];
    int rc;

    memset(why, 0, sizeof(*why));
    if (spool_size(sp) == 0)
        return upload_refuse(why, 422, "invalid_content", "invalid",
                             "the file is empty");
    spool_sha256(sp, sha);
    rc = find_same_bytes(d, rq, sha, out);
    if (rc == PD_OK) {
        out->duplicate = true;
        count("duplicate");
        log_accepted(rq, out, started);
        return PD_OK;
    }
    if (rc != PD_ENOTFOUND ||
        session_image_count(d, rq->session_id, &held) != PD_OK)
        return upload_refuse(why, 503, "unavailable", "error",
                             "the database is not answering; try again");
    if (held >= env.session_max_images)
        return upload_refuse(why, 409, "session_full", "session_full",
                             "this upload session holds as many photos as "
                             "it may");
    if (images_load(&api) != PD_OK)
        return upload_refuse(why, 503, "unavailable", "error",
                             "photo processing is unavailable");
    rc = check_and_derive(api, sp, &info, &dv, why);
    if (rc == PD_OK)
        rc = store_and_record(d, rq, sp, &info, &dv, out, why);
    api->free_derived(&dv);
    if (rc == PD_OK) {
        if (!out->duplicate)
            count("ok");
        log_accepted(rq, out, started);
    }
    return rc;
}
