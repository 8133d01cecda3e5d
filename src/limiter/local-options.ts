/** Options shared by the local (shared-memory) limiters and the full-table rule they apply. */
import type { BucketTable } from './bucket-table.js';
import { logger } from '../log.js';
import type { CheckResult } from './result.js';

/** Options of GcraLimiter and TokenBucketLimiter. */
export interface LocalLimiterOptions {
  /** Table to keep buckets in (share its `.buffer` with workers); a private one when omitted. */
  table?: BucketTable;
  /** Namespace id in the table (0..63); limiters in different threads with the same id share buckets. */
  namespace?: number;
  limit: number;
  windowMs: number;
  /** GCRA only: bucket capacity (default `limit`). */
  burst?: number;
  /** Token bucket only: explicit refill step instead of one derived from limit / window. */
  refill?: { tokens: number; intervalMs: number };
  /** What a check does when its key cannot get a bucket because the table is full (default deny). */
  onFull?: 'deny' | 'allow';
}

const log = logger('limiter');
let lastFullLog = 0;

/** Applies the declared full-table rule; counted in the table and logged at most once a minute. */
export function fillTableFull(table: BucketTable, rule: 'deny' | 'allow', limit: number, out: CheckResult): CheckResult {
  table.noteFull();
  const now = Date.now();
  if (now - lastFullLog > 60_000) {
    lastFullLog = now;
    log.warn('bucket table full; applying onFull rule', { rule, capacity: table.capacity, events: table.fullEvents });
  }
  out.allowed = rule === 'allow';
  out.limit = limit;
  out.remaining = 0;
  out.resetMs = 0;
  out.retryAfterMs = rule === 'allow' ? 0 : 1000;
  out.tableFull = true;
  return out;
}
