#!/usr/bin/env node
// Server memory under two abuses, Sabre next to real Redis 7.0 with default settings:
//  1. a client pipelines N GETs of a 10 KB value and never reads a byte: how much output the
//     server holds for it (CLIENT LIST tot-mem, sampled) and how much its RSS grows, while a
//     second client keeps being served;
//  2. SET of one 100 MB value, then DEL: RSS before, at the peak and once it settles after.
// Needs dist/ (npm run build) and redis-server.
// Usage: node native-bench/memory-abuse.mjs [--gets 30000] [--value-kb 10] [--big-mb 100] [--servers redis,sabre]
// (Redis takes in every GET it is sent and queues its reply, so keep --gets small when Redis runs.)
import net from 'node:net';
import path from 'node:path';
import {
  RESULTS_DIR,
  commandLine,
  machineInfo,
  option,
  rawCommand,
  rssBytes,
  runMain,
  serverSpecs,
  sleep,
  startServer,
  stopServer,
  writeResult,
} from './lib/servers.mjs';

const GETS = Number(option('gets', 30000));
const VALUE_KB = Number(option('value-kb', 10));
const BIG_MB = Number(option('big-mb', 100));
const SERVERS = option('servers', 'redis,sabre').split(',');
const MB = 1024 * 1024;

/** The tot-mem CLIENT LIST reports for the connection whose local port is `port` (0 if gone). */
async function clientMem(serverPort, clientPort) {
  const list = await rawCommand(serverPort, 'CLIENT', 'LIST');
  const line = list.split('\n').find((l) => l.includes(`:${clientPort} `));
  const m = line && / tot-mem=(\d+)/.exec(line);
  return m ? Number(m[1]) : 0;
}

/** Scenario 1: a pipeliner that never reads. Returns peak tot-mem, peak RSS growth and bystander PINGs answered. */
async function nonReader(server) {
  await rawCommand(server.port, 'SET', 'k', 'v'.repeat(VALUE_KB * 1024));
  await sleep(500);
  const rss0 = rssBytes(server);
  const sock = net.connect({ port: server.port, host: '127.0.0.1' });
  await new Promise((r) => sock.once('connect', r));
  sock.pause();
  const clientPort = sock.localPort;
  const cmd = Buffer.from('*2\r\n$3\r\nGET\r\n$1\r\nk\r\n');
  const batch = Buffer.concat(Array.from({ length: 1000 }, () => cmd));
  let sent = 0;
  let writing = true;
  const writer = (async () => {
    while (writing && sent < GETS) {
      const ok = sock.write(batch);
      sent += 1000;
      if (!ok) await new Promise((r) => sock.once('drain', r));
    }
  })();
  let peakMem = 0;
  let peakRss = 0;
  let pings = 0;
  // Sample for 10 s: long enough for Redis to take in every request it will, and for Sabre to reach its bound.
  for (let i = 0; i < 50; i++) {
    await sleep(200);
    peakMem = Math.max(peakMem, await clientMem(server.port, clientPort));
    peakRss = Math.max(peakRss, rssBytes(server) - rss0);
    if ((await rawCommand(server.port, 'PING')) === 'PONG') pings++;
  }
  writing = false;
  sock.destroy();
  await Promise.race([writer, sleep(1000)]);
  return { peakMem, peakRss, sent: Math.min(sent, GETS), pings, samples: 50 };
}

/** Waits up to 20 s for RSS to come within 20 MB of `target`; returns the last reading. */
async function settle(server, target) {
  let now = rssBytes(server);
  for (let i = 0; i < 200 && now - target > 20 * MB; i++) {
    await sleep(100);
    now = rssBytes(server);
  }
  return now;
}

/** Scenario 2: RSS around SET and DEL of one big value. */
async function bigValue(server) {
  await sleep(1000);
  const before = rssBytes(server);
  const sock = net.connect({ port: server.port, host: '127.0.0.1' });
  await new Promise((r) => sock.once('connect', r));
  const head = Buffer.from(`*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$${BIG_MB * MB}\r\n`);
  await new Promise((resolve, reject) => {
    sock.once('data', (d) => (d.toString().startsWith('+OK') ? resolve() : reject(new Error(d.toString()))));
    sock.write(Buffer.concat([head, Buffer.alloc(BIG_MB * MB, 'v'), Buffer.from('\r\n')]));
  });
  sock.destroy();
  await sleep(500);
  const peak = rssBytes(server);
  if ((await rawCommand(server.port, 'DEL', 'big')) !== '1') throw new Error('DEL big did not delete');
  const after = await settle(server, before);
  return { before, peak, after };
}

async function main() {
  const specs = serverSpecs();
  const rows = {};
  for (const spec of [specs.redis, specs.sabre].filter((s) => SERVERS.includes(s.name))) {
    const server = await startServer(spec);
    try {
      await sleep(2000);
      const a = await nonReader(server);
      await rawCommand(server.port, 'FLUSHALL');
      const b = await bigValue(server);
      rows[spec.name] = { a, b };
      console.log(spec.name, JSON.stringify(rows[spec.name]));
    } finally {
      await stopServer(server);
    }
  }
  const m = machineInfo();
  const mb = (x) => `${(x / MB).toFixed(1)} MB`;
  let md = '# Memory under abuse: Sabre vs Redis, default settings\n\n';
  md += `\`${commandLine()}\`\n\n`;
  md += `${m.nproc} CPUs (${m.cpuModel}), Node ${m.node}, Redis ${m.redisVersion}, ${m.kernel}, load ${m.loadavg}.\n\n`;
  md += `**A client that pipelines GETs and never reads.** It writes up to ${GETS.toLocaleString('en')} GETs of a ${VALUE_KB} KB value `;
  md += '(as fast as the server takes them) and reads nothing for 10 s, while a second client sends a PING every 200 ms. ';
  md += 'Peak output held is the largest `tot-mem` CLIENT LIST showed for it; normal clients have no output limit by default in both ';
  md += '(`client-output-buffer-limit normal 0 0 0`), so what bounds them is whether the server stops reading the client.\n\n';
  md += '| server | GETs written | peak output held (tot-mem) | peak RSS growth | bystander PINGs answered |\n|---|--:|--:|--:|--:|\n';
  for (const [name, { a }] of Object.entries(rows)) {
    md += `| ${name} | ${a.sent.toLocaleString('en')} | ${mb(a.peakMem)} | ${mb(a.peakRss)} | ${a.pings}/${a.samples} |\n`;
  }
  md += `\n**SET of one ${BIG_MB} MB value, then DEL.** RSS before, after the SET, and once settled after the DEL (up to 20 s).\n\n`;
  md += '| server | before | after SET | after DEL | after DEL − before |\n|---|--:|--:|--:|--:|\n';
  for (const [name, { b }] of Object.entries(rows)) {
    md += `| ${name} | ${mb(b.before)} | ${mb(b.peak)} | ${mb(b.after)} | ${mb(b.after - b.before)} |\n`;
  }
  writeResult(path.join(RESULTS_DIR, `memory-abuse${SERVERS.length === 1 ? `-${SERVERS[0]}` : ''}.md`), md);
}

runMain(main);
