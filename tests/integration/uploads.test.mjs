// uploads.test.mjs — POST /api/v2/customer-upload as the storefront and
// the desk use it: photos and cut-outs stored byte for byte with their
// facts, retries answered with the same image, a generated corpus of odd
// and hostile files each answered as documented (and nothing of the
// refused ones kept), upright stripped thumbnails, 20 uploads at once,
// size and session limits, CORS and the upload metrics.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { startServer } from '../lib/server.mjs';
import { SHOP } from '../lib/shopify.mjs';
import {
  STAFF_ENV, addStaff, corpus, dbQuery, exifFacts, exifOf, isSanitized,
  listObjects, metrics, newSessionId, probe, readObject, residentMiB,
  sha256, staffGet, uploadMultipart,
} from '../lib/uploads.mjs';

const UPLOAD = '/api/v2/customer-upload';
const ALLOWED = 'https://pets.example';
const FOREIGN = 'https://evil.example';
// Downloading originals needs the fulfiller role; a viewer sees the rest.
const STAFF = '1001', VIEWER = '1002';
const MiB = 1024 * 1024;
const ENV = {
  ...STAFF_ENV,
  PUBLIC_RATE_PER_MINUTE: '100000', STAFF_RATE_PER_MINUTE: '100000',
  ALLOWED_ORIGINS: `${ALLOWED},https://${SHOP}`,
};
// The resident memory a normal build must stay under; AddressSanitizer
// keeps up to 256 MiB of freed memory in quarantine, and shadow memory,
// on top.
const RSS_BOUND_MiB = 300;
const RSS_BOUND_ASAN_MiB = 1024;

let files, server;
// What the main server must have counted, by image_uploads_total result.
const counted = {
  ok: 0, duplicate: 0, too_large: 0, unsupported: 0, invalid: 0,
  too_many_pixels: 0, session_full: 0, bad_request: 0,
};
// Images the main server accepted: id -> session id.
const accepted = new Map();
let bytesSent = 0;

before(async () => {
  files = corpus();
  server = await startServer({ env: ENV });
  await addStaff(server.state, STAFF, 'fulfiller');
  await addStaff(server.state, VIEWER, 'viewer');
});

after(async () => {
  rmSync(files.dir, { recursive: true, force: true });
  const exit = await server.stop();
  assert.deepEqual(exit, { code: 0, signal: null },
    server.stderr.slice(-3000));
});

function resultOf(status, code) {
  const byStatus = {
    201: 'ok', 200: 'duplicate', 400: 'bad_request', 409: 'session_full',
    413: 'too_large', 415: 'unsupported',
  };
  if (status === 422) {
    return code === 'too_many_pixels' ? 'too_many_pixels' : 'invalid';
  }
  return byStatus[status] || null;
}

// Uploads corpus file opts.name (or opts.file) to the main server in a
// new session unless opts names one (undefined leaves the field out),
// keeping the tally the metrics test checks.
async function send(opts) {
  const f = opts.name ? files.get(opts.name) : null;
  const sessionId = 'sessionId' in opts ? opts.sessionId : newSessionId();
  const { name, ...rest } = opts;
  const res = await uploadMultipart(server.url + UPLOAD, {
    file: f?.bytes, filename: f?.name, contentType: f?.content_type,
    imageType: f ? f.image_type : 'original', ...rest, sessionId,
  });
  const result = resultOf(res.status, res.body?.error?.code);
  if (result) counted[result] += 1;
  if (res.status === 201) accepted.set(res.body.id, sessionId);
  if (f && res.status < 300) bytesSent += f.bytes.length;
  return { ...res, sessionId };
}

function assertError(res, status, code, what) {
  assert.equal(res.status, status, `${what}: ${JSON.stringify(res.body)}`);
  assert.equal(res.body?.error?.code, code, what);
  assert.equal(typeof res.body.error.message, 'string', what);
  assert.ok(res.body.error.message.length > 0, what);
}

// The contract's image JSON for file f uploaded in sessionId.
function assertImage(body, f, sessionId, facts) {
  assert.match(body.id, /^img_[0-9a-f]{32}$/);
  assert.equal(body.session_id, sessionId);
  assert.equal(body.image_type, f.image_type);
  assert.equal(body.bytes, f.bytes.length);
  assert.equal(body.sha256, f.sha256);
  assert.equal(body.thumbnail_url, `/api/v1/images/${body.id}/thumb`);
  assert.equal(body.preview_url, `/api/v1/images/${body.id}/preview`);
  assert.ok(body.dpi === null || Number.isInteger(body.dpi), 'dpi');
  for (const [k, v] of Object.entries(facts)) assert.equal(body[k], v, k);
}

// The stored original of image id under objects/ (the one file named
// <id>.<ext> in its session's folder).
function storedOriginal(id, sessionId) {
  const keys = listObjects(server.state).filter((k) =>
    new RegExp(`^temporary/${sessionId}/${id}\\.[a-z]+$`).test(k));
  assert.equal(keys.length, 1, `one stored original of ${id}: ${keys}`);
  return readObject(server.state, keys[0]);
}

async function staffBytes(path) {
  const res = await staffGet(server, path, STAFF);
  assert.equal(res.status, 200, `GET ${path}`);
  return { type: res.headers.get('content-type'),
    bytes: Buffer.from(await res.arrayBuffer()) };
}

// Nothing is kept but the accepted images' originals and derivatives,
// and every accepted image has a row, its original, thumb and preview.
const OBJECT_KEY =
  /^temporary\/([^/]+)\/(img_[0-9a-f]{32})(-thumb|-preview)?\.[a-z]+$/;

function assertOnlyAcceptedKept(state = server.state, ids = accepted) {
  const stray = [], have = new Map();
  for (const key of listObjects(state)) {
    const m = key.match(OBJECT_KEY);
    if (!m || ids.get(m[2]) !== m[1]) stray.push(key);
    else have.set(m[2], (have.get(m[2]) || 0) + 1);
  }
  assert.deepEqual(stray, [], 'objects of no accepted image');
  for (const id of ids.keys()) assert.equal(have.get(id), 3, `files of ${id}`);
  const rows = dbQuery(state, 'SELECT id, session_id FROM images');
  assert.deepEqual(rows.map((r) => [r.id, r.session_id]).sort(),
    [...ids].sort());
  assert.deepEqual(dbQuery(state, 'SELECT id FROM tus_uploads'), []);
}

test('a phone JPEG is answered 201 with its facts and stored byte for byte',
  async () => {
    const f = files.get('phone-12mp.jpg');
    assert.ok(f.bytes.length > 3 * MiB && f.bytes.length < 6 * MiB);
    const res = await send({ name: f.name, petIndex: 0 });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assertImage(res.body, f, res.sessionId, {
      width: 4000, height: 3000, format: 'jpeg', orientation: 1,
      pet_index: 0, duplicate: false,
    });
    assert.ok(storedOriginal(res.body.id, res.sessionId).equals(f.bytes));
    const got = await staffBytes(`/api/v1/images/${res.body.id}/original`);
    assert.equal(got.type, 'image/jpeg');
    assert.equal(sha256(got.bytes), f.sha256);
    const [row] = dbQuery(server.state,
      `SELECT kind, sha256, bytes, width, height, format FROM images
       WHERE id = '${res.body.id}'`);
    assert.deepEqual({ ...row, bytes: Number(row.bytes) }, {
      kind: 'original', sha256: f.sha256, bytes: f.bytes.length,
      width: 4000, height: 3000, format: 'jpeg',
    });
  });

test('image files are for staff; originals for fulfillers', async () => {
  const res = await send({ name: 'cmyk.jpg' });
  assert.equal(res.status, 201);
  for (const kind of ['original', 'thumb', 'preview']) {
    const path = `/api/v1/images/${res.body.id}/${kind}`;
    const anon = await fetch(server.url + path);
    assert.ok([401, 403].includes(anon.status), `${kind}: ${anon.status}`);
    const viewer = await staffGet(server, path, VIEWER);
    assert.equal(viewer.status, kind === 'original' ? 403 : 200,
      `viewer ${kind}`);
  }
  const other = await staffGet(server,
    `/api/v1/images/img_${'0'.repeat(32)}/original`, STAFF);
  assert.equal(other.status, 404);
});

test('the same bytes again answer 200 with the same image, no second row',
  async () => {
    const f = files.get('deep.png');
    const first = await send({ name: f.name, petIndex: 3 });
    assert.equal(first.status, 201);
    const objects = listObjects(server.state);
    for (let i = 0; i < 3; i++) {
      const again = await send({ name: f.name, sessionId: first.sessionId,
        petIndex: 3 });
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(again.body.id, first.body.id);
      assert.equal(again.body.duplicate, true);
      assertImage(again.body, f, first.sessionId,
        { width: 320, height: 240, format: 'png', pet_index: 3 });
    }
    assert.deepEqual(listObjects(server.state), objects);
    const rows = dbQuery(server.state, `SELECT id FROM images
      WHERE session_id = '${first.sessionId}'`);
    assert.deepEqual(rows, [{ id: first.body.id }]);
  });

test('a cut-out PNG keeps its transparency; the same bytes as the other '
  + 'image type are a new image', async () => {
  const f = files.get('cutout.png');
  const cut = await send({ name: f.name });
  assert.equal(cut.status, 201, JSON.stringify(cut.body));
  assertImage(cut.body, f, cut.sessionId, {
    image_type: 'processed', width: 400, height: 300, format: 'png',
    pet_index: null, duplicate: false,
  });
  assert.ok(storedOriginal(cut.body.id, cut.sessionId).equals(f.bytes));
  const processed = await staffBytes(`/api/v1/images/${cut.body.id}/processed`);
  assert.equal(processed.type, 'image/png');
  assert.ok(processed.bytes.equals(f.bytes));
  // the thumbnail shows the transparent half light, the opaque half red
  const thumb = await staffBytes(`/api/v1/images/${cut.body.id}/thumb`);
  assert.equal(thumb.type, 'image/jpeg');
  const p = probe(thumb.bytes);
  assert.deepEqual([p.width, p.height], [300, 225]);
  assert.ok(p.left.every((v) => v > 200), `left ${p.left}`);
  assert.ok(p.right[0] > 180 && p.right[1] < 60 && p.right[2] < 60,
    `right ${p.right}`);
  const asOriginal = await send({ name: f.name, sessionId: cut.sessionId,
    imageType: 'original' });
  assert.equal(asOriginal.status, 201, JSON.stringify(asOriginal.body));
  assert.notEqual(asOriginal.body.id, cut.body.id);
  assert.equal(asOriginal.body.image_type, 'original');
  const rows = dbQuery(server.state, `SELECT kind FROM images
    WHERE session_id = '${cut.sessionId}' ORDER BY kind`);
  assert.deepEqual(rows.map((r) => r.kind), ['original', 'processed']);
  // the stored file of every image is its `original`
  const original = await staffBytes(`/api/v1/images/${cut.body.id}/original`);
  assert.ok(original.bytes.equals(f.bytes));
});

test('fields sent after a 2 MiB file are read too', async () => {
  const f = files.get('over-2mib.jpg');
  assert.equal(f.bytes.length, 2 * MiB);
  const res = await send({ name: f.name, fileFirst: true, petIndex: 99 });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assertImage(res.body, f, res.sessionId,
    { format: 'jpeg', pet_index: 99 });
});

test('the file name and declared type are never trusted', async () => {
  const f = files.get('deep.png');
  const escape = `escape-${newSessionId()}.png`;
  const res = await send({ name: f.name, filename: `../../../${escape}`,
    contentType: 'text/plain' });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assertImage(res.body, f, res.sessionId, { format: 'png' });
  assertOnlyAcceptedKept();
  const named = execFileSync('find', [server.state.dir, '-name', escape]);
  assert.equal(named.toString(), '');
  assert.equal(existsSync(join(dirname(server.state.dir), escape)), false);
});

test('every corpus file gets its documented status, nothing of the '
  + 'refused ones is kept, and the server stays up and small', async (t) => {
  const formats = {
    'rotated.jpg': 'jpeg', 'deep.png': 'png', 'cmyk.jpg': 'jpeg',
    'phone.heic': 'heic', 'cutout.png': 'png', 'phone-12mp.jpg': 'jpeg',
    'over-2mib.jpg': 'jpeg',
  };
  const corpusFiles = files.files.filter((f) => f.group === 'corpus');
  assert.ok(corpusFiles.some((f) => f.name === 'phone.heic'),
    'the HEIC file was made');
  for (const f of corpusFiles) {
    const res = await send({ name: f.name });
    if (f.status === 201) {
      assert.equal(res.status, 201, `${f.name}: ${JSON.stringify(res.body)}`);
      assertImage(res.body, f, res.sessionId, { format: formats[f.name] });
      continue;
    }
    assertError(res, f.status, f.code, f.name);
    if (f.detected) {
      assert.match(res.body.error.message,
        new RegExp(`\\b${f.detected}\\b`, 'i'), f.name);
    }
  }
  assertOnlyAcceptedKept();
  // the refused files again and again: memory does not grow with them
  const refused = corpusFiles.filter((f) => f.status >= 400);
  const rounds = [];
  for (let round = 0; round < 10; round++) {
    for (const f of refused) {
      const res = await send({ name: f.name });
      assert.equal(res.status, f.status, f.name);
    }
    rounds.push(residentMiB(server.child.pid));
  }
  assertOnlyAcceptedKept();
  const health = await fetch(`${server.url}/healthz`);
  assert.equal(health.status, 200);
  const mem = residentMiB(server.child.pid);
  const asan = isSanitized(server.child.pid);
  const bound = asan ? RSS_BOUND_ASAN_MiB : RSS_BOUND_MiB;
  t.diagnostic(`server memory after the corpus: ${mem.rss.toFixed(1)} MiB `
    + `resident, ${mem.peak.toFixed(1)} MiB peak; after refused round 1: `
    + `${rounds[0].rss.toFixed(1)}, round 10: ${rounds[9].rss.toFixed(1)}`);
  assert.ok(mem.rss < bound, `resident ${mem.rss} MiB`);
  assert.ok(mem.peak < bound, `peak ${mem.peak} MiB`);
  // (AddressSanitizer's quarantine grows by design: normal builds only)
  assert.ok(asan || rounds[9].rss - rounds[0].rss < 16,
    `grew ${rounds[9].rss - rounds[0].rss} MiB over 9 rounds of refusals`);
});

test('the orientation-6 photo: upright thumbnail and preview without EXIF, '
  + 'original byte-identical with its GPS', async () => {
  const f = files.get('rotated.jpg');
  const sent = exifFacts(exifOf(f.bytes));
  assert.deepEqual(sent, { orientation: 6, gpsLatitudeRef: 'N',
    gpsLatitude: [48, 51, 24] });
  const res = await send({ name: f.name });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  assertImage(res.body, f, res.sessionId,
    { width: 600, height: 400, orientation: 6, format: 'jpeg' });
  const id = res.body.id;
  for (const [kind, w, h] of [['thumb', 200, 300], ['preview', 400, 600]]) {
    const got = await staffBytes(`/api/v1/images/${id}/${kind}`);
    assert.equal(got.type, 'image/jpeg', kind);
    assert.equal(exifOf(got.bytes), null, `${kind} carries no EXIF`);
    const p = probe(got.bytes);
    assert.deepEqual([p.width, p.height], [w, h], kind);
    assert.ok(p.top[0] > 150 && p.top[2] < 90, `${kind} top red ${p.top}`);
    assert.ok(p.bottom[2] > 150 && p.bottom[0] < 90,
      `${kind} bottom blue ${p.bottom}`);
  }
  const orig = await staffBytes(`/api/v1/images/${id}/original`);
  assert.ok(orig.bytes.equals(f.bytes));
  assert.deepEqual(exifFacts(exifOf(orig.bytes)), sent);
  assert.ok(storedOriginal(id, res.sessionId).equals(f.bytes));
});

test('20 concurrent uploads of different 5 MiB photos all succeed',
  { timeout: 180000 }, async (t) => {
    const bursts = files.files.filter((f) => f.group === 'burst');
    assert.equal(bursts.length, 20);
    assert.equal(new Set(bursts.map((f) => f.sha256)).size, 20);
    const sessionId = newSessionId();
    const t0 = Date.now();
    const all = await Promise.all(bursts.map((f) => send({ name: f.name,
      sessionId })));
    const ms = Date.now() - t0;
    const mem = residentMiB(server.child.pid);
    t.diagnostic(`20 x 5 MiB multipart uploads at once: ${ms} ms; server `
      + `peak resident memory so far ${mem.peak.toFixed(1)} MiB`);
    assert.ok(mem.peak < (isSanitized(server.child.pid) ? RSS_BOUND_ASAN_MiB
      : RSS_BOUND_MiB), `peak ${mem.peak} MiB`);
    all.forEach((res, i) => {
      assert.equal(res.status, 201, `${bursts[i].name}: `
        + JSON.stringify(res.body));
      assert.equal(res.body.sha256, bursts[i].sha256);
      assert.equal(res.body.bytes, 5 * MiB);
    });
    const rows = dbQuery(server.state, `SELECT sha256 FROM images
      WHERE session_id = '${sessionId}'`);
    assert.deepEqual(rows.map((r) => r.sha256).sort(),
      bursts.map((f) => f.sha256).sort());
    assertOnlyAcceptedKept();
  });

test('missing or bad fields are 400 and leave nothing', async () => {
  const f = files.get('cmyk.jpg');
  const cases = [
    ['no session_id', { sessionId: undefined }],
    ['empty session_id', { sessionId: '' }],
    ['session_id with a slash', { sessionId: '../etc' }],
    ['session_id of 65 characters', { sessionId: 'a'.repeat(65) }],
    ['no image_type', { imageType: undefined }],
    ['image_type thumbnail', { imageType: 'thumbnail' }],
    ['pet_index 100', { petIndex: 100 }],
    ['pet_index -1', { petIndex: -1 }],
    ['pet_index x', { petIndex: 'x' }],
    ['no image', { file: undefined, name: undefined }],
  ];
  for (const [what, opts] of cases) {
    const res = await send({ name: f.name, ...opts });
    assertError(res, 400, 'bad_request', what);
  }
  assertOnlyAcceptedKept();
});

test('CORS: the allowed origin is let in, preflight included; another '
  + 'origin is refused', async () => {
  const preflight = (path, origin, headers) => fetch(server.url + path, {
    method: 'OPTIONS',
    headers: { origin, 'access-control-request-method': 'POST',
      'access-control-request-headers': headers },
  });
  const ok = await preflight(UPLOAD, ALLOWED, 'content-type');
  assert.equal(ok.status, 204);
  assert.equal(ok.headers.get('access-control-allow-origin'), ALLOWED);
  assert.match(ok.headers.get('vary') || '', /\borigin\b/i);
  assert.match(ok.headers.get('access-control-allow-methods') || '',
    /\bPOST\b/);
  assert.match(ok.headers.get('access-control-allow-headers') || '',
    /\bcontent-type\b/i);
  assert.match(ok.headers.get('access-control-max-age') || '', /^\d+$/);
  const tus = await preflight('/api/v2/uploads', ALLOWED,
    'tus-resumable,upload-length,upload-metadata');
  assert.equal(tus.status, 204);
  const allowed = (tus.headers.get('access-control-allow-headers') || '')
    .toLowerCase();
  for (const h of ['tus-resumable', 'upload-length', 'upload-metadata',
    'upload-offset', 'upload-checksum', 'x-http-method-override']) {
    assert.ok(allowed.includes(h), `${h} in ${allowed}`);
  }

  const bad = await preflight(UPLOAD, FOREIGN, 'content-type');
  assert.equal(bad.status, 403);
  assert.equal(bad.headers.get('access-control-allow-origin'), null);

  const post = await send({ name: 'rotated.jpg', origin: ALLOWED });
  assert.equal(post.status, 201, JSON.stringify(post.body));
  assert.equal(post.headers.get('access-control-allow-origin'), ALLOWED);
  assert.match(post.headers.get('vary') || '', /\borigin\b/i);
  const exposed = (post.headers.get('access-control-expose-headers') || '')
    .toLowerCase();
  for (const h of ['location', 'upload-offset', 'upload-length',
    'tus-resumable', 'upload-expires']) {
    assert.ok(exposed.includes(h), `${h} exposed: ${exposed}`);
  }
  const foreign = await send({ name: 'deep.png', origin: FOREIGN });
  assertError(foreign, 403, 'forbidden', 'foreign origin');
  assert.equal(foreign.headers.get('access-control-allow-origin'), null);
  assertOnlyAcceptedKept();
});

test('/metrics counts every upload by result, and the bytes received',
  async () => {
    const m = await metrics(server);
    for (const [result, n] of Object.entries(counted)) {
      assert.equal(m('image_uploads_total', { result }), n, result);
    }
    assert.ok(counted.ok > 30 && counted.unsupported >= 33,
      JSON.stringify(counted));
    assert.equal(m('image_uploads_total', { result: 'error' }), 0);
    assert.ok(m('image_upload_bytes_total', { via: 'multipart' })
      >= bytesSent, `at least ${bytesSent} bytes`);
  });

test('a body over UPLOAD_MAX_BYTES is 413 and a session holds at most '
  + 'UPLOAD_SESSION_MAX_IMAGES images', async () => {
  const limited = await startServer({
    env: { ...ENV, UPLOAD_MAX_BYTES: String(MiB),
      UPLOAD_SESSION_MAX_IMAGES: '2' },
  });
  const url = limited.url + UPLOAD;
  const ids = new Map();
  const up = async (name, sessionId, extra = {}) => {
    const f = files.get(name);
    const res = await uploadMultipart(url, { file: f.bytes, filename: name,
      contentType: f.content_type, imageType: f.image_type, sessionId,
      ...extra });
    if (res.status === 201) ids.set(res.body.id, sessionId);
    return res;
  };
  try {
    const s = newSessionId();
    assertError(await up('over-2mib.jpg', s), 413, 'too_large', '2 MiB');
    assert.equal((await up('rotated.jpg', s)).status, 201);
    assert.equal((await up('deep.png', s)).status, 201);
    assertError(await up('phone.heic', s), 409, 'session_full', 'third');
    const retry = await up('deep.png', s);
    assert.equal(retry.status, 200, 'a retry of a stored image');
    assert.equal(retry.body.duplicate, true);
    assert.equal((await up('phone.heic', newSessionId())).status, 201);
    assert.equal((await fetch(`${limited.url}/healthz`)).status, 200);
    assertOnlyAcceptedKept(limited.state, ids);
    const m = await metrics(limited);
    assert.equal(m('image_uploads_total', { result: 'too_large' }), 1);
    assert.equal(m('image_uploads_total', { result: 'session_full' }), 1);
    assert.equal(m('image_uploads_total', { result: 'ok' }), 3);
  } finally {
    const exit = await limited.stop();
    assert.deepEqual(exit, { code: 0, signal: null },
      limited.stderr.slice(-3000));
  }
});
