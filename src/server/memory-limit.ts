/**
 * maxmemory settings to the shards (each gets an even share of the limit, the policy and the sample
 * count in its control words), and the used-memory peak INFO reports.
 */
import type { Acceptor } from '../io/acceptor.js';
import * as F from '../wire/frames.js';
import { POLICIES } from '../shards/evict.js';

/** Writes the current maxmemory settings into every shard's control words and keeps them in step with CONFIG SET. */
export function applyMemoryLimits(a: Acceptor): void {
  const cfg = a.config;
  const write = (): void => {
    const share = cfg.num('maxmemory') / a.shards.length;
    const policy = POLICIES.indexOf(cfg.get('maxmemory-policy') as (typeof POLICIES)[number]);
    for (const link of a.shards) {
      link.stats[F.CT_SAMPLES] = cfg.num('maxmemory-samples');
      link.stats[F.CT_POLICY] = policy;
      link.stats[F.CT_MAXMEMORY] = share;
    }
  };
  write();
  for (const name of ['maxmemory', 'maxmemory-policy', 'maxmemory-samples']) cfg.onChange(name, write);
}

const peaks = new WeakMap<Acceptor, number>();

function usedMemory(a: Acceptor): number {
  let used = 0;
  for (const link of a.shards) used += link.stats[F.ST_USED_MEMORY]!;
  return used;
}

/** Samples used memory every 100 ms (Redis updates its peak in serverCron), for used_memory_peak. */
export function trackMemoryPeak(a: Acceptor): void {
  const timer = setInterval(() => memoryPeak(a), 100);
  timer.unref();
}

/** The highest used memory seen so far, now included. */
export function memoryPeak(a: Acceptor): number {
  const peak = Math.max(peaks.get(a) ?? 0, usedMemory(a));
  peaks.set(a, peak);
  return peak;
}
