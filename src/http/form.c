/*
 * form.c — form bodies parsed as they stream in, on libmicrohttpd's post
 * processor, so a file field goes wherever its handler sends it and never
 * sits in memory whole.
 */
#include "http/http_internal.h"

#include "common/err.h"

#include <stdlib.h>

/* The post processor's own buffer: field names and boundaries fit. */
#define FORM_BUFFER 16384

struct http_form {
    struct MHD_PostProcessor *pp;
    http_form_fn fn;
    void *ctx;
    int err;
};

static enum MHD_Result
on_field(void *cls, enum MHD_ValueKind kind, const char *key,
         const char *filename, const char *content_type,
         const char *transfer_encoding, const char *data, uint64_t off,
         size_t size)
{
    struct http_form *f = cls;

    (void)kind;
    (void)content_type;
    (void)transfer_encoding;
    if (f->err == PD_OK)
        f->err = f->fn(f->ctx, key ? key : "", filename, data ? data : "",
                       off, size);
    return f->err == PD_OK ? MHD_YES : MHD_NO;
}

int
http_form_new(http_req *req, http_form_fn fn, void *ctx, http_form **out)
{
    http_form *f = calloc(1, sizeof(*f));

    *out = NULL;
    if (f == NULL)
        return PD_ENOMEM;
    f->fn = fn;
    f->ctx = ctx;
    f->pp = MHD_create_post_processor(req->conn, FORM_BUFFER, on_field, f);
    if (f->pp == NULL) {
        free(f);
        return PD_EINVAL;
    }
    *out = f;
    return PD_OK;
}

int
http_form_feed(http_form *f, const char *data, size_t len)
{
    if (f->err == PD_OK &&
        MHD_post_process(f->pp, data, len) != MHD_YES && f->err == PD_OK)
        f->err = PD_EINVAL;
    return f->err;
}

int
http_form_end(http_form *f)
{
    int rc;

    if (f == NULL)
        return PD_EINVAL;
    rc = MHD_destroy_post_processor(f->pp) == MHD_YES ? f->err : PD_EINVAL;
    if (rc == PD_OK && f->err != PD_OK)
        rc = f->err;
    free(f);
    return rc;
}
