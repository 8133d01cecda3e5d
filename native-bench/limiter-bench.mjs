#!/usr/bin/env node
// Limiter benchmark (tinybench): ns per local check vs rate-limiter-flexible's RateLimiterMemory
// in the same run, plus the CL.THROTTLE shard function and the Int32-vs-BigInt64 state-word probe.
// Run after `npx tsc -p tsconfig.json`: `node native-bench/limiter-bench.mjs` → native-bench/results/limiter.md
import { mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { Bench } from 'tinybench';
import { RateLimiterMemory } from 'rate-limiter-flexible';
import { GcraLimiter, TokenBucketLimiter, QueueLimiter, BucketTable, monotonicMs, cell } from '../dist/limiter/index.js';

const BATCH = 1000; // checks per tinybench iteration, so timer overhead stays out of ns/check
const KEY = 'ip:10.0.0.1';
const KEYS = Array.from({ length: 1024 }, (_, i) => `ip:10.0.${i >> 8}.${i & 255}`);

// SABRE_BEFORE=/path/to/an/older/dist/limiter/index.js adds that build's check(key) in the same
// rounds, so before and after are measured alternately under the same load.
const before = process.env.SABRE_BEFORE ? await import(process.env.SABRE_BEFORE) : null;
const oldGcra =
  before &&
  new before.GcraLimiter({ table: before.BucketTable.create({ capacity: 4096 }), namespace: 0, limit: 200_000_000, windowMs: 1000 });
const rlf = new RateLimiterMemory({ points: 1e9, duration: 60 });
const table = BucketTable.create({ capacity: 4096 });
const gcra = new GcraLimiter({ table, namespace: 0, limit: 200_000_000, windowMs: 1000 });
const queue = new QueueLimiter({ table, namespace: 2, limit: 200_000_000, windowMs: 1000, burst: 1_000_000 });
const tb = new TokenBucketLimiter({ table, namespace: 1, limit: 60_000, windowMs: 0, refill: { tokens: 60_000, intervalMs: 1 } });

// State-word probe: the same GCRA step on an Int32 word (number math) and a BigInt64 word.
const i32 = new Int32Array(new SharedArrayBuffer(64));
const b64 = new BigInt64Array(new SharedArrayBuffer(64));
function casInt32(now) {
  for (;;) {
    const tat = Atomics.load(i32, 0);
    const d = (tat - now) | 0;
    const nt = ((d > 0 ? tat : now) + 1) | 0;
    if (((nt - now) | 0) > 1e8) return false;
    if (Atomics.compareExchange(i32, 0, tat, nt) === tat) return true;
  }
}
function casBigInt(now) {
  for (;;) {
    const tat = Atomics.load(b64, 0);
    const nt = (tat > now ? tat : now) + 1n;
    if (nt - now > 100_000_000n) return false;
    if (Atomics.compareExchange(b64, 0, tat, nt) === tat) return true;
  }
}

// Each task sums into a local and adds to `sink` once per batch: a module-level number updated per
// check would allocate a HeapNumber each time and blur the allocation-free hot path.
let sink = 0;
const out = cell.newThrottleResult();
// The 2-core machine is shared, so the whole run is repeated and each task's median per round is
// summarized by the median over rounds; ratios compare medians taken in the same runs.
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const TIME_MS = Number(process.env.BENCH_TIME_MS ?? 1000);

// Each round runs the tasks in a rotated order, so no task always runs in the same part of a round.
function makeBench(round) {
  const tasks = [];
  const bench = {
    add(name, fn) {
      tasks.push([name, fn]);
      return bench;
    },
  };
  bench
    // As users call it: `await limiter.consume(key)`; RateLimiterMemory reads Date.now() inside.
    .add('rate-limiter-flexible RateLimiterMemory.consume (1 key)', async () => {
      let acc = 0;
      for (let i = 0; i < BATCH; i++) acc += (await rlf.consume(KEY)).remainingPoints;
      sink += acc;
    })
    .add('rate-limiter-flexible RateLimiterMemory.consume (1024 keys)', async () => {
      let acc = 0;
      for (let i = 0; i < BATCH; i++) acc += (await rlf.consume(KEYS[i & 1023])).remainingPoints;
      sink += acc;
    })
    // Its synchronous part only: the calls without awaiting each promise (the last one is awaited).
    .add('rate-limiter-flexible RateLimiterMemory.consume, sync part (1024 keys)', async () => {
      let p;
      for (let i = 0; i < BATCH; i++) p = rlf.consume(KEYS[i & 1023]);
      sink += (await p).remainingPoints;
    })
    // As users call it: check(key), the limiter reads its default clock (coarseMs) on every call.
    .add('sabre GcraLimiter.check(key), default clock read per call (1 key)', () => {
      let acc = 0;
      for (let i = 0; i < BATCH; i++) acc += gcra.check(KEY).remaining;
      sink += acc;
    })
    .add('sabre GcraLimiter.check(key), default clock read per call (1024 keys)', () => {
      let acc = 0;
      for (let i = 0; i < BATCH; i++) acc += gcra.check(KEYS[i & 1023]).remaining;
      sink += acc;
    })
    .add('sabre GcraLimiter.check(key, 1, monotonicMs()), precise clock read per call (1024 keys)', () => {
      let acc = 0;
      for (let i = 0; i < BATCH; i++) acc += gcra.check(KEYS[i & 1023], 1, monotonicMs()).remaining;
      sink += acc;
    })
    .add('sabre GcraLimiter.check(key, 1, Date.now()), Date.now() per call (1024 keys)', () => {
      let acc = 0;
      for (let i = 0; i < BATCH; i++) acc += gcra.check(KEYS[i & 1023], 1, Date.now()).remaining;
      sink += acc;
    })
    .add('sabre GcraLimiter.check, caller clock per batch (1024 keys)', () => {
      const now = monotonicMs();
      let acc = 0;
      for (let i = 0; i < BATCH; i++) acc += gcra.check(KEYS[i & 1023], 1, now).remaining;
      sink += acc;
    })
    .add('sabre QueueLimiter.reserve(key), precise clock read per call (1024 keys)', () => {
      let acc = 0;
      for (let i = 0; i < BATCH; i++) acc += queue.reserve(KEYS[i & 1023]).remaining;
      sink += acc;
    })
    .add('probe: clock read, monotonicMs()', () => {
      let acc = 0;
      for (let i = 0; i < BATCH; i++) acc += monotonicMs();
      sink += acc;
    })
    .add('sabre TokenBucketLimiter.check, caller clock per batch (1 key)', () => {
      const now = monotonicMs();
      let acc = 0;
      for (let i = 0; i < BATCH; i++) acc += tb.check(KEY, 1, now).remaining;
      sink += acc;
    })
    .add('cell.throttle (CL.THROTTLE shard function, BigInt)', () => {
      let tat = null;
      const now = 1_700_000_000_000_000_000n;
      let acc = 0;
      for (let i = 0; i < BATCH; i++) {
        const r = cell.throttle(tat, now + BigInt(i) * 1000n, 1_000_000n, 1_000_000n, 1n, 1n, out);
        tat = r.newTatNs ?? tat;
        acc += r.remaining;
      }
      sink += acc;
    })
    .add('probe: bare Int32 CAS GCRA step, caller clock', () => {
      const now = Math.floor(monotonicMs() * 1000) | 0;
      let acc = 0;
      for (let i = 0; i < BATCH; i++) acc += casInt32(now) ? 1 : 0;
      sink += acc;
    })
    .add('probe: bare BigInt64 CAS GCRA step, caller clock', () => {
      const now = BigInt(Math.floor(monotonicMs() * 1000));
      let acc = 0;
      for (let i = 0; i < BATCH; i++) acc += casBigInt(now) ? 1 : 0;
      sink += acc;
    });
  if (oldGcra) {
    bench
      .add('before (SABRE_BEFORE build): GcraLimiter.check(key), default clock read per call (1 key)', () => {
        let acc = 0;
        for (let i = 0; i < BATCH; i++) acc += oldGcra.check(KEY).remaining;
        sink += acc;
      })
      .add('before (SABRE_BEFORE build): GcraLimiter.check(key), default clock read per call (1024 keys)', () => {
        let acc = 0;
        for (let i = 0; i < BATCH; i++) acc += oldGcra.check(KEYS[i & 1023]).remaining;
        sink += acc;
      })
      .add('before (SABRE_BEFORE build): GcraLimiter.check, caller clock per batch (1024 keys)', () => {
        const now = monotonicMs();
        let acc = 0;
        for (let i = 0; i < BATCH; i++) acc += oldGcra.check(KEYS[i & 1023], 1, now).remaining;
        sink += acc;
      });
  }
  const real = new Bench({ time: TIME_MS, warmupTime: 200 });
  for (let i = 0; i < tasks.length; i++) real.add(...tasks[(i + round) % tasks.length]);
  return real;
}

const LOAD_BEFORE = loadavg()
  .map((x) => x.toFixed(2))
  .join(' ');
const perTask = new Map();
for (let round = 0; round < ROUNDS; round++) {
  const bench = makeBench(round);
  await bench.run();
  for (const t of bench.tasks) {
    const list = perTask.get(t.name) ?? [];
    list.push({ p50: (t.result.latency.p50 * 1e6) / BATCH, mean: (t.result.latency.mean * 1e6) / BATCH });
    perTask.set(t.name, list);
  }
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const rows = [...perTask].map(([name, list]) => ({
  name,
  p50: median(list.map((x) => x.p50)),
  mean: median(list.map((x) => x.mean)),
  rounds: list.map((x) => x.p50.toFixed(0)).join(' / '),
}));
const base = rows[0].p50;
const baseKeys = rows[1].p50;
const baseSync = rows[2].p50;
const fmt = (n) => n.toFixed(1);
let md = `# Limiter benchmark\n\n`;
md += `Command: \`npx tsc -p tsconfig.json && node native-bench/limiter-bench.mjs\` (tinybench, ${BATCH} checks per iteration, ns/check = iteration latency / ${BATCH}; ${ROUNDS} runs of ${TIME_MS} ms per task, median over runs).\n\n`;
md += `Run: ${new Date().toISOString()}, Node ${process.version}, ${cpus()[0]?.model ?? 'unknown CPU'} × ${cpus().length}, load average before/after ${LOAD_BEFORE} / ${loadavg()
  .map((x) => x.toFixed(2))
  .join(' ')}.\n\n`;
md += `| task | median ns/check | mean ns/check | per-run medians | vs RateLimiterMemory (same keys) |\n|---|---:|---:|---|---:|\n`;
for (const r of rows) {
  const ref = r.name.includes('1024 keys') ? baseKeys : base;
  const vsSync = r.name.includes('1024 keys') && /^(sabre|before)/.test(r.name) ? ` (${(baseSync / r.p50).toFixed(1)}× its sync part)` : '';
  const ratio = /^(sabre|before)/.test(r.name)
    ? `${(ref / r.p50).toFixed(1)}×${vsSync}`
    : r.name === rows[2].name
      ? ''
      : r.name.startsWith('rate-limiter')
        ? '1.0×'
        : '';
  md += `| ${r.name} | ${fmt(r.p50)} | ${fmt(r.mean)} | ${r.rounds} | ${ratio} |\n`;
}
mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
writeFileSync(process.env.BENCH_OUT ?? new URL('./results/limiter.md', import.meta.url), md);
process.stdout.write(md);
if (sink === 42) process.stdout.write('\n');
