/*
 * staff.c — the staff table: lookups for the guard and the changes the
 * `printdesk staff` command makes.
 */
#include "auth/staff.h"

#include "common/err.h"
#include "common/util.h"

#include <stdio.h>
#include <string.h>

static const char *const role_names[] = {
    [ROLE_PUBLIC] = "public",
    [ROLE_VIEWER] = "viewer",
    [ROLE_FULFILLER] = "fulfiller",
    [ROLE_ADMIN] = "admin",
};

const char *
staff_role_name(enum staff_role role)
{
    return role >= ROLE_PUBLIC && role <= ROLE_ADMIN ? role_names[role]
                                                     : "unknown";
}

int
staff_role_parse(const char *name)
{
    for (int r = ROLE_VIEWER; r <= ROLE_ADMIN; r++)
        if (name != NULL && strcmp(name, role_names[r]) == 0)
            return r;
    return -1;
}

int
staff_find(db *d, const char *kind, const char *external_id,
           struct staff *out)
{
    db_rows *rows = NULL;
    int rc;

    rc = db_query(d, "SELECT id, name, role, disabled_at FROM staff "
                     "WHERE id_kind = ? AND external_id = ?",
                  (db_arg[]){DB_TEXT(kind), DB_TEXT(external_id)}, 2, &rows);
    if (rc != PD_OK)
        return rc;
    rc = db_step(rows);
    if (rc == 1) {
        memset(out, 0, sizeof(*out));
        out->id = db_col_int(rows, 0);
        snprintf(out->id_kind, sizeof(out->id_kind), "%s", kind);
        snprintf(out->external_id, sizeof(out->external_id), "%s",
                 external_id);
        snprintf(out->name, sizeof(out->name), "%s", db_col_text(rows, 1));
        out->role = (enum staff_role)staff_role_parse(db_col_text(rows, 2));
        out->disabled = !db_col_null(rows, 3);
        rc = PD_OK;
    } else if (rc == 0) {
        rc = PD_ENOTFOUND;
    }
    db_rows_free(rows);
    return rc;
}

#define STAFF_CACHE_SLOTS 64

struct cache_slot {
    int64_t fetched_ms; /* 0: empty */
    int result;         /* PD_OK or PD_ENOTFOUND */
    struct staff row;
};

static _Thread_local struct cache_slot cache[STAFF_CACHE_SLOTS];

static unsigned
slot_for(const char *kind, const char *external_id)
{
    unsigned h = 2166136261u;

    for (const char *p = kind; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    for (const char *p = external_id; *p; p++)
        h = (h ^ (unsigned char)*p) * 16777619u;
    return h % STAFF_CACHE_SLOTS;
}

int
staff_find_cached(db *d, const char *kind, const char *external_id,
                  struct staff *out)
{
    struct cache_slot *c = &cache[slot_for(kind, external_id)];
    int64_t now = pd_now_ms();
    int rc;

    if (c->fetched_ms != 0 && now - c->fetched_ms < STAFF_CACHE_TTL_MS &&
        now >= c->fetched_ms && strcmp(c->row.id_kind, kind) == 0 &&
        strcmp(c->row.external_id, external_id) == 0) {
        *out = c->row;
        return c->result;
    }
    rc = staff_find(d, kind, external_id, out);
    if (rc != PD_OK && rc != PD_ENOTFOUND)
        return rc; /* errors are not remembered */
    c->fetched_ms = now;
    c->result = rc;
    if (rc == PD_OK) {
        c->row = *out;
    } else {
        memset(&c->row, 0, sizeof(c->row));
        snprintf(c->row.id_kind, sizeof(c->row.id_kind), "%s", kind);
        snprintf(c->row.external_id, sizeof(c->row.external_id), "%s",
                 external_id);
    }
    return rc;
}

int
staff_upsert(db *d, const char *kind, const char *external_id,
             enum staff_role role, const char *name)
{
    int64_t changed = 0;
    int rc;

    rc = db_exec(d, "UPDATE staff SET role = ?, name = COALESCE(?, name), "
                    "disabled_at = NULL WHERE id_kind = ? AND external_id = ?",
                 (db_arg[]){DB_TEXT(staff_role_name(role)), DB_TEXT(name),
                            DB_TEXT(kind), DB_TEXT(external_id)},
                 4, &changed);
    if (rc != PD_OK || changed > 0)
        return rc;
    return db_exec(d, "INSERT INTO staff (id_kind, external_id, name, role, "
                      "created_at) VALUES (?, ?, ?, ?, ?)",
                   (db_arg[]){DB_TEXT(kind), DB_TEXT(external_id),
                              DB_TEXT(name), DB_TEXT(staff_role_name(role)),
                              DB_INT(pd_now_ms())},
                   5, NULL);
}

int
staff_set_role(db *d, const char *kind, const char *external_id,
               enum staff_role role)
{
    int64_t changed = 0;
    int rc = db_exec(d, "UPDATE staff SET role = ? WHERE id_kind = ? AND "
                        "external_id = ?",
                     (db_arg[]){DB_TEXT(staff_role_name(role)), DB_TEXT(kind),
                                DB_TEXT(external_id)},
                     3, &changed);

    return rc == PD_OK && changed == 0 ? PD_ENOTFOUND : rc;
}

int
staff_disable(db *d, const char *kind, const char *external_id)
{
    int64_t changed = 0;
    int rc = db_exec(d, "UPDATE staff SET disabled_at = ? WHERE id_kind = ? "
                        "AND external_id = ?",
                     (db_arg[]){DB_INT(pd_now_ms()), DB_TEXT(kind),
                                DB_TEXT(external_id)},
                     3, &changed);

    return rc == PD_OK && changed == 0 ? PD_ENOTFOUND : rc;
}

void
staff_actor(const struct staff *s, char *out, size_t len)
{
    snprintf(out, len, "%s:%s", s->id_kind, s->external_id);
}
