/** Bit math of the bitmap commands (src/shards/bitmap-math.ts): counting, searching, BITFIELD integers and overflow. */
import { describe, expect, it } from 'vitest';
import {
  OV_FAIL,
  OV_SAT,
  OV_WRAP,
  bitpos,
  checkOverflow,
  getSigned,
  getUnsigned,
  overflowLimit,
  popcount,
  setBits,
} from '../../src/shards/bitmap-math.js';

function naiveCount(b: Uint8Array, s: number, n: number): number {
  let c = 0;
  for (let i = s; i < s + n; i++) for (let k = 0; k < 8; k++) c += (b[i]! >> k) & 1;
  return c;
}

describe('popcount and bitpos', () => {
  it('count set bits at any alignment and length', () => {
    const buf = new Uint8Array(300);
    for (let i = 0; i < buf.length; i++) buf[i] = (Math.random() * 256) | 0;
    const w = new Uint32Array(buf.buffer);
    for (let s = 0; s < 9; s++) for (let n = 0; n < 290 - s; n += 7) expect(popcount(buf, s, n, w)).toBe(naiveCount(buf, s, n));
  });

  it('count long ranges in WebAssembly exactly: shared memory, any byte offset, across its 64 KiB chunks', () => {
    const sab = new SharedArrayBuffer(200_000);
    // A view that starts off word alignment, as a string inside the arena may.
    for (const viewOffset of [0, 3, 8]) {
      const buf = new Uint8Array(sab, viewOffset);
      for (let i = 0; i < buf.length; i++) buf[i] = (Math.random() * 256) | 0;
      const w = new Uint32Array(sab, 0, sab.byteLength >>> 2);
      const cw = new Uint32Array(sab, viewOffset - (viewOffset & 3), (sab.byteLength - viewOffset) >>> 2);
      for (const s of [0, 1, 5, 7, 13])
        for (const n of [255, 256, 257, 287, 288, 289, 4096 + 11, 65535, 65536, 65537, 131_072 + 99, 190_000]) {
          expect(popcount(buf, s, n, viewOffset === 0 ? w : cw)).toBe(naiveCount(buf, s, n));
        }
    }
    const ones = new Uint8Array(100_000).fill(0xff);
    expect(popcount(ones, 1, 99_999, new Uint32Array(ones.buffer))).toBe(799_992);
  });

  it('find the first set or clear bit, padding with zeros past the end', () => {
    const b = Uint8Array.from([0x00, 0x00, 0x10, 0xff]);
    expect(bitpos(b, 0, 4, 1)).toBe(19);
    expect(bitpos(b, 0, 2, 1)).toBe(-1);
    expect(bitpos(b, 3, 1, 0)).toBe(8);
    expect(bitpos(b, 2, 2, 0)).toBe(0);
    expect(bitpos(Uint8Array.from([0xff, 0xfe]), 0, 2, 0)).toBe(15);
  });
});

describe('BITFIELD integers', () => {
  it('read back what was written, signed and unsigned, at any offset and width', () => {
    const b = new Uint8Array(32);
    for (let trial = 0; trial < 2000; trial++) {
      const bits = 1 + Math.floor(Math.random() * 64);
      const off = Math.floor(Math.random() * 100);
      const v = BigInt.asIntN(64, BigInt(Math.floor(Math.random() * 2 ** 53)) * BigInt(Math.floor(Math.random() * 4096) - 2048));
      setBits(b, 0, off, bits, v);
      expect(getUnsigned(b, 0, b.length, off, bits)).toBe(BigInt.asUintN(bits, v));
      expect(getSigned(b, 0, b.length, off, bits)).toBe(BigInt.asIntN(bits, v));
    }
  });

  it('use bit 0 as the most significant bit of byte 0 and read zeros past the end', () => {
    const b = new Uint8Array(2);
    setBits(b, 0, 7, 5, 23n);
    expect([...b]).toEqual([0b00000001, 0b01110000]);
    expect(getUnsigned(b, 0, 1, 7, 5)).toBe(16n);
  });
});

describe('BITFIELD overflow', () => {
  it('wraps unsigned values around and signed ones towards the most negative', () => {
    expect(checkOverflow(false, 250n, 10n, 8, OV_WRAP)).toBe(1);
    expect(overflowLimit).toBe(4n);
    expect(checkOverflow(false, 3n, -5n, 8, OV_WRAP)).toBe(-1);
    expect(overflowLimit).toBe(254n);
    expect(checkOverflow(true, 127n, 1n, 8, OV_WRAP)).toBe(1);
    expect(overflowLimit).toBe(-128n);
    expect(checkOverflow(true, -128n, -1n, 8, OV_WRAP)).toBe(-1);
    expect(overflowLimit).toBe(127n);
    expect(checkOverflow(true, 9223372036854775807n, 1n, 64, OV_WRAP)).toBe(1);
    expect(overflowLimit).toBe(-9223372036854775808n);
  });

  it('saturates at the type limits', () => {
    expect(checkOverflow(false, 200n, 100n, 8, OV_SAT)).toBe(1);
    expect(overflowLimit).toBe(255n);
    expect(checkOverflow(false, 5n, -100n, 8, OV_SAT)).toBe(-1);
    expect(overflowLimit).toBe(0n);
    expect(checkOverflow(true, 0n, -1000n, 8, OV_SAT)).toBe(-1);
    expect(overflowLimit).toBe(-128n);
    expect(checkOverflow(true, -9223372036854775808n, -1n, 64, OV_SAT)).toBe(-1);
    expect(overflowLimit).toBe(-9223372036854775808n);
  });

  it('reports overflow for FAIL and none inside the range', () => {
    expect(checkOverflow(false, 3n, 1n, 2, OV_FAIL)).toBe(1);
    expect(checkOverflow(false, 2n, 1n, 2, OV_FAIL)).toBe(0);
    expect(checkOverflow(true, -2n, 4n, 2, OV_FAIL)).toBe(1);
    expect(checkOverflow(true, -2n, 2n, 2, OV_FAIL)).toBe(0);
    // A negative SET value on an unsigned field arrives as its 64-bit two's complement.
    expect(checkOverflow(false, BigInt.asUintN(64, -1n), 0n, 8, OV_SAT)).toBe(1);
    expect(overflowLimit).toBe(255n);
    expect(checkOverflow(true, 9223372036854775807n, -9223372036854775807n, 64, OV_FAIL)).toBe(0);
  });
});
