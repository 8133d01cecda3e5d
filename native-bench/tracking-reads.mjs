#!/usr/bin/env node
// What CLIENT TRACKING costs a read: pipelined GETs from RESP3 clients with tracking off and on,
// against real Redis and Sabre, in alternating rounds (medians quoted). redis-benchmark cannot turn
// tracking on, so the clients here are raw sockets keeping `--depth` GETs in flight each; their batch
// round trips make the HDR latency files and plots written under results/<report name>/.
import net from 'node:net';
import { parseArgs } from 'node:util';
import { HdrRuns, emptyHistogram } from './lib/hdr-report.mjs';
import {
  RESULTS_DIR,
  commandLine,
  cpuSeconds,
  encodeCommand,
  fileStamp,
  machineInfo,
  median,
  runMain,
  serverSpecs,
  startServer,
  stopServer,
  writeResult,
} from './lib/servers.mjs';
import os from 'node:os';
import path from 'node:path';

const { values: o } = parseArgs({
  options: {
    clients: { type: 'string', default: '4' },
    depth: { type: 'string', default: '16' },
    requests: { type: 'string', default: '200000' },
    keyspace: { type: 'string', default: '10000' },
    rounds: { type: 'string', default: '5' },
    shards: { type: 'string' },
    out: { type: 'string' },
  },
});
const CLIENTS = Number(o.clients);
const DEPTH = Number(o.depth);
const REQUESTS = Number(o.requests);
const KEYSPACE = Number(o.keyspace);

/** A RESP3 connection that counts complete top-level replies (GET replies of short values, `+OK`, HELLO's map). */
function connect(port) {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
    s.once('error', reject);
  });
}

/** Sends `cmds` and resolves when `n` replies ending in CRLF lines have arrived (`count` counts them). */
function roundTrip(s, cmds, count) {
  return new Promise((resolve) => {
    let got = 0;
    const on = (d) => {
      got += count(d);
      if (got >= cmds.length) {
        s.off('data', on);
        resolve();
      }
    };
    s.on('data', on);
    s.write(cmds.map((c) => encodeCommand(c)).join(''));
  });
}

/**
 * One client's run: `total` GETs of random keys, `DEPTH` in flight; counts `$` and `_` replies. Each
 * batch's round trip goes into `histogram` once per GET in it.
 */
function getLoop(s, total, histogram) {
  return new Promise((resolve) => {
    let sent = 0;
    let done = 0;
    let batchSize = 0;
    let batchStart = 0;
    const batch = () => {
      const cmds = [];
      for (let i = 0; i < DEPTH && sent < total; i++, sent++) cmds.push(encodeCommand(['GET', `key:${(Math.random() * KEYSPACE) | 0}`]));
      batchSize = cmds.length;
      batchStart = performance.now();
      s.write(cmds.join(''));
    };
    s.on('data', (d) => {
      // Values are 3 bytes, so every reply is "$3\r\nxxx\r\n": count the '$' starts.
      for (let i = 0; i < d.length; i++) if (d[i] === 36) done++;
      if (done === sent) histogram.recordValueWithCount(Math.max(1, Math.round((performance.now() - batchStart) * 1000)), batchSize);
      if (done >= total) resolve();
      else if (done === sent) batch();
    });
    batch();
  });
}

async function measure(server, tracking) {
  const socks = await Promise.all(Array.from({ length: CLIENTS }, () => connect(server.port)));
  const plusCount = (d) => {
    let n = 0;
    for (let i = 0; i < d.length; i++) if (d[i] === 43) n++;
    return n;
  };
  for (const s of socks) {
    await roundTrip(s, [['HELLO', '3', 'SETNAME', 'bench']], (d) => (d.includes(0x25) ? 1 : 0));
    if (tracking) await roundTrip(s, [['CLIENT', 'TRACKING', 'on']], plusCount);
  }
  const histogram = emptyHistogram();
  const cpu0 = cpuSeconds(server);
  const t0 = performance.now();
  await Promise.all(socks.map((s) => getLoop(s, Math.ceil(REQUESTS / CLIENTS), histogram)));
  const secs = (performance.now() - t0) / 1000;
  const cpu = cpuSeconds(server) - cpu0;
  for (const s of socks) s.destroy();
  return { ops: REQUESTS / secs, cpuUs: (cpu * 1e6) / REQUESTS, histogram };
}

async function main() {
  const machine = machineInfo();
  const loadAtStart = os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(' ');
  const specs = serverSpecs({ shards: o.shards });
  const servers = [];
  for (const spec of [specs.redis, specs.sabre]) servers.push(await startServer(spec));
  const results = new Map();
  const hdr = new HdrRuns();
  try {
    for (const srv of servers) {
      const s = await connect(srv.port);
      const cmds = [];
      for (let i = 0; i < KEYSPACE; i++) cmds.push(['SET', `key:${i}`, 'abc']);
      await roundTrip(s, cmds, (d) => {
        let n = 0;
        for (let i = 0; i < d.length; i++) if (d[i] === 43) n++;
        return n;
      });
      s.destroy();
      // Warm-up, unmeasured.
      await measure(srv, false);
      await measure(srv, true);
    }
    for (let r = 0; r < Number(o.rounds); r++) {
      for (const srv of servers) {
        for (const tracking of [false, true]) {
          const key = `${srv.name} ${tracking ? 'on' : 'off'}`;
          const m = await measure(srv, tracking);
          if (!results.has(key)) results.set(key, []);
          results.get(key).push(m);
          hdr.add(`GET, ${DEPTH} in flight per client, tracking ${tracking ? 'on' : 'off'}`, srv.name, m.histogram);
          process.stdout.write(`round ${r + 1} ${key}: ${Math.round(m.ops)} ops/s, ${m.cpuUs.toFixed(2)} CPU µs/op\n`);
        }
      }
    }
  } finally {
    for (const srv of servers) await stopServer(srv);
  }
  const row = (name) => {
    const off = results.get(`${name} off`);
    const on = results.get(`${name} on`);
    const offOps = median(off.map((m) => m.ops));
    const onOps = median(on.map((m) => m.ops));
    return `| ${name} | ${Math.round(offOps).toLocaleString('en-US')} | ${Math.round(onOps).toLocaleString('en-US')} | ${(onOps / offOps).toFixed(2)} | ${median(off.map((m) => m.cpuUs)).toFixed(2)} | ${median(on.map((m) => m.cpuUs)).toFixed(2)} |`;
  };
  const md = [
    `# CLIENT TRACKING: GET throughput with tracking off and on, ${new Date().toISOString()}`,
    '',
    `- Command: \`${commandLine()}\``,
    `- Machine: ${machine.nproc} CPUs (${machine.cpuModel}), ${machine.kernel}; Node ${machine.node}, redis-server ${machine.redisVersion}; load average at start ${loadAtStart}`,
    `- ${CLIENTS} RESP3 clients, ${DEPTH} GETs in flight each, ${REQUESTS} GETs per run over ${KEYSPACE} keys, ${o.rounds} rounds in alternation; medians.`,
    '',
    '| Server | ops/s off | ops/s on | on/off | CPU µs/op off | CPU µs/op on |',
    '|---|--:|--:|--:|--:|--:|',
    row('redis'),
    row('sabre'),
    '',
  ];
  const file = o.out ?? path.join(RESULTS_DIR, `tracking-reads-${fileStamp()}.md`);
  md.push(
    ...hdr.write(path.join(path.dirname(file), path.basename(file, '.md')), path.dirname(file), {
      note: "Each GET's latency is its batch's round trip (the client writes the next batch once all replies are in).",
    }),
  );
  writeResult(file, md.join('\n'));
}

runMain(main);
