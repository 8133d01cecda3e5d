/** Bitmaps and HyperLogLogs over real clients (ioredis, node-redis), on one shard and across three. */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { startServer, type TestServer } from '../helpers/server.js';

describe.each([1, 3])('bitmaps and HyperLogLogs with %i shard(s)', (shards) => {
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

  it('counts SETBIT and BITFIELD as changes only when they change something (rdb_changes_since_last_save)', async () => {
    const dirty = async (): Promise<number> => Number(/rdb_changes_since_last_save:(\d+)/.exec(await r.info('persistence'))![1]);
    const d0 = await dirty();
    await r.setbit('f', 0, 0);
    await r.bitfield('f2', 'SET', 'i5', 0, 0);
    expect(await dirty()).toBe(d0 + 2);
    await r.setbit('f', 0, 0);
    await r.bitfield('f2', 'SET', 'i5', 0, 0);
    await r.bitfield('f2', 'GET', 'i5', 0);
    expect(await dirty()).toBe(d0 + 2);
    await r.setbit('f', 0, 1);
    await r.setbit('f', 0, 1);
    expect(await dirty()).toBe(d0 + 3);
  });

  it('counts PFADD as a change only when it changes something, as Redis does', async () => {
    const dirty = async (): Promise<number> => Number(/rdb_changes_since_last_save:(\d+)/.exec(await r.info('persistence'))![1]);
    const d0 = await dirty();
    expect(await r.pfadd('h', 'a', 'b')).toBe(1);
    const d1 = await dirty();
    expect(d1).toBeGreaterThan(d0);
    expect(await r.pfadd('h', 'a')).toBe(0);
    expect(await r.pfadd('h', 'b', 'a')).toBe(0);
    expect(await dirty()).toBe(d1);
    expect(await r.pfadd('h', 'c')).toBe(1);
    expect(await dirty()).toBeGreaterThan(d1);
  });

  it('sets, reads, counts and finds bits', async () => {
    expect(await r.setbit('b', 7, 1)).toBe(0);
    expect(await r.setbit('b', 7, 1)).toBe(1);
    expect(await r.getbit('b', 7)).toBe(1);
    expect(await r.getbit('b', 1000)).toBe(0);
    expect(await r.get('b')).toBe('\x01');
    await r.setbit('b', 100, 1);
    expect(await r.strlen('b')).toBe(13);
    expect(await r.bitcount('b')).toBe(2);
    expect(await r.bitcount('b', 0, 0)).toBe(1);
    expect(await r.call('bitcount', 'b', '8', '100', 'BIT')).toBe(1);
    expect(await r.bitpos('b', 1)).toBe(7);
    expect(await r.bitpos('b', 1, 1)).toBe(100);
    expect(await r.call('bitpos', 'b', '0', '7', '7', 'BIT')).toBe(-1);
    await expect(r.setbit('b', 1, 2)).rejects.toThrow('ERR bit is not an integer or out of range');
    await expect(r.setbit('b', 2 ** 32, 1)).rejects.toThrow('ERR bit offset is not an integer or out of range');
    await expect(r.bitpos('b', 2)).rejects.toThrow('ERR The bit argument must be 1 or 0.');
    await r.lpush('l', 'x');
    await expect(r.getbit('l', 0)).rejects.toThrow('WRONGTYPE');
  });

  it('combines keys with BITOP, whichever shards they live on', async () => {
    await r.set('a', Buffer.from([0x0f, 0xf0]));
    await r.set('b', Buffer.from([0xff]));
    await r.set('c', Buffer.from([0x01, 0x01, 0x01]));
    expect(await r.bitop('AND', 'dst', 'a', 'b', 'c')).toBe(3);
    expect(await r.getBuffer('dst')).toEqual(Buffer.from([0x01, 0x00, 0x00]));
    expect(await r.bitop('OR', 'dst', 'a', 'b', 'c')).toBe(3);
    expect(await r.getBuffer('dst')).toEqual(Buffer.from([0xff, 0xf1, 0x01]));
    expect(await r.bitop('XOR', 'a', 'a', 'b')).toBe(2);
    expect(await r.getBuffer('a')).toEqual(Buffer.from([0xf0, 0xf0]));
    expect(await r.bitop('NOT', 'n', 'c')).toBe(3);
    expect(await r.getBuffer('n')).toEqual(Buffer.from([0xfe, 0xfe, 0xfe]));
    expect(await r.bitop('OR', 'dst', 'none1', 'none2')).toBe(0);
    expect(await r.exists('dst')).toBe(0);
    await expect(r.bitop('NOT', 'n', 'a', 'b')).rejects.toThrow('ERR BITOP NOT must be called with a single source key.');
    await r.lpush('l', 'x');
    await expect(r.bitop('OR', 'dst', 'a', 'l')).rejects.toThrow('WRONGTYPE');
  });

  it('runs BITFIELD with WRAP, SAT and FAIL overflow', async () => {
    expect(await r.bitfield('bf', 'SET', 'u8', 0, 255, 'GET', 'u8', 0)).toEqual([0, 255]);
    expect(await r.bitfield('bf', 'INCRBY', 'u8', 0, 10)).toEqual([9]);
    expect(await r.bitfield('bf', 'OVERFLOW', 'SAT', 'INCRBY', 'u8', 0, 1000, 'INCRBY', 'i8', 0, 1000)).toEqual([255, 127]);
    expect(await r.bitfield('bf', 'OVERFLOW', 'FAIL', 'INCRBY', 'i8', 0, 1)).toEqual([null]);
    expect(await r.bitfield('bf', 'SET', 'i64', '#1', -1, 'GET', 'i64', 64, 'GET', 'u8', 64)).toEqual([0, -1, 255]);
    expect(await r.call('bitfield_ro', 'bf', 'GET', 'u4', '#1')).toEqual([15]);
    await expect(r.call('bitfield_ro', 'bf', 'SET', 'u4', '0', '1')).rejects.toThrow('ERR BITFIELD_RO only supports the GET subcommand');
    await expect(r.bitfield('bf', 'GET', 'u64', 0)).rejects.toThrow('ERR Invalid bitfield type');
    await expect(r.bitfield('bf', 'OVERFLOW', 'NOPE', 'GET', 'u8', 0)).rejects.toThrow('ERR Invalid OVERFLOW type specified');
  });

  it('counts with PFADD/PFCOUNT and merges across shards', async () => {
    expect(await r.pfadd('h1', 'a', 'b', 'c')).toBe(1);
    expect(await r.pfadd('h1', 'a', 'b', 'c')).toBe(0);
    expect(await r.pfcount('h1')).toBe(3);
    const many = Array.from({ length: 5000 }, (_, i) => `m${i}`);
    expect(await r.pfadd('h2', ...many)).toBe(1);
    expect(await r.call('pfdebug', 'encoding', 'h2')).toBe('dense');
    const c2 = await r.pfcount('h2');
    expect(Math.abs(c2 - 5000)).toBeLessThan(250);
    const union = await r.pfcount('h1', 'h2', 'nope');
    expect(Math.abs(union - 5003)).toBeLessThan(250);
    expect(await r.pfmerge('hm', 'h1', 'h2', 'nope')).toBe('OK');
    expect(await r.pfcount('hm')).toBe(union);
    expect(await r.call('pfdebug', 'encoding', 'hm')).toBe('dense');
    await r.set('s', 'not an hll');
    await expect(r.pfadd('s', 'x')).rejects.toThrow('WRONGTYPE Key is not a valid HyperLogLog string value.');
    await expect(r.pfcount('h1', 's')).rejects.toThrow('WRONGTYPE Key is not a valid HyperLogLog string value.');
    // A stale cache (after a change) makes PFCOUNT read the registers, and find the junk.
    await r.pfadd('h3', 'a', 'b', 'c');
    await r.append('h3', 'junk');
    await expect(r.pfcount('h3')).rejects.toThrow('INVALIDOBJ Corrupted HLL object detected');
    await expect(r.call('pfdebug', 'getreg', 'nope')).rejects.toThrow('ERR The specified key does not exist');
  });

  it('answers node-redis the same way', async () => {
    const c = createClient({ socket: { port: srv.port, host: '127.0.0.1' } });
    await c.connect();
    try {
      expect(await c.setBit('nb', 3, 1)).toBe(0);
      expect(await c.bitCount('nb')).toBe(1);
      expect(await c.pfAdd('nh', ['x', 'y'])).toBe(1);
      expect(await c.pfCount('nh')).toBe(2);
    } finally {
      await c.quit();
    }
  });

  it('answers corrupted HLLs with a count or an error, never a broken reply', async () => {
    await r.pfadd('big', 'a');
    // A cache marked valid holding 2^63 - 1: Redis replies it as is.
    await r.setrange('big', 8, Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]));
    const exact = new Redis({ port: srv.port, host: '127.0.0.1', stringNumbers: true });
    expect(await exact.pfcount('big')).toBe('9223372036854775807');
    exact.disconnect();
    let seed = 7;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let j = 0; j < 300; j++) {
      await r.del('fz');
      await r.pfadd('fz', ...Array.from({ length: 1 + rand(3000) }, (_, i) => `${j}:${i}`));
      for (let k = 0; k < 1 + rand(5); k++) await r.setrange('fz', rand(await r.strlen('fz')), Buffer.from([rand(256)]));
      const got = await r.pfcount('fz').catch((e: Error) => e.message);
      expect(typeof got === 'number' || /^(INVALIDOBJ|WRONGTYPE)/.test(got)).toBe(true);
      await r.pfadd('fz', 'x').catch(() => 0);
    }
    expect(await r.ping()).toBe('PONG');
  });

  // 10M additions, as Redis's own self test: seconds of one shard's time, so it runs once.
  it.runIf(shards === 1)(
    'passes PFSELFTEST',
    async () => {
      expect(await r.call('pfselftest')).toBe('OK');
    },
    120_000,
  );

  it('notifies setbit and pfadd keyspace events', async () => {
    const sub = new Redis({ port: srv.port, host: '127.0.0.1' });
    const events: string[] = [];
    sub.on('pmessage', (_p, ch, msg) => events.push(`${ch}:${msg}`));
    await sub.psubscribe('__keyevent@0__:*');
    await r.config('SET', 'notify-keyspace-events', 'E$g');
    try {
      await r.setbit('ev', 1, 1);
      await r.setbit('ev', 1, 1);
      await r.pfadd('evh', 'a');
      await r.pfadd('evh', 'a');
      await r.bitfield('ev', 'SET', 'u8', 0, 7);
      await r.bitop('NOT', 'ev2', 'ev');
      await r.bitop('AND', 'ev2', 'missing');
      await r.ping();
      // The repeated SETBIT and PFADD changed nothing, so they notify nothing.
      const want = ['setbit:ev', 'pfadd:evh', 'setbit:ev', 'set:ev2', 'del:ev2'].map((e) => `__keyevent@0__:${e}`);
      await expect.poll(() => events.length).toBe(want.length);
      expect(events).toEqual(want);
    } finally {
      await r.config('SET', 'notify-keyspace-events', '');
      sub.disconnect();
    }
  });
});
