// An HTTP API (fastify) whose reads go through the cache: weather from a slow upstream and
// articles from SQLite, with write-through on updates and invalidation by tag on new comments.
// Usage: node examples/caching/app.mjs [redis-port] [--serve [http-port]]
// Without a port it starts a Sabre server itself. Without --serve it runs a short demo and exits.
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { createCache } from './cache.mjs';
import { openDb } from './db.mjs';
import { startWeatherStub } from './weather-stub.mjs';

const idParam = {
  type: 'object',
  properties: { id: { type: 'integer', minimum: 1 } },
  required: ['id'],
};

/** Builds the fastify app over a cache made from `redis`/`subscriber`, the database and the weather upstream. */
export async function buildApp({ redis, subscriber, db, weatherUrl }) {
  const cache = await createCache({ redis, subscriber, namespace: 'demo', ttlMs: 60_000, jitter: 0.1 });
  const app = Fastify();

  const weather = cache.cached(
    async (city) => {
      const res = await fetch(`${weatherUrl}/weather/${city}`);
      if (!res.ok) throw new Error(`weather upstream answered ${res.status}`);
      return res.json();
    },
    { name: 'weather', key: (city) => city, ttlMs: 30_000 },
  );
  // Articles stay cached while people read them (sliding), and are filed under a tag to drop on writes.
  const article = cache.cached(async (id) => db.getArticle(id), {
    name: 'article',
    key: (id) => String(id),
    tags: (id) => [`article:${id}`],
    sliding: true,
    ttlMs: 120_000,
  });

  app.get(
    '/weather/:city',
    { schema: { params: { type: 'object', properties: { city: { type: 'string', pattern: '^[a-z-]{1,40}$' } } } } },
    (req) => weather(req.params.city),
  );
  app.get('/articles/:id', { schema: { params: idParam } }, async (req, reply) => {
    const a = await article(req.params.id);
    return a ?? reply.code(404).send({ error: 'no such article' });
  });
  app.post(
    '/articles/:id/comments',
    {
      schema: {
        params: idParam,
        body: {
          type: 'object',
          properties: { author: { type: 'string', minLength: 1, maxLength: 60 }, body: { type: 'string', minLength: 1, maxLength: 2000 } },
          required: ['author', 'body'],
          additionalProperties: false,
        },
      },
    },
    async (req, reply) => {
      const id = db.addComment(req.params.id, req.body.author, req.body.body);
      if (id === null) return reply.code(404).send({ error: 'no such article' });
      await cache.invalidateTag(`article:${req.params.id}`);
      return reply.code(201).send({ id });
    },
  );
  app.put(
    '/articles/:id',
    {
      schema: {
        params: idParam,
        body: {
          type: 'object',
          properties: { title: { type: 'string', minLength: 1, maxLength: 200 }, body: { type: 'string', minLength: 1 } },
          required: ['title', 'body'],
          additionalProperties: false,
        },
      },
    },
    async (req, reply) => {
      const { id } = req.params;
      const fresh = await cache.writeThrough(() => (db.updateArticle(id, req.body.title, req.body.body) ? db.getArticle(id) : null), {
        name: 'article',
        args: [id],
        key: (x) => String(x),
        tags: [`article:${id}`],
      });
      return fresh ?? reply.code(404).send({ error: 'no such article' });
    },
  );
  app.delete(
    '/cache',
    { schema: { querystring: { type: 'object', properties: { pattern: { type: 'string', minLength: 1 } }, required: ['pattern'] } } },
    async (req) => ({
      removed: await cache.invalidatePattern(req.query.pattern),
    }),
  );
  app.get('/metrics', async (_req, reply) => reply.type(cache.metricsContentType).send(await cache.metrics()));
  app.addHook('onClose', () => cache.close());
  return { app, cache };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { startSabre } = await import('../lib/sabre.mjs');
  const args = process.argv.slice(2);
  const serveAt = args.indexOf('--serve');
  const given = args[0] && args[0] !== '--serve' ? Number(args[0]) : 0;
  const server = given ? null : await startSabre();
  const port = given || server.port;
  const redis = new Redis({ port, host: '127.0.0.1' });
  const subscriber = new Redis({ port, host: '127.0.0.1' });
  const stub = await startWeatherStub(150);
  const db = openDb();
  const { app, cache } = await buildApp({ redis, subscriber, db, weatherUrl: stub.url });
  if (serveAt !== -1) {
    const httpPort = Number(args[serveAt + 1] ?? 3000);
    await app.listen({ port: httpPort, host: '127.0.0.1' });
    console.log(`listening on http://127.0.0.1:${httpPort} (Sabre on ${port}); try /weather/paris, /articles/1, /metrics`);
  } else {
    await cache.invalidatePattern('*');
    const time = async (url) => {
      const t0 = performance.now();
      const res = await app.inject({ url });
      return { ms: performance.now() - t0, status: res.statusCode };
    };
    const cold = await time('/weather/paris');
    const warm = [];
    for (let i = 0; i < 20; i++) warm.push((await time('/weather/paris')).ms);
    warm.sort((a, b) => a - b);
    console.log(
      `weather: first read ${cold.ms.toFixed(1)} ms (upstream), cached median ${warm[10].toFixed(2)} ms, upstream calls ${stub.calls()}`,
    );
    await Promise.all(Array.from({ length: 50 }, () => app.inject({ url: '/weather/oslo' })));
    console.log(`50 concurrent first reads of oslo: upstream calls for it ${stub.calls() - 1}`);
    const q0 = db.stats.queries;
    for (let i = 0; i < 10; i++) await app.inject({ url: '/articles/7' });
    console.log(`10 reads of article 7: ${db.stats.queries - q0} database query`);
    await app.inject({ method: 'POST', url: '/articles/7/comments', payload: { author: 'ann', body: 'Nice one' } });
    const after = (await app.inject({ url: '/articles/7' })).json();
    console.log(`after a comment: ${after.comments.length} comment(s) served`);
    console.log(`bad id: ${(await app.inject({ url: '/articles/zero' })).statusCode}`);
    console.log(
      (await app.inject({ url: '/metrics' })).body
        .split('\n')
        .filter((l) => l.startsWith('cache_'))
        .join('\n'),
    );
    await app.close();
    redis.disconnect();
    subscriber.disconnect();
    await stub.close();
    db.close();
    await server?.stop();
  }
}
