/*
 * test_tus.c — resumable uploads' state on a real database and a real
 * folder store: pieces chain by offset and only one of two racing pieces
 * wins, the file comes back together byte for byte, a cut-off piece can
 * be kept, finishing and removing leave no pieces behind, and the sweep
 * removes expired uploads and stray pieces but nothing live.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "../db/db_env.h"

#include "common/err.h"
#include "common/util.h"
#include "obs/log.h"
#include "uploads/tus.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A store in a temp folder beside the test's database. */
static store *
open_store(char *dir, size_t len)
{
    char url[300], err[200];
    store *s = NULL;

    snprintf(dir, len, "/tmp/pd-test-tus-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(url, sizeof(url), "file:%s", dir);
    assert_int_equal(store_open(url, &s, err, sizeof(err)), PD_OK);
    return s;
}

static void
remove_tree(const char *dir)
{
    char cmd[400];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static int
count_objects_fn(void *ctx, const char *key, const struct store_stat *st)
{
    (void)key;
    (void)st;
    (*(int *)ctx)++;
    return 0;
}

static int
count_objects(store *s, const char *prefix)
{
    int n = 0;

    assert_int_equal(store_list(s, prefix, count_objects_fn, &n), PD_OK);
    return n;
}

static void
new_upload(db *d, const char *id, int64_t length, int64_t expires_at)
{
    struct tus_upload u = {.length = length, .pet_index = -1,
                           .expires_at = expires_at};

    snprintf(u.id, sizeof(u.id), "%s", id);
    snprintf(u.session_id, sizeof(u.session_id), "sess-1");
    snprintf(u.kind, sizeof(u.kind), "original");
    assert_int_equal(tus_create(d, &u, "session_id c2Vzcy0x"), PD_OK);
}

/* Sends bytes as one piece at offset; returns what the commit said. */
static int
send_piece(db *d, store *s, const char *id, int64_t offset,
           const void *data, size_t len)
{
    tus_piece *p = NULL;

    assert_int_equal(tus_piece_begin(s, id, offset, TUS_SUM_NONE, &p),
                     PD_OK);
    assert_int_equal(tus_piece_write(p, data, len), PD_OK);
    return tus_piece_commit(d, p, pd_now_ms() + 60000);
}

#define ID_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define ID_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

static void
fill_pattern(unsigned char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (unsigned char)(i * 7 + i / 251);
}

static void
test_pieces_chain_and_reassemble(void **state)
{
    struct env *e = *state;
    static unsigned char file[300000];
    char dir[64], sha_file[65], sha_back[65];
    store *s = open_store(dir, sizeof(dir));
    struct tus_upload u;
    spool *sp = NULL, *whole = NULL;

    fill_pattern(file, sizeof(file));
    new_upload(e->d, ID_A, sizeof(file), pd_now_ms() + 60000);
    assert_int_equal(send_piece(e->d, s, ID_A, 0, file, 100000), PD_OK);
    /* A second client still at offset 0 loses, and leaves no object. */
    assert_int_equal(send_piece(e->d, s, ID_A, 0, file, 50000),
                     PD_ECONFLICT);
    assert_int_equal(count_objects(s, "temporary/tus/"), 1);
    /* A piece past the declared length is refused the same way. */
    assert_int_equal(send_piece(e->d, s, ID_A, 100000, file, 250000),
                     PD_ECONFLICT);
    assert_int_equal(send_piece(e->d, s, ID_A, 100000, file + 100000,
                                200000), PD_OK);
    assert_int_equal(tus_get(e->d, ID_A, &u), PD_OK);
    assert_int_equal(u.offset, (int64_t)sizeof(file));
    assert_false(u.done);

    assert_int_equal(spool_open(dir, &sp), PD_OK);
    assert_int_equal(tus_assemble(e->d, s, ID_A, sp), PD_OK);
    assert_int_equal(spool_size(sp), (int64_t)sizeof(file));
    assert_int_equal(spool_open(dir, &whole), PD_OK);
    assert_int_equal(spool_write(whole, file, sizeof(file)), PD_OK);
    spool_sha256(sp, sha_back);
    spool_sha256(whole, sha_file);
    assert_string_equal(sha_back, sha_file);
    spool_discard(sp);
    spool_discard(whole);

    env_exec_ok(e->d, "INSERT INTO images (id, session_id, kind, "
                "object_key, sha256, created_at) VALUES ('img_x', 'sess-1', "
                "'original', 'temporary/sess-1/img_x.png', ?, 0)",
                (db_arg[]){DB_TEXT(sha_file)}, 1);
    assert_int_equal(tus_finish(e->d, s, ID_A, "img_x", pd_now_ms()),
                     PD_OK);
    assert_int_equal(count_objects(s, "temporary/tus/"), 0);
    assert_int_equal(tus_get(e->d, ID_A, &u), PD_OK);
    assert_true(u.done);
    assert_string_equal(u.image_id, "img_x");
    store_close(s);
    remove_tree(dir);
}

static void
test_checksum_and_abort(void **state)
{
    struct env *e = *state;
    static const unsigned char sha1_abc[20] = {
        0xa9, 0x99, 0x3e, 0x36, 0x47, 0x06, 0x81, 0x6a, 0xba, 0x3e,
        0x25, 0x71, 0x78, 0x50, 0xc2, 0x6c, 0x9c, 0xd0, 0xd8, 0x9d};
    char dir[64];
    store *s = open_store(dir, sizeof(dir));
    tus_piece *p = NULL;
    struct tus_upload u;

    new_upload(e->d, ID_A, 10, pd_now_ms() + 60000);
    assert_int_equal(tus_piece_begin(s, ID_A, 0, TUS_SUM_SHA1, &p), PD_OK);
    assert_int_equal(tus_piece_write(p, "abc", 3), PD_OK);
    assert_true(tus_piece_matches(p, sha1_abc, sizeof(sha1_abc)));
    tus_piece_abort(p);
    assert_int_equal(tus_piece_begin(s, ID_A, 0, TUS_SUM_SHA1, &p), PD_OK);
    assert_int_equal(tus_piece_write(p, "abd", 3), PD_OK);
    assert_false(tus_piece_matches(p, sha1_abc, sizeof(sha1_abc)));
    tus_piece_abort(p);
    /* Aborted pieces leave nothing and move nothing. */
    assert_int_equal(count_objects(s, "temporary/tus/"), 0);
    assert_int_equal(tus_get(e->d, ID_A, &u), PD_OK);
    assert_int_equal(u.offset, 0);
    /* An empty piece is no change. */
    assert_int_equal(send_piece(e->d, s, ID_A, 0, "", 0), PD_OK);
    assert_int_equal(tus_get(e->d, ID_A, &u), PD_OK);
    assert_int_equal(u.offset, 0);
    store_close(s);
    remove_tree(dir);
}

static void
test_remove_and_sweep(void **state)
{
    struct env *e = *state;
    char dir[64], path[300];
    store *s = open_store(dir, sizeof(dir));
    struct tus_upload u;
    int64_t now = pd_now_ms();

    new_upload(e->d, ID_A, 10, now - 1000);  /* expired */
    new_upload(e->d, ID_B, 10, now + 60000); /* live */
    /* The expired one got a piece while it was alive. */
    env_exec_ok(e->d, "UPDATE tus_uploads SET expires_at = ? WHERE id = ?",
                (db_arg[]){DB_INT(now + 60000), DB_TEXT(ID_A)}, 2);
    assert_int_equal(send_piece(e->d, s, ID_A, 0, "12345", 5), PD_OK);
    env_exec_ok(e->d, "UPDATE tus_uploads SET expires_at = ? WHERE id = ?",
                (db_arg[]){DB_INT(now - 1000), DB_TEXT(ID_A)}, 2);
    assert_int_equal(send_piece(e->d, s, ID_B, 0, "12345", 5), PD_OK);
    /* A stray piece no row names, two hours old. */
    assert_int_equal(store_put_bytes(s, "temporary/tus/" ID_B "/stray",
                                     "x", 1), PD_OK);
    snprintf(path, sizeof(path), "%s/temporary/tus/" ID_B "/stray", dir);
    {
        char cmd[400];

        snprintf(cmd, sizeof(cmd), "touch -d '2 hours ago' '%s'", path);
        assert_int_equal(system(cmd), 0);
    }
    assert_int_equal(count_objects(s, "temporary/tus/"), 3);
    assert_int_equal(tus_sweep(e->d, s, now), 1);
    assert_int_equal(tus_get(e->d, ID_A, &u), PD_ENOTFOUND);
    assert_int_equal(tus_get(e->d, ID_B, &u), PD_OK);
    assert_int_equal(u.offset, 5);
    assert_int_equal(count_objects(s, "temporary/tus/"), 1);
    assert_int_equal(env_int(e->d, "SELECT count(*) FROM tus_parts", NULL,
                             0), 1);
    /* Termination removes the rest. */
    assert_int_equal(tus_remove(e->d, s, ID_B), PD_OK);
    assert_int_equal(count_objects(s, "temporary/tus/"), 0);
    assert_int_equal(tus_get(e->d, ID_B, &u), PD_ENOTFOUND);
    store_close(s);
    remove_tree(dir);
}

#define DB_TEST(f) cmocka_unit_test_setup_teardown(f, env_setup_migrated, \
                                                    env_teardown)

int
main(void)
{
    const struct CMUnitTest tests[] = {
        DB_TEST(test_pieces_chain_and_reassemble),
        DB_TEST(test_checksum_and_abort),
        DB_TEST(test_remove_and_sweep),
    };

    log_setup(LOG_ERROR, false);
    return env_run_groups("uploads", tests, ENV_COUNT(tests), tests,
                          ENV_COUNT(tests)) != 0;
}
