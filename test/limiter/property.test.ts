import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { GcraLimiter } from '../../src/limiter/gcra.js';
import { TokenBucketLimiter } from '../../src/limiter/token-bucket.js';

// Random schedules of (time step, cost) at non-decreasing times.
const schedule = fc.array(fc.tuple(fc.integer({ min: 0, max: 700 }), fc.integer({ min: 0, max: 4 })), { minLength: 1, maxLength: 200 });

function admittedBetween(log: [number, number][], t1: number, t2: number): number {
  let n = 0;
  for (const [t, c] of log) if (t >= t1 && t <= t2) n += c;
  return n;
}

describe('never over-admits (property)', () => {
  it('GCRA: admitted cost in any [t1, t2] ≤ burst + (t2 - t1) / emission interval', () => {
    fc.assert(
      fc.property(schedule, fc.integer({ min: 1, max: 20 }), fc.integer({ min: 100, max: 5000 }), (steps, limit, windowMs) => {
        const lim = new GcraLimiter({ limit, windowMs });
        const eiMs = windowMs / limit;
        let now = 10_000_000.5;
        const log: [number, number][] = [];
        for (const [dt, cost] of steps) {
          now += dt;
          if (lim.check('k', cost, now).allowed && cost > 0) log.push([now, cost]);
        }
        for (const [t1] of log)
          for (const [t2] of log)
            if (t2 >= t1) expect(admittedBetween(log, t1, t2)).toBeLessThanOrEqual(limit + Math.floor((t2 - t1) / eiMs));
      }),
      { numRuns: 100 },
    );
  });

  it('token bucket: admitted cost in any [t1, t2] ≤ capacity + refill × interval boundaries crossed', () => {
    fc.assert(
      fc.property(
        schedule,
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 10, max: 500 }),
        (steps, cap, tokens, intervalMs) => {
          const lim = new TokenBucketLimiter({ limit: cap, windowMs: 0, refill: { tokens: Math.min(tokens, cap), intervalMs } });
          let now = 10_000_000.5;
          const log: [number, number][] = [];
          for (const [dt, cost] of steps) {
            now += dt;
            if (lim.check('k', cost, now).allowed && cost > 0) log.push([now, cost]);
          }
          for (const [t1] of log) {
            for (const [t2] of log) {
              if (t2 < t1) continue;
              const boundaries = Math.floor(t2 / intervalMs) - Math.floor(t1 / intervalMs);
              expect(admittedBetween(log, t1, t2)).toBeLessThanOrEqual(cap + Math.min(tokens, cap) * boundaries);
            }
          }
        },
      ),
      { numRuns: 100 },
    );
  });
});
