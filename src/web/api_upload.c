/*
 * api_upload.c — POST /api/v2/customer-upload, the storefront's one-shot
 * upload: a multipart form whose `image` field streams into the spool
 * (hashed on the way) while the small fields are collected; once the body
 * is in, the photo goes through the ingest pipeline and the answer is the
 * image record (201 new, 200 the same bytes again).
 */
#include "web/web.h"

#include "common/err.h"
#include "db/db.h"
#include "obs/log.h"
#include "uploads/uploads.h"

#include <stdio.h>
#include <string.h>

/* Longest value kept of a small field (longer ones are refused). */
#define FIELD_MAX 80

struct field {
    char value[FIELD_MAX + 1];
    size_t len;
    bool seen;
    bool too_long;
};

struct multipart {
    http_form *form;
    spool *sp;
    int images;          /* `image` fields seen (one is allowed) */
    int64_t received;
    struct field session, kind, pet;
};

static void
take_field(struct field *f, const char *data, uint64_t off, size_t len)
{
    f->seen = true;
    if (off + len > FIELD_MAX || f->too_long) {
        f->too_long = true;
        return;
    }
    memcpy(f->value + off, data, len);
    if (off + len > f->len)
        f->len = (size_t)(off + len);
    f->value[f->len] = '\0';
}

static int
on_field(void *ctx, const char *name, const char *filename,
         const char *data, uint64_t off, size_t len)
{
    struct multipart *m = ctx;

    if (strcmp(name, "image") == 0) {
        if (off == 0 && ++m->images > 1)
            return PD_EINVAL;
        return len > 0 ? spool_write(m->sp, data, len) : PD_OK;
    }
    (void)filename;
    if (strcmp(name, "session_id") == 0)
        take_field(&m->session, data, off, len);
    else if (strcmp(name, "image_type") == 0)
        take_field(&m->kind, data, off, len);
    else if (strcmp(name, "pet_index") == 0)
        take_field(&m->pet, data, off, len);
    return PD_OK; /* other fields are ignored */
}

/* Whatever the request held when it ends (answered or cut off). */
static void
release(http_req *req, void *arg)
{
    struct multipart *m = arg;

    if (m->form != NULL)
        http_form_end(m->form);
    spool_discard(m->sp);
    if (m->received > 0)
        upload_count_bytes("multipart", m->received);
    m->form = NULL;
    m->sp = NULL;
    (void)req;
}

static int
start(http_req *req, struct multipart **out)
{
    struct multipart *m = arena_alloc(http_arena(req), sizeof(*m));
    int rc;

    if (m == NULL)
        return PD_ENOMEM;
    memset(m, 0, sizeof(*m));
    http_set_user(req, m);
    http_on_done(req, release, m);
    rc = http_form_new(req, on_field, m, &m->form);
    if (rc != PD_OK) {
        struct upload_refusal why;

        upload_refuse(&why, 400, "bad_request", "bad_request", "");
        http_refuse(req, 400, "bad_request", "send the photo as "
                    "multipart/form-data with an `image` field");
        return rc;
    }
    rc = spool_open(uploads_env()->spool_dir, &m->sp);
    *out = m;
    return rc;
}

int
web_upload_body(http_req *req, const char *data, size_t len)
{
    struct multipart *m = http_user(req);
    int rc;

    if (m == NULL && (rc = start(req, &m)) != PD_OK)
        return rc;
    m->received += (int64_t)len;
    rc = http_form_feed(m->form, data, len);
    if (rc == PD_EINVAL && m->images > 1) {
        struct upload_refusal why;

        upload_refuse(&why, 400, "bad_request", "bad_request", "");
        http_refuse(req, 400, "bad_request", "send one `image` per request");
    }
    return rc;
}

/* The small fields, checked; a message for the first bad one. */
static const char *
check_fields(const struct multipart *m, int *pet_index)
{
    int64_t pet = -1;

    if (m->images == 0)
        return "the form has no `image` file";
    if (!m->session.seen || m->session.too_long ||
        !upload_session_id_valid(m->session.value))
        return "`session_id` must be 1 to 64 letters, digits, '-' or '_'";
    if (!m->kind.seen || !upload_kind_valid(m->kind.value))
        return "`image_type` must be `original` or `processed`";
    if (m->pet.seen && m->pet.len > 0 &&
        (m->pet.too_long ||
         pd_parse_i64(m->pet.value, 0, UPLOAD_PET_INDEX_MAX, &pet) != PD_OK))
        return "`pet_index` must be a number from 0 to 99";
    *pet_index = (int)pet;
    return NULL;
}

static int
answer_image(http_req *req, const struct upload_image *img)
{
    pd_buf b;
    int rc;

    buf_init(&b);
    upload_image_json(&b, img, web_path_prefix(req));
    buf_puts(&b, "\n");
    rc = http_respond_json(req, img->duplicate ? 200 : 201, &b);
    buf_free(&b);
    return rc;
}

int
web_upload_multipart(http_req *req)
{
    struct multipart *m = http_user(req);
    struct upload_request rq = {.client_addr = http_client_addr(req),
                                .via = "multipart"};
    struct upload_refusal why;
    struct upload_image img;
    const char *bad;
    int form_rc;

    if (m == NULL) {
        upload_refuse(&why, 400, "bad_request", "bad_request", "");
        return http_error(req, 400, "bad_request", "the request has no body");
    }
    form_rc = http_form_end(m->form);
    m->form = NULL;
    bad = form_rc != PD_OK ? "the form is incomplete or malformed"
                           : check_fields(m, &rq.pet_index);
    if (bad != NULL) {
        upload_refuse(&why, 400, "bad_request", "bad_request", bad);
        return http_error(req, 400, "bad_request", bad);
    }
    rq.session_id = m->session.value;
    rq.kind = m->kind.value;
    if (db_thread() == NULL)
        return http_error(req, 503, "unavailable", "the database is not "
                          "answering; try again");
    if (upload_ingest(db_thread(), &rq, m->sp, &img, &why) != PD_OK)
        return http_error(req, why.status, why.code, why.message);
    return answer_image(req, &img);
}
