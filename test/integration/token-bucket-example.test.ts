import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { AGAINST_REDIS, startTarget } from '../helpers/target.js';
import type { TestServer } from '../helpers/server.js';
import { cellLimiter, localLimiter, luaLimiter, rateLimitHook } from '../../examples/token-bucket/limiters.mjs';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('examples/token-bucket: one limit three ways', () => {
  let srv: TestServer;
  let redis: Redis;
  beforeAll(async () => {
    srv = await startTarget(['--shards', '2']);
    redis = new Redis({ port: srv.port, host: '127.0.0.1' });
  });
  afterAll(async () => {
    redis.disconnect();
    await srv.stop();
  });

  // 5 at once, then one a second: slow enough that no refill lands inside a burst of checks.
  const LIMIT = { capacity: 5, limit: 60, windowMs: 60_000 };
  const kinds = [
    ['lua', () => luaLimiter(redis, LIMIT)],
    // CL.THROTTLE is Sabre's (redis-cell's command); real Redis has no such command.
    ...(AGAINST_REDIS ? [] : [['cl.throttle', () => cellLimiter(redis, LIMIT)]]),
    ['sabre/limiter', () => localLimiter(LIMIT)],
  ] as const;

  it.each(kinds)('%s: admits the burst, then refuses with a retry time, then refills', async (_name, make) => {
    const limiter = make();
    const key = `k-${Math.random()}`;
    const first = [];
    for (let i = 0; i < 7; i++) first.push(await limiter.check(key));
    expect(first.map((r) => r.allowed)).toEqual([true, true, true, true, true, false, false]);
    expect(first[4]!.remaining).toBe(0);
    expect(first[5]!.retryMs).toBeGreaterThan(0);
    expect(first[5]!.retryMs).toBeLessThanOrEqual(1000);
    expect(first[6]!.allowed).toBe(false);
    // One token a second: after 1.1 s at least one is back, whatever else the machine does.
    await sleep(1100);
    expect((await limiter.check(key)).allowed).toBe(true);
    // Other keys have buckets of their own.
    expect((await limiter.check(`${key}-other`)).allowed).toBe(true);
  });

  it.each(kinds)('%s: as fastify middleware, 429 with RateLimit headers and Retry-After', async (_name, make) => {
    const app = Fastify();
    app.addHook('onRequest', rateLimitHook(make(), 'demo'));
    app.get('/', async () => ({ ok: true }));
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof app.inject>> | undefined;
    const ip = `10.0.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
    for (let i = 0; i < 6; i++) {
      last = await app.inject({ url: '/', remoteAddress: ip });
      statuses.push(last.statusCode);
    }
    await app.close();
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses[5]).toBe(429);
    expect(last!.headers['ratelimit-policy']).toBe('"demo";q=5');
    expect(last!.headers.ratelimit).toBe('"demo";r=0');
    expect(last!.headers['retry-after']).toBe('1');
  });
});
