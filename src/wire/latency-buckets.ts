/**
 * The layout of the per-command latency histograms that shards fill in shared memory and the
 * acceptor reads: log2 octaves of nanoseconds, 2^SUB_BITS sub-buckets each.
 */

/** Sub-buckets per octave, as a power of two. */
export const SUB_BITS = 3;
/** Buckets per command: 32 octaves of nanoseconds × 8. */
export const LAT_BUCKETS = 32 << SUB_BITS;
/** Bucket of a duration in nanoseconds. */
export function bucketOf(ns: number): number {
  const v = ns >= 0x7fffffff ? 0x7fffffff : ns | 0;
  if (v < 1 << SUB_BITS) return v;
  const octave = 31 - Math.clz32(v);
  return ((octave - SUB_BITS + 1) << SUB_BITS) + ((v >>> (octave - SUB_BITS)) & ((1 << SUB_BITS) - 1));
}

/** Smallest duration (ns) that falls in bucket `b`. */
export function bucketFloor(b: number): number {
  if (b < 1 << SUB_BITS) return b;
  const octave = (b >>> SUB_BITS) + SUB_BITS - 1;
  return 2 ** octave + (b & ((1 << SUB_BITS) - 1)) * 2 ** (octave - SUB_BITS);
}
