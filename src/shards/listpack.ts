/**
 * Packed entry block ("listpack"): one arena block holding a sequence of byte strings,
 * each as a 1/2/5-byte length header, the bytes, and a 1–5 byte back-length so the
 * block can be walked from either end. Small hashes, sets and sorted sets use one; a
 * quicklist chains them (the prev/next words) for lists.
 *
 *   0 u8 0xFE    1 u24 gap    4 u32 count    8 u32 used bytes    12 u32 capacity    16 u32 prev
 *   20 u32 next  24… gap bytes, then the entries
 *
 * The gap lets pushes and pops at the front cost no memmove (lists' LPUSH/LPOP, ZPOPMIN):
 * copies within a SharedArrayBuffer are slow in V8 (~10 µs per 4 KiB with copyWithin).
 * Positions are offsets from the block start.
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

const MAX_GAP = 0xffffff;

function gapOf(u8: Uint8Array, p: number): number {
  return u8[p + 1]! | (u8[p + 2]! << 8) | (u8[p + 3]! << 16);
}

function setGap(u8: Uint8Array, p: number, g: number): void {
  u8[p + 1] = g & 0xff;
  u8[p + 2] = (g >>> 8) & 0xff;
  u8[p + 3] = g >>> 16;
}

/** Offset of the first entry. */
export function lpStart(m: Arena, p: number): number {
  return LP_FIRST + gapOf(m.u8, p);
}

let bufView: Buffer | null = null;
let bufFor: Uint8Array | null = null;

/** memmove within the arena: Buffer#copy beats TypedArray#copyWithin on shared memory. */
function move(m: Arena, dst: number, src: number, n: number): void {
  if (n <= 0 || dst === src) return;
  if (bufFor !== m.u8) {
    bufView = Buffer.from(m.sab, 0, m.u8.length);
    bufFor = m.u8;
  }
  bufView!.copy(bufView!, dst, src, src + n);
}

/** Allocates an empty block with room for `cap` bytes of entries. */
export function lpNew(m: Arena, cap: number): number {
  const size = m.blockSize(LP_FIRST + cap);
  const p = m.alloc(size);
  m.u8[p] = INTERNAL_MARK;
  setGap(m.u8, p, 0);
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
  return LP_FIRST + gapOf(m.u8, p) + m.u32[(p + 8) >>> 2]!;
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

/**
 * Moves the entries into a bigger block with room for `need` bytes in all; the free space
 * goes before the entries when `front`. Returns the new block.
 */
function regrow(m: Arena, p: number, need: number, front: boolean): number {
  const cap = m.u32[(p + 12) >>> 2]!;
  const used = m.u32[(p + 8) >>> 2]!;
  let want = Math.max(need, Math.min(cap * 2, need + 8192));
  // Doubling would skip past 8 KiB, the size of a full list node: stop there unless needed.
  if (need + LP_FIRST <= 8192 && want + LP_FIRST > 8192) want = 8192 - LP_FIRST;
  const q = lpNew(m, want);
  const gap = front ? Math.min(MAX_GAP, m.u32[(q + 12) >>> 2]! - used) : 0;
  const u8 = m.u8;
  setGap(u8, q, gap);
  m.u32[(q + 4) >>> 2] = m.u32[(p + 4) >>> 2]!;
  m.u32[(q + 8) >>> 2] = used;
  m.u32[(q + 16) >>> 2] = m.u32[(p + 16) >>> 2]!;
  m.u32[(q + 20) >>> 2] = m.u32[(p + 20) >>> 2]!;
  move(m, q + LP_FIRST + gap, p + LP_FIRST + gapOf(u8, p), used);
  m.free(p, LP_FIRST + cap);
  return q;
}

/** Moves the entries inside the block so that all free space is before (front) or after them. */
function recenter(m: Arena, p: number, front: boolean): void {
  const u8 = m.u8;
  const gap = gapOf(u8, p);
  const used = m.u32[(p + 8) >>> 2]!;
  const ng = front ? Math.min(MAX_GAP, m.u32[(p + 12) >>> 2]! - used) : 0;
  move(m, p + LP_FIRST + ng, p + LP_FIRST + gap, used);
  setGap(u8, p, ng);
}

/**
 * Inserts an entry at offset `off` (an entry boundary, or lpEnd to append). Returns the
 * block's address, which changes when it had to grow.
 */
export function lpInsert(m: Arena, p: number, off: number, src: Uint8Array, s: number, n: number): number {
  const sz = entrySize(n);
  let gap = gapOf(m.u8, p);
  const used = m.u32[(p + 8) >>> 2]!;
  const cap = m.u32[(p + 12) >>> 2]!;
  const rel = off - LP_FIRST - gap;
  if (rel === 0 && used > 0) {
    if (gap < sz) {
      if (cap - used >= sz) recenter(m, p, true);
      else p = regrow(m, p, used + sz, true);
      gap = gapOf(m.u8, p);
    }
    gap -= sz;
    setGap(m.u8, p, gap);
    writeEntry(m.u8, p + LP_FIRST + gap, src, s, n);
  } else {
    if (cap - gap - used < sz) {
      if (cap - used >= sz) recenter(m, p, false);
      else p = regrow(m, p, used + sz, false);
      gap = gapOf(m.u8, p);
    }
    const at = p + LP_FIRST + gap + rel;
    const end = p + LP_FIRST + gap + used;
    if (at < end) move(m, at + sz, at, end - at);
    writeEntry(m.u8, at, src, s, n);
  }
  m.u32[(p + 4) >>> 2]!++;
  m.u32[(p + 8) >>> 2]! += sz;
  return p;
}

/** Deletes `k` entries starting at offset `off`; entries after them keep their place relative to the first. */
export function lpDelete(m: Arena, p: number, off: number, k: number): void {
  const u8 = m.u8;
  let e = p + off;
  for (let i = 0; i < k; i++) e = lpDecode(u8, e);
  const gap = gapOf(u8, p);
  const removed = e - (p + off);
  const count = m.u32[(p + 4) >>> 2]! - k;
  const used = m.u32[(p + 8) >>> 2]! - removed;
  if (count === 0) setGap(u8, p, 0);
  else if (off === LP_FIRST + gap && gap + removed <= MAX_GAP) setGap(u8, p, gap + removed);
  else move(m, p + off, e, p + LP_FIRST + gap + used + removed - e);
  m.u32[(p + 4) >>> 2] = count;
  m.u32[(p + 8) >>> 2] = used;
}

/** Replaces the entry at `off` with new bytes; returns the (possibly moved) block. */
export function lpReplace(m: Arena, p: number, off: number, src: Uint8Array, s: number, n: number): number {
  const u8 = m.u8;
  const next = lpDecode(u8, p + off);
  if (next - (p + off) === entrySize(n)) {
    writeEntry(u8, p + off, src, s, n);
    return p;
  }
  const rel = off - lpStart(m, p);
  lpDelete(m, p, off, 1);
  return lpInsert(m, p, lpStart(m, p) + rel, src, s, n);
}

/** Address after the entry at absolute address `a` (its header decoded locally: no ES/EN writes). */
function skipEntry(u8: Uint8Array, a: number): number {
  const b = u8[a]!;
  if (b < 0x80) return a + 1 + b + (b < 0x7f ? 1 : 2);
  let h: number;
  let n: number;
  if (b < 0xc0) {
    h = 2;
    n = ((b & 0x3f) << 8) | u8[a + 1]!;
  } else {
    h = 5;
    n = (u8[a + 1]! | (u8[a + 2]! << 8) | (u8[a + 3]! << 16)) + u8[a + 4]! * 0x1000000;
  }
  return a + h + n + backlenSize(h + n);
}

/** Finds an entry equal to the bytes, stepping `stride` entries (2 for pairs); its offset or -1. */
export function lpFind(m: Arena, p: number, src: Uint8Array, s: number, n: number, stride: number): number {
  const u8 = m.u8;
  let a = p + LP_FIRST + gapOf(u8, p);
  const end = a + m.u32[(p + 8) >>> 2]!;
  // Short needles (nearly all members and fields) have a 1-byte header equal to their length.
  const short = n < 0x80;
  while (a < end) {
    const b = u8[a]!;
    if (short) {
      if (b === n) {
        let j = 0;
        while (j < n && u8[a + 1 + j] === src[s + j]) j++;
        if (j === n) return a - p;
      }
    } else {
      lpDecode(u8, a);
      if (EN === n) {
        let j = 0;
        while (j < n && u8[ES + j] === src[s + j]) j++;
        if (j === n) return a - p;
      }
    }
    a = skipEntry(u8, a);
    if (stride === 2) a = skipEntry(u8, a);
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
