// A leaderboard REST API (fastify, with its OpenAPI document at /openapi.json) and live updates
// as server-sent events fed by pub/sub.
// Usage: node examples/leaderboard-api/app.mjs [redis-port] [--serve [http-port]]
// Without a port it starts a Sabre server itself. Without --serve it runs a short demo and exits.
import swagger from '@fastify/swagger';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { PERIODS, createBoards, decodeCursor } from './boards.mjs';

const user = { type: 'string', pattern: '^[A-Za-z0-9_.-]{1,32}$' };
const period = { type: 'string', enum: PERIODS };
const entry = { type: 'object', properties: { rank: { type: 'integer' }, user: { type: 'string' }, score: { type: 'number' } } };
const error = { type: 'object', properties: { error: { type: 'string' } } };

/** Builds the app; `subscriber` is a connection of its own that feeds /events. */
export async function buildApp({ redis, subscriber, game = 'demo', now }) {
  const boards = createBoards({ redis, game, now });
  const app = Fastify();
  await app.register(swagger, {
    openapi: { info: { title: 'Leaderboard API', version: '1.0.0', description: 'Leaderboards on Sabre sorted sets' } },
  });

  // One subscription for the process, fanned out to every open event stream.
  const streams = new Set();
  subscriber.on('message', (ch, msg) => {
    if (ch !== boards.channel) return;
    for (const res of streams) res.write(`event: score\ndata: ${msg}\n\n`);
  });
  await subscriber.subscribe(boards.channel);

  app.post(
    '/scores',
    {
      schema: {
        summary: 'Add points to a user on every board (atomic)',
        body: {
          type: 'object',
          properties: { user, points: { type: 'integer', minimum: -1_000_000, maximum: 1_000_000 } },
          required: ['user', 'points'],
          additionalProperties: false,
        },
        response: { 200: { type: 'object', properties: Object.fromEntries(PERIODS.map((p) => [p, { type: 'number' }])) } },
      },
    },
    async (req) => boards.addScore(req.body.user, req.body.points),
  );
  app.get(
    '/boards/:period/top',
    {
      schema: {
        summary: 'The top N of a board',
        params: { type: 'object', properties: { period }, required: ['period'] },
        querystring: { type: 'object', properties: { n: { type: 'integer', minimum: 1, maximum: 100, default: 10 } } },
        response: { 200: { type: 'array', items: entry } },
      },
    },
    async (req) => boards.top(req.params.period, req.query.n),
  );
  app.get(
    '/boards/:period',
    {
      schema: {
        summary: 'A page of a board, highest first; pass the previous answer’s `next` as `cursor`',
        params: { type: 'object', properties: { period }, required: ['period'] },
        querystring: {
          type: 'object',
          properties: { limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 }, cursor: { type: 'string' } },
        },
        response: {
          200: {
            type: 'object',
            properties: { items: { type: 'array', items: entry }, next: { type: ['string', 'null'] } },
          },
          400: error,
        },
      },
    },
    async (req, reply) => {
      const cursor = req.query.cursor === undefined ? null : decodeCursor(req.query.cursor);
      if (req.query.cursor !== undefined && cursor === null) return reply.code(400).send({ error: 'bad cursor' });
      return boards.page(req.params.period, req.query.limit, cursor);
    },
  );
  app.delete(
    '/boards/:period',
    {
      schema: { summary: 'Reset the current board of a period', params: { type: 'object', properties: { period }, required: ['period'] } },
    },
    async (req) => ({ reset: await boards.reset(req.params.period) }),
  );
  app.get(
    '/users/:user',
    {
      schema: {
        summary: 'A user’s rank and score on every board, and recent history',
        params: { type: 'object', properties: { user }, required: ['user'] },
        response: { 404: error },
      },
    },
    async (req, reply) => {
      const standings = Object.fromEntries(await Promise.all(PERIODS.map(async (p) => [p, await boards.standing(p, req.params.user)])));
      if (standings.alltime === null) return reply.code(404).send({ error: 'no such user' });
      return { user: req.params.user, standings, history: await boards.history(req.params.user) };
    },
  );
  app.get('/events', { schema: { summary: 'Score updates as server-sent events' } }, (req, reply) => {
    reply.hijack();
    reply.raw.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    reply.raw.write(': connected\n\n');
    streams.add(reply.raw);
    req.raw.on('close', () => streams.delete(reply.raw));
  });
  app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  app.addHook('onClose', async () => {
    for (const res of streams) res.end();
    await subscriber.unsubscribe(boards.channel);
  });
  return { app, boards };
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
  const { app } = await buildApp({ redis, subscriber });
  if (serveAt !== -1) {
    const httpPort = Number(args[serveAt + 1] ?? 3000);
    await app.listen({ port: httpPort, host: '127.0.0.1' });
    console.log(`listening on http://127.0.0.1:${httpPort}; API in /openapi.json, live updates on /events`);
  } else {
    for (const p of PERIODS) await app.inject({ method: 'DELETE', url: `/boards/${p}` });
    const add = (u, points) => app.inject({ method: 'POST', url: '/scores', payload: { user: u, points } });
    for (const [u, pts] of [
      ['alice', 120],
      ['bob', 95],
      ['carol', 183],
      ['dave', 70],
      ['erin', 141],
      ['bob', 60],
    ])
      await add(u, pts);
    console.log('top 3 today:', (await app.inject({ url: '/boards/daily/top?n=3' })).json());
    const first = (await app.inject({ url: '/boards/alltime?limit=2' })).json();
    const second = (await app.inject({ url: `/boards/alltime?limit=2&cursor=${first.next}` })).json();
    console.log(
      'page 1:',
      first.items.map((e) => e.user),
      'page 2:',
      second.items.map((e) => e.user),
    );
    console.log('bob:', (await app.inject({ url: '/users/bob' })).json().standings);
    console.log('bad period:', (await app.inject({ url: '/boards/monthly/top' })).statusCode);
    console.log('OpenAPI paths:', Object.keys((await app.inject({ url: '/openapi.json' })).json().paths).join(' '));
    await app.close();
    redis.disconnect();
    subscriber.disconnect();
    await server?.stop();
  }
}
