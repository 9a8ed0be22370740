// database.test.mjs — the database as the server sees it: migrations
// applied once even when two processes start together, and readiness
// that follows PostgreSQL going down and coming back.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import {
  BACKEND, PG_URL, freshState, runPrintdesk, startServer,
} from '../lib/server.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function migrationRows(state) {
  const sql = 'SELECT version FROM schema_migrations ORDER BY version';
  const out = BACKEND === 'postgres'
    ? execFileSync('psql', [state.databaseUrl, '-qAtc', sql])
    : execFileSync('sqlite3', [state.databaseUrl.slice('sqlite:'.length), sql]);
  return out.toString().trim().split('\n').map(Number);
}

test('two migrate runs started together apply each migration once', async () => {
  const state = freshState();
  try {
    const env = { DATABASE_URL: state.databaseUrl };
    const args = ['migrate', '--data-dir', join(state.dir, 'data')];
    const [a, b] = await Promise.all([
      runPrintdesk(args, { env }), runPrintdesk(args, { env }),
    ]);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(b.code, 0, b.stderr);
    const versions = migrationRows(state);
    assert.ok(versions.length >= 1);
    assert.equal(new Set(versions).size, versions.length, 'no duplicates');
    const again = await runPrintdesk(args, { env });
    assert.equal(again.code, 0);
    assert.match(again.stderr, /applied 0 migration/);
    assert.deepEqual(migrationRows(state), versions);
  } finally {
    state.cleanup();
  }
});

test('the server applies migrations at start', async () => {
  const server = await startServer();
  assert.ok(migrationRows(server.state).length >= 1);
  assert.deepEqual(await server.stop(), { code: 0, signal: null });
});

test('an unreachable database at start is a clear error, not a hang',
  async () => {
    const url = BACKEND === 'postgres'
      ? 'postgres://nobody@127.0.0.1:1/none?connect_timeout=2'
      : 'sqlite:/nonexistent-folder/x/printdesk.db';
    const state = freshState();
    try {
      const r = await runPrintdesk(['serve', '--listen', '127.0.0.1:0',
        '--data-dir', join(state.dir, 'data')],
      { env: { DATABASE_URL: url }, timeoutMs: 20000 });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /database|connect|open/i);
      assert.doesNotMatch(r.stderr, /password/i);
    } finally {
      state.cleanup();
    }
  });

test('readiness goes 503 while PostgreSQL is down and recovers',
  { skip: BACKEND !== 'postgres' && 'PostgreSQL only' }, async () => {
    const dir = process.env.TEST_PG_DIR;
    const port = new URL(PG_URL).port;
    const pg = (...args) => execFileSync('tests/db-pg.sh', args,
      { stdio: ['ignore', 'pipe', 'pipe'] });
    const server = await startServer();
    try {
      assert.equal((await fetch(`${server.url}/readyz`)).status, 200);
      pg('stop', dir);
      let down;
      for (let i = 0; i < 3; i++) {
        down = await fetch(`${server.url}/readyz`);
        assert.equal(down.status, 503, 'not ready while the database is down');
      }
      const body = await down.json();
      assert.equal(body.status, 'unavailable');
      assert.notEqual(body.checks.database, 'ok');
      assert.equal((await fetch(`${server.url}/healthz`)).status, 200,
        'still alive');
      pg('start', dir, port);
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) {
        status = (await fetch(`${server.url}/readyz`)).status;
        if (status !== 200) await sleep(200);
      }
      assert.equal(status, 200, 'ready again once PostgreSQL is back');
      // Every worker's connection recovers, not just one (a worker whose
      // reconnect failed waits a second before it tries again).
      let all = [];
      for (let i = 0; i < 20; i++) {
        all = await Promise.all(Array.from({ length: 20 }, () =>
          fetch(`${server.url}/readyz`).then((r) => r.status)));
        if (all.every((s) => s === 200)) break;
        await sleep(200);
      }
      assert.deepEqual(new Set(all), new Set([200]));
    } finally {
      pg('start', dir, port);
      assert.deepEqual(await server.stop(), { code: 0, signal: null });
    }
  });
