/** Bitmap commands on strings (Redis's bitops.c): SETBIT, GETBIT, BITCOUNT, BITPOS, BITOP, BITFIELD, BITFIELD_RO. */
import type { Ctx, Handler } from './context.js';
import { F_EXT, T_STRING, recFlags, recType, recValLen, strBuf, strOff } from './record.js';
import {
  E_BITFIELD_OVERFLOW,
  E_BITFIELD_RO,
  E_BITFIELD_TYPE,
  E_BITOP_NOT,
  E_BITPOS_BIT,
  E_BIT_OFFSET,
  E_BIT_VALUE,
  E_NOT_INT,
  E_SYNTAX,
  E_WRONGTYPE,
} from '../wire/error-text.js';
import { parseI64 } from '../wire/bytes.js';
import {
  OV_FAIL,
  OV_SAT,
  OV_WRAP,
  bitpos,
  checkOverflow,
  getSigned,
  getUnsigned,
  overflowLimit,
  popcount,
  setBits,
} from './bitmap-math.js';
import { commitWrite, openWrite, w, workBuffer } from './string-write.js';
import { keyEvent, notifyState } from './notify.js';
import { NOTIFY_GENERIC, NOTIFY_STRING } from '../wire/keyspace-events.js';

/** Bytes and 32-bit view of the string last found by strBytes. */
let sb: Uint8Array = new Uint8Array(0);
let so = 0;
let sl = 0;
let sw: Uint32Array = new Uint32Array(0);

/** Points sb/so/sl (and the word view sw) at the bytes of string record `a`. */
function strBytes(c: Ctx, a: number): void {
  const m = c.store.arena;
  sb = strBuf(m, a);
  so = strOff(m, a);
  sl = recValLen(m, a);
  sw = (recFlags(m, a) & F_EXT) === 0 ? m.u32 : new Uint32Array(sb.buffer, sb.byteOffset, sb.length >>> 2);
}

/** Argument `i` as a 64-bit integer (a bigint beyond 2^53 becomes the nearest number: ranges only clamp), or null. */
function longArg(c: Ctx, i: number): number | null {
  const v = c.i64(i);
  return v === null ? null : Number(v);
}

/**
 * Redis's getBitOffsetFromArgument: a bit offset (with `hash`, `#n` means n * bits) below
 * proto-max-bulk-len bytes; -1 after replying the error.
 */
function bitOffset(c: Ctx, i: number, hash: boolean, bits: number): number {
  let s = c.as[i]!;
  let n = c.al[i]!;
  const useHash = hash && n > 0 && c.buf[s] === 35;
  if (useHash) {
    s++;
    n--;
  }
  const v = parseI64(c.buf, s, n);
  let off = typeof v === 'number' ? v : -1;
  if (useHash) off *= bits;
  if (off < 0 || Math.floor(off / 8) >= c.limits.maxBulkLen) {
    c.out.error(E_BIT_OFFSET);
    return -1;
  }
  return off;
}

const setbit: Handler = (c) => {
  const off = bitOffset(c, 2, false, 0);
  if (off < 0) return;
  const on = c.i64(3);
  if (on !== 0 && on !== 1) {
    c.out.error(E_BIT_VALUE);
    return;
  }
  const m = c.store.arena;
  const a = c.lookup(1);
  if (a !== 0 && recType(m, a) !== T_STRING) {
    c.out.error(E_WRONGTYPE);
    return;
  }
  const byte = Math.floor(off / 8);
  const shift = 7 - (off % 8);
  const oldLen = a === 0 ? 0 : recValLen(m, a);
  const old = byte < oldLen ? (strBuf(m, a)[strOff(m, a) + byte]! >>> shift) & 1 : 0;
  // Redis writes (and notifies) only when the key is created or grows, or the bit changes.
  if (a === 0 || byte >= oldLen || old !== on) {
    openWrite(c, a, byte + 1);
    const p = w.o + byte;
    w.b[p] = (w.b[p]! & ~(1 << shift)) | (on << shift);
    commitWrite(c);
    if (notifyState.flags !== 0) keyEvent(c, NOTIFY_STRING, 'setbit', 1);
  } else c.unchanged = true;
  c.out.int(old);
};

const getbit: Handler = (c) => {
  const off = bitOffset(c, 2, false, 0);
  if (off < 0) return;
  const m = c.store.arena;
  const a = c.lookupRead(1);
  if (a === 0) {
    c.out.int(0);
    return;
  }
  if (recType(m, a) !== T_STRING) {
    c.out.error(E_WRONGTYPE);
    return;
  }
  const byte = Math.floor(off / 8);
  c.out.int(byte < recValLen(m, a) ? (strBuf(m, a)[strOff(m, a) + byte]! >>> (7 - (off % 8))) & 1 : 0);
};

/** Looks up key argument 1 as a string for reading into sb/so/sl; false when missing, or after a WRONGTYPE reply. */
function readBits(c: Ctx, missingReply: number): boolean {
  const a = c.lookupRead(1);
  if (a === 0) {
    c.out.int(missingReply);
    return false;
  }
  if (recType(c.store.arena, a) !== T_STRING) {
    c.out.error(E_WRONGTYPE);
    return false;
  }
  strBytes(c, a);
  return true;
}

/** BIT or BYTE at argument i: 1, 0, or -1 after a syntax error. */
function unitArg(c: Ctx, i: number): number {
  if (c.is(i, 'BIT')) return 1;
  if (c.is(i, 'BYTE')) return 0;
  c.out.error(E_SYNTAX);
  return -1;
}

// The resolved range of BITCOUNT/BITPOS: bytes [rs, re] and masks of the bits outside a BIT range at its ends.
let rs = 0;
let re = 0;
let firstMask = 0;
let lastMask = 0;

/** Clamps start/end (negative: from the end) to the string, in bits or bytes, into rs/re and the masks. */
function resolveRange(start: number, end: number, isBit: boolean): void {
  const total = isBit ? sl * 8 : sl;
  if (start < 0) start = total + start;
  if (end < 0) end = total + end;
  if (start < 0) start = 0;
  if (end < 0) end = 0;
  if (end >= total) end = total - 1;
  firstMask = 0;
  lastMask = 0;
  if (isBit && start <= end) {
    firstMask = ~((1 << (8 - (start & 7))) - 1) & 0xff;
    lastMask = (1 << (7 - (end & 7))) - 1;
    start = Math.floor(start / 8);
    end = Math.floor(end / 8);
  }
  rs = start;
  re = end;
}

const bitcount: Handler = (c) => {
  if (!readBits(c, 0)) return;
  let isBit = false;
  if (c.argc === 4 || c.argc === 5) {
    const start = longArg(c, 2);
    const end = longArg(c, 3);
    if (start === null || end === null) {
      c.out.error(E_NOT_INT);
      return;
    }
    if (c.argc === 5) {
      const u = unitArg(c, 4);
      if (u < 0) return;
      isBit = u === 1;
    }
    if (start < 0 && end < 0 && start > end) {
      c.out.int(0);
      return;
    }
    resolveRange(start, end, isBit);
  } else if (c.argc === 2) {
    rs = 0;
    re = sl - 1;
    firstMask = 0;
    lastMask = 0;
  } else {
    c.out.error(E_SYNTAX);
    return;
  }
  if (rs > re) {
    c.out.int(0);
    return;
  }
  let count = popcount(sb, so + rs, re - rs + 1, sw);
  if (firstMask !== 0) count -= popcount1(sb[so + rs]! & firstMask);
  if (lastMask !== 0) count -= popcount1(sb[so + re]! & lastMask);
  c.out.int(count);
};

function popcount1(x: number): number {
  let n = 0;
  for (; x !== 0; x &= x - 1) n++;
  return n;
}

const one = new Uint8Array(1);

const bitposCmd: Handler = (c) => {
  const bit = c.i64(2);
  if (bit === null) {
    c.out.error(E_NOT_INT);
    return;
  }
  if (bit !== 0 && bit !== 1) {
    c.out.error(E_BITPOS_BIT);
    return;
  }
  if (!readBits(c, bit === 1 ? -1 : 0)) return;
  let endGiven = false;
  if (c.argc >= 4 && c.argc <= 6) {
    const start = longArg(c, 3);
    if (start === null) {
      c.out.error(E_NOT_INT);
      return;
    }
    let isBit = false;
    if (c.argc === 6) {
      const u = unitArg(c, 5);
      if (u < 0) return;
      isBit = u === 1;
    }
    let end = sl - 1;
    if (c.argc >= 5) {
      const e = longArg(c, 4);
      if (e === null) {
        c.out.error(E_NOT_INT);
        return;
      }
      end = e;
      endGiven = true;
    }
    resolveRange(start, end, isBit);
  } else if (c.argc === 3) {
    rs = 0;
    re = sl - 1;
    firstMask = 0;
    lastMask = 0;
  } else {
    c.out.error(E_SYNTAX);
    return;
  }
  if (rs > re) {
    c.out.int(-1);
    return;
  }
  const pos = searchRange(bit);
  // With an explicit end, a clear bit past the range is not "found".
  if (endGiven && bit === 0 && pos === searchBytes * 8) {
    c.out.int(-1);
    return;
  }
  c.out.int(pos === -1 ? -1 : pos + searchStart * 8);
};

// Where searchRange's answer counts from: the byte it started at and how many bytes it looked at.
let searchStart = 0;
let searchBytes = 0;

/**
 * First `bit` in the resolved range sb[so+rs … so+re], the partial first and last bytes of a BIT
 * range masked; relative to searchStart, -1 when none (Redis's bitposCommand steps).
 */
function searchRange(bit: number): number {
  searchStart = rs;
  searchBytes = re - rs + 1;
  let pos: number;
  if (firstMask !== 0) {
    let t = bit === 1 ? sb[so + searchStart]! & ~firstMask : sb[so + searchStart]! | firstMask;
    if (lastMask !== 0 && searchBytes === 1) t = bit === 1 ? t & ~lastMask : t | lastMask;
    one[0] = t;
    pos = bitpos(one, 0, 1, bit);
    if (searchBytes === 1 || (pos !== -1 && pos !== 8)) return pos;
    searchStart++;
    searchBytes--;
  }
  const cur = searchBytes - (lastMask !== 0 ? 1 : 0);
  if (cur > 0) {
    pos = bitpos(sb, so + searchStart, cur, bit);
    if (searchBytes === cur || (pos !== -1 && pos !== cur * 8)) return pos;
    searchStart += cur;
    searchBytes -= cur;
  }
  one[0] = bit === 1 ? sb[so + re]! & ~lastMask : sb[so + re]! | lastMask;
  return bitpos(one, 0, 1, bit);
}

// Sources of BITOP, kept between commands.
const srcBuf: Uint8Array[] = [];
const srcOff: number[] = [];
const srcLen: number[] = [];

const OP_AND = 0;
const OP_OR = 1;
const OP_XOR = 2;
const OP_NOT = 3;

const bitop: Handler = (c) => {
  const op = c.is(1, 'AND') ? OP_AND : c.is(1, 'OR') ? OP_OR : c.is(1, 'XOR') ? OP_XOR : c.is(1, 'NOT') ? OP_NOT : -1;
  if (op < 0) {
    c.out.error(E_SYNTAX);
    return;
  }
  if (op === OP_NOT && c.argc !== 4) {
    c.out.error(E_BITOP_NOT);
    return;
  }
  const m = c.store.arena;
  const n = c.argc - 3;
  let maxlen = 0;
  for (let j = 0; j < n; j++) {
    const a = c.lookupRead(j + 3);
    if (a === 0) {
      srcBuf[j] = m.u8;
      srcOff[j] = 0;
      srcLen[j] = 0;
      continue;
    }
    if (recType(m, a) !== T_STRING) {
      c.out.error(E_WRONGTYPE);
      return;
    }
    srcBuf[j] = strBuf(m, a);
    srcOff[j] = strOff(m, a);
    srcLen[j] = recValLen(m, a);
    if (srcLen[j]! > maxlen) maxlen = srcLen[j]!;
  }
  const res = workBuffer(maxlen);
  for (let i = 0; i < maxlen; i++) {
    let out = srcLen[0]! > i ? srcBuf[0]![srcOff[0]! + i]! : 0;
    if (op === OP_NOT) out = ~out & 0xff;
    for (let j = 1; j < n; j++) {
      const byte = srcLen[j]! > i ? srcBuf[j]![srcOff[j]! + i]! : 0;
      if (op === OP_AND) out &= byte;
      else if (op === OP_OR) out |= byte;
      else out ^= byte;
    }
    res[i] = out;
  }
  srcBuf.fill(m.u8, 0, n);
  // Dest (argument 2) goes through setString/del, which name the key by argument spans.
  const ks = c.as[2]!;
  const kl = c.al[2]!;
  if (maxlen > 0) {
    c.store.setString(c.db, c.buf, ks, kl, res, 0, maxlen, 0);
    if (notifyState.flags !== 0) keyEvent(c, NOTIFY_STRING, 'set', 2);
  } else if (c.store.del(c.db, c.buf, ks, kl) && notifyState.flags !== 0) keyEvent(c, NOTIFY_GENERIC, 'del', 2);
  c.out.int(maxlen);
};

// BITFIELD's parsed operations, kept between commands.
const GET = 0;
const SET = 1;
const INCRBY = 2;
const opCode: number[] = [];
const opOff: number[] = [];
const opBits: number[] = [];
const opSigned: boolean[] = [];
const opOverflow: number[] = [];
const opValue: bigint[] = [];

let tBits = 0;
let tSigned = false;
/** BITFIELD's <i|u><bits> type at argument i (lower-case letter, as Redis) into tBits/tSigned; false after replying the error. */
function bitfieldType(c: Ctx, i: number): boolean {
  const s = c.as[i]!;
  const n = c.al[i]!;
  const t = n > 0 ? c.buf[s]! : 0;
  tSigned = t === 105;
  const v = t === 105 || t === 117 ? parseI64(c.buf, s + 1, n - 1) : null;
  if (typeof v !== 'number' || v < 1 || (tSigned && v > 64) || (!tSigned && v > 63)) {
    c.out.error(E_BITFIELD_TYPE);
    return false;
  }
  tBits = v;
  return true;
}

function bitfieldGeneric(c: Ctx, readOnlyCommand: boolean): void {
  let numops = 0;
  let overflow = OV_WRAP;
  let readonly = true;
  let highest = 0;
  for (let j = 2; j < c.argc; j++) {
    const rem = c.argc - j - 1;
    let code: number;
    if (c.is(j, 'GET') && rem >= 2) code = GET;
    else if (c.is(j, 'SET') && rem >= 3) code = SET;
    else if (c.is(j, 'INCRBY') && rem >= 3) code = INCRBY;
    else if (c.is(j, 'OVERFLOW') && rem >= 1) {
      j++;
      if (c.is(j, 'WRAP')) overflow = OV_WRAP;
      else if (c.is(j, 'SAT')) overflow = OV_SAT;
      else if (c.is(j, 'FAIL')) overflow = OV_FAIL;
      else {
        c.out.error(E_BITFIELD_OVERFLOW);
        return;
      }
      continue;
    } else {
      c.out.error(E_SYNTAX);
      return;
    }
    if (!bitfieldType(c, j + 1)) return;
    const off = bitOffset(c, j + 2, true, tBits);
    if (off < 0) return;
    let value = 0n;
    if (code !== GET) {
      readonly = false;
      if (highest < off + tBits - 1) highest = off + tBits - 1;
      const v = c.i64(j + 3);
      if (v === null) {
        c.out.error(E_NOT_INT);
        return;
      }
      value = BigInt(v);
    }
    opCode[numops] = code;
    opOff[numops] = off;
    opBits[numops] = tBits;
    opSigned[numops] = tSigned;
    opOverflow[numops] = overflow;
    opValue[numops] = value;
    numops++;
    j += code === GET ? 2 : 3;
  }
  const m = c.store.arena;
  let a: number;
  let grew = false;
  if (readonly) {
    a = c.lookupRead(1);
    if (a !== 0 && recType(m, a) !== T_STRING) {
      c.out.error(E_WRONGTYPE);
      return;
    }
    if (a !== 0) strBytes(c, a);
    else sl = 0;
  } else {
    if (readOnlyCommand) {
      c.out.error(E_BITFIELD_RO);
      return;
    }
    a = c.lookup(1);
    if (a !== 0 && recType(m, a) !== T_STRING) {
      c.out.error(E_WRONGTYPE);
      return;
    }
    const oldLen = a === 0 ? 0 : recValLen(m, a);
    const need = Math.floor(highest / 8) + 1;
    grew = a === 0 || need > oldLen;
    openWrite(c, a, need);
    sb = w.b;
    so = w.o;
    sl = w.len;
  }
  const hasBytes = !readonly || a !== 0;
  c.out.arrayHeader(numops);
  let changes = 0;
  for (let j = 0; j < numops; j++) {
    const bits = opBits[j]!;
    const off = opOff[j]!;
    const signed = opSigned[j]!;
    if (opCode[j] === GET) {
      const v = !hasBytes ? 0n : signed ? getSigned(sb, so, sl, off, bits) : getUnsigned(sb, so, sl, off, bits);
      c.out.ascii(`:${v}\r\n`);
      continue;
    }
    const old = signed ? getSigned(sb, so, sl, off, bits) : getUnsigned(sb, so, sl, off, bits);
    let next: bigint;
    let ret: bigint;
    let over: number;
    if (opCode[j] === INCRBY) {
      over = checkOverflow(signed, old, opValue[j]!, bits, opOverflow[j]!);
      next = over !== 0 ? overflowLimit : old + opValue[j]!;
      ret = next;
    } else {
      // An unsigned field sees the SET value as Redis does, as a 64-bit unsigned integer.
      next = signed ? opValue[j]! : BigInt.asUintN(64, opValue[j]!);
      over = checkOverflow(signed, next, 0n, bits, opOverflow[j]!);
      if (over !== 0) next = overflowLimit;
      ret = old;
    }
    if (over !== 0 && opOverflow[j] === OV_FAIL) {
      c.out.nullBulk();
      continue;
    }
    c.out.ascii(`:${ret}\r\n`);
    setBits(sb, so, off, bits, next);
    if (grew || old !== next) changes++;
  }
  // BITFIELD (a write command, counted as a change when sent) that only read changed nothing.
  if (readonly) {
    if (!readOnlyCommand) c.unchanged = true;
    return;
  }
  // Like Redis, a key created or grown for the writes stays so even when every write failed.
  if (changes > 0 || grew) commitWrite(c);
  else c.unchanged = true;
  if (changes > 0 && notifyState.flags !== 0) keyEvent(c, NOTIFY_STRING, 'setbit', 1);
}

/** Handlers by lower-case command name. */
export const bitmapCommands: Record<string, Handler> = {
  setbit,
  getbit,
  bitcount,
  bitpos: bitposCmd,
  bitop,
  bitfield: (c) => bitfieldGeneric(c, false),
  bitfield_ro: (c) => bitfieldGeneric(c, true),
};
