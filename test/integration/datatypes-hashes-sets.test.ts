import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { startServer, type TestServer } from '../helpers/server.js';

describe.each([1, 3])('hashes and sets with %i shard(s)', (shards) => {
  let srv: TestServer;
  let r: Redis;
  beforeAll(async () => {
    srv = await startServer(['--shards', String(shards)]);
    r = new Redis({ port: srv.port, host: '127.0.0.1', lazyConnect: true });
    await r.connect();
  });
  beforeEach(async () => {
    await r.flushall();
  });
  afterAll(async () => {
    r.disconnect();
    expect(await srv.stop()).toBe(0);
  });

  it('sets, reads and deletes hash fields', async () => {
    expect(await r.hset('h', 'a', '1', 'b', '2')).toBe(2);
    expect(await r.hset('h', 'a', '10', 'c', '3')).toBe(1);
    expect(await r.hget('h', 'a')).toBe('10');
    expect(await r.hmget('h', 'a', 'nope', 'c')).toEqual(['10', null, '3']);
    expect(await r.hgetall('h')).toEqual({ a: '10', b: '2', c: '3' });
    expect((await r.hkeys('h')).sort()).toEqual(['a', 'b', 'c']);
    expect((await r.hvals('h')).sort()).toEqual(['10', '2', '3']);
    expect(await r.hlen('h')).toBe(3);
    expect(await r.hstrlen('h', 'a')).toBe(2);
    expect(await r.hexists('h', 'b')).toBe(1);
    expect(await r.hsetnx('h', 'a', 'x')).toBe(0);
    expect(await r.hmset('h', 'd', '4')).toBe('OK');
    expect(await r.hdel('h', 'a', 'b', 'c', 'd', 'zz')).toBe(4);
    expect(await r.exists('h')).toBe(0);
  });

  it('increments hash fields with Redis errors', async () => {
    expect(await r.hincrby('h', 'n', 5)).toBe(5);
    expect(await r.hincrbyfloat('h', 'f', '1.5')).toBe('1.5');
    expect(await r.hincrbyfloat('h', 'f', '0.1')).toBe('1.6');
    await r.hset('h', 's', 'abc');
    await expect(r.hincrby('h', 's', 1)).rejects.toThrow('ERR hash value is not an integer');
    await expect(r.hincrbyfloat('h', 's', '1')).rejects.toThrow('ERR hash value is not a float');
    await r.hset('h', 'big', '9223372036854775800');
    await expect(r.hincrby('h', 'big', 100)).rejects.toThrow('ERR increment or decrement would overflow');
  });

  it('converts a hash from listpack to hashtable at 512 fields or a 65-byte value', async () => {
    const fields: string[] = [];
    for (let i = 0; i < 512; i++) fields.push(`f${i}`, `v${i}`);
    await r.hset('h', ...fields);
    expect(await r.object('ENCODING', 'h')).toBe('listpack');
    await r.hset('h', 'one-more', 'x');
    expect(await r.object('ENCODING', 'h')).toBe('hashtable');
    expect(await r.hget('h', 'f511')).toBe('v511');
    expect(await r.hlen('h')).toBe(513);
    await r.hset('h2', 'f', 'x'.repeat(64));
    expect(await r.object('ENCODING', 'h2')).toBe('listpack');
    await r.hset('h2', 'g', 'x'.repeat(65));
    expect(await r.object('ENCODING', 'h2')).toBe('hashtable');
  });

  it('scans and samples big hashes', async () => {
    const fields: string[] = [];
    for (let i = 0; i < 2000; i++) fields.push(`f${i}`, `v${i}`);
    await r.hset('h', ...fields);
    const seen = new Set<string>();
    let cursor = '0';
    let rounds = 0;
    do {
      const [next, items] = await r.hscan('h', cursor, 'COUNT', 100);
      for (let i = 0; i < items.length; i += 2) seen.add(items[i]!);
      cursor = next;
    } while (cursor !== '0' && ++rounds < 1000);
    expect(seen.size).toBe(2000);
    const pick = (await r.hrandfield('h', 5)) as string[];
    expect(new Set(pick).size).toBe(5);
    expect((await r.hrandfield('h', -3, 'WITHVALUES')) as string[]).toHaveLength(6);
  });

  it('adds, removes and queries set members', async () => {
    expect(await r.sadd('s', '3', '1', '2', '3')).toBe(3);
    expect(await r.object('ENCODING', 's')).toBe('intset');
    expect(await r.smembers('s')).toEqual(['1', '2', '3']);
    expect(await r.sadd('s', 'x')).toBe(1);
    expect(await r.object('ENCODING', 's')).toBe('hashtable');
    expect(await r.sismember('s', 'x')).toBe(1);
    expect(await r.smismember('s', '1', 'nope')).toEqual([1, 0]);
    expect(await r.scard('s')).toBe(4);
    expect(await r.srem('s', '1', 'nope')).toBe(1);
    const popped = await r.spop('s', 2);
    expect(popped).toHaveLength(2);
    expect(await r.scard('s')).toBe(1);
    expect(await r.srandmember('s', -5)).toHaveLength(5);
  });

  it('converts an intset past 512 members', async () => {
    await r.sadd('s', ...Array.from({ length: 512 }, (_, i) => String(i)));
    expect(await r.object('ENCODING', 's')).toBe('intset');
    await r.sadd('s', '512');
    expect(await r.object('ENCODING', 's')).toBe('hashtable');
    expect(await r.scard('s')).toBe(513);
  });

  it('computes set algebra and stores results', async () => {
    await r.sadd('{k}a', 'x', 'y', 'z');
    await r.sadd('{k}b', 'y', 'z', 'w');
    expect((await r.sinter('{k}a', '{k}b')).sort()).toEqual(['y', 'z']);
    expect((await r.sunion('{k}a', '{k}b')).sort()).toEqual(['w', 'x', 'y', 'z']);
    expect(await r.sdiff('{k}a', '{k}b')).toEqual(['x']);
    expect(await r.sinterstore('{k}d', '{k}a', '{k}b')).toBe(2);
    expect(await r.sunionstore('{k}d', '{k}a', '{k}b')).toBe(4);
    expect(await r.sdiffstore('{k}d', '{k}a', '{k}a')).toBe(0);
    expect(await r.exists('{k}d')).toBe(0);
    expect(await r.sintercard(2, '{k}a', '{k}b', 'LIMIT', 1)).toBe(1);
    expect(await r.smove('{k}a', '{k}b', 'x')).toBe(1);
    expect(await r.scard('{k}b')).toBe(4);
    await expect(r.sintercard(0, '{k}a')).rejects.toThrow('ERR numkeys should be greater than 0');
  });

  it('speaks RESP3 sets and maps to node-redis', async () => {
    const c = createClient({ socket: { port: srv.port, host: '127.0.0.1' }, RESP: 3 });
    await c.connect();
    try {
      await c.sAdd('s', ['a', 'b']);
      expect((await c.sMembers('s')).sort()).toEqual(['a', 'b']);
      await c.hSet('h', { f: 'v', g: 'w' });
      expect(await c.hGetAll('h')).toEqual({ f: 'v', g: 'w' });
    } finally {
      c.destroy();
    }
  });
});
