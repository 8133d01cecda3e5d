import { once } from 'node:events';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type AddressInfo, createServer as createNetServer, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { admin, http, startBackend, startProxyProc, waitFor, type Backend, type Reply } from './helpers.js';

/** A backend that holds every request until release() answers them all with its name. */
async function holding(name: string): Promise<Backend & { held: ServerResponse[]; release(): void }> {
  const held: ServerResponse[] = [];
  const b = await startBackend(name, (req: IncomingMessage, res: ServerResponse) => {
    req.resume();
    held.push(res);
    return true;
  });
  return Object.assign(b, {
    held,
    release() {
      for (const r of held.splice(0)) r.end(name);
    },
  });
}

/** A backend that answers `status` to everything but health checks. */
function answering(name: string, status: number): Promise<Backend> {
  return startBackend(name, (req, res) => {
    req.resume();
    res.statusCode = status;
    res.end(name);
    return true;
  });
}

type PoolJson = {
  name: string;
  active: number;
  circuitBreaker: { open: boolean; connections: number; pending: number; trips: Record<string, number> } | null;
  outlierDetection: { ejectedNow: number; maxEjected: number; ejectionsTotal: number } | null;
  retryBudget: { activeRetries: number; refused: number } | null;
  backends: Array<{ url: string; ejected: boolean; ejections: number; effectiveWeight: number; slowStart: boolean }>;
};

describe('proxy resilience', () => {
  const cleanup: Array<() => Promise<unknown>> = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it('circuit breaker: past maxRequests (over both threads) answers 503 with a body and a metric, and recovers', async () => {
    const b = await holding('held');
    cleanup.push(() => b.kill());
    const p = await startProxyProc({
      backends: [],
      routes: [{ match: { pathPrefix: '/' }, pool: 'api' }],
      pools: { api: { backends: [{ url: b.url }], circuitBreaker: { maxRequests: 3 } } },
    });
    cleanup.push(() => p.stop());
    const pending = [http(p.url('/1')), http(p.url('/2')), http(p.url('/3'))];
    await waitFor(() => b.held.length === 3, 5000, 'three held requests');
    const refused = await Promise.all([http(p.url('/4')), http(p.url('/5'))]);
    for (const r of refused) {
      expect(r.status).toBe(503);
      expect(JSON.parse(r.body)).toEqual({
        error: 'service unavailable',
        reason: 'circuit breaker open',
        pool: 'api',
        limit: 'maxRequests',
      });
    }
    const open = await admin<{ pools: PoolJson[] }>(p, 'GET', '/status');
    expect(open.json.pools[1]!.circuitBreaker).toMatchObject({ open: true, trips: { maxRequests: 2, maxConnections: 0 } });
    expect(open.json.pools[1]!.active).toBe(3);
    const m = await admin(p, 'GET', '/metrics');
    expect(m.json).toContain('sabre_proxy_circuit_breaker_trips_total{pool="api",limit="maxRequests"} 2');
    b.release();
    expect((await Promise.all(pending)).map((r) => r.status)).toEqual([200, 200, 200]);
    // Closed again: a request goes through (answered as soon as it is held).
    const next = http(p.url('/6'));
    await waitFor(() => b.held.length === 1, 5000, 'the next request');
    b.release();
    expect((await next).status).toBe(200);
    const closed = await admin<{ pools: PoolJson[] }>(p, 'GET', '/status');
    expect(closed.json.pools[1]!.circuitBreaker).toMatchObject({ open: false });
  });

  it('circuit breaker: maxConnections refuses a request that needs another upstream connection, not one that reuses an idle one', async () => {
    const b = await holding('held');
    cleanup.push(() => b.kill());
    const p = await startProxyProc({
      threads: 1,
      backends: [],
      routes: [{ match: {}, pool: 'api' }],
      pools: { api: { backends: [{ url: b.url }], circuitBreaker: { maxConnections: 1 } } },
    });
    cleanup.push(() => p.stop());
    const first = http(p.url('/a'));
    await waitFor(() => b.held.length === 1, 5000, 'the held request');
    const second = await http(p.url('/b'));
    expect(second.status).toBe(503);
    expect(JSON.parse(second.body)).toMatchObject({ reason: 'circuit breaker open', limit: 'maxConnections' });
    b.release();
    expect((await first).status).toBe(200);
    const third = http(p.url('/c'));
    await waitFor(() => b.held.length === 1, 5000, 'a request on the kept connection');
    b.release();
    expect((await third).status).toBe(200);
    const st = await admin<{ pools: PoolJson[] }>(p, 'GET', '/status');
    expect(st.json.pools[1]!.circuitBreaker).toMatchObject({ connections: 1, trips: { maxConnections: 1 } });
  });

  it('circuit breaker: maxPendingRequests refuses a request while another waits for its connection to be established', async () => {
    // An https:// backend whose TLS handshake never completes: the connection stays pending.
    const sockets = new Set<Socket>();
    const stall = createNetServer((sock) => {
      sockets.add(sock);
      sock.resume();
    });
    stall.listen(0, '127.0.0.1');
    await once(stall, 'listening');
    cleanup.push(async () => {
      for (const sock of sockets) sock.destroy();
      stall.close();
    });
    const p = await startProxyProc({
      threads: 1,
      backends: [],
      // The pending request never ends: stop without waiting for it.
      timeouts: { shutdown: 100 },
      routes: [{ match: {}, pool: 'api' }],
      pools: {
        api: {
          backends: [{ url: `https://127.0.0.1:${(stall.address() as AddressInfo).port}` }],
          healthCheck: { type: 'tcp' },
          timeouts: { connect: 60_000 },
          circuitBreaker: { maxPendingRequests: 1 },
        },
      },
    });
    cleanup.push(() => p.stop());
    void http(p.url('/a')).catch(() => undefined);
    await waitFor(
      async () => (await admin<{ pools: PoolJson[] }>(p, 'GET', '/status')).json.pools[1]!.circuitBreaker!.pending === 1,
      5000,
      'one request pending',
    );
    const second = await http(p.url('/b'));
    expect(second.status).toBe(503);
    expect(JSON.parse(second.body)).toMatchObject({ reason: 'circuit breaker open', limit: 'maxPendingRequests' });
    const st = await admin<{ pools: PoolJson[] }>(p, 'GET', '/status');
    expect(st.json.pools[1]!.circuitBreaker).toMatchObject({ open: true, trips: { maxPendingRequests: 1 } });
  });

  it('outlier detection: ejects after consecutive 5xx, never more than maxEjectionPercent of the pool', async () => {
    const [bad1, bad2, good] = await Promise.all([answering('bad1', 500), answering('bad2', 503), answering('good', 200)]);
    cleanup.push(() => Promise.all([bad1, bad2, good].map((b) => b.kill())));
    const p = await startProxyProc({
      backends: [],
      routes: [{ match: {}, pool: 'api' }],
      pools: {
        api: {
          algorithm: 'round-robin',
          backends: [bad1, bad2, good].map((b) => ({ url: b.url })),
          retries: 0,
          // 50% of 3 backends: one may be out at a time.
          outlierDetection: { consecutive5xx: 3, baseEjectionMs: 600_000, maxEjectionMs: 600_000, maxEjectionPercent: 50 },
        },
      },
    });
    cleanup.push(() => p.stop());
    const replies: Reply[] = [];
    for (let i = 0; i < 30; i++) replies.push(await http(p.url('/')));
    const st = await admin<{ pools: PoolJson[] }>(p, 'GET', '/status');
    const pool = st.json.pools[1]!;
    expect(pool.outlierDetection).toEqual({ ejectedNow: 1, maxEjected: 1, ejectionsTotal: 1 });
    // Round-robin over three: whichever bad backend reached 3 in a row first was ejected after exactly 3 answers;
    // the other stays in (the share is taken) and keeps being asked.
    const ejected = pool.backends.filter((b) => b.ejected);
    expect(ejected).toHaveLength(1);
    const [out, kept] = ejected[0]!.url === bad1.url ? [bad1, bad2] : [bad2, bad1];
    expect(out.hits).toBe(3);
    expect(kept.hits).toBeGreaterThan(3);
    expect(replies.filter((r) => r.status === 200).length).toBe(good.hits);
    const m = await admin(p, 'GET', '/metrics');
    expect(m.json).toContain('sabre_proxy_outlier_ejections_total{pool="api"} 1');
    expect(m.json).toContain(`sabre_proxy_backend_ejected{backend="${out.url}",pool="api"} 1`);
  });

  it('retry budget: retries in flight stay within budgetPercent of the requests in flight; the rest answer 502', async () => {
    // `flaky` holds its requests until told to reset them; `slow` holds its own until released.
    const sockets: Array<IncomingMessage> = [];
    const flaky = await startBackend('flaky', (req) => {
      sockets.push(req);
      return true;
    });
    const slow = await holding('slow');
    cleanup.push(() => Promise.all([flaky.kill(), slow.kill()]));
    const p = await startProxyProc({
      backends: [],
      routes: [{ match: {}, pool: 'api' }],
      pools: {
        api: {
          algorithm: 'round-robin',
          backends: [{ url: flaky.url }, { url: slow.url }],
          retries: 1,
          healthCheck: { fall: 100 },
          retryBudget: { budgetPercent: 25, minRetryConcurrency: 0 },
        },
      },
    });
    cleanup.push(() => p.stop());
    const pending = Array.from({ length: 8 }, (_, i) => http(p.url(`/${i}`)));
    await waitFor(() => sockets.length === 4 && slow.held.length === 4, 5000, 'four requests held on each backend');
    // Eight in flight: 25% allows two retries. Four fail at once; two retry onto `slow`, two are refused.
    for (const s of sockets.splice(0)) s.socket.destroy();
    await waitFor(() => slow.held.length === 6, 5000, 'two retries held');
    const st = await admin<{ pools: PoolJson[] }>(p, 'GET', '/status');
    expect(st.json.pools[1]!.retryBudget).toEqual({ budgetPercent: 25, minRetryConcurrency: 0, activeRetries: 2, refused: 2 });
    slow.release();
    const statuses = (await Promise.all(pending)).map((r) => r.status).sort();
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 502, 502]);
    const m = await admin(p, 'GET', '/metrics');
    expect(m.json).toContain('sabre_proxy_retry_budget_refused_total{pool="api"} 2');
  });

  it('per-try timeout: an attempt whose head does not come within timeouts.perTry is retried on another backend', async () => {
    const [hang, ok] = await Promise.all([holding('hang'), answering('ok', 200)]);
    cleanup.push(() => Promise.all([hang.kill(), ok.kill()]));
    const p = await startProxyProc({
      threads: 1,
      backends: [],
      routes: [{ match: {}, pool: 'api' }],
      pools: {
        api: {
          algorithm: 'round-robin',
          backends: [{ url: hang.url }, { url: ok.url }],
          retries: 1,
          healthCheck: { fall: 100 },
          timeouts: { perTry: 300, responseHeaders: 60_000 },
        },
      },
    });
    cleanup.push(() => p.stop());
    // Round-robin: of two requests one starts on the backend that never answers; both end with `ok`'s answer.
    const replies = await Promise.all([http(p.url('/1')), http(p.url('/2'))]);
    expect(replies.map((r) => [r.status, r.body])).toEqual([
      [200, 'ok'],
      [200, 'ok'],
    ]);
    expect(hang.held.length).toBe(1);
    const st = await admin<{ backends: Array<{ url: string; timeouts: number; retries: number }> }>(p, 'GET', '/status');
    expect(st.json.backends.find((b) => b.url === hang.url)!.timeouts).toBe(1);
    expect(st.json.backends.find((b) => b.url === ok.url)!.retries).toBe(1);
  });

  it('slow start: a backend added to a running pool starts at a tenth of its weight', async () => {
    const [a, b] = await Promise.all([answering('a', 200), answering('b', 200)]);
    cleanup.push(() => Promise.all([a.kill(), b.kill()]));
    const p = await startProxyProc({
      backends: [],
      routes: [{ match: {}, pool: 'api' }],
      pools: { api: { backends: [{ url: a.url, weight: 4 }], slowStartMs: 600_000 } },
    });
    cleanup.push(() => p.stop());
    expect((await admin(p, 'POST', '/backends', { url: b.url, weight: 4, pool: 'api' })).status).toBe(201);
    const st = await admin<{ pools: PoolJson[] }>(p, 'GET', '/status');
    const [first, added] = st.json.pools[1]!.backends;
    // The pool's first backend started with the proxy: no ramp. The added one is ramping (0.4 of 4 for the first minute).
    expect(first).toMatchObject({ effectiveWeight: 4, slowStart: false });
    expect(added!.slowStart).toBe(true);
    expect(added!.effectiveWeight).toBeLessThan(1);
  });
});
