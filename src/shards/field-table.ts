/**
 * Arena hash table for big hashes, sets and sorted sets: linear probing over a u32 slot
 * array of entry addresses, backward-shift deletion (no tombstones), so each home bucket's
 * entries stay contiguous and SCAN can walk buckets in Redis's reverse-binary order.
 *
 * Table header (aligned, first 16 bytes of the owner's header block):
 *   0 u8 0xFE    4 u32 count    8 u32 capacity (power of two)    12 u32 slots block
 * Entry (any arena block whose first 12 bytes follow this layout):
 *   0 u8 0xFE    1 u8 level (sorted sets)    2 u16 key offset    4 u32 hash    8 u32 key length
 * Set entries put the member at 12; hash entries a u32 value length at 12, the field at 16
 * and the value after it; sorted-set entries are skiplist nodes (see skiplist.ts).
 */
import type { Arena } from './arena.js';
import { hashBytes } from './key-table.js';
import { INTERNAL_MARK } from './listpack.js';

const SLOTS_AT = 8;
const MIN_CAP = 8;

/** Slot index of the last successful find. */
let foundSlot = -1;

/** Initializes a table header at `h` with room for about `n` entries. */
export function ftInit(m: Arena, h: number, n: number): void {
  let cap = MIN_CAP;
  while (cap * 3 < n * 4) cap *= 2;
  m.u8[h] = INTERNAL_MARK;
  m.u32[(h + 4) >>> 2] = 0;
  m.u32[(h + 8) >>> 2] = cap;
  m.u32[(h + 12) >>> 2] = newSlots(m, cap);
}

function newSlots(m: Arena, cap: number): number {
  const s = m.alloc(SLOTS_AT + cap * 4);
  m.u8[s] = INTERNAL_MARK;
  m.u32.fill(0, (s + SLOTS_AT) >>> 2, ((s + SLOTS_AT) >>> 2) + cap);
  return s;
}

/** Number of entries. */
export function ftCount(m: Arena, h: number): number {
  return m.u32[(h + 4) >>> 2]!;
}

/** Capacity (slots). */
export function ftCap(m: Arena, h: number): number {
  return m.u32[(h + 8) >>> 2]!;
}

/** Entry address in slot `i`, or 0. */
export function ftSlot(m: Arena, h: number, i: number): number {
  return m.u32[((m.u32[(h + 12) >>> 2]! + SLOTS_AT) >>> 2) + i]!;
}

/** Absolute address of an entry's key bytes. */
export function entKey(m: Arena, e: number): number {
  return e + (m.u8[e + 2]! | (m.u8[e + 3]! << 8));
}

/** Key length of an entry. */
export function entKeyLen(m: Arena, e: number): number {
  return m.u32[(e + 8) >>> 2]!;
}

/** Writes the common entry header. */
export function entHeader(m: Arena, e: number, keyOff: number, h: number, n: number): void {
  m.u8[e] = INTERNAL_MARK;
  m.u8[e + 2] = keyOff & 0xff;
  m.u8[e + 3] = keyOff >>> 8;
  m.u32[(e + 4) >>> 2] = h;
  m.u32[(e + 8) >>> 2] = n;
}

/** Finds the entry whose key equals the bytes (hash `hv`); 0 when absent. */
export function ftFind(m: Arena, h: number, buf: Uint8Array, s: number, n: number, hv: number): number {
  const u32 = m.u32;
  const u8 = m.u8;
  const mask = u32[(h + 8) >>> 2]! - 1;
  const base = (u32[(h + 12) >>> 2]! + SLOTS_AT) >>> 2;
  let i = hv & mask;
  for (;;) {
    const e = u32[base + i]!;
    if (e === 0) return 0;
    if (u32[(e + 4) >>> 2] === hv && u32[(e + 8) >>> 2] === n) {
      const k = e + (u8[e + 2]! | (u8[e + 3]! << 8));
      let j = 0;
      while (j < n && u8[k + j] === buf[s + j]) j++;
      if (j === n) {
        foundSlot = i;
        return e;
      }
    }
    i = (i + 1) & mask;
  }
}

/** Hash of key bytes (the same function as the keyspace). */
export function ftHash(buf: Uint8Array, s: number, n: number): number {
  return hashBytes(buf, s, n);
}

function place(m: Arena, h: number, e: number): void {
  const u32 = m.u32;
  const mask = u32[(h + 8) >>> 2]! - 1;
  const base = (u32[(h + 12) >>> 2]! + SLOTS_AT) >>> 2;
  let i = u32[(e + 4) >>> 2]! & mask;
  while (u32[base + i] !== 0) i = (i + 1) & mask;
  u32[base + i] = e;
}

function resize(m: Arena, h: number, cap: number): void {
  const oldCap = m.u32[(h + 8) >>> 2]!;
  const old = m.u32[(h + 12) >>> 2]!;
  const s = newSlots(m, cap);
  m.u32[(h + 8) >>> 2] = cap;
  m.u32[(h + 12) >>> 2] = s;
  const base = (old + SLOTS_AT) >>> 2;
  for (let i = 0; i < oldCap; i++) {
    const e = m.u32[base + i]!;
    if (e !== 0) place(m, h, e);
  }
  m.free(old, SLOTS_AT + oldCap * 4);
}

/** Inserts an entry known to be absent (its hash already written). */
export function ftInsert(m: Arena, h: number, e: number): void {
  const count = m.u32[(h + 4) >>> 2]! + 1;
  const cap = m.u32[(h + 8) >>> 2]!;
  if (count * 4 > cap * 3) resize(m, h, cap * 2);
  m.u32[(h + 4) >>> 2] = count;
  place(m, h, e);
}

/** Points the slot of the last find at a moved entry. */
export function ftReplaceFound(m: Arena, h: number, e: number): void {
  m.u32[((m.u32[(h + 12) >>> 2]! + SLOTS_AT) >>> 2) + foundSlot] = e;
}

/** Removes the entry of the last find (the caller frees it); backward-shift keeps clusters tight. */
export function ftRemoveFound(m: Arena, h: number): void {
  const u32 = m.u32;
  const cap = u32[(h + 8) >>> 2]!;
  const mask = cap - 1;
  const base = (u32[(h + 12) >>> 2]! + SLOTS_AT) >>> 2;
  let i = foundSlot;
  let j = i;
  for (;;) {
    j = (j + 1) & mask;
    const e = u32[base + j]!;
    if (e === 0) break;
    const home = u32[(e + 4) >>> 2]! & mask;
    // Move e back into the hole unless its home lies cyclically in (i, j].
    const inRange = i <= j ? home > i && home <= j : home > i || home <= j;
    if (!inRange) {
      u32[base + i] = e;
      i = j;
    }
  }
  u32[base + i] = 0;
  const count = u32[(h + 4) >>> 2]! - 1;
  u32[(h + 4) >>> 2] = count;
  if (cap > MIN_CAP && count * 8 < cap) resize(m, h, cap / 2);
}

/** Removes a given entry (re-finding its slot). */
export function ftRemove(m: Arena, h: number, e: number): void {
  ftFind(m, h, m.u8, entKey(m, e), entKeyLen(m, e), m.u32[(e + 4) >>> 2]!);
  ftRemoveFound(m, h);
}

/** A uniformly chosen entry (the table is at least 1/8 full), or 0 when empty. */
export function ftRandom(m: Arena, h: number): number {
  if (ftCount(m, h) === 0) return 0;
  const cap = ftCap(m, h);
  for (;;) {
    const e = ftSlot(m, h, Math.floor(Math.random() * cap));
    if (e !== 0) return e;
  }
}

function rev32(v: number): number {
  v = ((v >>> 1) & 0x55555555) | ((v & 0x55555555) << 1);
  v = ((v >>> 2) & 0x33333333) | ((v & 0x33333333) << 2);
  v = ((v >>> 4) & 0x0f0f0f0f) | ((v & 0x0f0f0f0f) << 4);
  v = ((v >>> 8) & 0x00ff00ff) | ((v & 0x00ff00ff) << 8);
  return ((v >>> 16) | (v << 16)) >>> 0;
}

/**
 * One SCAN step: pushes the entries of home buckets from `cursor` on into `into` until
 * about `count` were collected; returns the next cursor (0 = done).
 */
export function ftScan(m: Arena, h: number, cursor: number, count: number, into: number[]): number {
  const mask = ftCap(m, h) - 1;
  let v = cursor >>> 0;
  let got = 0;
  do {
    const b = v & mask;
    let i = b;
    for (;;) {
      const e = ftSlot(m, h, i);
      if (e === 0) break;
      if ((m.u32[(e + 4) >>> 2]! & mask) === b) {
        into.push(e);
        got++;
      }
      i = (i + 1) & mask;
      if (i === b) break;
    }
    v = (v | ~mask) >>> 0;
    v = rev32((rev32(v) + 1) >>> 0);
  } while (v !== 0 && got < count);
  return v;
}

/** Frees the slot array (entries are freed by the owner). */
export function ftFreeSlots(m: Arena, h: number): void {
  m.free(m.u32[(h + 12) >>> 2]!, SLOTS_AT + ftCap(m, h) * 4);
}
