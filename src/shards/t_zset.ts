/**
 * Sorted-set commands (Redis's t_zset.c): a listpack of (member, 8-byte score) pairs kept
 * in order, converting to the arena skiplist past zset-max-listpack-*. Positions used by
 * range code are entry addresses (listpack) or node addresses (skiplist).
 */
import type { Arena } from './arena.js';
import type { Ctx, Handler } from './context.js';
import { T_SET, T_ZSET, freeRecord, recType } from './record.js';
import { ES, EN, f64Bytes, lpCount, lpDecode, lpDelete, lpEnd, lpFind, lpFree, lpInsert, lpPrev, lpStart, readF64 } from './listpack.js';
import {
  cmpBytes,
  gteMin,
  lexGteMin,
  lexLteMax,
  lteMax,
  nodeMember,
  nodeMemberLen,
  nodeNext,
  nodePrev,
  nodeScore,
  zslByRank,
  zslDelete,
  zslFind,
  zslFirst,
  zslFirstGe,
  zslFirstLex,
  zslInsert,
  zslLast,
  zslLastLe,
  zslLastLex,
  zslLen,
  zslNew,
  zslRank,
  zslUpdateScore,
  type LexBound,
} from './skiplist.js';
import { ftFind, ftHash, ftRandom, ftScan } from './field-table.js';
import {
  ENC_LISTPACK,
  ENC_SKIPLIST,
  createCollection,
  deleteKey,
  freeValue,
  newCompact,
  parseIntercardArgs,
  parseRandomCount,
  parseNumkeys,
  parseScanArgs,
  storeTempCollection,
  tempCollection,
  scanMatches,
  scanOpts,
  setVal,
  valEnc,
  valPtr,
} from './value.js';
import { MN as SMN, MS as SMS, iterInit as setIterInit, iterNext as setIterNext, setHas, setLen } from './t_set.js';
import { blockOn, parseTimeout } from './blocking.js';
import { dtConfig } from './dt-config.js';
import {
  E_COUNT_NOT_POSITIVE,
  E_LEX_RANGE,
  E_MINMAX_NOT_FLOAT,
  E_NOT_FLOAT,
  E_NOT_INT,
  E_NOT_POSITIVE,
  E_SCORE_NAN,
  E_SYNTAX,
  E_WEIGHT_NOT_FLOAT,
  E_WRONGTYPE,
  E_ZADD_GT_LT_NX,
  E_ZADD_INCR_PAIR,
  E_ZADD_XX_NX,
  E_ZRANGE_LIMIT,
  E_ZRANGE_WITHSCORES_BYLEX,
  noInputKeys,
} from '../wire/error-text.js';
import { R_EMPTY_ARRAY, formatDouble17 } from '../wire/resp-writer.js';
import { parseFloatBytes, parseSafeInt } from '../wire/bytes.js';

/** zsetAdd flags. */
const Z_NX = 1;
const Z_XX = 2;
const Z_GT = 4;
const Z_LT = 8;
const Z_INCR = 16;
/** zsetAdd results. */
const R_ADDED = 1;
const R_UPDATED = 2;
const R_NOP = 3;
const R_NAN = 4;
/** Existing member whose score did not change (still "processed" for INCR's reply). */
const R_SAME = 5;

/** Score after the last zsetAdd. */
let newScore = 0;

/** Member count of a sorted-set record. */
export function zsetLen(m: Arena, a: number): number {
  const p = valPtr(m, a);
  return valEnc(m, a) === ENC_LISTPACK ? lpCount(m, p) / 2 : zslLen(m, p);
}

/** Score found by the last zsetScore. */
let foundScore = 0;

/** Whether the member is in the sorted set; its score goes to foundScore. */
function zsetScore(m: Arena, a: number, buf: Uint8Array, s: number, n: number): boolean {
  const p = valPtr(m, a);
  if (valEnc(m, a) === ENC_LISTPACK) {
    const off = lpFind(m, p, buf, s, n, 2);
    if (off < 0) return false;
    lpDecode(m.u8, lpDecode(m.u8, p + off));
    foundScore = readF64(m.u8, ES);
    return true;
  }
  const e = zslFind(m, p, buf, s, n);
  if (e === 0) return false;
  foundScore = nodeScore(m, e);
  return true;
}

/** Inserts (member, score) into a listpack-encoded record at its ordered place. */
function lpInsertSorted(m: Arena, a: number, score: number, buf: Uint8Array, s: number, n: number): void {
  // Redis's listpack stores -0 as the integer 0.
  if (score === 0) score = 0;
  const p = valPtr(m, a);
  const u8 = m.u8;
  let x = p + lpStart(m, p);
  const end = p + lpEnd(m, p);
  while (x < end) {
    const sc = lpDecode(u8, x);
    const ms = ES;
    const mn = EN;
    const next = lpDecode(u8, sc);
    const v = readF64(u8, ES);
    if (v > score || (v === score && cmpBytes(u8, ms, mn, buf, s, n) > 0)) break;
    x = next;
  }
  // Score first, then the member before it: offsets relative to the first entry, which
  // moves when inserting at the front.
  const rel = x - (p + lpStart(m, p));
  let q = lpInsert(m, p, lpStart(m, p) + rel, f64Bytes(score), 0, 8);
  q = lpInsert(m, q, lpStart(m, q) + rel, buf, s, n);
  if (q !== p) setVal(m, a, ENC_LISTPACK, q);
}

function toSkiplist(m: Arena, a: number): void {
  const p = valPtr(m, a);
  const z = zslNew(m, lpCount(m, p) / 2 + 1);
  let x = p + lpStart(m, p);
  const end = p + lpEnd(m, p);
  while (x < end) {
    const sc = lpDecode(m.u8, x);
    const ms = ES;
    const mn = EN;
    x = lpDecode(m.u8, sc);
    zslInsert(m, z, readF64(m.u8, ES), m.u8, ms, mn, ftHash(m.u8, ms, mn));
  }
  lpFree(m, p);
  setVal(m, a, ENC_SKIPLIST, z);
}

/** Redis's zsetAdd: adds or updates a member under NX/XX/GT/LT/INCR; returns an R_* code. */
function zsetAdd(m: Arena, a: number, score: number, buf: Uint8Array, s: number, n: number, flags: number): number {
  if (valEnc(m, a) === ENC_LISTPACK) {
    const p = valPtr(m, a);
    const off = lpFind(m, p, buf, s, n, 2);
    if (off >= 0) {
      if (flags & Z_NX) return R_NOP;
      lpDecode(m.u8, lpDecode(m.u8, p + off));
      const cur = readF64(m.u8, ES);
      let ns = score;
      if (flags & Z_INCR) {
        ns = cur + score;
        if (Number.isNaN(ns)) return R_NAN;
      }
      if ((flags & Z_GT && ns <= cur) || (flags & Z_LT && ns >= cur)) return R_NOP;
      newScore = ns;
      if (ns === cur) return R_SAME;
      lpDelete(m, p, off, 2);
      lpInsertSorted(m, a, ns, buf, s, n);
      return R_UPDATED;
    }
    if (flags & Z_XX) return R_NOP;
    if (n <= dtConfig.zsetMaxListpackValue && lpCount(m, p) / 2 + 1 <= dtConfig.zsetMaxListpackEntries) {
      newScore = score;
      lpInsertSorted(m, a, score, buf, s, n);
      return R_ADDED;
    }
    toSkiplist(m, a);
  }
  const z = valPtr(m, a);
  // One hash of the member serves the lookup and, when absent, the insert.
  const hv = ftHash(buf, s, n);
  const e = ftFind(m, z, buf, s, n, hv);
  if (e !== 0) {
    if (flags & Z_NX) return R_NOP;
    const cur = nodeScore(m, e);
    let ns = score;
    if (flags & Z_INCR) {
      ns = cur + score;
      if (Number.isNaN(ns)) return R_NAN;
    }
    if ((flags & Z_GT && ns <= cur) || (flags & Z_LT && ns >= cur)) return R_NOP;
    newScore = ns;
    if (ns === cur) return R_SAME;
    zslUpdateScore(m, z, e, ns);
    return R_UPDATED;
  }
  if (flags & Z_XX) return R_NOP;
  newScore = score;
  zslInsert(m, z, score, buf, s, n, hv);
  return R_ADDED;
}

/** Removes a member; true when it was there. */
function zsetDel(m: Arena, a: number, buf: Uint8Array, s: number, n: number): boolean {
  const p = valPtr(m, a);
  if (valEnc(m, a) === ENC_LISTPACK) {
    const off = lpFind(m, p, buf, s, n, 2);
    if (off < 0) return false;
    lpDelete(m, p, off, 2);
    return true;
  }
  const e = zslFind(m, p, buf, s, n);
  if (e === 0) return false;
  zslDelete(m, p, e);
  return true;
}

// ---- Positions: uniform walking over both encodings (one record at a time). ----

let isLp = false;
let P = 0;
let LPSTART = 0;
let LPEND = 0;
/** Member of the last posMember call. */
let MS = 0;
let MN = 0;

function begin(m: Arena, a: number): void {
  isLp = valEnc(m, a) === ENC_LISTPACK;
  P = valPtr(m, a);
  LPSTART = isLp ? P + lpStart(m, P) : 0;
  LPEND = isLp ? P + lpEnd(m, P) : 0;
}

function firstPos(m: Arena): number {
  if (isLp) return LPEND > LPSTART ? LPSTART : 0;
  return zslFirst(m, P);
}

function lastPos(m: Arena): number {
  if (isLp) return LPEND > LPSTART ? lpPrev(m.u8, lpPrev(m.u8, LPEND)) : 0;
  return zslLast(m, P);
}

function nextPos(m: Arena, pos: number): number {
  if (!isLp) return nodeNext(m, pos);
  const x = lpDecode(m.u8, lpDecode(m.u8, pos));
  return x >= LPEND ? 0 : x;
}

function prevPos(m: Arena, pos: number): number {
  if (!isLp) return nodePrev(m, pos);
  return pos <= LPSTART ? 0 : lpPrev(m.u8, lpPrev(m.u8, pos));
}

function posMember(m: Arena, pos: number): void {
  if (isLp) {
    lpDecode(m.u8, pos);
    MS = ES;
    MN = EN;
  } else {
    MS = nodeMember(m, pos);
    MN = nodeMemberLen(m, pos);
  }
}

function posScore(m: Arena, pos: number): number {
  if (!isLp) return nodeScore(m, pos);
  lpDecode(m.u8, lpDecode(m.u8, pos));
  return readF64(m.u8, ES);
}

/** Position at a 0-based rank. */
function byRank(m: Arena, r: number): number {
  if (!isLp) return zslByRank(m, P, r + 1);
  let x = LPSTART;
  for (let i = 0; i < r; i++) x = lpDecode(m.u8, lpDecode(m.u8, x));
  return x;
}

/** 0-based rank of a position. */
function rankOf(m: Arena, pos: number): number {
  if (!isLp) return zslRank(m, P, pos) - 1;
  let r = 0;
  for (let x = LPSTART; x !== pos; x = lpDecode(m.u8, lpDecode(m.u8, x))) r++;
  return r;
}

/** Redis's zslIsInRange: the score range is non-empty and overlaps the set. */
function scoreOverlaps(m: Arena): boolean {
  if (range.min > range.max || (range.min === range.max && (range.minex || range.maxex))) return false;
  const l = lastPos(m);
  if (l === 0 || !gteMin(posScore(m, l), range.min, range.minex)) return false;
  return lteMax(posScore(m, firstPos(m)), range.max, range.maxex);
}

function firstInScore(m: Arena, min: number, minex: boolean): number {
  if (!scoreOverlaps(m)) return 0;
  let x = 0;
  if (!isLp) x = zslFirstGe(m, P, min, minex);
  else for (x = firstPos(m); x !== 0 && !gteMin(posScore(m, x), min, minex); x = nextPos(m, x));
  return x !== 0 && lteMax(posScore(m, x), range.max, range.maxex) ? x : 0;
}

function lastInScore(m: Arena, max: number, maxex: boolean): number {
  if (!scoreOverlaps(m)) return 0;
  let x = 0;
  if (!isLp) x = zslLastLe(m, P, max, maxex);
  else for (x = lastPos(m); x !== 0 && !lteMax(posScore(m, x), max, maxex); x = prevPos(m, x));
  return x !== 0 && gteMin(posScore(m, x), range.min, range.minex) ? x : 0;
}

/** Redis's sdscmplex over bounds ("-" below everything, "+" above). */
function lexCmp(a: LexBound, b: LexBound): number {
  if (a.kind === b.kind && a.kind !== 0) return 0;
  if (a.kind < 0 || b.kind > 0) return -1;
  if (a.kind > 0 || b.kind < 0) return 1;
  return cmpBytes(a.buf, a.s, a.n, b.buf, b.s, b.n);
}

/** Redis's zslIsInLexRange: the lex range is non-empty and overlaps the set's ends. */
function lexOverlaps(m: Arena): boolean {
  const cmp = lexCmp(lexMin, lexMax);
  if (cmp > 0 || (cmp === 0 && (lexMin.ex || lexMax.ex))) return false;
  const l = lastPos(m);
  if (l === 0) return false;
  posMember(m, l);
  if (!lexGteMin(m.u8, MS, MN, lexMin)) return false;
  posMember(m, firstPos(m));
  return lexLteMax(m.u8, MS, MN, lexMax);
}

function firstInLex(m: Arena, min: LexBound): number {
  if (!lexOverlaps(m)) return 0;
  let x = 0;
  if (!isLp) x = zslFirstLex(m, P, min);
  else {
    for (x = firstPos(m); x !== 0; x = nextPos(m, x)) {
      posMember(m, x);
      if (lexGteMin(m.u8, MS, MN, min)) break;
    }
  }
  if (x === 0) return 0;
  posMember(m, x);
  return lexLteMax(m.u8, MS, MN, lexMax) ? x : 0;
}

function lastInLex(m: Arena, max: LexBound): number {
  if (!lexOverlaps(m)) return 0;
  let x = 0;
  if (!isLp) x = zslLastLex(m, P, max);
  else {
    for (x = lastPos(m); x !== 0; x = prevPos(m, x)) {
      posMember(m, x);
      if (lexLteMax(m.u8, MS, MN, max)) break;
    }
  }
  if (x === 0) return 0;
  posMember(m, x);
  return lexGteMin(m.u8, MS, MN, lexMin) ? x : 0;
}

/** Removes `n` members starting at position `pos` going forward. */
function removeFrom(m: Arena, pos: number, n: number): void {
  if (isLp) {
    lpDelete(m, P, pos - P, 2 * n);
    return;
  }
  for (let i = 0; i < n && pos !== 0; i++) {
    const next = nodeNext(m, pos);
    zslDelete(m, P, pos);
    pos = next;
  }
}

// ---- Argument parsing. ----

const range = { min: 0, minex: false, max: 0, maxex: false };
const lexMin: LexBound = { kind: 0, ex: false, buf: new Uint8Array(0), s: 0, n: 0 };
const lexMax: LexBound = { kind: 0, ex: false, buf: new Uint8Array(0), s: 0, n: 0 };

function parseScoreBound(c: Ctx, i: number, isMax: boolean): boolean {
  let s = c.as[i]!;
  let n = c.al[i]!;
  let ex = false;
  if (n > 0 && c.buf[s] === 40) {
    ex = true;
    s++;
    n--;
  }
  const v = parseFloatBytes(c.buf, s, n);
  if (v === null) return false;
  if (isMax) {
    range.max = v;
    range.maxex = ex;
  } else {
    range.min = v;
    range.minex = ex;
  }
  return true;
}

function parseLexBound(c: Ctx, i: number, b: LexBound): boolean {
  const s = c.as[i]!;
  const n = c.al[i]!;
  if (n === 0) return false;
  const ch = c.buf[s]!;
  b.buf = c.buf;
  if (ch === 43 || ch === 45) {
    if (n !== 1) return false;
    b.kind = ch === 43 ? 1 : -1;
    return true;
  }
  if (ch !== 40 && ch !== 91) return false;
  b.kind = 0;
  b.ex = ch === 40;
  b.s = s + 1;
  b.n = n - 1;
  return true;
}

/** Writes one member with its score: nested pair in RESP3, two items in RESP2. */
function replyWithScore(c: Ctx, m: Arena, pos: number, nested: boolean): void {
  posMember(m, pos);
  const ms = MS;
  const mn = MN;
  const sc = posScore(m, pos);
  if (nested) c.out.arrayHeader(2);
  c.out.bulk(m.u8, ms, mn);
  c.out.double(sc);
}

/** An unnamed sorted-set record outside the keyspace, for building results. */
export function tempZset(m: Arena): number {
  return tempCollection(m, T_ZSET, ENC_LISTPACK);
}

/** Stores a temp sorted set as key argument `i` (deleting the key when empty); frees the temp record. */
export function storeTemp(c: Ctx, i: number, t: number): void {
  storeTempCollection(c, i, t, zsetLen(c.store.arena, t) === 0);
}

function lookupZset(c: Ctx, i: number, read: boolean): number {
  const a = read ? c.lookupRead(i) : c.lookup(i);
  if (a !== 0 && recType(c.store.arena, a) !== T_ZSET) {
    c.out.error(E_WRONGTYPE);
    return -1;
  }
  return a;
}

/** Creates an empty sorted set for key argument `i` (after a lookup returned 0). */
export function createZset(c: Ctx, i: number): number {
  return createCollection(c.store, c.db, c.buf, c.as[i]!, c.al[i]!, T_ZSET, ENC_LISTPACK, newCompact(c.store.arena, T_ZSET));
}

/** The score of a member of sorted-set record `a`, or NaN when it is absent (scores are never NaN). */
export function zsetScoreOf(m: Arena, a: number, buf: Uint8Array, s: number, n: number): number {
  return zsetScore(m, a, buf, s, n) ? foundScore : Number.NaN;
}

/**
 * Calls `fn(pos, score)` for the members with min <= score < max in order, until it returns false
 * (geo's box scans). The member is read only when wanted, by zsetMemberAt(m, pos) during the walk:
 * most of a box's points fall outside the shape searched.
 */
export function zsetScanScores(m: Arena, a: number, min: number, max: number, fn: (pos: number, score: number) => boolean): void {
  begin(m, a);
  range.min = min;
  range.minex = false;
  range.max = max;
  range.maxex = true;
  for (let x = firstInScore(m, min, false); x !== 0; x = nextPos(m, x)) {
    const sc = posScore(m, x);
    if (sc >= max) break;
    if (!fn(x, sc)) break;
  }
}

/** The member span at a position of the zset zsetScanScores is walking (into `scanMember`). */
export const scanMember = { s: 0, n: 0 };

/** Sets scanMember to the member at position `pos` of the walk in progress. */
export function zsetMemberAt(m: Arena, pos: number): void {
  posMember(m, pos);
  scanMember.s = MS;
  scanMember.n = MN;
}

/**
 * Calls `fn` with `count` members of the sorted set in rank order from rank `from`
 * (backwards from the end when `rev`), SORT's walk of a zset.
 */
export function zsetWalk(
  m: Arena,
  a: number,
  from: number,
  count: number,
  rev: boolean,
  fn: (u8: Uint8Array, ms: number, mn: number) => void,
): void {
  begin(m, a);
  const len = zsetLen(m, a);
  let x = len === 0 || from >= len ? 0 : byRank(m, rev ? len - 1 - from : from);
  for (let i = 0; i < count && x !== 0; i++) {
    posMember(m, x);
    fn(m.u8, MS, MN);
    x = rev ? prevPos(m, x) : nextPos(m, x);
  }
}

/** Adds a member to a sorted-set record (the __restore path). */
export function zsetRestoreAdd(m: Arena, a: number, score: number, buf: Uint8Array, s: number, n: number): void {
  zsetAdd(m, a, score, buf, s, n, 0);
}

// ---- Commands. ----

/** Parsed scores of the ZADD being run (grown as needed; `scores.length = 0` on a JS array cost a runtime call and a reallocation per command). */
let scores = new Float64Array(16);

function zaddGeneric(c: Ctx, incrCmd: boolean): void {
  let flags = incrCmd ? Z_INCR : 0;
  let ch = false;
  let i = 2;
  if (!incrCmd) {
    for (; i < c.argc; i++) {
      // Options start with a letter; a score almost never does (inf and nan fall through below).
      const first = c.buf[c.as[i]!]! | 0x20;
      if (first < 97 || first > 122) break;
      if (c.is(i, 'NX')) flags |= Z_NX;
      else if (c.is(i, 'XX')) flags |= Z_XX;
      else if (c.is(i, 'GT')) flags |= Z_GT;
      else if (c.is(i, 'LT')) flags |= Z_LT;
      else if (c.is(i, 'CH')) ch = true;
      else if (c.is(i, 'INCR')) flags |= Z_INCR;
      else break;
    }
  }
  const elements = c.argc - i;
  if (elements % 2 !== 0 || elements === 0) {
    c.out.error(E_SYNTAX);
    return;
  }
  if (flags & Z_NX && flags & Z_XX) {
    c.out.error(E_ZADD_XX_NX);
    return;
  }
  if ((flags & Z_GT && flags & Z_NX) || (flags & Z_LT && flags & Z_NX) || (flags & Z_GT && flags & Z_LT)) {
    c.out.error(E_ZADD_GT_LT_NX);
    return;
  }
  if (flags & Z_INCR && elements > 2) {
    c.out.error(E_ZADD_INCR_PAIR);
    return;
  }
  const count = elements / 2;
  if (scores.length < count) scores = new Float64Array(Math.max(count, scores.length * 2));
  for (let j = i, k = 0; j < c.argc; j += 2, k++) {
    // Integer scores (the common case) parse without building a string.
    const v = parseSafeInt(c.buf, c.as[j]!, c.al[j]!) ?? parseFloatBytes(c.buf, c.as[j]!, c.al[j]!);
    if (v === null) {
      c.out.error(E_NOT_FLOAT);
      return;
    }
    scores[k] = v;
  }
  let a = lookupZset(c, 1, false);
  if (a < 0) return;
  if (a === 0) {
    if (flags & Z_XX) {
      if (flags & Z_INCR) c.out.nullBulk();
      else c.out.int(0);
      return;
    }
    a = createZset(c, 1);
  }
  const m = c.store.arena;
  let added = 0;
  let updated = 0;
  let processed = 0;
  for (let k = 0; k < count; k++) {
    const j = i + 1 + 2 * k;
    const r = zsetAdd(m, a, scores[k]!, c.buf, c.as[j]!, c.al[j]!, flags);
    if (r === R_NAN) {
      c.out.error(E_SCORE_NAN);
      if (zsetLen(m, a) === 0) deleteKey(c, 1);
      return;
    }
    if (r === R_ADDED) added++;
    else if (r === R_UPDATED) updated++;
    if (r !== R_NOP) processed++;
  }
  if (zsetLen(m, a) === 0) deleteKey(c, 1);
  if (flags & Z_INCR) {
    if (processed > 0) c.out.double(newScore);
    else c.out.nullBulk();
  } else c.out.int(ch ? added + updated : added);
}

const zadd: Handler = (c) => zaddGeneric(c, false);
const zincrby: Handler = (c) => zaddGeneric(c, true);

const zrem: Handler = (c) => {
  const a = lookupZset(c, 1, false);
  if (a <= 0) {
    if (a === 0) c.out.int(0);
    return;
  }
  const m = c.store.arena;
  let n = 0;
  for (let i = 2; i < c.argc; i++) {
    if (zsetDel(m, a, c.buf, c.as[i]!, c.al[i]!)) n++;
    if (zsetLen(m, a) === 0) {
      deleteKey(c, 1);
      break;
    }
  }
  c.out.int(n);
};

const zcard: Handler = (c) => {
  const a = lookupZset(c, 1, true);
  if (a >= 0) c.out.int(a === 0 ? 0 : zsetLen(c.store.arena, a));
};

const zscore: Handler = (c) => {
  const a = lookupZset(c, 1, true);
  if (a < 0) return;
  if (a !== 0 && zsetScore(c.store.arena, a, c.buf, c.as[2]!, c.al[2]!)) c.out.double(foundScore);
  else c.out.nullBulk();
};

const zmscore: Handler = (c) => {
  const a = lookupZset(c, 1, true);
  if (a < 0) return;
  c.out.arrayHeader(c.argc - 2);
  for (let i = 2; i < c.argc; i++) {
    if (a !== 0 && zsetScore(c.store.arena, a, c.buf, c.as[i]!, c.al[i]!)) c.out.double(foundScore);
    else c.out.nullBulk();
  }
};

function rankGeneric(c: Ctx, rev: boolean): void {
  const a = lookupZset(c, 1, true);
  if (a < 0) return;
  if (a === 0) {
    c.out.nullBulk();
    return;
  }
  const m = c.store.arena;
  begin(m, a);
  let pos = 0;
  if (isLp) {
    const off = lpFind(m, P, c.buf, c.as[2]!, c.al[2]!, 2);
    pos = off < 0 ? 0 : P + off;
  } else pos = zslFind(m, P, c.buf, c.as[2]!, c.al[2]!);
  if (pos === 0) {
    c.out.nullBulk();
    return;
  }
  const r = rankOf(m, pos);
  c.out.int(rev ? zsetLen(m, a) - 1 - r : r);
}

const zrank: Handler = (c) => rankGeneric(c, false);
const zrevrank: Handler = (c) => rankGeneric(c, true);

const zcount: Handler = (c) => {
  if (!parseScoreBound(c, 2, false) || !parseScoreBound(c, 3, true)) {
    c.out.error(E_MINMAX_NOT_FLOAT);
    return;
  }
  const a = lookupZset(c, 1, true);
  if (a < 0) return;
  if (a === 0) {
    c.out.int(0);
    return;
  }
  const m = c.store.arena;
  begin(m, a);
  const f = firstInScore(m, range.min, range.minex);
  if (f === 0 || !lteMax(posScore(m, f), range.max, range.maxex)) {
    c.out.int(0);
    return;
  }
  const l = lastInScore(m, range.max, range.maxex);
  c.out.int(rankOf(m, l) - rankOf(m, f) + 1);
};

const zlexcount: Handler = (c) => {
  if (!parseLexBound(c, 2, lexMin) || !parseLexBound(c, 3, lexMax)) {
    c.out.error(E_LEX_RANGE);
    return;
  }
  const a = lookupZset(c, 1, true);
  if (a < 0) return;
  if (a === 0) {
    c.out.int(0);
    return;
  }
  const m = c.store.arena;
  begin(m, a);
  const f = firstInLex(m, lexMin);
  if (f === 0) {
    c.out.int(0);
    return;
  }
  posMember(m, f);
  if (!lexLteMax(m.u8, MS, MN, lexMax)) {
    c.out.int(0);
    return;
  }
  const l = lastInLex(m, lexMax);
  c.out.int(rankOf(m, l) - rankOf(m, f) + 1);
};

const K_RANK = 0;
const K_SCORE = 1;
const K_LEX = 2;
const K_AUTO = 3;

/** Positions selected by the last collectRange. */
let picked: number[] = [];

/**
 * Selects the positions of a range query into `picked` (start/stop already parsed into
 * `range` / lexMin / lexMax, or ranks).
 */
function collectRange(m: Arena, kind: number, rev: boolean, start: number, stop: number, offset: number, limit: number): void {
  picked.length = 0;
  if (kind === K_RANK) {
    const len = isLp ? lpCount(m, P) / 2 : zslLen(m, P);
    if (start < 0) start += len;
    if (stop < 0) stop += len;
    if (start < 0) start = 0;
    if (start > stop || start >= len) return;
    if (stop >= len) stop = len - 1;
    let pos = byRank(m, rev ? len - 1 - start : start);
    for (let i = start; i <= stop && pos !== 0; i++) {
      picked.push(pos);
      pos = rev ? prevPos(m, pos) : nextPos(m, pos);
    }
    return;
  }
  if (offset < 0) return;
  let pos: number;
  if (kind === K_SCORE) pos = rev ? lastInScore(m, range.max, range.maxex) : firstInScore(m, range.min, range.minex);
  else pos = rev ? lastInLex(m, lexMax) : firstInLex(m, lexMin);
  while (pos !== 0 && (limit < 0 || picked.length < limit)) {
    if (kind === K_SCORE) {
      const sc = posScore(m, pos);
      if (rev ? !gteMin(sc, range.min, range.minex) : !lteMax(sc, range.max, range.maxex)) break;
    } else {
      posMember(m, pos);
      if (rev ? !lexGteMin(m.u8, MS, MN, lexMin) : !lexLteMax(m.u8, MS, MN, lexMax)) break;
    }
    if (offset > 0) offset--;
    else picked.push(pos);
    pos = rev ? prevPos(m, pos) : nextPos(m, pos);
  }
}

/**
 * Redis's zrangeGenericCommand: `first` is the key's argument, `dst` the ZRANGESTORE
 * destination argument (0 for none); `kind`/`rev` preset by the command or K_AUTO.
 */
function zrangeGeneric(c: Ctx, first: number, dst: number, kindIn: number, revIn: number): void {
  let kind = kindIn;
  let rev = revIn;
  let withScores = false;
  let limited = false;
  let offset = 0;
  let limit = -1;
  for (let j = first + 3; j < c.argc; j++) {
    const left = c.argc - j - 1;
    if (dst === 0 && c.is(j, 'WITHSCORES')) withScores = true;
    else if (c.is(j, 'LIMIT') && left >= 2) {
      const o = c.int(j + 1);
      const l = c.int(j + 2);
      if (o === null || l === null) {
        c.out.error(E_NOT_INT);
        return;
      }
      offset = o;
      limit = l;
      limited = true;
      j += 2;
    } else if (rev === -1 && c.is(j, 'REV')) rev = 1;
    else if (kind === K_AUTO && c.is(j, 'BYLEX')) kind = K_LEX;
    else if (kind === K_AUTO && c.is(j, 'BYSCORE')) kind = K_SCORE;
    else {
      c.out.error(E_SYNTAX);
      return;
    }
  }
  if (rev === -1) rev = 0;
  if (kind === K_AUTO) kind = K_RANK;
  if (limited && kind === K_RANK) {
    c.out.error(E_ZRANGE_LIMIT);
    return;
  }
  if (withScores && kind === K_LEX) {
    c.out.error(E_ZRANGE_WITHSCORES_BYLEX);
    return;
  }
  let minArg = first + 1;
  let maxArg = first + 2;
  if (rev === 1 && kind !== K_RANK) {
    minArg = first + 2;
    maxArg = first + 1;
  }
  let start = 0;
  let stop = 0;
  if (kind === K_RANK) {
    const s = c.int(first + 1);
    const e = c.int(first + 2);
    if (s === null || e === null) {
      c.out.error(E_NOT_INT);
      return;
    }
    start = s;
    stop = e;
  } else if (kind === K_SCORE) {
    if (!parseScoreBound(c, minArg, false) || !parseScoreBound(c, maxArg, true)) {
      c.out.error(E_MINMAX_NOT_FLOAT);
      return;
    }
  } else if (!parseLexBound(c, minArg, lexMin) || !parseLexBound(c, maxArg, lexMax)) {
    c.out.error(E_LEX_RANGE);
    return;
  }
  const a = lookupZset(c, first, true);
  if (a < 0) return;
  const m = c.store.arena;
  if (a === 0) {
    if (dst !== 0) {
      storeTemp(c, dst, tempZset(m));
      c.out.int(0);
    } else c.out.constant(R_EMPTY_ARRAY);
    return;
  }
  begin(m, a);
  collectRange(m, kind, rev === 1, start, stop, offset, limit);
  if (dst !== 0) {
    const t = tempZset(m);
    for (const pos of picked) {
      posMember(m, pos);
      const ms = MS;
      const mn = MN;
      zsetAdd(m, t, posScore(m, pos), m.u8, ms, mn, 0);
    }
    const n = zsetLen(m, t);
    storeTemp(c, dst, t);
    c.out.int(n);
    return;
  }
  replyPicked(c, m, withScores);
}

function replyPicked(c: Ctx, m: Arena, withScores: boolean): void {
  const nested = c.out.proto === 3;
  c.out.arrayHeader(withScores && !nested ? picked.length * 2 : picked.length);
  for (const pos of picked) {
    if (withScores) replyWithScore(c, m, pos, nested);
    else {
      posMember(m, pos);
      c.out.bulk(m.u8, MS, MN);
    }
  }
  if (picked.length > 65536) picked = [];
}

const zrange: Handler = (c) => zrangeGeneric(c, 1, 0, K_AUTO, -1);
const zrangestore: Handler = (c) => zrangeGeneric(c, 2, 1, K_AUTO, -1);
const zrevrange: Handler = (c) => zrangeGeneric(c, 1, 0, K_RANK, 1);
const zrangebyscore: Handler = (c) => zrangeGeneric(c, 1, 0, K_SCORE, 0);
const zrevrangebyscore: Handler = (c) => zrangeGeneric(c, 1, 0, K_SCORE, 1);
const zrangebylex: Handler = (c) => zrangeGeneric(c, 1, 0, K_LEX, 0);
const zrevrangebylex: Handler = (c) => zrangeGeneric(c, 1, 0, K_LEX, 1);

function zremrangeGeneric(c: Ctx, kind: number): void {
  let start = 0;
  let stop = 0;
  if (kind === K_RANK) {
    const s = c.int(2);
    const e = c.int(3);
    if (s === null || e === null) {
      c.out.error(E_NOT_INT);
      return;
    }
    start = s;
    stop = e;
  } else if (kind === K_SCORE) {
    if (!parseScoreBound(c, 2, false) || !parseScoreBound(c, 3, true)) {
      c.out.error(E_MINMAX_NOT_FLOAT);
      return;
    }
  } else if (!parseLexBound(c, 2, lexMin) || !parseLexBound(c, 3, lexMax)) {
    c.out.error(E_LEX_RANGE);
    return;
  }
  const a = lookupZset(c, 1, false);
  if (a < 0) return;
  if (a === 0) {
    c.out.int(0);
    return;
  }
  const m = c.store.arena;
  begin(m, a);
  collectRange(m, kind, false, start, stop, 0, -1);
  const n = picked.length;
  if (n > 0) removeFrom(m, picked[0]!, n);
  if (zsetLen(m, a) === 0) deleteKey(c, 1);
  c.out.int(n);
}

const zremrangebyrank: Handler = (c) => zremrangeGeneric(c, K_RANK);
const zremrangebyscore: Handler = (c) => zremrangeGeneric(c, K_SCORE);
const zremrangebylex: Handler = (c) => zremrangeGeneric(c, K_LEX);

/**
 * Pops up to `count` members from the min or max end of record `a` (key argument `k`).
 * Layouts: `emitKey` prefixes the key (BZPOPMIN, [B]ZMPOP); `nested` gives [member, score]
 * pairs; `wrapped` puts the pairs in an inner array after the key ([B]ZMPOP).
 */
function popInto(c: Ctx, a: number, k: number, max: boolean, count: number, emitKey: boolean, nested: boolean, wrapped: boolean): void {
  const m = c.store.arena;
  const n = Math.min(count, zsetLen(m, a));
  const out = c.out;
  if (emitKey) {
    out.arrayHeader(wrapped ? 2 : 1 + n * 2);
    out.bulk(c.buf, c.as[k]!, c.al[k]!);
  }
  if (wrapped || !emitKey) out.arrayHeader(nested ? n : n * 2);
  for (let i = 0; i < n; i++) {
    begin(m, a);
    const pos = max ? lastPos(m) : firstPos(m);
    replyWithScore(c, m, pos, nested);
    removeFrom(m, pos, 1);
  }
  if (zsetLen(m, a) === 0) deleteKey(c, k);
}

function zpopGeneric(c: Ctx, max: boolean): void {
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
  const a = lookupZset(c, 1, false);
  if (a < 0) return;
  if (a === 0 || count === 0) {
    c.out.constant(R_EMPTY_ARRAY);
    return;
  }
  popInto(c, a, 1, max, count < 0 ? 1 : count, false, c.out.proto === 3 && count >= 0, false);
}

const zpopmin: Handler = (c) => zpopGeneric(c, false);
const zpopmax: Handler = (c) => zpopGeneric(c, true);

function bzpop(c: Ctx, max: boolean): void {
  const ms = parseTimeout(c, c.argc - 1);
  if (ms < 0) return;
  for (let i = 1; i < c.argc - 1; i++) {
    const a = lookupZset(c, i, false);
    if (a < 0) return;
    if (a === 0) continue;
    popInto(c, a, i, max, 1, true, false, false);
    return;
  }
  blockOn(c, 1, c.argc - 2, ms, T_ZSET);
}

const bzpopmin: Handler = (c) => bzpop(c, false);
const bzpopmax: Handler = (c) => bzpop(c, true);

/** [B]ZMPOP from the numkeys argument `first`; `ms` < 0 for the non-blocking form. */
function zmpop(c: Ctx, first: number, ms: number): void {
  const nk = parseNumkeys(c, first);
  if (nk < 0) return;
  const whereArg = first + 1 + nk;
  if (whereArg >= c.argc) {
    c.out.error(E_SYNTAX);
    return;
  }
  let max: boolean;
  if (c.is(whereArg, 'MIN')) max = false;
  else if (c.is(whereArg, 'MAX')) max = true;
  else {
    c.out.error(E_SYNTAX);
    return;
  }
  let count = 1;
  if (whereArg + 1 < c.argc) {
    if (whereArg + 3 === c.argc && c.is(whereArg + 1, 'COUNT')) {
      const v = c.int(whereArg + 2);
      if (v === null || v <= 0) {
        c.out.error(E_COUNT_NOT_POSITIVE);
        return;
      }
      count = v;
    } else {
      c.out.error(E_SYNTAX);
      return;
    }
  }
  for (let i = first + 1; i < whereArg; i++) {
    const a = lookupZset(c, i, false);
    if (a < 0) return;
    if (a === 0) continue;
    popInto(c, a, i, max, count, true, true, true);
    return;
  }
  if (ms >= 0) blockOn(c, first + 1, whereArg - 1, ms, T_ZSET);
  else c.out.nullArray();
}

const zmpopCmd: Handler = (c) => zmpop(c, 1, -1);
const bzmpop: Handler = (c) => {
  const ms = parseTimeout(c, 1);
  if (ms >= 0) zmpop(c, 2, ms);
};

// ---- ZUNION / ZINTER / ZDIFF (and STORE forms). ----

const OP_UNION = 0;
const OP_INTER = 1;
const OP_DIFF = 2;
const AGG_SUM = 0;
const AGG_MIN = 1;
const AGG_MAX = 2;

const srcs: number[] = [];
const weights: number[] = [];

/** Score of a member in an input (a sorted set, or a set: 1); false when absent. */
function inputScore(m: Arena, a: number, buf: Uint8Array, s: number, n: number): boolean {
  if (recType(m, a) === T_SET) {
    if (!setHas(m, a, buf, s, n)) return false;
    foundScore = 1;
    return true;
  }
  return zsetScore(m, a, buf, s, n);
}

function inputLen(m: Arena, a: number): number {
  return a === 0 ? 0 : recType(m, a) === T_SET ? setLen(m, a) : zsetLen(m, a);
}

function aggregate(agg: number, acc: number, v: number): number {
  if (agg === AGG_SUM) {
    const r = acc + v;
    return Number.isNaN(r) ? 0 : r;
  }
  return agg === AGG_MIN ? (v < acc ? v : acc) : v > acc ? v : acc;
}

/** Calls `fn` for every member of input `a` with its score (sets: 1); `fn` must not call begin(). */
function forEachInput(m: Arena, a: number, fn: (buf: Uint8Array, s: number, n: number, score: number) => void): void {
  if (recType(m, a) === T_SET) {
    setIterInit(m, a);
    while (setIterNext(m)) fn(m.u8, SMS, SMN, 1);
    return;
  }
  begin(m, a);
  for (let pos = firstPos(m); pos !== 0; pos = nextPos(m, pos)) {
    posMember(m, pos);
    const ms = MS;
    const mn = MN;
    fn(m.u8, ms, mn, posScore(m, pos));
  }
}

/** Builds the result of a ZUNION/ZINTER/ZDIFF over `srcs` as a temp record. */
function combine(m: Arena, op: number, agg: number): number {
  const t = tempZset(m);
  if (op === OP_UNION) {
    for (let i = 0; i < srcs.length; i++) {
      const a = srcs[i]!;
      if (a === 0) continue;
      const w = weights[i]!;
      forEachInput(m, a, (buf, s, n, score) => {
        let v = score * w;
        if (Number.isNaN(v)) v = 0;
        if (zsetScore(m, t, buf, s, n)) {
          const r = aggregate(agg, foundScore, v);
          if (r !== foundScore) zsetAdd(m, t, r, buf, s, n, 0);
        } else zsetAdd(m, t, v, buf, s, n, 0);
      });
    }
    return t;
  }
  if (op === OP_INTER) {
    let small = 0;
    for (let i = 0; i < srcs.length; i++) {
      if (srcs[i] === 0) return t;
      if (inputLen(m, srcs[i]!) < inputLen(m, srcs[small]!)) small = i;
    }
    forEachInput(m, srcs[small]!, (buf, s, n, score) => {
      let acc = score * weights[small]!;
      if (Number.isNaN(acc)) acc = 0;
      // Aggregate in input order, as Redis does after sorting inputs by size.
      for (let i = 0; i < srcs.length; i++) {
        if (i === small) continue;
        if (!inputScore(m, srcs[i]!, buf, s, n)) return;
        let v = foundScore * weights[i]!;
        if (Number.isNaN(v)) v = 0;
        acc = aggregate(agg, acc, v);
      }
      zsetAdd(m, t, acc, buf, s, n, 0);
    });
    return t;
  }
  if (srcs[0] === 0) return t;
  forEachInput(m, srcs[0]!, (buf, s, n, score) => {
    for (let i = 1; i < srcs.length; i++) if (srcs[i] !== 0 && inputScore(m, srcs[i]!, buf, s, n)) return;
    zsetAdd(m, t, score, buf, s, n, 0);
  });
  return t;
}

/** Redis's zunionInterDiffGenericCommand; `dst` is the STORE destination argument or 0. */
function combineGeneric(c: Ctx, dst: number, op: number): void {
  const nkArg = dst === 0 ? 1 : 2;
  const nk = c.int(nkArg);
  if (nk === null) {
    c.out.error(E_NOT_INT);
    return;
  }
  if (nk < 1) {
    c.out.error(noInputKeys(c.name));
    return;
  }
  if (nk > c.argc - nkArg - 1) {
    c.out.error(E_SYNTAX);
    return;
  }
  const m = c.store.arena;
  srcs.length = 0;
  weights.length = 0;
  for (let i = 0; i < nk; i++) {
    const a = c.lookupRead(nkArg + 1 + i);
    if (a !== 0 && recType(m, a) !== T_ZSET && recType(m, a) !== T_SET) {
      c.out.error(E_WRONGTYPE);
      return;
    }
    srcs.push(a);
    weights.push(1);
  }
  let agg = AGG_SUM;
  let withScores = false;
  for (let j = nkArg + 1 + nk; j < c.argc; j++) {
    const left = c.argc - j;
    if (op !== OP_DIFF && left >= nk + 1 && c.is(j, 'WEIGHTS')) {
      for (let i = 0; i < nk; i++) {
        const w = parseFloatBytes(c.buf, c.as[++j]!, c.al[j]!);
        if (w === null) {
          c.out.error(E_WEIGHT_NOT_FLOAT);
          return;
        }
        weights[i] = w;
      }
    } else if (op !== OP_DIFF && left >= 2 && c.is(j, 'AGGREGATE')) {
      j++;
      if (c.is(j, 'SUM')) agg = AGG_SUM;
      else if (c.is(j, 'MIN')) agg = AGG_MIN;
      else if (c.is(j, 'MAX')) agg = AGG_MAX;
      else {
        c.out.error(E_SYNTAX);
        return;
      }
    } else if (dst === 0 && c.is(j, 'WITHSCORES')) withScores = true;
    else {
      c.out.error(E_SYNTAX);
      return;
    }
  }
  const t = combine(m, op, agg);
  if (dst !== 0) {
    const n = zsetLen(m, t);
    storeTemp(c, dst, t);
    c.out.int(n);
    return;
  }
  begin(m, t);
  picked.length = 0;
  for (let pos = firstPos(m); pos !== 0; pos = nextPos(m, pos)) picked.push(pos);
  replyPicked(c, m, withScores);
  freeValue(m, t);
  freeRecord(m, t);
}

const zunion: Handler = (c) => combineGeneric(c, 0, OP_UNION);
const zinter: Handler = (c) => combineGeneric(c, 0, OP_INTER);
const zdiff: Handler = (c) => combineGeneric(c, 0, OP_DIFF);
const zunionstore: Handler = (c) => combineGeneric(c, 1, OP_UNION);
const zinterstore: Handler = (c) => combineGeneric(c, 1, OP_INTER);
const zdiffstore: Handler = (c) => combineGeneric(c, 1, OP_DIFF);

const zintercard: Handler = (c) => {
  const limit = parseIntercardArgs(c, true);
  if (limit < 0) return;
  const nk = c.int(1)!;
  const m = c.store.arena;
  srcs.length = 0;
  weights.length = 0;
  for (let i = 0; i < nk; i++) {
    const a = c.lookupRead(2 + i);
    if (a !== 0 && recType(m, a) !== T_ZSET && recType(m, a) !== T_SET) {
      c.out.error(E_WRONGTYPE);
      return;
    }
    srcs.push(a);
    weights.push(1);
  }
  const t = combine(m, OP_INTER, AGG_SUM);
  const n = zsetLen(m, t);
  freeValue(m, t);
  freeRecord(m, t);
  c.out.int(limit > 0 && n > limit ? limit : n);
};

const zrandmember: Handler = (c) => {
  let count = 0;
  let withScores = false;
  if (c.argc >= 3) {
    const v = parseRandomCount(c, 2, c.argc === 4 && c.is(3, 'WITHSCORES'));
    if (v === null) return;
    count = v;
    if (c.argc === 4 && c.is(3, 'WITHSCORES')) withScores = true;
    else if (c.argc > 3) {
      c.out.error(E_SYNTAX);
      return;
    }
  }
  const a = lookupZset(c, 1, true);
  if (a < 0) return;
  const m = c.store.arena;
  if (c.argc < 3) {
    if (a === 0) c.out.nullBulk();
    else {
      begin(m, a);
      const pos = randomPos(m, a);
      posMember(m, pos);
      c.out.bulk(m.u8, MS, MN);
    }
    return;
  }
  if (a === 0 || count === 0) {
    c.out.constant(R_EMPTY_ARRAY);
    return;
  }
  begin(m, a);
  const len = zsetLen(m, a);
  picked.length = 0;
  if (count < 0) {
    for (let i = 0; i < -count; i++) picked.push(randomPos(m, a));
  } else if (count >= len || isLp || count * 3 > len) {
    for (let pos = firstPos(m); pos !== 0; pos = nextPos(m, pos)) picked.push(pos);
    const n = Math.min(count, len);
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(Math.random() * (picked.length - i));
      const t = picked[j]!;
      picked[j] = picked[i]!;
      picked[i] = t;
    }
    picked.length = n;
  } else {
    const seen = new Set<number>();
    while (seen.size < count) seen.add(randomPos(m, a));
    for (const p of seen) picked.push(p);
  }
  replyPicked(c, m, withScores);
};

/** A random position of record `a` (begin() was called for it). */
function randomPos(m: Arena, a: number): number {
  if (!isLp) return ftRandom(m, P);
  return byRank(m, Math.floor(Math.random() * zsetLen(m, a)));
}

let scanned: number[] = [];

const zscan: Handler = (c) => {
  if (!parseScanArgs(c, 2)) return;
  const a = lookupZset(c, 1, true);
  if (a < 0) return;
  const out = c.out;
  if (a === 0) {
    out.arrayHeader(2);
    out.bulkInt(0);
    out.constant(R_EMPTY_ARRAY);
    return;
  }
  const m = c.store.arena;
  begin(m, a);
  scanned.length = 0;
  let next = 0;
  if (isLp) {
    for (let pos = firstPos(m); pos !== 0; pos = nextPos(m, pos)) scanned.push(pos);
  } else next = ftScan(m, P, scanOpts.cursor, scanOpts.count, scanned);
  let kept = 0;
  for (const pos of scanned) {
    posMember(m, pos);
    if (scanMatches(c, m.u8, MS, MN)) scanned[kept++] = pos;
  }
  scanned.length = kept;
  out.arrayHeader(2);
  out.bulkInt(next);
  out.arrayHeader(kept * 2);
  for (const pos of scanned) {
    posMember(m, pos);
    out.bulk(m.u8, MS, MN);
    out.bulkString(formatDouble17(posScore(m, pos)));
  }
  if (scanned.length > 65536) scanned = [];
};

/** Handlers by lower-case command name. */
export const zsetCommands: Record<string, Handler> = {
  zadd,
  zincrby,
  zrem,
  zcard,
  zscore,
  zmscore,
  zrank,
  zrevrank,
  zcount,
  zlexcount,
  zrange,
  zrangestore,
  zrevrange,
  zrangebyscore,
  zrevrangebyscore,
  zrangebylex,
  zrevrangebylex,
  zremrangebyrank,
  zremrangebyscore,
  zremrangebylex,
  zpopmin,
  zpopmax,
  bzpopmin,
  bzpopmax,
  zmpop: zmpopCmd,
  bzmpop,
  zunion,
  zinter,
  zdiff,
  zunionstore,
  zinterstore,
  zdiffstore,
  zintercard,
  zrandmember,
  zscan,
};
