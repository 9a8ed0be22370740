// backup.test.mjs — `printdesk backup` and `printdesk restore` on the
// backend under test (SQLite online copy, or pg_dump): a backup taken
// while staff keep writing notes restores into a fresh database whose
// integrity check passes, whose counts match the manifest and whose API
// answers like the original's; a damaged backup is refused and leaves no
// database behind; retention keeps the newest of recent days and weeks.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  existsSync, readFileSync, readdirSync, writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  BACKEND, createPgDatabase, dropPgDatabase, freshState, runPrintdesk,
  startServer,
} from '../lib/server.mjs';
import { DESK_ENV as ENV, deskCli, sessionCookie } from '../lib/desk.mjs';

const FULFILLER = '2002';
const DAY = 86400000;
let state, server, cookie, csrf;
const extraDbs = [];

before(async () => {
  state = freshState();
  deskCli(state, 'seed-demo', '--orders', '1500');
  deskCli(state, 'staff', 'add', FULFILLER, '--role', 'fulfiller');
  server = await startServer({
    state, env: { ...ENV, STAFF_RATE_PER_MINUTE: '100000' },
  });
  cookie = await sessionCookie(server, state, FULFILLER);
  const page = await (await fetch(`${server.url}/dashboard`,
    { headers: { cookie } })).text();
  csrf = page.match(/name="csrf-token" content="([^"]+)"/)[1];
});

after(async () => {
  if (server) assert.deepEqual(await server.stop(), { code: 0, signal: null });
  for (const url of extraDbs) dropPgDatabase(url);
  state.cleanup();
});

// A new, empty database of the backend under test.
function emptyDatabase(name) {
  if (BACKEND !== 'postgres') return `sqlite:${join(state.dir, name)}`;
  const url = createPgDatabase();
  extraDbs.push(url);
  return url;
}

function cli(args, database = state.databaseUrl) {
  return runPrintdesk([...args, '--data-dir', join(state.dir, 'data')], {
    env: { ...ENV, DATABASE_URL: database }, timeoutMs: 120000,
  });
}

function sql(database, query) {
  if (database.startsWith('sqlite:')) {
    return execFileSync('sqlite3', [database.slice(7), query]).toString()
      .trim();
  }
  return execFileSync('psql', [database, '-qAtc', query]).toString().trim();
}

function manifests(dir) {
  const folder = join(dir, 'backups');
  return readdirSync(folder).filter((f) => f.endsWith('.manifest.json'))
    .sort().map((f) => JSON.parse(readFileSync(join(folder, f), 'utf8')));
}

const api = async (path, base = server.url) => (await fetch(`${base}${path}`,
  { headers: { cookie } })).json();

// Adds notes to orders as fast as it can until stopped; how many.
function writer() {
  let stop = false, written = 0, failed = 0;
  const done = (async () => {
    const orders = (await api('/api/v1/orders?limit=50')).orders;
    for (let i = 0; !stop; i++) {
      const ref = orders[i % orders.length].name.slice(1);
      const res = await fetch(`${server.url}/api/v1/orders/${ref}/notes`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json',
          'x-csrf-token': csrf },
        body: JSON.stringify({ body: `busy note ${i}` }),
      });
      if (res.ok) written++; else failed++;
    }
  })();
  return { async stop() { stop = true; await done; return { written, failed }; } };
}

test('a backup taken under writes restores whole into a fresh database',
  async () => {
    const out = join(state.dir, 'backups-live');
    const w = writer();
    await new Promise((r) => setTimeout(r, 300));
    const during = sql(state.databaseUrl, 'SELECT COUNT(*) FROM notes');
    const res = await cli(['backup', '--to', out]);
    const after = sql(state.databaseUrl, 'SELECT COUNT(*) FROM notes');
    const { written, failed } = await w.stop();
    assert.equal(res.code, 0, res.stderr);
    assert.equal(failed, 0);
    assert.ok(Number(after) > Number(during), 'notes went on being written');
    assert.ok(written > 0);

    const [m] = manifests(out);
    assert.equal(m.kind, BACKEND === 'postgres' ? 'postgres' : 'sqlite');
    assert.match(m.sha256, /^[0-9a-f]{64}$/);
    assert.equal(m.tables.orders, 1500);
    assert.ok(m.tables.notes >= Number(during) && m.tables.notes <= Number(after),
      'the copy is one moment between the two counts');
    assert.match(res.stdout, new RegExp(`^backup ${m.name}: `));

    const target = emptyDatabase('restored.db');
    const back = await cli(['restore', '--from', out], target);
    assert.equal(back.code, 0, back.stderr);
    assert.match(back.stdout, /row counts match the manifest/);
    for (const [table, rows] of Object.entries(m.tables)) {
      assert.equal(Number(sql(target, `SELECT COUNT(*) FROM ${table}`)), rows,
        table);
    }
    if (BACKEND !== 'postgres') {
      assert.equal(sql(target, 'PRAGMA integrity_check'), 'ok');
    }

    // The restored database answers like the original did.
    const other = await startServer({
      state: { ...freshState(), databaseUrl: target },
      env: { ...ENV, STAFF_RATE_PER_MINUTE: '100000' },
    });
    try {
      const otherCookie = await sessionCookie(other, other.state, FULFILLER);
      const get = async (base, c, p) => (await fetch(`${base}${p}`,
        { headers: { cookie: c } })).json();
      const path = '/api/v1/orders?status=completed&limit=20';
      assert.deepEqual(await get(other.url, otherCookie, path),
        await get(server.url, cookie, path));
      const one = (await get(server.url, cookie, path)).orders[3].name.slice(1);
      assert.deepEqual(
        (await get(other.url, otherCookie, `/api/v1/orders/${one}`)).order.pets,
        (await get(server.url, cookie, `/api/v1/orders/${one}`)).order.pets);
    } finally {
      assert.deepEqual(await other.stop(), { code: 0, signal: null });
    }
  });

test('a damaged backup is refused and leaves no database', async () => {
  const out = join(state.dir, 'backups-damaged');
  assert.equal((await cli(['backup', '--to', out])).code, 0);
  const [m] = manifests(out);
  const data = join(out, m.data);
  const bytes = readFileSync(data);
  bytes[Math.floor(bytes.length / 2)] ^= 0x5a;
  writeFileSync(data, bytes);

  const target = emptyDatabase('damaged.db');
  const res = await cli(['restore', '--from', out], target);
  assert.equal(res.code, 1);
  assert.match(res.stderr, /is damaged: .* where the manifest says/);
  if (BACKEND === 'postgres') {
    assert.equal(sql(target, "SELECT COUNT(*) FROM information_schema.tables "
      + 'WHERE table_schema = current_schema()'), '0');
  } else {
    assert.equal(existsSync(target.slice(7)), false);
  }

  // A restore never writes over a database that holds data.
  const busy = await cli(['restore', '--from', join(state.dir,
    'backups-live')], state.databaseUrl);
  assert.equal(busy.code, 1);
  assert.match(busy.stderr, /restore only into/);
});

test('retention keeps the newest of the last days and weeks', async () => {
  const out = join(state.dir, 'backups-kept');
  const start = Date.UTC(2026, 10, 1, 3, 0, 0);
  for (let day = 0; day < 10; day++) {
    const res = await cli(['backup', '--to', out, '--keep-daily', '2',
      '--keep-weekly', '3', '--now', String(start + day * DAY)]);
    assert.equal(res.code, 0, res.stderr);
  }
  // A backup a day from Sunday 1 to Tuesday 10 November: the last two
  // days (10, 9), and the newest of each of the last three weeks
  // (Monday to Sunday): 10 (this week), 8 and 1.
  const kept = manifests(out).map((m) => m.name);
  assert.deepEqual(kept, [1, 8, 9, 10].map((d) =>
    `printdesk-202611${String(d).padStart(2, '0')}T030000Z`));
  const files = readdirSync(join(out, 'backups'));
  assert.equal(files.length, 8, 'a data file and a manifest each');
});
