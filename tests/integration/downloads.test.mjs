// downloads.test.mjs — zip downloads: one order's files and today's print
// queue, checked with Debian's unzip and Python's zipfile: entry names,
// stored (not recompressed) entries, bytes identical to storage, the
// manifest's facts, who may download, the audit trail, and flat server
// memory while a large zip streams.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freshState, runPrintdesk, startServer } from '../lib/server.mjs';
import {
  STAFF_ENV, addStaff, dbExec as sqlExec, dbQuery, isSanitized, readObject, residentMiB,
  sha256, staffGet,
} from '../lib/uploads.mjs';

const VIEWER = '2001', FULFILLER = '2002';
let state, server, scratch;

before(async () => {
  state = freshState();
  scratch = mkdtempSync(join(tmpdir(), 'pd-zips-'));
  const seeded = await runPrintdesk(['seed-demo', '--orders', '300',
    '--data-dir', join(state.dir, 'data')], {
    env: {
      DATABASE_URL: state.databaseUrl,
      STORAGE_URL: `file:${join(state.dir, 'objects')}`,
    },
    timeoutMs: 120000,
  });
  assert.equal(seeded.code, 0, seeded.stderr);
  await addStaff(state, VIEWER, 'viewer');
  await addStaff(state, FULFILLER, 'fulfiller');
  server = await startServer({
    state, env: { ...STAFF_ENV, STAFF_RATE_PER_MINUTE: '100000' },
  });
});

after(async () => {
  if (server) assert.deepEqual(await server.stop(), { code: 0, signal: null });
  state.cleanup();
  rmSync(scratch, { recursive: true, force: true });
});

// Downloads a zip into the scratch folder; resolves {res, path}.
async function download(path, customer = FULFILLER) {
  const res = await staffGet(server, path, customer);
  const file = join(scratch, `z${Date.now()}${Math.random()}.zip`);
  writeFileSync(file, Buffer.from(await res.arrayBuffer()));
  return { res, path: file };
}

// What Debian's unzip and Python's zipfile see in a zip.
function inspect(path) {
  const names = execFileSync('unzip', ['-Z1', path]).toString()
    .split('\n').filter(Boolean);
  execFileSync('unzip', ['-tq', path]);
  const py = `
import hashlib, json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
print(json.dumps([{"name": i.filename, "method": i.compress_type,
  "size": i.file_size, "sha256": hashlib.sha256(z.read(i)).hexdigest()}
  for i in z.infolist()]))`;
  const entries = JSON.parse(execFileSync('/usr/bin/python3',
    ['-c', py, path], { maxBuffer: 1 << 24 }).toString());
  const manifest = execFileSync('unzip', ['-p', path, 'manifest.csv'])
    .toString();
  return { names, entries, manifest };
}

// The manifest's rows as objects keyed by its header.
function parseManifest(text) {
  const lines = text.split('\r\n').filter(Boolean);
  assert.equal(lines[0], 'order,pet,print size,file,pixels,dpi,sha256');
  return lines.slice(1).map((l) => {
    const [order, pet, size, file, pixels, dpi, sha] = l.split(',');
    return { order, pet, size, file, pixels, dpi, sha };
  });
}

// Effective DPI computed here from first principles: the photo fills
// the print long side to long side; the smaller pixels-per-inch wins.
function expectedDpi(printSize, w, h) {
  const m = /(\d+(?:\.\d+)?)\s*(?:x|×)\s*(\d+(?:\.\d+)?)/.exec(printSize);
  if (!m || !w || !h) return '';
  const [a, b] = [Number(m[1]), Number(m[2])];
  return String(Math.floor(Math.min(Math.max(w, h) / Math.max(a, b),
    Math.min(w, h) / Math.min(a, b))));
}

const safe = (name) => (name || '').toLowerCase().replace(/[^a-z0-9_.]+/g,
  '-').replace(/^[-.]+|[-.]+$/g, '');
const extOf = (format) => (format === 'jpeg' ? 'jpg' : format);

// What a zip of these orders must hold, from the database.
function expectedFiles(orderIds) {
  const rows = dbQuery(state, `SELECT o.id AS order_id, o.name, p.position,
    p.id AS pet_id, p.pet_name, p.print_size, i.kind, i.object_key,
    i.format, i.width, i.height, i.sha256 FROM orders o
    JOIN pets p ON p.order_id = o.id
    JOIN images i ON i.id IN (p.original_image_id, p.processed_image_id)
    WHERE i.deleted_at IS NULL AND o.id IN (${orderIds.join(',')})`);
  const parts = new Map();
  for (const id of orderIds) {
    const pets = dbQuery(state, `SELECT id, pet_name FROM pets
      WHERE order_id = ${id} ORDER BY position, id`);
    pets.forEach((p, i) => {
      const own = safe(p.pet_name);
      const taken = pets.slice(0, i).some((q) => safe(q.pet_name) === own);
      parts.set(p.id, !own ? `pet-${i + 1}` : taken ? `${own}-${i + 1}` : own);
    });
  }
  return rows.map((r) => {
    const kind = r.kind === 'original' ? 'original' : 'cutout';
    return {
      ...r,
      file: `${r.name.slice(1)}/${parts.get(r.pet_id)}-${kind}.`
        + extOf(r.format),
    };
  });
}

// Checks a zip against the files it must hold, byte for byte.
function checkZip(zip, files) {
  const { names, entries, manifest } = inspect(zip);
  assert.equal(names.at(-1), 'manifest.csv', 'the manifest comes last');
  assert.deepEqual(names.slice(0, -1).sort(),
    files.map((f) => f.file).sort());
  for (const e of entries) assert.equal(e.method, 0, `${e.name} is stored`);
  const byName = new Map(entries.map((e) => [e.name, e]));
  const rows = new Map(parseManifest(manifest).map((r) => [r.file, r]));
  assert.equal(rows.size, files.length);
  for (const f of files) {
    const stored = readObject(state, f.object_key);
    assert.equal(byName.get(f.file).sha256, sha256(stored),
      `${f.file} is the stored object, byte for byte`);
    const row = rows.get(f.file);
    assert.equal(row.sha, f.sha256);
    assert.equal(row.sha, sha256(stored));
    assert.equal(row.order, f.name.slice(1));
    assert.equal(row.size, f.print_size || '');
    assert.equal(row.pixels, `${f.width}x${f.height}`);
    assert.equal(row.dpi, expectedDpi(f.print_size || '', f.width,
      f.height));
  }
  return { names, entries, rows };
}

function auditRows(action) {
  return dbQuery(state, `SELECT actor, action, target_type, target_id,
    order_id, detail FROM audit_log WHERE action = '${action}' ORDER BY id`);
}

test('an order downloads as a zip of its stored files and a manifest',
  async () => {
    const [{ id, name }] = dbQuery(state, `SELECT o.id, o.name FROM orders o
      WHERE (SELECT COUNT(*) FROM pets p WHERE p.order_id = o.id
        AND p.processed_image_id IS NOT NULL) >= 2
      ORDER BY o.id LIMIT 1`);
    const files = expectedFiles([id]);
    assert.ok(files.length >= 4, 'two pets, each original and cut-out');
    const { res, path } = await download(
      `/api/v1/orders/${name.slice(1)}/download.zip`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'application/zip');
    assert.equal(res.headers.get('content-disposition'),
      `attachment; filename="order-${name.slice(1)}.zip"`);
    const { rows } = checkZip(path, files);
    assert.ok([...rows.values()].some((r) => Number(r.dpi) > 0));

    const audit = auditRows('order.download');
    assert.equal(audit.length, 1);
    assert.equal(audit[0].actor, `customer:${FULFILLER}`);
    assert.equal(Number(audit[0].order_id), id);
    assert.equal(audit[0].target_id, name);
  });

test('an order without files still gives a zip with the manifest',
  async () => {
    const [{ id, name }] = dbQuery(state,
      'SELECT id, name FROM orders ORDER BY id DESC LIMIT 1');
    sqlExec(state, `UPDATE pets SET original_image_id = NULL,
      processed_image_id = NULL WHERE order_id = ${id}`);
    const { res, path } = await download(
      `/api/v1/orders/${name.slice(1)}/download.zip`);
    assert.equal(res.status, 200);
    const { names, manifest } = inspect(path);
    assert.deepEqual(names, ['manifest.csv']);
    assert.deepEqual(parseManifest(manifest), []);
  });

test('viewers may not download; an unknown order is a 404', async () => {
  const before = auditRows('order.download').length;
  const viewer = await staffGet(server, '/api/v1/print-queue.zip', VIEWER);
  assert.equal(viewer.status, 403);
  const one = await staffGet(server, '/api/v1/orders/1001/download.zip',
    VIEWER);
  assert.equal(one.status, 403);
  const missing = await staffGet(server,
    '/api/v1/orders/987654/download.zip', FULFILLER);
  assert.equal(missing.status, 404);
  assert.match(missing.headers.get('content-type'), /^application\/json/);
  assert.equal((await missing.json()).error.code, 'not_found');
  assert.equal(auditRows('order.download').length, before);
});

test('the print queue holds every file of every in_production order',
  async () => {
    sqlExec(state, `UPDATE orders SET status = 'pending'
      WHERE status = 'in_production'`);
    sqlExec(state, `UPDATE orders SET status = 'in_production' WHERE id IN
      (SELECT id FROM orders WHERE status = 'pending' ORDER BY id
       LIMIT 12)`);
    const ids = dbQuery(state, `SELECT id FROM orders
      WHERE status = 'in_production'`).map((r) => Number(r.id));
    assert.equal(ids.length, 12);
    const { res, path } = await download('/api/v1/print-queue.zip');
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-disposition'),
      /^attachment; filename="print-queue-\d{4}-\d{2}-\d{2}\.zip"$/);
    checkZip(path, expectedFiles(ids));

    const perOrder = auditRows('print_queue.download')
      .filter((r) => r.target_type === 'order');
    assert.deepEqual(perOrder.map((r) => Number(r.order_id)).sort(),
      [...ids].sort());
    const whole = auditRows('print_queue.download')
      .filter((r) => r.target_type === 'print_queue');
    assert.equal(whole.length, 1);
    assert.equal(whole[0].actor, `customer:${FULFILLER}`);
  });

test('a print queue of hundreds of orders streams in flat memory',
  async () => {
    sqlExec(state, `UPDATE orders SET status = 'in_production'
      WHERE status <> 'cancelled'`);
    const [{ n, bytes }] = dbQuery(state, `SELECT COUNT(DISTINCT o.id) AS n,
      SUM(i.bytes) AS bytes FROM orders o JOIN pets p ON p.order_id = o.id
      JOIN images i ON i.id IN (p.original_image_id, p.processed_image_id)
      WHERE o.status = 'in_production'`);
    assert.ok(Number(n) >= 250);
    const pid = server.child.pid;
    const res = await staffGet(server, '/api/v1/print-queue.zip', FULFILLER);
    assert.equal(res.status, 200);
    const reader = res.body.getReader();
    let got = 0, early = null, tail = Buffer.alloc(0);
    const started = Date.now();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      got += value.length;
      tail = Buffer.concat([tail, Buffer.from(value)]).subarray(-64);
      if (early === null && got > 64 * 1024 * 1024) {
        early = residentMiB(pid).rss;
      }
    }
    const secs = (Date.now() - started) / 1000;
    const end = residentMiB(pid);
    assert.ok(got > Number(bytes), `the zip (${got} B) holds every file`);
    // The end of central directory record closes a complete zip.
    assert.equal(tail.readUInt32LE(tail.length - 22), 0x06054b50);
    console.log(`# print queue: ${n} orders, ${(got / 2 ** 20).toFixed(0)}`
      + ` MiB in ${secs.toFixed(2)} s (${(got / 2 ** 20 / secs).toFixed(0)}`
      + ` MiB/s); server RSS ${early.toFixed(1)} MiB at 64 MiB,`
      + ` ${end.rss.toFixed(1)} MiB at the end, peak ${end.peak.toFixed(1)}`);
    if (!isSanitized(pid)) {
      assert.ok(end.rss - early < 16,
        `RSS grew ${(end.rss - early).toFixed(1)} MiB over the zip`);
      assert.ok(end.peak < 96, `peak RSS ${end.peak} MiB`);
    }
  });
