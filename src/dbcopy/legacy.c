/*
 * legacy.c — import-legacy's work: reads the old service's orders table
 * read-only (the shop's file is left exactly as it was) and writes each
 * good row as a printdesk order with its status history, pets (their
 * photos found among the images uploaded under the row's session), note
 * and audit row, all in one transaction of the target.
 */
#include "dbcopy/legacy_internal.h"

#include "common/err.h"
#include "common/util.h"
#include "obs/log.h"
#include "orders/orders.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define ID_MAX 128

/* The columns read. order_number and pet_data must exist; another one
 * missing reads as NULL. */
static const char *const legacy_cols[LC_COUNT] = {
    [LC_NUMBER] = "order_number",     [LC_SESSION] = "session_id",
    [LC_PET_DATA] = "pet_data",       [LC_STATUS] = "fulfillment_status",
    [LC_CREATED] = "created_at",      [LC_UPDATED] = "updated_at",
    [LC_COMPLETED] = "completed_at",  [LC_NOTES] = "notes",
    [LC_DOWNLOADS] = "download_count", [LC_ACCESSED] = "last_accessed_at"};

struct import {
    db *d;
    sqlite3 *h;
    sqlite3_stmt *rows;
    struct legacy_counts *out;
    int64_t now;
    char *err;
    size_t errlen;
};

/* ---- the legacy file ---- */

static bool
has_column(sqlite3 *h, const char *col)
{
    sqlite3_stmt *st = NULL;
    bool found = false;

    if (sqlite3_prepare_v2(h, "SELECT 1 FROM pragma_table_info('orders') "
                              "WHERE name = ?", -1, &st, NULL) == SQLITE_OK &&
        sqlite3_bind_text(st, 1, col, -1, SQLITE_STATIC) == SQLITE_OK)
        found = sqlite3_step(st) == SQLITE_ROW;
    sqlite3_finalize(st);
    return found;
}

/* SELECT rowid, <the columns, NULL for missing ones> FROM orders. */
static int
prepare_rows(struct import *im, const char *path)
{
    pd_buf sql;
    int rc = PD_OK;

    buf_init(&sql);
    buf_puts(&sql, "SELECT rowid");
    for (int i = 0; i < LC_COUNT && rc == PD_OK; i++) {
        bool have = has_column(im->h, legacy_cols[i]);

        if (!have && (i == LC_NUMBER || i == LC_PET_DATA)) {
            snprintf(im->err, im->errlen, "%s has no orders table with an "
                     "%s column: is it the old webhook service's "
                     "database?", path, legacy_cols[i]);
            rc = PD_EINVAL;
        }
        buf_printf(&sql, ", %s", have ? legacy_cols[i] : "NULL");
    }
    buf_puts(&sql, " FROM orders ORDER BY rowid");
    if (rc == PD_OK && (sql.failed ||
                        sqlite3_prepare_v2(im->h, buf_cstr(&sql), -1,
                                           &im->rows, NULL) != SQLITE_OK)) {
        snprintf(im->err, im->errlen, "cannot read %s: %s", path,
                 sqlite3_errmsg(im->h));
        rc = PD_EIO;
    }
    buf_free(&sql);
    return rc;
}

static int
open_legacy(struct import *im, const char *path)
{
    struct stat sb;

    if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(im->err, im->errlen, "no legacy database at %s: %s", path,
                 errno != 0 ? strerror(errno) : "not a file");
        return PD_EINVAL;
    }
    if (sqlite3_open_v2(path, &im->h, SQLITE_OPEN_READONLY, NULL) !=
        SQLITE_OK) {
        snprintf(im->err, im->errlen, "cannot open %s: %s", path,
                 im->h != NULL ? sqlite3_errmsg(im->h) : "out of memory");
        return PD_EIO;
    }
    sqlite3_busy_timeout(im->h, 5000);
    return prepare_rows(im, path);
}

/* Column i (0-based, after rowid) of the current row. */
static struct legacy_value
value_at(sqlite3_stmt *st, int i)
{
    struct legacy_value v = {.type = LV_NULL, .text = ""};
    int type = sqlite3_column_type(st, i + 1);

    if (type == SQLITE_NULL)
        return v;
    v.type = type == SQLITE_INTEGER ? LV_INT
             : type == SQLITE_FLOAT ? LV_REAL
                                    : LV_TEXT;
    v.i = sqlite3_column_int64(st, i + 1);
    v.d = sqlite3_column_double(st, i + 1);
    /* Last: the other readers may change the text's storage. */
    v.text = (const char *)sqlite3_column_text(st, i + 1);
    if (v.text == NULL)
        v.text = "";
    return v;
}

/* ---- reports ---- */

static void
report_bad(struct import *im, int64_t rowid, const char *order,
           const char *reason)
{
    struct legacy_counts *c = im->out;
    pd_buf f;

    c->bad++;
    buf_init(&f);
    buf_printf(&f, "\"legacy_rowid\":%" PRId64 ",\"order\":", rowid);
    buf_json_string(&f, order);
    buf_puts(&f, ",\"reason\":");
    buf_json_string(&f, reason);
    log_write(LOG_WARNING, f.failed ? NULL : buf_cstr(&f),
              "import-legacy: row %" PRId64 " (order \"%s\") skipped: %s",
              rowid, order, reason);
    buf_free(&f);
    if (c->n_bad_rows >= LEGACY_REPORT_MAX)
        return;
    if (c->bad_rows == NULL) {
        c->bad_rows = calloc(LEGACY_REPORT_MAX, sizeof(*c->bad_rows));
        if (c->bad_rows == NULL)
            return;
    }
    c->bad_rows[c->n_bad_rows].rowid = rowid;
    snprintf(c->bad_rows[c->n_bad_rows].order,
             sizeof(c->bad_rows[0].order), "%s", order);
    snprintf(c->bad_rows[c->n_bad_rows].reason,
             sizeof(c->bad_rows[0].reason), "%s", reason);
    c->n_bad_rows++;
}

/* ---- writing one order ---- */

/* When the order reached its status (creation for pending). */
static int64_t
status_time(const struct legacy_order *o)
{
    if (strcmp(o->status, "pending") == 0)
        return o->created_ms;
    if (strcmp(o->status, "completed") == 0 && o->completed_ms != 0)
        return o->completed_ms;
    return o->updated_ms;
}

/* What staff search for, as webhooks write it: name, number, pet names
 * (lower-cased), then the note's words. */
static void
search_text(const struct legacy_order *o, pd_buf *b)
{
    char number[24];

    snprintf(number, sizeof(number), "%" PRId64, o->number);
    orders_search_add(b, o->name);
    orders_search_add(b, number);
    for (int i = 0; i < o->n_pets; i++)
        orders_search_add(b, o->pets[i].name);
    if (o->notes != NULL)
        buf_printf(b, " %s", o->notes);
}

static int
insert_order(struct import *im, const struct legacy_order *o, int64_t *id)
{
    pd_buf search;
    db_rows *r = NULL;
    int rc = PD_ENOMEM;

    buf_init(&search);
    search_text(o, &search);
    if (!search.failed)
        rc = db_query(im->d,
            "INSERT INTO orders (order_number, name, status, created_at, "
            "updated_at, status_changed_at, search_text) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (db_arg[]){DB_INT(o->number), DB_TEXT(o->name),
                       DB_TEXT(o->status), DB_INT(o->created_ms),
                       DB_INT(o->updated_ms), DB_INT(status_time(o)),
                       DB_TEXT(buf_cstr(&search))}, 7, &r);
    if (rc == PD_OK && (rc = db_step(r)) == 1)
        *id = db_col_int(r, 0);
    db_rows_free(r);
    buf_free(&search);
    return rc == 1 ? PD_OK : rc < 0 ? rc : PD_ERR;
}

/* Created as pending; then the move to where the legacy row stood. */
static int
insert_history(struct import *im, const struct legacy_order *o, int64_t id)
{
    static const char sql[] = "INSERT INTO status_history (order_id, "
                              "from_status, to_status, actor, at) "
                              "VALUES (?, ?, ?, ?, ?)";
    int rc = db_exec(im->d, sql,
                     (db_arg[]){DB_INT(id), DB_NULL, DB_TEXT("pending"),
                                DB_TEXT(LEGACY_ACTOR),
                                DB_INT(o->created_ms)}, 5, NULL);

    if (rc == PD_OK && strcmp(o->status, "pending") != 0)
        rc = db_exec(im->d, sql,
                     (db_arg[]){DB_INT(id), DB_TEXT("pending"),
                                DB_TEXT(o->status), DB_TEXT(LEGACY_ACTOR),
                                DB_INT(status_time(o))}, 5, NULL);
    return rc;
}

/* The id of the first row of sql, or "" in out. */
static int
first_id(struct import *im, const char *sql, const db_arg *args, int n,
         char out[ID_MAX + 1])
{
    db_rows *r = NULL;
    int rc = db_query(im->d, sql, args, n, &r);

    out[0] = '\0';
    if (rc == PD_OK && (rc = db_step(r)) == 1)
        snprintf(out, ID_MAX + 1, "%s", db_col_text(r, 0));
    db_rows_free(r);
    return rc < 0 ? rc : PD_OK;
}

#define SESSION_IMAGES                                                    \
    "SELECT id FROM images WHERE session_id = ? AND kind = ? AND "       \
    "deleted_at IS NULL "

/*
 * The photo of kind for pet i: the newest uploaded for that pet
 * (pet_index); else, for a one-pet order, the session's newest; else the
 * session's i-th photo without a pet_index, in upload order.
 */
static int
pick_image(struct import *im, const struct legacy_order *o, int i,
           const char *kind, char out[ID_MAX + 1])
{
    db_arg args[] = {DB_TEXT(o->session), DB_TEXT(kind), DB_INT(i)};
    int rc;

    out[0] = '\0';
    if (o->session == NULL)
        return PD_OK;
    rc = first_id(im, SESSION_IMAGES "AND pet_index = ? ORDER BY "
                      "created_at DESC, id DESC LIMIT 1", args, 3, out);
    if (rc == PD_OK && out[0] == '\0' && o->n_pets == 1)
        rc = first_id(im, SESSION_IMAGES "ORDER BY created_at DESC, "
                          "id DESC LIMIT 1", args, 2, out);
    else if (rc == PD_OK && out[0] == '\0')
        rc = first_id(im, SESSION_IMAGES "AND pet_index IS NULL ORDER BY "
                          "created_at, id LIMIT 1 OFFSET ?", args, 3, out);
    return rc;
}

static int
insert_pets(struct import *im, const struct legacy_order *o, int64_t id)
{
    char original[ID_MAX + 1], processed[ID_MAX + 1];
    int rc = PD_OK;

    for (int i = 0; rc == PD_OK && i < o->n_pets; i++) {
        const struct legacy_pet *p = &o->pets[i];

        rc = pick_image(im, o, i, "original", original);
        if (rc == PD_OK)
            rc = pick_image(im, o, i, "processed", processed);
        if (rc == PD_OK)
            rc = db_exec(im->d, "INSERT INTO pets (order_id, position, "
                                "pet_name, print_size, quantity, "
                                "session_id, original_image_id, "
                                "processed_image_id) "
                                "VALUES (?, ?, ?, ?, 1, ?, ?, ?)",
                (db_arg[]){DB_INT(id), DB_INT(i),
                           DB_TEXT(p->name[0] ? p->name : NULL),
                           DB_TEXT(p->print_size[0] ? p->print_size : NULL),
                           DB_TEXT(o->session),
                           DB_TEXT(original[0] ? original : NULL),
                           DB_TEXT(processed[0] ? processed : NULL)}, 7,
                NULL);
    }
    return rc;
}

/*
 * The session's photos join the order (the first order to claim a photo
 * keeps it) and leave the temporary tier, as a webhook's link does: the
 * column only; moving the stored objects is the lifecycle's job.
 */
static int
link_session(struct import *im, const struct legacy_order *o, int64_t id,
             int64_t *linked)
{
    *linked = 0;
    if (o->session == NULL)
        return PD_OK;
    return db_exec(im->d,
        "UPDATE images SET order_id = COALESCE(order_id, ?), "
        "tier_changed_at = CASE WHEN tier = 'temporary' THEN ? "
        "ELSE tier_changed_at END, "
        "tier = CASE WHEN tier = 'temporary' THEN 'order_pending' "
        "ELSE tier END WHERE deleted_at IS NULL AND "
        "(order_id IS NULL OR tier = 'temporary') AND session_id = ?",
        (db_arg[]){DB_INT(id), DB_INT(im->now), DB_TEXT(o->session)}, 3,
        linked);
}

static int
insert_note(struct import *im, const struct legacy_order *o, int64_t id)
{
    if (o->notes == NULL)
        return PD_OK;
    return db_exec(im->d, "INSERT INTO notes (order_id, author, body, "
                          "created_at) VALUES (?, ?, ?, ?)",
                   (db_arg[]){DB_INT(id), DB_TEXT(LEGACY_ACTOR),
                              DB_TEXT(o->notes), DB_INT(o->updated_ms)}, 4,
                   NULL);
}

/* A time for the audit detail: RFC 3339, or JSON null. */
static json_t *
time_json(int64_t ms)
{
    char text[40];

    if (ms == 0)
        return json_null();
    pd_format_time(text, ms);
    return json_string(text);
}

static int
audit(struct import *im, const char *action, const char *type,
      const char *target, int64_t order_id, json_t *detail)
{
    char *text = detail != NULL ? json_dumps(detail, JSON_COMPACT) : NULL;
    int rc = text == NULL ? PD_ENOMEM
        : db_exec(im->d, "INSERT INTO audit_log (at, actor, action, "
                         "target_type, target_id, order_id, detail) "
                         "VALUES (?, ?, ?, ?, ?, ?, ?)",
                  (db_arg[]){DB_INT(im->now), DB_TEXT(LEGACY_ACTOR),
                             DB_TEXT(action), DB_TEXT(type),
                             DB_TEXT(target),
                             order_id > 0 ? DB_INT(order_id) : DB_NULL,
                             DB_TEXT(text)}, 7, NULL);

    free(text);
    json_decref(detail);
    return rc;
}

/* What the legacy row held that printdesk has no column for. */
static int
audit_order(struct import *im, const struct legacy_order *o, int64_t id)
{
    json_t *d = json_pack("{sI,ss?,sI,so,so,ss?}", "legacy_rowid",
                          (json_int_t)o->rowid, "legacy_status",
                          o->legacy_status, "download_count",
                          (json_int_t)o->download_count, "completed_at",
                          time_json(o->completed_ms), "last_accessed_at",
                          time_json(o->last_accessed_ms), "session_id",
                          o->session);

    return audit(im, "legacy.order", "order", o->name, id, d);
}

/* The writes of one order, inside its transaction. */
static int
write_order(struct import *im, const struct legacy_order *o)
{
    int64_t id = 0, linked = 0;
    int rc = insert_order(im, o, &id);

    if (rc == PD_OK)
        rc = insert_history(im, o, id);
    if (rc == PD_OK)
        rc = insert_pets(im, o, id);
    if (rc == PD_OK)
        rc = link_session(im, o, id, &linked);
    if (rc == PD_OK)
        rc = insert_note(im, o, id);
    if (rc == PD_OK)
        rc = audit_order(im, o, id);
    if (rc == PD_OK)
        rc = orders_refresh_warnings(im->d, id);
    if (rc == PD_OK) {
        im->out->pets += o->n_pets;
        im->out->photos += linked;
    }
    return rc;
}

/* 1 when an order by this name or number exists already. */
static int
present(struct import *im, const struct legacy_order *o)
{
    int64_t n = 0;
    int rc = db_query_int(im->d, "SELECT COUNT(*) FROM orders WHERE "
                                 "name = ? OR order_number = ?",
                          (db_arg[]){DB_TEXT(o->name), DB_INT(o->number)},
                          2, &n);

    return rc < 0 ? rc : n > 0;
}

/*
 * One row in one transaction. A failure the row's data causes (a
 * constraint, text PostgreSQL refuses) makes it a bad row; one of the
 * database itself stops the import.
 */
static int
import_order(struct import *im, const struct legacy_order *o,
             const char *shown)
{
    char why[256];
    int rc = db_begin_write(im->d);
    int have = rc == PD_OK ? present(im, o) : rc;

    rc = have < 0 ? have : have == 1 ? PD_ECONFLICT : write_order(im, o);
    if (rc == PD_OK)
        rc = db_commit(im->d);
    if (rc == PD_OK) {
        im->out->imported++;
        log_info("import-legacy: row %" PRId64 " imported as order %s "
                 "(%s, %d pet(s))", o->rowid, o->name, o->status, o->n_pets);
        return PD_OK;
    }
    snprintf(why, sizeof(why), "%s", rc == PD_ENOMEM ? "out of memory"
                                                     : db_errmsg(im->d));
    db_rollback(im->d);
    if (rc == PD_ECONFLICT) {
        im->out->present++;
        log_info("import-legacy: row %" PRId64 ": order %s is present "
                 "already; skipped", o->rowid, o->name);
        return PD_OK;
    }
    if (rc == PD_EUNAVAIL || rc == PD_EBUSY || rc == PD_ENOMEM) {
        snprintf(im->err, im->errlen, "row %" PRId64 " (order %s): %s",
                 o->rowid, o->name, why);
        return rc;
    }
    report_bad(im, o->rowid, shown, why);
    return PD_OK;
}

static int
import_rows(struct import *im)
{
    int step, rc = PD_OK;

    while (rc == PD_OK && (step = sqlite3_step(im->rows)) == SQLITE_ROW) {
        struct legacy_value cols[LC_COUNT];
        struct legacy_order o;
        char reason[256], shown[64];
        int64_t rowid = sqlite3_column_int64(im->rows, 0);

        im->out->rows++;
        for (int i = 0; i < LC_COUNT; i++)
            cols[i] = value_at(im->rows, i);
        snprintf(shown, sizeof(shown), "%s", cols[LC_NUMBER].text);
        if (legacy_read_row(rowid, cols, &o, reason, sizeof(reason)) ==
            PD_OK)
            rc = import_order(im, &o, shown);
        else
            report_bad(im, rowid, shown, reason);
        legacy_order_clear(&o);
    }
    if (rc == PD_OK && step != SQLITE_DONE) {
        snprintf(im->err, im->errlen, "reading the legacy orders: %s",
                 sqlite3_errmsg(im->h));
        rc = PD_EIO;
    }
    return rc;
}

/* The run's own audit row, in its own transaction. */
static int
audit_run(struct import *im, const char *path)
{
    const struct legacy_counts *c = im->out;
    json_t *d = json_pack("{sI,sI,sI,sI,sI,sI}", "rows", (json_int_t)c->rows,
                          "imported", (json_int_t)c->imported, "present",
                          (json_int_t)c->present, "bad", (json_int_t)c->bad,
                          "pets", (json_int_t)c->pets, "photos",
                          (json_int_t)c->photos);
    int rc = db_begin_write(im->d);

    if (rc == PD_OK)
        rc = audit(im, "legacy.import", "database", path, 0, d);
    else
        json_decref(d);
    if (rc == PD_OK)
        rc = db_commit(im->d);
    if (rc != PD_OK) {
        db_rollback(im->d);
        snprintf(im->err, im->errlen, "writing the audit row: %s",
                 db_errmsg(im->d));
    }
    return rc;
}

int
legacy_import(const char *path, db *d, struct legacy_counts *out,
              char *err, size_t errlen)
{
    struct import im = {.d = d, .out = out, .now = pd_now_ms(), .err = err,
                        .errlen = errlen};
    int rc;

    memset(out, 0, sizeof(*out));
    err[0] = '\0';
    rc = open_legacy(&im, path);
    if (rc == PD_OK)
        rc = import_rows(&im);
    if (rc == PD_OK)
        rc = audit_run(&im, path);
    sqlite3_finalize(im.rows);
    sqlite3_close_v2(im.h);
    return rc;
}

void
legacy_counts_free(struct legacy_counts *c)
{
    free(c->bad_rows);
    memset(c, 0, sizeof(*c));
}
