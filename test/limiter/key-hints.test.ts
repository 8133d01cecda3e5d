import { describe, expect, it } from 'vitest';
import { BucketTable } from '../../src/limiter/bucket-table.js';
import { coarseMs, monotonicMs } from '../../src/limiter/clock.js';
import { KeyTooLongError } from '../../src/limiter/errors.js';
import { GcraLimiter } from '../../src/limiter/gcra.js';
import { TokenBucketLimiter } from '../../src/limiter/token-bucket.js';

const T0 = 1_000_000;

describe('keys: hashing, storage and the per-thread hints', () => {
  it('keeps non-ASCII keys apart, including ones that differ only in the high byte of a UTF-16 unit', () => {
    const lim = new GcraLimiter({ limit: 1, windowMs: 60_000 });
    // U+0041 'A' and U+0141 'Ł' share their low byte; surrogate pairs and combining marks too.
    const keys = ['A', 'Ł', 'ŁA', 'AŁ', 'é', 'e\u0301', '😀', '😁', '\ud83d', '\ude00', 'ключ', '键', ''];
    for (const k of keys.filter((k) => k !== '')) expect(lim.check(k, 1, T0).allowed, k).toBe(true);
    for (const k of keys.filter((k) => k !== '')) expect(lim.check(k, 1, T0).allowed, k).toBe(false);
    expect(lim.table.size).toBe(keys.length - 1);
  });

  it('the same key made as a different string object finds the same bucket', () => {
    const lim = new GcraLimiter({ limit: 2, windowMs: 60_000 });
    const a = ['user', 'Ж', '42'].join(':');
    const b = `user:${'Ж'}:${40 + 2}`;
    expect(a).toBe(b);
    expect(lim.check(a, 1, T0).allowed).toBe(true);
    expect(lim.check(b, 1, T0)).toMatchObject({ allowed: true, remaining: 0 });
    expect(lim.check(a, 1, T0).allowed).toBe(false);
    // A fresh table view (another thread's) has no hints yet and still finds it by hashing.
    const other = new GcraLimiter({ table: BucketTable.attach(lim.table.buffer), limit: 2, windowMs: 60_000 });
    expect(other.check(b, 1, T0).allowed).toBe(false);
  });

  it('long keys: exactly maxKeyChars is stored whole, keys sharing a long prefix stay apart, one more unit throws', () => {
    const table = BucketTable.create({ capacity: 64, maxKeyChars: 300 });
    const lim = new GcraLimiter({ table, limit: 1, windowMs: 60_000 });
    const prefix = 'x'.repeat(299);
    expect(lim.check(`${prefix}a`, 1, T0).allowed).toBe(true);
    expect(lim.check(`${prefix}b`, 1, T0).allowed).toBe(true);
    expect(lim.check(`${prefix}a`, 1, T0).allowed).toBe(false);
    expect(() => lim.check(`${prefix}ab`, 1, T0)).toThrow(KeyTooLongError);
  });

  it('colliding keys (a table of 2 slots, every probe collides) each keep their own bucket', () => {
    const table = BucketTable.create({ capacity: 2 });
    const lim = new GcraLimiter({ table, limit: 1, windowMs: 60_000 });
    expect(lim.check('k1', 1, T0).allowed).toBe(true);
    expect(lim.check('k2', 1, T0).allowed).toBe(true);
    // Both slots are busy and not idle: a third key finds no room and the deny rule applies.
    expect(lim.check('k3', 1, T0)).toMatchObject({ allowed: false, tableFull: true });
    expect(lim.check('k1', 1, T0).allowed).toBe(false);
    expect(lim.check('k2', 1, T0).allowed).toBe(false);
  });

  it('a hint never leads to a bucket reclaimed and given to another key', () => {
    const table = BucketTable.create({ capacity: 1 });
    const lim = new GcraLimiter({ table, limit: 1, windowMs: 1000 });
    expect(lim.check('first', 1, T0).allowed).toBe(true);
    // Long idle: the only slot is reclaimed and handed to 'second', which spends it.
    expect(table.sweep(T0 + 10_000)).toBe(1);
    expect(lim.check('second', 1, T0 + 10_000).allowed).toBe(true);
    expect(lim.check('second', 1, T0 + 10_000).allowed).toBe(false);
    // 'first' still has a hint to that slot: it must see the slot changed hands (table full, not 'second's bucket).
    expect(lim.check('first', 1, T0 + 10_000)).toMatchObject({ allowed: false, tableFull: true });
    expect(table.sweep(T0 + 20_000)).toBe(1);
    expect(lim.check('first', 1, T0 + 20_000)).toMatchObject({ allowed: true, tableFull: false });
  });

  it('a hint held by one thread view is not trusted after another view reused its slot', () => {
    const table = BucketTable.create({ capacity: 1 });
    const here = new GcraLimiter({ table, limit: 1, windowMs: 1000 });
    const there = new GcraLimiter({ table: BucketTable.attach(table.buffer), limit: 1, windowMs: 1000 });
    expect(here.check('first', 1, T0).allowed).toBe(true);
    expect(there.table.sweep(T0 + 10_000)).toBe(1);
    expect(there.check('second', 1, T0 + 10_000).allowed).toBe(true);
    expect(here.check('first', 1, T0 + 10_000)).toMatchObject({ allowed: false, tableFull: true });
    expect(here.check('second', 1, T0 + 10_000)).toMatchObject({ allowed: false, tableFull: false });
  });

  it('namespaces share a table without sharing buckets or hints', () => {
    const table = BucketTable.create({ capacity: 16 });
    const a = new GcraLimiter({ table, namespace: 3, limit: 1, windowMs: 60_000 });
    const b = new TokenBucketLimiter({ table, namespace: 4, limit: 1, windowMs: 60_000 });
    expect(a.check('same', 1, T0).allowed).toBe(true);
    expect(b.check('same', 1, T0).allowed).toBe(true);
    expect(a.check('same', 1, T0).allowed).toBe(false);
    expect(b.check('same', 1, T0).allowed).toBe(false);
  });

  it('the coarse clock is on the monotonic scale and never ahead of it', async () => {
    const c = coarseMs();
    expect(c).toBeLessThanOrEqual(monotonicMs());
    await new Promise((r) => setTimeout(r, 5));
    // After the loop has turned, a read is again no older than its refresh and no newer than now.
    const mid = coarseMs();
    expect(mid).toBeLessThanOrEqual(monotonicMs());
    expect(mid).toBeGreaterThan(c);
  });
});
