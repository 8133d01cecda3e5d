import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startTarget } from '../helpers/target.js';
import type { TestServer } from '../helpers/server.js';
import { createCache, globToRegExp, jitteredTtl, shouldRefreshEarly, stableStringify } from '../../examples/caching/cache.mjs';
import { buildApp } from '../../examples/caching/app.mjs';
import { openDb } from '../../examples/caching/db.mjs';
import { startWeatherStub } from '../../examples/caching/weather-stub.mjs';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Polls `check` until it holds (bounded), for effects that arrive over pub/sub. */
async function eventually(check: () => Promise<boolean>): Promise<boolean> {
  for (let i = 0; i < 100; i++) {
    if (await check()) return true;
    await sleep(20);
  }
  return false;
}

describe('examples/caching: pure helpers', () => {
  it('names arguments stably and spreads TTLs within the jitter', () => {
    expect(stableStringify({ b: 1, a: [2, { d: 3, c: 4 }] })).toBe('{"a":[2,{"c":4,"d":3}],"b":1}');
    expect(jitteredTtl(1000, 0.1, () => 0)).toBe(900);
    expect(jitteredTtl(1000, 0.1, () => 1)).toBe(1100);
    expect(jitteredTtl(1000, 0, Math.random)).toBe(1000);
  });

  it('refreshes early only near the expiry (XFetch)', () => {
    const r = () => Math.exp(-1); // -log(r) = 1: refresh once computeMs × beta reaches the time left
    expect(shouldRefreshEarly(1000, 1100, 50, 1, r)).toBe(false);
    expect(shouldRefreshEarly(1000, 1100, 100, 1, r)).toBe(true);
    expect(shouldRefreshEarly(1000, 1100, 50, 2, r)).toBe(true);
  });

  it('reads globs as Redis MATCH does', () => {
    expect(globToRegExp('article:*').test('article:12')).toBe(true);
    expect(globToRegExp('a?c').test('abc')).toBe(true);
    expect(globToRegExp('a[bx]c').test('axc')).toBe(true);
    expect(globToRegExp('a[^b]c').test('abc')).toBe(false);
    expect(globToRegExp('a.c').test('abc')).toBe(false);
  });
});

describe('examples/caching against a server', () => {
  let srv: TestServer;
  const conns: Redis[] = [];
  const conn = (): Redis => {
    const c = new Redis({ port: srv.port, host: '127.0.0.1' });
    conns.push(c);
    return c;
  };
  /** A cache as a separate process would have it: its own command and subscriber connections. */
  const processCache = (namespace: string, extra = {}) => createCache({ redis: conn(), subscriber: conn(), namespace, ...extra });

  beforeAll(async () => {
    srv = await startTarget(['--shards', '2']);
  });
  afterAll(async () => {
    for (const c of conns) c.disconnect();
    await srv.stop();
  });

  it('computes once, then serves from the local tier and, in another process, from the server', async () => {
    const a = await processCache('t1');
    const b = await processCache('t1');
    let calls = 0;
    const square = async (n: number): Promise<number> => {
      calls++;
      return n * n;
    };
    const fa = a.cached(square);
    const fb = b.cached(square);
    expect(await fa(12)).toBe(144);
    expect(await fa(12)).toBe(144);
    expect(await fb(12)).toBe(144);
    expect(calls).toBe(1);
    expect(await a.stats()).toMatchObject({ 'cache_hits_total{local}': 1, cache_misses_total: 1, cache_loads_total: 1 });
    expect((await b.stats())['cache_hits_total{remote}']).toBe(1);
    await a.close();
    await b.close();
  });

  it('lets one caller among many processes compute a missing value (SET NX PX lock)', async () => {
    const caches = await Promise.all([processCache('t2'), processCache('t2'), processCache('t2')]);
    let calls = 0;
    const slow = async (city: string): Promise<string> => {
      calls++;
      await sleep(100);
      return `sunny in ${city}`;
    };
    const fns = caches.map((c) => c.cached(slow, { name: 'slow' }));
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => fns[i % 3]!('oslo')));
    expect(new Set(results)).toEqual(new Set(['sunny in oslo']));
    expect(calls).toBe(1);
    const waits = await Promise.all(caches.map(async (c) => (await c.stats()).cache_lock_waits_total));
    expect(waits.reduce((x, y) => x + y, 0)).toBeGreaterThan(0);
    for (const c of caches) await c.close();
  });

  it('drops an entry from every process on invalidation, by key, by tag and by pattern', async () => {
    const a = await processCache('t3');
    const b = await processCache('t3');
    let version = 1;
    const load = async (id: number): Promise<string> => `article ${id} v${version}`;
    const opts = { name: 'article', key: (id: number) => String(id), tags: (id: number) => [`article:${id}`, 'articles'] };
    const fa = a.cached(load, opts);
    const fb = b.cached(load, opts);
    for (const id of [1, 2, 3]) expect(await fb(id)).toBe(`article ${id} v1`);
    version = 2;
    expect(await fb(1)).toBe('article 1 v1'); // still cached locally in b
    expect(await a.invalidate('article', [[1]], (id: number) => String(id))).toBe(1);
    expect(await eventually(async () => (await fb(1)) === 'article 1 v2')).toBe(true);

    expect(await a.invalidateTag('article:2')).toBe(1);
    expect(await eventually(async () => (await fb(2)) === 'article 2 v2')).toBe(true);

    version = 3;
    expect(await fa(3)).toBe('article 3 v1');
    expect(await a.invalidatePattern('article:*')).toBe(3);
    expect(await eventually(async () => (await fb(3)) === 'article 3 v3')).toBe(true);
    expect(await fb(1)).toBe('article 1 v3');
    expect((await a.stats())['cache_invalidations_total{pattern}']).toBe(3);
    await a.close();
    await b.close();
  });

  it('extends the TTL of an entry that keeps being read (sliding)', async () => {
    const redis = conn();
    const c = await createCache({ redis, namespace: 't4', jitter: 0 });
    const f = c.cached(async (x: string) => x.toUpperCase(), { name: 'up', key: (x: string) => x, ttlMs: 60_000, sliding: true });
    await f('a');
    await redis.pexpire('t4:up:a', 1000);
    expect(await redis.pttl('t4:up:a')).toBeLessThanOrEqual(1000);
    expect(await f('a')).toBe('A');
    expect(await redis.pttl('t4:up:a')).toBeGreaterThan(50_000);
  });

  it('warms entries and reads many in one round trip', async () => {
    const redis = conn();
    const c = await createCache({ redis, namespace: 't5' });
    const double = async (n: number): Promise<number> => 2 * n;
    expect(await c.warm(double, [[1], [2], [3]], { name: 'double' })).toBe(3);
    expect(await c.getMany('double', [[1], [2], [3], [4]])).toEqual([2, 4, 6, undefined]);
    let calls = 0;
    const f = c.cached(
      async (n: number) => {
        calls++;
        return double(n);
      },
      { name: 'double' },
    );
    expect(await f(2)).toBe(4);
    expect(calls).toBe(0);
    const ttl = await redis.pttl(c.keyFor('double', [1]));
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(66_000);
  });

  it('serves the fastify app: cached upstream, database reads, write-through and invalidation on writes', async () => {
    const stub = await startWeatherStub(30);
    const db = openDb(':memory:', 20);
    const { app } = await buildApp({ redis: conn(), subscriber: conn(), db, weatherUrl: stub.url });
    try {
      for (let i = 0; i < 10; i++) expect((await app.inject({ url: '/weather/lisbon' })).json()).toMatchObject({ city: 'lisbon' });
      expect(stub.calls()).toBe(1);
      expect((await app.inject({ url: '/weather/Bad!' })).statusCode).toBe(400);

      const q0 = db.stats.queries;
      for (let i = 0; i < 5; i++) expect((await app.inject({ url: '/articles/4' })).json().title).toBe('Article 4');
      expect(db.stats.queries - q0).toBe(1);
      expect((await app.inject({ url: '/articles/999' })).statusCode).toBe(404);
      expect((await app.inject({ url: '/articles/0' })).statusCode).toBe(400);

      const posted = await app.inject({ method: 'POST', url: '/articles/4/comments', payload: { author: 'ann', body: 'hi' } });
      expect(posted.statusCode).toBe(201);
      expect((await app.inject({ url: '/articles/4' })).json().comments).toHaveLength(1);
      expect((await app.inject({ method: 'POST', url: '/articles/4/comments', payload: { author: '' } })).statusCode).toBe(400);

      const put = await app.inject({ method: 'PUT', url: '/articles/4', payload: { title: 'New title', body: 'b' } });
      expect(put.statusCode).toBe(200);
      const q1 = db.stats.queries;
      expect((await app.inject({ url: '/articles/4' })).json().title).toBe('New title');
      expect(db.stats.queries).toBe(q1);
      expect((await app.inject({ method: 'PUT', url: '/articles/998', payload: { title: 't', body: 'b' } })).statusCode).toBe(404);

      expect((await app.inject({ method: 'DELETE', url: '/cache?pattern=weather:*' })).json()).toEqual({ removed: 1 });
      const metrics = (await app.inject({ url: '/metrics' })).body;
      expect(metrics).toMatch(/^cache_hits_total\{tier="local"\} \d+$/m);
      expect(metrics).toMatch(/^cache_invalidations_total\{by="pattern"\} 1$/m);
    } finally {
      await app.close();
      await stub.close();
      db.close();
    }
  });
});
