/*
 * wh_fixture.c — the webhooks tests' fixtures: the data key, a realistic
 * orders payload (Shopify's documented sample order, extended with the
 * storefront's photo properties) and the photos uploaded before it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "wh_tests.h"

#include "common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

pii_keys *wh_keys;
struct webhook_env wh_env;

/*
 * Four line items: two with photos named by id (one of them not uploaded
 * yet), one with only a pet name (the order's session is the fallback),
 * and one that is not a photo product at all.
 */
static const char line_items[] =
    "[{\"id\":866550311766439020,\"admin_graphql_api_id\":"
    "\"gid:\\/\\/shopify\\/LineItem\\/866550311766439020\","
    "\"fulfillable_quantity\":1,\"fulfillment_service\":\"manual\","
    "\"fulfillment_status\":null,\"gift_card\":false,\"grams\":200,"
    "\"name\":\"Custom Pet Portrait - 8x10 \\/ Matte\",\"price\":\"149.00\","
    "\"product_exists\":true,\"product_id\":632910392,"
    "\"properties\":[{\"name\":\"_pd_session\",\"value\":\"sess-abc\"},"
    "{\"name\":\"_pd_original\",\"value\":\"img-orig-1\"},"
    "{\"name\":\"_pd_processed\",\"value\":\"img-proc-1\"},"
    "{\"name\":\"_pet_name\",\"value\":\"Biscuit\"}],"
    "\"quantity\":1,\"requires_shipping\":true,\"sku\":\"PORTRAIT-8x10\","
    "\"taxable\":true,\"title\":\"Custom Pet Portrait\",\"total_discount\":"
    "\"0.00\",\"variant_id\":808950810,\"variant_title\":\"8x10 \\/ Matte\","
    "\"vendor\":null,\"tax_lines\":[],\"duties\":[],"
    "\"discount_allocations\":[]},"
    "{\"id\":141249953214522974,\"fulfillable_quantity\":2,"
    "\"fulfillment_status\":null,\"name\":\"Custom Pet Portrait - 11x14\","
    "\"price\":\"99.00\",\"product_id\":632910392,"
    "\"properties\":[{\"name\":\"_pd_session\",\"value\":\"sess-def\"},"
    "{\"name\":\"_pd_original\",\"value\":\"img-orig-2\"},"
    "{\"name\":\"_pd_processed\",\"value\":\"img-proc-later\"},"
    "{\"name\":\"_pet_name\",\"value\":\"Mochi \\u00e9t\\u00e9\"},"
    "{\"name\":\"_print_size\",\"value\":\"12 x 16\"},"
    "{\"name\":\"Gift message\",\"value\":\"Happy birthday\"}],"
    "\"quantity\":2,\"sku\":\"PORTRAIT-11x14\",\"title\":"
    "\"Custom Pet Portrait\",\"variant_id\":808950811,\"variant_title\":"
    "\"11x14 \\/ Glossy\",\"vendor\":null,\"tax_lines\":[]},"
    "{\"id\":1000000000000000003,\"fulfillment_status\":null,"
    "\"name\":\"Pet Mug\",\"price\":\"25.00\",\"product_id\":null,"
    "\"properties\":[{\"name\":\"_pet_name\",\"value\":\"Pepper\"}],"
    "\"quantity\":1,\"sku\":\"MUG\",\"title\":\"Pet Mug\","
    "\"variant_id\":null,\"variant_title\":\"Default Title\"},"
    "{\"id\":1000000000000000004,\"name\":\"Gift wrap\",\"price\":\"5.00\","
    "\"properties\":[],\"quantity\":1,\"title\":\"Gift wrap\","
    "\"variant_title\":null}]";

char *
wh_order_json(const struct wh_sample *s)
{
    long long id = s->id != 0 ? (long long)s->id : WH_ORDER_ID;
    char note[200];
    pd_buf b;

    snprintf(note, sizeof(note), "\"%s\"", s->note ? s->note : "Please hurry");
    buf_init(&b);
    buf_printf(&b,
        "{\"id\":%lld,\"admin_graphql_api_id\":\"gid:\\/\\/shopify\\/Order\\/"
        "%lld\",\"app_id\":null,\"browser_ip\":null,"
        "\"buyer_accepts_marketing\":true,\"cancel_reason\":null,"
        "\"cancelled_at\":%s,\"cart_token\":null,\"checkout_id\":null,"
        "\"closed_at\":null,\"confirmed\":false,\"contact_email\":"
        "\"" WH_ORDER_EMAIL "\",\"created_at\":\"2024-03-12T10:15:30-04:00\","
        "\"currency\":\"USD\",\"current_subtotal_price\":\"398.00\","
        "\"customer_locale\":\"en\",\"email\":\"" WH_ORDER_EMAIL "\","
        "\"financial_status\":\"%s\",\"fulfillment_status\":%s,"
        "\"landing_site\":null,\"name\":\"%s\",\"note\":%s,"
        "\"note_attributes\":[{\"name\":\"_pd_session\",\"value\":"
        "\"sess-xyz\"},{\"name\":\"gift\",\"value\":\"no\"}],"
        "\"number\":234,\"order_number\":%d,\"order_status_url\":"
        "\"https:\\/\\/jsmith.myshopify.com\\/548380009\\/orders\\/123456abcd"
        "\\/authenticate?key=abcdefg\",\"phone\":null,"
        "\"presentment_currency\":\"USD\",\"tags\":\"Rush, VIP\","
        "\"test\":true,\"total_price\":\"403.00\",\"updated_at\":\"%s\","
        "\"user_id\":null,\"billing_address\":{\"first_name\":\"Bob\","
        "\"address1\":\"123 Billing Street\",\"phone\":\"555-555-BILL\","
        "\"city\":\"Billtown\",\"zip\":\"K2P0B0\",\"province\":\"Kentucky\","
        "\"country\":\"United States\",\"last_name\":\"Biller\","
        "\"address2\":null,\"company\":\"My Company\",\"latitude\":null,"
        "\"longitude\":null,\"name\":\"Bob Biller\",\"country_code\":\"US\","
        "\"province_code\":\"KY\"},\"customer\":{\"id\":115310627314723954,"
        "\"email\":\"john@example.com\",\"created_at\":null,"
        "\"updated_at\":null,\"first_name\":\"John\",\"last_name\":\"Smith\","
        "\"state\":\"disabled\",\"note\":null,\"verified_email\":true,"
        "\"phone\":null,\"tags\":\"\",\"currency\":\"USD\","
        "\"admin_graphql_api_id\":\"gid:\\/\\/shopify\\/Customer\\/"
        "115310627314723954\"},\"discount_applications\":[],"
        "\"fulfillments\":[],\"line_items\":%s,\"payment_terms\":null,"
        "\"refunds\":[],\"shipping_address\":{\"first_name\":\"Steve\","
        "\"address1\":\"123 Shipping Street\",\"phone\":\"555-555-SHIP\","
        "\"city\":\"Shippington\",\"zip\":\"40003\",\"province\":"
        "\"Kentucky\",\"country\":\"United States\",\"last_name\":"
        "\"Shipper\",\"address2\":null,\"company\":\"Shipping Company\","
        "\"latitude\":null,\"longitude\":null,\"name\":\"Steve Shipper\","
        "\"country_code\":\"US\",\"province_code\":\"KY\"},"
        "\"shipping_lines\":[{\"id\":271878346596884015,\"carrier_identifier\""
        ":null,\"code\":null,\"discounted_price\":\"10.00\",\"price\":"
        "\"10.00\",\"source\":\"shopify\",\"title\":\"Generic Shipping\","
        "\"tax_lines\":[]}]}",
        id, id, s->cancelled_at ? s->cancelled_at : "null",
        s->financial ? s->financial : "paid",
        s->fulfillment ? s->fulfillment : "null",
        s->name ? s->name : "#9999", note, s->number ? s->number : 1234,
        s->updated_at ? s->updated_at : "2024-03-12T10:15:30-04:00",
        line_items);
    assert_false(b.failed);
    return b.data;
}

static void
add_image(db *d, const char *id, const char *session, const char *kind,
          int64_t created_at)
{
    env_exec_ok(d, "INSERT INTO images (id, session_id, kind, object_key, "
                   "tier, bytes, sha256, created_at) "
                   "VALUES (?, ?, ?, ?, 'temporary', 1000, ?, ?)",
                (db_arg[]){DB_TEXT(id), DB_TEXT(session), DB_TEXT(kind),
                           DB_TEXT(id), DB_TEXT(id), DB_INT(created_at)}, 6);
}

void
wh_add_images(db *d)
{
    add_image(d, "img-orig-1", "sess-abc", "original", 100);
    add_image(d, "img-proc-1", "sess-abc", "processed", 110);
    /* Same session, named by no property: stays temporary. */
    add_image(d, "img-other", "sess-abc", "original", 120);
    add_image(d, "img-orig-2", "sess-def", "original", 130);
    /* The order's session: the newest original and processed count. */
    add_image(d, "xyz-o-old", "sess-xyz", "original", 100);
    add_image(d, "xyz-o-new", "sess-xyz", "original", 200);
    add_image(d, "xyz-p", "sess-xyz", "processed", 150);
}

int
wh_setup(void **state)
{
    if (env_setup_migrated(state) != 0)
        return -1;
    wh_env = (struct webhook_env){.store = NULL, .keys = wh_keys,
                                  .shop = WH_SHOP};
    webhooks_setup(&wh_env);
    return 0;
}

int
wh_teardown(void **state)
{
    return env_teardown(state);
}

void
wh_text(db *d, const char *sql, const db_arg *args, int n, char *out,
        size_t len)
{
    db_rows *r = NULL;
    int rc = db_query(d, sql, args, n, &r);

    if (rc != 0)
        print_error("%s -> %d: %s\n", sql, rc, db_errmsg(d));
    assert_int_equal(rc, 0);
    assert_int_equal(db_step(r), 1);
    snprintf(out, len, "%s", db_col_text(r, 0));
    db_rows_free(r);
}

bool
wh_contains(const void *hay, size_t n, const char *needle)
{
    return hay != NULL && memmem(hay, n, needle, strlen(needle)) != NULL;
}
