import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { websocketAccept } from '../../src/proxy/websocket-handshake.js';
import { admin, FRONTS, http, rawUpgrade, startBackend, startProxyProc, waitFor, type Backend, type ProxyProc } from './helpers.js';

/** A backend that answers `name path` (the path it received), so a test sees both the pool and the rewrite. */
function echo(name: string): Promise<Backend> {
  return startBackend(name, (req, res) => {
    req.resume();
    req.on('end', () => res.end(`${name} ${req.url}`));
    return true;
  });
}

describe('proxy routes and pools', () => {
  let def: Backend;
  let api: Backend;
  let admins: Backend;
  let canary: Backend;
  let p: ProxyProc;
  beforeAll(async () => {
    [def, api, admins, canary] = await Promise.all([echo('default'), echo('api'), echo('admin'), echo('canary')]);
    p = await startProxyProc({
      backends: [{ url: def.url }],
      routes: [
        { match: { pathPrefix: '/api/', headers: { 'x-canary': '1' } }, pool: 'canary' },
        { match: { pathPrefix: '/api/' }, pool: 'api', rewrite: { stripPrefix: '/api' } },
        { match: { host: 'admin.example.com', methods: ['GET', 'POST'] }, pool: 'admin' },
        { match: { host: '*.internal.test' }, pool: 'admin' },
        { match: { path: '/exact' }, pool: 'api' },
      ],
      pools: {
        api: { backends: [{ url: api.url }], algorithm: 'round-robin' },
        admin: { backends: [{ url: admins.url }] },
        canary: { backends: [{ url: canary.url }] },
      },
    });
  });
  afterAll(async () => {
    await p.stop();
    await Promise.all([def, api, admins, canary].map((b) => b.kill()));
  });

  it('sends a path prefix to its pool with the prefix stripped, query kept', async () => {
    expect((await http(p.url('/api/users/7?x=1'))).body).toBe('api /users/7?x=1');
    expect((await http(p.url('/api/'))).body).toBe('api /');
  });

  it('matches an exact path, and leaves a path that only starts with it to the default pool', async () => {
    expect((await http(p.url('/exact'))).body).toBe('api /exact');
    expect((await http(p.url('/exactly'))).body).toBe('default /exactly');
  });

  it('takes the first rule that matches: a header condition ahead of the plain prefix', async () => {
    expect((await http(p.url('/api/x'), { headers: { 'x-canary': '1' } })).body).toBe('canary /api/x');
    expect((await http(p.url('/api/x'), { headers: { 'x-canary': '2' } })).body).toBe('api /x');
  });

  it('matches the host without its port and in any case, and only for the listed methods', async () => {
    expect((await http(p.url('/a'), { headers: { host: 'Admin.Example.COM:8443' } })).body).toBe('admin /a');
    expect((await http(p.url('/a'), { method: 'POST', headers: { host: 'admin.example.com' }, body: 'x' })).body).toBe('admin /a');
    expect((await http(p.url('/a'), { method: 'DELETE', headers: { host: 'admin.example.com' } })).body).toBe('default /a');
    expect((await http(p.url('/a'), { headers: { host: 'other.example.com' } })).body).toBe('default /a');
  });

  it('matches a wildcard host on subdomains only', async () => {
    expect((await http(p.url('/w'), { headers: { host: 'db.internal.test' } })).body).toBe('admin /w');
    expect((await http(p.url('/w'), { headers: { host: 'internal.test' } })).body).toBe('default /w');
  });

  it('sends what no rule matches to the default pool (the top-level backends)', async () => {
    expect((await http(p.url('/'))).body).toBe('default /');
    expect((await http(p.url('/apix'))).body).toBe('default /apix');
  });

  it('reports each pool and its backends in /status, and adds a backend to a named pool through the admin API', async () => {
    const st = await admin<{ pools: Array<{ name: string; algorithm: string; backends: Array<{ url: string }> }> }>(p, 'GET', '/status');
    expect(st.json.pools.map((x) => x.name)).toEqual(['default', 'api', 'admin', 'canary']);
    expect(st.json.pools[1]).toMatchObject({ name: 'api', algorithm: 'round-robin', backends: [{ url: api.url }] });
    const extra = await echo('api2');
    try {
      expect((await admin(p, 'POST', '/backends', { url: extra.url, pool: 'api' })).status).toBe(201);
      const seen = new Set<string>();
      for (let i = 0; i < 6; i++) seen.add((await http(p.url('/api/z'))).body);
      expect(seen).toEqual(new Set(['api /z', 'api2 /z']));
      expect((await admin(p, 'POST', '/backends', { url: extra.url, pool: 'nope' })).status).toBe(404);
      expect((await admin(p, 'DELETE', '/backends', { url: extra.url, pool: 'api' })).status).toBe(200);
      for (let i = 0; i < 4; i++) expect((await http(p.url('/api/z'))).body).toBe('api /z');
    } finally {
      await extra.kill();
    }
  });
});

describe('proxy pool rate limits', () => {
  it("check a pool's own policies only for requests routed to it, in refuse and queue mode", async () => {
    const [def, api] = await Promise.all([echo('default'), echo('api')]);
    const p = await startProxyProc({
      threads: 1,
      backends: [{ url: def.url }],
      routes: [
        { match: { pathPrefix: '/api' }, pool: 'api' },
        { match: { pathPrefix: '/slow' }, pool: 'slow' },
      ],
      pools: {
        api: { backends: [{ url: api.url }], rateLimit: { policies: [{ name: 'api', limit: 2, window: '1h' }] } },
        slow: {
          backends: [{ url: api.url }],
          rateLimit: { policies: [{ name: 'slow', limit: 2, window: '1s', mode: 'queue', burst: 2 }] },
        },
      },
    });
    try {
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) statuses.push((await http(p.url('/api/x'))).status);
      expect(statuses).toEqual([200, 200, 429]);
      for (let i = 0; i < 5; i++) expect((await http(p.url('/other'))).status).toBe(200);
      // Queue mode through the same gate: of two requests at once, the second waits for its slot (500 ms later) and is served.
      const both = await Promise.all([http(p.url('/slow')), http(p.url('/slow'))]);
      expect(both.map((r) => r.status)).toEqual([200, 200]);
      type Levels = { levels: Array<{ policy: string; admitted: number; denied: number; delayed?: number }> };
      const st = await admin<{ pools: Array<{ name: string; limiter: Levels | null }> }>(p, 'GET', '/status');
      const pool = (name: string) => st.json.pools.find((x) => x.name === name)!;
      expect(pool('api').limiter!.levels[0]).toMatchObject({ policy: 'api', admitted: 2, denied: 1 });
      expect(pool('slow').limiter!.levels[0]).toMatchObject({ policy: 'slow', admitted: 2, denied: 0, delayed: 1 });
      expect(pool('default').limiter).toBeNull();
    } finally {
      await p.stop();
      await Promise.all([def.kill(), api.kill()]);
    }
  });
});

describe('proxy routes on reload', () => {
  it('adds a pool and its route on reload, then sends its traffic back to the default pool when both are removed', async () => {
    const [def, api] = await Promise.all([echo('default'), echo('api')]);
    const p = await startProxyProc({ backends: [{ url: def.url }] });
    try {
      expect((await http(p.url('/api/x'))).body).toBe('default /api/x');
      const cfg = JSON.parse(readFileSync(p.configPath, 'utf8'));
      const routed = {
        ...cfg,
        routes: [{ match: { pathPrefix: '/api/' }, pool: 'api', rewrite: { stripPrefix: '/api' } }],
        pools: { api: { backends: [{ url: api.url }], circuitBreaker: { maxRequests: 10 } } },
      };
      writeFileSync(p.configPath, JSON.stringify(routed));
      expect((await admin(p, 'POST', '/reload')).status).toBe(200);
      expect((await http(p.url('/api/x'))).body).toBe('api /x');
      expect((await http(p.url('/x'))).body).toBe('default /x');
      writeFileSync(p.configPath, JSON.stringify({ ...routed, routes: [{ match: {}, pool: 'nope' }] }));
      const bad = await admin<{ error: string }>(p, 'POST', '/reload');
      expect(bad.status).toBe(400);
      expect(bad.json.error).toMatch(/routes\.0\.pool: no pool "nope"/);
      writeFileSync(p.configPath, JSON.stringify(cfg));
      expect((await admin(p, 'POST', '/reload')).status).toBe(200);
      expect((await http(p.url('/api/x'))).body).toBe('default /api/x');
      await waitFor(
        async () => (await admin<{ backends: unknown[] }>(p, 'GET', '/status')).json.backends.length === 1,
        5000,
        'the pool drained',
      );
    } finally {
      await p.stop();
      await Promise.all([def.kill(), api.kill()]);
    }
  });
});

/** A backend that accepts WebSocket upgrades and greets with one text frame `name path` (the path it received). */
async function wsEcho(name: string): Promise<Backend> {
  const b = await echo(name);
  b.server.on('upgrade', (req: IncomingMessage, sock: Socket) => {
    sock.on('error', () => undefined);
    const key = websocketAccept(String(req.headers['sec-websocket-key']));
    const greeting = Buffer.from(`${name} ${req.url}`);
    sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${key}\r\n\r\n`);
    sock.write(Buffer.concat([Buffer.from([0x81, greeting.length]), greeting]));
  });
  return b;
}

/** Upgrades `path` through the proxy; resolves to the status and the first text frame after a 101 ('' otherwise). */
async function upgradeGreeting(port: number, path: string, host = 'test'): Promise<{ status: number; text: string }> {
  const { status, sock, rest } = await rawUpgrade(port, path, host);
  let frame = rest;
  if (status === 101) {
    sock.resume();
    while (frame.length < 2 || frame.length < 2 + frame[1]!) {
      const [d] = (await Promise.race([once(sock, 'data'), once(sock, 'close').then(() => [Buffer.alloc(0)])])) as [Buffer];
      if (d.length === 0) break;
      frame = Buffer.concat([frame, d]);
    }
  }
  sock.destroy();
  return { status, text: status === 101 ? frame.toString('utf8', 2, 2 + frame[1]!) : '' };
}

describe.each(FRONTS)('proxy routes for WebSocket upgrades (%s front)', (front) => {
  let def: Backend;
  let live: Backend;
  let p: ProxyProc;
  beforeAll(async () => {
    [def, live] = await Promise.all([wsEcho('default'), wsEcho('live')]);
    p = await startProxyProc({
      front,
      threads: 1,
      backends: [{ url: def.url }],
      routes: [
        { match: { pathPrefix: '/live/' }, pool: 'live', rewrite: { stripPrefix: '/live' } },
        { match: { host: 'ws.example.com', methods: ['POST'] }, pool: 'live' },
      ],
      pools: { live: { backends: [{ url: live.url }] } },
    });
  });
  afterAll(async () => {
    await p.stop();
    await Promise.all([def.kill(), live.kill()]);
  });

  it('sends an upgrade to the pool its path routes to, with the prefix stripped and the query kept', async () => {
    expect(await upgradeGreeting(p.port, '/live/feed?since=3')).toEqual({ status: 101, text: 'live /feed?since=3' });
  });

  it('matches an upgrade as the GET it is, and sends what no rule takes to the default pool', async () => {
    expect(await upgradeGreeting(p.port, '/feed', 'ws.example.com')).toEqual({ status: 101, text: 'default /feed' });
    expect(await upgradeGreeting(p.port, '/other')).toEqual({ status: 101, text: 'default /other' });
  });
});
