// A fastify API that calls a flaky "quotes" service through a breaker shared on Sabre, with a
// fallback while it is open, an admin endpoint to open/close it by hand, and the state changes
// from every process logged for alerting.
// Usage: node examples/circuit-breaker/app.mjs [redis-port] [--serve [http-port]]
import { createServer } from 'node:http';
import Fastify from 'fastify';
import { Redis } from 'ioredis';
import { createBreaker } from './breaker.mjs';

/** A dependency that fails while `broken` is set; counts the calls that reached it. */
export async function startQuoteService() {
  const svc = { broken: false, calls: 0 };
  const server = createServer((_req, res) => {
    svc.calls++;
    if (svc.broken) res.writeHead(503).end('down');
    else
      res
        .writeHead(200, { 'content-type': 'application/json' })
        .end(JSON.stringify({ quote: 'Simplicity is prerequisite for reliability.' }));
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  svc.url = `http://127.0.0.1:${server.address().port}`;
  svc.close = () => new Promise((r) => server.close(r));
  return svc;
}

/** Builds the app for one process: its own breaker handle on the shared state. */
export function buildApp({ redis, serviceUrl, breakerOptions = {} }) {
  const breaker = createBreaker({ redis, name: 'quotes', consecutiveFailures: 3, openMs: 1_000, ...breakerOptions });
  const app = Fastify();
  app.get('/quote', async (_req, reply) =>
    breaker.call(
      async () => {
        const res = await fetch(`${serviceUrl}/quote`);
        if (!res.ok) throw new Error(`quotes answered ${res.status}`);
        return res.json();
      },
      (err) =>
        reply.code(503).header('retry-after', '1').send({ error: 'quotes unavailable', reason: err.message, fallback: 'Try again soon.' }),
    ),
  );
  app.get('/admin/breaker', async () => breaker.status());
  app.post(
    '/admin/breaker',
    {
      schema: {
        body: { type: 'object', properties: { state: { enum: ['open', 'closed'] } }, required: ['state'], additionalProperties: false },
      },
    },
    async (req) => {
      if (req.body.state === 'open') await breaker.forceOpen();
      else await breaker.forceClose();
      return breaker.status();
    },
  );
  return { app, breaker };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { startSabre } = await import('../lib/sabre.mjs');
  const args = process.argv.slice(2);
  const serveAt = args.indexOf('--serve');
  const given = args[0] && args[0] !== '--serve' ? Number(args[0]) : 0;
  const server = given ? null : await startSabre();
  const port = given || server.port;
  const svc = await startQuoteService();
  const conns = [0, 1, 2].map(() => new Redis({ port, host: '127.0.0.1' }));
  await conns[0].del('breaker:{quotes}');
  // Two "processes" (two apps with their own connections) share one breaker; a third connection listens for alerts.
  const one = buildApp({ redis: conns[0], serviceUrl: svc.url });
  const two = buildApp({ redis: conns[1], serviceUrl: svc.url });
  conns[2].on('message', (_ch, msg) => {
    const e = JSON.parse(msg);
    console.log(`  alert: ${e.name} ${e.from} → ${e.to} (${e.reason})`);
  });
  await conns[2].subscribe('breaker:events');
  if (serveAt !== -1) {
    const httpPort = Number(args[serveAt + 1] ?? 3000);
    await one.app.listen({ port: httpPort, host: '127.0.0.1' });
    console.log(`listening on http://127.0.0.1:${httpPort}: GET /quote, GET/POST /admin/breaker`);
  } else {
    const hit = async (app) => (await app.inject({ url: '/quote' })).statusCode;
    console.log('healthy:', await hit(one.app), await hit(two.app));
    svc.broken = true;
    console.log('service breaks; process one sees', [await hit(one.app), await hit(one.app), await hit(one.app)].join(' '));
    const before = svc.calls;
    console.log(
      'process two while open:',
      [await hit(two.app), await hit(two.app)].join(' '),
      `(calls reaching the service: ${svc.calls - before})`,
    );
    svc.broken = false;
    await new Promise((r) => setTimeout(r, 1_100));
    console.log('after the open timeout, a trial call from two:', await hit(two.app), '→ one:', await hit(one.app));
    await one.app.inject({ method: 'POST', url: '/admin/breaker', payload: { state: 'open' } });
    console.log('opened by an operator; two:', await hit(two.app));
    await one.app.inject({ method: 'POST', url: '/admin/breaker', payload: { state: 'closed' } });
    console.log('closed by an operator; two:', await hit(two.app));
    await new Promise((r) => setTimeout(r, 100));
    for (const c of conns) c.disconnect();
    await svc.close();
    await server?.stop();
  }
}
