/** GCRA (leaky bucket as a meter) over the shared bucket table: one TAT word per key, one CAS per check. */
import { ALG_GCRA, BucketTable, DEAD, FRESH, TABLE_FULL } from './bucket-table.js';
import { coarseMs } from './clock.js';
import { gcraParams, SLACK, type GcraParams } from './gcra-math.js';
import { InvalidCostError } from './errors.js';
import { fillTableFull, type LocalLimiterOptions } from './local-options.js';
import { newResult, type CheckResult } from './result.js';

/**
 * GCRA limiter: `limit` per `windowMs`, bursts up to `burst` (default `limit`). The state word is
 * the theoretical arrival time (TAT) in ticks modulo 2^32.
 */
export class GcraLimiter {
  readonly table: BucketTable;
  readonly namespace: number;
  readonly params: GcraParams;
  readonly onFull: 'deny' | 'allow';
  private readonly result: CheckResult = newResult();
  private readonly hints: Map<string, number>;

  constructor(opts: LocalLimiterOptions) {
    this.table = opts.table ?? BucketTable.create();
    this.namespace = opts.namespace ?? 0;
    this.onFull = opts.onFull ?? 'deny';
    this.params = gcraParams(opts.limit, opts.windowMs, opts.burst ?? opts.limit);
    this.table.registerNamespace(this.namespace, ALG_GCRA, this.params.tickUs, this.params.ei, this.params.dvt);
    this.hints = this.table.hintsOf(this.namespace);
  }

  /**
   * Checks and, when allowed, consumes `cost` for `key`. Returns this limiter's reused result
   * object (no allocation). `nowMs` lets a caller read `monotonicMs()` once per batch; it must be
   * less than a second old.
   */
  check(key: string, cost = 1, nowMs: number = coarseMs()): CheckResult {
    return this.checkInto(key, cost, nowMs, this.result);
  }

  /** Like `check`, writing into the caller's `out` (for callers sharing one limiter across contexts). */
  checkInto(key: string, cost: number, nowMs: number, out: CheckResult): CheckResult {
    if ((cost | 0) !== cost || cost < 0) throw new InvalidCostError(cost);
    const table = this.table;
    const i32 = table.i32;
    const p = this.params;
    const ei = p.ei;
    const dvt = p.dvt;
    const now = Math.floor(nowMs * p.ticksPerMs) | 0;
    const inc = cost * ei;
    let base = table.hinted(this.hints, key);
    let meta = table.lastMeta;
    for (;;) {
      if (base < 0) {
        base = table.slotFor(this.namespace, key, nowMs);
        if (base === TABLE_FULL) return fillTableFull(table, this.onFull, p.burst, out);
        meta = table.lastMeta;
      }
      for (;;) {
        const w = Atomics.load(i32, base + 1);
        // A reclaimed slot may now hold another key: look ours up again.
        // The atomic state read orders this plain meta read after it (an Atomics.load costs a builtin call).
        if (w === DEAD || i32[base] !== meta) break;
        let d = (w - now) | 0;
        if (w === FRESH || d < 0 || d > dvt + SLACK) d = 0;
        const nd = d + inc;
        out.limit = p.burst;
        out.tableFull = false;
        if (nd > dvt) {
          out.allowed = false;
          // d > dvt only for a caller clock behind the stored state; report nothing left, not a negative.
          out.remaining = d >= dvt ? 0 : Math.floor((dvt - d) / ei);
          out.resetMs = d * p.msPerTick;
          out.retryAfterMs = inc > dvt ? -1 : (nd - dvt) * p.msPerTick;
          return out;
        }
        if (inc !== 0) {
          let nw = (now + nd) | 0;
          if (nw === FRESH || nw === DEAD) nw = (nw + 2) | 0;
          if (Atomics.compareExchange(i32, base + 1, w, nw) !== w) continue;
        }
        out.allowed = true;
        out.remaining = Math.floor((dvt - nd) / ei);
        out.resetMs = nd * p.msPerTick;
        out.retryAfterMs = 0;
        return out;
      }
      base = -1;
    }
  }
}
