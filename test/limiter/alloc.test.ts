import { PerformanceObserver } from 'node:perf_hooks';
import { describe, expect, it } from 'vitest';
import { BucketTable } from '../../src/limiter/bucket-table.js';
import { coarseMs } from '../../src/limiter/clock.js';
import { GcraLimiter } from '../../src/limiter/gcra.js';
import { QueueLimiter } from '../../src/limiter/queue.js';
import { TokenBucketLimiter } from '../../src/limiter/token-bucket.js';

/** Young-generation collections while `fn` runs: an allocating hot path would trigger many. */
async function scavengesDuring(fn: () => void): Promise<number> {
  let n = 0;
  const obs = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if ((e.detail as { kind?: number } | undefined)?.kind === 1) n++;
  });
  obs.observe({ entryTypes: ['gc'] });
  fn();
  await new Promise((r) => setTimeout(r, 20));
  obs.disconnect();
  return n;
}

describe('hot path does not allocate', () => {
  it('3M checks with a clock read per batch (hits, denials, 64 rotating keys) cause no young-generation GC', async () => {
    const table = BucketTable.create({ capacity: 256 });
    const g = new GcraLimiter({ table, namespace: 0, limit: 1000, windowMs: 1000 });
    const t = new TokenBucketLimiter({ table, namespace: 1, limit: 1000, windowMs: 1000 });
    const keys = Array.from({ length: 64 }, (_, i) => `client-${i}`);
    let clock = 1_000_000.5;
    // Each distinct clock value is one boxed double in V8, so the caller reads it once per batch.
    const run = (batches: number): number => {
      let admitted = 0;
      for (let b = 0; b < batches; b++) {
        const now = clock++;
        for (let i = 0; i < 1024; i++) {
          if (g.check(keys[i & 63]!, 1, now).allowed) admitted++;
          if (t.check(keys[(i * 7) & 63]!, 1, now).allowed) admitted++;
        }
      }
      return admitted;
    };
    run(300); // warm up: interpreted code boxes doubles, optimized code does not
    let admitted = 0;
    const scavenges = await scavengesDuring(() => {
      admitted = run(1500);
    });
    expect(admitted).toBeGreaterThan(0);
    expect(scavenges).toBeLessThanOrEqual(1);
  });

  it('3M checks and queue reservations reading the default clock per call (coarseMs) cause no young-generation GC', async () => {
    const table = BucketTable.create({ capacity: 256 });
    const g = new GcraLimiter({ table, namespace: 0, limit: 1_000_000, windowMs: 1000 });
    const q = new QueueLimiter({ table, namespace: 1, limit: 1_000_000, windowMs: 1000, burst: 1000, clock: coarseMs });
    const keys = Array.from({ length: 64 }, (_, i) => `client-${i}`);
    const run = (n: number): number => {
      let admitted = 0;
      for (let i = 0; i < n; i++) {
        if (g.check(keys[i & 63]!).allowed) admitted++;
        if (q.reserve(keys[(i * 7) & 63]!).allowed) admitted++;
      }
      return admitted;
    };
    run(300_000);
    let admitted = 0;
    const scavenges = await scavengesDuring(() => {
      admitted = run(1_500_000);
    });
    expect(admitted).toBeGreaterThan(0);
    expect(scavenges).toBeLessThanOrEqual(1);
  });
});
