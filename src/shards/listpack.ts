/**
 * Packed entry block ("listpack"): one arena block holding a sequence of byte strings,
 * each as a 1/2/5-byte length header, the bytes, and a 1–5 byte back-length so the
 * block can be walked from either end. Small hashes, sets and sorted sets use one; a
 * quicklist chains them (the prev/next words) for lists.
 *
 *   0 u8 0xFE    4 u32 count    8 u32 used bytes    12 u32 capacity    16 u32 prev    20 u32 next
 *   24… entries
 *
 * Positions are offsets from the block start, so they survive a realloc that moves it.
 */
import type { Arena } from './arena.js';

/** Marks internal blocks so the timer wheel never takes them for records. */
export const INTERNAL_MARK = 0xfe;
/** Offset of the first entry. */
export const LP_FIRST = 24;

/** Data start of the entry decoded last (absolute address). */
export let ES = 0;
/** Data length of the entry decoded last. */
export let EN = 0;

/** Allocates an empty block with room for `cap` bytes of entries. */
export function lpNew(m: Arena, cap: number): number {
  const size = m.blockSize(LP_FIRST + cap);
  const p = m.alloc(size);
  m.u8[p] = INTERNAL_MARK;
  const w = p >>> 2;
  m.u32[w + 1] = 0;
  m.u32[w + 2] = 0;
  m.u32[w + 3] = size - LP_FIRST;
  m.u32[w + 4] = 0;
  m.u32[w + 5] = 0;
  return p;
}

/** Frees a block. */
export function lpFree(m: Arena, p: number): void {
  m.free(p, LP_FIRST + m.u32[(p + 12) >>> 2]!);
}

/** Number of entries. */
export function lpCount(m: Arena, p: number): number {
  return m.u32[(p + 4) >>> 2]!;
}

/** Bytes of entries in use. */
export function lpUsed(m: Arena, p: number): number {
  return m.u32[(p + 8) >>> 2]!;
}

/** Offset just past the last entry. */
export function lpEnd(m: Arena, p: number): number {
  return LP_FIRST + m.u32[(p + 8) >>> 2]!;
}

function backlenSize(t: number): number {
  return t < 0x80 ? 1 : t < 0x4000 ? 2 : t < 0x200000 ? 3 : t < 0x10000000 ? 4 : 5;
}

/** Bytes an entry of `n` data bytes occupies. */
export function entrySize(n: number): number {
  const h = n < 0x80 ? 1 : n < 0x4000 ? 2 : 5;
  return h + n + backlenSize(h + n);
}

/** Decodes the entry at absolute address `a` into ES/EN; returns the next entry's address. */
export function lpDecode(u8: Uint8Array, a: number): number {
  const b = u8[a]!;
  if (b < 0x80) {
    ES = a + 1;
    EN = b;
  } else if (b < 0xc0) {
    ES = a + 2;
    EN = ((b & 0x3f) << 8) | u8[a + 1]!;
  } else {
    ES = a + 5;
    EN = (u8[a + 1]! | (u8[a + 2]! << 8) | (u8[a + 3]! << 16)) + u8[a + 4]! * 0x1000000;
  }
  return ES + EN + backlenSize(ES - a + EN);
}

/** Address of the entry before the one starting at absolute address `a`. */
export function lpPrev(u8: Uint8Array, a: number): number {
  let t = 0;
  let mul = 1;
  let p = a;
  for (;;) {
    const b = u8[--p]!;
    t += (b & 0x7f) * mul;
    mul *= 128;
    if ((b & 0x80) === 0) break;
  }
  return p - t;
}

/** Writes an entry at absolute address `a`; returns the address after it. */
function writeEntry(u8: Uint8Array, a: number, src: Uint8Array, s: number, n: number): number {
  let h: number;
  if (n < 0x80) {
    u8[a] = n;
    h = 1;
  } else if (n < 0x4000) {
    u8[a] = 0x80 | (n >>> 8);
    u8[a + 1] = n & 0xff;
    h = 2;
  } else {
    u8[a] = 0xc0;
    u8[a + 1] = n & 0xff;
    u8[a + 2] = (n >>> 8) & 0xff;
    u8[a + 3] = (n >>> 16) & 0xff;
    u8[a + 4] = (n >>> 24) & 0xff;
    h = 5;
  }
  if (n < 48) for (let i = 0; i < n; i++) u8[a + h + i] = src[s + i]!;
  else u8.set(src.subarray(s, s + n), a + h);
  let p = a + h + n;
  // Back-length: 7-bit groups, most significant first; every byte but the first has bit 7 set.
  let t = h + n;
  const k = backlenSize(t);
  for (let i = k - 1; i >= 0; i--) {
    u8[p + i] = (t & 0x7f) | (i === 0 ? 0 : 0x80);
    t = Math.floor(t / 128);
  }
  p += k;
  return p;
}

/** Makes room for `extra` more bytes, moving the block if needed; returns its address. */
export function lpReserve(m: Arena, p: number, extra: number): number {
  const cap = m.u32[(p + 12) >>> 2]!;
  const used = m.u32[(p + 8) >>> 2]!;
  if (used + extra <= cap) return p;
  const need = used + extra;
  let want = Math.max(need, Math.min(cap * 2, need + 8192));
  // Doubling would skip past 8 KiB, the size of a full list node: stop there unless needed.
  if (need + LP_FIRST <= 8192 && want + LP_FIRST > 8192) want = 8192 - LP_FIRST;
  const q = lpNew(m, want);
  const u8 = m.u8;
  u8.copyWithin(q + 4, p + 4, p + 12);
  u8.copyWithin(q + 16, p + 16, p + LP_FIRST + used);
  m.free(p, LP_FIRST + cap);
  return q;
}

/**
 * Inserts an entry at offset `off` (an entry boundary, or lpEnd to append). Returns the
 * block's address, which changes when it had to grow.
 */
export function lpInsert(m: Arena, p: number, off: number, src: Uint8Array, s: number, n: number): number {
  const sz = entrySize(n);
  p = lpReserve(m, p, sz);
  const u8 = m.u8;
  const end = p + LP_FIRST + m.u32[(p + 8) >>> 2]!;
  if (p + off < end) u8.copyWithin(p + off + sz, p + off, end);
  writeEntry(u8, p + off, src, s, n);
  m.u32[(p + 4) >>> 2]!++;
  m.u32[(p + 8) >>> 2]! += sz;
  return p;
}

/** Deletes `k` entries starting at offset `off`. */
export function lpDelete(m: Arena, p: number, off: number, k: number): void {
  const u8 = m.u8;
  let e = p + off;
  for (let i = 0; i < k; i++) e = lpDecode(u8, e);
  const end = p + LP_FIRST + m.u32[(p + 8) >>> 2]!;
  u8.copyWithin(p + off, e, end);
  m.u32[(p + 4) >>> 2]! -= k;
  m.u32[(p + 8) >>> 2]! -= e - (p + off);
}

/** Replaces the entry at `off` with new bytes; returns the (possibly moved) block. */
export function lpReplace(m: Arena, p: number, off: number, src: Uint8Array, s: number, n: number): number {
  const u8 = m.u8;
  const next = lpDecode(u8, p + off);
  if (next - (p + off) === entrySize(n)) {
    writeEntry(u8, p + off, src, s, n);
    return p;
  }
  lpDelete(m, p, off, 1);
  return lpInsert(m, p, off, src, s, n);
}

/** Finds an entry equal to the bytes, stepping `stride` entries (2 for pairs); its offset or -1. */
export function lpFind(m: Arena, p: number, src: Uint8Array, s: number, n: number, stride: number): number {
  const u8 = m.u8;
  let a = p + LP_FIRST;
  const end = p + LP_FIRST + m.u32[(p + 8) >>> 2]!;
  while (a < end) {
    const next = lpDecode(u8, a);
    if (EN === n) {
      let j = 0;
      while (j < n && u8[ES + j] === src[s + j]) j++;
      if (j === n) return a - p;
    }
    a = stride === 2 ? lpDecode(u8, next) : next;
  }
  return -1;
}

const F64 = new Float64Array(1);
const F64B = new Uint8Array(F64.buffer);

/** The f64 stored as 8 raw bytes at an unaligned address (scores in a packed sorted set). */
export function readF64(u8: Uint8Array, a: number): number {
  for (let i = 0; i < 8; i++) F64B[i] = u8[a + i]!;
  return F64[0]!;
}

/** 8 bytes holding `d`, to store as an entry. */
export function f64Bytes(d: number): Uint8Array {
  F64[0] = d;
  return F64B;
}
