// dashboard.test.mjs — the staff dashboard pages: over HTTP (roles,
// escaping, links under the App Proxy's path prefix, static assets and
// their caching, the list page's size) and in Debian's Chromium on a
// phone-sized screen (sign in, filter, search, open, compare, zoom,
// claim, move, note, timeline; a viewer's page; axe-core).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { createRequire } from 'node:module';
import { freshState, startServer } from '../lib/server.mjs';
import { proxied } from '../lib/shopify.mjs';
import {
  CHROMIUM, DESK_ENV as ENV, deskCli, launchChromium,
  loginLink as deskLink, sessionCookie as deskCookie, zipContents,
} from '../lib/desk.mjs';

const require = createRequire(import.meta.url);
const AXE = readFileSync(require.resolve('axe-core/axe.min.js'), 'utf8');
const VIEWER = '2001', FULFILLER = '2002';

let state, server, browser;

const cli = (...args) => deskCli(state, ...args);

before(async () => {
  state = freshState();
  cli('seed-demo', '--orders', '150');
  cli('staff', 'add', VIEWER, '--role', 'viewer', '--name', 'Vera Viewer');
  cli('staff', 'add', FULFILLER, '--role', 'fulfiller', '--name',
    'Finn Fulfil');
  server = await startServer({
    state, env: { ...ENV, STAFF_RATE_PER_MINUTE: '100000' },
  });
  await startWork();
  browser = await launchChromium();
});

after(async () => {
  if (browser) await browser.close();
  assert.deepEqual(await server.stop(), { code: 0, signal: null });
  state.cleanup();
});

const url = (p) => `${server.url}${p}`;
const loginLink = (id) => deskLink(server, state, id);
const sessionCookie = (id) => deskCookie(server, state, id);

async function getPage(path, cookie) {
  const res = await fetch(url(path), { headers: { cookie } });
  return { res, html: await res.text() };
}

// The name (without '#') of the newest order in a status, from the API.
async function orderIn(status, cookie) {
  const res = await fetch(url(`/api/v1/orders?status=${status}&limit=1`),
    { headers: { cookie } });
  const body = await res.json();
  assert.ok(body.orders.length > 0, `the demo data has a ${status} order`);
  return body.orders[0].name.replace('#', '');
}

// Demo data is mostly history: the pending orders go into production so
// the tests have work in progress to look at and move.
async function startWork() {
  const cookie = await sessionCookie(FULFILLER);
  const list = await (await fetch(url('/api/v1/orders?status=pending'),
    { headers: { cookie } })).json();
  const page = await getPage('/dashboard', cookie);
  for (const o of list.orders) {
    const res = await fetch(url(`/api/v1/orders/${o.name.slice(1)}/status`), {
      method: 'POST',
      headers: { cookie, 'content-type': 'application/json',
        'x-csrf-token': csrfOf(page.html) },
      body: JSON.stringify({ to: 'in_production', expected_from: 'pending' }),
    });
    assert.equal(res.status, 200);
  }
}

const csrfOf = (html) => html.match(/name="csrf-token" content="([^"]+)"/)[1];

// ---- over HTTP ----

test('the pages need a staff member', async () => {
  for (const p of ['/dashboard', '/dashboard/orders/1001']) {
    const res = await fetch(url(p));
    assert.ok([401, 403].includes(res.status), `${p}: ${res.status}`);
    assert.match(res.headers.get('content-type'), /text\/html/);
  }
});

test('the list shows counts, newest orders first and links', async () => {
  const cookie = await sessionCookie(VIEWER);
  const { res, html } = await getPage('/dashboard', cookie);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /text\/html/);
  assert.ok(html.includes('<a class="chip" href="/dashboard" '
    + 'aria-current="page">All <span class="n">150</span>'));
  const names = [...html.matchAll(/<span class="name">#(\d+)</g)]
    .map((m) => Number(m[1]));
  assert.ok(names.length >= 30, 'a page of rows');
  assert.deepEqual(names, [...names].sort((a, b) => b - a), 'newest first');
  assert.match(html, new RegExp(`href="/dashboard/orders/${names[0]}"`));
  assert.match(html, new RegExp('<img src="/api/v1/images/[^"]+/thumb" '
    + 'width="56" height="56" loading="lazy"'));
  const onPage = new Set(names);
  if (html.includes('id="more"')) {
    const next = html.match(/id="more" href="([^"]+)"/)[1]
      .replaceAll('&amp;', '&');
    const more = await getPage(next, cookie);
    const later = [...more.html.matchAll(/<span class="name">#(\d+)</g)]
      .map((m) => Number(m[1]));
    assert.ok(later.length > 0);
    assert.ok(later.every((n) => !onPage.has(n) && n < names.at(-1)));
  }
});

test('status filter and search work as plain links and forms', async () => {
  const cookie = await sessionCookie(VIEWER);
  const { html } = await getPage('/dashboard?status=completed', cookie);
  const statuses = [...html.matchAll(/<span class="st st-([a-z_]+)">/g)]
    .map((m) => m[1]);
  assert.ok(statuses.length > 0);
  assert.ok(statuses.every((s) => s === 'completed'));
  assert.ok(html.includes(
    'href="/dashboard?status=completed" aria-current="page"'));
  const found = await getPage('/dashboard?q=%231007', cookie);
  const names = [...found.html.matchAll(/<span class="name">(#\d+)</g)]
    .map((m) => m[1]);
  assert.deepEqual(names, ['#1007']);
  assert.match(found.html, /value="#1007"/);
  const bad = await getPage('/dashboard?status=nonsense', cookie);
  assert.equal(bad.res.status, 400);
  assert.match(bad.res.headers.get('content-type'), /text\/html/);
});

test('what users type comes back escaped', async () => {
  const cookie = await sessionCookie(FULFILLER);
  const evil = '<script>alert(1)</script>"\'';
  const { html } = await getPage(`/dashboard?q=${encodeURIComponent(evil)}`,
    cookie);
  assert.ok(!html.includes('<script>alert(1)'));
  assert.ok(html.includes(
    'value="&lt;script&gt;alert(1)&lt;/script&gt;&quot;&#39;"'));
  // A note with markup shows as text on the order page.
  const order = await orderIn('completed', cookie);
  const page = await getPage(`/dashboard/orders/${order}`, cookie);
  const res = await fetch(url(`/api/v1/orders/${order}/notes`), {
    method: 'POST',
    headers: { cookie, 'content-type': 'application/json',
      'x-csrf-token': csrfOf(page.html) },
    body: JSON.stringify({ body: '<img src=x onerror=alert(1)> & done',
      idempotency_key: 'dash-escape-1' }),
  });
  assert.equal(res.status < 300, true, `note: ${res.status}`);
  const after = await getPage(`/dashboard/orders/${order}`, cookie);
  assert.ok(!after.html.includes('<img src=x'));
  assert.match(after.html, /&lt;img src=x onerror=alert\(1\)&gt; &amp; done/);
});

test('through the App Proxy every link carries the path prefix', async () => {
  const res = await fetch(url(await proxied('/dashboard', FULFILLER)));
  assert.equal(res.status, 200);
  const html = await res.text();
  const P = '/apps/fulfillment';
  const hashed = (ext) => `${P}/static/app\\.[0-9a-f]{12}\\.${ext}`;
  assert.match(html,
    new RegExp(`<link rel="stylesheet" href="${hashed('css')}">`));
  assert.match(html, new RegExp(`<script defer src="${hashed('js')}">`));
  assert.match(html, new RegExp(`href="${P}/dashboard/orders/\\d+"`));
  assert.match(html, new RegExp(`src="${P}/api/v1/images/[^"]+/thumb"`));
  assert.match(html, /<meta name="pd-base" content="\/apps\/fulfillment">/);
  const hrefs = [...html.matchAll(/(?:href|src|action)="([^"]+)"/g)]
    .map((m) => m[1]);
  assert.ok(hrefs.every((h) => h.startsWith(P + '/')), hrefs.join(' '));
  const order = await fetch(url(await proxied('/dashboard/orders/1003',
    FULFILLER)));
  const oh = await order.text();
  assert.match(oh, new RegExp(`href="${P}/api/v1/orders/1003/download.zip"`));
  assert.match(oh, new RegExp(`data-original="${P}/api/v1/images/`));
});

test('a viewer gets no controls; the server refuses them anyway', async () => {
  const viewer = await sessionCookie(VIEWER);
  const fulfiller = await sessionCookie(FULFILLER);
  const order = await orderIn('in_production', viewer);
  const v = await getPage(`/dashboard/orders/${order}`, viewer);
  assert.equal(v.res.status, 200);
  for (const control of ['data-move', 'data-claim', 'note-form',
    'download.zip', 'data-original']) {
    assert.ok(!v.html.includes(control), `viewer sees ${control}`);
  }
  const list = await getPage('/dashboard', viewer);
  assert.ok(!list.html.includes('print-queue.zip'));
  const flist = await getPage('/dashboard', fulfiller);
  assert.ok(flist.html.includes('href="/api/v1/print-queue.zip"'));
  const f = await getPage(`/dashboard/orders/${order}`, fulfiller);
  for (const control of ['data-move="printed"', 'data-claim="claim"',
    'id="note-form"', 'download.zip', 'data-original']) {
    assert.ok(f.html.includes(control), `fulfiller lacks ${control}`);
  }
  const res = await fetch(url(`/api/v1/orders/${order}/status`), {
    method: 'POST',
    headers: { cookie: viewer, 'content-type': 'application/json',
      'x-csrf-token': csrfOf(v.html) },
    body: JSON.stringify({ to: 'printed', idempotency_key: 'viewer-1' }),
  });
  assert.equal(res.status, 403);
  const missing = await getPage('/dashboard/orders/999999', viewer);
  assert.equal(missing.res.status, 404);
});

test('the order page shows print readiness per pet', async () => {
  const cookie = await sessionCookie(VIEWER);
  const api = await (await fetch(url('/api/v1/orders?limit=40'),
    { headers: { cookie } })).json();
  const flagged = api.orders.find((o) => o.warning_flags & 2);
  const fine = api.orders.find((o) => o.warning_flags === 0 &&
    o.pets.length > 0 && o.pets.every((p) => p.print_size));
  assert.ok(fine, 'a demo order without warnings');
  const ok = await getPage(`/dashboard/orders/${fine.name.slice(1)}`, cookie);
  assert.match(ok.html, /<p class="dpi dpi-ok"><b>\d+ DPI<\/b> at /);
  assert.ok(!/dpi-(low|poor)/.test(ok.html));
  if (flagged) {
    const bad = await getPage(`/dashboard/orders/${flagged.name.slice(1)}`,
      cookie);
    const dpi = Number(bad.html.match(/dpi-poor"><b>(\d+) DPI/)[1]);
    assert.ok(dpi < 100, `poor means under 100 DPI, got ${dpi}`);
  }
});

test('static assets: hashed names are immutable, plain ones revalidate',
  async () => {
    const cookie = await sessionCookie(VIEWER);
    const { html } = await getPage('/dashboard', cookie);
    const css = html.match(/href="(\/static\/app\.[0-9a-f]{12}\.css)"/)[1];
    const res = await fetch(url(css));
    assert.equal(res.status, 200);
    assert.match(res.headers.get('cache-control'), /immutable/);
    assert.match(res.headers.get('content-type'), /^text\/css/);
    const etag = res.headers.get('etag');
    assert.equal(etag, `"${css.match(/app\.([0-9a-f]{12})\./)[1]}"`);
    const body = await res.text();
    const plain = await fetch(url('/static/app.css'));
    assert.equal(plain.headers.get('cache-control'), 'no-cache');
    assert.equal(await plain.text(), body);
    const again = await fetch(url('/static/app.css'),
      { headers: { 'if-none-match': etag } });
    assert.equal(again.status, 304);
    const raw = await fetch(url(css), {
      headers: { 'accept-encoding': 'gzip' }, decompress: false,
    });
    assert.equal(raw.headers.get('content-encoding'), 'gzip');
    assert.equal((await fetch(url('/static/nope.js'))).status, 404);
  });

test('the list page with its CSS and script is under 30 KiB gzipped',
  async () => {
    const cookie = await sessionCookie(FULFILLER);
    const { html } = await getPage('/dashboard', cookie);
    let total = gzipSync(html, { level: 9 }).length;
    for (const m of html.matchAll(/(?:href|src)="(\/static\/[^"]+)"/g)) {
      const body = Buffer.from(await (await fetch(url(m[1]))).arrayBuffer());
      total += gzipSync(body, { level: 9 }).length;
    }
    console.log(`# list page, CSS and script gzipped: ${total} bytes`);
    assert.ok(total < 30 * 1024, `${total} bytes`);
  });

// ---- in Chromium, on a phone ----

const PHONE = { viewport: { width: 390, height: 844 }, hasTouch: true,
  isMobile: true, deviceScaleFactor: 2 };

// A signed-in page for a staff member; CSP reports and page errors fail.
async function signedIn(id) {
  const context = await browser.newContext(PHONE);
  const page = await context.newPage();
  page.problems = [];
  page.on('console', (m) => {
    if (m.type() === 'error' && /Content Security Policy/.test(m.text())) {
      page.problems.push(m.text());
    }
  });
  page.on('pageerror', (e) => page.problems.push(String(e)));
  const res = await page.goto(loginLink(id));
  assert.equal(res.status(), 200);
  // The signed-in page moves on by itself; let it, before going on.
  await page.waitForURL((u) => u.pathname !== '/auth/handoff');
  await page.waitForLoadState();
  return page;
}

// axe-core in the page; the serious and critical violations.
async function axeProblems(page) {
  await page.evaluate(AXE);
  const result = await page.evaluate(() => window.axe.run(document));
  assert.ok(result.passes.length > 10, 'axe checked the page');
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.nodes.map((n) => n.target).join(' ')}`);
}

const skip = CHROMIUM ? false : 'Chromium is not installed';

test('phone: filter, search, open, compare, zoom, claim, move, note',
  { skip }, async () => {
    const page = await signedIn(FULFILLER);
    const res = await page.goto(url('/dashboard'));
    assert.equal(res.status(), 200, await page.content());
    assert.deepEqual(await axeProblems(page), []);

    // Filter by status with a chip.
    await page.getByRole('link', { name: /^In production/ }).click();
    await page.waitForURL(/status=in_production/);
    const badges = await page.locator('.orders .st').allTextContents();
    assert.ok(badges.length > 0);
    assert.ok(badges.every((t) => t === 'In production'));
    const target = (await page.locator('.orders .name').first()
      .textContent()).replace('#', '');

    // Search as you type, by order name, across all statuses.
    await page.getByRole('link', { name: /^All/ }).click();
    await page.waitForURL(/\/dashboard$/);
    await page.getByLabel('Search orders').fill(`#${target}`);
    await page.waitForURL(new RegExp(`q=%23${target}`));
    await page.waitForFunction((n) => {
      const names = [...document.querySelectorAll('.orders .name')];
      return names.length === 1 && names[0].textContent === '#' + n;
    }, target);

    // Open it.
    await page.locator('.orders a.row').first().click();
    await page.waitForURL(new RegExp(`/dashboard/orders/${target}(\\?|$)`));
    assert.match(await page.locator('h1').textContent(), /In production/);
    assert.deepEqual(await axeProblems(page), []);

    // Side by side, a phone gets the thumbnails (the viewer has detail).
    const shown = page.locator('.pair img').first();
    await page.waitForFunction((img) => img.complete && img.naturalWidth > 0,
      await shown.elementHandle());
    assert.match(await shown.evaluate((img) => img.currentSrc), /\/thumb$/);

    // Compare: opened, the slider moves the edge between cut-out and
    // original, both at preview size.
    await page.getByText('Compare over a background').first().click();
    const slider = page.locator('[data-compare] input[type=range]').first();
    await slider.fill('20');
    const clip = await page.locator('[data-compare] .stage img').first()
      .evaluate((img) => img.style.clipPath);
    assert.equal(clip, 'inset(0px 0px 0px 20%)');
    assert.match(await page.locator('[data-compare] .stage img').first()
      .getAttribute('src'), /\/preview$/);

    // Zoom: a double tap zooms in; Escape closes and returns focus.
    await page.locator('button.zoom').first().click();
    const viewer = page.getByRole('dialog');
    await viewer.waitFor();
    assert.deepEqual(await axeProblems(page), []);
    const img = viewer.locator('img');
    await img.dblclick();
    await page.waitForFunction(() => /scale\(2\.5\)/.test(
      document.querySelector('.viewer img').style.transform));
    await page.getByRole('button', { name: 'Load the full original' })
      .click();
    assert.match(await img.getAttribute('src'), /\/original$/);
    await page.keyboard.press('Escape');
    assert.equal(await page.locator('.viewer').count(), 0);

    // Claim, then move to printed, then a note.
    await page.getByRole('button', { name: 'Claim' }).click();
    await page.getByRole('button', { name: 'Release' }).waitFor();
    assert.match(await page.locator('.meta').textContent(),
      /Claimed by Finn Fulfil/);
    await page.getByRole('button', { name: 'Move to Printed' }).click();
    await page.locator('h1 .st-printed').waitFor();
    await page.getByLabel('Add a note').fill('Printed on the Epson, glossy');
    await page.getByRole('button', { name: 'Add note' }).click();
    await page.locator('.timeline .nt', { hasText: 'glossy' }).waitFor();
    const timeline = await page.locator('#timeline').textContent();
    assert.match(timeline, /In production → Printed by customer:2002/);
    assert.match(timeline, /Printed for \d+ s so far/);
    assert.match(timeline, /Note by .*Printed on the Epson, glossy/);
    // Reopened, the timeline also shows the claim and the photos opened:
    // previews on the page and in the viewer, the full original.
    await page.reload();
    const full = await page.locator('#timeline').textContent();
    assert.match(full, /Claimed by customer:2002/);
    assert.match(full, /Viewed .+'s (original|cut-out)( ×\d+)? by customer:2002/);
    assert.match(full, /Downloaded .+'s original by customer:2002/);
    assert.ok(full.indexOf('Claimed') < full.indexOf('Printed by'),
      'oldest first: the claim came before the move');
    assert.deepEqual(page.problems, []);
    await page.context().close();

    // The server agrees.
    const cookie = await sessionCookie(VIEWER);
    const api = await (await fetch(url(`/api/v1/orders/${target}`),
      { headers: { cookie } })).json();
    assert.equal(api.order.status, 'printed');
    assert.ok(api.order.notes.some((n) => /Epson/.test(n.body)));
  });

// Downloads one zip by clicking the link named name; its saved path, the
// name the browser was given, and what the page said when it was done.
async function downloadZip(page, name, dir) {
  const link = page.getByRole('link', { name });
  const [download] = await Promise.all([
    page.waitForEvent('download'), link.click()]);
  const file = join(dir, download.suggestedFilename());
  await download.saveAs(file);
  const status = page.locator('.zip-progress');
  await status.filter({ hasText: 'Downloaded' }).waitFor();
  return { file, filename: download.suggestedFilename(),
    said: await status.textContent(),
    bar: await status.locator('progress').getAttribute('value') };
}

test("phone: an order's zip and the print queue download with progress",
  { skip }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pd-dash-zip-'));
    const page = await signedIn(FULFILLER);
    const cookie = await sessionCookie(VIEWER);
    const queue = (await (await fetch(
      url('/api/v1/orders?status=in_production&limit=200'),
      { headers: { cookie } })).json()).orders;
    assert.ok(queue.length > 1, 'the demo data has a print queue');

    // One order, from its page.
    const ref = queue[0].name.slice(1);
    await page.goto(url(`/dashboard/orders/${ref}`));
    const one = await downloadZip(page, 'Download zip', dir);
    assert.equal(one.filename, `order-${ref}.zip`);
    assert.match(one.said, /^ ?Downloaded order-\d+\.zip \(\d+\.\d MB\)\.$/);
    assert.equal(one.bar, '100');
    const order = zipContents(one.file);
    const files = queue[0].pets.flatMap((p) =>
      [p.original_image, p.processed_image].filter(Boolean));
    assert.equal(order.names.length, files.length + 1);
    assert.ok(order.names.slice(0, -1).every((n) => n.startsWith(`${ref}/`)));
    assert.equal(order.manifest.length, files.length + 1);

    // Each file alone, byte for byte.
    const api = (await (await fetch(url(`/api/v1/orders/${ref}`),
      { headers: { cookie } })).json()).order;
    const link = page.getByRole('link', { name: /^Download the original of / })
      .first();
    const [single] = await Promise.all([page.waitForEvent('download'),
      link.click()]);
    const saved = join(dir, 'single');
    await single.saveAs(saved);
    const id = (await link.getAttribute('href')).split('/').at(-2);
    const image = api.images.find((im) => im.id === id);
    assert.equal(readFileSync(saved).length, image.bytes);

    // The whole print queue, from the list.
    await page.goto(url('/dashboard'));
    const all = await downloadZip(page, 'Download the print queue', dir);
    assert.match(all.filename, /^print-queue-\d{4}-\d{2}-\d{2}\.zip$/);
    const zip = zipContents(all.file);
    const folders = [...new Set(zip.names.slice(0, -1)
      .map((n) => n.split('/')[0]))].sort();
    assert.deepEqual(folders, queue.map((o) => o.name.slice(1)).sort());
    assert.equal(zip.manifest.length, zip.names.length);
    assert.deepEqual(page.problems, []);
    await page.context().close();
    rmSync(dir, { recursive: true, force: true });
  });

test('phone: a viewer sees the order but no controls', { skip },
  async () => {
    const page = await signedIn(VIEWER);
    await page.goto(url('/dashboard?status=printed'));
    await page.locator('.orders a.row').first().click();
    await page.waitForURL(/\/dashboard\/orders\//);
    assert.equal(await page.locator('button[data-move]').count(), 0);
    assert.equal(await page.locator('button[data-claim]').count(), 0);
    assert.equal(await page.locator('#note-form').count(), 0);
    assert.ok(await page.locator('button.zoom').count() > 0);
    assert.deepEqual(await axeProblems(page), []);
    assert.deepEqual(page.problems, []);
    await page.context().close();
  });

test('desktop: the list and an order page pass axe at 1280x800', { skip },
  async () => {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    page.problems = [];
    page.on('pageerror', (e) => page.problems.push(String(e)));
    await page.goto(loginLink(FULFILLER));
    await page.waitForURL((u) => u.pathname !== '/auth/handoff');
    await page.goto(url('/dashboard'));
    assert.deepEqual(await axeProblems(page), []);
    await page.locator('.orders a.row').first().click();
    await page.waitForURL(/\/dashboard\/orders\//);
    assert.deepEqual(await axeProblems(page), []);
    // A wide screen gets the previews side by side.
    const shown = page.locator('.pair img').first();
    await page.waitForFunction((img) => img.complete && img.naturalWidth > 0,
      await shown.elementHandle());
    assert.match(await shown.evaluate((img) => img.currentSrc),
      /\/preview$/);
    assert.deepEqual(page.problems, []);
    await context.close();
  });
