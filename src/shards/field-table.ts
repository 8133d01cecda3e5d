/**
 * Arena hash table for big hashes, sets and sorted sets: linear probing over a u32 slot
 * array of entry addresses, backward-shift deletion (no tombstones), so each home bucket's
 * entries stay contiguous and SCAN can walk buckets in Redis's reverse-binary order.
 *
 * Resizing is incremental, like Redis's dict: a new slot array takes inserts while each
 * operation moves a few old slots, so no command pays for the whole table (a one-shot
 * resize of a 1.5M-entry table paused ~100 ms). While rehashing, the old array answers
 * finds; deletes there leave a tombstone; its slots below the rehash index are empty
 * and probes skip them. Full iterations (ftCap) finish the rehash first: they are O(n)
 * anyway.
 *
 * A slot holds an entry's address plus, in its 3 low bits (entries are 8-byte aligned), the
 * top 3 bits of the entry's hash: a probe passes over most other entries without reading
 * them, a cache miss each in a big table. 0 is an empty slot and 1 a tombstone (no entry
 * lies below address 8).
 *
 * Table header (aligned, FT_HEADER bytes at the start of the owner's header block):
 *   0 u8 0xFE   4 u32 count   8 u32 capacity (power of two)   12 u32 slots block
 *   16 u32 old slots block (0 when not rehashing)   20 u32 old capacity   24 u32 rehash index
 * Entry (any arena block whose first 12 bytes follow this layout):
 *   0 u8 0xFE    1 u8 level (sorted sets)    2 u16 key offset    4 u32 hash    8 u32 key length
 * Set entries put the member at 12; hash entries a u32 value length at 12, the field at 16
 * and the value after it; sorted-set entries are skiplist nodes (see skiplist.ts).
 */
import type { Arena } from './arena.js';
import { hashBytes } from './key-table.js';
import { INTERNAL_MARK } from './listpack.js';

/** Bytes of the table header. */
export const FT_HEADER = 28;
const SLOTS_AT = 8;
const MIN_CAP = 8;
const TOMB = 1;
/** Slot bits holding the hash tag. */
const TAG = 7;

/** Hash tag stored beside an entry's address. */
function tagOf(hv: number): number {
  return hv >>> 29;
}
/** Old slots moved per insert or delete while rehashing. */
const STEP = 16;

/** Slot index of the last successful find, and whether it was in the old array. */
let foundSlot = -1;
let foundOld = false;

/** Initializes a table header at `h` with room for about `n` entries. */
export function ftInit(m: Arena, h: number, n: number): void {
  let cap = MIN_CAP;
  while (cap * 3 < n * 4) cap *= 2;
  m.u8[h] = INTERNAL_MARK;
  const w = h >>> 2;
  m.u32[w + 1] = 0;
  m.u32[w + 2] = cap;
  m.u32[w + 3] = newSlots(m, cap);
  m.u32[w + 4] = 0;
  m.u32[w + 5] = 0;
  m.u32[w + 6] = 0;
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

/** Capacity, for iterating every slot with ftSlot: finishes any rehash first. */
export function ftCap(m: Arena, h: number): number {
  while (m.u32[(h + 16) >>> 2] !== 0) rehashStep(m, h, 1 << 16);
  return m.u32[(h + 8) >>> 2]!;
}

/** Entry address in slot `i` (after ftCap), or 0. */
export function ftSlot(m: Arena, h: number, i: number): number {
  const v = m.u32[((m.u32[(h + 12) >>> 2]! + SLOTS_AT) >>> 2) + i]!;
  return v - (v & TAG);
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

function matches(m: Arena, e: number, buf: Uint8Array, s: number, n: number, hv: number): boolean {
  const u32 = m.u32;
  if (u32[(e + 4) >>> 2] !== hv || u32[(e + 8) >>> 2] !== n) return false;
  const u8 = m.u8;
  const k = e + (u8[e + 2]! | (u8[e + 3]! << 8));
  let j = 0;
  while (j < n && u8[k + j] === buf[s + j]) j++;
  return j === n;
}

/** Finds the entry whose key equals the bytes (hash `hv`); 0 when absent. */
export function ftFind(m: Arena, h: number, buf: Uint8Array, s: number, n: number, hv: number): number {
  const u32 = m.u32;
  const mask = u32[(h + 8) >>> 2]! - 1;
  const base = (u32[(h + 12) >>> 2]! + SLOTS_AT) >>> 2;
  const tag = tagOf(hv);
  let i = hv & mask;
  for (;;) {
    const v = u32[base + i]!;
    if (v === 0) break;
    if ((v & TAG) === tag && matches(m, v - tag, buf, s, n, hv)) {
      foundSlot = i;
      foundOld = false;
      return v - tag;
    }
    i = (i + 1) & mask;
  }
  const old = u32[(h + 16) >>> 2]!;
  if (old === 0) return 0;
  const ocap = u32[(h + 20) >>> 2]!;
  const idx = u32[(h + 24) >>> 2]!;
  const obase = (old + SLOTS_AT) >>> 2;
  i = hv & (ocap - 1);
  // Slots below the rehash index are empty: start at it, wrap back to it, stop at the first 0.
  for (let steps = ocap - idx; steps > 0; steps--) {
    if (i < idx) i = idx;
    const v = u32[obase + i]!;
    if (v === 0) return 0;
    if (v !== TOMB && (v & TAG) === tag && matches(m, v - tag, buf, s, n, hv)) {
      foundSlot = i;
      foundOld = true;
      return v - tag;
    }
    i = (i + 1) & (ocap - 1);
  }
  return 0;
}

/** Hash of key bytes (the same function as the keyspace). */
export function ftHash(buf: Uint8Array, s: number, n: number): number {
  return hashBytes(buf, s, n);
}

function place(m: Arena, h: number, e: number): void {
  const u32 = m.u32;
  const mask = u32[(h + 8) >>> 2]! - 1;
  const base = (u32[(h + 12) >>> 2]! + SLOTS_AT) >>> 2;
  const hv = u32[(e + 4) >>> 2]!;
  let i = hv & mask;
  while (u32[base + i] !== 0) i = (i + 1) & mask;
  u32[base + i] = e + tagOf(hv);
}

/** Starts moving the entries into a new slot array of `cap` slots. */
function startRehash(m: Arena, h: number, cap: number): void {
  const w = h >>> 2;
  m.u32[w + 4] = m.u32[w + 3]!;
  m.u32[w + 5] = m.u32[w + 2]!;
  m.u32[w + 6] = 0;
  const s = newSlots(m, cap);
  m.u32[w + 2] = cap;
  m.u32[w + 3] = s;
  rehashStep(m, h, STEP);
}

/** Moves up to `n` old slots into the new array; frees the old one when done. */
function rehashStep(m: Arena, h: number, n: number): void {
  const w = h >>> 2;
  const old = m.u32[w + 4]!;
  if (old === 0) return;
  const ocap = m.u32[w + 5]!;
  const obase = (old + SLOTS_AT) >>> 2;
  let i = m.u32[w + 6]!;
  const end = Math.min(ocap, i + n);
  for (; i < end; i++) {
    const v = m.u32[obase + i]!;
    if (v > TOMB) place(m, h, v - (v & TAG));
    m.u32[obase + i] = 0;
  }
  m.u32[w + 6] = i;
  if (i >= ocap) {
    m.free(old, SLOTS_AT + ocap * 4);
    m.u32[w + 4] = 0;
    m.u32[w + 5] = 0;
    m.u32[w + 6] = 0;
  }
}

/** Inserts an entry known to be absent (its hash already written). */
export function ftInsert(m: Arena, h: number, e: number): void {
  const count = m.u32[(h + 4) >>> 2]! + 1;
  m.u32[(h + 4) >>> 2] = count;
  if (m.u32[(h + 16) >>> 2] !== 0) rehashStep(m, h, STEP);
  else if (count * 4 > m.u32[(h + 8) >>> 2]! * 3) startRehash(m, h, m.u32[(h + 8) >>> 2]! * 2);
  place(m, h, e);
}

/** Points the slot of the last find at a moved entry (no insert or delete since that find). */
export function ftReplaceFound(m: Arena, h: number, e: number): void {
  const arr = m.u32[(h + (foundOld ? 16 : 12)) >>> 2]!;
  m.u32[((arr + SLOTS_AT) >>> 2) + foundSlot] = e + tagOf(m.u32[(e + 4) >>> 2]!);
}

/** Removes the entry of the last find (the caller frees it). */
export function ftRemoveFound(m: Arena, h: number): void {
  const u32 = m.u32;
  const count = u32[(h + 4) >>> 2]! - 1;
  u32[(h + 4) >>> 2] = count;
  if (foundOld) {
    u32[((u32[(h + 16) >>> 2]! + SLOTS_AT) >>> 2) + foundSlot] = TOMB;
  } else {
    // Backward-shift: pull later cluster members into the hole unless their home lies in (i, j].
    const mask = u32[(h + 8) >>> 2]! - 1;
    const base = (u32[(h + 12) >>> 2]! + SLOTS_AT) >>> 2;
    let i = foundSlot;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      const e = u32[base + j]!;
      if (e === 0) break;
      const home = u32[(e - (e & TAG) + 4) >>> 2]! & mask;
      const inRange = i <= j ? home > i && home <= j : home > i || home <= j;
      if (!inRange) {
        u32[base + i] = e;
        i = j;
      }
    }
    u32[base + i] = 0;
  }
  const cap = u32[(h + 8) >>> 2]!;
  if (u32[(h + 16) >>> 2] !== 0) rehashStep(m, h, STEP);
  else if (cap > MIN_CAP && count * 8 < cap) startRehash(m, h, cap / 2);
}

/** Removes a given entry (re-finding its slot). */
export function ftRemove(m: Arena, h: number, e: number): void {
  ftFind(m, h, m.u8, entKey(m, e), entKeyLen(m, e), m.u32[(e + 4) >>> 2]!);
  ftRemoveFound(m, h);
}

/** A random entry, or 0 when empty. */
export function ftRandom(m: Arena, h: number): number {
  if (ftCount(m, h) === 0) return 0;
  const u32 = m.u32;
  for (;;) {
    const old = u32[(h + 16) >>> 2]!;
    const useOld = old !== 0 && Math.random() < 0.5;
    const arr = useOld ? old : u32[(h + 12) >>> 2]!;
    const cap = u32[(h + (useOld ? 20 : 8)) >>> 2]!;
    const v = u32[((arr + SLOTS_AT) >>> 2) + Math.floor(Math.random() * cap)]!;
    if (v > TOMB) return v - (v & TAG);
  }
}

function rev32(v: number): number {
  v = ((v >>> 1) & 0x55555555) | ((v & 0x55555555) << 1);
  v = ((v >>> 2) & 0x33333333) | ((v & 0x33333333) << 2);
  v = ((v >>> 4) & 0x0f0f0f0f) | ((v & 0x0f0f0f0f) << 4);
  v = ((v >>> 8) & 0x00ff00ff) | ((v & 0x00ff00ff) << 8);
  return ((v >>> 16) | (v << 16)) >>> 0;
}

function nextCursor(v: number, mask: number): number {
  v = (v | ~mask) >>> 0;
  return rev32((rev32(v) + 1) >>> 0);
}

/** Pushes the entries of home bucket `b` of one slot array into `into`; returns how many. */
function emitBucket(m: Arena, arr: number, cap: number, from: number, b: number, into: number[]): number {
  const u32 = m.u32;
  const mask = cap - 1;
  const base = (arr + SLOTS_AT) >>> 2;
  let n = 0;
  let i = b;
  for (let steps = cap; steps > 0; steps--) {
    if (i < from) i = from;
    const v = u32[base + i]!;
    if (v === 0) break;
    const e = v - (v & TAG);
    if (v !== TOMB && (u32[(e + 4) >>> 2]! & mask) === b) {
      into.push(e);
      n++;
    }
    i = (i + 1) & mask;
  }
  return n;
}

/**
 * One SCAN step: pushes the entries of home buckets from `cursor` on into `into` until
 * about `count` were collected; returns the next cursor (0 = done). While rehashing, each
 * bucket of the smaller array is visited with all its expansions in the larger one.
 */
export function ftScan(m: Arena, h: number, cursor: number, count: number, into: number[]): number {
  const u32 = m.u32;
  let v = cursor >>> 0;
  let got = 0;
  do {
    const old = u32[(h + 16) >>> 2]!;
    const cur = u32[(h + 12) >>> 2]!;
    const cap = u32[(h + 8) >>> 2]!;
    if (old === 0) {
      got += emitBucket(m, cur, cap, 0, v & (cap - 1), into);
      v = nextCursor(v, cap - 1);
      continue;
    }
    const ocap = u32[(h + 20) >>> 2]!;
    const idx = u32[(h + 24) >>> 2]!;
    const smallIsOld = ocap < cap;
    const sArr = smallIsOld ? old : cur;
    const sCap = smallIsOld ? ocap : cap;
    const lArr = smallIsOld ? cur : old;
    const lCap = smallIsOld ? cap : ocap;
    const m0 = sCap - 1;
    const m1 = lCap - 1;
    got += emitBucket(m, sArr, sCap, smallIsOld ? idx : 0, v & m0, into);
    do {
      got += emitBucket(m, lArr, lCap, smallIsOld ? 0 : idx, v & m1, into);
      v = nextCursor(v, m1);
    } while ((v & (m0 ^ m1)) !== 0);
  } while (v !== 0 && got < count);
  return v;
}

/** Frees the slot arrays (entries are freed by the owner). */
export function ftFreeSlots(m: Arena, h: number): void {
  const old = m.u32[(h + 16) >>> 2]!;
  if (old !== 0) m.free(old, SLOTS_AT + m.u32[(h + 20) >>> 2]! * 4);
  m.free(m.u32[(h + 12) >>> 2]!, SLOTS_AT + m.u32[(h + 8) >>> 2]! * 4);
}
