/**
 * Token-bucket state packed in one non-negative Int32 word: tokens in bits 0–15, the refill
 * interval index (mod 2^15) in bits 16–30. Bit 31 stays clear so no state equals a table sentinel.
 */
import { LimiterError } from './errors.js';
import { RECLAIM_GRACE_MS } from './gcra-math.js';

export const TB_MAX_CAPACITY = 0xffff;
export const TB_IDX_MASK = 0x7fff;
/** An index delta at or above this is a reader whose clock lags the stored state: no refill. */
export const TB_HALF = 0x4000;
/** Buckets must refill completely in fewer intervals than this so reclaim happens before wrap. */
export const TB_MAX_FILL_INTERVALS = 8192;

/** Token-bucket parameters: capacity, tokens added per refill, refill interval in whole ms. */
export interface TokenBucketParams {
  capacity: number;
  refillTokens: number;
  intervalMs: number;
}

/**
 * Derives refill parameters from "limit per window" when none are given: the refill rate never
 * exceeds limit / window (the interval is rounded up).
 */
export function tokenBucketParams(limit: number, windowMs: number, refill?: { tokens: number; intervalMs: number }): TokenBucketParams {
  if (!Number.isInteger(limit) || limit < 1 || limit > TB_MAX_CAPACITY) {
    throw new LimiterError('SABRE_LIMITER_NAMESPACE', `token-bucket limit must be an integer in 1..${TB_MAX_CAPACITY}, got ${limit}`);
  }
  let tokens: number;
  let intervalMs: number;
  if (refill) {
    tokens = refill.tokens;
    intervalMs = refill.intervalMs;
  } else {
    if (!(windowMs > 0)) throw new LimiterError('SABRE_LIMITER_NAMESPACE', `window must be positive, got ${windowMs}`);
    tokens = Math.max(1, Math.ceil(limit / windowMs));
    intervalMs = Math.ceil((windowMs * tokens) / limit);
  }
  if (!Number.isInteger(tokens) || tokens < 1 || tokens > limit) {
    throw new LimiterError('SABRE_LIMITER_NAMESPACE', `refill tokens must be an integer in 1..${limit}, got ${tokens}`);
  }
  if (!Number.isInteger(intervalMs) || intervalMs < 1) {
    throw new LimiterError('SABRE_LIMITER_NAMESPACE', `refill interval must be a whole number of ms >= 1, got ${intervalMs}`);
  }
  if (Math.ceil(limit / tokens) >= TB_MAX_FILL_INTERVALS) {
    throw new LimiterError(
      'SABRE_LIMITER_NAMESPACE',
      `bucket needs ${Math.ceil(limit / tokens)} refills to fill; at most ${TB_MAX_FILL_INTERVALS - 1}`,
    );
  }
  return { capacity: limit, refillTokens: tokens, intervalMs };
}

/**
 * True when word `w` is a full bucket untouched for two intervals and at least RECLAIM_GRACE_MS,
 * or a wrapped stale one.
 */
export function tokenBucketIdle(w: number, nowMs: number, capacity: number, refill: number, intervalMs: number): boolean {
  const el = ((Math.floor(nowMs / intervalMs) & TB_IDX_MASK) - ((w >>> 16) & TB_IDX_MASK)) & TB_IDX_MASK;
  if (el < Math.max(2, Math.ceil(RECLAIM_GRACE_MS / intervalMs)) || el > TB_IDX_MASK - 16) return false;
  return el >= TB_HALF || (w & 0xffff) + el * refill >= capacity;
}
