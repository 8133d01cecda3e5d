import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { parsePolicyConfig } from '../../src/limiter/policy-config.js';
import { compilePathPattern, PolicyEngine, type RequestInfo } from '../../src/limiter/policy.js';

const engines: PolicyEngine[] = [];
afterEach(() => {
  for (const e of engines.splice(0)) e.close();
});
function engine(config: unknown): PolicyEngine {
  const e = new PolicyEngine(config);
  engines.push(e);
  return e;
}

function req(over: Partial<RequestInfo> & { headers?: Record<string, string> } = {}): RequestInfo {
  const headers = over.headers ?? {};
  return { method: over.method ?? 'GET', path: over.path ?? '/', ip: over.ip ?? '10.0.0.1', header: (n) => headers[n] };
}

describe('policy config validation', () => {
  it('names the bad field', () => {
    expect(() => parsePolicyConfig({ policies: [{ name: 'a', limit: 0, window: '1m' }] })).toThrow(/policies\[0\]\.limit: /);
    expect(() => parsePolicyConfig({ policies: [{ name: 'a', limit: 1, window: '1 minute' }] })).toThrow(
      /policies\[0\]\.window: expected milliseconds or a duration/,
    );
    expect(() => parsePolicyConfig({ policies: [{ name: 'a', limit: 1 }] })).toThrow(/policies\[0\]\.window: required unless tiers/);
    expect(() => parsePolicyConfig({ policies: [{ name: 'a', limit: 1, window: 1000, scope: 'global' }] })).toThrow(
      /policies\[0\]\.scope: global scope needs "server"/,
    );
    expect(() => parsePolicyConfig({ policies: [{ name: 'a', limit: 1, window: 1000, colour: 'red' }] })).toThrow(ConfigError);
    expect(() =>
      parsePolicyConfig({
        policies: [{ name: 'a', tiers: { header: 'x-plan', levels: { free: { limit: 1, window: '1s' } }, default: 'pro' } }],
      }),
    ).toThrow(/policies\[0\]\.tiers\.default: "pro" is not one of levels/);
    expect(() =>
      parsePolicyConfig({
        policies: [
          { name: 'a', limit: 1, window: '1s' },
          { name: 'a', limit: 1, window: '1s' },
        ],
      }),
    ).toThrow(/policies\[1\]\.name: duplicate/);
    expect(() => parsePolicyConfig({ policies: [{ name: 'a', algorithm: 'token-bucket', limit: 100_000, window: '1m' }] })).toThrow(
      /policies\[0\]\.limit: token-bucket limit must be/,
    );
    expect(() =>
      parsePolicyConfig({
        policies: [
          {
            name: 'a',
            algorithm: 'token-bucket',
            tiers: { header: 'x', levels: { big: { limit: 60_000, window: '1m' } }, default: 'big' },
          },
        ],
      }),
    ).toThrow(/policies\[0\]\.tiers\.levels\.big\.limit: bucket needs 60000 refills/);
  });

  it('applies defaults and parses durations', () => {
    const c = parsePolicyConfig({ policies: [{ name: 'a', limit: 5, window: '1.5s' }] });
    expect(c.policies[0]).toMatchObject({
      key: 'ip',
      algorithm: 'gcra',
      window: 1500,
      scope: 'local',
      onUnavailable: 'local',
      leaseSize: 1,
    });
    expect(c.onFull).toBe('deny');
  });
});

describe('path patterns', () => {
  it('matches :params and * per segment, ** across segments', () => {
    const p = compilePathPattern('/api/users/:id/*');
    expect(p.test('/api/users/42/posts')).toBe(true);
    expect(p.test('/api/users/42/posts/1')).toBe(false);
    expect(compilePathPattern('/static/**').test('/static/a/b.css')).toBe(true);
    expect(compilePathPattern('/a.b').test('/axb')).toBe(false);
  });
});

describe('PolicyEngine', () => {
  it('per-IP limit: admitted responses carry the draft headers, the third gets 429 + problem+json', async () => {
    const e = engine({ policies: [{ name: 'default', limit: 2, window: '60s' }] });
    const a = await e.evaluate(req());
    expect(a).toMatchObject({ allowed: true, status: 200 });
    expect(a.headers).toEqual({ 'RateLimit-Policy': '"default";q=2;w=60', RateLimit: '"default";r=1;t=30' });
    await e.evaluate(req());
    const d = await e.evaluate(req());
    expect(d.status).toBe(429);
    expect(d.headers['Retry-After']).toBe('30');
    expect(d.headers.RateLimit).toBe('"default";r=0;t=30');
    expect(JSON.parse(d.body!)).toMatchObject({
      type: 'about:blank',
      title: 'Too Many Requests',
      status: 429,
      policy: 'default',
      retryAfter: 30,
    });
    expect((await e.evaluate(req({ ip: '10.0.0.2' }))).allowed).toBe(true);
  });

  it('per endpoint (method + path pattern) shares one bucket across clients', async () => {
    const e = engine({
      policies: [{ name: 'login', key: 'endpoint', match: { methods: ['post'], path: '/login' }, limit: 1, window: '1m' }],
    });
    expect((await e.evaluate(req({ method: 'POST', path: '/login', ip: 'a' }))).allowed).toBe(true);
    expect((await e.evaluate(req({ method: 'POST', path: '/login', ip: 'b' }))).allowed).toBe(false);
    const other = await e.evaluate(req({ method: 'GET', path: '/login' }));
    expect(other.allowed).toBe(true);
    expect(other.headers).toEqual({});
  });

  it('per API key header, with tiers picked by a header or by key prefix', async () => {
    const e = engine({
      policies: [
        {
          name: 'api',
          key: { header: 'x-api-key' },
          algorithm: 'token-bucket',
          tiers: {
            header: 'x-plan',
            prefixes: { sk_live_: 'pro' },
            levels: { free: { limit: 1, window: '1m' }, pro: { limit: 3, window: '1m' } },
            default: 'free',
          },
        },
      ],
    });
    const free = await e.evaluate(req({ headers: { 'x-api-key': 'k1' } }));
    expect(free.headers['RateLimit-Policy']).toBe('"api.free";q=1;w=60');
    expect((await e.evaluate(req({ headers: { 'x-api-key': 'k1' } }))).allowed).toBe(false);
    const live = await e.evaluate(req({ headers: { 'x-api-key': 'sk_live_abc' } }));
    expect(live.headers.RateLimit).toMatch(/^"api\.pro";r=2;/);
    const named = await e.evaluate(req({ headers: { 'x-api-key': 'k2', 'x-plan': 'pro' } }));
    expect(named.headers['RateLimit-Policy']).toBe('"api.pro";q=3;w=60');
    // No key header: the policy does not apply.
    expect((await e.evaluate(req())).headers).toEqual({});
  });

  it('lists every applied policy and reports the one that denied', async () => {
    const e = engine({
      policies: [
        { name: 'ip', limit: 10, window: '10s' },
        { name: 'search', match: { path: '/search' }, limit: 1, window: '10s' },
      ],
    });
    const a = await e.evaluate(req({ path: '/search' }));
    expect(a.headers['RateLimit-Policy']).toBe('"ip";q=10;w=10, "search";q=1;w=10');
    const d = await e.evaluate(req({ path: '/search' }));
    expect(d).toMatchObject({ allowed: false, policy: 'search' });
    expect(d.headers.RateLimit).toBe('"ip";r=8;t=2, "search";r=0;t=10');
  });

  it('answers 400 instead of truncating an over-long key', async () => {
    const e = engine({ table: { maxKeyChars: 8 }, policies: [{ name: 'api', key: { header: 'x-api-key' }, limit: 1, window: '1s' }] });
    const d = await e.evaluate(req({ headers: { 'x-api-key': 'x'.repeat(9) } }));
    expect(d).toMatchObject({ allowed: false, status: 400 });
  });
});
