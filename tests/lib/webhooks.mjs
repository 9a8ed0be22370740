// webhooks.mjs — Shopify webhook deliveries for the tests: realistic order
// payloads (Shopify's documented orders/create sample, with the photo
// properties the storefront adds), signed with Shopify's own getHmac.
import { getHmac } from '@shopify/shopify-api/test-helpers';
import { randomUUID } from 'node:crypto';
import { SECRET, SHOP } from './shopify.mjs';

// Order ids in Shopify's samples exceed 2^53; keep them as text in JSON.
export function orderPayload({
  id = '820982911946154508', number = 9999, email = 'jon@example.com',
  updatedAt = '2026-11-30T10:00:00-05:00', session = 'sess-demo-1',
  images = [], cancelled = false, pets = 3,
} = {}) {
  const items = [];
  for (let i = 0; i < pets; i++) {
    const props = [
      { name: '_pd_session', value: session },
      { name: '_pet_name', value: ['Bella', 'Milo', 'Pickles'][i % 3] },
    ];
    if (images[i]) {
      props.push({ name: '_pd_original', value: images[i].original });
      props.push({ name: '_pd_processed', value: images[i].processed });
    }
    items.push(`{"id":${866550311766439000n + BigInt(i)},"admin_graphql_api_id":`
      + `"gid://shopify/LineItem/${866550311766439000n + BigInt(i)}",`
      + `"title":"Custom Pet Portrait","variant_title":"8x10 / Matte",`
      + `"quantity":1,"sku":"PET-8X10","fulfillment_status":null,`
      + `"properties":${JSON.stringify(props)}}`);
  }
  // Built as text so the 64-bit ids stay exact integers in the JSON.
  return `{"id":${id},"admin_graphql_api_id":"gid://shopify/Order/${id}",`
    + `"email":${JSON.stringify(email)},"name":"#${number}",`
    + `"order_number":${number},"number":${number - 1000},`
    + '"created_at":"2026-11-30T09:00:00-05:00",'
    + `"updated_at":${JSON.stringify(updatedAt)},`
    + `"cancelled_at":${cancelled ? '"2026-11-30T11:00:00-05:00"' : 'null'},`
    + '"financial_status":"paid","fulfillment_status":null,'
    + '"currency":"USD","total_price":"149.00","note":"Gift wrap please",'
    + '"tags":"rush","note_attributes":[],'
    + '"customer":{"id":115310627314723954,"email":'
    + `${JSON.stringify(email)},"first_name":"Jon","last_name":"Snow",`
    + '"phone":"+16135551212"},'
    + '"shipping_address":{"first_name":"Jon","last_name":"Snow",'
    + '"address1":"123 Winterfell Road","city":"Ottawa","province":"Ontario",'
    + '"country":"Canada","zip":"K2P 1L4","phone":"+16135551212"},'
    + `"line_items":[${items.join(',')}]}`;
}

export function deliveryHeaders(topic, body, {
  secret = SECRET, shop = SHOP, webhookId = randomUUID(),
} = {}) {
  return {
    'content-type': 'application/json',
    'x-shopify-topic': topic,
    'x-shopify-hmac-sha256': getHmac(body, secret),
    'x-shopify-shop-domain': shop,
    'x-shopify-api-version': '2025-10',
    'x-shopify-webhook-id': webhookId,
    'x-shopify-triggered-at': new Date().toISOString(),
  };
}

export async function deliver(baseUrl, topic, body, options = {}) {
  const started = Date.now();
  const res = await fetch(`${baseUrl}/webhooks/shopify`, {
    method: 'POST', body, headers: deliveryHeaders(topic, body, options),
  });
  return { res, ms: Date.now() - started };
}
