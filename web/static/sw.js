// sw.js — the dashboard's service worker: the shell (CSS, script) from a
// cache, and the last viewed list and order pages network first with the
// saved copy as the fallback; a copy served from the cache carries
// <meta name="pd-offline" content="{saved at, ms}"> for app.js's banner.
'use strict';

const VERSION = 'pd-1';
const SHELL = VERSION + '-shell', PAGES = VERSION + '-pages';
const MAX_ORDERS = 30;  // order pages kept; the oldest go first
const MAX_ASSETS = 24;  // hashed assets kept (old versions drop off)
// The App Proxy's path prefix: the scope is {prefix}/dashboard.
const BASE = new URL(self.registration.scope).pathname
  .replace(/\/dashboard\/?$/, '');
// The last list viewed, whatever its filter, under one fixed key.
const LAST_LIST = BASE + '/dashboard?pd-last-list';

self.addEventListener('install', () => self.skipWaiting());

self.addEventListener('activate', (ev) => ev.waitUntil((async () => {
  for (const k of await caches.keys()) {
    if (!k.startsWith(VERSION + '-')) await caches.delete(k);
  }
  await self.clients.claim();
})()));

// 'list', 'order', 'static' or null (not ours to cache).
function kindOf(url) {
  if (url.origin !== self.location.origin) return null;
  const p = url.pathname;
  if (p === BASE + '/dashboard') return 'list';
  if (p.startsWith(BASE + '/dashboard/orders/')) return 'order';
  if (p.startsWith(BASE + '/static/')) return 'static';
  return null;
}

// Keeps a page's response, stamped with when it was saved.
async function savePage(url, kind, res) {
  const headers = new Headers(res.headers);
  headers.set('X-PD-Saved', String(Date.now()));
  const body = await res.arrayBuffer();
  const copy = () => new Response(body, { status: 200, headers });
  const cache = await caches.open(PAGES);
  await cache.delete(url);  // re-added last: newest at the end
  await cache.put(url, copy());
  if (kind === 'list') {
    await cache.put(LAST_LIST, copy());
    return;
  }
  const orders = (await cache.keys()).filter((r) =>
    kindOf(new URL(r.url)) === 'order');
  for (const r of orders.slice(0, Math.max(0, orders.length - MAX_ORDERS))) {
    await cache.delete(r);
  }
}

// The saved copy of a page, marked as offline; undefined if none.
async function savedPage(url, kind) {
  const cache = await caches.open(PAGES);
  let res = await cache.match(url);
  if (!res && kind === 'list') res = await cache.match(LAST_LIST);
  if (!res) return undefined;
  const saved = Number(res.headers.get('X-PD-Saved')) || 0;
  const html = (await res.text()).replace('<head>',
    '<head><meta name="pd-offline" content="' + saved + '">');
  return new Response(html, { status: 200, headers: {
    'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store',
  } });
}

const isPage = (res) => res.ok && res.type === 'basic' &&
  (res.headers.get('Content-Type') || '').startsWith('text/html');

async function networkFirst(req, kind) {
  try {
    const res = await fetch(req);
    if (isPage(res)) await savePage(req.url, kind, res.clone());
    return res;
  } catch (e) {
    const copy = await savedPage(req.url, kind);
    if (copy) return copy;
    throw e;
  }
}

// Keeps an asset; the oldest go when there are more than MAX_ASSETS.
async function saveAsset(cache, req, res) {
  await cache.put(req, res);
  const keys = await cache.keys();
  for (const r of keys.slice(0, Math.max(0, keys.length - MAX_ASSETS))) {
    await cache.delete(r);
  }
}

async function cacheFirst(req) {
  const cache = await caches.open(SHELL);
  const hit = await cache.match(req);
  if (hit) return hit;
  const res = await fetch(req);
  if (res.ok) await saveAsset(cache, req, res.clone());
  return res;
}

self.addEventListener('fetch', (ev) => {
  const req = ev.request;
  if (req.method !== 'GET') return;
  const kind = kindOf(new URL(req.url));
  if (kind === 'static') {
    ev.respondWith(cacheFirst(req));
  } else if ((kind === 'list' || kind === 'order') &&
             req.mode === 'navigate') {
    ev.respondWith(networkFirst(req, kind));
  }
});

// Whether the saved copy of url is at least as new as since (ms).
async function savedSince(url, since) {
  const res = await (await caches.open(PAGES)).match(url);
  return !!res && Number(res.headers.get('X-PD-Saved')) >= since;
}

// From app.js on every page: keep the page (unless this worker saved it
// while serving it) and its assets.
async function keep(msg) {
  const shell = await caches.open(SHELL);
  for (const u of msg.assets || []) {
    if (kindOf(new URL(u)) !== 'static' || await shell.match(u)) continue;
    const res = await fetch(u);
    if (res.ok) await saveAsset(shell, u, res);
  }
  const kind = msg.page ? kindOf(new URL(msg.page)) : null;
  if ((kind === 'list' || kind === 'order') &&
      !(await savedSince(msg.page, msg.since))) {
    const res = await fetch(msg.page, { credentials: 'same-origin' });
    if (isPage(res)) await savePage(msg.page, kind, res);
  }
}

self.addEventListener('message', (ev) => {
  if (ev.data && ev.data.type === 'keep') {
    ev.waitUntil(keep(ev.data).then(() => {
      if (ev.source) ev.source.postMessage({ type: 'kept' });
    }, () => {}));
  }
});
