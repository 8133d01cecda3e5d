// A login API (fastify) on the session store: POST /login, GET /me, GET/DELETE /sessions,
// POST /logout, POST /logout-all, GET /audit, GET /metrics.
// Usage: node examples/sessions/app.mjs [redis-port] [--serve [http-port]]
// Without a port it starts a Sabre server itself. Without --serve it runs a short demo and exits.
import { scryptSync, timingSafeEqual } from 'node:crypto';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { SessionError, createSessionStore } from './sessions.mjs';

/** A password hash with its salt (scrypt), as a real user table would keep it. */
export function hashPassword(password, salt = 'demo-salt') {
  return { salt, hash: scryptSync(password, salt, 32) };
}

/** Builds the app; `users` maps a user name to hashPassword()'s result. */
export async function buildApp({ redis, subscriber, users, secret, idleSec = 1800 }) {
  const store = createSessionStore({ redis, secret, idleSec });
  if (subscriber) await store.auditExpiries(subscriber);
  const app = Fastify();

  // Every route but /login and /metrics needs a valid session.
  app.decorateRequest('session', null);
  app.addHook('preHandler', async (req, reply) => {
    if (req.routeOptions.url === '/login' || req.routeOptions.url === '/metrics') return;
    const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? '');
    if (!m) return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'missing bearer token' });
    try {
      req.session = await store.verify(m[1]);
    } catch (err) {
      if (!(err instanceof SessionError)) throw err;
      return reply.code(401).header('www-authenticate', `Bearer error="invalid_token"`).send({ error: err.message });
    }
  });

  app.post(
    '/login',
    {
      schema: {
        body: {
          type: 'object',
          properties: { user: { type: 'string', minLength: 1, maxLength: 64 }, password: { type: 'string', minLength: 1, maxLength: 256 } },
          required: ['user', 'password'],
          additionalProperties: false,
        },
      },
    },
    async (req, reply) => {
      const u = users[req.body.user];
      const ok = u !== undefined && timingSafeEqual(hashPassword(req.body.password, u.salt).hash, u.hash);
      if (!ok) return reply.code(401).send({ error: 'wrong user or password' });
      return store.issue(req.body.user, { agent: String(req.headers['user-agent'] ?? 'unknown').slice(0, 120) });
    },
  );
  app.get('/me', async (req) => req.session);
  app.get('/sessions', async (req) => store.list(req.session.user));
  app.delete('/sessions/:sid', async (req, reply) => {
    const mine = (await store.list(req.session.user)).some((s) => s.sid === req.params.sid);
    if (!mine) return reply.code(404).send({ error: 'no such session' });
    await store.revoke(req.params.sid);
    return reply.code(204).send();
  });
  app.post('/logout', async (req, reply) => {
    await store.revoke(req.session.sid);
    return reply.code(204).send();
  });
  app.post('/logout-all', async (req) => ({ ended: await store.revokeAll(req.session.user) }));
  app.get('/audit', async () => store.auditLog());
  app.get('/metrics', async (_req, reply) =>
    reply
      .type('text/plain; version=0.0.4')
      .send(
        `# HELP sessions_active Sessions used within their idle TTL\n# TYPE sessions_active gauge\nsessions_active ${await store.activeCount()}\n`,
      ),
  );
  return { app, store };
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
  const users = { ann: hashPassword('correct horse'), bob: hashPassword('battery staple') };
  const { app } = await buildApp({ redis, subscriber, users, secret: 'change me: 32+ random bytes in production', idleSec: 2 });
  if (serveAt !== -1) {
    const httpPort = Number(args[serveAt + 1] ?? 3000);
    await app.listen({ port: httpPort, host: '127.0.0.1' });
    console.log(`listening on http://127.0.0.1:${httpPort} (Sabre on ${port}); users ann/"correct horse", bob/"battery staple"`);
  } else {
    const login = async (agent) =>
      (
        await app.inject({
          method: 'POST',
          url: '/login',
          headers: { 'user-agent': agent },
          payload: { user: 'ann', password: 'correct horse' },
        })
      ).json();
    const as = (token) => ({ authorization: `Bearer ${token}` });
    const phone = await login('phone');
    const laptop = await login('laptop');
    console.log('me:', (await app.inject({ url: '/me', headers: as(phone.token) })).json());
    console.log(
      'sessions:',
      (await app.inject({ url: '/sessions', headers: as(phone.token) })).json().map((s) => s.agent),
    );
    await app.inject({ method: 'DELETE', url: `/sessions/${laptop.sid}`, headers: as(phone.token) });
    console.log('laptop after revoke:', (await app.inject({ url: '/me', headers: as(laptop.token) })).statusCode);
    console.log(
      'wrong password:',
      (await app.inject({ method: 'POST', url: '/login', payload: { user: 'ann', password: 'x' } })).statusCode,
    );
    console.log('active:', (await app.inject({ url: '/metrics' })).body.trim().split('\n').pop());
    console.log('waiting 3 s for the idle phone session to expire…');
    await new Promise((r) => setTimeout(r, 3000));
    console.log('phone after idling:', (await app.inject({ url: '/me', headers: as(phone.token) })).statusCode);
    const fresh = await login('tablet');
    console.log(
      'audit:',
      (await app.inject({ url: '/audit', headers: as(fresh.token) }))
        .json()
        .map((e) => e.event)
        .join(', '),
    );
    await app.close();
    redis.disconnect();
    subscriber.disconnect();
    await server?.stop();
  }
}
