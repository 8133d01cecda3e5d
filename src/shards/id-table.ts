/**
 * An ordered table of fixed-size records keyed by a stream id (the record's first 16 bytes),
 * in the arena: a sorted array of chunk addresses, each chunk a sorted run of up to CHUNK
 * records (a two-level B+tree). Streams index their nodes with it; consumer groups keep
 * their pending-entry lists in it. Appends at the end fill the last chunk and start a new one;
 * inserts elsewhere split a full chunk in two.
 *
 * Header:  0 u8 mark  4 u32 record size  8 u32 chunks  12 u32 chunk array  16 u32 array capacity  20 u32 records
 * Chunk:   0 u8 mark  4 u32 records  8 u32 capacity (records)  12 pad  16… records
 *
 * A position is chunk index × 128 + record index; it stays valid until the table changes.
 */
import type { Arena } from './arena.js';
import { INTERNAL_MARK } from './listpack.js';
import { ID, idCmpMem } from './stream-id.js';

const HDR = 24;
const CH = 16;
/** Most records in a chunk. */
const CHUNK = 64;

/** A new empty table of `recSize`-byte records (a multiple of 8, at least 16). */
export function tNew(m: Arena, recSize: number): number {
  const t = m.alloc(HDR);
  const w = t >>> 2;
  m.u8[t] = INTERNAL_MARK;
  m.u32[w + 1] = recSize;
  m.u32[w + 2] = 0;
  m.u32[w + 3] = 0;
  m.u32[w + 4] = 0;
  m.u32[w + 5] = 0;
  return t;
}

/** Number of records. */
export function tCount(m: Arena, t: number): number {
  return m.u32[(t + 20) >>> 2]!;
}

function chunkAt(m: Arena, t: number, ci: number): number {
  return m.u32[(m.u32[(t + 12) >>> 2]! >>> 2) + ci]!;
}

/** Frees the table and its chunks. */
export function tFree(m: Arena, t: number): void {
  const rs = m.u32[(t + 4) >>> 2]!;
  const n = m.u32[(t + 8) >>> 2]!;
  for (let i = 0; i < n; i++) {
    const c = chunkAt(m, t, i);
    m.free(c, CH + m.u32[(c + 8) >>> 2]! * rs);
  }
  const arr = m.u32[(t + 12) >>> 2]!;
  if (arr !== 0) m.free(arr, m.u32[(t + 16) >>> 2]! * 4);
  m.free(t, HDR);
}

/** Bytes the table occupies in the arena. */
export function tBytes(m: Arena, t: number): number {
  const rs = m.u32[(t + 4) >>> 2]!;
  const n = m.u32[(t + 8) >>> 2]!;
  let b = m.blockSize(HDR) + (n > 0 ? m.blockSize(m.u32[(t + 16) >>> 2]! * 4) : 0);
  for (let i = 0; i < n; i++) b += m.blockSize(CH + m.u32[(chunkAt(m, t, i) + 8) >>> 2]! * rs);
  return b;
}

/** Address of the record at position `pos`. */
export function tRec(m: Arena, t: number, pos: number): number {
  const c = chunkAt(m, t, pos >>> 7);
  return c + CH + (pos & 127) * m.u32[(t + 4) >>> 2]!;
}

/** Position of the first record, or -1. */
export function tFirst(m: Arena, t: number): number {
  return m.u32[(t + 8) >>> 2] === 0 ? -1 : 0;
}

/** Position of the last record, or -1. */
export function tLast(m: Arena, t: number): number {
  const n = m.u32[(t + 8) >>> 2]!;
  if (n === 0) return -1;
  return ((n - 1) << 7) | (m.u32[(chunkAt(m, t, n - 1) + 4) >>> 2]! - 1);
}

/** Position after `pos`, or -1. */
export function tNext(m: Arena, t: number, pos: number): number {
  const ci = pos >>> 7;
  const ri = (pos & 127) + 1;
  if (ri < m.u32[(chunkAt(m, t, ci) + 4) >>> 2]!) return (ci << 7) | ri;
  return ci + 1 < m.u32[(t + 8) >>> 2]! ? (ci + 1) << 7 : -1;
}

/** Position before `pos`, or -1. */
export function tPrev(m: Arena, t: number, pos: number): number {
  const ci = pos >>> 7;
  const ri = pos & 127;
  if (ri > 0) return (ci << 7) | (ri - 1);
  if (ci === 0) return -1;
  return ((ci - 1) << 7) | (m.u32[(chunkAt(m, t, ci - 1) + 4) >>> 2]! - 1);
}

/** Index of the last chunk whose first record is <= register r (0 when r is below them all). */
function chunkFor(m: Arena, t: number, r: number): number {
  const n = m.u32[(t + 8) >>> 2]!;
  const arr = m.u32[(t + 12) >>> 2]! >>> 2;
  const u32 = m.u32;
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (idCmpMem(r, u32, (u32[arr + mid]! + CH) >>> 2) >= 0) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Index of the first record in chunk c that is >= register r (its count when none). */
function lowerBound(m: Arena, c: number, rs: number, r: number): number {
  const u32 = m.u32;
  let lo = 0;
  let hi = u32[(c + 4) >>> 2]!;
  const base = (c + CH) >>> 2;
  const step = rs >>> 2;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (idCmpMem(r, u32, base + mid * step) > 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Position of the first record >= register r, or -1. */
export function tSeekGE(m: Arena, t: number, r: number): number {
  const n = m.u32[(t + 8) >>> 2]!;
  if (n === 0) return -1;
  const ci = chunkFor(m, t, r);
  const c = chunkAt(m, t, ci);
  const i = lowerBound(m, c, m.u32[(t + 4) >>> 2]!, r);
  if (i < m.u32[(c + 4) >>> 2]!) return (ci << 7) | i;
  return ci + 1 < n ? (ci + 1) << 7 : -1;
}

/** Position of the last record <= register r, or -1. */
export function tSeekLE(m: Arena, t: number, r: number): number {
  const n = m.u32[(t + 8) >>> 2]!;
  if (n === 0) return -1;
  const ci = chunkFor(m, t, r);
  const c = chunkAt(m, t, ci);
  const rs = m.u32[(t + 4) >>> 2]!;
  const i = lowerBound(m, c, rs, r);
  if (i < m.u32[(c + 4) >>> 2]! && idCmpMem(r, m.u32, (c + CH + i * rs) >>> 2) === 0) return (ci << 7) | i;
  if (i > 0) return (ci << 7) | (i - 1);
  return -1;
}

/** Address of the record keyed by register r, or 0. */
export function tFind(m: Arena, t: number, r: number): number {
  const p = tSeekGE(m, t, r);
  if (p < 0) return 0;
  const a = tRec(m, t, p);
  return idCmpMem(r, m.u32, a >>> 2) === 0 ? a : 0;
}

/** Inserts chunk address `c` at index `ci` of the chunk array. */
function insertChunk(m: Arena, t: number, ci: number, c: number): void {
  const n = m.u32[(t + 8) >>> 2]!;
  let cap = m.u32[(t + 16) >>> 2]!;
  let arr = m.u32[(t + 12) >>> 2]!;
  if (n === cap) {
    const ncap = cap === 0 ? 2 : cap * 2;
    const na = m.alloc(ncap * 4);
    if (arr !== 0) {
      m.u8.copyWithin(na, arr, arr + n * 4);
      m.free(arr, cap * 4);
    }
    arr = na;
    cap = ncap;
    m.u32[(t + 12) >>> 2] = arr;
    m.u32[(t + 16) >>> 2] = cap;
  }
  const w = arr >>> 2;
  m.u32.copyWithin(w + ci + 1, w + ci, w + n);
  m.u32[w + ci] = c;
  m.u32[(t + 8) >>> 2] = n + 1;
}

function newChunk(m: Arena, cap: number, rs: number): number {
  const c = m.alloc(CH + cap * rs);
  m.u8[c] = INTERNAL_MARK;
  m.u32[(c + 4) >>> 2] = 0;
  m.u32[(c + 8) >>> 2] = cap;
  return c;
}

/**
 * Inserts a record keyed by register r (absent from the table); returns its address, the key
 * written and the other bytes zeroed.
 */
export function tInsert(m: Arena, t: number, r: number): number {
  const rs = m.u32[(t + 4) >>> 2]!;
  let n = m.u32[(t + 8) >>> 2]!;
  if (n === 0) {
    insertChunk(m, t, 0, newChunk(m, 2, rs));
    n = 1;
  }
  let ci = chunkFor(m, t, r);
  let c = chunkAt(m, t, ci);
  let cnt = m.u32[(c + 4) >>> 2]!;
  let i = lowerBound(m, c, rs, r);
  const cap = m.u32[(c + 8) >>> 2]!;
  if (cnt === cap) {
    if (cap < CHUNK) {
      const nc = newChunk(m, Math.min(CHUNK, cap * 2), rs);
      m.u8.copyWithin(nc + CH, c + CH, c + CH + cnt * rs);
      m.u32[(nc + 4) >>> 2] = cnt;
      m.free(c, CH + cap * rs);
      m.u32[(m.u32[(t + 12) >>> 2]! >>> 2) + ci] = nc;
      c = nc;
    } else if (i === cnt && ci === n - 1) {
      // Appending past a full last chunk: start a new one, leaving this one full.
      c = newChunk(m, 4, rs);
      insertChunk(m, t, ++ci, c);
      cnt = 0;
      i = 0;
    } else {
      const half = cnt >>> 1;
      const nc = newChunk(m, CHUNK, rs);
      m.u8.copyWithin(nc + CH, c + CH + half * rs, c + CH + cnt * rs);
      m.u32[(nc + 4) >>> 2] = cnt - half;
      m.u32[(c + 4) >>> 2] = half;
      insertChunk(m, t, ci + 1, nc);
      if (i > half) {
        c = nc;
        i -= half;
        ci++;
      }
      cnt = m.u32[(c + 4) >>> 2]!;
    }
  }
  const at = c + CH + i * rs;
  const u8 = m.u8;
  u8.copyWithin(at + rs, at, c + CH + cnt * rs);
  u8.fill(0, at, at + rs);
  const src = (r << 2) >>> 0;
  const w = at >>> 2;
  const u32 = m.u32;
  u32[w] = ID[src]!;
  u32[w + 1] = ID[src + 1]!;
  u32[w + 2] = ID[src + 2]!;
  u32[w + 3] = ID[src + 3]!;
  m.u32[(c + 4) >>> 2] = cnt + 1;
  m.u32[(t + 20) >>> 2]!++;
  return at;
}

/** Removes the record at position `pos`. */
export function tDeleteAt(m: Arena, t: number, pos: number): void {
  const rs = m.u32[(t + 4) >>> 2]!;
  const ci = pos >>> 7;
  const i = pos & 127;
  const c = chunkAt(m, t, ci);
  const cnt = m.u32[(c + 4) >>> 2]! - 1;
  m.u32[(t + 20) >>> 2]!--;
  if (cnt === 0) {
    m.free(c, CH + m.u32[(c + 8) >>> 2]! * rs);
    const n = m.u32[(t + 8) >>> 2]! - 1;
    const w = m.u32[(t + 12) >>> 2]! >>> 2;
    m.u32.copyWithin(w + ci, w + ci + 1, w + n + 1);
    m.u32[(t + 8) >>> 2] = n;
    return;
  }
  const at = c + CH + i * rs;
  m.u8.copyWithin(at, at + rs, c + CH + (cnt + 1) * rs);
  m.u32[(c + 4) >>> 2] = cnt;
}

/** Removes the record keyed by register r; false when absent. */
export function tDelete(m: Arena, t: number, r: number): boolean {
  const p = tSeekGE(m, t, r);
  if (p < 0 || idCmpMem(r, m.u32, tRec(m, t, p) >>> 2) !== 0) return false;
  tDeleteAt(m, t, p);
  return true;
}

/** After tDeleteAt(pos): the position of the record that followed the deleted one, or -1. */
export function tAfterDelete(m: Arena, t: number, pos: number): number {
  const n = m.u32[(t + 8) >>> 2]!;
  const ci = pos >>> 7;
  if (ci >= n) return -1;
  if ((pos & 127) < m.u32[(chunkAt(m, t, ci) + 4) >>> 2]!) return pos;
  return ci + 1 < n ? (ci + 1) << 7 : -1;
}
