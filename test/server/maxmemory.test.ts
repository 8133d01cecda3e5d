import { afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { startServer, type TestServer } from '../helpers/server.js';

function infoField(info: string, name: string): number {
  const m = new RegExp(`^${name}:(\\d+)`, 'm').exec(info);
  if (!m) throw new Error(`no ${name} in INFO`);
  return Number(m[1]);
}

let srv: TestServer | null = null;
let r: Redis | null = null;

async function start(flags: string[]): Promise<Redis> {
  srv = await startServer(flags);
  r = new Redis({ port: srv.port, host: '127.0.0.1', lazyConnect: true });
  await r.connect();
  return r;
}

afterEach(async () => {
  r?.disconnect();
  if (srv) expect(await srv.stop()).toBe(0);
  srv = null;
  r = null;
});

/** Writes `n` keys `prefix:i` with 100-byte values (extra SET arguments appended). */
async function fill(c: Redis, prefix: string, n: number, extra: (i: number) => (string | number)[] = () => []): Promise<void> {
  const value = 'v'.repeat(100);
  for (let i = 0; i < n; i += 1000) {
    const p = c.pipeline();
    for (let j = i; j < Math.min(n, i + 1000); j++) p.set(`${prefix}:${j}`, value, ...(extra(j) as []));
    for (const [err] of (await p.exec())!) expect(err).toBeNull();
  }
}

/** Lowers maxmemory to about `keys` keys below current use, then one write makes the shard evict. */
async function squeeze(c: Redis, keys: number): Promise<void> {
  const used = infoField(await c.info('memory'), 'used_memory');
  await c.config('SET', 'maxmemory', String(used - keys * 140));
  await c.set('trigger', '1');
}

async function existing(c: Redis, prefix: string, n: number): Promise<number> {
  const p = c.pipeline();
  for (let i = 0; i < n; i++) p.exists(`${prefix}:${i}`);
  return (await p.exec())!.reduce((s, [, v]) => s + (v as number), 0);
}

describe('maxmemory', () => {
  it('evicts before a read too, as Redis does before every command, and the read still answers', async () => {
    const c = await start(['--maxmemory-policy', 'allkeys-random']);
    await fill(c, 'k', 2000);
    const used = infoField(await c.info('memory'), 'used_memory');
    expect(infoField(await c.info('memory'), 'mem_not_counted_for_evict')).toBe(0);
    await c.config('SET', 'maxmemory', String(used - 200 * 140));
    expect(await c.get('k:0')).not.toBeUndefined();
    expect(infoField(await c.info('stats'), 'evicted_keys')).toBeGreaterThan(0);
    expect(infoField(await c.info('memory'), 'used_memory')).toBeLessThanOrEqual(used - 200 * 140);
  });

  it('keeps used memory under 10mb with allkeys-lru under sustained writes, with no error to the client', async () => {
    const c = await start(['--shards', '3', '--maxmemory', '10mb', '--maxmemory-policy', 'allkeys-lru']);
    await fill(c, 'w', 150_000);
    const info = await c.info();
    expect(infoField(info, 'used_memory')).toBeLessThanOrEqual(10 * 1024 * 1024);
    expect(infoField(info, 'evicted_keys')).toBeGreaterThan(0);
    expect(info).toContain('maxmemory_policy:allkeys-lru');
    expect(infoField(info, 'used_memory_peak')).toBeGreaterThanOrEqual(infoField(info, 'used_memory'));
    expect(infoField(info, 'used_memory_peak')).toBeLessThanOrEqual(10 * 1024 * 1024);
  });

  it('answers denyoom writes with the OOM error under noeviction, and still serves reads and deletes', async () => {
    const c = await start(['--shards', '1', '--maxmemory', '2mb']);
    let error = '';
    for (let i = 0; i < 100 && error === ''; i++) {
      const p = c.pipeline();
      for (let j = 0; j < 1000; j++) p.set(`k:${i}:${j}`, 'x'.repeat(100));
      const res = (await p.exec())!;
      error = res.find(([e]) => e !== null)?.[0]?.message ?? '';
    }
    expect(error).toBe("OOM command not allowed when used memory > 'maxmemory'.");
    expect(await c.get('k:0:0')).toBe('x'.repeat(100));
    expect(await c.del('k:0:0')).toBe(1);
  });

  it('volatile-ttl evicts the keys that expire soonest and never a key without a TTL', async () => {
    const c = await start(['--shards', '1', '--maxmemory-policy', 'volatile-ttl', '--maxmemory-samples', '64']);
    await fill(c, 'near', 1000, (i) => ['EX', 1000 + i]);
    await fill(c, 'far', 1000, (i) => ['EX', 100_000 + i]);
    await fill(c, 'persistent', 500);
    await squeeze(c, 300);
    expect(await existing(c, 'far', 1000)).toBe(1000);
    expect(await existing(c, 'persistent', 500)).toBe(500);
    expect(await existing(c, 'near', 1000)).toBeLessThan(1000);
  });

  it('allkeys-lru evicts cold keys and keeps the ones read recently', async () => {
    const c = await start(['--shards', '1', '--maxmemory-policy', 'allkeys-lru', '--maxmemory-samples', '64']);
    await fill(c, 'k', 2000);
    // The LRU clock counts seconds, as Redis's: let the first writes age by one tick.
    await sleep(1100);
    const p = c.pipeline();
    for (let i = 0; i < 1000; i++) p.get(`k:${i}`);
    await p.exec();
    await squeeze(c, 400);
    expect(await existing(c, 'k', 1000)).toBe(1000);
    expect(await existing(c, 'k', 2000)).toBeLessThan(2000);
  });

  it('allkeys-lfu evicts rarely used keys first', async () => {
    const c = await start(['--shards', '1', '--maxmemory-policy', 'allkeys-lfu', '--maxmemory-samples', '64']);
    await fill(c, 'k', 2000);
    for (let round = 0; round < 20; round++) {
      const p = c.pipeline();
      for (let i = 0; i < 500; i++) p.get(`k:${i}`);
      await p.exec();
    }
    await squeeze(c, 400);
    expect(await existing(c, 'k', 500)).toBe(500);
    expect(await existing(c, 'k', 2000)).toBeLessThan(2000);
  });
});
