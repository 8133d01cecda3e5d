/**
 * Global limits backed by sabre server. Each process spends tokens from a local shared-memory pool
 * filled by `CL.LEASE` (up to `leaseSize` tokens per request); only an empty pool costs a round
 * trip. When the server is unreachable the declared `onUnavailable` rule applies, and the RESP
 * client reconnects by itself.
 *
 * Accuracy: tokens are consumed on the server when leased, so over any interval the total admitted
 * by P processes is at most what the global bucket allows plus the tokens held unspent in pools,
 * i.e. ≤ limit + P × leaseSize. With leaseSize 1 nothing is held and the limit is exact.
 */
import { logger } from '../log.js';
import { BucketTable } from './bucket-table.js';
import { monotonicMs } from './clock.js';
import { LimiterError } from './errors.js';
import { GcraLimiter } from './gcra.js';
import { LeasePool } from './lease-pool.js';
import { newResult, type CheckResult } from './result.js';
import type { RespClient } from './resp-client.js';

/** Options of a global (server-backed) limiter. */
export interface GlobalLimiterOptions {
  /** Connection to sabre server; shared by the limiters of one process. */
  client: RespClient;
  /** Table for the lease pool (and the insurance buckets); a private one when omitted. */
  table?: BucketTable;
  /** Namespace of the lease pool in the table. */
  namespace: number;
  /** Namespace of the insurance limiter (onUnavailable "local"); default namespace + 1. */
  insuranceNamespace?: number;
  /** Server key prefix (default "sabre:rl:"). */
  prefix?: string;
  limit: number;
  /** Whole seconds: the server commands take the period in seconds. */
  windowMs: number;
  burst?: number;
  /** Tokens asked per lease (default 1: exact). */
  leaseSize?: number;
  onUnavailable: 'allow' | 'deny' | 'local';
  /** Per-process limit while the server is unreachable (default: the policy's limit and window). */
  insurance?: { limit: number; windowMs: number };
}

const log = logger('limiter-remote');

/** A limiter whose bucket lives in sabre server; see the module comment for the accuracy bound. */
export class GlobalLimiter {
  readonly pool: LeasePool;
  readonly insurance: GcraLimiter | undefined;
  private readonly client: RespClient;
  private readonly prefix: string;
  private readonly maxBurst: number;
  private readonly count: number;
  private readonly periodS: number;
  private readonly leaseSize: number;
  private readonly onUnavailable: 'allow' | 'deny' | 'local';
  private readonly result = newResult();
  private readonly inflight = new Map<string, Promise<unknown>>();
  private readonly deniedUntil = new Map<string, number>();
  private lastUnavailableLog = 0;
  /** CL.LEASE round trips made, and checks answered by the onUnavailable rule (for metrics). */
  leaseRequests = 0;
  fallbacks = 0;
  /** Whether the last round trip failed: the onUnavailable rule is in force until one succeeds. */
  unavailableNow = false;

  constructor(opts: GlobalLimiterOptions) {
    const burst = opts.burst ?? opts.limit;
    if (!Number.isInteger(opts.windowMs / 1000) || opts.windowMs < 1000) {
      throw new LimiterError('SABRE_LIMITER_NAMESPACE', `a global window must be whole seconds, got ${opts.windowMs} ms`);
    }
    this.client = opts.client;
    this.prefix = opts.prefix ?? 'sabre:rl:';
    this.maxBurst = burst - 1;
    this.count = opts.limit;
    this.periodS = opts.windowMs / 1000;
    this.leaseSize = opts.leaseSize ?? 1;
    this.onUnavailable = opts.onUnavailable;
    const table = opts.table ?? BucketTable.create();
    this.pool = new LeasePool(table, opts.namespace);
    if (opts.onUnavailable === 'local') {
      const ins = opts.insurance ?? { limit: opts.limit, windowMs: opts.windowMs };
      this.insurance = new GcraLimiter({
        table,
        namespace: opts.insuranceNamespace ?? opts.namespace + 1,
        limit: ins.limit,
        windowMs: ins.windowMs,
      });
    }
  }

  /**
   * Spends leased tokens held locally; returns the reused result when they suffice, or null when
   * the server must be asked (call `check`). Synchronous and allocation-free.
   */
  tryLocal(key: string, cost = 1, nowMs: number = monotonicMs()): CheckResult | null {
    if (!this.pool.take(key, cost, nowMs)) return null;
    const r = this.result;
    r.allowed = true;
    r.limit = this.maxBurst + 1;
    r.remaining = this.pool.held(key, nowMs);
    r.resetMs = 0;
    r.retryAfterMs = 0;
    r.tableFull = false;
    return r;
  }

  /** Full check: local pool first, then one coalesced CL.LEASE per key. Resolves to a fresh object. */
  async check(key: string, cost = 1): Promise<CheckResult> {
    for (;;) {
      const local = this.tryLocal(key, cost);
      if (local) return { ...local };
      const until = this.deniedUntil.get(key);
      const now = monotonicMs();
      if (until !== undefined) {
        if (now < until) return denied(this.maxBurst + 1, 0, until - now);
        this.deniedUntil.delete(key);
      }
      // With leaseSize 1 a lease never covers another request, so waiting would only serialize them.
      const pending = this.leaseSize > 1 ? this.inflight.get(key) : undefined;
      if (!pending) return this.lease(key, cost);
      await pending;
    }
  }

  private async lease(key: string, cost: number): Promise<CheckResult> {
    const want = Math.max(cost, this.leaseSize);
    this.leaseRequests++;
    const call = this.client.command(['CL.LEASE', this.prefix + key, this.maxBurst, this.count, this.periodS, want]);
    if (this.leaseSize > 1) {
      this.inflight.set(
        key,
        call.then(
          () => undefined,
          () => undefined,
        ),
      );
    }
    let reply: unknown;
    try {
      reply = await call;
    } catch (err) {
      return this.unavailable(key, cost, err as Error);
    } finally {
      if (this.leaseSize > 1) this.inflight.delete(key);
    }
    if (!Array.isArray(reply) || reply.length !== 5 || !reply.every((v) => typeof v === 'number')) {
      return this.unavailable(key, cost, new LimiterError('SABRE_LIMITER_PROTOCOL', `unexpected CL.LEASE reply ${JSON.stringify(reply)}`));
    }
    const [granted, limit, remaining, nextMs, resetMs] = reply as number[];
    this.unavailableNow = false;
    const now = monotonicMs();
    if (granted! >= cost) {
      if (granted! > cost) this.pool.add(key, granted! - cost, now);
      return {
        allowed: true,
        limit: limit!,
        remaining: remaining! + granted! - cost,
        resetMs: resetMs!,
        retryAfterMs: 0,
        tableFull: false,
      };
    }
    // A partial grant was consumed on the server: keep it for the next checks rather than lose it.
    if (granted! > 0) this.pool.add(key, granted!, now);
    if (nextMs! > 0) {
      if (this.deniedUntil.size > 10_000) this.deniedUntil.clear();
      this.deniedUntil.set(key, now + nextMs!);
    }
    return denied(limit!, remaining! + granted!, cost > limit! ? -1 : Math.max(nextMs!, 1));
  }

  private unavailable(key: string, cost: number, err: Error): CheckResult {
    this.fallbacks++;
    this.unavailableNow = true;
    const now = Date.now();
    if (now - this.lastUnavailableLog > 10_000) {
      this.lastUnavailableLog = now;
      log.warn('sabre server unavailable; applying onUnavailable', { rule: this.onUnavailable, error: err });
    }
    const limit = this.maxBurst + 1;
    if (this.onUnavailable === 'allow') return { allowed: true, limit, remaining: 0, resetMs: 0, retryAfterMs: 0, tableFull: false };
    if (this.onUnavailable === 'deny') return denied(limit, 0, 1000);
    return { ...this.insurance!.check(key, cost) };
  }
}

function denied(limit: number, remaining: number, retryAfterMs: number): CheckResult {
  return { allowed: false, limit, remaining, resetMs: retryAfterMs, retryAfterMs, tableFull: false };
}
