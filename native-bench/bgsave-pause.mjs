#!/usr/bin/env node
// BGSAVE of N keys (default 1M) in Sabre next to real Redis 7.0 with the same data: the longest
// round trip a client doing back-to-back GETs sees while the save runs (Redis: its fork pause), the
// snapshot sizes, and the save's wall time. Needs dist/ (npx tsc) and redis-server on PATH. Prints a
// Markdown table, and writes the GET round trips' HDR distributions and plot under results/bgsave-pause/.
// Usage: node native-bench/bgsave-pause.mjs [keys=1000000] [shards=3]
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { HdrRuns, emptyHistogram } from './lib/hdr-report.mjs';
import { RESULTS_DIR, freePort, pingOnce, sleep } from './lib/servers.mjs';

const keys = Number(process.argv[2] ?? 1_000_000);
const shards = process.argv[3] ?? '3';
const dir = mkdtempSync(join(tmpdir(), 'sabre-bgsave-bench-'));

async function start(cmd, args, port) {
  const proc = spawn(cmd, args, { stdio: 'ignore' });
  // PING first: on a loaded machine Sabre takes longer to start than ioredis's retries last.
  for (let i = 0; i < 300 && !(await pingOnce(port)); i++) await sleep(100);
  const c = new Redis({ port, host: '127.0.0.1', retryStrategy: () => 50 });
  c.on('error', () => {});
  await c.ping();
  return { proc, c };
}

async function fill(c) {
  for (let i = 0; i < keys; i += 10_000) {
    const p = c.pipeline();
    for (let j = i; j < Math.min(keys, i + 10_000); j++) p.set(`key:${j}`, `value:${j}`);
    await p.exec();
  }
}

/** Longest GET round trip during one BGSAVE (and all of them, µs), and how long the save took. */
async function measure(c, probe) {
  const t0 = performance.now();
  await c.bgsave();
  const histogram = emptyHistogram();
  let worst = 0;
  let done = false;
  const watcher = (async () => {
    while (!(await c.info('persistence')).includes('rdb_bgsave_in_progress:0')) await sleep(5);
    done = true;
  })();
  while (!done) {
    const t = performance.now();
    await probe.get('key:1');
    const ms = performance.now() - t;
    worst = Math.max(worst, ms);
    histogram.recordValue(Math.max(1, Math.round(ms * 1000)));
  }
  await watcher;
  return { worstMs: worst, saveMs: performance.now() - t0, histogram };
}

const rows = [];
for (const name of ['redis', 'sabre']) {
  const port = await freePort();
  const sub = join(dir, name);
  mkdirSync(sub);
  const { proc, c } =
    name === 'redis'
      ? await start('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', sub, '--save', '', '--appendonly', 'no'], port)
      : await start(process.execPath, ['dist/cli.js', 'server', '--port', String(port), '--shards', shards, '--dir', sub], port);
  try {
    await fill(c);
    const probe = new Redis({ port, host: '127.0.0.1' });
    const m = await measure(c, probe);
    probe.disconnect();
    const fork = name === 'redis' ? Number(/latest_fork_usec:(\d+)/.exec(await c.info('stats'))?.[1]) / 1000 : NaN;
    rows.push({ name, ...m, forkMs: fork, bytes: statSync(join(sub, 'dump.rdb')).size });
  } finally {
    c.disconnect();
    proc.kill('SIGKILL');
  }
}
rmSync(dir, { recursive: true, force: true });
console.log(`BGSAVE of ${keys} keys (key:N = value:N), Sabre with ${shards} shards`);
console.log('| server | longest GET round trip during BGSAVE (ms) | Redis fork (ms) | save wall time (ms) | dump.rdb bytes |');
console.log('|---|---|---|---|---|');
for (const r of rows)
  console.log(
    `| ${r.name} | ${r.worstMs.toFixed(1)} | ${Number.isNaN(r.forkMs) ? '-' : r.forkMs.toFixed(1)} | ${r.saveMs.toFixed(0)} | ${r.bytes} |`,
  );
console.log(`size ratio sabre/redis: ${(rows[1].bytes / rows[0].bytes).toFixed(3)}`);
const hdr = new HdrRuns();
for (const r of rows) hdr.add(`GET round trips during BGSAVE of ${keys} keys`, r.name, r.histogram);
console.log(['', ...hdr.write(join(RESULTS_DIR, 'bgsave-pause'), RESULTS_DIR)].join('\n'));
