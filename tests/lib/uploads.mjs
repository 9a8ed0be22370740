// uploads.mjs — helpers of the upload tests: the generated corpus of odd
// and hostile files (build/tests/tools/make-corpus), multipart uploads as
// a browser sends them, what the server left in storage and the database,
// staff-signed GETs, JPEG metadata and /metrics readings.
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { BACKEND, BIN, runPrintdesk } from './server.mjs';
import { API_KEY, DATA_KEY, SECRET, SHOP, proxied } from './shopify.mjs';

// What the server needs to check App Proxy signatures of staff requests.
export const STAFF_ENV = {
  SHOPIFY_SHOP: SHOP, SHOPIFY_APP_SECRET: SECRET, SHOPIFY_API_KEY: API_KEY,
  PRINTDESK_DATA_KEY: DATA_KEY,
};

// The build folder: PRINTDESK_BUILD_DIR, else the folder of PRINTDESK_BIN.
export function buildDir() {
  return process.env.PRINTDESK_BUILD_DIR || dirname(resolve(BIN));
}

export const CORPUS_TOOL = join(buildDir(), 'tests', 'tools', 'make-corpus');

export const sha256 = (buf) => createHash('sha256').update(buf).digest('hex');

export const newSessionId = () => 's_' + randomBytes(8).toString('hex');

// Writes the corpus into a new temporary folder (or dir); resolves
// {dir, files, get(name)}; each file has the manifest's fields plus its
// bytes and sha256.
export function corpus(dir = mkdtempSync(join(tmpdir(), 'pd-corpus-'))) {
  const out = execFileSync(CORPUS_TOOL, [dir], {
    maxBuffer: 1 << 20, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const manifest = JSON.parse(out.toString());
  const files = manifest.files.map((f) => {
    const bytes = readFileSync(f.path);
    return { ...f, bytes, sha256: sha256(bytes) };
  });
  const byName = new Map(files.map((f) => [f.name, f]));
  return {
    dir: manifest.dir,
    files,
    get(name) {
      const f = byName.get(name);
      if (!f) throw new Error(`${name} is not in the corpus`);
      return f;
    },
  };
}

// Size, orientation tag and mean colours of the top, bottom, left and
// right quarters of a picture (given as bytes), as stored.
export function probe(bytes) {
  const dir = mkdtempSync(join(tmpdir(), 'pd-probe-'));
  const path = join(dir, 'picture');
  try {
    writeFileSync(path, bytes);
    return JSON.parse(execFileSync(CORPUS_TOOL, ['--probe', path])
      .toString());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// POSTs multipart/form-data as the storefront does. Fields whose option
// is undefined are left out; fileFirst puts the file before the fields.
// Resolves {status, headers, body (parsed JSON or text)}.
export async function uploadMultipart(url, {
  file, filename = 'photo.jpg', contentType = 'image/jpeg', sessionId,
  imageType, petIndex, origin, fileFirst = false, headers = {},
} = {}) {
  const form = new FormData();
  const addFile = () => {
    if (file !== undefined) {
      form.append('image', new Blob([file], { type: contentType }),
        filename);
    }
  };
  if (fileFirst) addFile();
  if (sessionId !== undefined) form.append('session_id', sessionId);
  if (imageType !== undefined) form.append('image_type', imageType);
  if (petIndex !== undefined) form.append('pet_index', String(petIndex));
  if (!fileFirst) addFile();
  const res = await fetch(url, {
    method: 'POST', body: form,
    headers: { ...(origin ? { origin } : {}), ...headers },
  });
  const text = await res.text();
  let body = text;
  try { body = JSON.parse(text); } catch { /* not JSON: keep the text */ }
  return { status: res.status, headers: res.headers, body };
}

// Every file under objects/, as paths relative to that folder, sorted.
export function listObjects(state) {
  const root = join(state.dir, 'objects');
  const found = [];
  const walk = (dir) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch (err) {
      if (err.code === 'ENOENT') return;
      throw err;
    }
    for (const e of entries) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else found.push(relative(root, p));
    }
  };
  walk(root);
  return found.sort();
}

export function readObject(state, key) {
  return readFileSync(join(state.dir, 'objects', key));
}

// Runs a SELECT on the test database; resolves an array of row objects.
export function dbQuery(state, sql) {
  if (BACKEND === 'postgres') {
    const out = execFileSync('psql', [state.databaseUrl, '-qAt', '-c',
      `SELECT coalesce(json_agg(t), '[]') FROM (${sql}) t`]);
    return JSON.parse(out.toString());
  }
  const path = state.databaseUrl.replace(/^sqlite:/, '');
  const out = execFileSync('sqlite3', ['-json', path, sql]).toString();
  return out.trim() === '' ? [] : JSON.parse(out);
}

// Runs a statement that changes the test database (no rows back).
export function dbExec(state, sql) {
  if (BACKEND === 'postgres') {
    execFileSync('psql', [state.databaseUrl, '-qAtc', sql]);
  } else {
    execFileSync('sqlite3', [state.databaseUrl.replace(/^sqlite:/, ''), sql]);
  }
}

// Adds a staff member with the printdesk CLI.
export async function addStaff(state, customerId, role = 'viewer') {
  const res = await runPrintdesk(['staff', 'add', customerId, '--role', role],
    {
      env: {
        ...STAFF_ENV, DATABASE_URL: state.databaseUrl,
        STORAGE_URL: `file:${join(state.dir, 'objects')}`,
        PRINTDESK_DATA_DIR: join(state.dir, 'data'),
      },
    });
  if (res.code !== 0) throw new Error(`staff add failed: ${res.stderr}`);
}

// A GET signed as the App Proxy signs a staff member's request.
export async function staffGet(server, path, customerId) {
  return fetch(`${server.url}${await proxied(path, customerId)}`);
}

// The segments of a JPEG before its image data: [{marker, data}].
export function jpegSegments(buf) {
  if (buf[0] !== 0xff || buf[1] !== 0xd8) throw new Error('not a JPEG');
  const segments = [];
  let at = 2;
  while (at + 4 <= buf.length && buf[at] === 0xff) {
    const marker = buf[at + 1];
    if (marker === 0xda || marker === 0xd9) break; /* scan or end */
    const len = buf.readUInt16BE(at + 2);
    segments.push({ marker, data: buf.subarray(at + 4, at + 2 + len) });
    at += 2 + len;
  }
  return segments;
}

// The EXIF (APP1 "Exif\0\0") payload of a JPEG, or null.
export function exifOf(buf) {
  const app1 = jpegSegments(buf).find((s) => s.marker === 0xe1
    && s.data.subarray(0, 6).equals(Buffer.from('Exif\0\0', 'latin1')));
  return app1 ? app1.data.subarray(6) : null;
}

// Reads the entries of one TIFF IFD: Map tag -> {type, count, at}.
function readIfd(tiff, offset, le) {
  const u16 = (o) => (le ? tiff.readUInt16LE(o) : tiff.readUInt16BE(o));
  const u32 = (o) => (le ? tiff.readUInt32LE(o) : tiff.readUInt32BE(o));
  const sizes = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8 };
  const entries = new Map();
  const n = u16(offset);
  for (let i = 0; i < n; i++) {
    const e = offset + 2 + 12 * i;
    const type = u16(e + 2), count = u32(e + 4);
    const inline = (sizes[type] || 1) * count <= 4;
    entries.set(u16(e), { type, count, at: inline ? e + 8 : u32(e + 8) });
  }
  return { entries, u16, u32 };
}

// The orientation and GPS latitude an EXIF block holds (null when absent).
export function exifFacts(exif) {
  const le = exif.subarray(0, 2).toString('latin1') === 'II';
  const ifd0 = readIfd(exif, le ? exif.readUInt32LE(4)
    : exif.readUInt32BE(4), le);
  const orient = ifd0.entries.get(0x0112);
  const facts = {
    orientation: orient ? ifd0.u16(orient.at) : null,
    gpsLatitudeRef: null, gpsLatitude: null,
  };
  const gpsPtr = ifd0.entries.get(0x8825);
  if (!gpsPtr) return facts;
  const gps = readIfd(exif, ifd0.u32(gpsPtr.at), le);
  const ref = gps.entries.get(1), lat = gps.entries.get(2);
  if (ref) facts.gpsLatitudeRef = exif.toString('latin1', ref.at, ref.at + 1);
  if (lat) {
    facts.gpsLatitude = [0, 1, 2].map((i) => gps.u32(lat.at + 8 * i)
      / gps.u32(lat.at + 8 * i + 4));
  }
  return facts;
}

// Reads /metrics; resolves a function giving a sample's value (0 when
// the sample is absent), e.g. m('image_uploads_total', {result: 'ok'}).
export async function metrics(server) {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return (name, labels = {}) => {
    const want = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
    for (const line of text.split('\n')) {
      const m = line.match(/^([a-z_]+)(?:\{([^}]*)\})? ([0-9.e+]+)$/);
      if (!m || m[1] !== name) continue;
      const have = (m[2] || '').split(',').filter(Boolean);
      if (want.every((w) => have.includes(w))
        && have.length === want.length) return Number(m[3]);
    }
    return 0;
  };
}

// The resident set (now and peak) of a process, in MiB, from /proc.
export function residentMiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(status.match(new RegExp(`${key}:\\s+(\\d+)`))[1]);
  return { rss: kb('VmRSS') / 1024, peak: kb('VmHWM') / 1024 };
}

// Whether a running process carries AddressSanitizer (which keeps freed
// memory in quarantine, so its resident size says little).
export function isSanitized(pid) {
  return /libasan|libclang_rt\.asan/.test(
    readFileSync(`/proc/${pid}/maps`, 'utf8'));
}
