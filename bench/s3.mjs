// s3.mjs — the S3 backend's benchmark: printdesk (SQLite) storing on the
// S3-protocol server of the tests on this machine (s3rver behind the
// proxy that checks every signature, tests/lib/s3.mjs). For a 20 MiB and
// a 200 MiB photo, each on a fresh server: upload throughput (tus PATCHes
// of 25 MiB, as Cloud Run allows, until the photo is accepted), download
// throughput of the stored original, and printdesk's peak memory (VmHWM,
// reset before each phase) while the bytes move; the peaks must not grow
// with the photo's size. The photos are 1 MP PNGs padded with an
// ancillary chunk, so decoding them costs little and the figures are the
// storage path's. Needs the tests' npm packages (make test-deps).
//   node bench/s3.mjs PRINTDESK_BIN
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { deflateSync } from 'node:zlib';

const [bin] = process.argv.slice(2);
if (!bin) {
  console.error('usage: node bench/s3.mjs PRINTDESK_BIN');
  process.exit(2);
}
process.env.PRINTDESK_BIN = resolve(bin);
process.env.TEST_BACKEND = 'sqlite';
const { startServer } = await import('../tests/lib/server.mjs');
const { STAFF_ENV, addStaff, staffGet } =
  await import('../tests/lib/uploads.mjs');
const { startS3 } = await import('../tests/lib/s3.mjs');

const MiB = 1024 * 1024;
const STAFF = '4242';
const TUS = { 'tus-resumable': '1.0.0' };
const CHUNK = 25 * MiB;

// ---- photos ---------------------------------------------------------------

const CRC = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function pngChunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'latin1');
  let c = 0xffffffff;
  for (const buf of [head.subarray(4), data]) {
    for (let i = 0; i < buf.length; i++) {
      c = CRC[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
    }
  }
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE((c ^ 0xffffffff) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

// A 1024x1024 random-pixel PNG padded to exactly bytes with a private
// ancillary chunk ("prVt": decoders skip it; the original keeps it).
function paddedPng(bytes) {
  const width = 1024, height = 1024, stride = 1 + width * 3;
  const raw = randomBytes(stride * height);
  for (let y = 0; y < height; y++) raw[y * stride] = 0;
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  const head = Buffer.concat([Buffer.from('89504e470d0a1a0a', 'hex'),
    pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(raw, { level: 0 }))]);
  const tail = pngChunk('IEND', Buffer.alloc(0));
  const pad = Buffer.allocUnsafe(bytes - head.length - tail.length - 12);
  randomFillSync(pad);
  return Buffer.concat([head, pngChunk('prVt', pad), tail]);
}

// ---- the server's memory --------------------------------------------------

function hwmMiB(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmHWM:\s+(\d+)/.exec(text)[1]) / 1024;
}

// Starts a new peak: the kernel's high-water mark drops to the RSS now.
function resetHwm(pid) {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}

// ---- one photo, up and down -----------------------------------------------

async function tusUpload(server, png) {
  const b64 = (v) => Buffer.from(v).toString('base64');
  const created = await fetch(`${server.url}/api/v2/uploads`, {
    method: 'POST', headers: { ...TUS, 'upload-length': String(png.length),
      'upload-metadata': `session_id ${b64('bench-s3-' + png.length)},`
        + `image_type ${b64('original')},filename ${b64('big.png')}` } });
  if (created.status !== 201) throw new Error(`tus create: ${created.status}`);
  const url = new URL(created.headers.get('location'), server.url);
  let res;
  for (let off = 0; off < png.length; off += CHUNK) {
    res = await fetch(url, { method: 'PATCH',
      body: png.subarray(off, off + CHUNK),
      headers: { ...TUS, 'upload-offset': String(off),
        'content-type': 'application/offset+octet-stream' } });
    if (res.status !== 204) {
      throw new Error(`PATCH at ${off}: ${res.status} ${await res.text()}`);
    }
  }
  return res.headers.get('x-image-id');
}

// Downloads the original; resolves its SHA-256 and size.
async function download(server, imageId) {
  const res = await staffGet(server, `/api/v1/images/${imageId}/original`,
    STAFF);
  if (res.status !== 200) throw new Error(`download: ${res.status}`);
  const hash = createHash('sha256');
  let bytes = 0;
  for await (const chunk of res.body) {
    hash.update(chunk);
    bytes += chunk.length;
  }
  return { sha: hash.digest('hex'), bytes };
}

async function run(s3, size) {
  const png = paddedPng(size);
  const server = await startServer({ env: { ...STAFF_ENV, ...s3.env,
    STORAGE_URL: s3.storageUrl(), PUBLIC_RATE_PER_MINUTE: '100000',
    STAFF_RATE_PER_MINUTE: '100000' } });
  try {
    await addStaff(server.state, STAFF, 'fulfiller');
    const pid = server.child.pid;
    resetHwm(pid);
    let t0 = process.hrtime.bigint();
    const imageId = await tusUpload(server, png);
    const upSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const upHwm = hwmMiB(pid);
    resetHwm(pid);
    t0 = process.hrtime.bigint();
    const got = await download(server, imageId);
    const downSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const downHwm = hwmMiB(pid);
    if (got.bytes !== png.length ||
      got.sha !== createHash('sha256').update(png).digest('hex')) {
      throw new Error('the downloaded original is not the uploaded one');
    }
    return { size, up: size / MiB / upSeconds, down: size / MiB / downSeconds,
      upHwm, downHwm };
  } finally {
    const exit = await server.stop();
    if (exit.code !== 0) throw new Error(`printdesk exited ${exit.code}`);
  }
}

const s3 = await startS3();
try {
  console.log('# printdesk on s3rver behind the signature-checking proxy on '
    + 'this machine; 16 MiB multipart threshold; tus PATCHes of 25 MiB');
  const small = await run(s3, 20 * MiB);
  const big = await run(s3, 200 * MiB - 4096);
  for (const r of [small, big]) {
    const label = `${Math.round(r.size / MiB)}mib`;
    console.log(`s3_upload_${label}: ${r.up.toFixed(1)} MiB/s (tus PATCHes `
      + 'until accepted: pieces stored, put together, original stored)');
    console.log(`s3_download_${label}: ${r.down.toFixed(1)} MiB/s (the `
      + 'original, streamed from the bucket)');
    console.log(`s3_vmhwm_${label}: upload ${r.upHwm.toFixed(1)} MiB, `
      + `download ${r.downHwm.toFixed(1)} MiB`);
  }
  const growth = (k) => (big[k] - small[k]).toFixed(1);
  console.log(`s3_vmhwm_growth_200_vs_20mib: upload ${growth('upHwm')} MiB, `
    + `download ${growth('downHwm')} MiB (target: no growth with the size)`);
} finally {
  await s3.stop();
  s3.remove();
}
