import { writeFileSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, http, startBackend, startProxyProc, tally, waitFor, type Backend, type ProxyProc } from './helpers.js';

describe('proxy admin API', () => {
  let a: Backend, b: Backend, slow: Backend;
  let p: ProxyProc;
  beforeAll(async () => {
    [a, b] = await Promise.all([startBackend('a'), startBackend('b')]);
    slow = await startBackend('slow', (req, res) => {
      req.resume();
      setTimeout(() => res.end('slow'), 300);
      return true;
    });
    p = await startProxyProc({ algorithm: 'round-robin', backends: [{ url: a.url }] });
  });
  afterAll(async () => {
    await p.stop();
    await Promise.all([a, b, slow].map((x) => x.kill()));
  });

  it('reports status with the uWS implementation, health, in-flight, totals and latency', async () => {
    for (let i = 0; i < 5; i++) await http(p.url('/'));
    const { status, json } = await admin(p, 'GET', '/status');
    expect(status).toBe(200);
    expect(json.implementation).toMatchObject({ package: expect.any(String), native: expect.any(Boolean) });
    expect(json.backends).toHaveLength(1);
    expect(json.backends[0]).toMatchObject({ url: a.url, weight: 1, healthy: true, inflight: 0, state: 'active' });
    expect(json.backends[0].requests).toBeGreaterThanOrEqual(5);
    expect(json.backends[0].latency_ms.count).toBeGreaterThanOrEqual(5);
    expect(json.backends[0].latency_ms.p99).toBeGreaterThan(0);
  });

  it('serves Prometheus metrics and the HDR latency distribution', async () => {
    const m = await admin<string>(p, 'GET', '/metrics');
    expect(m.json).toContain('# TYPE sabre_proxy_backend_requests_total counter');
    expect(m.json).toMatch(new RegExp(`sabre_proxy_backend_up\\{backend="${a.url}"\\} 1`));
    const l = await admin<string>(p, 'GET', '/latency');
    expect(l.json).toContain('#[Mean');
  });

  it('adds a backend, changes its weight, and rejects bad input with a reason', async () => {
    expect((await admin(p, 'POST', '/backends', { url: b.url, weight: 1 })).status).toBe(201);
    expect((await admin(p, 'POST', '/backends', { url: b.url })).status).toBe(409);
    const bad = await admin(p, 'POST', '/backends', { url: 'ftp://x', weight: 0 });
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/url/);
    expect((await admin(p, 'POST', '/backends', '{nope')).json.error).toMatch(/JSON/);
    expect((await admin(p, 'PUT', '/backends', { url: b.url })).status).toBe(400);
    expect((await admin(p, 'PUT', '/backends', { url: 'http://127.0.0.1:1', weight: 2 })).status).toBe(404);
    expect((await admin(p, 'DELETE', '/backends', { url: 'http://127.0.0.1:1' })).status).toBe(404);
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add((await http(p.url('/'))).body);
    expect(seen).toEqual(new Set(['a', 'b']));
    expect((await admin(p, 'PUT', '/backends', { url: b.url, weight: 3 })).status).toBe(200);
    expect((await admin(p, 'GET', '/status')).json.backends[1].weight).toBe(3);
    expect((await admin(p, 'DELETE', '/backends', { url: b.url })).json).toEqual({ url: b.url, drained: true });
  });

  it('drains a removed backend: in-flight requests finish, new ones go elsewhere, none is lost', async () => {
    await admin(p, 'POST', '/backends', { url: slow.url });
    // Requests in flight on the slow backend when it is removed.
    const inflight = Array.from({ length: 6 }, () => http(p.url('/')));
    // Round-robin is exact, so half of the six land on the slow backend.
    await waitFor(
      async () => slow.hits === 3 && (await admin(p, 'GET', '/status')).json.backends[1].inflight === 3,
      3000,
      'requests on slow',
    );
    const hitsBefore = slow.hits;
    const deleting = admin(p, 'DELETE', '/backends', { url: slow.url });
    await waitFor(async () => (await admin(p, 'GET', '/status')).json.backends[1]?.state === 'draining', 3000, 'draining');
    // Requests sent while the backend drains all go to the other one and all succeed.
    let running = true;
    const results: Array<number | string> = [];
    const loop = (async () => {
      while (running) {
        await http(p.url('/'), { method: 'POST', body: 'x' }).then(
          (x) => results.push(x.body),
          (e: Error) => results.push(e.message),
        );
      }
    })();
    const del = await deleting;
    running = false;
    await loop;
    expect(results.length).toBeGreaterThan(0);
    expect(del.json).toEqual({ url: slow.url, drained: true });
    const replies = await Promise.all(inflight);
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(tally(replies.map((r) => r.body)).slow).toBe(3);
    expect(results.every((r) => r === 'a')).toBe(true);
    expect(slow.hits).toBe(hitsBefore);
    expect(p.output()).toMatch(/from=draining to=removed drained=true/);
    expect((await admin(p, 'GET', '/status')).json.backends.map((x: { url: string }) => x.url)).toEqual([a.url]);
  });

  it('reloads the config file on POST /reload and on SIGHUP without dropping requests', async () => {
    const cfg = JSON.parse(readFileSync(p.configPath, 'utf8'));
    cfg.backends = [{ url: a.url }, { url: b.url, weight: 2 }];
    writeFileSync(p.configPath, JSON.stringify(cfg));
    expect((await admin(p, 'POST', '/reload')).status).toBe(200);
    expect((await admin(p, 'GET', '/status')).json.backends.map((x: { weight: number }) => x.weight)).toEqual([1, 2]);
    writeFileSync(p.configPath, JSON.stringify({ ...cfg, algorithm: 'nope' }));
    const bad = await admin(p, 'POST', '/reload');
    expect(bad.status).toBe(400);
    expect(bad.json.error).toMatch(/algorithm/);
    cfg.backends = [{ url: b.url }];
    writeFileSync(p.configPath, JSON.stringify(cfg));
    p.proc.kill('SIGHUP');
    await waitFor(async () => (await admin(p, 'GET', '/status')).json.backends.length === 1, 3000, 'reload by SIGHUP');
    expect((await http(p.url('/'))).body).toBe('b');
  });
});
