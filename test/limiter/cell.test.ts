import { describe, expect, it } from 'vitest';
import {
  CellCommandError,
  lease,
  parseLeaseArgs,
  parseStoredTat,
  parseThrottleArgs,
  throttle,
  throttleReply,
  THROTTLE_USAGE,
} from '../../src/limiter/cell.js';

const START = 1_700_000_000_000_000_000n;
const ms = (n: number): bigint => BigInt(n) * 1_000_000n;

/** A one-key store applying the write-back rule documented in cell.ts. */
function store() {
  let tat: bigint | null = null;
  return {
    throttle(now: bigint, maxBurst: number, count: number, period: number, quantity: number) {
      const r = throttle(tat, now, BigInt(maxBurst), BigInt(count), BigInt(period), BigInt(quantity));
      if (r.newTatNs !== null) tat = r.newTatNs;
      return r;
    },
    lease(now: bigint, maxBurst: number, count: number, period: number, want: number) {
      const r = lease(tat, now, BigInt(maxBurst), BigInt(count), BigInt(period), BigInt(want));
      if (r.newTatNs !== null) tat = r.newTatNs;
      return r;
    },
    get tat() {
      return tat;
    },
  };
}

describe('CL.THROTTLE against redis-cell', () => {
  it('matches the README example reply', () => {
    const s = store();
    expect(throttleReply(s.throttle(START, 15, 30, 60, 1))).toEqual([0, 16, 15, -1, 2]);
  });

  // redis-cell's own it_rate_limits table: limit 5 (max_burst 4), 1 per second.
  // [now offset ms, quantity, remaining, reset_after ms, retry_after ms, limited]
  const cases: [number, number, number, number, number, boolean][] = [
    [0, 6, 5, 0, -1000, true],
    [0, 1, 4, 1000, -1000, false],
    [0, 1, 3, 2000, -1000, false],
    [0, 1, 2, 3000, -1000, false],
    [0, 1, 1, 4000, -1000, false],
    [0, 1, 0, 5000, -1000, false],
    [0, 1, 0, 5000, 1000, true],
    [3000, 1, 2, 3000, -1000, false],
    [3100, 1, 1, 3900, -1000, false],
    [4000, 1, 1, 4000, -1000, false],
    [8000, 1, 4, 1000, -1000, false],
    [9500, 1, 4, 1000, -1000, false],
    [9500, 0, 4, 1000, -1000, false],
    [9500, 2, 2, 3000, -1000, false],
    [9500, 5, 2, 3000, 3000, true],
  ];

  it('reproduces redis-cell it_rate_limits case by case', () => {
    const s = store();
    cases.forEach(([at, quantity, remaining, resetMs, retryMs, limited], i) => {
      const r = s.throttle(START + ms(at), 4, 1, 1, quantity);
      expect({ i, limited: r.limited === 1, limit: r.limit, remaining: r.remaining, reset: r.resetAfterNs, retry: r.retryAfterNs }).toEqual(
        {
          i,
          limited,
          limit: 5,
          remaining,
          reset: ms(resetMs),
          retry: ms(retryMs),
        },
      );
    });
  });

  it('rounds partial seconds up in the reply and sets the TTL in whole ms', () => {
    const s = store();
    for (let i = 0; i < 5; i++) s.throttle(START, 4, 1, 1, 1);
    s.throttle(START + ms(3000), 4, 1, 1, 1);
    const r = s.throttle(START + ms(3100), 4, 1, 1, 1);
    expect(throttleReply(r)).toEqual([0, 5, 1, -1, 4]);
    expect(r.ttlMs).toBe(3900);
    expect(r.newTatNs).toBe(START + ms(7000));
    const limited = s.throttle(START + ms(3100), 4, 1, 1, 3);
    expect(throttleReply(limited)).toEqual([1, 5, 1, 2, 4]);
    expect(limited.newTatNs).toBeNull();
  });

  it('computes the emission interval through f64 like Rate::per_period', () => {
    const s = store();
    // 3 per 1 s: 333_333_333 ns; max_burst 0 → limit 1.
    const a = s.throttle(START, 0, 3, 1, 1);
    expect(a.newTatNs).toBe(START + 333_333_333n);
    expect(s.throttle(START + 333_333_332n, 0, 3, 1, 1).limited).toBe(1);
    expect(s.throttle(START + 333_333_333n, 0, 3, 1, 1).limited).toBe(0);
  });

  it('answers redis-cell error texts', () => {
    expect(() => parseThrottleArgs(['k', '1', '2'])).toThrow(THROTTLE_USAGE);
    expect(() => parseThrottleArgs(['k', 'x', '2', '3'])).toThrow("Cell error: Couldn't parse as integer: x");
    expect(() => parseThrottleArgs(['k', '99999999999999999999', '2', '3'])).toThrow("Couldn't parse as integer");
    expect(() => throttle(null, START, 1n, 0n, 60n, 1n)).toThrow('Cell error: Zero rates are not supported');
    expect(() => throttle(null, START, 1n, 1n, 0n, 1n)).toThrow(CellCommandError);
    expect(() => parseStoredTat('abc')).toThrow('Cell error: invalid digit found in string');
    expect(parseThrottleArgs(['k', '+15', '30', '60'])).toEqual({ maxBurst: 15n, count: 30n, period: 60n, quantity: 1n });
    expect(parseThrottleArgs([Buffer.from('k'), Buffer.from('1'), Buffer.from('2'), Buffer.from('3'), Buffer.from('4')]).quantity).toBe(4n);
  });
});

describe('CL.LEASE', () => {
  it('grants up to want, and leaves the state of that many single throttles', () => {
    const a = store();
    const b = store();
    const r = a.lease(START, 9, 10, 10, 4);
    expect(r).toMatchObject({ granted: 4, limit: 10, remaining: 6, nextMs: 0, resetMs: 4000, ttlMs: 4000 });
    for (let i = 0; i < 4; i++) b.throttle(START, 9, 10, 10, 1);
    expect(a.tat).toBe(b.tat);
  });

  it('grants what is left, then nothing, and says when the next token comes', () => {
    const s = store();
    expect(s.lease(START, 4, 5, 5, 3).granted).toBe(3);
    expect(s.lease(START, 4, 5, 5, 3)).toMatchObject({ granted: 2, remaining: 0, nextMs: 1000 });
    const empty = s.lease(START + ms(250), 4, 5, 5, 3);
    expect(empty).toMatchObject({ granted: 0, remaining: 0, nextMs: 750, newTatNs: null });
    expect(s.lease(START + ms(1000), 4, 5, 5, 3)).toMatchObject({ granted: 1, remaining: 0 });
  });

  it('interoperates with CL.THROTTLE on the same key', () => {
    const s = store();
    s.lease(START, 2, 3, 3, 3);
    expect(s.throttle(START, 2, 3, 3, 1).limited).toBe(1);
  });

  it('validates its arguments', () => {
    expect(() => parseLeaseArgs(['k', '1', '2', '3'])).toThrow('Cell error: Usage: cl.lease');
    expect(() => parseLeaseArgs(['k', '1', '2', '3', '-1'])).toThrow('want must not be negative');
  });
});
