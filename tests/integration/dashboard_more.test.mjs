// dashboard_more.test.mjs — the order list's extra filters (print
// warning, claimed by me, a date range) as plain links that survive
// "More" and the status chips; previous / next order within the filter
// on the order page; bulk moves and one zip of several orders (over
// HTTP, with unzip and Python's zipfile, and in Debian's Chromium).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshState, startServer } from '../lib/server.mjs';
import { dbQuery } from '../lib/uploads.mjs';
import {
  CHROMIUM, DESK_ENV as ENV, deskCli, launchChromium,
  loginLink as deskLink, zipContents,
} from '../lib/desk.mjs';
const VIEWER = '2001', FULFILLER = '2002';
const DAY = 86400000;

let state, server, browser, scratch;

const cli = (...args) => deskCli(state, ...args);

before(async () => {
  state = freshState();
  scratch = mkdtempSync(join(tmpdir(), 'pd-more-'));
  cli('seed-demo', '--orders', '150');
  cli('staff', 'add', VIEWER, '--role', 'viewer', '--name', 'Vera Viewer');
  cli('staff', 'add', FULFILLER, '--role', 'fulfiller', '--name',
    'Finn Fulfil');
  server = await startServer({
    state, env: { ...ENV, STAFF_RATE_PER_MINUTE: '100000' },
  });
  browser = await launchChromium();
});

after(async () => {
  if (browser) await browser.close();
  assert.deepEqual(await server.stop(), { code: 0, signal: null });
  state.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

const url = (p) => `${server.url}${p}`;
const loginLink = (id) => deskLink(server, state, id);
const unescape = (s) => s.replaceAll('&amp;', '&');
const csrfOf = (html) => html.match(/name="csrf-token" content="([^"]+)"/)[1];

const cookies = {};
async function cookieOf(id) {
  if (!cookies[id]) {
    const res = await fetch(loginLink(id), { redirect: 'manual' });
    assert.equal(res.status, 200);
    cookies[id] = res.headers.get('set-cookie').split(';')[0];
  }
  return cookies[id];
}

async function getPage(path, id = VIEWER) {
  const res = await fetch(url(path), { headers: { cookie: await cookieOf(id) } });
  return { res, html: await res.text() };
}

// Every order of a JSON list query, newest first (all pages).
async function apiAll(query, id = VIEWER) {
  const out = [];
  let cursor = '';
  for (;;) {
    const res = await fetch(url(`/api/v1/orders?limit=200&${query}${cursor}`),
      { headers: { cookie: await cookieOf(id) } });
    assert.equal(res.status, 200);
    const body = await res.json();
    out.push(...body.orders);
    if (!body.next_cursor) return out;
    cursor = `&cursor=${encodeURIComponent(body.next_cursor)}`;
  }
}

// The rows of a list page: [{name, href}], and its "More" link.
function rowsOf(html) {
  const rows = [...html.matchAll(
    /<a class="row" href="([^"]+)"><span class="top"><span class="name">([^<]+)</g)]
    .map((m) => ({ href: unescape(m[1]), name: m[2] }));
  const more = html.match(/id="more" href="([^"]+)"/);
  return { rows, more: more ? unescape(more[1]) : null };
}

// Every row of the list under a query, following "More".
async function listAll(query, id = VIEWER) {
  const names = [];
  let path = `/dashboard${query}`;
  const seen = [];
  while (path) {
    const { res, html } = await getPage(path, id);
    assert.equal(res.status, 200, path);
    const { rows, more } = rowsOf(html);
    names.push(...rows.map((r) => r.name));
    seen.push({ path, html, rows });
    path = more;
  }
  return { names, pages: seen };
}

async function post(path, body, id = FULFILLER) {
  const page = await getPage('/dashboard', id);
  return fetch(url(path), {
    method: 'POST',
    headers: { cookie: await cookieOf(id), 'content-type': 'application/json',
      'x-csrf-token': csrfOf(page.html) },
    body: JSON.stringify(body),
  });
}

const day = (ms) => new Date(ms).toISOString().slice(0, 10);

// ---- filters ----

test('"Has a print warning" lists exactly the orders with a warning',
  async () => {
    const api = await apiAll('warnings=1');
    assert.ok(api.length > 0, 'the demo data has orders with warnings');
    const all = await apiAll('');
    assert.ok(api.length < all.length, 'and orders without');
    const { names, pages } = await listAll('?warnings=1');
    assert.deepEqual(names, api.map((o) => o.name));
    const first = pages[0].html;
    assert.ok(first.includes('<a class="chip" href="/dashboard" '
      + 'aria-current="true">✓ Has a print warning'), 'the toggle is on');
    // Status chips keep the toggle; the hidden input keeps it in a search.
    assert.match(first, /href="\/dashboard\?status=completed&amp;warnings=1"/);
    assert.match(first, /<input type="hidden" name="warnings" value="1">/);
    // Rows carry the filter to the order page.
    assert.ok(pages[0].rows.every((r) => r.href.endsWith('?warnings=1')));
  });

test('"Claimed by me" lists my claims, not other people\'s', async () => {
  const open = await apiAll('status=completed');
  const mine = open.slice(3, 6).map((o) => o.name.slice(1));
  for (const o of mine) {
    const res = await post(`/api/v1/orders/${o}/claim`, {});
    assert.equal(res.status, 200);
  }
  const { names, pages } = await listAll('?claimed=me', FULFILLER);
  assert.deepEqual(names.sort(), mine.map((n) => `#${n}`).sort());
  assert.match(pages[0].html, /Claimed by Finn Fulfil/);
  // The viewer has claimed nothing.
  const v = await listAll('?claimed=me', VIEWER);
  assert.deepEqual(v.names, []);
  assert.match(v.pages[0].html, /No orders match/);
  // Combined with a status: the chip for "completed" counts all three.
  assert.match(pages[0].html,
    /href="\/dashboard\?status=completed&amp;claimed=me">Completed <span class="n">3</);
});

test('a date range shows the orders of those days and survives More',
  async () => {
    const all = await apiAll('');
    const at = (o) => o.created_at;
    // A range in the middle of the demo data with more than one page.
    const sorted = all.map(at).sort((a, b) => a - b);
    const from = day(sorted[20]);
    const to = day(sorted[120]);
    const lo = Date.parse(from), hi = Date.parse(to) + DAY;
    const want = all.filter((o) => at(o) >= lo && at(o) < hi)
      .map((o) => o.name);
    assert.ok(want.length > 50, `${want.length} orders: more than a page`);
    assert.ok(want.length < all.length);
    const { names, pages } = await listAll(`?from=${from}&to=${to}`);
    assert.deepEqual(names, want);
    assert.ok(pages.length > 1, 'followed More');
    assert.ok(pages[0].path.includes(`from=${from}`));
    assert.ok(pages[1].path.includes(`from=${from}&to=${to}&cursor=`));
    assert.match(pages[0].html, new RegExp(`name="from" type="date" value="${from}"`));
    // Same as the JSON list given milliseconds.
    const api = await apiAll(`from=${lo}&to=${hi}`);
    assert.deepEqual(names, api.map((o) => o.name));
    // With a status and the warning toggle, everything at once.
    const both = await listAll(`?status=completed&from=${from}&to=${to}&warnings=1`);
    const apiBoth = await apiAll(`status=completed&from=${lo}&to=${hi}&warnings=1`);
    assert.deepEqual(both.names, apiBoth.map((o) => o.name));
  });

test('bad dates are refused with 400', async () => {
  for (const q of ['from=2026-13-01', 'to=yesterday', 'from=2026-02-30',
    'from=2026-12-05&to=2026-12-01', 'to=2025-02-29']) {
    const { res } = await getPage(`/dashboard?${q}`);
    assert.equal(res.status, 400, q);
  }
  const { res } = await getPage('/dashboard?from=2024-02-29&to=2024-02-29');
  assert.equal(res.status, 200, 'a leap day is a date');
});

// ---- previous / next ----

// Follows one link (rel) from order page to order page; the names seen.
async function walk(start, rel, limit = 400) {
  const names = [];
  let path = start;
  while (path && names.length < limit) {
    const { res, html } = await getPage(path);
    assert.equal(res.status, 200, path);
    names.push(html.match(/<h1>Order ([^ <]+)/)[1]);
    const m = html.match(new RegExp(`<a class="btn" rel="${rel}" id="${rel}" href="([^"]+)"`));
    path = m ? unescape(m[1]) : null;
  }
  return names;
}

test('previous / next walk the filtered list in its order', async () => {
  const query = 'status=completed&warnings=1';
  const want = (await apiAll(query)).map((o) => o.name);
  assert.ok(want.length >= 3, `${want.length} orders`);
  const { pages } = await listAll(`?${query}`);
  const first = pages[0].rows[0].href;
  assert.ok(first.endsWith(`?${query}`), first);
  assert.deepEqual(await walk(first, 'next'), want);
  const lastRef = want.at(-1).slice(1);
  assert.deepEqual(await walk(`/dashboard/orders/${lastRef}?${query}`, 'prev'),
    [...want].reverse());
  // The back link returns to the list with the same filter.
  const { html } = await getPage(first);
  assert.match(html, /<a href="\/dashboard\?status=completed&amp;warnings=1">← All orders/);
  assert.match(html, /<span class="btn" aria-disabled="true">Previous<\/span>/);
});

test('previous / next under a search and a date range', async () => {
  const all = await apiAll('');
  const mid = all[75];
  const from = day(all[110].created_at);
  const to = day(mid.created_at);
  const query = `from=${from}&to=${to}&status=open`;
  const lo = Date.parse(from), hi = Date.parse(to) + DAY;
  const want = (await apiAll(`from=${lo}&to=${hi}&status=open`))
    .map((o) => o.name);
  assert.ok(want.length >= 2, `${want.length} orders`);
  const start = `/dashboard/orders/${want[0].slice(1)}?${query}`;
  assert.deepEqual(await walk(start, 'next'), want);
  // A search for a pet's name.
  const pet = all.find((o) => o.pets && o.pets[0] && o.pets[0].name)
    .pets[0].name;
  const found = (await apiAll(`q=${encodeURIComponent(pet)}`))
    .map((o) => o.name);
  assert.ok(found.length >= 1, pet);
  const q = `q=${encodeURIComponent(pet)}`;
  assert.deepEqual(await walk(`/dashboard/orders/${found[0].slice(1)}?${q}`,
    'next'), found);
  assert.deepEqual(await walk(
    `/dashboard/orders/${found.at(-1).slice(1)}?${q}`, 'prev'),
  [...found].reverse());
  // An unfiltered order page walks every order.
  const three = all.slice(40, 43).map((o) => o.name);
  assert.deepEqual(await walk(`/dashboard/orders/${three[0].slice(1)}`,
    'next', 3), three);
  // A bad filter in a link still shows the order, without neighbours.
  const { res, html } = await getPage(`/dashboard/orders/${three[0].slice(1)}?status=nope`);
  assert.equal(res.status, 200);
  assert.doesNotMatch(html, /rel="next"/);
});

// ---- one zip of several orders ----

const inspect = zipContents;

async function zipOf(list, id = FULFILLER) {
  return fetch(url(`/api/v1/orders/download.zip?orders=${list}`),
    { headers: { cookie: await cookieOf(id) } });
}

test('one zip of several orders: their files, named as usual, and a manifest',
  async () => {
    const all = await apiAll('status=completed');
    const refs = all.slice(10, 13).map((o) => o.name.slice(1));
    const before = dbQuery(state, "SELECT COUNT(*) AS n FROM audit_log "
      + "WHERE action = 'order.download'")[0].n;
    const res = await zipOf(`${refs.join(',')},${refs[0]}`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/zip');
    assert.match(res.headers.get('content-disposition'),
      new RegExp(`filename="orders-${refs[0]}-and-2-more.zip"`));
    const file = join(scratch, 'three.zip');
    writeFileSync(file, Buffer.from(await res.arrayBuffer()));
    const { names, entries, manifest } = inspect(file);
    assert.equal(names.at(-1), 'manifest.csv');
    const files = names.slice(0, -1);
    assert.ok(files.length >= 3, files.join(' '));
    for (const n of files) {
      assert.match(n, /^(\d+)\/[a-z0-9_.-]+-(original|cutout)\.[a-z]+$/);
      assert.ok(refs.includes(n.split('/')[0]), n);
    }
    // Every order is there, in the order asked, each once.
    const folders = [...new Set(files.map((n) => n.split('/')[0]))];
    assert.deepEqual(folders, refs);
    assert.ok(entries.every(([, method]) => method === 0), 'stored');
    assert.equal(manifest[0], 'order,pet,print size,file,pixels,dpi,sha256');
    assert.deepEqual(manifest.slice(1).map((l) => l.split(',')[3]), files);
    // One audit row per order.
    const rows = dbQuery(state, "SELECT target_id, detail FROM audit_log "
      + "WHERE action = 'order.download' ORDER BY id");
    assert.equal(rows.length - before, 3);
    assert.deepEqual(rows.slice(-3).map((r) => r.target_id).sort(),
      refs.map((r) => `#${r}`).sort());
    assert.match(rows.at(-1).detail, /"orders":3/);
  });

test('the several-order zip refuses unknown orders, viewers and long lists',
  async () => {
    const before = dbQuery(state, 'SELECT COUNT(*) AS n FROM audit_log')[0].n;
    const all = await apiAll('');
    const unknown = await zipOf(`${all[0].name.slice(1)},99999`);
    assert.equal(unknown.status, 404);
    assert.match((await unknown.json()).error.message, /99999/);
    assert.equal((await zipOf(all[0].name.slice(1), VIEWER)).status, 403);
    assert.equal((await zipOf('')).status, 400);
    assert.equal((await zipOf(',,')).status, 400);
    const many = Array.from({ length: 201 }, (_, i) => 1001 + i).join(',');
    assert.equal((await zipOf(many)).status, 400);
    const after = dbQuery(state, 'SELECT COUNT(*) AS n FROM audit_log')[0].n;
    assert.equal(after, before, 'nothing refused was audited as a download');
    // 200 orders is the most, and fine.
    const two = all.slice(0, 200).map((o) => o.name.slice(1)).join(',');
    const res = await zipOf(two);
    assert.equal(res.status, 200);
    const file = join(scratch, 'two-hundred.zip');
    writeFileSync(file, Buffer.from(await res.arrayBuffer()));
    const folders = new Set(inspect(file).names.slice(0, -1)
      .map((n) => n.split('/')[0]));
    assert.ok(folders.size >= 100, `${folders.size} orders with files`);
  });

// ---- bulk controls ----

test('only fulfillers get the bulk controls', async () => {
  const v = await getPage('/dashboard', VIEWER);
  assert.doesNotMatch(v.html, /class="sel"|id="bulk"|list\.[0-9a-f]+\.js/);
  const f = await getPage('/dashboard', FULFILLER);
  assert.match(f.html, new RegExp('<input type="checkbox" class="sel" '
    + 'id="sel-\\d+" value="\\d+" data-status="[a-z_]+"><label '
    + 'class="sel-l" for="sel-\\d+">Select #\\d+</label>'));
  assert.ok(f.html.includes('<form class="bulk" id="bulk" hidden '
    + 'data-zip="/api/v1/orders/download.zip">'));
  const js = f.html.match(/<script defer src="(\/static\/list\.[0-9a-f]{12}\.js)">/);
  assert.ok(js, 'list.js by its hashed name');
  const res = await fetch(url(js[1]));
  assert.equal(res.status, 200);
  assert.match(await res.text(), /download\.zip|bulk/);
});

const skip = CHROMIUM ? false : 'Chromium is not installed';

test('phone: select orders, move them in bulk, see what conflicted, zip',
  { skip }, async () => {
    const context = await browser.newContext({
      viewport: { width: 390, height: 844 }, hasTouch: true, isMobile: true,
      deviceScaleFactor: 2,
    });
    const page = await context.newPage();
    const problems = [];
    page.on('pageerror', (e) => problems.push(String(e)));
    await page.goto(loginLink(FULFILLER));
    await page.waitForURL((u) => u.pathname !== '/auth/handoff');
    const pending = (await apiAll('status=pending')).slice(0, 2)
      .map((o) => o.name.slice(1));
    assert.equal(pending.length, 2, 'the demo data has pending orders');
    await page.goto(url('/dashboard?status=pending'));
    await page.waitForSelector('#bulk:not([hidden])');
    assert.equal(await page.textContent('#bulk-n'), 'No orders selected.');
    for (const ref of pending) {
      await page.getByLabel(`Select #${ref}`, { exact: true }).check();
    }
    await page.waitForSelector('#bulk-n');
    assert.equal(await page.textContent('#bulk-n'), '2 orders selected.');
    const href = await page.getAttribute('#bulk-zip', 'href');
    assert.equal(href, `/api/v1/orders/download.zip?orders=${pending.join(',')}`);
    // Make one of them conflict: someone else moves it first.
    const res = await post(`/api/v1/orders/${pending[1]}/status`,
      { to: 'on_hold' });
    assert.equal(res.status, 200);
    await page.selectOption('#bulk-to', 'in_production');
    await page.click('#bulk-move');
    await page.waitForFunction(() => /Moved|Not moved/.test(
      document.getElementById('bulk-msg').textContent) &&
      !/Moving/.test(document.getElementById('bulk-msg').textContent));
    const msg = await page.textContent('#bulk-msg');
    assert.match(msg, new RegExp(`Moved to In production: #${pending[0]}\\.`));
    assert.match(msg, new RegExp(`Not moved: #${pending[1]} \\(`));
    const after = async (ref) => (await (await fetch(
      url(`/api/v1/orders/${ref}`),
      { headers: { cookie: await cookieOf(VIEWER) } })).json()).order.status;
    assert.equal(await after(pending[0]), 'in_production');
    assert.equal(await after(pending[1]), 'on_hold');
    assert.equal(await page.textContent(
      `#orders li:has(input[value="${pending[0]}"]) .st`), 'In production');
    // What was not moved stays selected; the zip link downloads both.
    assert.equal(await page.textContent('#bulk-n'), '1 order selected.');
    await page.getByLabel(`Select #${pending[0]}`, { exact: true }).check();
    const [download] = await Promise.all([
      page.waitForEvent('download'), page.click('#bulk-zip')]);
    const file = join(scratch, 'browser.zip');
    await download.saveAs(file);
    const { names } = inspect(file);
    const folders = [...new Set(names.slice(0, -1)
      .map((n) => n.split('/')[0]))];
    assert.deepEqual(folders.sort(), [...pending].sort());
    assert.deepEqual(problems, []);
    await context.close();
  });
