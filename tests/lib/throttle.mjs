// throttle.mjs — a TCP proxy in front of the server under test that lets
// the client's bytes through at a set rate, the way a phone's slow uplink
// does, so a test can act while an upload is still on its way. Answers
// come back at full speed. When the client drops a connection, the
// proxy drops its half to the server too (what it still held is lost).
import net from 'node:net';

// Resolves {url, port, up (client bytes forwarded), close()}.
export async function startThrottle(targetPort, { bytesPerSecond }) {
  const sockets = new Set();
  const proxy = { up: 0 };

  function pair(client) {
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pause();
    upstream.on('connect', () => client.resume());
    // Each chunk goes on at once; the client waits as long as the chunk
    // takes at the set rate before it may send more.
    client.on('data', (chunk) => {
      if (upstream.destroyed) return;
      upstream.write(chunk);
      proxy.up += chunk.length;
      client.pause();
      setTimeout(() => { if (!client.destroyed) client.resume(); },
        (1000 * chunk.length) / bytesPerSecond);
    });
    upstream.pipe(client);
  }

  const server = net.createServer(pair);
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  proxy.port = server.address().port;
  proxy.url = `http://127.0.0.1:${proxy.port}`;
  proxy.close = () => new Promise((resolve) => {
    for (const s of sockets) s.destroy();
    server.close(() => resolve());
  });
  return proxy;
}
