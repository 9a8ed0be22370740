/*
 * staff.h — who may use the desk: staff rows (a Shopify customer id, or a
 * Shopify admin user id for embedded-admin tokens) with a role, and the
 * identity the guard attaches to each staff request.
 */
#ifndef PD_STAFF_H
#define PD_STAFF_H

#include "db/db.h"

#include <stdbool.h>
#include <stdint.h>

/* Roles, each including the ones below it. ROLE_PUBLIC: no staff needed. */
enum staff_role {
    ROLE_PUBLIC = 0,
    ROLE_VIEWER = 1,    /* see orders and images */
    ROLE_FULFILLER = 2, /* also download originals, move, note, claim */
    ROLE_ADMIN = 3,     /* also manage staff, audit export, lifecycle */
};

/* How a staff member was identified. */
enum staff_via { VIA_PROXY, VIA_SESSION, VIA_BEARER };

struct staff {
    int64_t id;
    char id_kind[16];      /* "customer" or "admin_user" */
    char external_id[64];  /* the Shopify id, as text */
    char name[128];
    enum staff_role role;
    bool disabled;
    enum staff_via via;    /* set by the guard for the current request */
};

const char *staff_role_name(enum staff_role role);
/* "viewer", "fulfiller", "admin"; -1 for anything else. */
int staff_role_parse(const char *name);

/* The staff row for (kind, external id); PD_ENOTFOUND when none. */
int staff_find(db *d, const char *kind, const char *external_id,
               struct staff *out);
/*
 * staff_find through a small per-thread cache whose entries live
 * STAFF_CACHE_TTL_MS: the guard's lookup on every request. A role change
 * or a disable reaches every instance within that time.
 */
#define STAFF_CACHE_TTL_MS 2000
int staff_find_cached(db *d, const char *kind, const char *external_id,
                      struct staff *out);

/* Adds a staff member or, when present, updates role and name and
 * re-enables them. */
int staff_upsert(db *d, const char *kind, const char *external_id,
                 enum staff_role role, const char *name);
int staff_set_role(db *d, const char *kind, const char *external_id,
                   enum staff_role role);
int staff_disable(db *d, const char *kind, const char *external_id);

/* A short label for logs and the audit trail, e.g. "customer:42". */
void staff_actor(const struct staff *s, char *out, size_t len);

#endif
