/**
 * MIGRATE between Sabre servers and to and from a real redis-server 7.0 (those cases skip with a
 * message when redis-server is not installed): keys arrive with their values and TTLs as DUMP
 * payloads, leave the source unless COPY, and the options and errors are Redis's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { startServer, type TestServer } from '../helpers/server.js';
import { freePort, spawnRedisServer } from '../helpers/redis-server.js';

const hasRedis = spawnSync('redis-server', ['--version']).status === 0;
if (!hasRedis) console.log('migrate.test: the real-Redis cases are skipped: install redis-server 7.0 (apt-get install redis-server)');

/** Starts redis-server on a free port; resolves once it accepts connections. */
function startRedis(): Promise<{ port: number; proc: ChildProcess }> {
  return spawnRedisServer(['--save', '', '--appendonly', 'no']);
}

describe('MIGRATE between Sabre servers', () => {
  let src: TestServer;
  let dst: TestServer;
  let a: Redis;
  let b: Redis;
  beforeAll(async () => {
    [src, dst] = await Promise.all([startServer(['--shards', '3']), startServer(['--shards', '2'])]);
    a = new Redis({ port: src.port, host: '127.0.0.1' });
    b = new Redis({ port: dst.port, host: '127.0.0.1', db: 2 });
  });
  afterAll(async () => {
    a.disconnect();
    b.disconnect();
    await Promise.all([src.stop(), dst.stop()]);
  });

  it('moves keys of every type with their TTL, and deletes them at the source', async () => {
    await a.set('str', 'v', 'PX', 60_000);
    await a.rpush('list', 'x', 'y');
    await a.hset('hash', 'f', '1');
    await a.zadd('zset', 1, 'm');
    await a.sadd('set', 'a', 'b');
    const keys = ['str', 'list', 'hash', 'zset', 'set', 'missing'];
    expect(await a.call('migrate', '127.0.0.1', String(dst.port), '', '2', '5000', 'KEYS', ...keys)).toBe('OK');
    expect(await a.exists(...keys)).toBe(0);
    expect(await b.get('str')).toBe('v');
    expect(await b.pttl('str')).toBeGreaterThan(50_000);
    expect(await b.lrange('list', 0, -1)).toEqual(['x', 'y']);
    expect(await b.hgetall('hash')).toEqual({ f: '1' });
    expect(await b.zrange('zset', 0, -1, 'WITHSCORES')).toEqual(['m', '1']);
    expect((await b.smembers('set')).sort()).toEqual(['a', 'b']);
    expect(await b.ttl('list')).toBe(-1);
  });

  it('COPY keeps the source, REPLACE overwrites, BUSYKEY otherwise', async () => {
    await a.set('k', 'one');
    expect(await a.call('migrate', '127.0.0.1', String(dst.port), 'k', '2', '5000', 'COPY')).toBe('OK');
    expect(await a.get('k')).toBe('one');
    await a.set('k', 'two');
    await expect(a.call('migrate', '127.0.0.1', String(dst.port), 'k', '2', '5000', 'COPY')).rejects.toThrow(
      'ERR Target instance replied with error: BUSYKEY Target key name already exists.',
    );
    expect(await a.get('k')).toBe('two');
    expect(await a.call('migrate', '127.0.0.1', String(dst.port), 'k', '2', '5000', 'REPLACE')).toBe('OK');
    expect(await b.get('k')).toBe('two');
    expect(await a.exists('k')).toBe(0);
  });

  it('answers NOKEY, and Redis errors for bad arguments and unreachable targets', async () => {
    expect(await a.call('migrate', '127.0.0.1', String(dst.port), 'nokey', '2', '5000')).toBe('NOKEY');
    await a.set('e', '1');
    await expect(a.call('migrate', '127.0.0.1', String(dst.port), 'e', '2', '5000', 'KEYS', 'e')).rejects.toThrow(
      'ERR When using MIGRATE KEYS option, the key argument must be set to the empty string',
    );
    await expect(a.call('migrate', '127.0.0.1', String(dst.port), 'e', '2', '5000', 'AUTH')).rejects.toThrow('ERR syntax error');
    await expect(a.call('migrate', '127.0.0.1', String(dst.port), 'e', 'x', '5000')).rejects.toThrow(
      'ERR value is not an integer or out of range',
    );
    const closed = await freePort();
    await expect(a.call('migrate', '127.0.0.1', String(closed), 'e', '0', '500')).rejects.toThrow(
      'IOERR error or timeout writing to target instance',
    );
    expect(await a.get('e')).toBe('1');
  });

  it('authenticates with AUTH and AUTH2, and reports the target refusing', async () => {
    const locked = await startServer(['--requirepass', 'secret']);
    const admin = new Redis({ port: locked.port, host: '127.0.0.1', password: 'secret' });
    try {
      await admin.call('acl', 'setuser', 'mover', 'on', '>pw2', '~*', '+@all');
      await a.set('au', '1');
      await expect(a.call('migrate', '127.0.0.1', String(locked.port), 'au', '0', '5000', 'COPY', 'AUTH', 'wrong')).rejects.toThrow(
        'ERR Target instance replied with error: WRONGPASS invalid username-password pair or user is disabled.',
      );
      expect(await admin.exists('au')).toBe(0);
      expect(await a.call('migrate', '127.0.0.1', String(locked.port), 'au', '0', '5000', 'COPY', 'AUTH', 'secret')).toBe('OK');
      expect(await a.call('migrate', '127.0.0.1', String(locked.port), 'au', '1', '5000', 'AUTH2', 'mover', 'pw2')).toBe('OK');
      expect(await admin.get('au')).toBe('1');
      expect(await a.exists('au')).toBe(0);
      expect(await a.info('stats')).toMatch(/migrate_cached_sockets:2/);
    } finally {
      admin.disconnect();
      await locked.stop();
    }
  });
});

describe.skipIf(!hasRedis)('MIGRATE with a real redis-server', () => {
  let sabre: TestServer;
  let redis: { port: number; proc: ChildProcess };
  let s: Redis;
  let r: Redis;
  beforeAll(async () => {
    [sabre, redis] = await Promise.all([startServer(['--shards', '2']), startRedis()]);
    s = new Redis({ port: sabre.port, host: '127.0.0.1' });
    r = new Redis({ port: redis.port, host: '127.0.0.1' });
  });
  afterAll(async () => {
    s.disconnect();
    r.disconnect();
    redis.proc.kill('SIGTERM');
    await sabre.stop();
  });

  it('Sabre migrates keys into Redis', async () => {
    await s.set('to-redis', 'hello', 'EX', 100);
    await s.zadd('z-to-redis', 1, 'a', 2, 'b');
    await s.hset('h-to-redis', Object.fromEntries(Array.from({ length: 200 }, (_, i) => [`f${i}`, `v${i}`])));
    expect(await s.call('migrate', '127.0.0.1', String(redis.port), '', '0', '5000', 'KEYS', 'to-redis', 'z-to-redis', 'h-to-redis')).toBe(
      'OK',
    );
    expect(await r.get('to-redis')).toBe('hello');
    expect(await r.ttl('to-redis')).toBeGreaterThan(90);
    expect(await r.zrange('z-to-redis', 0, -1, 'WITHSCORES')).toEqual(['a', '1', 'b', '2']);
    expect(await r.hlen('h-to-redis')).toBe(200);
    expect(await s.exists('to-redis', 'z-to-redis', 'h-to-redis')).toBe(0);
  });

  it('Redis migrates keys into Sabre', async () => {
    await r.rpush('to-sabre', 'a', 'b', 'c');
    await r.set('s-to-sabre', 'x');
    expect(await r.call('migrate', '127.0.0.1', String(sabre.port), '', '0', '5000', 'KEYS', 'to-sabre', 's-to-sabre')).toBe('OK');
    expect(await s.lrange('to-sabre', 0, -1)).toEqual(['a', 'b', 'c']);
    expect(await s.get('s-to-sabre')).toBe('x');
    expect(await r.exists('to-sabre')).toBe(0);
  });
});
