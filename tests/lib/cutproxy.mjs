// cutproxy.mjs — a TCP proxy in front of the server under test that counts
// the bytes it forwards each way and can cut every open connection on
// demand (a reset or an orderly close), the way a phone drops its network
// in the middle of an upload.
import net from 'node:net';

// Starts a proxy on a free loopback port forwarding to targetPort.
// Resolves an object: url, port, up (bytes client -> server so far),
// down (server -> client), open (connections now open), cuts, and
// cutAll(), onForward(fn), close().
export async function startCutProxy(targetPort, targetHost = '127.0.0.1') {
  const pairs = new Set();
  const listeners = new Set();
  const proxy = {
    up: 0, down: 0, cuts: 0,
    get open() { return pairs.size; },
    // fn({ direction: 'up' | 'down', bytes, up, down }) after each chunk
    // is handed on; fn may call cutAll() right there.
    onForward(fn) { listeners.add(fn); return () => listeners.delete(fn); },
    // Cuts every open connection, both halves: with reset (the default)
    // each side gets a TCP RST, otherwise the sockets are closed.
    cutAll({ reset = true } = {}) {
      for (const pair of [...pairs]) cutPair(pair, reset);
      proxy.cuts++;
    },
  };

  function cutPair(pair, reset) {
    pairs.delete(pair);
    for (const s of [pair.client, pair.upstream]) {
      if (s.destroyed) continue;
      if (reset && s.resetAndDestroy && s.readyState !== 'opening') {
        s.resetAndDestroy();
      } else {
        s.destroy();
      }
    }
  }

  function forward(from, to, direction, pair) {
    from.on('data', (chunk) => {
      if (!pairs.has(pair)) return;
      const more = to.write(chunk);
      proxy[direction] += chunk.length;
      for (const fn of listeners) {
        fn({ direction, bytes: chunk.length, up: proxy.up, down: proxy.down });
      }
      if (!more && pairs.has(pair)) from.pause();
    });
    to.on('drain', () => from.resume());
    from.on('end', () => { if (!to.destroyed) to.end(); });
  }

  const server = net.createServer((client) => {
    client.pause();
    const upstream = net.connect(targetPort, targetHost);
    const pair = { client, upstream };
    pairs.add(pair);
    const drop = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', drop);
    upstream.on('error', drop);
    client.on('close', () => { pairs.delete(pair); upstream.end(); });
    upstream.on('close', () => { pairs.delete(pair); client.end(); });
    upstream.on('connect', () => client.resume());
    forward(client, upstream, 'up', pair);
    forward(upstream, client, 'down', pair);
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  proxy.port = server.address().port;
  proxy.url = `http://127.0.0.1:${proxy.port}`;
  proxy.close = () => new Promise((resolve) => {
    for (const pair of [...pairs]) cutPair(pair, false);
    server.close(() => resolve());
  });
  return proxy;
}
