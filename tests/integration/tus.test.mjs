// tus.test.mjs — resumable uploads at /api/v2/uploads (tus 1.0.0): the
// real tus-js-client pushes a 40 MiB image through a proxy that drops the
// connection mid-PATCH, and plain requests check the protocol's answers
// (creation, offsets, checksums, termination, expiry, CORS, cleanup).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import * as tus from 'tus-js-client';
import { BACKEND, freshState, startServer } from '../lib/server.mjs';
import { startCutProxy } from '../lib/cutproxy.mjs';
import { API_KEY, DATA_KEY, SECRET, SHOP } from '../lib/shopify.mjs';

const ORIGIN = 'https://pets.example';
const ENV = {
  SHOPIFY_SHOP: SHOP, SHOPIFY_APP_SECRET: SECRET, SHOPIFY_API_KEY: API_KEY,
  PRINTDESK_DATA_KEY: DATA_KEY, PUBLIC_RATE_PER_MINUTE: '100000',
  ALLOWED_ORIGINS: `${ORIGIN},https://${SHOP}`,
};
const MAX_SIZE = 209715200;
const MiB = 1024 * 1024;
const OCTETS = 'application/offset+octet-stream';
const EXPOSED = ['location', 'upload-offset', 'upload-length',
  'tus-resumable', 'upload-expires'];
let state, server;

before(async () => {
  state = freshState();
  server = await startServer({ state, env: ENV });
});

after(async () => {
  const exit = await server.stop();
  state.cleanup();
  assert.deepEqual(exit, { code: 0, signal: null }, server.stderr.slice(-3000));
});

// ---- images made here: PNGs of random pixels, stored (level 0) deflate,
// so the file is as big as its pixels and no compressor shrinks it.

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(buf) {
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) {
    c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  }
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])), 0);
  return Buffer.concat([head, data, crc]);
}

// An 8-bit RGB PNG of width x height random pixels.
function noisePng(width, height) {
  const stride = 1 + width * 3;
  const raw = randomBytes(stride * height);
  for (let y = 0; y < height; y++) raw[y * stride] = 0; // filter: none
  const z = deflateSync(raw, { level: 0 });
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const parts = [Buffer.from('89504e470d0a1a0a', 'hex'), pngChunk('IHDR', ihdr)];
  for (let at = 0; at < z.length; at += MiB) {
    parts.push(pngChunk('IDAT', z.subarray(at, at + MiB)));
  }
  parts.push(pngChunk('IEND', Buffer.alloc(0)));
  return Buffer.concat(parts);
}

const sha256 = (b) => createHash('sha256').update(b).digest('hex');
const b64 = (s) => Buffer.from(s).toString('base64');
const session = () => 'tus-' + randomBytes(6).toString('hex');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ---- requests

function metadata(fields) {
  return Object.entries(fields)
    .map(([k, v]) => (v === '' ? k : `${k} ${b64(String(v))}`)).join(',');
}

// Any tus request; every answer but OPTIONS must say Tus-Resumable: 1.0.0.
async function tusReq(method, path, { headers = {}, body, base } = {}) {
  const res = await fetch(`${base || server.url}${path}`, {
    method, body,
    headers: { 'Tus-Resumable': '1.0.0', ...headers },
  });
  if (method !== 'OPTIONS') {
    assert.equal(res.headers.get('tus-resumable'), '1.0.0',
      `${method} ${path} answered ${res.status} without Tus-Resumable`);
  }
  return res;
}

// Creates an upload; resolves {res, path, id}.
async function create(length, { meta, headers = {}, body, base } = {}) {
  const fields = meta || { session_id: session(), image_type: 'original',
    filename: 'photo.png', filetype: 'image/png' };
  const res = await tusReq('POST', '/api/v2/uploads', {
    base, body,
    headers: { 'Upload-Length': String(length),
      'Upload-Metadata': metadata(fields),
      ...(body ? { 'Content-Type': OCTETS } : {}), ...headers },
  });
  const location = res.headers.get('location') || '';
  return { res, path: location, id: location.split('/').pop(), fields };
}

function patch(path, offset, body, headers = {}, base) {
  return tusReq('PATCH', path, { base, body, headers: {
    'Upload-Offset': String(offset), 'Content-Type': OCTETS, ...headers } });
}

async function offsetOf(path, base) {
  const res = await tusReq('HEAD', path, { base });
  assert.equal(res.status, 200, `HEAD ${path}`);
  return Number(res.headers.get('upload-offset'));
}

// ---- storage and database

function filesUnder(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true })
    .filter((p) => statSync(join(dir, p)).isFile()).sort();
}
const objects = (st = state) => join(st.dir, 'objects');
const tusParts = (id, st = state) =>
  filesUnder(join(objects(st), 'temporary', 'tus', id));

function count(query, st = state) {
  const out = BACKEND === 'postgres'
    ? execFileSync('psql', [st.databaseUrl, '-qAt', '-c', query])
    : execFileSync('sqlite3', [st.databaseUrl.slice('sqlite:'.length), query]);
  return Number(out.toString().trim());
}

// The finished upload's image record, and its stored original's bytes.
async function finishedImage(path, fields, imageId) {
  const res = await tusReq('GET', path);
  assert.equal(res.status, 200, `GET ${path}`);
  const image = await res.json();
  assert.equal(image.id, imageId);
  assert.equal(image.session_id, fields.session_id);
  const file = join(objects(), 'temporary', fields.session_id,
    `${imageId}.png`);
  assert.ok(existsSync(file), `${file} stored`);
  return { image, stored: readFileSync(file) };
}

// ---- the real client through dropped connections

test('tus-js-client uploads a 40 MiB PNG through four dropped connections',
  { timeout: 180000 }, async (t) => {
    const file = noisePng(4096, 3414);
    assert.ok(file.length >= 40 * MiB);
    const proxy = await startCutProxy(server.port);
    const fields = { session_id: session(), image_type: 'original',
      filename: 'noise.png', filetype: 'image/png' };
    // Each cut waits for one PATCH to succeed after the previous cut, then
    // fires this many bytes into the next PATCH; every one is mid-body.
    const plan = [
      { at: 1.5 * MiB, reset: true }, { at: 3.2 * MiB, reset: false },
      { at: 0.6 * MiB, reset: true }, { at: 2.5 * MiB, reset: true }];
    const cuts = [];
    let current = null; // the PATCH in flight: {offset, up}
    let armed = true;
    let retries = 0;
    proxy.onForward(({ direction, up }) => {
      if (direction !== 'up' || !current || !armed) return;
      const step = plan[cuts.length];
      if (!step || up - current.up < step.at) return;
      armed = false;
      cuts.push({ offset: current.offset, sent: up - current.up });
      proxy.cutAll({ reset: step.reset });
    });
    const started = Date.now();
    const upload = await new Promise((resolve, reject) => {
      const u = new tus.Upload(file, {
        endpoint: `${proxy.url}/api/v2/uploads`,
        chunkSize: 4 * MiB,
        retryDelays: [0, 100, 200, 500, 1000, 1000, 1000, 1000, 1000],
        metadata: fields,
        onBeforeRequest(req) {
          if (req.getMethod() !== 'PATCH') return;
          current = { offset: Number(req.getHeader('Upload-Offset')),
            up: proxy.up };
        },
        onAfterResponse(req, res) {
          if (req.getMethod() !== 'PATCH') return;
          current = null;
          const cut = cuts[cuts.length - 1];
          if (res.getStatus() === 204 && cut && cut.resumed === undefined) {
            cut.resumed = Number(req.getHeader('Upload-Offset'));
            armed = true;
          }
        },
        onShouldRetry(err) {
          retries++;
          const status = err.originalResponse
            ? err.originalResponse.getStatus() : 0;
          return status < 400 || status >= 500 || status === 409
            || status === 423;
        },
        onSuccess: ({ lastResponse }) => resolve({ u, lastResponse }),
        onError: reject,
      });
      u.start();
    });
    const seconds = (Date.now() - started) / 1000;
    await proxy.close();
    t.diagnostic(`${file.length} bytes in ${seconds.toFixed(1)} s, `
      + `${proxy.up} bytes forwarded, ${retries} retries, cuts at `
      + cuts.map((c) => `${c.offset}+${c.sent}->${c.resumed}`).join(' '));
    assert.equal(cuts.length, plan.length, 'every planned cut happened');
    // A reset drops what the server had not read yet, so a cut may keep
    // anything from nothing to what was sent, never more.
    for (const cut of cuts) {
      assert.ok(cut.resumed >= cut.offset
        && cut.resumed <= cut.offset + cut.sent,
        `resumed within the cut PATCH: ${JSON.stringify(cuts)}`);
    }
    assert.ok(proxy.up > file.length);

    const imageId = upload.lastResponse.getHeader('X-Image-Id');
    assert.match(imageId || '', /^img_[0-9a-f]{32}$/);
    const path = new URL(upload.u.url).pathname;
    assert.match(path, /^\/api\/v2\/uploads\/[0-9a-f]{32}$/);
    const { image, stored } = await finishedImage(path, fields, imageId);
    assert.equal(image.sha256, sha256(file));
    assert.equal(image.bytes, file.length);
    assert.equal(image.format, 'png');
    assert.deepEqual([image.width, image.height], [4096, 3414]);
    assert.equal(sha256(stored), sha256(file), 'stored object byte-identical');
    // A cut connection's piece goes once the server has seen that
    // connection end (at most a second after a clean close).
    const tusDir = join(objects(), 'temporary', 'tus');
    const deadline = Date.now() + 5000;
    while (filesUnder(tusDir).length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(filesUnder(tusDir), [], 'no tus parts remain');
  });

// ---- the protocol, request by request

test('OPTIONS advertises version, extensions, max size and checksums',
  async () => {
    const res = await tusReq('OPTIONS', '/api/v2/uploads');
    assert.equal(res.status, 204);
    assert.equal(res.headers.get('tus-resumable'), '1.0.0');
    assert.match(res.headers.get('tus-version'), /(^|,)\s*1\.0\.0\s*(,|$)/);
    const ext = res.headers.get('tus-extension').split(',')
      .map((s) => s.trim());
    for (const e of ['creation', 'creation-with-upload', 'expiration',
      'checksum', 'termination']) {
      assert.ok(ext.includes(e), `Tus-Extension has ${e}: ${ext}`);
    }
    assert.equal(res.headers.get('tus-max-size'), String(MAX_SIZE));
    const algs = res.headers.get('tus-checksum-algorithm').split(',')
      .map((s) => s.trim());
    assert.ok(algs.includes('sha1') && algs.includes('sha256'), String(algs));
  });

test('POST creates an upload that HEAD describes', async () => {
  const before = Date.now();
  const { res, path } = await create(5000);
  assert.equal(res.status, 201);
  assert.match(path, /^\/api\/v2\/uploads\/[0-9a-f]{32}$/);
  const expires = res.headers.get('upload-expires');
  const rfc7231 = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} [\d:]{8} GMT$/;
  assert.match(expires, rfc7231);
  assert.ok(Date.parse(expires) > before, 'expires in the future');
  const head = await tusReq('HEAD', path);
  assert.equal(head.status, 200);
  assert.equal(head.headers.get('upload-offset'), '0');
  assert.equal(head.headers.get('upload-length'), '5000');
  assert.match(head.headers.get('cache-control'), /no-store/);
  assert.ok(head.headers.get('upload-expires'));
  const other = await create(5000);
  assert.notEqual(other.path, path, 'each upload has its own id');
});

test('POST without Upload-Length, over the maximum, or without session_id '
  + 'is refused', async () => {
  const fields = { session_id: session(), image_type: 'original' };
  const noLength = await tusReq('POST', '/api/v2/uploads',
    { headers: { 'Upload-Metadata': metadata(fields) } });
  assert.equal(noLength.status, 400);
  assert.equal((await create('12x', { meta: fields })).res.status, 400);
  assert.equal((await create(MAX_SIZE + 1, { meta: fields })).res.status, 413);
  assert.equal((await create(MAX_SIZE, { meta: fields })).res.status, 201);
  const noSession = await create(100, { meta: { image_type: 'original' } });
  assert.equal(noSession.res.status, 400);
  const badSession = await create(100,
    { meta: { session_id: 'a b/../c', image_type: 'original' } });
  assert.equal(badSession.res.status, 400);
  const noType = await create(100, { meta: { session_id: session() } });
  assert.equal(noType.res.status, 400);
  const noMeta = await tusReq('POST', '/api/v2/uploads',
    { headers: { 'Upload-Length': '100' } });
  assert.equal(noMeta.status, 400);
});

test('a missing or other Tus-Resumable is 412 with Tus-Version', async () => {
  const { path } = await create(100);
  const cases = [
    ['POST', '/api/v2/uploads', { 'Upload-Length': '100',
      'Upload-Metadata': metadata({ session_id: 's1', image_type: 'original' }) }],
    ['HEAD', path, {}],
    ['PATCH', path, { 'Upload-Offset': '0', 'Content-Type': OCTETS }],
    ['DELETE', path, {}]];
  for (const [method, p, headers] of cases) {
    for (const version of ['0.2.2', null]) {
      const h = { ...headers, 'Tus-Resumable': version };
      if (version === null) delete h['Tus-Resumable'];
      const res = await fetch(`${server.url}${p}`, {
        method, headers: h, body: method === 'PATCH' ? 'x' : undefined });
      assert.equal(res.status, 412, `${method} with ${version}`);
      assert.match(res.headers.get('tus-version') || '', /1\.0\.0/);
      assert.equal(res.headers.get('tus-resumable'), '1.0.0');
    }
  }
  assert.equal(await offsetOf(path), 0, 'the upload is untouched');
});

test('PATCH at the wrong offset is 409, with the wrong type 415', async () => {
  const { path } = await create(3000);
  assert.equal((await patch(path, 0, randomBytes(1000))).status, 204);
  assert.equal((await patch(path, 0, randomBytes(10))).status, 409);
  assert.equal((await patch(path, 1500, randomBytes(10))).status, 409);
  assert.equal((await patch(path, 999, randomBytes(10))).status, 409);
  const typed = await patch(path, 1000, randomBytes(10),
    { 'Content-Type': 'application/octet-stream' });
  assert.equal(typed.status, 415);
  const untyped = await tusReq('PATCH', path,
    { headers: { 'Upload-Offset': '1000' }, body: randomBytes(10) });
  assert.equal(untyped.status, 415);
  const noOffset = await tusReq('PATCH', path,
    { headers: { 'Content-Type': OCTETS }, body: randomBytes(10) });
  assert.equal(noOffset.status, 400);
  assert.equal(await offsetOf(path), 1000);
});

test('Upload-Checksum: sha1 and sha256 accepted, a mismatch is 460 and '
  + 'keeps nothing, another algorithm is 400', async () => {
  const { path } = await create(4000);
  const digest = (alg, b) => createHash(alg).update(b).digest('base64');
  const a = randomBytes(1000);
  const sha1 = await patch(path, 0, a, { 'Upload-Checksum':
    `sha1 ${digest('sha1', a)}` });
  assert.equal(sha1.status, 204);
  assert.equal(sha1.headers.get('upload-offset'), '1000');
  const b = randomBytes(1000);
  const s256 = await patch(path, 1000, b, { 'Upload-Checksum':
    `sha256 ${digest('sha256', b)}` });
  assert.equal(s256.status, 204);
  assert.equal(s256.headers.get('upload-offset'), '2000');
  const c = randomBytes(1000);
  const bad = await patch(path, 2000, c, { 'Upload-Checksum':
    `sha256 ${digest('sha256', randomBytes(1000))}` });
  assert.equal(bad.status, 460);
  assert.equal(await offsetOf(path), 2000, 'offset unchanged after 460');
  const bad1 = await patch(path, 2000, c, { 'Upload-Checksum':
    `sha1 ${digest('sha1', Buffer.concat([c, Buffer.from('!')]))}` });
  assert.equal(bad1.status, 460);
  assert.equal(await offsetOf(path), 2000);
  const md5 = await patch(path, 2000, c, { 'Upload-Checksum':
    `md5 ${digest('md5', c)}` });
  assert.equal(md5.status, 400);
  assert.equal(await offsetOf(path), 2000);
  const again = await patch(path, 2000, c, { 'Upload-Checksum':
    `sha256 ${digest('sha256', c)}` });
  assert.equal(again.status, 204, 'the same bytes with a good checksum');
  assert.equal(await offsetOf(path), 3000);
});

test('an unknown upload is 404 to HEAD, PATCH, DELETE and GET', async () => {
  for (const id of [randomBytes(16).toString('hex'), 'nothex', '0']) {
    const path = `/api/v2/uploads/${id}`;
    assert.equal((await tusReq('HEAD', path)).status, 404, `HEAD ${id}`);
    assert.equal((await patch(path, 0, 'abc')).status, 404, `PATCH ${id}`);
    assert.equal((await tusReq('DELETE', path)).status, 404, `DELETE ${id}`);
    assert.equal((await tusReq('GET', path)).status, 404, `GET ${id}`);
  }
});

test('DELETE terminates an upload: 204, then 404 or 410, parts gone',
  async () => {
    const { path, id } = await create(3000);
    assert.equal((await patch(path, 0, randomBytes(1200))).status, 204);
    assert.ok(tusParts(id).length > 0, 'parts stored before termination');
    const del = await tusReq('DELETE', path);
    assert.equal(del.status, 204);
    for (const res of [await tusReq('HEAD', path),
      await patch(path, 1200, randomBytes(10)),
      await tusReq('DELETE', path)]) {
      assert.ok([404, 410].includes(res.status), `got ${res.status}`);
    }
    assert.deepEqual(tusParts(id), []);
  });

test('creation-with-upload stores the POST body and answers Upload-Offset',
  async () => {
    const body = randomBytes(1500);
    const { res, path } = await create(4000, { body });
    assert.equal(res.status, 201);
    assert.equal(res.headers.get('upload-offset'), '1500');
    assert.equal(await offsetOf(path), 1500);
    const empty = await create(4000, { body: Buffer.alloc(0) });
    assert.equal(empty.res.status, 201);
    assert.equal(await offsetOf(empty.path), 0);
  });

test('bytes beyond Upload-Length are 413 and not kept', async () => {
  const { path } = await create(100);
  assert.equal((await patch(path, 0, randomBytes(150))).status, 413);
  assert.equal(await offsetOf(path), 0);
  assert.equal((await patch(path, 0, randomBytes(60))).status, 204);
  assert.equal((await patch(path, 60, randomBytes(41))).status, 413);
  assert.equal(await offsetOf(path), 60);
});

// Sends a PATCH declaring all of `body` but only `sent` bytes of it, then
// after pauseMs ends the connection: closed (FIN) or reset (RST).
function cutPatch(path, offset, body, sent, { reset = false, pauseMs = 0 }) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(server.port, '127.0.0.1', () => {
      sock.write(`PATCH ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n`
        + `Tus-Resumable: 1.0.0\r\nUpload-Offset: ${offset}\r\n`
        + `Content-Type: ${OCTETS}\r\nContent-Length: ${body.length}\r\n\r\n`);
      sock.write(body.subarray(0, sent), async () => {
        if (pauseMs > 0) await sleep(pauseMs);
        if (reset) sock.resetAndDestroy(); else sock.destroy();
        resolve();
      });
    });
    sock.on('error', reject);
  });
}

// The upload's offset once it moves from `from`, or `from` after ms.
async function offsetAfter(path, from, ms = 3000) {
  const deadline = Date.now() + ms;
  let offset = await offsetOf(path);
  while (offset === from && Date.now() < deadline) {
    await sleep(50);
    offset = await offsetOf(path);
  }
  return offset;
}

// Completes an upload from where it is; checks the stored image.
async function completeAndCheck(path, fields, file, offset) {
  const done = await patch(path, offset, file.subarray(offset));
  assert.equal(done.status, 204, await done.text());
  assert.equal(done.headers.get('upload-offset'), String(file.length));
  const imageId = done.headers.get('x-image-id');
  assert.match(imageId || '', /^img_[0-9a-f]{32}$/);
  const { image, stored } = await finishedImage(path, fields, imageId);
  assert.equal(image.sha256, sha256(file));
  assert.ok(stored.equals(file));
}

test('a PATCH cut mid-way keeps what arrived; the upload then completes',
  async () => {
    const file = noisePng(400, 300);
    const { path, fields } = await create(file.length);
    assert.equal((await patch(path, 0, file.subarray(0, 20000))).status, 204);
    const rest = file.subarray(20000);
    const sent = Math.floor(rest.length / 2);
    // Closed at once: the server must notice the end of the connection
    // promptly, not only at its idle timeout, so that HEAD tells a client
    // that resumes right away where to go on.
    await cutPatch(path, 20000, rest, sent, {});
    const offset = await offsetAfter(path, 20000);
    assert.ok(offset > 20000, `bytes of the cut PATCH kept (${offset})`);
    assert.ok(offset <= 20000 + sent, `${offset} <= ${20000 + sent}`);
    await completeAndCheck(path, fields, file, offset);
  });

test('a PATCH reset after its bytes were read keeps all of them',
  async () => {
    const file = noisePng(400, 300);
    const { path, fields } = await create(file.length);
    const sent = 150000;
    await cutPatch(path, 0, file, sent, { reset: true, pauseMs: 300 });
    assert.equal(await offsetAfter(path, 0), sent);
    await completeAndCheck(path, fields, file, sent);
  });

test('the completed upload is the stored image, byte for byte', async () => {
  const file = noisePng(320, 200);
  const { path, id, fields } = await create(file.length);
  assert.equal((await patch(path, 0, file.subarray(0, 30000))).status, 204);
  const done = await patch(path, 30000, file.subarray(30000));
  assert.equal(done.status, 204);
  const imageId = done.headers.get('x-image-id');
  const { image, stored } = await finishedImage(path, fields, imageId);
  assert.equal(image.sha256, sha256(file));
  assert.equal(image.image_type, 'original');
  assert.deepEqual([image.width, image.height], [320, 200]);
  assert.ok(stored.equals(file));
  assert.deepEqual(tusParts(id), []);
});

test('a completed upload that is not an image is 415 and leaves nothing',
  async () => {
    const before = filesUnder(objects());
    const rows = count('SELECT COUNT(*) FROM tus_uploads');
    const text = Buffer.from('Dear printer,\nthis is not a photo.\n'.repeat(40));
    const { path, id, fields } = await create(text.length,
      { meta: { session_id: session(), image_type: 'original',
        filename: 'cat.jpg', filetype: 'image/jpeg' } });
    assert.equal(count('SELECT COUNT(*) FROM tus_uploads'), rows + 1);
    assert.equal((await patch(path, 0, text.subarray(0, 500))).status, 204);
    const res = await patch(path, 500, text.subarray(500));
    assert.equal(res.status, 415);
    const body = await res.json();
    assert.equal(body.error.code, 'unsupported_type');
    assert.match(body.error.message, /text/i);
    assert.equal((await tusReq('HEAD', path)).status, 404);
    assert.deepEqual(tusParts(id), []);
    assert.deepEqual(filesUnder(objects()), before, 'nothing new stored');
    assert.equal(count('SELECT COUNT(*) FROM tus_uploads'), rows);
    assert.equal(count(`SELECT COUNT(*) FROM images
      WHERE session_id = '${fields.session_id}'`), 0);
  });

test('POST with X-HTTP-Method-Override acts as PATCH or DELETE', async () => {
  const { path, id } = await create(3000);
  const over = await tusReq('POST', path, { body: randomBytes(700),
    headers: { 'X-HTTP-Method-Override': 'PATCH', 'Upload-Offset': '0',
      'Content-Type': OCTETS } });
  assert.equal(over.status, 204);
  assert.equal(over.headers.get('upload-offset'), '700');
  assert.equal(await offsetOf(path), 700);
  const stale = await tusReq('POST', path, { body: randomBytes(10),
    headers: { 'X-HTTP-Method-Override': 'PATCH', 'Upload-Offset': '0',
      'Content-Type': OCTETS } });
  assert.equal(stale.status, 409);
  const del = await tusReq('POST', path,
    { headers: { 'X-HTTP-Method-Override': 'DELETE' } });
  assert.equal(del.status, 204);
  assert.equal((await tusReq('HEAD', path)).status, 404);
  assert.deepEqual(tusParts(id), []);
});

test('CORS: an allowed Origin sees the tus headers; a foreign one is '
  + 'refused', async () => {
  const { res, path } = await create(2000, { headers: { Origin: ORIGIN } });
  assert.equal(res.status, 201);
  const check = (r, what) => {
    assert.equal(r.headers.get('access-control-allow-origin'), ORIGIN, what);
    assert.match(r.headers.get('vary') || '', /origin/i, what);
    const exposed = (r.headers.get('access-control-expose-headers') || '')
      .toLowerCase().split(',').map((s) => s.trim());
    for (const h of EXPOSED) {
      assert.ok(exposed.includes(h), `${what}: exposes ${h}: ${exposed}`);
    }
  };
  check(res, 'POST');
  check(await tusReq('HEAD', path, { headers: { Origin: ORIGIN } }), 'HEAD');
  check(await patch(path, 0, randomBytes(100), { Origin: ORIGIN }), 'PATCH');

  const pre = await fetch(`${server.url}${path}`, { method: 'OPTIONS',
    headers: { Origin: ORIGIN, 'Access-Control-Request-Method': 'PATCH',
      'Access-Control-Request-Headers':
        'tus-resumable,upload-offset,upload-checksum,content-type' } });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers.get('access-control-allow-origin'), ORIGIN);
  const methods = pre.headers.get('access-control-allow-methods') || '';
  for (const m of ['POST', 'HEAD', 'PATCH', 'DELETE']) {
    assert.match(methods, new RegExp(`\\b${m}\\b`), `allows ${m}`);
  }
  const allowed = (pre.headers.get('access-control-allow-headers') || '')
    .toLowerCase();
  for (const h of ['tus-resumable', 'upload-length', 'upload-metadata',
    'upload-offset', 'upload-checksum', 'content-type',
    'x-http-method-override']) {
    assert.ok(allowed.includes(h), `allows header ${h}: ${allowed}`);
  }
  assert.ok(Number(pre.headers.get('access-control-max-age')) > 0);

  const foreign = 'https://evil.example';
  const fpre = await fetch(`${server.url}/api/v2/uploads`, { method: 'OPTIONS',
    headers: { Origin: foreign, 'Access-Control-Request-Method': 'POST' } });
  assert.equal(fpre.status, 403);
  assert.equal(fpre.headers.get('access-control-allow-origin'), null);
  const fpost = await create(2000, { headers: { Origin: foreign } });
  assert.equal(fpost.res.status, 403);
  assert.equal(fpost.res.headers.get('access-control-allow-origin'), null);
  const fpatch = await patch(path, 100, randomBytes(10), { Origin: foreign });
  assert.equal(fpatch.status, 403);
  assert.equal(await offsetOf(path), 100);
});

// ---- expiry, on a server whose uploads live two seconds

test('an idle upload expires: Upload-Expires, then 410/404, then swept',
  { timeout: 60000 }, async () => {
    const st = freshState();
    const srv = await startServer({ state: st,
      env: { ...ENV, TUS_EXPIRY_SECONDS: '2' } });
    try {
      const base = srv.url;
      const idle = await create(5000, { base });
      const busy = await create(5000, { base });
      assert.equal(idle.res.status, 201);
      assert.equal((await patch(idle.path, 0, randomBytes(800), {}, base))
        .status, 204);
      const head = await tusReq('HEAD', idle.path, { base });
      const expires = Date.parse(head.headers.get('upload-expires'));
      assert.ok(expires >= Date.now() - 1000 && expires <= Date.now() + 3000,
        `Upload-Expires about 2 s ahead: ${head.headers.get('upload-expires')}`);
      assert.ok(tusParts(idle.id, st).length > 0, 'parts stored');
      await sleep(1500);
      const kept = await patch(busy.path, 0, randomBytes(800), {}, base);
      assert.equal(kept.status, 204, 'still open after 1.5 s');
      assert.ok(kept.headers.get('upload-expires'));

      let status = 200;
      for (let i = 0; i < 80 && status === 200; i++) {
        status = (await tusReq('HEAD', idle.path, { base })).status;
        if (status === 200) await sleep(100);
      }
      assert.ok([404, 410].includes(status), `expired: ${status}`);
      assert.equal((await tusReq('HEAD', busy.path, { base })).status, 200,
        'an upload PATCHed later lives on');
      const late = await patch(idle.path, 800, randomBytes(10), {}, base);
      assert.ok([404, 410].includes(late.status), `PATCH: ${late.status}`);

      for (let i = 0; i < 100; i++) {
        const gone = (await tusReq('HEAD', idle.path, { base })).status === 404
          && (await tusReq('HEAD', busy.path, { base })).status === 404
          && filesUnder(join(objects(st), 'temporary', 'tus')).length === 0;
        if (gone) break;
        await sleep(100);
      }
      assert.equal((await tusReq('HEAD', idle.path, { base })).status, 404);
      assert.equal((await tusReq('HEAD', busy.path, { base })).status, 404);
      assert.deepEqual(filesUnder(join(objects(st), 'temporary', 'tus')), []);
      assert.equal(count('SELECT COUNT(*) FROM tus_uploads', st), 0);
    } finally {
      const exit = await srv.stop();
      st.cleanup();
      assert.deepEqual(exit, { code: 0, signal: null }, srv.stderr.slice(-3000));
    }
  });
