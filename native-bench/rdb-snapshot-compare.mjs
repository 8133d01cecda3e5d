#!/usr/bin/env node
// Compares Sabre's RDB writer with real Redis 7.0 on the same 1M-key data set: snapshot size, and for
// Sabre's BGSAVE path (piscina encode pool + async file writes) the longest event-loop stall of the
// coordinating thread. Needs `npx tsc -p tsconfig.json` (dist/) and redis-server/redis-cli/redis-check-rdb.
// Usage: node native-bench/rdb-snapshot-compare.mjs [keys=1000000]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { readRdbFile } from '../dist/persistence/rdb-reader.js';
import { saveRdbFile, SnapshotFile } from '../dist/persistence/snapshot-file.js';
import { RdbEncodePool } from '../dist/persistence/rdb-pool.js';
import { packEntries } from '../dist/persistence/entry-pack.js';

const keys = Number(process.argv[2] ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'sabre-rdb-bench-'));
const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const redis = spawn(
  'redis-server',
  ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--enable-debug-command', 'local'],
  { stdio: 'ignore' },
);
const cli = (...args) => spawnSync('redis-cli', ['-p', String(port), ...args], { encoding: 'utf8' }).stdout.trim();
try {
  for (let i = 0; i < 100 && cli('PING') !== 'PONG'; i++) await new Promise((r) => setTimeout(r, 50));
  cli('DEBUG', 'POPULATE', String(keys), 'key', '10');
  let t = performance.now();
  cli('SAVE');
  const redisSaveMs = performance.now() - t;
  const redisSize = statSync(join(dir, 'dump.rdb')).size;
  // Redis's BGSAVE pause is its fork: the target for the longest pause a Sabre client may see.
  cli('BGSAVE');
  while (cli('INFO', 'persistence').includes('rdb_bgsave_in_progress:1')) await new Promise((r) => setTimeout(r, 50));
  const forkUsec = Number(/latest_fork_usec:(\d+)/.exec(cli('INFO', 'stats'))?.[1]);

  // Reading Redis's dump stands in for a shard producing entries: they stream, never all in memory.
  const dump = join(dir, 'dump.rdb');
  const entriesOf = function* () {
    for (const r of readRdbFile(dump)) if (r.kind === 'entry') yield r.entry;
  };
  t = performance.now();
  let count = 0;
  for (const _ of entriesOf()) count++;
  const readMs = performance.now() - t;

  t = performance.now();
  saveRdbFile(join(dir, 'sabre-save.rdb'), entriesOf());
  const saveMs = performance.now() - t;

  const pool = new RdbEncodePool({ threads: 2 });
  const h = monitorEventLoopDelay({ resolution: 1 });
  h.enable();
  t = performance.now();
  const snap = await SnapshotFile.create(join(dir, 'sabre-bgsave.rdb'));
  const CHUNK = 10000;
  const inFlight = [];
  let chunk = [];
  const submit = async () => {
    inFlight.push(pool.encodePacked(packEntries(chunk)));
    chunk = [];
    // A bounded window of chunks in the pool; finished ones are written in order.
    while (inFlight.length >= 4) {
      const { block, crc } = await inFlight.shift();
      snap.writeBlock(0, block, crc);
    }
    await new Promise((r) => setImmediate(r));
  };
  for (const e of entriesOf()) {
    chunk.push(e);
    if (chunk.length === CHUNK) await submit();
  }
  if (chunk.length) await submit();
  while (inFlight.length) {
    const { block, crc } = await inFlight.shift();
    snap.writeBlock(0, block, crc);
  }
  await snap.commit();
  const bgsaveMs = performance.now() - t;
  h.disable();
  await pool.close();
  const sabreSize = statSync(join(dir, 'sabre-bgsave.rdb')).size;
  const check = spawnSync('redis-check-rdb', [join(dir, 'sabre-bgsave.rdb')], { encoding: 'utf8' }).stdout.includes('RDB looks OK');

  console.log(
    JSON.stringify(
      {
        keys: count,
        redis: { saveMs: Math.round(redisSaveMs), bgsaveForkPauseMs: forkUsec / 1000, bytes: redisSize },
        sabre: {
          readRedisDumpMs: Math.round(readMs),
          saveMs: Math.round(saveMs),
          bgsaveMs: Math.round(bgsaveMs),
          bgsaveMaxEventLoopStallMs: Math.round(h.max / 1e6),
          bytes: sabreSize,
          sizeRatio: Number((sabreSize / redisSize).toFixed(3)),
          redisCheckRdb: check ? 'OK' : 'FAILED',
        },
      },
      null,
      2,
    ),
  );
} finally {
  redis.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
}
