/** String commands (Redis's t_string.c): GET/SET family, counters, ranges. */
import type { Ctx, Handler } from './context.js';
import { T_STRING, recType, recValLen, strBuf, strOff } from './record.js';
import {
  E_DECR_OVERFLOW,
  E_INCR_NAN,
  E_LCS_LEN_AND_IDX,
  E_LCS_NOT_STRINGS,
  E_LCS_TOO_BIG,
  E_NOT_FLOAT,
  E_NOT_INT,
  E_OFFSET_RANGE,
  E_OVERFLOW,
  E_SYNTAX,
  E_TOO_BIG,
  E_WRONGTYPE,
  wrongArityError,
} from '../wire/error-text.js';
import { setExpireAt } from './expire-args.js';
import { R_OK, writeDigits } from '../wire/resp-writer.js';
import { LD_ZERO, type LongDouble, addLongDouble, formatLongDoubleHuman, isInfinite, parseLongDoubleBytes } from './long-double.js';
import { parseI64 } from '../wire/bytes.js';
import { dropped } from '../reclaim.js';

const I64_MAX = 9223372036854775807n;
const I64_MIN = -9223372036854775808n;
/** Longest string INCR may read: a 64-bit integer's digits and sign. */
const MAX_INT_DIGITS = 20;

let scratch = new Uint8Array(256);
/** Largest scratch kept between commands; a bigger APPEND or SETRANGE gets a buffer of its own. */
const SCRATCH_KEEP = 1 << 20;
function scratchOf(n: number): Uint8Array {
  if (n > SCRATCH_KEEP) {
    dropped(n);
    return new Uint8Array(n);
  }
  if (scratch.length < n) scratch = new Uint8Array(Math.max(n, scratch.length * 2));
  return scratch;
}

/** Looks up key argument 1 as a string for reading; when missing or of another type, replies null or WRONGTYPE and returns 0. */
function readString(c: Ctx): number {
  const a = c.lookupRead(1);
  if (a === 0) c.out.nullBulk();
  else if (recType(c.store.arena, a) !== T_STRING) {
    c.out.error(E_WRONGTYPE);
    return 0;
  }
  return a;
}

/** Replies the value of the string record `a`. */
function replyValue(c: Ctx, a: number): void {
  const m = c.store.arena;
  c.out.bulk(strBuf(m, a), strOff(m, a), recValLen(m, a));
}

const get: Handler = (c) => {
  const a = readString(c);
  if (a !== 0) replyValue(c, a);
};

// Bits of the options SET and GETEX parse.
const O_NX = 1;
const O_XX = 2;
const O_GET = 4;
const O_KEEPTTL = 8;
const O_PERSIST = 16;
const O_EX = 32;
const O_PX = 64;
const O_EXAT = 128;
const O_PXAT = 256;
const O_EXPIRE = O_EX | O_PX | O_EXAT | O_PXAT;

/** Argument index of the expire value parsed by parseExpireOptions (0 = none). */
let expireArg = 0;

/**
 * Parses SET/GETEX options from argument `from` (Redis's parseExtendedStringArgumentsOrReply):
 * syntax only, the expire value is checked later by resolveExpire. An option may repeat, but
 * not combine with one it conflicts with. Returns the option bits, or -1 after replying an error.
 */
function parseExpireOptions(c: Ctx, from: number, isSet: boolean): number {
  let flags = 0;
  expireArg = 0;
  for (let i = from; i < c.argc; i++) {
    const last = i === c.argc - 1;
    const unit = c.is(i, 'EX') ? O_EX : c.is(i, 'PX') ? O_PX : c.is(i, 'EXAT') ? O_EXAT : c.is(i, 'PXAT') ? O_PXAT : 0;
    if (isSet && c.is(i, 'NX') && !(flags & O_XX)) flags |= O_NX;
    else if (isSet && c.is(i, 'XX') && !(flags & O_NX)) flags |= O_XX;
    else if (isSet && c.is(i, 'GET')) flags |= O_GET;
    else if (isSet && c.is(i, 'KEEPTTL') && !(flags & (O_EXPIRE | O_PERSIST))) flags |= O_KEEPTTL;
    else if (!isSet && c.is(i, 'PERSIST') && !(flags & (O_EXPIRE | O_KEEPTTL))) flags |= O_PERSIST;
    else if (unit !== 0 && !last && !(flags & ((O_EXPIRE & ~unit) | O_KEEPTTL | O_PERSIST))) {
      flags = (flags & ~O_EXPIRE) | unit;
      expireArg = ++i;
    } else {
      c.out.error(E_SYNTAX);
      return -1;
    }
  }
  return flags;
}

/** The absolute expiry the parsed options ask for (0 = none), or -1 after replying the error. */
function resolveExpire(c: Ctx, flags: number): number {
  if (expireArg === 0) return 0;
  return setExpireAt(c, expireArg, (flags & (O_EX | O_EXAT)) !== 0, (flags & (O_EX | O_PX)) !== 0);
}

const set: Handler = (c) => {
  const flags = parseExpireOptions(c, 3, true);
  if (flags < 0) return;
  const expireAt = resolveExpire(c, flags);
  if (expireAt < 0) return;
  const m = c.store.arena;
  // Plain SET needs no prior lookup: setString finds and replaces the key itself.
  const a = flags & (O_NX | O_XX | O_GET) ? c.lookup(1) : 0;
  if (flags & O_GET) {
    if (a !== 0 && recType(m, a) !== T_STRING) {
      c.out.error(E_WRONGTYPE);
      return;
    }
    if (a === 0) c.out.nullBulk();
    else c.out.bulk(strBuf(m, a), strOff(m, a), recValLen(m, a));
  }
  if ((flags & O_NX && a !== 0) || (flags & O_XX && a === 0)) {
    if (!(flags & O_GET)) c.out.nullBulk();
    return;
  }
  const exp = flags & O_KEEPTTL ? -1 : expireAt;
  if (exp > 0 && exp <= c.store.now) {
    // An expiry already in the past: the key ends up deleted, as in Redis.
    c.store.del(c.db, c.buf, c.as[1]!, c.al[1]!);
  } else {
    c.store.setString(c.db, c.buf, c.as[1]!, c.al[1]!, c.buf, c.as[2]!, c.al[2]!, exp);
  }
  if (!(flags & O_GET)) c.out.constant(R_OK);
};

const setnx: Handler = (c) => {
  if (c.lookup(1) !== 0) {
    c.out.int(0);
    return;
  }
  c.store.setString(c.db, c.buf, c.as[1]!, c.al[1]!, c.buf, c.as[2]!, c.al[2]!, 0);
  c.out.int(1);
};

/** SETEX/PSETEX: the TTL is argument 2, in seconds or milliseconds. */
function setWithTtl(seconds: boolean): Handler {
  return (c) => {
    const at = setExpireAt(c, 2, seconds, true);
    if (at < 0) return;
    c.store.setString(c.db, c.buf, c.as[1]!, c.al[1]!, c.buf, c.as[3]!, c.al[3]!, at);
    c.out.constant(R_OK);
  };
}

const getex: Handler = (c) => {
  const flags = parseExpireOptions(c, 2, false);
  if (flags < 0) return;
  const a = readString(c);
  if (a === 0) return;
  // Redis checks the expire value only once the key is known to exist.
  const at = resolveExpire(c, flags);
  if (at < 0) return;
  replyValue(c, a);
  if (flags & O_PERSIST) c.store.setExpire(c.db, a, 0);
  else if (at > 0) {
    if (at <= c.store.now) c.store.removeFound(c.db, a);
    else c.store.setExpire(c.db, a, at);
  }
};

const getset: Handler = (c) => {
  const a = c.lookup(1);
  if (a === 0) c.out.nullBulk();
  else if (recType(c.store.arena, a) !== T_STRING) {
    c.out.error(E_WRONGTYPE);
    return;
  } else replyValue(c, a);
  // A plain SET: the new value drops any TTL the old one had.
  c.store.setString(c.db, c.buf, c.as[1]!, c.al[1]!, c.buf, c.as[2]!, c.al[2]!, 0);
};

const getdel: Handler = (c) => {
  const a = readString(c);
  if (a === 0) return;
  replyValue(c, a);
  c.store.removeFound(c.db, a);
};

const mget: Handler = (c) => {
  const m = c.store.arena;
  c.out.arrayHeader(c.argc - 1);
  for (let i = 1; i < c.argc; i++) {
    const a = c.lookupRead(i);
    if (a === 0 || recType(m, a) !== T_STRING) c.out.nullBulk();
    else c.out.bulk(strBuf(m, a), strOff(m, a), recValLen(m, a));
  }
};

const mset: Handler = (c) => {
  if ((c.argc & 1) === 0) {
    c.out.error(wrongArityError(c.name));
    return;
  }
  for (let i = 1; i < c.argc; i += 2) c.store.setString(c.db, c.buf, c.as[i]!, c.al[i]!, c.buf, c.as[i + 1]!, c.al[i + 1]!, 0);
  c.out.constant(R_OK);
};

const msetnx: Handler = (c) => {
  if ((c.argc & 1) === 0) {
    c.out.error(wrongArityError(c.name));
    return;
  }
  for (let i = 1; i < c.argc; i += 2) {
    if (c.lookup(i) !== 0) {
      c.out.int(0);
      return;
    }
  }
  for (let i = 1; i < c.argc; i += 2) c.store.setString(c.db, c.buf, c.as[i]!, c.al[i]!, c.buf, c.as[i + 1]!, c.al[i + 1]!, 0);
  c.out.int(1);
};

/** Writes the decimal digits of `v` into scratch; returns the length. */
function formatInt(v: number | bigint): number {
  if (typeof v === 'number') return writeDigits(scratchOf(24), 0, v);
  const s = String(v);
  const b = scratchOf(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  return s.length;
}

/** INCR/DECR/INCRBY/DECRBY core: adds `delta` (number or bigint) to the integer at key arg 1. */
function incrBy(c: Ctx, delta: number | bigint): void {
  const m = c.store.arena;
  const a = c.lookup(1);
  let cur: number | bigint = 0;
  if (a !== 0) {
    if (recType(m, a) !== T_STRING) {
      c.out.error(E_WRONGTYPE);
      return;
    }
    const vl = recValLen(m, a);
    const v = vl <= MAX_INT_DIGITS ? parseI64(strBuf(m, a), strOff(m, a), vl) : null;
    if (v === null) {
      c.out.error(E_NOT_INT);
      return;
    }
    cur = v;
  }
  let next: number | bigint;
  if (typeof cur === 'number' && typeof delta === 'number') {
    next = cur + delta;
    if (!Number.isSafeInteger(next)) next = BigInt(cur) + BigInt(delta);
  } else {
    next = BigInt(cur) + BigInt(delta);
  }
  if (typeof next === 'bigint') {
    if (next > I64_MAX || next < I64_MIN) {
      c.out.error(E_OVERFLOW);
      return;
    }
  }
  const n = formatInt(next);
  c.store.setString(c.db, c.buf, c.as[1]!, c.al[1]!, scratch, 0, n, -1);
  if (typeof next === 'number') c.out.int(next);
  else c.out.ascii(`:${next}\r\n`);
}

const incr: Handler = (c) => incrBy(c, 1);
const decr: Handler = (c) => incrBy(c, -1);
const incrby: Handler = (c) => {
  const d = c.i64(2);
  if (d === null) c.out.error(E_NOT_INT);
  else incrBy(c, d);
};
const decrby: Handler = (c) => {
  const d = c.i64(2);
  if (d === null) c.out.error(E_NOT_INT);
  else if (d === I64_MIN) c.out.error(E_DECR_OVERFLOW);
  else incrBy(c, -d);
};

const incrbyfloat: Handler = (c) => {
  const m = c.store.arena;
  const incr = parseLongDoubleBytes(c.buf, c.as[2]!, c.al[2]!);
  if (incr === null) {
    c.out.error(E_NOT_FLOAT);
    return;
  }
  const a = c.lookup(1);
  let cur: LongDouble | null = LD_ZERO;
  if (a !== 0) {
    if (recType(m, a) !== T_STRING) {
      c.out.error(E_WRONGTYPE);
      return;
    }
    cur = parseLongDoubleBytes(strBuf(m, a), strOff(m, a), recValLen(m, a));
    if (cur === null) {
      c.out.error(E_NOT_FLOAT);
      return;
    }
  }
  const next = addLongDouble(cur, incr);
  if (isInfinite(next)) {
    c.out.error(E_INCR_NAN);
    return;
  }
  const s = formatLongDoubleHuman(next);
  const b = scratchOf(s.length);
  for (let i = 0; i < s.length; i++) b[i] = s.charCodeAt(i);
  c.store.setString(c.db, c.buf, c.as[1]!, c.al[1]!, b, 0, s.length, -1);
  c.out.bulk(b, 0, s.length);
};

const append: Handler = (c) => {
  const m = c.store.arena;
  const a = c.lookup(1);
  const addLen = c.al[2]!;
  if (a === 0) {
    c.store.setString(c.db, c.buf, c.as[1]!, c.al[1]!, c.buf, c.as[2]!, addLen, 0);
    c.out.int(addLen);
    return;
  }
  if (recType(m, a) !== T_STRING) {
    c.out.error(E_WRONGTYPE);
    return;
  }
  const oldLen = recValLen(m, a);
  const total = oldLen + addLen;
  if (total > c.limits.maxBulkLen) {
    c.out.error(E_TOO_BIG);
    return;
  }
  const b = scratchOf(total);
  b.set(strBuf(m, a).subarray(strOff(m, a), strOff(m, a) + oldLen), 0);
  b.set(c.buf.subarray(c.as[2]!, c.as[2]! + addLen), oldLen);
  c.store.setString(c.db, c.buf, c.as[1]!, c.al[1]!, b, 0, total, -1);
  c.out.int(total);
};

const strlen: Handler = (c) => {
  const m = c.store.arena;
  const a = c.lookupRead(1);
  if (a === 0) c.out.int(0);
  else if (recType(m, a) !== T_STRING) c.out.error(E_WRONGTYPE);
  else c.out.int(recValLen(m, a));
};

const getrange: Handler = (c) => {
  let start = c.int(2);
  let end = c.int(3);
  if (start === null || end === null) {
    c.out.error(E_NOT_INT);
    return;
  }
  const m = c.store.arena;
  const a = c.lookupRead(1);
  if (a === 0) {
    c.out.bulk(m.u8, 0, 0);
    return;
  }
  if (recType(m, a) !== T_STRING) {
    c.out.error(E_WRONGTYPE);
    return;
  }
  const len = recValLen(m, a);
  if (start < 0 && end < 0 && start > end) {
    c.out.bulk(m.u8, 0, 0);
    return;
  }
  if (start < 0) start = len + start;
  if (end < 0) end = len + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= len) end = len - 1;
  if (len === 0 || start > end) c.out.bulk(m.u8, 0, 0);
  else c.out.bulk(strBuf(m, a), strOff(m, a) + start, end - start + 1);
};

const setrange: Handler = (c) => {
  const offset = c.int(2);
  if (offset === null) {
    c.out.error(E_NOT_INT);
    return;
  }
  if (offset < 0) {
    c.out.error(E_OFFSET_RANGE);
    return;
  }
  const m = c.store.arena;
  const vl = c.al[3]!;
  const a = c.lookup(1);
  if (a !== 0 && recType(m, a) !== T_STRING) {
    c.out.error(E_WRONGTYPE);
    return;
  }
  const oldLen = a === 0 ? 0 : recValLen(m, a);
  if (vl === 0) {
    c.out.int(oldLen);
    return;
  }
  if (offset + vl > c.limits.maxBulkLen) {
    c.out.error(E_TOO_BIG);
    return;
  }
  const total = Math.max(oldLen, offset + vl);
  const b = scratchOf(total);
  if (a !== 0) b.set(strBuf(m, a).subarray(strOff(m, a), strOff(m, a) + oldLen), 0);
  b.fill(0, oldLen, total);
  b.set(c.buf.subarray(c.as[3]!, c.as[3]! + vl), offset);
  c.store.setString(c.db, c.buf, c.as[1]!, c.al[1]!, b, 0, total, a === 0 ? 0 : -1);
  c.out.int(total);
};

/** The bytes of string key argument `i` ('' when missing), or null when it holds another type. */
function lcsOperand(c: Ctx, i: number): Uint8Array | null {
  const m = c.store.arena;
  const a = c.lookupRead(i);
  if (a === 0) return new Uint8Array(0);
  if (recType(m, a) !== T_STRING) return null;
  const off = strOff(m, a);
  return strBuf(m, a).slice(off, off + recValLen(m, a));
}

/** LCS key1 key2 [LEN] [IDX] [MINMATCHLEN n] [WITHMATCHLEN] (Redis's lcsCommand, same table walk and ranges). */
const lcs: Handler = (c) => {
  const a = lcsOperand(c, 1);
  const b = a === null ? null : lcsOperand(c, 2);
  if (a === null || b === null) {
    c.out.error(E_LCS_NOT_STRINGS);
    return;
  }
  let getLen = false;
  let getIdx = false;
  let withMatchLen = false;
  let minMatchLen = 0;
  for (let j = 3; j < c.argc; j++) {
    if (c.is(j, 'IDX')) getIdx = true;
    else if (c.is(j, 'LEN')) getLen = true;
    else if (c.is(j, 'WITHMATCHLEN')) withMatchLen = true;
    else if (c.is(j, 'MINMATCHLEN') && j < c.argc - 1) {
      const v = c.i64(++j);
      if (v === null) {
        c.out.error(E_NOT_INT);
        return;
      }
      minMatchLen = v < 0 ? 0 : Number(v);
    } else {
      c.out.error(E_SYNTAX);
      return;
    }
  }
  if (getIdx && getLen) {
    c.out.error(E_LCS_LEN_AND_IDX);
    return;
  }
  const alen = a.length;
  const blen = b.length;
  const w = blen + 1;
  if ((alen + 1) * w * 4 > c.limits.maxBulkLen) {
    c.out.error(E_LCS_TOO_BIG);
    return;
  }
  const t = new Uint32Array((alen + 1) * w);
  for (let i = 1; i <= alen; i++) {
    for (let j = 1; j <= blen; j++) {
      if (a[i - 1] === b[j - 1]) t[i * w + j] = t[(i - 1) * w + j - 1]! + 1;
      else {
        const l1 = t[(i - 1) * w + j]!;
        const l2 = t[i * w + j - 1]!;
        t[i * w + j] = l1 > l2 ? l1 : l2;
      }
    }
  }
  const total = t[alen * w + blen]!;
  if (getLen) {
    c.out.int(total);
    return;
  }
  const result = scratchOf(total);
  const ranges: number[] = [];
  let idx = total;
  let aStart = alen;
  let aEnd = 0;
  let bStart = 0;
  let bEnd = 0;
  let i = alen;
  let j = blen;
  while (i > 0 && j > 0) {
    let emit = false;
    if (a[i - 1] === b[j - 1]) {
      result[idx - 1] = a[i - 1]!;
      if (aStart === alen) {
        aStart = aEnd = i - 1;
        bStart = bEnd = j - 1;
      } else if (aStart === i && bStart === j) {
        aStart--;
        bStart--;
      } else emit = true;
      if (aStart === 0 || bStart === 0) emit = true;
      idx--;
      i--;
      j--;
    } else {
      if (t[(i - 1) * w + j]! > t[i * w + j - 1]!) i--;
      else j--;
      if (aStart !== alen) emit = true;
    }
    if (emit) {
      const matchLen = aEnd - aStart + 1;
      if (minMatchLen === 0 || matchLen >= minMatchLen) ranges.push(aStart, aEnd, bStart, bEnd, matchLen);
      aStart = alen;
    }
  }
  if (!getIdx) {
    c.out.bulk(result, 0, total);
    return;
  }
  c.out.mapHeader(2);
  c.out.bulkString('matches');
  c.out.arrayHeader(ranges.length / 5);
  for (let r = 0; r < ranges.length; r += 5) {
    c.out.arrayHeader(withMatchLen ? 3 : 2);
    c.out.arrayHeader(2);
    c.out.int(ranges[r]!);
    c.out.int(ranges[r + 1]!);
    c.out.arrayHeader(2);
    c.out.int(ranges[r + 2]!);
    c.out.int(ranges[r + 3]!);
    if (withMatchLen) c.out.int(ranges[r + 4]!);
  }
  c.out.bulkString('len');
  c.out.int(total);
};

/** Handlers by lower-case command name. */
export const stringCommands: Record<string, Handler> = {
  get,
  set,
  setnx,
  setex: setWithTtl(true),
  psetex: setWithTtl(false),
  getex,
  getdel,
  getset,
  lcs,
  mget,
  mset,
  msetnx,
  incr,
  decr,
  incrby,
  decrby,
  incrbyfloat,
  append,
  strlen,
  getrange,
  substr: getrange,
  setrange,
};
