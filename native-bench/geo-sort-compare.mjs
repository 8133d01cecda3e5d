// Sabre vs Redis 7.0 for geo and SORT: redis-benchmark throughput of GEOADD, GEOSEARCH and SORT of a
// 100-element list (-P 1 and -P 16, alternating servers, median of runs), and memory per member of a
// 1M-member geo set (used_memory and RSS growth in both). Writes native-bench/results/geo-sort.md
// (HDR latency files and plots under results/geo-sort/).
// Usage: npm run build && node native-bench/geo-sort-compare.mjs [--runs 5] [--requests 100000] [--elements 1000000]
import { cpus } from 'node:os';
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

const RUNS = Number(option('runs', 5));
const REQUESTS = Number(option('requests', 100000));
const N = Number(option('elements', 1000000));
const SPECS = serverSpecs({ shards: 1 });

/** mulberry32, so both servers get the same data. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** GEOADD of N points in batches of 100 (the same points for both servers). */
function geoLoad() {
  const rand = rng(42);
  const cmds = [];
  for (let i = 0; i < N; i += 100) {
    const parts = ['geoadd', 'big'];
    for (let j = i; j < Math.min(N, i + 100); j++)
      parts.push((rand() * 360 - 180).toFixed(6), (rand() * 170 - 85).toFixed(6), `member:${j}`);
    cmds.push(encodeCommand(parts));
  }
  return cmds;
}

/** Growth per member of the third load into `big` (the first two are renamed away: warm-ups). */
function measureLoad(srv, cmds) {
  return thirdLoadGrowth(srv, N, async (i) => {
    await pipeline(srv.port, cmds);
    if (i < 2) await rawCommand(srv.port, 'rename', 'big', `warm${i}`);
  });
}

/** What the throughput tests read: 1000 points around Sicily and a list of 100 random integers. */
function fixtures() {
  const rand = rng(7);
  const cmds = [];
  for (let i = 0; i < 1000; i += 100) {
    const parts = ['geoadd', 'pts'];
    for (let j = i; j < i + 100; j++) parts.push((12 + rand() * 6).toFixed(6), (36 + rand() * 3).toFixed(6), `p${j}`);
    cmds.push(encodeCommand(parts));
  }
  const list = ['rpush', 'l100'];
  for (let i = 0; i < 100; i++) list.push(String(Math.floor(rand() * 100000)));
  cmds.push(encodeCommand(list));
  return cmds;
}

const TESTS = [
  ['ZADD (reference)', ['-r', '100000', 'ZADD', 'z', '3479099956230698', 'm:__rand_int__']],
  ['GEOADD', ['-r', '100000', 'GEOADD', 'g', '13.361389', '38.115556', 'm:__rand_int__']],
  ['GEOSEARCH 50 km, ~20 hits', ['GEOSEARCH', 'pts', 'FROMLONLAT', '15', '37.5', 'BYRADIUS', '50', 'km', 'ASC', 'WITHDIST']],
  ['GEOSEARCH BYBOX COUNT 5', ['GEOSEARCH', 'pts', 'FROMMEMBER', 'p1', 'BYBOX', '200', '200', 'km', 'COUNT', '5']],
  ['LRANGE 0 99 (reference)', ['LRANGE', 'l100', '0', '99']],
  ['SORT 100 (numeric)', ['SORT', 'l100']],
  ['SORT 100 ALPHA LIMIT 0 10', ['SORT', 'l100', 'ALPHA', 'LIMIT', '0', '10']],
];

/** Requests/s and server CPU µs per request (all its threads) of each test at -P 1 and -P 16, alternating servers. */
function bench(hdr) {
  return withServers([SPECS.redis, SPECS.sabre], async (r, s) => {
    const rows = [];
    for (const srv of [r, s]) await pipeline(srv.port, fixtures());
    const args = (depth, argv) => ['-n', String(REQUESTS), '-P', String(depth), ...argv];
    // One unmeasured pass each, so Sabre's JIT has compiled the paths before the rounds.
    for (const [, argv] of TESTS) await benchRounds([r, s], 1, args(16, argv), { requests: REQUESTS });
    for (const depth of [1, 16]) {
      for (const [label, argv] of TESTS) {
        const { redis, sabre } = await benchRounds([r, s], RUNS, args(depth, argv), {
          requests: REQUESTS,
          hdr,
          label: `${label} -P ${depth}`,
        });
        rows.push(
          `| ${label} | ${depth} | ${Math.round(redis.rps)} | ${Math.round(sabre.rps)} | ${(sabre.rps / redis.rps).toFixed(2)} | ${redis.cpu.toFixed(1)} | ${sabre.cpu.toFixed(1)} | ${(redis.cpu / sabre.cpu).toFixed(2)} |`,
        );
        console.log(rows.at(-1));
      }
    }
    return rows;
  });
}

async function memory() {
  const cmds = geoLoad();
  const redis = await withServers([SPECS.redis], (srv) => measureLoad(srv, cmds));
  const sabre = await withServers([SPECS.sabre], (srv) => measureLoad(srv, cmds));
  const f = (x) => x.toFixed(1);
  const row = `| geo set (GEOADD) | ${f(redis.used)} | ${f(redis.rss)} | ${f(sabre.used)} | ${f(sabre.rss)} | ${(sabre.used / redis.used).toFixed(2)} | ${(sabre.rss / redis.rss).toFixed(2)} |`;
  console.log(row);
  return [row];
}

async function main() {
  const hdr = new HdrRuns();
  const lines = [
    `# Geo and SORT: Sabre vs Redis ${machineInfo().redisVersion}`,
    '',
    `Machine: ${cpus().length} cores, ${new Date().toISOString()}; Sabre with --shards 1.`,
    `Reproduce: \`npm run build && node native-bench/geo-sort-compare.mjs --runs ${RUNS} --requests ${REQUESTS} --elements ${N}\``,
    '',
    `## Memory per member (${N} members in one geo set)`,
    '',
    'Bytes per member grown by the third load (after two loads into other keys), in each server.',
    '',
    '| collection | Redis used_memory | Redis RSS | Sabre used_memory | Sabre RSS | used_memory Sabre/Redis | RSS Sabre/Redis |',
    '|---|---|---|---|---|---|---|',
    ...(await memory()),
    '',
    `## redis-benchmark (-n ${REQUESTS}, median of ${RUNS}, alternating servers)`,
    '',
    '1000 points around Sicily for the searches; SORT reads a list of 100 random integers.',
    '',
    "Throughput on a shared, loaded 2-core machine swings run to run, so each server's CPU time per request",
    '(user + system over all its threads, from /proc) is given too: "CPU Redis/Sabre" above 1 means Sabre spends less.',
    '',
    '| test | -P | Redis rps | Sabre rps | Sabre/Redis | Redis CPU µs/req | Sabre CPU µs/req | CPU Redis/Sabre |',
    '|---|---|---|---|---|---|---|---|',
    ...(await bench(hdr)),
    '',
    ...hdr.write(path.join(RESULTS_DIR, 'geo-sort'), RESULTS_DIR, { heading: '### Latency distributions (HDR)' }),
  ];
  writeResult(path.join(RESULTS_DIR, 'geo-sort.md'), lines.join('\n'));
}

runMain(main);
