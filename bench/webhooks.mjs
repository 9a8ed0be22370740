// webhooks.mjs — webhook throughput: orders/create deliveries with three
// photo line items, 20 in flight at a time, against a running printdesk.
// Prints deliveries/s and latency percentiles.
//   node bench/webhooks.mjs BASE_URL SECRET SHOP [COUNT]
import { createHmac, randomUUID } from 'node:crypto';

const [base, secret, shop, countText] = process.argv.slice(2);
const count = Number(countText || 2000);
const concurrency = 20;

function payload(i) {
  const id = 900000000000000000n + BigInt(i);
  const items = [0, 1, 2].map((p) => `{"id":${id * 10n + BigInt(p)},`
    + '"title":"Custom Pet Portrait","variant_title":"8x10 / Matte",'
    + '"quantity":1,"properties":[{"name":"_pd_session","value":"bench-'
    + `${i}"},{"name":"_pet_name","value":"Pet ${p}"}]}`).join(',');
  return `{"id":${id},"name":"#${50000 + i}","order_number":${50000 + i},`
    + '"created_at":"2026-11-30T09:00:00-05:00","updated_at":'
    + '"2026-11-30T09:00:00-05:00","financial_status":"paid",'
    + `"email":"bench${i}@example.com","customer":{"first_name":"B",`
    + `"last_name":"Ench","email":"bench${i}@example.com"},`
    + `"line_items":[${items}]}`;
}

async function one(i) {
  const body = payload(i);
  const t0 = process.hrtime.bigint();
  const res = await fetch(`${base}/webhooks/shopify`, {
    method: 'POST', body,
    headers: {
      'content-type': 'application/json',
      'x-shopify-topic': 'orders/create',
      'x-shopify-hmac-sha256': createHmac('sha256', secret).update(body)
        .digest('base64'),
      'x-shopify-shop-domain': shop,
      'x-shopify-api-version': '2025-10',
      'x-shopify-webhook-id': randomUUID(),
    },
  });
  await res.arrayBuffer();
  if (res.status !== 200) throw new Error(`delivery ${i}: ${res.status}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const latencies = [];
let next = 0;
const started = Date.now();
await Promise.all(Array.from({ length: concurrency }, async () => {
  while (next < count) latencies.push(await one(next++));
}));
const seconds = (Date.now() - started) / 1000;
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1,
  Math.floor(latencies.length * p))].toFixed(1);
console.log(`${(count / seconds).toFixed(0)} deliveries/s; p50 ${pct(0.5)} ms,`
  + ` p99 ${pct(0.99)} ms, max ${latencies.at(-1).toFixed(1)} ms`
  + ` (${count} deliveries, ${concurrency} at a time; aim p99 < 50 ms)`);
