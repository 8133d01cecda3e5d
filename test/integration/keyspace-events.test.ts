import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startServer, type TestServer } from '../helpers/server.js';

describe.each([1, 3])('keyspace notifications with %i shard(s)', (shards) => {
  let srv: TestServer;
  let r: Redis;
  let sub: Redis;
  const events: string[] = [];
  /** Waits until `n` events arrived (bounded by the test timeout). */
  const until = async (n: number): Promise<string[]> => {
    for (let i = 0; i < 500 && events.length < n; i++) await new Promise((res) => setTimeout(res, 10));
    return events.splice(0);
  };
  beforeAll(async () => {
    srv = await startServer(['--shards', String(shards)]);
    r = new Redis({ port: srv.port, host: '127.0.0.1' });
    sub = new Redis({ port: srv.port, host: '127.0.0.1' });
    sub.on('pmessage', (_p: string, ch: string, m: string) => events.push(`${ch} ${m}`));
    await sub.psubscribe('__key*__:*');
  });
  afterAll(async () => {
    sub.disconnect();
    r.disconnect();
    expect(await srv.stop()).toBe(0);
  });

  it('validates and normalizes the flags like Redis', async () => {
    await expect(r.config('SET', 'notify-keyspace-events', 'Z')).rejects.toThrow("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.");
    await r.config('SET', 'notify-keyspace-events', 'xKg');
    expect(await r.config('GET', 'notify-keyspace-events')).toEqual(['notify-keyspace-events', 'gxK']);
    await r.config('SET', 'notify-keyspace-events', '');
  });

  it('publishes nothing while disabled', async () => {
    await r.set('quiet', '1');
    await r.config('SET', 'notify-keyspace-events', 'KEA');
    await r.set('loud', '1');
    expect(await until(2)).toEqual(['__keyspace@0__:loud set', '__keyevent@0__:set loud']);
  });

  it('reports list, set, hash and sorted-set changes, and del when a command empties a key', async () => {
    await r.config('SET', 'notify-keyspace-events', 'Elshzg');
    await r.rpush('L', 'a', 'b');
    await r.lpop('L');
    await r.lpop('L');
    await r.sadd('S', 'x');
    await r.sadd('S', 'x');
    await r.srem('S', 'x');
    await r.hset('H', 'f', 'v');
    await r.zadd('Z', 1, 'm');
    await r.zincrby('Z', 1, 'm');
    await r.sunionstore('{t}dest', '{t}none');
    expect(await until(10)).toEqual([
      '__keyevent@0__:rpush L',
      '__keyevent@0__:lpop L',
      '__keyevent@0__:lpop L',
      '__keyevent@0__:del L',
      '__keyevent@0__:sadd S',
      '__keyevent@0__:srem S',
      '__keyevent@0__:del S',
      '__keyevent@0__:hset H',
      '__keyevent@0__:zadd Z',
      '__keyevent@0__:zincr Z',
    ]);
    await r.config('SET', 'notify-keyspace-events', '');
  });

  it('reports pops and moves in Redis order, also when a blocked pop is served later', async () => {
    await r.config('SET', 'notify-keyspace-events', 'Elzg');
    await r.rpush('{p}L', 'a', 'b', 'c');
    await r.blpop('{p}L', 0);
    await r.lmpop(2, '{p}none', '{p}L', 'RIGHT');
    await r.blmove('{p}L', '{p}M', 'LEFT', 'RIGHT', 0);
    await r.zadd('{p}Z', 1, 'x', 2, 'y');
    await r.bzpopmax('{p}Z', 0);
    await r.zmpop(1, '{p}Z', 'MIN');
    expect(await until(10)).toEqual([
      '__keyevent@0__:rpush {p}L',
      '__keyevent@0__:lpop {p}L',
      '__keyevent@0__:rpop {p}L',
      '__keyevent@0__:rpush {p}M',
      '__keyevent@0__:lpop {p}L',
      '__keyevent@0__:del {p}L',
      '__keyevent@0__:zadd {p}Z',
      '__keyevent@0__:zpopmax {p}Z',
      '__keyevent@0__:zpopmin {p}Z',
      '__keyevent@0__:del {p}Z',
    ]);
    const blocked = new Redis({ port: srv.port, host: '127.0.0.1' });
    const popped = blocked.brpop('{p}W', 5);
    for (let i = 0; i < 200 && (await r.client('LIST')).split('cmd=brpop').length < 2; i++) await new Promise((res) => setTimeout(res, 10));
    await r.lpush('{p}W', 'w');
    expect(await popped).toEqual(['{p}W', 'w']);
    expect(await until(3)).toEqual(['__keyevent@0__:lpush {p}W', '__keyevent@0__:rpop {p}W', '__keyevent@0__:del {p}W']);
    // A blocked move notifies nothing while it waits, then push before pop once served.
    const moved = blocked.blmove('{p}W', '{p}D', 'RIGHT', 'LEFT', 5);
    for (let i = 0; i < 200 && (await r.client('LIST')).split('cmd=blmove').length < 2; i++)
      await new Promise((res) => setTimeout(res, 10));
    await r.rpush('{p}W', 'v');
    expect(await moved).toBe('v');
    expect(await until(4)).toEqual([
      '__keyevent@0__:rpush {p}W',
      '__keyevent@0__:lpush {p}D',
      '__keyevent@0__:rpop {p}W',
      '__keyevent@0__:del {p}W',
    ]);
    blocked.disconnect();
    await r.config('SET', 'notify-keyspace-events', '');
  });

  it('reports writes on keyspace and keyevent channels', async () => {
    await r.config('SET', 'notify-keyspace-events', 'KEA');
    await r.set('a', '1', 'EX', 100);
    await r.incrby('a', 2);
    await r.del('a', 'missing');
    await r.set('{b}', 'x');
    await r.rename('{b}', '{b}2');
    expect(await until(14)).toEqual([
      '__keyspace@0__:a set',
      '__keyevent@0__:set a',
      '__keyspace@0__:a expire',
      '__keyevent@0__:expire a',
      '__keyspace@0__:a incrby',
      '__keyevent@0__:incrby a',
      '__keyspace@0__:a del',
      '__keyevent@0__:del a',
      '__keyspace@0__:{b} set',
      '__keyevent@0__:set {b}',
      '__keyspace@0__:{b} rename_from',
      '__keyevent@0__:rename_from {b}',
      '__keyspace@0__:{b}2 rename_to',
      '__keyevent@0__:rename_to {b}2',
    ]);
  });

  it('reports RENAME and COPY whose keys sit on different shards', async () => {
    await r.config('SET', 'notify-keyspace-events', 'Eg');
    await r.set('from{k1}', 'v');
    await r.rename('from{k1}', 'to{k2}');
    await r.copy('to{k2}', 'copy{k1}');
    expect(await until(3)).toEqual([
      '__keyevent@0__:rename_from from{k1}',
      '__keyevent@0__:rename_to to{k2}',
      '__keyevent@0__:copy_to copy{k1}',
    ]);
  });

  it('reports expired keys from the timer wheel', async () => {
    await r.config('SET', 'notify-keyspace-events', 'Ex');
    await r.set('ttl1', 'v', 'PX', 30);
    expect(await until(1)).toEqual(['__keyevent@0__:expired ttl1']);
    expect(await r.exists('ttl1')).toBe(0);
    await r.config('SET', 'notify-keyspace-events', '');
  });
});
