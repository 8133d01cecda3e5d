// Sabre vs Redis 7.0 for the collection types: redis-benchmark throughput (-P 1 and -P 16,
// alternating servers, median of runs) and memory per element of 1M-element collections
// (used_memory and process RSS growth in both). Writes native-bench/results/datatypes.md
// (HDR latency files and plots under results/datatypes/).
// Usage: npm run build && node native-bench/datatypes-compare.mjs [--runs 3] [--requests 100000] [--only memory|bench]
//        [--pin 1:0]  (bench only: both servers on CPU 1 and redis-benchmark on CPU 0, via taskset; the
//        pinned table is kept beside the unpinned one)
import os from 'node:os';
import path from 'node:path';
import { HdrRuns } from './lib/hdr-report.mjs';
import { runRedisBenchmark } from './lib/redis-benchmark.mjs';
import {
  RESULTS_DIR,
  alternating,
  encodeCommand,
  machineInfo,
  median,
  option,
  pinnedSpec,
  pipeline,
  previousSection,
  rawCommand,
  rssBytes,
  runMain,
  serverSpecs,
  thirdLoadGrowth,
  withServers,
  writeResult,
} from './lib/servers.mjs';

const RUNS = Number(option('runs', 3));
const REQUESTS = Number(option('requests', 100000));
const ONLY = option('only', '');
const PIN = option('pin', '');
const [SERVER_CPUS, CLIENT_CPUS] = PIN.split(':');
const TESTS = ['lpush', 'rpush', 'lpop', 'rpop', 'sadd', 'hset', 'spop', 'zadd', 'lrange_100', 'lrange_300'];
const N = Number(option('elements', 1000000));
const SPECS = serverSpecs({ shards: 1 });
const REDIS = pinnedSpec(SPECS.redis, SERVER_CPUS);
const SABRE = pinnedSpec(SPECS.sabre, SERVER_CPUS);

const LOADS = {
  'sorted set (ZADD)': (i) => ['zadd', 'big', String(i), `member:${i}`],
  'hash (HSET)': (i) => ['hset', 'big', `field:${i}`, `value:${i}`],
  'set (SADD)': (i) => ['sadd', 'big', `member:${i}`],
  'list (RPUSH)': (i) => ['rpush', 'big', `element:${i}`],
};

/** Batches of 100 elements per command, as a client loading data would. */
function loadCommands(make) {
  const cmds = [];
  for (let i = 0; i < N; i += 100) {
    const first = make(i);
    const parts = first.slice(0, 2);
    for (let j = i; j < Math.min(N, i + 100); j++) parts.push(...make(j).slice(2));
    cmds.push(encodeCommand(parts));
  }
  return cmds;
}

/**
 * Loads the collection twice into other keys (the first loads also grow each process for the
 * traffic itself: V8's heap, Redis's query buffers), then measures the third load's growth of
 * used_memory and of RSS, the same way for both servers.
 */
async function measureLoad(srv, cmds) {
  let cold = 0;
  const growth = await thirdLoadGrowth(srv, N, async (i) => {
    const r0 = rssBytes(srv);
    await pipeline(srv.port, cmds);
    if (i === 0) cold = (rssBytes(srv) - r0) / N;
    if (i < 2) await rawCommand(srv.port, 'rename', 'big', `warm${i}`);
  });
  return { ...growth, cold };
}

async function memory() {
  const rows = [];
  for (const [label, make] of Object.entries(LOADS)) {
    const cmds = loadCommands(make);
    const redis = await withServers([REDIS], (srv) => measureLoad(srv, cmds));
    const sabre = await withServers([SABRE], (srv) => measureLoad(srv, cmds));
    const f = (x) => x.toFixed(1);
    rows.push(
      `| ${label} | ${f(redis.used)} | ${f(redis.rss)} | ${f(sabre.used)} | ${f(sabre.rss)} | ${f(sabre.cold)} | ${(sabre.used / redis.used).toFixed(2)} | ${(sabre.rss / redis.rss).toFixed(2)} |`,
    );
    console.log(rows.at(-1));
  }
  return rows;
}

/** One redis-benchmark run of every test: requests per second by test name; latency distributions go to `hdr`. */
async function benchOnce(srv, pipelineDepth, hdr, prefix) {
  const argv = ['-n', String(REQUESTS), '-P', String(pipelineDepth), '-t', TESTS.join(',')];
  const run = await runRedisBenchmark(srv, argv, { pin: CLIENT_CPUS });
  const res = {};
  for (const [title, t] of run.tests) {
    if (title.startsWith('LPUSH (')) continue;
    const name = title.split(' ')[0];
    res[name] = t.rps;
    hdr.add(`${prefix}${name} -P ${pipelineDepth}`, srv.name, t.histogram);
  }
  return res;
}

function bench(hdr, prefix) {
  return withServers([REDIS, SABRE], async (r, s) => {
    const rows = [];
    for (const depth of [1, 16]) {
      const acc = { redis: {}, sabre: {} };
      await alternating(RUNS, [r, s], async (srv) => {
        const res = await benchOnce(srv, depth, hdr, prefix);
        for (const [k, v] of Object.entries(res)) (acc[srv.name][k] ??= []).push(v);
      });
      for (const k of Object.keys(acc.redis)) {
        const rv = median(acc.redis[k]);
        const sv = median(acc.sabre[k] ?? [0]);
        rows.push(`| ${k} | ${depth} | ${Math.round(rv)} | ${Math.round(sv)} | ${(sv / rv).toFixed(2)} |`);
        console.log(rows.at(-1));
      }
    }
    return rows;
  });
}

const out = path.join(RESULTS_DIR, 'datatypes.md');
const UNPINNED = '## redis-benchmark (';
const PINNED = '## redis-benchmark, pinned';
/** This run's table under `title`, or the previous run's section of that name when this run does not redo it. */
async function benchSection(title, fresh) {
  if (!fresh) return previousSection(out, title);
  const head = title === PINNED ? `${PINNED}: servers on CPU ${SERVER_CPUS}, redis-benchmark on CPU ${CLIENT_CPUS} (` : UNPINNED;
  const hdr = new HdrRuns();
  return [
    `${head}-n ${REQUESTS}, median of ${RUNS}, alternating servers)`,
    '',
    '| test | -P | Redis rps | Sabre rps | Sabre/Redis |',
    '|---|---|---|---|---|',
    ...(await bench(hdr, title === PINNED ? 'pinned ' : '')),
    '',
    ...hdr.write(path.join(RESULTS_DIR, 'datatypes'), RESULTS_DIR, { heading: '### Latency distributions (HDR)' }),
  ];
}

async function main() {
  const lines = [
    `# Collection types: Sabre vs Redis ${machineInfo().redisVersion}`,
    '',
    `Machine: ${os.cpus().length} cores, ${new Date().toISOString()}; Sabre with --shards 1.`,
    '',
  ];
  if (ONLY === 'bench') lines.push(...previousSection(out, '## Memory per element'));
  else {
    lines.push(
      `## Memory per element (${N} elements in one key)`,
      '',
      'Bytes per element grown by the third load of the collection (after two loads into other keys), in each server.',
      '',
      '| collection | Redis used_memory | Redis RSS | Sabre used_memory | Sabre RSS | Sabre RSS, 1st load | used_memory Sabre/Redis | RSS Sabre/Redis |',
      '|---|---|---|---|---|---|---|---|',
      ...(await memory()),
      '',
    );
  }
  lines.push(...(await benchSection(UNPINNED, ONLY !== 'memory' && !PIN)), ...(await benchSection(PINNED, ONLY !== 'memory' && !!PIN)));
  writeResult(out, lines.join('\n'));
}

runMain(main);
