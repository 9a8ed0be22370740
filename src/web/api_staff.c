/* api_staff.c — the staff list for admins, and who the caller is. */
#include "web/web.h"

#include "auth/guard.h"
#include "common/err.h"
#include "db/db.h"

int
web_api_staff_list(http_req *req)
{
    db *d = db_thread();
    db_rows *rows = NULL;
    pd_buf b;
    int rc, n = 0;

    if (d == NULL)
        return PD_EUNAVAIL;
    rc = db_query(d, "SELECT id_kind, external_id, name, role, disabled_at, "
                     "created_at FROM staff ORDER BY id_kind, external_id",
                  NULL, 0, &rows);
    if (rc != PD_OK)
        return rc;
    buf_init(&b);
    buf_puts(&b, "{\"staff\":[");
    while ((rc = db_step(rows)) == 1) {
        buf_puts(&b, n++ ? ",{\"kind\":" : "{\"kind\":");
        buf_json_string(&b, db_col_text(rows, 0));
        buf_puts(&b, ",\"id\":");
        buf_json_string(&b, db_col_text(rows, 1));
        buf_puts(&b, ",\"name\":");
        buf_json_string(&b, db_col_text(rows, 2));
        buf_puts(&b, ",\"role\":");
        buf_json_string(&b, db_col_text(rows, 3));
        buf_printf(&b, ",\"active\":%s,\"created_at\":%lld}",
                   db_col_null(rows, 4) ? "true" : "false",
                   (long long)db_col_int(rows, 5));
    }
    db_rows_free(rows);
    buf_puts(&b, "]}\n");
    rc = rc < 0 ? rc : http_respond_json(req, 200, &b);
    buf_free(&b);
    return rc;
}

/* The caller as the desk sees them, and the CSRF token for scripts. */
int
web_auth_whoami(http_req *req)
{
    const struct staff *who = guard_staff(req);
    static const char *const via[] = {"proxy", "session", "bearer"};
    pd_buf b;
    int rc;

    buf_init(&b);
    buf_puts(&b, "{\"kind\":");
    buf_json_string(&b, who->id_kind);
    buf_puts(&b, ",\"id\":");
    buf_json_string(&b, who->external_id);
    buf_puts(&b, ",\"name\":");
    buf_json_string(&b, who->name);
    buf_printf(&b, ",\"role\":\"%s\",\"via\":\"%s\",\"csrf_token\":",
               staff_role_name(who->role), via[who->via]);
    buf_json_string(&b, guard_csrf_token(req));
    buf_puts(&b, "}\n");
    rc = http_respond_json(req, 200, &b);
    buf_free(&b);
    return rc;
}
