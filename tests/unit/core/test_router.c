/* test_router.c — the router: literals, captures, rest captures, 404 and
 * 405 with the allowed methods, HEAD falling back to GET. */
#include "http/router.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static router *r;
static char scratch[512];
static struct router_params params;
static char allow[64];

static int
setup(void **state)
{
    r = router_new();
    assert_int_equal(router_add(r, "GET", "/"), 0);
    assert_int_equal(router_add(r, "GET", "/healthz"), 1);
    assert_int_equal(router_add(r, "GET", "/dashboard/orders/{order}"), 2);
    assert_int_equal(router_add(r, "POST", "/api/v1/orders/{order}/status"),
                     3);
    assert_int_equal(router_add(r, "GET", "/static/{path*}"), 4);
    assert_int_equal(router_add(r, "HEAD", "/api/v2/uploads/{id}"), 5);
    assert_int_equal(router_add(r, "PATCH", "/api/v2/uploads/{id}"), 6);
    assert_int_equal(router_add(r, "POST", "/_test/echo"), 7);
    return 0;
}

static int
teardown(void **state)
{
    router_free(r);
    return 0;
}

static int
match(const char *method, const char *path)
{
    return router_match(r, method, path, scratch, &params, allow,
                        sizeof(allow));
}

static void
test_literals(void **state)
{
    assert_int_equal(match("GET", "/"), 0);
    assert_int_equal(match("GET", "/healthz"), 1);
    assert_int_equal(match("POST", "/_test/echo"), 7);
    assert_int_equal(params.count, 0);
}

static void
test_capture(void **state)
{
    assert_int_equal(match("GET", "/dashboard/orders/1042"), 2);
    assert_int_equal(params.count, 1);
    assert_string_equal(params.names[0], "order");
    assert_string_equal(params.values[0], "1042");
    assert_int_equal(match("POST", "/api/v1/orders/77/status"), 3);
    assert_string_equal(params.values[0], "77");
}

static void
test_rest_capture(void **state)
{
    assert_int_equal(match("GET", "/static/css/app.3f2a.css"), 4);
    assert_string_equal(params.values[0], "css/app.3f2a.css");
    assert_int_equal(match("GET", "/static/"), ROUTER_NOT_FOUND);
    assert_int_equal(match("GET", "/static"), ROUTER_NOT_FOUND);
}

static void
test_not_found(void **state)
{
    assert_int_equal(match("GET", "/nope"), ROUTER_NOT_FOUND);
    assert_int_equal(match("GET", "/healthz/extra"), ROUTER_NOT_FOUND);
    assert_int_equal(match("GET", "/dashboard/orders"), ROUTER_NOT_FOUND);
    assert_int_equal(match("GET", "/dashboard/orders/"), ROUTER_NOT_FOUND);
    assert_int_equal(match("GET", "healthz"), ROUTER_NOT_FOUND);
    assert_int_equal(match("GET", "//healthz"), ROUTER_NOT_FOUND);
}

static void
test_method_not_allowed(void **state)
{
    assert_int_equal(match("DELETE", "/healthz"), ROUTER_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "GET, HEAD");
    assert_int_equal(match("GET", "/api/v2/uploads/abc"),
                     ROUTER_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "HEAD, PATCH");
    assert_int_equal(match("GET", "/_test/echo"), ROUTER_METHOD_NOT_ALLOWED);
    assert_string_equal(allow, "POST");
}

static void
test_head(void **state)
{
    assert_int_equal(match("HEAD", "/healthz"), 1);
    assert_int_equal(match("HEAD", "/static/a/b.js"), 4);
    assert_string_equal(params.values[0], "a/b.js");
    /* An explicit HEAD route wins over GET fallback. */
    assert_int_equal(match("HEAD", "/api/v2/uploads/xyz"), 5);
    assert_string_equal(params.values[0], "xyz");
}

static void
test_bad_patterns(void **state)
{
    router *bad = router_new();

    assert_int_equal(router_add(bad, "GET", "no-slash"), -1);
    assert_int_equal(router_add(bad, "GET", "/a/{rest*}/b"), -1);
    assert_int_equal(router_add(bad, "GET", "/a{b}"), -1);
    assert_int_equal(router_add(bad, "GET", "/ok"), 0);
    router_free(bad);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_literals),
        cmocka_unit_test(test_capture),
        cmocka_unit_test(test_rest_capture),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_method_not_allowed),
        cmocka_unit_test(test_head),
        cmocka_unit_test(test_bad_patterns),
    };

    return cmocka_run_group_tests(tests, setup, teardown);
}
