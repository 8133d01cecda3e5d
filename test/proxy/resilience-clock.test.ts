import { describe, expect, it } from 'vitest';
import { BackendTable, createTableMemory, WEIGHT_SCALE } from '../../src/proxy/backend-table.js';
import { Balancer } from '../../src/proxy/balancer.js';
import { EjectionTracker, type OutlierConfig, recordOutcome, type TrackedSlot } from '../../src/proxy/outlier.js';
import { createPoolMemory, P_EJECTED, P_EJECTIONS, P_SIZE, PoolTable } from '../../src/proxy/pool-table.js';
import { retryAllowance } from '../../src/proxy/retry-budget.js';
import { rampWeight, SlowStart } from '../../src/proxy/slow-start.js';

/** A backend table and pool table in this thread, `n` backends in pool 1, and a clock the test moves. */
function setup(n: number) {
  const table = new BackendTable(createTableMemory());
  const pools = new PoolTable(createPoolMemory());
  const slots: TrackedSlot[] = [];
  for (let i = 0; i < n; i++) slots.push({ slot: table.allocate(1, 1), pool: 1, url: `http://b${i}:80` });
  pools.set(1, P_SIZE, n);
  const clock = { now: 0 };
  return { table, pools, slots, clock };
}

const OD: OutlierConfig = {
  consecutive5xx: 3,
  consecutiveGatewayErrors: 2,
  baseEjectionMs: 1000,
  maxEjectionMs: 2500,
  maxEjectionPercent: 50,
};

describe('outlier detection on an injected clock', () => {
  it('ejects on the third 5xx in a row (a success breaks the streak), for base × ejections, capped at the max', () => {
    const { table, pools, slots, clock } = setup(4);
    const tracker = new EjectionTracker(table, pools, () => clock.now);
    const back: number[] = [];
    const tick = (): void =>
      tracker.tick(
        slots,
        () => OD,
        (s) => back.push(s),
      );
    const s = slots[0]!.slot;
    const fail = (times: number, status = 500): void => {
      for (let i = 0; i < times; i++) recordOutcome(table, pools, s, 1, status, OD);
    };
    fail(2);
    recordOutcome(table, pools, s, 1, 200, OD);
    fail(2);
    expect(table.ejected(s)).toBe(false);
    fail(1);
    expect(table.ejected(s)).toBe(true);
    expect(table.usable(s)).toBe(false);
    expect(pools.get(1, P_EJECTED)).toBe(1);

    // Ejection 1: 1000 ms from when the tracker first sees it.
    tick();
    expect(tracker.info(s)).toEqual({ ejections: 1, ejectedUntil: 1000 });
    clock.now = 999;
    tick();
    expect(table.ejected(s)).toBe(true);
    clock.now = 1000;
    tick();
    expect(table.ejected(s)).toBe(false);
    expect(back).toEqual([s]);
    expect(pools.get(1, P_EJECTED)).toBe(0);

    // Relapse at once: ejection 2 lasts 2 × base, ejection 3 would be 3000 but the cap is 2500.
    fail(3);
    tick();
    expect(tracker.info(s)).toEqual({ ejections: 2, ejectedUntil: 3000 });
    clock.now = 3000;
    tick();
    fail(3);
    tick();
    expect(tracker.info(s)).toEqual({ ejections: 3, ejectedUntil: 5500 });
    clock.now = 5500;
    tick();
    expect(table.ejected(s)).toBe(false);
    expect(pools.get(1, P_EJECTIONS)).toBe(3);

    // Each base period spent back in takes one ejection off the count.
    clock.now = 6500;
    tick();
    expect(tracker.info(s).ejections).toBe(2);
    clock.now = 8500;
    tick();
    expect(tracker.info(s).ejections).toBe(0);
    fail(3);
    tick();
    expect(tracker.info(s)).toEqual({ ejections: 1, ejectedUntil: 9500 });
  });

  it('never ejects more than maxEjectionPercent of the pool; a freed share lets the next one go', () => {
    const { table, pools, slots, clock } = setup(4);
    const tracker = new EjectionTracker(table, pools, () => clock.now);
    const tick = (): void =>
      tracker.tick(
        slots,
        () => OD,
        () => undefined,
      );
    const [a, b, c] = slots.map((x) => x.slot);
    for (const s of [a, b, c])
      for (let i = 0; i < 3; i++) recordOutcome(table, pools, s!, 1, 503, { ...OD, consecutiveGatewayErrors: null });
    // 50% of 4: two out, the third stays in.
    expect([a, b, c].map((s) => table.ejected(s!))).toEqual([true, true, false]);
    expect(pools.get(1, P_EJECTED)).toBe(2);
    tick();
    clock.now = 1000;
    tick();
    expect(pools.get(1, P_EJECTED)).toBe(0);
    // Its streak kept counting while it was held in: the next 5xx ejects it.
    recordOutcome(table, pools, c!, 1, 500, OD);
    expect(table.ejected(c!)).toBe(true);
  });

  it('counts gateway errors (failed connections, 502/503/504) in their own streak; a plain 500 breaks it', () => {
    const { table, pools, slots } = setup(2);
    const s = slots[0]!.slot;
    const od = { ...OD, consecutive5xx: null };
    recordOutcome(table, pools, s, 1, 0, od);
    recordOutcome(table, pools, s, 1, 500, od);
    recordOutcome(table, pools, s, 1, 502, od);
    expect(table.ejected(s)).toBe(false);
    recordOutcome(table, pools, s, 1, 0, od);
    expect(table.ejected(s)).toBe(true);
  });

  it('gives a removed backend’s share back to its pool', () => {
    const { table, pools, slots, clock } = setup(2);
    const tracker = new EjectionTracker(table, pools, () => clock.now);
    for (let i = 0; i < 3; i++) recordOutcome(table, pools, slots[0]!.slot, 1, 500, OD);
    tracker.tick(
      slots,
      () => OD,
      () => undefined,
    );
    expect(pools.get(1, P_EJECTED)).toBe(1);
    tracker.tick(
      slots.slice(1),
      () => OD,
      () => undefined,
    );
    expect(pools.get(1, P_EJECTED)).toBe(0);
  });
});

describe('slow start on an injected clock', () => {
  it('ramps the effective weight linearly from a tenth to the whole weight over slowStartMs', () => {
    const table = new BackendTable(createTableMemory());
    const clock = { now: 10_000 };
    const ss = new SlowStart(table, () => clock.now);
    const s = table.allocate(2);
    expect(table.effective(s)).toBe(2 * WEIGHT_SCALE);
    ss.begin(s, 1000);
    expect(table.effective(s)).toBe(200);
    const seen: number[] = [];
    for (const t of [50, 100, 250, 500, 750, 999, 1000, 5000]) {
      clock.now = 10_000 + t;
      ss.tick();
      seen.push(table.effective(s));
    }
    expect(seen).toEqual([200, 200, 500, 1000, 1500, 1998, 2000, 2000]);
    expect(ss.ramping(s)).toBe(false);
    expect(rampWeight(3, 0, 0)).toBe(3000);
  });

  it('steers least-connections: in-flight shares follow the effective weights as the ramp goes', () => {
    const table = new BackendTable(createTableMemory());
    const clock = { now: 0 };
    const ss = new SlowStart(table, () => clock.now);
    const warm = table.allocate(1);
    const cold = table.allocate(1);
    const bal = new Balancer(table, 'least-connections');
    bal.setBackends([
      { slot: warm, url: 'http://warm:80' },
      { slot: cold, url: 'http://cold:80' },
    ]);
    ss.begin(cold, 10_000);
    table.acquire(cold);
    const pickWith = (warmLoad: number): number => {
      while (table.inflight(warm) < warmLoad) table.acquire(warm);
      while (table.inflight(warm) > warmLoad) table.release(warm);
      return bal.pick('1.2.3.4', -1);
    };
    // At a tenth of its weight, with one request in flight, the cold backend gets the next only past ten on the warm one
    // (ten is a tie, left out).
    expect(pickWith(1)).toBe(warm);
    expect(pickWith(9)).toBe(warm);
    expect(pickWith(11)).toBe(cold);
    // Halfway through the ramp (weight 0.5): past two.
    clock.now = 5000;
    ss.tick();
    expect(pickWith(1)).toBe(warm);
    expect(pickWith(3)).toBe(cold);
    // Ramped: plain least-connections.
    clock.now = 10_000;
    ss.tick();
    expect(pickWith(0)).toBe(warm);
    expect(pickWith(2)).toBe(cold);
  });
});

describe('retry budget allowance', () => {
  it('is budgetPercent of the requests in flight, rounded down, or minRetryConcurrency when that is more', () => {
    expect(retryAllowance({ budgetPercent: 20, minRetryConcurrency: 3 }, 0)).toBe(3);
    expect(retryAllowance({ budgetPercent: 20, minRetryConcurrency: 3 }, 19)).toBe(3);
    expect(retryAllowance({ budgetPercent: 20, minRetryConcurrency: 3 }, 24)).toBe(4);
    expect(retryAllowance({ budgetPercent: 25, minRetryConcurrency: 0 }, 7)).toBe(1);
  });
});
