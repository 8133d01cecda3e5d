// The chat room in a browser: a fastify server with accounts (scrypt hashes on Sabre), sessions
// from examples/sessions, messages in over POST and out as server-sent events.
// Usage: node examples/chat-room/web.mjs [redis-port] [http-port]   then open http://127.0.0.1:3000
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { createAccounts } from '../sessions/accounts.mjs';
import { SessionError, createSessionStore } from '../sessions/sessions.mjs';
import { ChatClient, watchPresence } from './chat.mjs';

const PAGE = readFileSync(new URL('./public/index.html', import.meta.url));
const name = { type: 'string', pattern: '^[A-Za-z0-9_-]{1,24}$' };
const credentials = {
  type: 'object',
  properties: { user: name, password: { type: 'string', minLength: 8, maxLength: 256 } },
  required: ['user', 'password'],
  additionalProperties: false,
};

/** Builds the web app against the server at `port`; `secret` signs session tokens. */
export async function buildWebApp({ port, host = '127.0.0.1', secret }) {
  const redis = new Redis({ port, host });
  const sessions = createSessionStore({ redis, secret, prefix: 'chat:sess' });
  const accounts = createAccounts({ redis, key: 'chat:users' });
  const stopPresence = await watchPresence({ port, host });
  const app = Fastify();
  const clients = new Set();

  /** The session of a request's bearer token (header, or `token` query for EventSource), or null. */
  async function who(req) {
    const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1] ?? req.query.token;
    if (!token) return null;
    try {
      return await sessions.verify(token);
    } catch (err) {
      if (err instanceof SessionError) return null;
      throw err;
    }
  }

  app.get('/', (_req, reply) => reply.type('text/html; charset=utf-8').send(PAGE));
  app.post('/register', { schema: { body: credentials } }, async (req, reply) => {
    if (!(await accounts.register(req.body.user, req.body.password))) return reply.code(409).send({ error: 'user exists' });
    return reply.code(201).send(await sessions.issue(req.body.user));
  });
  app.post('/login', { schema: { body: credentials } }, async (req, reply) => {
    const ok = await accounts.check(req.body.user, req.body.password);
    if (!ok) return reply.code(401).send({ error: 'wrong user or password' });
    return sessions.issue(req.body.user);
  });
  const roomParams = { type: 'object', properties: { room: name }, required: ['room'] };
  app.post(
    '/rooms/:room/messages',
    {
      schema: {
        params: roomParams,
        body: {
          type: 'object',
          properties: { text: { type: 'string', minLength: 1, maxLength: 1000 } },
          required: ['text'],
          additionalProperties: false,
        },
      },
    },
    async (req, reply) => {
      const s = await who(req);
      if (!s) return reply.code(401).send({ error: 'log in first' });
      const c = new ChatClient({ port, host }, req.params.room, s.user);
      try {
        await c.say(req.body.text);
      } finally {
        c.crash(); // a one-shot poster: no presence, no goodbye
      }
      return reply.code(204).send();
    },
  );
  app.get('/rooms/:room/events', { schema: { params: roomParams } }, async (req, reply) => {
    const s = await who(req);
    if (!s) return reply.code(401).send({ error: 'log in first' });
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
    const c = new ChatClient({ port, host }, req.params.room, s.user);
    const send = (m) => res.write(`data: ${JSON.stringify(m)}\n\n`);
    for (const m of await c.history(50)) send(m);
    c.onMessage(send);
    await c.join();
    clients.add(c);
    req.raw.on('close', () => {
      clients.delete(c);
      c.leave().catch(() => {});
    });
  });
  app.get('/rooms/:room/members', { schema: { params: roomParams } }, async (req) => {
    const c = new ChatClient({ port, host }, req.params.room, '-');
    try {
      return await c.members();
    } finally {
      c.crash();
    }
  });
  app.addHook('onClose', async () => {
    for (const c of clients) await c.leave().catch(() => {});
    await stopPresence();
    redis.disconnect();
  });
  return app;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { startSabre } = await import('../lib/sabre.mjs');
  const given = Number(process.argv[2] ?? 0);
  const server = given ? null : await startSabre();
  const app = await buildWebApp({ port: given || server.port, secret: randomBytes(32).toString('hex') });
  const address = await app.listen({ port: Number(process.argv[3] ?? 3000), host: '127.0.0.1' });
  console.log(`chat on ${address} (Sabre on port ${given || server.port}); Ctrl-C stops`);
  process.on('SIGINT', async () => {
    await app.close();
    await server?.stop();
    process.exit(0);
  });
}
