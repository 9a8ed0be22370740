// webhooks.test.mjs — orders arrive from Shopify webhooks: verified over
// the raw bytes with Shopify's own signing helper, stored before they are
// answered, applied once, linked to uploaded photos, with customer data
// encrypted at rest and the privacy webhooks honoured.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { BACKEND, BIN, freshState, startServer } from '../lib/server.mjs';
import { API_KEY, DATA_KEY, SECRET, SHOP } from '../lib/shopify.mjs';
import { deliver, orderPayload } from '../lib/webhooks.mjs';

const ENV = {
  SHOPIFY_SHOP: SHOP, SHOPIFY_APP_SECRET: SECRET, SHOPIFY_API_KEY: API_KEY,
  PRINTDESK_DATA_KEY: DATA_KEY,
};
const STAFF = '2001';
let state, server, cookie;

function sql(query) {
  const out = BACKEND === 'postgres'
    ? execFileSync('psql', [state.databaseUrl, '-qAtF|', '-c', query])
    : execFileSync('sqlite3', ['-separator', '|',
      state.databaseUrl.slice('sqlite:'.length), query]);
  return out.toString().trim().split('\n').filter(Boolean)
    .map((l) => l.split('|'));
}
const count = (query) => Number(sql(query)[0][0]);

function cli(...args) {
  return execFileSync(BIN, args, {
    env: { ...process.env, ...ENV, DATABASE_URL: state.databaseUrl,
      PRINTDESK_DATA_DIR: join(state.dir, 'data') },
  }).toString();
}

// Photos "uploaded earlier" under a session: stored objects and their rows
// in the temporary tier, as the upload endpoint leaves them.
function uploadPhotos(session, n) {
  const images = [];
  for (let i = 0; i < n; i++) {
    const pair = {};
    for (const kind of ['original', 'processed']) {
      const id = `img_${session}_${i}_${kind[0]}`;
      const key = `temporary/${session}/${id}.${kind === 'original'
        ? 'jpg' : 'png'}`;
      const bytes = Buffer.from(`${kind} photo ${i} of ${session}`);
      mkdirSync(join(state.dir, 'objects', 'temporary', session),
        { recursive: true });
      writeFileSync(join(state.dir, 'objects', key), bytes);
      const sha = createHash('sha256').update(bytes).digest('hex');
      sql(`INSERT INTO images (id, session_id, kind, object_key, tier, bytes,
        sha256, created_at) VALUES ('${id}', '${session}', '${kind}',
        '${key}', 'temporary', ${bytes.length}, '${sha}', ${Date.now()})`);
      pair[kind] = id;
    }
    images.push(pair);
  }
  return images;
}

before(async () => {
  state = freshState();
  server = await startServer({ state, env: ENV });
  cli('staff', 'add', STAFF, '--role', 'admin');
  const link = cli('login-url', '--customer', STAFF, '--base', server.url)
    .trim();
  cookie = (await fetch(link)).headers.get('set-cookie').split(';')[0];
});

after(async () => {
  assert.deepEqual(await server.stop(), { code: 0, signal: null });
  state.cleanup();
});

async function findOrders(q) {
  const res = await fetch(`${server.url}/api/v1/orders?q=${
    encodeURIComponent(q)}`, { headers: { cookie } });
  assert.equal(res.status, 200);
  return (await res.json()).orders;
}

test('a signed orders/create makes an order linked to its session\'s photos',
  async () => {
    const images = uploadPhotos('sess-a', 3);
    const body = orderPayload({ session: 'sess-a', images });
    const { res, ms } = await deliver(server.url, 'orders/create', body);
    assert.equal(res.status, 200, await res.text());
    assert.ok(ms < 5000);
    const [order] = await findOrders('9999');
    assert.equal(order.name, '#9999');
    assert.equal(order.status, 'pending');
    assert.equal(order.pets.length, 3);
    assert.deepEqual(order.pets.map((p) => p.name).sort(),
      ['Bella', 'Milo', 'Pickles']);
    assert.equal(count(`SELECT COUNT(*) FROM orders
      WHERE shopify_id = 820982911946154508`), 1, 'id beyond 2^53 exact');
    const tiers = sql(`SELECT DISTINCT tier FROM images
      WHERE session_id = 'sess-a'`).map(([t]) => t);
    assert.deepEqual(tiers, ['order_pending']);
    assert.equal(count(`SELECT COUNT(*) FROM pets WHERE original_image_id
      IS NOT NULL AND processed_image_id IS NOT NULL`), 3);
  });

test('a one-byte change, a changed signature or re-serialised JSON is 401 '
  + 'and stores nothing', async () => {
  const before = count('SELECT COUNT(*) FROM webhook_inbox');
  const body = orderPayload({ id: '820982911946154600', number: 10001 });
  const { deliveryHeaders } = await import('../lib/webhooks.mjs');
  const headers = deliveryHeaders('orders/create', body);
  const post = (b, h) => fetch(`${server.url}/webhooks/shopify`,
    { method: 'POST', body: b, headers: h });
  const changed = body.replace('"#10001"', '"#10002"');
  assert.equal((await post(changed, headers)).status, 401);
  const badSig = { ...headers, 'x-shopify-hmac-sha256':
    headers['x-shopify-hmac-sha256'].replace(/^./, (c) => (c === 'A'
      ? 'B' : 'A')) };
  assert.equal((await post(body, badSig)).status, 401);
  const spaced = body.replace(/,"/g, ', "');
  assert.equal((await post(spaced, headers)).status, 401);
  const noHmac = { ...headers };
  delete noHmac['x-shopify-hmac-sha256'];
  assert.equal((await post(body, noHmac)).status, 401);
  const otherShop = (await import('../lib/webhooks.mjs'))
    .deliveryHeaders('orders/create', body, { shop: 'other.myshopify.com' });
  assert.equal((await post(body, otherShop)).status, 401);
  assert.equal(count('SELECT COUNT(*) FROM webhook_inbox'), before);
  assert.equal(count('SELECT COUNT(*) FROM orders WHERE order_number = 10001'),
    0);
});

test('missing headers are named in a 400', async () => {
  const body = orderPayload({ id: '820982911946154601', number: 10003 });
  const { deliveryHeaders } = await import('../lib/webhooks.mjs');
  const headers = deliveryHeaders('orders/create', body);
  delete headers['x-shopify-webhook-id'];
  const res = await fetch(`${server.url}/webhooks/shopify`,
    { method: 'POST', body, headers });
  assert.equal(res.status, 400);
  assert.match((await res.json()).error.message, /Webhook-Id/i);
});

test('the same delivery five times makes one order; an older update changes '
  + 'nothing', async () => {
  const body = orderPayload({ id: '820982911946154700', number: 10100,
    session: 'sess-b', updatedAt: '2026-11-30T12:00:00-05:00' });
  const webhookId = 'same-delivery-10100';
  for (let i = 0; i < 5; i++) {
    const { res } = await deliver(server.url, 'orders/create', body,
      { webhookId });
    assert.equal(res.status, 200);
  }
  assert.equal(count(`SELECT COUNT(*) FROM orders WHERE order_number = 10100`),
    1);
  assert.equal(count(`SELECT COUNT(*) FROM pets p JOIN orders o ON
    o.id = p.order_id WHERE o.order_number = 10100`), 3);
  assert.equal(count(`SELECT COUNT(*) FROM webhook_inbox WHERE
    webhook_id = '${webhookId}'`), 1);

  const newer = orderPayload({ id: '820982911946154700', number: 10100,
    session: 'sess-b', updatedAt: '2026-11-30T13:00:00-05:00', pets: 2,
    cancelled: true });
  const older = orderPayload({ id: '820982911946154700', number: 10100,
    session: 'sess-b', updatedAt: '2026-11-30T12:30:00-05:00', pets: 3 });
  assert.equal((await deliver(server.url, 'orders/cancelled', newer))
    .res.status, 200);
  const [afterNewer] = await findOrders('10100');
  assert.equal(afterNewer.status, 'cancelled');
  assert.equal((await deliver(server.url, 'orders/updated', older))
    .res.status, 200);
  const [afterOlder] = await findOrders('10100');
  assert.equal(afterOlder.status, 'cancelled', 'the older update lost');
});

test('a payload that verifies but cannot be applied is kept as failed, 400',
  async () => {
    const body = '{"id": "not a number", "line_items": 7}';
    const { res } = await deliver(server.url, 'orders/create', body,
      { webhookId: 'broken-1' });
    assert.equal(res.status, 400);
    const reason = (await res.json()).error.message;
    assert.ok(reason.length > 5);
    const [[state_, error]] = sql(`SELECT state, error FROM webhook_inbox
      WHERE webhook_id = 'broken-1'`);
    assert.equal(state_, 'failed');
    assert.equal(error, reason);
    const bad = await deliver(server.url, 'orders/create', '{not json',
      { webhookId: 'broken-2' });
    assert.equal(bad.res.status, 400);
  });

test('200 deliveries, 20 at a time, all answer 2xx within 5 s', async () => {
  const deliveries = Array.from({ length: 200 }, (_, i) => orderPayload({
    id: String(830000000000000000n + BigInt(i)), number: 20000 + i,
    session: `load-${i}`, email: `load${i}@example.com` }));
  const slowest = [];
  for (let i = 0; i < deliveries.length; i += 20) {
    const batch = await Promise.all(deliveries.slice(i, i + 20)
      .map((b) => deliver(server.url, 'orders/create', b)));
    for (const { res, ms } of batch) {
      assert.ok(res.status >= 200 && res.status < 300, `status ${res.status}`);
      slowest.push(ms);
      await res.arrayBuffer();
    }
  }
  assert.ok(Math.max(...slowest) < 5000, `slowest ${Math.max(...slowest)} ms`);
  assert.equal(count(`SELECT COUNT(*) FROM orders WHERE order_number
    BETWEEN 20000 AND 20199`), 200);
});

test('customer data is never stored in plaintext; e-mail search finds it',
  async () => {
    const email = 'plaintext-check@example.com';
    const body = orderPayload({ id: '820982911946155000', number: 10500,
      email });
    assert.equal((await deliver(server.url, 'orders/create', body))
      .res.status, 200);
    const needles = [email, 'Winterfell', 'Snow', '6135551212'];
    let haystack;
    if (BACKEND === 'postgres') {
      haystack = execFileSync('pg_dump', [state.databaseUrl],
        { maxBuffer: 512 * 1024 * 1024 }).toString();
    } else {
      execFileSync('sqlite3', [state.databaseUrl.slice(7),
        'PRAGMA wal_checkpoint(TRUNCATE)']);
      const file = state.databaseUrl.slice(7);
      haystack = readFileSync(file).toString('latin1')
        + (existsSync(`${file}-wal`) ? readFileSync(`${file}-wal`)
          .toString('latin1') : '');
    }
    for (const needle of needles) {
      assert.ok(!haystack.includes(needle), `${needle} is not in the clear`);
    }
    const found = await findOrders(email.toUpperCase());
    assert.deepEqual(found.map((o) => o.name), ['#10500']);
  });

test('SIGKILL right after the answer: the order is there after restart',
  async () => {
    const own = freshState();
    const env = { ...ENV };
    let srv = await startServer({ state: own, env });
    const body = orderPayload({ id: '820982911946156000', number: 11000 });
    const { res } = await deliver(srv.url, 'orders/create', body);
    assert.equal(res.status, 200);
    srv.child.kill('SIGKILL');
    await srv.exitPromise;
    srv = await startServer({ state: own, env });
    try {
      const dbq = BACKEND === 'postgres'
        ? execFileSync('psql', [own.databaseUrl, '-qAtc',
          'SELECT COUNT(*) FROM orders WHERE order_number = 11000'])
        : execFileSync('sqlite3', [own.databaseUrl.slice(7),
          'SELECT COUNT(*) FROM orders WHERE order_number = 11000']);
      assert.equal(Number(dbq.toString().trim()), 1);
    } finally {
      assert.deepEqual(await srv.stop(), { code: 0, signal: null });
      own.cleanup();
    }
  });

test('customers/redact erases the customer and their photos; the audit '
  + 'entry remains', async () => {
  const email = 'forget-me@example.com';
  const images = uploadPhotos('sess-r', 1);
  const body = orderPayload({ id: '820982911946157000', number: 12000,
    email, session: 'sess-r', images, pets: 1 });
  assert.equal((await deliver(server.url, 'orders/create', body))
    .res.status, 200);
  const keys = sql(`SELECT object_key FROM images WHERE session_id =
    'sess-r'`).map(([k]) => k);
  assert.equal(keys.length, 2);
  for (const k of keys) {
    assert.ok(existsSync(join(state.dir, 'objects', k)), `${k} stored`);
  }
  assert.equal((await findOrders(email)).length, 1);

  const redact = `{"shop_id":954889,"shop_domain":"${SHOP}",`
    + `"customer":{"id":115310627314723954,"email":"${email}",`
    + '"phone":"+16135551212"},"orders_to_redact":[820982911946157000]}';
  const { res } = await deliver(server.url, 'customers/redact', redact);
  assert.equal(res.status, 200, await res.text());
  assert.deepEqual(await findOrders(email), []);
  for (const k of keys) {
    assert.ok(!existsSync(join(state.dir, 'objects', k)), `${k} deleted`);
  }
  assert.ok(count(`SELECT COUNT(*) FROM audit_log WHERE action =
    'shopify.customer_redact'`) >= 1);
});
