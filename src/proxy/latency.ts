/** Per-backend latency histograms (hdr-histogram-js, microseconds): recorded in workers, merged in the main thread. */
import * as hdr from 'hdr-histogram-js';

/** A histogram sized for 1 µs … 10 min at 3 significant digits. */
export function newHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
}

/** Serializes a histogram for postMessage. */
export function encodeHistogram(h: hdr.Histogram): string {
  return hdr.encodeIntoCompressedBase64(h);
}

/** Adds an encoded histogram into `into`. */
export function mergeEncoded(into: hdr.Histogram, data: string): void {
  const h = hdr.decodeFromCompressedBase64(data);
  into.add(h);
  h.destroy();
}

export type { Histogram } from 'hdr-histogram-js';
