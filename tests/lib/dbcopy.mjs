// dbcopy.mjs — helpers of the copy-db and import-legacy tests: SQL on a
// database named by its URL (SQLite through the sqlite3 CLI, PostgreSQL
// through psql), printdesk run in the background with its output kept,
// staff-signed API reads, small real photos made by libvips, and a
// database of the shop's old webhook service built with Python's sqlite3.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN } from './server.mjs';
import { DESK_ENV } from './desk.mjs';

const isPg = (url) => /^postgres(ql)?:\/\//.test(url);

// Runs a SELECT; resolves an array of row objects. Select large integers
// and blobs as text (CAST(x AS TEXT), hexOf) to compare them exactly.
export function sqlRows(url, sql) {
  if (isPg(url)) {
    const out = execFileSync('psql', [url, '-qAt', '-c',
      `SELECT coalesce(json_agg(t), '[]') FROM (${sql}) t`]);
    return JSON.parse(out.toString());
  }
  const out = execFileSync('sqlite3', ['-json',
    url.replace(/^sqlite:/, ''), sql], { maxBuffer: 64 << 20 }).toString();
  return out.trim() === '' ? [] : JSON.parse(out);
}

export function sqlExec(url, sql) {
  if (isPg(url)) execFileSync('psql', [url, '-qAtc', sql]);
  else execFileSync('sqlite3', [url.replace(/^sqlite:/, ''), sql]);
}

// One number from a query such as SELECT COUNT(*).
export const sqlNumber = (url, sql) => Number(Object.values(
  sqlRows(url, sql)[0])[0]);

// Upper-case hex of a blob column, in the database's own dialect.
export const hexOf = (url, col) => (isPg(url)
  ? `upper(encode(${col}, 'hex'))`
  : `(CASE WHEN ${col} IS NULL THEN NULL ELSE hex(${col}) END)`);

// The environment of a printdesk command on a test's state: the tests'
// secrets, the state's database, storage and data folder.
export function deskEnv(state, extra = {}) {
  return {
    ...process.env, ...DESK_ENV, DATABASE_URL: state.databaseUrl,
    STORAGE_URL: `file:${join(state.dir, 'objects')}`,
    PRINTDESK_DATA_DIR: join(state.dir, 'data'), LOG_FORMAT: 'json',
    ...extra,
  };
}

// Starts printdesk ARGS in the background. The result has the child,
// its output so far, lines(): the JSON log lines written so far, and
// done: a promise of {code, signal, stdout, stderr}.
export function startPrintdesk(args, env) {
  const child = spawn(BIN, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const run = { child, stdout: '', stderr: '' };
  child.stdout.on('data', (d) => { run.stdout += d; });
  child.stderr.on('data', (d) => { run.stderr += d; });
  run.done = new Promise((resolve) => child.on('close', (code, signal) =>
    resolve({ code, signal, stdout: run.stdout, stderr: run.stderr })));
  // Whole lines only: the last piece may still be arriving.
  run.lines = () => run.stderr.split('\n').slice(0, -1)
    .filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
  return run;
}

// Runs printdesk ARGS to the end; resolves {code, signal, stdout, stderr}.
export function runDesk(args, env) {
  return startPrintdesk(args, env).done;
}

// Whether the binary carries AddressSanitizer (a much slower build).
export const SANITIZED = /libasan/.test(
  execFileSync('ldd', [BIN]).toString());

// GET path on a server with a session cookie; resolves the parsed JSON.
export async function apiGet(server, cookie, path) {
  const res = await fetch(`${server.url}${path}`, { headers: { cookie } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`${path}: ${res.status} ${text}`);
  return JSON.parse(text);
}

// A real photo of width x height made by libvips (`vips gaussnoise`),
// as JPEG or PNG by the name's extension; resolves its bytes.
export function photo(dir, name, width, height) {
  const path = join(dir, name);
  execFileSync('vips', ['gaussnoise', path, String(width),
    String(height)]);
  return readFileSync(path);
}

// The old webhook service's schema, as the shop's plan gives it, in
// SQLite's words.
const LEGACY_SCHEMA = `
CREATE TABLE orders (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    order_number VARCHAR(255) UNIQUE NOT NULL,
    session_id VARCHAR(255) NOT NULL,
    pet_data JSONB NOT NULL,
    fulfillment_status VARCHAR(50) DEFAULT 'pending',
    created_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    updated_at TIMESTAMP DEFAULT CURRENT_TIMESTAMP,
    completed_at TIMESTAMP,
    notes TEXT,
    download_count INTEGER DEFAULT 0,
    last_accessed_at TIMESTAMP
);
CREATE INDEX idx_order_number ON orders(order_number);
CREATE INDEX idx_session_id ON orders(session_id);
CREATE INDEX idx_fulfillment_status ON orders(fulfillment_status);
CREATE INDEX idx_created_at ON orders(created_at DESC);`;

// Builds the legacy database at path with rows: objects of the orders
// columns; a column left out takes the schema's default. Python's
// sqlite3 stores each value with the type it has in JavaScript.
export function legacyDatabase(path, rows) {
  const py = `
import json, sqlite3, sys
rows = json.load(sys.stdin)
db = sqlite3.connect(sys.argv[1])
db.executescript(sys.argv[2])
for r in rows:
    cols = list(r.keys())
    db.execute('INSERT INTO orders (%s) VALUES (%s)' % (
        ', '.join(cols), ', '.join('?' for _ in cols)), [r[c] for c in cols])
db.commit()`;
  execFileSync('/usr/bin/python3', ['-c', py, path, LEGACY_SCHEMA],
    { input: JSON.stringify(rows) });
}
