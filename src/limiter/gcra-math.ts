/** GCRA parameters in integer clock ticks and the idle test the table's reclaimer uses. */
import { LimiterError } from './errors.js';

/** Largest delay tolerance in ticks; with SLACK it keeps every live TAT within ±2^30 ticks of now. */
export const MAX_DVT = 1 << 29;
/** A TAT further ahead than dvt + SLACK is a wrapped, stale value and counts as a full bucket. */
export const SLACK = 1 << 29;
/** A bucket must have been full for this long before it is reclaimed (see docs: caller clocks). */
export const RECLAIM_GRACE_MS = 1000;

/** Integer GCRA parameters: tick size, emission interval and delay variation tolerance (dvt). */
export interface GcraParams {
  tickUs: number;
  ticksPerMs: number;
  msPerTick: number;
  /** Emission interval in ticks: window / limit, rounded up so the rate never exceeds the policy. */
  ei: number;
  /** Delay variation tolerance in ticks: ei × burst. */
  dvt: number;
  burst: number;
}

/** Chooses the finest tick (1 µs, 10 µs … 10 ms) at which ei × burst fits in MAX_DVT. */
export function gcraParams(limit: number, windowMs: number, burst: number = limit): GcraParams {
  if (!Number.isInteger(limit) || limit < 1)
    throw new LimiterError('SABRE_LIMITER_NAMESPACE', `limit must be a positive integer, got ${limit}`);
  if (!Number.isInteger(burst) || burst < 1)
    throw new LimiterError('SABRE_LIMITER_NAMESPACE', `burst must be a positive integer, got ${burst}`);
  if (!(windowMs > 0)) throw new LimiterError('SABRE_LIMITER_NAMESPACE', `window must be positive, got ${windowMs}`);
  const windowUs = Math.round(windowMs * 1000);
  for (let tickUs = 1; tickUs <= 10_000; tickUs *= 10) {
    const per = tickUs * limit;
    const ei = Math.max(1, Math.floor((windowUs + per - 1) / per));
    if (ei * burst <= MAX_DVT) return { tickUs, ticksPerMs: 1000 / tickUs, msPerTick: tickUs / 1000, ei, dvt: ei * burst, burst };
  }
  throw new LimiterError(
    'SABRE_LIMITER_NAMESPACE',
    `window ${windowMs} ms with burst ${burst} is too long for the GCRA word (max ~62 days of tolerance)`,
  );
}

/** True when TAT word `w` means a full bucket that has been idle at least RECLAIM_GRACE_MS. */
export function gcraIdle(w: number, nowMs: number, tickUs: number, dvt: number): boolean {
  const ticksPerMs = 1000 / tickUs;
  const d = (w - (Math.floor(nowMs * ticksPerMs) | 0)) | 0;
  return d <= -RECLAIM_GRACE_MS * ticksPerMs || d > dvt + SLACK;
}
