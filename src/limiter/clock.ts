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
