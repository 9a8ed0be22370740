/*
 * guard_setup.h — what the serve command and the auth routes need of the
 * guard beyond handlers: start-up, the hook the HTTP server calls, the
 * secrets in force and the session cookie's name.
 */
#ifndef PD_GUARD_SETUP_H
#define PD_GUARD_SETUP_H

#include "cli/config.h"
#include "http/http.h"

#define GUARD_SESSION_COOKIE "pd_session"
/* Token purposes: a key of its own each, so one never passes as another. */
#define TOKEN_PURPOSE_HANDOFF "handoff"
#define TOKEN_PURPOSE_SESSION "session"

/* Keeps cfg (which must outlive the server) and makes the limiters. */
int guard_setup(const struct config *cfg);
void guard_shutdown(void);
/* The http_guard_fn given to the server. */
int guard_check(http_req *req, const struct http_route *route);
/* The app secrets in force: the current one, then the previous one. */
const char *const *guard_secrets(int *n);

#endif
