/*
 * router.h — maps a method and a path to a route. Patterns are literal
 * segments, `{name}` segments that capture one segment, and an optional
 * final `{name*}` that captures the rest of the path. A path that matches
 * a pattern under another method is a 405, with the methods it allows.
 */
#ifndef PD_ROUTER_H
#define PD_ROUTER_H

#include <stddef.h>

#define ROUTER_MAX_PARAMS 6
#define ROUTER_MAX_ROUTES 64

typedef struct router router;

struct router_params {
    int count;
    int path_match; /* for a 405: a route whose pattern the path fits */
    const char *names[ROUTER_MAX_PARAMS];
    /* Point into the caller's scratch copy of the path. */
    const char *values[ROUTER_MAX_PARAMS];
};

enum {
    ROUTER_NOT_FOUND = -1,
    ROUTER_METHOD_NOT_ALLOWED = -2,
};

/* A new empty router; NULL when out of memory. Free with router_free. */
router *router_new(void);
void router_free(router *r);

/*
 * Adds a route and returns its index (in order of addition), or -1 for a
 * malformed pattern or a full table. The strings must outlive the router.
 */
int router_add(router *r, const char *method, const char *pattern);

/*
 * Matches method and path. scratch (at least strlen(path)+1 bytes) holds
 * the captured values. A HEAD request matches a GET route when no HEAD
 * route matches. Returns the route index, ROUTER_NOT_FOUND, or
 * ROUTER_METHOD_NOT_ALLOWED with `allow` (if not NULL, allow_len bytes)
 * filled with the comma-separated methods the path accepts.
 */
int router_match(const router *r, const char *method, const char *path,
                 char *scratch, struct router_params *params, char *allow,
                 size_t allow_len);

#endif
