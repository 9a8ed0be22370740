// deploy.test.mjs — the deployment checked against what runs here, since
// the image cannot be built here: deploy/Dockerfile installs the same
// package lists the README's set-up does; tools/packages-runtime.txt
// provides every shared library the built binary and its image module
// link to (readelf, ldd and dpkg on this machine's build) and the tools
// backup runs; the Cloud Run files agree with the program (PORT, probes,
// secrets, the database URL form, the webhook topics, the schedule).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync,
  symlinkSync,
} from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  BACKEND, BIN, PG_URL, createPgDatabase, dropPgDatabase, runPrintdesk,
  startServer,
} from '../lib/server.mjs';
import { parseYaml } from '../lib/yaml_subset.mjs';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const read = (path) => readFileSync(join(ROOT, path), 'utf8');
const MODULE = join(dirname(resolve(BIN)), 'printdesk-images.so');
const DATA_KEY = 'cd'.repeat(32);

// The packages a tools/packages-*.txt file names.
function packageList(path) {
  return read(path).split('\n').map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
}

// ---- the Dockerfile and the Makefile ----------------------------------

// Instructions (continuation lines joined) grouped by stage.
function dockerStages(text) {
  const joined = text.replace(/\\\n/g, ' ').split('\n')
    .map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
  const stages = [];
  for (const line of joined) {
    const [op, ...rest] = line.split(/\s+/);
    const ins = { op: op.toUpperCase(), args: rest.join(' ') };
    if (ins.op === 'FROM') stages.push({ from: ins.args, steps: [] });
    else stages.at(-1).steps.push(ins);
  }
  return stages;
}

// The package lists each install-packages.sh call in the commands names.
function installedLists(commands) {
  const lists = [];
  for (const c of commands) {
    const calls = /(?:^|&&|;|\|)\s*\S*install-packages\.sh((?:\s+\S+\.txt)+)/g;
    for (const m of c.matchAll(calls)) {
      lists.push(m[1].trim().split(/\s+/).map((p) => p.replace(/^.*\//, '')));
    }
  }
  return lists;
}

// A Makefile target's prerequisites and recipe lines.
function makeTarget(text, name) {
  const m = new RegExp(`^${name}:([^\\n]*)\\n((?:\\t[^\\n]*\\n?)*)`, 'm')
    .exec(text);
  assert.ok(m, `Makefile has a ${name} target`);
  return { prereqs: m[1].trim().split(/\s+/), recipe: m[2] };
}

test('the image installs the lists the README set-up installs, and builds '
  + 'with make build', () => {
  const stages = dockerStages(read('deploy/Dockerfile'));
  assert.equal(stages.length, 2, 'a build stage and a runtime stage');
  for (const s of stages) assert.match(s.from, /^debian:bookworm(-slim)?\b/);
  const [build, runtime] = stages;
  const runs = (s) => s.steps.filter((i) => i.op === 'RUN').map((i) => i.args);
  for (const s of stages) {
    for (const r of runs(s)) {
      assert.doesNotMatch(r, /apt-get\s+install|apt\s+install/,
        'packages come only from the lists, through install-packages.sh');
    }
  }
  assert.deepEqual(installedLists(runs(build)), [['packages-build.txt']]);
  assert.ok(runs(build).some((r) => /\bmake build\b/.test(r)),
    'the build stage runs make build, as the README set-up does');
  assert.deepEqual(installedLists(runs(runtime)),
    [['packages-runtime.txt']]);

  // The README's `make run` builds through `make build`, whose deps
  // target installs the same list with the same script.
  const make = read('Makefile');
  assert.ok(makeTarget(make, 'run').prereqs.includes('build'));
  assert.ok(makeTarget(make, 'build').prereqs.includes('deps'));
  assert.deepEqual(installedLists([makeTarget(make, 'deps').recipe]),
    [['packages-build.txt']]);
  assert.match(read('README.md'), /make run/);

  // The runtime stage: not root, the module beside the binary.
  const user = runtime.steps.filter((i) => i.op === 'USER').at(-1);
  assert.ok(user && !/^(root|0)$/.test(user.args), 'runs as a non-root user');
  const copy = runtime.steps.find((i) => i.op === 'COPY'
    && /--from=build/.test(i.args));
  const parts = copy.args.split(/\s+/);
  assert.deepEqual(parts.slice(1, -1).map((p) => p.replace(/^.*\//, '')),
    ['printdesk', 'printdesk-images.so']);
});

// ---- libraries and packages -------------------------------------------

// Sonames a binary needs directly (its DT_NEEDED entries).
function needed(file) {
  const out = execFileSync('readelf', ['-d', file]).toString();
  return [...out.matchAll(/\(NEEDED\)\s+Shared library: \[([^\]]+)\]/g)]
    .map((m) => m[1]);
}

// soname → path of every library the loader resolves for a binary.
function resolved(file) {
  const out = execFileSync('ldd', [file]).toString();
  const map = new Map();
  for (const m of out.matchAll(/^\s*(\S+) => (\/\S+)/gm)) map.set(m[1], m[2]);
  // The loader itself is listed by path alone.
  for (const m of out.matchAll(/^\s*(\/\S+) \(0x/gm)) {
    map.set(m[1].replace(/^.*\//, ''), m[1]);
  }
  assert.doesNotMatch(out, /not found/, `ldd ${file} finds every library`);
  return map;
}

// The paths dpkg may know a library by (merged /usr, symlinks).
function aliases(path) {
  const out = new Set([path]);
  try { out.add(realpathSync(path)); } catch { /* gone: keep the path */ }
  for (const p of [...out]) {
    if (p.startsWith('/usr/lib/')) out.add(p.slice(4));
    else if (p.startsWith('/lib/')) out.add('/usr' + p);
  }
  return [...out];
}

// path → owning package, for many paths in one dpkg call.
function owners(paths) {
  const all = [...new Set(paths.flatMap(aliases))];
  const out = spawnSync('dpkg', ['-S', ...all]).stdout.toString();
  const byPath = new Map();
  for (const line of out.split('\n')) {
    const at = line.lastIndexOf(': ');
    if (at < 0) continue;
    const pkg = line.slice(0, at).split(',')[0].trim().replace(/:.*$/, '');
    byPath.set(line.slice(at + 2).trim(), pkg);
  }
  const result = new Map();
  for (const p of paths) {
    const pkg = aliases(p).map((a) => byPath.get(a)).find(Boolean);
    assert.ok(pkg, `dpkg knows which package holds ${p}`);
    result.set(p, pkg);
  }
  return result;
}

// Installed packages: name → dependency groups (alternatives), and the
// virtual names they provide.
function installedIndex() {
  const fmt = '${Package}\t${db:Status-Abbrev}\t${Pre-Depends}, '
    + '${Depends}\t${Provides}\n';
  const out = execFileSync('dpkg-query', ['-W', '-f', fmt]).toString();
  const deps = new Map();
  const provides = new Map();
  const names = (text) => text.split(',').map((s) => s.trim())
    .filter(Boolean);
  const bare = (s) => s.replace(/\(.*?\)/g, '').replace(/:\S+/, '').trim();
  for (const line of out.split('\n')) {
    const [name, status, depends, provided] = line.split('\t');
    if (!name || !status.startsWith('ii')) continue;
    deps.set(name, names(depends).map((g) => g.split('|').map(bare)));
    for (const v of names(provided || '').map(bare)) {
      provides.set(v, [...(provides.get(v) || []), name]);
    }
  }
  return { deps, provides };
}

// Every package apt installs along with roots (this machine's choice of
// alternatives).
function closure(roots, index) {
  const seen = new Set();
  const todo = [...roots];
  const installedAs = (n) => (index.deps.has(n) ? [n]
    : (index.provides.get(n) || []));
  while (todo.length) {
    const p = todo.pop();
    if (seen.has(p)) continue;
    seen.add(p);
    for (const group of index.deps.get(p) || []) {
      const pick = group.flatMap(installedAs)[0];
      if (pick) todo.push(pick);
    }
  }
  return seen;
}

const SANITIZER = /^lib(asan|ubsan|lsan|tsan)\d/;

// What a runtime package list leaves out, for the two binaries: the
// packages of directly linked libraries it does not name, and those of
// any resolved library that its dependencies do not bring.
function runtimeGaps(list) {
  const index = installedIndex();
  const direct = new Set();
  const all = new Set();
  for (const file of [BIN, MODULE]) {
    const paths = resolved(file);
    const own = owners([...paths.values()]);
    for (const soname of needed(file)) {
      const path = paths.get(soname);
      assert.ok(path, `${file} resolves ${soname}`);
      direct.add(own.get(path));
    }
    for (const pkg of own.values()) all.add(pkg);
  }
  // A sanitizer build also links the sanitizer runtimes, which the
  // image (built without sanitizers) does not hold.
  const extra = [...direct].filter((p) => SANITIZER.test(p));
  const reach = closure([...list, ...extra], index);
  return {
    direct: [...direct].filter((p) => !list.includes(p) && !extra.includes(p))
      .sort(),
    transitive: [...all].filter((p) => !reach.has(p)).sort(),
    linked: all,
  };
}

test('tools/packages-runtime.txt provides every library printdesk and '
  + 'printdesk-images.so link to', () => {
  const list = packageList('tools/packages-runtime.txt');
  for (const p of list) {
    assert.doesNotMatch(p, /-dev$/, `${p}: the image holds no -dev package`);
    const st = spawnSync('dpkg-query', ['-W', '-f', '${db:Status-Abbrev}', p]);
    assert.match(st.stdout.toString(), /^ii/, `${p} is a Debian package `
      + 'installed here (the build packages bring it)');
  }
  const gaps = runtimeGaps(list);
  assert.deepEqual(gaps.direct, [], 'directly linked libraries come from '
    + 'packages the list names');
  assert.deepEqual(gaps.transitive, [], 'every library the loader finds '
    + 'comes with the listed packages');
  // Each library package of the list is linked (the others are tools).
  const tools = ['ca-certificates', 'postgresql-client'];
  for (const p of list.filter((x) => !tools.includes(x))) {
    assert.ok(gaps.linked.has(p), `${p} provides a library the binaries use`);
  }
});

test('the runtime check notices a package left out of the list', () => {
  const list = packageList('tools/packages-runtime.txt')
    .filter((p) => p !== 'libvips42');
  assert.deepEqual(runtimeGaps(list).direct, ['libvips42']);
});

test('pg_dump and pg_restore, which backup and restore run, come with '
  + 'the runtime packages', () => {
  const index = installedIndex();
  const reach = closure(packageList('tools/packages-runtime.txt'), index);
  for (const tool of ['pg_dump', 'pg_restore']) {
    const out = spawnSync('dpkg', ['-S', `*/bin/${tool}`]).stdout.toString();
    const pkgs = out.split('\n').filter(Boolean)
      .map((l) => l.slice(0, l.lastIndexOf(': ')).replace(/:.*$/, ''));
    assert.ok(pkgs.length > 0, `a package installs ${tool}`);
    for (const p of pkgs) assert.ok(reach.has(p), `${p} (${tool}) in image`);
  }
});

// ---- the Cloud Run service --------------------------------------------

const service = () => parseYaml(read('deploy/cloudrun-service.yaml'));
const job = () => parseYaml(read('deploy/cloudrun-backup-job.yaml'));
const envOf = (container) => new Map(container.env.map((e) => [e.name, e]));

function freePort() {
  return new Promise((res, rej) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => res(port));
    }).on('error', rej);
  });
}

test('the service: one vCPU, 512 MiB, 0 to 5 instances, probes on '
  + '/readyz and /healthz, the image\'s port', () => {
  const svc = service();
  const tpl = svc.spec.template;
  const ann = tpl.metadata.annotations;
  assert.equal(ann['autoscaling.knative.dev/minScale'], '0');
  assert.equal(ann['autoscaling.knative.dev/maxScale'], '5');
  assert.match(ann['run.googleapis.com/cloudsql-instances'], /^\S+:\S+:\S+$/);
  const [desk] = tpl.spec.containers;
  assert.equal(desk.resources.limits.cpu, '1');
  assert.equal(desk.resources.limits.memory, '512Mi');
  assert.equal(desk.startupProbe.httpGet.path, '/readyz');
  assert.equal(desk.livenessProbe.httpGet.path, '/healthz');

  const docker = dockerStages(read('deploy/Dockerfile')).at(-1).steps;
  const imagePort = /\bPORT=(\d+)/.exec(docker.filter((i) => i.op === 'ENV')
    .map((i) => i.args).join(' '))[1];
  const monitoring = parseYaml(read('deploy/monitoring/runmonitoring.yaml'));
  assert.deepEqual([String(desk.ports[0].containerPort),
    desk.startupProbe.httpGet.port, desk.livenessProbe.httpGet.port,
    monitoring.spec.endpoints[0].port], Array(4).fill(imagePort));
});

test('the service takes its secrets from Secret Manager; each *_PREVIOUS '
  + 'names its pair\'s secret and version', () => {
  const env = envOf(service().spec.template.spec.containers[0]);
  const secrets = ['SHOPIFY_APP_SECRET', 'SHOPIFY_APP_SECRET_PREVIOUS',
    'PRINTDESK_DATA_KEY', 'PRINTDESK_DATA_KEY_PREVIOUS', 'METRICS_TOKEN',
    'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'DATABASE_URL'];
  for (const name of secrets) {
    const ref = env.get(name)?.valueFrom?.secretKeyRef;
    assert.ok(ref && ref.name && ref.key, `${name} comes from a secret`);
  }
  for (const name of ['SHOPIFY_APP_SECRET', 'PRINTDESK_DATA_KEY']) {
    assert.deepEqual(env.get(`${name}_PREVIOUS`).valueFrom.secretKeyRef,
      env.get(name).valueFrom.secretKeyRef);
  }
  assert.match(env.get('STORAGE_URL').value, /^gs:\/\/\S+$/);

  // docs/deploy.md creates every secret the deploy files name.
  const docs = read('docs/deploy.md');
  const named = new Set();
  for (const f of ['deploy/cloudrun-service.yaml',
    'deploy/cloudrun-backup-job.yaml', 'deploy/cloudrun-lifecycle-job.yaml']) {
    for (const m of read(f).matchAll(/(?:secretName|name): (printdesk-\S+)/g)) {
      if (m[1] !== 'printdesk-backup' && m[1] !== 'printdesk-lifecycle') {
        named.add(m[1]);
      }
    }
  }
  for (const s of named) {
    assert.match(docs, new RegExp(`gcloud secrets create ${s}\\b`),
      `docs/deploy.md creates the secret ${s}`);
  }
});

test('printdesk serves on 0.0.0.0:$PORT as Cloud Run starts it, with '
  + 'each previous secret equal to its pair', async () => {
  const port = await freePort();
  const server = await startServer({
    env: {
      PORT: String(port), SHOPIFY_APP_SECRET: 'steady-secret',
      SHOPIFY_APP_SECRET_PREVIOUS: 'steady-secret',
      PRINTDESK_DATA_KEY: DATA_KEY, PRINTDESK_DATA_KEY_PREVIOUS: DATA_KEY,
    },
  });
  try {
    assert.equal(server.port, port);
    const line = server.logs().find((l) => /listening/.test(l.message || ''));
    assert.match(line.message, new RegExp(`http://0\\.0\\.0\\.0:${port}/`));
    for (const path of ['/healthz', '/readyz']) {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      assert.equal(res.status, 200, path);
      await res.arrayBuffer();
    }
  } finally {
    assert.equal((await server.stop()).code, 0);
  }
});

test('the DATABASE_URL form of docs/deploy.md reaches PostgreSQL through '
  + 'a Cloud SQL-style socket folder', async (t) => {
  if (BACKEND !== 'postgres' || !process.env.TEST_PG_DIR) {
    t.skip('needs the suite\'s PostgreSQL (TEST_BACKEND=postgres)');
    return;
  }
  const form = /postgresql:\/\/[^\s"']*\/cloudsql\/[^\s"']*/.exec(
    read('docs/deploy.md'));
  assert.ok(form, 'docs/deploy.md gives the unix-socket DATABASE_URL');
  const pgPort = new URL(PG_URL).port;
  const db = createPgDatabase();
  const dbName = new URL(db).pathname.slice(1);
  const socketRoot = mkdtempSync(join(tmpdir(), 'pd-cloudsql-'));
  const instanceDir = join(socketRoot, 'project-1:europe-west1:printdesk');
  mkdirSync(instanceDir);
  symlinkSync(join(process.env.TEST_PG_DIR, `.s.PGSQL.${pgPort}`),
    join(instanceDir, `.s.PGSQL.${pgPort}`));
  const psql = (sql, url = PG_URL) => execFileSync('psql', [url, '-qAtc',
    sql]);
  try {
    psql('DO $$ BEGIN CREATE ROLE printdesk LOGIN; EXCEPTION WHEN '
      + 'duplicate_object THEN NULL; END $$');
    psql(`ALTER DATABASE ${dbName} OWNER TO printdesk`);
    const url = form[0]
      .replace(/\$\{?DB_PASSWORD\}?/, 'unused-with-trust')
      .replace(/@\/printdesk\?/, `@/${dbName}?`)
      .replace(/\/cloudsql\/\S+$/, `${instanceDir}&port=${pgPort}`);
    assert.match(url, /^postgresql:\/\/printdesk:[^@]+@\/pd_\w+\?host=\//);
    const dir = mkdtempSync(join(tmpdir(), 'pd-migrate-'));
    const run = await runPrintdesk(['migrate', '--data-dir', dir],
      { env: { DATABASE_URL: url } });
    rmSync(dir, { recursive: true, force: true });
    assert.equal(run.code, 0, run.stderr);
    assert.equal(psql(`SELECT count(*) > 0 FROM pg_tables WHERE tableowner `
      + `= 'printdesk'`, db).toString().trim(), 't', 'the tables are made '
      + 'by the URL\'s user');
  } finally {
    dropPgDatabase(db);
    rmSync(socketRoot, { recursive: true, force: true });
  }
});

test('docs/deploy.md fills every placeholder of the Cloud Run files and '
  + 'nothing else', () => {
  const fill = /^fill\(\) \{\n[\s\S]*?\n\}$/m.exec(read('docs/deploy.md'));
  assert.ok(fill, 'docs/deploy.md defines fill()');
  const vars = {
    PROJECT: 'shop-desk-1', REGION: 'europe-west1', INSTANCE: 'desk-db',
    BUCKET: 'shop-desk-1-photos', BACKUP_BUCKET: 'shop-desk-1-backups',
    TAG: 'abc1234',
  };
  const image = `${vars.REGION}-docker.pkg.dev/${vars.PROJECT}/printdesk/`
    + `printdesk:${vars.TAG}`;
  for (const file of ['deploy/cloudrun-service.yaml',
    'deploy/cloudrun-backup-job.yaml', 'deploy/cloudrun-lifecycle-job.yaml']) {
    const out = execFileSync('bash', ['-c', `${fill[0]}\nfill "$1"`, 'fill',
      join(ROOT, file)], { env: { ...process.env, ...vars } }).toString();
    const body = out.split('\n').filter((l) => !/^\s*#/.test(l)).join('\n');
    assert.doesNotMatch(body,
      /\b(PROJECT|REGION|INSTANCE|BUCKET|BACKUP_BUCKET|IMAGE_TAG)\b/, file);
    const doc = parseYaml(out);
    const tpl = doc.spec.template;
    const pod = doc.kind === 'Job' ? tpl.spec.template.spec : tpl.spec;
    assert.equal(pod.containers[0].image, image, file);
    assert.equal(tpl.metadata.annotations[
      'run.googleapis.com/cloudsql-instances'],
    `${vars.PROJECT}:${vars.REGION}:${vars.INSTANCE}`, file);
    assert.equal(envOf(pod.containers[0]).get('GOOGLE_CLOUD_PROJECT').value,
      vars.PROJECT, file);
    assert.match(pod.serviceAccountName,
      new RegExp(`@${vars.PROJECT}\\.iam\\.gserviceaccount\\.com$`));
  }
});

// ---- the backup job and the Shopify side ------------------------------

test('the backup job backs up to the bucket with the service\'s database '
  + 'and keys, and the scheduler runs that job', () => {
  const bj = job();
  const svc = service();
  const [c] = bj.spec.template.spec.template.spec.containers;
  assert.deepEqual(c.command, ['printdesk']);
  assert.equal(c.args[0], 'backup');
  assert.match(c.args[c.args.indexOf('--to') + 1], /^gs:\/\/\S+$/);
  const jobEnv = envOf(c);
  const svcEnv = envOf(svc.spec.template.spec.containers[0]);
  for (const name of ['DATABASE_URL', 'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY']) {
    assert.deepEqual(jobEnv.get(name).valueFrom, svcEnv.get(name).valueFrom);
  }
  const sql = (o) => o.spec.template.metadata
    .annotations['run.googleapis.com/cloudsql-instances'];
  assert.equal(sql(bj), sql(svc));
  const sched = read('deploy/scheduler-backup.sh');
  assert.equal(/^JOB=(\S+)$/m.exec(sched)[1], bj.metadata.name);
  assert.match(sched, /jobs\/\$JOB:run/);
  // The backup URL form is one printdesk backup accepts.
  const help = execFileSync(BIN, ['backup', '--help']).toString();
  assert.match(help, /gs:\/\/BUCKET/);
});

// The topics the webhook inbox applies (its table in src/webhooks).
function handledTopics() {
  const src = read('src/webhooks/inbox.c');
  return [...src.matchAll(/\{"([a-z_]+\/[a-z_]+)",\s*webhook_\w+\}/g)]
    .map((m) => m[1]).sort();
}

function tomlList(text, key) {
  const m = new RegExp(`^${key}\\s*=\\s*\\[([^\\]]*)\\]`, 'm').exec(text);
  assert.ok(m, `shopify.app.toml has ${key}`);
  return [...m[1].matchAll(/"([^"]+)"/g)].map((x) => x[1]);
}

test('shopify.app.toml subscribes to every topic printdesk handles, the '
  + 'compliance topics, and the App Proxy apps/fulfillment', () => {
  const toml = read('deploy/shopify.app.toml');
  const compliance = ['customers/data_request', 'customers/redact',
    'shop/redact'];
  assert.deepEqual(tomlList(toml, 'compliance_topics').sort(), compliance);
  const topics = tomlList(toml, 'topics');
  assert.deepEqual([...topics, ...compliance].sort(), handledTopics());
  assert.ok(handledTopics().includes('orders/create'));
  const uris = [...toml.matchAll(/^uri\s*=\s*"([^"]+)"/gm)].map((m) => m[1]);
  assert.deepEqual(uris, Array(2).fill('SERVICE_URL/webhooks/shopify'));
  assert.match(read('src/web/routes.c'), /"POST", "\/webhooks\/shopify"/);
  const proxy = toml.slice(toml.indexOf('[app_proxy]'));
  assert.match(proxy, /^prefix\s*=\s*"apps"$/m);
  assert.match(proxy, /^subpath\s*=\s*"fulfillment"$/m);
  assert.match(proxy, /^url\s*=\s*"SERVICE_URL"$/m);
});
