/*
 * db_pool.c — one database connection per server thread, opened on first
 * use and closed when the thread exits; a list under a mutex lets
 * shutdown close them all and lets /metrics count them.
 */
#include "db/db_internal.h"

#include "common/err.h"
#include "obs/log.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct pool_conn {
    db *d;
    struct pool_conn *next;
};

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t pool_key;
static atomic_bool pool_ready;
static char *pool_url;            /* set while ready; never changes then */
static struct pool_conn *pool_head;
static int pool_count;

/* Unlinks c from the list if it is still there (shutdown may have taken
 * it already). Call with pool_lock held. */
static bool unlink_conn(struct pool_conn *c)
{
    for (struct pool_conn **p = &pool_head; *p != NULL; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            pool_count--;
            return true;
        }
    }
    return false;
}

static void on_thread_exit(void *value)
{
    struct pool_conn *c = value;
    bool mine;

    pthread_mutex_lock(&pool_lock);
    mine = unlink_conn(c);
    pthread_mutex_unlock(&pool_lock);
    if (mine) {
        db_close(c->d);
        free(c);
    }
}

int db_pool_init(const char *url)
{
    int rc = 0;

    if (!db_url_valid(url))
        return PD_EINVAL;
    pthread_mutex_lock(&pool_lock);
    if (atomic_load(&pool_ready)) {
        rc = PD_EINVAL;
    } else if ((pool_url = strdup(url)) == NULL) {
        rc = PD_ENOMEM;
    } else if (pthread_key_create(&pool_key, on_thread_exit) != 0) {
        free(pool_url);
        pool_url = NULL;
        rc = PD_ENOMEM;
    } else {
        atomic_store(&pool_ready, true);
    }
    pthread_mutex_unlock(&pool_lock);
    return rc;
}

db *db_thread(void)
{
    struct pool_conn *c;
    char err[512];
    db *d = NULL;
    int rc;

    if (!atomic_load(&pool_ready))
        return NULL;
    c = pthread_getspecific(pool_key);
    if (c != NULL)
        return c->d;
    rc = db_open(pool_url, &d, err, sizeof(err));
    if (rc < 0) {
        log_error("db: cannot open a connection: %s", err);
        return NULL;
    }
    c = calloc(1, sizeof(*c));
    if (c != NULL)
        c->d = d;
    if (c == NULL || pthread_setspecific(pool_key, c) != 0) {
        log_error("db: out of memory for a pooled connection");
        free(c);
        db_close(d);
        return NULL;
    }
    pthread_mutex_lock(&pool_lock);
    c->next = pool_head;
    pool_head = c;
    pool_count++;
    pthread_mutex_unlock(&pool_lock);
    return d;
}

/* Call once the threads that use the pool have stopped using it. */
void db_pool_shutdown(void)
{
    struct pool_conn *list, *next;

    pthread_mutex_lock(&pool_lock);
    if (!atomic_load(&pool_ready)) {
        pthread_mutex_unlock(&pool_lock);
        return;
    }
    atomic_store(&pool_ready, false);
    /* Deleting the key means no exit destructor runs for it any more. */
    pthread_key_delete(pool_key);
    list = pool_head;
    pool_head = NULL;
    pool_count = 0;
    free(pool_url);
    pool_url = NULL;
    pthread_mutex_unlock(&pool_lock);
    for (; list != NULL; list = next) {
        next = list->next;
        db_close(list->d);
        free(list);
    }
}

int db_pool_open_count(void)
{
    int n;

    pthread_mutex_lock(&pool_lock);
    n = pool_count;
    pthread_mutex_unlock(&pool_lock);
    return n;
}
