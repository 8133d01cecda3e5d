// Sabre vs Redis 7.0 for bitmaps and HyperLogLogs: redis-benchmark throughput of SETBIT, GETBIT,
// BITCOUNT, PFADD and PFCOUNT (-P 1 and -P 16, alternating servers, median of runs) and the memory
// of 10k HLLs, sparse and dense (used_memory and process RSS growth in both).
// Writes native-bench/results/bits-hll.md, and the HDR latency files and plots under results/bits-hll/.
// Usage: npm run build && node native-bench/bits-hll-compare.mjs [--runs 5] [--requests 200000 (-P 1; x10 at -P 16)] [--only memory|bench]
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
  previousSection,
  rawCommand,
  runMain,
  serverSpecs,
  thirdLoadGrowth,
  withServers,
  writeResult,
} from './lib/servers.mjs';

const RUNS = Number(option('runs', 5));
const REQUESTS = Number(option('requests', 200000));
/**
 * -P 16 runs take this many times the requests: 200k of them last ~0.15 s, so connecting the 50 clients and their
 * first round trips were a large share of each sample (GET 0.71x at 200k, 0.86-0.93x at 2M on the same build).
 */
const P16_FACTOR = 10;
const ONLY = option('only', '');
const HLLS = 10000;

/**
 * The benchmarked commands: `bit:<n>` are 126-byte bitmaps, `bm` spans 100000 bits (12.5 KB), `h1`/`h2`
 * are dense HLLs. (redis-benchmark's __rand_int__ has leading zeros, which Redis refuses as a bit
 * offset, so random positions go in the key name.)
 */
const TESTS = [
  { label: 'GET str (baseline: a 10-byte string)', argv: ['GET', 'str'] },
  { label: 'SETBIT bit:<rand> 1000 1', argv: ['-r', '100000', 'SETBIT', 'bit:__rand_int__', '1000', '1'] },
  { label: 'GETBIT bit:<rand> 1000', argv: ['-r', '100000', 'GETBIT', 'bit:__rand_int__', '1000'] },
  { label: 'SETBIT bm 77777 1 (12.5 KB)', argv: ['SETBIT', 'bm', '77777', '1'] },
  { label: 'BITCOUNT bm (12.5 KB)', argv: ['BITCOUNT', 'bm'] },
  { label: 'BITCOUNT bm 0 99', argv: ['BITCOUNT', 'bm', '0', '99'] },
  { label: 'PFADD h1 <rand>', argv: ['-r', '100000000', 'PFADD', 'h1', '__rand_int__'] },
  { label: 'PFADD hll:<rand> <rand> (sparse)', argv: ['-r', '100000', 'PFADD', 'hll:__rand_int__', '__rand_int__'] },
  { label: 'PFCOUNT h1 (cached)', argv: ['PFCOUNT', 'h1'] },
  { label: 'PFCOUNT h1 h2 (merge)', argv: ['PFCOUNT', 'h1', 'h2'], share: 0.05 },
];

/** PFADD of `elements` elements into each of 10k keys named `${prefix}:<i>`. */
function hllCommands(prefix, elements) {
  const cmds = [];
  for (let k = 0; k < HLLS; k++) {
    const parts = ['pfadd', `${prefix}:${k}`];
    for (let j = 0; j < elements; j++) parts.push(`e${k}-${j}`);
    cmds.push(encodeCommand(parts));
  }
  return cmds;
}

/**
 * Memory of 10k HLLs: loads them twice under other names first (growing each process for the
 * traffic itself), then measures the third load's growth. Dense: hll-sparse-max-bytes 0, so
 * every HLL is promoted at its first change.
 */
async function measureHlls(srv, dense, elements) {
  if (dense) await rawCommand(srv.port, 'config', 'set', 'hll-sparse-max-bytes', '0');
  const growth = await thirdLoadGrowth(srv, HLLS, (i) => pipeline(srv.port, hllCommands(i < 2 ? `warm${i}` : 'hll', elements)));
  return { ...growth, enc: await rawCommand(srv.port, 'pfdebug', 'encoding', 'hll:1') };
}

async function memory() {
  const rows = [];
  for (const [dense, elements] of [
    [false, 100],
    [false, 1000],
    [true, 100],
  ]) {
    const redis = await withServers([SPECS.redis], (srv) => measureHlls(srv, dense, elements));
    const sabre = await withServers([SPECS.sabre], (srv) => measureHlls(srv, dense, elements));
    const f = (x) => x.toFixed(0);
    rows.push(
      `| ${HLLS} HLLs, ${elements} elements each, ${sabre.enc} (Redis: ${redis.enc}) | ${f(redis.used)} | ${f(redis.rss)} | ${f(sabre.used)} | ${f(sabre.rss)} | ${(sabre.used / redis.used).toFixed(2)} | ${(sabre.rss / redis.rss).toFixed(2)} |`,
    );
    console.log(rows.at(-1));
  }
  return rows;
}

/** The keys the benchmarks use: a 100000-bit bitmap and two dense HLLs. */
async function prepare(port) {
  await rawCommand(port, 'flushall');
  const cmds = [encodeCommand(['set', 'str', '0123456789']), encodeCommand(['setbit', 'bm', '99999', '1'])];
  for (let i = 0; i < 100000; i += 3) cmds.push(encodeCommand(['setbit', 'bm', String(i), '1']));
  for (const key of ['h1', 'h2']) {
    for (let i = 0; i < 20000; i += 500) {
      const parts = ['pfadd', key];
      for (let j = i; j < i + 500; j++) parts.push(`${key}-${j}`);
      cmds.push(encodeCommand(parts));
    }
  }
  await pipeline(port, cmds);
  await rawCommand(port, 'pfcount', 'h1');
}

/** Requests/s and server CPU µs per request (all its threads) of each test at -P 1 and -P 16, alternating servers. */
function bench(hdr) {
  return withServers([SPECS.redis, SPECS.sabre], async (r, s) => {
    const rows = [];
    await prepare(r.port);
    await prepare(s.port);
    for (const depth of [1, 16]) {
      for (const test of TESTS) {
        const requests = Math.round(REQUESTS * (depth === 16 ? P16_FACTOR : 1) * (test.share ?? 1));
        const args = ['-n', String(requests), '-P', String(depth), ...test.argv];
        // A first, untimed round warms both servers up (Sabre's JIT, both key tables).
        await benchRounds([r, s], 1, args, { requests });
        const { redis, sabre } = await benchRounds([r, s], RUNS, args, { requests, hdr, label: `${test.label} -P ${depth}` });
        rows.push(
          `| ${test.label} | ${depth} | ${Math.round(redis.rps)} | ${Math.round(sabre.rps)} | ${(sabre.rps / redis.rps).toFixed(2)} | ${redis.cpu.toFixed(2)} | ${sabre.cpu.toFixed(2)} | ${(redis.cpu / sabre.cpu).toFixed(2)} |`,
        );
        console.log(rows.at(-1));
      }
    }
    return rows;
  });
}

const out = path.join(RESULTS_DIR, 'bits-hll.md');
const SPECS = serverSpecs({ shards: 1 });

async function main() {
  const lines = [
    `# Bitmaps and HyperLogLogs: Sabre vs Redis ${machineInfo().redisVersion}`,
    '',
    `Machine: ${os.cpus().length} cores, ${new Date().toISOString()}; Sabre with --shards 1.`,
    'Reproduce: `npm run build && node native-bench/bits-hll-compare.mjs`.',
    '',
  ];
  const MEM = '## Memory of 10k HyperLogLogs';
  if (ONLY === 'bench') lines.push(...previousSection(out, MEM));
  else {
    lines.push(
      `${MEM} (bytes per HLL, key included)`,
      '',
      'Growth of used_memory and RSS from loading the third set of 10k HLLs (after two sets under other names).',
      '',
      '| HLLs | Redis used_memory | Redis RSS | Sabre used_memory | Sabre RSS | used_memory Sabre/Redis | RSS Sabre/Redis |',
      '|---|---|---|---|---|---|---|',
      ...(await memory()),
      '',
    );
  }
  const BENCH = '## redis-benchmark';
  if (ONLY === 'memory') lines.push(...previousSection(out, BENCH));
  else {
    const hdr = new HdrRuns();
    lines.push(
      `${BENCH} (-n ${REQUESTS} at -P 1, ${REQUESTS * P16_FACTOR} at -P 16; median of ${RUNS}, alternating servers)`,
      '',
      '`bit:<rand>` are 100000 keys of 126-byte bitmaps, `bm` a 100000-bit bitmap (every third bit set), `h1` and `h2` dense HLLs of 20000 elements each; the merging PFCOUNT runs 1/20 of the requests. Each test has an untimed warm-up round first.',
      '',
      'CPU µs/op: utime+stime of the server process (all threads) over the run ÷ requests (clock-tick resolution); Redis/Sabre CPU above 1 means Sabre spends less CPU per command.',
      '',
      '| test | -P | Redis rps | Sabre rps | Sabre/Redis rps | Redis CPU µs/op | Sabre CPU µs/op | Redis/Sabre CPU |',
      '|---|---|---|---|---|---|---|---|',
      ...(await bench(hdr)),
      '',
      ...hdr.write(path.join(RESULTS_DIR, 'bits-hll'), RESULTS_DIR, { heading: '### Latency distributions (HDR)' }),
    );
  }
  writeResult(out, lines.join('\n'));
}

runMain(main);
