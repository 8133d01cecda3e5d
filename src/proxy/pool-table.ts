/**
 * Per-pool counters in a SharedArrayBuffer, shared by every thread: what the circuit breakers, the retry budget and
 * outlier detection's max-ejection share count (requests, connections, pending connects, retries, ejected backends),
 * and the event totals /metrics reports. Every limit is claimed with Atomics, so it holds exactly across threads.
 */
import { MAX_POOLS } from './config.js';

/** Pool index 0 is the default pool (top-level backends); named pools follow. */
export const POOL_SLOTS = MAX_POOLS + 1;

const STRIDE = 16;
/** Requests in flight to the pool. */
export const P_ACTIVE = 0;
/** Open (or opening) upstream connections to the pool's backends. */
export const P_CONNECTIONS = 1;
/** Requests waiting for a new upstream connection to be established. */
export const P_PENDING = 2;
/** Retries in flight. */
export const P_RETRIES = 3;
/** Backends ejected by outlier detection now. */
export const P_EJECTED = 4;
/** Backends in the pool (written by the main thread), for the max-ejection share. */
export const P_SIZE = 5;
/** Event totals. */
export const P_TRIPS_CONNECTIONS = 6;
export const P_TRIPS_PENDING = 7;
export const P_TRIPS_REQUESTS = 8;
export const P_EJECTIONS = 9;
export const P_BUDGET_REFUSED = 10;

/** Allocates the shared memory of the pool counters; pass it to every worker. */
export function createPoolMemory(): SharedArrayBuffer {
  return new SharedArrayBuffer(POOL_SLOTS * STRIDE * 4);
}

/** A typed view over the pool counters; each thread makes its own over the same memory. */
export class PoolTable {
  readonly i32: Int32Array;

  constructor(readonly memory: SharedArrayBuffer) {
    this.i32 = new Int32Array(memory);
  }

  get(pool: number, field: number): number {
    return Atomics.load(this.i32, pool * STRIDE + field);
  }
  set(pool: number, field: number, value: number): void {
    Atomics.store(this.i32, pool * STRIDE + field, value);
  }
  add(pool: number, field: number, n: number): number {
    return Atomics.add(this.i32, pool * STRIDE + field, n) + n;
  }

  /** Counts one more in `field` unless that would pass `max`; false (and nothing counted) when it would. */
  tryClaim(pool: number, field: number, max: number): boolean {
    const a = this.i32;
    const i = pool * STRIDE + field;
    // A compare-and-swap loop rather than add-then-undo: a claim racing another never sees a passing overshoot.
    for (let cur = Atomics.load(a, i); cur < max; ) {
      const seen = Atomics.compareExchange(a, i, cur, cur + 1);
      if (seen === cur) return true;
      cur = seen;
    }
    return false;
  }

  /** Gives back one claimed by tryClaim. */
  unclaim(pool: number, field: number): void {
    Atomics.sub(this.i32, pool * STRIDE + field, 1);
  }

  /** Clears a pool's counters (the main thread, before a reused index serves a new pool). */
  reset(pool: number): void {
    for (let f = 0; f < STRIDE; f++) Atomics.store(this.i32, pool * STRIDE + f, 0);
  }
}
