/** What the replication tests read from servers: INFO replication as an object, and a whole dataset in comparable form. */
import type { Redis } from 'ioredis';

/** INFO replication as an object. */
export async function replInfo(c: Redis): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const line of (await c.info('replication')).split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** One key's type and contents in a form that compares equal whatever the encoding (sets and hashes sorted). */
async function readKey(c: Redis, key: string): Promise<string | null> {
  const type = await c.type(key);
  switch (type) {
    case 'none':
      return null;
    case 'string':
      return `string:${await c.get(key)}`;
    case 'list':
      return `list:${JSON.stringify(await c.lrange(key, 0, -1))}`;
    case 'set':
      return `set:${JSON.stringify((await c.smembers(key)).sort())}`;
    case 'hash':
      return `hash:${JSON.stringify(Object.entries(await c.hgetall(key)).sort())}`;
    case 'zset':
      return `zset:${JSON.stringify(await c.zrange(key, '0', '-1', 'WITHSCORES'))}`;
    case 'stream':
      return `stream:${JSON.stringify(await c.xrange(key, '-', '+'))}`;
    default:
      return `${type}:?`;
  }
}

/** Every key of db 0 with its contents (see readKey). */
export async function dataset(c: Redis): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  let cursor = '0';
  do {
    const [next, keys] = await c.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const k of keys) {
      const v = await readKey(c, k);
      if (v !== null) out.set(k, v);
    }
  } while (cursor !== '0');
  return out;
}

/** The keys whose contents differ between two datasets (missing on either side included), at most `limit`. */
export function differences(a: Map<string, string>, b: Map<string, string>, limit = 10): string[] {
  const out: string[] = [];
  for (const [k, v] of a) if (b.get(k) !== v && out.push(k) >= limit) return out;
  for (const k of b.keys()) if (!a.has(k) && out.push(k) >= limit) return out;
  return out;
}
