// storefront.mjs — the shop's side of the bridge tests: a storefront on
// its own origin (a small Node server) whose product page includes
// printdesk's /static/bridge.js as a theme does, under a strict
// Content-Security-Policy, with a fake cart that records what it is
// sent; real photos made with Pillow; and a printdesk that can be stopped
// and started again on the same port and state.
import http from 'node:http';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sha256 } from './uploads.mjs';
import { startServer } from './server.mjs';

// The product page's own script: starts the bridge with the page's
// configuration, records every bridge event (and hands it to
// window.pdNotify when the test listens), and ties the cart form.
const PAGE_SCRIPT = `(function () {
  'use strict';
  var cfg = JSON.parse(document.querySelector('meta[name=pd-config]')
    .getAttribute('content'));
  var bridge = window.PrintdeskBridge;
  var log = window.pdLog = { events: [] };
  document.addEventListener('securitypolicyviolation', function (e) {
    (window.pdViolations = window.pdViolations || [])
      .push(e.violatedDirective + ' ' + e.blockedURI);
  });
  ['progress', 'uploaded', 'failed', 'retrying', 'queue-empty']
    .forEach(function (name) {
      bridge.on(name, function (detail) {
        var e = { name: name, detail: detail, at: Date.now() };
        log.events.push(e);
        if (window.pdNotify) window.pdNotify(JSON.parse(JSON.stringify(e)));
      });
    });
  bridge.init(cfg.init);
  if (cfg.attach) bridge.attachToForm(document.getElementById('cart'),
    cfg.attach);
}());
`;

const escapeAttr = (s) => s.replace(/&/g, '&amp;').replace(/"/g, '&quot;')
  .replace(/</g, '&lt;');

function originOf(url) {
  return new URL(url).origin;
}

// The strictest policy the page can live with: scripts from itself and
// printdesk only, no inline code, no eval, Trusted Types enforced.
function policy(config) {
  const connect = [...new Set([config.bridgeUrl, config.init.endpoint]
    .filter(Boolean).map(originOf))].join(' ');
  return ["default-src 'none'", `script-src 'self' ${
    originOf(config.bridgeUrl)}`, `connect-src ${connect}`,
  "img-src 'self' blob: data:", "style-src 'self'", "form-action 'self'",
  "base-uri 'none'", "require-trusted-types-for 'script'",
  "trusted-types 'none'"].join('; ');
}

function productPage(config) {
  const bridgeTag = config.module
    ? `<script type="module" src="${escapeAttr(config.bridgeUrl)}"></script>`
    : `<script src="${escapeAttr(config.bridgeUrl)}"></script>`;
  return `<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>Pet portrait</title>
<meta name="pd-config" content="${escapeAttr(JSON.stringify(config))}">
${bridgeTag}<script defer src="/page.js"></script></head><body>
<form id="cart" method="post" action="/cart/add">
<input type="hidden" name="id" value="40001">
<input type="file" id="photos" multiple>
<button type="submit">Add to cart</button></form></body></html>`;
}

function readBody(req) {
  return new Promise((resolve) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => resolve(body));
  });
}

// Starts the storefront. Its `config` ({bridgeUrl, module, init,
// attach}) is read on every page load; `carts` lists every cart form
// received (as URLSearchParams, with the time it came).
export async function startStorefront(config) {
  const shop = { config, carts: [] };
  const server = http.createServer(async (req, res) => {
    if (req.url === '/page.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' });
      res.end(PAGE_SCRIPT);
    } else if (req.method === 'POST' && req.url === '/cart/add') {
      shop.carts.push({ form: new URLSearchParams(await readBody(req)),
        at: Date.now() });
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<!doctype html><title>Cart</title><p>Added to cart.</p>');
    } else if (req.url.split('?')[0] === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8',
        'content-security-policy': policy(shop.config),
        'cache-control': 'no-store' });
      res.end(productPage(shop.config));
    } else {
      res.writeHead(req.url === '/favicon.ico' ? 204 : 404);
      res.end();
    }
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  shop.origin = `http://127.0.0.1:${server.address().port}`;
  shop.url = `${shop.origin}/`;
  shop.close = () => new Promise((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });
  return shop;
}

// A page of the storefront that fails the test on any script error,
// console error or Content-Security-Policy violation.
export async function openShopPage(context, shop, problems) {
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console: ${m.text()}`);
  });
  await page.goto(shop.url);
  await page.waitForFunction(() => window.pdLog !== undefined);
  return page;
}

// The events the page's bridge has emitted so far.
export function pageEvents(page, name) {
  return page.evaluate((n) => window.pdLog.events
    .filter((e) => !n || e.name === n), name);
}

// Photos made with Pillow from random pixels, so no two are alike: each
// spec {name, width, height, format ('JPEG' | 'PNG'), mode ('RGB' |
// 'RGBA'), stored (PNG without compression)}. Returns the specs with
// path, bytes and sha256.
export function makePhotos(dir, specs) {
  const py = `
import json, os, sys
from PIL import Image
for s in json.loads(sys.argv[1]):
    mode = s.get('mode', 'RGB')
    img = Image.frombytes(mode, (s['width'], s['height']),
                          os.urandom(s['width'] * s['height'] * len(mode)))
    path = os.path.join(sys.argv[2], s['name'])
    if s['format'] == 'JPEG':
        img.save(path, 'JPEG', quality=s.get('quality', 90))
    else:
        img.save(path, 'PNG', compress_level=0 if s.get('stored') else 6)
`;
  execFileSync('/usr/bin/python3', ['-c', py, JSON.stringify(specs), dir]);
  return specs.map((s) => {
    const path = join(dir, s.name);
    const bytes = readFileSync(path);
    return { ...s, path, bytes, size: bytes.length, sha256: sha256(bytes) };
  });
}

// A data: URL of a file's bytes.
export function dataUrl(bytes, type) {
  return `data:${type};base64,${Buffer.from(bytes).toString('base64')}`;
}

// A loopback port nobody listens on right now.
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

// printdesk on a fixed port, so pages keep their endpoint when it is
// stopped (stop(signal)) and started again (start()) on the same state.
export async function restartableDesk(state, env) {
  const port = await freePort();
  const desk = {
    port, url: `http://127.0.0.1:${port}`, server: null, state,
    async start() {
      desk.server = await startServer({ state, env,
        args: ['--listen', `127.0.0.1:${port}`] });
      return desk.server;
    },
    async stop(signal = 'SIGTERM') {
      const exit = await desk.server.stop(signal);
      return exit;
    },
  };
  await desk.start();
  return desk;
}
