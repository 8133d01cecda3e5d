/**
 * SORT and SORT_RO (Redis's sort.c) over lists, sets and sorted sets, with BY and GET patterns
 * read from string keys and hash fields. The elements are copied out of the arena, sorted by
 * index, then replied or stored as a list.
 *
 * Patterns may name keys on other shards; then the acceptor's coordinator runs the sort with
 * every shard held: `__sortelems` lists the elements, `__sortget` reads the pattern keys on each
 * shard, `__sortrun` sorts with those values provided, and `__sortstore` writes a destination
 * that lives on another shard.
 */
import type { Arena } from './arena.js';
import type { Ctx, Handler } from './context.js';
import { T_HASH, T_LIST, T_SET, T_STRING, T_ZSET, recType, recValLen, strBuf, strOff } from './record.js';
import { ES, EN } from './listpack.js';
import { qlCount, qlNext, qlSeek } from './quicklist.js';
import { ENC_QUICKLIST, storeTempCollection, tempCollection, valPtr } from './value.js';
import { MN as SMN, MS as SMS, iterInit, iterNext, setLen } from './t_set.js';
import { zsetLen, zsetWalk } from './t_zset.js';
import { listPush } from './t_list.js';
import { hashField, hashFound } from './t_hash.js';
import { hasStar, parseSortArgs, patternField, patternKey } from '../commands/sort-args.js';
import { copyBytes, isKeyword, parseSafeInt } from '../wire/bytes.js';
import { E_SORT_SCORE, E_WRONGTYPE } from '../wire/error-text.js';

// ---- The elements being sorted: copied bytes, their natural index, their sort keys. ----

let eb: Uint8Array = new Uint8Array(4096);
let ebLen = 0;
let eo = new Int32Array(128);
let el = new Int32Array(128);
/** Natural index of each element (its place in the collection's own order). */
let epos = new Int32Array(128);
let score = new Float64Array(128);
/** The BY value of each element for ALPHA sorts (offset in eb; length -1: none). */
let co = new Int32Array(128);
let cl = new Int32Array(128);
let count = 0;
/** The element indexes in output order, and the merge sort's scratch. */
let order = new Int32Array(128);
let tmp = new Int32Array(128);

function room(n: number): void {
  if (ebLen + n <= eb.length) return;
  const b = new Uint8Array(Math.max(eb.length * 2, ebLen + n));
  b.set(eb.subarray(0, ebLen));
  eb = b;
}

/** Copies bytes into eb; returns their offset. */
function keep(src: Uint8Array, s: number, n: number): number {
  room(n);
  copyBytes(eb, ebLen, src, s, n);
  const at = ebLen;
  ebLen += n;
  return at;
}

function growElements(): void {
  const n = eo.length * 2;
  order = new Int32Array(n);
  tmp = new Int32Array(n);
  const i32 = (o: Int32Array): Int32Array<ArrayBuffer> => {
    const x = new Int32Array(n);
    x.set(o);
    return x;
  };
  eo = i32(eo);
  el = i32(el);
  epos = i32(epos);
  co = i32(co);
  cl = i32(cl);
  const s = new Float64Array(n);
  s.set(score);
  score = s;
}

function addElement(src: Uint8Array, s: number, n: number, pos: number): void {
  if (count === eo.length) growElements();
  eo[count] = keep(src, s, n);
  el[count] = n;
  epos[count] = pos;
  score[count] = 0;
  cl[count] = -1;
  count++;
}

let walkPos = 0;
let walkStep = 1;
const addWalked = (u8: Uint8Array, ms: number, mn: number): void => {
  addElement(u8, ms, mn, walkPos);
  walkPos += walkStep;
};

/** Loads `n` list elements from natural index `from`, backwards when `rev`. */
function loadList(m: Arena, a: number, from: number, n: number, rev: boolean): void {
  const q = valPtr(m, a);
  if (!rev) {
    if (n === 0 || !qlSeek(m, q, from)) return;
    for (let i = 0; i < n; i++) {
      qlNext(m);
      addElement(m.u8, ES, EN, from + i);
    }
    return;
  }
  // Backwards: a quicklist walks forward only, so load the span and reverse its order.
  const first = count;
  const lo = from - n + 1;
  if (n === 0 || !qlSeek(m, q, lo)) return;
  for (let i = 0; i < n; i++) {
    qlNext(m);
    addElement(m.u8, ES, EN, lo + i);
  }
  reverseElements(first, count - 1);
}

function reverseElements(i: number, j: number): void {
  for (; i < j; i++, j--) {
    let t = eo[i]!;
    eo[i] = eo[j]!;
    eo[j] = t;
    t = el[i]!;
    el[i] = el[j]!;
    el[j] = t;
    t = epos[i]!;
    epos[i] = epos[j]!;
    epos[j] = t;
  }
}

/** Loads every element of the collection in its own order. */
function loadAll(m: Arena, a: number, type: number): void {
  if (type === T_LIST) loadList(m, a, 0, qlCount(m, valPtr(m, a)), false);
  else if (type === T_SET) {
    iterInit(m, a);
    for (let i = 0; iterNext(m); i++) addElement(m.u8, SMS, SMN, i);
  } else {
    walkPos = 0;
    walkStep = 1;
    zsetWalk(m, a, 0, zsetLen(m, a), false, addWalked);
  }
}

function collectionLen(m: Arena, a: number, type: number): number {
  if (type === T_LIST) return qlCount(m, valPtr(m, a));
  if (type === T_SET) return setLen(m, a);
  return zsetLen(m, a);
}

// ---- Pattern lookups. ----

let lk: Uint8Array = new Uint8Array(256);
/** The value found by lookupPattern. */
let VB: Uint8Array = eb;
let VS = 0;
let VN = 0;
/** Values given by the coordinator (`__sortrun`): first argument index, patterns per element; -1: read locally. */
let provBase = -1;
let provPer = 0;

/**
 * Redis's lookupKeyByPattern for element j and the pattern at argument `p` (its `slot` among
 * the command's patterns): "#" is the element itself, otherwise the string key or hash field
 * the pattern names; false when there is none (or it is not a string / hash).
 */
function lookupPattern(c: Ctx, p: number, slot: number, j: number): boolean {
  const s = c.as[p]!;
  const n = c.al[p]!;
  if (n === 1 && c.buf[s] === 35) {
    VB = eb;
    VS = eo[j]!;
    VN = el[j]!;
    return true;
  }
  if (!hasStar(c.buf, s, n)) return false;
  if (provBase >= 0) {
    const k = provBase + epos[j]! * provPer + slot;
    if (c.al[k] === 0 || c.buf[c.as[k]!] === 0) return false;
    VB = c.buf;
    VS = c.as[k]! + 1;
    VN = c.al[k]! - 1;
    return true;
  }
  const key = patternKey(c.buf, s, n, eb, eo[j]!, el[j]!, lk);
  lk = key[0];
  const m = c.store.arena;
  const a = c.store.lookupRead(c.db, lk, 0, key[1]);
  if (a === 0) return false;
  const f = patternField(c.buf, s, n);
  if (f >= 0) {
    if (recType(m, a) !== T_HASH || !hashField(m, a, c.buf, f, s + n - f)) return false;
    VB = m.u8;
    VS = hashFound.s;
    VN = hashFound.n;
    return true;
  }
  if (recType(m, a) !== T_STRING) return false;
  VB = strBuf(m, a);
  VS = strOff(m, a);
  VN = recValLen(m, a);
  return true;
}

// ---- Scores and comparison. ----

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const HEX = /^([+-]?)0[xX]([0-9a-fA-F]*)\.?([0-9a-fA-F]*)(?:[pP]([+-]?\d+))?$/;
const SPECIAL = /^[+-]?(inf|infinity|nan)$/i;

/** The score strtod reads from the whole of bytes [s, s+n) (leading spaces allowed), or NaN when Redis refuses it. */
export function sortScore(b: Uint8Array, s: number, n: number): number {
  const v = parseSafeInt(b, s, n);
  if (v !== null) return v;
  let t = '';
  for (let i = 0; i < n; i++) t += String.fromCharCode(b[s + i]!);
  t = t.replace(/^[ \t\n\v\f\r]+/, '');
  if (t === '') return n === 0 ? 0 : Number.NaN;
  let x: number;
  if (DECIMAL.test(t)) x = Number(t);
  else if (SPECIAL.test(t)) {
    if (/nan/i.test(t)) return Number.NaN;
    return t[0] === '-' ? -Infinity : Infinity;
  } else {
    const h = HEX.exec(t);
    if (h === null || h[2]! + h[3]! === '') return Number.NaN;
    x = Number.parseInt(h[2]! + h[3]! || '0', 16) * 2 ** (Number(h[4] ?? 0) - 4 * h[3]!.length);
    if (h[1] === '-') x = -x;
    return x;
  }
  // strtod's ERANGE: overflow to infinity, or underflow below the normal range.
  if (!Number.isFinite(x)) return Number.NaN;
  if (x !== 0 && Math.abs(x) < 2.2250738585072014e-308) return Number.NaN;
  if (x === 0 && /[1-9]/.test(t.replace(/[eE].*$/, ''))) return Number.NaN;
  return x;
}

/** Byte-wise comparison (memcmp, then length), as compareStringObjects and strcoll in the C locale. */
function cmpSpan(a: Uint8Array, as: number, an: number, b: Uint8Array, bs: number, bn: number): number {
  const n = an < bn ? an : bn;
  for (let i = 0; i < n; i++) {
    const d = a[as + i]! - b[bs + i]!;
    if (d !== 0) return d;
  }
  return an - bn;
}

let sortDesc = false;
let sortAlpha = false;
let sortBy = false;

const compare = (x: number, y: number): number => {
  let r = 0;
  if (!sortAlpha) {
    const sx = score[x]!;
    const sy = score[y]!;
    if (sx > sy) r = 1;
    else if (sx < sy) r = -1;
    else r = cmpSpan(eb, eo[x]!, el[x]!, eb, eo[y]!, el[y]!);
  } else if (sortBy) {
    const lx = cl[x]!;
    const ly = cl[y]!;
    if (lx < 0 || ly < 0) r = lx === ly ? 0 : lx < 0 ? -1 : 1;
    else r = cmpSpan(eb, co[x]!, lx, eb, co[y]!, ly);
  } else r = cmpSpan(eb, eo[x]!, el[x]!, eb, eo[y]!, el[y]!);
  return sortDesc ? -r : r;
};

/** Stable merge sort of order[lo, hi) by compare (insertion sort for short runs); no allocation. */
function mergeSort(lo: number, hi: number): void {
  if (hi - lo <= 12) {
    for (let i = lo + 1; i < hi; i++) {
      const x = order[i]!;
      let j = i - 1;
      while (j >= lo && compare(order[j]!, x) > 0) {
        order[j + 1] = order[j]!;
        j--;
      }
      order[j + 1] = x;
    }
    return;
  }
  const mid = (lo + hi) >>> 1;
  mergeSort(lo, mid);
  mergeSort(mid, hi);
  if (compare(order[mid - 1]!, order[mid]!) <= 0) return;
  for (let t = lo; t < mid; t++) tmp[t] = order[t]!;
  let i = lo;
  let j = mid;
  let k = lo;
  while (i < mid && j < hi) order[k++] = compare(tmp[i]!, order[j]!) <= 0 ? tmp[i++]! : order[j++]!;
  while (i < mid) order[k++] = tmp[i++]!;
}

// ---- The command. ----

/** Where a sort's output goes: the reply, a stored list, or (for a coordinator storing elsewhere) the reply with "" for missing values. */
const OUT_REPLY = 0;
const OUT_STORE = 1;
const OUT_REMOTE = 2;

/**
 * Runs SORT whose own arguments start at argument `b0` of the frame (0 for a client's SORT);
 * `remote` replies what a STORE would write, for the coordinator to store on another shard.
 */
function sortGeneric(c: Ctx, b0: number, remote: boolean): void {
  const as = b0 === 0 ? c.as : c.as.subarray(b0);
  const al = b0 === 0 ? c.al : c.al.subarray(b0);
  const readonly = isKeyword(c.buf, as[0]!, al[0]!, 'SORT_RO');
  const args = parseSortArgs(c.buf, as, al, c.argc - b0, readonly);
  if (args.error !== null) {
    c.out.error(args.error);
    return;
  }
  const m = c.store.arena;
  const a = c.store.lookupRead(c.db, c.buf, as[1]!, al[1]!);
  const type = a === 0 ? T_LIST : recType(m, a);
  if (type !== T_LIST && type !== T_SET && type !== T_ZSET) {
    c.out.error(E_WRONGTYPE);
    return;
  }
  const storeIdx = args.store === 0 ? 0 : args.store + b0;
  const mode = storeIdx === 0 ? OUT_REPLY : remote ? OUT_REMOTE : OUT_STORE;
  let dontsort = args.dontsort;
  let alpha = args.alpha;
  let by = args.by === 0 ? 0 : args.by + b0;
  // A set's order is the hash table's: stored or in a script (replicated as its effects) it must not depend on it.
  if (dontsort && type === T_SET && (storeIdx !== 0 || c.script)) {
    dontsort = false;
    alpha = true;
    by = 0;
  }
  let vectorlen = a === 0 ? 0 : collectionLen(m, a, type);
  let start = args.limitStart < 0 ? 0 : args.limitStart;
  let end = args.limitCount < 0 ? vectorlen - 1 : start + args.limitCount - 1;
  if (start >= vectorlen) {
    start = vectorlen - 1;
    end = vectorlen - 2;
  }
  if (end >= vectorlen) end = vectorlen - 1;
  if (type !== T_SET && dontsort && (start !== 0 || end !== vectorlen - 1)) vectorlen = end - start + 1;
  count = 0;
  ebLen = 0;
  if (a !== 0) {
    if (type === T_LIST && dontsort) {
      if (end >= start) {
        const len = qlCount(m, valPtr(m, a));
        loadList(m, a, args.desc ? len - start - 1 : start, vectorlen, args.desc);
        end -= start;
        start = 0;
      }
    } else if (type === T_ZSET && dontsort) {
      walkPos = args.desc ? zsetLen(m, a) - 1 - start : start;
      walkStep = args.desc ? -1 : 1;
      zsetWalk(m, a, start, vectorlen, args.desc, addWalked);
      end -= start;
      start = 0;
    } else loadAll(m, a, type);
  }
  let badScore = false;
  if (!dontsort) {
    const bySlot = by === 0 ? 0 : args.patterns.indexOf(by - b0);
    for (let j = 0; j < count; j++) {
      let vb = eb;
      let vs = eo[j]!;
      let vn = el[j]!;
      if (by !== 0) {
        if (!lookupPattern(c, by, bySlot, j)) continue;
        vb = VB;
        vs = VS;
        vn = VN;
      }
      if (alpha) {
        if (by !== 0) {
          co[j] = keep(vb, vs, vn);
          cl[j] = vn;
        }
      } else {
        const v = sortScore(vb, vs, vn);
        if (Number.isNaN(v)) badScore = true;
        else score[j] = v;
      }
    }
    sortDesc = args.desc;
    sortAlpha = alpha;
    sortBy = by !== 0;
    for (let j = 0; j < count; j++) order[j] = j;
    mergeSort(0, count);
  } else {
    for (let j = 0; j < count; j++) order[j] = j;
  }
  const gets = args.gets.length;
  const rows = end - start + 1;
  const outputLen = gets !== 0 ? gets * rows : rows;
  if (badScore) {
    c.out.error(E_SORT_SCORE);
    return;
  }
  // Each GET's argument and its place among the patterns (for values the coordinator provides).
  const getArg = gets === 0 ? NO_GETS : args.gets.map((g) => g + b0);
  const getSlot = gets === 0 ? NO_GETS : args.gets.map((g) => args.patterns.indexOf(g));
  if (mode !== OUT_STORE) {
    const out = c.out;
    out.arrayHeader(outputLen < 0 ? 0 : outputLen);
    for (let k = start; k <= end; k++) {
      const j = order[k]!;
      if (gets === 0) out.bulk(eb, eo[j]!, el[j]!);
      for (let g = 0; g < gets; g++) {
        if (lookupPattern(c, getArg[g]!, getSlot[g]!, j)) out.bulk(VB, VS, VN);
        else if (mode === OUT_REMOTE) out.bulk(eb, 0, 0);
        else out.nullBulk();
      }
    }
  } else {
    const t = tempCollection(m, T_LIST, ENC_QUICKLIST);
    for (let k = start; k <= end; k++) {
      const j = order[k]!;
      if (gets === 0) listPush(m, t, false, eb, eo[j]!, el[j]!);
      for (let g = 0; g < gets; g++) {
        if (lookupPattern(c, getArg[g]!, getSlot[g]!, j)) listPush(m, t, false, VB, VS, VN);
        else listPush(m, t, false, eb, 0, 0);
      }
    }
    storeTempCollection(c, storeIdx, t, outputLen <= 0);
    c.out.int(outputLen < 0 ? 0 : outputLen);
  }
  if (eb.length > 1 << 22) eb = new Uint8Array(4096);
}

const NO_GETS: number[] = [];

const sort: Handler = (c) => {
  provBase = -1;
  sortGeneric(c, 0, false);
};

/** `__sortelems <SORT args…>`: the elements in the collection's own order (after SORT's argument and type checks). */
const sortelems: Handler = (c) => {
  const args = parseSortArgs(c.buf, c.as.subarray(1), c.al.subarray(1), c.argc - 1, isKeyword(c.buf, c.as[1]!, c.al[1]!, 'SORT_RO'));
  if (args.error !== null) {
    c.out.error(args.error);
    return;
  }
  const m = c.store.arena;
  const a = c.lookupRead(2);
  if (a === 0) {
    c.out.arrayHeader(0);
    return;
  }
  const type = recType(m, a);
  if (type !== T_LIST && type !== T_SET && type !== T_ZSET) {
    c.out.error(E_WRONGTYPE);
    return;
  }
  count = 0;
  ebLen = 0;
  loadAll(m, a, type);
  c.out.arrayHeader(count);
  for (let j = 0; j < count; j++) c.out.bulk(eb, eo[j]!, el[j]!);
};

/**
 * `__sortrun <s|r> <n> <value>… <SORT args…>`: SORT with the pattern values given (n per
 * element and pattern, in __sortelems order; each a 0 byte for none or 1 then the value);
 * `r` replies what a STORE would write instead of storing it.
 */
const sortrun: Handler = (c) => {
  const n = c.int(2) ?? 0;
  const b0 = 3 + n;
  const args = parseSortArgs(c.buf, c.as.subarray(b0), c.al.subarray(b0), c.argc - b0, isKeyword(c.buf, c.as[b0]!, c.al[b0]!, 'SORT_RO'));
  provPer = args.patterns.length;
  provBase = n > 0 && provPer > 0 ? 3 : -1;
  sortGeneric(c, b0, c.al[1] === 1 && c.buf[c.as[1]!] === 114);
  provBase = -1;
};

/** `__sortget <key> <field|"">…`: each string value, or hash field when a field is named; null when missing or of another type. */
const sortget: Handler = (c) => {
  const m = c.store.arena;
  c.out.arrayHeader((c.argc - 1) >> 1);
  for (let i = 1; i + 1 < c.argc; i += 2) {
    const a = c.lookupRead(i);
    const fn = c.al[i + 1]!;
    if (a === 0) c.out.nullBulk();
    else if (fn > 0) {
      if (recType(m, a) === T_HASH && hashField(m, a, c.buf, c.as[i + 1]!, fn)) c.out.bulk(m.u8, hashFound.s, hashFound.n);
      else c.out.nullBulk();
    } else if (recType(m, a) === T_STRING) c.out.bulk(strBuf(m, a), strOff(m, a), recValLen(m, a));
    else c.out.nullBulk();
  }
};

/** `__sortstore <dst> <element>…`: SORT's STORE on the destination's shard (deleting it when there is nothing). */
const sortstore: Handler = (c) => {
  const m = c.store.arena;
  const t = tempCollection(m, T_LIST, ENC_QUICKLIST);
  for (let i = 2; i < c.argc; i++) listPush(m, t, false, c.buf, c.as[i]!, c.al[i]!);
  storeTempCollection(c, 1, t, c.argc === 2);
  c.out.int(c.argc - 2);
};

/** Handlers by lower-case command name. */
export const sortCommands: Record<string, Handler> = {
  sort,
  sort_ro: sort,
  __sortelems: sortelems,
  __sortrun: sortrun,
  __sortget: sortget,
  __sortstore: sortstore,
};
