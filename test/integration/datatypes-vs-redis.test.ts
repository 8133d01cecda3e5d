/**
 * Differential test: the same seeded random sequence of list, sorted-set, hash and set
 * commands against Sabre and a real redis-server (skipped when it is not installed); every
 * reply must match, across encoding conversions both ways of the thresholds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { startServer, type TestServer } from '../helpers/server.js';
import { freePort } from '../helpers/redis-server.js';

const hasRedis = spawnSync('redis-server', ['--version']).status === 0;

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

/** A random command over a few keys that share one hash tag (so any shard count runs them). */
function randomCommand(rand: () => number): (string | number)[] {
  const int = (lo: number, hi: number): number => lo + Math.floor(rand() * (hi - lo + 1));
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
  const val = (): string => {
    const k = rand();
    if (k < 0.6) return `v${int(0, 30)}`;
    if (k < 0.8) return String(int(-50, 50));
    return 'x'.repeat(int(60, 300)) + String(int(0, 5));
  };
  const score = (): string => pick([String(int(-10, 10)), String(rand() * 10), '-inf', '+inf', '1.5']);
  const many = <T>(n: number, f: () => T[]): T[] => Array.from({ length: n }, f).flat();
  const key = pick(['{f}l1', '{f}l2', '{f}z1', '{f}z2', '{f}h1', '{f}s1']);
  switch (key[3]) {
    case 'l': {
      const op = pick(['lpush', 'rpush', 'lpop', 'rpop', 'linsert', 'lrem', 'lset', 'ltrim', 'lrange', 'lindex', 'lpos', 'lmove']);
      if (op === 'lpush' || op === 'rpush') return [op, key, ...many(int(1, 40), () => [val()])];
      if (op === 'lpop' || op === 'rpop') return rand() < 0.5 ? [op, key, int(0, 30)] : [op, key];
      if (op === 'linsert') return [op, key, pick(['BEFORE', 'AFTER']), val(), val()];
      if (op === 'lrem') return [op, key, int(-3, 3), val()];
      if (op === 'lset') return [op, key, int(-50, 50), val()];
      if (op === 'ltrim') return [op, key, int(-5, 30), int(-30, 600)];
      if (op === 'lrange') return [op, key, int(-100, 100), int(-100, 1000)];
      if (op === 'lindex') return [op, key, int(-300, 300)];
      if (op === 'lpos') return [op, key, val(), 'RANK', pick([1, -1, 2]), 'COUNT', int(0, 3)];
      return [op, key, pick(['{f}l1', '{f}l2']), pick(['LEFT', 'RIGHT']), pick(['LEFT', 'RIGHT'])];
    }
    case 'z': {
      const op = pick([
        'zadd',
        'zadd',
        'zrem',
        'zpopmin',
        'zpopmax',
        'zrange',
        'zrangebyscore',
        'zrank',
        'zincrby',
        'zremrangebyrank',
        'zcount',
        'zunionstore',
      ]);
      if (op === 'zadd') return [op, key, ...pick([[], ['NX'], ['XX'], ['GT', 'CH'], ['LT']]), ...many(int(1, 30), () => [score(), val()])];
      if (op === 'zrem') return [op, key, ...many(int(1, 5), () => [val()])];
      if (op === 'zpopmin' || op === 'zpopmax') return rand() < 0.5 ? [op, key, int(0, 10)] : [op, key];
      if (op === 'zrange') return [op, key, int(-50, 50), int(-50, 200), 'WITHSCORES', ...(rand() < 0.3 ? ['REV'] : [])];
      if (op === 'zrangebyscore')
        return [op, key, pick(['-inf', '(0', '1', '-5']), pick(['+inf', '5', '(5']), 'WITHSCORES', 'LIMIT', int(0, 3), int(-1, 10)];
      if (op === 'zrank') return [op, key, val()];
      if (op === 'zincrby') return [op, key, int(-3, 3), val()];
      if (op === 'zremrangebyrank') return [op, key, int(-10, 10), int(-10, 10)];
      if (op === 'zcount') return [op, key, pick(['-inf', '(0', '1']), pick(['+inf', '5', '(5'])];
      return ['zunionstore', '{f}z3', 2, '{f}z1', '{f}z2', 'WEIGHTS', 1, 2, 'AGGREGATE', pick(['SUM', 'MIN', 'MAX'])];
    }
    case 'h': {
      const op = pick(['hset', 'hdel', 'hget', 'hincrby', 'hlen', 'hmget']);
      if (op === 'hset') return [op, key, ...many(int(1, 20), () => [val(), val()])];
      if (op === 'hdel') return [op, key, ...many(int(1, 5), () => [val()])];
      if (op === 'hincrby') return [op, key, val(), int(-5, 5)];
      if (op === 'hlen') return [op, key];
      return op === 'hget' ? [op, key, val()] : [op, key, val(), val()];
    }
    default: {
      const op = pick(['sadd', 'srem', 'scard', 'sismember']);
      if (op === 'sadd') return [op, key, ...many(int(1, 30), () => [rand() < 0.1 ? val() : String(int(-300, 300))])];
      if (op === 'srem') return [op, key, ...many(5, () => [String(int(-300, 300))])];
      return op === 'scard' ? [op, key] : [op, key, val()];
    }
  }
}

/** Reply or error text, for comparing. */
async function reply(c: Redis, cmd: (string | number)[]): Promise<unknown> {
  try {
    return await c.call(String(cmd[0]), ...cmd.slice(1).map(String));
  } catch (e) {
    return `ERR:${(e as Error).message}`;
  }
}

describe.skipIf(!hasRedis).each([1, 3])('same replies as redis-server with %i shard(s)', (shards) => {
  let srv: TestServer;
  let redisProc: ChildProcess;
  let s: Redis;
  let r: Redis;
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
    r = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
    s = new Redis({ port: srv.port, host: '127.0.0.1', lazyConnect: true });
    await s.connect();
    await r.connect();
    await r.flushall();
  });
  afterAll(async () => {
    s.disconnect();
    r.disconnect();
    redisProc.kill('SIGTERM');
    expect(await srv.stop()).toBe(0);
  });

  it('matches on 3000 random commands', async () => {
    const rand = rng(shards * 7919);
    for (let i = 0; i < 3000; i++) {
      const cmd = randomCommand(rand);
      const [a, b] = await Promise.all([reply(r, cmd), reply(s, cmd)]);
      expect({ i, cmd: cmd.join(' ').slice(0, 120), reply: b }).toEqual({ i, cmd: cmd.join(' ').slice(0, 120), reply: a });
    }
    for (const k of ['{f}l1', '{f}l2']) expect(await s.lrange(k, 0, -1)).toEqual(await r.lrange(k, 0, -1));
    for (const k of ['{f}z1', '{f}z2', '{f}z3'])
      expect(await s.zrange(k, 0, -1, 'WITHSCORES')).toEqual(await r.zrange(k, 0, -1, 'WITHSCORES'));
    expect(await s.hgetall('{f}h1')).toEqual(await r.hgetall('{f}h1'));
    expect((await s.smembers('{f}s1')).sort()).toEqual((await r.smembers('{f}s1')).sort());
  });
});
