/** Token bucket with discrete refills over the shared bucket table: one packed word per key, one CAS per check. */
import { ALG_TOKEN_BUCKET, BucketTable, DEAD, FRESH, TABLE_FULL } from './bucket-table.js';
import { coarseMs } from './clock.js';
import { InvalidCostError } from './errors.js';
import { fillTableFull, type LocalLimiterOptions } from './local-options.js';
import { newResult, type CheckResult } from './result.js';
import { TB_HALF, TB_IDX_MASK, tokenBucketParams, type TokenBucketParams } from './token-bucket-math.js';

/**
 * Token bucket of capacity `limit`, adding `refill.tokens` every `refill.intervalMs` (derived from
 * limit / window when not given). Tokens arrive in whole steps at interval boundaries.
 */
export class TokenBucketLimiter {
  readonly table: BucketTable;
  readonly namespace: number;
  readonly params: TokenBucketParams;
  readonly onFull: 'deny' | 'allow';
  private readonly result: CheckResult = newResult();
  private readonly hints: Map<string, number>;

  constructor(opts: LocalLimiterOptions) {
    this.table = opts.table ?? BucketTable.create();
    this.namespace = opts.namespace ?? 0;
    this.onFull = opts.onFull ?? 'deny';
    this.params = tokenBucketParams(opts.limit, opts.windowMs, opts.refill);
    const p = this.params;
    this.table.registerNamespace(this.namespace, ALG_TOKEN_BUCKET, p.capacity, p.refillTokens, p.intervalMs);
    this.hints = this.table.hintsOf(this.namespace);
  }

  /** Checks and, when allowed, takes `cost` tokens for `key`; returns the reused result (no allocation). */
  check(key: string, cost = 1, nowMs: number = coarseMs()): CheckResult {
    return this.checkInto(key, cost, nowMs, this.result);
  }

  /** Like `check`, writing into the caller's `out`. */
  checkInto(key: string, cost: number, nowMs: number, out: CheckResult): CheckResult {
    if ((cost | 0) !== cost || cost < 0) throw new InvalidCostError(cost);
    const table = this.table;
    const i32 = table.i32;
    const cap = this.params.capacity;
    const refill = this.params.refillTokens;
    const interval = this.params.intervalMs;
    const jAbs = Math.floor(nowMs / interval);
    const jNow = jAbs & TB_IDX_MASK;
    let base = table.hinted(this.hints, key);
    for (;;) {
      if (base < 0) {
        base = table.slotFor(this.namespace, key, nowMs);
        if (base === TABLE_FULL) return fillTableFull(table, this.onFull, cap, out);
      }
      const meta = table.lastMeta;
      for (;;) {
        const w = Atomics.load(i32, base + 1);
        // The atomic state read orders this plain meta read after it (an Atomics.load costs a builtin call).
        if (w === DEAD || i32[base] !== meta) break;
        let tokens: number;
        let j = jNow;
        if (w === FRESH) {
          tokens = cap;
        } else {
          const i = (w >>> 16) & TB_IDX_MASK;
          const el = (jNow - i) & TB_IDX_MASK;
          tokens = w & 0xffff;
          // A lagging caller clock must not refill (or rewind the stored interval).
          if (el >= TB_HALF) j = i;
          else tokens = Math.min(cap, tokens + el * refill);
        }
        out.limit = cap;
        out.tableFull = false;
        if (tokens < cost) {
          out.allowed = false;
          out.remaining = tokens;
          out.resetMs = tokens >= cap ? 0 : (jAbs + Math.ceil((cap - tokens) / refill)) * interval - nowMs;
          out.retryAfterMs = cost > cap ? -1 : (jAbs + Math.ceil((cost - tokens) / refill)) * interval - nowMs;
          return out;
        }
        const left = tokens - cost;
        if (cost !== 0 && Atomics.compareExchange(i32, base + 1, w, (j << 16) | left) !== w) continue;
        out.allowed = true;
        out.remaining = left;
        out.resetMs = left >= cap ? 0 : (jAbs + Math.ceil((cap - left) / refill)) * interval - nowMs;
        out.retryAfterMs = 0;
        return out;
      }
      base = -1;
    }
  }
}
