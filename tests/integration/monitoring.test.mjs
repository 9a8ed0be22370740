// monitoring.test.mjs — /metrics as Prometheus reads it, and the files of
// deploy/monitoring: `promtool check metrics` on a live exposition after
// real traffic (uploads, webhooks, staff pages, tus), each series once,
// the DESIGN.md list with the process, pool and readiness gauges, known
// outcomes at 0 from the start; METRICS_TOKEN as a bearer token or
// ?token=; the readiness gauge following /readyz; `promtool check rules`
// and `promtool test rules` on the alerts; the Grafana dashboard's and
// the rules' queries naming series /metrics exposes. promtool comes from
// Debian's prometheus package (tools/packages-test.txt); without it these
// tests fail, they are not skipped.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startServer } from '../lib/server.mjs';
import { SHOP } from '../lib/shopify.mjs';
import {
  STAFF_ENV, addStaff, newSessionId, staffGet, uploadMultipart,
} from '../lib/uploads.mjs';
import { deliver, orderPayload } from '../lib/webhooks.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const MONITORING = join(ROOT, 'deploy/monitoring');
const ORIGIN = `https://${SHOP}`;
const TOKEN = 'f00d'.repeat(8);
const ENV = {
  ...STAFF_ENV, METRICS_TOKEN: TOKEN, ALLOWED_ORIGINS: ORIGIN,
  PUBLIC_RATE_PER_MINUTE: '100000', STAFF_RATE_PER_MINUTE: '100000',
};
const AUTH = { authorization: `Bearer ${TOKEN}` };
// Results image_uploads_total may report (README, "Photos from the
// storefront"), and what the webhook inbox may make of a delivery
// (src/webhooks/inbox.c: its outcomes and its refusals).
const UPLOAD_RESULTS = ['ok', 'duplicate', 'too_large', 'unsupported',
  'invalid', 'too_many_pixels', 'session_full', 'bad_request', 'forbidden',
  'rate_limited', 'error'];
const WEBHOOK_RESULTS = ['applied', 'duplicate', 'failed', 'ignored',
  'stored', 'unauthorized', 'bad_request', 'error'];
// A series the dashboard shows that another part of the work adds.
const PENDING = new Set(['storage_bytes_used']);

// Runs promtool; fails clearly when it is not installed.
function promtool(args, { input, cwd } = {}) {
  const run = spawnSync('promtool', args, { input, cwd });
  assert.ok(!(run.error && run.error.code === 'ENOENT'),
    'promtool is missing: install Debian\'s prometheus package '
    + '(tools/packages-test.txt; make test-deps)');
  return { status: run.status, out: `${run.stdout}${run.stderr}` };
}

// The exposition: families (TYPE) and samples {name, labels, value}.
function parseExposition(text) {
  const types = new Map();
  const samples = [];
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (type) types.set(type[1], type[2]);
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    assert.ok(m, `a sample line: ${line}`);
    const labels = {};
    for (const l of (m[2] || '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]] = l[2];
    }
    samples.push({ name: m[1], key: `${m[1]}{${m[2] || ''}}`, labels,
      value: Number(m[3]) });
  }
  return { types, samples };
}

const family = (name) => name.replace(/_(bucket|count|sum)$/, '');

async function scrape(server, headers = AUTH) {
  const res = await fetch(`${server.url}/metrics`, { headers });
  assert.equal(res.status, 200);
  return res.text();
}

let server, live;

// Traffic that gives every family printdesk keeps some series: photo
// uploads (one accepted, one refused), tus (two methods of one route),
// webhooks (applied, unauthorized, failed), staff pages, health checks.
async function traffic() {
  const dir = mkdtempSync(join(tmpdir(), 'pd-photo-'));
  execFileSync('vips', ['black', join(dir, 'photo.jpg'), '64', '48']);
  const photo = readFileSync(join(dir, 'photo.jpg'));
  rmSync(dir, { recursive: true, force: true });
  const upload = (file, filename) => uploadMultipart(
    `${server.url}/api/v2/customer-upload`, {
      file, filename, contentType: 'image/jpeg', imageType: 'original',
      sessionId: newSessionId(), origin: ORIGIN,
    });
  assert.equal((await upload(photo, 'photo.jpg')).status, 201);
  assert.equal((await upload(Buffer.from('not a photo\n'), 'note.jpg'))
    .status, 415);
  for (const method of ['OPTIONS', 'POST']) {
    const res = await fetch(`${server.url}/api/v2/uploads`,
      { method, headers: { origin: ORIGIN } });
    await res.arrayBuffer();
  }
  const ok = await deliver(server.url, 'orders/create', orderPayload());
  assert.equal(ok.res.status, 200);
  const forged = await deliver(server.url, 'orders/create', orderPayload(),
    { secret: 'not-the-app-secret' });
  assert.equal(forged.res.status, 401);
  const broken = await deliver(server.url, 'orders/updated', '{"id":');
  assert.equal(broken.res.status, 400);
  await addStaff(server.state, '1', 'admin');
  for (const path of ['/dashboard', '/api/v1/orders', '/healthz',
    '/readyz']) {
    const res = path.startsWith('/d') || path.startsWith('/a')
      ? await staffGet(server, path, '1') : await fetch(server.url + path);
    assert.equal(res.status, 200, path);
    await res.arrayBuffer();
  }
}

before(async () => {
  server = await startServer({ env: ENV });
  await traffic();
  live = await scrape(server);
});

after(async () => {
  const exit = await server.stop();
  assert.deepEqual(exit, { code: 0, signal: null },
    server.stderr.slice(-3000));
});

test('promtool check metrics passes the live /metrics after traffic', () => {
  const run = promtool(['check', 'metrics'], { input: live });
  assert.equal(run.status, 0, run.out);
  assert.equal(run.out.trim(), '', 'no lint findings');
});

test('every series appears once (one histogram per route, whatever the '
  + 'methods)', () => {
  const seen = new Map();
  for (const s of parseExposition(live).samples) {
    seen.set(s.key, (seen.get(s.key) || 0) + 1);
  }
  const repeated = [...seen].filter(([, n]) => n > 1).map(([k]) => k);
  assert.deepEqual(repeated, [], 'Prometheus drops repeated series');
});

test('/metrics has the DESIGN.md series and the process, pool and '
  + 'readiness gauges', () => {
  const { types, samples } = parseExposition(live);
  const expected = {
    http_requests_total: ['counter', ['method', 'route', 'status']],
    dashboard_request_duration_seconds: ['histogram', ['le', 'route']],
    orders_created_total: ['counter', []],
    image_uploads_total: ['counter', ['result']],
    storage_bytes_used: ['gauge', ['tier']],
    webhook_deliveries_total: ['counter', ['result', 'topic']],
    process_resident_memory_bytes: ['gauge', []],
    process_start_time_seconds: ['gauge', []],
    printdesk_uptime_seconds: ['gauge', []],
    http_open_connections: ['gauge', []],
    db_pool_connections: ['gauge', []],
    printdesk_ready: ['gauge', []],
  };
  for (const [name, [type, labels]] of Object.entries(expected)) {
    assert.equal(types.get(name), type, `${name} is a ${type}`);
    const mine = samples.filter((s) => family(s.name) === name);
    assert.ok(mine.length > 0, `${name} has series after the traffic`);
    for (const s of mine.filter((x) => x.name === name
      || x.name.endsWith('_bucket'))) {
      assert.deepEqual(Object.keys(s.labels).sort(), labels, s.key);
    }
  }
  const value = (key) => samples.find((s) => s.key === key)?.value;
  assert.ok(value('process_resident_memory_bytes{}') > 1 << 20);
  assert.ok(value('db_pool_connections{}') >= 1);
  assert.equal(value('printdesk_ready{}'), 1);
  assert.equal(value('image_uploads_total{result="ok"}'), 1);
  assert.equal(value('orders_created_total{}'), 1);
  assert.equal(value('webhook_deliveries_total{topic="orders/create",'
    + 'result="unauthorized"}'), 1);
});

test('a fresh server reports every known outcome at 0, so the first one '
  + 'shows as an increase', async () => {
  const fresh = await startServer({ env: ENV });
  let exit;
  try {
    const { samples } = parseExposition(await scrape(fresh));
    const value = (key) => samples.find((s) => s.key === key)?.value;
    assert.equal(value('orders_created_total{}'), 0);
    const missing = [];
    for (const result of UPLOAD_RESULTS) {
      const key = `image_uploads_total{result="${result}"}`;
      if (value(key) !== 0) missing.push(key);
    }
    const inbox = readFileSync(join(ROOT, 'src/webhooks/inbox.c'), 'utf8');
    const topics = [...inbox.matchAll(/\{"([a-z_]+\/[a-z_]+)",\s*webhook_/g)]
      .map((m) => m[1]);
    assert.ok(topics.includes('orders/create'));
    for (const topic of topics) {
      for (const result of WEBHOOK_RESULTS) {
        const key = `webhook_deliveries_total{topic="${topic}",`
          + `result="${result}"}`;
        if (value(key) !== 0) missing.push(key);
      }
    }
    assert.deepEqual(missing, []);
  } finally {
    exit = await fresh.stop();
  }
  assert.equal(exit.code, 0, fresh.stderr.slice(-2000));
});

test('METRICS_TOKEN: a bearer token or ?token=, anything else is 401, and '
  + 'the log never holds the token', async () => {
  const status = async (path, headers = {}) => {
    const res = await fetch(`${server.url}${path}`, { headers });
    await res.arrayBuffer();
    return [res.status, res.headers.get('www-authenticate')];
  };
  assert.deepEqual(await status('/metrics'), [401, 'Bearer']);
  assert.deepEqual(await status('/metrics',
    { authorization: 'Bearer wrong' }), [401, 'Bearer']);
  assert.deepEqual(await status('/metrics?token=wrong'), [401, 'Bearer']);
  assert.deepEqual(await status('/metrics', AUTH), [200, null]);
  assert.deepEqual(await status(`/metrics?token=${TOKEN}`), [200, null]);
  // A wrong bearer token is not rescued by a right query token.
  assert.deepEqual(await status(`/metrics?token=${TOKEN}`,
    { authorization: 'Bearer wrong' }), [401, 'Bearer']);
  assert.ok(!server.stderr.includes(TOKEN), 'the token is cut in the log');
});

test('printdesk_ready follows /readyz: 0 while the storage does not '
  + 'answer, 1 again after', async () => {
  const fresh = await startServer({ env: ENV });
  const objects = join(fresh.state.dir, 'objects');
  const ready = async () => parseExposition(await scrape(fresh)).samples
    .find((s) => s.name === 'printdesk_ready').value;
  let exit;
  try {
    assert.equal(await ready(), 1);
    renameSync(objects, `${objects}.away`);
    assert.equal(await ready(), 0);
    const res = await fetch(`${fresh.url}/readyz`);
    assert.equal(res.status, 503);
    assert.equal((await res.json()).checks.database, 'ok');
    renameSync(`${objects}.away`, objects);
    assert.equal(await ready(), 1);
  } finally {
    exit = await fresh.stop();
  }
  assert.equal(exit.code, 0, fresh.stderr.slice(-2000));
});

test('promtool check rules and test rules pass on deploy/monitoring',
  () => {
    const check = promtool(['check', 'rules', 'alerts.yml'],
      { cwd: MONITORING });
    assert.equal(check.status, 0, check.out);
    assert.match(check.out, /SUCCESS: 6 rules found/);
    const unit = promtool(['test', 'rules', 'alerts_test.yml'],
      { cwd: MONITORING });
    assert.equal(unit.status, 0, unit.out);
    assert.match(unit.out, /SUCCESS/);
  });

// Metric names a PromQL expression selects ("name{...}").
const namesIn = (expr) => [...expr.matchAll(/\b([a-z_][a-z0-9_]*)\{/g)]
  .map((m) => family(m[1]));

test('the Grafana dashboard: its panels, valid PromQL, and only series '
  + '/metrics exposes', (t) => {
  const dash = JSON.parse(readFileSync(join(MONITORING,
    'grafana-dashboard.json'), 'utf8'));
  const titles = dash.panels.map((p) => p.title);
  for (const want of [/^Orders per hour$/, /^Response time .*p50.*p95.*p99/,
    /^Storage by tier$/, /^Error rate$/, /^Uploads by result$/,
    /^Webhook deliveries$/]) {
    assert.ok(titles.some((x) => want.test(x)), `a panel ${want}`);
  }
  const exprs = dash.panels.flatMap((p) => p.targets.map((x) => x.expr));
  const p95 = dash.panels.find((p) => /^Response time/.test(p.title));
  assert.deepEqual(p95.targets.map((x) => /histogram_quantile\(([\d.]+),/
    .exec(x.expr)[1]), ['0.5', '0.95', '0.99']);

  // promtool parses every query (as recording rules).
  const dir = mkdtempSync(join(tmpdir(), 'pd-grafana-'));
  const rules = join(dir, 'panels.yml');
  writeFileSync(rules, 'groups:\n  - name: panels\n    rules:\n'
    + exprs.map((e, i) => `      - record: panel_${i}\n`
      + `        expr: ${JSON.stringify(e)}\n`).join(''));
  const run = promtool(['check', 'rules', rules]);
  rmSync(dir, { recursive: true, force: true });
  assert.equal(run.status, 0, run.out);

  const exposed = parseExposition(live).types;
  const alerts = readFileSync(join(MONITORING, 'alerts.yml'), 'utf8');
  const used = new Set([...exprs.flatMap(namesIn), ...namesIn(alerts)]);
  used.delete('up'); // Prometheus's own, per scrape
  for (const name of used) {
    if (PENDING.has(name) && !exposed.has(name)) {
      t.diagnostic(`${name} is not exposed yet`);
      continue;
    }
    assert.ok(exposed.has(name), `/metrics exposes ${name}`);
  }
  assert.ok(used.has('orders_created_total') && used.size >= 8);
});
