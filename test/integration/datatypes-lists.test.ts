import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createClient, RESP_TYPES } from 'redis';
import { startServer, type TestServer } from '../helpers/server.js';

describe.each([1, 3])('lists with %i shard(s)', (shards) => {
  let srv: TestServer;
  let r: Redis;
  const extra: Redis[] = [];
  const client = async (): Promise<Redis> => {
    const c = new Redis({ port: srv.port, host: '127.0.0.1', lazyConnect: true });
    await c.connect();
    extra.push(c);
    return c;
  };
  beforeAll(async () => {
    srv = await startServer(['--shards', String(shards)]);
    r = await client();
  });
  beforeEach(async () => {
    await r.flushall();
  });
  afterAll(async () => {
    for (const c of extra) c.disconnect();
    expect(await srv.stop()).toBe(0);
  });

  it('pushes, pops and reads ranges and indexes', async () => {
    expect(await r.rpush('l', 'a', 'b', 'c')).toBe(3);
    expect(await r.lpush('l', 'z')).toBe(4);
    expect(await r.lrange('l', 0, -1)).toEqual(['z', 'a', 'b', 'c']);
    expect(await r.lrange('l', -2, 100)).toEqual(['b', 'c']);
    expect(await r.lindex('l', -1)).toBe('c');
    expect(await r.lindex('l', 9)).toBeNull();
    expect(await r.llen('l')).toBe(4);
    expect(await r.lpop('l')).toBe('z');
    expect(await r.rpop('l', 2)).toEqual(['c', 'b']);
    expect(await r.lpop('l', 5)).toEqual(['a']);
    expect(await r.exists('l')).toBe(0);
    expect(await r.lpushx('l', 'x')).toBe(0);
    expect(await r.rpop('nokey')).toBeNull();
  });

  it('edits in place: LSET, LREM, LTRIM, LINSERT, LPOS', async () => {
    await r.rpush('l', 'a', 'b', 'a', 'c', 'a');
    expect(await r.lset('l', 1, 'B')).toBe('OK');
    await expect(r.lset('l', 10, 'x')).rejects.toThrow('ERR index out of range');
    expect(await r.lrem('l', -1, 'a')).toBe(1);
    expect(await r.lrange('l', 0, -1)).toEqual(['a', 'B', 'a', 'c']);
    expect(await r.linsert('l', 'BEFORE', 'c', 'X')).toBe(5);
    expect(await r.linsert('l', 'AFTER', 'nope', 'X')).toBe(-1);
    expect(await r.lpos('l', 'a')).toBe(0);
    expect(await r.lpos('l', 'a', 'RANK', -1)).toBe(2);
    expect(await r.lpos('l', 'a', 'COUNT', 0)).toEqual([0, 2]);
    expect(await r.ltrim('l', 1, -2)).toBe('OK');
    expect(await r.lrange('l', 0, -1)).toEqual(['B', 'a', 'X']);
    await r.set('s', 'v');
    await expect(r.lpush('s', 'x')).rejects.toThrow('WRONGTYPE Operation against a key holding the wrong kind of value');
  });

  it('moves between lists and pops from the first non-empty key', async () => {
    await r.rpush('{t}a', '1', '2', '3');
    expect(await r.lmove('{t}a', '{t}b', 'LEFT', 'RIGHT')).toBe('1');
    expect(await r.rpoplpush('{t}a', '{t}b')).toBe('3');
    expect(await r.lrange('{t}b', 0, -1)).toEqual(['3', '1']);
    expect(await r.lmpop(2, '{t}none', '{t}b', 'RIGHT', 'COUNT', 5)).toEqual(['{t}b', ['1', '3']]);
    expect(await r.lmpop(1, '{t}none', 'LEFT')).toBeNull();
  });

  it('keeps long lists in chained nodes with O(1) ends', async () => {
    const p = r.pipeline();
    for (let i = 0; i < 20000; i += 500) p.rpush('big', ...Array.from({ length: 500 }, (_, j) => `element:${i + j}`));
    await p.exec();
    expect(await r.object('ENCODING', 'big')).toBe('quicklist');
    expect(await r.llen('big')).toBe(20000);
    expect(await r.lindex('big', 0)).toBe('element:0');
    expect(await r.lindex('big', -1)).toBe('element:19999');
    expect(await r.lindex('big', 12345)).toBe('element:12345');
    expect(await r.lrange('big', 9998, 10001)).toEqual(['element:9998', 'element:9999', 'element:10000', 'element:10001']);
    expect(await r.lrem('big', 0, 'element:5000')).toBe(1);
    expect(await r.lindex('big', 5000)).toBe('element:5001');
  });

  it('BLPOP returns at once when data exists and times out with a null reply', async () => {
    await r.rpush('{b}l', 'x');
    expect(await r.blpop('{b}empty', '{b}l', 0)).toEqual(['{b}l', 'x']);
    expect(await r.blpop('{b}empty', 0.1)).toBeNull();
    expect(await r.bzpopmin('{b}z', 0.05)).toBeNull();
    await expect(r.blpop('{b}l', -1)).rejects.toThrow('ERR timeout is negative');
    await expect(r.blpop('{b}l', 'x' as unknown as number)).rejects.toThrow('ERR timeout is not a float or out of range');
  });

  it('serves blocked clients first-blocked-first-served when another client pushes', async () => {
    const a = await client();
    const b = await client();
    const pa = a.blpop('q', 0);
    await new Promise((res) => setTimeout(res, 50));
    const pb = b.brpop('q', 0);
    await new Promise((res) => setTimeout(res, 50));
    expect(await r.rpush('q', 'first', 'second', 'third')).toBe(3);
    expect(await pa).toEqual(['q', 'first']);
    expect(await pb).toEqual(['q', 'third']);
    expect(await r.lrange('q', 0, -1)).toEqual(['second']);
  });

  it('chains BLMOVE into a client blocked on the destination', async () => {
    const a = await client();
    const b = await client();
    const pa = a.blmove('{m}src', '{m}dst', 'LEFT', 'RIGHT', 0);
    await new Promise((res) => setTimeout(res, 50));
    const pb = b.brpop('{m}dst', 0);
    await new Promise((res) => setTimeout(res, 50));
    await r.lpush('{m}src', 'hello');
    expect(await pa).toBe('hello');
    expect(await pb).toEqual(['{m}dst', 'hello']);
    expect(await r.exists('{m}src', '{m}dst')).toBe(0);
  });

  it('wakes BLMPOP and BZPOPMAX with their reply shapes', async () => {
    const a = await client();
    const pa = a.call('BLMPOP', '0', '2', '{p}x', '{p}y', 'LEFT', 'COUNT', '2');
    const pz = (await client()).bzpopmax('{p}z', 0);
    await new Promise((res) => setTimeout(res, 50));
    await r.rpush('{p}y', '1', '2', '3');
    await r.zadd('{p}z', 1, 'a', 2, 'b');
    expect(await pa).toEqual(['{p}y', ['1', '2']]);
    expect(await pz).toEqual(['{p}z', 'b', '2']);
  });

  it('replies null (RESP3 _) to a timed-out blocking pop over node-redis RESP3', async () => {
    const c = createClient({ socket: { port: srv.port, host: '127.0.0.1' }, RESP: 3 }).withTypeMapping({ [RESP_TYPES.DOUBLE]: String });
    await c.connect();
    try {
      expect(await c.blPop('{r}nothing', 0.05)).toBeNull();
      await c.rPush('{r}l', ['a', 'b']);
      expect(await c.blPop('{r}l', 0)).toEqual({ key: '{r}l', element: 'a' });
    } finally {
      c.destroy();
    }
  });

  it('drops the waiters of a client that disconnects while blocked', async () => {
    const gone = new Redis({ port: srv.port, host: '127.0.0.1', lazyConnect: true });
    await gone.connect();
    void gone.blpop('{d}q', 0).catch(() => {});
    // Its waiter is registered once the server answers a later command of another client.
    await r.ping();
    await new Promise((res) => setTimeout(res, 50));
    gone.disconnect();
    await new Promise((res) => setTimeout(res, 50));
    await r.rpush('{d}q', 'x');
    // Nobody took the element: the dead client's waiter was dropped, not served.
    expect(await r.lpop('{d}q')).toBe('x');
    const waiting = await client();
    const p = waiting.blpop('{d}q', 0);
    await new Promise((res) => setTimeout(res, 50));
    await r.rpush('{d}q', 'y');
    expect(await p).toEqual(['{d}q', 'y']);
  });
});
