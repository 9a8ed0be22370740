/* test_core.c — the pure helpers: arena, byte buffer and JSON escaping,
 * number and listen-address parsing, time formatting, and the metrics
 * exposition text. */
#include "cli/config.h"
#include "common/arena.h"
#include "common/err.h"
#include "common/util.h"
#include "obs/metrics.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

static void
test_arena_grows_and_aligns(void **state)
{
    arena *a = arena_new();
    char *big;

    assert_non_null(a);
    for (int i = 0; i < 1000; i++) {
        void *p = arena_alloc(a, (size_t)(i % 37) + 1);

        assert_non_null(p);
        assert_int_equal((uintptr_t)p % 16, 0);
    }
    big = arena_alloc(a, 1 << 20);
    assert_non_null(big);
    memset(big, 'x', 1 << 20);
    assert_string_equal(arena_printf(a, "%s-%d", "order", 1042),
                        "order-1042");
    assert_string_equal(arena_strndup(a, "abcdef", 3), "abc");
    assert_true(arena_used(a) >= (1 << 20));
    arena_free(a);
    arena_free(NULL);
}

static void
test_json_escaping(void **state)
{
    pd_buf b;

    buf_init(&b);
    buf_json_string(&b, "quote\" back\\ nl\n tab\t bell\a é");
    assert_string_equal(buf_cstr(&b),
                        "\"quote\\\" back\\\\ nl\\n tab\\t bell\\u0007 é\"");
    buf_reset(&b);
    buf_json_string(&b, NULL);
    assert_string_equal(buf_cstr(&b), "null");
    buf_free(&b);
}

static void
test_html_escaping(void **state)
{
    pd_buf b;

    buf_init(&b);
    buf_html_escaped(&b, "<a href=\"x\">Tom & 'Jerry'</a>");
    assert_string_equal(buf_cstr(&b), "&lt;a href=&quot;x&quot;&gt;Tom &amp; "
                                      "&#39;Jerry&#39;&lt;/a&gt;");
    buf_free(&b);
}

static void
test_buf_grows(void **state)
{
    pd_buf b;

    buf_init(&b);
    for (int i = 0; i < 10000; i++)
        buf_printf(&b, "%d,", i);
    assert_false(b.failed);
    assert_true(b.len > 40000);
    assert_memory_equal(b.data, "0,1,2,", 6);
    buf_free(&b);
}

static void
test_parse_i64(void **state)
{
    int64_t v;

    assert_int_equal(pd_parse_i64("8080", 0, 65535, &v), PD_OK);
    assert_int_equal(v, 8080);
    assert_int_equal(pd_parse_i64("9007199254740993", 0, INT64_MAX, &v),
                     PD_OK);
    assert_true(v == 9007199254740993LL);
    assert_int_equal(pd_parse_i64("65536", 0, 65535, &v), PD_EINVAL);
    assert_int_equal(pd_parse_i64("", 0, 10, &v), PD_EINVAL);
    assert_int_equal(pd_parse_i64("12x", 0, 100, &v), PD_EINVAL);
    assert_int_equal(pd_parse_i64(" 1", 0, 100, &v), PD_EINVAL);
    assert_int_equal(pd_parse_i64("+1", 0, 100, &v), PD_EINVAL);
    assert_int_equal(pd_parse_i64("99999999999999999999", 0, INT64_MAX, &v),
                     PD_EINVAL);
}

static void
test_parse_listen(void **state)
{
    char host[64];
    int port;

    assert_int_equal(config_parse_listen("0.0.0.0:8080", host, 64, &port),
                     0);
    assert_string_equal(host, "0.0.0.0");
    assert_int_equal(port, 8080);
    assert_int_equal(config_parse_listen("[::1]:9000", host, 64, &port), 0);
    assert_string_equal(host, "::1");
    assert_int_equal(port, 9000);
    assert_int_equal(config_parse_listen(":7000", host, 64, &port), 0);
    assert_string_equal(host, "127.0.0.1");
    assert_int_equal(config_parse_listen("7001", host, 64, &port), 0);
    assert_int_equal(port, 7001);
    assert_int_equal(config_parse_listen("host:70000", host, 64, &port), -1);
    assert_int_equal(config_parse_listen("host:", host, 64, &port), -1);
    assert_int_equal(config_parse_listen("host:http", host, 64, &port), -1);
}

static void
test_format_time(void **state)
{
    char out[40];

    pd_format_time(out, 0);
    assert_string_equal(out, "1970-01-01T00:00:00.000Z");
    pd_format_time(out, 1796400000123LL);
    assert_string_equal(out, "2026-12-04T16:00:00.123Z");
}

static void
test_parse_iso_time(void **state)
{
    int64_t ms = 0;

    /* Shopify's form: strict. */
    assert_int_equal(pd_parse_iso_time("2008-01-10T11:00:00.123-05:00", true,
                                       &ms), PD_OK);
    assert_int_equal(ms, 1199980800123LL);
    assert_int_equal(pd_parse_iso_time("2008-01-10T16:00:00Z", true, &ms),
                     PD_OK);
    assert_int_equal(ms, 1199980800000LL);
    assert_int_equal(pd_parse_iso_time("2008-01-10T16:00:00", true, &ms),
                     PD_EINVAL);
    assert_int_equal(pd_parse_iso_time("2008-01-10T16:00Z", true, &ms),
                     PD_EINVAL);
    assert_int_equal(pd_parse_iso_time("2008-01-10", true, &ms), PD_EINVAL);
    assert_int_equal(pd_parse_iso_time("2008-04-31T00:00:00Z", true, &ms),
                     PD_EINVAL);
    assert_int_equal(pd_parse_iso_time(NULL, true, &ms), PD_EINVAL);
    /* Lenient: what older systems wrote. */
    assert_int_equal(pd_parse_iso_time("2008-01-10 16:00", false, &ms),
                     PD_OK);
    assert_int_equal(ms, 1199980800000LL);
    assert_int_equal(pd_parse_iso_time("2008-01-10", false, &ms), PD_OK);
    assert_int_equal(ms, 1199923200000LL);
    assert_int_equal(pd_parse_iso_time("2008-01-10 17:00:00,5 +01", false,
                                       &ms), PD_OK);
    assert_int_equal(ms, 1199980800500LL);
    assert_int_equal(pd_parse_iso_time("2008-01-10 16:00:00 UTC", false,
                                       &ms), PD_OK);
    assert_int_equal(ms, 1199980800000LL);
    assert_int_equal(pd_parse_iso_time("2008-01-10 16:00 PST", false, &ms),
                     PD_EINVAL);
}

static void
test_metrics_exposition(void **state)
{
    int route = metrics_route_register("/api/v1/orders/{order}");
    metrics_family *f = metrics_counter_family(
        "webhook_deliveries_total", "Webhook deliveries by outcome.",
        "topic,result");
    const char *labels[] = {"orders/create", "ok \"quoted\""};
    pd_buf b;

    assert_true(route >= 0);
    metrics_http_done(route, "GET", 200, 0.003);
    metrics_http_done(route, "GET", 200, 0.3);
    metrics_http_done(route, "POST", 418, 0.001);
    metrics_counter_add(f, labels, 2);
    metrics_counter_add(f, labels, 1);
    buf_init(&b);
    metrics_render(&b);
    assert_non_null(strstr(buf_cstr(&b),
        "http_requests_total{route=\"/api/v1/orders/{order}\",method=\"GET\","
        "status=\"200\"} 2\n"));
    assert_non_null(strstr(buf_cstr(&b),
        "method=\"POST\",status=\"other\"} 1\n"));
    assert_non_null(strstr(buf_cstr(&b),
        "dashboard_request_duration_seconds_bucket{route=\"/api/v1/orders/"
        "{order}\",le=\"0.005\"} 2\n"));
    assert_non_null(strstr(buf_cstr(&b),
        "dashboard_request_duration_seconds_bucket{route=\"/api/v1/orders/"
        "{order}\",le=\"0.5\"} 3\n"));
    assert_non_null(strstr(buf_cstr(&b),
        "dashboard_request_duration_seconds_count{route=\"/api/v1/orders/"
        "{order}\"} 3\n"));
    assert_non_null(strstr(buf_cstr(&b),
        "webhook_deliveries_total{topic=\"orders/create\","
        "result=\"ok \\\"quoted\\\"\"} 3\n"));
    assert_non_null(strstr(buf_cstr(&b),
        "# TYPE webhook_deliveries_total counter\n"));
    buf_free(&b);
    metrics_shutdown();
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_arena_grows_and_aligns),
        cmocka_unit_test(test_json_escaping),
        cmocka_unit_test(test_html_escaping),
        cmocka_unit_test(test_buf_grows),
        cmocka_unit_test(test_parse_i64),
        cmocka_unit_test(test_parse_listen),
        cmocka_unit_test(test_format_time),
        cmocka_unit_test(test_parse_iso_time),
        cmocka_unit_test(test_metrics_exposition),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
