/*
 * guard.c — the front door of every route. Identifies the caller (App
 * Proxy signature, Shopify admin bearer token, or direct-session cookie),
 * finds them in the staff table, checks the route's least role, the CSRF
 * token of state-changing requests, and the rate limits; answers every
 * refusal with the right status, a log line and a metric. Also the audit
 * trail of staff actions.
 */
#include "auth/guard.h"
#include "auth/guard_setup.h"

#include "auth/jwt.h"
#include "auth/proxy_sig.h"
#include "auth/ratelimit.h"
#include "auth/token.h"
#include "common/err.h"
#include "common/util.h"
#include "db/db.h"
#include "obs/log.h"
#include "obs/metrics.h"

#include <stdio.h>
#include <string.h>

#define RATE_TRACKED_KEYS 10000

static struct {
    const struct config *cfg;
    const char *secrets[2];
    int nsecrets;
    ratelimit *staff_limit;
    ratelimit *public_limit;
    metrics_family *refusals;
} g;

int
guard_setup(const struct config *cfg)
{
    g.cfg = cfg;
    g.nsecrets = 0;
    g.secrets[g.nsecrets++] = cfg->app_secret;
    if (cfg->app_secret_previous[0] != '\0')
        g.secrets[g.nsecrets++] = cfg->app_secret_previous;
    g.staff_limit = ratelimit_new((int)cfg->staff_rate_per_minute,
                                  (int)cfg->staff_rate_per_minute,
                                  RATE_TRACKED_KEYS);
    g.public_limit = ratelimit_new((int)cfg->public_rate_per_minute,
                                   (int)cfg->public_rate_per_minute,
                                   RATE_TRACKED_KEYS);
    g.refusals = metrics_counter_family(
        "auth_refusals_total", "Requests refused at the front door, by "
        "reason.", "reason");
    return g.staff_limit && g.public_limit ? PD_OK : PD_ENOMEM;
}

void
guard_shutdown(void)
{
    ratelimit_free(g.staff_limit);
    ratelimit_free(g.public_limit);
    g.staff_limit = g.public_limit = NULL;
}

const char *const *
guard_secrets(int *n)
{
    *n = g.nsecrets;
    return g.secrets;
}

/* Logs, counts and answers one refusal. reason is a short metric label. */
static int
refuse(http_req *req, int status, const char *reason, const char *message)
{
    const struct http_route *rt = http_route_of(req);
    const char *labels[] = {reason};
    pd_buf f;

    buf_init(&f);
    buf_puts(&f, "\"reason\":");
    buf_json_string(&f, reason);
    buf_puts(&f, ",\"route\":");
    buf_json_string(&f, rt ? rt->pattern : "");
    buf_puts(&f, ",\"remoteIp\":");
    buf_json_string(&f, http_client_addr(req));
    log_write(LOG_WARNING, buf_cstr(&f), "refused %s %s: %s",
              http_method(req), http_path(req), reason);
    buf_free(&f);
    metrics_counter_add(g.refusals, labels, 1);
    http_refuse(req, status, NULL, message);
    return -1;
}

static int
refuse_rate(http_req *req, int retry_after)
{
    char seconds[16], message[96];

    snprintf(seconds, sizeof(seconds), "%d", retry_after);
    snprintf(message, sizeof(message), "Too many requests; try again in %d "
             "s.", retry_after);
    http_add_header(req, "Retry-After", seconds);
    return refuse(req, 429, "rate_limited", message);
}

/* ---- identifying the caller ---- */

/* The caller's kind and id from the App Proxy signature. */
static int
from_proxy(http_req *req, struct staff *who)
{
    struct proxy_request pr;
    int rc = proxy_verify(http_raw_query(req), g.secrets, g.nsecrets,
                          g.cfg->shop, pd_now_ms() / 1000, http_arena(req),
                          &pr);

    if (rc != 0)
        return refuse(req, 401, "bad_proxy_signature", proxy_reason(rc));
    if (pr.logged_in_customer_id == NULL ||
        pr.logged_in_customer_id[0] == '\0')
        return refuse(req, 403, "not_signed_in", "Sign in to your shop "
                      "account to use the fulfillment desk.");
    snprintf(who->id_kind, sizeof(who->id_kind), "customer");
    snprintf(who->external_id, sizeof(who->external_id), "%s",
             pr.logged_in_customer_id);
    who->via = VIA_PROXY;
    return 0;
}

static int
from_bearer(http_req *req, const char *token, struct staff *who)
{
    struct jwt_claims claims;
    int rc = jwt_verify_shopify(token, g.secrets, g.nsecrets,
                                g.cfg->api_key, g.cfg->shop,
                                pd_now_ms() / 1000, &claims);

    if (rc != 0) {
        http_add_header(req, "X-Shopify-Retry-Invalid-Session-Request", "1");
        return refuse(req, 401, "bad_bearer_token", jwt_reason(rc));
    }
    snprintf(who->id_kind, sizeof(who->id_kind), "admin_user");
    snprintf(who->external_id, sizeof(who->external_id), "%s", claims.sub);
    who->via = VIA_BEARER;
    return 0;
}

/* Splits a token subject "kind:id" into who. */
static int
subject_to_staff(const char *subject, struct staff *who)
{
    const char *colon = strchr(subject, ':');
    size_t klen = colon ? (size_t)(colon - subject) : 0;

    if (colon == NULL || klen == 0 || klen >= sizeof(who->id_kind) ||
        strlen(colon + 1) >= sizeof(who->external_id))
        return -1;
    memcpy(who->id_kind, subject, klen);
    who->id_kind[klen] = '\0';
    snprintf(who->external_id, sizeof(who->external_id), "%s", colon + 1);
    return 0;
}

/* True when the session's nonce was ended by a logout. */
static int
session_revoked(const char *nonce, bool *revoked)
{
    db *d = db_thread();
    int64_t n = 0;
    int rc;

    if (d == NULL)
        return PD_EUNAVAIL;
    rc = db_query_int(d, "SELECT COUNT(*) FROM used_tokens WHERE "
                         "token_id = ?", (db_arg[]){DB_TEXT(nonce)}, 1, &n);
    *revoked = n > 0;
    return rc;
}

static int
from_session(http_req *req, const char *cookie, struct staff *who)
{
    struct token_claims claims;
    bool revoked = false;
    int rc = token_verify(g.secrets, g.nsecrets, TOKEN_PURPOSE_SESSION,
                          cookie, pd_now_ms() / 1000, &claims);

    if (rc != 0)
        return refuse(req, 401, "bad_session", "Your session has ended; "
                      "open the desk from your shop again.");
    if (session_revoked(claims.nonce, &revoked) != PD_OK)
        return refuse(req, 503, "database_unavailable", "The desk cannot "
                      "check your session right now; try again shortly.");
    if (revoked || subject_to_staff(claims.subject, who) < 0)
        return refuse(req, 401, "session_ended", "You signed out; open "
                      "the desk from your shop again.");
    who->via = VIA_SESSION;
    return 0;
}

/*
 * Proxy signatures, bearer tokens and session cookies are the only ways
 * in; a request carrying none is refused.
 */
static int
identify(http_req *req, struct staff *who)
{
    const char *auth = http_header(req, "Authorization");
    const char *cookie = http_cookie(req, GUARD_SESSION_COOKIE);

    if (http_query(req, "signature") != NULL)
        return from_proxy(req, who);
    if (auth != NULL && strncmp(auth, "Bearer ", 7) == 0)
        return from_bearer(req, auth + 7, who);
    if (cookie != NULL)
        return from_session(req, cookie, who);
    return refuse(req, 401, "no_credentials", "Open the fulfillment desk "
                  "from your shop (/apps/fulfillment) to sign in.");
}

/* ---- checks once identified ---- */

static int
check_staff(http_req *req, int min_role, struct staff *who)
{
    struct staff row;
    db *d = db_thread();
    int rc;

    if (d == NULL)
        return refuse(req, 503, "database_unavailable", "The desk's "
                      "database is unavailable; try again shortly.");
    rc = staff_find_cached(d, who->id_kind, who->external_id, &row);
    if (rc == PD_ENOTFOUND || (rc == PD_OK && row.disabled))
        return refuse(req, 403, "not_staff", "This account is not on the "
                      "fulfillment desk's staff list.");
    if (rc != PD_OK)
        return refuse(req, 503, "database_unavailable", "The desk's "
                      "database is unavailable; try again shortly.");
    row.via = who->via;
    *who = row;
    if ((int)who->role < min_role) {
        char message[128];

        snprintf(message, sizeof(message), "This needs the %s role; you "
                 "are a %s.", staff_role_name((enum staff_role)min_role),
                 staff_role_name(who->role));
        return refuse(req, 403, "role_too_low", message);
    }
    return 0;
}

static bool
changes_state(const char *method)
{
    return strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0 &&
           strcmp(method, "OPTIONS") != 0;
}

/* Bearer tokens are not sent by browsers on their own: no CSRF there. */
static int
check_csrf(http_req *req, const struct staff *who)
{
    const char *token = http_header(req, "X-CSRF-Token");
    char identity[96];

    if (!changes_state(http_method(req)) || who->via == VIA_BEARER)
        return 0;
    staff_actor(who, identity, sizeof(identity));
    if (token == NULL)
        return refuse(req, 403, "csrf_missing", "This change needs the "
                      "page's CSRF token; reload the page and try again.");
    if (csrf_verify(g.secrets, g.nsecrets, identity, token,
                    pd_now_ms() / 1000) != 0)
        return refuse(req, 403, "csrf_invalid", "The page's CSRF token is "
                      "wrong or too old; reload the page and try again.");
    return 0;
}

int
guard_check(http_req *req, const struct http_route *route)
{
    struct staff who = {0}, *kept;
    char key[96];
    int retry = 0;

    if (route->flags & ROUTE_PUBLIC_LIMITED &&
        !ratelimit_take(g.public_limit, http_client_addr(req), pd_now_ms(),
                        &retry))
        return refuse_rate(req, retry);
    if (route->min_role == ROLE_PUBLIC)
        return 0;
    if (identify(req, &who) != 0 ||
        check_staff(req, route->min_role, &who) != 0 ||
        check_csrf(req, &who) != 0)
        return -1;
    snprintf(key, sizeof(key), "staff:%lld", (long long)who.id);
    if (!ratelimit_take(g.staff_limit, key, pd_now_ms(), &retry))
        return refuse_rate(req, retry);
    kept = arena_alloc(http_arena(req), sizeof(*kept));
    if (kept == NULL)
        return refuse(req, 500, "out_of_memory", "Out of memory.");
    *kept = who;
    http_set_identity(req, kept);
    return 0;
}

const struct staff *
guard_staff(http_req *req)
{
    return http_identity(req);
}

const char *
guard_csrf_token(http_req *req)
{
    const struct staff *who = guard_staff(req);
    char identity[96], *out;

    if (who == NULL)
        return NULL;
    staff_actor(who, identity, sizeof(identity));
    out = arena_alloc(http_arena(req), CSRF_TOKEN_LEN + 1);
    if (out == NULL || csrf_issue(g.secrets[0], identity,
                                  pd_now_ms() / 1000, out,
                                  CSRF_TOKEN_LEN + 1) != 0)
        return NULL;
    return out;
}

int
guard_audit(http_req *req, const char *action, const char *target_type,
            const char *target_id, int64_t order_id, const char *detail)
{
    const struct staff *who = guard_staff(req);
    char actor[96] = "anonymous";
    db *d = db_thread();

    if (who != NULL)
        staff_actor(who, actor, sizeof(actor));
    if (d == NULL)
        return PD_EUNAVAIL;
    return db_exec(d, "INSERT INTO audit_log (at, actor, action, "
                      "target_type, target_id, order_id, remote_addr, "
                      "detail) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                   (db_arg[]){DB_INT(pd_now_ms()), DB_TEXT(actor),
                              DB_TEXT(action), DB_TEXT(target_type),
                              DB_TEXT(target_id),
                              order_id > 0 ? DB_INT(order_id) : DB_NULL,
                              DB_TEXT(http_client_addr(req)),
                              DB_TEXT(detail)},
                   8, NULL);
}
