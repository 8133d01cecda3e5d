import { describe, expect, it } from 'vitest';
import { parsePolicyConfig } from '../../src/limiter/policy-config.js';
import { PolicyEngine, type RequestInfo } from '../../src/limiter/policy.js';

const req = (ip: string): RequestInfo => ({ method: 'GET', path: '/', ip, header: () => undefined });

describe('queue-mode policies and the refusal status', () => {
  it('queues a burst with growing delays, then refuses with the configured status and Retry-After', () => {
    const engine = new PolicyEngine({
      status: 503,
      policies: [{ name: 'smooth', limit: 1, window: '60s', mode: 'queue', burst: 2 }],
    });
    try {
      const d = [0, 1, 2].map(() => engine.evaluateSync(req('1.2.3.4'))!);
      expect(d.map((x) => x.allowed)).toEqual([true, true, true]);
      expect(d[0]!.delayMs).toBe(0);
      // Each later request waits one more emission interval (60 s), less the time that passed meanwhile.
      expect(d[1]!.delayMs).toBeGreaterThan(59_000);
      expect(d[2]!.delayMs).toBeGreaterThan(d[1]!.delayMs + 59_000);
      const refused = engine.evaluateSync(req('1.2.3.4'))!;
      expect(refused).toMatchObject({ allowed: false, status: 503, delayMs: 0, policy: 'smooth' });
      expect(Number(refused.headers['Retry-After'])).toBeGreaterThan(0);
      expect(JSON.parse(refused.body!)).toMatchObject({ status: 503, title: 'Service Unavailable' });
      // Another client has its own line.
      expect(engine.evaluateSync(req('5.6.7.8'))).toMatchObject({ allowed: true, delayMs: 0 });
      expect(engine.stats().levels[0]).toMatchObject({ mode: 'queue', admitted: 4, denied: 1, delayed: 2 });
    } finally {
      engine.close();
    }
  });

  it('nodelay admits the burst at once; refuse mode keeps 429 and no delay', () => {
    const engine = new PolicyEngine({
      policies: [
        { name: 'q', match: { path: '/q' }, limit: 1, window: '60s', mode: 'queue', burst: 2, nodelay: true },
        { name: 'r', match: { path: '/r' }, limit: 1, window: '60s' },
      ],
    });
    try {
      const q = (): RequestInfo => ({ ...req('ip'), path: '/q' });
      expect([0, 1, 2].map(() => engine.evaluateSync(q())!.delayMs)).toEqual([0, 0, 0]);
      expect(engine.evaluateSync(q())!.status).toBe(429);
      const r = (): RequestInfo => ({ ...req('ip'), path: '/r' });
      expect(engine.evaluateSync(r())).toMatchObject({ allowed: true, delayMs: 0 });
      expect(engine.evaluateSync(r())).toMatchObject({ allowed: false, status: 429 });
    } finally {
      engine.close();
    }
  });

  it('validates queue fields and accepts open/closed for onUnavailable', () => {
    expect(() => parsePolicyConfig({ policies: [{ name: 'a', limit: 1, window: '1s', delay: 2 }] })).toThrow(
      /policies\[0\]\.delay: only with mode "queue"/,
    );
    expect(() => parsePolicyConfig({ policies: [{ name: 'a', limit: 1, window: '1s', burst: 0 }] })).toThrow(/burst 0 admits nothing/);
    expect(() =>
      parsePolicyConfig({
        server: { port: 6379 },
        policies: [{ name: 'a', limit: 1, window: '1s', mode: 'queue', scope: 'global' }],
      }),
    ).toThrow(/policies\[0\]\.mode: queue mode is local only/);
    expect(() => parsePolicyConfig({ status: 200, policies: [{ name: 'a', limit: 1, window: '1s' }] })).toThrow(/status/);
    const c = parsePolicyConfig({
      server: { port: 6379 },
      policies: [
        { name: 'o', limit: 1, window: '1s', scope: 'global', onUnavailable: 'open' },
        { name: 'c', limit: 1, window: '1s', scope: 'global', onUnavailable: 'closed' },
      ],
    });
    expect(c.policies.map((p) => p.onUnavailable)).toEqual(['allow', 'deny']);
    expect(c.status).toBe(429);
  });
});
