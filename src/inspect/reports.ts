/** `sabre inspect keys|bigkeys|memkeys|ttl`: what is in a keyspace, from SCAN batches and pipelines. */
import type { Redis } from 'ioredis';
import { scanKeys, showKey } from './connect.js';
import { Progress } from './progress.js';

type Out = (line: string) => void;

/** The command that sizes a key of each type, and what it counts. */
const SIZE_OF: Record<string, [string, string]> = {
  string: ['STRLEN', 'bytes'],
  list: ['LLEN', 'items'],
  set: ['SCARD', 'members'],
  zset: ['ZCARD', 'members'],
  hash: ['HLEN', 'fields'],
  stream: ['XLEN', 'entries'],
};

/** Runs one command per key in a pipeline; a failing command gives null (a key deleted meanwhile, or a command the server lacks). */
async function perKey(
  r: Redis,
  keys: Buffer[],
  cmd: (k: Buffer, i: number) => [string, ...(string | Buffer | number)[]],
): Promise<unknown[]> {
  const p = r.pipeline();
  for (let i = 0; i < keys.length; i++) {
    const [name, ...args] = cmd(keys[i]!, i);
    p.call(name, ...args);
  }
  const res = (await p.exec()) ?? [];
  return res.map(([err, v]) => (err ? null : v));
}

/** A TTL for people: "-" for none, else the largest two units. */
export function formatTtl(ms: number): string {
  if (ms < 0) return '-';
  const s = Math.floor(ms / 1000);
  if (s < 60) return `${(ms / 1000).toFixed(1)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${s % 60}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;
  return `${Math.floor(s / 86400)}d${Math.floor((s % 86400) / 3600)}h`;
}

/** `keys PATTERN`: one line per key with type, TTL, memory and encoding, up to `limit` keys. */
export async function keysReport(r: Redis, pattern: string, limit: number, out: Out): Promise<void> {
  out(`${'key'.padEnd(40)} ${'type'.padEnd(7)} ${'ttl'.padStart(9)} ${'memory'.padStart(9)}  encoding`);
  let shown = 0;
  for await (const batch of scanKeys(r, pattern)) {
    const keys = batch.slice(0, limit - shown);
    const [types, ttls, mems, encs] = await Promise.all([
      perKey(r, keys, (k) => ['TYPE', k]),
      perKey(r, keys, (k) => ['PTTL', k]),
      perKey(r, keys, (k) => ['MEMORY', 'USAGE', k]),
      perKey(r, keys, (k) => ['OBJECT', 'ENCODING', k]),
    ]);
    keys.forEach((k, i) => {
      const mem = mems[i] === null ? '?' : String(mems[i]);
      out(
        `${showKey(k).padEnd(40)} ${String(types[i] ?? '?').padEnd(7)} ${formatTtl(Number(ttls[i] ?? -1)).padStart(9)} ${mem.padStart(9)}  ${encs[i] ?? '?'}`,
      );
    });
    shown += keys.length;
    if (shown >= limit) {
      out(`(first ${limit} keys; --limit N for more)`);
      return;
    }
  }
  out(`(${shown} keys)`);
}

/** `bigkeys` (by element count, as redis-cli --bigkeys) or `memkeys` (by MEMORY USAGE, as --memkeys). */
export async function bigKeysReport(r: Redis, byMemory: boolean, out: Out): Promise<void> {
  const total = Number(await r.dbsize());
  const progress = new Progress(byMemory ? 'memkeys' : 'bigkeys');
  const biggest = new Map<string, { key: Buffer; size: number }>();
  const perType = new Map<string, { count: number; size: number }>();
  let scanned = 0;
  for await (const keys of scanKeys(r, '*')) {
    const types = (await perKey(r, keys, (k) => ['TYPE', k])) as (string | null)[];
    const sizes = byMemory
      ? await perKey(r, keys, (k) => ['MEMORY', 'USAGE', k])
      : await perKey(r, keys, (k, i) => [SIZE_OF[types[i] ?? 'none']?.[0] ?? 'EXISTS', k]);
    keys.forEach((k, i) => {
      const t = types[i];
      if (t === null || t === 'none') return;
      const size = Number(sizes[i] ?? 0);
      const agg = perType.get(t) ?? { count: 0, size: 0 };
      agg.count++;
      agg.size += size;
      perType.set(t, agg);
      const best = biggest.get(t);
      if (best === undefined || size > best.size) biggest.set(t, { key: k, size });
    });
    scanned += keys.length;
    progress.update(scanned, total);
  }
  progress.done();
  out(`scanned ${scanned} keys`);
  out('');
  for (const [t, b] of [...biggest].sort()) {
    const unit = byMemory ? 'bytes' : (SIZE_OF[t]?.[1] ?? 'units');
    out(`biggest ${t.padEnd(6)} found '${showKey(b.key)}' has ${b.size} ${unit}`);
  }
  out('');
  for (const [t, a] of [...perType].sort()) {
    const unit = byMemory ? 'bytes' : (SIZE_OF[t]?.[1] ?? 'units');
    const pct = scanned === 0 ? 0 : (100 * a.count) / scanned;
    out(`${a.count} ${t}s with ${a.size} ${unit} (${pct.toFixed(2)}% of keys, avg size ${(a.size / a.count).toFixed(2)})`);
  }
}

/** TTL buckets for the histogram: upper bound in ms and label. */
const TTL_BUCKETS: [number, string][] = [
  [60_000, '< 1 min'],
  [3_600_000, '< 1 hour'],
  [86_400_000, '< 1 day'],
  [7 * 86_400_000, '< 1 week'],
  [Number.POSITIVE_INFINITY, '>= 1 week'],
];

/** `ttl [PATTERN]`: a histogram of TTLs and the `soonest` keys that expire first. */
export async function ttlReport(r: Redis, pattern: string, soonest: number, out: Out): Promise<void> {
  const counts = new Array<number>(TTL_BUCKETS.length).fill(0);
  let persistent = 0;
  let scanned = 0;
  const soon: { key: Buffer; ttl: number }[] = [];
  for await (const keys of scanKeys(r, pattern)) {
    const ttls = await perKey(r, keys, (k) => ['PTTL', k]);
    keys.forEach((k, i) => {
      const t = Number(ttls[i] ?? -2);
      if (t === -2) return;
      scanned++;
      if (t === -1) {
        persistent++;
        return;
      }
      counts[TTL_BUCKETS.findIndex(([max]) => t < max)]!++;
      soon.push({ key: k, ttl: t });
      if (soon.length > soonest * 4) soon.sort((a, b) => a.ttl - b.ttl).length = soonest;
    });
  }
  const widest = Math.max(1, persistent, ...counts);
  const bar = (n: number): string => '#'.repeat(Math.round((40 * n) / widest));
  out(`${scanned} keys, ${persistent} without a TTL`);
  out(`${'no ttl'.padEnd(10)} ${String(persistent).padStart(8)} ${bar(persistent)}`);
  TTL_BUCKETS.forEach(([, label], i) => {
    out(`${label.padEnd(10)} ${String(counts[i]).padStart(8)} ${bar(counts[i]!)}`);
  });
  soon.sort((a, b) => a.ttl - b.ttl);
  if (soon.length > 0) {
    out('');
    out('expiring first:');
    for (const s of soon.slice(0, soonest)) out(`  ${formatTtl(s.ttl).padStart(9)}  ${showKey(s.key)}`);
  }
}
