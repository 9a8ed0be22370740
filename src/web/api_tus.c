/*
 * api_tus.c — tus 1.0.0 at /api/v2/uploads: discovery (OPTIONS), creation
 * (with or without a first piece), HEAD, PATCH with checksums, DELETE,
 * expiry, and POST with X-HTTP-Method-Override for clients that cannot
 * send PATCH. Pieces stream into the store as they arrive and are fsynced
 * before the answer; a piece cut off mid-way is kept when it carried no
 * checksum, so a phone on a bad network never sends a byte twice. The
 * piece that completes an upload is answered only once the whole file has
 * been through the same checks and processing as a multipart upload.
 */
#include "web/web.h"

#include "common/err.h"
#include "db/db.h"
#include "obs/log.h"
#include "uploads/tus.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define TUS_VERSION "1.0.0"
#define TUS_EXTENSIONS                                                   \
    "creation,creation-with-upload,expiration,checksum,termination"
#define OFFSET_TYPE "application/offset+octet-stream"
#define METADATA_MAX 4096
#define STATUS_CHECKSUM_MISMATCH 460

enum tus_op { OP_CREATE, OP_PATCH };

/* Why a request is refused, before or after its body. */
struct refusal {
    int status;
    const char *code;
    const char *message;
};

/* One tus request's state, from its first piece of body to its end. */
struct tus_req {
    enum tus_op op;
    bool prepared;
    struct refusal refused; /* status 0: none */
    struct tus_upload up;
    tus_piece *piece;
    enum tus_checksum sum;
    unsigned char expected[EVP_MAX_MD_SIZE];
    size_t expected_len;
    int64_t received; /* body bytes, for the metrics */
};

static const struct config *
cfg(void)
{
    return web_app()->cfg;
}

static int64_t
expiry_from_now(void)
{
    return pd_now_ms() + (int64_t)cfg()->tus_expiry_s * 1000;
}

/* RFC 7231 date, e.g. "Wed, 25 Jun 2014 16:00:00 GMT". */
static void
http_date(char out[40], int64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    gmtime_r(&t, &tm);
    strftime(out, 40, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void
add_int_header(http_req *req, const char *name, int64_t v)
{
    char text[24];

    snprintf(text, sizeof(text), "%lld", (long long)v);
    http_add_header(req, name, text);
}

static void
add_expires(http_req *req, const struct tus_upload *up)
{
    char date[40];

    if (up->done)
        return;
    http_date(date, up->expires_at);
    http_add_header(req, "Upload-Expires", date);
}

static struct refusal
refusal(int status, const char *code, const char *message)
{
    return (struct refusal){status, code, message};
}

/* 412 unless the client speaks our version. */
static bool
version_ok(http_req *req, struct refusal *why)
{
    const char *v = http_header(req, "Tus-Resumable");

    if (v != NULL && strcmp(v, TUS_VERSION) == 0)
        return true;
    http_add_header(req, "Tus-Version", TUS_VERSION);
    *why = refusal(412, "unsupported_version",
                   "send Tus-Resumable: 1.0.0 (the version this server "
                   "speaks)");
    return false;
}

/* ---- base64 ---- */

/* Decodes standard base64 into out; the length, or -1 when malformed. */
static int
b64_decode(const char *in, size_t n, unsigned char *out, size_t cap)
{
    int len, pad = 0;

    if (n == 0)
        return 0;
    if (n % 4 != 0 || n / 4 * 3 > cap)
        return -1;
    len = EVP_DecodeBlock(out, (const unsigned char *)in, (int)n);
    if (len < 0)
        return -1;
    pad = (in[n - 1] == '=') + (in[n - 2] == '=');
    return len - pad;
}

/* ---- creation ---- */

/*
 * Finds key in an Upload-Metadata header ("k1 b64,k2 b64,k3") and
 * decodes its value into out (NUL-terminated). False when absent or
 * malformed.
 */
static bool
metadata_value(const char *header, const char *key, char *out, size_t cap)
{
    size_t klen = strlen(key);
    const char *p = header;

    while (*p != '\0') {
        size_t plen = strcspn(p, ",");
        const char *sp = memchr(p, ' ', plen);
        size_t name_len = sp ? (size_t)(sp - p) : plen;

        if (name_len == klen && strncmp(p, key, klen) == 0) {
            int n = sp ? b64_decode(sp + 1, plen - name_len - 1,
                                    (unsigned char *)out, cap - 1)
                       : 0;

            if (n < 0 || memchr(out, '\0', (size_t)n) != NULL)
                return false;
            out[n] = '\0';
            return true;
        }
        p += plen;
        p += strspn(p, ", ");
    }
    return false;
}

/* The upload a creation request describes, or why it cannot be. */
static bool
describe_upload(http_req *req, struct tus_upload *up, struct refusal *why)
{
    const char *len = http_header(req, "Upload-Length");
    const char *meta = http_header(req, "Upload-Metadata");
    char pet[16];
    int64_t pet_index = -1;

    memset(up, 0, sizeof(*up));
    if (len == NULL) {
        *why = refusal(400, "bad_request", "Upload-Length is required "
                       "(deferred lengths are not supported)");
        return false;
    }
    if (pd_parse_i64(len, 0, INT64_MAX, &up->length) != PD_OK) {
        *why = refusal(400, "bad_request", "Upload-Length is not a number");
        return false;
    }
    if (up->length > (int64_t)cfg()->tus_max_size) {
        *why = refusal(413, "too_large", "the file is larger than this "
                       "server accepts (see Tus-Max-Size)");
        return false;
    }
    if (up->length == 0) {
        *why = refusal(422, "invalid_content", "the file is empty");
        return false;
    }
    if (meta == NULL || strlen(meta) > METADATA_MAX ||
        !metadata_value(meta, "session_id", up->session_id,
                        sizeof(up->session_id)) ||
        !upload_session_id_valid(up->session_id)) {
        *why = refusal(400, "bad_request", "Upload-Metadata needs a "
                       "session_id of 1 to 64 letters, digits, '-' or '_'");
        return false;
    }
    if (!metadata_value(meta, "image_type", up->kind, sizeof(up->kind)) ||
        !upload_kind_valid(up->kind)) {
        *why = refusal(400, "bad_request", "Upload-Metadata needs an "
                       "image_type of original or processed");
        return false;
    }
    if (metadata_value(meta, "pet_index", pet, sizeof(pet)) && pet[0] &&
        pd_parse_i64(pet, 0, UPLOAD_PET_INDEX_MAX, &pet_index) != PD_OK) {
        *why = refusal(400, "bad_request", "pet_index must be 0 to 99");
        return false;
    }
    up->pet_index = (int)pet_index;
    return true;
}

/* The session may take another photo. */
static bool
session_has_room(db *d, const char *session, struct refusal *why)
{
    int64_t n = 0;

    if (db_query_int(d, "SELECT count(*) FROM images WHERE session_id = ? "
                        "AND deleted_at IS NULL",
                     (db_arg[]){DB_TEXT(session)}, 1, &n) != PD_OK) {
        *why = refusal(503, "unavailable", "the database is not answering; "
                       "try again");
        return false;
    }
    if (n < (int64_t)cfg()->upload_session_max_images)
        return true;
    *why = refusal(409, "session_full", "this upload session holds as many "
                   "photos as it may");
    return false;
}

static bool
create_upload(http_req *req, struct tus_req *t, struct refusal *why)
{
    db *d = db_thread();

    if (!describe_upload(req, &t->up, why))
        return false;
    if (d == NULL || !session_has_room(d, t->up.session_id, why))
        return false;
    if (pd_random_hex(t->up.id, TUS_ID_LEN / 2) != PD_OK) {
        *why = refusal(500, "internal", "no randomness for an upload id");
        return false;
    }
    t->up.expires_at = expiry_from_now();
    if (tus_create(d, &t->up, http_header(req, "Upload-Metadata")) !=
        PD_OK) {
        *why = refusal(503, "unavailable", "the upload could not be "
                       "recorded; try again");
        return false;
    }
    log_info("tus upload %s created for session %s (%s, %lld bytes)",
             t->up.id, t->up.session_id, t->up.kind,
             (long long)t->up.length);
    return true;
}

/* ---- finding an upload ---- */

static bool
expired(const struct tus_upload *up)
{
    return !up->done && up->expires_at < pd_now_ms();
}

/* The upload the path names: 404 unknown, 410 expired. */
static bool
find_upload(http_req *req, struct tus_upload *up, struct refusal *why)
{
    const char *id = http_param(req, "id");
    db *d = db_thread();
    int rc;

    if (d == NULL) {
        *why = refusal(503, "unavailable", "the database is not answering");
        return false;
    }
    rc = id != NULL && strlen(id) == TUS_ID_LEN ? tus_get(d, id, up)
                                                 : PD_ENOTFOUND;
    if (rc == PD_ENOTFOUND) {
        *why = refusal(404, "not_found", "no such upload (it may have "
                       "been finished, cancelled or expired and removed)");
        return false;
    }
    if (rc != PD_OK) {
        *why = refusal(503, "unavailable", "the database is not answering");
        return false;
    }
    if (expired(up)) {
        *why = refusal(410, "expired", "this upload expired; start again");
        return false;
    }
    return true;
}

/* ---- receiving a piece ---- */

/* Upload-Checksum: "sha1 <b64>" or "sha256 <b64>"; 400 otherwise. */
static bool
parse_checksum(http_req *req, struct tus_req *t, struct refusal *why)
{
    const char *h = http_header(req, "Upload-Checksum");
    size_t alen;
    int n;

    t->sum = TUS_SUM_NONE;
    if (h == NULL)
        return true;
    alen = strcspn(h, " ");
    if (alen == 4 && strncasecmp(h, "sha1", 4) == 0)
        t->sum = TUS_SUM_SHA1;
    else if (alen == 6 && strncasecmp(h, "sha256", 6) == 0)
        t->sum = TUS_SUM_SHA256;
    n = h[alen] == ' ' ? b64_decode(h + alen + 1, strlen(h + alen + 1),
                                    t->expected, sizeof(t->expected))
                       : -1;
    if (t->sum == TUS_SUM_NONE || n != (t->sum == TUS_SUM_SHA1 ? 20 : 32)) {
        *why = refusal(400, "bad_request", "Upload-Checksum must be "
                       "\"sha1 <base64>\" or \"sha256 <base64>\"");
        return false;
    }
    t->expected_len = (size_t)n;
    return true;
}

/* A body is a piece of the file: its type, its place, its size. */
static bool
piece_acceptable(http_req *req, const struct tus_req *t, bool patch,
                 struct refusal *why)
{
    const char *type = http_header(req, "Content-Type");
    const char *off = http_header(req, "Upload-Offset");
    const char *cl = http_header(req, "Content-Length");
    int64_t offset = 0, n = 0;

    if (type == NULL || strncasecmp(type, OFFSET_TYPE,
                                    strlen(OFFSET_TYPE)) != 0) {
        *why = refusal(415, "unsupported_type", "pieces are sent as "
                       "application/offset+octet-stream");
        return false;
    }
    if (patch && (off == NULL || pd_parse_i64(off, 0, INT64_MAX, &offset) !=
                                     PD_OK)) {
        *why = refusal(400, "bad_request", "Upload-Offset is required");
        return false;
    }
    if (offset != t->up.offset) {
        *why = refusal(409, "offset_mismatch", "Upload-Offset is not where "
                       "the upload stands; ask with HEAD");
        return false;
    }
    if (cl != NULL && pd_parse_i64(cl, 0, INT64_MAX, &n) == PD_OK &&
        n > t->up.length - t->up.offset) {
        *why = refusal(413, "too_large", "the piece goes past the "
                       "declared Upload-Length");
        return false;
    }
    return true;
}

static bool
begin_piece(http_req *req, struct tus_req *t, bool patch,
            struct refusal *why)
{
    if (!piece_acceptable(req, t, patch, why) ||
        !parse_checksum(req, t, why))
        return false;
    if (tus_piece_begin(web_app()->store, t->up.id, t->up.offset, t->sum,
                        &t->piece) != PD_OK) {
        *why = refusal(503, "unavailable", "the piece cannot be stored now; "
                       "try again");
        return false;
    }
    return true;
}

/* ---- a request's life ---- */

/* The operation a request asks for (POST may override to PATCH). */
static enum tus_op
op_of(http_req *req)
{
    return http_param(req, "id") == NULL ? OP_CREATE : OP_PATCH;
}

static bool
prepare(http_req *req, struct tus_req *t)
{
    struct refusal why = {0};
    bool ok = version_ok(req, &why);

    t->prepared = true;
    t->op = op_of(req);
    if (ok && t->op == OP_CREATE)
        ok = create_upload(req, t, &why);
    if (ok && t->op == OP_PATCH)
        ok = find_upload(req, &t->up, &why) &&
             begin_piece(req, t, true, &why);
    if (!ok)
        t->refused = why;
    return ok;
}

/*
 * When the request ends: a piece still open was cut off (or refused).
 * What arrived of an unchecked piece is kept, so the client goes on from
 * there; a refused or checksummed piece is dropped.
 */
static void
release(http_req *req, void *arg)
{
    struct tus_req *t = arg;
    tus_piece *p = t->piece;
    int64_t kept;

    (void)req;
    t->piece = NULL;
    upload_count_bytes("tus", t->received);
    if (p == NULL)
        return;
    if (t->refused.status != 0 || t->sum != TUS_SUM_NONE ||
        tus_piece_length(p) == 0 || db_thread() == NULL) {
        tus_piece_abort(p);
        return;
    }
    kept = tus_piece_length(p);
    if (tus_piece_commit(db_thread(), p, expiry_from_now()) == PD_OK)
        log_info("tus upload %s: kept the %lld bytes of a cut-off piece",
                 t->up.id, (long long)kept);
}

static struct tus_req *
state(http_req *req)
{
    struct tus_req *t = http_user(req);

    if (t != NULL)
        return t;
    t = arena_alloc(http_arena(req), sizeof(*t));
    if (t == NULL)
        return NULL;
    memset(t, 0, sizeof(*t));
    http_set_user(req, t);
    http_on_done(req, release, t);
    return t;
}

static int
refuse_body(http_req *req, struct tus_req *t)
{
    http_refuse(req, t->refused.status, t->refused.code,
                t->refused.message);
    return PD_EINVAL;
}

int
web_tus_body(http_req *req, const char *data, size_t len)
{
    struct tus_req *t = state(req);

    if (t == NULL)
        return PD_ENOMEM;
    if (!t->prepared && !prepare(req, t))
        return refuse_body(req, t);
    if (t->refused.status != 0)
        return PD_EINVAL;
    if (t->piece == NULL && !begin_piece(req, t, false, &t->refused))
        return refuse_body(req, t);
    if (tus_piece_length(t->piece) + (int64_t)len >
        t->up.length - t->up.offset) {
        t->refused = refusal(413, "too_large", "the piece goes past the "
                             "declared Upload-Length");
        return refuse_body(req, t);
    }
    t->received += (int64_t)len;
    if (tus_piece_write(t->piece, data, len) != PD_OK) {
        t->refused = refusal(503, "unavailable", "the piece could not be "
                             "stored; send it again");
        return refuse_body(req, t);
    }
    return PD_OK;
}

static int
answer_refusal(http_req *req, const struct refusal *why)
{
    return http_error(req, why->status, why->code, why->message);
}

/* ---- completing an upload ---- */

static void
add_location(http_req *req, const char *id)
{
    char loc[300];

    snprintf(loc, sizeof(loc), "%s/api/v2/uploads/%s", web_path_prefix(req),
             id);
    http_add_header(req, "Location", loc);
}

/* The success answer of a creation (201) or a PATCH (204). */
static int
answer_progress(http_req *req, const struct tus_req *t)
{
    add_int_header(req, "Upload-Offset", t->up.offset);
    add_expires(req, &t->up);
    if (t->up.image_id[0] != '\0')
        http_add_header(req, "X-Image-Id", t->up.image_id);
    if (t->op == OP_CREATE) {
        add_location(req, t->up.id);
        return http_respond(req, 201, NULL, "", 0, false);
    }
    return http_respond(req, 204, NULL, "", 0, false);
}

/*
 * All bytes are in: the pieces become one file in the spool, which goes
 * through the upload checks. Accepted: the upload is done and names its
 * image. Refused: the upload and its pieces are removed.
 */
static int
complete(http_req *req, struct tus_req *t)
{
    struct upload_request rq = {.session_id = t->up.session_id,
                                .kind = t->up.kind,
                                .pet_index = t->up.pet_index,
                                .client_addr = http_client_addr(req),
                                .via = "tus"};
    struct upload_refusal why = {0};
    struct upload_image img;
    store *st = web_app()->store;
    db *d = db_thread();
    spool *sp = NULL;
    int rc = spool_open(uploads_env()->spool_dir, &sp);

    if (rc == PD_OK)
        rc = tus_assemble(d, st, t->up.id, sp);
    if (rc != PD_OK) {
        spool_discard(sp);
        return http_error(req, 503, "unavailable", "the upload could not "
                          "be put together; try again");
    }
    rc = upload_ingest(d, &rq, sp, &img, &why);
    spool_discard(sp);
    if (rc != PD_OK) {
        if (why.status < 500)
            tus_remove(d, st, t->up.id);
        return http_error(req, why.status, why.code, why.message);
    }
    t->up.done = true;
    snprintf(t->up.image_id, sizeof(t->up.image_id), "%s", img.id);
    tus_finish(d, st, t->up.id, img.id, expiry_from_now());
    return answer_progress(req, t);
}

/* Commits the request's piece (after its checksum) and moves on. */
static int
finish_piece(http_req *req, struct tus_req *t)
{
    tus_piece *p = t->piece;
    int64_t len = p ? tus_piece_length(p) : 0;
    int rc;

    t->piece = NULL;
    if (p != NULL && t->sum != TUS_SUM_NONE &&
        !tus_piece_matches(p, t->expected, t->expected_len)) {
        tus_piece_abort(p);
        return http_error(req, STATUS_CHECKSUM_MISMATCH,
                          "checksum_mismatch", "the piece's checksum does "
                          "not match its bytes; send it again");
    }
    t->up.expires_at = expiry_from_now();
    rc = p ? tus_piece_commit(db_thread(), p, t->up.expires_at) : PD_OK;
    if (rc == PD_ECONFLICT)
        return http_error(req, 409, "offset_mismatch", "another request "
                          "moved this upload on; ask with HEAD");
    if (rc != PD_OK)
        return http_error(req, 503, "unavailable", "the piece could not "
                          "be stored; send it again");
    t->up.offset += len;
    if (t->up.offset == t->up.length && !t->up.done)
        return complete(req, t);
    return answer_progress(req, t);
}

/* POST /api/v2/uploads and PATCH /api/v2/uploads/{id}. */
static int
receive(http_req *req)
{
    struct tus_req *t = state(req);

    if (t == NULL)
        return PD_ENOMEM;
    if (!t->prepared && !prepare(req, t))
        return answer_refusal(req, &t->refused);
    if (t->refused.status != 0)
        return answer_refusal(req, &t->refused);
    return finish_piece(req, t);
}

int
web_tus_create(http_req *req)
{
    return receive(req);
}

int
web_tus_patch(http_req *req)
{
    return receive(req);
}

/* ---- HEAD, GET, DELETE, OPTIONS ---- */

int
web_tus_head(http_req *req)
{
    struct refusal why = {0};
    struct tus_req *t = state(req);

    if (t == NULL)
        return PD_ENOMEM;
    http_add_header(req, "Cache-Control", "no-store");
    if (!version_ok(req, &why) || !find_upload(req, &t->up, &why))
        return http_respond(req, why.status, NULL, "", 0, false);
    t->op = OP_PATCH;
    t->prepared = true;
    if (t->up.offset == t->up.length && !t->up.done)
        return complete(req, t); /* an earlier completion failed */
    add_int_header(req, "Upload-Offset", t->up.offset);
    add_int_header(req, "Upload-Length", t->up.length);
    add_expires(req, &t->up);
    if (t->up.done)
        http_add_header(req, "X-Image-Id", t->up.image_id);
    return http_respond(req, 200, NULL, "", 0, false);
}

/* The image a finished upload became; where an unfinished one stands. */
int
web_tus_get(http_req *req)
{
    struct refusal why = {0};
    struct tus_upload up;
    struct upload_image img;
    pd_buf b;
    int rc;

    if (!find_upload(req, &up, &why))
        return answer_refusal(req, &why);
    buf_init(&b);
    if (up.done && upload_image_get(db_thread(), up.image_id, &img) ==
                       PD_OK) {
        upload_image_json(&b, &img, web_path_prefix(req));
        buf_puts(&b, "\n");
        rc = http_respond_json(req, 200, &b);
    } else {
        buf_printf(&b, "{\"id\":\"%s\",\"offset\":%lld,\"length\":%lld,"
                       "\"done\":false}\n", up.id, (long long)up.offset,
                   (long long)up.length);
        rc = http_respond_json(req, 202, &b);
    }
    buf_free(&b);
    return rc;
}

int
web_tus_delete(http_req *req)
{
    struct refusal why = {0};
    struct tus_upload up;

    if (!version_ok(req, &why) || !find_upload(req, &up, &why))
        return answer_refusal(req, &why);
    if (tus_remove(db_thread(), web_app()->store, up.id) != PD_OK)
        return http_error(req, 503, "unavailable", "the upload could not "
                          "be removed; try again");
    log_info("tus upload %s terminated by the client", up.id);
    return http_respond(req, 204, NULL, "", 0, false);
}

int
web_tus_options(http_req *req)
{
    add_int_header(req, "Tus-Max-Size", cfg()->tus_max_size);
    http_add_header(req, "Tus-Version", TUS_VERSION);
    http_add_header(req, "Tus-Extension", TUS_EXTENSIONS);
    http_add_header(req, "Tus-Checksum-Algorithm", "sha1,sha256");
    web_cors_preflight_headers(req);
    return http_respond(req, 204, NULL, "", 0, false);
}

/* ---- X-HTTP-Method-Override on POST /api/v2/uploads/{id} ---- */

static const char *
override_of(http_req *req)
{
    const char *m = http_header(req, "X-HTTP-Method-Override");

    return m != NULL ? m : "";
}

int
web_tus_override_body(http_req *req, const char *data, size_t len)
{
    if (strcasecmp(override_of(req), "PATCH") != 0)
        return PD_OK; /* a body for anything else is ignored */
    return web_tus_body(req, data, len);
}

int
web_tus_override(http_req *req)
{
    const char *m = override_of(req);

    if (strcasecmp(m, "PATCH") == 0)
        return web_tus_patch(req);
    if (strcasecmp(m, "DELETE") == 0)
        return web_tus_delete(req);
    if (strcasecmp(m, "HEAD") == 0)
        return web_tus_head(req);
    if (strcasecmp(m, "GET") == 0)
        return web_tus_get(req);
    http_add_header(req, "Allow", "HEAD, PATCH, DELETE, OPTIONS");
    return http_error(req, 405, NULL, "send X-HTTP-Method-Override: PATCH, "
                      "DELETE or HEAD");
}
