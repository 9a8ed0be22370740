// auth.test.mjs — the front door: App Proxy signatures checked against
// Shopify's own signing, staff roles on every route, CSRF, direct
// sessions, Shopify admin session tokens and rate limits.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import '@shopify/shopify-api/adapters/node';
import { shopifyApi, ApiVersion, LogSeverity } from '@shopify/shopify-api';
import { getJwt } from '@shopify/shopify-api/test-helpers';
import { SignJWT, generateKeyPair } from 'jose';
import {
  BIN, freshState, runPrintdesk, startServer,
} from '../lib/server.mjs';
import {
  API_KEY, DATA_KEY, OLD_SECRET, SECRET, SHOP, mintToken, proxied,
  signProxyQuery,
} from '../lib/shopify.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const ENV = {
  SHOPIFY_SHOP: SHOP, SHOPIFY_APP_SECRET: SECRET,
  SHOPIFY_APP_SECRET_PREVIOUS: OLD_SECRET, SHOPIFY_API_KEY: API_KEY,
  PRINTDESK_DATA_KEY: DATA_KEY,
};
// Staff: customer ids by role, plus a disabled one and an admin user.
const VIEWER = '1001', FULFILLER = '1002', ADMIN = '1003';
const DISABLED = '1004', STRANGER = '1999', ADMIN_USER = '12345';

let state, server;

function cli(...args) {
  return execFileSync(BIN, args, {
    env: {
      ...process.env, ...ENV, DATABASE_URL: state.databaseUrl,
      STORAGE_URL: `file:${join(state.dir, 'objects')}`,
      PRINTDESK_DATA_DIR: join(state.dir, 'data'),
    },
  }).toString();
}

before(async () => {
  state = freshState();
  cli('seed-demo', '--orders', '30');
  cli('staff', 'add', VIEWER, '--role', 'viewer', '--name', 'Vi');
  cli('staff', 'add', FULFILLER, '--role', 'fulfiller');
  cli('staff', 'add', ADMIN, '--role', 'admin');
  cli('staff', 'add', DISABLED, '--role', 'admin');
  cli('staff', 'disable', DISABLED);
  cli('staff', 'add', ADMIN_USER, '--kind', 'admin_user', '--role', 'admin');
  server = await startServer({
    state, env: { ...ENV, STAFF_RATE_PER_MINUTE: '100000' },
  });
});

after(async () => {
  assert.deepEqual(await server.stop(), { code: 0, signal: null });
  state.cleanup();
});

const url = (p) => `${server.url}${p}`;

async function whoamiVia(customer) {
  return fetch(url(await proxied('/auth/whoami', customer)));
}

// Opens a direct session for a staff member; returns its cookie.
async function sessionCookie(kind, id) {
  const link = cli('login-url', `--${kind === 'customer' ? 'customer'
    : 'admin-user'}`, id, '--base', server.url).trim();
  const res = await fetch(link, { redirect: 'manual' });
  assert.equal(res.status, 200);
  return res.headers.get('set-cookie').split(';')[0];
}

test('staff list shows what the staff command did', () => {
  const out = cli('staff', 'list');
  assert.match(out, /customer\s+1001\s+viewer\s+active\s+Vi/);
  assert.match(out, /customer\s+1004\s+admin\s+disabled/);
  assert.match(out, /admin_user\s+12345\s+admin\s+active/);
});

test('a request signed by an independent signer is let in', async () => {
  const res = await whoamiVia(ADMIN);
  assert.equal(res.status, 200);
  const me = await res.json();
  assert.deepEqual([me.kind, me.id, me.role, me.via],
    ['customer', ADMIN, 'admin', 'proxy']);
  assert.match(me.csrf_token, /^[A-Za-z0-9_-]{43}$/);
});

// Random parameter sets: repeated keys, empty values, '+' and %20,
// UTF-8, keys that are prefixes of others.
function randomExtra(rand) {
  const keys = ['a', 'ab', 'abc', 'item', 'item1', 'x_y', 'Zeta', 'q'];
  const values = ['', 'plain', 'two+words', 'two%20words', '%C3%A9t%C3%A9',
    '%F0%9F%90%B6', 'a%2Cb', '100%25', 'x%3Dy', '%26amp'];
  const n = 1 + Math.floor(rand() * 6);
  const parts = [];
  for (let i = 0; i < n; i++) {
    const k = keys[Math.floor(rand() * keys.length)];
    const v = values[Math.floor(rand() * values.length)];
    parts.push(rand() < 0.1 ? k : `${k}=${v}`);
  }
  return parts.join('&');
}

function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

// Changes one character so that the decoded query really changes.
function mutate(query, i) {
  const c = query[i];
  const inEscape = (query[i - 1] === '%' ||
    (query[i - 2] === '%' && /[0-9A-Fa-f]/.test(query[i - 1])));
  if (inEscape && /[0-9A-Fa-f]/.test(c)) {
    const v = (parseInt(c, 16) + 1) % 16;
    return query.slice(0, i) + v.toString(16) + query.slice(i + 1);
  }
  const repl = c === 'Z' ? 'Y' : 'Z';
  return query.slice(0, i) + repl + query.slice(i + 1);
}

test('200 random parameter sets signed independently are accepted, and '
  + 'every one-character change is refused', async () => {
  const rand = prng(7);
  const refusedStatuses = new Set();
  for (let n = 0; n < 200; n++) {
    const path = await proxied('/auth/whoami', FULFILLER,
      { extra: randomExtra(rand) });
    const res = await fetch(url(path));
    assert.equal(res.status, 200, `accepted: ${path}`);
    if (n % 20 !== 0) continue;
    const query = path.slice(path.indexOf('?') + 1);
    for (let i = 0; i < query.length; i++) {
      const changed = mutate(query, i);
      const bad = await fetch(url(`/auth/whoami?${changed}`));
      assert.ok([401, 403].includes(bad.status),
        `refused change at ${i}: ${changed} -> ${bad.status}`);
      refusedStatuses.add(bad.status);
    }
  }
  assert.ok(refusedStatuses.has(401));
});

test('printdesk signs as Shopify\'s own validateHmac expects', async () => {
  const shopify = shopifyApi({
    apiKey: API_KEY, apiSecretKey: SECRET, hostName: 'desk.example.com',
    apiVersion: ApiVersion.October25, isEmbeddedApp: false,
    logger: { level: LogSeverity.Error },
  });
  const rand = prng(11);
  const keys = ['alpha', 'bravo', 'charlie', 'delta', 'echo'];
  for (let n = 0; n < 50; n++) {
    const parts = [`shop=${SHOP}`, 'logged_in_customer_id=42',
      'path_prefix=%2Fapps%2Ffulfillment'];
    for (const k of keys) {
      if (rand() < 0.5) parts.push(`${k}=v${Math.floor(rand() * 1000)}+x`);
    }
    const out = execFileSync(BIN, ['sign-proxy-query', parts.join('&'),
      '--now'], { env: { ...process.env, ...ENV } }).toString().trim();
    const query = Object.fromEntries(new URLSearchParams(out));
    assert.equal(await shopify.utils.validateHmac(query,
      { signator: 'appProxy' }), true, out);
    // And our signer agrees with printdesk's.
    assert.equal(await signProxyQuery(out.replace(/&signature=.*$/, '')),
      out);
  }
});

test('stale, future, missing timestamps, wrong shop and repeats are 401',
  async () => {
    const now = Math.floor(Date.now() / 1000);
    for (const timestamp of [now - 91 - 5, now + 91 + 5]) {
      const res = await fetch(url(await proxied('/auth/whoami', ADMIN,
        { timestamp })));
      assert.equal(res.status, 401, `timestamp ${timestamp - now}`);
    }
    const wrongShop = await fetch(url(await proxied('/auth/whoami', ADMIN,
      { shop: 'other-shop.myshopify.com' })));
    assert.equal(wrongShop.status, 401);
    const noTs = await signProxyQuery(`shop=${SHOP}&logged_in_customer_id=`
      + `${ADMIN}`);
    assert.equal((await fetch(url(`/auth/whoami?${noTs}`))).status, 401);
    const repeated = await signProxyQuery(`shop=${SHOP}&shop=${SHOP}&`
      + `logged_in_customer_id=${ADMIN}&timestamp=${now}`);
    assert.equal((await fetch(url(`/auth/whoami?${repeated}`))).status, 401);
    const oldSecret = await fetch(url(await proxied('/auth/whoami', ADMIN,
      { secret: OLD_SECRET })));
    assert.equal(oldSecret.status, 200, 'the previous secret still works');
    const noSig = `shop=${SHOP}&logged_in_customer_id=${ADMIN}&timestamp=${now}`;
    assert.equal((await fetch(url(`/auth/whoami?${noSig}`))).status, 401);
  });

test('non-staff, anonymous and disabled customers get 403 (HTML on pages)',
  async () => {
    for (const who of [STRANGER, DISABLED, '']) {
      const res = await fetch(url(await proxied('/auth/whoami', who)));
      assert.equal(res.status, 403, `customer "${who}"`);
    }
    const page = await fetch(url(await proxied('/', STRANGER)));
    assert.equal(page.status, 403);
    assert.match(page.headers.get('content-type'), /text\/html/);
    assert.match(await page.text(), /not on the fulfillment desk/);
  });

// The same request with the signature's first hex digit changed.
function flipSignature(path) {
  return path.replace(/signature=(.)/,
    (_, c) => `signature=${c === '0' ? '1' : '0'}`);
}

// ---- the authorization table ----

async function csrfFor(customer) {
  return (await (await whoamiVia(customer)).json()).csrf_token;
}

const ROUTES = [
  { method: 'GET', path: '/', role: 'viewer' },
  { method: 'GET', path: '/api/v1/orders', role: 'viewer' },
  { method: 'GET', path: '/api/v1/orders/1001', role: 'viewer' },
  { method: 'GET', path: '/auth/whoami', role: 'viewer' },
  { method: 'GET', path: '/auth/direct-link', role: 'viewer' },
  { method: 'POST', path: '/api/v1/orders/1001/notes', role: 'fulfiller',
    body: { body: 'Checked the cut-out.' } },
  { method: 'POST', path: '/api/v1/orders/1002/status', role: 'fulfiller',
    body: { to: 'on_hold' } },
  { method: 'GET', path: '/api/v1/staff', role: 'admin' },
];
const RANK = { viewer: 1, fulfiller: 2, admin: 3 };

// Each credential: how to send it, and who it is (null: refused first).
const CREDENTIALS = {
  none: async () => ({ expect: 401 }),
  badSignature: async (p) => ({
    path: flipSignature(await proxied(p, ADMIN)), expect: 401,
  }),
  staleTimestamp: async (p) => ({
    path: await proxied(p, ADMIN,
      { timestamp: Math.floor(Date.now() / 1000) - 600 }),
    expect: 401,
  }),
  wrongShop: async (p) => ({
    path: await proxied(p, ADMIN, { shop: 'evil.myshopify.com' }),
    expect: 401,
  }),
  nonStaff: async (p) => ({ path: await proxied(p, STRANGER), expect: 403 }),
  disabledStaff: async (p) => ({
    path: await proxied(p, DISABLED), expect: 403,
  }),
  viewer: async (p) => ({ path: await proxied(p, VIEWER), role: 'viewer',
    csrf: await csrfFor(VIEWER) }),
  fulfiller: async (p) => ({ path: await proxied(p, FULFILLER),
    role: 'fulfiller', csrf: await csrfFor(FULFILLER) }),
  admin: async (p) => ({ path: await proxied(p, ADMIN), role: 'admin',
    csrf: await csrfFor(ADMIN) }),
  sessionCookie: async () => {
    const cookie = await sessionCookie('customer', ADMIN);
    const me = await (await fetch(url('/auth/whoami'),
      { headers: { cookie } })).json();
    return { headers: { cookie }, role: 'admin', csrf: me.csrf_token };
  },
  expiredCookie: async () => ({
    headers: { cookie: `pd_session=${mintToken('session',
      `customer:${ADMIN}`, Math.floor(Date.now() / 1000) - 5)}` },
    expect: 401,
  }),
  forgedCookie: async () => ({
    headers: { cookie: `pd_session=${mintToken('session',
      `customer:${ADMIN}`, Math.floor(Date.now() / 1000) + 600,
      'not-the-secret')}` },
    expect: 401,
  }),
  bearerToken: async () => {
    const { token } = await getJwt('shop-name', API_KEY, SECRET);
    return { headers: { authorization: `Bearer ${token}` }, role: 'admin' };
  },
  badBearer: async () => {
    const { token } = await getJwt('shop-name', API_KEY, 'wrong-secret');
    return { headers: { authorization: `Bearer ${token}` }, expect: 401 };
  },
};

async function send(route, cred, { csrf = true } = {}) {
  const c = await CREDENTIALS[cred](route.path);
  const headers = { ...(c.headers || {}) };
  const init = { method: route.method, headers };
  if (route.body) {
    headers['content-type'] = 'application/json';
    init.body = JSON.stringify(route.body);
  }
  if (csrf && c.csrf && route.method !== 'GET') {
    headers['x-csrf-token'] = c.csrf;
  }
  const res = await fetch(url(c.path || route.path), init);
  return { res, c };
}

test('every route × every credential gives the expected status', async () => {
  const failures = [];
  for (const route of ROUTES) {
    for (const cred of Object.keys(CREDENTIALS)) {
      const { res, c } = await send(route, cred);
      const allowed = c.role && RANK[c.role] >= RANK[route.role];
      const want = c.expect ?? (allowed ? 'ok' : 403);
      const got = res.status;
      const ok = want === 'ok' ? got >= 200 && got < 300 || got === 409
        : got === want;
      if (!ok) failures.push(`${route.method} ${route.path} as ${cred}: `
        + `${got}, wanted ${want}`);
      await res.arrayBuffer();
    }
  }
  assert.deepEqual(failures, []);
});

test('state-changing routes without a CSRF token are refused', async () => {
  for (const route of ROUTES.filter((r) => r.method !== 'GET')) {
    for (const cred of ['admin', 'sessionCookie']) {
      const { res } = await send(route, cred, { csrf: false });
      assert.equal(res.status, 403, `${route.path} as ${cred}`);
      assert.match((await res.json()).error.message, /CSRF/);
    }
    const { res, c } = await send(route, 'fulfiller', { csrf: false });
    const wrong = await fetch(url(c.path), {
      method: 'POST', headers: {
        'content-type': 'application/json',
        'x-csrf-token': await csrfFor(VIEWER),
      }, body: JSON.stringify(route.body),
    });
    assert.equal(res.status, 403);
    assert.equal(wrong.status, 403, 'another person\'s token is refused');
  }
});

test('a sign-in link works once, sets a strict cookie, and logout ends it',
  async () => {
    const link = cli('login-url', '--customer', FULFILLER, '--base',
      server.url).trim();
    assert.match(link, /\/auth\/handoff\?token=/);
    const first = await fetch(link, { redirect: 'manual' });
    assert.equal(first.status, 200);
    const setCookie = first.headers.get('set-cookie');
    assert.match(setCookie, /^pd_session=[^;]+; Path=\/; Max-Age=43200; /);
    assert.match(setCookie, /HttpOnly/);
    assert.match(setCookie, /SameSite=Strict/);
    assert.doesNotMatch(setCookie, /Secure/, 'loopback serves plain HTTP');
    const replay = await fetch(link, { redirect: 'manual' });
    assert.equal(replay.status, 401, 'a replayed link is refused');

    const cookie = setCookie.split(';')[0];
    const me = await (await fetch(url('/auth/whoami'),
      { headers: { cookie } })).json();
    assert.equal(me.via, 'session');
    const out = await fetch(url('/auth/logout'), {
      method: 'POST', headers: { cookie, 'x-csrf-token': me.csrf_token },
    });
    assert.equal(out.status, 200);
    assert.match(out.headers.get('set-cookie'), /Max-Age=0/);
    const after = await fetch(url('/auth/whoami'), { headers: { cookie } });
    assert.equal(after.status, 401, 'the old cookie no longer works');
  });

test('an expired sign-in link is refused', async () => {
  const token = mintToken('handoff', `customer:${ADMIN}`,
    Math.floor(Date.now() / 1000) - 1);
  const res = await fetch(url(`/auth/handoff?token=${token}`));
  assert.equal(res.status, 401);
  assert.match(await res.text(), /expired/);
});

test('a proxied page offers a direct link that opens a session', async () => {
  const res = await fetch(url(await proxied('/auth/direct-link', VIEWER)));
  assert.equal(res.status, 200);
  const { url: link, expires_in: ttl } = await res.json();
  assert.equal(ttl, 60);
  const opened = await fetch(link.replace(/^https?:\/\/[^/]+/, server.url));
  assert.equal(opened.status, 200);
  assert.match(opened.headers.get('set-cookie'), /^pd_session=/);
});

test('Shopify admin session tokens: accepted, and every bad one refused',
  async () => {
    const ok = await getJwt('shop-name', API_KEY, SECRET);
    const good = await fetch(url('/auth/whoami'),
      { headers: { authorization: `Bearer ${ok.token}` } });
    assert.equal(good.status, 200);
    assert.equal((await good.json()).via, 'bearer');

    const now = Date.now() / 1000;
    const bad = {
      expired: (await getJwt('shop-name', API_KEY, SECRET,
        { exp: now - 60, nbf: now - 120 })).token,
      notYetValid: (await getJwt('shop-name', API_KEY, SECRET,
        { nbf: now + 60 })).token,
      wrongAudience: (await getJwt('shop-name', 'other-app', SECRET)).token,
      wrongShop: (await getJwt('other-shop', API_KEY, SECRET)).token,
      notStaff: (await getJwt('shop-name', API_KEY, SECRET,
        { sub: '777' })).token,
    };
    const { privateKey } = await generateKeyPair('RS256');
    bad.rs256 = await new SignJWT({ ...ok.payload })
      .setProtectedHeader({ alg: 'RS256' }).sign(privateKey);
    const [, body] = ok.token.split('.');
    bad.algNone = `${Buffer.from('{"alg":"none","typ":"JWT"}')
      .toString('base64url')}.${body}.`;
    for (const [name, token] of Object.entries(bad)) {
      const res = await fetch(url('/auth/whoami'),
        { headers: { authorization: `Bearer ${token}` } });
      assert.equal(res.status, name === 'notStaff' ? 403 : 401, name);
      if (name !== 'notStaff') {
        assert.equal(res.headers.get(
          'x-shopify-retry-invalid-session-request'), '1');
      }
    }
  });

test('the 101st request in a minute is refused with Retry-After, then the '
  + 'desk answers again', async () => {
  const own = freshState();
  const env = { ...process.env, ...ENV, DATABASE_URL: own.databaseUrl,
    PRINTDESK_DATA_DIR: join(own.dir, 'data') };
  execFileSync(BIN, ['staff', 'add', VIEWER, '--role', 'viewer'], { env });
  const limited = await startServer({ state: own, env: ENV });
  try {
    const link = execFileSync(BIN, ['login-url', '--customer', VIEWER,
      '--base', limited.url], { env }).toString().trim();
    const cookie = (await fetch(link)).headers.get('set-cookie')
      .split(';')[0];
    const statuses = [];
    for (let i = 0; i < 101; i++) {
      const res = await fetch(`${limited.url}/auth/whoami`,
        { headers: { cookie } });
      statuses.push(res.status);
      if (res.status === 429) {
        const retry = Number(res.headers.get('retry-after'));
        assert.ok(retry >= 1 && retry <= 60);
        assert.match((await res.json()).error.message, /try again in \d+ s/);
      } else {
        await res.arrayBuffer();
      }
    }
    assert.deepEqual(statuses.slice(0, 100), Array(100).fill(200));
    assert.equal(statuses[100], 429);
    await sleep(1200);
    const again = await fetch(`${limited.url}/auth/whoami`,
      { headers: { cookie } });
    assert.equal(again.status, 200);
  } finally {
    assert.deepEqual(await limited.stop(), { code: 0, signal: null });
    own.cleanup();
  }
});

test('public upload routes are limited per client address', async () => {
  const limited = await startServer({ env: { ...ENV,
    PUBLIC_RATE_PER_MINUTE: '5' } });
  try {
    const statuses = [];
    for (let i = 0; i < 6; i++) {
      const res = await fetch(`${limited.url}/_test/limited`,
        { method: 'POST', body: 'x' });
      statuses.push(res.status);
      await res.arrayBuffer();
    }
    assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429]);
  } finally {
    assert.deepEqual(await limited.stop(), { code: 0, signal: null });
  }
});

test('refusals are logged with a reason and counted, without secrets',
  async () => {
    const signed = await proxied('/auth/whoami', ADMIN);
    const sig = signed.match(/signature=([0-9a-f]+)/)[1];
    await fetch(url(flipSignature(signed)));
    await sleep(50);
    const line = server.logs().reverse().find((l) => l.reason);
    assert.equal(line.reason, 'bad_proxy_signature');
    assert.equal(line.route, '/auth/whoami');
    assert.equal(line.remoteIp, '127.0.0.1');
    assert.ok(!server.stderr.includes(sig.slice(1)), 'no signature in logs');
    assert.ok(!server.stderr.includes(SECRET), 'no secret in logs');
    const metrics = await (await fetch(url('/metrics'))).text();
    assert.match(metrics,
      /auth_refusals_total\{reason="bad_proxy_signature"\} [1-9]/);
  });

test('staff actions land in the audit log with who and from where',
  async () => {
    const csrf = await csrfFor(FULFILLER);
    const res = await fetch(url(await proxied('/api/v1/orders/1003/notes',
      FULFILLER)), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrf },
      body: JSON.stringify({ body: 'Audit me' }),
    });
    assert.equal(res.status, 200, await res.text());
    const rows = execFileSync(state.databaseUrl.startsWith('sqlite:')
      ? 'sqlite3' : 'psql', state.databaseUrl.startsWith('sqlite:')
      ? [state.databaseUrl.slice(7), 'SELECT actor, remote_addr FROM '
        + 'audit_log WHERE actor = \'customer:1002\'']
      : [state.databaseUrl, '-qAtc', 'SELECT actor, remote_addr FROM '
        + 'audit_log WHERE actor = \'customer:1002\'']).toString();
    assert.match(rows, /customer:1002\|127\.0\.0\.1/);
  });

test('disabling a staff member locks them out within seconds', async () => {
  const LATE = '1005';
  cli('staff', 'add', LATE, '--role', 'viewer');
  assert.equal((await whoamiVia(LATE)).status, 200);
  cli('staff', 'disable', LATE);
  await sleep(2100);
  assert.equal((await whoamiVia(LATE)).status, 403);
  cli('staff', 'add', LATE, '--role', 'fulfiller');
  await sleep(2100);
  const back = await whoamiVia(LATE);
  assert.equal(back.status, 200, 'adding again re-enables them');
  assert.equal((await back.json()).role, 'fulfiller');
});

test('bad staff commands explain themselves', async () => {
  const env = { DATABASE_URL: state.databaseUrl,
    PRINTDESK_DATA_DIR: join(state.dir, 'data') };
  const badRole = await runPrintdesk(['staff', 'add', '77', '--role', 'boss'],
    { env });
  assert.equal(badRole.code, 2);
  assert.match(badRole.stderr, /viewer, fulfiller or admin/);
  const badId = await runPrintdesk(['staff', 'add', 'x1', '--role', 'viewer'],
    { env });
  assert.equal(badId.code, 2);
  const missing = await runPrintdesk(['staff', 'disable', '424242'], { env });
  assert.equal(missing.code, 1);
  assert.match(missing.stderr, /no staff member customer:424242/);
  const noCustomer = await runPrintdesk(['login-url'], { env });
  assert.equal(noCustomer.code, 2);
  const withFlags = await runPrintdesk(['staff', 'add', '88', '--log-format',
    'text', '--role', 'viewer', '--log-level', 'warning'], { env });
  assert.equal(withFlags.code, 0, withFlags.stderr);
  assert.match((await runPrintdesk(['staff', 'list'], { env })).stdout,
    /customer\s+88\s+viewer/);
});
