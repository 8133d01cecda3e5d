import { describe, expect, it } from 'vitest';
import { BucketTable } from '../../src/limiter/bucket-table.js';
import { InvalidCostError, KeyTooLongError, LimiterError } from '../../src/limiter/errors.js';
import { GcraLimiter } from '../../src/limiter/gcra.js';
import { TokenBucketLimiter } from '../../src/limiter/token-bucket.js';

const T0 = 1_000_000;

describe('GCRA with an injected clock', () => {
  it('admits the burst, then refills one unit per emission interval', () => {
    const lim = new GcraLimiter({ limit: 5, windowMs: 1000 });
    for (let i = 0; i < 5; i++) expect(lim.check('k', 1, T0).allowed).toBe(true);
    const denied = lim.check('k', 1, T0);
    expect(denied).toMatchObject({ allowed: false, limit: 5, remaining: 0, resetMs: 1000, retryAfterMs: 200 });
    expect(lim.check('k', 1, T0 + 199).allowed).toBe(false);
    expect(lim.check('k', 1, T0 + 200)).toMatchObject({ allowed: true, remaining: 0 });
    expect(lim.check('k', 1, T0 + 2000)).toMatchObject({ allowed: true, remaining: 4, resetMs: 200 });
  });

  it('charges cost units at once and refuses a cost above the burst forever', () => {
    const lim = new GcraLimiter({ limit: 10, windowMs: 10_000 });
    expect(lim.check('k', 4, T0)).toMatchObject({ allowed: true, remaining: 6 });
    expect(lim.check('k', 7, T0)).toMatchObject({ allowed: false, remaining: 6, retryAfterMs: 1000 });
    expect(lim.check('k', 11, T0)).toMatchObject({ allowed: false, retryAfterMs: -1 });
  });

  it('a zero cost peeks without consuming', () => {
    const lim = new GcraLimiter({ limit: 3, windowMs: 3000 });
    lim.check('k', 1, T0);
    expect(lim.check('k', 0, T0)).toMatchObject({ allowed: true, remaining: 2 });
    expect(lim.check('k', 0, T0)).toMatchObject({ allowed: true, remaining: 2 });
  });

  it('keeps keys apart and a burst separate from the limit', () => {
    const lim = new GcraLimiter({ limit: 60, windowMs: 60_000, burst: 2 });
    expect(lim.check('a', 1, T0).allowed).toBe(true);
    expect(lim.check('a', 1, T0).allowed).toBe(true);
    expect(lim.check('a', 1, T0).allowed).toBe(false);
    expect(lim.check('b', 1, T0)).toMatchObject({ allowed: true, limit: 2, remaining: 1 });
    expect(lim.check('a', 1, T0 + 1000).allowed).toBe(true);
  });

  it('a caller clock behind the stored state denies without a negative remaining', () => {
    const lim = new GcraLimiter({ limit: 2, windowMs: 1000 });
    lim.check('k', 2, T0 + 500);
    expect(lim.check('k', 1, T0)).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: 1000 });
  });

  it('long windows use coarser ticks and still refill exactly', () => {
    const lim = new GcraLimiter({ limit: 24, windowMs: 86_400_000 });
    expect(lim.params.tickUs).toBeGreaterThan(1);
    for (let i = 0; i < 24; i++) lim.check('k', 1, T0);
    expect(lim.check('k', 1, T0 + 3_599_000).allowed).toBe(false);
    expect(lim.check('k', 1, T0 + 3_600_000).allowed).toBe(true);
  });
});

describe('token bucket with an injected clock', () => {
  it('refills whole steps at interval boundaries', () => {
    const lim = new TokenBucketLimiter({ limit: 10, windowMs: 0, refill: { tokens: 2, intervalMs: 100 } });
    const t = 5000; // an interval boundary
    expect(lim.check('k', 10, t)).toMatchObject({ allowed: true, remaining: 0, resetMs: 500 });
    expect(lim.check('k', 1, t + 99)).toMatchObject({ allowed: false, remaining: 0, retryAfterMs: 1 });
    expect(lim.check('k', 1, t + 100)).toMatchObject({ allowed: true, remaining: 1 });
    expect(lim.check('k', 3, t + 150)).toMatchObject({ allowed: false, remaining: 1, retryAfterMs: 50 });
    expect(lim.check('k', 1, t + 10_000)).toMatchObject({ allowed: true, remaining: 9 });
  });

  it('derives a refill rate that never exceeds limit per window', () => {
    const lim = new TokenBucketLimiter({ limit: 3, windowMs: 10 });
    const { refillTokens, intervalMs } = lim.params;
    expect(refillTokens / intervalMs).toBeLessThanOrEqual(3 / 10);
  });

  it('a clock that lags the stored state refills nothing', () => {
    const lim = new TokenBucketLimiter({ limit: 2, windowMs: 0, refill: { tokens: 1, intervalMs: 10 } });
    lim.check('k', 2, 10_000);
    expect(lim.check('k', 1, 9_990).allowed).toBe(false);
  });

  it('rejects parameters the packed word cannot hold', () => {
    expect(() => new TokenBucketLimiter({ limit: 70_000, windowMs: 1000 })).toThrow(LimiterError);
    expect(() => new TokenBucketLimiter({ limit: 60_000, windowMs: 60_000 })).toThrow(/refills to fill/);
  });
});

describe('bucket table', () => {
  it('never merges colliding keys: 200 keys in a 256-slot table each get their own bucket', () => {
    const table = BucketTable.create({ capacity: 256 });
    const lim = new GcraLimiter({ table, limit: 1, windowMs: 60_000 });
    for (let i = 0; i < 200; i++) expect(lim.check(`user:${i}`, 1, T0).allowed).toBe(true);
    for (let i = 0; i < 200; i++) expect(lim.check(`user:${i}`, 1, T0).allowed).toBe(false);
    expect(table.size).toBe(200);
  });

  it('namespaces with the same key are separate buckets; conflicting redeclaration throws', () => {
    const table = BucketTable.create({ capacity: 64 });
    const a = new GcraLimiter({ table, namespace: 1, limit: 1, windowMs: 1000 });
    const b = new GcraLimiter({ table, namespace: 2, limit: 1, windowMs: 1000 });
    expect(a.check('same', 1, T0).allowed).toBe(true);
    expect(b.check('same', 1, T0).allowed).toBe(true);
    expect(() => new GcraLimiter({ table, namespace: 1, limit: 2, windowMs: 1000 })).toThrow(/already declared/);
    expect(() => new GcraLimiter({ table, namespace: 1, limit: 1, windowMs: 1000 })).not.toThrow();
  });

  it('throws a typed error for keys longer than maxKeyChars', () => {
    const lim = new GcraLimiter({ table: BucketTable.create({ capacity: 8, maxKeyChars: 8 }), limit: 1, windowMs: 1000 });
    expect(() => lim.check('123456789', 1, T0)).toThrow(KeyTooLongError);
  });

  it('reclaims only idle buckets, losslessly', () => {
    const table = BucketTable.create({ capacity: 64 });
    const lim = new GcraLimiter({ table, limit: 2, windowMs: 2000 });
    lim.check('idle', 1, T0);
    lim.check('busy', 2, T0 + 5000);
    expect(table.sweep(T0 + 5000)).toBe(1);
    expect(table.size).toBe(1);
    expect(lim.check('busy', 1, T0 + 5000).allowed).toBe(false);
    expect(lim.check('idle', 1, T0 + 5000)).toMatchObject({ allowed: true, remaining: 1 });
  });

  it('a full table denies (declared rule) until an idle bucket can be reclaimed', () => {
    const table = BucketTable.create({ capacity: 4 });
    const lim = new GcraLimiter({ table, limit: 1, windowMs: 10_000 });
    for (let i = 0; i < 4; i++) expect(lim.check(`k${i}`, 1, T0).allowed).toBe(true);
    expect(lim.check('k4', 1, T0)).toMatchObject({ allowed: false, tableFull: true });
    expect(table.fullEvents).toBe(1);
    expect(lim.check('k4', 1, T0 + 11_000)).toMatchObject({ allowed: true, tableFull: false });
  });

  it('onFull "allow" admits explicitly and reports it', () => {
    const table = BucketTable.create({ capacity: 1 });
    const lim = new GcraLimiter({ table, limit: 1, windowMs: 10_000, onFull: 'allow' });
    lim.check('a', 1, T0);
    expect(lim.check('b', 1, T0)).toMatchObject({ allowed: true, tableFull: true });
  });

  it('attaches to a buffer created elsewhere and sees the same buckets', () => {
    const table = BucketTable.create({ capacity: 16 });
    const a = new TokenBucketLimiter({ table, limit: 3, windowMs: 3000 });
    const b = new TokenBucketLimiter({ table: BucketTable.attach(table.buffer), limit: 3, windowMs: 3000 });
    a.check('k', 2, T0);
    expect(b.check('k', 1, T0)).toMatchObject({ allowed: true, remaining: 0 });
    expect(a.check('k', 1, T0).allowed).toBe(false);
  });
});

describe('cost validation', () => {
  it('rejects fractional and negative costs with a typed error', () => {
    const g = new GcraLimiter({ limit: 5, windowMs: 1000 });
    const t = new TokenBucketLimiter({ limit: 5, windowMs: 1000 });
    expect(() => g.check('k', 0.5, T0)).toThrow(InvalidCostError);
    expect(() => t.check('k', -1, T0)).toThrow(InvalidCostError);
  });
});

describe('token-bucket reclaim', () => {
  it('reclaims a full bucket only after the 1 s grace, even with 1 ms refills', () => {
    const table = BucketTable.create({ capacity: 16 });
    const lim = new TokenBucketLimiter({ table, limit: 5, windowMs: 0, refill: { tokens: 5, intervalMs: 1 } });
    lim.check('k', 1, 10_000);
    expect(table.sweep(10_500)).toBe(0);
    expect(table.sweep(11_001)).toBe(1);
  });
});
