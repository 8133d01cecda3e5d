/** Per-backend latency histograms (hdr-histogram-js, microseconds): recorded in workers, merged in the main thread. */
import * as hdr from 'hdr-histogram-js';

/** Highest latency tracked (10 min in µs); longer requests count as this. */
const HIGHEST = 600_000_000;

/** A histogram sized for 1 µs … 10 min at 3 significant digits. */
export function newHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: HIGHEST, numberOfSignificantValueDigits: 3 });
}

// The layout newHistogram() uses: 2048 sub-buckets (3 significant digits), half of them 1024 = 2^10, unit 1 µs,
// 20 buckets to reach HIGHEST, so (20 + 1) * 1024 counts.
const HALF_MAGNITUDE = 10;
const HALF_COUNT = 1 << HALF_MAGNITUDE;
const COUNTS = 21 * HALF_COUNT;

/**
 * Records latencies on the request path with a few integer operations into counts laid out as
 * hdr-histogram-js lays out newHistogram()'s (same index for every value), instead of its recordValue (log2,
 * pow, floor per call); toHistogram() rebuilds an identical histogram for encoding and reports.
 */
export class LatencyRecorder {
  private readonly counts = new Float64Array(COUNTS);
  totalCount = 0;
  /** The exact largest value (a bucket only knows its range). */
  private max = 0;

  /** Records one latency in µs (rounded, clamped to 1 … 10 min). */
  record(us: number): void {
    let v = Math.round(us);
    if (v < 1) v = 1;
    else if (v > HIGHEST) v = HIGHEST;
    const bucket = Math.max(31 - Math.clz32(v) - HALF_MAGNITUDE, 0);
    this.counts[((bucket + 1) << HALF_MAGNITUDE) + (v >>> bucket) - HALF_COUNT]!++;
    this.totalCount++;
    if (v > this.max) this.max = v;
  }

  /** An hdr-histogram-js histogram with the same counts (destroy() it after use). */
  toHistogram(): hdr.Histogram {
    const h = newHistogram();
    const c = this.counts;
    const maxIndex = this.totalCount === 0 ? -1 : indexOf(this.max);
    for (let i = 0; i < COUNTS; i++) {
      const n = c[i]!;
      if (n === 0) continue;
      if (i === maxIndex) {
        if (n > 1) h.recordValueWithCount(valueAt(i), n - 1);
        h.recordValue(this.max);
      } else h.recordValueWithCount(valueAt(i), n);
    }
    return h;
  }
}

function indexOf(v: number): number {
  const bucket = Math.max(31 - Math.clz32(v) - HALF_MAGNITUDE, 0);
  return ((bucket + 1) << HALF_MAGNITUDE) + (v >>> bucket) - HALF_COUNT;
}

/** The lowest value that lands on count index i. */
function valueAt(i: number): number {
  let bucket = (i >> HALF_MAGNITUDE) - 1;
  let sub = (i & (HALF_COUNT - 1)) + HALF_COUNT;
  if (bucket < 0) {
    sub -= HALF_COUNT;
    bucket = 0;
  }
  return sub * 2 ** bucket;
}

/** Serializes a histogram for postMessage. */
export function encodeHistogram(h: hdr.Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

/** Serializes a recorder's counts for postMessage. */
export function encodeRecorder(r: LatencyRecorder): string {
  const h = r.toHistogram();
  const data = hdr.encodeIntoCompressedBase64(h);
  h.destroy();
  return data;
}

/** Adds an encoded histogram into `into`. */
export function mergeEncoded(into: hdr.Histogram, data: string): void {
  const h = hdr.decodeFromCompressedBase64(data);
  into.add(h);
  h.destroy();
}

export type { Histogram } from 'hdr-histogram-js';
