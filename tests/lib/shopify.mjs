// shopify.mjs — Shopify's side of the front door, built from Shopify's
// own library: an App Proxy signer following the documented algorithm
// (createSHA256HMAC from @shopify/shopify-api), session tokens from its
// test helpers, and printdesk's own token format for forged cookies.
import { createSHA256HMAC, HashFormat } from '@shopify/shopify-api/runtime';
import { createHmac, randomBytes } from 'node:crypto';

export const SHOP = 'shop-name.myshopify.com';
export const SECRET = 'test-app-secret-0123456789abcdef';
export const OLD_SECRET = 'previous-app-secret-fedcba9876543210';
export const API_KEY = 'test-api-key';
export const DATA_KEY = 'ab'.repeat(32);

// Decodes one query component as Rack's parse_query does.
function decode(s) {
  return decodeURIComponent(s.replace(/\+/g, ' '));
}

// The message Shopify signs: decoded k=v strings (repeated keys joined
// with ','), sorted bytewise, concatenated.
export function proxyMessage(rawQuery) {
  const values = new Map();
  for (const piece of rawQuery.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const key = decode(eq < 0 ? piece : piece.slice(0, eq));
    const value = eq < 0 ? '' : decode(piece.slice(eq + 1));
    if (key === 'signature') continue;
    if (!values.has(key)) values.set(key, []);
    values.get(key).push(value);
  }
  const pairs = [...values].map(([k, v]) => `${k}=${v.join(',')}`);
  pairs.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  return pairs.join('');
}

export async function signProxyQuery(rawQuery, secret = SECRET) {
  const sig = await createSHA256HMAC(secret, proxyMessage(rawQuery),
    HashFormat.Hex);
  return `${rawQuery}&signature=${sig}`;
}

// What the App Proxy adds to a staff member's request.
export async function proxied(path, customerId, {
  extra = '', secret = SECRET, shop = SHOP,
  timestamp = Math.floor(Date.now() / 1000),
} = {}) {
  const q = [extra, `shop=${shop}`, `logged_in_customer_id=${customerId}`,
    'path_prefix=%2Fapps%2Ffulfillment', `timestamp=${timestamp}`]
    .filter(Boolean).join('&');
  return `${path}?${await signProxyQuery(q, secret)}`;
}

const b64url = (buf) => Buffer.from(buf).toString('base64url');

// A printdesk token (hand-off or session) minted with the app secret.
export function mintToken(purpose, subject, expiresS, secret = SECRET) {
  const key = createHmac('sha256', secret).update(`printdesk/${purpose}`)
    .digest();
  const payload = `v1|${subject}|${expiresS}|${randomBytes(16)
    .toString('hex')}`;
  const mac = createHmac('sha256', key).update(payload).digest();
  return `${b64url(payload)}.${b64url(mac)}`;
}
