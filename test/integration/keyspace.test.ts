/** Keys, expiry and iteration across shards, with ioredis; expectations are Redis 7.0's. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { startTarget } from '../helpers/target.js';
import type { TestServer } from '../helpers/server.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` every 20 ms, at most `tries` times; returns its last value. */
/**
 * Polls `check` until `ok` holds or `boundMs` passes (a bound against hanging, not a speed
 * requirement: a loaded machine may take seconds for what takes milliseconds quietly).
 */
async function eventually<T>(check: () => Promise<T>, ok: (v: T) => boolean, boundMs = 20_000): Promise<T> {
  const deadline = Date.now() + boundMs;
  let v = await check();
  while (!ok(v) && Date.now() < deadline) {
    await sleep(20);
    v = await check();
  }
  return v;
}

describe.each([1, 3])('keyspace with %i shard(s)', (shards) => {
  let srv: TestServer;
  let r: Redis;
  beforeAll(async () => {
    srv = await startTarget(['--shards', String(shards)]);
    r = new Redis({ port: srv.port, host: '127.0.0.1', lazyConnect: true });
    await r.connect();
  });
  afterAll(async () => {
    r.disconnect();
    await srv.stop();
  });
  beforeEach(async () => {
    await r.select(0);
    await r.flushall();
  });

  it('a key with PX 50 is gone after ~150 ms, for GET, EXISTS, TTL and DBSIZE', async () => {
    await r.set('short', 'v', 'PX', 50);
    await r.set('long', 'v', 'EX', 100);
    await sleep(150);
    expect(await r.get('short')).toBeNull();
    expect(await r.exists('short')).toBe(0);
    expect(await r.ttl('short')).toBe(-2);
    expect(await r.pttl('short')).toBe(-2);
    expect(await r.dbsize()).toBe(1);
    expect(await r.get('long')).toBe('v');
  });

  it('PEXPIREAT/EXPIREAT in the past and EXPIRE 0 delete at once', async () => {
    await r.mset('a', '1', 'b', '2', 'c', '3');
    expect(await r.pexpireat('a', Date.now() - 1000)).toBe(1);
    expect(await r.expireat('b', 1)).toBe(1);
    expect(await r.expire('c', 0)).toBe(1);
    expect(await r.dbsize()).toBe(0);
    expect(await r.exists('a', 'b', 'c')).toBe(0);
  });

  it('SET with PXAT in the past is accepted and the key does not exist', async () => {
    expect(await r.set('k', 'v', 'PXAT', Date.now() - 10)).toBe('OK');
    expect(await r.exists('k')).toBe(0);
    expect(await r.dbsize()).toBe(0);
  });

  it('active expiry removes keys nobody reads (DBSIZE, INFO keyspace)', async () => {
    const p = r.pipeline();
    for (let i = 0; i < 300; i++) p.set(`ae:${i}`, 'v', 'PX', 30 + (i % 40));
    for (let i = 0; i < 10; i++) p.set(`keep:${i}`, 'v');
    const res = await p.exec();
    expect(res!.every(([err, v]) => err === null && v === 'OK')).toBe(true);
    // nothing reads the keys: only active expiry can bring DBSIZE down to the 10 persistent ones
    const n = await eventually(
      () => r.dbsize(),
      (v) => v === 10,
    );
    expect(n).toBe(10);
    const info = await r.info('keyspace');
    expect(info).toMatch(/db0:keys=10,expires=0,avg_ttl=0/);
  });

  it('active expiry follows RENAME and COPY to other shards and dbs, and skips keys whose TTL changed', async () => {
    const names = ['ren:a', 'ren:b', 'ren:c', 'ren:d', 'ren:e', 'ren:f'];
    await r.set('src1', 'v', 'PX', 60);
    await r.rename('src1', names[0]!);
    await r.set('src2', 'v', 'PX', 60);
    await r.copy('src2', 'copied', 'DB', 4);
    await r.set('src3', 'v', 'PX', 60);
    await r.copy('src3', 'copied3');
    // TTL removed or replaced: the old expiry must not delete these
    await r.set('persisted', 'v', 'PX', 60);
    await r.persist('persisted');
    await r.set('overwritten', 'v', 'PX', 60);
    await r.set('overwritten', 'v2');
    await r.set('extended', 'v', 'PX', 60);
    await r.pexpire('extended', 100_000);
    await r.set('reborn', 'v', 'PX', 60);
    await r.del('reborn');
    await r.set('reborn', 'again');
    await r.set('getexed', 'v', 'PX', 60);
    await r.getex('getexed', 'PERSIST');
    await r.set('renamed-over', 'v', 'PX', 60);
    await r.set('kept', 'plain');
    await r.rename('kept', 'renamed-over');
    const survivors = ['persisted', 'overwritten', 'extended', 'reborn', 'getexed', 'renamed-over'];
    const n = await eventually(
      () => r.dbsize(),
      (v) => v === survivors.length,
    );
    expect(n).toBe(survivors.length);
    await r.select(4);
    const n4 = await eventually(
      () => r.dbsize(),
      (v) => v === 0,
    );
    expect(n4).toBe(0);
    await r.select(0);
    expect(await r.exists(...survivors)).toBe(survivors.length);
    expect(await r.get('reborn')).toBe('again');
    expect(await r.get('renamed-over')).toBe('plain');
    expect(await r.ttl('renamed-over')).toBe(-1);
  });

  it('TTL and PTTL report -1 without expiry, -2 for missing keys; PTTL is in ms', async () => {
    await r.set('k', 'v');
    expect(await r.ttl('k')).toBe(-1);
    expect(await r.pttl('k')).toBe(-1);
    expect(await r.expiretime('k')).toBe(-1);
    await r.pexpire('k', 5000);
    const pttl = await r.pttl('k');
    expect(pttl).toBeGreaterThan(4000);
    expect(pttl).toBeLessThanOrEqual(5000);
    const et = await r.pexpiretime('k');
    expect(Math.abs(et - (Date.now() + pttl))).toBeLessThan(2000);
  });

  it('RENAME and RENAMENX move values and TTLs between keys on different shards', async () => {
    const names = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel'];
    await r.set(names[0]!, 'payload', 'PX', 500_000);
    for (let i = 1; i < names.length; i++) {
      expect(await r.rename(names[i - 1]!, names[i]!)).toBe('OK');
      expect(await r.exists(names[i - 1]!)).toBe(0);
      const pttl = await r.pttl(names[i]!);
      expect(pttl).toBeGreaterThan(400_000);
      expect(pttl).toBeLessThanOrEqual(500_000);
    }
    expect(await r.get('hotel')).toBe('payload');
    await r.set('x1', 'old', 'EX', 1000);
    expect(await r.rename('hotel', 'x1')).toBe('OK');
    expect(await r.pttl('x1')).toBeGreaterThan(400_000); // the source's TTL replaces the destination's
    await r.set('y1', 'v');
    expect(await r.renamenx('x1', 'y1')).toBe(0);
    expect(await r.renamenx('x1', 'z1')).toBe(1);
    expect(await r.get('z1')).toBe('payload');
    expect(await r.dbsize()).toBe(2);
  });

  it('MSETNX is all-or-nothing across shards; MSET/MGET keep order', async () => {
    const keys = Array.from({ length: 50 }, (_, i) => `m:${i}`);
    expect(await r.msetnx(...keys.flatMap((k) => [k, `v-${k}`]))).toBe(1);
    expect(await r.mget(...keys)).toEqual(keys.map((k) => `v-${k}`));
    const fresh = Array.from({ length: 50 }, (_, i) => `n:${i}`);
    // one existing key, in the middle, blocks them all
    expect(await r.msetnx(...[...fresh.slice(0, 25), 'm:7', ...fresh.slice(25)].flatMap((k) => [k, 'x']))).toBe(0);
    expect(await r.exists(...fresh)).toBe(0);
    expect(await r.get('m:7')).toBe('v-m:7');
    await r.mset(...keys.flatMap((k) => [k, `w-${k}`]));
    expect(await r.mget(...[...keys].reverse(), 'nope')).toEqual([...keys.reverse().map((k) => `w-${k}`), null]);
  });

  it('MSET over many shards is seen whole by a concurrent MGET (never a mix of two MSETs)', async () => {
    const keys = Array.from({ length: 30 }, (_, i) => `atom:${i}`);
    await r.mset(...keys.flatMap((k) => [k, '0']));
    const rd = new Redis({ port: srv.port, host: '127.0.0.1' });
    try {
      let done = false;
      let torn = 0;
      let reads = 0;
      const writer = (async () => {
        for (let v = 1; v <= 150; v++) await r.mset(...keys.flatMap((k) => [k, String(v)]));
        done = true;
      })();
      const reader = (async () => {
        while (!done) {
          const p = rd.pipeline();
          for (let j = 0; j < 10; j++) p.mget(...keys);
          for (const [, vals] of (await p.exec())!) {
            reads++;
            if (new Set(vals as string[]).size !== 1) torn++;
          }
        }
      })();
      await Promise.all([writer, reader]);
      expect(reads).toBeGreaterThan(0);
      expect(torn).toBe(0);
    } finally {
      rd.disconnect();
    }
  });

  it('DEL, UNLINK, EXISTS and TOUCH count duplicates across shards like Redis', async () => {
    await r.mset('a', '1', 'b', '2', 'c', '3', 'd', '4');
    expect(await r.exists('a', 'a', 'b', 'zz', 'c', 'c')).toBe(5);
    expect(await r.touch('a', 'a', 'zz', 'd')).toBe(3);
    expect(await r.del('a', 'a', 'b', 'zz')).toBe(2);
    expect(await r.unlink('c', 'd', 'c')).toBe(2);
    expect(await r.dbsize()).toBe(0);
  });

  it('SCAN over all shards returns every key at least once, with COUNT, MATCH and TYPE', async () => {
    const N = 1000;
    const p = r.pipeline();
    for (let i = 0; i < N; i++) p.set(`scan:${i}`, 'v');
    for (let i = 0; i < 20; i++) p.set(`other:${i}`, 'v');
    await p.exec();
    const full = async (...opts: (string | number)[]): Promise<{ keys: string[]; calls: number }> => {
      let cursor = '0';
      const keys: string[] = [];
      let calls = 0;
      do {
        const [next, batch] = (await r.call('SCAN', cursor, ...opts.map(String))) as [string, string[]];
        expect(next).toMatch(/^\d+$/);
        cursor = next;
        keys.push(...batch);
        calls++;
      } while (cursor !== '0' && calls < 5000);
      expect(cursor).toBe('0');
      return { keys, calls };
    };
    const all = await full('COUNT', 10);
    expect(new Set(all.keys).size).toBe(N + 20);
    expect(all.calls).toBeGreaterThan(10);
    const matched = await full('MATCH', 'scan:1*', 'COUNT', 100);
    const want = Array.from({ length: N }, (_, i) => `scan:${i}`).filter((k) => k.startsWith('scan:1'));
    expect([...new Set(matched.keys)].sort()).toEqual(want.sort());
    expect(matched.keys.every((k) => k.startsWith('scan:1'))).toBe(true);
    const strings = await full('TYPE', 'string', 'COUNT', 500);
    expect(new Set(strings.keys).size).toBe(N + 20);
    const lists = await full('TYPE', 'list');
    expect(lists.keys).toEqual([]);
    const big = await full('COUNT', 100000);
    expect(new Set(big.keys).size).toBe(N + 20);
  });

  it('SCAN returns every key present throughout even while keys are added and removed', async () => {
    const p = r.pipeline();
    for (let i = 0; i < 500; i++) p.set(`stay:${i}`, 'v');
    await p.exec();
    let cursor = '0';
    const seen = new Set<string>();
    let calls = 0;
    let extra = 0;
    do {
      const [next, batch] = (await r.scan(cursor, 'COUNT', 20)) as [string, string[]];
      for (const k of batch) seen.add(k);
      cursor = next;
      calls++;
      const q = r.pipeline();
      if (calls % 4 < 2) for (let j = 0; j < 200; j++) q.set(`churn:${extra++}`, 'v');
      else for (let j = Math.max(0, extra - 400); j < extra; j++) q.del(`churn:${j}`);
      await q.exec();
    } while (cursor !== '0' && calls < 5000);
    expect(cursor).toBe('0');
    const missing = Array.from({ length: 500 }, (_, i) => `stay:${i}`).filter((k) => !seen.has(k));
    expect(missing).toEqual([]);
  });

  it('KEYS and RANDOMKEY see all shards', async () => {
    const keys = Array.from({ length: 60 }, (_, i) => `rk:${i}`);
    await r.mset(...keys.flatMap((k) => [k, 'v']));
    await r.set('zz', 'v');
    expect((await r.keys('rk:*')).sort()).toEqual([...keys].sort());
    expect((await r.keys('*')).length).toBe(61);
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add((await r.randomkey())!);
    for (const k of seen) expect([...keys, 'zz']).toContain(k);
    expect(seen.size).toBeGreaterThan(10);
    await r.flushdb();
    expect(await r.randomkey()).toBeNull();
  });

  it('databases are isolated; COPY ... DB copies across; FLUSHDB touches one db, FLUSHALL all', async () => {
    await r.set('k', 'db0', 'EX', 1000);
    expect(await r.copy('k', 'k', 'DB', 5)).toBe(1);
    await r.select(5);
    expect(await r.get('k')).toBe('db0');
    expect(await r.ttl('k')).toBe(1000);
    await r.set('k', 'db5');
    await r.set('only5', 'x');
    expect(await r.dbsize()).toBe(2);
    await r.select(0);
    expect(await r.get('k')).toBe('db0');
    expect(await r.exists('only5')).toBe(0);
    expect(await r.copy('k', 'k', 'DB', 5)).toBe(0);
    expect(await r.copy('k', 'k', 'DB', 5, 'REPLACE')).toBe(1);
    const info = await r.info('keyspace');
    expect(info).toMatch(/db0:keys=1,expires=1,/);
    expect(info).toMatch(/db5:keys=2,expires=1,/);
    await r.select(5);
    expect(await r.get('k')).toBe('db0');
    await r.flushdb();
    expect(await r.dbsize()).toBe(0);
    await r.select(0);
    expect(await r.dbsize()).toBe(1);
    await r.select(3);
    await r.set('x', '1');
    await r.flushall();
    expect(await r.dbsize()).toBe(0);
    await r.select(0);
    expect(await r.dbsize()).toBe(0);
    expect(await r.info('keyspace')).not.toMatch(/db\d+:/);
  });

  it('COPY checks its options alike whether the keys share a shard or not', async () => {
    const src = 'copy:src';
    const same = '{copy:src}:dst';
    let other = 'copy:dst';
    for (let i = 0; calculateSlot(other) % 3 === calculateSlot(src) % 3; i++) other = `copy:dst:${i}`;
    await r.set(src, 'v');
    for (const dst of [same, other]) {
      // Redis reads the index as a strict integer: no hex, sign, spaces, fraction or empty string.
      for (const db of ['0x1', '', '+1', ' 1', '1.0', '-0', '1e0']) {
        await expect(r.copy(src, dst, 'DB', db), `COPY ${src} ${dst} DB '${db}'`).rejects.toThrow(
          'ERR value is not an integer or out of range',
        );
      }
      await expect(r.copy(src, dst, 'DB', 16)).rejects.toThrow('ERR DB index is out of range');
      await expect(r.copy(src, dst, 'DB')).rejects.toThrow('ERR syntax error');
      await expect(r.copy(src, dst, 'REPLACE', 'NOW')).rejects.toThrow('ERR syntax error');
      expect(await r.copy(src, dst, 'db', '1', 'replace')).toBe(1);
    }
    expect(await r.exists(same, other)).toBe(0);
    await r.select(1);
    expect(await r.mget(same, other)).toEqual(['v', 'v']);
  });

  it('SCAN, KEYS, RANDOMKEY and DBSIZE work per database across shards', async () => {
    await r.select(9);
    const keys = Array.from({ length: 120 }, (_, i) => `db9:${i}`);
    await r.mset(...keys.flatMap((k) => [k, 'v']));
    await r.select(0);
    await r.mset('db0:a', '1', 'db0:b', '2');
    await r.select(9);
    expect(await r.dbsize()).toBe(120);
    expect((await r.keys('*')).sort()).toEqual([...keys].sort());
    const seen = new Set<string>();
    let cursor = '0';
    let calls = 0;
    do {
      const [next, batch] = await r.scan(cursor, 'COUNT', 7);
      for (const k of batch) seen.add(k);
      cursor = next;
      calls++;
    } while (cursor !== '0' && calls < 1000);
    expect([...seen].sort()).toEqual([...keys].sort());
    expect(keys).toContain(await r.randomkey());
    await r.select(0);
    expect((await r.keys('*')).sort()).toEqual(['db0:a', 'db0:b']);
  });

  it('a second connection keeps its own selected db', async () => {
    const r2 = new Redis({ port: srv.port, host: '127.0.0.1', db: 2 });
    try {
      await r2.set('k', 'in2');
      await r.set('k', 'in0');
      expect(await r2.get('k')).toBe('in2');
      expect(await r.get('k')).toBe('in0');
    } finally {
      r2.disconnect();
    }
  });

  it('values up to a few MB and binary data round-trip; SETRANGE pads with zero bytes', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 7, 0xab);
    big[0] = 0;
    big[big.length - 1] = 0xff;
    await r.set('big', big);
    expect((await r.getBuffer('big'))!.equals(big)).toBe(true);
    expect(await r.strlen('big')).toBe(big.length);
    expect(await r.setrange('pad', 3, 'x')).toBe(4);
    expect((await r.getBuffer('pad'))!.equals(Buffer.from([0, 0, 0, 120]))).toBe(true);
    expect(await r.append('big', 'tail')).toBe(big.length + 4);
    expect(await r.getrange('big', -4, -1)).toBe('tail');
  });

  it('INCRBYFLOAT formats like Redis', async () => {
    await r.set('f', '10.50');
    expect(await r.incrbyfloat('f', 0.1)).toBe('10.6');
    await r.set('g', '3.0e3');
    expect(await r.incrbyfloat('g', 0)).toBe('3000');
    expect(await r.incrbyfloat('h', '0.1')).toBe('0.1');
    expect(await r.incrbyfloat('h', '0.2')).toBe('0.3');
    expect(await r.incrbyfloat('i', '5.0e3')).toBe('5000');
    expect(await r.incrbyfloat('i', '-5000')).toBe('0');
  });
});
