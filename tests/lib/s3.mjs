// s3.mjs — an S3-protocol server for the tests. s3rver keeps the objects
// in a folder but checks no signatures, so a proxy in front of it checks
// every request the way S3 does: the AWS Signature V4 recomputed with
// AWS's own signer (@smithy/signature-v4), the payload hash against the
// body, the clock, and that every x-amz-* header is signed; a mismatch is
// refused with S3's status and <Error> document. The proxy also does the
// multipart work s3rver lacks (aborting an upload, refusing unknown
// upload ids, checking the parts named at completion), orders and pages
// listings by key as S3 does (s3rver orders them by its file names),
// refuses ranges past the end (s3rver hangs on some), lets one change
// through at a time (s3rver races its folders otherwise), and injects the
// failures a test asks for: a 503 for the first request per key under
// temporary/flaky/, a download cut part-way for the first GET per key
// under temporary/cut-once/, or anything onRequest does.
import http from 'node:http';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SignatureV4 } from '@smithy/signature-v4';
import { Hash } from '@smithy/hash-node';

export const ACCESS_KEY = 'PDTESTACCESSKEY0001';
export const SECRET_KEY = 'pd/Test+Secret=Key/0123456789abcdefghijk';
export const REGION = 'us-east-1';
const MiB = 1024 * 1024;
const MIN_PART = 5 * MiB;
const SKEW_MS = 15 * 60 * 1000;
const CUT_AFTER = 256 * 1024;
const AUTH_RE = new RegExp('^AWS4-HMAC-SHA256 Credential=([^/,\\s]+)/(\\d{8})/'
  + '([^/,\\s]+)/([^/,\\s]+)/aws4_request,\\s*SignedHeaders=([a-z0-9;-]+),'
  + '\\s*Signature=([0-9a-f]{64})$');

const S3RVER_MAIN = join(dirname(fileURLToPath(import.meta.url)),
  's3rver-main.mjs');
const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');
const md5 = (buf) => createHash('md5').update(buf).digest('hex');
const xmlEscape = (s) => String(s).replace(/[<>&"']/g, (c) => ({
  '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' }[c]));
const xmlUnescape = (s) => s.replace(/&(lt|gt|amp|quot|apos);/g, (_, e) => ({
  lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" }[e]));

class S3Refusal extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

function sendError(res, status, code, message) {
  const body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>'
    + `${code}</Code><Message>${xmlEscape(message)}</Message></Error>`;
  res.writeHead(status, { 'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body) });
  res.end(body);
}

// "/bucket/key?a=1&b" → { path, bucket, key, query: {a: '1', b: ''} }.
// Query values are percent-decoded only ('+' stays '+', as S3 reads it).
export function splitTarget(target) {
  const q = target.indexOf('?');
  const path = q < 0 ? target : target.slice(0, q);
  const query = {};
  for (const part of q < 0 ? [] : target.slice(q + 1).split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const k = decodeURIComponent(eq < 0 ? part : part.slice(0, eq));
    const v = eq < 0 ? '' : decodeURIComponent(part.slice(eq + 1));
    query[k] = k in query ? [].concat(query[k], v) : v;
  }
  const [, bucket = '', ...rest] = path.split('/');
  return { path, bucket, key: decodeURIComponent(rest.join('/')), query };
}

function signer(secret, region) {
  return new SignatureV4({
    credentials: { accessKeyId: ACCESS_KEY, secretAccessKey: secret },
    region, service: 's3', sha256: Hash.bind(null, 'sha256'),
    uriEscapePath: false, applyChecksum: false,
  });
}

function amzDateOf(text) {
  const m = /^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/.exec(text || '');
  return m ? new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}Z`)
    : null;
}

// Checks the request as S3 would; throws S3Refusal when it would refuse.
async function verify(srv, req, target, body) {
  const auth = req.headers.authorization;
  if (!auth) throw new S3Refusal(403, 'AccessDenied', 'Access Denied');
  const m = AUTH_RE.exec(auth);
  if (!m) {
    throw new S3Refusal(400, 'AuthorizationHeaderMalformed',
      'The authorization header is malformed');
  }
  const [, keyId, day, region, service, signedList, signature] = m;
  if (keyId !== ACCESS_KEY) {
    throw new S3Refusal(403, 'InvalidAccessKeyId', 'The AWS Access Key Id '
      + 'you provided does not exist in our records.');
  }
  if (region !== srv.region || service !== 's3') {
    throw new S3Refusal(400, 'AuthorizationHeaderMalformed',
      `the region '${region}' or service '${service}' is wrong; expecting `
      + `'${srv.region}' and 's3'`);
  }
  const signed = signedList.split(';');
  checkHeaders(req, signed, day);
  checkPayload(req, body);
  const date = amzDateOf(req.headers['x-amz-date']);
  const headers = {};
  for (const name of signed) headers[name] = req.headers[name];
  const out = await signer(srv.secret, region).sign({
    method: req.method, protocol: 'http:', hostname: 'unused',
    path: target.path, query: target.query, headers,
  }, { signingDate: date, signableHeaders: new Set(signed) });
  const want = /Signature=([0-9a-f]{64})/.exec(out.headers.authorization)[1];
  if (want !== signature) {
    srv.stats.refused++;
    throw new S3Refusal(403, 'SignatureDoesNotMatch', 'The request '
      + 'signature we calculated does not match the signature you provided. '
      + 'Check your key and signing method.');
  }
}

function checkHeaders(req, signed, day) {
  for (const need of ['host', 'x-amz-date', 'x-amz-content-sha256']) {
    if (!signed.includes(need)) {
      throw new S3Refusal(403, 'AccessDenied', `${need} must be signed`);
    }
  }
  for (const name of Object.keys(req.headers)) {
    if (name.startsWith('x-amz-') && !signed.includes(name)) {
      throw new S3Refusal(403, 'AccessDenied', 'There were headers present '
        + `in the request which were not signed: ${name}`);
    }
  }
  for (const name of signed) {
    if (!(name in req.headers)) {
      throw new S3Refusal(403, 'AccessDenied', `signed header ${name} is `
        + 'missing');
    }
  }
  const date = amzDateOf(req.headers['x-amz-date']);
  if (!date || !req.headers['x-amz-date'].startsWith(day)) {
    throw new S3Refusal(403, 'AccessDenied', 'X-Amz-Date is not a date of '
      + 'the credential scope');
  }
  if (Math.abs(Date.now() - date.getTime()) > SKEW_MS) {
    throw new S3Refusal(403, 'RequestTimeTooSkewed', 'The difference '
      + 'between the request time and the current time is too large.');
  }
}

function checkPayload(req, body) {
  const claimed = req.headers['x-amz-content-sha256'];
  if (claimed === 'UNSIGNED-PAYLOAD') return;
  if (!/^[0-9a-f]{64}$/.test(claimed)) {
    throw new S3Refusal(400, 'InvalidArgument',
      'x-amz-content-sha256 must be UNSIGNED-PAYLOAD or a SHA-256 value');
  }
  if (sha256(body) !== claimed) {
    throw new S3Refusal(400, 'XAmzContentSHA256Mismatch', 'The provided '
      + "'x-amz-content-sha256' header does not match what was computed.");
  }
}

function readBody(req) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

// ---- multipart uploads: what s3rver does not check ------------------------

function uploadDir(srv, uploadId) {
  if (!/^[A-Za-z0-9._-]+$/.test(uploadId)) {
    throw new S3Refusal(404, 'NoSuchUpload', 'The specified upload does '
      + 'not exist.');
  }
  return join(srv.dir, srv.bucket, '._S3rver_uploads', uploadId);
}

function requireUpload(srv, uploadId) {
  const dir = uploadDir(srv, uploadId);
  if (!existsSync(dir)) {
    throw new S3Refusal(404, 'NoSuchUpload', 'The specified upload does '
      + 'not exist. The upload ID may be invalid, or the upload may have '
      + 'been aborted or completed.');
  }
  return dir;
}

// The parts a CompleteMultipartUpload names must be the ones sent, in
// order, and all but the last at least 5 MiB.
function checkCompletion(dir, body) {
  const partRe = new RegExp('<Part>\\s*<PartNumber>(\\d+)</PartNumber>\\s*'
    + '<ETag>([^<]*)</ETag>\\s*</Part>', 'g');
  const parts = [...body.toString().matchAll(partRe)]
    .map(([, n, etag]) => ({ n: Number(n), etag: xmlUnescape(etag) }));
  if (parts.length === 0) {
    throw new S3Refusal(400, 'MalformedXML', 'The XML you provided was not '
      + 'well-formed or did not validate against our published schema');
  }
  parts.forEach(({ n, etag }, i) => {
    if (i > 0 && n <= parts[i - 1].n) {
      throw new S3Refusal(400, 'InvalidPartOrder', 'The list of parts was '
        + 'not in ascending order.');
    }
    const file = join(dir, String(n));
    if (!existsSync(file) || `"${md5(readFileSync(file))}"` !== etag) {
      throw new S3Refusal(400, 'InvalidPart', `part ${n} was not found or `
        + 'its ETag does not match');
    }
    if (i < parts.length - 1 && statSync(file).size < MIN_PART) {
      throw new S3Refusal(400, 'EntityTooSmall', 'Your proposed upload is '
        + 'smaller than the minimum allowed object size.');
    }
  });
}

// Answers what S3 does for multipart uploads and s3rver does not; true
// when it answered.
function multipart(srv, req, res, target, body) {
  const id = target.query.uploadId;
  if (id === undefined) return false;
  if (req.method === 'DELETE') {
    rmSync(requireUpload(srv, id), { recursive: true, force: true });
    srv.stats.aborts++;
    res.writeHead(204);
    res.end();
    return true;
  }
  const dir = requireUpload(srv, id);
  if (req.method === 'POST') checkCompletion(dir, body);
  return false;
}

// ---- ranges: S3 refuses one that starts at or past the end ----------------

function objectSize(srv, key) {
  const file = join(srv.dir, srv.bucket, `${key}._S3rver_object`);
  return existsSync(file) ? statSync(file).size : -1;
}

function checkRange(srv, req, target) {
  const m = /^bytes=(\d+)-(\d*)$/.exec(req.headers.range || '');
  if (req.method !== 'GET' || !m) return;
  const size = objectSize(srv, target.key);
  if (size >= 0 && Number(m[1]) >= size) {
    throw new S3Refusal(416, 'InvalidRange', 'The requested range is not '
      + 'satisfiable');
  }
}

// ---- listings: s3rver orders them by its file names, S3 by key ------------

function askS3rver(srv, path) {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: srv.s3rverPort, path, agent: false },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode,
          body: Buffer.concat(chunks).toString() }));
      }).on('error', reject);
  });
}

// ListObjectsV2 as S3 answers it: keys in UTF-8 byte order, max-keys at a
// time, with an opaque continuation token (base64 of the last key given).
async function listObjectsV2(srv, res, target) {
  const q = target.query;
  const prefix = q.prefix || '';
  const maxKeys = Math.min(Number(q['max-keys'] ?? 1000), 1000);
  const after = q['continuation-token'] !== undefined
    ? Buffer.from(q['continuation-token'], 'base64').toString()
    : (q['start-after'] || '');
  const up = await askS3rver(srv, `/${srv.bucket}?list-type=2&max-keys=1000`
    + `&prefix=${encodeURIComponent(prefix)}`);
  if (up.status !== 200 || /<IsTruncated>true/.test(up.body)) {
    throw new S3Refusal(500, 'InternalError', `listing ${prefix}: ${up.body}`);
  }
  const items = [...up.body.matchAll(/<Contents>[\s\S]*?<\/Contents>/g)]
    .map(([xml]) => ({ xml,
      key: Buffer.from(xmlUnescape(/<Key>([^<]*)<\/Key>/.exec(xml)[1])) }))
    .sort((a, b) => Buffer.compare(a.key, b.key))
    .filter((i) => Buffer.compare(i.key, Buffer.from(after)) > 0);
  const page = items.slice(0, maxKeys);
  const more = items.length > maxKeys;
  const token = more ? page[page.length - 1].key.toString('base64') : null;
  const body = '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult '
    + 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
    + `<Name>${srv.bucket}</Name><Prefix>${xmlEscape(prefix)}</Prefix>`
    + `<KeyCount>${page.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys>`
    + `<IsTruncated>${more}</IsTruncated>`
    + (token ? `<NextContinuationToken>${token}</NextContinuationToken>` : '')
    + page.map((i) => i.xml).join('') + '</ListBucketResult>';
  res.writeHead(200, { 'content-type': 'application/xml',
    'content-length': Buffer.byteLength(body) });
  res.end(body);
}

function isListing(req, target) {
  return req.method === 'GET' && target.key === ''
    && target.query['list-type'] === '2';
}

// ---- injected failures ----------------------------------------------------

function injectFlaky(srv, req, res, target) {
  if (!target.key.startsWith('temporary/flaky/')) return false;
  const seen = `${req.method} ${target.key}`;
  if (srv.flakySeen.has(seen)) return false;
  srv.flakySeen.add(seen);
  srv.stats.flaky++;
  sendError(res, 503, 'SlowDown', 'Please reduce your request rate.');
  return true;
}

function wantsCut(srv, req, target) {
  if (req.method !== 'GET' || !target.key.startsWith('temporary/cut-once/')
    || srv.cutSeen.has(target.key)) return false;
  srv.cutSeen.add(target.key);
  return true;
}

// ---- forwarding -----------------------------------------------------------

// Sends the request on to s3rver and its answer back (cut part-way when
// asked); resolves when the answer is through.
function forward(srv, req, res, body, cut) {
  const headers = { ...req.headers, 'content-length': String(body.length) };
  delete headers.authorization;
  delete headers.expect;
  delete headers['transfer-encoding'];
  return new Promise((resolve) => {
    const up = http.request({ host: '127.0.0.1', port: srv.s3rverPort,
      method: req.method, path: req.url, headers, agent: false }, (ures) => {
      res.writeHead(ures.statusCode, ures.headers);
      let sent = 0;
      ures.on('data', (chunk) => {
        sent += chunk.length;
        if (cut && sent > CUT_AFTER) {
          srv.stats.cuts++;
          ures.destroy();
          res.socket?.destroy();
          resolve();
          return;
        }
        res.write(chunk);
      });
      ures.on('end', () => { res.end(); resolve(); });
      ures.on('error', resolve);
    });
    up.on('error', () => { res.socket?.destroy(); resolve(); });
    up.end(body);
  });
}

// s3rver writes an object into a folder and removes the folders a delete
// leaves empty, so a put beside a concurrent delete can find its folder
// gone (and crash s3rver): changes go through one at a time.
function forwardChange(srv, req, res, body, cut) {
  if (req.method === 'GET' || req.method === 'HEAD') {
    return forward(srv, req, res, body, cut);
  }
  const turn = srv.changes.then(() => forward(srv, req, res, body, cut));
  srv.changes = turn;
  return turn;
}

async function handle(srv, req, res) {
  const body = await readBody(req);
  const target = splitTarget(req.url);
  try {
    await verify(srv, req, target, body);
    srv.stats.requests++;
    srv.log.push({ method: req.method, key: target.key, query: target.query,
      bytes: body.length,
      storageClass: req.headers['x-amz-storage-class'] });
    if (srv.onRequest && await srv.onRequest({ req, res, target, body })) {
      return;
    }
    if (injectFlaky(srv, req, res, target)) return;
    if (multipart(srv, req, res, target, body)) return;
    if (isListing(req, target)) return await listObjectsV2(srv, res, target);
    checkRange(srv, req, target);
    await forwardChange(srv, req, res, body, wantsCut(srv, req, target));
  } catch (err) {
    if (!(err instanceof S3Refusal)) throw err;
    srv.refusals.push({ status: err.status, code: err.code,
      method: req.method, key: target.key });
    sendError(res, err.status, err.code, err.message);
  }
}

// ---- the server -----------------------------------------------------------

// Starts s3rver (one bucket) and the checking proxy. Resolves the server:
// { url, port, bucket, dir, stats, refusals, log, onRequest, stop(),
//   start(), uploads(), objects(), storageUrl(params), env }.
export async function startS3({ bucket = 'photos', dir, port = 0,
  verbose = false } = {}) {
  const srv = {
    bucket, region: REGION, secret: SECRET_KEY, port, verbose,
    dir: dir || mkdtempSync(join(tmpdir(), 'pd-s3-')),
    stats: { requests: 0, refused: 0, flaky: 0, cuts: 0, aborts: 0 },
    refusals: [], log: [], flakySeen: new Set(), cutSeen: new Set(),
    onRequest: null, sockets: new Set(), running: false,
    changes: Promise.resolve(),
    env: { AWS_ACCESS_KEY_ID: ACCESS_KEY, AWS_SECRET_ACCESS_KEY: SECRET_KEY },
  };
  srv.start = async () => { if (!srv.running) await startServers(srv); };
  srv.stop = () => stopServers(srv);
  srv.uploads = () => pendingUploads(srv);
  srv.objects = () => storedObjects(srv);
  srv.storageUrl = (params = {}) => {
    const q = new URLSearchParams({ endpoint: srv.url, region: REGION,
      ...params });
    return `s3://${bucket}?${q.toString()}`;
  };
  srv.remove = () => rmSync(srv.dir, { recursive: true, force: true });
  await srv.start();
  return srv;
}

// Starts s3rver's process; resolves its port.
function startS3rver(srv) {
  const child = spawn(process.execPath, ['--openssl-legacy-provider',
    S3RVER_MAIN, srv.dir, srv.bucket, srv.verbose ? 'verbose' : 'quiet'],
  { stdio: ['pipe', 'pipe', 'inherit'] });
  srv.child = child;
  return new Promise((resolve, reject) => {
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line).port);
      if (srv.verbose) process.stderr.write(d);
    });
    child.on('exit', (code) => reject(new Error(`s3rver exited (${code})`)));
  });
}

async function startServers(srv) {
  srv.s3rverPort = await startS3rver(srv);
  srv.proxy = http.createServer((req, res) => {
    handle(srv, req, res).catch((err) => {
      srv.refusals.push({ status: 500, code: 'ProxyError',
        message: String(err) });
      if (!res.headersSent) sendError(res, 500, 'InternalError', String(err));
    });
  });
  srv.proxy.on('connection', (s) => {
    srv.sockets.add(s);
    s.on('close', () => srv.sockets.delete(s));
  });
  await new Promise((resolve, reject) => {
    srv.proxy.once('error', reject);
    srv.proxy.listen(srv.port, '127.0.0.1', resolve);
  });
  srv.port = srv.proxy.address().port;
  srv.url = `http://127.0.0.1:${srv.port}`;
  srv.running = true;
}

// Stops both at once, dropping every connection mid-way, as a crash would.
async function stopServers(srv) {
  if (!srv.running) return;
  srv.running = false;
  const child = srv.child;
  const exited = child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve()
    : new Promise((resolve) => child.once('close', resolve));
  child.kill('SIGKILL');
  for (const s of srv.sockets) s.destroy();
  await new Promise((resolve) => srv.proxy.close(resolve));
  await exited;
}

// Multipart uploads begun and neither completed nor aborted.
function pendingUploads(srv) {
  const root = join(srv.dir, srv.bucket, '._S3rver_uploads');
  if (!existsSync(root)) return [];
  return readdirSync(root).map((id) => ({ id,
    key: readFileSync(join(root, id, 'key'), 'utf8') }));
}

// The keys of the objects in the bucket (from s3rver's folder), sorted.
function storedObjects(srv) {
  const root = join(srv.dir, srv.bucket);
  if (!existsSync(root)) return [];
  return readdirSync(root, { recursive: true })
    .filter((p) => p.endsWith('._S3rver_object'))
    .map((p) => p.slice(0, -'._S3rver_object'.length))
    .sort();
}

// A request signed by AWS's signer (with secret, by default the right
// one), sent to the proxy; resolves {status, body}.
export async function signedRequest(srv, { method = 'GET', key = '',
  query = {}, headers = {}, body, secret = SECRET_KEY, tamper } = {}) {
  const path = `/${srv.bucket}${key ? '/' + key : ''}`;
  const payload = body === undefined ? Buffer.alloc(0) : Buffer.from(body);
  const request = {
    method, protocol: 'http:', hostname: '127.0.0.1', port: srv.port, path,
    query, headers: { host: `127.0.0.1:${srv.port}`,
      'x-amz-content-sha256': sha256(payload), ...headers },
  };
  const signed = await signer(secret, REGION).sign(request);
  const qs = Object.entries(query).map(([k, v]) =>
    `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  const sent = { url: `${srv.url}${path}${qs ? '?' + qs : ''}`,
    headers: { ...signed.headers } };
  delete sent.headers.host;
  if (tamper) tamper(sent);
  const res = await fetch(sent.url, { method, headers: sent.headers,
    body: body === undefined ? undefined : payload });
  return { status: res.status, body: await res.text() };
}
