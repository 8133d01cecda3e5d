import { describe, expect, it } from 'vitest';
import { PolicyEngine, type RequestInfo } from '../../src/limiter/index.js';

const req = (path: string, headers: Record<string, string> = {}, ip = '10.0.0.1'): RequestInfo => ({
  method: 'GET',
  path,
  ip,
  header: (n) => headers[n],
});

describe('PolicyEngine.stats: what the limiter admitted and denied', () => {
  it('counts admits and denials per policy and tier, and the table occupancy', async () => {
    const engine = new PolicyEngine({
      policies: [
        { name: 'per-ip', limit: 3, window: '60s' },
        {
          name: 'api',
          key: { header: 'x-api-key' },
          match: { path: '/api/**' },
          tiers: { header: 'x-plan', levels: { free: { limit: 1, window: '60s' }, pro: { limit: 100, window: '60s' } }, default: 'free' },
        },
      ],
    });
    try {
      for (let i = 0; i < 5; i++) await engine.evaluate(req('/'));
      expect(engine.evaluateSync(req('/api/x', { 'x-api-key': 'k1' }, '10.0.0.2'))!.allowed).toBe(true);
      expect(engine.evaluateSync(req('/api/x', { 'x-api-key': 'k1' }, '10.0.0.2'))!.allowed).toBe(false);
      expect(engine.evaluateSync(req('/api/x', { 'x-api-key': 'k2', 'x-plan': 'pro' }, '10.0.0.3'))!.allowed).toBe(true);
      const s = engine.stats();
      const by = (policy: string, tier: string) => s.levels.find((l) => l.policy === policy && l.tier === tier);
      expect(by('per-ip', '')).toEqual({ policy: 'per-ip', tier: '', scope: 'local', mode: 'refuse', admitted: 6, denied: 2 });
      expect(by('api', 'free')).toMatchObject({ admitted: 1, denied: 1 });
      expect(by('api', 'pro')).toMatchObject({ admitted: 1, denied: 0 });
      // Buckets: 3 IPs for per-ip, one key per api tier.
      expect(s.table).toMatchObject({ size: 5, fullEvents: 0 });
      expect(s.table.capacity).toBeGreaterThanOrEqual(16384);
    } finally {
      engine.close();
    }
  });

  it('reports lease round trips, fallbacks and whether the server is unavailable for global policies', async () => {
    // Port 1 refuses connections: every check falls back to the local insurance bucket.
    const engine = new PolicyEngine({
      policies: [{ name: 'g', key: 'endpoint', scope: 'global', limit: 10, window: '1s', onUnavailable: 'local' }],
      server: { host: '127.0.0.1', port: 1 },
    });
    try {
      for (let i = 0; i < 3; i++) expect((await engine.evaluate(req('/'))).allowed).toBe(true);
      const g = engine.stats().levels[0]!;
      expect(g).toMatchObject({ policy: 'g', scope: 'global', admitted: 3, denied: 0, fallbacks: 3, unavailable: true });
      expect(g.leaseRequests).toBe(3);
    } finally {
      engine.close();
    }
  });
});
