/*
 * spool.c — the local file an upload is written into while it arrives,
 * hashed on the way. libvips reads the file from here; only a file that
 * passes goes on to the store. The file is private (0600), never named
 * by anything the client sent, and deleted when the upload is done.
 */
#include "uploads/uploads.h"

#include "common/err.h"
#include "obs/log.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct spool {
    int fd;
    int64_t size;
    EVP_MD_CTX *sha;
    char path[512];
};

static int
ensure_dir(const char *dir)
{
    if (mkdir(dir, 0700) == 0 || errno == EEXIST)
        return PD_OK;
    log_error("uploads: cannot create spool folder %s: %s", dir,
              strerror(errno));
    return PD_EIO;
}

int
spool_open(const char *dir, spool **out)
{
    spool *s;
    int n;

    *out = NULL;
    if (ensure_dir(dir) != PD_OK)
        return PD_EIO;
    s = calloc(1, sizeof(*s));
    if (s == NULL)
        return PD_ENOMEM;
    s->fd = -1;
    n = snprintf(s->path, sizeof(s->path), "%s/upload-XXXXXX", dir);
    s->sha = EVP_MD_CTX_new();
    if (n < 0 || (size_t)n >= sizeof(s->path) || s->sha == NULL ||
        EVP_DigestInit_ex(s->sha, EVP_sha256(), NULL) != 1) {
        spool_discard(s);
        return PD_ENOMEM;
    }
    s->fd = mkostemp(s->path, O_CLOEXEC);
    if (s->fd < 0) {
        log_error("uploads: cannot create a spool file in %s: %s", dir,
                  strerror(errno));
        s->path[0] = '\0';
        spool_discard(s);
        return PD_EIO;
    }
    *out = s;
    return PD_OK;
}

int
spool_write(spool *s, const void *data, size_t len)
{
    const char *p = data;
    size_t left = len;

    while (left > 0) {
        ssize_t n = write(s->fd, p, left);

        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log_error("uploads: writing the spool file %s: %s", s->path,
                      n < 0 ? strerror(errno) : "no progress");
            return PD_EIO;
        }
        p += n;
        left -= (size_t)n;
    }
    EVP_DigestUpdate(s->sha, data, len);
    s->size += (int64_t)len;
    return PD_OK;
}

const char *
spool_path(const spool *s)
{
    return s->path;
}

int64_t
spool_size(const spool *s)
{
    return s->size;
}

void
spool_sha256(spool *s, char hex[65])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_MD_CTX *copy = EVP_MD_CTX_new();

    hex[0] = '\0';
    if (copy == NULL)
        return;
    if (EVP_MD_CTX_copy_ex(copy, s->sha) == 1 &&
        EVP_DigestFinal_ex(copy, md, &n) == 1 && n == 32)
        pd_hex(hex, md, n);
    EVP_MD_CTX_free(copy);
}

void
spool_discard(spool *s)
{
    if (s == NULL)
        return;
    if (s->fd >= 0)
        close(s->fd);
    if (s->path[0] != '\0' && s->fd >= 0 && unlink(s->path) != 0)
        log_warn("uploads: cannot delete spool file %s: %s", s->path,
                 strerror(errno));
    EVP_MD_CTX_free(s->sha);
    free(s);
}

void
spool_sweep(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int removed = 0;

    if (d == NULL)
        return;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "upload-", 7) != 0)
            continue;
        if (unlinkat(dirfd(d), e->d_name, 0) == 0)
            removed++;
    }
    closedir(d);
    if (removed > 0)
        log_notice("uploads: removed %d spool file(s) left by an earlier "
                   "run in %s", removed, dir);
}
