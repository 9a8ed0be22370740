// bridge.test.mjs — the storefront upload bridge (/static/bridge.js) in
// Debian's Chromium, on a storefront served from another origin than
// printdesk (so every upload is a CORS request), under a strict
// Content-Security-Policy: photos reach the server exactly once through a
// crash and offline spells, a reloaded page resumes its upload where it
// stopped, the legacy localStorage photos move over, the cart form
// carries the properties that link an order to its photos, and the
// script is strict-mode clean and small.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { freshState } from '../lib/server.mjs';
import {
  CHROMIUM, DESK_ENV, deskCli, launchChromium, sessionCookie,
} from '../lib/desk.mjs';
import { dbQuery, metrics, sha256 } from '../lib/uploads.mjs';
import { deliver, orderPayload } from '../lib/webhooks.mjs';
import { startThrottle } from '../lib/throttle.mjs';
import {
  dataUrl, freePort, makePhotos, openShopPage, pageEvents,
  restartableDesk, startStorefront,
} from '../lib/storefront.mjs';

const MiB = 1024 * 1024;
const STAFF = '3101';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const skip = CHROMIUM ? false : 'Chromium is not installed';
let state, desk, shop, browser, dir;
let problems = [];

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'pd-bridge-'));
  shop = await startStorefront({});
  state = freshState();
  desk = await restartableDesk(state, {
    ...DESK_ENV, ALLOWED_ORIGINS: shop.origin,
    PUBLIC_RATE_PER_MINUTE: '100000',
  });
  browser = await launchChromium();
});

after(async () => {
  await browser?.close();
  const exit = await desk.stop();
  await shop.close();
  state.cleanup();
  rmSync(dir, { recursive: true, force: true });
  assert.deepEqual(exit, { code: 0, signal: null },
    desk.server.stderr.slice(-3000));
});

// Each test's page: a fresh browser profile, the storefront configured;
// initScript runs in the page before any of its own scripts.
async function shopPage(t, config, initScript) {
  shop.config = { bridgeUrl: `${desk.url}/static/bridge.js`, ...config };
  problems = [];
  const context = await browser.newContext();
  t.after(() => context.close());
  if (initScript) await context.addInitScript(initScript);
  return { context, page: await openShopPage(context, shop, problems) };
}

// What went wrong in the page's scripts (a request that could not reach
// the server is the network's doing, not a script error).
const scriptProblems = () =>
  problems.filter((p) => !/Failed to load resource/.test(p));

// Fast retries so the tests do not wait out production backoff.
const QUICK = { retryBaseMs: 200, retryMaxMs: 1500 };

function uploadPicked(page, imageType = 'original') {
  return page.evaluate((type) => {
    const files = document.getElementById('photos').files;
    for (let i = 0; i < files.length; i++) {
      window.PrintdeskBridge.upload(files[i], { imageType: type,
        petIndex: i }).catch(() => {});
    }
  }, imageType);
}

// Waits until the page's bridge emitted count events called name, or
// (unless failures are expected) a photo failed for good.
async function waitForEvents(page, name, count, timeout = 120000) {
  await page.waitForFunction(([n, c]) => window.pdLog.events
    .filter((e) => e.name === n).length >= c || window.pdLog.events
    .some((e) => e.name === 'failed'), [name, count], { timeout });
  assert.deepEqual(await pageEvents(page, 'failed'), []);
}

// How many times each of these SHA-256 sums is among the stored files.
function storedCopies(hashes) {
  const root = join(state.dir, 'objects');
  const counts = new Map(hashes.map((h) => [h, 0]));
  for (const rel of readdirSync(root, { recursive: true })) {
    let bytes;
    try {
      bytes = readFileSync(join(root, rel));
    } catch (err) {
      if (err.code === 'EISDIR') continue;
      throw err;
    }
    const h = sha256(bytes);
    if (counts.has(h)) counts.set(h, counts.get(h) + 1);
  }
  return counts;
}

function imagesOf(session) {
  return dbQuery(state, `SELECT id, kind, sha256, object_key FROM images
    WHERE session_id = '${session}' AND deleted_at IS NULL`);
}

const sessionOf = (page) =>
  page.evaluate(() => window.PrintdeskBridge.sessionId());

test('ten photos, one of 20 MiB, reach printdesk exactly once through a '
  + 'server crash and offline spells', { timeout: 240000, skip },
async (t) => {
  const throttle = await startThrottle(desk.port,
    { bytesPerSecond: 24 * MiB });
  t.after(() => throttle.close());
  const small = (name) => ({ name, width: 320, height: 240, format: 'JPEG' });
  const medium = (name) => ({ name, width: 1100, height: 800,
    format: 'JPEG', quality: 92 });
  const photos = makePhotos(dir, [small('a.jpg'), small('b.jpg'),
    medium('c.jpg'), medium('d.jpg'),
    { name: 'big.png', width: 2600, height: 2700, format: 'PNG',
      stored: true },
    medium('e.jpg'), small('f.jpg'), medium('g.jpg'),
    { name: 'cut.png', width: 500, height: 500, format: 'PNG',
      mode: 'RGBA' },
    medium('h.jpg')]);
  const big = photos[4];
  assert.ok(big.size >= 20 * MiB, `big.png is ${big.size} bytes`);
  assert.ok(photos.some((p) => p.size < 512 * 1024), 'some go multipart');
  const { context, page } = await shopPage(t,
    { init: { endpoint: throttle.url, ...QUICK } });

  // The server dies while the 20 MiB photo is on its way; the browser
  // goes offline, the server comes back, then the browser; later the
  // browser goes offline once more between two photos.
  let crash = null, spell = null;
  await page.exposeFunction('pdNotify', (e) => {
    const d = e.detail;
    if (!crash && e.name === 'progress' && d.fileName === 'big.png'
        && d.loaded > 0.3 * big.size) {
      crash = (async () => {
        await desk.stop('SIGKILL');
        await context.setOffline(true);
        await sleep(600);
        await desk.start();
        await sleep(300);
        await context.setOffline(false);
      })();
    }
    if (!spell && e.name === 'uploaded' && d.fileName === 'f.jpg') {
      spell = (async () => {
        await context.setOffline(true);
        await sleep(500);
        await context.setOffline(false);
      })();
    }
  });
  await page.setInputFiles('#photos', photos.map((p) => p.path));
  await uploadPicked(page);
  await waitForEvents(page, 'uploaded', photos.length);
  await crash;
  await spell;
  assert.ok(crash && spell, 'the crash and the offline spell happened');

  const uploaded = await pageEvents(page, 'uploaded');
  assert.deepEqual(uploaded.map((e) => e.detail.fileName).sort(),
    photos.map((p) => p.name).sort(), 'each photo confirmed once');
  for (const e of uploaded) {
    const photo = photos.find((p) => p.name === e.detail.fileName);
    assert.equal(e.detail.image.sha256, photo.sha256, photo.name);
  }
  const retries = await pageEvents(page, 'retrying');
  assert.ok(retries.some((e) => e.detail.fileName === 'big.png'),
    'the crash interrupted the 20 MiB photo');
  assert.equal(await page.evaluate(() => window.PrintdeskBridge.pending()),
    0, 'the queue on the device is empty');
  assert.equal((await pageEvents(page, 'queue-empty')).length >= 1, true);

  const rows = imagesOf(await sessionOf(page));
  assert.equal(rows.length, photos.length);
  assert.deepEqual(rows.map((r) => r.sha256).sort(),
    photos.map((p) => p.sha256).sort());
  for (const row of rows) {
    const bytes = readFileSync(join(state.dir, 'objects', row.object_key));
    assert.equal(sha256(bytes), row.sha256, row.object_key);
  }
  for (const [hash, n] of storedCopies(photos.map((p) => p.sha256))) {
    assert.equal(n, 1, `photo ${hash} stored once`);
  }
  assert.deepEqual(scriptProblems(), []);
});

// The tus upload's offset as the server has it.
async function serverOffset(url) {
  const res = await fetch(url, { method: 'HEAD',
    headers: { 'Tus-Resumable': '1.0.0' } });
  assert.equal(res.status, 200);
  return Number(res.headers.get('upload-offset'));
}

// The server's tus byte count once it stops moving.
async function settledTusBytes() {
  let last = -1;
  for (;;) {
    const now = (await metrics(desk.server))('image_upload_bytes_total',
      { via: 'tus' });
    if (now === last) return now;
    last = now;
    await sleep(300);
  }
}

test('a page reloaded mid-upload goes on from where it stopped, and the '
  + 'server receives each byte once', { timeout: 120000, skip },
async (t) => {
  const throttle = await startThrottle(desk.port,
    { bytesPerSecond: 4 * MiB });
  t.after(() => throttle.close());
  const [photo] = makePhotos(dir, [{ name: 'reload.png', width: 1600,
    height: 1600, format: 'PNG', stored: true }]);
  const { page } = await shopPage(t, { init: { endpoint: throttle.url,
    chunkSize: 32 * MiB, ...QUICK } });
  const before = await settledTusBytes();
  let leave;
  const leaving = new Promise((resolve) => { leave = resolve; });
  await page.exposeFunction('pdNotify', (e) => {
    if (e.name === 'progress' && e.detail.loaded > 0.35 * photo.size) {
      leave();
    }
  });
  await page.setInputFiles('#photos', photo.path);
  await uploadPicked(page);
  await leaving;
  const [item] = await page.evaluate(() => window.PrintdeskBridge.queue());
  assert.ok(item.tusUrl, 'the upload URL is kept with the queued photo');
  await page.goto('about:blank');

  // What the server kept of the cut-off PATCH: bytes still on their way
  // arrive first, then the server lets go of the request and keeps them.
  let offset = 0;
  for (let seen = -1; offset === 0 || offset !== seen; await sleep(300)) {
    seen = offset;
    offset = await serverOffset(item.tusUrl);
  }
  assert.ok(offset > 0 && offset < photo.size,
    `the server holds ${offset} of ${photo.size} bytes`);

  await page.goto(shop.url);
  await waitForEvents(page, 'uploaded', 1, 60000);
  const progress = await pageEvents(page, 'progress');
  assert.ok(progress[0].detail.loaded >= offset,
    `after reopening it went on from ${progress[0].detail.loaded}`);
  const [done] = await pageEvents(page, 'uploaded');
  assert.equal(done.detail.image.sha256, photo.sha256);
  assert.equal(await settledTusBytes() - before, photo.size,
    'every byte reached the server once');
  assert.equal(await page.evaluate(() => window.PrintdeskBridge.pending()),
    0);
  assert.deepEqual(scriptProblems(), []);
});

function legacyPhotos(prefix) {
  return makePhotos(dir, [
    { name: `${prefix}-1.jpg`, width: 300, height: 200, format: 'JPEG' },
    { name: `${prefix}-1.png`, width: 200, height: 200, format: 'PNG',
      mode: 'RGBA' },
    { name: `${prefix}-2.jpg`, width: 320, height: 240, format: 'JPEG' },
    { name: `${prefix}-2.png`, width: 240, height: 240, format: 'PNG',
      mode: 'RGBA' }]);
}

const readLegacy = (page) => page.evaluate(() =>
  JSON.parse(window.localStorage.getItem('petData')));

test('migrateLegacy moves the petData photos, then removes the entry',
  { timeout: 60000, skip }, async (t) => {
    const photos = legacyPhotos('legacy');
    const session = 'legacy_' + randomBytes(6).toString('hex');
    const { page } = await shopPage(t, { init: { endpoint: desk.url,
      ...QUICK } });
    await page.evaluate((data) => window.localStorage.setItem('petData',
      JSON.stringify(data)), { sessionId: session, pets: [
      { name: 'Bella', originalUrl: dataUrl(photos[0].bytes, 'image/jpeg'),
        processedUrl: dataUrl(photos[1].bytes, 'image/png') },
      { name: 'Milo', originalUrl: dataUrl(photos[2].bytes, 'image/jpeg'),
        processedUrl: dataUrl(photos[3].bytes, 'image/png') }] });
    const result = await page.evaluate(() =>
      window.PrintdeskBridge.migrateLegacy());
    assert.equal(result.cleared, true, JSON.stringify(result.failed));
    assert.equal(result.uploaded.length, 4);
    assert.equal(await readLegacy(page), null, 'the entry is removed');
    const rows = imagesOf(session);
    assert.deepEqual(rows.map((r) => `${r.kind} ${r.sha256}`).sort(),
      [`original ${photos[0].sha256}`, `processed ${photos[1].sha256}`,
        `original ${photos[2].sha256}`, `processed ${photos[3].sha256}`]
        .sort());
    assert.equal(await page.evaluate(() => window.PrintdeskBridge.pending()),
      0);
    assert.deepEqual(problems, []);
  });

test('migrateLegacy keeps the entry when the server refuses a photo, and '
  + 'says why', { timeout: 60000, skip }, async (t) => {
  const [photo] = legacyPhotos('refused');
  const text = Buffer.from('Dear shop, this is a note, not a photo.\n');
  const session = 'legacy_' + randomBytes(6).toString('hex');
  const { page } = await shopPage(t, { init: { endpoint: desk.url,
    ...QUICK } });
  await page.evaluate((data) => window.localStorage.setItem('petData',
    JSON.stringify(data)), { sessionId: session, pets: [
    { name: 'Pickles', originalUrl: dataUrl(photo.bytes, 'image/jpeg'),
      processedUrl: dataUrl(text, 'image/png') }] });
  const result = await page.evaluate(() =>
    window.PrintdeskBridge.migrateLegacy());
  assert.equal(result.cleared, false);
  assert.equal(result.uploaded.length, 1);
  assert.equal(result.failed.length, 1);
  assert.equal(result.failed[0].imageType, 'processed');
  assert.match(result.failed[0].reason, /was not accepted: .*JPEG, PNG/);
  const [failed] = await pageEvents(page, 'failed');
  assert.equal(failed.detail.reason, result.failed[0].reason);
  assert.equal(failed.detail.status, 415);
  const legacy = await readLegacy(page);
  assert.ok(legacy, 'the entry stays');
  assert.equal(legacy.pets[0].processedUrl, dataUrl(text, 'image/png'),
    'the refused photo is still on the device');
  assert.equal(legacy.pets[0].originalUrl, undefined);
  assert.equal(legacy.pets[0].originalImageId, result.uploaded[0].id,
    'the confirmed photo gave way to its image id');
  assert.deepEqual(imagesOf(session).map((r) => r.sha256), [photo.sha256]);
  const refusedUploads = dbQuery(state, `SELECT count(*) AS n FROM images
    WHERE session_id = '${session}' AND kind = 'processed'`);
  assert.equal(Number(refusedUploads[0].n), 0);
  assert.deepEqual(scriptProblems(), []);
});

test('the cart form waits for the photos and carries the properties that '
  + 'link them to the order', { timeout: 120000, skip }, async (t) => {
  const throttle = await startThrottle(desk.port,
    { bytesPerSecond: 2 * MiB });
  t.after(() => throttle.close());
  const photos = makePhotos(dir, [
    { name: 'biscuit.jpg', width: 1400, height: 1000, format: 'JPEG',
      quality: 92 },
    { name: 'biscuit.png', width: 400, height: 400, format: 'PNG',
      mode: 'RGBA' }]);
  const { page } = await shopPage(t, {
    init: { endpoint: throttle.url, ...QUICK },
    attach: { petIndex: 0, petName: 'Biscuit', waitMs: 60000 },
  });
  const carts = shop.carts.length;
  // The customer adds to cart the moment the photos are picked.
  await page.setInputFiles('#photos', photos.map((p) => p.path));
  await page.evaluate(() => {
    const files = document.getElementById('photos').files;
    ['original', 'processed'].forEach((imageType, i) => {
      window.PrintdeskBridge.upload(files[i], { imageType, petIndex: 0 })
        .catch(() => {});
    });
    document.querySelector('#cart button').click();
  });
  const wait = page.locator('#cart .printdesk-wait');
  await wait.waitFor({ state: 'visible', timeout: 5000 });
  assert.match(await wait.textContent(), /Saving your photo/);
  assert.equal(shop.carts.length, carts, 'the submit is held');
  await page.waitForURL(/\/cart\/add$/, { timeout: 60000 });

  const cart = shop.carts.at(-1).form;
  const uploaded = await (async () => {
    await page.goBack();
    await page.waitForFunction(() => window.PrintdeskBridge !== undefined);
    return page.evaluate(() => window.PrintdeskBridge.images(0));
  })();
  const session = cart.get('properties[_pd_session]');
  assert.equal(session, await sessionOf(page));
  assert.equal(cart.get('properties[_pet_name]'), 'Biscuit');
  const rows = imagesOf(session);
  const idOf = (kind) => rows.find((r) => r.kind === kind).id;
  assert.equal(cart.get('properties[_pd_original]'), idOf('original'));
  assert.equal(cart.get('properties[_pd_processed]'), idOf('processed'));
  assert.equal(uploaded.original, idOf('original'));

  // Shopify's orders/create carries the cart's properties on the line item.
  const props = [...cart].filter(([k]) => k.startsWith('properties['))
    .map(([k, v]) => ({ name: k.slice(11, -1), value: v }));
  const number = 5000 + Math.floor(Math.random() * 4000);
  const body = orderPayload({ id: `8209829119461${number}`, number,
    pets: 1, session }).replace(/"properties":\[[^\]]*\]/,
    `"properties":${JSON.stringify(props)}`);
  const { res } = await deliver(desk.url, 'orders/create', body);
  assert.equal(res.status, 200, await res.text());
  deskCli(state, 'staff', 'add', STAFF, '--role', 'viewer');
  const cookie = await sessionCookie(desk.server, state, STAFF);
  const list = await (await fetch(`${desk.url}/api/v1/orders?q=${number}`,
    { headers: { cookie } })).json();
  const [order] = list.orders;
  assert.equal(order.name, `#${number}`);
  assert.equal(order.pets.length, 1);
  assert.equal(order.pets[0].name, 'Biscuit');
  assert.equal(order.pets[0].original_image, idOf('original'));
  assert.equal(order.pets[0].processed_image, idOf('processed'));
  assert.deepEqual(problems, []);
});

test('the cart form waits a bounded time when printdesk cannot be reached',
  { timeout: 60000, skip }, async (t) => {
    const nobody = `http://127.0.0.1:${await freePort()}`;
    const { page } = await shopPage(t, {
      init: { endpoint: nobody, ...QUICK },
      attach: { petIndex: 0, petName: 'Rex', waitMs: 1500 },
    });
    const [photo] = makePhotos(dir, [{ name: 'rex.jpg', width: 300,
      height: 300, format: 'JPEG' }]);
    await page.setInputFiles('#photos', photo.path);
    await uploadPicked(page);
    const carts = shop.carts.length;
    const started = Date.now();
    await page.click('button[type=submit]');
    await page.waitForURL(/\/cart\/add$/, { timeout: 20000 });
    const waited = shop.carts.at(-1).at - started;
    assert.equal(shop.carts.length, carts + 1);
    assert.ok(waited >= 1400 && waited < 10000, `waited ${waited} ms`);
    const cart = shop.carts.at(-1).form;
    assert.ok(cart.get('properties[_pd_session]'));
    assert.equal(cart.get('properties[_pet_name]'), 'Rex');
    assert.equal(cart.get('properties[_pd_original]'), null);
    // The photo still waits on the device for the next page.
    await page.goBack();
    await page.waitForFunction(() => window.PrintdeskBridge !== undefined);
    assert.equal(await page.evaluate(() => window.PrintdeskBridge.pending()),
      1);
    assert.deepEqual(scriptProblems(), []);
  });

test('without IndexedDB the queue lives in localStorage and survives a '
  + 'reload', { timeout: 60000, skip }, async (t) => {
  const nobody = `http://127.0.0.1:${await freePort()}`;
  const [photo] = makePhotos(dir, [{ name: 'nodb.jpg', width: 320,
    height: 240, format: 'JPEG' }]);
  const { page } = await shopPage(t, { init: { endpoint: nobody,
    ...QUICK } }, () => {
    Object.defineProperty(window, 'indexedDB', { get: () => undefined });
  });
  await page.setInputFiles('#photos', photo.path);
  await uploadPicked(page);
  await page.waitForFunction(() => window.pdLog.events
    .some((e) => e.name === 'retrying'));
  const kept = await page.evaluate(() => Object.keys(window.localStorage)
    .filter((k) => k.startsWith('printdesk.queue.')).length);
  assert.equal(kept, 1, 'the photo waits in localStorage');

  // Reopened with printdesk reachable, the page sends what was kept.
  shop.config = { ...shop.config, init: { endpoint: desk.url, ...QUICK } };
  await page.reload();
  await waitForEvents(page, 'uploaded', 1, 30000);
  const [done] = await pageEvents(page, 'uploaded');
  assert.equal(done.detail.image.sha256, photo.sha256);
  assert.equal(await page.evaluate(() => Object.keys(window.localStorage)
    .filter((k) => k.startsWith('printdesk.queue.')).length), 0);
  assert.deepEqual(scriptProblems(), []);
});

// The bytes of a GET as they cross the wire (no decompression).
function rawGet(url, headers) {
  return new Promise((resolve, reject) => {
    http.get(url, { headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ res, bytes: Buffer.concat(chunks) }));
    }).on('error', reject);
  });
}

test('bridge.js is strict-mode clean under a strict policy and adds under '
  + '32 KiB compressed', { timeout: 60000, skip }, async (t) => {
  const { res, bytes } = await rawGet(`${desk.url}/static/bridge.js`,
    { 'accept-encoding': 'gzip' });
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-encoding'], 'gzip');
  assert.ok(bytes.length < 32 * 1024, `${bytes.length} bytes gzipped`);
  assert.match(res.headers['cache-control'], /max-age=300/);
  assert.doesNotMatch(res.headers['cache-control'], /immutable/);
  assert.equal(res.headers['access-control-allow-origin'], '*');

  // A module script runs in strict mode: the page's policy allows no
  // inline code, no eval, and enforces Trusted Types.
  const { page } = await shopPage(t, { module: true,
    init: { endpoint: desk.url, ...QUICK } });
  assert.equal(await page.evaluate(() => window.PrintdeskBridge.supported),
    true);
  const [photo] = makePhotos(dir, [{ name: 'strict.jpg', width: 200,
    height: 150, format: 'JPEG' }]);
  await page.setInputFiles('#photos', photo.path);
  await uploadPicked(page);
  await waitForEvents(page, 'uploaded', 1, 30000);
  const violations = await page.evaluate(() => window.pdViolations || []);
  assert.deepEqual(violations, []);
  assert.deepEqual(problems, []);
});
