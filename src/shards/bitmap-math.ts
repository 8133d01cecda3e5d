/**
 * Bit-level math on byte strings (Redis's bitops.c): population count, first set/clear bit,
 * and BITFIELD's integers of 1..64 bits at any bit offset (bit 0 = most significant bit of
 * byte 0) with WRAP, SAT and FAIL overflow handling.
 */
import { WASM_POPCOUNT_MIN, popcountBlocks } from './popcount-wasm.js';

/** Set bits in b[s, s+n). `w` is a 32-bit view of b's buffer from b.byteOffset (word-at-a-time counting). */
export function popcount(b: Uint8Array, s: number, n: number, w: Uint32Array): number {
  if (n < WASM_POPCOUNT_MIN) return popcountSwar(b, s, n, w);
  // Long ranges in WebAssembly, from an 8-byte-aligned address and in whole 32-byte blocks; the ends here.
  const head = (8 - ((b.byteOffset + s) & 7)) & 7;
  const body = (n - head) & ~31;
  const tail = s + head + body;
  return popcountSwar(b, s, head, w) + popcountBlocks(b, s + head, body) + popcountSwar(b, tail, s + n - tail, w);
}

/** popcount in JavaScript, two 32-bit words a step. */
function popcountSwar(b: Uint8Array, s: number, n: number, w: Uint32Array): number {
  let bits = 0;
  let p = s;
  const end = s + n;
  // Read once: byteOffset is a call, not a field load, for optimized code (~8 ns).
  const bo = b.byteOffset;
  while (p < end && ((bo + p) & 3) !== 0) bits += popByte(b[p++]!);
  let wi = ((bo + p) >>> 2) - (bo >>> 2);
  // Two words per step: their 2-bit counts add up within nibbles (≤ 8) before the byte fold.
  while (p + 8 <= end) {
    let x = w[wi]!;
    let y = w[wi + 1]!;
    x = x - ((x >>> 1) & 0x55555555);
    y = y - ((y >>> 1) & 0x55555555);
    x = (x & 0x33333333) + ((x >>> 2) & 0x33333333) + (y & 0x33333333) + ((y >>> 2) & 0x33333333);
    x = (x & 0x0f0f0f0f) + ((x >>> 4) & 0x0f0f0f0f);
    bits += Math.imul(x, 0x01010101) >>> 24;
    wi += 2;
    p += 8;
  }
  if (p + 4 <= end) {
    let v = w[wi]!;
    v = v - ((v >>> 1) & 0x55555555);
    v = (v & 0x33333333) + ((v >>> 2) & 0x33333333);
    bits += Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24;
    p += 4;
  }
  while (p < end) bits += popByte(b[p++]!);
  return bits;
}

function popByte(x: number): number {
  x = x - ((x >>> 1) & 0x55);
  x = (x & 0x33) + ((x >>> 2) & 0x33);
  return (x + (x >>> 4)) & 0x0f;
}

/**
 * Redis's redisBitpos: position of the first `bit` in b[s, s+n), scanning bytes; for bit 1 with
 * none found, -1; for bit 0 with none found, n*8 (the string is taken as zero-padded).
 */
export function bitpos(b: Uint8Array, s: number, n: number, bit: number): number {
  const skip = bit === 1 ? 0 : 0xff;
  let p = s;
  const end = s + n;
  while (p < end && b[p] === skip) p++;
  if (p === end) return bit === 1 ? -1 : n * 8;
  const v = b[p]!;
  const x = bit === 1 ? v : ~v & 0xff;
  return (p - s) * 8 + (Math.clz32(x) - 24);
}

/** Overflow behaviours of BITFIELD. */
export const OV_WRAP = 0;
export const OV_SAT = 1;
export const OV_FAIL = 2;

/** Reads `bits` bits at bit offset `off` of b[s, s+len) as an unsigned value; bytes past len read as 0. */
export function getUnsigned(b: Uint8Array, s: number, len: number, off: number, bits: number): bigint {
  let hi = 0;
  let lo = 0;
  for (let j = 0; j < bits; j++, off++) {
    const byte = Math.floor(off / 8);
    const bv = byte < len ? (b[s + byte]! >>> (7 - (off % 8))) & 1 : 0;
    // Shift the 64-bit hi:lo left by one and add the bit.
    hi = ((hi << 1) | (lo >>> 31)) >>> 0;
    lo = ((lo << 1) | bv) >>> 0;
  }
  return (BigInt(hi) << 32n) | BigInt(lo);
}

/** Reads a signed `bits`-bit value (two's complement). */
export function getSigned(b: Uint8Array, s: number, len: number, off: number, bits: number): bigint {
  return BigInt.asIntN(bits, getUnsigned(b, s, len, off, bits));
}

/** Writes the low `bits` bits of v at bit offset `off` of b[s…] (the string already reaches that far). */
export function setBits(b: Uint8Array, s: number, off: number, bits: number, v: bigint): void {
  const u = BigInt.asUintN(64, v);
  const hi = Number(u >> 32n);
  const lo = Number(u & 0xffffffffn);
  for (let j = 0; j < bits; j++, off++) {
    const k = bits - 1 - j;
    const bv = k >= 32 ? (hi >>> (k - 32)) & 1 : (lo >>> k) & 1;
    const byte = s + Math.floor(off / 8);
    const sh = 7 - (off % 8);
    b[byte] = (b[byte]! & ~(1 << sh)) | (bv << sh);
  }
}

/** Result of checkOverflow: the value to store when it overflowed (wrapped or saturated). */
export let overflowLimit = 0n;

/**
 * Whether `value + incr` leaves the range of a `bits`-bit integer (1 above, -1 below, 0 inside),
 * as Redis's check{Signed,Unsigned}BitfieldOverflow; on overflow overflowLimit holds the wrapped
 * (WRAP) or saturated (SAT) value. Unsigned values arrive as Redis sees them: a negative SET value
 * is its 64-bit two's complement.
 */
export function checkOverflow(signed: boolean, value: bigint, incr: bigint, bits: number, ov: number): number {
  const bb = BigInt(bits);
  const max = signed ? (1n << (bb - 1n)) - 1n : (1n << bb) - 1n;
  const min = signed ? -max - 1n : 0n;
  const sum = value + incr;
  let dir = 0;
  if (value > max || sum > max) dir = 1;
  else if (value < min || sum < min) dir = -1;
  if (dir === 0) return 0;
  if (ov === OV_WRAP) overflowLimit = signed ? BigInt.asIntN(bits, sum) : BigInt.asUintN(bits, sum);
  else if (ov === OV_SAT) overflowLimit = dir > 0 ? max : min;
  return dir;
}
