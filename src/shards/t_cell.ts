/**
 * Rate-limit commands run in the shard that owns the key (no Lua): CL.THROTTLE with
 * redis-cell's exact semantics and reply, and CL.LEASE, which hands a process a batch of
 * tokens from the same GCRA bucket. The state is redis-cell's: the key holds the
 * theoretical arrival time in Unix nanoseconds as a decimal string, with a TTL.
 */
import { performance } from 'node:perf_hooks';
import type { Ctx, Handler } from './context.js';
import { T_STRING, recType, recValLen, strBuf, strOff } from './record.js';
import { E_WRONGTYPE } from '../wire/error-text.js';
import {
  CellCommandError,
  lease,
  leaseReply,
  newThrottleResult,
  parseLeaseArgs,
  parseStoredTat,
  parseThrottleArgs,
  throttle,
  throttleReply,
} from '../limiter/cell.js';

const result = newThrottleResult();

/** The arguments after the command name, as byte views (the limiter parses them). */
function argsAfterName(c: Ctx): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let i = 1; i < c.argc; i++) out.push(c.buf.subarray(c.as[i]!, c.as[i]! + c.al[i]!));
  return out;
}

/** Reads the stored TAT of key argument 1: null when absent, undefined after replying WRONGTYPE. */
function storedTat(c: Ctx): bigint | null | undefined {
  const m = c.store.arena;
  const a = c.lookup(1);
  if (a === 0) return null;
  if (recType(m, a) !== T_STRING) {
    c.out.error(E_WRONGTYPE);
    return undefined;
  }
  return parseStoredTat(strBuf(m, a).subarray(strOff(m, a), strOff(m, a) + recValLen(m, a)));
}

/** Stores the new TAT with its TTL (or deletes the key when the TTL is already over). */
function saveTat(c: Ctx, tatNs: bigint, ttlMs: number): void {
  if (ttlMs <= 0) {
    c.store.del(c.db, c.buf, c.as[1]!, c.al[1]!);
    return;
  }
  const v = Buffer.from(String(tatNs), 'latin1');
  c.store.setString(c.db, c.buf, c.as[1]!, c.al[1]!, v, 0, v.length, c.store.now + ttlMs);
}

function writeFive(c: Ctx, r: readonly number[]): void {
  c.out.arrayHeader(5);
  for (const n of r) c.out.int(n);
}

/** Wall clock in Unix nanoseconds, from the shard's per-batch clock plus sub-millisecond precision. */
function nowNs(c: Ctx): bigint {
  return BigInt(c.store.now) * 1_000_000n + BigInt(Math.floor((performance.now() % 1) * 1e6));
}

const clThrottle: Handler = (c) => {
  try {
    const a = parseThrottleArgs(argsAfterName(c));
    const tat = storedTat(c);
    if (tat === undefined) return;
    throttle(tat, nowNs(c), a.maxBurst, a.count, a.period, a.quantity, result);
    if (result.newTatNs !== null) saveTat(c, result.newTatNs, result.ttlMs);
    writeFive(c, throttleReply(result));
  } catch (err) {
    if (!(err instanceof CellCommandError)) throw err;
    c.out.len = 0;
    c.out.error(err.message);
  }
};

const clLease: Handler = (c) => {
  try {
    const a = parseLeaseArgs(argsAfterName(c));
    const tat = storedTat(c);
    if (tat === undefined) return;
    const r = lease(tat, nowNs(c), a.maxBurst, a.count, a.period, a.want);
    if (r.newTatNs !== null) saveTat(c, r.newTatNs, r.ttlMs);
    writeFive(c, leaseReply(r));
  } catch (err) {
    if (!(err instanceof CellCommandError)) throw err;
    c.out.len = 0;
    c.out.error(err.message);
  }
};

/** Handlers by lower-case command name. */
export const cellCommands: Record<string, Handler> = {
  'cl.throttle': clThrottle,
  'cl.lease': clLease,
};
