/** The result object every local check fills in. */

/** Outcome of one check. Limiters return one reused instance: copy fields you keep past the next check. */
export interface CheckResult {
  allowed: boolean;
  /** Bucket capacity (burst) of the policy. */
  limit: number;
  /** Whole units still available after this check. */
  remaining: number;
  /** Milliseconds until the bucket is full again. */
  resetMs: number;
  /** Milliseconds until `cost` could be admitted; 0 when allowed, -1 when cost exceeds the capacity. */
  retryAfterMs: number;
  /** True when the table was full and the limiter's `onFull` rule decided. */
  tableFull: boolean;
}

/** Allocates a result object (do this once per caller, not per check). */
export function newResult(): CheckResult {
  return { allowed: false, limit: 0, remaining: 0, resetMs: 0, retryAfterMs: 0, tableFull: false };
}
