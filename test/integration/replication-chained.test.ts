/**
 * Chained replication: a Sabre replica serves replicas of its own with its master's stream unchanged
 * (Redis's sub-replicas), so every level shares the top master's replication id and offsets. Full
 * sync (diskless and disk-based; the RDB names the database the master's stream has selected), the
 * live stream, a partial resync after a cut link, -NOMASTERLINK while the middle's own link is down,
 * and a promotion of the middle that its replica follows partially. Sabre at every level, then real
 * redis-server at the top and the bottom around a Sabre middle (skipped where it is not installed).
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { startServer, type TestServer } from '../helpers/server.js';
import { freePort, spawnRedisServer } from '../helpers/redis-server.js';
import { hasRedis } from '../persistence/redis-process.js';
import { until } from '../helpers/cluster-nodes.js';

if (!hasRedis)
  console.warn('replication-chained: the redis-server cases skip: install redis-server 7.0 (Debian: apt-get install redis-server)');

const dirs: string[] = [];
const servers: TestServer[] = [];
const procs: ChildProcess[] = [];
const clients: Redis[] = [];

afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  for (const p of procs.splice(0)) p.kill('SIGKILL');
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A Sabre server with its own directory, and a client to it. */
async function sabre(...flags: string[]): Promise<Redis> {
  const dir = mkdtempSync(join(tmpdir(), 'sabre-chain-'));
  dirs.push(dir);
  const srv = await startServer(['--dir', dir, '--save', '', '--repl-diskless-sync-delay', '0', ...flags]);
  servers.push(srv);
  return client(srv.port);
}

/** A real redis-server, and a client to it. */
async function redis(...args: string[]): Promise<Redis> {
  const dir = mkdtempSync(join(tmpdir(), 'sabre-chain-redis-'));
  dirs.push(dir);
  const r = await spawnRedisServer(['--dir', dir, '--save', '', '--appendonly', 'no', '--repl-diskless-sync-delay', '0', ...args]);
  procs.push(r.proc);
  return client(r.port);
}

function client(port: number | string): Redis {
  const c = new Redis({ port: Number(port), host: '127.0.0.1' });
  clients.push(c);
  return c;
}

function portOf(c: Redis): string {
  return String(c.options.port);
}

/** INFO replication as a map. */
async function repl(c: Redis): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const line of ((await c.info('replication')) as string).split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

async function stat(c: Redis, name: string): Promise<number> {
  const m = new RegExp(`${name}:(\\d+)`).exec((await c.info('stats')) as string);
  return Number(m![1]);
}

/** `replica` applied everything `top` produced, through the chain. */
async function caughtUp(top: Redis, replica: Redis): Promise<void> {
  await until(
    async () => {
      const t = await repl(top);
      const r = await repl(replica);
      return r.master_link_status === 'up' && r.slave_repl_offset === t.master_repl_offset && r.master_replid === t.master_replid;
    },
    `${portOf(replica)} to catch up with ${portOf(top)}`,
  );
}

/** The middle finished its full sync and applies the stream (the writes that follow reach it as commands, not in an RDB). */
async function streaming(top: Redis, middle: Redis): Promise<void> {
  await top.set('first', '1');
  await caughtUp(top, middle);
}

/**
 * Writes in databases 0 and 3 through one connection, leaving the top master's stream in database 3,
 * so the next write of that connection carries no SELECT: a bottom replica that synced in between
 * must have learned the database from its RDB.
 */
async function writeAcrossDbs(top: Redis, tag: string): Promise<Redis> {
  const c = client(portOf(top));
  for (let i = 0; i < 50; i++) await c.set(`${tag}:k${i}`, `v${i}`);
  await c.rpush(`${tag}:list`, 'a', 'b', 'c');
  await c.select(3);
  await c.set(`${tag}:in3`, 'three');
  return c;
}

async function checkChain(top: Redis, middle: Redis, bottom: Redis, tagged: Redis, tag: string): Promise<void> {
  await caughtUp(top, bottom);
  expect(await bottom.get(`${tag}:k7`)).toBe('v7');
  expect(await bottom.lrange(`${tag}:list`, 0, -1)).toEqual(['a', 'b', 'c']);
  // The stream goes on in database 3 without a SELECT: the bottom must apply it there.
  await tagged.set(`${tag}:after`, 'still-3');
  await caughtUp(top, bottom);
  await bottom.select(3);
  expect(await bottom.get(`${tag}:in3`)).toBe('three');
  expect(await bottom.get(`${tag}:after`)).toBe('still-3');
  await bottom.select(0);
  expect((await repl(middle)).connected_slaves).toBe('1');
}

describe('chained replication', () => {
  for (const diskless of ['yes', 'no']) {
    it(`Sabre → Sabre → Sabre: full sync (diskless ${diskless}), stream, partial resync, promotion`, async () => {
      const top = await sabre('--repl-diskless-sync', diskless);
      const middle = await sabre('--replicaof', `127.0.0.1 ${portOf(top)}`, '--repl-diskless-sync', diskless);
      await streaming(top, middle);
      const tagged = await writeAcrossDbs(top, 'a');
      await caughtUp(top, middle);
      const bottom = await sabre('--replicaof', `127.0.0.1 ${portOf(middle)}`);
      await checkChain(top, middle, bottom, tagged, 'a');
      expect((await repl(bottom)).master_replid).toBe((await repl(top)).master_replid);

      // A cut link continues from the middle's backlog.
      const partial = await stat(middle, 'sync_partial_ok');
      await middle.call('CLIENT', 'KILL', 'TYPE', 'replica');
      await tagged.set('a:cut', 'x');
      await caughtUp(top, bottom);
      expect(await stat(middle, 'sync_partial_ok')).toBe(partial + 1);

      // The middle promoted: the bottom reconnects and continues under the new id (replid2).
      await middle.call('REPLICAOF', 'NO', 'ONE');
      const promoted = await repl(middle);
      await middle.set('after-promotion', '1');
      await until(async () => (await repl(bottom)).master_replid === promoted.master_replid, 'the bottom to follow the promotion');
      await caughtUp(middle, bottom);
      expect(await bottom.get('after-promotion')).toBe('1');
      expect(await stat(middle, 'sync_partial_ok')).toBe(partial + 2);
    });
  }

  it('answers -NOMASTERLINK to a replica while its own master is unreachable', async () => {
    const dead = await freePort();
    const lonely = await sabre('--replicaof', `127.0.0.1 ${dead}`);
    await expect(lonely.call('PSYNC', '?', '-1')).rejects.toThrow("NOMASTERLINK Can't SYNC while not connected with my master");
  });

  it.runIf(hasRedis)('redis-server → Sabre → redis-server', async () => {
    const top = await redis();
    const middle = await sabre('--replicaof', `127.0.0.1 ${portOf(top)}`);
    await streaming(top, middle);
    const tagged = await writeAcrossDbs(top, 'r');
    await caughtUp(top, middle);
    const bottom = await redis('--replicaof', '127.0.0.1', portOf(middle));
    await checkChain(top, middle, bottom, tagged, 'r');
    const partial = await stat(middle, 'sync_partial_ok');
    await middle.call('CLIENT', 'KILL', 'TYPE', 'replica');
    await tagged.set('r:cut', 'x');
    await caughtUp(top, bottom);
    expect(await bottom.get('r:cut')).toBe(null);
    await bottom.select(3);
    expect(await bottom.get('r:cut')).toBe('x');
    expect(await stat(middle, 'sync_partial_ok')).toBe(partial + 1);
  });
});
