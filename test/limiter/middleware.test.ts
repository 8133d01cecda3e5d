import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { rateLimit, withRateLimit } from '../../src/limiter/middleware.js';
import { PolicyEngine } from '../../src/limiter/policy.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0)) await f();
});

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanup.push(() => new Promise((r) => server.close(r)));
  return (server.address() as AddressInfo).port;
}

function get(
  port: number,
  path = '/',
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    const r = request({ host: '127.0.0.1', port, path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    r.on('error', reject);
    r.end();
  });
}

function engine(config: unknown): PolicyEngine {
  const e = new PolicyEngine(config);
  cleanup.push(() => e.close());
  return e;
}

describe('node:http middleware', () => {
  it('admits with headers, then answers 429 with Retry-After, RateLimit headers and problem+json', async () => {
    const e = engine({ policies: [{ name: 'default', limit: 2, window: '60s' }] });
    const port = await listen(createServer(withRateLimit(e, (_req, res) => res.end('ok'))));
    const ok = await get(port);
    expect(ok).toMatchObject({ status: 200, body: 'ok' });
    expect(ok.headers['ratelimit-policy']).toBe('"default";q=2;w=60');
    expect(ok.headers.ratelimit).toBe('"default";r=1;t=30');
    await get(port);
    const limited = await get(port);
    expect(limited.status).toBe(429);
    expect(limited.headers['content-type']).toBe('application/problem+json');
    expect(limited.headers['retry-after']).toBe('30');
    expect(limited.headers.ratelimit).toBe('"default";r=0;t=30');
    expect(JSON.parse(limited.body)).toMatchObject({ status: 429, title: 'Too Many Requests', policy: 'default' });
  });

  it('express-style (req, res, next) with a trusted X-Forwarded-For', async () => {
    const e = engine({ policies: [{ name: 'ip', limit: 1, window: '60s' }] });
    const mw = rateLimit(e, { trustForwardedFor: true });
    const seen: unknown[] = [];
    const port = await listen(
      createServer((req, res) =>
        mw(req, res, (err) => {
          seen.push(err);
          res.end('next');
        }),
      ),
    );
    expect((await get(port, '/', { 'x-forwarded-for': '203.0.113.7, 10.0.0.1' })).body).toBe('next');
    expect((await get(port, '/', { 'x-forwarded-for': '203.0.113.7' })).status).toBe(429);
    expect((await get(port, '/', { 'x-forwarded-for': '203.0.113.8' })).status).toBe(200);
    expect(seen).toEqual([undefined, undefined]);
  });

  it('queue mode: a queued request reaches the handler after its wait; beyond the burst it is refused', async () => {
    const e = engine({ policies: [{ name: 'q', limit: 1, window: '2s', mode: 'queue', burst: 1 }] });
    const order: string[] = [];
    const port = await listen(
      createServer(
        withRateLimit(e, (req, res) => {
          order.push(req.url!);
          res.end('ok');
        }),
      ),
    );
    const first = get(port, '/1');
    // The first request's decision is made before the second is sent.
    await first;
    const [second, third] = await Promise.all([get(port, '/2'), get(port, '/3')]);
    expect([second.status, third.status].sort()).toEqual([200, 429]);
    expect(order).toEqual(['/1', second.status === 200 ? '/2' : '/3']);
    expect(e.stats().levels[0]).toMatchObject({ admitted: 2, denied: 1, delayed: 1 });
  });
});
