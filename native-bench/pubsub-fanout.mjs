// PUBLISH fan-out to many subscribers: real Redis vs Sabre with the same raw-socket client.
// Usage: node native-bench/pubsub-fanout.mjs [subscribers=1000] [messages=2000] [rounds=5] [size=64]
// Starts redis-server and Sabre (dist/, --shards 1: fan-out runs on the acceptor) on free ports,
// alternates rounds between them, and writes medians to native-bench/results/pubsub.md
// (delivery latency HDR files and plot under results/pubsub/).
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { HdrRuns, emptyHistogram } from './lib/hdr-report.mjs';
import { RESULTS_DIR, encodeCommand, median, runMain, serverSpecs, startServer, stopServer, writeResult } from './lib/servers.mjs';

const SUBS = Number(process.argv[2] ?? 1000);
const MSGS = Number(process.argv[3] ?? 2000);
const ROUNDS = Number(process.argv[4] ?? 5);
const SIZE = Number(process.argv[5] ?? 64);
const WINDOW = 100;
// Every SAMPLE-th subscriber times its deliveries (ten of them), so timing costs the client little.
const SAMPLE = Math.max(1, Math.floor(SUBS / 10));
const cmd = (...a) => encodeCommand(a);

function connect(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.setNoDelay(true);
    s.on('error', reject);
  });
}

/**
 * One round: returns delivered messages per second (messages × subscribers / elapsed) and the
 * sampled subscribers' delivery latencies (from the PUBLISH write to the message's last byte) in µs.
 */
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
  const sentAt = new Float64Array(MSGS);
  const histogram = emptyHistogram();
  for (const [i, s] of subs.entries()) {
    let got = 0;
    let confirmed = false;
    let seen = 0;
    s.on('data', (d) => {
      got += d.length;
      if (!confirmed && got >= confirm) {
        confirmed = true;
        got -= confirm;
        if (++subscribed === SUBS) ready();
      }
      if (confirmed && i % SAMPLE === 0) {
        const now = performance.now();
        for (const whole = Math.floor(got / msgBytes); seen < whole; seen++) {
          histogram.recordValue(Math.max(1, Math.round((now - sentAt[seen]) * 1000)));
        }
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
    const now = performance.now();
    while (sent < MSGS && sent - acked < WINDOW) {
      chunk += frame;
      sentAt[sent++] = now;
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
  return { rate: (MSGS * SUBS) / secs, histogram };
}

async function main() {
  const specs = serverSpecs({ shards: 1 });
  // 1000 subscribers are more than Redis's default maxclients leaves room for (a REDIS_CMD substitute brings its own flags).
  const redisSpec = specs.redis.substitute
    ? specs.redis
    : { ...specs.redis, argv: (port) => [...specs.redis.argv(port), '--maxclients', '10000'] };
  const servers = [await startServer(redisSpec), await startServer(specs.sabre)];
  try {
    const res = { redis: [], sabre: [] };
    const hdr = new HdrRuns();
    const test = `PUBLISH to ${SUBS} subscribers, ${SIZE}-byte messages`;
    for (let r = 0; r < ROUNDS; r++) {
      for (const srv of servers) {
        const { rate, histogram } = await round(srv.port, r);
        res[srv.name].push(rate);
        hdr.add(test, srv.name, histogram);
      }
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
    const hdrLines = hdr.write(path.join(RESULTS_DIR, 'pubsub'), RESULTS_DIR, {
      note: `Delivery latency: from the write of a PUBLISH to the last byte of its message at a subscriber, timed at every ${SAMPLE}th subscriber.`,
    });
    writeResult(path.join(RESULTS_DIR, 'pubsub.md'), [text, ...hdrLines].join('\n'));
  } finally {
    for (const srv of servers) await stopServer(srv);
  }
}

runMain(main);
