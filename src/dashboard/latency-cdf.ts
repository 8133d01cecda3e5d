/**
 * Percentiles from Redis's LATENCY HISTOGRAM replies: per command, cumulative call counts at
 * power-of-two microsecond bounds. Two replies a few seconds apart give the distribution of the
 * calls in between.
 */

/** Bucket upper bound (µs) → cumulative calls, over all commands. */
export type Cdf = Map<number, number>;

/** The cumulative count at `bound` of a sorted [bound, count] list (its last count past its end). */
function countAt(buckets: [number, number][], bound: number): number {
  let c = 0;
  for (const [b, n] of buckets) {
    if (b > bound) break;
    c = n;
  }
  return c;
}

/**
 * Sums the per-command histograms of one LATENCY HISTOGRAM reply (RESP2 flat arrays, as ioredis
 * returns them). A command's list stops at its largest bucket, so past it the command counts its
 * total: summing the listed points alone would make the sum fall between bounds.
 */
export function mergeHistogramReply(reply: unknown): Cdf {
  const perCommand: [number, number][][] = [];
  const bounds = new Set<number>();
  if (Array.isArray(reply)) {
    for (let i = 1; i < reply.length; i += 2) {
      const fields = reply[i];
      if (!Array.isArray(fields)) continue;
      for (let j = 0; j + 1 < fields.length; j += 2) {
        if (String(fields[j]) !== 'histogram_usec' || !Array.isArray(fields[j + 1])) continue;
        const flat = fields[j + 1] as unknown[];
        const buckets: [number, number][] = [];
        for (let k = 0; k + 1 < flat.length; k += 2) {
          buckets.push([Number(flat[k]), Number(flat[k + 1])]);
          bounds.add(Number(flat[k]));
        }
        buckets.sort((a, b) => a[0] - b[0]);
        perCommand.push(buckets);
      }
    }
  }
  const cdf: Cdf = new Map();
  for (const b of [...bounds].sort((x, y) => x - y))
    cdf.set(
      b,
      perCommand.reduce((sum, buckets) => sum + countAt(buckets, b), 0),
    );
  return cdf;
}

/** The calls counted in `now` but not yet in `before` (both cumulative), as a CDF. */
export function since(now: Cdf, before: Cdf | null): Cdf {
  const bounds = [...new Set([...now.keys(), ...(before?.keys() ?? [])])].sort((a, b) => a - b);
  const sorted = (c: Cdf | null): [number, number][] => (c === null ? [] : [...c].sort((a, b) => a[0] - b[0]));
  const n = sorted(now);
  const p = sorted(before);
  const out: Cdf = new Map();
  for (const b of bounds) out.set(b, Math.max(0, countAt(n, b) - countAt(p, b)));
  return out;
}

/** The bucket bound (µs) at which `pct` percent of the calls are counted; null without calls. */
export function percentile(cdf: Cdf, pct: number): number | null {
  const bounds = [...cdf.keys()].sort((a, b) => a - b);
  const total = bounds.length === 0 ? 0 : cdf.get(bounds[bounds.length - 1]!)!;
  if (total === 0) return null;
  const want = (pct / 100) * total;
  for (const b of bounds) if (cdf.get(b)! >= want) return b;
  return bounds[bounds.length - 1]!;
}
