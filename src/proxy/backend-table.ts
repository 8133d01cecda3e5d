/** The backend table in a SharedArrayBuffer: state, health, weight and in-flight count per slot, shared by all threads. */
import { logger } from '../log.js';

/** Most backends one proxy can hold. */
export const MAX_BACKENDS = 64;
/** Most worker threads (each owns one row of counters). */
export const MAX_WORKERS = 64;

const STRIDE = 16;
const F_STATE = 0;
const F_HEALTHY = 1;
const F_WEIGHT = 2;
const F_INFLIGHT = 3;
const F_FAILS = 4;
const F_OKS = 5;
const F_GEN = 6;
/** The weight the load-aware algorithms use, in thousandths: weight × 1000, less while slow start ramps it. */
const F_EFFECTIVE = 7;
/** Outlier detection's streaks: 5xx answers and gateway errors in a row. */
const F_5XX = 8;
const F_GATEWAY = 9;
/** The pool index the slot belongs to. */
const F_POOL = 10;
const G_RR = MAX_BACKENDS * STRIDE;
const INT_SLOTS = G_RR + 4;

/** Per-worker counters (single writer each, so plain stores suffice). */
export const C_REQUESTS = 0;
export const C_ERRORS = 1;
export const C_RETRIES = 2;
export const C_TIMEOUTS = 3;
const COUNTERS = 4;

export const STATE_EMPTY = 0;
export const STATE_ACTIVE = 1;
export const STATE_DRAINING = 2;
/** Ejected by outlier detection: not usable until the main thread brings it back (a state, so picks check nothing more). */
export const STATE_EJECTED = 3;

/** Effective weight units per unit of configured weight. */
export const WEIGHT_SCALE = 1000;

const log = logger('proxy');

/** Allocates the shared memory one proxy uses; pass it to every worker. */
export function createTableMemory(): SharedArrayBuffer {
  return new SharedArrayBuffer(INT_SLOTS * 4 + MAX_WORKERS * MAX_BACKENDS * COUNTERS * 8);
}

/** A typed view over the shared table; each thread makes its own over the same memory. */
export class BackendTable {
  readonly i32: Int32Array;
  readonly counters: Float64Array;

  constructor(readonly memory: SharedArrayBuffer) {
    this.i32 = new Int32Array(memory, 0, INT_SLOTS);
    this.counters = new Float64Array(memory, INT_SLOTS * 4, MAX_WORKERS * MAX_BACKENDS * COUNTERS);
  }

  state(slot: number): number {
    return Atomics.load(this.i32, slot * STRIDE + F_STATE);
  }
  /** True when the slot may receive new requests. */
  usable(slot: number): boolean {
    const b = slot * STRIDE;
    return Atomics.load(this.i32, b + F_STATE) === STATE_ACTIVE && Atomics.load(this.i32, b + F_HEALTHY) === 1;
  }
  healthy(slot: number): boolean {
    return Atomics.load(this.i32, slot * STRIDE + F_HEALTHY) === 1;
  }
  weight(slot: number): number {
    return Atomics.load(this.i32, slot * STRIDE + F_WEIGHT);
  }
  inflight(slot: number): number {
    return Atomics.load(this.i32, slot * STRIDE + F_INFLIGHT);
  }
  generation(slot: number): number {
    return Atomics.load(this.i32, slot * STRIDE + F_GEN);
  }
  // Plain loads for the balancer's scan on every request (Atomics.load is a builtin call there, not inlined):
  // aligned 32-bit loads never tear, and a load racing an update sees the old or the new value, which the
  // pick tolerates as it tolerates a change just after it.
  usableRelaxed(slot: number): boolean {
    const b = slot * STRIDE;
    return this.i32[b + F_STATE] === STATE_ACTIVE && this.i32[b + F_HEALTHY] === 1;
  }
  inflightRelaxed(slot: number): number {
    return this.i32[slot * STRIDE + F_INFLIGHT]!;
  }
  /** The effective (slow-start) weight in thousandths, which least-connections and p2c weigh load by. */
  effectiveRelaxed(slot: number): number {
    return this.i32[slot * STRIDE + F_EFFECTIVE]!;
  }
  effective(slot: number): number {
    return Atomics.load(this.i32, slot * STRIDE + F_EFFECTIVE);
  }
  /** Sets the effective weight (thousandths): slow start's ramp. */
  setEffective(slot: number, value: number): void {
    Atomics.store(this.i32, slot * STRIDE + F_EFFECTIVE, value);
  }
  pool(slot: number): number {
    return Atomics.load(this.i32, slot * STRIDE + F_POOL);
  }
  ejected(slot: number): boolean {
    return Atomics.load(this.i32, slot * STRIDE + F_STATE) === STATE_EJECTED;
  }
  /** Takes an active slot out of rotation; false when it was not active (draining, or another thread ejected it first). */
  eject(slot: number): boolean {
    return Atomics.compareExchange(this.i32, slot * STRIDE + F_STATE, STATE_ACTIVE, STATE_EJECTED) === STATE_ACTIVE;
  }
  /** Undoes an eject() the pool's ejection share did not allow, keeping the streaks (the next error tries again). */
  readmit(slot: number): void {
    Atomics.compareExchange(this.i32, slot * STRIDE + F_STATE, STATE_EJECTED, STATE_ACTIVE);
  }
  /** Puts an ejected slot back with its streaks cleared; false when it is no longer ejected (being drained). */
  uneject(slot: number): boolean {
    const b = slot * STRIDE;
    Atomics.store(this.i32, b + F_5XX, 0);
    Atomics.store(this.i32, b + F_GATEWAY, 0);
    return Atomics.compareExchange(this.i32, b + F_STATE, STATE_EJECTED, STATE_ACTIVE) === STATE_EJECTED;
  }
  /** Counts a response for outlier detection; returns the 5xx streak and the gateway-error streak (each 0 when it broke). */
  recordOutcome(slot: number, is5xx: boolean, isGateway: boolean): number {
    const b = slot * STRIDE;
    const a = this.i32;
    if (!isGateway) {
      if (a[b + F_GATEWAY] !== 0) Atomics.store(a, b + F_GATEWAY, 0);
    } else Atomics.add(a, b + F_GATEWAY, 1);
    if (!is5xx) {
      if (a[b + F_5XX] !== 0) Atomics.store(a, b + F_5XX, 0);
      return 0;
    }
    return Atomics.add(a, b + F_5XX, 1) + 1;
  }
  /** The gateway-error streak as it stands. */
  streakGateway(slot: number): number {
    return Atomics.load(this.i32, slot * STRIDE + F_GATEWAY);
  }
  /** Counts a proxied request starting on `slot`. */
  acquire(slot: number): void {
    Atomics.add(this.i32, slot * STRIDE + F_INFLIGHT, 1);
  }
  /** Counts a proxied request ending on `slot`, however it ended. */
  release(slot: number): void {
    Atomics.sub(this.i32, slot * STRIDE + F_INFLIGHT, 1);
  }
  /** Shared round-robin ticket, so rotation is exact across threads. */
  nextTicket(): number {
    return Atomics.add(this.i32, G_RR, 1) >>> 0;
  }

  /** Claims a free slot for a new backend (main thread only); returns -1 when full. */
  allocate(weight: number, pool = 0): number {
    for (let s = 0; s < MAX_BACKENDS; s++) {
      const b = s * STRIDE;
      if (Atomics.load(this.i32, b + F_STATE) !== STATE_EMPTY) continue;
      Atomics.store(this.i32, b + F_WEIGHT, weight);
      Atomics.store(this.i32, b + F_EFFECTIVE, weight * WEIGHT_SCALE);
      Atomics.store(this.i32, b + F_5XX, 0);
      Atomics.store(this.i32, b + F_GATEWAY, 0);
      Atomics.store(this.i32, b + F_POOL, pool);
      Atomics.store(this.i32, b + F_HEALTHY, 1);
      Atomics.store(this.i32, b + F_INFLIGHT, 0);
      Atomics.store(this.i32, b + F_FAILS, 0);
      Atomics.store(this.i32, b + F_OKS, 0);
      Atomics.add(this.i32, b + F_GEN, 1);
      for (let w = 0; w < MAX_WORKERS; w++) this.counters.fill(0, this.counterIndex(w, s, 0), this.counterIndex(w, s, COUNTERS));
      Atomics.store(this.i32, b + F_STATE, STATE_ACTIVE);
      return s;
    }
    return -1;
  }
  /** Sets the configured weight, and the effective one with it (slow start, while it ramps, rewrites that). */
  setWeight(slot: number, weight: number): void {
    Atomics.store(this.i32, slot * STRIDE + F_WEIGHT, weight);
    Atomics.store(this.i32, slot * STRIDE + F_EFFECTIVE, weight * WEIGHT_SCALE);
  }
  setState(slot: number, state: number): void {
    Atomics.store(this.i32, slot * STRIDE + F_STATE, state);
  }

  /** Records a failed attempt (passive or active); ejects after `fall` in a row. Logs the transition once. */
  recordFailure(slot: number, fall: number, url: string, reason: string): void {
    const b = slot * STRIDE;
    Atomics.store(this.i32, b + F_OKS, 0);
    const fails = Atomics.add(this.i32, b + F_FAILS, 1) + 1;
    if (fails >= fall && Atomics.compareExchange(this.i32, b + F_HEALTHY, 1, 0) === 1) {
      log.warn('backend state change', { backend: url, from: 'up', to: 'down', reason, consecutive_failures: fails });
    }
  }
  /** Records a successful proxied response: clears the failure streak without touching health. */
  recordPassiveSuccess(slot: number): void {
    const i = slot * STRIDE + F_FAILS;
    if (Atomics.load(this.i32, i) !== 0) Atomics.store(this.i32, i, 0);
  }
  /** Records a passing active check; brings the backend back after `rise` in a row. */
  recordCheckSuccess(slot: number, rise: number, url: string): void {
    const b = slot * STRIDE;
    Atomics.store(this.i32, b + F_FAILS, 0);
    const oks = Atomics.add(this.i32, b + F_OKS, 1) + 1;
    if (oks >= rise && Atomics.compareExchange(this.i32, b + F_HEALTHY, 0, 1) === 0) {
      log.info('backend state change', { backend: url, from: 'down', to: 'up', reason: 'health check passed', consecutive_successes: oks });
    }
  }

  counterIndex(worker: number, slot: number, field: number): number {
    return (worker * MAX_BACKENDS + slot) * COUNTERS + field;
  }
  /** Adds to this worker's own counter (the worker is the only writer of its row). */
  count(worker: number, slot: number, field: number): void {
    this.counters[(worker * MAX_BACKENDS + slot) * COUNTERS + field]! += 1;
  }
  /** Sum of one counter over all workers. */
  total(slot: number, field: number): number {
    let t = 0;
    for (let w = 0; w < MAX_WORKERS; w++) t += this.counters[(w * MAX_BACKENDS + slot) * COUNTERS + field]!;
    return t;
  }
}
