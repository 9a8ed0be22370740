/*
 * tus.h — the state of resumable (tus 1.0.0) uploads: a row per upload
 * and one stored object per received piece, chained by offset. A piece
 * counts only once its object is committed (fsynced) and the row's offset
 * moved past it in one compare-and-set, so two clients racing on one
 * upload cannot both win, and a crash leaves at worst an unreferenced
 * piece that the sweep removes with its upload.
 */
#ifndef PD_UPLOADS_TUS_H
#define PD_UPLOADS_TUS_H

#include "db/db.h"
#include "store/store.h"
#include "uploads/uploads.h"

#include <stdbool.h>
#include <stdint.h>

#define TUS_ID_LEN 32

struct tus_upload {
    char id[TUS_ID_LEN + 1];
    char session_id[UPLOAD_SESSION_ID_MAX + 1];
    char kind[16];
    int pet_index;       /* -1: not given */
    int64_t length;
    int64_t offset;
    int64_t expires_at;  /* ms since the epoch */
    bool done;           /* received, checked and recorded as image_id */
    char image_id[UPLOAD_IMAGE_ID_LEN + 1];
};

/* Records a new upload (u->id filled by the caller). */
int tus_create(db *d, const struct tus_upload *u, const char *metadata);
/* PD_ENOTFOUND when there is no such upload (any more). */
int tus_get(db *d, const char *id, struct tus_upload *out);

/* ---- receiving a piece ---- */

enum tus_checksum { TUS_SUM_NONE, TUS_SUM_SHA1, TUS_SUM_SHA256 };

typedef struct tus_piece tus_piece;

int tus_piece_begin(store *s, const char *upload_id, int64_t offset,
                    enum tus_checksum sum, tus_piece **out);
int tus_piece_write(tus_piece *p, const void *data, size_t len);
int64_t tus_piece_length(const tus_piece *p);
/* True when the piece's digest equals expected (n bytes). */
bool tus_piece_matches(tus_piece *p, const unsigned char *expected,
                       size_t n);
/*
 * Commits the piece's object, then moves the upload's offset past it if
 * it is still where the piece began (else PD_ECONFLICT and the object is
 * deleted); the expiry moves to expires_at. Frees p whatever happens.
 * An empty piece changes nothing.
 */
int tus_piece_commit(db *d, tus_piece *p, int64_t expires_at);
void tus_piece_abort(tus_piece *p);

/* ---- finishing and removing ---- */

/* Copies every piece, in order, into sp. */
int tus_assemble(db *d, store *s, const char *id, spool *sp);
/* Marks the upload done with its image and deletes its pieces. */
int tus_finish(db *d, store *s, const char *id, const char *image_id,
               int64_t expires_at);
/* Deletes the upload, its pieces and their objects. */
int tus_remove(db *d, store *s, const char *id);
/* Removes every upload whose expiry passed before now; how many. */
int tus_sweep(db *d, store *s, int64_t now);

#endif
