// BullMQ jobs/s on Sabre against real Redis 7.0 in the same run: addBulk of N jobs, then one Worker
// (concurrency 50) processing them all; alternating rounds (redis, sabre, …), medians, plus each
// server's CPU time per job. BullMQ drives everything through its Lua scripts (EVALSHA), so this is
// the scripting path as a queue library uses it. Sabre runs with --shards 1, and again with
// --shards 2 and BullMQ's cluster prefix {bull} (its keys in one slot, as Redis Cluster needs).
// A first, unrecorded round on each server (--warmup jobs, 0 for none) lets Sabre's fresh process pay
// V8's JIT and WebAssembly tier-up before the measured rounds, as it would once in a long-lived server.
// Usage: npm run build && node native-bench/bullmq-compare.mjs [--rounds 3] [--jobs 50000] [--warmup 5000] (50k jobs: the workload)
// Writes native-bench/results/bullmq.md.
import path from 'node:path';
import { Queue, Worker } from 'bullmq';
import {
  RESULTS_DIR,
  commandLine,
  cpuSeconds,
  machineInfo,
  median,
  option,
  runMain,
  serverSpecs,
  startServer,
  stopServer,
  writeResult,
} from './lib/servers.mjs';

const ROUNDS = Number(option('rounds', 3));
const JOBS = Number(option('jobs', 50000));
const WARMUP = Number(option('warmup', 5000));

/** One round on one server: adds `jobs` jobs in bulk, then processes them; jobs/s for each phase and CPU µs per job. */
async function round(server, prefix, jobs = JOBS) {
  const connection = { host: '127.0.0.1', port: server.port, maxRetriesPerRequest: null };
  const queue = new Queue(`bench${Math.random().toString(36).slice(2, 8)}`, { connection, prefix });
  await queue.waitUntilReady();
  const cpu0 = cpuSeconds(server);
  const t0 = performance.now();
  for (let i = 0; i < jobs; i += 500) {
    await queue.addBulk(Array.from({ length: Math.min(500, jobs - i) }, (_, k) => ({ name: 'job', data: { n: i + k } })));
  }
  const t1 = performance.now();
  let done = 0;
  let worker;
  await new Promise((resolve, reject) => {
    worker = new Worker(queue.name, async (job) => job.data.n * 2, { connection, prefix, concurrency: 50 });
    worker.on('completed', () => {
      if (++done === jobs) resolve();
    });
    worker.on('failed', (_job, err) => reject(err));
    worker.on('error', reject);
  });
  const t2 = performance.now();
  const cpu = cpuSeconds(server) - cpu0;
  await worker.close();
  await queue.obliterate({ force: true });
  await queue.close();
  return {
    added: jobs / ((t1 - t0) / 1000),
    processed: jobs / ((t2 - t1) / 1000),
    endToEnd: jobs / ((t2 - t0) / 1000),
    cpuUsPerJob: (cpu * 1e6) / jobs,
  };
}

runMain(async () => {
  const m = machineInfo();
  const setups = [
    { label: 'Redis 7.0', spec: serverSpecs().redis, prefix: 'bull' },
    { label: 'Sabre, 1 shard', spec: serverSpecs({ shards: 1 }).sabre, prefix: 'bull' },
    { label: 'Sabre, 2 shards, prefix {bull}', spec: serverSpecs({ shards: 2 }).sabre, prefix: '{bull}' },
  ];
  const servers = [];
  for (const s of setups) servers.push(await startServer(s.spec));
  const runs = setups.map(() => []);
  try {
    if (WARMUP > 0) for (let i = 0; i < setups.length; i++) await round(servers[i], setups[i].prefix, WARMUP);
    for (let r = 0; r < ROUNDS; r++) {
      for (let i = 0; i < setups.length; i++) {
        const res = await round(servers[i], setups[i].prefix);
        runs[i].push(res);
        process.stdout.write(
          `round ${r + 1} ${setups[i].label}: add ${res.added.toFixed(0)}/s, process ${res.processed.toFixed(0)}/s, both ${res.endToEnd.toFixed(0)}/s, ${res.cpuUsPerJob.toFixed(0)} µs CPU/job\n`,
        );
      }
    }
  } finally {
    for (const s of servers) await stopServer(s);
  }
  const med = (i, k) => median(runs[i].map((x) => x[k]));
  const lines = [
    '# BullMQ jobs/s: Sabre vs Redis 7.0',
    '',
    `Generated ${new Date().toISOString()} by \`${commandLine()}\`.`,
    '',
    `Machine: ${m.nproc} × ${m.cpuModel}, load average at start ${m.loadavg}; Node ${m.node}, redis-server ${m.redisVersion}, bullmq ${(await import('bullmq/package.json', { with: { type: 'json' } })).default.version}.`,
    '',
    `Each round adds ${JOBS} jobs with addBulk (500 per call), then one Worker (concurrency 50) processes them; "added and processed" is the jobs over both phases' time. Medians of ${ROUNDS} rounds, servers in alternation, after an unrecorded warm-up round of ${WARMUP} jobs on each server. The client (BullMQ in Node, on the same 2 cores) does most of the work, so server CPU per job says more about the server than jobs/s does.`,
    '',
    '| server | added jobs/s | processed jobs/s | processed vs Redis | added and processed jobs/s | vs Redis | server CPU µs/job | CPU vs Redis |',
    '|---|--:|--:|--:|--:|--:|--:|--:|',
  ];
  for (let i = 0; i < setups.length; i++) {
    lines.push(
      `| ${setups[i].label} | ${med(i, 'added').toFixed(0)} | ${med(i, 'processed').toFixed(0)} | ${(med(i, 'processed') / med(0, 'processed')).toFixed(2)}× | ${med(i, 'endToEnd').toFixed(0)} | ${(med(i, 'endToEnd') / med(0, 'endToEnd')).toFixed(2)}× | ${med(i, 'cpuUsPerJob').toFixed(0)} | ${(med(i, 'cpuUsPerJob') / med(0, 'cpuUsPerJob')).toFixed(2)}× |`,
    );
  }
  writeResult(path.join(RESULTS_DIR, 'bullmq.md'), `${lines.join('\n')}\n`);
});
