import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, http, startBackend, startProxyProc, type Backend, type ProxyProc } from './helpers.js';

describe('proxy with rate-limit policies', () => {
  let ok: Backend;
  const procs: ProxyProc[] = [];
  beforeAll(async () => {
    ok = await startBackend('ok');
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await ok.kill();
  });

  it('admits exactly the limit across both threads, then answers 429 with the IETF headers and problem+json', async () => {
    const p = await startProxyProc({
      backends: [{ url: ok.url }],
      rateLimit: { policies: [{ name: 'per-ip', key: 'ip', limit: 3, window: '60s' }] },
    });
    procs.push(p);
    // Fresh connections spread the requests over the proxy's two threads; the bucket table is shared.
    const replies = [];
    for (let i = 0; i < 10; i++) replies.push(await http(p.url('/x')));
    const admitted = replies.filter((r) => r.status === 200);
    expect(admitted).toHaveLength(3);
    expect(admitted[0]!.headers['ratelimit-policy']).toBe('"per-ip";q=3;w=60');
    expect(admitted[0]!.headers.ratelimit).toMatch(/^"per-ip";r=2;t=\d+$/);
    const denied = replies.filter((r) => r.status === 429);
    expect(denied).toHaveLength(7);
    expect(Number(denied[0]!.headers['retry-after'])).toBeGreaterThan(0);
    expect(denied[0]!.headers.ratelimit).toMatch(/^"per-ip";r=0;t=\d+$/);
    expect(denied[0]!.headers['content-type']).toBe('application/problem+json');
    const problem = JSON.parse(denied[0]!.body);
    expect(problem).toMatchObject({ status: 429, title: 'Too Many Requests', policy: 'per-ip' });
    // The decisions of both threads, summed, in /status and /metrics.
    const st = await admin<{ limiter: { levels: { policy: string; admitted: number; denied: number }[]; table: { size: number } } }>(
      p,
      'GET',
      '/status',
    );
    expect(st.json.limiter.levels).toEqual([expect.objectContaining({ policy: 'per-ip', tier: '', admitted: 3, denied: 7 })]);
    expect(st.json.limiter.table.size).toBe(1);
    const metrics = (await http(`http://127.0.0.1:${p.adminPort}/metrics`)).body;
    expect(metrics).toContain('sabre_limiter_admitted_total{policy="per-ip",tier=""} 3');
    expect(metrics).toContain('sabre_limiter_denied_total{policy="per-ip",tier=""} 7');
    expect(metrics).toMatch(/^sabre_limiter_table_buckets 1$/m);
    expect(metrics).toMatch(/^sabre_limiter_table_full_events_total 0$/m);
  });

  it('limits per API key header and leaves requests without it alone', async () => {
    const p = await startProxyProc({
      backends: [{ url: ok.url }],
      rateLimit: { policies: [{ name: 'key', key: { header: 'x-api-key' }, limit: 1, window: '60s' }] },
    });
    procs.push(p);
    expect((await http(p.url('/'), { headers: { 'x-api-key': 'a' } })).status).toBe(200);
    expect((await http(p.url('/'), { headers: { 'x-api-key': 'a' } })).status).toBe(429);
    expect((await http(p.url('/'), { headers: { 'x-api-key': 'b' } })).status).toBe(200);
    expect((await http(p.url('/'))).status).toBe(200);
    expect((await http(p.url('/'))).status).toBe(200);
  });
});
