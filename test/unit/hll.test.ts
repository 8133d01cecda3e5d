/** HyperLogLog math (src/shards/hll.ts): Redis's hash, register layout, sparse encoding and estimator. */
import { describe, expect, it } from 'vitest';
import {
  HLL_DENSE,
  HLL_DENSE_SIZE,
  HLL_HDR_SIZE,
  HLL_REGISTERS,
  HLL_SPARSE,
  HllWork,
  countFromHistogram,
  decodeSparse,
  denseGet,
  denseSet,
  HASH,
  histogram,
  hllAdd,
  isHll,
  mergeInto,
  murmur64a,
  patIndex,
  patLen,
  rawHistogram,
  sparseToDense,
} from '../../src/shards/hll.js';

/** MurmurHash64A written independently with BigInt, to check the 32-bit-halves version. */
function murmurRef(b: Uint8Array, seed: bigint): bigint {
  const M = 0xc6a4a7935bd1e995n;
  const mask = (1n << 64n) - 1n;
  let h = (seed ^ (BigInt(b.length) * M)) & mask;
  const n8 = b.length - (b.length & 7);
  for (let i = 0; i < n8; i += 8) {
    let k = 0n;
    for (let j = 7; j >= 0; j--) k = (k << 8n) | BigInt(b[i + j]!);
    k = (k * M) & mask;
    k ^= k >> 47n;
    k = (k * M) & mask;
    h ^= k;
    h = (h * M) & mask;
  }
  const t = b.length & 7;
  if (t > 0) {
    for (let j = t - 1; j >= 0; j--) h ^= BigInt(b[n8 + j]!) << BigInt(8 * j);
    h = (h * M) & mask;
  }
  h ^= h >> 47n;
  h = (h * M) & mask;
  h ^= h >> 47n;
  return h;
}

/** A sparse HLL fed `n` elements "e0".."e{n-1}" (dense once it passes maxBytes). */
function filled(n: number, maxBytes = 3000, prefix = 'e'): HllWork {
  const h = new HllWork();
  h.empty();
  for (let i = 0; i < n; i++) {
    const e = Buffer.from(`${prefix}${i}`);
    expect(hllAdd(h, e, 0, e.length, maxBytes)).toBeGreaterThanOrEqual(0);
  }
  return h;
}

function count(h: HllWork): number {
  const histo = new Int32Array(64);
  expect(histogram(h.b, 0, h.len, histo)).toBe(true);
  return countFromHistogram(histo);
}

describe('MurmurHash64A', () => {
  it('matches a BigInt implementation for every tail length and random bytes', () => {
    for (let len = 0; len < 70; len++) {
      for (let trial = 0; trial < 200; trial++) {
        const b = new Uint8Array(len);
        for (let i = 0; i < len; i++) b[i] = (Math.random() * 256) | 0;
        murmur64a(b, 0, len, 0xadc83b19);
        const got = (BigInt(HASH[1]!) << 32n) | BigInt(HASH[0]!);
        expect(got).toBe(murmurRef(b, 0xadc83b19n));
      }
    }
  });

  it('gives each element a register index and a 1..51 run length from the hash', () => {
    for (let i = 0; i < 2000; i++) {
      const e = Buffer.from(`x${i}`);
      const c = patLen(e, 0, e.length);
      const h = murmurRef(e, 0xadc83b19n);
      expect(patIndex).toBe(Number(h & 16383n));
      let rest = (h >> 14n) | (1n << 50n);
      let expected = 1;
      while ((rest & 1n) === 0n) {
        rest >>= 1n;
        expected++;
      }
      expect(c).toBe(expected);
    }
  });
});

describe('dense registers', () => {
  it('keep each 6-bit value without touching their neighbours', () => {
    const b = new Uint8Array(HLL_DENSE_SIZE);
    const ref = new Uint8Array(HLL_REGISTERS);
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < HLL_REGISTERS; i++) {
        ref[i] = (Math.random() * 64) | 0;
        denseSet(b, HLL_HDR_SIZE, i, ref[i]!);
      }
      for (let i = 0; i < HLL_REGISTERS; i++) expect(denseGet(b, HLL_HDR_SIZE, i)).toBe(ref[i]);
    }
  });
});

describe('sparse encoding', () => {
  it('writes the opcodes Redis writes for a, b, c', () => {
    const h = new HllWork();
    h.empty();
    for (const s of ['a', 'b', 'c']) {
      const e = Buffer.from(s);
      expect(hllAdd(h, e, 0, e.length, 3000)).toBe(1);
    }
    // What Redis 7.0.15's PFDEBUG DECODE prints for the same three elements.
    expect(decodeSparse(h.b, 0, h.len)).toBe('Z:8436 v:1,1 Z:4274 v:2,1 Z:3068 v:1,1 Z:603');
    expect(h.len).toBe(HLL_HDR_SIZE + 11);
    expect(isHll(h.b, 0, h.len)).toBe(true);
  });

  it('counts exactly what Redis 7.0.15 counts, switching to dense where Redis does', () => {
    // PFADD h e0 … e{n-1} then PFCOUNT / PFDEBUG ENCODING / STRLEN on redis-server 7.0.15.
    const redis: [number, number, number, number][] = [
      [1, 1, HLL_SPARSE, 21],
      [10, 10, HLL_SPARSE, 48],
      [100, 100, HLL_SPARSE, 285],
      [1000, 1008, HLL_SPARSE, 1906],
      [5000, 4968, HLL_DENSE, HLL_DENSE_SIZE],
      [20000, 19901, HLL_DENSE, HLL_DENSE_SIZE],
    ];
    for (const [n, card, enc, len] of redis) {
      const h = filled(n);
      expect(count(h)).toBe(card);
      expect(h.b[4]).toBe(enc);
      expect(h.len).toBe(len);
    }
  });

  it('agrees with the dense form for the same elements', () => {
    for (let trial = 0; trial < 30; trial++) {
      const n = (Math.random() * 600) | 0;
      const sparse = filled(n, 1e9, `t${trial}:`);
      const dense = filled(0);
      expect(sparseToDense(dense)).toBe(true);
      for (let i = 0; i < n; i++) {
        const e = Buffer.from(`t${trial}:${i}`);
        hllAdd(dense, e, 0, e.length, 3000);
      }
      expect(sparse.b[4]).toBe(HLL_SPARSE);
      expect(count(sparse)).toBe(count(dense));
      const converted = new HllWork();
      converted.load(sparse.b, 0, sparse.len);
      expect(sparseToDense(converted)).toBe(true);
      expect(Buffer.from(converted.b.subarray(HLL_HDR_SIZE, HLL_DENSE_SIZE))).toEqual(
        Buffer.from(dense.b.subarray(HLL_HDR_SIZE, HLL_DENSE_SIZE)),
      );
    }
  });

  it('detects a sparse form that does not cover every register', () => {
    const h = filled(50);
    h.b[h.len++] = 0x05; // ZERO:6 past the end
    const histo = new Int32Array(64);
    expect(histogram(h.b, 0, h.len, histo)).toBe(false);
    expect(mergeInto(new Uint8Array(HLL_REGISTERS), h.b, 0, h.len)).toBe(false);
    const copy = new HllWork();
    copy.load(h.b, 0, h.len);
    expect(sparseToDense(copy)).toBe(false);
  });

  it('rejects strings that are not HLLs', () => {
    const h = filled(3);
    expect(isHll(h.b, 0, 10)).toBe(false);
    const bad = h.b.slice(0, h.len);
    bad[0] = 0x30;
    expect(isHll(bad, 0, bad.length)).toBe(false);
    const enc = h.b.slice(0, h.len);
    enc[4] = 2;
    expect(isHll(enc, 0, enc.length)).toBe(false);
    const dense = h.b.slice(0, h.len);
    dense[4] = HLL_DENSE;
    expect(isHll(dense, 0, dense.length)).toBe(false);
  });
});

describe('merging registers', () => {
  it("takes every register's maximum over dense HLLs, into an aligned array or not", () => {
    const dense = [0, 1, 2].map(() => {
      const b = new Uint8Array(HLL_DENSE_SIZE);
      b.set([72, 89, 76, 76, HLL_DENSE]);
      for (let i = 0; i < HLL_REGISTERS; i++) denseSet(b, HLL_HDR_SIZE, i, (Math.random() * 64) | 0);
      return b;
    });
    const expected = new Uint8Array(HLL_REGISTERS);
    for (const b of dense) for (let i = 0; i < HLL_REGISTERS; i++) expected[i] = Math.max(expected[i]!, denseGet(b, HLL_HDR_SIZE, i));
    for (const shift of [0, 1]) {
      const max = new Uint8Array(HLL_REGISTERS + 1).subarray(shift, shift + HLL_REGISTERS);
      for (const b of dense) expect(mergeInto(max, b, 0, b.length)).toBe(true);
      expect(Buffer.from(max)).toEqual(Buffer.from(expected));
    }
  });
});

describe('estimator', () => {
  it('is 0 for an empty HLL and the union count of merged registers', () => {
    const histo = new Int32Array(64);
    rawHistogram(new Uint8Array(HLL_REGISTERS), histo);
    expect(countFromHistogram(histo)).toBe(0);
    const a = filled(3000, 3000, 'a');
    const b = filled(3000, 3000, 'b');
    const max = new Uint8Array(HLL_REGISTERS);
    expect(mergeInto(max, a.b, 0, a.len)).toBe(true);
    expect(mergeInto(max, b.b, 0, b.len)).toBe(true);
    rawHistogram(max, histo);
    const union = countFromHistogram(histo);
    expect(Math.abs(union - 6000)).toBeLessThan(6000 * 0.05);
  });
});
