// store_s3.test.mjs — the S3 backend against a real S3-protocol server:
// s3rver behind a proxy that checks every signature with AWS's own
// signer (tests/lib/s3.mjs). The storage suite that also runs on a local
// folder (tests/unit/store/test_store_suite.c) runs here on the bucket,
// with a 5 MiB multipart threshold and 3-key listing pages; the checker
// refuses a wrong secret and tampered requests; /readyz follows the
// bucket; and the S3 server stopped in the middle of a tus upload leaves
// a clear error and nothing behind, and uploads work when it is back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { freshState, runPrintdesk, startServer } from '../lib/server.mjs';
import { buildDir } from '../lib/uploads.mjs';
import { API_KEY, DATA_KEY, SECRET, SHOP } from '../lib/shopify.mjs';
import { SECRET_KEY, signedRequest, startS3 } from '../lib/s3.mjs';

const MiB = 1024 * 1024;
const SUITE = join(buildDir(), 'tests', 'unit', 'test_store_suite');
const ENV = {
  SHOPIFY_SHOP: SHOP, SHOPIFY_APP_SECRET: SECRET, SHOPIFY_API_KEY: API_KEY,
  PRINTDESK_DATA_KEY: DATA_KEY, PUBLIC_RATE_PER_MINUTE: '100000',
};
const TEST_PARAMS = { multipart_threshold: String(5 * MiB), list_page: '3' };
let s3;

before(async () => {
  s3 = await startS3();
});

after(async () => {
  try {
    await s3.stop();
  } finally {
    s3.remove();
  }
});

// What the server refused, leaving out ranges past an object's end (which
// the suite asks for on purpose).
const refused = () => s3.refusals.filter((r) => r.code !== 'InvalidRange');
const sha256 = (b) => createHash('sha256').update(b).digest('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitFor(check, what, ms = 20000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    assert.ok(Date.now() < deadline, `timed out waiting: ${what}`);
    await sleep(20);
  }
}

// Runs the C storage suite on the bucket; resolves {code, out}.
function runSuite(env) {
  return new Promise((resolve, reject) => {
    const child = spawn(SUITE, [], {
      env: { ...process.env, CMOCKA_MESSAGE_OUTPUT: 'TAP', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d) => { out += d; });
    child.stderr.on('data', (d) => { out += d; });
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, out }));
  });
}

// ---- the checker itself ---------------------------------------------------

test('the signature check takes good requests and refuses bad ones',
  async () => {
    const put = await signedRequest(s3, { method: 'PUT',
      key: 'temporary/check/a', body: 'hello' });
    assert.equal(put.status, 200, put.body);
    const get = await signedRequest(s3, { key: 'temporary/check/a' });
    assert.equal(get.status, 200);
    assert.equal(get.body, 'hello');

    const wrong = await signedRequest(s3, { key: 'temporary/check/a',
      secret: SECRET_KEY + 'x' });
    assert.equal(wrong.status, 403);
    assert.match(wrong.body, /<Code>SignatureDoesNotMatch<\/Code>/);
    const query = await signedRequest(s3, { key: 'temporary/check/a',
      query: { 'x-id': 'GetObject' },
      tamper: (r) => { r.url = r.url.replace('GetObject', 'PutObject'); } });
    assert.equal(query.status, 403);
    assert.match(query.body, /SignatureDoesNotMatch/);
    const unsigned = await signedRequest(s3, { key: 'temporary/check/a',
      tamper: (r) => { r.headers['x-amz-meta-extra'] = '1'; } });
    assert.equal(unsigned.status, 403);
    assert.match(unsigned.body, /not signed/);
    const other = sha256('other');
    const hash = await signedRequest(s3, { method: 'PUT',
      key: 'temporary/check/b', body: 'hello',
      tamper: (r) => { r.headers['x-amz-content-sha256'] = other; } });
    assert.equal(hash.status, 400);
    assert.match(hash.body, /XAmzContentSHA256Mismatch/);
    const body = await signedRequest(s3, { method: 'PUT',
      key: 'temporary/check/b', body: 'hello',
      headers: { 'x-amz-content-sha256': sha256('other') } });
    assert.equal(body.status, 400, 'a body that is not the signed one');
    assert.match(body.body, /XAmzContentSHA256Mismatch/);
    const del = await signedRequest(s3, { method: 'DELETE',
      key: 'temporary/check/a' });
    assert.equal(del.status, 204);
    assert.deepEqual(s3.objects(), []);
    s3.refusals.length = 0;
  });

// ---- the storage suite on the bucket --------------------------------------

test('the storage suite passes on the S3 backend', { timeout: 180000 },
  async () => {
    assert.ok(existsSync(SUITE), `${SUITE} is built`);
    const before = { ...s3.stats };
    const { code, signal, out } = await runSuite({ ...s3.env,
      TEST_STORE_URL: s3.storageUrl(TEST_PARAMS) });
    assert.equal(signal, null, out);
    assert.equal(code, 0, out);
    assert.match(out, /^ok 13 - test_threads/m);
    assert.doesNotMatch(out, /^not ok/m);
    assert.deepEqual(refused(), [], 'no request was refused');

    // What the suite leaves: nothing, not even a multipart upload.
    assert.deepEqual(s3.objects(), []);
    assert.deepEqual(s3.uploads(), []);
    // It went through the paths it is meant to.
    const parts = s3.log.filter((r) => r.query.partNumber !== undefined);
    assert.ok(parts.length >= 6, `${parts.length} parts uploaded`);
    assert.ok(parts.every((r) => r.bytes <= 5 * MiB));
    assert.ok(s3.log.some((r) => r.query['continuation-token']),
      'listings went past their first page');
    assert.ok(s3.stats.aborts - before.aborts >= 2, 'multipart aborts');
    assert.ok(s3.stats.flaky - before.flaky >= 4, '503s were retried');
    assert.ok(s3.stats.cuts - before.cuts >= 1, 'a cut download resumed');
  });

test('a wrong secret is refused and the suite fails', { timeout: 60000 },
  async () => {
    const { code, out } = await runSuite({ ...s3.env,
      AWS_SECRET_ACCESS_KEY: 'not-the-secret',
      TEST_STORE_URL: s3.storageUrl(TEST_PARAMS) });
    assert.notEqual(code, 0);
    assert.match(out, /not ok/);
    assert.ok(refused().length > 0);
    assert.ok(refused().every((r) => r.code === 'SignatureDoesNotMatch'),
      JSON.stringify(refused().slice(0, 3)));
    s3.refusals.length = 0;
  });

// ---- printdesk on the bucket ----------------------------------------------

async function readyz(server) {
  const res = await fetch(`${server.url}/readyz`);
  return { status: res.status, body: await res.json() };
}

test('/readyz follows the bucket, and names the store\'s error',
  { timeout: 60000 }, async () => {
    const server = await startServer({ env: { ...ENV, ...s3.env,
      STORAGE_URL: s3.storageUrl() } });
    const wrong = await startServer({ env: { ...ENV, ...s3.env,
      AWS_SECRET_ACCESS_KEY: 'wrong', STORAGE_URL: s3.storageUrl() } });
    try {
      assert.deepEqual(await readyz(server), { status: 200,
        body: { status: 'ok', checks: { database: 'ok', storage: 'ok' } } });
      const bad = await readyz(wrong);
      assert.equal(bad.status, 503);
      assert.match(bad.body.checks.storage, new RegExp('^bucket photos at '
        + `${s3.url}: HTTP 403 SignatureDoesNotMatch: The request signature`));
      await s3.stop();
      const down = await readyz(server);
      assert.equal(down.status, 503);
      assert.match(down.body.checks.storage, /bucket photos at .*: no answer/);
      await s3.start();
      assert.equal((await readyz(server)).status, 200);
    } finally {
      await s3.start().catch(() => {});
      const exits = [await server.stop(), await wrong.stop()];
      assert.deepEqual(exits, [{ code: 0, signal: null },
        { code: 0, signal: null }], server.stderr.slice(-2000));
    }
    s3.refusals.length = 0;
  });

// ---- the S3 server stopped in the middle of an upload ---------------------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function pngChunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  let c = 0xffffffff;
  for (const b of Buffer.concat([head.subarray(4), data])) {
    c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  }
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE((c ^ 0xffffffff) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

// An RGB PNG of random pixels, stored uncompressed: as big as its pixels.
function noisePng(width, height) {
  const stride = 1 + width * 3;
  const raw = randomBytes(stride * height);
  for (let y = 0; y < height; y++) raw[y * stride] = 0;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'),
    pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(raw, { level: 0 })),
    pngChunk('IEND', Buffer.alloc(0))]);
}

function tus(server, method, path, headers = {}, body) {
  return fetch(`${server.url}${path}`, { method, body,
    headers: { 'Tus-Resumable': '1.0.0', ...headers } });
}

async function createUpload(server, length, sessionId) {
  const b64 = (s) => Buffer.from(s).toString('base64');
  const res = await tus(server, 'POST', '/api/v2/uploads', {
    'Upload-Length': String(length),
    'Upload-Metadata': `session_id ${b64(sessionId)},image_type `
      + `${b64('original')},filename ${b64('noise.png')}`,
  });
  assert.equal(res.status, 201);
  return new URL(res.headers.get('location'), server.url).pathname;
}

function patch(server, path, offset, body) {
  return tus(server, 'PATCH', path, { 'Upload-Offset': String(offset),
    'Content-Type': 'application/offset+octet-stream' }, body);
}

test('the S3 server stopped mid-upload: a clear error, nothing left, and '
  + 'uploads work again when it is back', { timeout: 120000 }, async () => {
  const server = await startServer({ env: { ...ENV, ...s3.env,
    STORAGE_URL: s3.storageUrl(TEST_PARAMS) } });
  try {
    const file = noisePng(2048, 2048); // 12 MiB: three parts
    const session = 'tus-' + randomBytes(6).toString('hex');
    const path = await createUpload(server, file.length, session);

    // The server goes away while the piece's first part arrives.
    let stopping = null;
    s3.onRequest = async ({ target }) => {
      if (stopping || target.query.partNumber !== '1') return false;
      stopping = s3.stop();
      return true;
    };
    const cut = await patch(server, path, 0, file);
    await stopping;
    s3.onRequest = null;
    assert.equal(cut.status, 503);
    assert.equal((await cut.json()).error.code, 'unavailable');
    assert.equal((await readyz(server)).status, 503);
    assert.ok(server.logs().some((l) => l.severity === 'ERROR' &&
      /^store: s3 upload part 1 of photos\/temporary\/tus\/\S+: no answer/
        .test(l.message)), 'the log names the operation, key and error');
    // No object appeared; the begun multipart upload waits for its abort.
    await waitFor(() => server.logs().some((l) =>
      /multipart upload of temporary\/tus\/\S+ stays until it can be aborted/
        .test(l.message)), 'the failed abort is remembered');
    assert.deepEqual(s3.objects(), []);
    assert.equal(s3.uploads().length, 1);

    // Back again: the left-behind upload is aborted, the upload goes on.
    await s3.start();
    assert.equal((await readyz(server)).status, 200);
    assert.deepEqual(s3.uploads(), []);
    const head = await tus(server, 'HEAD', path);
    assert.equal(head.headers.get('upload-offset'), '0');
    const done = await patch(server, path, 0, file);
    assert.equal(done.status, 204, await done.text());
    const imageId = done.headers.get('x-image-id');
    assert.match(imageId, /^img_/);
    const keys = s3.objects();
    assert.deepEqual(keys, [`temporary/${session}/${imageId}-preview.jpg`,
      `temporary/${session}/${imageId}-thumb.jpg`,
      `temporary/${session}/${imageId}.png`]);
    const stored = readFileSync(join(s3.dir, 'photos', 'temporary', session,
      `${imageId}.png._S3rver_object`));
    assert.equal(sha256(stored), sha256(file));
    assert.deepEqual(s3.uploads(), []);
    assert.deepEqual(refused(), []);
  } finally {
    s3.onRequest = null;
    await s3.start().catch(() => {});
    const exit = await server.stop();
    assert.deepEqual(exit, { code: 0, signal: null },
      server.stderr.slice(-3000));
  }
});

test('copies into archived/ ask for the archive storage class', {
  timeout: 120000,
}, async () => {
  const state = freshState();
  const url = s3.storageUrl({ ...TEST_PARAMS, archive_class: 'STANDARD_IA' });
  const env = { ...ENV, ...s3.env, DATABASE_URL: state.databaseUrl,
    STORAGE_URL: url, PRINTDESK_DATA_DIR: join(state.dir, 'data'),
    LOG_LEVEL: 'warning' };
  try {
    const seeded = await runPrintdesk(['seed-demo', '--orders', '40'],
      { env });
    assert.equal(seeded.code, 0, seeded.stderr);
    const from = s3.log.length;
    const later = new Date(Date.now() + 40 * 86400000).toISOString();
    const run = await runPrintdesk(['lifecycle', '--now', later, '--force'],
      { env });
    assert.equal(run.code, 0, run.stderr);
    const puts = s3.log.slice(from).filter((r) => r.method === 'PUT');
    const archived = puts.filter((r) => r.key.startsWith('archived/'));
    assert.ok(archived.length > 0, 'completed orders were archived');
    assert.ok(archived.every((r) => r.storageClass === 'STANDARD_IA'));
    assert.ok(puts.filter((r) => !r.key.startsWith('archived/'))
      .every((r) => r.storageClass === undefined));
    assert.deepEqual(refused(), [], 'every request was signed as sent');

    // A class that is not a storage class name is refused at start.
    const bad = await runPrintdesk(['migrate'], { env: { ...env,
      STORAGE_URL: s3.storageUrl({ archive_class: 'cold storage' }) } });
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /STORAGE_URL: .* is not a storage URL/);
  } finally {
    state.cleanup();
  }
});
