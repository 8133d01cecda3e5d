#!/usr/bin/env node
// Malformed request frames sent to real Redis 7.0 and to Sabre side by side: each frame goes on a
// new connection between two PINGs, and the bytes each server answers, and whether it closes the
// connection, must be identical. Prints one line per frame and the count that differ (exit 1 if any).
// Needs dist/ (npx tsc) and redis-server. Usage: node native-bench/malformed-compare.mjs
import net from 'node:net';
import { runMain, serverSpecs, startServer, stopServer } from './lib/servers.mjs';

const big = (n, c = 'x') => c.repeat(n);
const FRAMES = [
  '*-10\r\n',
  '*3000000000\r\n',
  '*20000000\r\n',
  '$x\r\n',
  '*x\r\n',
  '*\r\n',
  '*1\r\n$\r\n',
  '*1\r\n$-1\r\n',
  '*1\r\n$-0\r\n',
  '*1\r\n$01\r\n',
  '*01\r\n',
  '*-0\r\n',
  '*+1\r\n',
  '* 1\r\n',
  '*1 \r\n',
  '*1\r\n$ 4\r\nPING\r\n',
  '*1\r\n$4\r\nPINGxx',
  '*1\r\n$4\r\nPING',
  '*1\r\n$3\r\nfoo',
  '*1\r\n$600000000\r\n',
  '*1\r\n$536870913\r\n',
  '*1\r\n$536870912\r\n',
  '*1\r\n:1\r\n',
  '*1\r\n*1\r\n',
  '*1\r\n\r\n',
  '*1\r\n\n\r\n',
  '*1\r\n\xe9\r\n',
  '*2\r\n$4\r\nECHO\r\nfoo\r\n',
  '*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n',
  'SET a "b\r\n',
  "SET a 'b\r\n",
  'SET a "b"c\r\n',
  "SET a 'b'c\r\n",
  'ECHO "\\x4\r\n',
  'ECHO "\\x41"\r\n',
  'ECHO "a\\"\r\n',
  "ECHO 'a\\'\r\n",
  'ECHO "\0"\r\n',
  'ECHO a\0b\r\n',
  '*1\0\r\n$4\r\nPING\r\n',
  '*1\r\n$4\0\r\nPING\r\n',
  '*1\r\n\0\r\n',
  '\0\r\n',
  '\r\n',
  '\n',
  ' \r\n',
  '*1\r\n$4\r\nPING\rx',
  '*1\rx$4\r\nPING\r\n',
  big(70 * 1024),
  `*${big(70 * 1024, '1')}`,
  `*1\r\n$${big(70 * 1024, '1')}`,
  `*1\r\n$4\r\nPING\r\n${big(70 * 1024)}`,
  `*2\r\n$4\r\nPING\r\n${big(70 * 1024)}`,
  `*1\r\n$${'9'.repeat(25)}\r\n`,
  `*${'9'.repeat(25)}\r\n`,
  '*2147483648\r\n',
  '*2147483647\r\n',
  '*1\r\n$2147483648\r\n',
  'PING "a" "b\r\n',
  'ECHO ""\r\n',
  'ECHO ""x\r\n',
  'ECHO "\\xZZ"\r\n',
  '"\r\n',
  "'\r\n",
  '*1\r\n$4\r\n\r\n\r\n',
  '*1\r\n$0\r\n\r\n',
  '*1\r\n$1\r\n\r\n\r\n',
];

/** PING, the frame, PING 50 ms later; everything received within 300 ms, and whether the server closed. */
function probe(port, frame) {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    const got = [];
    let closed = false;
    s.on('connect', () => {
      s.write('PING\r\n');
      s.write(Buffer.from(frame, 'latin1'));
      setTimeout(() => s.write('PING\r\n'), 50);
    });
    s.on('data', (d) => got.push(d));
    s.on('error', () => {});
    s.on('close', () => (closed = true));
    setTimeout(() => {
      s.destroy();
      resolve({ text: Buffer.concat(got).toString('latin1'), closed });
    }, 300);
  });
}

async function main() {
  const specs = serverSpecs();
  const redis = await startServer(specs.redis);
  const sabre = await startServer(specs.sabre);
  let differ = 0;
  try {
    for (const f of FRAMES) {
      const [a, b] = await Promise.all([probe(redis.port, f), probe(sabre.port, f)]);
      const same = a.text === b.text && a.closed === b.closed;
      if (!same) differ++;
      const shown = f.length > 40 ? `${f.slice(0, 20)}...(${f.length} bytes)` : f;
      console.log(`${same ? 'same' : 'DIFF'} ${JSON.stringify(shown)}`);
      if (!same)
        console.log(`  redis: ${JSON.stringify(a.text)} closed=${a.closed}\n  sabre: ${JSON.stringify(b.text)} closed=${b.closed}`);
    }
  } finally {
    await stopServer(sabre);
    await stopServer(redis);
  }
  console.log(`${differ} of ${FRAMES.length} malformed frames answered differently`);
  if (differ > 0) process.exitCode = 1;
}

runMain(main);
