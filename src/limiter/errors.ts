/** Typed limiter errors; `code` is stable so callers can branch on it. */
import { SabreError } from '../errors.js';

export type LimiterErrorCode =
  | 'SABRE_LIMITER_KEY_TOO_LONG'
  | 'SABRE_LIMITER_COST'
  | 'SABRE_LIMITER_NAMESPACE'
  | 'SABRE_LIMITER_TABLE'
  | 'SABRE_LIMITER_UNAVAILABLE'
  | 'SABRE_LIMITER_PROTOCOL'
  | 'SABRE_LIMITER_LIMITED';

/** Base class of every error thrown by src/limiter. */
export class LimiterError extends SabreError {
  declare readonly code: LimiterErrorCode;
  constructor(code: LimiterErrorCode, message: string) {
    super(code, message);
  }
}

/** A key longer than the table's `maxKeyChars`: keys are stored whole so two keys never share a bucket. */
export class KeyTooLongError extends LimiterError {
  constructor(length: number, max: number) {
    super('SABRE_LIMITER_KEY_TOO_LONG', `rate-limit key has ${length} chars, the table stores at most ${max}`);
  }
}

/** The sabre server could not be reached or did not answer in time. */
export class UnavailableError extends LimiterError {
  constructor(message: string) {
    super('SABRE_LIMITER_UNAVAILABLE', message);
  }
}

/** A check cost that is not an integer in 0..2^31-1: fractional costs would under-charge the bucket. */
export class InvalidCostError extends LimiterError {
  constructor(cost: number) {
    super('SABRE_LIMITER_COST', `cost must be an integer in 0..2147483647, got ${cost}`);
  }
}

/** A queued acquire that would wait past the queue's burst or maxDelayMs; `retryAfterMs` says when to try again (-1: never). */
export class RateLimitedError extends LimiterError {
  constructor(readonly retryAfterMs: number) {
    super(
      'SABRE_LIMITER_LIMITED',
      retryAfterMs < 0 ? 'rate limited: cost exceeds the queue' : `rate limited; retry in ${Math.ceil(retryAfterMs)} ms`,
    );
  }
}
