/*
 * store_file.c — the local-folder backend ("file:DIR"). An object is a
 * plain file under DIR named by its key. A put writes a ".tmp-" file in
 * the destination folder and renames it into place after fsync, so a
 * reader never sees half an object. Symbolic links are never objects.
 */
#include "store/store_internal.h"

#include "common/err.h"
#include "common/util.h"
#include "obs/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define TMP_PREFIX ".tmp-"
#define TMP_NAME_MAX 32          /* ".tmp-" + 16 hex digits + NUL fits */
#define STALE_TMP_MS (60 * 60 * 1000)
#define DIR_MODE 0750
#define FILE_MODE 0640
#define ROOT_PATH_MAX 4096
#define CREATE_ATTEMPTS 8        /* against a concurrent prune of a folder */
#define COPY_CHUNK (1 << 20)
/* Room for a relative path: a key's folders plus a temporary name. */
#define REL_PATH_MAX (STORE_KEY_MAX + TMP_NAME_MAX + 2)

struct fstore {
    struct store base;
    int root_fd;
    char *root; /* absolute path, for messages and ping */
};

struct fwriter {
    struct store_writer base;
    struct fstore *fs;
    int dir_fd;
    int fd;
    int err; /* first write error; commit returns it */
    char tmp[TMP_NAME_MAX];
    char key[STORE_KEY_MAX + 1];
};

struct freader {
    struct store_reader base;
    int fd;
    int64_t pos;
    int64_t end;
    char key[STORE_KEY_MAX + 1];
};

/* A folder entry; a folder's name carries a trailing '/'. */
struct entry {
    char *name;
    struct store_stat st;
};

struct entries {
    struct entry *v;
    size_t n;
    size_t cap;
};

static const struct store_ops file_ops;

static int
io_error(const char *what, const char *key, int errnum)
{
    if (errnum == ENOMEM)
        return PD_ENOMEM;
    log_error("store: %s %s: %s", what, key, strerror(errnum));
    return PD_EIO;
}

/* For lookups: a missing file or folder means no such object. */
static int
lookup_error(const char *what, const char *key, int errnum)
{
    if (errnum == ENOENT || errnum == ENOTDIR || errnum == ELOOP ||
        errnum == ENAMETOOLONG)
        return PD_ENOTFOUND;
    return io_error(what, key, errnum);
}

static const char *
base_name(const char *key)
{
    const char *slash = strrchr(key, '/');

    return slash ? slash + 1 : key;
}

/* Opens the folder that holds key (no creation). errno on failure. */
static int
open_parent(struct fstore *fs, const char *key)
{
    char dir[STORE_KEY_MAX + 1];
    size_t n = (size_t)(base_name(key) - key);

    if (n == 0)
        return openat(fs->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    memcpy(dir, key, n - 1);
    dir[n - 1] = '\0';
    return openat(fs->root_fd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int64_t
stat_mtime_ms(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

/* ---- writing ---------------------------------------------------------- */

/*
 * Opens the folder that will hold key, creating missing folders and
 * fsyncing each new one into its parent. 0 or an errno value.
 */
static int
make_parents(struct fstore *fs, const char *key, int *out_fd)
{
    char seg[STORE_KEY_MAX + 1];
    const char *p = key;
    const char *slash;
    int fd = openat(fs->root_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int e;

    if (fd < 0)
        return errno;
    while ((slash = strchr(p, '/')) != NULL) {
        size_t n = (size_t)(slash - p);
        int next;

        memcpy(seg, p, n);
        seg[n] = '\0';
        if (mkdirat(fd, seg, DIR_MODE) == 0) {
            if (fsync(fd) != 0)
                goto fail;
        } else if (errno != EEXIST) {
            goto fail;
        }
        next = openat(fd, seg, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
                                   O_CLOEXEC);
        if (next < 0)
            goto fail;
        close(fd);
        fd = next;
        p = slash + 1;
    }
    *out_fd = fd;
    return 0;
fail:
    e = errno;
    close(fd);
    return e;
}

/* Creates a fresh ".tmp-<hex>" file in dir_fd. 0 or an errno value. */
static int
create_temp(int dir_fd, char tmp[TMP_NAME_MAX], int *out_fd)
{
    char hex[17];

    if (pd_random_hex(hex, 8) != PD_OK)
        return EIO;
    snprintf(tmp, TMP_NAME_MAX, "%s%s", TMP_PREFIX, hex);
    *out_fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
                     FILE_MODE);
    return *out_fd < 0 ? errno : 0;
}

/*
 * Creates the folders and the temporary file, retrying when another
 * thread prunes a folder between our mkdir and our create.
 */
static int
writer_create(struct fstore *fs, struct fwriter *w)
{
    int e = 0;

    for (int i = 0; i < CREATE_ATTEMPTS; i++) {
        e = make_parents(fs, w->key, &w->dir_fd);
        if (e == 0) {
            e = create_temp(w->dir_fd, w->tmp, &w->fd);
            if (e == 0)
                return 0;
            close(w->dir_fd);
            w->dir_fd = -1;
        }
        if (e != ENOENT && e != EEXIST)
            break;
    }
    return e;
}

/* Removes the folders of key that are now empty, deepest first. */
static void
prune_parents(struct fstore *fs, const char *key)
{
    char dir[STORE_KEY_MAX + 1];
    char *slash;

    snprintf(dir, sizeof(dir), "%s", key);
    while ((slash = strrchr(dir, '/')) != NULL) {
        *slash = '\0';
        if (unlinkat(fs->root_fd, dir, AT_REMOVEDIR) != 0)
            break;
    }
}

/* Where a folder must become a file or the reverse: PD_ECONFLICT. */
static int
layout_conflict(const char *key)
{
    log_warn("store: put %s: a folder and an object would share a name",
             key);
    return PD_ECONFLICT;
}

/* True when every segment of key fits a file name (NAME_MAX bytes). */
static bool
segments_fit(const char *key)
{
    while (*key != '\0') {
        size_t n = strcspn(key, "/");

        if (n > NAME_MAX)
            return false;
        key += n + (key[n] == '/');
    }
    return true;
}

static void
writer_free(struct fwriter *w)
{
    if (w->fd >= 0)
        close(w->fd);
    if (w->dir_fd >= 0)
        close(w->dir_fd);
    free(w);
}

static int
file_put_begin(store *s, const char *key, store_writer **out)
{
    struct fstore *fs = (struct fstore *)s;
    struct fwriter *w = calloc(1, sizeof(*w));
    struct stat st;
    int e;

    if (!segments_fit(key)) {
        free(w);
        return PD_EINVAL;
    }
    if (w == NULL)
        return PD_ENOMEM;
    w->base.ops = &file_ops;
    w->fs = fs;
    w->dir_fd = -1;
    w->fd = -1;
    snprintf(w->key, sizeof(w->key), "%s", key);
    e = writer_create(fs, w);
    if (e != 0) {
        writer_free(w);
        prune_parents(fs, key);
        if (e == ENOTDIR || e == EEXIST || e == ELOOP)
            return layout_conflict(key);
        return io_error("put", key, e);
    }
    if (fstatat(w->dir_fd, base_name(key), &st, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISDIR(st.st_mode)) {
        unlinkat(w->dir_fd, w->tmp, 0);
        writer_free(w);
        return layout_conflict(key);
    }
    *out = &w->base;
    return PD_OK;
}

static int
file_put_write(store_writer *sw, const void *data, size_t len)
{
    struct fwriter *w = (struct fwriter *)sw;
    const char *p = data;

    if (w->err != 0)
        return w->err;
    while (len > 0) {
        ssize_t n = write(w->fd, p, len);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            w->err = io_error("write", w->key, errno);
            return w->err;
        }
        p += n;
        len -= (size_t)n;
    }
    return PD_OK;
}

static int
file_put_commit(store_writer *sw)
{
    struct fwriter *w = (struct fwriter *)sw;
    int rc = w->err;
    bool renamed = false;

    if (rc == PD_OK && fsync(w->fd) != 0)
        rc = io_error("fsync", w->key, errno);
    if (close(w->fd) != 0 && rc == PD_OK)
        rc = io_error("close", w->key, errno);
    w->fd = -1;
    if (rc == PD_OK) {
        if (renameat(w->dir_fd, w->tmp, w->dir_fd, base_name(w->key)) == 0)
            renamed = true;
        else if (errno == EISDIR)
            rc = layout_conflict(w->key);
        else
            rc = io_error("rename", w->key, errno);
    }
    if (renamed && fsync(w->dir_fd) != 0)
        rc = io_error("fsync folder of", w->key, errno);
    if (!renamed) {
        unlinkat(w->dir_fd, w->tmp, 0);
        prune_parents(w->fs, w->key);
    }
    writer_free(w);
    return rc;
}

static void
file_put_abort(store_writer *sw)
{
    struct fwriter *w = (struct fwriter *)sw;
    struct fstore *fs = w->fs;
    char key[STORE_KEY_MAX + 1];

    unlinkat(w->dir_fd, w->tmp, 0);
    memcpy(key, w->key, sizeof(key));
    writer_free(w);
    prune_parents(fs, key);
}

/* ---- reading ---------------------------------------------------------- */

/* Opens key as a regular file. PD_ENOTFOUND when it is not one. */
static int
open_object(struct fstore *fs, const char *key, int *fd, struct stat *st)
{
    *fd = openat(fs->root_fd, key, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (*fd < 0)
        return lookup_error("open", key, errno);
    if (fstat(*fd, st) != 0) {
        int e = errno;

        close(*fd);
        *fd = -1;
        return io_error("fstat", key, e);
    }
    if (!S_ISREG(st->st_mode)) {
        close(*fd);
        *fd = -1;
        return PD_ENOTFOUND;
    }
    return PD_OK;
}

static int
file_get(store *s, const char *key, int64_t offset, int64_t length,
         store_reader **out)
{
    struct fstore *fs = (struct fstore *)s;
    struct freader *r;
    struct stat st;
    int fd;
    int rc = open_object(fs, key, &fd, &st);

    if (rc != PD_OK)
        return rc;
    if (offset > st.st_size ||
        (length >= 0 && length > st.st_size - offset)) {
        close(fd);
        return PD_EINVAL;
    }
    r = calloc(1, sizeof(*r));
    if (r == NULL) {
        close(fd);
        return PD_ENOMEM;
    }
    r->base.ops = &file_ops;
    r->fd = fd;
    r->pos = offset;
    r->end = length < 0 ? st.st_size : offset + length;
    snprintf(r->key, sizeof(r->key), "%s", key);
    *out = &r->base;
    return PD_OK;
}

static ssize_t
file_read(store_reader *sr, void *buf, size_t len)
{
    struct freader *r = (struct freader *)sr;
    ssize_t n;

    if (r->pos >= r->end)
        return 0;
    if ((int64_t)len > r->end - r->pos)
        len = (size_t)(r->end - r->pos);
    do
        n = pread(r->fd, buf, len, r->pos);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return io_error("read", r->key, errno);
    if (n == 0) {
        log_error("store: read %s: object shorter than its size", r->key);
        return PD_EIO;
    }
    r->pos += n;
    return n;
}

static int
file_reader_fd(store_reader *sr, int *fd, int64_t *offset, int64_t *length)
{
    struct freader *r = (struct freader *)sr;

    *fd = r->fd;
    *offset = r->pos;
    *length = r->end - r->pos;
    return PD_OK;
}

static void
file_reader_close(store_reader *sr)
{
    struct freader *r = (struct freader *)sr;

    close(r->fd);
    free(r);
}

/* ---- stat, copy, delete ----------------------------------------------- */

static int
file_stat(store *s, const char *key, struct store_stat *out)
{
    struct fstore *fs = (struct fstore *)s;
    struct stat st;

    if (fstatat(fs->root_fd, key, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return lookup_error("stat", key, errno);
    if (!S_ISREG(st.st_mode))
        return PD_ENOTFOUND;
    out->size = st.st_size;
    out->mtime_ms = stat_mtime_ms(&st);
    return PD_OK;
}

/* Plain read/write copy from offset pos of in, for when the kernel
 * cannot copy between these files. */
static int
copy_by_hand(int in, off_t pos, struct fwriter *w)
{
    char *buf = malloc(COPY_CHUNK);
    int rc = PD_OK;

    if (buf == NULL)
        return PD_ENOMEM;
    for (;;) {
        ssize_t n = pread(in, buf, COPY_CHUNK, pos);

        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = io_error("copy from", w->key, errno);
        if (n <= 0)
            break;
        pos += n;
        rc = file_put_write(&w->base, buf, (size_t)n);
        if (rc != PD_OK)
            break;
    }
    free(buf);
    return rc;
}

/* Streams all of in into the writer, in the kernel where it can. */
static int
copy_data(int in, struct fwriter *w)
{
    off_t pos = 0;

    for (;;) {
        ssize_t n = copy_file_range(in, &pos, w->fd, NULL, COPY_CHUNK, 0);

        if (n > 0)
            continue;
        if (n == 0)
            return PD_OK;
        if (errno == EINTR)
            continue;
        if (errno == EXDEV || errno == ENOSYS || errno == EOPNOTSUPP ||
            errno == EINVAL)
            return copy_by_hand(in, pos, w);
        return io_error("copy to", w->key, errno);
    }
}

static int
file_copy(store *s, const char *src_key, const char *dst_key)
{
    struct fstore *fs = (struct fstore *)s;
    store_writer *w = NULL;
    struct stat st;
    int in;
    int rc = open_object(fs, src_key, &in, &st);

    if (rc != PD_OK)
        return rc;
    rc = file_put_begin(s, dst_key, &w);
    if (rc == PD_OK)
        rc = copy_data(in, (struct fwriter *)w);
    if (rc == PD_OK)
        rc = file_put_commit(w);
    else if (w != NULL)
        file_put_abort(w);
    close(in);
    return rc;
}

static int
file_delete(store *s, const char *key)
{
    struct fstore *fs = (struct fstore *)s;
    int dir_fd = open_parent(fs, key);
    int rc = PD_OK;

    if (dir_fd < 0) {
        rc = lookup_error("delete", key, errno);
        return rc == PD_ENOTFOUND ? PD_OK : rc;
    }
    if (unlinkat(dir_fd, base_name(key), 0) == 0) {
        if (fsync(dir_fd) != 0)
            rc = io_error("fsync folder of", key, errno);
    } else if (errno != ENOENT && errno != EISDIR &&
               errno != ENAMETOOLONG) {
        rc = io_error("delete", key, errno);
    }
    close(dir_fd);
    if (rc == PD_OK)
        prune_parents(fs, key);
    return rc;
}

/* ---- walking folders -------------------------------------------------- */

static void
entries_free(struct entries *es)
{
    for (size_t i = 0; i < es->n; i++)
        free(es->v[i].name);
    free(es->v);
    es->v = NULL;
    es->n = es->cap = 0;
}

static int
entries_add(struct entries *es, const char *name, bool is_dir,
            const struct stat *st)
{
    size_t len = strlen(name);
    struct entry *e;

    if (es->n == es->cap) {
        size_t cap = es->cap ? es->cap * 2 : 16;
        struct entry *v = realloc(es->v, cap * sizeof(*v));

        if (v == NULL)
            return PD_ENOMEM;
        es->v = v;
        es->cap = cap;
    }
    e = &es->v[es->n];
    e->name = malloc(len + 2);
    if (e->name == NULL)
        return PD_ENOMEM;
    memcpy(e->name, name, len);
    e->name[len] = is_dir ? '/' : '\0';
    e->name[len + 1] = '\0';
    e->st.size = st->st_size;
    e->st.mtime_ms = stat_mtime_ms(st);
    es->n++;
    return PD_OK;
}

/* Which names a walk wants: key segments starting with match, and
 * (for the clean-up) temporary files. */
struct want {
    const char *match;
    bool temps;
};

static bool
wanted(const struct want *wt, const char *name)
{
    if (strncmp(name, TMP_PREFIX, strlen(TMP_PREFIX)) == 0)
        return wt->temps;
    return name[0] != '.' && store_key_valid(name) &&
           strncmp(name, wt->match, strlen(wt->match)) == 0;
}

/*
 * Reads the regular files and folders of the folder at path (relative
 * to the root; "" is the root) that wt wants. A folder that vanished
 * reads as empty.
 */
static int
read_folder(struct fstore *fs, const char *path, const struct want *wt,
            struct entries *out)
{
    int fd = openat(fs->root_fd, path[0] ? path : ".",
                    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    DIR *d;
    struct dirent *de;
    int rc = PD_OK;

    if (fd < 0) {
        rc = lookup_error("list", path, errno);
        return rc == PD_ENOTFOUND ? PD_OK : rc;
    }
    d = fdopendir(fd);
    if (d == NULL) {
        close(fd);
        return io_error("list", path, errno);
    }
    while (rc == PD_OK && (de = readdir(d)) != NULL) {
        struct stat st;

        if (!wanted(wt, de->d_name) ||
            fstatat(fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
            continue;
        if (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))
            rc = entries_add(out, de->d_name, S_ISDIR(st.st_mode), &st);
    }
    closedir(d);
    return rc;
}

static int
entry_cmp(const void *a, const void *b)
{
    return strcmp(((const struct entry *)a)->name,
                  ((const struct entry *)b)->name);
}

struct lister {
    struct fstore *fs;
    store_list_fn fn;
    void *ctx;
    char key[STORE_KEY_MAX + 1];
};

/*
 * Lists the folder whose path is key[0..len) (empty or ending in '/'),
 * names starting with match only. Entries sort with a folder's name
 * read as "name/", which makes the walk come out in key order. Depth is
 * bounded by STORE_KEY_MAX: each level adds at least two bytes.
 */
static int
list_folder(struct lister *l, size_t len, const char *match)
{
    struct want wt = {match, false};
    struct entries es = {0};
    int rc;

    l->key[len] = '\0';
    rc = read_folder(l->fs, l->key, &wt, &es);
    if (rc == PD_OK && es.n > 1)
        qsort(es.v, es.n, sizeof(es.v[0]), entry_cmp);
    for (size_t i = 0; rc == PD_OK && i < es.n; i++) {
        size_t n = strlen(es.v[i].name);
        bool is_dir = es.v[i].name[n - 1] == '/';

        if (len + n + (is_dir ? 1 : 0) > STORE_KEY_MAX)
            continue;
        memcpy(l->key + len, es.v[i].name, n + 1);
        if (is_dir)
            rc = list_folder(l, len + n, "");
        else
            rc = l->fn(l->ctx, l->key, &es.v[i].st);
    }
    entries_free(&es);
    return rc;
}

static int
file_list(store *s, const char *prefix, store_list_fn fn, void *ctx)
{
    struct lister *l = malloc(sizeof(*l));
    const char *match = base_name(prefix);
    size_t len = (size_t)(match - prefix);
    int rc;

    if (l == NULL)
        return PD_ENOMEM;
    l->fs = (struct fstore *)s;
    l->fn = fn;
    l->ctx = ctx;
    memcpy(l->key, prefix, len);
    rc = list_folder(l, len, match);
    free(l);
    return rc;
}

/*
 * Removes ".tmp-" files older than STALE_TMP_MS under the folder at
 * path[0..len) (empty or ending in '/'): leftovers of crashed writers.
 */
static void
remove_stale(struct fstore *fs, char *path, size_t len, int64_t now,
             int *removed)
{
    struct want wt = {"", true};
    struct entries es = {0};

    path[len] = '\0';
    if (read_folder(fs, path, &wt, &es) != PD_OK) {
        entries_free(&es);
        return;
    }
    for (size_t i = 0; i < es.n; i++) {
        size_t n = strlen(es.v[i].name);

        if (len + n >= REL_PATH_MAX)
            continue;
        memcpy(path + len, es.v[i].name, n + 1);
        if (es.v[i].name[n - 1] == '/') {
            if (len + n + TMP_NAME_MAX < REL_PATH_MAX)
                remove_stale(fs, path, len + n, now, removed);
        } else if (strncmp(es.v[i].name, TMP_PREFIX,
                           strlen(TMP_PREFIX)) == 0 &&
                   es.v[i].st.mtime_ms < now - STALE_TMP_MS &&
                   unlinkat(fs->root_fd, path, 0) == 0) {
            (*removed)++;
        }
    }
    entries_free(&es);
}

/* ---- opening, closing, ping ------------------------------------------- */

static bool
file_url_valid(const char *dir)
{
    return dir[0] != '\0' && strlen(dir) < ROOT_PATH_MAX;
}

/* Creates dir and its missing parents. 0 or an errno value. */
static int
mkdir_parents(const char *dir)
{
    char path[ROOT_PATH_MAX];

    snprintf(path, sizeof(path), "%s", dir);
    for (char *p = path + 1; *p != '\0'; p++) {
        if (*p != '/' || p[-1] == '/')
            continue;
        *p = '\0';
        if (mkdir(path, DIR_MODE) != 0 && errno != EEXIST)
            return errno;
        *p = '/';
    }
    if (mkdir(path, DIR_MODE) != 0 && errno != EEXIST)
        return errno;
    return 0;
}

static void
file_close(store *s)
{
    struct fstore *fs = (struct fstore *)s;

    if (fs->root_fd >= 0)
        close(fs->root_fd);
    free(fs->root);
    free(fs);
}

static int
file_open(const char *dir, store **out, char *err, size_t errlen)
{
    struct fstore *fs = calloc(1, sizeof(*fs));
    char path[REL_PATH_MAX];
    int removed = 0;
    int e;

    if (fs == NULL)
        return PD_ENOMEM;
    fs->base.ops = &file_ops;
    fs->root_fd = -1;
    e = mkdir_parents(dir);
    if (e == 0 && (fs->root = realpath(dir, NULL)) == NULL)
        e = errno;
    if (e == 0 && (fs->root_fd = open(fs->root, O_RDONLY | O_DIRECTORY |
                                                    O_CLOEXEC)) < 0)
        e = errno;
    if (e != 0) {
        snprintf(err, errlen, "storage folder %s: %s", dir, strerror(e));
        file_close(&fs->base);
        return PD_EUNAVAIL;
    }
    remove_stale(fs, path, 0, pd_now_ms(), &removed);
    if (removed > 0)
        log_notice("store: removed %d stale temporary files under %s",
                   removed, fs->root);
    *out = &fs->base;
    return PD_OK;
}

static int
ping_fail(char *err, size_t errlen, const char *what, const char *root,
          int errnum)
{
    snprintf(err, errlen, "storage folder %s: %s: %s", root, what,
             strerror(errnum));
    return PD_EUNAVAIL;
}

static int
file_ping(store *s, char *err, size_t errlen)
{
    struct fstore *fs = (struct fstore *)s;
    struct stat now, opened;
    char tmp[TMP_NAME_MAX];
    int fd;
    int e;

    if (stat(fs->root, &now) != 0)
        return ping_fail(err, errlen, "stat", fs->root, errno);
    if (fstat(fs->root_fd, &opened) != 0)
        return ping_fail(err, errlen, "fstat", fs->root, errno);
    if (now.st_dev != opened.st_dev || now.st_ino != opened.st_ino)
        return ping_fail(err, errlen, "replaced since start", fs->root,
                         ESTALE);
    e = create_temp(fs->root_fd, tmp, &fd);
    if (e != 0)
        return ping_fail(err, errlen, "create probe", fs->root, e);
    close(fd);
    if (unlinkat(fs->root_fd, tmp, 0) != 0)
        return ping_fail(err, errlen, "remove probe", fs->root, errno);
    return PD_OK;
}

static const struct store_ops file_ops = {
    .close = file_close,
    .ping = file_ping,
    .put_begin = file_put_begin,
    .put_write = file_put_write,
    .put_commit = file_put_commit,
    .put_abort = file_put_abort,
    .get = file_get,
    .read = file_read,
    .reader_fd = file_reader_fd,
    .reader_close = file_reader_close,
    .stat = file_stat,
    .copy = file_copy,
    .del = file_delete,
    .list = file_list,
};

const struct store_backend store_file_backend = {
    .prefix = "file:",
    .url_valid = file_url_valid,
    .open = file_open,
};
