// uploads.mjs — the upload benchmarks of issue 5 against a fresh
// `printdesk serve` (SQLite, file storage): multipart ingest of a 12 MP
// phone JPEG at 2 and 4 in flight, and the server's resident memory while
// a 200 MiB tus upload streams in, beside a 20 MiB one. Prints figures.
//   node bench/uploads.mjs PRINTDESK_BIN PHOTO [COUNT]
import { spawn, execFileSync } from 'node:child_process';
import { randomBytes, randomFillSync } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, statSync, rmSync }
  from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';

const [bin, photoPath, countText] = process.argv.slice(2);
if (!bin || !photoPath) {
  console.error('usage: node bench/uploads.mjs PRINTDESK_BIN PHOTO [COUNT]');
  process.exit(2);
}
const count = Number(countText || 40);
const MiB = 1024 * 1024;
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK']).toString());
const SAMPLE_MS = 20;
const TUS = { 'tus-resumable': '1.0.0' };

// ---- the server ---------------------------------------------------------

// Starts printdesk on a free port with a fresh data folder; resolves
// { pid, url, objects, stop() } once it logs its port.
async function startServer() {
  const dir = mkdtempSync(join(tmpdir(), 'printdesk-bench-up-'));
  const env = { ...process.env };
  for (const k of ['PORT', 'DATABASE_URL', 'STORAGE_URL', 'LOG_FORMAT',
    'PRINTDESK_DATA_DIR', 'PRINTDESK_THREADS', 'UPLOAD_MAX_BYTES',
    'TUS_MAX_SIZE', 'UPLOAD_MAX_PIXELS']) delete env[k];
  const objects = join(dir, 'objects');
  const child = spawn(bin, ['serve', '--listen', '127.0.0.1:0',
    '--data-dir', join(dir, 'data')], {
    env: {
      ...env,
      DATABASE_URL: `sqlite:${dir}/printdesk.db`,
      STORAGE_URL: `file:${objects}`,
      PUBLIC_RATE_PER_MINUTE: '100000',
      LOG_LEVEL: 'notice',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  let exited = false;
  const done = new Promise((resolve) => child.on('close', () => {
    exited = true;
    resolve();
  }));
  child.stderr.on('data', (d) => { if (log.length < 1e6) log += d; });
  const stop = async () => {
    if (!exited) child.kill('SIGTERM');
    await done;
    rmSync(dir, { recursive: true, force: true });
  };
  for (let waited = 0; waited < 20000; waited += 10) {
    const m = /"port":(\d+)/.exec(log);
    if (m) return { pid: child.pid, url: `http://127.0.0.1:${m[1]}`,
      objects, stop };
    if (exited) break;
    await new Promise((r) => setTimeout(r, 10));
  }
  await stop();
  throw new Error(`printdesk did not start:\n${log}`);
}

// utime + stime of a process, in seconds.
function cpuSeconds(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[11]) + Number(f[12])) / CLK_TCK;
}

// { rss, hwm } of a process, in MiB.
function memory(pid) {
  const text = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (k) => Number(new RegExp(`^${k}:\\s+(\\d+)`, 'm')
    .exec(text)[1]);
  return { rss: kib('VmRSS') / 1024, hwm: kib('VmHWM') / 1024 };
}

const pct = (sorted, p) => sorted[Math.min(sorted.length - 1,
  Math.floor(sorted.length * p))];
const mib = (v) => `${v.toFixed(1)} MiB`;

// ---- multipart ingest ---------------------------------------------------

const photo = readFileSync(photoPath);
const boundary = `----printdesk-bench-${randomBytes(8).toString('hex')}`;

function multipartBody(sessionId) {
  const part = (name, value) => `--${boundary}\r\nContent-Disposition: `
    + `form-data; name="${name}"\r\n\r\n${value}\r\n`;
  const head = part('session_id', sessionId) + part('image_type', 'original')
    + `--${boundary}\r\nContent-Disposition: form-data; name="image"; `
    + 'filename="IMG_4032.jpg"\r\nContent-Type: image/jpeg\r\n\r\n';
  return Buffer.concat([Buffer.from(head), photo,
    Buffer.from(`\r\n--${boundary}--\r\n`)]);
}

// One upload in a session of its own; its latency in ms.
async function uploadOne(server, sessionId) {
  const body = multipartBody(sessionId);
  const t0 = process.hrtime.bigint();
  const res = await fetch(`${server.url}/api/v2/customer-upload`, {
    method: 'POST', body,
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
  });
  const text = await res.text();
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (res.status !== 201) {
    throw new Error(`upload ${sessionId}: ${res.status} ${text}`);
  }
  const image = JSON.parse(text);
  if (image.width !== 4000 || image.height !== 3000 || image.duplicate) {
    throw new Error(`upload ${sessionId}: unexpected answer ${text}`);
  }
  return ms;
}

async function ingest(server, concurrency) {
  const latencies = [];
  let next = 0;
  const cpu0 = cpuSeconds(server.pid);
  const t0 = Date.now();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < count) {
      const sessionId = `bench-c${concurrency}-${next++}`;
      latencies.push(await uploadOne(server, sessionId));
    }
  }));
  const seconds = (Date.now() - t0) / 1000;
  const cpu = (cpuSeconds(server.pid) - cpu0) / count;
  latencies.sort((a, b) => a - b);
  console.log(`uploads_multipart_12mp_c${concurrency}: `
    + `${(count / seconds).toFixed(2)} uploads/s; p50 `
    + `${pct(latencies, 0.5).toFixed(0)} ms, p99 `
    + `${pct(latencies, 0.99).toFixed(0)} ms; server CPU `
    + `${(cpu * 1000).toFixed(0)} ms/upload (${count} uploads of a `
    + `${(photo.length / 1e6).toFixed(2)} MB JPEG, ${concurrency} in flight, `
    + 'thumbnail and preview included)');
}

async function benchIngest() {
  const server = await startServer();
  try {
    // The first upload loads the image module; keep it out of the figures.
    for (let i = 0; i < 2; i++) await uploadOne(server, `bench-warm-${i}`);
    await ingest(server, 2);
    await ingest(server, 4);
  } finally {
    await server.stop();
  }
}

// ---- tus memory ---------------------------------------------------------

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

function crc32(...bufs) {
  let c = -1;
  for (const b of bufs) {
    for (let i = 0; i < b.length; i++) {
      c = CRC_TABLE[(c ^ b[i]) & 0xff] ^ (c >>> 8);
    }
  }
  return (c ^ -1) >>> 0;
}

function chunk(type, data) {
  const head = Buffer.alloc(8);
  const tail = Buffer.alloc(4);
  const name = Buffer.from(type, 'latin1');
  head.writeUInt32BE(data.length, 0);
  name.copy(head, 4);
  tail.writeUInt32BE(crc32(name, data), 0);
  return [head, data, tail];
}

// An RGB PNG of random pixels, stored (zlib level 0), at most maxBytes.
function randomPng(maxBytes) {
  const width = 8192;
  const row = 1 + width * 3;
  const height = Math.floor((maxBytes - 65536) / (row * (1 + 5 / 65535)));
  const raw = Buffer.allocUnsafe(row * height);
  randomFillSync(raw);
  for (let y = 0; y < height; y++) raw[y * row] = 0; // filter: none
  const z = deflateSync(raw, { level: 0 });
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bits per sample
  ihdr[9] = 2; // RGB
  const parts = [Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]),
    ...chunk('IHDR', ihdr)];
  for (let off = 0; off < z.length; off += 8 * MiB) {
    parts.push(...chunk('IDAT', z.subarray(off, off + 8 * MiB)));
  }
  parts.push(...chunk('IEND', Buffer.alloc(0)));
  const png = Buffer.concat(parts);
  if (png.length > maxBytes) throw new Error('the PNG came out too large');
  return { png, pixels: width * height };
}

// Bytes stored so far under the upload's tus folder (0 when absent).
function storedBytes(dir) {
  try {
    return readdirSync(dir).reduce((n, f) => n + statSync(join(dir, f)).size,
      0);
  } catch {
    return 0;
  }
}

// Samples the server's memory every SAMPLE_MS, tagging each sample
// "streaming" until the tus part holds every byte, "processing" after.
function startSampler(server, total) {
  const s = {
    dir: null, streamPeak: 0, streamHwm: 0, procPeak: 0, sawFull: false,
    phase: 'streaming', tEnd: 0,
  };
  const take = () => {
    const m = memory(server.pid);
    if (s.phase === 'streaming' && s.dir && storedBytes(s.dir) >= total) {
      s.phase = 'processing';
      s.sawFull = true;
      s.tEnd = Date.now();
      s.streamHwm = m.hwm;
    }
    if (s.phase === 'streaming') s.streamPeak = Math.max(s.streamPeak, m.rss);
    else s.procPeak = Math.max(s.procPeak, m.rss);
  };
  s.timer = setInterval(take, SAMPLE_MS);
  s.take = take;
  return s;
}

async function tusPatch(url, body, offset) {
  const res = await fetch(url, {
    method: 'PATCH', body,
    headers: { ...TUS, 'content-type': 'application/offset+octet-stream',
      'upload-offset': String(offset) },
  });
  const text = await res.text();
  if (res.status !== 204) {
    throw new Error(`PATCH at ${offset}: ${res.status} ${text}`);
  }
  return res;
}

async function tusCreate(server, total, sessionId) {
  const b64 = (v) => Buffer.from(v).toString('base64');
  const res = await fetch(`${server.url}/api/v2/uploads`, {
    method: 'POST',
    headers: { ...TUS, 'upload-length': String(total),
      'upload-metadata': `session_id ${b64(sessionId)},image_type `
        + `${b64('original')},filename ${b64('big.png')},filetype `
        + b64('image/png') },
  });
  await res.arrayBuffer();
  const location = res.headers.get('location');
  if (res.status !== 201 || !location) {
    throw new Error(`tus create: ${res.status}`);
  }
  return location;
}

// One tus upload of png in PATCHes of chunkBytes into a fresh server.
async function tusRun(label, png, chunkBytes) {
  const server = await startServer();
  let s = null;
  try {
    const idle = memory(server.pid).rss;
    const location = await tusCreate(server, png.length, `bench-${label}`);
    const id = location.split('/').pop();
    s = startSampler(server, png.length);
    s.dir = join(server.objects, 'temporary', 'tus', id);
    const t0 = Date.now();
    let res;
    for (let off = 0; off < png.length; off += chunkBytes) {
      res = await tusPatch(`${server.url}${location}`,
        png.subarray(off, off + chunkBytes), off);
    }
    const t1 = Date.now();
    clearInterval(s.timer);
    s.take();
    const end = memory(server.pid);
    if (!res.headers.get('x-image-id')) {
      throw new Error(`${label}: the last PATCH carried no X-Image-Id`);
    }
    const split = s.sawFull
      ? `streaming peak ${mib(s.streamPeak)} (VmHWM ${mib(s.streamHwm)} `
        + `when the last byte was stored, ${((s.tEnd - t0) / 1000)
          .toFixed(1)} s); processing peak ${mib(s.procPeak)} `
        + `(${((t1 - s.tEnd) / 1000).toFixed(1)} s)`
      : `peak ${mib(Math.max(s.streamPeak, s.procPeak))} (streaming and `
        + 'processing not told apart: no part file seen under '
        + 'temporary/tus/)';
    console.log(`tus_rss_${label}: idle ${mib(idle)}; ${split}; VmHWM `
      + `${mib(end.hwm)} at the end`);
    return { ...s, hwm: end.hwm };
  } finally {
    if (s) clearInterval(s.timer);
    await server.stop();
  }
}

async function benchTusMemory() {
  const small = randomPng(20 * MiB);
  const big = randomPng(200 * MiB);
  console.log(`# tus files: random-pixel PNGs of ${(big.png.length / MiB)
    .toFixed(1)} MiB (${(big.pixels / 1e6).toFixed(1)} MP) and `
    + `${(small.png.length / MiB).toFixed(1)} MiB (${(small.pixels / 1e6)
      .toFixed(1)} MP); server RSS sampled every ${SAMPLE_MS} ms, a fresh `
    + 'server for each upload');
  const smallRun = await tusRun('20mib_one_patch', small.png, 25 * MiB);
  const chunked = await tusRun('200mib_25mib_patches', big.png, 25 * MiB);
  const single = await tusRun('200mib_one_patch', big.png, big.png.length);
  const growth = (r) => (r.sawFull ? r.streamPeak : r.hwm)
    - (smallRun.sawFull ? smallRun.streamPeak : smallRun.hwm);
  const signed = (v) => {
    const text = Math.abs(v).toFixed(1);
    return `${v < 0 && text !== '0.0' ? '-' : '+'}${text} MiB`;
  };
  console.log('tus_rss_streaming_growth_200_vs_20mib: '
    + `${signed(growth(chunked))} in 25 MiB PATCHes, `
    + `${signed(growth(single))} in one PATCH (streaming peaks; target: `
    + 'no growth with the file size)');
}

await benchIngest();
await benchTusMemory();
