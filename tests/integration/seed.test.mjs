// seed.test.mjs — `printdesk seed-demo`: realistic demo orders whose
// pets point at real pictures in storage, and a refusal to touch a
// database that already has orders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import {
  BACKEND, freshState, runPrintdesk, startServer,
} from '../lib/server.mjs';

function sql(state, query) {
  const out = BACKEND === 'postgres'
    ? execFileSync('psql', [state.databaseUrl, '-qAtF|', '-c', query])
    : execFileSync('sqlite3', ['-separator', '|',
      state.databaseUrl.slice('sqlite:'.length), query]);
  return out.toString().trim().split('\n').filter(Boolean)
    .map((l) => l.split('|'));
}

function seedArgs(state, ...extra) {
  return {
    args: ['seed-demo', '--data-dir', join(state.dir, 'data'), ...extra],
    env: {
      DATABASE_URL: state.databaseUrl,
      STORAGE_URL: `file:${join(state.dir, 'objects')}`,
    },
  };
}

async function seed(state, ...extra) {
  const { args, env } = seedArgs(state, ...extra);
  return runPrintdesk(args, { env, timeoutMs: 120000 });
}

test('seed-demo makes realistic orders backed by real pictures', async () => {
  const state = freshState();
  try {
    const r = await seed(state, '--orders', '400');
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /seeded 400 demo orders/);

    const [[orders]] = sql(state, 'SELECT COUNT(*) FROM orders');
    assert.equal(Number(orders), 400);
    const statuses = new Map(sql(state,
      'SELECT status, COUNT(*) FROM orders GROUP BY status')
      .map(([s, n]) => [s, Number(n)]));
    for (const s of ['pending', 'in_production', 'completed']) {
      assert.ok(statuses.get(s) > 0, `some orders are ${s}`);
    }
    const [[minAge, maxAge]] = sql(state,
      'SELECT MIN(created_at), MAX(created_at) FROM orders');
    const days = (Number(maxAge) - Number(minAge)) / 86400000;
    assert.ok(days > 80 && days <= 90.5, `spread over ${days} days`);

    const perOrder = sql(state,
      'SELECT COUNT(*) FROM pets GROUP BY order_id').map(([n]) => Number(n));
    assert.equal(perOrder.length, 400, 'every order has pets');
    assert.ok(perOrder.every((n) => n >= 1 && n <= 3));
    assert.ok(perOrder.some((n) => n > 1));

    // Order ids beyond 2^53 survive the trip.
    const [[bigId]] = sql(state,
      'SELECT shopify_id FROM orders ORDER BY id LIMIT 1');
    assert.ok(BigInt(bigId) > 2n ** 53n);

    // Each pet's original and cut-out exist in storage, byte for byte.
    const rows = sql(state, `SELECT i.kind, i.object_key, i.thumb_key,
      i.sha256, i.tier, o.status FROM pets p
      JOIN images i ON i.id IN (p.original_image_id, p.processed_image_id)
      JOIN orders o ON o.id = p.order_id`);
    assert.ok(rows.length >= 800);
    const checked = new Set();
    for (const [kind, key, thumb, sha, tier, status] of rows) {
      assert.ok(key.startsWith(`${tier}/`), `key ${key} starts with its tier`);
      const open = !['completed', 'cancelled'].includes(status);
      assert.equal(tier, open ? 'order_pending' : 'order_completed');
      if (checked.has(key)) continue;
      checked.add(key);
      const file = join(state.dir, 'objects', key);
      const bytes = readFileSync(file);
      assert.equal(createHash('sha256').update(bytes).digest('hex'), sha);
      const magic = kind === 'original' ? 'ffd8ff' : '89504e47';
      assert.equal(bytes.subarray(0, magic.length / 2).toString('hex'), magic);
      assert.ok(existsSync(join(state.dir, 'objects', thumb)));
    }
    // Some orders carry print-readiness warnings (a small photo).
    const [[warned]] = sql(state,
      'SELECT COUNT(*) FROM orders WHERE warning_flags > 0');
    assert.ok(Number(warned) > 0);

    // The front page of a server on this database shows the counts to a
    // signed-in staff member.
    const env = { DATABASE_URL: state.databaseUrl,
      PRINTDESK_DATA_DIR: join(state.dir, 'data') };
    assert.equal((await runPrintdesk(['staff', 'add', '7', '--role', 'viewer'],
      { env })).code, 0);
    const server = await startServer({ state });
    assert.equal((await fetch(`${server.url}/`)).status, 401);
    const link = (await runPrintdesk(['login-url', '--customer', '7',
      '--base', server.url], { env })).stdout.trim();
    const cookie = (await fetch(link)).headers.get('set-cookie')
      .split(';')[0];
    const page = await (await fetch(`${server.url}/`,
      { headers: { cookie } })).text();
    assert.match(page, new RegExp(`completed: ${statuses.get('completed')}<`));
    assert.deepEqual(await server.stop(), { code: 0, signal: null });
  } finally {
    state.cleanup();
  }
});

test('seed-demo refuses a database that already has orders', async () => {
  const state = freshState();
  try {
    assert.equal((await seed(state, '--orders', '20')).code, 0);
    const again = await seed(state, '--orders', '20');
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already has 20 orders.*--force/);
    const skip = await seed(state, '--orders', '20', '--if-empty');
    assert.equal(skip.code, 0);
    assert.equal(Number(sql(state, 'SELECT COUNT(*) FROM orders')[0][0]), 20);
    const more = await seed(state, '--orders', '15', '--force');
    assert.equal(more.code, 0, more.stderr);
    const [[count, distinctNames]] = sql(state,
      'SELECT COUNT(*), COUNT(DISTINCT name) FROM orders');
    assert.equal(Number(count), 35);
    assert.equal(Number(distinctNames), 35);
  } finally {
    state.cleanup();
  }
});

test('seed-demo rejects a bad order count with exit 2', async () => {
  const state = freshState();
  try {
    for (const bad of ['0', '-5', 'lots', '2000000']) {
      const r = await seed(state, '--orders', bad);
      assert.equal(r.code, 2, `--orders ${bad}`);
      assert.match(r.stderr, /--orders/);
    }
  } finally {
    state.cleanup();
  }
});
