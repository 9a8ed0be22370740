/*
 * wh_tests.h — what the webhooks test files share: the data key and
 * environment, a realistic orders payload built from Shopify's sample,
 * images uploaded before the order, and the inbox and HTTP cases.
 */
#ifndef PD_TEST_WH_TESTS_H
#define PD_TEST_WH_TESTS_H

#include "../db/db_env.h"

#include "webhooks/webhooks_internal.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WH_SHOP "perkieprints.myshopify.com"
#define WH_SECRET "hush-webhook-test-secret"
#define WH_ORDER_ID 820982911946154508LL /* above 2^53 */
#define WH_ORDER_EMAIL "jon@example.com"

/* The keys and environment every case uses (loaded once in main). */
extern pii_keys *wh_keys;
extern struct webhook_env wh_env;

/* What varies between deliveries of the sample order. */
struct wh_sample {
    int64_t id;              /* 0: WH_ORDER_ID */
    const char *name;        /* NULL: "#9999" */
    int number;              /* 0: 1234 */
    const char *updated_at;  /* NULL: 2024-03-12T10:15:30-04:00 */
    const char *cancelled_at;      /* NULL: null */
    const char *fulfillment;       /* NULL: null */
    const char *financial;         /* NULL: "paid" */
    const char *note;              /* NULL: "Please hurry" */
};

/* The payload as JSON text (heap; free it). */
char *wh_order_json(const struct wh_sample *s);
/* The images the sample's line items name, uploaded before the order. */
void wh_add_images(db *d);

/* Per-test fixtures: a migrated database and the webhook environment. */
int wh_setup(void **state);
int wh_teardown(void **state);

/* A text column of one row ("" when NULL); fails when there is none. */
void wh_text(db *d, const char *sql, const db_arg *args, int n, char *out,
             size_t len);
/* True when needle occurs in the n bytes at hay. */
bool wh_contains(const void *hay, size_t n, const char *needle);

/* The inbox and HTTP cases (test_inbox.c). */
void test_pending_applies_waiting_rows(void **state);
void test_http_delivery(void **state);
void test_http_refusals(void **state);
void test_http_failed_and_ignored(void **state);
void test_http_concurrent(void **state);
int wh_http_setup(void **state);
int wh_http_teardown(void **state);
/* Once per program: the app secret in force for guard_secrets(). */
void wh_guard_init(void);

#endif
