import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startServer, type TestServer } from '../helpers/server.js';
import { GlobalLimiter } from '../../src/limiter/remote.js';
import { RespClient } from '../../src/limiter/resp-client.js';
import { BucketTable } from '../../src/limiter/bucket-table.js';

async function until(cond: () => boolean, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe.each([1, 3])('CL.THROTTLE and CL.LEASE in sabre server (%i shards)', (shards) => {
  let srv: TestServer;
  let r: Redis;
  afterAll(async () => {
    r?.disconnect();
    await srv?.stop();
  });

  it('replies as redis-cell does and keeps its state in the key', async () => {
    srv = await startServer(['--shards', String(shards)]);
    r = new Redis({ port: srv.port, host: '127.0.0.1' });
    // redis-cell's README example: burst 15, 30 per 60 s.
    expect(await r.call('CL.THROTTLE', 'user123', '15', '30', '60', '1')).toEqual([0, 16, 15, -1, 2]);
    const replies = [];
    for (let i = 0; i < 16; i++) replies.push((await r.call('CL.THROTTLE', 'user123', '15', '30', '60')) as number[]);
    expect(replies.slice(0, 15).every((x) => x[0] === 0)).toBe(true);
    expect(replies[15]![0]).toBe(1);
    expect(replies[15]![3]).toBeGreaterThan(0);
    expect(await r.type('user123')).toBe('string');
    expect(await r.pttl('user123')).toBeGreaterThan(0);
    await expect(r.call('CL.THROTTLE', 'k', 'x', '30', '60')).rejects.toThrow("Cell error: Couldn't parse as integer: x");
    await r.set('s', 'not-a-number');
    await expect(r.call('CL.THROTTLE', 's', '1', '1', '1')).rejects.toThrow('Cell error: invalid digit found in string');
    const lease = (await r.call('CL.LEASE', 'g', '9', '100', '60', '4')) as number[];
    expect(lease[0]).toBe(4);
    expect(lease[1]).toBe(10);
  });
});

describe('GlobalLimiter against sabre server', () => {
  const cleanup: (() => unknown)[] = [];
  afterEach(async () => {
    for (const f of cleanup.splice(0).reverse()) await f();
  });

  it('is exact with lease size 1, falls back while the server is down, and recovers after a restart', async () => {
    const first = await startServer();
    const port = first.port;
    const client = new RespClient({ port, backoffInitialMs: 20, backoffMaxMs: 100, commandTimeoutMs: 1000 });
    cleanup.push(() => client.close());
    await until(() => client.connected, 'connect');
    const table = BucketTable.create({ capacity: 64 });
    const deny = new GlobalLimiter({ client, table, namespace: 0, limit: 5, windowMs: 60_000, onUnavailable: 'deny' });
    const local = new GlobalLimiter({
      client,
      table,
      namespace: 2,
      limit: 100,
      windowMs: 60_000,
      onUnavailable: 'local',
      insurance: { limit: 2, windowMs: 60_000 },
    });
    const admitted = [];
    for (let i = 0; i < 7; i++) admitted.push((await deny.check('k')).allowed);
    expect(admitted).toEqual([true, true, true, true, true, false, false]);

    await first.stop();
    await until(() => !client.connected, 'disconnect');
    expect((await deny.check('other')).allowed).toBe(false);
    expect((await local.check('k')).allowed).toBe(true);
    expect((await local.check('k')).allowed).toBe(true);
    expect((await local.check('k')).allowed).toBe(false);

    const again = await startServer(['--port', String(port)]);
    cleanup.push(() => again.stop());
    await until(() => client.connected, 'reconnect');
    expect((await deny.check('fresh')).allowed).toBe(true);
  });
});
