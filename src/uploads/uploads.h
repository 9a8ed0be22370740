/*
 * uploads.h — storefront photo uploads, whichever way they arrive
 * (multipart or tus): the local spool a file waits in while it is
 * checked, and the one ingest pipeline that validates it with libvips,
 * makes its derivatives, stores it and records it. A refused file leaves
 * nothing behind in storage or the database.
 */
#ifndef PD_UPLOADS_H
#define PD_UPLOADS_H

#include "common/util.h"
#include "db/db.h"
#include "store/store.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define UPLOAD_SESSION_ID_MAX 64
#define UPLOAD_IMAGE_ID_LEN 36 /* "img_" and 32 hex digits */
#define UPLOAD_PET_INDEX_MAX 99
#define UPLOAD_THUMB_SIDE 300
#define UPLOAD_PREVIEW_SIDE 1600

/* ---- the spool: a private local file with its SHA-256 ---- */

typedef struct spool spool;

/* Creates an empty spool file in dir (created if missing). */
int spool_open(const char *dir, spool **out);
/* Appends bytes; PD_EIO (logged) when the disk refuses them. */
int spool_write(spool *s, const void *data, size_t len);
const char *spool_path(const spool *s);
int64_t spool_size(const spool *s);
/* The SHA-256 of everything written, as 64 hex digits (and a NUL). */
void spool_sha256(spool *s, char hex[65]);
/* Closes and deletes the file and frees s; NULL is fine. */
void spool_discard(spool *s);
/* Deletes spool files a stopped process left in dir. */
void spool_sweep(const char *dir);

/* ---- ingest ---- */

/* What the server was configured with; set once at start. */
struct upload_env {
    store *store;
    const char *spool_dir;
    int64_t max_pixels;
    int64_t session_max_images;
};
void uploads_setup(const struct upload_env *env);
const struct upload_env *uploads_env(void);

/* True for a session id the storefront may use: [A-Za-z0-9_-]{1,64}. */
bool upload_session_id_valid(const char *id);
/* True for "original" and "processed". */
bool upload_kind_valid(const char *kind);

struct upload_request {
    const char *session_id;
    const char *kind;      /* "original" or "processed" */
    int pet_index;         /* -1: not given */
    const char *client_addr;
    const char *via;       /* "multipart" or "tus", for metrics and logs */
};

/* An image as the storefront is told about it. */
struct upload_image {
    char id[UPLOAD_IMAGE_ID_LEN + 1];
    char session_id[UPLOAD_SESSION_ID_MAX + 1];
    char kind[16];
    int pet_index; /* -1: none */
    int width, height;
    int64_t bytes;
    char sha256[65];
    char format[16];
    int orientation;
    int dpi; /* 0: the file states none */
    bool duplicate; /* the same bytes were already accepted */
};

/* Why a file was refused: the HTTP status, a code and a sentence. */
struct upload_refusal {
    int status;
    const char *code;
    char message[256];
};

/*
 * Checks the spooled file and, when it is acceptable, stores it with its
 * derivatives and records it; the spool is left for the caller to
 * discard. Returns 0 with *out filled (out->duplicate when the same bytes
 * were already there for this session and kind), or a negative pd_err
 * with *why saying what to answer. Counts image_uploads_total.
 */
int upload_ingest(db *d, const struct upload_request *rq, spool *sp,
                  struct upload_image *out, struct upload_refusal *why);

/* Fills *why and counts the refusal (for refusals made before ingest). */
int upload_refuse(struct upload_refusal *why, int status, const char *code,
                  const char *result, const char *message);

/* Loads an image record by id; PD_ENOTFOUND when absent or deleted. */
int upload_image_get(db *d, const char *id, struct upload_image *out);

/* Appends the image as the flat JSON object the storefront reads. */
void upload_image_json(pd_buf *b, const struct upload_image *img,
                       const char *path_prefix);

/* Counts bytes received per way of uploading (image_upload_bytes_total). */
void upload_count_bytes(const char *via, int64_t bytes);

#endif
