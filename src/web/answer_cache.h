/*
 * answer_cache.h — recent answers of the order lists (the JSON list and
 * the dashboard's list page), kept whole so that staff reloading a busy
 * list do not rerun its queries.
 *
 * An answer is kept under a key that names everything it depends on
 * (route, query, who asks, path prefix). It is served again only while
 * nothing may have changed: every request that may change state drops
 * all kept answers (the server's after_change hook), and an answer older
 * than the configured life (a second by default) is built afresh, which
 * bounds how stale a list can be when another instance or a command
 * changed the database.
 */
#ifndef PD_ANSWER_CACHE_H
#define PD_ANSWER_CACHE_H

#include "common/util.h"
#include "http/http.h"

#include <stdbool.h>
#include <stdint.h>

/*
 * The key of req's answer of the given kind ("orders.json", "list.html"):
 * the kind, the path prefix, who asks (id, role, and whether with a
 * session cookie) and the query as sent, in req's arena; NULL when out
 * of memory.
 */
const char *answer_cache_key(http_req *req, const char *kind);
/*
 * Sets how long an answer may be served, in ms (0 turns the cache off),
 * and registers its metrics (lookups by result, bytes kept).
 */
void answer_cache_configure(int64_t life_ms);
/* Drops every kept answer (something may have changed). */
void answer_cache_invalidate(void);
/*
 * The generation to build an answer at: read it before reading the
 * database, and pass it to answer_cache_send_new.
 */
uint64_t answer_cache_generation(void);
/*
 * Answers req from the cache when key holds a fresh answer: true, with
 * the answer's result in *rc. false when it must be built.
 */
bool answer_cache_send(http_req *req, const char *key, int *rc);
/*
 * Answers req with a 200 of body (b is left as it was) and keeps it under
 * key unless something changed since generation gen. HTML answers are
 * kept with their gzip.
 */
int answer_cache_send_new(http_req *req, const char *key, uint64_t gen,
                          const char *content_type, bool html, pd_buf *b);
#endif
