// Sabre vs Redis 7.0 for streams: redis-benchmark throughput of XADD, XRANGE (10 and 100 entries),
// XREAD and XREADGROUP (-P 1 and -P 16, alternating servers, median of runs), and memory per entry
// of a 1M-entry stream with two small fields per entry (used_memory and RSS growth in both).
// Writes native-bench/results/streams.md.
// Usage: npm run build && node native-bench/streams-compare.mjs [--runs 3] [--requests 100000] [--entries 1000000]
import os from 'node:os';
import path from 'node:path';
import { HdrRuns } from './lib/hdr-report.mjs';
import { runRedisBenchmark } from './lib/redis-benchmark.mjs';
import {
  RESULTS_DIR,
  alternating,
  encodeCommand,
  infoField,
  machineInfo,
  median,
  option,
  pipeline,
  rawCommand,
  rssBytes,
  runMain,
  serverSpecs,
  sleep,
  startServer,
  stopServer,
  writeResult,
} from './lib/servers.mjs';

const RUNS = Number(option('runs', 3));
const REQUESTS = Number(option('requests', 100000));
const N = Number(option('entries', 1000000));
const SPECS = serverSpecs({ shards: 1 });

/** One XADD per entry, explicit ids so both servers hold the same stream. */
function loadCommands(key) {
  const cmds = [];
  for (let i = 1; i <= N; i++) cmds.push(encodeCommand(['xadd', key, `${i}-0`, 'f1', `v${i}`, 'f2', `w${i}`]));
  return cmds;
}

/** Loads twice into other keys (warming each process), then measures the third load's growth. */
async function measureLoad(srv) {
  for (let w = 0; w < 2; w++) await pipeline(srv.port, loadCommands(`warm${w}`));
  await sleep(300);
  const b0 = rssBytes(srv);
  const u0 = await infoField(srv.port, 'memory', 'used_memory');
  await pipeline(srv.port, loadCommands('big'));
  await sleep(300);
  return { rss: (rssBytes(srv) - b0) / N, used: ((await infoField(srv.port, 'memory', 'used_memory')) - u0) / N };
}

async function memory() {
  const r = await startServer(SPECS.redis);
  const redis = await measureLoad(r);
  await stopServer(r);
  const s = await startServer(SPECS.sabre);
  const sabre = await measureLoad(s);
  await stopServer(s);
  const f = (x) => x.toFixed(1);
  const row = `| stream, 2 fields (XADD) | ${f(redis.used)} | ${f(redis.rss)} | ${f(sabre.used)} | ${f(sabre.rss)} | ${(sabre.used / redis.used).toFixed(2)} | ${(sabre.rss / redis.rss).toFixed(2)} |`;
  console.log(row);
  return [row];
}

const TESTS = {
  'XADD s * f v': ['xadd', 's', '*', 'f', 'v'],
  'XRANGE 10': ['xrange', 'r', '-', '+', 'COUNT', '10'],
  'XRANGE 100': ['xrange', 'r', '-', '+', 'COUNT', '100'],
  'XREAD COUNT 10': ['xread', 'COUNT', '10', 'STREAMS', 'r', '0'],
  'XREADGROUP > (1 entry)': ['xreadgroup', 'GROUP', 'g', 'c', 'COUNT', '1', 'STREAMS', 'q', '>'],
};

/** The streams the read tests read: r (1000 entries) and q (enough new entries for every XREADGROUP). */
async function prepare(srv) {
  await rawCommand(srv.port, 'flushall');
  const cmds = [];
  for (let i = 1; i <= 1000; i++) cmds.push(encodeCommand(['xadd', 'r', `${i}-0`, 'f1', `v${i}`, 'f2', `w${i}`]));
  const need = REQUESTS * RUNS * 2 + 1000;
  for (let i = 1; i <= need; i++) cmds.push(encodeCommand(['xadd', 'q', `${i}-0`, 'job', `j${i}`]));
  await pipeline(srv.port, cmds);
  await rawCommand(srv.port, 'xgroup', 'create', 'q', 'g', '0');
}

/** One redis-benchmark run's requests per second; its latency distribution goes to `hdr`. */
async function benchOnce(srv, depth, label, argv, hdr) {
  const run = await runRedisBenchmark(srv, ['-n', String(REQUESTS), '-P', String(depth), ...argv]);
  hdr.add(`${label} -P ${depth}`, srv.name, run.first?.histogram);
  return run.first?.rps ?? 0;
}

async function bench(hdr) {
  const r = await startServer(SPECS.redis);
  const s = await startServer(SPECS.sabre);
  const rows = [];
  try {
    await prepare(r);
    await prepare(s);
    for (const depth of [1, 16]) {
      for (const [label, argv] of Object.entries(TESTS)) {
        const acc = { redis: [], sabre: [] };
        await alternating(RUNS, [r, s], async (srv) => {
          acc[srv.name].push(await benchOnce(srv, depth, label, argv, hdr));
        });
        const rv = median(acc.redis);
        const sv = median(acc.sabre);
        rows.push(`| ${label} | ${depth} | ${Math.round(rv)} | ${Math.round(sv)} | ${(sv / rv).toFixed(2)} |`);
        console.log(rows.at(-1));
      }
    }
  } finally {
    await stopServer(r);
    await stopServer(s);
  }
  return rows;
}

async function main() {
  const hdr = new HdrRuns();
  const mem = await memory();
  const rows = await bench(hdr);
  const lines = [
    `# Streams: Sabre vs Redis ${machineInfo().redisVersion}`,
    '',
    `Machine: ${os.cpus().length} cores, ${new Date().toISOString()}; Sabre with --shards 1.`,
    `Reproduce: \`npm run build && node native-bench/streams-compare.mjs --runs ${RUNS} --requests ${REQUESTS} --entries ${N}\``,
    '',
    `## Memory per entry (${N} entries in one stream, 2 field/value pairs each)`,
    '',
    'Bytes per entry grown by the third load (after two loads into other keys), in each server.',
    '',
    '| stream | Redis used_memory | Redis RSS | Sabre used_memory | Sabre RSS | used_memory Sabre/Redis | RSS Sabre/Redis |',
    '|---|---|---|---|---|---|---|',
    ...mem,
    '',
    `## redis-benchmark (-n ${REQUESTS}, median of ${RUNS}, alternating servers)`,
    '',
    'XRANGE and XREAD read a 1000-entry stream; XREADGROUP reads one new entry per call from a preloaded stream (its PEL grows).',
    '',
    '| test | -P | Redis rps | Sabre rps | Sabre/Redis |',
    '|---|---|---|---|---|',
    ...rows,
    '',
    ...hdr.write(path.join(RESULTS_DIR, 'streams'), RESULTS_DIR, { heading: '### Latency distributions (HDR)' }),
  ];
  writeResult(path.join(RESULTS_DIR, 'streams.md'), lines.join('\n'));
}

runMain(main);
