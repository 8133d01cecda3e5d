/**
 * Leaky-bucket queueing (nginx `limit_req zone burst=N delay=M`) over the shared bucket table:
 * requests beyond the rate are not refused but given a later slot, up to `burst` requests ahead in
 * line (and at most `maxDelayMs` of waiting); the rest are refused. A slot is reserved with one CAS
 * on the key's GCRA TAT word, so reservations made in different threads never share a slot.
 *
 * In GCRA terms the queue is a GCRA limiter whose capacity is burst + 1: the TAT's distance ahead of
 * now is the line's length, and a request's wait is that distance less the `delay` requests nginx
 * lets through at once (`nodelay`: all of the burst).
 */
import { ALG_GCRA, BucketTable, DEAD, FRESH, TABLE_FULL } from './bucket-table.js';
import { type Clock, monotonicMs } from './clock.js';
import { InvalidCostError, LimiterError, RateLimitedError } from './errors.js';
import { gcraParams, SLACK, type GcraParams } from './gcra-math.js';
import { fillTableFull } from './local-options.js';
import type { CheckResult } from './result.js';

/** Options of a QueueLimiter. */
export interface QueueLimiterOptions {
  /** Table to keep buckets in (share its `.buffer` with workers); a private one when omitted. */
  table?: BucketTable;
  /** Namespace id in the table (0..63); queues in different threads with the same id share lines. */
  namespace?: number;
  /** The rate: `limit` requests per `windowMs`. */
  limit: number;
  windowMs: number;
  /** Requests beyond the rate that may wait for their slot (nginx burst; default 0). */
  burst?: number;
  /** Of those, how many are let through without waiting (nginx delay=M; default 0). */
  delay?: number;
  /** Let the whole burst through without waiting (nginx nodelay): the same as delay = burst. */
  nodelay?: boolean;
  /** Refuse a request that would wait longer than this (default: only the burst bounds the wait). */
  maxDelayMs?: number;
  /** What a reservation does when the table is full (default deny). */
  onFull?: 'deny' | 'allow';
  /** Clock for acquire() (default monotonicMs). */
  clock?: Clock;
  /** Timer for acquire() (default setTimeout); tests inject their own. */
  setTimer?: (fn: () => void, ms: number) => unknown;
}

/** A reservation: CheckResult plus how long the request must wait for its slot (0: go now). */
export interface QueueResult extends CheckResult {
  delayMs: number;
}

/** nginx-style limit_req queue over a shared GCRA word per key; see the module comment. */
export class QueueLimiter {
  readonly table: BucketTable;
  readonly namespace: number;
  readonly params: GcraParams;
  readonly onFull: 'deny' | 'allow';
  /** Requests that may wait beyond the rate, and how many of them go at once. */
  readonly burst: number;
  readonly delay: number;
  readonly maxDelayMs: number;
  private readonly clock: Clock;
  private readonly setTimer: (fn: () => void, ms: number) => unknown;
  private readonly hints: Map<string, number>;
  private readonly result: QueueResult = {
    allowed: false,
    limit: 0,
    remaining: 0,
    resetMs: 0,
    retryAfterMs: 0,
    tableFull: false,
    delayMs: 0,
  };

  constructor(opts: QueueLimiterOptions) {
    const burst = opts.burst ?? 0;
    if (!Number.isInteger(burst) || burst < 0)
      throw new LimiterError('SABRE_LIMITER_NAMESPACE', `burst must be an integer ≥ 0, got ${burst}`);
    const delay = opts.nodelay ? burst : (opts.delay ?? 0);
    if (!Number.isInteger(delay) || delay < 0)
      throw new LimiterError('SABRE_LIMITER_NAMESPACE', `delay must be an integer ≥ 0, got ${delay}`);
    const maxDelayMs = opts.maxDelayMs ?? Infinity;
    if (!(maxDelayMs >= 0)) throw new LimiterError('SABRE_LIMITER_NAMESPACE', `maxDelayMs must be ≥ 0, got ${maxDelayMs}`);
    this.burst = burst;
    this.delay = Math.min(delay, burst);
    this.maxDelayMs = maxDelayMs;
    this.table = opts.table ?? BucketTable.create();
    this.namespace = opts.namespace ?? 0;
    this.onFull = opts.onFull ?? 'deny';
    this.clock = opts.clock ?? monotonicMs;
    this.setTimer = opts.setTimer ?? setTimeout;
    this.params = gcraParams(opts.limit, opts.windowMs, burst + 1);
    this.table.registerNamespace(this.namespace, ALG_GCRA, this.params.tickUs, this.params.ei, this.params.dvt);
    this.hints = this.table.hintsOf(this.namespace);
  }

  /**
   * Reserves the next slot for `key` (`cost` units) when the line has room and the wait is within
   * maxDelayMs: `allowed` with `delayMs` to wait before serving. Otherwise nothing is reserved and
   * `retryAfterMs` says when a request could get a slot (-1: cost exceeds burst + 1). Returns this
   * queue's reused result (no allocation).
   */
  reserve(key: string, cost = 1, nowMs: number = this.clock()): QueueResult {
    if ((cost | 0) !== cost || cost < 0) throw new InvalidCostError(cost);
    const out = this.result;
    const table = this.table;
    const i32 = table.i32;
    const p = this.params;
    const ei = p.ei;
    const dvt = p.dvt;
    const now = Math.floor(nowMs * p.ticksPerMs) | 0;
    const inc = cost * ei;
    const free = this.delay * ei;
    const maxWait = this.maxDelayMs * p.ticksPerMs;
    let base = table.hinted(this.hints, key);
    let meta = table.lastMeta;
    for (;;) {
      if (base < 0) {
        base = table.slotFor(this.namespace, key, nowMs);
        if (base === TABLE_FULL) {
          out.delayMs = 0;
          fillTableFull(table, this.onFull, p.burst, out);
          return out;
        }
        meta = table.lastMeta;
      }
      for (;;) {
        const w = Atomics.load(i32, base + 1);
        // The atomic state read orders this plain meta read after it.
        if (w === DEAD || i32[base] !== meta) break;
        let d = (w - now) | 0;
        if (w === FRESH || d < 0 || d > dvt + SLACK) d = 0;
        const nd = d + inc;
        // The request is served when its last unit's slot comes, less the units nginx lets through at once.
        const wait = Math.max(0, nd - ei - free);
        out.limit = p.burst;
        out.tableFull = false;
        if (nd > dvt || wait > maxWait) {
          out.allowed = false;
          out.delayMs = 0;
          out.remaining = d >= dvt ? 0 : Math.floor((dvt - d) / ei);
          out.resetMs = d * p.msPerTick;
          // Room comes when the line is short enough and the wait within maxDelayMs.
          out.retryAfterMs = inc > dvt ? -1 : Math.max(nd - dvt, wait - maxWait, 1) * p.msPerTick;
          return out;
        }
        if (inc !== 0) {
          let nw = (now + nd) | 0;
          if (nw === FRESH || nw === DEAD) nw = (nw + 2) | 0;
          if (Atomics.compareExchange(i32, base + 1, w, nw) !== w) continue;
        }
        out.allowed = true;
        out.delayMs = wait * p.msPerTick;
        out.remaining = Math.floor((dvt - nd) / ei);
        out.resetMs = nd * p.msPerTick;
        out.retryAfterMs = 0;
        return out;
      }
      base = -1;
    }
  }

  /**
   * Waits for `key`'s slot: resolves (with the milliseconds waited) when it comes, or rejects at
   * once with RateLimitedError carrying the computed retry time when the line is full or the wait
   * would pass maxDelayMs.
   */
  acquire(key: string, cost = 1): Promise<number> {
    let r: QueueResult;
    try {
      r = this.reserve(key, cost, this.clock());
    } catch (err) {
      return Promise.reject(err);
    }
    if (!r.allowed) return Promise.reject(new RateLimitedError(r.retryAfterMs));
    const delayMs = r.delayMs;
    if (delayMs === 0) return Promise.resolve(0);
    return new Promise((resolve) => {
      this.setTimer(() => resolve(delayMs), delayMs);
    });
  }
}
