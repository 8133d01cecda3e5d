/** Set commands (Redis's t_set.c): an intset (sorted integers in a listpack) or an arena field table. */
import type { Arena } from './arena.js';
import type { Ctx, Handler } from './context.js';
import { T_SET, freeRecord } from './record.js';
import { ES, EN, lpCount, lpStart, lpDecode, lpDelete, lpEnd, lpFind, lpFree, lpInsert } from './listpack.js';
import {
  FT_HEADER,
  entHeader,
  entKey,
  entKeyLen,
  ftCap,
  ftCount,
  ftFind,
  ftHash,
  ftInit,
  ftInsert,
  ftRandom,
  ftRemoveFound,
  ftScan,
  ftSlot,
} from './field-table.js';
import {
  ENC_HT,
  ENC_INTSET,
  copyOut,
  createCollection,
  deleteKey,
  entSize,
  freeValue,
  lookupTyped,
  newCompact,
  parseIntercardArgs,
  parseScanArgs,
  storeTempCollection,
  tempCollection,
  scanMatches,
  scanOpts,
  setPtr,
  setVal,
  valEnc,
  valPtr,
  parseRandomCount,
} from './value.js';
import { dtConfig } from './dt-config.js';
import { keyUnchanged, watchState } from './watch.js';
import { E_NOT_INT, E_NOT_POSITIVE, E_SYNTAX } from '../wire/error-text.js';
import { R_EMPTY_ARRAY } from '../wire/resp-writer.js';
import { copyBytes, parseI64 } from '../wire/bytes.js';

/** Cardinality of a set record. */
export function setLen(m: Arena, a: number): number {
  const p = valPtr(m, a);
  return valEnc(m, a) === ENC_INTSET ? lpCount(m, p) : ftCount(m, p);
}

/** Whether a set record holds the member. */
export function setHas(m: Arena, a: number, buf: Uint8Array, s: number, n: number): boolean {
  const p = valPtr(m, a);
  if (valEnc(m, a) === ENC_INTSET) return parseI64(buf, s, n) !== null && lpFind(m, p, buf, s, n, 1) >= 0;
  return ftFind(m, p, buf, s, n, ftHash(buf, s, n)) !== 0;
}

function addToTable(m: Arena, h: number, buf: Uint8Array, s: number, n: number, hv: number): void {
  const e = m.alloc(12 + n);
  entHeader(m, e, 12, hv, n);
  copyBytes(m.u8, e + 12, buf, s, n);
  ftInsert(m, h, e);
}

function toTable(m: Arena, a: number): void {
  const p = valPtr(m, a);
  const h = m.alloc(FT_HEADER);
  ftInit(m, h, lpCount(m, p) + 1);
  let x = p + lpStart(m, p);
  const end = p + lpEnd(m, p);
  while (x < end) {
    x = lpDecode(m.u8, x);
    addToTable(m, h, m.u8, ES, EN, ftHash(m.u8, ES, EN));
  }
  lpFree(m, p);
  setVal(m, a, ENC_HT, h);
}

/** Adds a member (bytes outside this set's own blocks); 1 when it was new. */
export function setAdd(m: Arena, a: number, buf: Uint8Array, s: number, n: number): number {
  if (valEnc(m, a) === ENC_INTSET) {
    const v = parseI64(buf, s, n);
    const p = valPtr(m, a);
    if (v !== null) {
      let x = p + lpStart(m, p);
      const end = p + lpEnd(m, p);
      while (x < end) {
        const nx = lpDecode(m.u8, x);
        const w = parseI64(m.u8, ES, EN)!;
        if (w === v) return 0;
        if (w > v) break;
        x = nx;
      }
      if (lpCount(m, p) < dtConfig.setMaxIntsetEntries) {
        const q = lpInsert(m, p, x - p, buf, s, n);
        if (q !== p) setPtr(m, a, q);
        return 1;
      }
    }
    toTable(m, a);
  }
  const h = valPtr(m, a);
  const hv = ftHash(buf, s, n);
  if (ftFind(m, h, buf, s, n, hv) !== 0) return 0;
  addToTable(m, h, buf, s, n, hv);
  return 1;
}

/** Removes a member; true when it was there. */
export function setRem(m: Arena, a: number, buf: Uint8Array, s: number, n: number): boolean {
  const p = valPtr(m, a);
  if (valEnc(m, a) === ENC_INTSET) {
    if (parseI64(buf, s, n) === null) return false;
    const off = lpFind(m, p, buf, s, n, 1);
    if (off < 0) return false;
    lpDelete(m, p, off, 1);
    return true;
  }
  const e = ftFind(m, p, buf, s, n, ftHash(buf, s, n));
  if (e === 0) return false;
  ftRemoveFound(m, p);
  m.free(e, entSize(m, e));
  return true;
}

/** Member iteration state: listpack address or table slot, and the current member (MS, MN). */
const it = { intset: false, p: 0, x: 0, end: 0 };
/** Current member of the iteration (arena address and length). */
export let MS = 0;
export let MN = 0;

/** Starts iterating a set record's members (one iteration at a time). */
export function iterInit(m: Arena, a: number): void {
  it.p = valPtr(m, a);
  it.intset = valEnc(m, a) === ENC_INTSET;
  it.x = it.intset ? it.p + lpStart(m, it.p) : 0;
  it.end = it.intset ? it.p + lpEnd(m, it.p) : ftCap(m, it.p);
}

/** Moves to the next member (MS/MN); false at the end. */
export function iterNext(m: Arena): boolean {
  if (it.intset) {
    if (it.x >= it.end) return false;
    it.x = lpDecode(m.u8, it.x);
    MS = ES;
    MN = EN;
    return true;
  }
  while (it.x < it.end) {
    const e = ftSlot(m, it.p, it.x++);
    if (e !== 0) {
      MS = entKey(m, e);
      MN = entKeyLen(m, e);
      return true;
    }
  }
  return false;
}

/** Picks a random member into MS/MN (the set is not empty). */
function randomMember(m: Arena, a: number): void {
  const p = valPtr(m, a);
  if (valEnc(m, a) === ENC_INTSET) {
    let k = Math.floor(Math.random() * lpCount(m, p));
    let x = p + lpStart(m, p);
    while (k-- > 0) x = lpDecode(m.u8, x);
    lpDecode(m.u8, x);
    MS = ES;
    MN = EN;
  } else {
    const e = ftRandom(m, p);
    MS = entKey(m, e);
    MN = entKeyLen(m, e);
  }
}

/** Creates an empty set for key argument `i` (after a lookup returned 0). */
export function createSet(c: Ctx, i: number): number {
  return createCollection(c.store, c.db, c.buf, c.as[i]!, c.al[i]!, T_SET, ENC_INTSET, newCompact(c.store.arena, T_SET));
}

/** An unnamed set record outside the keyspace, for building results. */
function tempSet(m: Arena): number {
  return tempCollection(m, T_SET, ENC_INTSET);
}

/** Stores a temp set as key argument `i` (replacing it), or deletes the key when empty; frees the temp record. */
function storeTemp(c: Ctx, i: number, t: number): void {
  storeTempCollection(c, i, t, setLen(c.store.arena, t) === 0);
}

const sadd: Handler = (c) => {
  let a = lookupTyped(c, 1, T_SET, false);
  if (a < 0) return;
  if (a === 0) a = createSet(c, 1);
  const m = c.store.arena;
  let n = 0;
  for (let i = 2; i < c.argc; i++) n += setAdd(m, a, c.buf, c.as[i]!, c.al[i]!);
  c.out.int(n);
};

const srem: Handler = (c) => {
  const a = lookupTyped(c, 1, T_SET, false);
  if (a <= 0) {
    if (a === 0) c.out.int(0);
    return;
  }
  const m = c.store.arena;
  let n = 0;
  for (let i = 2; i < c.argc; i++) {
    if (setRem(m, a, c.buf, c.as[i]!, c.al[i]!)) n++;
    if (setLen(m, a) === 0) {
      deleteKey(c, 1);
      break;
    }
  }
  c.out.int(n);
};

const sismember: Handler = (c) => {
  const a = lookupTyped(c, 1, T_SET, true);
  if (a < 0) return;
  c.out.int(a !== 0 && setHas(c.store.arena, a, c.buf, c.as[2]!, c.al[2]!) ? 1 : 0);
};

const smismember: Handler = (c) => {
  const a = lookupTyped(c, 1, T_SET, true);
  if (a < 0) return;
  c.out.arrayHeader(c.argc - 2);
  for (let i = 2; i < c.argc; i++) c.out.int(a !== 0 && setHas(c.store.arena, a, c.buf, c.as[i]!, c.al[i]!) ? 1 : 0);
};

const scard: Handler = (c) => {
  const a = lookupTyped(c, 1, T_SET, true);
  if (a < 0) return;
  c.out.int(a === 0 ? 0 : setLen(c.store.arena, a));
};

/** Replies every member of a set record as a RESP3 set. */
function replyMembers(c: Ctx, a: number): void {
  const m = c.store.arena;
  c.out.setHeader(setLen(m, a));
  iterInit(m, a);
  while (iterNext(m)) c.out.bulk(m.u8, MS, MN);
}

const smembers: Handler = (c) => {
  const a = lookupTyped(c, 1, T_SET, true);
  if (a < 0) return;
  if (a === 0) c.out.setHeader(0);
  else replyMembers(c, a);
};

const spop: Handler = (c) => {
  let count = -1;
  if (c.argc === 3) {
    const v = c.int(2);
    if (v === null || v < 0) {
      c.out.error(v === null ? E_NOT_INT : E_NOT_POSITIVE);
      return;
    }
    count = v;
  } else if (c.argc > 3) {
    c.out.error(E_SYNTAX);
    return;
  }
  const a = lookupTyped(c, 1, T_SET, false);
  if (a < 0) return;
  const m = c.store.arena;
  if (count < 0) {
    if (a === 0) {
      c.out.nullBulk();
      return;
    }
    randomMember(m, a);
    const b = copyOut(m, MS, MN);
    c.out.bulk(b, 0, MN);
    setRem(m, a, b, 0, MN);
    if (setLen(m, a) === 0) deleteKey(c, 1);
    return;
  }
  if (a === 0 || count === 0) {
    c.out.setHeader(0);
    return;
  }
  const len = setLen(m, a);
  if (count >= len) {
    replyMembers(c, a);
    deleteKey(c, 1);
    return;
  }
  c.out.setHeader(count);
  for (let i = 0; i < count; i++) {
    randomMember(m, a);
    const n = MN;
    const b = copyOut(m, MS, n);
    c.out.bulk(b, 0, n);
    setRem(m, a, b, 0, n);
  }
};

/** Member spans gathered before a reply whose length must come first. */
let colS: number[] = [];
let colN: number[] = [];

const srandmember: Handler = (c) => {
  let count = 0;
  if (c.argc === 3) {
    const v = parseRandomCount(c, 2, false);
    if (v === null) return;
    count = v;
  } else if (c.argc > 3) {
    c.out.error(E_SYNTAX);
    return;
  }
  const a = lookupTyped(c, 1, T_SET, true);
  if (a < 0) return;
  const m = c.store.arena;
  if (c.argc === 2) {
    if (a === 0) c.out.nullBulk();
    else {
      randomMember(m, a);
      c.out.bulk(m.u8, MS, MN);
    }
    return;
  }
  if (a === 0 || count === 0) {
    c.out.constant(R_EMPTY_ARRAY);
    return;
  }
  if (count < 0) {
    c.out.arrayHeader(-count);
    for (let i = 0; i < -count; i++) {
      randomMember(m, a);
      c.out.bulk(m.u8, MS, MN);
    }
    return;
  }
  const len = setLen(m, a);
  if (count >= len) {
    c.out.arrayHeader(len);
    iterInit(m, a);
    while (iterNext(m)) c.out.bulk(m.u8, MS, MN);
    return;
  }
  colS.length = 0;
  colN.length = 0;
  iterInit(m, a);
  if (count * 3 > len || valEnc(m, a) === ENC_INTSET) {
    while (iterNext(m)) {
      colS.push(MS);
      colN.push(MN);
    }
    c.out.arrayHeader(count);
    for (let i = 0; i < count; i++) {
      const j = i + Math.floor(Math.random() * (colS.length - i));
      const s = colS[j]!;
      const n = colN[j]!;
      colS[j] = colS[i]!;
      colN[j] = colN[i]!;
      c.out.bulk(m.u8, s, n);
    }
  } else {
    const seen = new Set<number>();
    c.out.arrayHeader(count);
    while (seen.size < count) {
      randomMember(m, a);
      if (seen.has(MS)) continue;
      seen.add(MS);
      c.out.bulk(m.u8, MS, MN);
    }
  }
};

const smove: Handler = (c) => {
  smoveState.added = true;
  const src = lookupTyped(c, 1, T_SET, false);
  if (src < 0) return;
  const dst = lookupTyped(c, 2, T_SET, false);
  if (dst < 0) return;
  const m = c.store.arena;
  const ms = c.as[3]!;
  const mn = c.al[3]!;
  if (src === 0 || !setHas(m, src, c.buf, ms, mn)) {
    c.out.int(0);
    return;
  }
  if (src === dst) {
    c.out.int(1);
    return;
  }
  setRem(m, src, c.buf, ms, mn);
  if (setLen(m, src) === 0) deleteKey(c, 1);
  let d = c.lookup(2);
  if (d === 0) d = createSet(c, 2);
  // As Redis: the destination counts as modified only when the member was new to it.
  smoveState.added = setAdd(m, d, c.buf, ms, mn) !== 0;
  if (!smoveState.added && watchState.keys !== 0) keyUnchanged(2);
  c.out.int(1);
};

/** Whether the last SMOVE added its member to the destination (its keyspace event depends on it). */
export const smoveState = { added: true };

/** Looks up set keys args[from..to) into `recs` (0 for missing); false after WRONGTYPE. */
const recs: number[] = [];
function lookupSets(c: Ctx, from: number, to: number): boolean {
  recs.length = 0;
  for (let i = from; i < to; i++) {
    const a = lookupTyped(c, i, T_SET, true);
    if (a < 0) return false;
    recs.push(a);
  }
  return true;
}

/** Intersection of `recs` into colS/colN, stopping after `limit` members (0 = all). */
function intersect(m: Arena, limit: number): void {
  colS.length = 0;
  colN.length = 0;
  let small = -1;
  for (let i = 0; i < recs.length; i++) {
    if (recs[i] === 0) return;
    if (small < 0 || setLen(m, recs[i]!) < setLen(m, recs[small]!)) small = i;
  }
  iterInit(m, recs[small]!);
  while (iterNext(m)) {
    let all = true;
    for (let i = 0; i < recs.length && all; i++) if (i !== small && !setHas(m, recs[i]!, m.u8, MS, MN)) all = false;
    if (!all) continue;
    colS.push(MS);
    colN.push(MN);
    if (limit > 0 && colS.length >= limit) return;
  }
}

/** Difference of `recs` (first minus the rest) into colS/colN. */
function difference(m: Arena): void {
  colS.length = 0;
  colN.length = 0;
  if (recs[0] === 0) return;
  iterInit(m, recs[0]!);
  while (iterNext(m)) {
    let keep = true;
    for (let i = 1; i < recs.length && keep; i++) if (recs[i] !== 0 && setHas(m, recs[i]!, m.u8, MS, MN)) keep = false;
    if (keep) {
      colS.push(MS);
      colN.push(MN);
    }
  }
}

/** Union of `recs` as a new temp set record. */
function union(m: Arena): number {
  const t = tempSet(m);
  for (const a of recs) {
    if (a === 0) continue;
    iterInit(m, a);
    while (iterNext(m)) setAdd(m, t, m.u8, MS, MN);
  }
  return t;
}

/** A temp set holding colS/colN. */
function collectedToTemp(m: Arena): number {
  const t = tempSet(m);
  for (let i = 0; i < colS.length; i++) setAdd(m, t, m.u8, colS[i]!, colN[i]!);
  return t;
}

function replyCollected(c: Ctx): void {
  const m = c.store.arena;
  c.out.setHeader(colS.length);
  for (let i = 0; i < colS.length; i++) c.out.bulk(m.u8, colS[i]!, colN[i]!);
  if (colS.length > 65536) {
    colS = [];
    colN = [];
  }
}

const sinter: Handler = (c) => {
  if (!lookupSets(c, 1, c.argc)) return;
  intersect(c.store.arena, 0);
  replyCollected(c);
};

const sdiff: Handler = (c) => {
  if (!lookupSets(c, 1, c.argc)) return;
  difference(c.store.arena);
  replyCollected(c);
};

const sunion: Handler = (c) => {
  if (!lookupSets(c, 1, c.argc)) return;
  const m = c.store.arena;
  const t = union(m);
  replyMembers(c, t);
  freeValue(m, t);
  freeRecord(m, t);
};

const sinterstore: Handler = (c) => {
  if (!lookupSets(c, 2, c.argc)) return;
  const m = c.store.arena;
  intersect(m, 0);
  const t = collectedToTemp(m);
  const n = setLen(m, t);
  storeTemp(c, 1, t);
  c.out.int(n);
};

const sdiffstore: Handler = (c) => {
  if (!lookupSets(c, 2, c.argc)) return;
  const m = c.store.arena;
  difference(m);
  const t = collectedToTemp(m);
  const n = setLen(m, t);
  storeTemp(c, 1, t);
  c.out.int(n);
};

const sunionstore: Handler = (c) => {
  if (!lookupSets(c, 2, c.argc)) return;
  const m = c.store.arena;
  const t = union(m);
  const n = setLen(m, t);
  storeTemp(c, 1, t);
  c.out.int(n);
};

const sintercard: Handler = (c) => {
  const limit = parseIntercardArgs(c);
  if (limit < 0) return;
  const nk = c.int(1)!;
  if (!lookupSets(c, 2, 2 + nk)) return;
  intersect(c.store.arena, limit);
  c.out.int(colS.length);
};

let scanned: number[] = [];

const sscan: Handler = (c) => {
  if (!parseScanArgs(c, 2)) return;
  const a = lookupTyped(c, 1, T_SET, true);
  if (a < 0) return;
  const out = c.out;
  if (a === 0) {
    out.arrayHeader(2);
    out.bulkInt(0);
    out.constant(R_EMPTY_ARRAY);
    return;
  }
  const m = c.store.arena;
  colS.length = 0;
  colN.length = 0;
  let next = 0;
  if (valEnc(m, a) === ENC_INTSET) {
    iterInit(m, a);
    while (iterNext(m)) {
      if (!scanMatches(c, m.u8, MS, MN)) continue;
      colS.push(MS);
      colN.push(MN);
    }
  } else {
    scanned.length = 0;
    next = ftScan(m, valPtr(m, a), scanOpts.cursor, scanOpts.count, scanned);
    for (const e of scanned) {
      if (!scanMatches(c, m.u8, entKey(m, e), entKeyLen(m, e))) continue;
      colS.push(entKey(m, e));
      colN.push(entKeyLen(m, e));
    }
    if (scanned.length > 65536) scanned = [];
  }
  out.arrayHeader(2);
  out.bulkInt(next);
  out.arrayHeader(colS.length);
  for (let i = 0; i < colS.length; i++) out.bulk(m.u8, colS[i]!, colN[i]!);
};

/** Handlers by lower-case command name. */
export const setCommands: Record<string, Handler> = {
  sadd,
  srem,
  sismember,
  smismember,
  scard,
  smembers,
  spop,
  srandmember,
  smove,
  sinter,
  sinterstore,
  sunion,
  sunionstore,
  sdiff,
  sdiffstore,
  sintercard,
  sscan,
};
