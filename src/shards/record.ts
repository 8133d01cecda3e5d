/**
 * Layout of a key's record in the arena: a 16-byte header, an optional expiry, the key
 * bytes, then the value bytes (a string's bytes, or a type's own structure).
 *
 *   0  u8  type            4  u32 lru clock (seconds)     12 u32 value length
 *   1  u8  flags           8  u32 key length              16 f64 expire-at ms (if F_TTL)
 *   2  u16 lfu counter
 *
 * A string of EXT_MIN bytes or more lives outside the arena (F_EXT): its value bytes are the
 * u32 handle of its own buffer (Arena.ext), so deleting it gives the memory back to the OS,
 * which a block of the arena's one growable SharedArrayBuffer never does.
 */
import type { Arena } from './arena.js';
import { copyBytes } from '../wire/bytes.js';

export const T_STRING = 0;
export const T_LIST = 1;
export const T_SET = 2;
export const T_ZSET = 3;
export const T_HASH = 4;
export const T_STREAM = 5;

/** The record has an expire-at time after the header. */
export const F_TTL = 1;
/** A string whose bytes live in their own buffer (Arena.ext) rather than in the record. */
export const F_EXT = 2;
/** Strings this long or longer live outside the arena. */
export const EXT_MIN = 64 * 1024;

export const HEADER = 16;

/** Type byte. */
export function recType(m: Arena, a: number): number {
  return m.u8[a]!;
}

/** Flags byte. */
export function recFlags(m: Arena, a: number): number {
  return m.u8[a + 1]!;
}

/** Key length. */
export function recKeyLen(m: Arena, a: number): number {
  return m.u32[(a + 8) >>> 2]!;
}

/** Value length. */
export function recValLen(m: Arena, a: number): number {
  return m.u32[(a + 12) >>> 2]!;
}

/** Offset of the key bytes. */
export function recKeyOff(m: Arena, a: number): number {
  return a + HEADER + ((m.u8[a + 1]! & F_TTL) << 3);
}

/** Offset of the value bytes. */
export function recValOff(m: Arena, a: number): number {
  return recKeyOff(m, a) + m.u32[(a + 8) >>> 2]!;
}

/** Expire-at in ms since the epoch, or 0 when the key is persistent. */
export function recExpire(m: Arena, a: number): number {
  return (m.u8[a + 1]! & F_TTL) !== 0 ? m.f64[(a + HEADER) >>> 3]! : 0;
}

/** Total bytes a record with these sizes occupies (what alloc was asked for). */
export function recordSize(keyLen: number, valLen: number, hasTtl: boolean): number {
  return HEADER + (hasTtl ? 8 : 0) + keyLen + valLen;
}

/** Value bytes a record holds in the arena (the handle's 4 for an external string). */
export function recValBytes(m: Arena, a: number): number {
  return (m.u8[a + 1]! & F_EXT) === 0 ? recValLen(m, a) : 4;
}

/** Size of an existing record. */
export function recSize(m: Arena, a: number): number {
  return recordSize(recKeyLen(m, a), recValBytes(m, a), (m.u8[a + 1]! & F_TTL) !== 0);
}

/** Handle of an external string's buffer. */
export function extHandle(m: Arena, a: number): number {
  const v = recValOff(m, a);
  const u8 = m.u8;
  return (u8[v]! | (u8[v + 1]! << 8) | (u8[v + 2]! << 16)) + u8[v + 3]! * 0x1000000;
}

/** The buffer holding a string record's bytes: the arena's, or the string's own (read from strOff). */
export function strBuf(m: Arena, a: number): Uint8Array {
  return (m.u8[a + 1]! & F_EXT) === 0 ? m.u8 : m.ext[extHandle(m, a)]!;
}

/** Offset of a string record's bytes in strBuf. */
export function strOff(m: Arena, a: number): number {
  return (m.u8[a + 1]! & F_EXT) === 0 ? recValOff(m, a) : 0;
}

/**
 * Allocates a string record of `valLen` bytes (outside the arena from EXT_MIN on) with its key;
 * the caller writes the bytes at strOff in strBuf.
 */
export function newString(
  m: Arena,
  keyBuf: Uint8Array,
  keyStart: number,
  keyLen: number,
  valLen: number,
  expireAt: number,
  lruClock: number,
): number {
  if (valLen < EXT_MIN) return newRecord(m, T_STRING, keyBuf, keyStart, keyLen, valLen, expireAt, lruClock);
  const a = newRecord(m, T_STRING, keyBuf, keyStart, keyLen, 4, expireAt, lruClock);
  setExt(m, a, m.allocExt(valLen), valLen);
  return a;
}

/** Makes `a` (allocated with 4 value bytes) an external string of `len` bytes held by `handle`. */
export function setExt(m: Arena, a: number, handle: number, len: number): void {
  m.u8[a + 1] = m.u8[a + 1]! | F_EXT;
  m.u32[(a + 12) >>> 2] = len;
  const v = recValOff(m, a);
  m.u8[v] = handle & 0xff;
  m.u8[v + 1] = (handle >>> 8) & 0xff;
  m.u8[v + 2] = (handle >>> 16) & 0xff;
  m.u8[v + 3] = handle >>> 24;
}

/** Allocates a record and writes its header, expiry and key; the caller fills the value. */
export function newRecord(
  m: Arena,
  type: number,
  keyBuf: Uint8Array,
  keyStart: number,
  keyLen: number,
  valLen: number,
  expireAt: number,
  lruClock: number,
): number {
  const ttl = expireAt > 0;
  const a = m.alloc(recordSize(keyLen, valLen, ttl));
  const u8 = m.u8;
  u8[a] = type;
  u8[a + 1] = ttl ? F_TTL : 0;
  u8[a + 2] = 0;
  u8[a + 3] = 0;
  m.u32[(a + 4) >>> 2] = lruClock;
  m.u32[(a + 8) >>> 2] = keyLen;
  m.u32[(a + 12) >>> 2] = valLen;
  let p = a + HEADER;
  if (ttl) {
    m.f64[p >>> 3] = expireAt;
    p += 8;
  }
  copyBytes(u8, p, keyBuf, keyStart, keyLen);
  return a;
}

/** Frees a record's block (not its value: see freeValue, which also frees an external string). */
export function freeRecord(m: Arena, a: number): void {
  m.free(a, recSize(m, a));
}
