/*
 * router.c — a small table router. Patterns are split into segments once,
 * at registration; matching walks the path's segments against each route
 * in order. Route tables are small (tens), so a linear scan is faster
 * than anything cleverer and easier to read.
 */
#include "http/router.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define ROUTER_MAX_SEGMENTS 12

enum seg_kind { SEG_LITERAL, SEG_PARAM, SEG_REST };

struct segment {
    enum seg_kind kind;
    char *text; /* the literal, or the parameter's name */
};

struct route {
    const char *method;
    int nseg;
    struct segment seg[ROUTER_MAX_SEGMENTS];
};

struct router {
    int count;
    struct route routes[ROUTER_MAX_ROUTES];
};

router *
router_new(void)
{
    return calloc(1, sizeof(router));
}

void
router_free(router *r)
{
    if (r == NULL)
        return;
    for (int i = 0; i < r->count; i++)
        for (int s = 0; s < r->routes[i].nseg; s++)
            free(r->routes[i].seg[s].text);
    free(r);
}

/* Parses one pattern segment [p, p+len) into seg. */
static int
parse_segment(const char *p, size_t len, bool last, struct segment *seg)
{
    if (len >= 2 && p[0] == '{' && p[len - 1] == '}') {
        bool rest = len >= 3 && p[len - 2] == '*';

        if (rest && !last)
            return -1;
        seg->kind = rest ? SEG_REST : SEG_PARAM;
        seg->text = strndup(p + 1, len - (rest ? 3 : 2));
    } else {
        if (memchr(p, '{', len) != NULL || memchr(p, '}', len) != NULL)
            return -1;
        seg->kind = SEG_LITERAL;
        seg->text = strndup(p, len);
    }
    return seg->text == NULL ? -1 : 0;
}

int
router_add(router *r, const char *method, const char *pattern)
{
    struct route *rt;
    const char *p = pattern;

    if (r->count >= ROUTER_MAX_ROUTES || pattern[0] != '/')
        return -1;
    rt = &r->routes[r->count];
    memset(rt, 0, sizeof(*rt));
    rt->method = method;
    while (*p == '/' && p[1] != '\0') {
        const char *end = strchr(p + 1, '/');
        size_t len = end ? (size_t)(end - p - 1) : strlen(p + 1);

        if (rt->nseg >= ROUTER_MAX_SEGMENTS ||
            parse_segment(p + 1, len, end == NULL, &rt->seg[rt->nseg]) < 0)
            goto fail;
        rt->nseg++;
        p = end ? end : p + 1 + len;
    }
    return r->count++;
fail:
    for (int s = 0; s < ROUTER_MAX_SEGMENTS; s++)
        free(rt->seg[s].text);
    memset(rt, 0, sizeof(*rt));
    return -1;
}

/*
 * Splits scratch (a copy of the path) into segments in place: "/" has
 * none; "/a//b/" has "a", "", "b" and "" (empty segments never match).
 */
static int
split_path(char *scratch, char **segs, int max)
{
    char *p = scratch + 1;
    int n = 0;

    if (scratch[0] != '/')
        return -1;
    if (*p == '\0')
        return 0;
    for (;;) {
        char *slash;

        if (n >= max)
            return -1;
        segs[n++] = p;
        slash = strchr(p, '/');
        if (slash == NULL)
            return n;
        *slash = '\0';
        p = slash + 1;
    }
}

static bool
route_matches(const struct route *rt, char **segs, int nseg,
              struct router_params *params)
{
    int count = 0;

    for (int i = 0; i < rt->nseg; i++) {
        const struct segment *s = &rt->seg[i];

        if (s->kind == SEG_REST) {
            if (i >= nseg || segs[i][0] == '\0')
                return false;
            params->names[count] = s->text;
            params->values[count++] = segs[i];
            /* Rejoin the rest: the split wrote NULs where '/' stood. */
            for (int j = i + 1; j < nseg; j++)
                segs[j][-1] = '/';
            params->count = count;
            return true;
        }
        if (i >= nseg)
            return false;
        if (s->kind == SEG_LITERAL && strcmp(s->text, segs[i]) != 0)
            return false;
        if (s->kind == SEG_PARAM) {
            if (segs[i][0] == '\0' || count >= ROUTER_MAX_PARAMS)
                return false;
            params->names[count] = s->text;
            params->values[count++] = segs[i];
        }
    }
    params->count = count;
    return rt->nseg == nseg;
}

static void
add_allowed(char *allow, size_t len, const char *method)
{
    size_t used = strlen(allow), mlen = strlen(method);

    if (strstr(allow, method) != NULL || used + mlen + 3 > len)
        return;
    if (used > 0) {
        memcpy(allow + used, ", ", 2);
        used += 2;
    }
    memcpy(allow + used, method, mlen + 1);
}

/* Copies path into scratch and splits it; the segment count or -1. */
static int
prepare(const char *path, char *scratch, char **segs)
{
    memcpy(scratch, path, strlen(path) + 1);
    return split_path(scratch, segs, ROUTER_MAX_SEGMENTS + 1);
}

int
router_match(const router *r, const char *method, const char *path,
             char *scratch, struct router_params *params, char *allow,
             size_t allow_len)
{
    char *segs[ROUTER_MAX_SEGMENTS + 2];
    bool head = strcmp(method, "HEAD") == 0;
    int nseg, get_match = -1, path_match = -1, found = ROUTER_NOT_FOUND;

    nseg = prepare(path, scratch, segs);
    if (nseg < 0)
        return ROUTER_NOT_FOUND;
    if (allow != NULL && allow_len > 0)
        allow[0] = '\0';
    for (int i = 0; i < r->count; i++) {
        const struct route *rt = &r->routes[i];

        if (!route_matches(rt, segs, nseg, params))
            continue;
        if (strcmp(rt->method, method) == 0)
            return i;
        if (head && get_match < 0 && strcmp(rt->method, "GET") == 0)
            get_match = i;
        if (found != ROUTER_METHOD_NOT_ALLOWED)
            path_match = i;
        found = ROUTER_METHOD_NOT_ALLOWED;
        if (allow != NULL)
            add_allowed(allow, allow_len, rt->method);
        /* A rest capture rejoined segments; split afresh. */
        nseg = prepare(path, scratch, segs);
    }
    if (get_match >= 0) {
        /* Re-run the match so params point at the GET route's names. */
        nseg = prepare(path, scratch, segs);
        route_matches(&r->routes[get_match], segs, nseg, params);
        return get_match;
    }
    params->path_match = path_match;
    if (found == ROUTER_METHOD_NOT_ALLOWED && allow != NULL &&
        strstr(allow, "GET") != NULL)
        add_allowed(allow, allow_len, "HEAD");
    return found;
}
