/**
 * Geo commands and SORT: fixed expectations (any machine), then a seeded random differential run
 * against a real redis-server (skipped when it is not installed) with 1 and 3 shards, where keys
 * named by SORT's BY/GET patterns and STORE destinations land on other shards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import calculateSlot from 'cluster-key-slot';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { startServer, type TestServer } from '../helpers/server.js';
import { RespConn } from '../helpers/resp.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/redis-server.js';

const hasRedis = spawnSync('redis-server', ['--version']).status === 0;
if (!hasRedis) console.warn('geo-sort: redis-server not installed (apt-get install redis-server): the differential tests are skipped');

/** mulberry32: a small seeded PRNG so failures replay. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('geo and SORT on 3 shards', () => {
  const SHARDS = 3;
  let srv: TestServer;
  let r: Redis;
  const keyOn = (shard: number, prefix: string): string => {
    for (let i = 0; ; i++) if (calculateSlot(`${prefix}${i}`) % SHARDS === shard) return `${prefix}${i}`;
  };
  beforeAll(async () => {
    srv = await startServer(['--shards', String(SHARDS)]);
    r = new Redis({ port: srv.port, host: '127.0.0.1' });
  });
  afterAll(async () => {
    r.disconnect();
    expect(await srv.stop()).toBe(0);
  });

  it("GEOADD scores, GEOPOS, GEODIST and GEOHASH are Redis's", async () => {
    expect(await r.geoadd('Sicily', 13.361389, 38.115556, 'Palermo', 15.087269, 37.502669, 'Catania')).toBe(2);
    expect(await r.zscore('Sicily', 'Palermo')).toBe('3479099956230698');
    expect(await r.zscore('Sicily', 'Catania')).toBe('3479447370796909');
    expect(await r.geodist('Sicily', 'Palermo', 'Catania')).toBe('166274.1516');
    expect(await r.geodist('Sicily', 'Palermo', 'Catania', 'km')).toBe('166.2742');
    expect(await r.geohash('Sicily', 'Palermo', 'Catania', 'nope')).toEqual(['sqc8b49rny0', 'sqdtr74hyu0', null]);
    expect(await r.geopos('Sicily', 'Palermo', 'nope')).toEqual([['13.36138933897018433', '38.11555639549629859'], null]);
    expect(await r.geoadd('Sicily', 'XX', 'CH', 13.4, 38.1, 'Palermo')).toBe(1);
    await expect(r.geoadd('Sicily', 200, 100, 'x')).rejects.toThrow('ERR invalid longitude,latitude pair 200.000000,100.000000');
  });

  it('GEOSEARCH and GEORADIUS options, with node-redis too', async () => {
    await r.geoadd(
      'pts',
      13.361389,
      38.115556,
      'Palermo',
      15.087269,
      37.502669,
      'Catania',
      12.758489,
      38.788135,
      'edge1',
      17.24151,
      38.788135,
      'edge2',
    );
    expect(await r.call('GEOSEARCH', 'pts', 'FROMLONLAT', 15, 37, 'BYRADIUS', 200, 'km', 'ASC', 'WITHDIST')).toEqual([
      ['Catania', '56.4413'],
      ['Palermo', '190.4424'],
    ]);
    expect(await r.call('GEOSEARCH', 'pts', 'FROMLONLAT', 15, 37, 'BYBOX', 400, 400, 'km', 'DESC', 'COUNT', 2)).toEqual(['edge1', 'edge2']);
    expect(await r.call('GEORADIUSBYMEMBER', 'pts', 'Palermo', 200, 'km', 'WITHHASH', 'COUNT', 1)).toEqual([['Palermo', 3479099956230698]]);
    await expect(r.call('GEOSEARCH', 'pts', 'BYRADIUS', 1, 'm', 'WITHDIST', 'ASC')).rejects.toThrow(
      'ERR exactly one of FROMMEMBER or FROMLONLAT can be specified for GEOSEARCH',
    );
    await expect(r.call('GEOSEARCH', 'pts', 'FROMMEMBER', 'Palermo', 'BYRADIUS', 1, 'parsec')).rejects.toThrow(
      'ERR unsupported unit provided. please use M, KM, FT, MI',
    );
    const nr = createClient({ socket: { port: srv.port, host: '127.0.0.1' } });
    await nr.connect();
    try {
      const found = await nr.geoSearchWith('pts', { longitude: 15, latitude: 37 }, { radius: 100, unit: 'km' }, [
        'WITHDIST',
        'WITHCOORD',
      ] as never);
      expect(found).toEqual([
        { member: 'Catania', distance: 56.4413, coordinates: { longitude: 15.087267458438873, latitude: 37.50266842333162 } },
      ]);
    } finally {
      await nr.quit();
    }
  });

  it('GEOSEARCHSTORE and GEORADIUS STORE write a destination on another shard', async () => {
    const [src, dst] = [keyOn(0, 'gs'), keyOn(2, 'gd')];
    await r.geoadd(src, 13.361389, 38.115556, 'Palermo', 15.087269, 37.502669, 'Catania');
    expect(await r.call('GEOSEARCHSTORE', dst, src, 'FROMLONLAT', 15, 37, 'BYRADIUS', 200, 'km', 'STOREDIST')).toBe(2);
    expect(await r.zrange(dst, 0, -1, 'WITHSCORES')).toEqual(['Catania', '56.441257870158204', 'Palermo', '190.44242984775784']);
    expect(await r.call('GEORADIUS', src, 15, 37, 100, 'km', 'STORE', dst)).toBe(1);
    expect(await r.zrange(dst, 0, -1, 'WITHSCORES')).toEqual(['Catania', '3479447370796909']);
    expect(await r.call('GEOSEARCHSTORE', dst, src, 'FROMLONLAT', 0, 0, 'BYRADIUS', 1, 'km')).toBe(0);
    expect(await r.exists(dst)).toBe(0);
    expect(await r.zcard(src)).toBe(2);
  });

  it('SORT BY and GET read keys on every shard, and STORE writes elsewhere', async () => {
    const list = keyOn(0, 'sl');
    const dst = keyOn(1, 'sd');
    await r.rpush(list, '1', '2', '3', '4');
    // w_N and o_N spread over the shards.
    await r.mset('w_1', '40', 'w_2', '30', 'w_3', '20', 'w_4', '10', 'o_1', 'one', 'o_2', 'two', 'o_4', 'four');
    await r.hset('h_3', 'name', 'three');
    expect(new Set(['w_1', 'w_2', 'w_3', 'w_4'].map((k) => calculateSlot(k) % SHARDS)).size).toBeGreaterThan(1);
    expect(await r.sort(list, 'BY', 'w_*')).toEqual(['4', '3', '2', '1']);
    expect(await r.sort(list, 'BY', 'w_*', 'GET', 'o_*', 'GET', '#', 'GET', 'h_*->name')).toEqual([
      'four',
      '4',
      null,
      null,
      '3',
      'three',
      'two',
      '2',
      null,
      'one',
      '1',
      null,
    ]);
    expect(await r.sort(list, 'BY', 'w_*', 'LIMIT', 1, 2, 'GET', 'o_*', 'STORE', dst)).toBe(2);
    expect(await r.lrange(dst, 0, -1)).toEqual(['', 'two']);
    expect(await r.sort(list, 'BY', 'nosort', 'DESC', 'LIMIT', 0, 2)).toEqual(['4', '3']);
    expect(await r.sort(keyOn(2, 'none'), 'STORE', dst)).toBe(0);
    expect(await r.exists(dst)).toBe(0);
    await r.set('w_2', 'notanumber');
    await expect(r.sort(list, 'BY', 'w_*')).rejects.toThrow("ERR One or more scores can't be converted into double");
    await expect(r.call('SORT_RO', list, 'STORE', dst)).rejects.toThrow('ERR syntax error');
  });

  it('SORT with patterns across shards inside MULTI runs at its place in the transaction', async () => {
    const [l, d] = [keyOn(2, 'ml'), keyOn(0, 'md')];
    await r.rpush(l, 'a', 'b', 'c');
    await r.mset('mw_a', '3', 'mw_b', '1', 'mw_c', '2');
    const res = await r
      .multi()
      .set('mw_a', '0')
      .sort(l, 'BY', 'mw_*', 'STORE', d)
      .lrange(d, 0, -1)
      .sort(l, 'BY', 'mw_*', 'GET', 'mw_*')
      .exec();
    expect(res).toEqual([
      [null, 'OK'],
      [null, 3],
      [null, ['a', 'b', 'c']],
      [null, ['0', '1', '2']],
    ]);
  });

  it('keyspace events of GEOADD, geo STOREs and SORT STORE', async () => {
    const sub = new Redis({ port: srv.port, host: '127.0.0.1' });
    const seen: string[] = [];
    try {
      await r.config('SET', 'notify-keyspace-events', 'KEA');
      await sub.psubscribe('__keyevent@0__:*');
      const done = new Promise<void>((res) =>
        sub.on('pmessage', (_p, ch, key) => {
          seen.push(`${ch.slice('__keyevent@0__:'.length)} ${key}`);
          if (key === 'end') res();
        }),
      );
      const [g, d, l, ld] = [keyOn(0, 'ng'), keyOn(1, 'nd'), keyOn(1, 'nl'), keyOn(2, 'nld')];
      await r.geoadd(g, 13.361389, 38.115556, 'Palermo');
      await r.call('GEOSEARCHSTORE', d, g, 'FROMLONLAT', 13, 38, 'BYRADIUS', 100, 'km');
      await r.call('GEORADIUS', g, 13, 38, 100, 'km', 'STORE', d);
      await r.call('GEORADIUS', g, 0, 0, 1, 'km', 'STORE', d);
      await r.rpush(l, '2', '1');
      await r.sort(l, 'STORE', ld);
      await r.sort(l, 'BY', 'nw_*', 'STORE', l);
      // Events reach the subscriber before their command's reply; a message published last marks the end.
      await r.publish('__keyevent@0__:end', 'end');
      await done;
      expect(seen.slice(0, -1)).toEqual([
        `zadd ${g}`,
        `geosearchstore ${d}`,
        `georadiusstore ${d}`,
        `del ${d}`,
        `rpush ${l}`,
        `sortstore ${ld}`,
        `sortstore ${l}`,
      ]);
    } finally {
      sub.disconnect();
      await r.config('SET', 'notify-keyspace-events', '');
    }
  });

  it('SORT inside MULTI answers as Redis on one shard', async () => {
    const l = '{t}l';
    await r.rpush(l, '3', '1', '2');
    const res = await r.multi().sort(l).sort(l, 'DESC', 'STORE', '{t}d').lrange('{t}d', 0, -1).exec();
    expect(res).toEqual([
      [null, ['1', '2', '3']],
      [null, 3],
      [null, ['3', '2', '1']],
    ]);
  });
});

describe('SORT STORE across shards in the append-only file', () => {
  it('replays to the same destination after a restart', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sabre-sort-aof-'));
    const flags = ['--shards', '3', '--appendonly', 'yes', '--appendfsync', 'always', '--dir', dir];
    try {
      let srv = await startServer(flags);
      let r = new Redis({ port: srv.port, host: '127.0.0.1' });
      await r.rpush('aofl', '1', '2', '3');
      await r.mset('aw_1', '9', 'aw_2', '5', 'aw_3', '7', 'ao_1', 'x', 'ao_3', 'z');
      expect(await r.sort('aofl', 'BY', 'aw_*', 'GET', 'ao_*', 'GET', '#', 'STORE', 'aofdst')).toBe(6);
      await r.set('aw_2', '10');
      r.disconnect();
      expect(await srv.stop()).toBe(0);
      srv = await startServer(flags);
      r = new Redis({ port: srv.port, host: '127.0.0.1' });
      expect(await r.lrange('aofdst', 0, -1)).toEqual(['', '2', 'z', '3', 'x', '1']);
      r.disconnect();
      expect(await srv.stop()).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

/** A random geo or SORT command; keys without hash tags, so with 3 shards they spread. */
function randomCommand(rand: () => number): (string | number)[] {
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const lon = (): string => (13 + rand() * 4).toFixed(6);
  const lat = (): string => (36 + rand() * 3).toFixed(6);
  const unit = (): string => pick(['m', 'km', 'mi', 'ft']);
  const gkey = pick(['geo1', 'geo2']);
  const member = (): string => `p${int(0, 40)}`;
  const opts = (): string[] => {
    const o: string[] = [];
    if (rand() < 0.5) o.push('WITHDIST');
    if (rand() < 0.3) o.push('WITHHASH');
    if (rand() < 0.3) o.push('WITHCOORD');
    if (rand() < 0.6) o.push(pick(['ASC', 'DESC']));
    if (rand() < 0.4) o.push('COUNT', String(int(1, 8)), ...(rand() < 0.3 ? ['ANY'] : []));
    return o;
  };
  const shape = (): string[] =>
    rand() < 0.5
      ? ['BYRADIUS', String(pick([int(1, 30), int(1, 300)])), pick(['km', 'mi'])]
      : ['BYBOX', String(int(5, 400)), String(int(5, 400)), 'km'];
  const from = (): string[] => (rand() < 0.5 ? ['FROMMEMBER', member()] : ['FROMLONLAT', lon(), lat()]);
  switch (int(0, 13)) {
    case 0:
    case 1:
      return [
        'GEOADD',
        gkey,
        ...pick([[], ['NX'], ['XX'], ['CH']]),
        ...Array.from({ length: int(1, 8) }, () => [lon(), lat(), member()]).flat(),
      ];
    case 2:
      return ['GEODIST', gkey, member(), member(), ...(rand() < 0.5 ? [unit()] : [])];
    case 3:
      return ['GEOHASH', gkey, member(), member()];
    case 4:
      return ['GEOPOS', gkey, member(), member()];
    case 5:
      return ['GEOSEARCH', gkey, ...from(), ...shape(), ...opts()];
    case 6:
      return ['GEORADIUS', gkey, lon(), lat(), String(int(1, 300)), 'km', ...opts()];
    case 7:
      return ['GEORADIUSBYMEMBER_RO', gkey, member(), String(int(1, 300)), unit(), ...opts()];
    case 8:
      return ['GEOSEARCHSTORE', 'gdst', gkey, ...from(), ...shape(), ...(rand() < 0.5 ? ['STOREDIST'] : []), 'COUNT', String(int(1, 10))];
    case 9:
      return pick([
        ['RPUSH', 'sl', ...Array.from({ length: int(1, 6) }, () => String(int(0, 30)))],
        ['ZADD', 'sz', ...Array.from({ length: int(1, 6) }, () => [String(int(0, 9)), String(int(0, 30))]).flat()],
        ['SET', `w_${int(0, 30)}`, String(int(-100, 100))],
        ['HSET', `h_${int(0, 30)}`, 'f', `v${int(0, 9)}`],
        ['SET', `o_${int(0, 30)}`, `obj${int(0, 99)}`],
      ]);
    case 10:
    case 11: {
      const src = pick(['sl', 'sz']);
      // ALPHA with BY leaves equal values (missing ones) in no defined order: not drawn.
      const by = pick([[], ['BY', 'w_*'], ['BY', 'nosort']]);
      const alpha = by[1] !== 'w_*' && rand() < 0.3 ? ['ALPHA'] : [];
      const get =
        rand() < 0.5
          ? []
          : pick([
              ['GET', '#'],
              ['GET', 'o_*', 'GET', '#'],
              ['GET', 'h_*->f'],
            ]);
      const limit = rand() < 0.4 ? ['LIMIT', String(int(-1, 5)), String(int(-1, 6))] : [];
      return ['SORT', src, ...by, ...limit, ...get, ...(rand() < 0.5 ? [pick(['ASC', 'DESC'])] : []), ...alpha];
    }
    case 12:
      return ['SORT', pick(['sl', 'sz']), 'BY', 'w_*', 'GET', 'o_*', 'STORE', 'sdst'];
    default:
      return pick([
        ['LRANGE', 'sdst', '0', '-1'],
        ['ZRANGE', 'gdst', '0', '-1', 'WITHSCORES'],
        ['GEOSEARCH', gkey, 'BYRADIUS', '1', 'km'],
      ]);
  }
}

/**
 * A reply with full-precision scores cut to 13 significant digits: a stored distance (STOREDIST)
 * comes from sin/cos/asin, where V8's and glibc's results can differ in the last bit.
 */
function loose(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(loose);
  if (typeof v === 'string' && /^-?\d+\.\d{12,}$/.test(v)) return Number(v).toPrecision(13);
  if (v !== null && typeof v === 'object' && 'double' in v) return Number((v as { double: string }).double).toPrecision(13);
  return v;
}

describe.skipIf(!hasRedis).each([1, 3])('geo and SORT replies equal redis-server with %i shard(s)', (shards) => {
  let srv: TestServer;
  let redisProc: ChildProcess;
  let s: RespConn;
  let r: RespConn;
  beforeAll(async () => {
    srv = await startServer(['--shards', String(shards)]);
    const port = await freePort();
    redisProc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    await new Promise<void>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 15_000);
      redisProc.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        if (out.includes('Ready to accept connections')) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    r = await RespConn.open(port);
    s = await RespConn.open(srv.port);
  });
  afterAll(async () => {
    s.sock.destroy();
    r.sock.destroy();
    redisProc.kill('SIGTERM');
    expect(await srv.stop()).toBe(0);
  });

  it('match on 2500 random commands, in RESP2 then RESP3', async () => {
    const rand = rng(shards * 104729);
    for (let i = 0; i < 2500; i++) {
      if (i === 1250) await Promise.all([s.call('HELLO', '3'), r.call('HELLO', '3')]);
      const cmd = randomCommand(rand);
      const [a, b] = await Promise.all([r.call(...cmd), s.call(...cmd)]);
      expect({ i, cmd: cmd.join(' '), reply: loose(b) }).toEqual({ i, cmd: cmd.join(' '), reply: loose(a) });
    }
  });

  it('match on searches over the whole globe, poles and antimeridian included', async () => {
    const rand = rng(shards * 31 + 5);
    const lon = (): string => (rand() * 360 - 180).toFixed(5);
    const lat = (): string => (rand() * 170 - 85).toFixed(5);
    const add = ['GEOADD', 'world', ...Array.from({ length: 400 }, (_, i) => [lon(), lat(), `w${i}`]).flat()];
    expect(await s.call(...add)).toEqual(await r.call(...add));
    for (let i = 0; i < 400; i++) {
      const size = (): string => String(Math.round(10 ** (rand() * 4)));
      const shape = rand() < 0.5 ? ['BYRADIUS', size(), 'km'] : ['BYBOX', size(), size(), 'km'];
      const cmd = ['GEOSEARCH', 'world', 'FROMLONLAT', lon(), lat(), ...shape, 'ASC', 'WITHDIST', 'WITHHASH'];
      const [a, b] = await Promise.all([r.call(...cmd), s.call(...cmd)]);
      expect({ i, cmd: cmd.join(' '), reply: b }).toEqual({ i, cmd: cmd.join(' '), reply: a });
    }
  });

  it('match on small COUNTs of many points with equal distances, nearest and farthest first', async () => {
    // Several members per spot: COUNT below the points found takes Redis's partial quicksort, whose
    // order of equal distances is its own (a full sort keeps the stable order).
    const add = ['GEOADD', 'ties'];
    for (let i = 0; i < 300; i++) add.push(String(10 + (i % 7) * 0.01), String(40 + (i % 5) * 0.01), `t${i}`);
    expect(await s.call(...add)).toEqual(await r.call(...add));
    const rand = rng(shards * 7919 + 3);
    for (let i = 0; i < 200; i++) {
      const from =
        i < 20 ? ['FROMLONLAT', '10.03', '40.02'] : ['FROMLONLAT', (9.98 + rand() * 0.1).toFixed(4), (39.98 + rand() * 0.08).toFixed(4)];
      const shape = rand() < 0.5 ? ['BYBOX', '20', '20', 'km'] : ['BYRADIUS', String(1 + Math.floor(rand() * 8)), 'km'];
      const count = String(1 + Math.floor(rand() * 60));
      const cmd = ['GEOSEARCH', 'ties', ...from, ...shape, rand() < 0.5 ? 'ASC' : 'DESC', 'COUNT', count, 'WITHDIST'];
      const [a, b] = await Promise.all([r.call(...cmd), s.call(...cmd)]);
      expect({ i, cmd: cmd.join(' '), reply: b }).toEqual({ i, cmd: cmd.join(' '), reply: a });
    }
  });

  it('match on argument errors', async () => {
    const cases: string[][] = [
      ['GEOADD', 'e', '1', '2'],
      ['GEOADD', 'e', 'NX', 'XX', '1', '2', 'm'],
      ['GEOADD', 'e', 'x', '2', 'm'],
      ['GEOADD', 'e', '-181', '2', 'm'],
      ['GEOADD', 'e', '10', '86', 'm'],
      ['GEODIST', 'e', 'a', 'b', 'parsec'],
      ['GEODIST', 'e', 'a', 'b', 'km', 'x'],
      ['GEORADIUS', 'e', '1', '2', 'x', 'km'],
      ['GEORADIUS', 'e', '1', '2', '-1', 'km'],
      ['GEORADIUS', 'e', '1', '2', '1', 'km', 'COUNT', '0'],
      ['GEORADIUS', 'e', '1', '2', '1', 'km', 'COUNT', 'x'],
      ['GEORADIUS', 'e', '1', '2', '1', 'km', 'ANY'],
      ['GEORADIUS', 'e', '1', '2', '1', 'km', 'STORE', 'x', 'WITHDIST'],
      ['GEORADIUS_RO', 'e', '1', '2', '1', 'km', 'STORE', 'x'],
      ['GEOSEARCH', 'e', 'FROMLONLAT', '1', '2'],
      ['GEOSEARCH', 'e', 'FROMLONLAT', '1', '2', 'BYBOX', '1', '-1', 'km'],
      ['GEOSEARCH', 'e', 'FROMLONLAT', '1', '2', 'BYBOX', 'x', '1', 'km'],
      ['geosearch', 'e', 'BYRADIUS', '1', 'km'],
      ['GEOSEARCH', 'e', 'FROMLONLAT', '1', '2', 'BYRADIUS', '1', 'km', 'FROMMEMBER', 'x'],
      ['GEOSEARCHSTORE', 'd', 'e', 'FROMLONLAT', '1', '2', 'BYRADIUS', '1', 'km', 'WITHCOORD'],
      ['SORT', 'e', 'LIMIT', '1'],
      ['SORT', 'e', 'LIMIT', 'a', '1'],
      ['SORT', 'e', 'FOO'],
      ['SORT', 'e', 'BY'],
    ];
    await s.call('SET', 'str', 'x');
    await r.call('SET', 'str', 'x');
    cases.push(['SORT', 'str'], ['GEOPOS', 'str', 'a'], ['GEOSEARCH', 'str', 'FROMLONLAT', '1', '2', 'BYRADIUS', '1', 'km']);
    await s.call('GEOADD', 'e', '1', '2', 'm');
    await r.call('GEOADD', 'e', '1', '2', 'm');
    cases.push(['GEORADIUSBYMEMBER', 'e', 'zz', '1', 'km'], ['GEOSEARCH', 'e', 'FROMMEMBER', 'zz', 'BYRADIUS', '1', 'km']);
    for (const cmd of cases) {
      const [a, b] = await Promise.all([r.call(...cmd), s.call(...cmd)]);
      expect({ cmd: cmd.join(' '), reply: b }).toEqual({ cmd: cmd.join(' '), reply: a });
    }
  });
});
