import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { BucketTable } from '../../src/limiter/bucket-table.js';

const WORKER = new URL('./fixtures/hammer-worker.mjs', import.meta.url);
const THREADS = 8;
const CHECKS = 1_000_000;

async function hammer(algorithm: 'gcra' | 'token-bucket', limit: number): Promise<number[]> {
  const table = BucketTable.create({ capacity: 64 });
  const start = new SharedArrayBuffer(8);
  const flags = new Int32Array(start);
  const workers = Array.from(
    { length: THREADS },
    () =>
      new Worker(WORKER, {
        workerData: { buffer: table.buffer, algorithm, limit, windowMs: 60_000, checks: CHECKS, nowMs: 5_000_000.25, start },
      }),
  );
  const done = workers.map(
    (w) =>
      new Promise<number>((resolve, reject) => {
        w.once('message', resolve);
        w.once('error', reject);
      }),
  );
  while (Atomics.load(flags, 0) < THREADS) await new Promise((r) => setTimeout(r, 1));
  Atomics.store(flags, 1, 1);
  Atomics.notify(flags, 1);
  const counts = await Promise.all(done);
  await Promise.all(workers.map((w) => w.terminate()));
  return counts;
}

describe('exactness under concurrency (8 threads × 1M checks, one key, frozen clock)', () => {
  it('built dist/ is present (run `npx tsc -p tsconfig.json` first)', () => {
    expect(existsSync(new URL('../../dist/limiter/gcra.js', import.meta.url))).toBe(true);
  });

  it('GCRA admits exactly the burst, never more', async () => {
    const counts = await hammer('gcra', 200_000);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(200_000);
  });

  it('token bucket admits exactly the capacity, never more', async () => {
    const counts = await hammer('token-bucket', 8_000);
    expect(counts.reduce((a, b) => a + b, 0)).toBe(8_000);
  });
});
