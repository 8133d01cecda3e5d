/**
 * HyperLogLog math with Redis's exact representation (hyperloglog.c): a 16-byte header
 * ("HYLL", encoding byte, 3 unused bytes, cached cardinality as 8 little-endian bytes whose top
 * bit marks it stale), then either 16384 6-bit registers packed LSB first (dense, 12288 bytes)
 * or a run-length sparse form of ZERO (00xxxxxx), XZERO (01xxxxxx yyyyyyyy) and VAL (1vvvvvxx)
 * opcodes. Registers come from MurmurHash64A with Redis's seed, and the count is Ertl's
 * estimator as Redis computes it, so values and counts match Redis byte for byte.
 */

import { copyBytes } from '../wire/bytes.js';

export const HLL_P = 14;
export const HLL_Q = 64 - HLL_P;
export const HLL_REGISTERS = 1 << HLL_P;
const HLL_P_MASK = HLL_REGISTERS - 1;
export const HLL_HDR_SIZE = 16;
export const HLL_DENSE_SIZE = HLL_HDR_SIZE + ((HLL_REGISTERS * 6 + 7) >>> 3);
export const HLL_DENSE = 0;
export const HLL_SPARSE = 1;
const HLL_MAX_ENCODING = 1;
const SPARSE_VAL_MAX_VALUE = 32;
const SPARSE_VAL_MAX_LEN = 4;
const SPARSE_ZERO_MAX_LEN = 64;
/** 0.5 / ln 2: the double nearest Redis's HLL_ALPHA_INF. */
const ALPHA_INF = 0.7213475204444817;
/** Length of a new (empty, sparse) HLL: the header and one XZERO covering every register. */
export const HLL_EMPTY_SIZE = HLL_HDR_SIZE + 2;

// ---- MurmurHash64A on 32-bit halves ----

const M_HI = 0xc6a4a793;
const M_LO = 0x5bd1e995;
/** High 32 bits (as int32) of the last mulM product: an int32 stays a small integer, where a value past 2^31 would be boxed on every write. */
let mh = 0;
/** The hash murmur64a computed last: HASH[0] low and HASH[1] high 32 bits. */
export const HASH = new Uint32Array(2);

/**
 * (h:l) * (M_HI:M_LO) mod 2^64: returns the low 32 bits (Math.imul's are exact) and leaves the high
 * ones in `mh`; the carry out of l * M_LO comes from 16-bit pieces, exact in doubles.
 */
function mulM(h: number, l: number): number {
  const l0 = l & 0xffff;
  const l1 = l >>> 16;
  const p00 = l0 * 0xe995;
  const p01 = l0 * 0x5bd1;
  const p10 = l1 * 0xe995;
  const mid = (p00 >>> 16) + (p01 & 0xffff) + (p10 & 0xffff);
  mh = (l1 * 0x5bd1 + (p01 >>> 16) + (p10 >>> 16) + (mid >>> 16) + Math.imul(h, M_LO) + Math.imul(l, M_HI)) | 0;
  return Math.imul(l, M_LO);
}

/** Redis's MurmurHash64A of b[off, off+len) with a 32-bit seed; the hash is left in HASH. Words are int32 throughout. */
export function murmur64a(b: Uint8Array, off: number, len: number, seed: number): void {
  let hl = mulM(0, len) ^ seed;
  let hh = mh;
  const end = off + (len - (len & 7));
  let p = off;
  while (p !== end) {
    const kl = b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24);
    const kh = b[p + 4]! | (b[p + 5]! << 8) | (b[p + 6]! << 16) | (b[p + 7]! << 24);
    let l = mulM(kh, kl);
    // k ^= k >> 47
    l = mulM(mh, l ^ (mh >>> 15));
    hl = mulM(hh ^ mh, hl ^ l);
    hh = mh;
    p += 8;
  }
  const t = len & 7;
  if (t !== 0) {
    if (t >= 7) hh ^= b[p + 6]! << 16;
    if (t >= 6) hh ^= b[p + 5]! << 8;
    if (t >= 5) hh ^= b[p + 4]!;
    if (t >= 4) hl ^= b[p + 3]! << 24;
    if (t >= 3) hl ^= b[p + 2]! << 16;
    if (t >= 2) hl ^= b[p + 1]! << 8;
    hl ^= b[p]!;
    hl = mulM(hh, hl);
    hh = mh;
  }
  const lo = mulM(hh, hl ^ (hh >>> 15));
  HASH[1] = mh;
  HASH[0] = lo ^ (mh >>> 15);
}

/** Register index of the element last passed to patLen. */
export let patIndex = 0;

/** Redis's hllPatLen: the 000..1 run length (1..51) of the element's hash; sets patIndex. */
export function patLen(b: Uint8Array, off: number, len: number): number {
  murmur64a(b, off, len, 0xadc83b19);
  const lo = HASH[0]!;
  const hi = HASH[1]!;
  patIndex = lo & HLL_P_MASK;
  const low = lo >>> HLL_P;
  if (low !== 0) return 32 - Math.clz32(low & -low);
  if (hi !== 0) return 32 - HLL_P + 32 - Math.clz32(hi & -hi);
  return HLL_Q + 1;
}

// ---- dense registers ----

/** Register i of the dense registers starting at b[r]. */
export function denseGet(b: Uint8Array, r: number, i: number): number {
  const bit = i * 6;
  const byte = r + (bit >>> 3);
  const fb = bit & 7;
  // A register starting at bit 0 or 2 lies in one byte (the last one never reads past the end).
  if (fb <= 2) return (b[byte]! >>> fb) & 63;
  return ((b[byte]! >>> fb) | (b[byte + 1]! << (8 - fb))) & 63;
}

/** Sets register i of the dense registers starting at b[r] to v (0..63). */
export function denseSet(b: Uint8Array, r: number, i: number, v: number): void {
  const bit = i * 6;
  const byte = r + (bit >>> 3);
  const fb = bit & 7;
  b[byte] = (b[byte]! & ~(63 << fb)) | (v << fb);
  if (fb > 2) b[byte + 1] = (b[byte + 1]! & ~(63 >>> (8 - fb))) | (v >>> (8 - fb));
}

/** Raises register i to `count` if lower; 1 when it changed. */
export function denseRaise(b: Uint8Array, r: number, i: number, count: number): number {
  if (denseGet(b, r, i) >= count) return 0;
  denseSet(b, r, i, count);
  return 1;
}

// ---- header ----

/** Whether b[off, off+len) is a valid HLL string (Redis's isHLLObjectOrReply checks). */
export function isHll(b: Uint8Array, off: number, len: number): boolean {
  if (len < HLL_HDR_SIZE) return false;
  if (b[off] !== 72 || b[off + 1] !== 89 || b[off + 2] !== 76 || b[off + 3] !== 76) return false;
  const enc = b[off + 4]!;
  if (enc > HLL_MAX_ENCODING) return false;
  return enc !== HLL_DENSE || len === HLL_DENSE_SIZE;
}

/** Whether the cached cardinality is valid. */
export function cacheValid(b: Uint8Array, off: number): boolean {
  return (b[off + 15]! & 0x80) === 0;
}

/** Marks the cached cardinality stale. */
export function invalidateCache(b: Uint8Array, off: number): void {
  b[off + 15] = b[off + 15]! | 0x80;
}

/** The cached cardinality as a number: exact below 2^53 (any real count); see readCacheBig for the rest. */
export function readCache(b: Uint8Array, off: number): number {
  let lo = 0;
  let hi = 0;
  for (let i = 3; i >= 0; i--) lo = lo * 256 + b[off + 8 + i]!;
  for (let i = 3; i >= 0; i--) hi = hi * 256 + b[off + 12 + i]!;
  return hi * 0x100000000 + lo;
}

/** The cached cardinality exactly (a corrupted or foreign cache can hold any 63-bit value). */
export function readCacheBig(b: Uint8Array, off: number): bigint {
  let v = 0n;
  for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[off + 8 + i]!);
  return v;
}

/** Stores a cardinality in the cache (valid). */
export function writeCache(b: Uint8Array, off: number, card: number): void {
  let lo = card % 0x100000000;
  let hi = Math.floor(card / 0x100000000);
  for (let i = 0; i < 4; i++) {
    b[off + 8 + i] = lo & 0xff;
    lo = Math.floor(lo / 256);
    b[off + 12 + i] = hi & 0xff;
    hi = Math.floor(hi / 256);
  }
}

/** Writes an empty sparse HLL (header and XZERO:16384) at b[off]; returns its length. */
export function writeEmpty(b: Uint8Array, off: number): number {
  b.fill(0, off, off + HLL_HDR_SIZE);
  b[off] = 72;
  b[off + 1] = 89;
  b[off + 2] = 76;
  b[off + 3] = 76;
  b[off + 4] = HLL_SPARSE;
  b[off + 16] = 0x40 | ((HLL_REGISTERS - 1) >>> 8);
  b[off + 17] = (HLL_REGISTERS - 1) & 0xff;
  return HLL_EMPTY_SIZE;
}

// ---- a growable HLL being changed (sparse updates move bytes) ----

/** An HLL held in a buffer of its own while a command changes it: b[0, len). */
export class HllWork {
  b = new Uint8Array(HLL_DENSE_SIZE + 64);
  len = 0;

  /** Room for `n` bytes (plus slack, so sparse scans never read past the array). */
  reserve(n: number): void {
    if (this.b.length >= n + 8) return;
    const nb = new Uint8Array(Math.max(n + 8, this.b.length * 2));
    nb.set(this.b.subarray(0, this.len));
    this.b = nb;
  }

  /** Copies an HLL string in. */
  load(src: Uint8Array, off: number, len: number): void {
    this.reserve(Math.max(len, HLL_DENSE_SIZE) + 8);
    copyBytes(this.b, 0, src, off, len);
    this.len = len;
  }

  /** Starts an empty sparse HLL. */
  empty(): void {
    this.len = writeEmpty(this.b, 0);
  }
}

const isZero = (v: number): boolean => (v & 0xc0) === 0;
const isXzero = (v: number): boolean => (v & 0xc0) === 0x40;
const zeroLen = (v: number): number => (v & 0x3f) + 1;
const xzeroLen = (v: number, w: number): number => (((v & 0x3f) << 8) | w) + 1;
const valValue = (v: number): number => ((v >>> 2) & 0x1f) + 1;
const valLen = (v: number): number => (v & 3) + 1;
const valOp = (val: number, len: number): number => 0x80 | ((val - 1) << 2) | (len - 1);

/** Converts a sparse HLL in `h` to dense in place; false when the sparse form is corrupt. */
export function sparseToDense(h: HllWork): boolean {
  if (h.b[4] === HLL_DENSE) return true;
  const sp = h.b.slice(HLL_HDR_SIZE, h.len);
  h.reserve(HLL_DENSE_SIZE);
  const b = h.b;
  b.fill(0, HLL_HDR_SIZE, HLL_DENSE_SIZE);
  let idx = 0;
  let p = 0;
  const end = sp.length;
  while (p < end) {
    const op = sp[p]!;
    if (isZero(op)) {
      idx += zeroLen(op);
      p++;
    } else if (isXzero(op)) {
      idx += xzeroLen(op, p + 1 < end ? sp[p + 1]! : 0);
      p += 2;
    } else {
      let run = valLen(op);
      const v = valValue(op);
      if (run + idx > HLL_REGISTERS) break;
      while (run-- > 0) denseSet(b, HLL_HDR_SIZE, idx++, v);
      p++;
    }
  }
  if (idx !== HLL_REGISTERS) {
    // Leave the sparse form as it was.
    b.set(sp, HLL_HDR_SIZE);
    return false;
  }
  b[4] = HLL_DENSE;
  h.len = HLL_DENSE_SIZE;
  return true;
}

const seq = new Uint8Array(5);

/**
 * Redis's hllSparseSet: raises register `index` to `count` in the sparse HLL `h`, splitting the
 * opcode that covers it and merging equal neighbours as Redis does (so the bytes match), and
 * promoting to dense when the value does not fit a VAL opcode or the string would pass
 * `maxBytes`. Returns 1 when changed, 0 when not, -1 when the sparse form is corrupt.
 */
export function sparseSet(h: HllWork, index: number, count: number, maxBytes: number): number {
  if (count > SPARSE_VAL_MAX_VALUE) return promote(h, index, count);
  h.reserve(h.len + 3);
  const b = h.b;
  const sparse = HLL_HDR_SIZE;
  let end = h.len;
  let p = sparse;
  let first = 0;
  let prev = -1;
  let span = 0;
  // The hot loop of a sparse HLL: opcode classes by byte range (ZERO < 0x40 ≤ XZERO < 0x80 ≤ VAL).
  while (p < end) {
    const op = b[p]!;
    if (op < 0x40) span = op + 1;
    else if (op >= 0x80) span = (op & 3) + 1;
    else span = (((op & 0x3f) << 8) | b[p + 1]!) + 1;
    if (index < first + span) break;
    prev = p;
    p += op >= 0x40 && op < 0x80 ? 2 : 1;
    first += span;
  }
  if (span === 0 || p >= end) return -1;
  const op = b[p]!;
  let next = isXzero(op) ? p + 2 : p + 1;
  if (next >= end) next = -1;
  const zero = isZero(op);
  const xzero = isXzero(op);
  const runlen = zero ? zeroLen(op) : xzero ? xzeroLen(op, b[p + 1]!) : valLen(op);
  let updated = false;
  if (!zero && !xzero) {
    if (valValue(op) >= count) return 0;
    if (runlen === 1) {
      b[p] = valOp(count, 1);
      updated = true;
    }
  }
  if (!updated && zero && runlen === 1) {
    b[p] = valOp(count, 1);
    updated = true;
  }
  if (!updated) {
    let n = 0;
    const last = first + span - 1;
    if (zero || xzero) {
      if (index !== first) n = putZeros(n, index - first);
      seq[n++] = valOp(count, 1);
      if (index !== last) n = putZeros(n, last - index);
    } else {
      const cur = valValue(op);
      if (index !== first) seq[n++] = valOp(cur, index - first);
      seq[n++] = valOp(count, 1);
      if (index !== last) seq[n++] = valOp(cur, last - index);
    }
    const oldlen = xzero ? 2 : 1;
    const delta = n - oldlen;
    if (delta > 0 && h.len + delta > maxBytes) return promote(h, index, count);
    if (delta !== 0 && next !== -1) b.copyWithin(next + delta, next, end);
    h.len += delta;
    for (let i = 0; i < n; i++) b[p + i] = seq[i]!;
    end += delta;
  }
  // Merge adjacent VAL opcodes of the same value, scanning up to 5 opcodes from prev.
  p = prev !== -1 ? prev : sparse;
  let scan = 5;
  while (p < end && scan-- > 0) {
    const v = b[p]!;
    if (isXzero(v)) {
      p += 2;
      continue;
    }
    if (isZero(v)) {
      p++;
      continue;
    }
    if (p + 1 < end && b[p + 1]! & 0x80) {
      const v1 = valValue(v);
      if (v1 === valValue(b[p + 1]!)) {
        const len = valLen(v) + valLen(b[p + 1]!);
        if (len <= SPARSE_VAL_MAX_LEN) {
          b[p + 1] = valOp(v1, len);
          b.copyWithin(p, p + 1, end);
          h.len--;
          end--;
          continue;
        }
      }
    }
    p++;
  }
  invalidateCache(b, 0);
  return 1;
}

/** Writes ZERO or XZERO opcodes for `len` zero registers into seq at n; returns the new n. */
function putZeros(n: number, len: number): number {
  if (len > SPARSE_ZERO_MAX_LEN) {
    const l = len - 1;
    seq[n] = (l >>> 8) | 0x40;
    seq[n + 1] = l & 0xff;
    return n + 2;
  }
  seq[n] = len - 1;
  return n + 1;
}

function promote(h: HllWork, index: number, count: number): number {
  if (!sparseToDense(h)) return -1;
  return denseRaise(h.b, HLL_HDR_SIZE, index, count);
}

/** Adds element e[off, off+len) to the HLL in `h` (either encoding); 1 changed, 0 not, -1 corrupt. */
export function hllAdd(h: HllWork, e: Uint8Array, off: number, len: number, maxBytes: number): number {
  const count = patLen(e, off, len);
  if (h.b[4] === HLL_DENSE) return denseRaise(h.b, HLL_HDR_SIZE, patIndex, count);
  return sparseSet(h, patIndex, count, maxBytes);
}

// ---- counting and merging ----

/**
 * Four histograms side by side (lane k at k * 64), summed into one at the end: registers mostly hold
 * the same few values, and one array's `histo[v]++` chained each increment on the store before it
 * (16,384 increments ~36 us; in four lanes ~14 us).
 */
const lanes = new Int32Array(4 * 64);

/** Sums the four lane histograms into `histo`. */
function sumLanes(histo: Int32Array): void {
  for (let j = 0; j < 64; j++) histo[j] = lanes[j]! + lanes[64 + j]! + lanes[128 + j]! + lanes[192 + j]!;
}

/** Register-value histogram of an HLL string; false when a sparse form does not cover every register. */
export function histogram(b: Uint8Array, off: number, len: number, histo: Int32Array): boolean {
  const r = off + HLL_HDR_SIZE;
  if (b[off + 4] === HLL_DENSE) {
    lanes.fill(0);
    for (let p = r; p < r + 3 * (HLL_REGISTERS >>> 2); p += 3) {
      const x = b[p]!;
      const y = b[p + 1]!;
      const z = b[p + 2]!;
      lanes[x & 63]!++;
      lanes[64 + (((x >>> 6) | (y << 2)) & 63)]!++;
      lanes[128 + (((y >>> 4) | (z << 4)) & 63)]!++;
      lanes[192 + (z >>> 2)]!++;
    }
    sumLanes(histo);
    return true;
  }
  histo.fill(0);
  let idx = 0;
  let p = r;
  const end = off + len;
  while (p < end) {
    const op = b[p]!;
    if (isZero(op)) {
      const n = zeroLen(op);
      idx += n;
      histo[0]! += n;
      p++;
    } else if (isXzero(op)) {
      const n = xzeroLen(op, p + 1 < end ? b[p + 1]! : 0);
      idx += n;
      histo[0]! += n;
      p += 2;
    } else {
      const n = valLen(op);
      idx += n;
      histo[valValue(op)]! += n;
      p++;
    }
  }
  return idx === HLL_REGISTERS;
}

/** Histogram of raw registers, one byte each (PFCOUNT of several keys); `max` is 4-byte aligned. */
export function rawHistogram(max: Uint8Array, histo: Int32Array): void {
  const w32 = wordsOf(max);
  lanes.fill(0);
  for (let w = 0; w < HLL_REGISTERS >>> 2; w++) {
    const x = w32[w]!;
    lanes[x & 63]!++;
    lanes[64 + ((x >>> 8) & 63)]!++;
    lanes[128 + ((x >>> 16) & 63)]!++;
    lanes[192 + (x >>> 24)]!++;
  }
  sumLanes(histo);
}

function sigma(x: number): number {
  if (x === 1) return Number.POSITIVE_INFINITY;
  let zPrime: number;
  let y = 1;
  let z = x;
  do {
    x *= x;
    zPrime = z;
    z += x * y;
    y += y;
  } while (zPrime !== z);
  return z;
}

function tau(x: number): number {
  if (x === 0 || x === 1) return 0;
  let zPrime: number;
  let y = 1;
  let z = 1 - x;
  do {
    x = Math.sqrt(x);
    zPrime = z;
    y *= 0.5;
    const d = 1 - x;
    z -= d * d * y;
  } while (zPrime !== z);
  return z / 3;
}

/** The cardinality estimate from a register histogram (Ertl's estimator, as Redis's hllCount). */
export function countFromHistogram(histo: Int32Array): number {
  const m = HLL_REGISTERS;
  let z = m * tau((m - histo[HLL_Q + 1]!) / m);
  for (let j = HLL_Q; j >= 1; --j) {
    z += histo[j]!;
    z *= 0.5;
  }
  z += m * sigma(histo[0]! / m);
  const e = Math.round((ALPHA_INF * m * m) / z);
  return Number.isFinite(e) ? e : 0;
}

/** The u32 view of the last register array wordsOf was given (merging keeps one array). */
let words: Uint32Array = new Uint32Array(0);

/** `max` (4-byte aligned) as words of four byte-sized registers, reusing the view while it is the same array. */
function wordsOf(max: Uint8Array): Uint32Array {
  if (words.buffer !== max.buffer || words.byteOffset !== max.byteOffset)
    words = new Uint32Array(max.buffer, max.byteOffset, HLL_REGISTERS >>> 2);
  return words;
}

/**
 * Raises each register of `max32` (four byte lanes a word) to the dense registers at b[r]: four
 * registers per three bytes, unpacked into one word and merged lane by lane without branches
 * (a compare per register mispredicts about half the time on two HLLs' registers).
 */
function mergeDense(max32: Uint32Array, b: Uint8Array, r: number): void {
  for (let w = 0, p = r; w < HLL_REGISTERS >>> 2; w++, p += 3) {
    const x = b[p]!;
    const y = b[p + 1]!;
    const z = b[p + 2]!;
    const v = (x & 63) | ((((x >>> 6) | (y << 2)) & 63) << 8) | ((((y >>> 4) | (z << 4)) & 63) << 16) | ((z >>> 2) << 24);
    const m = max32[w]!;
    // A lane's top bit survives (v | 0x80) - m exactly when v >= m: lanes hold 0..63, so no borrow crosses them.
    const sel = Math.imul((((v | 0x80808080) - m) & 0x80808080) >>> 7, 0xff);
    max32[w] = (v & sel) | (m & ~sel);
  }
}

/** Raises max[i] to each register of the HLL string (Redis's hllMerge); false when a sparse form is corrupt. */
export function mergeInto(max: Uint8Array, b: Uint8Array, off: number, len: number): boolean {
  const r = off + HLL_HDR_SIZE;
  if (b[off + 4] === HLL_DENSE && (max.byteOffset & 3) === 0) {
    mergeDense(wordsOf(max), b, r);
    return true;
  }
  if (b[off + 4] === HLL_DENSE) {
    // Four registers per three bytes, as in histogram().
    for (let i = 0, p = r; i < HLL_REGISTERS; i += 4, p += 3) {
      const x = b[p]!;
      const y = b[p + 1]!;
      const z = b[p + 2]!;
      const v0 = x & 63;
      const v1 = ((x >>> 6) | (y << 2)) & 63;
      const v2 = ((y >>> 4) | (z << 4)) & 63;
      const v3 = z >>> 2;
      if (v0 > max[i]!) max[i] = v0;
      if (v1 > max[i + 1]!) max[i + 1] = v1;
      if (v2 > max[i + 2]!) max[i + 2] = v2;
      if (v3 > max[i + 3]!) max[i + 3] = v3;
    }
    return true;
  }
  let i = 0;
  let p = r;
  const end = off + len;
  while (p < end) {
    const op = b[p]!;
    if (isZero(op)) {
      i += zeroLen(op);
      p++;
    } else if (isXzero(op)) {
      i += xzeroLen(op, p + 1 < end ? b[p + 1]! : 0);
      p += 2;
    } else {
      let run = valLen(op);
      const v = valValue(op);
      if (run + i > HLL_REGISTERS) break;
      while (run-- > 0) {
        if (v > max[i]!) max[i] = v;
        i++;
      }
      p++;
    }
  }
  return i === HLL_REGISTERS;
}

/** PFDEBUG DECODE's text of a sparse HLL ("Z:n z:n v:val,len …"). */
export function decodeSparse(b: Uint8Array, off: number, len: number): string {
  const parts: string[] = [];
  let p = off + HLL_HDR_SIZE;
  const end = off + len;
  while (p < end) {
    const op = b[p]!;
    if (isZero(op)) {
      parts.push(`z:${zeroLen(op)}`);
      p++;
    } else if (isXzero(op)) {
      parts.push(`Z:${xzeroLen(op, p + 1 < end ? b[p + 1]! : 0)}`);
      p += 2;
    } else {
      parts.push(`v:${valValue(op)},${valLen(op)}`);
      p++;
    }
  }
  return parts.join(' ');
}

/**
 * Redis's PFSELFTEST: dense registers keep what was set without touching neighbours, and a dense
 * and a sparse HLL fed the same 10M elements agree and stay within 6 standard errors at each power
 * of ten. Returns null on success, else the TESTFAILED text.
 */
export function selfTest(sparseMaxBytes: number): string | null {
  const dense = new Uint8Array(HLL_DENSE_SIZE + 1);
  const bytes = new Uint8Array(HLL_REGISTERS);
  for (let j = 0; j < 1000; j++) {
    for (let i = 0; i < HLL_REGISTERS; i++) {
      const r = (Math.random() * 64) | 0;
      bytes[i] = r;
      denseSet(dense, HLL_HDR_SIZE, i, r);
    }
    for (let i = 0; i < HLL_REGISTERS; i++) {
      const v = denseGet(dense, HLL_HDR_SIZE, i);
      if (v !== bytes[i]) return `TESTFAILED Register ${i} should be ${bytes[i]} but is ${v}`;
    }
  }
  dense.fill(0);
  dense[4] = HLL_DENSE;
  const sparse = new HllWork();
  sparse.empty();
  const histo = new Int32Array(64);
  const relerr = 1.04 / Math.sqrt(HLL_REGISTERS);
  let checkpoint = 1;
  const seedLo = (Math.random() * 0x100000000) >>> 0;
  const seedHi = (Math.random() * 0x100000000) >>> 0;
  const ele = new Uint8Array(8);
  const dv = new DataView(ele.buffer);
  dv.setUint32(4, seedHi, true);
  for (let j = 1; j <= 10000000; j++) {
    dv.setUint32(0, (j ^ seedLo) >>> 0, true);
    const count = patLen(ele, 0, 8);
    denseRaise(dense, HLL_HDR_SIZE, patIndex, count);
    if (sparse.b[4] === HLL_DENSE) denseRaise(sparse.b, HLL_HDR_SIZE, patIndex, count);
    else sparseSet(sparse, patIndex, count, sparseMaxBytes);
    if (j !== checkpoint) continue;
    if (j < sparseMaxBytes / 2 && sparse.b[4] !== HLL_SPARSE) return 'TESTFAILED sparse encoding not used';
    histogram(dense, 0, HLL_DENSE_SIZE, histo);
    const cd = countFromHistogram(histo);
    histogram(sparse.b, 0, sparse.len, histo);
    if (cd !== countFromHistogram(histo)) return 'TESTFAILED dense/sparse disagree';
    const abserr = Math.abs(checkpoint - cd);
    const maxerr = j === 10 ? 1 : Math.ceil(relerr * 6 * checkpoint);
    if (abserr > maxerr) return `TESTFAILED Too big error. card:${checkpoint} abserr:${abserr}`;
    checkpoint *= 10;
  }
  return null;
}
