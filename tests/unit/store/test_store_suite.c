/*
 * test_store_suite.c — the storage contract, the same on every backend:
 * round trips, streaming, ranges, replacement, aborts (multipart ones
 * too), stat, copy, delete, listing in key order across pages, odd keys
 * and threads. It runs on a fresh local folder, or on the store that
 * TEST_STORE_URL names (tests/integration/store_s3.test.mjs runs it on
 * an S3-protocol server with a 5 MiB multipart threshold and 3 keys a
 * listing page). Every test starts and ends with an empty store.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/util.h"
#include "store/store.h"

#include <ftw.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MIB (1024 * 1024)
/* The multipart threshold the S3 run sets: sizes are chosen around it. */
#define PART (5 * MIB)

struct fixture {
    char dir[64]; /* the local folder's parent, "" on TEST_STORE_URL */
    store *s;
};

/* ---- helpers ---------------------------------------------------------- */

static int
rm_entry(const char *path, const struct stat *st, int flag, struct FTW *f)
{
    (void)st;
    (void)flag;
    (void)f;
    return remove(path);
}

/* Every key of the store, for emptying it. */
struct key_list {
    char **keys;
    size_t n, cap;
};

static int
add_key(void *ctx, const char *key, const struct store_stat *st)
{
    struct key_list *l = ctx;

    (void)st;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->keys = realloc(l->keys, l->cap * sizeof(*l->keys));
        assert_non_null(l->keys);
    }
    l->keys[l->n] = strdup(key);
    assert_non_null(l->keys[l->n]);
    l->n++;
    return 0;
}

static size_t
empty_store(store *s)
{
    struct key_list l = {0};
    size_t n;

    assert_int_equal(store_list(s, "", add_key, &l), 0);
    for (size_t i = 0; i < l.n; i++) {
        assert_int_equal(store_delete(s, l.keys[i]), PD_OK);
        free(l.keys[i]);
    }
    free(l.keys);
    n = l.n;
    return n;
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    const char *url = getenv("TEST_STORE_URL");
    char local[128], err[512];

    assert_non_null(f);
    if (url == NULL || url[0] == '\0') {
        snprintf(f->dir, sizeof(f->dir), "/tmp/pd-store-suite-XXXXXX");
        assert_non_null(mkdtemp(f->dir));
        snprintf(local, sizeof(local), "file:%s/objects", f->dir);
        url = local;
    }
    if (store_open(url, &f->s, err, sizeof(err)) != PD_OK)
        fail_msg("cannot open %s: %s", url, err);
    empty_store(f->s);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    empty_store(f->s);
    store_close(f->s);
    if (f->dir[0] != '\0')
        nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

static void
fill_random(unsigned char *p, size_t n, uint64_t seed)
{
    uint64_t x = seed | 1;

    for (size_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        p[i] = (unsigned char)(x >> 24);
    }
}

/* n random bytes (to free). */
static unsigned char *
random_bytes(size_t n, uint64_t seed)
{
    unsigned char *p = malloc(n ? n : 1);

    assert_non_null(p);
    fill_random(p, n, seed);
    return p;
}

/* Reads a range in reads of chunk bytes into a malloc'd buffer. */
static size_t
read_range(store *s, const char *key, int64_t off, int64_t len,
           size_t chunk, char **out)
{
    store_reader *r = NULL;
    pd_buf b;
    char *tmp = malloc(chunk);
    ssize_t n;

    assert_non_null(tmp);
    assert_int_equal(store_get(s, key, off, len, &r), PD_OK);
    buf_init(&b);
    while ((n = store_read(r, tmp, chunk)) > 0)
        buf_append(&b, tmp, (size_t)n);
    assert_int_equal(n, 0);
    store_reader_close(r);
    assert_false(b.failed);
    free(tmp);
    *out = b.data;
    return b.len;
}

static void
assert_content(store *s, const char *key, const void *want, size_t n)
{
    char *got = NULL;

    assert_int_equal(read_range(s, key, 0, -1, 65536, &got), n);
    if (n > 0)
        assert_memory_equal(got, want, n);
    free(got);
}

/* Streams data in writes of the given sizes, in turn. */
static void
put_in_pieces(store *s, const char *key, const unsigned char *data,
              size_t total, const size_t *sizes, size_t nsizes)
{
    store_writer *w = NULL;
    size_t done = 0;

    assert_int_equal(store_put_begin(s, key, &w), PD_OK);
    for (size_t i = 0; done < total; i++) {
        size_t k = sizes[i % nsizes];

        if (k > total - done)
            k = total - done;
        assert_int_equal(store_put_write(w, data + done, k), PD_OK);
        done += k;
    }
    assert_int_equal(store_put_commit(w), PD_OK);
}

/* Reads the whole object in reads of the given sizes; its SHA-256. */
static size_t
hash_object(store *s, const char *key, const size_t *sizes, size_t nsizes,
            unsigned char md[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    store_reader *r = NULL;
    static unsigned char buf[300000];
    unsigned int len = 0;
    size_t total = 0;
    ssize_t n;

    assert_non_null(ctx);
    assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
    assert_int_equal(store_get(s, key, 0, -1, &r), PD_OK);
    for (size_t i = 0; (n = store_read(r, buf, sizes[i % nsizes])) > 0;
         i++) {
        assert_int_equal(EVP_DigestUpdate(ctx, buf, (size_t)n), 1);
        total += (size_t)n;
    }
    assert_int_equal(n, 0);
    store_reader_close(r);
    assert_int_equal(EVP_DigestFinal_ex(ctx, md, &len), 1);
    EVP_MD_CTX_free(ctx);
    return total;
}

static void
sha256(const void *data, size_t n, unsigned char out[32])
{
    unsigned int len = 0;

    assert_int_equal(EVP_Digest(data, n, out, &len, EVP_sha256(), NULL), 1);
}

/* Listed keys and sizes. */
struct collected {
    char keys[40][STORE_KEY_MAX + 1];
    int64_t sizes[40];
    int64_t mtimes[40];
    int n;
    int stop_after; /* 0: never stop */
};

static int
collect(void *ctx, const char *key, const struct store_stat *st)
{
    struct collected *c = ctx;

    if (c->n >= 40)
        return -100;
    snprintf(c->keys[c->n], sizeof(c->keys[0]), "%s", key);
    c->sizes[c->n] = st->size;
    c->mtimes[c->n] = st->mtime_ms;
    c->n++;
    return c->stop_after > 0 && c->n >= c->stop_after ? 7 : 0;
}

static void
assert_listed(store *s, const char *prefix, const char *const *want,
              int nwant)
{
    struct collected c = {0};

    assert_int_equal(store_list(s, prefix, collect, &c), 0);
    assert_int_equal(c.n, nwant);
    for (int i = 0; i < nwant; i++)
        assert_string_equal(c.keys[i], want[i]);
}

static void
assert_absent(store *s, const char *key)
{
    struct store_stat st;
    store_reader *r = NULL;

    assert_int_equal(store_stat(s, key, &st), PD_ENOTFOUND);
    assert_int_equal(store_get(s, key, 0, -1, &r), PD_ENOTFOUND);
    assert_null(r);
}

/* ---- round trips ------------------------------------------------------ */

static void
test_put_get_small(void **state)
{
    struct fixture *f = *state;
    struct store_stat st;

    assert_int_equal(store_put_bytes(f->s, "temporary/s1/orig.jpg",
                                     "hello, pet", 10), PD_OK);
    assert_content(f->s, "temporary/s1/orig.jpg", "hello, pet", 10);
    assert_int_equal(store_stat(f->s, "temporary/s1/orig.jpg", &st), PD_OK);
    assert_int_equal(st.size, 10);

    /* An empty object is an object, and reads as nothing. */
    assert_int_equal(store_put_bytes(f->s, "temporary/empty", "", 0), PD_OK);
    assert_int_equal(store_stat(f->s, "temporary/empty", &st), PD_OK);
    assert_int_equal(st.size, 0);
    assert_content(f->s, "temporary/empty", "", 0);
    assert_absent(f->s, "temporary/s1/other.jpg");
    assert_int_equal(store_ping(f->s, (char[256]){0}, 256), PD_OK);
}

static void
test_put_get_streamed(void **state)
{
    static const size_t wsizes[] = {1, 7, 4093, 65537, 333333};
    static const size_t rsizes[] = {3001, 1, 65539, 262144};
    struct fixture *f = *state;
    const size_t total = 4 * MIB + 12345;
    unsigned char *data = random_bytes(total, 42);
    unsigned char want[32], got[32];

    sha256(data, total, want);
    put_in_pieces(f->s, "order_pending/1042/a.png", data, total, wsizes, 5);
    assert_int_equal(hash_object(f->s, "order_pending/1042/a.png", rsizes,
                                 4, got), total);
    assert_memory_equal(got, want, 32);
    free(data);
}

/* Above the S3 run's threshold: multipart, with a last part of 3 bytes. */
static void
test_multipart_sized(void **state)
{
    static const size_t wsizes[] = {65536, 1, 1048583};
    static const size_t rsizes[] = {65536, 7, 200000};
    struct fixture *f = *state;
    const size_t total = 2 * PART + 3;
    unsigned char *data = random_bytes(total, 7);
    unsigned char want[32], got[32];
    struct store_stat st;
    char *part = NULL;

    sha256(data, total, want);
    put_in_pieces(f->s, "order_completed/77/big.tif", data, total, wsizes,
                  3);
    assert_int_equal(store_stat(f->s, "order_completed/77/big.tif", &st),
                     PD_OK);
    assert_int_equal(st.size, (int64_t)total);
    assert_int_equal(hash_object(f->s, "order_completed/77/big.tif", rsizes,
                                 3, got), total);
    assert_memory_equal(got, want, 32);

    /* A range across the first part boundary. */
    assert_int_equal(read_range(f->s, "order_completed/77/big.tif",
                                PART - 10, 30, 4, &part), 30);
    assert_memory_equal(part, data + PART - 10, 30);
    free(part);

    /* Exactly one and exactly two parts' worth. */
    put_in_pieces(f->s, "order_completed/77/one", data, PART, wsizes, 3);
    assert_content(f->s, "order_completed/77/one", data, PART);
    put_in_pieces(f->s, "order_completed/77/two", data, 2 * PART, wsizes, 3);
    assert_content(f->s, "order_completed/77/two", data, 2 * PART);
    free(data);
}

static void
test_range_reads(void **state)
{
    struct fixture *f = *state;
    unsigned char data[1000];
    store_reader *r = NULL;
    char *got = NULL;

    for (int i = 0; i < 1000; i++)
        data[i] = (unsigned char)(i * 7);
    assert_int_equal(store_put_bytes(f->s, "archived/r", data, 1000), PD_OK);

    assert_int_equal(read_range(f->s, "archived/r", 100, 50, 7, &got), 50);
    assert_memory_equal(got, data + 100, 50);
    free(got);
    assert_int_equal(read_range(f->s, "archived/r", 990, -1, 3, &got), 10);
    assert_memory_equal(got, data + 990, 10);
    free(got);
    assert_int_equal(read_range(f->s, "archived/r", 0, 1000, 999, &got),
                     1000);
    assert_memory_equal(got, data, 1000);
    free(got);
    assert_int_equal(read_range(f->s, "archived/r", 999, 1, 5, &got), 1);
    assert_int_equal((unsigned char)got[0], data[999]);
    free(got);

    /* Empty ranges at the end, or anywhere inside. */
    assert_int_equal(read_range(f->s, "archived/r", 1000, -1, 3, &got), 0);
    free(got);
    assert_int_equal(read_range(f->s, "archived/r", 500, 0, 3, &got), 0);
    free(got);

    /* Outside the object, or nonsense. */
    assert_int_equal(store_get(f->s, "archived/r", 1001, -1, &r), PD_EINVAL);
    assert_int_equal(store_get(f->s, "archived/r", 900, 101, &r), PD_EINVAL);
    assert_int_equal(store_get(f->s, "archived/r", 1001, 0, &r), PD_EINVAL);
    assert_int_equal(store_get(f->s, "archived/r", -1, -1, &r), PD_EINVAL);
    assert_int_equal(store_get(f->s, "archived/r", 0, -2, &r), PD_EINVAL);
    assert_null(r);
    assert_int_equal(store_get(f->s, "archived/nope", 0, -1, &r),
                     PD_ENOTFOUND);
    assert_int_equal(store_get(f->s, "archived/nope", 5, 5, &r),
                     PD_ENOTFOUND);

    /* An empty object: every empty range at 0 is fine, no other. */
    assert_int_equal(store_put_bytes(f->s, "archived/e", "", 0), PD_OK);
    assert_int_equal(read_range(f->s, "archived/e", 0, 0, 3, &got), 0);
    free(got);
    assert_int_equal(store_get(f->s, "archived/e", 1, -1, &r), PD_EINVAL);
    assert_int_equal(store_get(f->s, "archived/e", 0, 1, &r), PD_EINVAL);
}

/* ---- replacing and aborting ------------------------------------------- */

static void
test_overwrite(void **state)
{
    struct fixture *f = *state;
    const char *key = "order_completed/7/print.tif";
    unsigned char *v1 = random_bytes(MIB, 1), *v2 = random_bytes(2 * MIB, 2);
    store_writer *w = NULL;
    struct store_stat st;

    assert_int_equal(store_put_bytes(f->s, key, v1, MIB), PD_OK);
    /* Half-way through the new version, readers still see the old one. */
    assert_int_equal(store_put_begin(f->s, key, &w), PD_OK);
    assert_int_equal(store_put_write(w, v2, MIB), PD_OK);
    assert_int_equal(store_stat(f->s, key, &st), PD_OK);
    assert_int_equal(st.size, MIB);
    assert_content(f->s, key, v1, MIB);
    assert_listed(f->s, "order_completed/", &key, 1);
    assert_int_equal(store_put_write(w, v2 + MIB, MIB), PD_OK);
    assert_int_equal(store_put_commit(w), PD_OK);
    assert_content(f->s, key, v2, 2 * MIB);
    assert_listed(f->s, "", &key, 1);
    free(v1);
    free(v2);
}

static void
test_abort_leaves_nothing(void **state)
{
    struct fixture *f = *state;
    const size_t big = 2 * PART + 100;
    unsigned char *data = random_bytes(big, 3);
    store_writer *w = NULL;

    assert_int_equal(store_put_begin(f->s, "temporary/x/y/z.jpg", &w), PD_OK);
    assert_int_equal(store_put_write(w, "partial", 7), PD_OK);
    store_put_abort(w);
    assert_absent(f->s, "temporary/x/y/z.jpg");

    /* Past two parts (already sent on S3), then aborted. */
    assert_int_equal(store_put_begin(f->s, "temporary/x/big", &w), PD_OK);
    for (size_t at = 0; at < big; at += MIB)
        assert_int_equal(store_put_write(w, data + at, big - at < MIB
                                                          ? big - at
                                                          : MIB), PD_OK);
    store_put_abort(w);
    assert_absent(f->s, "temporary/x/big");
    assert_listed(f->s, "", NULL, 0);

    /* Aborting a replacement keeps the old object. */
    assert_int_equal(store_put_bytes(f->s, "temporary/keep", "old", 3),
                     PD_OK);
    assert_int_equal(store_put_begin(f->s, "temporary/keep", &w), PD_OK);
    assert_int_equal(store_put_write(w, data, PART + 1), PD_OK);
    store_put_abort(w);
    assert_content(f->s, "temporary/keep", "old", 3);
    free(data);
}

/* ---- stat, copy, delete ----------------------------------------------- */

static void
test_stat(void **state)
{
    struct fixture *f = *state;
    struct store_stat st = {0};
    int64_t before = pd_now_ms();

    assert_int_equal(store_put_bytes(f->s, "temporary/a/b", "12345", 5),
                     PD_OK);
    assert_int_equal(store_stat(f->s, "temporary/a/b", &st), PD_OK);
    assert_int_equal(st.size, 5);
    /* Some stores keep whole seconds. */
    assert_true(st.mtime_ms >= before - 3000);
    assert_true(st.mtime_ms <= pd_now_ms() + 3000);
    assert_int_equal(store_stat(f->s, "temporary/a/c", &st), PD_ENOTFOUND);
    /* A prefix of keys is not an object, nor a path through one. */
    assert_int_equal(store_stat(f->s, "temporary/a", &st), PD_ENOTFOUND);
    assert_int_equal(store_stat(f->s, "temporary/a/b/c", &st),
                     PD_ENOTFOUND);
}

static void
test_copy(void **state)
{
    struct fixture *f = *state;
    const size_t n = 3 * MIB + 17;
    unsigned char *big = random_bytes(n, 7);
    struct store_stat st;

    assert_int_equal(store_put_bytes(f->s, "temporary/s/orig", big, n),
                     PD_OK);
    assert_int_equal(store_copy(f->s, "temporary/s/orig",
                                "order_pending/1/orig"), PD_OK);
    assert_content(f->s, "order_pending/1/orig", big, n);
    assert_content(f->s, "temporary/s/orig", big, n);

    /* Copy over an existing object replaces it; onto itself, no change. */
    assert_int_equal(store_put_bytes(f->s, "archived/x", "old", 3), PD_OK);
    assert_int_equal(store_put_bytes(f->s, "temporary/y", "fresh", 5),
                     PD_OK);
    assert_int_equal(store_copy(f->s, "temporary/y", "archived/x"), PD_OK);
    assert_content(f->s, "archived/x", "fresh", 5);
    assert_int_equal(store_copy(f->s, "archived/x", "archived/x"), PD_OK);
    assert_content(f->s, "archived/x", "fresh", 5);

    /* A missing source creates nothing. */
    assert_int_equal(store_copy(f->s, "temporary/none", "archived/z"),
                     PD_ENOTFOUND);
    assert_int_equal(store_stat(f->s, "archived/z", &st), PD_ENOTFOUND);
    assert_int_equal(store_copy(f->s, "temporary/none", "temporary/none"),
                     PD_ENOTFOUND);
    free(big);
}

static void
test_delete(void **state)
{
    static const char *const left[] = {"order_pending/2024/06/b"};
    struct fixture *f = *state;

    assert_int_equal(store_put_bytes(f->s, "order_pending/2024/06/a", "a", 1),
                     PD_OK);
    assert_int_equal(store_put_bytes(f->s, "order_pending/2024/06/b", "b", 1),
                     PD_OK);
    assert_int_equal(store_delete(f->s, "order_pending/2024/06/a"), PD_OK);
    assert_absent(f->s, "order_pending/2024/06/a");
    assert_content(f->s, "order_pending/2024/06/b", "b", 1);

    /* Deleting again, or something that never was, is fine. */
    assert_int_equal(store_delete(f->s, "order_pending/2024/06/a"), PD_OK);
    assert_int_equal(store_delete(f->s, "order_pending/nothing/here"),
                     PD_OK);
    assert_int_equal(store_delete(f->s, "order_pending/2024"), PD_OK);
    assert_listed(f->s, "", left, 1);
}

/* ---- listing ---------------------------------------------------------- */

static void
test_list(void **state)
{
    static const char *const keys[] = {
        "temporary/abc/2", "temporary/abc/1", "temporary/abd",
        "temporary/ab-x",  "temporary/abc-1", "temporary/abc.1",
        "temporary/b",     "order_pending/9", "order_completed/1/x",
        "temporary/a",     "temporary/abc_1", "temporary/abcZ",
    };
    static const char *const under_ab[] = {
        "temporary/ab-x", "temporary/abc-1", "temporary/abc.1",
        "temporary/abc/1", "temporary/abc/2", "temporary/abcZ",
        "temporary/abc_1", "temporary/abd",
    };
    static const char *const under_order[] = {
        "order_completed/1/x", "order_pending/9",
    };
    static const char *const under_abc_dir[] = {
        "temporary/abc/1", "temporary/abc/2",
    };
    struct fixture *f = *state;
    struct collected c = {0};
    store_writer *w = NULL;
    const int nkeys = (int)(sizeof(keys) / sizeof(keys[0]));

    for (int i = 0; i < nkeys; i++)
        assert_int_equal(store_put_bytes(f->s, keys[i], keys[i],
                                         strlen(keys[i])), PD_OK);
    /* An open writer is not an object yet. */
    assert_int_equal(store_put_begin(f->s, "temporary/abc/3", &w), PD_OK);
    assert_int_equal(store_put_write(w, "3", 1), PD_OK);

    assert_listed(f->s, "temporary/ab", under_ab, 8);
    assert_listed(f->s, "order", under_order, 2);
    assert_listed(f->s, "temporary/abc/", under_abc_dir, 2);
    assert_listed(f->s, "temporary/zzz", NULL, 0);
    assert_listed(f->s, "nothing/at/all/", NULL, 0);

    /* Everything, in bytewise key order, with sizes and times. */
    assert_int_equal(store_list(f->s, "", collect, &c), 0);
    assert_int_equal(c.n, nkeys);
    for (int i = 1; i < c.n; i++)
        assert_true(strcmp(c.keys[i - 1], c.keys[i]) < 0);
    for (int i = 0; i < c.n; i++) {
        assert_int_equal(c.sizes[i], (int64_t)strlen(c.keys[i]));
        assert_true(c.mtimes[i] > pd_now_ms() - 600000);
    }

    /* fn stops the walk (on a later page too) and its value comes back. */
    for (int stop = 2; stop <= 5; stop += 3) {
        memset(&c, 0, sizeof(c));
        c.stop_after = stop;
        assert_int_equal(store_list(f->s, "temporary/", collect, &c), 7);
        assert_int_equal(c.n, stop);
    }

    assert_int_equal(store_list(f->s, "/temporary", collect, &c), PD_EINVAL);
    assert_int_equal(store_list(f->s, "temporary/../", collect, &c),
                     PD_EINVAL);
    assert_int_equal(store_list(f->s, "temporary//", collect, &c),
                     PD_EINVAL);
    store_put_abort(w);
}

/* ---- keys ------------------------------------------------------------- */

static void
assert_rejected(store *s, const char *key)
{
    store_writer *w = (store_writer *)1;
    store_reader *r = (store_reader *)1;
    struct store_stat st;

    assert_false(store_key_valid(key));
    assert_int_equal(store_put_bytes(s, key, "x", 1), PD_EINVAL);
    assert_int_equal(store_put_begin(s, key, &w), PD_EINVAL);
    assert_null(w);
    assert_int_equal(store_get(s, key, 0, -1, &r), PD_EINVAL);
    assert_null(r);
    assert_int_equal(store_stat(s, key, &st), PD_EINVAL);
    assert_int_equal(store_delete(s, key), PD_EINVAL);
    assert_int_equal(store_copy(s, key, "temporary/dst"), PD_EINVAL);
    assert_int_equal(store_copy(s, "temporary/good", key), PD_EINVAL);
}

/* Every kind of character a key may hold, at every place. */
static void
test_odd_keys(void **state)
{
    static const char *const odd[] = {
        "-", "_", "A", "9", "temporary/-", "temporary/_._", "a..b",
        "temporary/UPPER/lower/0123", "order_pending/x-y_z.JPG",
        "archived/2024-06-01/Photo_01..v2.tiff", "z/y/x/w/v/u/t/s/r/q",
        "order_pending/a", "order_pending/a-", "order_pending/a.",
        "order_pending/a_", "order_pending/aZ",
    };
    static const char *const bad[] = {
        "", "/abs", "a/../b", "..", "a//b", "a/", ".hidden", "a/.x",
        "a b", "a\\b", "a%2fb", "temporary/caf\xc3\xa9", "a/b\n", "a:b",
        "a*", "a+b", "a?b", "a#b", "a&b", "a<b", "a\"b",
    };
    struct fixture *f = *state;
    const int n = (int)(sizeof(odd) / sizeof(odd[0]));
    char long_key[STORE_KEY_MAX + 2];
    struct collected c = {0};

    for (int i = 0; i < n; i++) {
        assert_true(store_key_valid(odd[i]));
        assert_int_equal(store_put_bytes(f->s, odd[i], odd[i],
                                         strlen(odd[i])), PD_OK);
    }
    assert_int_equal(store_list(f->s, "", collect, &c), 0);
    assert_int_equal(c.n, n);
    for (int i = 1; i < c.n; i++)
        assert_true(strcmp(c.keys[i - 1], c.keys[i]) < 0);
    for (int i = 0; i < n; i++) {
        assert_content(f->s, odd[i], odd[i], strlen(odd[i]));
        assert_int_equal(store_copy(f->s, odd[i], "temporary/copied"), PD_OK);
        assert_content(f->s, "temporary/copied", odd[i], strlen(odd[i]));
        assert_int_equal(store_delete(f->s, odd[i]), PD_OK);
        assert_absent(f->s, odd[i]);
    }

    /* 512 bytes is the limit (in segments a file name can hold). */
    memset(long_key, 'k', sizeof(long_key));
    for (int i = 100; i < STORE_KEY_MAX; i += 101)
        long_key[i] = '/';
    long_key[STORE_KEY_MAX] = '\0';
    assert_int_equal(store_put_bytes(f->s, long_key, "L", 1), PD_OK);
    assert_content(f->s, long_key, "L", 1);
    assert_listed(f->s, "kkk", (const char *const[]){long_key}, 1);
    assert_int_equal(store_delete(f->s, long_key), PD_OK);
    long_key[STORE_KEY_MAX] = 'k';
    long_key[STORE_KEY_MAX + 1] = '\0';

    assert_int_equal(store_put_bytes(f->s, "temporary/good", "g", 1), PD_OK);
    assert_rejected(f->s, long_key);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_rejected(f->s, bad[i]);
    assert_listed(f->s, "", (const char *const[]){"temporary/copied",
                                                  "temporary/good"}, 2);
}

/* ---- failures the S3 run injects, plain traffic elsewhere ------------- */

/*
 * The S3 test's server answers the first request for each key under
 * temporary/flaky/ with 503, and cuts the first download of each key
 * under temporary/cut-once/ part-way: the store must retry and resume.
 */
static void
test_flaky_and_cut(void **state)
{
    static const size_t rsizes[] = {65536};
    struct fixture *f = *state;
    const size_t n = 3 * MIB + 5;
    unsigned char *data = random_bytes(n, 11);
    unsigned char want[32], got[32];
    struct store_stat st;

    sha256(data, n, want);
    assert_int_equal(store_put_bytes(f->s, "temporary/flaky/a", "abc", 3),
                     PD_OK);
    assert_int_equal(store_stat(f->s, "temporary/flaky/a", &st), PD_OK);
    assert_int_equal(store_copy(f->s, "temporary/flaky/a",
                                "temporary/flaky/b"), PD_OK);
    assert_content(f->s, "temporary/flaky/b", "abc", 3);
    assert_int_equal(store_delete(f->s, "temporary/flaky/a"), PD_OK);

    assert_int_equal(store_put_bytes(f->s, "temporary/cut-once/big", data, n),
                     PD_OK);
    assert_int_equal(hash_object(f->s, "temporary/cut-once/big", rsizes, 1,
                                 got), n);
    assert_memory_equal(got, want, 32);
    free(data);
}

/* ---- threads ---------------------------------------------------------- */

struct worker {
    store *s;
    int id;
    int failures;
};

static void *
churn(void *arg)
{
    struct worker *wk = arg;
    char key[64], body[64];
    struct store_stat st;

    for (int i = 0; i < 40; i++) {
        snprintf(key, sizeof(key), "temporary/shared/t%d-%d", wk->id, i);
        snprintf(body, sizeof(body), "%d:%d", wk->id, i);
        if (store_put_bytes(wk->s, key, body, strlen(body)) != PD_OK ||
            store_stat(wk->s, key, &st) != PD_OK ||
            st.size != (int64_t)strlen(body) ||
            store_delete(wk->s, key) != PD_OK)
            wk->failures++;
    }
    return NULL;
}

static void
test_threads(void **state)
{
    struct fixture *f = *state;
    pthread_t t[4];
    struct worker wk[4];

    for (int i = 0; i < 4; i++) {
        wk[i] = (struct worker){f->s, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, churn, &wk[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        assert_int_equal(pthread_join(t[i], NULL), 0);
        assert_int_equal(wk[i].failures, 0);
    }
    assert_listed(f->s, "", NULL, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_put_get_small),
        T(test_put_get_streamed),
        T(test_multipart_sized),
        T(test_range_reads),
        T(test_overwrite),
        T(test_abort_leaves_nothing),
        T(test_stat),
        T(test_copy),
        T(test_delete),
        T(test_list),
        T(test_odd_keys),
        T(test_flaky_and_cut),
        T(test_threads),
#undef T
    };

    return cmocka_run_group_tests_name("store_suite", tests, NULL, NULL);
}
