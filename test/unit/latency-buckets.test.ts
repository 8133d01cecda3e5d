import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { LAT_BUCKETS, bucketFloor, bucketOf } from '../../src/wire/latency-buckets.js';

describe('shard latency histogram buckets', () => {
  it('places every duration in a bucket whose range contains it, within 12.5%', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0x7ffffffe }), (ns) => {
        const b = bucketOf(ns);
        expect(b).toBeGreaterThanOrEqual(0);
        expect(b).toBeLessThan(LAT_BUCKETS);
        expect(bucketFloor(b)).toBeLessThanOrEqual(ns);
        expect(bucketFloor(b + 1)).toBeGreaterThan(ns);
        expect(ns - bucketFloor(b)).toBeLessThanOrEqual(bucketFloor(b) / 8 + 1);
      }),
    );
  });

  it('keeps bucket floors increasing and aligned on powers of two', () => {
    for (let b = 1; b < LAT_BUCKETS; b++) expect(bucketFloor(b)).toBeGreaterThan(bucketFloor(b - 1));
    for (let k = 3; k < 31; k++) expect(bucketFloor(bucketOf(2 ** k))).toBe(2 ** k);
    expect(bucketOf(2 ** 40)).toBe(bucketOf(0x7fffffff));
  });
});
