import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { startServer, type TestServer } from '../helpers/server.js';

const SHARDS = 3;

/** A key named `prefix…` that lands on `shard` (slot % shards, as Sabre routes). */
function keyOn(shard: number, prefix: string): string {
  for (let i = 0; ; i++) if (calculateSlot(`${prefix}${i}`) % SHARDS === shard) return `${prefix}${i}`;
}

describe('blocking pops whose keys span shards', () => {
  let srv: TestServer;
  let r: Redis;
  const clients: Redis[] = [];
  const client = (): Redis => {
    const c = new Redis({ port: srv.port, host: '127.0.0.1' });
    clients.push(c);
    return c;
  };
  beforeAll(async () => {
    srv = await startServer(['--shards', String(SHARDS)]);
    r = client();
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    expect(await srv.stop()).toBe(0);
  });

  it('pops at once from the first non-empty key, whatever its shard', async () => {
    const [a, b, c] = [keyOn(0, 'ba'), keyOn(1, 'bb'), keyOn(2, 'bc')];
    await r.rpush(c, 'x');
    expect(await r.blpop(a, b, c, 1)).toEqual([c, 'x']);
    await r.rpush(b, 'y');
    await r.rpush(c, 'z');
    expect(await r.brpop(a, b, c, 1)).toEqual([b, 'y']);
    expect(await r.lpop(c)).toBe('z');
  });

  it('waits until any of the shards gets data, and times out with null', async () => {
    const [a, b] = [keyOn(0, 'wa'), keyOn(2, 'wb')];
    const waiter = client();
    const popped = waiter.blpop(a, b, 0);
    await new Promise((res) => setTimeout(res, 100));
    await r.rpush(b, 'late');
    expect(await popped).toEqual([b, 'late']);
    expect(await waiter.blpop(a, b, 0.1)).toBeNull();
    // The client was parked while blocked: a pipelined command after it runs afterwards.
    const p = waiter.pipeline().blpop(a, b, 0.05).ping().exec();
    expect((await p)!.map(([, v]) => v)).toEqual([null, 'PONG']);
  });

  it('works for sorted sets (BZPOPMIN/BZPOPMAX)', async () => {
    const [a, b] = [keyOn(1, 'za'), keyOn(2, 'zb')];
    const waiter = client();
    const popped = waiter.bzpopmax(a, b, 2);
    await new Promise((res) => setTimeout(res, 100));
    await r.zadd(a, 1, 'low', 5, 'high');
    expect(await popped).toEqual([a, 'high', '5']);
    expect(await r.bzpopmin(b, a, 1)).toEqual([a, 'low', '1']);
  });

  it('BLMPOP and BZMPOP take the first non-empty key in the order given, across shards', async () => {
    const [a, b, c] = [keyOn(0, 'ma'), keyOn(1, 'mb'), keyOn(0, 'mc')];
    await r.rpush(b, 'b1', 'b2', 'b3');
    await r.rpush(c, 'c1');
    // c shares a's shard but comes after b: b must win.
    expect(await r.call('BLMPOP', '1', '3', a, b, c, 'LEFT', 'COUNT', '2')).toEqual([b, ['b1', 'b2']]);
    expect(await r.call('BLMPOP', '1', '3', a, c, b, 'RIGHT')).toEqual([c, ['c1']]);
    // b still holds a list.
    await expect(r.call('BZMPOP', '0', '2', a, b, 'MAX')).rejects.toThrow('WRONGTYPE');
    const [za, zb] = [keyOn(1, 'zma'), keyOn(2, 'zmb')];
    const zpopped = client().call('BZMPOP', '0', '2', za, zb, 'MAX', 'COUNT', '5');
    await new Promise((res) => setTimeout(res, 100));
    await r.zadd(zb, 1, 'one', 2, 'two');
    expect(await zpopped).toEqual([
      zb,
      [
        ['two', '2'],
        ['one', '1'],
      ],
    ]);
    expect(await r.call('BLMPOP', '0.05', '2', keyOn(0, 'ea'), keyOn(2, 'eb'), 'LEFT')).toBeNull();
    await expect(r.call('BLMPOP', 'x', '2', keyOn(0, 'ea'), keyOn(2, 'eb'), 'LEFT')).rejects.toThrow(
      'ERR timeout is not a float or out of range',
    );
    await expect(r.call('BLMPOP', '1', '2', keyOn(0, 'ea'), keyOn(2, 'eb'), 'UP')).rejects.toThrow('ERR syntax error');
  });

  it('BLMOVE and BRPOPLPUSH move between shards at once or when the source is filled', async () => {
    const [src, dst] = [keyOn(0, 'mvs'), keyOn(2, 'mvd')];
    await r.rpush(src, 'a', 'b');
    expect(await r.blmove(src, dst, 'LEFT', 'RIGHT', 1)).toBe('a');
    expect(await r.brpoplpush(src, dst, 1)).toBe('b');
    expect(await r.exists(src)).toBe(0);
    expect(await r.lrange(dst, 0, -1)).toEqual(['b', 'a']);
    const waiter = client();
    const moved = waiter.blmove(src, dst, 'RIGHT', 'LEFT', 0);
    await new Promise((res) => setTimeout(res, 100));
    await r.rpush(src, 'late');
    expect(await moved).toBe('late');
    expect(await r.lrange(dst, 0, -1)).toEqual(['late', 'b', 'a']);
    expect(await r.brpoplpush(src, dst, 0.05)).toBeNull();
    await expect(r.blmove(src, dst, 'UP', 'LEFT', 1)).rejects.toThrow('ERR syntax error');
    await expect(r.blmove(src, dst, 'LEFT', 'LEFT', -1)).rejects.toThrow('ERR timeout is negative');
    const notList = keyOn(1, 'mvx');
    await r.set(notList, 'string');
    await r.rpush(src, 'kept');
    await expect(r.blmove(src, notList, 'LEFT', 'LEFT', 1)).rejects.toThrow('WRONGTYPE');
    expect(await r.lrange(src, 0, -1)).toEqual(['kept']);
  });

  it('checks the timeout as one shard does: keys on one shard or on several get the same error', async () => {
    const [a, b] = [keyOn(0, 'ta'), keyOn(1, 'tb')];
    const [c, d] = [keyOn(2, 'tc'), keyOn(2, 'td')];
    for (const [x, y] of [
      [a, b],
      [c, d],
    ]) {
      for (const t of ['0b1', '0o7', ' 1', '1 ', '', 'nan', 'soon']) {
        await expect(r.blpop(x!, y!, t), `BLPOP ${x} ${y} '${t}'`).rejects.toThrow('ERR timeout is not a float or out of range');
      }
      await expect(r.brpop(x!, y!, '-0.5')).rejects.toThrow('ERR timeout is negative');
      expect(await r.blpop(x!, y!, '0.01')).toBeNull();
    }
  });

  it('a client that disconnects while waiting takes nothing', async () => {
    const [a, b] = [keyOn(0, 'da'), keyOn(1, 'db')];
    const gone = client();
    void gone.blpop(a, b, 0).catch(() => {});
    await new Promise((res) => setTimeout(res, 100));
    gone.disconnect();
    await new Promise((res) => setTimeout(res, 100));
    await r.rpush(a, 'kept');
    expect(await r.lpop(a)).toBe('kept');
  });
});
