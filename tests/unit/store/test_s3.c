/*
 * test_s3.c — the pure parts of the S3 backend: which storage URLs are
 * accepted, the XML reading of S3's answers (elements, entities,
 * character references, CDATA, comments), escaping for the bodies we
 * send, listing times and SigV4's URI encoding.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "common/err.h"
#include "common/util.h"
#include "store/s3_http.h"
#include "store/s3_xml.h"
#include "store/store.h"

#include <stdlib.h>
#include <string.h>

static struct s3_xml
doc_of(const char *s)
{
    return (struct s3_xml){s, s + strlen(s)};
}

static void
test_urls(void **state)
{
    static const char *const good[] = {
        "s3://photos",
        "s3://photos?endpoint=http://127.0.0.1:9000&region=us-east-1",
        "s3://my.bucket-1?region=eu-west-3",
        "s3://photos?endpoint=https%3A%2F%2Fminio.local%3A9000%2F",
        "s3://photos?endpoint=http://[::1]:9000",
        "s3://photos?multipart_threshold=5242880&list_page=3",
        "s3://photos?list_page=1000&multipart_threshold=5368709120",
        "gs://pet-photos", "gs://pet_photos.prod?multipart_threshold=8388608",
    };
    static const char *const bad[] = {
        "s3://", "s3://ab", "s3://Photos", "s3://-photos", "s3://photos-",
        "s3://pho tos", "s3://photos/key", "s3://photos?",
        "s3://photos?endpoint=ftp://x", "s3://photos?endpoint=http://",
        "s3://photos?endpoint=http://h/path", "s3://photos?endpoint=http://u@h",
        "s3://photos?region=US", "s3://photos?region=",
        "s3://photos?region=a&region=b", "s3://photos?nope=1",
        "s3://photos?multipart_threshold=1024",
        "s3://photos?multipart_threshold=5368709121",
        "s3://photos?list_page=0", "s3://photos?list_page=1001",
        "s3://photos?list_page=x", "s3://photos?endpoint",
        "s3://photos?endpoint=http://h%00", "s3://photos?endpoint=http://h%2",
        "gs://", "gs://a", "s3:photos", "s3//photos",
        "s3://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        if (!store_url_valid(good[i]))
            fail_msg("%s should be a valid storage URL", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        if (store_url_valid(bad[i]))
            fail_msg("%s should not be a valid storage URL", bad[i]);
}

static void
test_open_needs_keys(void **state)
{
    char err[256];
    store *s = (store *)1;

    (void)state;
    unsetenv("AWS_ACCESS_KEY_ID");
    setenv("AWS_SECRET_ACCESS_KEY", "x", 1);
    assert_int_equal(store_open("s3://photos", &s, err, sizeof(err)),
                     PD_EINVAL);
    assert_null(s);
    assert_non_null(strstr(err, "AWS_ACCESS_KEY_ID"));
    assert_int_equal(store_open("s3://photos?list_page=0", &s, err,
                                sizeof(err)), PD_EINVAL);
    assert_non_null(strstr(err, "storage URL"));
    unsetenv("AWS_SECRET_ACCESS_KEY");
}

static void
test_xml_elements(void **state)
{
    const char *xml =
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
        "<!-- <Contents><Key>comment</Key></Contents> -->"
        "<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
        "<Name>b</Name><KeyCount>2</KeyCount>"
        "<Contents><Key>a/1</Key><Size>10</Size></Contents>"
        "<Contents ><Key>a/&lt;2&gt;</Key><Size>0</Size><Owner><ID>x</ID>"
        "</Owner></Contents >"
        "<Contents/>"
        "<Keys>not a key</Keys>"
        "<IsTruncated>true</IsTruncated>"
        "<NextContinuationToken>1ab/+=</NextContinuationToken>"
        "</ListBucketResult>";
    struct s3_xml doc = doc_of(xml), scan = doc, item;
    char out[64];
    int n = 0;

    (void)state;
    assert_true(s3_xml_root_is(&doc, "ListBucketResult"));
    assert_false(s3_xml_root_is(&doc, "Error"));
    while (s3_xml_next(&scan, "Contents", &item)) {
        int len = s3_xml_text(&item, "Key", out, sizeof(out));

        if (n == 0)
            assert_string_equal(out, "a/1");
        else if (n == 1)
            assert_string_equal(out, "a/<2>");
        else
            assert_int_equal(len, -1);
        n++;
    }
    assert_int_equal(n, 3);
    assert_int_equal(s3_xml_text(&doc, "NextContinuationToken", out,
                                 sizeof(out)), 6);
    assert_string_equal(out, "1ab/+=");
    assert_int_equal(s3_xml_text(&doc, "Key", out, sizeof(out)), 3);
    assert_int_equal(s3_xml_text(&doc, "Nope", out, sizeof(out)), -1);
    assert_string_equal(out, "");

    /* A document that ends inside an element has no such element. */
    doc = doc_of("<Error><Code>SlowDown</Code><Message>cut off");
    assert_true(s3_xml_root_is(&doc, "Error"));
    assert_int_equal(s3_xml_text(&doc, "Message", out, sizeof(out)), -1);
    assert_int_equal(s3_xml_text(&doc, "Code", out, sizeof(out)), 8);
}

static void
test_xml_text(void **state)
{
    char out[64], small[4];
    struct s3_xml t;

    (void)state;
    t = doc_of("&lt;&gt;&amp;&quot;&apos; &#65;&#x42;&#x263a;&#128512;");
    assert_int_equal(s3_xml_decode(&t, out, sizeof(out)), 15);
    assert_string_equal(out, "<>&\"' AB\xe2\x98\xba\xf0\x9f\x98\x80");
    t = doc_of("a<![CDATA[<b>&amp;]]>c");
    assert_true(s3_xml_decode(&t, out, sizeof(out)) > 0);
    assert_string_equal(out, "a<b>&amp;c");

    static const char *const broken[] = {
        "&nope;", "&amp", "&#0;", "&#xD800;", "&#x110000;", "&#12a;",
        "a<b", "&#;", "&#x;", "<![CDATA[open",
    };
    for (size_t i = 0; i < sizeof(broken) / sizeof(broken[0]); i++) {
        t = doc_of(broken[i]);
        if (s3_xml_decode(&t, out, sizeof(out)) != -1)
            fail_msg("%s should not decode", broken[i]);
    }
    t = doc_of("abcd");
    assert_int_equal(s3_xml_decode(&t, small, sizeof(small)), -1);
    t = doc_of("abc");
    assert_int_equal(s3_xml_decode(&t, small, sizeof(small)), 3);
}

static void
test_xml_escape_and_time(void **state)
{
    pd_buf b;
    int64_t ms = 0;

    (void)state;
    buf_init(&b);
    s3_xml_escape(&b, "\"etag\"&<x>'");
    assert_string_equal(buf_cstr(&b),
                        "&quot;etag&quot;&amp;&lt;x&gt;&apos;");
    buf_free(&b);
    assert_true(s3_xml_time("2024-06-01T12:30:05.123Z", &ms));
    assert_int_equal(ms, 1717245005123LL);
    assert_true(s3_xml_time("2024-06-01T12:30:05Z", &ms));
    assert_int_equal(ms, 1717245005000LL);
    assert_true(s3_xml_time("1970-01-01T00:00:00.5Z", &ms));
    assert_int_equal(ms, 500);
    assert_false(s3_xml_time("2024-06-01 12:30:05Z", &ms));
    assert_false(s3_xml_time("2024-06-01T12:30:05", &ms));
    assert_false(s3_xml_time("2024-13-01T12:30:05Z", &ms));
    assert_false(s3_xml_time("2024-06-01T12:30:05Zjunk", &ms));
}

static void
test_uri_encode(void **state)
{
    pd_buf b;

    (void)state;
    buf_init(&b);
    s3_uri_encode(&b, "a/b c+d=e~f_g.h-i%\xc3\xa9", true);
    assert_string_equal(buf_cstr(&b), "a/b%20c%2Bd%3De~f_g.h-i%25%C3%A9");
    buf_reset(&b);
    s3_uri_encode(&b, "a/b", false);
    assert_string_equal(buf_cstr(&b), "a%2Fb");
    buf_free(&b);
}

int
main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_urls),
        cmocka_unit_test(test_open_needs_keys),
        cmocka_unit_test(test_xml_elements),
        cmocka_unit_test(test_xml_text),
        cmocka_unit_test(test_xml_escape_and_time),
        cmocka_unit_test(test_uri_encode),
    };

    return cmocka_run_group_tests_name("s3", tests, NULL, NULL);
}
