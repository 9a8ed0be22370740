// desk.mjs — what the dashboard and API tests share: the environment a
// test server and its CLI run with, the CLI against a test's state,
// staff sign-in (a login-url link exchanged for a session cookie),
// Debian's Chromium, and what unzip and Python's zipfile see in a zip.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { chromium } from 'playwright-core';
import { BIN } from './server.mjs';
import { DATA_KEY, SECRET, SHOP } from './shopify.mjs';

export const DESK_ENV = {
  SHOPIFY_SHOP: SHOP, SHOPIFY_APP_SECRET: SECRET,
  PRINTDESK_DATA_KEY: DATA_KEY,
};

export const CHROMIUM = [process.env.CHROMIUM_PATH,
  '/usr/lib/chromium/chromium', '/usr/bin/chromium']
  .find((p) => p && existsSync(p));

// Runs `printdesk ARGS` on the test's database, store and data folder.
export function deskCli(state, ...args) {
  return execFileSync(BIN, args, {
    env: {
      ...process.env, ...DESK_ENV, DATABASE_URL: state.databaseUrl,
      STORAGE_URL: `file:${join(state.dir, 'objects')}`,
      PRINTDESK_DATA_DIR: join(state.dir, 'data'),
    },
  }).toString();
}

// A one-time sign-in link for staff member id, on the running server.
export function loginLink(server, state, id) {
  return deskCli(state, 'login-url', '--customer', id, '--base',
    server.url).trim();
}

// A session cookie ("pd_session=...") for staff member id.
export async function sessionCookie(server, state, id) {
  const res = await fetch(loginLink(server, state, id),
    { redirect: 'manual' });
  assert.equal(res.status, 200);
  return res.headers.get('set-cookie').split(';')[0];
}

// Debian's Chromium, headless; null when it is not installed.
export async function launchChromium() {
  if (!CHROMIUM) return null;
  return chromium.launch({
    executablePath: CHROMIUM, headless: true,
    args: ['--no-sandbox', '--disable-gpu'],
  });
}

// What unzip and Python's zipfile see in the zip at path: entry names,
// [name, compression] pairs, and manifest.csv's lines. Both must find
// the archive sound.
export function zipContents(path) {
  const names = execFileSync('unzip', ['-Z1', path]).toString()
    .split('\n').filter(Boolean);
  execFileSync('unzip', ['-tq', path]);
  const py = `
import json, sys, zipfile
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
print(json.dumps([[i.filename, i.compress_type] for i in z.infolist()]))`;
  const entries = JSON.parse(execFileSync('/usr/bin/python3',
    ['-c', py, path]).toString());
  const manifest = execFileSync('unzip', ['-p', path, 'manifest.csv'])
    .toString().split('\r\n').filter(Boolean);
  return { names, entries, manifest };
}
