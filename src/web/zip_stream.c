/*
 * zip_stream.c — the zip writer behind the downloads: libarchive writes
 * stored entries unbuffered into a callback that appends to a pending
 * buffer, which the HTTP reader drains before asking for more.
 */
#include "web/zip_stream.h"

#include "common/err.h"
#include "common/util.h"
#include "obs/log.h"

#include <archive.h>
#include <archive_entry.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct zip_stream {
    struct archive *a;
    pd_buf out;        /* written by libarchive, not yet taken */
    size_t head;       /* where the untaken bytes of out start */
    uint64_t taken;
    bool in_entry;
};

/* libarchive's write callback: keeps the bytes for the reader. */
static la_ssize_t
on_write(struct archive *a, void *ctx, const void *data, size_t len)
{
    zip_stream *z = ctx;

    (void)a;
    if (len == 0)
        return 0;
    if (z->head > 0) {
        memmove(z->out.data, z->out.data + z->head, z->out.len - z->head);
        z->out.len -= z->head;
        z->head = 0;
    }
    buf_append(&z->out, data, len);
    return z->out.failed ? -1 : (la_ssize_t)len;
}

static int
fail(zip_stream *z, const char *what)
{
    log_error("zip: %s failed: %s", what, archive_error_string(z->a)
                                              ? archive_error_string(z->a)
                                              : "unknown error");
    return z->out.failed ? PD_ENOMEM : PD_ERR;
}

int
zip_stream_new(zip_stream **out)
{
    zip_stream *z = calloc(1, sizeof(*z));

    *out = NULL;
    if (z == NULL)
        return PD_ENOMEM;
    buf_init(&z->out);
    z->a = archive_write_new();
    if (z->a == NULL) {
        free(z);
        return PD_ENOMEM;
    }
    /* Unbuffered: each write reaches on_write at once, with no padding
     * of a last block. */
    if (archive_write_set_format_zip(z->a) != ARCHIVE_OK ||
        archive_write_set_format_option(z->a, "zip", "compression",
                                        "store") != ARCHIVE_OK ||
        archive_write_set_bytes_per_block(z->a, 0) != ARCHIVE_OK ||
        archive_write_open2(z->a, z, NULL, on_write, NULL, NULL) !=
            ARCHIVE_OK) {
        fail(z, "open");
        zip_stream_free(z);
        return PD_ERR;
    }
    *out = z;
    return PD_OK;
}

void
zip_stream_free(zip_stream *z)
{
    if (z == NULL)
        return;
    archive_write_free(z->a);
    buf_free(&z->out);
    free(z);
}

int
zip_stream_begin(zip_stream *z, const char *name, int64_t size,
                 int64_t mtime_ms)
{
    struct archive_entry *e = archive_entry_new();
    int rc;

    if (e == NULL)
        return PD_ENOMEM;
    archive_entry_set_pathname(e, name);
    archive_entry_set_filetype(e, AE_IFREG);
    archive_entry_set_perm(e, 0644);
    archive_entry_set_size(e, size);
    archive_entry_set_mtime(e, (time_t)(mtime_ms / 1000), 0);
    rc = archive_write_header(z->a, e);
    archive_entry_free(e);
    if (rc != ARCHIVE_OK)
        return fail(z, "entry header");
    z->in_entry = true;
    return PD_OK;
}

int
zip_stream_write(zip_stream *z, const void *data, size_t len)
{
    if (!z->in_entry)
        return PD_EINVAL;
    if (len > 0 && archive_write_data(z->a, data, len) != (la_ssize_t)len)
        return fail(z, "entry data");
    return PD_OK;
}

int
zip_stream_end(zip_stream *z)
{
    z->in_entry = false;
    if (archive_write_finish_entry(z->a) != ARCHIVE_OK)
        return fail(z, "entry end");
    return PD_OK;
}

int
zip_stream_finish(zip_stream *z)
{
    if (archive_write_close(z->a) != ARCHIVE_OK)
        return fail(z, "central directory");
    return PD_OK;
}

size_t
zip_stream_pending(const zip_stream *z)
{
    return z->out.len - z->head;
}

size_t
zip_stream_take(zip_stream *z, char *buf, size_t max)
{
    size_t n = zip_stream_pending(z);

    if (n > max)
        n = max;
    if (n == 0)
        return 0;
    memcpy(buf, z->out.data + z->head, n);
    z->head += n;
    z->taken += n;
    if (z->head == z->out.len) {
        z->head = 0;
        z->out.len = 0;
    }
    return n;
}

uint64_t
zip_stream_taken(const zip_stream *z)
{
    return z->taken;
}
