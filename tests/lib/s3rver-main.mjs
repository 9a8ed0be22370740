// s3rver-main.mjs — runs s3rver in a process of its own for tests/lib/
// s3.mjs: node --openssl-legacy-provider s3rver-main.mjs DIR BUCKET
// [verbose]. s3rver makes its listing continuation tokens with DES, which
// OpenSSL 3 keeps in its legacy provider, hence the flag. Prints
// {"port": N} once it listens; SIGTERM or SIGKILL stops it, and so does
// the end of its standard input (the test process is gone).
import S3rver from 's3rver';

const [dir, bucket, verbose] = process.argv.slice(2);
const server = new S3rver({ port: 0, address: '127.0.0.1', directory: dir,
  silent: verbose !== 'verbose', configureBuckets: [{ name: bucket }] });
const { port } = await server.run();
process.stdout.write(JSON.stringify({ port }) + '\n');
process.on('SIGTERM', () => process.exit(0));
process.stdin.on('end', () => process.exit(0));
process.stdin.resume();
