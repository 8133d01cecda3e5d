import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { AGAINST_REDIS, startTarget } from '../helpers/target.js';
import type { TestServer } from '../helpers/server.js';
import { buildApp } from '../../examples/book-reviews/app.mjs';
import { openDb } from '../../examples/book-reviews/db.mjs';
import { startMetadataStub } from '../../examples/book-reviews/metadata-stub.mjs';

describe('examples/book-reviews (the cookbook capstone)', () => {
  let srv: TestServer;
  const conns: Redis[] = [];
  const conn = (): Redis => {
    const c = new Redis({ port: srv.port, host: '127.0.0.1' });
    conns.push(c);
    return c;
  };
  let stub: Awaited<ReturnType<typeof startMetadataStub>>;
  let db: ReturnType<typeof openDb>;
  let app: Awaited<ReturnType<typeof buildApp>>['app'];
  let clock = 1_000_000;

  beforeAll(async () => {
    srv = await startTarget(['--shards', '2']);
    stub = await startMetadataStub({ delayMs: 5 });
    db = openDb(':memory:', 50);
    ({ app } = await buildApp({
      redis: conn(),
      subscriber: conn(),
      db,
      metadataUrl: stub.url,
      secret: 'a test secret of more than 32 bytes',
      breakerOptions: { now: () => clock },
    }));
  });
  afterAll(async () => {
    await app.close();
    for (const c of conns) c.disconnect();
    await stub.close();
    db.close();
    await srv.stop();
  });

  const login = async (user: string): Promise<Record<string, string>> => {
    let res = await app.inject({ method: 'POST', url: '/register', payload: { user, password: 'password1' } });
    if (res.statusCode === 409) res = await app.inject({ method: 'POST', url: '/login', payload: { user, password: 'password1' } });
    return { authorization: `Bearer ${res.json().token}` };
  };

  it('reads books through the cache: one query and one metadata call for many reads', async () => {
    const q0 = db.stats.queries;
    const c0 = stub.calls();
    for (let i = 0; i < 10; i++) {
      const b = (await app.inject({ url: '/books/3' })).json();
      expect(b).toMatchObject({ id: 3, title: 'Book 3', reviews: 0, degraded: false, metadata: { isbn: b.isbn } });
    }
    expect(db.stats.queries - q0).toBe(1);
    expect(stub.calls() - c0).toBe(1);
    expect((await app.inject({ url: '/books/999' })).statusCode).toBe(404);
    expect((await app.inject({ url: '/books/x' })).statusCode).toBe(400);
    expect((await app.inject({ url: '/books?after=10&limit=3' })).json().map((b: { id: number }) => b.id)).toEqual([11, 12, 13]);
  });

  it('takes reviews from logged-in users only, invalidates the book, and ranks books and reviewers', async () => {
    expect((await app.inject({ method: 'POST', url: '/books/3/reviews', payload: { rating: 5, body: 'great' } })).statusCode).toBe(401);
    const ann = await login('ann');
    const post = (book: number, rating: number, headers = ann) =>
      app.inject({ method: 'POST', url: `/books/${book}/reviews`, headers, payload: { rating, body: 'a review' } });
    expect((await post(3, 5)).statusCode).toBe(201);
    expect((await post(3, 6)).statusCode).toBe(400);
    expect((await post(999, 4)).statusCode).toBe(404);
    const book = (await app.inject({ url: '/books/3' })).json();
    expect(book).toMatchObject({ reviews: 1, rating: 5 });
    expect((await app.inject({ url: '/books/3/reviews' })).json()).toHaveLength(1);
    const ben = await login('ben');
    expect((await post(4, 2, ben)).statusCode).toBe(201);
    expect((await app.inject({ url: '/top/books?period=alltime' })).json().map((e: { user: string }) => e.user)).toEqual(['3', '4']);
    // Equal scores rank by member, highest first, as ZRANGE … REV orders them.
    expect((await app.inject({ url: '/top/reviewers' })).json().map((e: { user: string; score: number }) => [e.user, e.score])).toEqual([
      ['ben', 1],
      ['ann', 1],
    ]);
  });

  it('limits reviews to 5 a minute per user with RateLimit headers and a problem+json 429', async () => {
    const cat = await login('cat');
    const statuses: number[] = [];
    let last: Awaited<ReturnType<typeof app.inject>> | undefined;
    for (let i = 0; i < 7; i++) {
      last = await app.inject({ method: 'POST', url: '/books/5/reviews', headers: cat, payload: { rating: 3, body: 'ok' } });
      statuses.push(last.statusCode);
    }
    expect(statuses).toEqual([201, 201, 201, 201, 201, 429, 429]);
    expect(last!.headers['ratelimit-policy']).toContain('"reviews";q=5;w=60');
    expect(Number(last!.headers['retry-after'])).toBeGreaterThan(0);
    expect(last!.headers['content-type']).toContain('application/problem+json');
    // Another user has a bucket of their own.
    const dan = await login('dan');
    expect(
      (await app.inject({ method: 'POST', url: '/books/5/reviews', headers: dan, payload: { rating: 3, body: 'ok' } })).statusCode,
    ).toBe(201);
  });

  // Real Redis has no CL.LEASE: there each instance falls back to its own insurance bucket.
  it.skipIf(AGAINST_REDIS)('shares the login limit between instances of the API (a global policy on the server)', async () => {
    const other = await buildApp({
      redis: conn(),
      subscriber: conn(),
      db,
      metadataUrl: stub.url,
      secret: 'a test secret of more than 32 bytes',
    });
    try {
      const bad = { user: 'nobody', password: 'wrong password' };
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) {
        for (const a of [app, other.app]) statuses.push((await a.inject({ method: 'POST', url: '/login', payload: bad })).statusCode);
      }
      expect(statuses.filter((s) => s === 401)).toHaveLength(20);
      expect(statuses.filter((s) => s === 429)).toHaveLength(4);
    } finally {
      await other.app.close();
    }
  });

  it('serves books without metadata while the metadata service is down, and recovers through the breaker', async () => {
    stub.setBroken(true);
    for (const b of [20, 21, 22])
      expect((await app.inject({ url: `/books/${b}` })).json()).toMatchObject({ degraded: true, metadata: null });
    const calls = stub.calls();
    expect((await app.inject({ url: '/books/23' })).json().degraded).toBe(true);
    expect(stub.calls()).toBe(calls); // open: the service is not called
    expect((await app.inject({ url: '/metrics' })).body).toMatch(/^breaker_open 1$/m);
    stub.setBroken(false);
    clock += 2_001;
    expect((await app.inject({ url: '/books/23' })).json()).toMatchObject({ degraded: false });
    expect((await app.inject({ url: '/metrics' })).body).toMatch(/^breaker_open 0$/m);
  });

  it('exposes metrics and documents its API', async () => {
    const metrics = (await app.inject({ url: '/metrics' })).body;
    expect(metrics).toMatch(/^http_requests_total\{route="\/books\/:id",status="200"\} \d+$/m);
    expect(metrics).toMatch(/^rate_limited_total\{policy="reviews"\} 2$/m);
    expect(metrics).toMatch(/^cache_hits_total\{tier="local"\} \d+$/m);
    const doc = (await app.inject({ url: '/openapi.json' })).json();
    expect(Object.keys(doc.paths)).toEqual(
      expect.arrayContaining(['/register', '/login', '/books', '/books/{id}', '/books/{id}/reviews', '/top/books', '/top/reviewers']),
    );
  });
});
