/*
 * auth_pages.c — direct sessions: the one-time hand-off link that opens a
 * session cookie, the link a proxied page offers for it, and logout.
 */
#include "web/web.h"

#include "auth/guard.h"
#include "auth/guard_setup.h"
#include "auth/token.h"
#include "common/err.h"
#include "db/db.h"
#include "obs/log.h"

#include <stdio.h>
#include <string.h>

#define HANDOFF_TTL_S 60

/* Marks a token's nonce as spent; PD_ECONFLICT when it already was. */
static int
spend_nonce(const char *nonce, int64_t expires_s)
{
    db *d = db_thread();

    if (d == NULL)
        return PD_EUNAVAIL;
    return db_exec(d, "INSERT INTO used_tokens (token_id, expires_at) "
                      "VALUES (?, ?)",
                   (db_arg[]){DB_TEXT(nonce), DB_INT(expires_s * 1000)}, 2,
                   NULL);
}

static void
set_session_cookie(http_req *req, const char *value, int64_t max_age)
{
    const struct config *cfg = web_app()->cfg;
    char *cookie = arena_printf(http_arena(req),
                                "%s=%s; Path=/; Max-Age=%lld; HttpOnly; "
                                "SameSite=Strict%s",
                                GUARD_SESSION_COOKIE, value,
                                (long long)max_age,
                                cfg->local_mode ? "" : "; Secure");

    if (cookie != NULL)
        http_add_header(req, "Set-Cookie", cookie);
}

/*
 * The page after a hand-off moves on with a same-site navigation: a
 * SameSite=Strict cookie set at the end of a cross-site click is not sent
 * on a redirect that continues it.
 */
static int
signed_in_page(http_req *req)
{
    static const char page[] =
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width,"
        "initial-scale=1\"><meta http-equiv=\"refresh\" "
        "content=\"0;url=../dashboard\"><title>Signed in — printdesk"
        "</title></head><body><main><h1>Signed in</h1><p>"
        "<a href=\"../dashboard\">Open the desk</a></p></main></body>"
        "</html>\n";

    return http_respond(req, 200, "text/html; charset=utf-8", page,
                        sizeof(page) - 1, false);
}

int
web_auth_handoff(http_req *req)
{
    const struct config *cfg = web_app()->cfg;
    const char *token = http_query(req, "token");
    struct token_claims claims;
    char session[TOKEN_BUF_LEN];
    int64_t now = pd_now_ms() / 1000;
    int n, rc;
    const char *const *secrets = guard_secrets(&n);

    if (token == NULL ||
        token_verify(secrets, n, TOKEN_PURPOSE_HANDOFF, token, now,
                     &claims) != 0)
        return http_error(req, 401, NULL, "This sign-in link is invalid or "
                          "has expired; ask for a new one.");
    rc = spend_nonce(claims.nonce, claims.expires);
    if (rc == PD_ECONFLICT) {
        log_warn("refused a replayed sign-in link for %s", claims.subject);
        return http_error(req, 401, NULL, "This sign-in link was already "
                          "used; ask for a new one.");
    }
    if (rc != PD_OK)
        return rc;
    if (token_issue(cfg->app_secret, TOKEN_PURPOSE_SESSION, claims.subject,
                    now + (int64_t)cfg->session_ttl_hours * 3600, session,
                    sizeof(session)) != 0)
        return PD_ERR;
    set_session_cookie(req, session, (int64_t)cfg->session_ttl_hours * 3600);
    log_notice("opened a direct session for %s", claims.subject);
    return signed_in_page(req);
}

int
web_auth_logout(http_req *req)
{
    const char *cookie = http_cookie(req, GUARD_SESSION_COOKIE);
    struct token_claims claims;
    int n;
    const char *const *secrets = guard_secrets(&n);

    if (cookie != NULL &&
        token_verify(secrets, n, TOKEN_PURPOSE_SESSION, cookie,
                     pd_now_ms() / 1000, &claims) == 0) {
        int rc = spend_nonce(claims.nonce, claims.expires);

        if (rc != PD_OK && rc != PD_ECONFLICT)
            return rc;
    }
    set_session_cookie(req, "", 0);
    /* Directly (not through the shop's domain, whose storage is not
     * ours), the browser drops the saved pages and offline changes. */
    if (web_path_prefix(req)[0] == '\0')
        http_add_header(req, "Clear-Site-Data", "\"cache\", \"storage\"");
    guard_audit(req, "auth.logout", "session", NULL, 0, NULL);
    return http_respond(req, 200, "application/json",
                        "{\"signed_out\":true}\n", 20, false);
}

/*
 * A hand-off link for the staff member behind this (usually proxied)
 * request, to open printdesk directly, e.g. for large downloads.
 */
int
web_auth_direct_link(http_req *req)
{
    const struct config *cfg = web_app()->cfg;
    const struct staff *who = guard_staff(req);
    const char *host = http_header(req, "Host");
    char subject[96], token[TOKEN_BUF_LEN];
    pd_buf b;
    int rc;

    staff_actor(who, subject, sizeof(subject));
    if (token_issue(cfg->app_secret, TOKEN_PURPOSE_HANDOFF, subject,
                    pd_now_ms() / 1000 + HANDOFF_TTL_S, token,
                    sizeof(token)) != 0)
        return PD_ERR;
    buf_init(&b);
    buf_puts(&b, "{\"url\":\"");
    if (cfg->public_url[0] != '\0') {
        buf_json_escaped(&b, cfg->public_url);
        if (b.len > 0 && b.data[b.len - 1] == '/')
            b.data[--b.len] = '\0';
    } else {
        buf_puts(&b, cfg->local_mode ? "http://" : "https://");
        buf_json_escaped(&b, host ? host : "");
    }
    buf_printf(&b, "/auth/handoff?token=%s\",\"expires_in\":%d}\n", token,
               HANDOFF_TTL_S);
    rc = http_respond_json(req, 200, &b);
    buf_free(&b);
    return rc;
}
