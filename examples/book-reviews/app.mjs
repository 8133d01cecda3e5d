// The capstone: a book reviews API that puts the cookbook together on one Sabre (or Redis):
// SQLite as the system of record, read-through caching with a policy per resource type and
// invalidation on writes, sessions, rate limits per user and endpoint (sabre/limiter), a circuit
// breaker around the external metadata service, live leaderboards, metrics and an OpenAPI document.
// Usage: node examples/book-reviews/app.mjs [redis-port] [--port 3000] [--metadata URL] [--no-cache]
import swagger from '@fastify/swagger';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { PolicyEngine } from 'sabre/limiter';
import { createCache } from '../caching/cache.mjs';
import { createBreaker } from '../circuit-breaker/breaker.mjs';
import { createBoards } from '../leaderboard-api/boards.mjs';
import { createAccounts } from '../sessions/accounts.mjs';
import { SessionError, createSessionStore } from '../sessions/sessions.mjs';
import { openDb } from './db.mjs';

/**
 * Rate limits: per user and endpoint once logged in (x-user is the session's user), per IP before.
 * Logins and reviews are global: every instance of the API draws on one bucket on the server
 * (CL.LEASE), so running more instances does not raise the limit.
 */
export function limitsFor({ host = '127.0.0.1', port }) {
  return {
    policies: [
      {
        name: 'reviews',
        key: { header: 'x-user' },
        match: { methods: ['POST'], path: '/books/:id/reviews' },
        limit: 5,
        window: '60s',
        scope: 'global',
      },
      { name: 'reads', key: { header: 'x-user' }, match: { methods: ['GET'], path: '/books/**' }, limit: 600, window: '1m' },
      { name: 'login', key: 'ip', match: { methods: ['POST'], path: '/login' }, limit: 20, window: '60s', scope: 'global' },
    ],
    server: { host, port },
  };
}

const id = { type: 'object', properties: { id: { type: 'integer', minimum: 1 } }, required: ['id'] };
const credentials = {
  type: 'object',
  properties: { user: { type: 'string', pattern: '^[A-Za-z0-9_-]{1,24}$' }, password: { type: 'string', minLength: 8, maxLength: 256 } },
  required: ['user', 'password'],
  additionalProperties: false,
};

/**
 * Builds the API. `cache: false` serves every read from SQLite and the metadata service (for the
 * comparison in the README); `limits` replaces limitsFor(the server `redis` talks to).
 */
export async function buildApp({ redis, subscriber, db, metadataUrl, secret, cache: useCache = true, limits, breakerOptions = {} }) {
  const cache = await createCache({ redis, subscriber, namespace: 'br', ttlMs: 60_000 });
  const sessions = createSessionStore({ redis, secret, prefix: 'br:sess' });
  const accounts = createAccounts({ redis, key: 'br:users' });
  const breaker = createBreaker({ redis, name: 'metadata', consecutiveFailures: 3, openMs: 2_000, ...breakerOptions });
  const topBooks = createBoards({ redis, game: 'books' });
  const topReviewers = createBoards({ redis, game: 'reviewers' });
  const limiter = new PolicyEngine(limits ?? limitsFor({ host: redis.options.host, port: redis.options.port }));

  const registry = new Registry();
  const requests = new Counter({
    name: 'http_requests_total',
    help: 'Requests by route and status',
    labelNames: ['route', 'status'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time to answer, by route',
    labelNames: ['route'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1],
    registers: [registry],
  });
  const limited = new Counter({
    name: 'rate_limited_total',
    help: 'Requests refused with 429, by policy',
    labelNames: ['policy'],
    registers: [registry],
  });
  new Gauge({
    name: 'breaker_open',
    help: '1 while the metadata breaker refuses calls',
    registers: [registry],
    async collect() {
      this.set((await breaker.status()).state === 'closed' ? 0 : 1);
    },
  });

  // Cache policies per resource type: what changes often lives briefly, what is read a lot slides.
  const direct = {
    metadata: async (isbn) => {
      const res = await fetch(`${metadataUrl}/isbn/${isbn}`);
      if (!res.ok) throw new Error(`metadata service answered ${res.status}`);
      return res.json();
    },
    book: async (bookId) => db.book(bookId),
    books: async (after, limit) => db.books(after, limit),
    reviews: async (bookId) => db.reviews(bookId),
  };
  const read = useCache
    ? {
        metadata: cache.cached(direct.metadata, { name: 'meta', key: (isbn) => isbn, ttlMs: 3_600_000 }),
        book: cache.cached(direct.book, { name: 'book', key: String, tags: (b) => [`book:${b}`], ttlMs: 300_000, sliding: true }),
        books: cache.cached(direct.books, { name: 'books', key: (a, l) => `${a}:${l}`, tags: () => ['books'], ttlMs: 30_000 }),
        reviews: cache.cached(direct.reviews, { name: 'reviews', key: String, tags: (b) => [`book:${b}`], ttlMs: 60_000 }),
      }
    : direct;

  /** Metadata through the breaker: while the service is down or the breaker open, the book is served without it. */
  const metadata = (isbn) =>
    breaker.call(
      () => read.metadata(isbn),
      () => null,
    );

  const app = Fastify();
  await app.register(swagger, { openapi: { info: { title: 'Book reviews API', version: '1.0.0' } } });
  app.decorateRequest('user', null);
  app.addHook('onRequest', async (req, reply) => {
    req.startedAt = performance.now();
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1];
    if (token) {
      try {
        req.user = (await sessions.verify(token)).user;
      } catch (err) {
        if (!(err instanceof SessionError)) throw err;
        return reply.code(401).header('www-authenticate', 'Bearer error="invalid_token"').send({ error: err.message });
      }
    }
    const d = await limiter.evaluate({
      method: req.method,
      path: req.url.split('?')[0],
      ip: req.ip,
      header: (name) => (name === 'x-user' ? (req.user ?? undefined) : req.headers[name]),
    });
    reply.headers(d.headers);
    if (!d.allowed) {
      if (d.policy) limited.inc({ policy: d.policy });
      return reply.code(d.status).type('application/problem+json').send(d.body);
    }
  });
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    requests.inc({ route, status: reply.statusCode });
    duration.observe({ route }, (performance.now() - req.startedAt) / 1000);
  });
  const needUser = async (req, reply) => {
    if (!req.user) return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'log in first' });
  };

  app.post('/register', { schema: { summary: 'Create an account and a session', body: credentials } }, async (req, reply) => {
    if (!(await accounts.register(req.body.user, req.body.password))) return reply.code(409).send({ error: 'user exists' });
    return reply.code(201).send(await sessions.issue(req.body.user));
  });
  app.post('/login', { schema: { summary: 'Open a session', body: credentials } }, async (req, reply) => {
    if (!(await accounts.check(req.body.user, req.body.password))) return reply.code(401).send({ error: 'wrong user or password' });
    return sessions.issue(req.body.user);
  });
  app.get(
    '/books',
    {
      schema: {
        summary: 'Books by id, a page at a time (after = the last id seen)',
        querystring: {
          type: 'object',
          properties: {
            after: { type: 'integer', minimum: 0, default: 0 },
            limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
          },
        },
      },
    },
    async (req) => read.books(req.query.after, req.query.limit),
  );
  app.get('/books/:id', { schema: { summary: 'A book, its rating and its metadata', params: id } }, async (req, reply) => {
    const book = await read.book(req.params.id);
    if (book === null) return reply.code(404).send({ error: 'no such book' });
    const meta = await metadata(book.isbn);
    return { ...book, metadata: meta, degraded: meta === null };
  });
  app.get('/books/:id/reviews', { schema: { summary: 'The newest reviews of a book', params: id } }, async (req) =>
    read.reviews(req.params.id),
  );
  app.post(
    '/books/:id/reviews',
    {
      preHandler: needUser,
      schema: {
        summary: 'Review a book (logged in; 5 per minute per user)',
        params: id,
        body: {
          type: 'object',
          properties: { rating: { type: 'integer', minimum: 1, maximum: 5 }, body: { type: 'string', minLength: 1, maxLength: 5000 } },
          required: ['rating', 'body'],
          additionalProperties: false,
        },
      },
    },
    async (req, reply) => {
      const reviewId = db.addReview(req.params.id, req.user, req.body.rating, req.body.body);
      if (reviewId === null) return reply.code(404).send({ error: 'no such book' });
      // The book's rating and its reviews changed: drop both everywhere.
      await cache.invalidateTag(`book:${req.params.id}`);
      await topBooks.addScore(String(req.params.id), req.body.rating);
      await topReviewers.addScore(req.user, 1);
      return reply.code(201).send({ id: reviewId });
    },
  );
  const period = { type: 'object', properties: { period: { type: 'string', enum: ['daily', 'weekly', 'alltime'], default: 'weekly' } } };
  app.get('/top/books', { schema: { summary: 'Books with the most review stars', querystring: period } }, async (req) =>
    topBooks.top(req.query.period, 10),
  );
  app.get('/top/reviewers', { schema: { summary: 'Users with the most reviews', querystring: period } }, async (req) =>
    topReviewers.top(req.query.period, 10),
  );
  app.get('/metrics', { schema: { hide: true } }, async (_req, reply) =>
    reply.type(registry.contentType).send(`${await registry.metrics()}\n${await cache.metrics()}`),
  );
  app.get('/health', { schema: { hide: true } }, async () => ({ ok: true }));
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.addHook('onClose', async () => {
    limiter.close();
    await cache.close();
  });
  return { app, cache, breaker };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const opt = (name, fallback) => (args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
  const given = args[0] && !args[0].startsWith('--') ? Number(args[0]) : 0;
  const { startSabre } = await import('../lib/sabre.mjs');
  const { startMetadataStub } = await import('./metadata-stub.mjs');
  const server = given ? null : await startSabre();
  const stub = opt('--metadata') ? null : await startMetadataStub();
  const port = given || server.port;
  const { app } = await buildApp({
    redis: new Redis({ port, host: '127.0.0.1' }),
    subscriber: new Redis({ port, host: '127.0.0.1' }),
    db: openDb(),
    metadataUrl: opt('--metadata', stub?.url),
    secret: opt('--secret', 'demo secret: use 32+ random bytes in production'),
    cache: !args.includes('--no-cache'),
  });
  const address = await app.listen({ port: Number(opt('--port', 3000)), host: '127.0.0.1' });
  console.log(`book reviews API on ${address} (Sabre on ${port}); /openapi.json documents it`);
}
