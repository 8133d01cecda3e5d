/**
 * HyperLogLog commands (Redis's hyperloglog.c): PFADD, PFCOUNT, PFMERGE, PFDEBUG, PFSELFTEST.
 * HLLs are plain strings in Redis's exact layout (hll.ts), so they DUMP/RESTORE to and from Redis.
 * A dense HLL in the arena is changed where it lies; a sparse one (whose length changes) is
 * changed in a work copy that then replaces the value.
 */
import type { Ctx, Handler } from './context.js';
import { F_EXT, T_STRING, recFlags, recType, recValLen, recValOff, strBuf, strOff } from './record.js';
import { E_HLL_INVALID, E_HLL_NOT_SPARSE, E_HLL_NO_KEY, E_HLL_WRONGTYPE, E_WRONGTYPE, pfdebugUnknown } from '../wire/error-text.js';
import { R_OK } from '../wire/resp-writer.js';
import {
  HLL_DENSE,
  HLL_HDR_SIZE,
  HLL_REGISTERS,
  HLL_SPARSE,
  HllWork,
  cacheValid,
  countFromHistogram,
  decodeSparse,
  denseGet,
  denseRaise,
  hllAdd,
  histogram,
  invalidateCache,
  isHll,
  mergeInto,
  patIndex,
  patLen,
  rawHistogram,
  readCache,
  readCacheBig,
  selfTest,
  sparseSet,
  sparseToDense,
  writeCache,
} from './hll.js';
import { dtConfig } from './dt-config.js';
import { keyEvent, notifyState } from './notify.js';
import { NOTIFY_STRING } from '../wire/keyspace-events.js';

const work = new HllWork();

/** Replies a cardinality (an estimate from corrupted registers can pass 2^53). */
function replyCount(c: Ctx, n: number): void {
  if (Number.isSafeInteger(n)) c.out.int(n);
  else c.out.ascii(`:${BigInt(n)}\r\n`);
}
const histo = new Int32Array(64);
const max = new Uint8Array(HLL_REGISTERS);

/**
 * Looks up key argument i for an HLL command: 0 when missing; -1 after replying WRONGTYPE (not a
 * string, or a string that is not an HLL); else the record.
 */
function hllRecord(c: Ctx, i: number, write: boolean): number {
  const m = c.store.arena;
  const a = write ? c.lookup(i) : c.lookupRead(i);
  if (a === 0) return 0;
  if (recType(m, a) !== T_STRING) {
    c.out.error(E_WRONGTYPE);
    return -1;
  }
  if (!isHll(strBuf(m, a), strOff(m, a), recValLen(m, a))) {
    c.out.error(E_HLL_WRONGTYPE);
    return -1;
  }
  return a;
}

/** Whether record `a` can be written where it lies (in the arena, not a shared external buffer). */
function inArena(c: Ctx, a: number): boolean {
  return (recFlags(c.store.arena, a) & F_EXT) === 0;
}

/** Stores the work copy as key argument `i`'s value (keeping its TTL). */
function storeWork(c: Ctx, i: number): void {
  c.store.setString(c.db, c.buf, c.as[i]!, c.al[i]!, work.b, 0, work.len, -1);
}

/** Loads record `a` into the work copy. */
function loadWork(c: Ctx, a: number): void {
  const m = c.store.arena;
  work.load(strBuf(m, a), strOff(m, a), recValLen(m, a));
}

const pfadd: Handler = (c) => {
  const m = c.store.arena;
  const a = hllRecord(c, 1, true);
  if (a < 0) return;
  let updated = 0;
  if (a !== 0 && inArena(c, a) && m.u8[recValOff(m, a) + 4] === HLL_DENSE) {
    // Dense in the arena: raise registers where they lie.
    const off = recValOff(m, a);
    for (let j = 2; j < c.argc; j++) {
      const count = patLen(c.buf, c.as[j]!, c.al[j]!);
      updated += denseRaise(m.u8, off + HLL_HDR_SIZE, patIndex, count);
    }
    if (updated > 0) invalidateCache(m.u8, off);
  } else {
    if (a === 0) {
      work.empty();
      updated++;
    } else loadWork(c, a);
    const maxBytes = dtConfig.hllSparseMaxBytes;
    for (let j = 2; j < c.argc; j++) {
      const r = hllAdd(work, c.buf, c.as[j]!, c.al[j]!, maxBytes);
      if (r < 0) {
        c.out.error(E_HLL_INVALID);
        return;
      }
      updated += r;
    }
    if (updated > 0) {
      invalidateCache(work.b, 0);
      storeWork(c, 1);
    }
  }
  if (updated === 0) c.unchanged = true;
  else if (notifyState.flags !== 0) keyEvent(c, NOTIFY_STRING, 'pfadd', 1);
  c.out.int(updated > 0 ? 1 : 0);
};

const pfcount: Handler = (c) => {
  const m = c.store.arena;
  if (c.argc > 2) {
    // Several keys: the cardinality of their union, from the registers' maxima.
    max.fill(0);
    for (let j = 1; j < c.argc; j++) {
      const a = hllRecord(c, j, false);
      if (a < 0) return;
      if (a === 0) continue;
      if (!mergeInto(max, strBuf(m, a), strOff(m, a), recValLen(m, a))) {
        c.out.error(E_HLL_INVALID);
        return;
      }
    }
    rawHistogram(max, histo);
    replyCount(c, countFromHistogram(histo));
    return;
  }
  const a = hllRecord(c, 1, false);
  if (a < 0) return;
  if (a === 0) {
    c.out.int(0);
    return;
  }
  const b = strBuf(m, a);
  const off = strOff(m, a);
  if (cacheValid(b, off)) {
    const card = readCache(b, off);
    if (Number.isSafeInteger(card)) c.out.int(card);
    else c.out.ascii(`:${readCacheBig(b, off)}\r\n`);
    return;
  }
  if (!histogram(b, off, recValLen(m, a), histo)) {
    c.out.error(E_HLL_INVALID);
    return;
  }
  const card = countFromHistogram(histo);
  // The cache is part of the value (Redis propagates the change), so it is written back.
  if (inArena(c, a)) writeCache(b, off, card);
  else {
    loadWork(c, a);
    writeCache(work.b, 0, card);
    storeWork(c, 1);
  }
  replyCount(c, card);
};

const pfmerge: Handler = (c) => {
  const m = c.store.arena;
  max.fill(0);
  let useDense = false;
  for (let j = 1; j < c.argc; j++) {
    const a = hllRecord(c, j, false);
    if (a < 0) return;
    if (a === 0) continue;
    const b = strBuf(m, a);
    const off = strOff(m, a);
    if (b[off + 4] === HLL_DENSE) useDense = true;
    if (!mergeInto(max, b, off, recValLen(m, a))) {
      c.out.error(E_HLL_INVALID);
      return;
    }
  }
  const a = c.lookup(1);
  if (a === 0) work.empty();
  else loadWork(c, a);
  if (useDense && !sparseToDense(work)) {
    c.out.error(E_HLL_INVALID);
    return;
  }
  const maxBytes = dtConfig.hllSparseMaxBytes;
  for (let j = 0; j < HLL_REGISTERS; j++) {
    if (max[j] === 0) continue;
    if (work.b[4] === HLL_DENSE) denseRaise(work.b, HLL_HDR_SIZE, j, max[j]!);
    else sparseSet(work, j, max[j]!, maxBytes);
  }
  invalidateCache(work.b, 0);
  storeWork(c, 1);
  if (notifyState.flags !== 0) keyEvent(c, NOTIFY_STRING, 'pfadd', 1);
  c.out.constant(R_OK);
};

const pfdebug: Handler = (c) => {
  const a = hllRecord(c, 2, true);
  if (a < 0) return;
  if (a === 0) {
    c.out.error(E_HLL_NO_KEY);
    return;
  }
  const m = c.store.arena;
  const sparse = strBuf(m, a)[strOff(m, a) + 4] === HLL_SPARSE;
  if (c.is(1, 'GETREG')) {
    let b = strBuf(m, a);
    let off = strOff(m, a);
    if (sparse) {
      loadWork(c, a);
      if (!sparseToDense(work)) {
        c.out.error(E_HLL_INVALID);
        return;
      }
      storeWork(c, 2);
      b = work.b;
      off = 0;
    }
    c.out.arrayHeader(HLL_REGISTERS);
    for (let j = 0; j < HLL_REGISTERS; j++) c.out.int(denseGet(b, off + HLL_HDR_SIZE, j));
  } else if (c.is(1, 'DECODE')) {
    if (!sparse) {
      c.out.error(E_HLL_NOT_SPARSE);
      return;
    }
    c.out.bulkString(decodeSparse(strBuf(m, a), strOff(m, a), recValLen(m, a)));
  } else if (c.is(1, 'ENCODING')) {
    c.out.simple(sparse ? 'sparse' : 'dense');
  } else if (c.is(1, 'TODENSE')) {
    if (sparse) {
      loadWork(c, a);
      if (!sparseToDense(work)) {
        c.out.error(E_HLL_INVALID);
        return;
      }
      storeWork(c, 2);
    }
    c.out.int(sparse ? 1 : 0);
  } else c.out.error(pfdebugUnknown(c.str(1)));
};

const pfselftest: Handler = (c) => {
  const failed = selfTest(dtConfig.hllSparseMaxBytes);
  if (failed === null) c.out.constant(R_OK);
  else c.out.error(failed);
};

/** Handlers by lower-case command name. */
export const hllCommands: Record<string, Handler> = { pfadd, pfcount, pfmerge, pfdebug, pfselftest };
