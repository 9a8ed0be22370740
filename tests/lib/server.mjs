// server.mjs — starts the real printdesk binary for a test: a fresh data
// folder, a fresh database on the backend under test (SQLite, or a new
// database on the suite's PostgreSQL server), a free port. Stopping it
// returns the exit status, so sanitizer reports at exit fail the test.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';

export const BIN = process.env.PRINTDESK_BIN || 'build/printdesk';
export const BACKEND = process.env.TEST_BACKEND || 'sqlite';
export const PG_URL = process.env.TEST_PG_URL || '';

// A new empty PostgreSQL database on the test server; its URL.
export function createPgDatabase() {
  if (!PG_URL) throw new Error('TEST_PG_URL is not set');
  const name = 'pd_' + randomBytes(6).toString('hex');
  execFileSync('psql', [PG_URL, '-qAtc', `CREATE DATABASE ${name}`]);
  return PG_URL.replace(/\/[^/?]*(\?|$)/, `/${name}$1`);
}

export function dropPgDatabase(url) {
  const name = new URL(url).pathname.slice(1);
  try {
    execFileSync('psql', [PG_URL, '-qAtc',
      `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`]);
  } catch { /* the server may be stopped by the test */ }
}

// A scratch folder and a database URL for the backend under test.
export function freshState() {
  const dir = mkdtempSync(join(tmpdir(), 'printdesk-it-'));
  const databaseUrl = BACKEND === 'postgres'
    ? createPgDatabase() : `sqlite:${dir}/printdesk.db`;
  return {
    dir,
    databaseUrl,
    cleanup() {
      if (BACKEND === 'postgres') dropPgDatabase(databaseUrl);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// Runs printdesk with args; resolves {code, signal, stdout, stderr}.
export function runPrintdesk(args, { env = {}, cwd, timeoutMs = 60000 } = {}) {
  return new Promise((resolve, reject) => {
    const child = spawn(BIN, args, {
      cwd, env: { ...baseEnv(), ...env }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function baseEnv() {
  const env = { ...process.env };
  for (const k of ['PORT', 'DATABASE_URL', 'STORAGE_URL', 'SHOPIFY_APP_SECRET',
    'PRINTDESK_DATA_KEY', 'PRINTDESK_DATA_DIR', 'LOG_LEVEL', 'LOG_FORMAT']) {
    delete env[k];
  }
  return env;
}

// Parses the JSON log lines a server wrote so far.
export function parseLogLines(text) {
  return text.split('\n').filter((l) => l.startsWith('{')).map((l) => {
    try { return JSON.parse(l); } catch { return { unparsable: l }; }
  });
}

// Starts `printdesk serve` and waits until it listens.
export async function startServer({ env = {}, args = [], state } = {}) {
  const own = state || freshState();
  // PORT (Cloud Run's way) or --listen in args replace the default.
  const listen = args.includes('--listen') || env.PORT
    ? [] : ['--listen', '127.0.0.1:0'];
  const child = spawn(BIN, ['serve', ...listen,
    '--data-dir', join(own.dir, 'data'), ...args], {
    env: {
      ...baseEnv(),
      DATABASE_URL: own.databaseUrl,
      STORAGE_URL: `file:${join(own.dir, 'objects')}`,
      PRINTDESK_TEST_ROUTES: '1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const server = {
    child, state: own, stderr: '', stdout: '', exited: null,
    logs() { return parseLogLines(this.stderr); },
  };
  child.stdout.on('data', (d) => { server.stdout += d; });
  child.stderr.on('data', (d) => { server.stderr += d; });
  server.exitPromise = new Promise((resolve) => {
    child.on('close', (code, signal) => {
      server.exited = { code, signal };
      resolve(server.exited);
    });
  });
  server.port = await waitForPort(server);
  server.url = `http://127.0.0.1:${server.port}`;
  server.stop = async (signal = 'SIGTERM') => {
    if (!server.exited) child.kill(signal);
    const result = await server.exitPromise;
    if (!state) own.cleanup();
    return result;
  };
  return server;
}

async function waitForPort(server) {
  const deadline = Date.now() + 20000;
  while (Date.now() < deadline) {
    for (const line of server.logs()) {
      if (line.port && /listening/.test(line.message || '')) return line.port;
    }
    if (server.exited) {
      throw new Error(`printdesk exited (${JSON.stringify(server.exited)}):\n`
        + server.stderr);
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  server.child.kill('SIGKILL');
  throw new Error('printdesk did not start listening:\n' + server.stderr);
}
