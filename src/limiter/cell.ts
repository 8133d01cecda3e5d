/**
 * Pure server-side rate-limit commands for sabre server, executed by the shard that owns the key:
 * `CL.THROTTLE` with redis-cell's semantics and reply, and `CL.LEASE`, which hands out a batch of
 * tokens from the same GCRA bucket. The shard reads the key's value, calls these functions and
 * writes back what they return; nothing here touches storage or clocks.
 *
 * Storage (identical to redis-cell, so both commands and redis-cell share keys): the value is the
 * theoretical arrival time (TAT) as a decimal string of Unix nanoseconds; after an admitted call
 * the shard sets it to `newTatNs` with `PEXPIRE ttlMs` (ttlMs <= 0: delete the key). A limited
 * call (`newTatNs === null`) writes nothing and leaves the TTL alone.
 */
import { SabreError } from '../errors.js';

/** A command error; `message` is the exact Redis error text to reply with (without the leading '-'). */
export class CellCommandError extends SabreError {
  declare readonly code: 'SABRE_CELL';
  constructor(message: string) {
    super('SABRE_CELL', message);
  }
}

/** Parsed CL.THROTTLE arguments (key left to the caller; all integers validated as i64). */
export interface ThrottleArgs {
  maxBurst: bigint;
  count: bigint;
  period: bigint;
  quantity: bigint;
}

/** Parsed CL.LEASE arguments. */
export interface LeaseArgs {
  maxBurst: bigint;
  count: bigint;
  period: bigint;
  want: bigint;
}

/** Result of `throttle`; the reply is [limited, limit, remaining, retryAfterS, resetAfterS]. */
export interface ThrottleResult {
  limited: 0 | 1;
  limit: number;
  remaining: number;
  /** Seconds, rounded up as redis-cell does; -1 when allowed or when quantity exceeds the limit. */
  retryAfterS: number;
  /** Seconds until the bucket is full again, rounded up. */
  resetAfterS: number;
  /** Unrounded durations, for callers wanting more than redis-cell's seconds. */
  retryAfterNs: bigint;
  resetAfterNs: bigint;
  /** New TAT to store, or null when nothing must be written. */
  newTatNs: bigint | null;
  /** PEXPIRE to set together with `newTatNs` (whole ms, truncated like redis-cell). */
  ttlMs: number;
}

/** Result of `lease`; the reply is [granted, limit, remaining, nextMs, resetMs]. */
export interface LeaseResult {
  granted: number;
  limit: number;
  /** Tokens still in the global bucket after this grant. */
  remaining: number;
  /** Milliseconds until at least one more token is available (0 when remaining > 0). */
  nextMs: number;
  /** Milliseconds until the bucket is full. */
  resetMs: number;
  newTatNs: bigint | null;
  ttlMs: number;
}

const I64_MAX = (1n << 63n) - 1n;
const I64_MIN = -(1n << 63n);
const NS_PER_S = 1_000_000_000n;
const MAX_PERIOD_S = I64_MAX / NS_PER_S;

/** Usage error texts, as redis-cell words them. */
export const THROTTLE_USAGE = 'Cell error: Usage: cl.throttle <key> <max_burst> <count per period> <period> [<quantity>]';
export const LEASE_USAGE = 'Cell error: Usage: cl.lease <key> <max_burst> <count per period> <period> <want>';

function text(arg: string | Uint8Array): string {
  return typeof arg === 'string' ? arg : Buffer.from(arg.buffer, arg.byteOffset, arg.byteLength).toString('latin1');
}

// Rust's i64::from_str: optional sign, ASCII digits only, in range.
function parseI64(arg: string | Uint8Array): bigint {
  const s = text(arg);
  if (!/^[+-]?\d+$/.test(s)) throw new CellCommandError(`Cell error: Couldn't parse as integer: ${s}`);
  const n = BigInt(s);
  if (n > I64_MAX || n < I64_MIN) throw new CellCommandError(`Cell error: Couldn't parse as integer: ${s}`);
  return n;
}

// redis-cell accepts negative values and then misbehaves (negative TTLs, inverted rates); refuse them.
function nonNegative(name: string, n: bigint): bigint {
  if (n < 0n) throw new CellCommandError(`Cell error: ${name} must not be negative`);
  return n;
}

/** Parses `key max_burst count period [quantity]` (the arguments after the command name). */
export function parseThrottleArgs(args: readonly (string | Uint8Array)[]): ThrottleArgs {
  if (args.length !== 4 && args.length !== 5) throw new CellCommandError(THROTTLE_USAGE);
  const maxBurst = nonNegative('max_burst', parseI64(args[1]!));
  const count = nonNegative('count', parseI64(args[2]!));
  const period = nonNegative('period', parseI64(args[3]!));
  const quantity = args.length === 5 ? nonNegative('quantity', parseI64(args[4]!)) : 1n;
  return { maxBurst, count, period, quantity };
}

/** Parses `key max_burst count period want` (the arguments after the command name). */
export function parseLeaseArgs(args: readonly (string | Uint8Array)[]): LeaseArgs {
  if (args.length !== 5) throw new CellCommandError(LEASE_USAGE);
  return {
    maxBurst: nonNegative('max_burst', parseI64(args[1]!)),
    count: nonNegative('count', parseI64(args[2]!)),
    period: nonNegative('period', parseI64(args[3]!)),
    want: nonNegative('want', parseI64(args[4]!)),
  };
}

/** Parses a stored TAT (the key's string value); errors read like Rust's ParseIntError. */
export function parseStoredTat(value: string | Uint8Array): bigint {
  const s = text(value);
  if (s === '') throw new CellCommandError('Cell error: cannot parse integer from empty string');
  if (!/^[+-]?\d+$/.test(s)) throw new CellCommandError('Cell error: invalid digit found in string');
  const n = BigInt(s);
  if (n > I64_MAX) throw new CellCommandError('Cell error: number too large to fit in target type');
  if (n < I64_MIN) throw new CellCommandError('Cell error: number too small to fit in target type');
  return n;
}

// f64 → i64 as Rust's `as` does: truncate, saturate, NaN → 0.
function f64ToI64(x: number): bigint {
  if (Number.isNaN(x)) return 0n;
  if (x >= 9.223372036854776e18) return I64_MAX;
  if (x <= -9.223372036854776e18) return I64_MIN;
  return BigInt(Math.trunc(x));
}

/** Emission interval in ns exactly as redis-cell's Rate::per_period computes it (via f64). */
export function emissionIntervalNs(count: bigint, period: bigint): bigint {
  if (period > MAX_PERIOD_S) throw new CellCommandError('Cell error: period is too large');
  const ns = period * NS_PER_S;
  if (count === 0n || ns === 0n) return 0n;
  return f64ToI64(Number(ns) / Number(count));
}

function checked(n: bigint, what: string): bigint {
  if (n > I64_MAX || n < I64_MIN) throw new CellCommandError(`Cell error: ${what} is too large`);
  return n;
}

// Duration::whole_seconds plus one when there is a positive sub-second millisecond part.
function roundedSeconds(ns: bigint): number {
  let s = ns / NS_PER_S;
  if ((ns % NS_PER_S) / 1_000_000n > 0n) s += 1n;
  return Number(s);
}

function ceilMs(ns: bigint): number {
  return ns <= 0n ? 0 : Number((ns + 999_999n) / 1_000_000n);
}

function remainingOf(next: bigint, ei: bigint): number {
  if (next <= -ei) return 0;
  return Number(f64ToI64(Number(next / 1000n) / Number(ei / 1000n)));
}

/** Allocates a result for `throttle` (reuse one per shard). */
export function newThrottleResult(): ThrottleResult {
  return {
    limited: 0,
    limit: 0,
    remaining: 0,
    retryAfterS: -1,
    resetAfterS: -1,
    retryAfterNs: 0n,
    resetAfterNs: 0n,
    newTatNs: null,
    ttlMs: 0,
  };
}

/**
 * CL.THROTTLE with redis-cell's GCRA: emission interval = period / count, delay tolerance =
 * interval × (max_burst + 1). `storedTatNs` is the parsed key value (null when the key is absent),
 * `nowNs` the shard's wall clock in Unix ns. Throws CellCommandError("Cell error: Zero rates are
 * not supported") when count or period is 0. Writes into `out` when given.
 */
export function throttle(
  storedTatNs: bigint | null,
  nowNs: bigint,
  maxBurst: bigint,
  count: bigint,
  period: bigint,
  quantity: bigint,
  out: ThrottleResult = newThrottleResult(),
): ThrottleResult {
  const ei = emissionIntervalNs(count, period);
  if (ei === 0n) throw new CellCommandError('Cell error: Zero rates are not supported');
  const limit = checked(maxBurst + 1n, 'max_burst');
  const dvt = checked(ei * limit, 'max_burst');
  const increment = checked(ei * quantity, 'quantity');
  // redis-cell stores -1 for "no value" internally, so a stored -1 reads as a missing key.
  const tat = storedTatNs === null || storedTatNs === -1n ? nowNs : storedTatNs;
  const newTat = checked(nowNs > tat ? nowNs + increment : tat + increment, 'quantity');
  const diff = nowNs - (newTat - dvt);
  let ttl: bigint;
  out.retryAfterNs = -NS_PER_S;
  if (diff < 0n) {
    if (increment <= dvt) out.retryAfterNs = -diff;
    out.limited = 1;
    ttl = tat - nowNs;
    out.newTatNs = null;
  } else {
    out.limited = 0;
    ttl = newTat - nowNs;
    out.newTatNs = newTat;
  }
  out.limit = Number(limit);
  out.remaining = remainingOf(dvt - ttl, ei);
  out.resetAfterNs = ttl;
  out.retryAfterS = roundedSeconds(out.retryAfterNs);
  out.resetAfterS = roundedSeconds(ttl);
  out.ttlMs = Number(ttl / 1_000_000n);
  return out;
}

/** The 5-integer CL.THROTTLE reply. */
export function throttleReply(r: ThrottleResult): [number, number, number, number, number] {
  return [r.limited, r.limit, r.remaining, r.retryAfterS, r.resetAfterS];
}

/**
 * CL.LEASE: atomically takes up to `want` tokens from the same GCRA bucket CL.THROTTLE uses
 * (taking n tokens leaves the state n single CL.THROTTLE calls would). Grants
 * min(want, tokens available now); a grant of 0 writes nothing. `want` 0 peeks.
 */
export function lease(
  storedTatNs: bigint | null,
  nowNs: bigint,
  maxBurst: bigint,
  count: bigint,
  period: bigint,
  want: bigint,
): LeaseResult {
  const ei = emissionIntervalNs(count, period);
  if (ei === 0n) throw new CellCommandError('Cell error: Zero rates are not supported');
  const limit = checked(maxBurst + 1n, 'max_burst');
  const dvt = checked(ei * limit, 'max_burst');
  const tat = storedTatNs === null || storedTatNs === -1n || storedTatNs < nowNs ? nowNs : storedTatNs;
  let avail = (nowNs + dvt - tat) / ei;
  if (avail < 0n) avail = 0n;
  const granted = want < avail ? want : avail;
  const newTat = tat + granted * ei;
  const ttl = newTat - nowNs;
  const remaining = avail - granted;
  return {
    granted: Number(granted),
    limit: Number(limit),
    remaining: Number(remaining),
    nextMs: remaining > 0n ? 0 : ceilMs(newTat + ei - dvt - nowNs),
    resetMs: ceilMs(ttl),
    newTatNs: granted > 0n ? newTat : null,
    ttlMs: Number(ttl / 1_000_000n),
  };
}

/** The 5-integer CL.LEASE reply. */
export function leaseReply(r: LeaseResult): [number, number, number, number, number] {
  return [r.granted, r.limit, r.remaining, r.nextMs, r.resetMs];
}
