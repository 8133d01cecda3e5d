/**
 * HyperLogLogs between Sabre and a real Redis 7.0 (skipped where redis-server is not installed):
 * the same inputs give the same bytes and the same PFCOUNT, and HLLs made in either server move to
 * the other with DUMP/RESTORE and merge there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startServer, type TestServer } from '../helpers/server.js';
import { hasRedis, startRedis, type RealRedis } from '../persistence/redis-process.js';

if (!hasRedis) console.warn('hll-interop: skipped: redis-server 7.0 is not installed (Debian: apt-get install redis-server)');

/** Elements "<prefix>0" … "<prefix>{n-1}". */
const elements = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** PFADD in batches, as a client loading many elements would. */
async function fill(c: Redis, key: string, items: string[]): Promise<void> {
  for (let i = 0; i < items.length; i += 1000) await c.pfadd(key, ...items.slice(i, i + 1000));
}

describe.skipIf(!hasRedis)('HyperLogLog interop with Redis 7.0', () => {
  let dir: string;
  let redis: RealRedis;
  let srv: TestServer;
  let sabre: Redis;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sabre-hll-'));
    redis = await startRedis(dir);
    srv = await startServer(['--shards', '2']);
    sabre = new Redis({ port: srv.port, host: '127.0.0.1', lazyConnect: true });
    await sabre.connect();
  });
  afterAll(async () => {
    sabre?.disconnect();
    await srv?.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('builds the same bytes and counts the same for the same inputs, sparse and dense', async () => {
    for (const n of [0, 1, 7, 100, 1500, 3000, 12000, 60000]) {
      const items = elements(`k${n}:`, n);
      for (const c of [redis.client, sabre]) {
        await c.del('h');
        await c.pfadd('h');
        await fill(c, 'h', items);
      }
      const [rb, sb] = [await redis.client.getBuffer('h'), await sabre.getBuffer('h')];
      expect(sb).toEqual(rb);
      expect(await sabre.pfcount('h')).toBe(await redis.client.pfcount('h'));
      // With the cache now filled in both, the bytes still agree.
      expect(await sabre.getBuffer('h')).toEqual(await redis.client.getBuffer('h'));
    }
  });

  it('merges like Redis, including sparse destinations and several keys in PFCOUNT', async () => {
    for (const c of [redis.client, sabre]) {
      await c.del('m1', 'm2', 'm3', 'dst');
      await fill(c, 'm1', elements('a', 300));
      await fill(c, 'm2', elements('b', 40));
      await fill(c, 'm3', elements('a', 20000));
      await c.pfmerge('dst', 'm1', 'm2');
    }
    expect(await sabre.getBuffer('dst')).toEqual(await redis.client.getBuffer('dst'));
    expect(await sabre.pfcount('m1', 'm2', 'm3')).toBe(await redis.client.pfcount('m1', 'm2', 'm3'));
    for (const c of [redis.client, sabre]) await c.pfmerge('dst', 'm3');
    expect(await sabre.getBuffer('dst')).toEqual(await redis.client.getBuffer('dst'));
    expect(await sabre.pfcount('dst')).toBe(await redis.client.pfcount('dst'));
  });

  it('moves HLLs both ways with DUMP/RESTORE and merges them', async () => {
    await redis.client.del('fromRedisSparse', 'fromRedisDense', 'x');
    await sabre.del('fromSabreSparse', 'fromSabreDense', 'x');
    await fill(redis.client, 'fromRedisSparse', elements('rs', 200));
    await fill(redis.client, 'fromRedisDense', elements('rd', 20000));
    await fill(sabre, 'fromSabreSparse', elements('ss', 200));
    await fill(sabre, 'fromSabreDense', elements('sd', 20000));
    for (const key of ['fromRedisSparse', 'fromRedisDense']) {
      const payload = await redis.client.dumpBuffer(key);
      expect(await sabre.restore(key, 0, payload)).toBe('OK');
      expect(await sabre.pfcount(key)).toBe(await redis.client.pfcount(key));
    }
    for (const key of ['fromSabreSparse', 'fromSabreDense']) {
      const payload = await sabre.dumpBuffer(key);
      expect(await redis.client.restore(key, 0, payload)).toBe('OK');
      expect(await redis.client.pfcount(key)).toBe(await sabre.pfcount(key));
      expect(await redis.client.call('pfdebug', 'encoding', key)).toBe(await sabre.call('pfdebug', 'encoding', key));
    }
    const all = ['fromRedisSparse', 'fromRedisDense', 'fromSabreSparse', 'fromSabreDense'];
    expect(await sabre.pfmerge('x', ...all)).toBe('OK');
    expect(await redis.client.pfmerge('x', ...all)).toBe('OK');
    const merged = await sabre.pfcount('x');
    expect(merged).toBe(await redis.client.pfcount('x'));
    expect(Math.abs(merged - 40400)).toBeLessThan(40400 * 0.05);
    expect(await sabre.getBuffer('x')).toEqual(await redis.client.getBuffer('x'));
  });
});
