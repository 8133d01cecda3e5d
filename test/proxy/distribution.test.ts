import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ServerResponse } from 'node:http';
import { admin, http, startBackend, startProxyProc, tally, waitFor, type Backend, type ProxyProc } from './helpers.js';

describe('proxy distribution (2 threads)', () => {
  let a: Backend, b: Backend, c: Backend;
  const procs: ProxyProc[] = [];
  beforeAll(async () => {
    [a, b, c] = await Promise.all([startBackend('a'), startBackend('b'), startBackend('c')]);
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await Promise.all([a, b, c].map((x) => x.kill()));
  });
  const start = async (cfg: Record<string, unknown>): Promise<ProxyProc> => {
    const p = await startProxyProc(cfg);
    procs.push(p);
    return p;
  };
  const sequential = async (p: ProxyProc, n: number, opts: Parameters<typeof http>[1] = {}): Promise<string[]> => {
    const out: string[] = [];
    for (let i = 0; i < n; i++) out.push((await http(p.url('/'), opts)).body);
    return out;
  };

  it('round-robin is exact across threads', async () => {
    const p = await start({ algorithm: 'round-robin', backends: [{ url: a.url }, { url: b.url }, { url: c.url }] });
    expect((await admin(p, 'GET', '/status')).json.threads).toBe(2);
    expect(tally(await sequential(p, 90))).toEqual({ a: 30, b: 30, c: 30 });
  });

  it('weighted-round-robin is proportional to weight', async () => {
    const p = await start({
      algorithm: 'weighted-round-robin',
      backends: [
        { url: a.url, weight: 1 },
        { url: b.url, weight: 3 },
      ],
    });
    expect(tally(await sequential(p, 80))).toEqual({ a: 20, b: 60 });
  });

  it('least-connections avoids the backend holding slow requests', async () => {
    const held: ServerResponse[] = [];
    const slow = await startBackend('slow', (_req, res) => {
      held.push(res);
      return true;
    });
    const fast = await startBackend('fast');
    const p = await start({
      algorithm: 'least-connections',
      backends: [{ url: slow.url }, { url: fast.url }],
      timeouts: { responseHeaders: 20_000 },
    });
    const pending: Array<Promise<unknown>> = [];
    const bodies: string[] = [];
    for (let i = 0; i < 30; i++) {
      // One request at a time: wait until it was answered (fast) or is being held (slow) before balancing the next.
      const before = held.length;
      let answered = false;
      const r = http(p.url('/')).then((x) => {
        answered = true;
        bodies.push(x.body);
      });
      pending.push(r);
      await waitFor(() => answered || held.length > before, 5000, 'request answered or held');
    }
    // Only a tie at 0/0 in-flight can send a request to the slow backend; after that it always has more.
    expect(held.length).toBe(1);
    expect(tally(bodies).fast).toBe(29);
    expect((await admin(p, 'GET', '/status')).json.backends[0].inflight).toBe(held.length);
    for (const res of held) res.end('slow');
    await Promise.all(pending);
    await Promise.all([slow.kill(), fast.kill()]);
  });

  it('ip-hash keeps each client address on one backend', async () => {
    const p = await start({ algorithm: 'ip-hash', backends: [{ url: a.url }, { url: b.url }, { url: c.url }] });
    for (const localAddress of ['127.0.0.1', '127.0.0.2', '127.0.0.3']) {
      const t = tally(await sequential(p, 15, { localAddress }));
      expect(Object.values(t)).toEqual([15]);
    }
  });

  it('sticky cookie pins a client to the backend that served it first', async () => {
    const p = await start({
      algorithm: 'round-robin',
      sticky: { cookie: 'SABRE' },
      backends: [{ url: a.url }, { url: b.url }, { url: c.url }],
    });
    const first = await http(p.url('/'));
    const cookie = String(first.headers['set-cookie']).split(';')[0]!;
    expect(cookie).toMatch(/^SABRE=/);
    const t = tally(await sequential(p, 20, { headers: { cookie: `other=1; ${cookie}` } }));
    expect(t).toEqual({ [first.body]: 20 });
  });
});
