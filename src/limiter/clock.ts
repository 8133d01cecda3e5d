/** Clocks shared by the limiter: one monotonic millisecond scale that agrees across worker threads. */
import { performance } from 'node:perf_hooks';

/** A clock returning milliseconds (fractional) on the monotonic scale of `monotonicMs`. */
export type Clock = () => number;

// performance.now() counts from each thread's own timeOrigin, so two workers would disagree by
// their start-up gap; anchoring it to CLOCK_MONOTONIC (hrtime) once per thread makes readings comparable.
function monotonicOffset(): number {
  let best = Infinity;
  let offset = 0;
  for (let i = 0; i < 7; i++) {
    const a = performance.now();
    const h = Number(process.hrtime.bigint()) / 1e6;
    const b = performance.now();
    if (b - a < best) {
      best = b - a;
      offset = h - (a + b) / 2;
    }
  }
  return offset;
}

const OFFSET = monotonicOffset();

/** Milliseconds on CLOCK_MONOTONIC with sub-microsecond resolution; the same scale in every thread. */
export function monotonicMs(): number {
  return performance.now() + OFFSET;
}

/** Wall-clock nanoseconds since the Unix epoch (microsecond resolution), the time base CL.THROTTLE stores. */
export function wallClockNs(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
}

// The coarse clock: a per-thread cached monotonicMs reading. An unref'd 1 ms timer refreshes it
// while checks keep coming (it stops after an idle millisecond) and every 64th read refreshes it
// too, so a long synchronous run of checks still sees time pass.
const COARSE_EVERY = 63;
let coarse = 0;
let reads = 0;
let readsAtTick = 0;
let ticker: ReturnType<typeof setInterval> | null = null;

function coarseTick(): void {
  if (reads === readsAtTick) {
    clearInterval(ticker!);
    ticker = null;
  } else {
    readsAtTick = reads;
    coarse = monotonicMs();
  }
}

function coarseRefresh(): number {
  coarse = monotonicMs();
  if (ticker === null) {
    ticker = setInterval(coarseTick, 1);
    ticker.unref();
  }
  return coarse;
}

/**
 * monotonicMs() as of at most ~1 ms (plus event-loop lag) or 64 reads ago, for about a nanosecond
 * instead of ~30 ns. It is never ahead of the true time, and a limiter reading a lagging clock
 * only refills later, so it never admits more than its limit.
 */
export function coarseMs(): number {
  reads = (reads + 1) | 0;
  if ((reads & COARSE_EVERY) === 0 || ticker === null) return coarseRefresh();
  return coarse;
}
