// PUBLISH fan-out to many subscribers: real Redis vs Sabre with the same raw-socket client.
// Usage: node native-bench/pubsub-fanout.mjs [subscribers=1000] [messages=2000] [rounds=5] [size=64]
// Starts redis-server and Sabre (dist/, --shards 1: fan-out runs on the acceptor) on free ports,
// alternates rounds between them, and writes medians to native-bench/results/pubsub.md.
import net from 'node:net';
import { spawn } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import os from 'node:os';

const SUBS = Number(process.argv[2] ?? 1000);
const MSGS = Number(process.argv[3] ?? 2000);
const ROUNDS = Number(process.argv[4] ?? 5);
const SIZE = Number(process.argv[5] ?? 64);
const WINDOW = 100;
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

async function waitListening(port) {
  for (let i = 0; i < 200; i++) {
    const ok = await new Promise((r) => {
      const s = net.connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`port ${port} never listened`);
}

const cmd = (...a) => `*${a.length}\r\n${a.map((x) => `$${Buffer.byteLength(x)}\r\n${x}\r\n`).join('')}`;

function connect(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.setNoDelay(true);
    s.on('error', reject);
  });
}

/** One round: returns delivered messages per second (messages × subscribers / elapsed). */
async function round(port, round) {
  const channel = `bench:${round}`;
  const payload = 'm'.repeat(SIZE);
  const msgBytes = Buffer.byteLength(`*3\r\n$7\r\nmessage\r\n$${channel.length}\r\n${channel}\r\n$${SIZE}\r\n${payload}\r\n`);
  const confirm = Buffer.byteLength(`*3\r\n$9\r\nsubscribe\r\n$${channel.length}\r\n${channel}\r\n:1\r\n`);
  const subs = await Promise.all(Array.from({ length: SUBS }, () => connect(port)));
  let subscribed = 0;
  let complete = 0;
  let allIn;
  const allDone = new Promise((r) => (allIn = r));
  let ready;
  const allReady = new Promise((r) => (ready = r));
  for (const s of subs) {
    let got = 0;
    let confirmed = false;
    s.on('data', (d) => {
      got += d.length;
      if (!confirmed && got >= confirm) {
        confirmed = true;
        got -= confirm;
        if (++subscribed === SUBS) ready();
      }
      if (confirmed && got === MSGS * msgBytes && ++complete === SUBS) allIn();
    });
    s.write(cmd('SUBSCRIBE', channel));
  }
  await allReady;
  const pub = await connect(port);
  let acked = 0;
  let sent = 0;
  let buf = '';
  const frame = cmd('PUBLISH', channel, payload);
  const start = process.hrtime.bigint();
  const pump = () => {
    let chunk = '';
    while (sent < MSGS && sent - acked < WINDOW) {
      chunk += frame;
      sent++;
    }
    if (chunk) pub.write(chunk);
  };
  pub.on('data', (d) => {
    buf += d.toString('latin1');
    let i;
    while ((i = buf.indexOf('\r\n')) !== -1) {
      buf = buf.slice(i + 2);
      acked++;
    }
    pump();
  });
  pump();
  await allDone;
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  pub.destroy();
  for (const s of subs) s.destroy();
  await new Promise((r) => setTimeout(r, 200));
  return (MSGS * SUBS) / secs;
}

const median = (a) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)];

const redisPort = await freePort();
const redis = spawn(
  'redis-server',
  ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--maxclients', '10000'],
  { stdio: 'ignore' },
);
const sabrePort = await freePort();
const sabre = spawn(process.execPath, [CLI, 'server', '--port', String(sabrePort), '--bind', '127.0.0.1', '--shards', '1'], {
  stdio: 'ignore',
});
try {
  await waitListening(redisPort);
  await waitListening(sabrePort);
  const res = { redis: [], sabre: [] };
  for (let r = 0; r < ROUNDS; r++) {
    res.redis.push(await round(redisPort, r));
    res.sabre.push(await round(sabrePort, r));
    console.log(`round ${r}: redis ${res.redis.at(-1).toFixed(0)}/s sabre ${res.sabre.at(-1).toFixed(0)}/s`);
  }
  const mr = median(res.redis);
  const ms = median(res.sabre);
  const ratio = ms / mr;
  const text = `# PUBLISH fan-out: Sabre vs Redis

\`node native-bench/pubsub-fanout.mjs ${SUBS} ${MSGS} ${ROUNDS} ${SIZE}\` — ${new Date().toISOString()}

${SUBS} raw-socket subscribers on one channel, one publisher pipelining PUBLISH (window ${WINDOW}) of ${MSGS} × ${SIZE}-byte messages;
a round ends when every subscriber has received every message. Rounds alternate between servers; medians of ${ROUNDS}.
Machine: ${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.versions.node}; redis-server as installed; Sabre --shards 1.

| server | deliveries/s (median) | rounds |
|---|---:|---|
| redis | ${mr.toFixed(0)} | ${res.redis.map((x) => x.toFixed(0)).join(', ')} |
| sabre | ${ms.toFixed(0)} | ${res.sabre.map((x) => x.toFixed(0)).join(', ')} |

Ratio sabre/redis: **${ratio.toFixed(2)}** (goal ≥ 1.0)
`;
  mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
  writeFileSync(new URL('./results/pubsub.md', import.meta.url), text);
  console.log(text);
} finally {
  redis.kill('SIGTERM');
  sabre.kill('SIGTERM');
}
