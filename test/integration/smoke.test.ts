import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startServer, type TestServer } from '../helpers/server.js';

describe.each([1, 3])('smoke with %i shard(s)', (shards) => {
  let srv: TestServer;
  let r: Redis;
  beforeAll(async () => {
    srv = await startServer(['--shards', String(shards)]);
    r = new Redis({ port: srv.port, host: '127.0.0.1', lazyConnect: true });
    await r.connect();
  });
  afterAll(async () => {
    r.disconnect();
    expect(await srv.stop()).toBe(0);
  });

  it('sets and gets across shards, keeping pipelined order', async () => {
    const p = r.pipeline();
    for (let i = 0; i < 200; i++) p.set(`k${i}`, `v${i}`);
    for (let i = 0; i < 200; i++) p.get(`k${i}`);
    const res = await p.exec();
    expect(res!.slice(200).map(([, v]) => v)).toEqual(Array.from({ length: 200 }, (_, i) => `v${i}`));
    expect(await r.dbsize()).toBe(200);
    expect(await r.mget('k1', 'k2', 'nope', 'k3')).toEqual(['v1', 'v2', null, 'v3']);
    expect(await r.del('k1', 'k2', 'nope')).toBe(2);
  });
});
