import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startServer, type TestServer } from '../helpers/server.js';
import { admin, http, startBackend, startProxyProc, waitFor, type Backend, type ProxyProc } from './helpers.js';

interface LevelStatus {
  policy: string;
  mode: string;
  scope: string;
  admitted: number;
  denied: number;
  delayed?: number;
  leaseRequests?: number;
  fallbacks?: number;
  unavailable?: boolean;
}
const levels = async (p: ProxyProc): Promise<LevelStatus[]> =>
  (await admin<{ limiter: { levels: LevelStatus[] } }>(p, 'GET', '/status')).json.limiter.levels;

describe('proxy rate limiting: queue mode and global policies', { timeout: 60_000 }, () => {
  let ok: Backend;
  const procs: ProxyProc[] = [];
  beforeAll(async () => {
    ok = await startBackend('ok');
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await ok.kill();
  });

  it('queue mode delays a burst instead of refusing it, and refuses beyond the burst with the configured status', async () => {
    const p = await startProxyProc({
      backends: [{ url: ok.url }],
      rateLimit: { status: 503, policies: [{ name: 'smooth', limit: 1, window: '2s', mode: 'queue', burst: 2 }] },
    });
    procs.push(p);
    const before = ok.hits;
    // Four at once: one goes now, two wait for their slots (2 s apart), the fourth finds the line full.
    const replies = await Promise.all([0, 1, 2, 3].map(() => http(p.url('/q'))));
    const statuses = replies.map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 503]);
    const refused = replies.find((r) => r.status === 503)!;
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(JSON.parse(refused.body)).toMatchObject({ status: 503, policy: 'smooth' });
    for (const r of replies.filter((x) => x.status === 200)) expect(r.headers['ratelimit-policy']).toBe('"smooth";q=3;w=2');
    expect(ok.hits - before).toBe(3);
    const [l] = await levels(p);
    expect(l).toMatchObject({ policy: 'smooth', mode: 'queue', admitted: 3, denied: 1, delayed: 2 });
    const metrics = (await http(`http://127.0.0.1:${p.adminPort}/metrics`)).body;
    expect(metrics).toContain('sabre_limiter_delayed_total{policy="smooth",tier=""} 2');
  });

  it('a client that leaves while its request waits for a slot is never forwarded', async () => {
    const p = await startProxyProc({
      backends: [{ url: ok.url }],
      rateLimit: { policies: [{ name: 'q', limit: 1, window: '2s', mode: 'queue', burst: 2 }] },
    });
    procs.push(p);
    const before = ok.hits;
    expect((await http(p.url('/a'))).status).toBe(200);
    // B takes the next slot, then hangs up before it comes.
    const b = connect(p.port, '127.0.0.1');
    await once(b, 'connect');
    b.write('GET /b HTTP/1.1\r\nHost: x\r\n\r\n');
    await waitFor(async () => (await levels(p))[0]!.delayed === 1, 5000, 'B to be queued');
    expect((await admin<{ limiter: { waiting: number } }>(p, 'GET', '/status')).json.limiter.waiting).toBe(1);
    expect((await http(`http://127.0.0.1:${p.adminPort}/metrics`)).body).toMatch(/^sabre_limiter_waiting 1$/m);
    b.destroy();
    // C's slot comes after B's: once C is answered, B's slot has passed too.
    const c = await http(p.url('/c'));
    expect(c.status).toBe(200);
    expect(ok.hits - before).toBe(2);
    expect((await admin<{ limiter: { waiting: number } }>(p, 'GET', '/status')).json.limiter.waiting).toBe(0);
  });

  it('a queued request body reaches the backend whole once its slot comes', async () => {
    const echo = await startBackend('echo', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => res.end(createHash('sha256').update(Buffer.concat(chunks)).digest('hex')));
      return true;
    });
    try {
      const p = await startProxyProc({
        backends: [{ url: echo.url }],
        rateLimit: { policies: [{ name: 'q', limit: 1, window: '2s', mode: 'queue', burst: 2 }] },
      });
      procs.push(p);
      const body = Buffer.alloc(300_000, 'abcdefgh');
      const want = createHash('sha256').update(body).digest('hex');
      const replies = await Promise.all([0, 1, 2].map(() => http(p.url('/upload'), { method: 'POST', body })));
      expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
      for (const r of replies) expect(r.body).toBe(want);
      expect((await levels(p))[0]).toMatchObject({ admitted: 3, delayed: 2 });
    } finally {
      await echo.kill();
    }
  });

  describe('global policies through a real sabre server', () => {
    let server: TestServer;
    let serverPort = 0;
    beforeAll(async () => {
      server = await startServer();
      serverPort = server.port;
    });
    afterAll(async () => {
      await server.stop();
    });

    it('share one limit across two proxy processes, follow onUnavailable while the server is down, and resume when it is back', async () => {
      const rateLimit = {
        // A generous reply timeout: on a loaded machine 250 ms can pass and would count as unreachable.
        server: { host: '127.0.0.1', port: serverPort, timeoutMs: 5000 },
        policies: [
          {
            name: 'g-closed',
            match: { path: '/closed/**' },
            key: { header: 'x-user' },
            limit: 3,
            window: '60s',
            scope: 'global',
            onUnavailable: 'closed',
          },
          {
            name: 'g-open',
            match: { path: '/open/**' },
            key: { header: 'x-user' },
            limit: 3,
            window: '60s',
            scope: 'global',
            onUnavailable: 'open',
          },
        ],
      };
      const a = await startProxyProc({ backends: [{ url: ok.url }], rateLimit });
      procs.push(a);
      const b = await startProxyProc({ backends: [{ url: ok.url }], rateLimit });
      procs.push(b);
      const get = (p: ProxyProc, path: string, user: string) => http(p.url(path), { headers: { 'x-user': user } });
      // Every thread of both proxies has its own server connection: probe with fresh users until all answer
      // through the server (a thread still connecting would apply "closed").
      let probe = 0;
      const settle = () =>
        waitFor(
          async () => {
            const r = await Promise.all([a, a, a, b, b, b].map((p) => get(p, '/closed/x', `probe${probe++}`)));
            const st = [...(await levels(a)), ...(await levels(b))].filter((l) => l.policy === 'g-closed');
            return r.every((x) => x.status === 200) && st.every((l) => !l.unavailable);
          },
          15_000,
          'every proxy thread to reach the server',
        );
      await settle();
      const trips = async () => {
        const st = [...(await levels(a)), ...(await levels(b))].filter((l) => l.policy === 'g-closed');
        return {
          admitted: st.reduce((n, l) => n + l.admitted, 0),
          trips: st.reduce((n, l) => n + l.leaseRequests!, 0),
          fallbacks: st.reduce((n, l) => n + l.fallbacks!, 0),
        };
      };
      const base = await trips();

      // Two processes of two threads each draw from one bucket in the server: exactly 3 of 8 pass.
      const first = [];
      for (let i = 0; i < 8; i++) first.push((await get(i % 2 ? a : b, '/closed/x', 'u1')).status);
      expect(first.filter((s) => s === 200)).toHaveLength(3);
      expect(first.filter((s) => s === 429)).toHaveLength(5);
      const now = await trips();
      expect(now.admitted - base.admitted).toBe(3);
      // Each admission is a round trip; a thread that saw a refusal answers its key's next ones until the server's retry time.
      expect(now.trips - base.trips).toBeGreaterThanOrEqual(4);
      expect(now.trips - base.trips).toBeLessThanOrEqual(8);
      expect(now.fallbacks).toBe(base.fallbacks);
      expect((await levels(a)).find((l) => l.policy === 'g-closed')).toMatchObject({ scope: 'global', unavailable: false });

      const closedBefore = (await levels(a)).find((l) => l.policy === 'g-closed')!.fallbacks!;
      await server.stop();
      // A fresh user: "closed" refuses, "open" admits, and both say the server is out.
      expect((await get(a, '/closed/x', 'u2')).status).toBe(429);
      expect((await get(a, '/open/x', 'u2')).status).toBe(200);
      const down = await levels(a);
      expect(down.find((l) => l.policy === 'g-closed')).toMatchObject({ unavailable: true, fallbacks: closedBefore + 1 });
      expect(down.find((l) => l.policy === 'g-open')).toMatchObject({ unavailable: true, fallbacks: 1 });
      const metrics = (await http(`http://127.0.0.1:${a.adminPort}/metrics`)).body;
      expect(metrics).toContain('sabre_limiter_server_unavailable{policy="g-closed",tier=""} 1');
      expect(metrics).toMatch(/^sabre_limiter_fallbacks_total\{policy="g-open",tier=""\} 1$/m);

      // Back on the same port (empty: no persistence): once the client reconnects, limiting is global again.
      server = await startServer(['--port', String(serverPort)]);
      await settle();
      const after = [];
      for (let i = 0; i < 6; i++) after.push((await get(i % 2 ? a : b, '/closed/x', 'u3')).status);
      expect(after.filter((s) => s === 200)).toHaveLength(3);
      expect(after.filter((s) => s === 429)).toHaveLength(3);
    }, 90_000);
  });
});
