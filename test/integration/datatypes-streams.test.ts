import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { startServer, type TestServer } from '../helpers/server.js';
import { hasRedis, startRedis, type RealRedis } from '../persistence/redis-process.js';

describe.each([1, 3])('streams with %i shard(s)', (shards) => {
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

  it('adds entries with explicit, partial and generated ids and reads ranges both ways', async () => {
    expect(await r.xadd('s', '1-1', 'a', '1', 'b', '2')).toBe('1-1');
    expect(await r.xadd('s', '1-*', 'a', '3', 'b', '4')).toBe('1-2');
    expect(await r.xadd('s', '2-0', 'c', '5')).toBe('2-0');
    const auto = await r.xadd('s', '*', 'a', '6', 'b', '7');
    expect(auto).toMatch(/^\d+-0$/);
    await expect(r.xadd('s', '1-5', 'a', '1')).rejects.toThrow(
      'ERR The ID specified in XADD is equal or smaller than the target stream top item',
    );
    await expect(r.xadd('t', '0-0', 'a', '1')).rejects.toThrow('ERR The ID specified in XADD must be greater than 0-0');
    expect(await r.exists('t')).toBe(0);
    expect(await r.xlen('s')).toBe(4);
    expect(await r.xrange('s', '-', '+', 'COUNT', 2)).toEqual([
      ['1-1', ['a', '1', 'b', '2']],
      ['1-2', ['a', '3', 'b', '4']],
    ]);
    expect(await r.xrange('s', '(1-1', '2')).toEqual([
      ['1-2', ['a', '3', 'b', '4']],
      ['2-0', ['c', '5']],
    ]);
    expect((await r.xrevrange('s', '+', '-', 'COUNT', 1))[0]![0]).toBe(auto);
    expect(await r.type('s')).toBe('stream');
    expect(await r.object('ENCODING', 's')).toBe('stream');
    await r.set('str', 'v');
    await expect(r.xadd('str', '*', 'a', '1')).rejects.toThrow('WRONGTYPE');
    expect(await r.xadd('nokey', 'NOMKSTREAM', '*', 'a', '1')).toBeNull();
  });

  it('deletes and trims: XDEL, MAXLEN, MINID and approximate trims by whole nodes', async () => {
    for (let i = 1; i <= 250; i++) await r.xadd('s', `${i}-0`, 'f', String(i));
    expect(await r.xdel('s', '1-0', '2-0', '999-0')).toBe(2);
    expect(await r.xlen('s')).toBe(248);
    // Nodes hold 100 entries: a "~" trim drops only whole nodes.
    expect(await r.xtrim('s', 'MAXLEN', '~', 120)).toBe(98);
    expect(await r.xlen('s')).toBe(150);
    expect(await r.xtrim('s', 'MAXLEN', 100)).toBe(50);
    expect((await r.xrange('s', '-', '+', 'COUNT', 1))[0]![0]).toBe('151-0');
    expect(await r.xtrim('s', 'MINID', '200')).toBe(49);
    expect(await r.xlen('s')).toBe(51);
    const info = (await r.call('XINFO', 'STREAM', 's')) as unknown[];
    const map = new Map<string, unknown>();
    for (let i = 0; i < info.length; i += 2) map.set(info[i] as string, info[i + 1]);
    expect(map.get('length')).toBe(51);
    expect(map.get('max-deleted-entry-id')).toBe('2-0');
    expect(map.get('entries-added')).toBe(250);
    expect(map.get('last-generated-id')).toBe('250-0');
  });

  it('reads with XREAD, and consumer groups deliver, track pending entries and acknowledge', async () => {
    await r.xadd('s', '1-0', 'job', 'a');
    await r.xadd('s', '2-0', 'job', 'b');
    expect(await r.xread('COUNT', 1, 'STREAMS', 's', '0')).toEqual([['s', [['1-0', ['job', 'a']]]]]);
    expect(await r.xread('STREAMS', 's', '$')).toBeNull();
    expect(await r.xgroup('CREATE', 's', 'g', '0')).toBe('OK');
    await expect(r.xgroup('CREATE', 's', 'g', '0')).rejects.toThrow('BUSYGROUP Consumer Group name already exists');
    expect(await r.xreadgroup('GROUP', 'g', 'alice', 'COUNT', 1, 'STREAMS', 's', '>')).toEqual([['s', [['1-0', ['job', 'a']]]]]);
    expect(await r.xreadgroup('GROUP', 'g', 'bob', 'STREAMS', 's', '>')).toEqual([['s', [['2-0', ['job', 'b']]]]]);
    const summary = (await r.xpending('s', 'g')) as unknown[];
    expect(summary.slice(0, 3)).toEqual([2, '1-0', '2-0']);
    expect(summary[3]).toEqual([
      ['alice', '1'],
      ['bob', '1'],
    ]);
    // Alice's history: what she owns, from the given id on.
    expect(await r.xreadgroup('GROUP', 'g', 'alice', 'STREAMS', 's', '0')).toEqual([['s', [['1-0', ['job', 'a']]]]]);
    const ext = (await r.xpending('s', 'g', '-', '+', 10)) as unknown[][];
    expect(ext.map((e) => [e[0], e[1], e[3]])).toEqual([
      ['1-0', 'alice', 2],
      ['2-0', 'bob', 1],
    ]);
    expect(await r.xack('s', 'g', '1-0', '9-0')).toBe(1);
    expect(await r.xclaim('s', 'g', 'carol', 0, '2-0', 'JUSTID')).toEqual(['2-0']);
    expect(await r.xautoclaim('s', 'g', 'dave', 0, '0', 'COUNT', 10)).toEqual(['0-0', [['2-0', ['job', 'b']]], []]);
    const consumers = (await r.call('XINFO', 'CONSUMERS', 's', 'g')) as unknown[][];
    expect(consumers.map((c) => [c[1], c[3]])).toEqual([
      ['alice', 0],
      ['bob', 0],
      ['carol', 0],
      ['dave', 1],
    ]);
    expect(await r.xgroup('DELCONSUMER', 's', 'g', 'dave')).toBe(1);
    expect(await r.xpending('s', 'g')).toEqual([0, null, null, null]);
    await expect(r.xreadgroup('GROUP', 'nope', 'c', 'STREAMS', 's', '>')).rejects.toThrow(
      "NOGROUP No such key 's' or consumer group 'nope' in XREADGROUP with GROUP option",
    );
    expect(await r.xgroup('DESTROY', 's', 'g')).toBe(1);
  });

  it('XAUTOCLAIM drops pending entries whose stream entries were deleted', async () => {
    await r.xadd('s', '1-0', 'f', 'v');
    await r.xadd('s', '2-0', 'f', 'v');
    await r.xgroup('CREATE', 's', 'g', '0');
    await r.xreadgroup('GROUP', 'g', 'a', 'STREAMS', 's', '>');
    await r.xdel('s', '1-0');
    expect(await r.xautoclaim('s', 'g', 'b', 0, '0', 'JUSTID')).toEqual(['0-0', ['2-0'], ['1-0']]);
    expect((await r.xpending('s', 'g'))[0]).toBe(1);
  });

  it('blocks XREAD and XREADGROUP until an XADD, first blocked first served', async () => {
    const w1 = await client();
    const w2 = await client();
    const first = w1.xread('BLOCK', 0, 'STREAMS', 's', '$');
    await waitBlocked(r, 1);
    const second = w2.xread('BLOCK', 0, 'STREAMS', 's', '$');
    await waitBlocked(r, 2);
    await r.xadd('s', '5-0', 'k', 'v');
    expect(await first).toEqual([['s', [['5-0', ['k', 'v']]]]]);
    expect(await second).toEqual([['s', [['5-0', ['k', 'v']]]]]);

    await r.xgroup('CREATE', 's', 'g', '$');
    const g1 = w1.xreadgroup('GROUP', 'g', 'c1', 'BLOCK', 0, 'STREAMS', 's', '>');
    await waitBlocked(r, 1);
    const g2 = w2.xreadgroup('GROUP', 'g', 'c2', 'BLOCK', 0, 'STREAMS', 's', '>');
    await waitBlocked(r, 2);
    await r.xadd('s', '6-0', 'k', 'one');
    expect(await g1).toEqual([['s', [['6-0', ['k', 'one']]]]]);
    await r.xadd('s', '7-0', 'k', 'two');
    expect(await g2).toEqual([['s', [['7-0', ['k', 'two']]]]]);
    expect(await w1.xread('BLOCK', 50, 'STREAMS', 's', '$')).toBeNull();
  });

  it('does not block inside MULTI, and a blocked XREADGROUP fails when its stream goes', async () => {
    await r.xadd('s', '1-0', 'f', 'v');
    const m = r.multi();
    m.xread('BLOCK', 0, 'STREAMS', 's', '$');
    expect(await m.exec()).toEqual([[null, null]]);
    await r.xgroup('CREATE', 's', 'g', '$');
    const w = await client();
    const blocked = w.xreadgroup('GROUP', 'g', 'c', 'BLOCK', 0, 'STREAMS', 's', '>');
    await waitBlocked(r, 1);
    await r.del('s');
    await expect(blocked).rejects.toThrow('UNBLOCKED the stream key no longer exists');
  });

  it('reads several streams at once, blocking too, whatever shards they live on', async () => {
    // With 3 shards, a, s1 and s3 live on three different ones.
    await r.xadd('a', '1-0', 'f', '1');
    await r.xadd('s1', '2-0', 'f', '2');
    expect(await r.xread('STREAMS', 's1', 'nokey', 'a', '0', '0', '0')).toEqual([
      ['s1', [['2-0', ['f', '2']]]],
      ['a', [['1-0', ['f', '1']]]],
    ]);
    const w = await client();
    const waiting = w.xread('BLOCK', 0, 'STREAMS', 'a', 's1', 's3', '$', '$', '$');
    await waitBlocked(r, 1);
    await r.xadd('s3', '3-0', 'late', 'x');
    expect(await waiting).toEqual([['s3', [['3-0', ['late', 'x']]]]]);
    await r.xgroup('CREATE', 'a', 'g', '0');
    await r.xgroup('CREATE', 's1', 'g', '0');
    expect(await r.xreadgroup('GROUP', 'g', 'c', 'STREAMS', 'a', 's1', '>', '>')).toEqual([
      ['a', [['1-0', ['f', '1']]]],
      ['s1', [['2-0', ['f', '2']]]],
    ]);
    const group = w.xreadgroup('GROUP', 'g', 'd', 'BLOCK', 0, 'STREAMS', 's1', 'a', '>', '>');
    await waitBlocked(r, 1);
    await r.xadd('a', '4-0', 'new', 'y');
    expect(await group).toEqual([['a', [['4-0', ['new', 'y']]]]]);
    expect(await w.xread('BLOCK', 30, 'STREAMS', 'a', 's1', '$', '$')).toBeNull();
  });

  it('answers node-redis xAdd / xReadGroup in RESP2 and RESP3', async () => {
    for (const RESP of [2, 3] as const) {
      const nr = createClient({ socket: { port: srv.port, host: '127.0.0.1' }, RESP });
      await nr.connect();
      await nr.del('ns');
      await nr.xGroupCreate('ns', 'g', '$', { MKSTREAM: true });
      const id = await nr.xAdd('ns', '*', { temp: '21' });
      const got = await nr.xReadGroup('g', 'c', { key: 'ns', id: '>' }, { COUNT: 5 });
      const flat = JSON.stringify(got);
      expect(flat).toContain(id);
      expect(flat).toContain('21');
      expect(await nr.xAck('ns', 'g', id)).toBe(1);
      await nr.del(['a', 's1']);
      await nr.xAdd('a', '1-0', { x: '1' });
      await nr.xAdd('s1', '1-0', { y: '2' });
      const both = JSON.stringify(
        await nr.xRead([
          { key: 's1', id: '0' },
          { key: 'a', id: '0' },
        ]),
      );
      expect(both.indexOf('"s1"')).toBeLessThan(both.indexOf('"a"'));
      expect(both).toContain('"y"');
      expect(both).toContain('"x"');
      await nr.quit();
    }
  });
});

/** Waits until the server reports `n` blocked clients. */
async function waitBlocked(r: Redis, n: number): Promise<void> {
  for (let i = 0; i < 200; i++) {
    const info = await r.info('clients');
    if (info.includes(`blocked_clients:${n}\r`)) return;
    await new Promise((res) => setTimeout(res, 10));
  }
  throw new Error(`never saw ${n} blocked clients`);
}

describe('stream persistence', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sabre-streams-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('survives SAVE and a restart with its groups, consumers and pending entries', async () => {
    const flags = ['--dir', dir, '--dbfilename', 'streams.rdb'];
    let srv = await startServer(flags);
    let c = new Redis({ port: srv.port, host: '127.0.0.1' });
    for (let i = 1; i <= 300; i++) await c.xadd('s', `${i}-1`, 'f', String(i), ...(i % 7 === 0 ? ['g', 'x'] : []));
    await c.xdel('s', '5-1');
    await c.xgroup('CREATE', 's', 'g', '0');
    await c.xreadgroup('GROUP', 'g', 'alice', 'COUNT', 3, 'STREAMS', 's', '>');
    const before = await c.call('XINFO', 'STREAM', 's', 'FULL', 'COUNT', 0);
    const range = await c.xrange('s', '-', '+');
    await c.save();
    c.disconnect();
    await srv.stop();
    srv = await startServer(flags);
    c = new Redis({ port: srv.port, host: '127.0.0.1' });
    expect(await c.call('XINFO', 'STREAM', 's', 'FULL', 'COUNT', 0)).toEqual(before);
    expect(await c.xrange('s', '-', '+')).toEqual(range);
    c.disconnect();
    await srv.stop();
  });

  it('replays from the AOF: generated ids, group reads, claims and acks', async () => {
    const flags = ['--dir', dir, '--appendonly', 'yes', '--appendfilename', 'streams.aof', '--dbfilename', 'none.rdb'];
    let srv = await startServer(flags);
    let c = new Redis({ port: srv.port, host: '127.0.0.1' });
    for (let i = 0; i < 20; i++) await c.xadd('s', '*', 'n', String(i));
    await c.xadd('s', 'MAXLEN', '~', '5', '*', 'n', 'last');
    await c.xgroup('CREATE', 's', 'g', '0');
    await c.xreadgroup('GROUP', 'g', 'a', 'COUNT', 4, 'STREAMS', 's', '>');
    const ids = (await c.xrange('s', '-', '+')).map(([id]) => id);
    await c.xack('s', 'g', ids[0]!);
    await c.xclaim('s', 'g', 'b', 0, ids[1]!, ids[2]!);
    await c.xautoclaim('s', 'g', 'c', 0, '0', 'COUNT', 1);
    const state = async (x: Redis): Promise<unknown> => [
      await x.xrange('s', '-', '+'),
      ((await x.xpending('s', 'g', '-', '+', 100)) as unknown[][]).map((e) => [e[0], e[1], e[3]]),
      await x.xinfo('GROUPS', 's'),
    ];
    const before = await state(c);
    c.disconnect();
    await srv.stop();
    srv = await startServer(flags);
    c = new Redis({ port: srv.port, host: '127.0.0.1' });
    expect(await state(c)).toEqual(before);
    c.disconnect();
    await srv.stop();
  });

  it.skipIf(!hasRedis)('moves streams with groups to and from a real Redis 7.0 by DUMP/RESTORE (needs redis-server)', async () => {
    const srv = await startServer();
    const real: RealRedis = await startRedis(dir);
    const c = new Redis({ port: srv.port, host: '127.0.0.1' });
    try {
      for (let i = 1; i <= 150; i++) await c.xadd('s', `${i}-0`, 'f', String(i));
      await c.xdel('s', '3-0');
      await c.xgroup('CREATE', 's', 'g', '0', 'ENTRIESREAD', '0');
      await c.xreadgroup('GROUP', 'g', 'alice', 'COUNT', 2, 'STREAMS', 's', '>');
      const dump = await c.dumpBuffer('s');
      expect(await real.client.restore('s', 0, dump)).toBe('OK');
      const full = (x: Redis): Promise<unknown[]> => fullInfo(x, 's');
      expect(await full(real.client)).toEqual(await full(c));
      await real.client.xadd('s', '500-0', 'from', 'redis');
      await real.client.xgroup('CREATE', 's', 'h', '$');
      const back = await real.client.dumpBuffer('s');
      expect(await c.restore('s2', 0, back)).toBe('OK');
      expect(await fullInfo(c, 's2')).toEqual(await fullInfo(real.client, 's'));
    } finally {
      c.disconnect();
      await real.stop();
      await srv.stop();
    }
  });
  it.skipIf(!hasRedis)(
    "loads the RDB file real Redis 7.0 saved with a stream and its groups, and Redis loads Sabre's (needs redis-server)",
    async () => {
      /** 150 entries over several nodes, a deletion, two groups (one with ENTRIESREAD), pending entries of two consumers. */
      const fill = async (x: Redis): Promise<void> => {
        for (let i = 1; i <= 150; i++) await x.xadd('s', `${i}-0`, 'f', String(i), ...(i % 9 === 0 ? ['g', 'x'] : []));
        await x.xdel('s', '4-0');
        await x.xgroup('CREATE', 's', 'g', '0');
        await x.xgroup('CREATE', 's', 'h', '100-0', 'ENTRIESREAD', '99');
        await x.xreadgroup('GROUP', 'g', 'alice', 'COUNT', 3, 'STREAMS', 's', '>');
        await x.xreadgroup('GROUP', 'g', 'bob', 'COUNT', 2, 'STREAMS', 's', '>');
        await x.xack('s', 'g', '2-0');
      };
      const fromRedis = await startRedis(dir, 'from-redis.rdb');
      await fill(fromRedis.client);
      const redisView = await fullInfo(fromRedis.client, 's');
      await fromRedis.client.save();
      await fromRedis.stop();
      const srv = await startServer(['--dir', dir, '--dbfilename', 'from-redis.rdb']);
      const c = new Redis({ port: srv.port, host: '127.0.0.1' });
      try {
        expect(await fullInfo(c, 's')).toEqual(redisView);
        await c.flushall();
        await fill(c);
        const sabreView = await fullInfo(c, 's');
        await c.save();
        const check = spawnSync('redis-check-rdb', [join(dir, 'from-redis.rdb')], { encoding: 'utf8' });
        expect(check.status, check.stdout).toBe(0);
        const toRedis = await startRedis(dir, 'from-redis.rdb');
        try {
          expect(await fullInfo(toRedis.client, 's')).toEqual(sabreView);
        } finally {
          await toRedis.stop();
        }
      } finally {
        c.disconnect();
        await srv.stop();
      }
    },
  );
});

/** XINFO STREAM FULL without radix-tree-nodes (a count of Redis's rax internals that Sabre's index only approximates). */
async function fullInfo(x: Redis, key: string): Promise<unknown[]> {
  const info = (await x.call('XINFO', 'STREAM', key, 'FULL')) as unknown[];
  const i = info.indexOf('radix-tree-nodes');
  info.splice(i, 2);
  return info;
}

if (!hasRedis) console.warn('stream interop test skipped: install redis-server 7.0 (apt-get install redis-server) to run it');
