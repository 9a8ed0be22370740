// list_cache.test.mjs — the order lists keep recent answers (the JSON
// list and the dashboard's list page), yet staff never see a list older
// than their own change: a move, a claim or a note made through the
// server shows in the very next list; a change made elsewhere (another
// instance, a command) shows once LIST_CACHE_MS has passed; one staff
// member never gets another's page; the gzip a phone gets says the same
// as the plain page.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { gunzipSync } from 'node:zlib';
import { request } from 'node:http';
import { freshState, startServer } from '../lib/server.mjs';
import { dbExec, dbQuery } from '../lib/uploads.mjs';
import { DESK_ENV as ENV, deskCli, sessionCookie } from '../lib/desk.mjs';

const VIEWER = '3001', FULFILLER = '3002';
const LIFE_MS = 400;

let state, server;
const cookies = {};

before(async () => {
  state = freshState();
  deskCli(state, 'seed-demo', '--orders', '80');
  // Forty pending orders to move around.
  dbExec(state, "UPDATE orders SET status = 'pending' WHERE id IN " +
    '(SELECT id FROM orders ORDER BY created_at DESC LIMIT 40)');
  deskCli(state, 'staff', 'add', VIEWER, '--role', 'viewer', '--name',
    'Vic Viewer');
  deskCli(state, 'staff', 'add', FULFILLER, '--role', 'fulfiller', '--name',
    'Fay Fulfil');
  server = await startServer({
    state,
    env: { ...ENV, STAFF_RATE_PER_MINUTE: '100000',
      LIST_CACHE_MS: String(LIFE_MS) },
  });
  cookies[VIEWER] = await sessionCookie(server, state, VIEWER);
  cookies[FULFILLER] = await sessionCookie(server, state, FULFILLER);
});

after(async () => {
  assert.deepEqual(await server.stop(), { code: 0, signal: null });
  state.cleanup();
});

const url = (p) => `${server.url}${p}`;
// How an order is named in URLs: its number ("#1042" is 1042).
const ref = (o) => o.name.replace(/^#/, '');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function apiList(query, id = VIEWER) {
  const res = await fetch(url(`/api/v1/orders?${query}`),
    { headers: { cookie: cookies[id] } });
  assert.equal(res.status, 200);
  return res.json();
}

async function page(path, id = VIEWER) {
  const res = await fetch(url(path), { headers: { cookie: cookies[id] } });
  assert.equal(res.status, 200);
  return res.text();
}

const names = (html) => [...html.matchAll(
  /<span class="name">([^<]+)<\/span>/g)].map((m) => m[1]);
const chipCount = (html, label) => Number(html.match(
  new RegExp(`>${label} <span class="n">(\\d+)</span>`))[1]);
const csrfOf = (html) => html.match(/name="csrf-token" content="([^"]+)"/)[1];

async function post(path, body, id = FULFILLER) {
  const html = await page('/dashboard', id);
  return fetch(url(path), {
    method: 'POST',
    headers: { cookie: cookies[id], 'content-type': 'application/json',
      'x-csrf-token': csrfOf(html) },
    body: JSON.stringify(body),
  });
}

// The orders of one status straight from the database, newest first.
function dbNames(status) {
  return dbQuery(state, `SELECT name FROM orders WHERE status = '${status}' ` +
    'ORDER BY created_at DESC, id DESC').map((r) => r.name);
}

test('a move through the server shows in the very next list and counts',
  async () => {
    const before = await apiList('status=pending&limit=100&counts=1');
    const html = await page('/dashboard?status=pending');
    const target = before.orders[0];
    assert.ok(names(html).includes(target.name));
    // Ask again so both answers are the kept ones.
    await apiList('status=pending&limit=100&counts=1');
    await page('/dashboard?status=pending');

    const res = await post(`/api/v1/orders/${ref(target)}/status`,
      { to: 'in_production' });
    assert.equal(res.status, 200);

    const after = await apiList('status=pending&limit=100&counts=1');
    assert.ok(!after.orders.some((o) => o.id === target.id),
      'the moved order left the pending list at once');
    assert.equal(after.counts.pending, before.counts.pending - 1);
    assert.equal(after.counts.in_production,
      before.counts.in_production + 1);
    const html2 = await page('/dashboard?status=pending');
    assert.ok(!names(html2).includes(target.name));
    assert.equal(chipCount(html2, 'Pending'), chipCount(html, 'Pending') - 1);
    const prod = await page('/dashboard?status=in_production');
    assert.ok(names(prod).includes(target.name));
  });

test('a claim and a note show in the next list', async () => {
  const list = await apiList('status=pending&limit=5');
  const target = list.orders[0];
  assert.deepEqual((await apiList('q=zebracorn')).orders, []);
  assert.deepEqual((await apiList('q=zebracorn')).orders, []);
  const note = await post(`/api/v1/orders/${ref(target)}/notes`,
    { body: 'the zebracorn frame, please' });
  assert.equal(note.status, 200);
  assert.deepEqual((await apiList('q=zebracorn')).orders.map((o) => o.id),
    [target.id]);
  assert.equal(target.claimed_by, null);
  await apiList('status=pending&limit=5');
  const claim = await post(`/api/v1/orders/${ref(target)}/claim`, {});
  assert.equal(claim.status, 200);
  const after = await apiList('status=pending&limit=5');
  const row = after.orders.find((o) => o.id === target.id);
  assert.equal(row.claimed_by.name, 'Fay Fulfil');
  const mine = await apiList('claimed=me', FULFILLER);
  assert.deepEqual(mine.orders.map((o) => o.id), [target.id]);
});

test('a change made behind the server shows once the answer life passed',
  async () => {
    const pending = await apiList('status=pending&limit=100');
    const target = pending.orders[pending.orders.length - 1];
    // Another instance (or a command) puts it on hold.
    dbExec(state,
      `UPDATE orders SET status = 'on_hold' WHERE id = ${target.id}`);
    await sleep(LIFE_MS + 150);
    const after = await apiList('status=pending&limit=100');
    assert.ok(!after.orders.some((o) => o.id === target.id));
    const held = await apiList('status=on_hold&limit=100');
    assert.ok(held.orders.some((o) => o.id === target.id));
    assert.deepEqual(names(await page('/dashboard?status=pending')),
      dbNames('pending').slice(0, 50));
  });

test('each staff member gets their own page', async () => {
  const viewerPage = await page('/dashboard?status=in_production', VIEWER);
  const fulfillerPage = await page('/dashboard?status=in_production',
    FULFILLER);
  assert.match(viewerPage, /Vic Viewer/);
  assert.doesNotMatch(viewerPage, /id="bulk-move"/);
  assert.match(fulfillerPage, /Fay Fulfil/);
  assert.match(fulfillerPage, /id="bulk-move"/);
  // And again, now that both are kept.
  assert.match(await page('/dashboard?status=in_production', VIEWER),
    /Vic Viewer/);
  assert.doesNotMatch(await page('/dashboard?status=in_production', VIEWER),
    /id="bulk-move"/);
});

// A raw GET (no automatic decompression): status, headers, body bytes.
function rawGet(path, headers) {
  return new Promise((resolve, reject) => {
    const req = request(url(path), { headers }, (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => resolve({ res, body: Buffer.concat(parts) }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('the gzip of a kept page is the same page', async () => {
  const path = '/dashboard?status=completed';
  const plain = await rawGet(path, { cookie: cookies[VIEWER] });
  const gz = await rawGet(path, { cookie: cookies[VIEWER],
    'accept-encoding': 'gzip' });
  const gz2 = await rawGet(path, { cookie: cookies[VIEWER],
    'accept-encoding': 'gzip' });
  assert.equal(plain.res.statusCode, 200);
  assert.equal(plain.res.headers['content-encoding'], undefined);
  for (const g of [gz, gz2]) {
    assert.equal(g.res.statusCode, 200);
    assert.equal(g.res.headers['content-encoding'], 'gzip');
    assert.equal(g.res.headers['cache-control'], 'no-store');
    assert.ok(g.body.length < plain.body.length / 3);
    const text = gunzipSync(g.body).toString();
    assert.deepEqual(names(text), names(plain.body.toString()));
    assert.match(text, /<\/html>\n$/);
  }
});

test('lists read while orders move agree with the database at the end',
  async () => {
    const pending = (await apiList('status=pending&limit=30')).orders;
    assert.ok(pending.length >= 12, 'enough pending orders to move');
    const readers = [];
    let stop = false;
    for (let i = 0; i < 8; i++) {
      readers.push((async () => {
        let n = 0;
        while (!stop) {
          await apiList('status=pending&limit=100&counts=1');
          await page('/dashboard?status=pending');
          n++;
        }
        return n;
      })());
    }
    for (const o of pending.slice(0, 12)) {
      const res = await post(`/api/v1/orders/${ref(o)}/status`,
        { to: 'in_production' });
      assert.equal(res.status, 200);
    }
    stop = true;
    const rounds = await Promise.all(readers);
    assert.ok(rounds.every((n) => n > 0));
    const api = await apiList('status=pending&limit=100&counts=1');
    assert.deepEqual(api.orders.map((o) => o.name),
      dbNames('pending').slice(0, 100));
    assert.equal(api.counts.pending, dbNames('pending').length);
    assert.deepEqual(names(await page('/dashboard?status=pending')),
      dbNames('pending').slice(0, 50));
  });
