// http.test.mjs — the HTTP surface every route shares: health and
// readiness, 404/405, request ids, security headers, body limits, access
// logs and metrics, against the real binary on the backend under test.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startServer } from '../lib/server.mjs';

let server;
before(async () => { server = await startServer(); });
after(async () => {
  const exit = await server.stop();
  assert.deepEqual(exit, { code: 0, signal: null }, server.stderr.slice(-2000));
});

test('GET /healthz answers 200 with status ok', async () => {
  const res = await fetch(`${server.url}/healthz`);
  assert.equal(res.status, 200);
  assert.deepEqual(await res.json(), { status: 'ok' });
  assert.match(res.headers.get('content-type'), /application\/json/);
});

test('GET /readyz reports the database and storage as ok', async () => {
  const res = await fetch(`${server.url}/readyz`);
  assert.equal(res.status, 200);
  const body = await res.json();
  assert.equal(body.status, 'ok');
  assert.deepEqual(body.checks, { database: 'ok', storage: 'ok' });
});

test('an unknown path is a JSON 404', async () => {
  const res = await fetch(`${server.url}/no/such/page`);
  assert.equal(res.status, 404);
  const body = await res.json();
  assert.equal(body.error.code, 'not_found');
  assert.ok(body.error.message.length > 0);
});

test('a known path with the wrong method is a 405 with Allow', async () => {
  const res = await fetch(`${server.url}/healthz`, { method: 'DELETE' });
  assert.equal(res.status, 405);
  assert.equal(res.headers.get('allow'), 'GET, HEAD');
  assert.equal((await res.json()).error.code, 'method_not_allowed');
});

test('HEAD is answered by GET routes without a body', async () => {
  const res = await fetch(`${server.url}/healthz`, { method: 'HEAD' });
  assert.equal(res.status, 200);
  assert.equal(await res.text(), '');
});

test('every response carries a fresh request id', async () => {
  const a = await fetch(`${server.url}/healthz`);
  const b = await fetch(`${server.url}/nowhere`);
  const ida = a.headers.get('x-request-id');
  const idb = b.headers.get('x-request-id');
  assert.match(ida, /^[0-9a-f]{32}$/);
  assert.match(idb, /^[0-9a-f]{32}$/);
  assert.notEqual(ida, idb);
});

test('the request id comes from X-Cloud-Trace-Context when present', async () => {
  const trace = '105445aa7843bc8bf206b12000100000';
  const res = await fetch(`${server.url}/healthz`, {
    headers: { 'X-Cloud-Trace-Context': `${trace}/1;o=1` },
  });
  assert.equal(res.headers.get('x-request-id'), trace);
  await new Promise((r) => setTimeout(r, 50));
  const line = server.logs().find((l) => l.requestId === trace);
  assert.ok(line, 'an access line names the trace');
  assert.equal(line['logging.googleapis.com/trace'], trace);
  assert.equal(line.httpRequest.status, 200);
  assert.equal(line.httpRequest.requestUrl, '/healthz');
});

test('a malformed trace header is ignored, not echoed', async () => {
  const res = await fetch(`${server.url}/healthz`, {
    headers: { 'X-Cloud-Trace-Context': '"><script>/1' },
  });
  assert.match(res.headers.get('x-request-id'), /^[0-9a-f]{32}$/);
});

test('security headers are on every response, errors included', async () => {
  for (const path of ['/healthz', '/missing', '/']) {
    const res = await fetch(`${server.url}${path}`);
    const csp = res.headers.get('content-security-policy');
    assert.match(csp, /default-src 'self'/, path);
    assert.match(csp, /frame-ancestors https:\/\/\S+\.myshopify\.com/, path);
    assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
    assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
  }
});

test('HTML routes answer errors as HTML pages', async () => {
  const page = await fetch(`${server.url}/no-such-page`,
    { headers: { Accept: 'text/html,*/*' } });
  assert.equal(page.status, 404);
  assert.match(page.headers.get('content-type'), /text\/html/);
  assert.match(await page.text(), /<h1>404<\/h1>/);
  const res = await fetch(`${server.url}/`,
    { method: 'POST', headers: { Accept: 'text/html' } });
  assert.equal(res.status, 405);
  assert.match(res.headers.get('content-type'), /text\/html/);
  assert.match(await res.text(), /<h1>405<\/h1>/);
});

test('a body over the route limit is refused with 413', async () => {
  const big = Buffer.alloc(2 * 1024 * 1024, 'a');
  const res = await fetch(`${server.url}/_test/echo`, {
    method: 'POST', body: big,
  });
  assert.equal(res.status, 413);
  assert.equal((await res.json()).error.code, 'too_large');
  const ok = await fetch(`${server.url}/healthz`);
  assert.equal(ok.status, 200, 'the server is still up');
});

test('a body within the limit reaches the handler whole', async () => {
  const body = Buffer.alloc(300 * 1024, 'b');
  const res = await fetch(`${server.url}/_test/echo`, { method: 'POST', body });
  assert.equal(res.status, 200);
  assert.equal((await res.json()).bytes, body.length);
});

test('each request writes one JSON access line', async () => {
  const res = await fetch(`${server.url}/healthz?probe=access`);
  const id = res.headers.get('x-request-id');
  await new Promise((r) => setTimeout(r, 50));
  const lines = server.logs().filter((l) => l.requestId === id);
  assert.equal(lines.length, 1);
  const [line] = lines;
  assert.equal(line.severity, 'INFO');
  assert.match(line.time, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
  assert.equal(line.httpRequest.requestMethod, 'GET');
  assert.equal(line.httpRequest.requestUrl, '/healthz?probe=access');
  assert.equal(line.httpRequest.remoteIp, '127.0.0.1');
  assert.match(line.httpRequest.latency, /^\d+\.\d+s$/);
});

test('/metrics counts requests by route, method and status', async () => {
  for (let i = 0; i < 3; i++) await fetch(`${server.url}/readyz`);
  await fetch(`${server.url}/healthz`, { method: 'PUT' });
  const res = await fetch(`${server.url}/metrics`);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type'), /^text\/plain; version=0\.0\.4/);
  const text = await res.text();
  const count = (re) => Number((text.match(re) || [])[1] || 0);
  assert.ok(count(/http_requests_total\{route="\/readyz",method="GET",status="200"\} (\d+)/) >= 3);
  assert.ok(count(/http_requests_total\{route="\/healthz",method="PUT",status="405"\} (\d+)/) >= 1);
  assert.match(text, /# TYPE dashboard_request_duration_seconds histogram/);
  assert.match(text, /dashboard_request_duration_seconds_bucket\{route="\/readyz",le="\+Inf"\} \d+/);
  assert.match(text, /dashboard_request_duration_seconds_count\{route="\/readyz"\} \d+/);
  assert.match(text, /process_resident_memory_bytes \d/);
  assert.match(text, /db_pool_connections \d/);
});

test('many concurrent requests are all answered', async () => {
  const results = await Promise.all(Array.from({ length: 200 }, (_, i) =>
    fetch(`${server.url}/${i % 2 ? 'healthz' : 'readyz'}`).then((r) => r.status)));
  assert.deepEqual(new Set(results), new Set([200]));
});
