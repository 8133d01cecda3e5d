/**
 * Stream entry ids (128 bits: u64 milliseconds, u64 sequence) without BigInt or objects: an id
 * lives in a register of ID (four u32 words: ms high, ms low, seq high, seq low), and in the
 * arena as the same four words, so comparing ids stays in integer math on the hot path.
 */
import type { RespWriter } from '../wire/resp-writer.js';

/** The registers: id r is words 4r..4r+3. */
export const ID = new Uint32Array(4 * 16);

/** Registers by role (a handler and the stream module agree on these). */
export const R_A = 0;
export const R_B = 1;
export const R_C = 2;
export const R_D = 3;
export const R_E = 4;
export const R_F = 5;
export const R_G = 6;
export const R_H = 7;
/** The entry an iterator is on. */
export const R_CUR = 8;
export const R_CUR2 = 9;
export const R_TMP = 10;
export const R_TMP2 = 11;
export const R_TMP3 = 12;

const TWO32 = 4294967296;
const MAX = 0xffffffff;

/** Sets register r. */
export function idSet(r: number, msHi: number, msLo: number, seqHi: number, seqLo: number): void {
  const o = r << 2;
  ID[o] = msHi;
  ID[o + 1] = msLo;
  ID[o + 2] = seqHi;
  ID[o + 3] = seqLo;
}

/** Sets register r from safe integers (ms and seq below 2^53). */
export function idSetNum(r: number, ms: number, seq: number): void {
  idSet(r, Math.floor(ms / TWO32), ms >>> 0, Math.floor(seq / TWO32), seq >>> 0);
}

/** Copies register src into dst. */
export function idCopy(dst: number, src: number): void {
  const d = dst << 2;
  const s = src << 2;
  ID[d] = ID[s]!;
  ID[d + 1] = ID[s + 1]!;
  ID[d + 2] = ID[s + 2]!;
  ID[d + 3] = ID[s + 3]!;
}

/** -1, 0 or 1 as register a is below, equal to or above register b. */
export function idCmp(a: number, b: number): number {
  const x = a << 2;
  const y = b << 2;
  for (let i = 0; i < 4; i++) {
    const p = ID[x + i]!;
    const q = ID[y + i]!;
    if (p !== q) return p < q ? -1 : 1;
  }
  return 0;
}

/** -1, 0 or 1 comparing register r with the id stored at arena word w. */
export function idCmpMem(r: number, u32: Uint32Array, w: number): number {
  const x = r << 2;
  for (let i = 0; i < 4; i++) {
    const p = ID[x + i]!;
    const q = u32[w + i]!;
    if (p !== q) return p < q ? -1 : 1;
  }
  return 0;
}

/** Loads register r from arena word w. */
export function idLoad(r: number, u32: Uint32Array, w: number): void {
  const o = r << 2;
  ID[o] = u32[w]!;
  ID[o + 1] = u32[w + 1]!;
  ID[o + 2] = u32[w + 2]!;
  ID[o + 3] = u32[w + 3]!;
}

/** Stores register r at arena word w. */
export function idStore(r: number, u32: Uint32Array, w: number): void {
  const o = r << 2;
  u32[w] = ID[o]!;
  u32[w + 1] = ID[o + 1]!;
  u32[w + 2] = ID[o + 2]!;
  u32[w + 3] = ID[o + 3]!;
}

/** Whether register r is 0-0. */
export function idIsZero(r: number): boolean {
  const o = r << 2;
  return (ID[o]! | ID[o + 1]! | ID[o + 2]! | ID[o + 3]!) === 0;
}

/** Whether register r is the largest id. */
export function idIsMax(r: number): boolean {
  const o = r << 2;
  return ID[o] === MAX && ID[o + 1] === MAX && ID[o + 2] === MAX && ID[o + 3] === MAX;
}

/** Increments register r (seq, carrying into ms); false when it was the largest id. */
export function idIncr(r: number): boolean {
  const o = r << 2;
  for (let i = 3; i >= 0; i--) {
    if (ID[o + i] !== MAX) {
      ID[o + i]!++;
      return true;
    }
    ID[o + i] = 0;
  }
  idSet(r, MAX, MAX, MAX, MAX);
  return false;
}

/** Decrements register r; false when it was 0-0. */
export function idDecr(r: number): boolean {
  const o = r << 2;
  for (let i = 3; i >= 0; i--) {
    if (ID[o + i] !== 0) {
      ID[o + i]!--;
      return true;
    }
    ID[o + i] = MAX;
  }
  idSet(r, 0, 0, 0, 0);
  return false;
}

/** The ms part of register r as a number (exact below 2^53). */
export function idMs(r: number): number {
  return ID[r << 2]! * TWO32 + ID[(r << 2) + 1]!;
}

/** The seq part of register r as a number (exact below 2^53). */
export function idSeq(r: number): number {
  return ID[(r << 2) + 2]! * TWO32 + ID[(r << 2) + 3]!;
}

/** Result of parseU64: high and low words. */
const U64 = { hi: 0, lo: 0 };

/** Parses decimal digits buf[s, s+n) as a u64 into U64; false when not digits or too big. */
function parseU64(buf: Uint8Array, s: number, n: number): boolean {
  if (n === 0 || n > 20) return false;
  let hi = 0;
  let lo = 0;
  for (let i = 0; i < n; i++) {
    const d = buf[s + i]! - 48;
    if (d < 0 || d > 9) return false;
    const l = lo * 10 + d;
    const carry = Math.floor(l / TWO32);
    lo = l - carry * TWO32;
    hi = hi * 10 + carry;
    if (hi > MAX) return false;
  }
  U64.hi = hi;
  U64.lo = lo;
  return true;
}

/** What parseId found besides the id: whether a seq was given, or `ms-*` asked for one. */
export const parsed = { seqGiven: true, seqAuto: false };

/**
 * Parses a stream id into register r: `ms-seq`, `ms` (seq = 0, or the largest when `maxSeq`),
 * `-` and `+` unless `strict`, and `ms-*` when `allowAuto` (parsed.seqAuto). False when invalid.
 */
export function parseId(buf: Uint8Array, s: number, n: number, r: number, maxSeq: boolean, strict: boolean, allowAuto: boolean): boolean {
  parsed.seqGiven = true;
  parsed.seqAuto = false;
  if (n === 1 && !strict) {
    const b = buf[s];
    if (b === 45) {
      idSet(r, 0, 0, 0, 0);
      return true;
    }
    if (b === 43) {
      idSet(r, MAX, MAX, MAX, MAX);
      return true;
    }
  }
  let dash = -1;
  for (let i = 0; i < n; i++) {
    if (buf[s + i] === 45) {
      dash = i;
      break;
    }
  }
  if (dash === -1) {
    if (!parseU64(buf, s, n)) return false;
    parsed.seqGiven = false;
    idSet(r, U64.hi, U64.lo, maxSeq ? MAX : 0, maxSeq ? MAX : 0);
    return true;
  }
  if (!parseU64(buf, s, dash)) return false;
  const msHi = U64.hi;
  const msLo = U64.lo;
  if (allowAuto && n - dash - 1 === 1 && buf[s + dash + 1] === 42) {
    parsed.seqAuto = true;
    idSet(r, msHi, msLo, 0, 0);
    return true;
  }
  if (!parseU64(buf, s + dash + 1, n - dash - 1)) return false;
  idSet(r, msHi, msLo, U64.hi, U64.lo);
  return true;
}

const text = new Uint8Array(48);

/** Decimal digits of v (0 <= v < 1e8) into text at p, `width` digits zero-padded when width > 0; returns the end. */
function smallDigits(v: number, p: number, width: number): number {
  let n = width;
  if (n === 0) {
    n = 1;
    for (let t = v; t >= 10; t = (t / 10) | 0) n++;
  }
  for (let i = p + n - 1; i >= p; i--) {
    const q = (v / 10) | 0;
    text[i] = 48 + v - q * 10;
    v = q;
  }
  return p + n;
}

/** Decimal digits of a u64 (hi, lo) into text at p; returns the end. */
function u64Digits(hi: number, lo: number, p: number): number {
  if (hi < 0x200000) {
    // Below 2^53: two base-1e8 halves, so the digit loops run on small integers (one float division).
    const v = hi * TWO32 + lo;
    if (v < 1e8) return smallDigits(v, p, 0);
    const top = Math.floor(v / 1e8);
    const rest = v - top * 1e8;
    const e = top < 1e8 ? smallDigits(top, p, 0) : smallDigits(top % 1e8, smallDigits(Math.floor(top / 1e8), p, 0), 8);
    return smallDigits(rest, e, 8);
  }
  const str = ((BigInt(hi) << 32n) | BigInt(lo)).toString();
  for (let i = 0; i < str.length; i++) text[p + i] = str.charCodeAt(i);
  return p + str.length;
}

/** The ms part last formatted and its digits: ids of one stream mostly share it (XADD * within a millisecond). */
let msHi = -1;
let msLo = -1;
const msText = new Uint8Array(20);
let msLen = 0;

/** Writes register r as text `ms-seq` into the scratch buffer; returns its length (see idText). */
export function idFormat(r: number): number {
  const o = r << 2;
  const hi = ID[o]!;
  const lo = ID[o + 1]!;
  if (hi !== msHi || lo !== msLo) {
    msLen = u64Digits(hi, lo, 0);
    for (let i = 0; i < msLen; i++) msText[i] = text[i]!;
    msHi = hi;
    msLo = lo;
  } else for (let i = 0; i < msLen; i++) text[i] = msText[i]!;
  let p = msLen;
  text[p++] = 45;
  return u64Digits(ID[o + 2]!, ID[o + 3]!, p);
}

/** The scratch buffer idFormat wrote. */
export function idText(): Uint8Array {
  return text;
}

/** Replies register r as a bulk string. */
export function replyId(out: RespWriter, r: number): void {
  const n = idFormat(r);
  out.bulk(text, 0, n);
}

/** Register r as a JS string (rare paths: errors, INFO-like replies). */
export function idString(r: number): string {
  const n = idFormat(r);
  return String.fromCharCode(...text.subarray(0, n));
}
