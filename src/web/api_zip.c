/*
 * api_zip.c — zip downloads for fulfillers: one order's files
 * (GET /api/v1/orders/{order}/download.zip), several chosen orders
 * (GET /api/v1/orders/download.zip?orders=1042,1043) and today's print
 * queue, every file of every in_production order
 * (GET /api/v1/print-queue.zip). The
 * zip is built as the client reads it, order by order and chunk by chunk,
 * so memory stays flat however big it gets; manifest.csv comes last.
 */
#include "web/web.h"

#include "auth/guard.h"
#include "common/err.h"
#include "db/db.h"
#include "obs/log.h"
#include "orders/orders.h"
#include "orders/print.h"
#include "store/store.h"
#include "web/zip_stream.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ZIP_CHUNK (64 * 1024)  /* bytes read from the store at a time */
#define ZIP_PAGE 100           /* in_production orders fetched at once */
#define ZIP_NAME_MAX 40        /* bytes of a pet's or order's name part */
#define ZIP_ENTRY_MAX 160
#define ZIP_ORDERS_MAX 200     /* orders in one ?orders= list */
#define ZIP_ORDERS_ARG_MAX (ZIP_ORDERS_MAX * (ORDERS_REF_MAX + 2))
#define ZIP_MANIFEST_HEADER \
    "order,pet,print size,file,pixels,dpi,sha256\r\n"

/* One file to put in the zip, with its manifest facts. */
struct zip_file {
    char entry[ZIP_ENTRY_MAX];
    char key[STORE_KEY_MAX];
    char sha256[65];
    const char *order, *pet, *print_size; /* in the order's arena */
    int width, height;
    int64_t mtime_ms;
};

enum zip_state { ST_ORDER, ST_OPEN, ST_DATA, ST_MANIFEST, ST_DONE };

struct zip_job {
    http_req *req;
    zip_stream *z;
    enum zip_state st;
    bool queue;                /* orders from page, else one order */
    bool listed;               /* page holds orders named up front */
    /* The print queue: the current page of orders and where we are. */
    arena *page_arena;
    struct orders_page page;
    int page_i;
    bool last_page;
    char *cursor;              /* heap; NULL before the first page */
    /* The current order's files. */
    arena *order_arena;
    struct zip_file *files;
    int n_files, file_i;
    store_reader *rd;
    int64_t left;              /* bytes of the current file to go */
    size_t manifest_off;
    pd_buf manifest;
    char *chunk;               /* ZIP_CHUNK bytes */
    char filename[64];
    char order_part[ZIP_NAME_MAX + 1]; /* the current order's folder */
    int orders, entries;
    int64_t data_bytes, started_ns;
    int64_t files_bytes;       /* what the files come to, told up front */
};

/* ---- names ---- */

/* Copies s made filename-safe into out: ASCII letters (lowercased when
 * lower), digits, '.', '_' kept, runs of anything else become one '-',
 * no '-' or '.' at the ends. Returns the length (0: nothing usable). */
static size_t
safe_name(const char *s, bool lower, char *out, size_t max)
{
    size_t n = 0;

    for (; s != NULL && *s != '\0' && n + 1 < max; s++) {
        unsigned char c = (unsigned char)*s;
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  (c >= 'A' && c <= 'Z') || c == '_' ||
                  (c == '.' && n > 0);

        if (ok)
            out[n++] = (char)(lower && c >= 'A' && c <= 'Z' ? c + 32 : c);
        else if (n > 0 && out[n - 1] != '-')
            out[n++] = '-';
    }
    while (n > 0 && (out[n - 1] == '-' || out[n - 1] == '.'))
        n--;
    out[n] = '\0';
    return n;
}

static const char *
extension(const char *format)
{
    if (format == NULL || format[0] == '\0')
        return "bin";
    if (strcmp(format, "jpeg") == 0)
        return "jpg";
    return format;
}

/* The pet's part of its entry names: its safe name, "pet-N" when it has
 * none, with "-N" added when an earlier pet of the order took it. */
static void
pet_part(const struct order_summary *o, int i, char *out, size_t max)
{
    char other[ZIP_NAME_MAX + 1];

    if (safe_name(o->pets[i].name, true, out, max) == 0) {
        snprintf(out, max, "pet-%d", i + 1);
        return;
    }
    for (int k = 0; k < i; k++) {
        safe_name(o->pets[k].name, true, other, sizeof(other));
        if (strcmp(other, out) == 0) {
            size_t n = strlen(out);

            snprintf(out + n, max - n, "-%d", i + 1);
            return;
        }
    }
}

/* ---- planning an order ---- */

/* Fills f from the images row id; PD_ENOTFOUND when gone or deleted. */
static int
load_image(db *d, const char *id, struct zip_file *f, char *format,
           size_t format_len)
{
    db_rows *r = NULL;
    int rc = db_query(d, "SELECT object_key, format, width, height, "
                         "sha256, created_at FROM images "
                         "WHERE id = ? AND deleted_at IS NULL",
                      (db_arg[]){DB_TEXT(id)}, 1, &r);

    if (rc == PD_OK && (rc = db_step(r)) > 0) {
        snprintf(f->key, sizeof(f->key), "%s", db_col_text(r, 0));
        safe_name(db_col_text(r, 1), true, format, format_len);
        f->width = db_col_null(r, 2) ? 0 : (int)db_col_int(r, 2);
        f->height = db_col_null(r, 3) ? 0 : (int)db_col_int(r, 3);
        snprintf(f->sha256, sizeof(f->sha256), "%s", db_col_text(r, 4));
        f->mtime_ms = db_col_int(r, 5);
        rc = PD_OK;
    } else if (rc == 0) {
        rc = PD_ENOTFOUND;
    }
    db_rows_free(r);
    return rc;
}

/* Adds the stored size of image id (0 when gone) to *bytes. */
static int
add_image_bytes(db *d, const char *id, int64_t *bytes)
{
    int64_t n = 0;
    int rc;

    if (id == NULL || id[0] == '\0')
        return PD_OK;
    rc = db_query_int(d, "SELECT COALESCE(SUM(bytes), 0) FROM images "
                         "WHERE id = ? AND deleted_at IS NULL",
                      (db_arg[]){DB_TEXT(id)}, 1, &n);
    *bytes += n;
    return rc;
}

/* What the files of the orders in rows come to. */
static int
summaries_bytes(db *d, const struct order_summary *rows, int n,
                int64_t *bytes)
{
    int rc = PD_OK;

    for (int i = 0; i < n && rc == PD_OK; i++)
        for (int k = 0; k < rows[i].n_pets && rc == PD_OK; k++) {
            rc = add_image_bytes(d, rows[i].pets[k].original_image_id, bytes);
            if (rc == PD_OK)
                rc = add_image_bytes(d, rows[i].pets[k].processed_image_id,
                                     bytes);
        }
    return rc;
}

/* What the files of every in_production order come to. */
static int
queue_bytes(db *d, int64_t *bytes)
{
    return db_query_int(
        d, "SELECT COALESCE(SUM(i.bytes), 0) FROM orders o "
           "JOIN pets p ON p.order_id = o.id "
           "JOIN images i ON i.id IN (p.original_image_id, "
           "p.processed_image_id) AND i.deleted_at IS NULL "
           "WHERE o.status = 'in_production'", NULL, 0, bytes);
}

/* Adds the pet's image id (kind "original" or "cutout") to the plan. */
static int
plan_file(struct zip_job *j, db *d, const struct order_summary *o, int i,
          const char *order_part, const char *id, const char *kind)
{
    struct zip_file *f = &j->files[j->n_files];
    char pet[ZIP_NAME_MAX + 8], format[16];
    int rc;

    if (id == NULL || id[0] == '\0')
        return PD_OK;
    rc = load_image(d, id, f, format, sizeof(format));
    if (rc == PD_ENOTFOUND)
        return PD_OK;
    if (rc != PD_OK)
        return rc;
    pet_part(o, i, pet, sizeof(pet));
    snprintf(f->entry, sizeof(f->entry), "%s/%s-%s.%s", order_part, pet,
             kind, extension(format));
    f->order = order_part;
    f->pet = o->pets[i].name ? o->pets[i].name : "";
    f->print_size = o->pets[i].print_size ? o->pets[i].print_size : "";
    j->n_files++;
    return PD_OK;
}

/* Lists the files of order o into j (in j->order_arena, made anew). */
static int
plan_order(struct zip_job *j, db *d, const struct order_summary *o)
{
    char *part = j->order_part;
    const char *name = o->name && o->name[0] == '#' ? o->name + 1 : o->name;
    int rc = PD_OK;

    arena_free(j->order_arena);
    j->order_arena = arena_new();
    j->n_files = j->file_i = 0;
    if (j->order_arena == NULL)
        return PD_ENOMEM;
    if (safe_name(name, false, part, sizeof(j->order_part)) == 0)
        snprintf(part, sizeof(j->order_part), "%lld", (long long)o->id);
    j->files = arena_alloc(j->order_arena, sizeof(*j->files) *
                                               (size_t)(2 * o->n_pets + 1));
    if (j->files == NULL)
        return PD_ENOMEM;
    name = arena_strdup(j->order_arena, part);
    for (int i = 0; i < o->n_pets && rc == PD_OK; i++) {
        rc = plan_file(j, d, o, i, name, o->pets[i].original_image_id,
                       "original");
        if (rc == PD_OK)
            rc = plan_file(j, d, o, i, name,
                           o->pets[i].processed_image_id, "cutout");
    }
    j->orders++;
    return rc;
}

/* ---- the manifest ---- */

/* A CSV field: quoted when needed; a leading =, +, -, @ is defused so a
 * spreadsheet does not run it as a formula. */
static void
csv_field(pd_buf *b, const char *s, bool last)
{
    bool formula = strchr("=+-@\t\r", s[0]) != NULL && s[0] != '\0';

    if (strpbrk(s, ",\"\r\n") != NULL || formula) {
        buf_puts(b, formula ? "\"'" : "\"");
        for (; *s != '\0'; s++)
            buf_append(b, *s == '"' ? "\"\"" : s, *s == '"' ? 2 : 1);
        buf_puts(b, "\"");
    } else {
        buf_puts(b, s);
    }
    buf_puts(b, last ? "\r\n" : ",");
}

static void
manifest_row(pd_buf *b, const struct zip_file *f)
{
    char pixels[32] = "", dpi[16] = "";
    int v = print_effective_dpi(f->print_size, f->width, f->height, NULL);

    if (f->width > 0 && f->height > 0)
        snprintf(pixels, sizeof(pixels), "%dx%d", f->width, f->height);
    if (v > 0)
        snprintf(dpi, sizeof(dpi), "%d", v);
    csv_field(b, f->order, false);
    csv_field(b, f->pet, false);
    csv_field(b, f->print_size, false);
    csv_field(b, f->entry, false);
    csv_field(b, pixels, false);
    csv_field(b, dpi, false);
    csv_field(b, f->sha256, true);
}

/* ---- producing the zip, step by step ---- */

/* Audits one order of the print queue as it goes into the zip. */
static void
audit_queue_order(struct zip_job *j, const struct order_summary *o)
{
    char detail[96];

    snprintf(detail, sizeof(detail), "{\"zip\":\"%s\",\"files\":%d}",
             j->filename, j->n_files);
    if (guard_audit(j->req, "print_queue.download", "order", o->name,
                    o->id, detail) != PD_OK)
        log_error("zip: could not audit the download of order %s",
                  o->name);
}

/* Fetches the next page of in_production orders. */
static int
next_page(struct zip_job *j, db *d)
{
    struct orders_filter f = {.status = "in_production", .limit = ZIP_PAGE,
                              .cursor = j->cursor};
    int rc;

    arena_free(j->page_arena);
    j->page_arena = arena_new();
    j->page_i = 0;
    if (j->page_arena == NULL)
        return PD_ENOMEM;
    rc = orders_list(d, &f, j->page_arena, &j->page);
    free(j->cursor);
    j->cursor = NULL;
    if (rc != PD_OK)
        return rc;
    if (j->page.next_cursor == NULL)
        j->last_page = true;
    else if ((j->cursor = strdup(j->page.next_cursor)) == NULL)
        return PD_ENOMEM;
    return PD_OK;
}

/* Moves on to the next order of the queue, or to the manifest. */
static int
step_order(struct zip_job *j)
{
    db *d = db_thread();
    int rc;

    if (!j->queue) {
        j->st = ST_MANIFEST;
        return PD_OK;
    }
    if (d == NULL)
        return PD_EUNAVAIL;
    if (j->page_i >= j->page.n && !j->last_page &&
        (rc = next_page(j, d)) != PD_OK)
        return rc;
    if (j->page_i >= j->page.n) {
        j->st = ST_MANIFEST;
        return PD_OK;
    }
    rc = plan_order(j, d, &j->page.rows[j->page_i++]);
    if (rc != PD_OK)
        return rc;
    if (!j->listed)
        audit_queue_order(j, &j->page.rows[j->page_i - 1]);
    j->st = ST_OPEN;
    return PD_OK;
}

/* Opens the next file of the order and starts its entry. */
static int
step_open(struct zip_job *j)
{
    store *s = web_app()->store;
    struct zip_file *f;
    struct store_stat st;
    int rc;

    if (j->file_i >= j->n_files) {
        j->st = ST_ORDER;
        return PD_OK;
    }
    f = &j->files[j->file_i];
    rc = store_stat(s, f->key, &st);
    if (rc == PD_OK)
        rc = store_get(s, f->key, 0, -1, &j->rd);
    if (rc == PD_ENOTFOUND) {
        log_error("zip: %s is missing from storage (%s); left out",
                  f->key, f->entry);
        j->file_i++;
        return PD_OK;
    }
    if (rc != PD_OK)
        return rc;
    j->left = st.size;
    j->st = ST_DATA;
    return zip_stream_begin(j->z, f->entry, st.size, f->mtime_ms);
}

/* Copies the next chunk of the open file into its entry. */
static int
step_data(struct zip_job *j)
{
    size_t want = j->left < ZIP_CHUNK ? (size_t)j->left : ZIP_CHUNK;
    ssize_t n = want > 0 ? store_read(j->rd, j->chunk, want) : 0;
    int rc;

    if (n < 0 || (n == 0 && j->left > 0)) {
        log_error("zip: reading %s failed", j->files[j->file_i].key);
        return n < 0 ? (int)n : PD_EIO;
    }
    if ((rc = zip_stream_write(j->z, j->chunk, (size_t)n)) != PD_OK)
        return rc;
    j->left -= n;
    j->data_bytes += n;
    if (j->left > 0)
        return PD_OK;
    store_reader_close(j->rd);
    j->rd = NULL;
    manifest_row(&j->manifest, &j->files[j->file_i++]);
    j->entries++;
    j->st = ST_OPEN;
    return zip_stream_end(j->z);
}

/* Writes manifest.csv piece by piece, then the central directory. */
static int
step_manifest(struct zip_job *j)
{
    size_t n = j->manifest.len - j->manifest_off;
    int rc;

    if (j->manifest.failed)
        return PD_ENOMEM;
    if (j->manifest_off == 0 &&
        (rc = zip_stream_begin(j->z, "manifest.csv",
                               (int64_t)j->manifest.len, pd_now_ms())) !=
            PD_OK)
        return rc;
    if (n > ZIP_CHUNK)
        n = ZIP_CHUNK;
    rc = zip_stream_write(j->z, j->manifest.data + j->manifest_off, n);
    j->manifest_off += n;
    if (rc != PD_OK || j->manifest_off < j->manifest.len)
        return rc;
    j->st = ST_DONE;
    if ((rc = zip_stream_end(j->z)) != PD_OK)
        return rc;
    return zip_stream_finish(j->z);
}

static int
step(struct zip_job *j)
{
    switch (j->st) {
    case ST_ORDER:
        return step_order(j);
    case ST_OPEN:
        return step_open(j);
    case ST_DATA:
        return step_data(j);
    case ST_MANIFEST:
        return step_manifest(j);
    case ST_DONE:
        break;
    }
    return PD_OK;
}

/* The HTTP layer's reader: produces until there is something to send. */
static long
zip_read(void *ctx, uint64_t pos, char *buf, size_t max)
{
    struct zip_job *j = ctx;
    int rc;

    (void)pos;
    while (zip_stream_pending(j->z) == 0 && j->st != ST_DONE) {
        if ((rc = step(j)) != PD_OK) {
            log_error("zip %s: cut off after %llu bytes: %s", j->filename,
                      (unsigned long long)zip_stream_taken(j->z),
                      pd_err_str(rc));
            return -1;
        }
    }
    return (long)zip_stream_take(j->z, buf, max);
}

static void
job_free(struct zip_job *j)
{
    if (j == NULL)
        return;
    store_reader_close(j->rd);
    zip_stream_free(j->z);
    arena_free(j->page_arena);
    arena_free(j->order_arena);
    buf_free(&j->manifest);
    free(j->cursor);
    free(j->chunk);
    free(j);
}

/* Runs when the answer is over: logs what was sent, lets go of it all. */
static void
zip_done(void *ctx)
{
    struct zip_job *j = ctx;
    double s = (double)(pd_mono_ns() - j->started_ns) / 1e9;
    uint64_t sent = zip_stream_taken(j->z);

    log_info("zip %s: %s, %d orders, %d files, %llu bytes in %.3f s "
             "(%.1f MB/s)", j->filename,
             j->st == ST_DONE && zip_stream_pending(j->z) == 0
                 ? "complete" : "incomplete",
             j->orders, j->entries, (unsigned long long)sent, s,
             s > 0 ? (double)sent / 1e6 / s : 0.0);
    job_free(j);
}

static int
job_new(http_req *req, bool queue, struct zip_job **out)
{
    struct zip_job *j = calloc(1, sizeof(*j));

    *out = NULL;
    if (j == NULL)
        return PD_ENOMEM;
    j->req = req;
    j->queue = queue;
    j->st = queue ? ST_ORDER : ST_OPEN;
    j->started_ns = pd_mono_ns();
    buf_init(&j->manifest);
    buf_puts(&j->manifest, ZIP_MANIFEST_HEADER);
    j->chunk = malloc(ZIP_CHUNK);
    if (j->chunk == NULL || zip_stream_new(&j->z) != PD_OK) {
        job_free(j);
        return PD_ENOMEM;
    }
    *out = j;
    return PD_OK;
}

/* Sends the zip as it is made (chunked); the job is freed at the end. */
static int
respond_zip(http_req *req, struct zip_job *j)
{
    char value[128];

    snprintf(value, sizeof(value), "attachment; filename=\"%s\"",
             j->filename);
    http_add_header(req, "Content-Disposition", value);
    /* The zip's length is not known before it is made; this lets the
     * page show how far a download has come. */
    if (j->files_bytes > 0) {
        snprintf(value, sizeof(value), "%lld", (long long)j->files_bytes);
        http_add_header(req, "X-Files-Bytes", value);
    }
    http_add_header(req, "Cache-Control", "no-store");
    return http_respond_stream(req, 200, "application/zip", -1, zip_read,
                               zip_done, j);
}

/* ---- handlers ---- */

int
web_api_order_zip(http_req *req)
{
    struct order_detail o;
    struct zip_job *j = NULL;
    char detail[96];
    db *d = db_thread();
    int rc;

    if (d == NULL)
        return PD_EUNAVAIL;
    rc = orders_get(d, http_param(req, "order"), http_arena(req), &o);
    if (rc == PD_ENOTFOUND)
        return http_error(req, 404, NULL, "no such order");
    if (rc == PD_OK)
        rc = job_new(req, false, &j);
    if (rc == PD_OK)
        rc = plan_order(j, d, &o.order);
    if (rc == PD_OK)
        rc = summaries_bytes(d, &o.order, 1, &j->files_bytes);
    if (rc != PD_OK) {
        job_free(j);
        return rc;
    }
    snprintf(j->filename, sizeof(j->filename), "order-%s.zip",
             j->order_part);
    snprintf(detail, sizeof(detail), "{\"zip\":\"%s\",\"files\":%d}",
             j->filename, j->n_files);
    if (guard_audit(req, "order.download", "order", o.order.name,
                    o.order.id, detail) != PD_OK) {
        job_free(j);
        return PD_EUNAVAIL;
    }
    return respond_zip(req, j);
}

int
web_api_print_queue_zip(http_req *req)
{
    struct zip_job *j = NULL;
    char day[16], detail[96];
    time_t now = time(NULL);
    struct tm tm;
    int rc;

    if (db_thread() == NULL)
        return PD_EUNAVAIL;
    gmtime_r(&now, &tm);
    strftime(day, sizeof(day), "%Y-%m-%d", &tm);
    if ((rc = job_new(req, true, &j)) != PD_OK)
        return rc;
    snprintf(j->filename, sizeof(j->filename), "print-queue-%s.zip", day);
    /* The first page now, so a database failure is an error answer. */
    if ((rc = next_page(j, db_thread())) != PD_OK ||
        (rc = queue_bytes(db_thread(), &j->files_bytes)) != PD_OK) {
        job_free(j);
        return rc;
    }
    snprintf(detail, sizeof(detail), "{\"zip\":\"%s\"}", j->filename);
    if (guard_audit(req, "print_queue.download", "print_queue", day, 0,
                    detail) != PD_OK) {
        job_free(j);
        return PD_EUNAVAIL;
    }
    return respond_zip(req, j);
}

/* ---- several chosen orders ---- */

/* Splits list (modified) at commas into refs, trimmed, without repeats;
 * answers 400 itself for an empty, too long or oversized list. */
static int
split_refs(http_req *req, char *list, const char **refs, int *n)
{
    char *save = NULL;

    *n = 0;
    for (char *t = strtok_r(list, ",", &save); t != NULL;
         t = strtok_r(NULL, ",", &save)) {
        size_t len;
        bool seen = false;

        t += strspn(t, " ");
        len = strcspn(t, " ");
        t[len] = '\0';
        if (len == 0)
            continue;
        if (len >= ORDERS_REF_MAX)
            return http_error(req, 400, NULL, "An order name is too long.");
        for (int i = 0; i < *n && !seen; i++)
            seen = strcmp(refs[i], t) == 0;
        if (seen)
            continue;
        if (*n == ZIP_ORDERS_MAX)
            return http_error(req, 400, NULL,
                              "At most 200 orders go in one zip.");
        refs[(*n)++] = t;
    }
    if (*n == 0)
        return http_error(req, 400, NULL,
                          "orders must list orders, e.g. 1042,1043");
    return PD_OK;
}

/* Reads the named orders into the job's page, in the order given;
 * *missing names the first one that does not exist (PD_ENOTFOUND). */
static int
load_listed(db *d, struct zip_job *j, const char **refs, int n,
            const char **missing)
{
    struct order_detail o;
    int rc;

    j->page_arena = arena_new();
    if (j->page_arena == NULL)
        return PD_ENOMEM;
    j->page.rows = arena_alloc(j->page_arena, sizeof(*j->page.rows) *
                                                  (size_t)n);
    if (j->page.rows == NULL)
        return PD_ENOMEM;
    for (int i = 0; i < n; i++) {
        rc = orders_get(d, refs[i], j->page_arena, &o);
        if (rc == PD_ENOTFOUND || rc == PD_EINVAL) {
            *missing = refs[i];
            return PD_ENOTFOUND;
        }
        if (rc != PD_OK)
            return rc;
        j->page.rows[j->page.n++] = o.order;
    }
    j->last_page = true;
    j->listed = true;
    return PD_OK;
}

/* The zip's name after its first order: orders-1042-and-2-more.zip. */
static void
listed_filename(struct zip_job *j)
{
    const struct order_summary *o = &j->page.rows[0];
    const char *name = o->name[0] == '#' ? o->name + 1 : o->name;
    char part[25]; /* so the name fits j->filename */

    if (safe_name(name, false, part, sizeof(part)) == 0)
        snprintf(part, sizeof(part), "%lld", (long long)o->id);
    if (j->page.n == 1)
        snprintf(j->filename, sizeof(j->filename), "orders-%s.zip", part);
    else
        snprintf(j->filename, sizeof(j->filename),
                 "orders-%s-and-%d-more.zip", part,
                 (j->page.n - 1) % 1000);
}

/* One audit row per order, before any byte goes out. */
static int
audit_listed(http_req *req, struct zip_job *j)
{
    char detail[128];

    snprintf(detail, sizeof(detail), "{\"zip\":\"%s\",\"orders\":%d}",
             j->filename, j->page.n);
    for (int i = 0; i < j->page.n; i++)
        if (guard_audit(req, "order.download", "order", j->page.rows[i].name,
                        j->page.rows[i].id, detail) != PD_OK)
            return PD_EUNAVAIL;
    return PD_OK;
}

int
web_api_orders_zip(http_req *req)
{
    const char *arg = http_query(req, "orders");
    const char **refs = NULL, *missing = NULL;
    struct zip_job *j = NULL;
    char *list;
    db *d = db_thread();
    int n = 0, rc;

    if (d == NULL)
        return PD_EUNAVAIL;
    if (arg != NULL && strlen(arg) > ZIP_ORDERS_ARG_MAX)
        return http_error(req, 400, NULL, "The list of orders is too long.");
    list = arena_strdup(http_arena(req), arg != NULL ? arg : "");
    refs = arena_alloc(http_arena(req), sizeof(*refs) * ZIP_ORDERS_MAX);
    if (list == NULL || refs == NULL)
        return PD_ENOMEM;
    if ((rc = split_refs(req, list, refs, &n)) != PD_OK || n == 0)
        return rc;
    if ((rc = job_new(req, true, &j)) == PD_OK)
        rc = load_listed(d, j, refs, n, &missing);
    if (rc == PD_ENOTFOUND) {
        job_free(j);
        return http_error(req, 404, NULL,
                          arena_printf(http_arena(req),
                                       "There is no order %s.", missing));
    }
    if (rc == PD_OK)
        rc = summaries_bytes(d, j->page.rows, j->page.n, &j->files_bytes);
    if (rc == PD_OK) {
        listed_filename(j);
        rc = audit_listed(req, j);
    }
    if (rc != PD_OK) {
        job_free(j);
        return rc;
    }
    return respond_zip(req, j);
}
