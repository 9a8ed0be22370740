// lifecycle_tiers.test.mjs — `printdesk lifecycle` on real uploads and
// webhook orders, driven through time with --now: photos follow their
// orders from temporary to order_pending, order_completed and archived
// and are deleted at their time (never an open order's); orphans go
// after a day; every dry run matches the run that follows; the safety
// share refuses and --force overrides; a crash between copy and record
// (or record and delete) leaves every photo readable and the next run
// cleans up; the lock keeps two runs apart; the audit log and /metrics
// tell what happened. Also checks deploy/gcs-lifecycle.json.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync,
} from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runPrintdesk, startServer } from '../lib/server.mjs';
import {
  STAFF_ENV, addStaff, corpus, dbExec, dbQuery, listObjects, metrics,
  newSessionId, sha256, staffGet, uploadMultipart,
} from '../lib/uploads.mjs';
import { deliver, orderPayload } from '../lib/webhooks.mjs';

const DAY = 24 * 3600 * 1000;
const STAFF = '3001';
const ENV = {
  ...STAFF_ENV, PUBLIC_RATE_PER_MINUTE: '100000',
  STAFF_RATE_PER_MINUTE: '100000',
};
const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const iso = (ms) => new Date(ms).toISOString();

let files;
before(() => { files = corpus(); });
after(() => rmSync(files.dir, { recursive: true, force: true }));

// ---- driving the command ----

function cliEnv(state, extra = {}) {
  return {
    ...ENV, DATABASE_URL: state.databaseUrl,
    STORAGE_URL: `file:${join(state.dir, 'objects')}`,
    PRINTDESK_DATA_DIR: join(state.dir, 'data'), LOG_LEVEL: 'warning',
    ...extra,
  };
}

function lifecycle(state, now, args = [], env = {}) {
  return runPrintdesk(['lifecycle', '--now', iso(now), ...args],
    { env: cliEnv(state, env) });
}

// The action lines of a printed table: {"move to archived": [n, bytes]}.
function tableOf(stdout) {
  const rows = {};
  for (const line of stdout.split('\n')) {
    const m = line.match(/^ {2}((?:move to|delete) \S+) +(\d+) +(\d+)$/);
    if (m) rows[m[1]] = [Number(m[2]), Number(m[3])];
  }
  assert.equal(Object.keys(rows).length, 8, `a table of 8 actions:\n${stdout}`);
  return rows;
}

// Every action's count: those in want, the others 0.
function assertCounts(table, want) {
  for (const [label, [n]] of Object.entries(table)) {
    assert.equal(n, want[label] || 0, `${label}: ${JSON.stringify(table)}`);
  }
}

// A dry run, then the real run at the same time: both print the same
// table. Returns it.
async function dryThenRun(state, now, env = {}, args = []) {
  const dry = await lifecycle(state, now, ['--dry-run', ...args], env);
  assert.equal(dry.code, 0, dry.stderr);
  assert.match(dry.stdout, /dry run: nothing changed/);
  const run = await lifecycle(state, now, args, env);
  assert.equal(run.code, 0, run.stderr);
  assert.match(run.stdout, /skipped: 0, failed: 0/);
  assert.deepEqual(tableOf(run.stdout), tableOf(dry.stdout));
  return tableOf(run.stdout);
}

// ---- photos and orders ----

// Uploads corpus file name as kind in session; its id, sha256 and size.
async function upload(server, session, kind, name) {
  const f = files.get(name);
  const res = await uploadMultipart(`${server.url}/api/v2/customer-upload`,
    { file: f.bytes, filename: f.name, contentType: f.content_type,
      sessionId: session, imageType: kind });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { id: res.body.id, sha256: f.sha256, bytes: f.bytes.length };
}

const burst = (n) => `burst-${String(n).padStart(2, '0')}.jpg`;

// Uploads an original and its cut-out in a new session.
async function uploadPair(server, n) {
  const session = newSessionId();
  return {
    session,
    original: await upload(server, session, 'original', burst(n)),
    processed: await upload(server, session, 'processed', 'cutout.png'),
  };
}

async function placeOrder(server, number, pairs) {
  const body = orderPayload({
    id: String(820982911946100000n + BigInt(number)), number,
    session: pairs[0].session, pets: pairs.length,
    images: pairs.map((p) => ({ original: p.original.id,
      processed: p.processed.id })),
  });
  const { res } = await deliver(server.url, 'orders/create', body);
  assert.equal(res.status, 200, await res.text());
}

const photosOf = (pairs) => pairs.flatMap((p) => [p.original, p.processed]);
const idList = (photos) => photos.map((p) => `'${p.id}'`).join(', ');

function rowsOf(state, photos) {
  return dbQuery(state, `SELECT id, tier, object_key, thumb_key,
    preview_key, deleted_at FROM images WHERE id IN (${idList(photos)})
    ORDER BY id`);
}

// Each photo's stored file and thumbnail through the image route, as
// staff see them: the file byte for byte.
async function assertReadable(server, photos) {
  for (const p of photos) {
    const res = await staffGet(server, `/api/v1/images/${p.id}/original`,
      STAFF);
    assert.equal(res.status, 200, `photo ${p.id}`);
    assert.equal(sha256(Buffer.from(await res.arrayBuffer())), p.sha256);
    const thumb = await staffGet(server, `/api/v1/images/${p.id}/thumb`,
      STAFF);
    assert.equal(thumb.status, 200, `thumbnail of ${p.id}`);
    await thumb.arrayBuffer();
  }
}

function assertTier(state, photos, tier) {
  for (const r of rowsOf(state, photos)) {
    assert.equal(r.tier, tier, r.id);
    assert.equal(r.deleted_at, null, r.id);
    for (const k of [r.object_key, r.thumb_key, r.preview_key]) {
      assert.ok(k.startsWith(`${tier}/`), `${r.id}: ${k}`);
    }
  }
}

const objectsUnder = (state, prefix) => listObjects(state)
  .filter((k) => k.startsWith(prefix));

function auditCount(state, action, where = '') {
  return Number(dbQuery(state, `SELECT COUNT(*) AS n FROM audit_log
    WHERE actor = 'lifecycle' AND action = '${action}' ${where}`)[0].n);
}

// Waits until the lock a crashed run left has expired.
async function lockLapsed(state) {
  const [row] = dbQuery(state, `SELECT expires_at FROM locks
    WHERE name = 'lifecycle'`);
  assert.ok(row, 'the crashed run left its lock');
  await sleep(Math.max(0, Number(row.expires_at) - Date.now()) + 50);
}

// A stray object written straight into the store, last changed at mtime.
function putStray(state, key, mtime) {
  const path = join(state.dir, 'objects', key);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `stray ${key}`);
  utimesSync(path, mtime / 1000, mtime / 1000);
}

// ---- the tiers through two years ----

describe('photos follow their orders through the tiers', () => {
  let server, state, T;
  let open, done, cancelled, loose;

  before(async () => {
    server = await startServer({ env: ENV });
    state = server.state;
    await addStaff(state, STAFF, 'fulfiller');
    T = Date.now();
    open = [await uploadPair(server, 0)];
    done = [await uploadPair(server, 1)];
    cancelled = [await uploadPair(server, 2)];
    loose = { original: await upload(server, newSessionId(), 'original',
      burst(3)) };
    await placeOrder(server, 5001, open);
    await placeOrder(server, 5002, done);
    await placeOrder(server, 5003, cancelled);
    // The open order and its photos are 400 days old already.
    dbExec(state, `UPDATE images SET created_at = ${T - 400 * DAY},
      tier_changed_at = ${T - 400 * DAY} WHERE id IN
      (${idList(photosOf(open))})`);
    dbExec(state, `UPDATE orders SET created_at = ${T - 400 * DAY}
      WHERE name = '#5001'`);
    dbExec(state, `UPDATE orders SET status = 'completed',
      status_changed_at = ${T} WHERE name = '#5002'`);
    dbExec(state, `UPDATE orders SET status = 'cancelled',
      status_changed_at = ${T} WHERE name = '#5003'`);
    putStray(state, 'order_completed/stray/old.jpg', T - 2 * DAY);
    putStray(state, 'archived/stray/young.jpg', T);
  });

  after(async () => {
    assert.deepEqual(await server.stop(), { code: 0, signal: null },
      server.stderr.slice(-3000));
  });

  test('first run: open and closed orders\' photos leave temporary; '
    + 'day-old orphans go', async () => {
    const before = await Promise.all(photosOf([...open, ...done])
      .map(async (p) => Buffer.from(await (await staffGet(server,
        `/api/v1/images/${p.id}/thumb`, STAFF)).arrayBuffer())));
    const t = await dryThenRun(state, T + 3600 * 1000);
    assertCounts(t, {
      'move to order_pending': 2, 'move to order_completed': 4,
      'delete orphans': 1,
    });
    const bytes = (pairs) => pairs.reduce((s, p) => s + p.original.bytes
      + p.processed.bytes, 0);
    assert.equal(t['move to order_pending'][1], bytes(open));
    assert.equal(t['move to order_completed'][1],
      bytes([...done, ...cancelled]));
    assertTier(state, photosOf(open), 'order_pending');
    assertTier(state, photosOf([...done, ...cancelled]), 'order_completed');
    assertTier(state, [loose.original], 'temporary');
    assert.deepEqual(objectsUnder(state, 'temporary/').length, 3);
    assert.deepEqual(objectsUnder(state, 'archived/'),
      ['archived/stray/young.jpg']);
    assert.equal(objectsUnder(state, 'order_completed/').length, 12);
    await assertReadable(server, photosOf([...open, ...done, ...cancelled])
      .concat([loose.original]));
    const after = await Promise.all(photosOf([...open, ...done])
      .map(async (p) => Buffer.from(await (await staffGet(server,
        `/api/v1/images/${p.id}/thumb`, STAFF)).arrayBuffer())));
    assert.deepEqual(after, before, 'thumbnails unchanged by the move');
    assert.equal(auditCount(state, 'photo.move'), 6);
    assert.equal(auditCount(state, 'photo.move',
      "AND target_type = 'image' AND order_id IS NOT NULL"), 6);
    assert.equal(auditCount(state, 'object.delete'), 1);
    const [row] = dbQuery(state, `SELECT detail FROM audit_log WHERE
      action = 'photo.move' AND target_id = '${open[0].original.id}'`);
    const detail = JSON.parse(row.detail);
    assert.equal(detail.to, 'order_pending');
    assert.match(detail.previous_keys[0], /^temporary\//);
    assert.match(detail.keys[0], /^order_pending\//);
  });

  test('/metrics counts stored photos by tier', async () => {
    const m = await metrics(server);
    assert.equal(m('storage_objects', { tier: 'order_pending' }), 6);
    assert.equal(m('storage_objects', { tier: 'order_completed' }), 12);
    assert.equal(m('storage_objects', { tier: 'temporary' }), 3);
    assert.equal(m('storage_objects', { tier: 'archived' }), 0);
    assert.equal(m('storage_bytes_used', { tier: 'temporary' }),
      loose.original.bytes);
  });

  test('after 7 days an unclaimed upload goes; the claimed ones stay',
    async () => {
      const t = await dryThenRun(state, T + 8 * DAY);
      assertCounts(t, { 'delete temporary': 1, 'delete orphans': 1 });
      const [row] = rowsOf(state, [loose.original]);
      assert.ok(row.deleted_at !== null, 'marked deleted');
      assert.deepEqual(objectsUnder(state, 'temporary/'), []);
      assert.deepEqual(objectsUnder(state, 'archived/'), []);
      const res = await staffGet(server,
        `/api/v1/images/${loose.original.id}/original`, STAFF);
      assert.equal(res.status, 404);
      await res.arrayBuffer();
      assert.equal(auditCount(state, 'photo.delete',
        `AND target_id = '${loose.original.id}' AND detail LIKE
        '%"rule":"temporary"%'`), 1);
      await assertReadable(server, photosOf([...open, ...done,
        ...cancelled]));
    });

  test('30 days after completion a completed order\'s photos are archived',
    async () => {
      const t = await dryThenRun(state, T + 31 * DAY);
      assertCounts(t, { 'move to archived': 2 });
      assertTier(state, photosOf(done), 'archived');
      assertTier(state, photosOf(cancelled), 'order_completed');
      await assertReadable(server, photosOf(done));
    });

  test('deleting more than the allowed share is refused; --force goes on',
    async () => {
      const now = T + 181 * DAY;
      const objects = listObjects(state);
      for (const args of [[], ['--dry-run']]) {
        const r = await lifecycle(state, now, args);
        assert.equal(r.code, 4, r.stdout + r.stderr);
        assert.match(r.stderr, /refused: it would delete 2 of 6 photos/);
        assertCounts(tableOf(r.stdout), { 'delete order_completed': 2 });
      }
      assert.deepEqual(listObjects(state), objects, 'nothing changed');
      assertTier(state, photosOf(cancelled), 'order_completed');
      const t = await dryThenRun(state, now, {}, ['--force']);
      assertCounts(t, { 'delete order_completed': 2 });
      assert.equal(objectsUnder(state, 'order_completed/').length, 0);
      // The order still lists its photos, as deleted rather than broken.
      const res = await staffGet(server, '/api/v1/orders/5003', STAFF);
      assert.equal(res.status, 200);
      const { order: { images } } = await res.json();
      assert.deepEqual(images.map((i) => [i.id, i.deleted]).sort(),
        photosOf(cancelled).map((p) => [p.id, true]).sort());
      assert.equal(auditCount(state, 'photo.delete',
        'AND detail LIKE \'%"rule":"order_completed"%\''), 2);
    });

  test('two years after completion the archive goes; the open order\'s '
    + 'photos stay whatever their age', async () => {
      const now = T + 731 * DAY;
      const refused = await lifecycle(state, now, ['--dry-run']);
      assert.equal(refused.code, 4, refused.stdout);
      const t = await dryThenRun(state, now,
        { LIFECYCLE_MAX_DELETE_SHARE: '0.5' });
      assertCounts(t, { 'delete archived': 2 });
      assertTier(state, photosOf(open), 'order_pending');
      await assertReadable(server, photosOf(open));
      assert.deepEqual(listObjects(state),
        objectsUnder(state, 'order_pending/'));
      assert.equal(listObjects(state).length, 6);
      const again = await dryThenRun(state, now + 3650 * DAY);
      assertCounts(again, {});
      assert.equal(auditCount(state, 'photo.delete'), 5);
      assert.equal(auditCount(state, 'photo.move'), 8);
    });

  test('a bad LIFECYCLE_MAX_DELETE_SHARE stops with exit 2', async () => {
    const r = await lifecycle(state, T, ['--dry-run'],
      { LIFECYCLE_MAX_DELETE_SHARE: '1.5' });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /LIFECYCLE_MAX_DELETE_SHARE/);
    const bad = await runPrintdesk(['lifecycle', '--now', 'yesterday'],
      { env: cliEnv(state) });
    assert.equal(bad.code, 2);
  });
});

// ---- crashes and the lock ----

describe('a crashed run leaves every photo readable; runs take turns',
  () => {
    let server, state, T;
    const TEST = { PRINTDESK_TEST_ROUTES: '1' };

    before(async () => {
      server = await startServer({ env: ENV });
      state = server.state;
      await addStaff(state, STAFF, 'fulfiller');
      T = Date.now();
    });

    after(async () => {
      assert.deepEqual(await server.stop(), { code: 0, signal: null },
        server.stderr.slice(-3000));
    });

    test('a crash between copy and record: still readable, the next run '
      + 'finishes', async () => {
      const pairs = [await uploadPair(server, 4), await uploadPair(server, 5)];
      await placeOrder(server, 6001, pairs);
      const crash = await lifecycle(state, T + 3600 * 1000, [], {
        ...TEST, PRINTDESK_LIFECYCLE_CRASH: 'after-copy',
        LIFECYCLE_LOCK_TTL_SECONDS: '3',
      });
      assert.equal(crash.code, 3, crash.stderr);
      // The crashed run's lock holds until it lapses.
      const held = await lifecycle(state, T + 3600 * 1000);
      assert.equal(held.code, 5, held.stdout + held.stderr);
      await assertReadable(server, photosOf(pairs));
      for (const r of rowsOf(state, photosOf(pairs))) {
        assert.match(r.object_key, /^temporary\//, 'the row is unchanged');
      }
      assert.equal(objectsUnder(state, 'order_pending/').length, 3,
        'one photo\'s copies, named by no row yet');
      await lockLapsed(state);
      // Without PRINTDESK_TEST_ROUTES the crash knob is ignored.
      const t = await dryThenRun(state, T + 3600 * 1000,
        { PRINTDESK_LIFECYCLE_CRASH: 'after-copy' });
      assertCounts(t, { 'move to order_pending': 4 });
      assertTier(state, photosOf(pairs), 'order_pending');
      assert.deepEqual(objectsUnder(state, 'temporary/'), []);
      assert.equal(objectsUnder(state, 'order_pending/').length, 12);
      await assertReadable(server, photosOf(pairs));
    });

    test('a crash between record and delete: the old objects go as '
      + 'orphans a day later', async () => {
      const pairs = [await uploadPair(server, 6)];
      await placeOrder(server, 6002, pairs);
      const crash = await lifecycle(state, T + 3600 * 1000, [], {
        ...TEST, PRINTDESK_LIFECYCLE_CRASH: 'after-record',
        LIFECYCLE_LOCK_TTL_SECONDS: '1',
      });
      assert.equal(crash.code, 3, crash.stderr);
      await assertReadable(server, photosOf(pairs));
      assert.equal(objectsUnder(state, 'temporary/').length, 6,
        'both photos\' old objects are still there');
      await lockLapsed(state);
      const soon = await dryThenRun(state, T + 3600 * 1000);
      assertCounts(soon, { 'move to order_pending': 1 });
      assert.equal(objectsUnder(state, 'temporary/').length, 3);
      const later = await dryThenRun(state, T + 2 * DAY);
      assertCounts(later, { 'delete orphans': 3 });
      assert.deepEqual(objectsUnder(state, 'temporary/'), []);
      assertTier(state, photosOf(pairs), 'order_pending');
      await assertReadable(server, photosOf(pairs));
    });

    test('a second run while one works says the lock is held and does '
      + 'nothing', async () => {
      const pairs = [await uploadPair(server, 7)];
      await placeOrder(server, 6003, pairs);
      const first = lifecycle(state, T + 2 * DAY, [],
        { ...TEST, PRINTDESK_LIFECYCLE_HOLD_MS: '4000' });
      const deadline = Date.now() + 4000;
      while (dbQuery(state, `SELECT holder FROM locks
        WHERE name = 'lifecycle'`).length === 0) {
        assert.ok(Date.now() < deadline, 'the first run takes the lock');
        await sleep(50);
      }
      const second = await lifecycle(state, T + 2 * DAY);
      assert.equal(second.code, 5, second.stdout + second.stderr);
      assert.match(second.stderr, /another run holds the lock/);
      assert.equal(second.stdout, '');
      assert.equal(auditCount(state, 'photo.move',
        `AND target_id IN (${idList(photosOf(pairs))})`), 0);
      const r = await first;
      assert.equal(r.code, 0, r.stderr);
      assertCounts(tableOf(r.stdout), { 'move to order_pending': 2 });
      assert.equal(dbQuery(state, `SELECT holder FROM locks
        WHERE name = 'lifecycle'`).length, 0, 'released');
    });

    test('two runs started together move each photo once', async () => {
      const pairs = [await uploadPair(server, 8), await uploadPair(server, 9)];
      await placeOrder(server, 6004, pairs);
      const runs = await Promise.all([lifecycle(state, T + 2 * DAY),
        lifecycle(state, T + 2 * DAY)]);
      const codes = runs.map((r) => r.code).sort();
      assert.ok(codes[0] === 0 && [0, 5].includes(codes[1]),
        JSON.stringify(runs));
      assert.equal(auditCount(state, 'photo.move',
        `AND target_id IN (${idList(photosOf(pairs))})`), 4);
      assertTier(state, photosOf(pairs), 'order_pending');
      await assertReadable(server, photosOf(pairs));
    });
  });

// ---- the bucket's own rules ----

// A GCS lifecycle rule's condition matches an object under prefix when it
// names no prefix at all, or one that a name under prefix can start with.
function ruleCanMatch(rule, prefix) {
  const c = rule.condition || {};
  if (c.matchesPrefix === undefined) return true;
  return c.matchesPrefix.some((p) => prefix.startsWith(p)
    || p.startsWith(prefix));
}

test('the bucket rules never act on order_pending/ objects', () => {
  const doc = JSON.parse(readFileSync(join(REPO, 'deploy',
    'gcs-lifecycle.json'), 'utf8'));
  const rules = doc.lifecycle.rule;
  assert.ok(Array.isArray(rules) && rules.length > 0);
  const onObjects = rules.filter((r) => r.action.type
    !== 'AbortIncompleteMultipartUpload');
  for (const r of onObjects) {
    assert.ok(!ruleCanMatch(r, 'order_pending/'), JSON.stringify(r));
    assert.equal(r.condition.matchesPattern, undefined);
  }
  const abort = rules.find((r) => r.action.type
    === 'AbortIncompleteMultipartUpload');
  assert.equal(abort?.condition?.age, 1);
  const temp = onObjects.find((r) => r.action.type === 'Delete'
    && r.condition.matchesPrefix?.includes('temporary/'));
  assert.equal(temp?.condition?.age, 14);
  assert.deepEqual(temp.condition.matchesPrefix, ['temporary/']);
  // The check itself: a rule without a prefix, or with a shorter one,
  // would be caught.
  assert.ok(ruleCanMatch({ condition: { age: 14 } }, 'order_pending/'));
  assert.ok(ruleCanMatch({ condition: { matchesPrefix: ['order'] } },
    'order_pending/'));
});
