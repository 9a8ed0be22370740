/*
 * test_store.c — the blob store on its local-folder backend: round trips,
 * ranges, atomic replacement, copy, delete, list, key checks, and what a
 * crashed or failing writer leaves behind. Each test gets a fresh folder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/util.h"
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1024 * 1024)

struct fixture {
    char dir[256];       /* the temporary folder of this test */
    char root[PATH_MAX]; /* the store's folder inside it */
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

static void
open_store(struct fixture *f)
{
    char url[PATH_MAX + 8];
    char err[256];

    snprintf(url, sizeof(url), "file:%s", f->root);
    assert_int_equal(store_open(url, &f->s, err, sizeof(err)), PD_OK);
}

static int
setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    assert_non_null(f);
    snprintf(f->dir, sizeof(f->dir), "/tmp/pd-store-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    /* Two missing levels: the store must create its parents. */
    snprintf(f->root, sizeof(f->root), "%s/data/objects", f->dir);
    open_store(f);
    *state = f;
    return 0;
}

static int
teardown(void **state)
{
    struct fixture *f = *state;

    store_close(f->s);
    chmod(f->root, 0750);
    nftw(f->dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

/* What lies on disk under the store's folder. */
struct census {
    int files; /* regular files that are not temporary */
    int temps; /* ".tmp-" files */
    int dirs;  /* folders below the root */
};

static struct census census_now;

static int
census_entry(const char *path, const struct stat *st, int flag,
             struct FTW *f)
{
    (void)st;
    if (f->level == 0)
        return 0;
    if (flag == FTW_D)
        census_now.dirs++;
    else if (strncmp(path + f->base, ".tmp-", 5) == 0)
        census_now.temps++;
    else
        census_now.files++;
    return 0;
}

static struct census
take_census(const struct fixture *f)
{
    memset(&census_now, 0, sizeof(census_now));
    assert_int_equal(nftw(f->root, census_entry, 16, FTW_PHYS), 0);
    return census_now;
}

/* Reads a whole range into a malloc'd buffer; returns its length. */
static size_t
read_range(store *s, const char *key, int64_t off, int64_t len,
           size_t chunk, char **out)
{
    store_reader *r = NULL;
    pd_buf b;
    char tmp[70000];
    ssize_t n;

    assert_true(chunk <= sizeof(tmp));
    assert_int_equal(store_get(s, key, off, len, &r), PD_OK);
    buf_init(&b);
    while ((n = store_read(r, tmp, chunk)) > 0)
        buf_append(&b, tmp, (size_t)n);
    assert_int_equal(n, 0);
    store_reader_close(r);
    assert_false(b.failed);
    *out = b.data;
    return b.len;
}

static size_t
read_all(store *s, const char *key, char **out)
{
    return read_range(s, key, 0, -1, 4096, out);
}

static void
assert_content(store *s, const char *key, const char *want)
{
    char *got = NULL;
    size_t n = read_all(s, key, &got);

    assert_int_equal(n, strlen(want));
    assert_memory_equal(got, want, n);
    free(got);
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

static void
sha256(const void *data, size_t n, unsigned char out[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned int len = 0;

    assert_non_null(ctx);
    assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
    assert_int_equal(EVP_DigestUpdate(ctx, data, n), 1);
    assert_int_equal(EVP_DigestFinal_ex(ctx, out, &len), 1);
    assert_int_equal(len, 32);
    EVP_MD_CTX_free(ctx);
}

/* Collects listed keys. */
struct collected {
    char keys[32][STORE_KEY_MAX + 1];
    int64_t sizes[32];
    int n;
    int stop_after; /* 0: never stop */
};

static int
collect(void *ctx, const char *key, const struct store_stat *st)
{
    struct collected *c = ctx;

    if (c->n >= 32)
        return -100;
    snprintf(c->keys[c->n], sizeof(c->keys[0]), "%s", key);
    c->sizes[c->n] = st->size;
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

/* ---- round trips ------------------------------------------------------ */

static void
test_put_get_small(void **state)
{
    struct fixture *f = *state;
    struct store_stat st;
    char path[PATH_MAX + 64];
    struct stat fst;

    assert_int_equal(store_put_bytes(f->s, "temporary/s1/orig.jpg",
                                     "hello, pet", 10), PD_OK);
    assert_content(f->s, "temporary/s1/orig.jpg", "hello, pet");
    assert_int_equal(store_stat(f->s, "temporary/s1/orig.jpg", &st), PD_OK);
    assert_int_equal(st.size, 10);

    /* An empty object is an object. */
    assert_int_equal(store_put_bytes(f->s, "temporary/empty", "", 0), PD_OK);
    assert_int_equal(store_stat(f->s, "temporary/empty", &st), PD_OK);
    assert_int_equal(st.size, 0);
    assert_content(f->s, "temporary/empty", "");

    /* The folder and the files get the documented modes. */
    assert_int_equal(stat(f->root, &fst), 0);
    assert_int_equal(fst.st_mode & 0777, 0750);
    snprintf(path, sizeof(path), "%s/temporary/s1/orig.jpg", f->root);
    assert_int_equal(stat(path, &fst), 0);
    assert_int_equal(fst.st_mode & 0777, 0640);
}

static void
test_put_get_streamed(void **state)
{
    static const size_t wsizes[] = {1, 7, 4093, 65537, 333333};
    static const size_t rsizes[] = {3001, 1, 65539};
    struct fixture *f = *state;
    const size_t total = 5 * MIB;
    unsigned char *data = malloc(total);
    unsigned char want[32], got[32];
    store_writer *w = NULL;
    store_reader *r = NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char buf[65539];
    size_t done = 0, nread = 0;
    unsigned int len = 0;
    ssize_t n;

    assert_non_null(data);
    assert_non_null(ctx);
    fill_random(data, total, 42);
    sha256(data, total, want);

    assert_int_equal(store_put_begin(f->s, "order_pending/1042/a.png", &w),
                     PD_OK);
    for (int i = 0; done < total; i++) {
        size_t k = wsizes[i % 5];

        if (k > total - done)
            k = total - done;
        assert_int_equal(store_put_write(w, data + done, k), PD_OK);
        done += k;
    }
    assert_int_equal(store_put_commit(w), PD_OK);

    assert_int_equal(store_get(f->s, "order_pending/1042/a.png", 0, -1, &r),
                     PD_OK);
    assert_int_equal(EVP_DigestInit_ex(ctx, EVP_sha256(), NULL), 1);
    for (int i = 0; (n = store_read(r, buf, rsizes[i % 3])) > 0; i++) {
        assert_int_equal(EVP_DigestUpdate(ctx, buf, (size_t)n), 1);
        nread += (size_t)n;
    }
    assert_int_equal(n, 0);
    assert_int_equal(EVP_DigestFinal_ex(ctx, got, &len), 1);
    store_reader_close(r);
    EVP_MD_CTX_free(ctx);
    assert_int_equal(nread, total);
    assert_memory_equal(got, want, 32);
    free(data);
}

static void
test_range_reads(void **state)
{
    struct fixture *f = *state;
    unsigned char data[1000];
    store_reader *r = NULL;
    char *got = NULL;
    char small[20];
    int fd = -1;
    int64_t off = 0, len = 0;

    for (int i = 0; i < 1000; i++)
        data[i] = (unsigned char)(i * 7);
    assert_int_equal(store_put_bytes(f->s, "archived/r", data, 1000), PD_OK);

    assert_int_equal(read_range(f->s, "archived/r", 100, 50, 7, &got), 50);
    assert_memory_equal(got, data + 100, 50);
    free(got);
    assert_int_equal(read_range(f->s, "archived/r", 990, -1, 3, &got), 10);
    assert_memory_equal(got, data + 990, 10);
    free(got);
    assert_int_equal(read_range(f->s, "archived/r", 1000, -1, 3, &got), 0);
    free(got);
    assert_int_equal(read_range(f->s, "archived/r", 0, 1000, 999, &got),
                     1000);
    free(got);

    /* Outside the object, or nonsense. */
    assert_int_equal(store_get(f->s, "archived/r", 1001, -1, &r), PD_EINVAL);
    assert_int_equal(store_get(f->s, "archived/r", 900, 101, &r), PD_EINVAL);
    assert_int_equal(store_get(f->s, "archived/r", -1, -1, &r), PD_EINVAL);
    assert_int_equal(store_get(f->s, "archived/r", 0, -2, &r), PD_EINVAL);
    assert_int_equal(store_get(f->s, "archived/nope", 0, -1, &r),
                     PD_ENOTFOUND);

    /* The fd view follows what has been read. */
    assert_int_equal(store_get(f->s, "archived/r", 100, 50, &r), PD_OK);
    assert_int_equal(store_reader_fd(r, &fd, &off, &len), PD_OK);
    assert_int_equal(off, 100);
    assert_int_equal(len, 50);
    assert_int_equal(store_read(r, small, 20), 20);
    assert_int_equal(store_reader_fd(r, &fd, &off, &len), PD_OK);
    assert_int_equal(off, 120);
    assert_int_equal(len, 30);
    assert_int_equal(pread(fd, small, 20, off), 20);
    assert_memory_equal(small, data + 120, 20);
    store_reader_close(r);
}

/* ---- atomicity -------------------------------------------------------- */

static void
test_overwrite_atomic(void **state)
{
    struct fixture *f = *state;
    const char *key = "order_completed/7/print.tif";
    char *v1 = malloc(MIB), *v2 = malloc(2 * MIB), *got = NULL;
    store_reader *old = NULL;
    store_writer *w = NULL;
    struct store_stat st;
    struct census c;
    char buf[4096];
    size_t n = 0;
    ssize_t k;

    assert_non_null(v1);
    assert_non_null(v2);
    memset(v1, 'A', MIB);
    memset(v2, 'B', 2 * MIB);
    assert_int_equal(store_put_bytes(f->s, key, v1, MIB), PD_OK);
    assert_int_equal(store_get(f->s, key, 0, -1, &old), PD_OK);

    /* Half-way through the new version, readers still see the old one. */
    assert_int_equal(store_put_begin(f->s, key, &w), PD_OK);
    assert_int_equal(store_put_write(w, v2, MIB), PD_OK);
    assert_int_equal(store_stat(f->s, key, &st), PD_OK);
    assert_int_equal(st.size, MIB);
    assert_int_equal(read_all(f->s, key, &got), MIB);
    assert_memory_equal(got, v1, MIB);
    free(got);
    assert_listed(f->s, "order_completed/", &key, 1);

    assert_int_equal(store_put_write(w, v2 + MIB, MIB), PD_OK);
    assert_int_equal(store_put_commit(w), PD_OK);

    /* A reader opened before the commit finishes on the old version. */
    while ((k = store_read(old, buf, sizeof(buf))) > 0) {
        assert_memory_equal(buf, v1, (size_t)k);
        n += (size_t)k;
    }
    assert_int_equal(k, 0);
    assert_int_equal(n, MIB);
    store_reader_close(old);

    assert_int_equal(read_all(f->s, key, &got), 2 * MIB);
    assert_memory_equal(got, v2, 2 * MIB);
    free(got);
    c = take_census(f);
    assert_int_equal(c.files, 1);
    assert_int_equal(c.temps, 0);
    free(v1);
    free(v2);
}

static void
test_abort_leaves_nothing(void **state)
{
    struct fixture *f = *state;
    store_writer *w = NULL;
    struct store_stat st;
    struct census c;

    assert_int_equal(store_put_begin(f->s, "temporary/x/y/z.jpg", &w), PD_OK);
    assert_int_equal(store_put_write(w, "partial", 7), PD_OK);
    c = take_census(f);
    assert_int_equal(c.temps, 1);
    store_put_abort(w);
    assert_int_equal(store_stat(f->s, "temporary/x/y/z.jpg", &st),
                     PD_ENOTFOUND);
    c = take_census(f);
    assert_int_equal(c.files + c.temps + c.dirs, 0);

    /* Aborting a replacement keeps the old object. */
    assert_int_equal(store_put_bytes(f->s, "temporary/keep", "old", 3), PD_OK);
    assert_int_equal(store_put_begin(f->s, "temporary/keep", &w), PD_OK);
    assert_int_equal(store_put_write(w, "newer", 5), PD_OK);
    store_put_abort(w);
    assert_content(f->s, "temporary/keep", "old");
    c = take_census(f);
    assert_int_equal(c.files, 1);
    assert_int_equal(c.temps, 0);
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
    assert_true(st.mtime_ms >= before - 2000);
    assert_true(st.mtime_ms <= pd_now_ms() + 2000);
    assert_int_equal(store_stat(f->s, "temporary/a/c", &st), PD_ENOTFOUND);
    /* A folder is not an object, nor is a path through an object. */
    assert_int_equal(store_stat(f->s, "temporary/a", &st), PD_ENOTFOUND);
    assert_int_equal(store_stat(f->s, "temporary/a/b/c", &st), PD_ENOTFOUND);
    store_reader *r = NULL;
    assert_int_equal(store_get(f->s, "temporary/a", 0, -1, &r),
                     PD_ENOTFOUND);
}

static void
test_copy(void **state)
{
    struct fixture *f = *state;
    struct store_stat st;
    struct census c;
    char *big = malloc(3 * MIB + 17), *got = NULL;

    assert_non_null(big);
    fill_random((unsigned char *)big, 3 * MIB + 17, 7);
    assert_int_equal(store_put_bytes(f->s, "temporary/s/orig", big,
                                     3 * MIB + 17), PD_OK);
    assert_int_equal(store_copy(f->s, "temporary/s/orig",
                                "order_pending/1/orig"), PD_OK);
    assert_int_equal(read_all(f->s, "order_pending/1/orig", &got),
                     3 * MIB + 17);
    assert_memory_equal(got, big, 3 * MIB + 17);
    free(got);
    assert_int_equal(read_all(f->s, "temporary/s/orig", &got), 3 * MIB + 17);
    free(got);

    /* Copy over an existing object replaces it. */
    assert_int_equal(store_put_bytes(f->s, "archived/x", "old", 3), PD_OK);
    assert_int_equal(store_put_bytes(f->s, "temporary/y", "fresh", 5), PD_OK);
    assert_int_equal(store_copy(f->s, "temporary/y", "archived/x"), PD_OK);
    assert_content(f->s, "archived/x", "fresh");

    /* A missing source creates nothing. */
    assert_int_equal(store_copy(f->s, "temporary/none", "archived/z"),
                     PD_ENOTFOUND);
    assert_int_equal(store_stat(f->s, "archived/z", &st), PD_ENOTFOUND);
    c = take_census(f);
    assert_int_equal(c.files, 4);
    assert_int_equal(c.temps, 0);
    free(big);
}

static bool
exists(const struct fixture *f, const char *rel)
{
    char path[PATH_MAX + 64];
    struct stat st;

    snprintf(path, sizeof(path), "%s/%s", f->root, rel);
    return lstat(path, &st) == 0;
}

static void
test_delete(void **state)
{
    struct fixture *f = *state;
    struct store_stat st;

    assert_int_equal(store_put_bytes(f->s, "order_pending/2024/06/a", "a", 1),
                     PD_OK);
    assert_int_equal(store_put_bytes(f->s, "order_pending/2024/06/b", "b", 1),
                     PD_OK);
    assert_int_equal(store_delete(f->s, "order_pending/2024/06/a"), PD_OK);
    assert_int_equal(store_stat(f->s, "order_pending/2024/06/a", &st),
                     PD_ENOTFOUND);
    assert_content(f->s, "order_pending/2024/06/b", "b");
    assert_true(exists(f, "order_pending/2024/06"));

    /* Deleting again, or something that never was, is fine. */
    assert_int_equal(store_delete(f->s, "order_pending/2024/06/a"), PD_OK);
    assert_int_equal(store_delete(f->s, "order_pending/nothing/here"), PD_OK);
    assert_int_equal(store_delete(f->s, "order_pending/2024"), PD_OK);
    assert_true(exists(f, "order_pending/2024/06/b"));

    /* The last object takes its empty folders with it, not the root. */
    assert_int_equal(store_delete(f->s, "order_pending/2024/06/b"), PD_OK);
    assert_false(exists(f, "order_pending"));
    assert_true(exists(f, ""));
    assert_int_equal(take_census(f).dirs, 0);
}

/* ---- list ------------------------------------------------------------- */

static void
test_list(void **state)
{
    static const char *const keys[] = {
        "temporary/abc/2", "temporary/abc/1", "temporary/abd",
        "temporary/ab-x",  "temporary/abc-1", "temporary/abc.1",
        "temporary/b",     "order_pending/9", "order_completed/1/x",
        "temporary/a",
    };
    static const char *const under_ab[] = {
        "temporary/ab-x", "temporary/abc-1", "temporary/abc.1",
        "temporary/abc/1", "temporary/abc/2", "temporary/abd",
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
    char path[PATH_MAX + 64];
    int fd;

    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
        assert_int_equal(store_put_bytes(f->s, keys[i], keys[i],
                                         strlen(keys[i])), PD_OK);
    /* Temporary files: an open writer and a crashed writer's leftover. */
    assert_int_equal(store_put_begin(f->s, "temporary/abc/3", &w), PD_OK);
    snprintf(path, sizeof(path), "%s/temporary/.tmp-0123456789abcdef",
             f->root);
    fd = open(path, O_WRONLY | O_CREAT | O_EXCL, 0640);
    assert_true(fd >= 0);
    close(fd);

    assert_listed(f->s, "temporary/ab", under_ab, 6);
    assert_listed(f->s, "order", under_order, 2);
    assert_listed(f->s, "temporary/abc/", under_abc_dir, 2);
    assert_listed(f->s, "temporary/zzz", NULL, 0);
    assert_listed(f->s, "nothing/at/all/", NULL, 0);

    /* Everything, in bytewise key order, with sizes. */
    assert_int_equal(store_list(f->s, "", collect, &c), 0);
    assert_int_equal(c.n, 10);
    for (int i = 1; i < c.n; i++)
        assert_true(strcmp(c.keys[i - 1], c.keys[i]) < 0);
    for (int i = 0; i < c.n; i++)
        assert_int_equal(c.sizes[i], (int64_t)strlen(c.keys[i]));

    /* fn stops the walk and its value comes back. */
    memset(&c, 0, sizeof(c));
    c.stop_after = 2;
    assert_int_equal(store_list(f->s, "temporary/", collect, &c), 7);
    assert_int_equal(c.n, 2);

    assert_int_equal(store_list(f->s, "/temporary", collect, &c), PD_EINVAL);
    assert_int_equal(store_list(f->s, "temporary/../", collect, &c),
                     PD_EINVAL);
    assert_int_equal(store_list(f->s, "temporary//", collect, &c), PD_EINVAL);
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

static void
test_rejected_keys(void **state)
{
    static const char *const bad[] = {
        "", "/abs", "a/../b", "..", "a//b", "a/", ".hidden", "a/.x",
        "a b", "a\\b", "a%2fb", "temporary/caf\xc3\xa9", ".", "a/.",
        "temporary/.tmp-00", "a/b\n", "a:b", "a*",
    };
    struct fixture *f = *state;
    char long_key[STORE_KEY_MAX + 2];
    struct census c;

    assert_int_equal(store_put_bytes(f->s, "temporary/good", "g", 1), PD_OK);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        assert_rejected(f->s, bad[i]);
    assert_false(store_key_valid(NULL));

    /* 512 bytes is the limit (in segments a file name can hold). */
    memset(long_key, 'k', sizeof(long_key));
    for (int i = 100; i < STORE_KEY_MAX; i += 101)
        long_key[i] = '/';
    long_key[STORE_KEY_MAX] = '\0';
    assert_true(store_key_valid(long_key));
    assert_int_equal(store_put_bytes(f->s, long_key, "L", 1), PD_OK);
    assert_content(f->s, long_key, "L");
    assert_int_equal(store_delete(f->s, long_key), PD_OK);
    long_key[STORE_KEY_MAX] = 'k';
    long_key[STORE_KEY_MAX + 1] = '\0';
    assert_rejected(f->s, long_key);

    c = take_census(f);
    assert_int_equal(c.files, 1);
    assert_int_equal(c.temps, 0);
    assert_int_equal(c.dirs, 1);
    assert_true(store_key_valid("order_pending/1042/orig-01.JPG"));
    assert_true(store_key_valid("a"));
}

static void
test_segment_too_long_for_folder(void **state)
{
    struct fixture *f = *state;
    char key[320];
    struct store_stat st;

    snprintf(key, sizeof(key), "temporary/");
    memset(key + 10, 'n', 300);
    key[310] = '\0';
    assert_true(store_key_valid(key));
    assert_int_equal(store_put_bytes(f->s, "temporary/short", "s", 1), PD_OK);
    assert_int_equal(store_put_bytes(f->s, key, "x", 1), PD_EINVAL);
    assert_int_equal(store_stat(f->s, key, &st), PD_ENOTFOUND);
    assert_int_equal(store_delete(f->s, key), PD_OK);
    assert_int_equal(take_census(f).files, 1);
}

static void
test_tiers(void **state)
{
    (void)state;
    assert_string_equal(store_tier_name(TIER_TEMPORARY), "temporary");
    assert_string_equal(store_tier_name(TIER_ORDER_PENDING), "order_pending");
    assert_string_equal(store_tier_name(TIER_ORDER_COMPLETED),
                        "order_completed");
    assert_string_equal(store_tier_name(TIER_ARCHIVED), "archived");
    assert_null(store_tier_name((enum store_tier)STORE_TIER_COUNT));
    assert_int_equal(store_tier_of_key("temporary/s/1"), TIER_TEMPORARY);
    assert_int_equal(store_tier_of_key("order_pending/1"), TIER_ORDER_PENDING);
    assert_int_equal(store_tier_of_key("order_completed/1"),
                     TIER_ORDER_COMPLETED);
    assert_int_equal(store_tier_of_key("archived/1"), TIER_ARCHIVED);
    assert_int_equal(store_tier_of_key("archive/1"), -1);
    assert_int_equal(store_tier_of_key("order_pendingx/1"), -1);
    assert_int_equal(store_tier_of_key("order"), -1);
    assert_int_equal(store_tier_of_key(""), -1);
}

/* ---- crashes and failures --------------------------------------------- */

/* Child: begins a put, writes half of 8 MiB, tells the parent, waits. */
static void
crashing_writer(store *s, int ready_fd)
{
    char *chunk = malloc(64 * 1024);
    store_writer *w = NULL;

    if (chunk == NULL || store_put_begin(s, "temporary/crash/big", &w) != 0)
        _exit(2);
    memset(chunk, 'c', 64 * 1024);
    for (int i = 0; i < 64; i++)
        if (store_put_write(w, chunk, 64 * 1024) != 0)
            _exit(3);
    if (write(ready_fd, "r", 1) != 1)
        _exit(4);
    for (;;)
        pause();
}

/* Finds the one ".tmp-" file in folder; returns its size. */
static int64_t
find_temp(const char *folder, char *path, size_t pathlen)
{
    DIR *d = opendir(folder);
    struct dirent *de;
    struct stat st;
    int found = 0;

    assert_non_null(d);
    while ((de = readdir(d)) != NULL) {
        if (strncmp(de->d_name, ".tmp-", 5) != 0)
            continue;
        snprintf(path, pathlen, "%s/%s", folder, de->d_name);
        found++;
    }
    closedir(d);
    assert_int_equal(found, 1);
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

static void
test_crashed_writer(void **state)
{
    struct fixture *f = *state;
    char folder[PATH_MAX + 32], tmp[PATH_MAX + 320];
    struct timespec old[2];
    struct store_stat st;
    store_reader *r = NULL;
    int pipefd[2], status;
    char c;
    pid_t pid;

    assert_int_equal(pipe(pipefd), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(pipefd[0]);
        crashing_writer(f->s, pipefd[1]);
    }
    close(pipefd[1]);
    assert_int_equal(read(pipefd[0], &c, 1), 1);
    close(pipefd[0]);
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);

    assert_int_equal(store_stat(f->s, "temporary/crash/big", &st),
                     PD_ENOTFOUND);
    assert_int_equal(store_get(f->s, "temporary/crash/big", 0, -1, &r),
                     PD_ENOTFOUND);
    assert_listed(f->s, "", NULL, 0);

    /* The half-written file is there; a fresh one survives a reopen. */
    snprintf(folder, sizeof(folder), "%s/temporary/crash", f->root);
    assert_int_equal(find_temp(folder, tmp, sizeof(tmp)), 4 * MIB);
    store_close(f->s);
    open_store(f);
    assert_int_equal(take_census(f).temps, 1);

    /* Two hours old, it is a crashed writer's leftover: removed. */
    old[0].tv_sec = old[1].tv_sec = time(NULL) - 2 * 3600;
    old[0].tv_nsec = old[1].tv_nsec = 0;
    assert_int_equal(utimensat(AT_FDCWD, tmp, old, 0), 0);
    store_close(f->s);
    open_store(f);
    assert_int_equal(take_census(f).temps, 0);
    assert_listed(f->s, "", NULL, 0);
}

static void
test_put_fails_cleanly(void **state)
{
    static const char *const only[] = {"temporary/f"};
    struct fixture *f = *state;
    store_writer *w = NULL;
    struct store_stat st;
    struct census c;

    /* A key whose folder would have to be an existing object. */
    assert_int_equal(store_put_bytes(f->s, "temporary/f", "file", 4), PD_OK);
    assert_int_equal(store_put_bytes(f->s, "temporary/f/x", "y", 1),
                     PD_ECONFLICT);
    assert_int_equal(store_put_begin(f->s, "temporary/f/x/deeper", &w),
                     PD_ECONFLICT);
    assert_null(w);
    /* A key that names an existing folder. */
    assert_int_equal(store_put_bytes(f->s, "temporary", "y", 1),
                     PD_ECONFLICT);
    assert_int_equal(store_copy(f->s, "temporary/f", "temporary/f/c"),
                     PD_ECONFLICT);
    assert_int_equal(store_stat(f->s, "temporary/f/x", &st), PD_ENOTFOUND);
    assert_listed(f->s, "", only, 1);
    assert_content(f->s, "temporary/f", "file");
    c = take_census(f);
    assert_int_equal(c.files, 1);
    assert_int_equal(c.temps, 0);

    /* A read-only folder (root ignores permissions, so not as root). */
    if (geteuid() != 0) {
        assert_int_equal(chmod(f->root, 0500), 0);
        assert_int_equal(store_put_bytes(f->s, "archived/ro", "z", 1),
                         PD_EIO);
        assert_int_equal(chmod(f->root, 0750), 0);
        assert_int_equal(store_stat(f->s, "archived/ro", &st), PD_ENOTFOUND);
    }
}

/*
 * Child: a write fails half-way (file size limit, the stand-in for a
 * full disk); the put must report it and leave nothing, even when the
 * disk has room again for the writes after the failed one.
 */
static int
failing_writer(store *s)
{
    struct rlimit rl;
    char *chunk = calloc(1, 2 * MIB);
    store_writer *w = NULL;
    int rc = 0;

    signal(SIGXFSZ, SIG_IGN);
    if (chunk == NULL || getrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 10;
    rl.rlim_cur = MIB;
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 10;
    if (store_put_begin(s, "temporary/full/disk", &w) != PD_OK)
        return 11;
    for (int i = 0; i < 8 && rc == 0; i++)
        rc = store_put_write(w, chunk, 256 * 1024);
    if (rc != PD_EIO)
        return 12;
    rl.rlim_cur = rl.rlim_max;
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 16;
    if (store_put_write(w, chunk, 1) != PD_EIO)
        return 13;
    rl.rlim_cur = MIB;
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
        return 17;
    if (store_put_commit(w) != PD_EIO)
        return 14;
    if (store_put_bytes(s, "temporary/full/bytes", chunk, 2 * MIB) != PD_EIO)
        return 15;
    free(chunk);
    return 0;
}

static void
test_write_error(void **state)
{
    struct fixture *f = *state;
    struct store_stat st;
    int status;
    pid_t pid = fork();

    assert_true(pid >= 0);
    if (pid == 0)
        _exit(failing_writer(f->s));
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    assert_int_equal(store_stat(f->s, "temporary/full/disk", &st),
                     PD_ENOTFOUND);
    struct census c = take_census(f);
    assert_int_equal(c.files + c.temps + c.dirs, 0);
}

/* ---- open, ping, threads ---------------------------------------------- */

static void
test_open_and_ping(void **state)
{
    struct fixture *f = *state;
    char err[512], moved[PATH_MAX + 16];
    store *s = NULL;

    assert_true(store_url_valid("file:data/objects"));
    assert_false(store_url_valid("file:"));
    assert_false(store_url_valid("ftp://x"));
    assert_false(store_url_valid(NULL));
    assert_int_equal(store_open("nope:x", &s, err, sizeof(err)), PD_EINVAL);
    assert_null(s);
    assert_true(err[0] != '\0');

    assert_int_equal(store_ping(f->s, err, sizeof(err)), PD_OK);
    assert_int_equal(take_census(f).temps, 0);

    /* The folder went away: ping says so, naming it. */
    snprintf(moved, sizeof(moved), "%s/moved", f->dir);
    assert_int_equal(rename(f->root, moved), 0);
    assert_true(store_ping(f->s, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, f->root));
    assert_int_equal(rename(moved, f->root), 0);
    assert_int_equal(store_ping(f->s, err, sizeof(err)), PD_OK);
}

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

    for (int i = 0; i < 200; i++) {
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

/* Puts and deletes race in one folder: pruning must not break a put. */
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
    struct census c = take_census(f);
    assert_int_equal(c.files + c.temps + c.dirs, 0);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
        T(test_put_get_small),
        T(test_put_get_streamed),
        T(test_range_reads),
        T(test_overwrite_atomic),
        T(test_abort_leaves_nothing),
        T(test_stat),
        T(test_copy),
        T(test_delete),
        T(test_list),
        T(test_rejected_keys),
        T(test_segment_too_long_for_folder),
        T(test_tiers),
        T(test_crashed_writer),
        T(test_put_fails_cleanly),
        T(test_write_error),
        T(test_open_and_ping),
        T(test_threads),
#undef T
    };

    umask(022);
    return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
