// EVAL/EVALSHA throughput, Sabre (1 shard) vs real Redis 7.0 in the same run: redis-benchmark,
// alternating rounds, medians. Usage: node native-bench/eval-compare.mjs [rounds]
// Needs redis-server and redis-benchmark on PATH and `npm run build` done. Prints the Markdown table and
// writes the HDR distributions and plots under results/eval/, with the section that links them.
import path from 'node:path';
import { HdrRuns } from './lib/hdr-report.mjs';
import { runRedisBenchmark } from './lib/redis-benchmark.mjs';
import { RESULTS_DIR, median, rawCommand, runMain, serverSpecs, startServer, stopServer } from './lib/servers.mjs';

const ROUNDS = Number(process.argv[2] ?? 3);
const INCR = "return redis.call('INCR', KEYS[1])";
const TEN = "for i = 1, 5 do redis.call('INCR', KEYS[1]) redis.call('GET', KEYS[1]) end return 1";
const SET = "return redis.call('set',KEYS[1],ARGV[1])";

/** One redis-benchmark run's requests per second; its latency distribution goes to `hdr` under the case's name. */
async function bench(server, c, hdr) {
  const args = ['-n', String(c.n), '-P', String(c.P), '-c', '50', '-r', '100000', ...c.args];
  const run = await runRedisBenchmark(server, args);
  if (run.first === null) throw new Error(`redis-benchmark on ${server.port}: ${run.output}`);
  hdr.add(c.name, server.name, run.first.histogram);
  return run.first.rps;
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
      cases.push({ name: `EVALSHA ${name} -P 1`, P: 1, n: 20000, args: ['evalsha', sha, '1', 'counter:__rand_int__'] });
      cases.push({ name: `EVALSHA ${name} -P 16`, P: 16, n: 100000, args: ['evalsha', sha, '1', 'counter:__rand_int__'] });
    }
    cases.push({ name: 'EVAL set -P 16', P: 16, n: 100000, args: ['eval', SET, '1', 'key:__rand_int__', 'v'] });
    const res = cases.map(() => ({ redis: [], sabre: [] }));
    const hdr = new HdrRuns();
    for (let r = 0; r < ROUNDS; r++) {
      for (const [i, c] of cases.entries()) {
        res[i].redis.push(await bench(redis, c, hdr));
        res[i].sabre.push(await bench(sabre, c, hdr));
      }
    }
    console.log(`| case | Redis 7.0 req/s | Sabre req/s | Sabre/Redis |`);
    console.log('|---|---|---|---|');
    cases.forEach((c, i) => {
      const rr = median(res[i].redis);
      const ss = median(res[i].sabre);
      console.log(`| ${c.name} | ${Math.round(rr)} | ${Math.round(ss)} | ${(ss / rr).toFixed(2)}x |`);
    });
    // No results page of its own (results/eval.md is written by hand): the section to paste there.
    console.log(['', ...hdr.write(path.join(RESULTS_DIR, 'eval'), RESULTS_DIR)].join('\n'));
  } finally {
    await stopServer(redis);
    await stopServer(sabre);
  }
}

runMain(main);
