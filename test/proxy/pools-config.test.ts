import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors.js';
import { loadConfig, parseConfig } from '../../src/proxy/config.js';
import { compileRoutes, hostMatches, Router, rewritePath } from '../../src/proxy/router.js';

const pool = (url = 'http://127.0.0.1:9001') => ({ backends: [{ url }] });

describe('proxy routes and pools config', () => {
  it('leaves a config without routes as it was: no pools, no resilience settings, the top-level backends', () => {
    const c = parseConfig({ backends: [{ url: 'http://127.0.0.1:9001' }] });
    expect(c.routes).toEqual([]);
    expect(c.pools).toEqual({});
    expect(c).toMatchObject({ circuitBreaker: null, outlierDetection: null, slowStartMs: 0, retryBudget: null });
    expect(c.timeouts.perTry).toBeNull();
  });

  it("fills a pool's algorithm, health check, timeouts and retries from the top level, field by field", () => {
    const c = parseConfig({
      algorithm: 'p2c',
      retries: 3,
      healthCheck: { path: '/hc', interval: 500 },
      timeouts: { connect: 700 },
      routes: [{ match: { pathPrefix: '/api' }, pool: 'api' }],
      pools: { api: { ...pool(), healthCheck: { interval: 900 }, timeouts: { perTry: 250 }, outlierDetection: {} } },
    });
    const api = c.pools.api!;
    expect(api.algorithm).toBe('p2c');
    expect(api.retries).toBe(3);
    expect(api.healthCheck).toMatchObject({ path: '/hc', interval: 900 });
    expect(api.timeouts).toMatchObject({ connect: 700, perTry: 250, responseHeaders: 30_000 });
    expect(api.outlierDetection).toEqual({
      consecutive5xx: 5,
      consecutiveGatewayErrors: null,
      baseEjectionMs: 30_000,
      maxEjectionMs: 300_000,
      maxEjectionPercent: 50,
    });
    expect(api.backends).toEqual([{ url: 'http://127.0.0.1:9001', weight: 1 }]);
  });

  it.each([
    [{ routes: [{ match: {}, pool: 'nope' }] }, /routes\.0\.pool: no pool "nope" \(pools: none\)/],
    [
      {
        routes: [
          { match: {}, pool: 'api' },
          { match: {}, pool: 'apj' },
        ],
        pools: { api: pool() },
      },
      /routes\.1\.pool: no pool "apj" \(pools: api\)/,
    ],
    [
      { routes: [{ match: {}, pool: 'api', rewrite: { stripPrefix: '/v1' } }], pools: { api: pool() } },
      /routes\.0\.rewrite\.stripPrefix: needs match/,
    ],
    [
      { routes: [{ match: { pathPrefix: '/v2/' }, pool: 'api', rewrite: { stripPrefix: '/v1' } }], pools: { api: pool() } },
      /stripPrefix: "\/v1" is not a prefix of "\/v2\/"/,
    ],
    [{ routes: [{ match: { pathPrefix: 'api' }, pool: 'api' }], pools: { api: pool() } }, /routes\.0\.match\.pathPrefix/],
    [{ routes: [{ match: { host: 'a b' }, pool: 'api' }], pools: { api: pool() } }, /routes\.0\.match\.host: must be a host name/],
    [{ routes: [{ match: { methods: ['GE T'] }, pool: 'api' }], pools: { api: pool() } }, /routes\.0\.match\.methods\.0/],
    [{ routes: [{ match: { paths: '/' }, pool: 'api' }], pools: { api: pool() } }, /routes\.0\.match.*paths/],
    [{ pools: { api: { backends: [] } } }, /pools\.api\.backends/],
    [{ pools: { default: pool() } }, /pools\.default: "default" names the top-level backends/],
    [{ pools: { 'a b': pool() } }, /pools\.a b/],
    [{ pools: { api: { ...pool(), weight: 2 } } }, /pools\.api.*weight/],
    [{ pools: { api: { backends: [{ url: 'http://a:1' }, { url: 'http://a:1/' }] } } }, /pools\.api\.backends: duplicate url/],
    [{ pools: { api: { ...pool(), algorithm: 'random' } } }, /pools\.api\.algorithm/],
    [{ pools: { api: { ...pool(), circuitBreaker: { maxRequests: 0 } } } }, /pools\.api\.circuitBreaker\.maxRequests/],
    [{ pools: { api: { ...pool(), circuitBreaker: { maxConns: 1 } } } }, /pools\.api\.circuitBreaker.*maxConns/],
    [{ pools: { api: { ...pool(), outlierDetection: { maxEjectionPercent: 101 } } } }, /pools\.api\.outlierDetection\.maxEjectionPercent/],
    [
      { outlierDetection: { baseEjectionMs: 5000, maxEjectionMs: 1000 } },
      /outlierDetection\.maxEjectionMs: maxEjectionMs must be at least/,
    ],
    [{ pools: { api: { ...pool(), retryBudget: { budgetPercent: 150 } } } }, /pools\.api\.retryBudget\.budgetPercent/],
    [{ pools: { api: { ...pool(), slowStartMs: -1 } } }, /pools\.api\.slowStartMs/],
    [{ pools: { api: { ...pool(), timeouts: { perTry: 0 } } } }, /pools\.api\.timeouts\.perTry/],
    [{ pools: { api: { ...pool(), rateLimit: { policies: [{ name: 'x', limit: 1 }] } } } }, /pools\.api\.rateLimit\.policies\.0/],
    [
      { pools: { api: { ...pool(), rateLimit: { policies: [{ name: 'x', limit: 1, window: '1s', scope: 'global', mode: 'queue' }] } } } },
      /queue mode is local only/,
    ],
  ])('rejects %j naming the field', (raw, re) => {
    expect(() => parseConfig(raw)).toThrow(ConfigError);
    expect(() => parseConfig(raw)).toThrow(re);
  });

  it('accepts a pool whose policies use queue mode (served through the same gate as the top-level ones)', () => {
    const c = parseConfig({
      routes: [{ match: {}, pool: 'api' }],
      pools: { api: { ...pool(), rateLimit: { policies: [{ name: 'q', limit: 10, window: '1s', mode: 'queue', burst: 5 }] } } },
    });
    expect(c.pools.api!.rateLimit!.policies[0]!.mode).toBe('queue');
  });

  it('accepts the shipped example', () => {
    const c = loadConfig(join(import.meta.dirname, '..', '..', 'examples', 'proxy-pools.json'));
    expect(Object.keys(c.pools)).toEqual(['api', 'canary', 'admin']);
    expect(c.pools.admin!.healthCheck).toMatchObject({ path: '/healthz', interval: 2000 });
  });

  it('caps the backends of every pool together at the table size', () => {
    const many = (p: number) => Array.from({ length: 33 }, (_, i) => ({ url: `http://10.0.${p}.${i}:80` }));
    expect(() => parseConfig({ backends: many(1), pools: { api: { backends: many(2) } } })).toThrow(/66 backends in all, at most 64/);
  });
});

describe('route matching', () => {
  it('compares hosts without port or case, bracketed IPv6 literals and wildcards on subdomains only', () => {
    expect(hostMatches('Example.COM:8080', 'example.com', false)).toBe(true);
    expect(hostMatches('example.com.', 'example.com', false)).toBe(true);
    expect(hostMatches('example.co', 'example.com', false)).toBe(false);
    expect(hostMatches('[::1]:8080', '[::1]', false)).toBe(true);
    expect(hostMatches('[::1]', '[::1]', false)).toBe(true);
    expect(hostMatches('a.example.com', '.example.com', true)).toBe(true);
    expect(hostMatches('A.B.Example.com:1', '.example.com', true)).toBe(true);
    expect(hostMatches('example.com', '.example.com', true)).toBe(false);
    expect(hostMatches('badexample.com', '.example.com', true)).toBe(false);
    expect(hostMatches('', 'example.com', false)).toBe(false);
  });

  it('takes the first rule whose every condition holds, and rewrites the path it strips', () => {
    const index = (n: string) => ['default', 'a', 'b'].indexOf(n);
    const routes = compileRoutes(
      [
        { match: { pathPrefix: '/a/', methods: ['get'], headers: { 'X-Env': 'blue' } }, pool: 'b' },
        { match: { pathPrefix: '/a/' }, pool: 'a', rewrite: { stripPrefix: '/a' } },
      ],
      index,
    );
    const r = new Router(routes);
    const req = (h: Record<string, string>) => ({ getHeader: (n: string) => h[n] ?? '' });
    expect(r.match('GET', '/a/x', 'h', req({ 'x-env': 'blue' }))!.pool).toBe(2);
    expect(r.match('POST', '/a/x', 'h', req({ 'x-env': 'blue' }))!.pool).toBe(1);
    expect(r.match('GET', '/a/x', 'h', req({}))!.pool).toBe(1);
    expect(r.match('GET', '/b', 'h', req({}))).toBeNull();
    expect(rewritePath(routes[1]!, '/a/x/y')).toBe('/x/y');
    expect(rewritePath(routes[1]!, '/a/')).toBe('/');
  });
});
