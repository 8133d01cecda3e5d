// EVAL/EVALSHA throughput, Sabre (1 shard) vs real Redis 7.0 in the same run: redis-benchmark,
// alternating rounds, medians, with each server's CPU time per request (utime+stime of all its threads
// over the run, so contention from other processes shows in req/s but much less in CPU µs/op).
// Each case first runs once on each server unrecorded: Sabre's first pass pays V8's JIT and WebAssembly
// tier-up (a fresh process), which no later round does.
// Usage: node native-bench/eval-compare.mjs [rounds] [case-name-filter]
// Needs redis-server and redis-benchmark on PATH and `npm run build` done. Prints the Markdown table and
// writes the HDR distributions and plots under results/eval/, with the section that links them.
import path from 'node:path';
import { HdrRuns } from './lib/hdr-report.mjs';
import { runRedisBenchmark } from './lib/redis-benchmark.mjs';
import { RESULTS_DIR, cpuSeconds, median, rawCommand, runMain, serverSpecs, startServer, stopServer } from './lib/servers.mjs';

const ROUNDS = Number(process.argv[2] ?? 3);
const ONLY = process.argv[3] ?? '';
const INCR = "return redis.call('INCR', KEYS[1])";
const TEN = "for i = 1, 5 do redis.call('INCR', KEYS[1]) redis.call('GET', KEYS[1]) end return 1";
const SET = "return redis.call('set',KEYS[1],ARGV[1])";

/** One redis-benchmark run: requests per second and the server's CPU µs per request; its latency distribution goes to `hdr`. */
async function bench(server, c, hdr) {
  const args = ['-n', String(c.n), '-P', String(c.P), '-c', '50', '-r', '100000', ...c.args];
  const cpu0 = cpuSeconds(server);
  const run = await runRedisBenchmark(server, args);
  const cpu = cpuSeconds(server) - cpu0;
  if (run.first === null) throw new Error(`redis-benchmark on ${server.port}: ${run.output}`);
  hdr.add(c.name, server.name, run.first.histogram);
  return { rps: run.first.rps, cpuUs: (cpu * 1e6) / c.n };
}

async function main() {
  const specs = serverSpecs({ shards: 1 });
  const redis = await startServer(specs.redis);
  const sabre = await startServer(specs.sabre);
  try {
    const cases = [];
    for (const [name, script] of [
      ['INCR', INCR],
      ['10 calls', TEN],
    ]) {
      const sha = await rawCommand(redis.port, 'script', 'load', script);
      await rawCommand(sabre.port, 'script', 'load', script);
      cases.push({ name: `EVALSHA ${name} -P 1`, P: 1, n: 100000, args: ['evalsha', sha, '1', 'counter:__rand_int__'] });
      cases.push({ name: `EVALSHA ${name} -P 16`, P: 16, n: 100000, args: ['evalsha', sha, '1', 'counter:__rand_int__'] });
    }
    cases.push({ name: 'EVAL set -P 16', P: 16, n: 100000, args: ['eval', SET, '1', 'key:__rand_int__', 'v'] });
    const chosen = cases.filter((c) => c.name.includes(ONLY));
    cases.length = 0;
    cases.push(...chosen);
    const res = cases.map(() => ({ redis: [], sabre: [] }));
    const hdr = new HdrRuns();
    const warm = new HdrRuns();
    for (const c of cases) {
      await bench(redis, c, warm);
      await bench(sabre, c, warm);
    }
    for (let r = 0; r < ROUNDS; r++) {
      for (const [i, c] of cases.entries()) {
        res[i].redis.push(await bench(redis, c, hdr));
        res[i].sabre.push(await bench(sabre, c, hdr));
      }
    }
    console.log(`| case | Redis 7.0 req/s | Sabre req/s | Sabre/Redis | Redis CPU µs/op | Sabre CPU µs/op | per-round ratios |`);
    console.log('|---|---|---|---|---|---|---|');
    cases.forEach((c, i) => {
      const { redis: r, sabre: s } = res[i];
      const rr = median(r.map((x) => x.rps));
      const ss = median(s.map((x) => x.rps));
      const rc = median(r.map((x) => x.cpuUs));
      const sc = median(s.map((x) => x.cpuUs));
      const rounds = r.map((x, k) => (s[k].rps / x.rps).toFixed(2)).join(' ');
      console.log(
        `| ${c.name} | ${Math.round(rr)} | ${Math.round(ss)} | ${(ss / rr).toFixed(2)}x | ${rc.toFixed(1)} | ${sc.toFixed(1)} | ${rounds} |`,
      );
    });
    // No results page of its own (results/eval.md is written by hand): the section to paste there.
    console.log(['', ...hdr.write(path.join(RESULTS_DIR, 'eval'), RESULTS_DIR)].join('\n'));
  } finally {
    await stopServer(redis);
    await stopServer(sabre);
  }
}

runMain(main);
