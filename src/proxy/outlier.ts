/**
 * Outlier detection (Envoy's model). Worker threads count each backend's 5xx and gateway-error streaks in the shared
 * table and eject a backend whose streak reaches its threshold, unless the pool's max-ejection share is taken (a
 * claim in the shared pool table, so the share holds over every thread). The main thread's EjectionTracker times each
 * ejection — baseEjectionMs × the backend's ejection count, capped at maxEjectionMs — and brings the backend back;
 * a backend that stays in for baseEjectionMs has its count lowered by one, so a backend that recovers for good is
 * ejected briefly again if it relapses later.
 */
import type { z } from 'zod';
import { logger } from '../log.js';
import type { BackendTable } from './backend-table.js';
import type { outlierDetectionSchema } from './pool-config.js';
import { P_EJECTED, P_EJECTIONS, P_SIZE, type PoolTable } from './pool-table.js';

export type OutlierConfig = z.infer<typeof outlierDetectionSchema>;

const log = logger('proxy');

/** Backends of `size` that may be ejected at once: never more than maxEjectionPercent. */
export function maxEjected(size: number, od: OutlierConfig): number {
  return Math.floor((size * od.maxEjectionPercent) / 100);
}

/** How long the `count`th ejection of a backend lasts. */
export function ejectionMs(count: number, od: OutlierConfig): number {
  return Math.min(od.baseEjectionMs * count, od.maxEjectionMs);
}

/**
 * Counts one outcome of `slot` (in `pool`): a response status, or 0 for a failed connection, reset or timeout
 * (a gateway error). Ejects the backend when a streak reaches its threshold and the pool's share allows.
 */
export function recordOutcome(table: BackendTable, pools: PoolTable, slot: number, pool: number, status: number, od: OutlierConfig): void {
  const gateway = status === 0 || status === 502 || status === 503 || status === 504;
  const run5xx = table.recordOutcome(slot, status === 0 || status >= 500, gateway);
  if (run5xx === 0) return;
  const over5xx = od.consecutive5xx !== null && run5xx >= od.consecutive5xx;
  const overGateway = gateway && od.consecutiveGatewayErrors !== null && table.streakGateway(slot) >= od.consecutiveGatewayErrors;
  if (!over5xx && !overGateway) return;
  if (!table.eject(slot)) return;
  if (!pools.tryClaim(pool, P_EJECTED, maxEjected(pools.get(pool, P_SIZE), od))) {
    // The pool's share is taken: the backend stays in; its streak goes on counting.
    table.readmit(slot);
    return;
  }
  pools.add(pool, P_EJECTIONS, 1);
}

/** One ejected (or recently ejected) backend as the main thread times it. */
interface Ejection {
  /** Ejections so far, lowered by one per baseEjectionMs spent back in. */
  count: number;
  /** When the current ejection ends; 0 while the backend is in. */
  until: number;
  /** Since when the backend is back in (for lowering `count`). */
  backSince: number;
  pool: number;
}

/** A slot the tracker watches, with its pool and url for the log. */
export interface TrackedSlot {
  slot: number;
  pool: number;
  url: string;
}

/** The main thread's side: times ejections and brings backends back, on an injected clock. */
export class EjectionTracker {
  private readonly ejections = new Map<number, Ejection>();

  constructor(
    private readonly table: BackendTable,
    private readonly pools: PoolTable,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Looks at every slot once: starts the clock of new ejections, ends those whose time passed (calling `back` for
   * slow start), and forgets slots that left. `config(pool)` is the pool's outlier settings (null: none).
   */
  tick(slots: Iterable<TrackedSlot>, config: (pool: number) => OutlierConfig | null, back: (slot: number) => void): void {
    const now = this.now();
    const seen = new Set<number>();
    for (const { slot, pool, url } of slots) {
      seen.add(slot);
      const od = config(pool);
      let e = this.ejections.get(slot);
      if (this.table.ejected(slot)) {
        if (e === undefined) {
          e = { count: 0, until: 0, backSince: 0, pool };
          this.ejections.set(slot, e);
        }
        if (e.until === 0) {
          e.count++;
          // A reload that turned detection off ends the ejection at once.
          const ms = od === null ? 0 : ejectionMs(e.count, od);
          e.until = now + ms;
          log.warn('backend ejected', { backend: url, pool, ejections: e.count, for_ms: ms });
        }
        if (now >= e.until) {
          e.until = 0;
          e.backSince = now;
          if (this.table.uneject(slot)) {
            this.pools.unclaim(pool, P_EJECTED);
            log.info('backend back from ejection', { backend: url, pool });
            back(slot);
          }
        }
      } else if (e !== undefined) {
        if (e.until !== 0) {
          // Drained or removed while ejected: its share goes back to the pool.
          e.until = 0;
          e.backSince = now;
          this.pools.unclaim(pool, P_EJECTED);
        }
        const base = od?.baseEjectionMs ?? 30_000;
        while (e.count > 0 && now - e.backSince >= base) {
          e.count--;
          e.backSince += base;
        }
        if (e.count === 0) this.ejections.delete(slot);
      }
    }
    for (const [slot, e] of this.ejections) {
      if (seen.has(slot)) continue;
      if (e.until !== 0) this.pools.unclaim(e.pool, P_EJECTED);
      this.ejections.delete(slot);
    }
  }

  /** The slot's ejection count and when its ejection ends (0: in), for /status. */
  info(slot: number): { ejections: number; ejectedUntil: number } {
    const e = this.ejections.get(slot);
    return { ejections: e?.count ?? 0, ejectedUntil: e?.until ?? 0 };
  }
}
