// import_legacy.test.mjs — `printdesk import-legacy`: the old webhook
// service's SQLite database (built here with its schema) comes into
// printdesk's database: good rows as orders with status, times, pets,
// notes and the photos uploaded under their session; bad rows reported
// and absent; a re-run imports nothing twice; the old file untouched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { freshState, startServer } from '../lib/server.mjs';
import { DESK_ENV, deskCli, sessionCookie } from '../lib/desk.mjs';
import { uploadMultipart } from '../lib/uploads.mjs';
import {
  apiGet, deskEnv, legacyDatabase, photo, runDesk, sqlRows,
} from '../lib/dbcopy.mjs';

const VIEWER = '3101';
let state, server, cookie;

before(async () => {
  state = freshState();
  deskCli(state, 'staff', 'add', VIEWER, '--role', 'viewer');
  server = await startServer({ state,
    env: { ...DESK_ENV, LIST_CACHE_MS: '0' } });
  cookie = await sessionCookie(server, state, VIEWER);
});

after(async () => {
  const exit = await server.stop();
  state.cleanup();
  assert.deepEqual(exit, { code: 0, signal: null }, server.stderr.slice(-3000));
});

const ms = (iso) => Date.parse(iso);
const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

// Uploads a photo as the storefront does; resolves the image record.
async function upload(sessionId, imageType, file, petIndex) {
  const res = await uploadMultipart(`${server.url}/api/v2/customer-upload`, {
    file, sessionId, imageType, petIndex,
    filename: imageType === 'original' ? 'pet.jpg' : 'cutout.png',
    contentType: imageType === 'original' ? 'image/jpeg' : 'image/png',
  });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return res.body;
}

// The legacy rows: four good, four bad (with the reason expected).
function legacyRows() {
  return [
    { order_number: '7001', session_id: 'legacy-one',
      pet_data: JSON.stringify({ sessionId: 'legacy-one',
        pets: [{ name: 'Biscuit', printSize: '8x10 / Matte' }] }),
      fulfillment_status: 'shipped', created_at: '2025-08-01 10:00:00',
      updated_at: '2025-08-03 12:00:00', completed_at: '2025-08-03 12:00:00',
      notes: 'Gift wrap, please', download_count: 3,
      last_accessed_at: '2025-08-04T09:00:00' },
    { order_number: '#7002', session_id: 'legacy-two',
      pet_data: JSON.stringify([{ petName: 'Nala', size: '11 x 14' },
        { petName: 'Simba' }]),
      fulfillment_status: 'Processing', created_at: 1754000000,
      updated_at: 1754100000000 },
    { order_number: '7003', session_id: 'legacy-three',
      pet_data: '{"pets": [{"name": "Broken"', fulfillment_status: 'pending' },
    { order_number: '7004', session_id: 'legacy-four',
      pet_data: 'photos in the email', fulfillment_status: 'pending' },
    { order_number: '', session_id: 'legacy-five', pet_data: '{}' },
    { order_number: '7006', session_id: 'legacy-six',
      pet_data: '{"name": "Rex"}', fulfillment_status: 'lost in the mail' },
    { order_number: '7007', session_id: 'legacy-seven',
      pet_data: '{"name": "Pip"}', fulfillment_status: 'On Hold',
      created_at: '2025-08-05T08:30:00.250Z' },
    { order_number: 7008, session_id: 'legacy-eight',
      pet_data: '["Mochi"]', fulfillment_status: 'Canceled',
      created_at: '2025-08-06T10:00:00+02:00' },
  ];
}

const BAD = [
  [3, '7003', /pet_data is not valid JSON/],
  [4, '7004', /pet_data is not valid JSON/],
  [5, '', /no order number/],
  [6, '7006', /unknown fulfillment_status "lost in the mail"/],
];

function checkReport(stdout, imported, present) {
  for (const [rowid, order, reason] of BAD) {
    const line = stdout.split('\n').find((l) => l.startsWith(
      `bad row ${rowid} (order "${order}"): `));
    assert.ok(line, `row ${rowid} is reported:\n${stdout}`);
    assert.match(line, reason);
  }
  assert.match(stdout, new RegExp(`legacy rows: 8; imported ${imported} .*`
    + `skipped as present ${present}, bad 4`));
}

test('import-legacy brings the old orders in with their photos and '
  + 'skips bad rows', async () => {
  // Photos the storefront uploaded under the legacy sessions: an older
  // and a newer original for the one-pet order, one pair per pet of the
  // two-pet order (pet_index), nothing for the last order.
  const dir = state.dir;
  const oldOriginal = await upload('legacy-one', 'original',
    photo(dir, 'a0.jpg', 640, 800));
  const original = await upload('legacy-one', 'original',
    photo(dir, 'a1.jpg', 2400, 3000));
  const processed = await upload('legacy-one', 'processed',
    photo(dir, 'a2.png', 600, 750));
  const nala = [await upload('legacy-two', 'original',
    photo(dir, 'n0.jpg', 700, 900), 0), await upload('legacy-two',
    'processed', photo(dir, 'n1.png', 300, 400), 0)];
  const simba = [await upload('legacy-two', 'original',
    photo(dir, 's0.jpg', 720, 900), 1), await upload('legacy-two',
    'processed', photo(dir, 's1.png', 320, 400), 1)];

  const legacy = join(dir, 'legacy.db');
  legacyDatabase(legacy, legacyRows());
  const before = sha256(readFileSync(legacy));
  const env = deskEnv(state);

  const first = await runDesk(['import-legacy', '--from',
    `sqlite:${legacy}`], env);
  assert.equal(first.code, 1, 'bad rows make the exit status 1\n'
    + first.stderr);
  checkReport(first.stdout, 4, 0);
  assert.match(first.stdout, /\(5 pets, 7 photos linked\)/);
  assert.equal(sha256(readFileSync(legacy)), before, 'the file is untouched');

  const one = (await apiGet(server, cookie, '/api/v1/orders/7001')).order;
  assert.equal(one.name, '#7001');
  assert.equal(one.status, 'completed');
  assert.equal(one.created_at, ms('2025-08-01T10:00:00Z'));
  assert.equal(one.updated_at, ms('2025-08-03T12:00:00Z'));
  assert.equal(one.pets.length, 1);
  assert.equal(one.pets[0].name, 'Biscuit');
  assert.equal(one.pets[0].print_size, '8x10');
  assert.equal(one.pets[0].original_image, original.id, 'the newest original');
  assert.equal(one.pets[0].processed_image, processed.id);
  assert.ok(one.pets[0].print_dpi >= 290, `dpi ${one.pets[0].print_dpi}`);
  assert.deepEqual(one.images.map((i) => i.id).sort(),
    [oldOriginal.id, original.id, processed.id].sort());
  assert.ok(one.images.every((i) => i.tier === 'order_pending'));
  assert.deepEqual(one.history.map((h) => [h.from, h.to, h.at]), [
    [null, 'pending', ms('2025-08-01T10:00:00Z')],
    ['pending', 'completed', ms('2025-08-03T12:00:00Z')]]);
  assert.deepEqual(one.notes.map((n) => [n.author, n.body]),
    [['import-legacy', 'Gift wrap, please']]);
  assert.ok(one.activity.some((a) => a.action === 'legacy.order'));

  const two = (await apiGet(server, cookie, '/api/v1/orders/7002')).order;
  assert.equal(two.status, 'in_production');
  assert.equal(two.created_at, 1754000000000, 'epoch seconds');
  assert.equal(two.updated_at, 1754100000000, 'epoch milliseconds');
  assert.deepEqual(two.pets.map((p) => [p.name, p.print_size,
    p.original_image, p.processed_image]), [
    ['Nala', '11x14', nala[0].id, nala[1].id],
    ['Simba', null, simba[0].id, simba[1].id]]);
  assert.deepEqual(two.notes, []);

  const seven = (await apiGet(server, cookie, '/api/v1/orders/7007')).order;
  assert.equal(seven.status, 'on_hold');
  assert.equal(seven.held_from, 'pending');
  assert.equal(seven.created_at, ms('2025-08-05T08:30:00.250Z'));
  assert.deepEqual(seven.pets.map((p) => [p.name, p.original_image]),
    [['Pip', null]]);

  const eight = (await apiGet(server, cookie, '/api/v1/orders/7008')).order;
  assert.equal(eight.status, 'cancelled');
  assert.equal(eight.created_at, ms('2025-08-06T08:00:00Z'));
  assert.deepEqual(eight.pets.map((p) => p.name), ['Mochi']);

  for (const missing of ['7003', '7004', '7006']) {
    const res = await fetch(`${server.url}/api/v1/orders/${missing}`,
      { headers: { cookie } });
    assert.equal(res.status, 404, `bad row ${missing} is absent`);
  }
  const list = await apiGet(server, cookie, '/api/v1/orders?counts=1');
  assert.deepEqual(list.orders.map((o) => o.name).sort(),
    ['#7001', '#7002', '#7007', '#7008']);
  assert.equal(list.counts.all, 4);
  const found = await apiGet(server, cookie, '/api/v1/orders?q=biscuit');
  assert.deepEqual(found.orders.map((o) => o.name), ['#7001']);

  // Again: nothing twice.
  const second = await runDesk(['import-legacy', '--from',
    `sqlite:${legacy}`], env);
  assert.equal(second.code, 1);
  checkReport(second.stdout, 0, 4);
  const again = await apiGet(server, cookie, '/api/v1/orders?counts=1');
  assert.equal(again.counts.all, 4);
  const pets = sqlRows(state.databaseUrl,
    'SELECT COUNT(*) AS n FROM pets')[0].n;
  assert.equal(Number(pets), 5);
  const runs = sqlRows(state.databaseUrl, "SELECT detail FROM audit_log "
    + "WHERE action = 'legacy.import' AND actor = 'import-legacy' "
    + 'ORDER BY id');
  assert.deepEqual(runs.map((r) => JSON.parse(r.detail)).map((d) =>
    [d.imported, d.present, d.bad]), [[4, 0, 4], [0, 4, 4]]);
});

test('import-legacy refuses a file that is not the old database', async () => {
  const env = deskEnv(state);
  const missing = await runDesk(['import-legacy', '--from',
    `sqlite:${join(state.dir, 'nothing.db')}`], env);
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no legacy database at .*nothing\.db/);

  const other = join(state.dir, 'other.db');
  sqlRows(`sqlite:${other}`, 'CREATE TABLE orders (id INTEGER PRIMARY KEY)');
  const wrong = await runDesk(['import-legacy', '--from',
    `sqlite:${other}`], env);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stderr, /has no orders table with an order_number /);

  const usage = await runDesk(['import-legacy'], env);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /--from sqlite:PATH is needed/);
});
