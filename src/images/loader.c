/*
 * loader.c — finds and loads printdesk-images.so on first use, so the
 * server starts without libvips in memory.
 */
#include "images/images.h"

#include "common/err.h"
#include "obs/log.h"

#include <dlfcn.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MODULE_NAME "printdesk-images.so"

static pthread_once_t load_once = PTHREAD_ONCE_INIT;
static const struct images_api *loaded;

/* PRINTDESK_IMAGES_MODULE, or the module beside /proc/self/exe. */
static int
module_path(char *out, size_t len)
{
    const char *env = getenv("PRINTDESK_IMAGES_MODULE");
    char exe[PATH_MAX];
    ssize_t n;
    char *slash;

    if (env != NULL && *env != '\0')
        return snprintf(out, len, "%s", env) < (int)len ? 0 : -1;
    n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
    if (n <= 0)
        return -1;
    exe[n] = '\0';
    slash = strrchr(exe, '/');
    if (slash == NULL)
        return -1;
    slash[1] = '\0';
    return snprintf(out, len, "%s%s", exe, MODULE_NAME) < (int)len ? 0 : -1;
}

static void
load_module(void)
{
    char path[PATH_MAX];
    const struct images_api *api;
    void *handle;

    if (module_path(path, sizeof(path)) < 0) {
        log_error("images: cannot tell where %s is", MODULE_NAME);
        return;
    }
    handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (handle == NULL) {
        log_error("images: cannot load %s: %s", path, dlerror());
        return;
    }
    api = dlsym(handle, IMAGES_API_SYMBOL);
    if (api == NULL || api->abi_version != IMAGES_ABI_VERSION) {
        log_error("images: %s is not a printdesk image module of this "
                  "version", path);
        dlclose(handle);
        return;
    }
    log_debug("images: loaded %s", path);
    loaded = api;
}

int
images_load(const struct images_api **out)
{
    pthread_once(&load_once, load_module);
    *out = loaded;
    return loaded != NULL ? PD_OK : PD_EUNAVAIL;
}

void
images_shutdown(void)
{
    if (loaded != NULL)
        loaded->shutdown();
}
