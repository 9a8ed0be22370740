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
