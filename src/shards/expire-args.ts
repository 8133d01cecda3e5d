/**
 * Expire-time arguments checked exactly as Redis 7.0 does, in signed 64-bit arithmetic:
 * the two paths (SET-style options and the EXPIRE family) reject different overflows, and
 * clients see which through the error text. Safe integers take a fast path; only values
 * near the 64-bit limits go through BigInt.
 */
import type { Ctx } from './context.js';
import { E_NOT_INT, invalidExpireTime } from '../wire/error-text.js';

const LLONG_MAX = 9223372036854775807n;
const LLONG_MIN = -9223372036854775808n;
/** Below this, ms arithmetic on doubles is exact and cannot reach the 64-bit limits. */
const FAST_LIMIT = 2 ** 52;

/**
 * SET EX/PX/EXAT/PXAT, GETEX, SETEX, PSETEX (Redis's getExpireMillisecondsOrReply): the value
 * must be > 0 and not overflow once converted and, for relative forms, added to now.
 * Returns the absolute expire time in ms, or -1 after replying the error.
 */
export function setExpireAt(c: Ctx, arg: number, seconds: boolean, relative: boolean): number {
  const v = c.i64(arg);
  if (v === null) {
    c.out.error(E_NOT_INT);
    return -1;
  }
  if (typeof v === 'number' && v > 0 && v < FAST_LIMIT / 1000) {
    const ms = seconds ? v * 1000 : v;
    return relative ? ms + c.store.now : ms;
  }
  let ms = BigInt(v);
  if (ms <= 0n || (seconds && ms > LLONG_MAX / 1000n)) {
    c.out.error(invalidExpireTime(c.name));
    return -1;
  }
  if (seconds) ms *= 1000n;
  if (relative) {
    const now = BigInt(c.store.now);
    if (ms > LLONG_MAX - now) {
      c.out.error(invalidExpireTime(c.name));
      return -1;
    }
    ms += now;
  }
  return Number(ms);
}

/**
 * EXPIRE/PEXPIRE/EXPIREAT/PEXPIREAT (Redis's expireGenericCommand): any value that fits, even
 * negative (the key then expires at once), unless the conversion or the addition overflows.
 * Returns the absolute expire time in ms, or NaN after replying the error.
 */
export function expireCommandAt(c: Ctx, arg: number, seconds: boolean, relative: boolean): number {
  const v = c.i64(arg);
  if (v === null) {
    c.out.error(E_NOT_INT);
    return NaN;
  }
  if (typeof v === 'number' && Math.abs(v) < FAST_LIMIT / 1000) {
    const ms = seconds ? v * 1000 : v;
    return relative ? ms + c.store.now : ms;
  }
  let when = BigInt(v);
  if (seconds) {
    if (when > LLONG_MAX / 1000n || when < LLONG_MIN / 1000n) {
      c.out.error(invalidExpireTime(c.name));
      return NaN;
    }
    when *= 1000n;
  }
  const base = relative ? BigInt(c.store.now) : 0n;
  if (when > LLONG_MAX - base) {
    c.out.error(invalidExpireTime(c.name));
    return NaN;
  }
  return Number(when + base);
}
