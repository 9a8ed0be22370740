// lifecycle.test.mjs — starting and stopping: bad configuration stops the
// program with one line and exit 2, local secrets are generated once,
// SIGTERM lets a slow request finish, and the limits libmicrohttpd leaves
// open by default are closed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { statSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startServer, runPrintdesk, freshState } from '../lib/server.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function expectBadConfig(args, env, variable) {
  const state = freshState();
  try {
    const r = await runPrintdesk(['serve', '--data-dir',
      join(state.dir, 'data'), ...args], {
      env: { DATABASE_URL: state.databaseUrl, ...env },
    });
    assert.equal(r.code, 2, `exit status for ${variable}: ${r.stderr}`);
    const lines = r.stderr.trim().split('\n');
    assert.equal(lines.length, 1, `one line: ${r.stderr}`);
    assert.ok(lines[0].includes(variable), `names ${variable}: ${lines[0]}`);
  } finally {
    state.cleanup();
  }
}

test('a port out of range stops the program with exit 2', async () => {
  await expectBadConfig([], { PORT: '70000' }, 'PORT');
  await expectBadConfig([], { PORT: 'eighty' }, 'PORT');
  await expectBadConfig(['--listen', '127.0.0.1:99999'], {}, '--listen');
});

test('an unknown URL scheme stops the program with exit 2', async () => {
  await expectBadConfig([], { DATABASE_URL: 'mysql://db/x' }, 'DATABASE_URL');
  await expectBadConfig([], { STORAGE_URL: 'ftp://files' }, 'STORAGE_URL');
});

test('other bad values name their variable', async () => {
  await expectBadConfig([], { LOG_LEVEL: 'loud' }, 'LOG_LEVEL');
  await expectBadConfig(['--threads', '0'], {}, 'PRINTDESK_THREADS');
  await expectBadConfig([], { SHOPIFY_SHOP: 'evil.example.com' }, 'SHOPIFY_SHOP');
  await expectBadConfig(['--listen', '127.0.0.1:0'],
    { PRINTDESK_DATA_KEY: 'short' }, 'PRINTDESK_DATA_KEY');
  await expectBadConfig(['--bogus'], {}, '--bogus');
});

test('outside local mode a missing secret stops the program', async () => {
  await expectBadConfig(['--listen', '0.0.0.0:0'], {}, 'SHOPIFY_APP_SECRET');
  await expectBadConfig(['--listen', '0.0.0.0:0'],
    { SHOPIFY_APP_SECRET: 'x'.repeat(32) }, 'PRINTDESK_DATA_KEY');
});

test('--help works on every subcommand', async () => {
  for (const cmd of ['serve', 'migrate', 'seed-demo']) {
    const r = await runPrintdesk([cmd, '--help']);
    assert.equal(r.code, 0, cmd);
    assert.match(r.stdout, new RegExp(`usage: printdesk ${cmd}`));
  }
  const top = await runPrintdesk(['--help']);
  assert.equal(top.code, 0);
  assert.match(top.stdout, /serve/);
  const unknown = await runPrintdesk(['frobnicate']);
  assert.equal(unknown.code, 2);
});

test('local mode generates its secrets once, readable only by the owner', async () => {
  const server = await startServer();
  const dataDir = join(server.state.dir, 'data');
  const secret = readFileSync(join(dataDir, 'app_secret'), 'utf8');
  assert.match(secret, /^[0-9a-f]{64}\n$/);
  assert.equal(statSync(join(dataDir, 'app_secret')).mode & 0o777, 0o600);
  assert.equal(statSync(join(dataDir, 'data_key')).mode & 0o777, 0o600);
  assert.deepEqual(await server.stop(), { code: 0, signal: null });
});

test('SIGTERM lets a slow request finish, then exits 0', async () => {
  const server = await startServer();
  const started = Date.now();
  const slow = fetch(`${server.url}/_test/sleep?ms=1500`);
  await sleep(300);
  server.child.kill('SIGTERM');
  await sleep(200);
  // No new connections are accepted while draining.
  await assert.rejects(fetch(`${server.url}/healthz`));
  const res = await slow;
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { slept: true });
  const exit = await server.stop();
  assert.deepEqual(exit, { code: 0, signal: null }, server.stderr.slice(-2000));
  assert.ok(Date.now() - started >= 1500);
  assert.ok(server.logs().some((l) => /SIGTERM received/.test(l.message)));
});

test('SIGINT stops an idle server at once with exit 0', async () => {
  const server = await startServer();
  const t0 = Date.now();
  const exit = await server.stop('SIGINT');
  assert.deepEqual(exit, { code: 0, signal: null });
  assert.ok(Date.now() - t0 < 5000);
});

test('a client that stalls mid-headers is dropped after the timeout', async () => {
  const server = await startServer({ env: { CONNECTION_TIMEOUT: '1' } });
  const sock = net.connect(server.port, '127.0.0.1');
  await new Promise((r) => sock.on('connect', r));
  sock.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
  const t0 = Date.now();
  await new Promise((r) => sock.on('close', r));
  const waited = Date.now() - t0;
  assert.ok(waited >= 500 && waited < 10000, `closed after ${waited} ms`);
  assert.deepEqual(await server.stop(), { code: 0, signal: null });
});

test('connections beyond the per-address limit are refused', async () => {
  const server = await startServer({ env: { PER_IP_CONNECTIONS: '4' } });
  const socks = [];
  for (let i = 0; i < 4; i++) {
    const s = net.connect(server.port, '127.0.0.1');
    await new Promise((r) => s.on('connect', r));
    socks.push(s);
  }
  await sleep(100);
  const extra = net.connect(server.port, '127.0.0.1');
  const closed = await new Promise((resolve) => {
    extra.on('close', () => resolve(true));
    extra.on('error', () => {});
    extra.on('connect', () => {
      extra.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
    });
    extra.on('data', () => resolve(false));
    setTimeout(() => resolve(false), 3000);
  });
  assert.equal(closed, true, 'the fifth connection is closed unanswered');
  for (const s of socks) s.destroy();
  await sleep(100);
  const res = await fetch(`${server.url}/healthz`);
  assert.equal(res.status, 200, 'served again once the others closed');
  assert.deepEqual(await server.stop(), { code: 0, signal: null });
});

test('oversized request headers are refused and the server stays up', async () => {
  const server = await startServer();
  const res = await fetch(`${server.url}/healthz`, {
    headers: { 'X-Big': 'a'.repeat(64 * 1024) },
  });
  assert.ok([413, 431].includes(res.status), `status ${res.status}`);
  const ok = await fetch(`${server.url}/healthz`);
  assert.equal(ok.status, 200);
  assert.deepEqual(await server.stop(), { code: 0, signal: null });
});

test('storage going away makes readiness 503 until it returns', async () => {
  const { renameSync } = await import('node:fs');
  const server = await startServer();
  const objects = join(server.state.dir, 'objects');
  assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
  renameSync(objects, objects + '.away');
  const down = await fetch(`${server.url}/readyz`);
  assert.equal(down.status, 503);
  const body = await down.json();
  assert.equal(body.status, 'unavailable');
  assert.notEqual(body.checks.storage, 'ok');
  assert.equal(body.checks.database, 'ok');
  renameSync(objects + '.away', objects);
  assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
  assert.deepEqual(await server.stop(), { code: 0, signal: null });
});

test('PORT makes it listen on every address, as Cloud Run expects', async () => {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await new Promise((r) => probe.on('listening', r));
  const port = probe.address().port;
  await new Promise((r) => probe.close(r));
  const server = await startServer({
    env: {
      PORT: String(port),
      SHOPIFY_APP_SECRET: 's'.repeat(32),
      PRINTDESK_DATA_KEY: 'ab'.repeat(32),
    },
  });
  assert.equal(server.port, port);
  assert.ok(server.logs().some((l) =>
    l.message === `printdesk listening on http://0.0.0.0:${port}/`));
  const res = await fetch(`http://127.0.0.1:${port}/healthz`);
  assert.equal(res.status, 200);
  assert.deepEqual(await server.stop(), { code: 0, signal: null });
});
