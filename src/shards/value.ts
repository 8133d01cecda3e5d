/**
 * The value bytes of a collection record: an encoding byte and the u32 address of its
 * structure (a listpack, or a quicklist/table/skiplist header), 5 bytes, unaligned (the
 * key before it has any length). Also frees, copies and encoding names per type.
 */
import type { Arena } from './arena.js';
import type { Store } from './store.js';
import type { Ctx } from './context.js';
import {
  E_INVALID_CURSOR,
  E_COUNT_LONG_RANGE,
  E_LIMIT_NEGATIVE,
  E_OUT_OF_RANGE,
  noInputKeys,
  E_NOT_INT,
  E_NUMKEYS_NOT_POSITIVE,
  E_NUMKEYS_OVER_ARGS,
  E_SYNTAX,
  E_WRONGTYPE,
  wrongArityError,
} from '../wire/error-text.js';
import { globMatch } from '../wire/bytes.js';
import { F_EXT, T_LIST, T_SET, T_STRING, extHandle, freeRecord, newRecord, recType, recValOff } from './record.js';
import { ES, EN, LP_FIRST, lpCount, lpDecode, lpEnd, lpFree, lpNew, lpStart, lpUsed } from './listpack.js';
import { qlFree, qlHead, qlNew, nodeNext as qlNodeNext } from './quicklist.js';
import { FT_HEADER, entKey, entKeyLen, ftCap, ftCount, ftFreeSlots, ftInit, ftInsert, ftSlot } from './field-table.js';
import { streamCopy, streamFree } from './stream.js';
import { zslFirst, zslFree, zslInsert, zslNew, nodeMember, nodeMemberLen, nodeNext, nodeScore } from './skiplist.js';

export const ENC_QUICKLIST = 1;
export const ENC_LISTPACK = 2;
export const ENC_HT = 3;
export const ENC_INTSET = 4;
export const ENC_SKIPLIST = 5;
export const ENC_STREAM = 6;
/** Value bytes of a collection record. */
export const VAL_LEN = 5;

const ENC_NAMES = ['', 'quicklist', 'listpack', 'hashtable', 'intset', 'skiplist', 'stream'];

/** Encoding byte of a collection record. */
export function valEnc(m: Arena, a: number): number {
  return m.u8[recValOff(m, a)]!;
}

/** Structure address of a collection record. */
export function valPtr(m: Arena, a: number): number {
  const v = recValOff(m, a) + 1;
  const u8 = m.u8;
  return (u8[v]! | (u8[v + 1]! << 8) | (u8[v + 2]! << 16)) + u8[v + 3]! * 0x1000000;
}

/** Sets the encoding and structure address. */
export function setVal(m: Arena, a: number, enc: number, ptr: number): void {
  const v = recValOff(m, a);
  const u8 = m.u8;
  u8[v] = enc;
  u8[v + 1] = ptr & 0xff;
  u8[v + 2] = (ptr >>> 8) & 0xff;
  u8[v + 3] = (ptr >>> 16) & 0xff;
  u8[v + 4] = ptr >>> 24;
}

/** Updates the structure address only (after a realloc moved it). */
export function setPtr(m: Arena, a: number, ptr: number): void {
  setVal(m, a, valEnc(m, a), ptr);
}

/** Creates a collection key right after a lookup of it returned 0; returns the record. */
export function createCollection(
  store: Store,
  db: number,
  buf: Uint8Array,
  s: number,
  n: number,
  type: number,
  enc: number,
  ptr: number,
): number {
  const m = store.arena;
  const a = newRecord(m, type, buf, s, n, VAL_LEN, 0, store.lruClock);
  setVal(m, a, enc, ptr);
  store.insertNew(db, a);
  return a;
}

/** A new empty structure for a type's compact encoding. */
export function newCompact(m: Arena, type: number): number {
  return type === T_LIST ? qlNew(m) : lpNew(m, 64);
}

/** Bytes of a hash or set table entry. */
export function entSize(m: Arena, e: number): number {
  const ko = m.u8[e + 2]! | (m.u8[e + 3]! << 8);
  return ko + entKeyLen(m, e) + (ko === 16 ? m.u32[(e + 12) >>> 2]! : 0);
}

/** Frees a hash/set table with its entries. */
function freeTable(m: Arena, h: number): void {
  const cap = ftCap(m, h);
  for (let i = 0; i < cap; i++) {
    const e = ftSlot(m, h, i);
    if (e !== 0) m.free(e, entSize(m, e));
  }
  ftFreeSlots(m, h);
  m.free(h, FT_HEADER);
}

/** Frees a record's collection structure, or an external string's buffer (other strings live in the record). */
export function freeValue(m: Arena, a: number): void {
  if (recType(m, a) === T_STRING) {
    if ((m.u8[a + 1]! & F_EXT) !== 0) m.freeExt(extHandle(m, a));
    return;
  }
  const enc = valEnc(m, a);
  const p = valPtr(m, a);
  if (enc === ENC_QUICKLIST) qlFree(m, p);
  else if (enc === ENC_LISTPACK || enc === ENC_INTSET) lpFree(m, p);
  else if (enc === ENC_HT) freeTable(m, p);
  else if (enc === ENC_SKIPLIST) zslFree(m, p);
  else if (enc === ENC_STREAM) streamFree(m, p);
}

/** OBJECT ENCODING name of a collection record. */
export function encodingName(m: Arena, a: number): string {
  return ENC_NAMES[valEnc(m, a)]!;
}

/** Deep copy of a record's structure; returns the new structure's address (same encoding). */
export function copyValue(m: Arena, a: number): number {
  const enc = valEnc(m, a);
  const p = valPtr(m, a);
  if (enc === ENC_STREAM) return streamCopy(m, p);
  if (enc === ENC_LISTPACK || enc === ENC_INTSET) {
    const used = lpUsed(m, p);
    const q = lpNew(m, used);
    m.u32[(q + 4) >>> 2] = lpCount(m, p);
    m.u32[(q + 8) >>> 2] = used;
    const from = p + lpStart(m, p);
    m.u8.copyWithin(q + LP_FIRST, from, from + used);
    return q;
  }
  if (enc === ENC_QUICKLIST) {
    const q = qlNew(m);
    let prev = 0;
    for (let n = qlHead(m, p); n !== 0; n = qlNodeNext(m, n)) {
      const used = lpUsed(m, n);
      const c = lpNew(m, used);
      m.u32[(c + 4) >>> 2] = lpCount(m, n);
      m.u32[(c + 8) >>> 2] = used;
      const from = n + lpStart(m, n);
      m.u8.copyWithin(c + LP_FIRST, from, from + used);
      m.u32[(c + 16) >>> 2] = prev;
      if (prev !== 0) m.u32[(prev + 20) >>> 2] = c;
      else m.u32[(q + 4) >>> 2] = c;
      prev = c;
      m.u32[(q + 16) >>> 2]!++;
    }
    m.u32[(q + 8) >>> 2] = prev;
    m.u32[(q + 12) >>> 2] = m.u32[(p + 12) >>> 2]!;
    return q;
  }
  if (enc === ENC_HT) {
    const h = m.alloc(FT_HEADER);
    ftInit(m, h, ftCount(m, p));
    const cap = ftCap(m, p);
    for (let i = 0; i < cap; i++) {
      const e = ftSlot(m, p, i);
      if (e === 0) continue;
      const size = entSize(m, e);
      const d = m.alloc(size);
      m.u8.copyWithin(d, e, e + size);
      ftInsert(m, h, d);
    }
    return h;
  }
  const z = zslNew(m, ftCount(m, p));
  for (let e = zslFirst(m, p); e !== 0; e = nodeNext(m, e)) {
    zslInsert(m, z, nodeScore(m, e), m.u8, nodeMember(m, e), nodeMemberLen(m, e), m.u32[(e + 4) >>> 2]!);
  }
  return z;
}

/**
 * Looks up key argument `i` expecting `type`: the record, 0 when absent, or -1 after
 * replying WRONGTYPE. `read` counts a hit/miss and touches the LRU clock.
 */
export function lookupTyped(c: Ctx, i: number, type: number, read: boolean): number {
  const a = read ? c.lookupRead(i) : c.lookup(i);
  if (a !== 0 && recType(c.store.arena, a) !== type) {
    c.out.error(E_WRONGTYPE);
    return -1;
  }
  return a;
}

/** Deletes key argument `i` (its collection became empty). */
export function deleteKey(c: Ctx, i: number): void {
  c.store.del(c.db, c.buf, c.as[i]!, c.al[i]!);
}

let scratch = new Uint8Array(1024);

/** Copies arena bytes out (they may move during the next insert); returns the scratch buffer. */
export function copyOut(m: Arena, s: number, n: number, at = 0): Uint8Array {
  if (scratch.length < at + n) {
    const b = new Uint8Array(Math.max(at + n, scratch.length * 2));
    b.set(scratch.subarray(0, at));
    scratch = b;
  }
  scratch.set(m.u8.subarray(s, s + n), at);
  return scratch;
}

/** Options of the last parseScanArgs: COUNT and the MATCH pattern's argument (-1 for none). */
export const scanOpts = { cursor: 0, count: 10, pattern: -1 };

/** Parses `cursor [MATCH p] [COUNT n]` starting at argument `from`; false after replying an error. */
export function parseScanArgs(c: Ctx, from: number): boolean {
  const cur = c.i64(from);
  if (cur === null || typeof cur === 'bigint' || cur < 0) {
    c.out.error(E_INVALID_CURSOR);
    return false;
  }
  scanOpts.cursor = cur;
  scanOpts.count = 10;
  scanOpts.pattern = -1;
  for (let i = from + 1; i < c.argc; i++) {
    const more = i + 1 < c.argc;
    if (more && c.is(i, 'COUNT')) {
      const n = c.int(++i);
      if (n === null) {
        c.out.error(E_NOT_INT);
        return false;
      }
      if (n < 1) {
        c.out.error(E_SYNTAX);
        return false;
      }
      scanOpts.count = n;
    } else if (more && c.is(i, 'MATCH')) {
      scanOpts.pattern = ++i;
    } else {
      c.out.error(E_SYNTAX);
      return false;
    }
  }
  return true;
}

/** Whether arena bytes match the parsed MATCH pattern (true without one). */
export function scanMatches(c: Ctx, u8: Uint8Array, s: number, n: number): boolean {
  const p = scanOpts.pattern;
  return p === -1 || globMatch(c.buf, c.as[p]!, c.al[p]!, u8, s, n);
}

/** "ERR wrong number of arguments for '<cmd>' command". */
export function wrongArgs(c: Ctx): void {
  c.out.error(wrongArityError(c.name));
}

const spanS: number[] = [];
const spanN: number[] = [];

/**
 * Serializes a collection's elements for __dump: u32 count, then u32 length + bytes each.
 * Hashes give field, value pairs; sorted sets member, 8-byte score pairs.
 */
export function serializeElements(m: Arena, a: number): Uint8Array {
  spanS.length = 0;
  spanN.length = 0;
  const enc = valEnc(m, a);
  const p = valPtr(m, a);
  const u8 = m.u8;
  const addEntries = (node: number): void => {
    for (let x = node + lpStart(m, node), end = node + lpEnd(m, node); x < end; ) {
      x = lpDecode(u8, x);
      spanS.push(ES);
      spanN.push(EN);
    }
  };
  if (enc === ENC_LISTPACK || enc === ENC_INTSET) addEntries(p);
  else if (enc === ENC_QUICKLIST) for (let n = qlHead(m, p); n !== 0; n = qlNodeNext(m, n)) addEntries(n);
  else if (enc === ENC_HT) {
    const cap = ftCap(m, p);
    for (let i = 0; i < cap; i++) {
      const e = ftSlot(m, p, i);
      if (e === 0) continue;
      const k = entKey(m, e);
      const kn = entKeyLen(m, e);
      spanS.push(k);
      spanN.push(kn);
      if (recType(m, a) !== T_SET) {
        spanS.push(k + kn);
        spanN.push(m.u32[(e + 12) >>> 2]!);
      }
    }
  } else {
    for (let e = zslFirst(m, p); e !== 0; e = nodeNext(m, e)) {
      spanS.push(nodeMember(m, e));
      spanN.push(nodeMemberLen(m, e));
      spanS.push(e + 16);
      spanN.push(8);
    }
  }
  let size = 4;
  for (const n of spanN) size += 4 + n;
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, spanS.length, true);
  let o = 4;
  for (let i = 0; i < spanS.length; i++) {
    const n = spanN[i]!;
    dv.setUint32(o, n, true);
    out.set(u8.subarray(spanS[i]!, spanS[i]! + n), o + 4);
    o += 4 + n;
  }
  return out;
}

/**
 * SINTERCARD/ZINTERCARD arguments: `numkeys key… [LIMIT n]`. Returns the limit (0 = none), or
 * -1 after replying Redis's error. ZINTERCARD (`zset`) checks numkeys as ZUNION does.
 */
export function parseIntercardArgs(c: Ctx, zset = false): number {
  let nk: number;
  if (zset) {
    const v = c.int(1);
    if (v === null || v <= 0) {
      c.out.error(v === null ? E_NOT_INT : noInputKeys('zintercard'));
      return -1;
    }
    nk = v;
  } else nk = parseNumkeys(c, 1);
  if (nk < 0) return -1;
  if (nk > c.argc - 2) {
    c.out.error(E_NUMKEYS_OVER_ARGS);
    return -1;
  }
  let limit = 0;
  for (let i = 2 + nk; i < c.argc; i++) {
    if (c.is(i, 'LIMIT') && i + 1 < c.argc) {
      const l = c.int(++i);
      if (l === null || l < 0) {
        c.out.error(E_LIMIT_NEGATIVE);
        return -1;
      }
      limit = l;
    } else {
      c.out.error(E_SYNTAX);
      return -1;
    }
  }
  return limit;
}

/** A `numkeys` argument (at index `i`): a positive integer, or -1 after replying Redis's error (the same for a non-number). */
export function parseNumkeys(c: Ctx, i: number): number {
  const nk = c.int(i);
  if (nk === null || nk <= 0) {
    c.out.error(E_NUMKEYS_NOT_POSITIVE);
    return -1;
  }
  return nk;
}

const LONG_MIN = -(2n ** 63n);
const HALF_LONG_MAX = 2n ** 62n - 1n;

/**
 * SRANDMEMBER/HRANDFIELD/ZRANDMEMBER's count at argument `i`: Redis takes -LONG_MAX..LONG_MAX, and
 * ±LONG_MAX/2 when `pairs` (WITHVALUES/WITHSCORES). A count past the safe integers becomes the largest
 * safe one with its sign. Returns null after replying the error.
 */
export function parseRandomCount(c: Ctx, i: number, pairs: boolean): number | null {
  const v = c.i64(i);
  if (v === null) {
    c.out.error(E_NOT_INT);
    return null;
  }
  if (v === LONG_MIN) {
    c.out.error(E_COUNT_LONG_RANGE);
    return null;
  }
  if (typeof v === 'number') return v;
  if (pairs && (v > HALF_LONG_MAX || v < -HALF_LONG_MAX)) {
    c.out.error(E_OUT_OF_RANGE);
    return null;
  }
  return v > 0n ? Number.MAX_SAFE_INTEGER : -Number.MAX_SAFE_INTEGER;
}

/** An unnamed collection record outside the keyspace, in its compact encoding `enc`, for building a STORE result. */
export function tempCollection(m: Arena, type: number, enc: number): number {
  const a = newRecord(m, type, m.u8, 0, 0, VAL_LEN, 0, 0);
  setVal(m, a, enc, newCompact(m, type));
  return a;
}

/** Stores temp collection `t` as key argument `i` (replacing it), or deletes the key when `empty`; frees the temp record. */
export function storeTempCollection(c: Ctx, i: number, t: number, empty: boolean): void {
  const m = c.store.arena;
  const old = c.lookup(i);
  if (old !== 0) c.store.removeFound(c.db, old);
  if (empty) {
    freeValue(m, t);
    freeRecord(m, t);
    return;
  }
  c.lookup(i);
  createCollection(c.store, c.db, c.buf, c.as[i]!, c.al[i]!, recType(m, t), valEnc(m, t), valPtr(m, t));
  freeRecord(m, t);
}
