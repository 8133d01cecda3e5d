/** The LZF codec agrees with lzfjs (an independent port of liblzf) in both directions and rejects bad blocks. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import lzfjs from 'lzfjs';
import { lzfCompress, lzfDecompress } from '../../src/persistence/lzf.js';
import { RdbError } from '../../src/persistence/rdb-error.js';

// Byte strings with plenty of repetition, so most of them compress.
const repetitive = fc
  .array(fc.tuple(fc.uint8Array({ minLength: 1, maxLength: 12 }), fc.integer({ min: 1, max: 40 })), { minLength: 1, maxLength: 30 })
  .map((parts) => Uint8Array.from(parts.flatMap(([chunk, times]) => Array.from({ length: times }, () => [...chunk]).flat())));

describe('LZF', () => {
  it('round-trips and lzfjs decodes what it compresses', () => {
    fc.assert(
      fc.property(fc.oneof(repetitive, fc.uint8Array({ maxLength: 3000 })), (data) => {
        const c = lzfCompress(data);
        if (c === null) return;
        expect(c.length).toBeLessThanOrEqual(data.length - 4);
        expect(Buffer.from(lzfDecompress(c, data.length, 0)).equals(Buffer.from(data))).toBe(true);
        expect(Buffer.from(lzfjs.decompress(c)).equals(Buffer.from(data))).toBe(true);
      }),
      { numRuns: 400 },
    );
  });

  it('decodes what lzfjs compresses', () => {
    fc.assert(
      fc.property(repetitive, (data) => {
        const c = new Uint8Array(lzfjs.compress(data));
        expect(Buffer.from(lzfDecompress(c, data.length, 0)).equals(Buffer.from(data))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('compresses long runs well and declines what does not shrink', () => {
    expect(lzfCompress(new Uint8Array(10000).fill(7))!.length).toBeLessThan(200);
    expect(lzfCompress(Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8]))).toBeNull();
  });

  it('rejects blocks that are truncated, point before the start or expand to another length', () => {
    const data = new TextEncoder().encode('abcabcabcabcabcabcabcabcabcabc');
    const c = lzfCompress(data)!;
    expect(() => lzfDecompress(c.subarray(0, c.length - 1), data.length, 0)).toThrow(RdbError);
    expect(() => lzfDecompress(c, data.length + 1, 0)).toThrow(RdbError);
    expect(() => lzfDecompress(c, data.length - 1, 0)).toThrow(RdbError);
    expect(() => lzfDecompress(Uint8Array.from([0x20, 0x05]), 10, 0)).toThrow(RdbError);
  });
});
