/** Hash commands (Redis's t_hash.c): a listpack of field/value pairs, a field table past the thresholds. */
import type { Arena } from './arena.js';
import type { Ctx, Handler } from './context.js';
import { T_HASH } from './record.js';
import { ES, EN, lpCount, lpStart, lpDecode, lpDelete, lpEnd, lpFind, lpFree, lpInsert, lpReplace } from './listpack.js';
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
  ftReplaceFound,
  ftScan,
  ftSlot,
} from './field-table.js';
import {
  ENC_HT,
  ENC_LISTPACK,
  createCollection,
  deleteKey,
  entSize,
  lookupTyped,
  newCompact,
  parseRandomCount,
  parseScanArgs,
  scanMatches,
  scanOpts,
  setPtr,
  setVal,
  valEnc,
  valPtr,
  wrongArgs,
} from './value.js';
import { dtConfig } from './dt-config.js';
import {
  E_HASH_NOT_FLOAT,
  E_HASH_NOT_INT,
  E_INCR_NAN,
  E_NAN_OR_INFINITY,
  E_NOT_FLOAT,
  E_NOT_INT,
  E_OVERFLOW,
  E_SYNTAX,
} from '../wire/error-text.js';
import { R_EMPTY_ARRAY, R_OK, writeDigits } from '../wire/resp-writer.js';
import { LD_ZERO, type LongDouble, addLongDouble, formatLongDoubleHuman, isInfinite, parseLongDoubleBytes } from './long-double.js';
import { copyBytes, parseI64 } from '../wire/bytes.js';

/** Value span found by the last hFind. */
let VS = 0;
let VN = 0;

/** Field count of a hash record. */
export function hashLen(m: Arena, a: number): number {
  const p = valPtr(m, a);
  return valEnc(m, a) === ENC_LISTPACK ? lpCount(m, p) / 2 : ftCount(m, p);
}

function hFind(m: Arena, a: number, buf: Uint8Array, s: number, n: number): boolean {
  const p = valPtr(m, a);
  if (valEnc(m, a) === ENC_LISTPACK) {
    const off = lpFind(m, p, buf, s, n, 2);
    if (off < 0) return false;
    lpDecode(m.u8, lpDecode(m.u8, p + off));
    VS = ES;
    VN = EN;
    return true;
  }
  const e = ftFind(m, p, buf, s, n, ftHash(buf, s, n));
  if (e === 0) return false;
  VS = entKey(m, e) + n;
  VN = m.u32[(e + 12) >>> 2]!;
  return true;
}

/** The value span of the field found by hashField (arena bytes, valid until the next write). */
export const hashFound = { s: 0, n: 0 };

/** Whether hash record `a` has the field; its value span goes to hashFound (SORT's "->field" patterns). */
export function hashField(m: Arena, a: number, buf: Uint8Array, s: number, n: number): boolean {
  if (!hFind(m, a, buf, s, n)) return false;
  hashFound.s = VS;
  hashFound.n = VN;
  return true;
}

function toTable(m: Arena, a: number): void {
  const p = valPtr(m, a);
  const h = m.alloc(FT_HEADER);
  ftInit(m, h, lpCount(m, p) / 2 + 1);
  let x = p + lpStart(m, p);
  const end = p + lpEnd(m, p);
  while (x < end) {
    x = lpDecode(m.u8, x);
    const fs = ES;
    const fn = EN;
    x = lpDecode(m.u8, x);
    const vs = ES;
    const vn = EN;
    const d = m.alloc(16 + fn + vn);
    entHeader(m, d, 16, ftHash(m.u8, fs, fn), fn);
    m.u32[(d + 12) >>> 2] = vn;
    m.u8.copyWithin(d + 16, fs, fs + fn);
    m.u8.copyWithin(d + 16 + fn, vs, vs + vn);
    ftInsert(m, h, d);
  }
  lpFree(m, p);
  setVal(m, a, ENC_HT, h);
}

/** Sets a field (bytes not in the arena); 1 when it was new, 0 when updated. */
export function hashSet(m: Arena, a: number, fb: Uint8Array, fs: number, fn: number, vb: Uint8Array, vs: number, vn: number): number {
  if (valEnc(m, a) === ENC_LISTPACK) {
    if (fn > dtConfig.hashMaxListpackValue || vn > dtConfig.hashMaxListpackValue) toTable(m, a);
    else {
      const p = valPtr(m, a);
      const off = lpFind(m, p, fb, fs, fn, 2);
      if (off >= 0) {
        const q = lpReplace(m, p, lpDecode(m.u8, p + off) - p, vb, vs, vn);
        if (q !== p) setPtr(m, a, q);
        return 0;
      }
      if (lpCount(m, p) / 2 + 1 > dtConfig.hashMaxListpackEntries) toTable(m, a);
      else {
        let q = lpInsert(m, p, lpEnd(m, p), fb, fs, fn);
        q = lpInsert(m, q, lpEnd(m, q), vb, vs, vn);
        if (q !== p) setPtr(m, a, q);
        return 1;
      }
    }
  }
  const h = valPtr(m, a);
  const hv = ftHash(fb, fs, fn);
  const e = ftFind(m, h, fb, fs, fn, hv);
  const size = 16 + fn + vn;
  if (e !== 0) {
    const old = 16 + fn + m.u32[(e + 12) >>> 2]!;
    if (m.sameClass(old, size)) {
      m.u32[(e + 12) >>> 2] = vn;
      copyBytes(m.u8, e + 16 + fn, vb, vs, vn);
      return 0;
    }
    const d = m.alloc(size);
    m.u8.copyWithin(d, e, e + 16 + fn);
    m.u32[(d + 12) >>> 2] = vn;
    copyBytes(m.u8, d + 16 + fn, vb, vs, vn);
    ftReplaceFound(m, h, d);
    m.free(e, old);
    return 0;
  }
  const d = m.alloc(size);
  entHeader(m, d, 16, hv, fn);
  m.u32[(d + 12) >>> 2] = vn;
  copyBytes(m.u8, d + 16, fb, fs, fn);
  copyBytes(m.u8, d + 16 + fn, vb, vs, vn);
  ftInsert(m, h, d);
  return 1;
}

function hDel(m: Arena, a: number, buf: Uint8Array, s: number, n: number): boolean {
  const p = valPtr(m, a);
  if (valEnc(m, a) === ENC_LISTPACK) {
    const off = lpFind(m, p, buf, s, n, 2);
    if (off < 0) return false;
    lpDelete(m, p, off, 2);
    return true;
  }
  const e = ftFind(m, p, buf, s, n, ftHash(buf, s, n));
  if (e === 0) return false;
  ftRemoveFound(m, p);
  m.free(e, entSize(m, e));
  return true;
}

/** Creates an empty hash for key argument `i` (after a lookup returned 0). */
export function createHash(c: Ctx, i: number): number {
  const m = c.store.arena;
  return createCollection(c.store, c.db, c.buf, c.as[i]!, c.al[i]!, T_HASH, ENC_LISTPACK, newCompact(m, T_HASH));
}

function setGeneric(c: Ctx, replyOk: boolean): void {
  if ((c.argc & 1) !== 0) {
    wrongArgs(c);
    return;
  }
  let a = lookupTyped(c, 1, T_HASH, false);
  if (a < 0) return;
  if (a === 0) a = createHash(c, 1);
  const m = c.store.arena;
  let added = 0;
  for (let i = 2; i < c.argc; i += 2) added += hashSet(m, a, c.buf, c.as[i]!, c.al[i]!, c.buf, c.as[i + 1]!, c.al[i + 1]!);
  if (replyOk) c.out.constant(R_OK);
  else c.out.int(added);
}

const hset: Handler = (c) => setGeneric(c, false);
const hmset: Handler = (c) => setGeneric(c, true);

const hsetnx: Handler = (c) => {
  let a = lookupTyped(c, 1, T_HASH, false);
  if (a < 0) return;
  const m = c.store.arena;
  if (a !== 0 && hFind(m, a, c.buf, c.as[2]!, c.al[2]!)) {
    c.out.int(0);
    return;
  }
  if (a === 0) a = createHash(c, 1);
  hashSet(m, a, c.buf, c.as[2]!, c.al[2]!, c.buf, c.as[3]!, c.al[3]!);
  c.out.int(1);
};

const hget: Handler = (c) => {
  const a = lookupTyped(c, 1, T_HASH, true);
  if (a < 0) return;
  const m = c.store.arena;
  if (a !== 0 && hFind(m, a, c.buf, c.as[2]!, c.al[2]!)) c.out.bulk(m.u8, VS, VN);
  else c.out.nullBulk();
};

const hmget: Handler = (c) => {
  const a = lookupTyped(c, 1, T_HASH, true);
  if (a < 0) return;
  const m = c.store.arena;
  c.out.arrayHeader(c.argc - 2);
  for (let i = 2; i < c.argc; i++) {
    if (a !== 0 && hFind(m, a, c.buf, c.as[i]!, c.al[i]!)) c.out.bulk(m.u8, VS, VN);
    else c.out.nullBulk();
  }
};

const hdel: Handler = (c) => {
  const a = lookupTyped(c, 1, T_HASH, false);
  if (a <= 0) {
    if (a === 0) c.out.int(0);
    return;
  }
  const m = c.store.arena;
  let n = 0;
  for (let i = 2; i < c.argc; i++) {
    if (hDel(m, a, c.buf, c.as[i]!, c.al[i]!)) n++;
    if (hashLen(m, a) === 0) {
      deleteKey(c, 1);
      break;
    }
  }
  c.out.int(n);
};

const hexists: Handler = (c) => {
  const a = lookupTyped(c, 1, T_HASH, true);
  if (a < 0) return;
  c.out.int(a !== 0 && hFind(c.store.arena, a, c.buf, c.as[2]!, c.al[2]!) ? 1 : 0);
};

const hlen: Handler = (c) => {
  const a = lookupTyped(c, 1, T_HASH, true);
  if (a < 0) return;
  c.out.int(a === 0 ? 0 : hashLen(c.store.arena, a));
};

const hstrlen: Handler = (c) => {
  const a = lookupTyped(c, 1, T_HASH, true);
  if (a < 0) return;
  c.out.int(a !== 0 && hFind(c.store.arena, a, c.buf, c.as[2]!, c.al[2]!) ? VN : 0);
};

const KEYS = 1;
const VALS = 2;

/** Replies every field and/or value (1 keys, 2 values, 3 a map of both). */
function replyAll(c: Ctx, what: number): void {
  const a = lookupTyped(c, 1, T_HASH, true);
  if (a < 0) return;
  const out = c.out;
  if (a === 0) {
    if (what === (KEYS | VALS)) out.mapHeader(0);
    else out.constant(R_EMPTY_ARRAY);
    return;
  }
  const m = c.store.arena;
  const n = hashLen(m, a);
  if (what === (KEYS | VALS)) out.mapHeader(n);
  else out.arrayHeader(n);
  const p = valPtr(m, a);
  if (valEnc(m, a) === ENC_LISTPACK) {
    let x = p + lpStart(m, p);
    const end = p + lpEnd(m, p);
    while (x < end) {
      x = lpDecode(m.u8, x);
      if (what & KEYS) out.bulk(m.u8, ES, EN);
      x = lpDecode(m.u8, x);
      if (what & VALS) out.bulk(m.u8, ES, EN);
    }
    return;
  }
  const cap = ftCap(m, p);
  for (let i = 0; i < cap; i++) {
    const e = ftSlot(m, p, i);
    if (e === 0) continue;
    const k = entKey(m, e);
    const kn = entKeyLen(m, e);
    if (what & KEYS) out.bulk(m.u8, k, kn);
    if (what & VALS) out.bulk(m.u8, k + kn, m.u32[(e + 12) >>> 2]!);
  }
}

const hkeys: Handler = (c) => replyAll(c, KEYS);
const hvals: Handler = (c) => replyAll(c, VALS);
const hgetall: Handler = (c) => replyAll(c, KEYS | VALS);

const I64_MAX = 9223372036854775807n;
const I64_MIN = -9223372036854775808n;
/** HINCRBY's result digits (a 64-bit integer fits). */
const digits = Buffer.alloc(24);

const hincrby: Handler = (c) => {
  const incr = c.i64(3);
  if (incr === null) {
    c.out.error(E_NOT_INT);
    return;
  }
  let a = lookupTyped(c, 1, T_HASH, false);
  if (a < 0) return;
  const m = c.store.arena;
  let cur: number | bigint = 0;
  if (a !== 0 && hFind(m, a, c.buf, c.as[2]!, c.al[2]!)) {
    const v = parseI64(m.u8, VS, VN);
    if (v === null) {
      c.out.error(E_HASH_NOT_INT);
      return;
    }
    cur = v;
  }
  let res: number | bigint;
  if (typeof cur === 'number' && typeof incr === 'number' && Number.isSafeInteger(cur + incr)) res = cur + incr;
  else {
    const r = BigInt(cur) + BigInt(incr);
    if (r > I64_MAX || r < I64_MIN) {
      c.out.error(E_OVERFLOW);
      return;
    }
    res = r;
  }
  if (a === 0) a = createHash(c, 1);
  const n = typeof res === 'number' ? writeDigits(digits, 0, res) : digits.write(String(res), 0, 'latin1');
  hashSet(m, a, c.buf, c.as[2]!, c.al[2]!, digits, 0, n);
  if (typeof res === 'number') c.out.int(res);
  else c.out.ascii(`:${res}\r\n`);
};

/** HINCRBYFLOAT computes in x87 long double and prints %.17Lf, as Redis does (see long-double.ts). */
const hincrbyfloat: Handler = (c) => {
  const incr = parseLongDoubleBytes(c.buf, c.as[3]!, c.al[3]!);
  if (incr === null || isInfinite(incr)) {
    c.out.error(incr === null ? E_NOT_FLOAT : E_NAN_OR_INFINITY);
    return;
  }
  let a = lookupTyped(c, 1, T_HASH, false);
  if (a < 0) return;
  const m = c.store.arena;
  let cur: LongDouble = LD_ZERO;
  if (a !== 0 && hFind(m, a, c.buf, c.as[2]!, c.al[2]!)) {
    const v = parseLongDoubleBytes(m.u8, VS, VN);
    if (v === null) {
      c.out.error(E_HASH_NOT_FLOAT);
      return;
    }
    cur = v;
  }
  const res = addLongDouble(cur, incr);
  if (isInfinite(res)) {
    c.out.error(E_INCR_NAN);
    return;
  }
  if (a === 0) a = createHash(c, 1);
  const s = Buffer.from(formatLongDoubleHuman(res), 'latin1');
  hashSet(m, a, c.buf, c.as[2]!, c.al[2]!, s, 0, s.length);
  c.out.bulk(s, 0, s.length);
};

/** Entry addresses (table) or field offsets (listpack) gathered for HRANDFIELD. */
let picks: number[] = [];

/** Collects every field position of a hash into `picks`. */
function allPositions(m: Arena, a: number): void {
  picks.length = 0;
  const p = valPtr(m, a);
  if (valEnc(m, a) === ENC_LISTPACK) {
    let x = p + lpStart(m, p);
    const end = p + lpEnd(m, p);
    while (x < end) {
      picks.push(x);
      x = lpDecode(m.u8, lpDecode(m.u8, x));
    }
  } else {
    const cap = ftCap(m, p);
    for (let i = 0; i < cap; i++) {
      const e = ftSlot(m, p, i);
      if (e !== 0) picks.push(e);
    }
  }
}

/** Writes the field (and value) at a position collected by allPositions or ftRandom. */
function replyPick(c: Ctx, m: Arena, lp: boolean, pos: number, withValues: boolean, nested = true): void {
  if (withValues && nested && c.out.proto === 3) c.out.arrayHeader(2);
  if (lp) {
    const v = lpDecode(m.u8, pos);
    c.out.bulk(m.u8, ES, EN);
    if (withValues) {
      lpDecode(m.u8, v);
      c.out.bulk(m.u8, ES, EN);
    }
  } else {
    const k = entKey(m, pos);
    const kn = entKeyLen(m, pos);
    c.out.bulk(m.u8, k, kn);
    if (withValues) c.out.bulk(m.u8, k + kn, m.u32[(pos + 12) >>> 2]!);
  }
}

const hrandfield: Handler = (c) => {
  let count = 0;
  let withValues = false;
  if (c.argc >= 3) {
    const v = parseRandomCount(c, 2, c.argc === 4 && c.is(3, 'WITHVALUES'));
    if (v === null) return;
    count = v;
    if (c.argc === 4 && c.is(3, 'WITHVALUES')) withValues = true;
    else if (c.argc > 3) {
      c.out.error(E_SYNTAX);
      return;
    }
  }
  const a = lookupTyped(c, 1, T_HASH, true);
  if (a < 0) return;
  const m = c.store.arena;
  if (c.argc < 3) {
    if (a === 0) c.out.nullBulk();
    else {
      const lp = valEnc(m, a) === ENC_LISTPACK;
      if (lp) {
        allPositions(m, a);
        replyPick(c, m, true, picks[Math.floor(Math.random() * picks.length)]!, false);
      } else replyPick(c, m, false, ftRandom(m, valPtr(m, a)), false);
    }
    return;
  }
  if (a === 0 || count === 0) {
    c.out.constant(R_EMPTY_ARRAY);
    return;
  }
  const lp = valEnc(m, a) === ENC_LISTPACK;
  const len = hashLen(m, a);
  const flat = withValues && c.out.proto === 2 ? 2 : 1;
  if (count < 0) {
    const n = -count;
    c.out.arrayHeader(n * flat);
    if (lp) allPositions(m, a);
    for (let i = 0; i < n; i++) {
      const pos = lp ? picks[Math.floor(Math.random() * picks.length)]! : ftRandom(m, valPtr(m, a));
      replyPick(c, m, lp, pos, withValues);
    }
    return;
  }
  const n = Math.min(count, len);
  c.out.arrayHeader(n * flat);
  if (lp || n * 3 > len) {
    allPositions(m, a);
    for (let i = 0; i < n; i++) {
      const j = i + Math.floor(Math.random() * (picks.length - i));
      const t = picks[j]!;
      picks[j] = picks[i]!;
      replyPick(c, m, lp, t, withValues);
    }
  } else {
    const seen = new Set<number>();
    while (seen.size < n) {
      const e = ftRandom(m, valPtr(m, a));
      if (seen.has(e)) continue;
      seen.add(e);
      replyPick(c, m, false, e, withValues);
    }
  }
  if (picks.length > 65536) picks = [];
};

let scanned: number[] = [];

const hscan: Handler = (c) => {
  if (!parseScanArgs(c, 2)) return;
  const a = lookupTyped(c, 1, T_HASH, true);
  if (a < 0) return;
  const out = c.out;
  if (a === 0) {
    out.arrayHeader(2);
    out.bulkInt(0);
    out.constant(R_EMPTY_ARRAY);
    return;
  }
  const m = c.store.arena;
  const p = valPtr(m, a);
  scanned.length = 0;
  let next = 0;
  if (valEnc(m, a) === ENC_LISTPACK) {
    let x = p + lpStart(m, p);
    const end = p + lpEnd(m, p);
    while (x < end) {
      const f = x;
      x = lpDecode(m.u8, x);
      if (scanMatches(c, m.u8, ES, EN)) scanned.push(f);
      x = lpDecode(m.u8, x);
    }
  } else {
    next = ftScan(m, p, scanOpts.cursor, scanOpts.count, scanned);
    let kept = 0;
    for (const e of scanned) if (scanMatches(c, m.u8, entKey(m, e), entKeyLen(m, e))) scanned[kept++] = e;
    scanned.length = kept;
  }
  out.arrayHeader(2);
  out.bulkInt(next);
  out.arrayHeader(scanned.length * 2);
  const lp = valEnc(m, a) === ENC_LISTPACK;
  for (const pos of scanned) replyPick(c, m, lp, pos, true, false);
  if (scanned.length > 65536) scanned = [];
};

/** Handlers by lower-case command name. */
export const hashCommands: Record<string, Handler> = {
  hset,
  hmset,
  hsetnx,
  hget,
  hmget,
  hdel,
  hexists,
  hlen,
  hstrlen,
  hkeys,
  hvals,
  hgetall,
  hincrby,
  hincrbyfloat,
  hrandfield,
  hscan,
};
