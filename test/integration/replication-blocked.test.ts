/**
 * Clients blocked (BLPOP, BZPOPMIN, BLMOVE) before anything listened to the write stream, served
 * after a replica attached: their pops must reach the replica as the pops that served them, or the
 * replica keeps the elements they took (the queue workers waiting on a running server when a
 * replica is added, whose jobs would run again after a failover).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startServer, type TestServer } from '../helpers/server.js';
import { until } from '../helpers/cluster-nodes.js';

const servers: TestServer[] = [];
const clients: Redis[] = [];
const dirs: string[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await Promise.all(servers.splice(0).map((s) => s.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function server(dir: string, ...flags: string[]): Promise<{ srv: TestServer; c: Redis }> {
  const srv = await startServer(['--dir', dir, '--save', '', '--repl-diskless-sync-delay', '0', ...flags]);
  servers.push(srv);
  return { srv, c: client(srv.port) };
}

function client(port: number): Redis {
  const c = new Redis({ port, host: '127.0.0.1' });
  clients.push(c);
  return c;
}

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sabre-blocked-'));
  dirs.push(d);
  return d;
}

async function offsets(c: Redis): Promise<{ master: string; replica: string; link: string }> {
  const text = (await c.info('replication')) as string;
  const get = (k: string): string => new RegExp(`${k}:(\\S+)`).exec(text)?.[1] ?? '';
  return { master: get('master_repl_offset'), replica: get('slave_repl_offset'), link: get('master_link_status') };
}

/** Three workers blocked on a list, a sorted set and a move before the stream starts. */
async function blockWorkers(port: number): Promise<Promise<unknown>[]> {
  const waits = [client(port).blpop('jobs', 0), client(port).bzpopmin('delayed', 0), client(port).blmove('src', 'dst', 'LEFT', 'RIGHT', 0)];
  const probe = client(port);
  await until(async () => /blocked_clients:3/.test((await probe.info('clients')) as string), 'the workers to block');
  return waits;
}

async function feed(c: Redis): Promise<void> {
  await c.rpush('jobs', 'j1', 'j2');
  await c.zadd('delayed', 1, 'd1', 2, 'd2');
  await c.rpush('src', 's1', 's2');
}

async function expectPopped(c: Redis): Promise<void> {
  expect(await c.lrange('jobs', 0, -1)).toEqual(['j2']);
  expect(await c.zrange('delayed', 0, -1)).toEqual(['d2']);
  expect(await c.lrange('src', 0, -1)).toEqual(['s2']);
  expect(await c.lrange('dst', 0, -1)).toEqual(['s1']);
}

describe('clients blocked before the write stream started', () => {
  it.each(['1', '3'])('reach a replica that attached meanwhile with the pops that served them (%s shards)', async (shards) => {
    const { srv, c: master } = await server(tempDir(), '--shards', shards);
    const waits = await blockWorkers(srv.port);
    const { c: replica } = await server(tempDir(), '--replicaof', `127.0.0.1 ${srv.port}`);
    await until(async () => (await offsets(replica)).link === 'up', 'the replica to sync');
    await feed(master);
    expect(await Promise.all(waits)).toEqual([['jobs', 'j1'], ['delayed', 'd1', '1'], 's1']);
    await until(async () => (await offsets(replica)).replica === (await offsets(master)).master, 'the replica to catch up');
    await expectPopped(master);
    await expectPopped(replica);
  });
});
