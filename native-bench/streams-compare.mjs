// Sabre vs Redis 7.0 for streams: redis-benchmark throughput of XADD, XRANGE (10 and 100 entries),
// XREAD and XREADGROUP (-P 1 and -P 16, alternating servers, median of runs), and memory per entry
// of a 1M-entry stream with two small fields per entry (used_memory and RSS growth in both).
// Writes native-bench/results/streams.md, and the HDR latency files and plots under results/streams/.
// Usage: npm run build && node native-bench/streams-compare.mjs [--runs 3] [--requests 100000] [--entries 1000000]
import os from 'node:os';
import path from 'node:path';
import { HdrRuns } from './lib/hdr-report.mjs';
import { benchRounds } from './lib/redis-benchmark.mjs';
import {
  RESULTS_DIR,
  encodeCommand,
  machineInfo,
  option,
  pipeline,
  rawCommand,
  runMain,
  serverSpecs,
  thirdLoadGrowth,
  withServers,
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

/** Growth per entry of the third load (the first two go into other keys: warm-ups). */
function measureLoad(srv) {
  return thirdLoadGrowth(srv, N, (i) => pipeline(srv.port, loadCommands(i < 2 ? `warm${i}` : 'big')));
}

async function memory() {
  const redis = await withServers([SPECS.redis], measureLoad);
  const sabre = await withServers([SPECS.sabre], measureLoad);
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

/** Requests/s of each test at -P 1 and -P 16, alternating servers. */
function bench(hdr) {
  return withServers([SPECS.redis, SPECS.sabre], async (r, s) => {
    const rows = [];
    await prepare(r);
    await prepare(s);
    for (const depth of [1, 16]) {
      for (const [label, argv] of Object.entries(TESTS)) {
        const args = ['-n', String(REQUESTS), '-P', String(depth), ...argv];
        const { redis, sabre } = await benchRounds([r, s], RUNS, args, { requests: REQUESTS, hdr, label: `${label} -P ${depth}` });
        rows.push(`| ${label} | ${depth} | ${Math.round(redis.rps)} | ${Math.round(sabre.rps)} | ${(sabre.rps / redis.rps).toFixed(2)} |`);
        console.log(rows.at(-1));
      }
    }
    return rows;
  });
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
