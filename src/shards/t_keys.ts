/** Keyspace commands (Redis's db.c/expire.c): DEL, EXISTS, TTLs, RENAME, COPY, KEYS, SCAN… */
import type { Ctx, Handler } from './context.js';
import {
  F_EXT,
  F_TTL,
  T_HASH,
  T_LIST,
  T_SET,
  T_STRING,
  T_STREAM,
  extHandle,
  newRecord,
  newString,
  recExpire,
  recFlags,
  recKeyLen,
  recKeyOff,
  recType,
  recValBytes,
  recValLen,
  recValOff,
  setExt,
  strBuf,
  strOff,
} from './record.js';
import {
  E_DB_RANGE,
  E_GT_LT,
  E_INT_RANGE,
  E_INVALID_CURSOR,
  E_NOT_INT,
  E_NO_KEY,
  E_NX_XX_GT_LT,
  E_SAME_OBJECT,
  E_SWAPDB_FIRST,
  E_SWAPDB_SECOND,
  E_SYNTAX,
  unsupportedOption,
} from '../wire/error-text.js';
import { parseCopyOptions } from '../commands/copy-args.js';
import { expireCommandAt } from './expire-args.js';
import { cursorInRange, cursorLocal, parseScanCursor } from '../wire/scan-cursor.js';
import { R_OK } from '../wire/resp-writer.js';
import { copyValue, encodingName, serializeElements, setVal, valEnc } from './value.js';
import { createList, listPush } from './t_list.js';
import { createSet, setAdd } from './t_set.js';
import { createHash, hashSet } from './t_hash.js';
import { createZset, zsetRestoreAdd } from './t_zset.js';
import { readF64 } from './listpack.js';
import { fromEntryValue, toEntryValue } from './entry-codec.js';
import { decodeDumpPayload, encodeDumpPayload } from '../persistence/dump-payload.js';
import { bytesEqual, globMatch, parseI64 } from '../wire/bytes.js';
import { touchKey, touchSwap, watchState } from './watch.js';
import { signalDbReady } from './blocking.js';

const TYPE_NAMES = ['string', 'list', 'set', 'zset', 'hash', 'stream'];

/** The shard's position, for composing SCAN cursors across shards. */
export const shardPosition = { id: 0, count: 1 };

const del: Handler = (c) => {
  let n = 0;
  for (let i = 1; i < c.argc; i++) if (c.store.del(c.db, c.buf, c.as[i]!, c.al[i]!)) n++;
  c.out.int(n);
};

const exists: Handler = (c) => {
  let n = 0;
  for (let i = 1; i < c.argc; i++) if (c.store.lookupReadNoTouch(c.db, c.buf, c.as[i]!, c.al[i]!) !== 0) n++;
  c.out.int(n);
};

const touch: Handler = (c) => {
  let n = 0;
  for (let i = 1; i < c.argc; i++) if (c.lookupRead(i) !== 0) n++;
  c.out.int(n);
};

const X_NX = 1;
const X_XX = 2;
const X_GT = 4;
const X_LT = 8;

/** EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT: in seconds or ms, relative or absolute. */
function expireGeneric(seconds: boolean, absolute: boolean): Handler {
  return (c) => {
    const when = expireCommandAt(c, 2, seconds, !absolute);
    if (Number.isNaN(when)) return;
    let flags = 0;
    for (let i = 3; i < c.argc; i++) {
      if (c.is(i, 'NX')) flags |= X_NX;
      else if (c.is(i, 'XX')) flags |= X_XX;
      else if (c.is(i, 'GT')) flags |= X_GT;
      else if (c.is(i, 'LT')) flags |= X_LT;
      else {
        c.out.error(unsupportedOption(c.str(i)));
        return;
      }
    }
    if (flags & X_NX && flags & (X_XX | X_GT | X_LT)) {
      c.out.error(E_NX_XX_GT_LT);
      return;
    }
    if ((flags & (X_GT | X_LT)) === (X_GT | X_LT)) {
      c.out.error(E_GT_LT);
      return;
    }
    const a = c.lookup(1);
    if (a === 0) {
      c.out.int(0);
      return;
    }
    const cur = recExpire(c.store.arena, a);
    if (
      (flags & X_NX && cur !== 0) ||
      (flags & X_XX && cur === 0) ||
      (flags & X_GT && (cur === 0 || when <= cur)) ||
      (flags & X_LT && cur !== 0 && when >= cur)
    ) {
      c.out.int(0);
      return;
    }
    if (when <= c.store.now) c.store.removeFound(c.db, a);
    else c.store.setExpire(c.db, a, when);
    c.out.int(1);
  };
}

/** TTL/PTTL/EXPIRETIME/PEXPIRETIME. */
function ttlGeneric(ms: boolean, absolute: boolean): Handler {
  return (c) => {
    const a = c.store.lookupReadNoTouch(c.db, c.buf, c.as[1]!, c.al[1]!);
    if (a === 0) {
      c.out.int(-2);
      return;
    }
    const e = recExpire(c.store.arena, a);
    if (e === 0) {
      c.out.int(-1);
      return;
    }
    if (absolute) c.out.int(ms ? e : Math.floor((e + 500) / 1000));
    else {
      const left = Math.max(0, e - c.store.now);
      c.out.int(ms ? left : Math.floor((left + 500) / 1000));
    }
  };
}

const persist: Handler = (c) => {
  const a = c.lookup(1);
  if (a === 0 || (recFlags(c.store.arena, a) & F_TTL) === 0) {
    c.out.int(0);
    return;
  }
  c.store.setExpire(c.db, a, 0);
  c.out.int(1);
};

const type: Handler = (c) => {
  const a = c.store.lookupReadNoTouch(c.db, c.buf, c.as[1]!, c.al[1]!);
  c.out.simple(a === 0 ? 'none' : TYPE_NAMES[recType(c.store.arena, a)]!);
};

/**
 * Creates key `dst` (in `db`) with record `a`'s value and expiry; the caller removed any old
 * dst. A collection's structure is deep-copied (COPY) or shared, to be moved (RENAME).
 */
function cloneRecord(c: Ctx, db: number, a: number, dstArg: number, deep: boolean): void {
  const m = c.store.arena;
  const t = recType(m, a);
  const exp = recExpire(m, a);
  c.store.lookup(db, c.buf, c.as[dstArg]!, c.al[dstArg]!);
  if (t === T_STRING && deep) {
    const vl = recValLen(m, a);
    const b = newString(m, c.buf, c.as[dstArg]!, c.al[dstArg]!, vl, exp, c.store.lruClock);
    strBuf(m, b).set(strBuf(m, a).subarray(strOff(m, a), strOff(m, a) + vl), strOff(m, b));
    c.store.insertNew(db, b);
    return;
  }
  // Moved as it is: a collection's structure address, or an external string's handle.
  const vb = recValBytes(m, a);
  const ptr = t !== T_STRING && deep ? copyValue(m, a) : 0;
  const b = newRecord(m, t, c.buf, c.as[dstArg]!, c.al[dstArg]!, vb, exp, c.store.lruClock);
  m.u8.copyWithin(recValOff(m, b), recValOff(m, a), recValOff(m, a) + vb);
  if ((recFlags(m, a) & F_EXT) !== 0) setExt(m, b, extHandle(m, a), recValLen(m, a));
  if (ptr !== 0) setVal(m, b, valEnc(m, a), ptr);
  c.store.insertNew(db, b);
}

/** RENAME/RENAMENX when both keys live in this shard. */
function renameGeneric(nx: boolean): Handler {
  return (c) => {
    const src = c.lookup(1);
    if (src === 0) {
      c.out.error(E_NO_KEY);
      return;
    }
    if (bytesEqual(c.buf, c.as[1]!, c.al[1]!, c.buf, c.as[2]!, c.al[2]!)) {
      if (nx) c.out.int(0);
      else c.out.constant(R_OK);
      return;
    }
    const dst = c.lookup(2);
    if (dst !== 0) {
      if (nx) {
        c.out.int(0);
        return;
      }
      c.store.removeFound(c.db, dst);
    }
    cloneRecord(c, c.db, c.lookup(1), 2, false);
    // The new record owns the structure now: free only the old record.
    c.store.removeFound(c.db, c.lookup(1), true);
    if (nx) c.out.int(1);
    else c.out.constant(R_OK);
  };
}

const copy: Handler = (c) => {
  const opts = parseCopyOptions(c.buf, c.as, c.al, c.argc, c.store.dbs.length);
  if (typeof opts === 'string') {
    c.out.error(opts);
    return;
  }
  const dstDb = opts.db === -1 ? c.db : opts.db;
  const replace = opts.replace;
  if (dstDb === c.db && bytesEqual(c.buf, c.as[1]!, c.al[1]!, c.buf, c.as[2]!, c.al[2]!)) {
    c.out.error(E_SAME_OBJECT);
    return;
  }
  if (c.lookup(1) === 0) {
    c.out.int(0);
    return;
  }
  const dst = c.store.lookup(dstDb, c.buf, c.as[2]!, c.al[2]!);
  if (dst !== 0) {
    if (!replace) {
      c.out.int(0);
      return;
    }
    c.store.removeFound(dstDb, dst);
  }
  cloneRecord(c, dstDb, c.lookup(1), 2, true);
  c.out.int(1);
};

/** MOVE key db: the record goes to the other database as it is, with its TTL (Redis's moveCommand checks, in its order). */
const move: Handler = (c) => {
  const dbid = c.i64(2);
  if (dbid === null || typeof dbid === 'bigint' || dbid < -2147483648 || dbid > 2147483647) {
    // Redis's getIntFromObjectOrReply: a number past 32 bits has its own text.
    c.out.error(dbid === null ? E_NOT_INT : E_INT_RANGE);
    return;
  }
  if (dbid < 0 || dbid >= c.store.dbs.length) {
    c.out.error(E_DB_RANGE);
    return;
  }
  if (dbid === c.db) {
    c.out.error(E_SAME_OBJECT);
    return;
  }
  if (c.lookup(1) === 0 || c.store.lookup(dbid, c.buf, c.as[1]!, c.al[1]!) !== 0) {
    c.out.int(0);
    return;
  }
  if (watchState.keys !== 0) touchKey(dbid, c.buf, c.as[1]!, c.al[1]!);
  cloneRecord(c, dbid, c.lookup(1), 1, false);
  // The new record owns the structure now: free only the old record.
  c.store.removeFound(c.db, c.lookup(1), true);
  c.out.int(1);
};

/** SWAPDB index1 index2, run by every shard on its part of both databases. */
const swapdb: Handler = (c) => {
  const a = c.int(1);
  if (a === null || a < -2147483648 || a > 2147483647) {
    c.out.error(E_SWAPDB_FIRST);
    return;
  }
  const b = c.int(2);
  if (b === null || b < -2147483648 || b > 2147483647) {
    c.out.error(E_SWAPDB_SECOND);
    return;
  }
  const n = c.store.dbs.length;
  if (a < 0 || a >= n || b < 0 || b >= n) {
    c.out.error(E_DB_RANGE);
    return;
  }
  if (a !== b) {
    if (watchState.keys !== 0) touchSwap(c.store, a, b);
    c.store.swapDbs(a, b);
    // Clients blocked on keys the swap brought in are served now, as after a push.
    for (const db of [a, b]) signalDbReady(db, (k) => c.store.lookup(db, k, 0, k.length) !== 0);
  }
  c.out.constant(R_OK);
};

/** Record addresses collected by KEYS/SCAN before the reply is written. */
let collected: number[] = [];

const keys: Handler = (c) => {
  const m = c.store.arena;
  const pb = c.buf;
  const ps = c.as[1]!;
  const pl = c.al[1]!;
  const all = pl === 1 && pb[ps] === 42;
  const now = c.store.now;
  collected.length = 0;
  c.store.dbs[c.db]!.forEach((a) => {
    const e = recExpire(m, a);
    if (e !== 0 && e <= now) return;
    if (all || globMatch(pb, ps, pl, m.u8, recKeyOff(m, a), recKeyLen(m, a))) collected.push(a);
  });
  c.out.arrayHeader(collected.length);
  for (const a of collected) c.out.bulk(m.u8, recKeyOff(m, a), recKeyLen(m, a));
  collected = collected.length > 100000 ? [] : collected;
};

const scan: Handler = (c) => {
  const cursor = parseScanCursor(c.buf, c.as[1]!, c.al[1]!);
  if (cursor === null) {
    c.out.error(E_INVALID_CURSOR);
    return;
  }
  let count = 10;
  let patArg = -1;
  let typeFilter = -1;
  for (let i = 2; i < c.argc; i++) {
    const more = i + 1 < c.argc;
    if (more && c.is(i, 'COUNT')) {
      const n = c.int(++i);
      if (n === null) {
        c.out.error(E_NOT_INT);
        return;
      }
      if (n < 1) {
        c.out.error(E_SYNTAX);
        return;
      }
      count = n;
    } else if (more && c.is(i, 'MATCH')) {
      patArg = ++i;
    } else if (more && c.is(i, 'TYPE')) {
      const t = c.str(++i).toLowerCase();
      typeFilter = TYPE_NAMES.indexOf(t);
      if (typeFilter === -1) typeFilter = 99; // unknown types match nothing, as in Redis
    } else {
      c.out.error(E_SYNTAX);
      return;
    }
  }
  const n = shardPosition.count;
  if (!cursorInRange(cursor, n)) {
    c.out.arrayHeader(2);
    c.out.bulkInt(0);
    c.out.arrayHeader(0);
    return;
  }
  const local = cursorLocal(cursor, n);
  const m = c.store.arena;
  collected.length = 0;
  let next = c.store.dbs[c.db]!.scan(local, count, (a) => collected.push(a));
  // Compose the client's cursor: this shard's position in the low digits (base n).
  let global: number;
  if (next !== 0) global = next * n + shardPosition.id;
  else global = shardPosition.id + 1 < n ? shardPosition.id + 1 : 0;
  next = global;
  const now = c.store.now;
  let kept = 0;
  for (let i = 0; i < collected.length; i++) {
    const a = collected[i]!;
    const e = recExpire(m, a);
    if (e !== 0 && e <= now) continue;
    if (typeFilter !== -1 && recType(m, a) !== typeFilter) continue;
    if (patArg !== -1 && !globMatch(c.buf, c.as[patArg]!, c.al[patArg]!, m.u8, recKeyOff(m, a), recKeyLen(m, a))) continue;
    collected[kept++] = a;
  }
  c.out.arrayHeader(2);
  c.out.bulkInt(next);
  c.out.arrayHeader(kept);
  for (let i = 0; i < kept; i++) c.out.bulk(m.u8, recKeyOff(m, collected[i]!), recKeyLen(m, collected[i]!));
};

const randomkey: Handler = (c) => {
  const m = c.store.arena;
  const t = c.store.dbs[c.db]!;
  for (let tries = 0; tries < 100; tries++) {
    const a = t.random();
    if (a === 0) break;
    const e = recExpire(m, a);
    if (e !== 0 && e <= c.store.now) continue;
    c.out.bulk(m.u8, recKeyOff(m, a), recKeyLen(m, a));
    return;
  }
  c.out.nullBulk();
};

const dbsize: Handler = (c) => {
  c.out.int(c.store.dbs[c.db]!.size);
};

/** FLUSHDB/FLUSHALL take only ASYNC or SYNC (both flush at once here: freeing is cheap in the arena). */
function flushOptionsOk(c: Ctx): boolean {
  if (c.argc === 1 || (c.argc === 2 && (c.is(1, 'ASYNC') || c.is(1, 'SYNC')))) return true;
  c.out.error(E_SYNTAX);
  return false;
}

const flushdb: Handler = (c) => {
  if (!flushOptionsOk(c)) return;
  c.store.flushDb(c.db);
  c.out.constant(R_OK);
};

const flushall: Handler = (c) => {
  if (!flushOptionsOk(c)) return;
  c.store.flushAll();
  c.out.constant(R_OK);
};

/** Redis's string encodings: int (a 64-bit integer of ≤ 20 chars), embstr (≤ 44 bytes), raw. */
export function stringEncoding(c: Ctx, a: number): string {
  const m = c.store.arena;
  const vl = recValLen(m, a);
  if (vl <= 20 && parseI64(strBuf(m, a), strOff(m, a), vl) !== null) return 'int';
  return vl <= 44 ? 'embstr' : 'raw';
}

const objectEncoding: Handler = (c) => {
  const a = c.store.lookup(c.db, c.buf, c.as[2]!, c.al[2]!);
  if (a === 0) c.out.nullBulk();
  else if (recType(c.store.arena, a) === T_STRING) c.out.bulkString(stringEncoding(c, a));
  else c.out.bulkString(encodingName(c.store.arena, a));
};

/**
 * Internal: `__dump key del` replies a bulk payload (type, expire-at, value) or null; with
 * del=1 the key is removed. Cross-shard RENAME/COPY move keys with it.
 */
const internalDump: Handler = (c) => {
  const m = c.store.arena;
  const a = c.lookup(1);
  if (a === 0) {
    c.out.nullBulk();
    return;
  }
  const isString = recType(m, a) === T_STRING;
  // A stream moves in its DUMP form (its groups and ids are more than a list of elements).
  const elems = isString ? null : recType(m, a) === T_STREAM ? encodeDumpPayload(toEntryValue(m, a)) : serializeElements(m, a);
  const vl = elems === null ? recValLen(m, a) : elems.length;
  const payload = new Uint8Array(9 + vl);
  payload[0] = recType(m, a);
  new DataView(payload.buffer).setFloat64(1, recExpire(m, a), true);
  if (elems === null) payload.set(strBuf(m, a).subarray(strOff(m, a), strOff(m, a) + vl), 9);
  else payload.set(elems, 9);
  c.out.bulk(payload, 0, payload.length);
  if (c.is(2, '1')) c.store.removeFound(c.db, a);
};

/** Internal: `__restore key payload replace` creates the key from a __dump payload; :1, or :0 if it exists and replace=0. */
const internalRestore: Handler = (c) => {
  const dst = c.lookup(1);
  if (dst !== 0) {
    if (!c.is(3, '1')) {
      c.out.int(0);
      return;
    }
    c.store.removeFound(c.db, dst);
  }
  const ps = c.as[2]!;
  const vl = c.al[2]! - 9;
  const exp = new DataView(c.buf.buffer, c.buf.byteOffset + ps + 1, 8).getFloat64(0, true);
  c.store.lookup(c.db, c.buf, c.as[1]!, c.al[1]!);
  if (exp !== 0 && exp <= c.store.now) {
    c.out.int(1);
    return;
  }
  const m = c.store.arena;
  const type = c.buf[ps]!;
  if (type === T_STREAM) {
    fromEntryValue(c.store, c.db, c.buf, c.as[1]!, c.al[1]!, decodeDumpPayload(c.buf.subarray(ps + 9, ps + 9 + vl)), exp);
    c.out.int(1);
    return;
  }
  if (type !== T_STRING) {
    restoreCollection(c, type, ps + 9, exp);
    c.out.int(1);
    return;
  }
  const b = newString(m, c.buf, c.as[1]!, c.al[1]!, vl, exp, c.store.lruClock);
  strBuf(m, b).set(c.buf.subarray(ps + 9, ps + 9 + vl), strOff(m, b));
  c.store.insertNew(c.db, b);
  c.out.int(1);
};

/** Creates key argument 1 from serialized elements at `p` in the request (see serializeElements). */
function restoreCollection(c: Ctx, type: number, p: number, exp: number): void {
  const m = c.store.arena;
  const b = c.buf;
  const dv = new DataView(b.buffer, b.byteOffset);
  const count = dv.getUint32(p, true);
  const a = type === T_LIST ? createList(c, 1) : type === T_SET ? createSet(c, 1) : type === T_HASH ? createHash(c, 1) : createZset(c, 1);
  let o = p + 4;
  for (let i = 0; i < count; i++) {
    const n = dv.getUint32(o, true);
    const s = o + 4;
    o = s + n;
    if (type === T_LIST) listPush(m, a, false, b, s, n);
    else if (type === T_SET) setAdd(m, a, b, s, n);
    else {
      const n2 = dv.getUint32(o, true);
      const s2 = o + 4;
      o = s2 + n2;
      i++;
      if (type === T_HASH) hashSet(m, a, b, s, n, b, s2, n2);
      else zsetRestoreAdd(m, a, readF64(b, s2), b, s, n);
    }
  }
  if (exp !== 0) c.store.setExpire(c.db, a, exp);
}

/** Handlers by lower-case command name. */
export const keyCommands: Record<string, Handler> = {
  del,
  unlink: del,
  exists,
  touch,
  expire: expireGeneric(true, false),
  pexpire: expireGeneric(false, false),
  expireat: expireGeneric(true, true),
  pexpireat: expireGeneric(false, true),
  ttl: ttlGeneric(false, false),
  pttl: ttlGeneric(true, false),
  expiretime: ttlGeneric(false, true),
  pexpiretime: ttlGeneric(true, true),
  persist,
  type,
  rename: renameGeneric(false),
  renamenx: renameGeneric(true),
  copy,
  move,
  swapdb,
  keys,
  scan,
  randomkey,
  dbsize,
  flushdb,
  flushall,
  'object|encoding': objectEncoding,
  __dump: internalDump,
  __restore: internalRestore,
};
