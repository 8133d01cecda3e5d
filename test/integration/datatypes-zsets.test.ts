import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createClient, RESP_TYPES } from 'redis';
import { startServer, type TestServer } from '../helpers/server.js';

describe.each([1, 3])('sorted sets with %i shard(s)', (shards) => {
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

  it('adds with NX/XX/GT/LT/CH/INCR and formats scores like Redis', async () => {
    expect(await r.zadd('z', 1, 'a', 2, 'b', 3, 'c')).toBe(3);
    expect(await r.zadd('z', 'NX', 10, 'a', 4, 'd')).toBe(1);
    expect(await r.zadd('z', 'XX', 'CH', 5, 'a', 9, 'nope')).toBe(1);
    expect(await r.zadd('z', 'GT', 'CH', 1, 'a')).toBe(0);
    expect(await r.zadd('z', 'LT', 'CH', 1, 'a')).toBe(1);
    expect(await r.zadd('z', 'INCR', 0.1, 'a')).toBe('1.1000000000000001');
    expect(await r.zincrby('z', '+inf', 'c')).toBe('inf');
    expect(await r.zscore('z', 'nope')).toBeNull();
    expect(await r.zmscore('z', 'b', 'nope')).toEqual(['2', null]);
    await expect(r.zadd('z', 'NX', 'XX', 1, 'a')).rejects.toThrow('ERR XX and NX options at the same time are not compatible');
    await expect(r.zadd('z', 'GT', 'LT', 1, 'a')).rejects.toThrow('ERR GT, LT, and/or NX options at the same time are not compatible');
    await expect(r.zadd('z', 'x', 'a')).rejects.toThrow('ERR value is not a valid float');
    await expect(r.zincrby('z', '-inf', 'c')).rejects.toThrow('ERR resulting score is not a number (NaN)');
  });

  it('answers ranks, counts and ranges by rank, score and lex', async () => {
    await r.zadd('z', 1, 'a', 2, 'b', 3, 'c', 4, 'd');
    expect(await r.zrank('z', 'c')).toBe(2);
    expect(await r.zrevrank('z', 'c')).toBe(1);
    expect(await r.zcount('z', '(1', 3)).toBe(2);
    expect(await r.zrange('z', 0, -1, 'WITHSCORES')).toEqual(['a', '1', 'b', '2', 'c', '3', 'd', '4']);
    expect(await r.zrange('z', '(3', '-inf', 'BYSCORE', 'REV', 'LIMIT', 0, 2)).toEqual(['b', 'a']);
    expect(await r.zrangebyscore('z', 2, '+inf', 'LIMIT', 1, 1)).toEqual(['c']);
    expect(await r.zrevrangebyscore('z', 4, 3)).toEqual(['d', 'c']);
    expect(await r.zrevrange('z', 0, 0)).toEqual(['d']);
    await r.zadd('lex', 0, 'a', 0, 'b', 0, 'c');
    expect(await r.zrangebylex('lex', '(a', '+')).toEqual(['b', 'c']);
    expect(await r.zrevrangebylex('lex', '[b', '-')).toEqual(['b', 'a']);
    expect(await r.zlexcount('lex', '-', '(c')).toBe(2);
    await expect(r.zrange('z', 0, 1, 'LIMIT', 0, 1)).rejects.toThrow(
      'ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX',
    );
    await expect(r.zrangebyscore('z', 'x', 1)).rejects.toThrow('ERR min or max is not a float');
  });

  it('converts to a skiplist past 128 members and keeps ranks consistent', async () => {
    const args: (string | number)[] = [];
    for (let i = 0; i < 128; i++) args.push(i, `m${i}`);
    await r.zadd('z', ...args);
    expect(await r.object('ENCODING', 'z')).toBe('listpack');
    await r.zadd('z', 128, 'm128');
    expect(await r.object('ENCODING', 'z')).toBe('skiplist');
    await r.zadd('long', 1, 'x'.repeat(65));
    expect(await r.object('ENCODING', 'long')).toBe('skiplist');
    const p = r.pipeline();
    for (let i = 129; i < 5000; i++) p.zadd('z', (i * 7919) % 5000, `m${i}`);
    await p.exec();
    expect(await r.zcard('z')).toBe(5000);
    const all = await r.zrange('z', 0, -1);
    for (const i of [0, 1, 777, 2500, 4999]) expect(await r.zrank('z', all[i]!)).toBe(i);
    expect(await r.zrange('z', 1000, 1004)).toEqual(all.slice(1000, 1005));
    expect(await r.zremrangebyrank('z', 0, 99)).toBe(100);
    expect(await r.zrank('z', all[100]!)).toBe(0);
    expect(await r.zremrangebyscore('z', '-inf', '+inf')).toBe(4900);
    expect(await r.exists('z')).toBe(0);
  });

  it('pops from either end, with and without counts', async () => {
    await r.zadd('{z}a', 1, 'a', 2, 'b', 3, 'c');
    expect(await r.zpopmin('{z}a')).toEqual(['a', '1']);
    expect(await r.zpopmax('{z}a', 5)).toEqual(['c', '3', 'b', '2']);
    expect(await r.exists('{z}a')).toBe(0);
    await r.zadd('{z}b', 1, 'x', 2, 'y');
    expect(await r.zmpop(2, '{z}a', '{z}b', 'MAX', 'COUNT', 1)).toEqual(['{z}b', [['y', '2']]]);
    expect(await r.zmpop(1, '{z}a', 'MIN')).toBeNull();
  });

  it('combines with WEIGHTS and AGGREGATE, and stores', async () => {
    await r.zadd('{u}a', 1, 'x', 2, 'y');
    await r.zadd('{u}b', 10, 'y', 20, 'z');
    await r.sadd('{u}s', 'z');
    expect(await r.zunion(2, '{u}a', '{u}b', 'WITHSCORES')).toEqual(['x', '1', 'y', '12', 'z', '20']);
    expect(await r.zinter(2, '{u}a', '{u}b', 'WEIGHTS', 2, 1, 'AGGREGATE', 'MAX', 'WITHSCORES')).toEqual(['y', '10']);
    expect(await r.zdiff(2, '{u}a', '{u}b')).toEqual(['x']);
    expect(await r.zunionstore('{u}d', 3, '{u}a', '{u}b', '{u}s')).toBe(3);
    expect(await r.zscore('{u}d', 'z')).toBe('21');
    expect(await r.zinterstore('{u}d', 2, '{u}a', '{u}none')).toBe(0);
    expect(await r.exists('{u}d')).toBe(0);
    expect(await r.zrangestore('{u}d', '{u}b', 0, 0)).toBe(1);
    expect(await r.zrange('{u}d', 0, -1, 'WITHSCORES')).toEqual(['y', '10']);
    await expect(r.zunion(0, '{u}a')).rejects.toThrow("ERR at least 1 input key is needed for 'zunion' command");
  });

  it('samples and scans', async () => {
    const args: (string | number)[] = [];
    for (let i = 0; i < 1000; i++) args.push(i, `m${i}`);
    await r.zadd('z', ...args);
    expect(new Set(await r.zrandmember('z', 10)).size).toBe(10);
    const seen = new Set<string>();
    let cursor = '0';
    let rounds = 0;
    do {
      const [next, items] = await r.zscan('z', cursor);
      for (let i = 0; i < items.length; i += 2) seen.add(items[i]!);
      cursor = next;
    } while (cursor !== '0' && ++rounds < 1000);
    expect(seen.size).toBe(1000);
  });

  it('replies RESP3 doubles and pairs to node-redis', async () => {
    const c = createClient({ socket: { port: srv.port, host: '127.0.0.1' }, RESP: 3 }).withTypeMapping({ [RESP_TYPES.DOUBLE]: String });
    await c.connect();
    try {
      await c.zAdd('z', [
        { score: 1.5, value: 'a' },
        { score: 2, value: 'b' },
      ]);
      expect(await c.zScore('z', 'a')).toBe('1.5');
      expect(await c.sendCommand(['ZRANGE', 'z', '0', '-1', 'WITHSCORES'])).toEqual([
        ['a', '1.5'],
        ['b', '2'],
      ]);
      expect(await c.zRank('z', 'b')).toBe(1);
    } finally {
      c.destroy();
    }
  });
});
