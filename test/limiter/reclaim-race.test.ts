import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { BucketTable } from '../../src/limiter/bucket-table.js';
import { TokenBucketLimiter } from '../../src/limiter/token-bucket.js';

const WORKER = new URL('./fixtures/reclaim-worker.mjs', import.meta.url);
const KEYS = 256;
const CLOCK_MS = 6_000; // simulated clock span, run in about REAL_MS of real time
const REAL_MS = 1_000;
const WINDOWS = CLOCK_MS / 100 + 2;

describe('reclaim racing with lock-free checks (4 threads, shared simulated clock)', () => {
  it('keys that go idle are reclaimed and reused, and no 100 ms window ever admits more than the bucket allows', async () => {
    // 64 slots for 256 keys: inserts must reclaim idle buckets while other threads check.
    const table = BucketTable.create({ capacity: 64 });
    new TokenBucketLimiter({ table, namespace: 1, limit: 3, windowMs: 0, refill: { tokens: 1, intervalMs: 10 } });
    const clockBuf = new SharedArrayBuffer(4);
    const clock = new Int32Array(clockBuf);
    const countsBuf = new SharedArrayBuffer(KEYS * WINDOWS * 4);
    const stopBuf = new SharedArrayBuffer(8); // [stop flag, workers ready]
    const flags = new Int32Array(stopBuf);
    const workers = Array.from(
      { length: 4 },
      (_, i) =>
        new Worker(WORKER, {
          workerData: { buffer: table.buffer, clockBuf, countsBuf, stopBuf, keys: KEYS, windows: WINDOWS, seed: 17 + i },
        }),
    );
    const done = workers.map(
      (w) =>
        new Promise<number>((resolve, reject) => {
          w.once('message', resolve);
          w.once('error', reject);
        }),
    );
    while (Atomics.load(flags, 1) < workers.length) await new Promise((r) => setTimeout(r, 5));
    // Advance the clock 1 ms per step and sweep with it; the workers read it on every check.
    let reclaimed = 0;
    const start = performance.now();
    for (let ms = 1; ms <= CLOCK_MS; ms++) {
      Atomics.store(clock, 0, ms);
      if (ms % 50 === 0) reclaimed += table.sweep(ms + 0.5);
      while (performance.now() - start < (ms * REAL_MS) / CLOCK_MS);
    }
    Atomics.store(flags, 0, 1);
    const checks = await Promise.all(done);
    await Promise.all(workers.map((w) => w.terminate()));

    const counts = new Int32Array(countsBuf);
    let admitted = 0;
    let worst = 0;
    let worstPair = 0;
    for (let k = 0; k < KEYS; k++) {
      for (let w = 0; w < WINDOWS; w++) {
        const c = counts[k * WINDOWS + w]!;
        admitted += c;
        worst = Math.max(worst, c);
        if (w + 1 < WINDOWS) worstPair = Math.max(worstPair, c + counts[k * WINDOWS + w + 1]!);
      }
    }
    expect(checks.every((n) => n > 0)).toBe(true);
    expect(reclaimed).toBeGreaterThan(0);
    expect(admitted).toBeGreaterThan(200);
    // Capacity 3 plus one token per 10 ms boundary crossed inside the span.
    expect(worst).toBeLessThanOrEqual(3 + 9);
    expect(worstPair).toBeLessThanOrEqual(3 + 19);
  });
});
