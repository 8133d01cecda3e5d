import { createServer, type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { BucketTable } from '../../src/limiter/bucket-table.js';
import { PolicyEngine } from '../../src/limiter/policy.js';
import { GlobalLimiter } from '../../src/limiter/remote.js';
import { RespClient } from '../../src/limiter/resp-client.js';
import { startCellServer, type CellServer } from './fixtures/cell-server.js';

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

async function until(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function setup(port = 0): Promise<{ server: CellServer; client: RespClient }> {
  const server = await startCellServer(port);
  const client = new RespClient({ port: server.port, backoffInitialMs: 10, backoffMaxMs: 50, commandTimeoutMs: 500 });
  cleanup.push(
    () => server.close(),
    () => client.close(),
  );
  await until(() => client.connected, 'connect');
  return { server, client };
}

describe('RESP client against a real socket', () => {
  it('CL.THROTTLE replies as redis-cell does', async () => {
    const { client } = await setup();
    expect(await client.command(['CL.THROTTLE', 'user123', 15, 30, 60, 1])).toEqual([0, 16, 15, -1, 2]);
    await expect(client.command(['CL.THROTTLE', 'user123', 'x', 30, 60])).rejects.toThrow("Cell error: Couldn't parse as integer: x");
    await expect(client.command(['NOPE'])).rejects.toThrow(/unknown command/);
  });
});

describe('GlobalLimiter (leases from the server)', () => {
  it('lease size 1 is exact', async () => {
    const { client, server } = await setup();
    const g = new GlobalLimiter({ client, namespace: 0, limit: 5, windowMs: 60_000, onUnavailable: 'deny' });
    const results = [];
    for (let i = 0; i < 8; i++) results.push(await g.check('k'));
    expect(results.map((r) => r.allowed)).toEqual([true, true, true, true, true, false, false, false]);
    expect(results[5]).toMatchObject({ limit: 5, remaining: 0 });
    expect(results[5]!.retryAfterMs).toBeGreaterThan(0);
    expect(server.store.has('sabre:rl:k')).toBe(true);
  });

  it('P processes with lease size L admit at most limit + P × L, mostly from their local pools', async () => {
    const { server } = await setup();
    const P = 3;
    const L = 10;
    const procs = Array.from({ length: P }, (_, i) => {
      const client = new RespClient({ port: server.port });
      cleanup.push(() => client.close());
      return {
        client,
        g: new GlobalLimiter({
          client,
          table: BucketTable.create({ capacity: 64 }),
          namespace: 0,
          limit: 100,
          windowMs: 3_600_000,
          leaseSize: L,
          onUnavailable: 'deny',
        }),
        i,
      };
    });
    await until(() => procs.every((p) => p.client.connected), 'connect');
    let admitted = 0;
    for (let round = 0; round < 80; round++) {
      const rs = await Promise.all(procs.map((p) => p.g.check('shared')));
      admitted += rs.filter((r) => r.allowed).length;
    }
    expect(admitted).toBeLessThanOrEqual(100 + P * L);
    expect(admitted).toBeGreaterThanOrEqual(100 - P * L);
    expect(server.commands).toBeLessThan(80);
  });

  it('concurrent checks of one key share a lease instead of each asking', async () => {
    const { client, server } = await setup();
    const g = new GlobalLimiter({ client, namespace: 0, limit: 50, windowMs: 60_000, leaseSize: 10, onUnavailable: 'deny' });
    const rs = await Promise.all(Array.from({ length: 10 }, () => g.check('k')));
    expect(rs.every((r) => r.allowed)).toBe(true);
    expect(server.commands).toBe(1);
  });

  it('server killed: onUnavailable applies; restarted: the client reconnects and leases again', async () => {
    const { client, server } = await setup();
    const port = server.port;
    const table = BucketTable.create({ capacity: 64 });
    const allow = new GlobalLimiter({ client, table, namespace: 0, limit: 100, windowMs: 60_000, onUnavailable: 'allow' });
    const deny = new GlobalLimiter({ client, table, namespace: 2, limit: 100, windowMs: 60_000, onUnavailable: 'deny' });
    const local = new GlobalLimiter({
      client,
      table,
      namespace: 4,
      limit: 100,
      windowMs: 60_000,
      onUnavailable: 'local',
      insurance: { limit: 2, windowMs: 60_000 },
    });
    expect((await deny.check('k')).allowed).toBe(true);

    await server.close();
    await until(() => !client.connected, 'disconnect');
    expect((await allow.check('k')).allowed).toBe(true);
    expect(await deny.check('k')).toMatchObject({ allowed: false, retryAfterMs: 1000 });
    expect((await local.check('k')).allowed).toBe(true);
    expect((await local.check('k')).allowed).toBe(true);
    expect((await local.check('k')).allowed).toBe(false);

    const again = await startCellServer(port);
    cleanup.push(() => again.close());
    await until(() => client.connected, 'reconnect');
    expect((await deny.check('k')).allowed).toBe(true);
    expect(again.commands).toBe(1);
    expect(again.store.has('sabre:rl:k')).toBe(true);
  });

  it('an error reply (a server without CL.LEASE) counts as unavailable', async () => {
    const server = createServer((socket) => socket.on('data', () => socket.write("-ERR unknown command 'CL.LEASE'\r\n")));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const client = new RespClient({ port: (server.address() as AddressInfo).port });
    cleanup.push(
      () => new Promise((r) => server.close(r)),
      () => client.close(),
    );
    await until(() => client.connected, 'connect');
    const g = new GlobalLimiter({ client, namespace: 0, limit: 5, windowMs: 60_000, onUnavailable: 'deny' });
    expect(await g.check('k')).toMatchObject({ allowed: false, retryAfterMs: 1000 });
  });
});

describe('PolicyEngine with a global policy', () => {
  it('limits through the server and falls back to onUnavailable when it is gone', async () => {
    const server = await startCellServer();
    const client = new RespClient({ port: server.port });
    const engine = new PolicyEngine(
      {
        server: { port: server.port },
        policies: [{ name: 'g', key: 'endpoint', scope: 'global', limit: 2, window: '60s', onUnavailable: 'deny' }],
      },
      { client },
    );
    cleanup.push(
      () => server.close(),
      () => engine.close(),
    );
    await until(() => client.connected, 'connect');
    const req = { method: 'GET', path: '/x', ip: '127.0.0.1', header: () => undefined };
    const first = await engine.evaluate(req);
    expect(first).toMatchObject({ allowed: true });
    expect(first.headers['RateLimit-Policy']).toBe('"g";q=2;w=60');
    expect((await engine.evaluate(req)).allowed).toBe(true);
    const third = await engine.evaluate(req);
    expect(third).toMatchObject({ allowed: false, status: 429, policy: 'g' });
    expect(server.store.has('sabre:rl:g:GET *')).toBe(true);
    await server.close();
    await until(() => !client.connected, 'disconnect');
    expect(await engine.evaluate(req)).toMatchObject({ allowed: false, status: 429 });
  });
});
