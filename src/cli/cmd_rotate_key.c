/*
 * cmd_rotate_key.c — `printdesk rotate-data-key`: re-seals customer data
 * (orders' *_enc columns, their e-mail blind index, sealed webhook
 * bodies) under PRINTDESK_DATA_KEY, opening what PRINTDESK_DATA_KEY_PREVIOUS
 * sealed; in batches, each its own transaction, so a re-run resumes.
 */
#include "cli/cli.h"
#include "cli/rotate_key.h"

#include "common/err.h"
#include "common/util.h"
#include "obs/log.h"

#include <openssl/crypto.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char help[] =
    "usage: printdesk rotate-data-key [--batch N] [OPTIONS]\n\n"
    "Re-encrypts customer data (orders' name, e-mail, phone and address,\n"
    "the e-mail search index, and stored webhook bodies) under\n"
    "PRINTDESK_DATA_KEY, opening what was sealed under\n"
    "PRINTDESK_DATA_KEY_PREVIOUS; set both. Works in batches of N rows\n"
    "(default 500, at most 10000), each in its own transaction, so it can\n"
    "be stopped and run again; the server may keep running with the same\n"
    "two keys meanwhile. A row neither key opens is named by its id and\n"
    "left as it is; the exit status is then 1.\n\n"
    "Options:\n"
    "  --batch N             rows per transaction (500)\n" CONFIG_FLAGS_HELP;

enum { COL_NAME, COL_EMAIL, COL_PHONE, COL_ADDRESS, N_COLS };

/* The rows that still need work: PII under another key (or none named). */
#define NEEDS_WORK                                                        \
    "(pii_key_id IS NULL OR pii_key_id <> ?) AND "                        \
    "(customer_name_enc IS NOT NULL OR email_enc IS NOT NULL OR "         \
    "phone_enc IS NOT NULL OR address_enc IS NOT NULL)"

#define SELECT_ROWS                                                       \
    "SELECT id, customer_name_enc, email_enc, phone_enc, address_enc "    \
    "FROM orders WHERE id > ? AND " NEEDS_WORK " ORDER BY id LIMIT ?"

/* One orders row of a batch: its sealed columns as read. */
struct pii_row {
    int64_t id;
    bool present[N_COLS];
    pd_buf col[N_COLS];
};

/* Frees a buffer that held plain text, wiping it first. */
static void
wipe_buf(pd_buf *b)
{
    if (b->data != NULL)
        OPENSSL_cleanse(b->data, b->cap);
    buf_free(b);
}

static void
free_rows(struct pii_row *rows, int n)
{
    for (int i = 0; rows != NULL && i < n; i++)
        for (int c = 0; c < N_COLS; c++)
            buf_free(&rows[i].col[c]);
    free(rows);
}

/* Reads up to batch rows after *last into rows; *count receives how many. */
static int
load_rows(db *d, const pii_keys *k, int batch, int64_t last,
          struct pii_row *rows, int *count)
{
    const char *sql = db_kind(d) == DB_POSTGRES ? SELECT_ROWS " FOR UPDATE"
                                                : SELECT_ROWS;
    db_rows *r = NULL;
    int rc = db_query(d, sql,
                      (db_arg[]){DB_INT(last),
                                 DB_INT(pii_current_key_id(k)),
                                 DB_INT(batch)}, 3, &r);

    *count = 0;
    while (rc == PD_OK && *count < batch && (rc = db_step(r)) == 1) {
        struct pii_row *row = &rows[(*count)++];

        rc = PD_OK;
        row->id = db_col_int(r, 0);
        for (int c = 0; c < N_COLS; c++) {
            size_t len = 0;
            const void *p;

            if (db_col_null(r, c + 1))
                continue;
            p = db_col_blob(r, c + 1, &len);
            row->present[c] = true;
            buf_append(&row->col[c], p, len);
            if (row->col[c].failed)
                rc = PD_ENOMEM;
        }
    }
    db_rows_free(r);
    return rc < 0 ? rc : PD_OK;
}

/*
 * Opens each present column and seals it again under the current key;
 * bidx receives the e-mail's index. A pii_open error when a column does
 * not open.
 */
static int
reseal_row(const pii_keys *k, const struct pii_row *row,
           pd_buf sealed[N_COLS], unsigned char bidx[PII_INDEX_LEN])
{
    pd_buf plain;
    int rc = PD_OK;

    buf_init(&plain);
    for (int c = 0; c < N_COLS && rc == PD_OK; c++) {
        if (!row->present[c])
            continue;
        buf_reset(&plain);
        rc = pii_open(k, row->col[c].data, row->col[c].len, &plain);
        if (rc == PD_OK)
            rc = pii_seal(k, buf_cstr(&plain), plain.len, &sealed[c]);
        if (rc == PD_OK && c == COL_EMAIL)
            rc = pii_email_index(k, buf_cstr(&plain), bidx);
    }
    wipe_buf(&plain);
    return rc;
}

static db_arg
blob_or_null(bool present, const void *p, size_t len)
{
    return present ? DB_BLOB(p, len) : DB_NULL;
}

/* Re-seals one row and writes it back; *failed when it does not open. */
static int
rotate_row(db *d, const pii_keys *k, const struct pii_row *row,
           bool *failed)
{
    pd_buf sealed[N_COLS];
    unsigned char bidx[PII_INDEX_LEN];
    int rc;

    for (int c = 0; c < N_COLS; c++)
        buf_init(&sealed[c]);
    *failed = false;
    rc = reseal_row(k, row, sealed, bidx);
    if (rc == PD_EINVAL || rc == PD_ENOTFOUND) {
        log_error("order %lld: customer data opens under neither data "
                  "key; left as it is", (long long)row->id);
        *failed = true;
        rc = PD_OK;
    } else if (rc == PD_OK) {
        const bool *has = row->present;

        rc = db_exec(d, "UPDATE orders SET customer_name_enc = ?, "
                        "email_enc = ?, phone_enc = ?, address_enc = ?, "
                        "email_bidx = ?, pii_key_id = ? WHERE id = ?",
            (db_arg[]){
                blob_or_null(has[0], sealed[0].data, sealed[0].len),
                blob_or_null(has[1], sealed[1].data, sealed[1].len),
                blob_or_null(has[2], sealed[2].data, sealed[2].len),
                blob_or_null(has[3], sealed[3].data, sealed[3].len),
                blob_or_null(has[COL_EMAIL], bidx, sizeof(bidx)),
                DB_INT(pii_current_key_id(k)), DB_INT(row->id)},
            7, NULL);
    }
    for (int c = 0; c < N_COLS; c++)
        buf_free(&sealed[c]);
    return rc;
}

/* One transaction: up to batch rows after *last. *seen: rows read. */
static int
orders_batch(db *d, const pii_keys *k, int batch, int64_t *last,
             int *seen, struct rotate_counts *out)
{
    struct pii_row *rows = calloc((size_t)batch, sizeof(*rows));
    int64_t done = 0, failed = 0;
    int count = 0, rc = rows == NULL ? PD_ENOMEM : db_begin_write(d);

    if (rc == PD_OK)
        rc = load_rows(d, k, batch, *last, rows, &count);
    for (int i = 0; i < count && rc == PD_OK; i++) {
        bool bad = false;

        rc = rotate_row(d, k, &rows[i], &bad);
        if (bad)
            failed++;
        else
            done++;
    }
    if (rc == PD_OK)
        rc = db_commit(d);
    if (rc != PD_OK) {
        db_rollback(d);
    } else {
        out->rotated += done;
        out->failed += failed;
        *last = count > 0 ? rows[count - 1].id : *last;
    }
    *seen = count;
    free_rows(rows, count);
    return rc;
}

static int
rotate_orders(db *d, const pii_keys *k, int batch, struct rotate_counts *out)
{
    int64_t last = 0;
    int seen = batch, rc;

    rc = db_query_int(d, "SELECT COUNT(*) FROM orders WHERE NOT (" NEEDS_WORK
                         ")", (db_arg[]){DB_INT(pii_current_key_id(k))}, 1,
                      &out->current);
    while (rc == PD_OK && seen == batch)
        rc = orders_batch(d, k, batch, &last, &seen, out);
    return rc;
}

/* ---- webhook_inbox bodies ---- */

/*
 * True when a body of total bytes that starts with head (its first 5
 * bytes: version and key id) is a blob sealed under another key.
 */
static bool
sealed_elsewhere(const pii_keys *k, const void *head, size_t headlen,
                 int64_t total)
{
    unsigned char probe[PII_BLOB_OVERHEAD] = {0};
    uint32_t id;

    if (headlen < 5 || total < PII_BLOB_OVERHEAD)
        return false;
    /* pii_blob_key_id reads only the head, but checks a blob's length. */
    memcpy(probe, head, 5);
    id = pii_blob_key_id(probe, sizeof(probe));
    return id != 0 && id != pii_current_key_id(k);
}

/*
 * Reads inbox row id's body and seals its plain text again into sealed.
 * 1 when done, 0 when the row is gone, else a pd_err (a pii_open error
 * when the body does not open).
 */
static int
reseal_body(db *d, const pii_keys *k, int64_t id, pd_buf *sealed)
{
    pd_buf plain;
    db_rows *r = NULL;
    int rc;

    buf_init(&plain);
    rc = db_query(d, "SELECT body FROM webhook_inbox WHERE id = ?",
                  (db_arg[]){DB_INT(id)}, 1, &r);
    if (rc == PD_OK && (rc = db_step(r)) == 1) {
        size_t len = 0;
        const void *p = db_col_blob(r, 0, &len);

        rc = pii_open(k, p, len, &plain);
        if (rc == PD_OK)
            rc = pii_seal(k, buf_cstr(&plain), plain.len, sealed);
        if (rc == PD_OK)
            rc = 1;
    }
    db_rows_free(r);
    wipe_buf(&plain);
    return rc;
}

/* Re-seals one inbox body; *failed when neither key opens it. */
static int
rotate_body(db *d, const pii_keys *k, int64_t id, bool *failed)
{
    pd_buf sealed;
    int rc;

    buf_init(&sealed);
    *failed = false;
    rc = reseal_body(d, k, id, &sealed);
    if (rc == PD_EINVAL || rc == PD_ENOTFOUND) {
        log_error("webhook inbox row %lld: body opens under neither data "
                  "key; left as it is", (long long)id);
        *failed = true;
        rc = PD_OK;
    } else if (rc == 1) {
        rc = db_exec(d, "UPDATE webhook_inbox SET body = ? WHERE id = ?",
                     (db_arg[]){DB_BLOB(sealed.data, sealed.len),
                                DB_INT(id)}, 2, NULL);
    }
    buf_free(&sealed);
    return rc;
}

/* The ids among up to batch inbox rows after last that need re-sealing. */
static int
inbox_candidates(db *d, const pii_keys *k, int batch, int64_t *last,
                 int64_t *ids, int *nids, int *seen)
{
    db_rows *r = NULL;
    int rc = db_query(d, "SELECT id, substr(body, 1, 5), length(body) "
                         "FROM webhook_inbox WHERE id > ? ORDER BY id "
                         "LIMIT ?",
                      (db_arg[]){DB_INT(*last), DB_INT(batch)}, 2, &r);

    *nids = *seen = 0;
    while (rc == PD_OK && *seen < batch && (rc = db_step(r)) == 1) {
        size_t len = 0;
        const void *head = db_col_blob(r, 1, &len);

        rc = PD_OK;
        (*seen)++;
        *last = db_col_int(r, 0);
        if (sealed_elsewhere(k, head, len, db_col_int(r, 2)))
            ids[(*nids)++] = *last;
    }
    db_rows_free(r);
    return rc < 0 ? rc : PD_OK;
}

static int
inbox_batch(db *d, const pii_keys *k, int batch, int64_t *last, int *seen,
            struct rotate_counts *out)
{
    int64_t *ids = calloc((size_t)batch, sizeof(*ids));
    int64_t done = 0, failed = 0, from = *last;
    int nids = 0, rc = ids == NULL ? PD_ENOMEM : db_begin_write(d);

    if (rc == PD_OK)
        rc = inbox_candidates(d, k, batch, last, ids, &nids, seen);
    for (int i = 0; i < nids && rc == PD_OK; i++) {
        bool bad = false;

        rc = rotate_body(d, k, ids[i], &bad);
        if (bad)
            failed++;
        else
            done++;
    }
    if (rc == PD_OK)
        rc = db_commit(d);
    if (rc != PD_OK) {
        db_rollback(d);
        *last = from;
    } else {
        out->inbox_rotated += done;
        out->inbox_failed += failed;
    }
    free(ids);
    return rc;
}

int
rotate_data_key(db *d, const pii_keys *k, int batch,
                struct rotate_counts *out)
{
    int64_t last = 0;
    int seen = batch, rc;

    memset(out, 0, sizeof(*out));
    if (batch < 1 || batch > ROTATE_BATCH_MAX)
        return PD_EINVAL;
    rc = rotate_orders(d, k, batch, out);
    while (rc == PD_OK && seen == batch)
        rc = inbox_batch(d, k, batch, &last, &seen, out);
    return rc;
}

/* ---- the command ---- */

/* Takes --batch N out of argv; config flags remain. -1 on a bad value. */
static int
parse_batch(int *argc, char **argv, int *batch)
{
    int out = 1;
    int64_t v;

    *batch = ROTATE_BATCH_DEFAULT;
    for (int i = 1; i < *argc; i++) {
        if (strcmp(argv[i], "--batch") != 0) {
            argv[out++] = argv[i];
            continue;
        }
        if (i + 1 >= *argc ||
            pd_parse_i64(argv[++i], 1, ROTATE_BATCH_MAX, &v) != PD_OK) {
            fprintf(stderr, "printdesk rotate-data-key: --batch takes a "
                            "number from 1 to %d\n", ROTATE_BATCH_MAX);
            return -1;
        }
        *batch = (int)v;
    }
    *argc = out;
    return 0;
}

/* Loads both keys from the configuration; prints why not. */
static int
load_keys(struct config *cfg, pii_keys **keys)
{
    char err[512];

    if (config_require_secrets(cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "printdesk rotate-data-key: %s\n", err);
        return -1;
    }
    if (cfg->data_key_previous[0] == '\0' ||
        strcmp(cfg->data_key_previous, cfg->data_key) == 0) {
        fprintf(stderr, "printdesk rotate-data-key: set "
                        "PRINTDESK_DATA_KEY to the new key and "
                        "PRINTDESK_DATA_KEY_PREVIOUS to the old one\n");
        return -1;
    }
    if (pii_keys_load(cfg->data_key, cfg->data_key_previous, keys) < 0) {
        fprintf(stderr, "printdesk rotate-data-key: cannot load the data "
                        "keys\n");
        return -1;
    }
    return 0;
}

static void
print_counts(const struct rotate_counts *n)
{
    printf("orders: %lld re-encrypted, %lld already current, %lld failed\n",
           (long long)n->rotated, (long long)n->current,
           (long long)n->failed);
    printf("webhook inbox: %lld re-encrypted, %lld failed\n",
           (long long)n->inbox_rotated, (long long)n->inbox_failed);
}

int
cmd_rotate_key(int argc, char **argv)
{
    struct rotate_counts counts;
    struct config cfg;
    pii_keys *keys = NULL;
    char err[512];
    db *d = NULL;
    int batch, rc;

    if (cli_wants_help(argc, argv)) {
        fputs(help, stdout);
        return 0;
    }
    if (parse_batch(&argc, argv, &batch) < 0)
        return CONFIG_EXIT_BAD;
    if ((rc = cli_load_config(&cfg, argc, argv)) != 0)
        return rc;
    if (config_prepare_data_dir(&cfg, err, sizeof(err)) < 0) {
        fprintf(stderr, "printdesk rotate-data-key: %s\n", err);
        return 1;
    }
    if (load_keys(&cfg, &keys) < 0)
        return CONFIG_EXIT_BAD;
    if (db_open(cfg.database_url, &d, err, sizeof(err)) != PD_OK) {
        fprintf(stderr, "printdesk rotate-data-key: %s\n", err);
        pii_keys_free(keys);
        return 1;
    }
    rc = db_migrate(d, NULL);
    if (rc == PD_OK)
        rc = rotate_data_key(d, keys, batch, &counts);
    if (rc == PD_OK)
        print_counts(&counts);
    else
        log_error("rotation stopped: %s (%s); run it again to resume",
                  pd_err_str(rc), db_errmsg(d));
    db_close(d);
    pii_keys_free(keys);
    OPENSSL_cleanse(&cfg, sizeof(cfg));
    return rc == PD_OK && counts.failed == 0 && counts.inbox_failed == 0 ? 0
                                                                         : 1;
}
