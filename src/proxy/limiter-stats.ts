/** The rate limiter's figures of every proxy thread, summed into one view for /status and /metrics. */
import type { EngineStats, LevelStats } from '../limiter/policy.js';

/** Sums per-level counters over threads; the bucket table is shared, so any thread's view of it stands. */
export function sumLimiterStats(perThread: EngineStats[]): EngineStats | null {
  if (perThread.length === 0) return null;
  const levels = new Map<string, LevelStats>();
  for (const t of perThread) {
    for (const l of t.levels) {
      const k = `${l.policy}\u0000${l.tier}`;
      const sum = levels.get(k);
      if (sum === undefined) {
        levels.set(k, { ...l });
        continue;
      }
      sum.admitted += l.admitted;
      sum.denied += l.denied;
      if (l.delayed !== undefined) sum.delayed = (sum.delayed ?? 0) + l.delayed;
      if (l.leaseRequests !== undefined) sum.leaseRequests = (sum.leaseRequests ?? 0) + l.leaseRequests;
      if (l.fallbacks !== undefined) sum.fallbacks = (sum.fallbacks ?? 0) + l.fallbacks;
      if (l.unavailable) sum.unavailable = true;
    }
  }
  const waiting = perThread.reduce((n, t) => n + (t.waiting ?? 0), 0);
  return { levels: [...levels.values()], table: perThread[0]!.table, waiting };
}
