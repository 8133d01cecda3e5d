import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { startServer, type TestServer } from '../helpers/server.js';

const SHARDS = 3;

/** A key named `prefix…` that lands on `shard` (slot % shards, as Sabre routes). */
function keyOn(shard: number, prefix: string): string {
  for (let i = 0; ; i++) if (calculateSlot(`${prefix}${i}`) % SHARDS === shard) return `${prefix}${i}`;
}

describe('collection commands whose keys span shards', () => {
  let srv: TestServer;
  let r: Redis;
  beforeAll(async () => {
    srv = await startServer(['--shards', String(SHARDS)]);
    r = new Redis({ port: srv.port, host: '127.0.0.1' });
  });
  afterAll(async () => {
    r.disconnect();
    expect(await srv.stop()).toBe(0);
  });

  it('SUNIONSTORE / SINTER / SDIFFSTORE across shards', async () => {
    const [d, a, b] = [keyOn(0, 'sd'), keyOn(1, 'sa'), keyOn(2, 'sb')];
    await r.sadd(a, 'x', 'y', 'z');
    await r.sadd(b, 'y', 'z', 'w');
    expect(await r.sunionstore(d, a, b)).toBe(4);
    expect((await r.smembers(d)).sort()).toEqual(['w', 'x', 'y', 'z']);
    expect((await r.sinter(a, b)).sort()).toEqual(['y', 'z']);
    expect(await r.sdiffstore(d, a, b)).toBe(1);
    expect(await r.smembers(d)).toEqual(['x']);
    // Sources are untouched and no temporary key is left behind.
    expect(await r.scard(a)).toBe(3);
    expect(await r.scard(b)).toBe(3);
    expect((await r.keys('*gather*')).length).toBe(0);
  });

  it('ZUNIONSTORE with WEIGHTS and ZINTER WITHSCORES across shards', async () => {
    const [d, a, b] = [keyOn(1, 'zd'), keyOn(0, 'za'), keyOn(2, 'zb')];
    await r.zadd(a, 1, 'm', 2, 'n');
    await r.zadd(b, 10, 'n', 20, 'o');
    expect(await r.zunionstore(d, 2, a, b, 'WEIGHTS', 1, 2)).toBe(3);
    expect(await r.zrange(d, 0, -1, 'WITHSCORES')).toEqual(['m', '1', 'n', '22', 'o', '40']);
    expect(await r.zinter(2, a, b, 'WITHSCORES')).toEqual(['n', '12']);
  });

  it('LMOVE and SMOVE move between shards, and an emptied source disappears', async () => {
    const [src, dst] = [keyOn(0, 'ls'), keyOn(2, 'ld')];
    await r.rpush(src, 'a', 'b');
    await r.rpush(dst, 'z');
    expect(await r.lmove(src, dst, 'LEFT', 'RIGHT')).toBe('a');
    expect(await r.lrange(src, 0, -1)).toEqual(['b']);
    expect(await r.lrange(dst, 0, -1)).toEqual(['z', 'a']);
    expect(await r.rpoplpush(src, dst)).toBe('b');
    expect(await r.exists(src)).toBe(0);
    expect(await r.lrange(dst, 0, -1)).toEqual(['b', 'z', 'a']);
    const [s1, s2] = [keyOn(1, 'ms'), keyOn(0, 'md')];
    await r.sadd(s1, 'only');
    expect(await r.smove(s1, s2, 'only')).toBe(1);
    expect(await r.exists(s1)).toBe(0);
    expect(await r.smembers(s2)).toEqual(['only']);
  });

  it('errors come back as from one shard (WRONGTYPE) and leave the keys as they were', async () => {
    const [d, a, b] = [keyOn(2, 'ed'), keyOn(0, 'ea'), keyOn(1, 'eb')];
    await r.set(b, 'not a set');
    await r.sadd(a, 'x');
    await expect(r.sunionstore(d, a, b)).rejects.toThrow('WRONGTYPE');
    expect(await r.get(b)).toBe('not a set');
    expect(await r.smembers(a)).toEqual(['x']);
    expect(await r.exists(d)).toBe(0);
  });
});
