/**
 * PUBLISH reaches replicas, as Redis propagates it outside cluster mode: clients subscribed to a
 * Sabre replica, and to a real Redis replica (where redis-server is installed), get the messages
 * published on a Sabre master by PUBLISH, SPUBLISH and a script's redis.call('PUBLISH'); the
 * master's append-only file does not log them (Redis sends them to replicas only).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startServer, type TestServer } from '../helpers/server.js';
import { spawnRedisServer } from '../helpers/redis-server.js';
import { hasRedis } from '../persistence/redis-process.js';
import { replInfo } from '../helpers/replication.js';

if (!hasRedis)
  console.warn(
    'replication-publish: the Redis replica part is skipped: redis-server 7.0 is not installed (Debian: apt-get install redis-server)',
  );

/** Resolves once `c`'s replication link to its master is up. */
async function linkUp(c: Redis): Promise<void> {
  for (let i = 0; i < 1000 && (await replInfo(c)).master_link_status !== 'up'; i++) await new Promise((r) => setTimeout(r, 20));
  expect((await replInfo(c)).master_link_status).toBe('up');
}

describe('PUBLISH on a master reaches subscribers on its replicas', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sabre-repl-publish-'));
  let master: TestServer;
  let replica: TestServer;
  let redisReplica: { port: number; proc: ChildProcess } | null = null;
  const clients: Redis[] = [];

  function client(port: number): Redis {
    const c = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
    clients.push(c);
    return c;
  }

  beforeAll(async () => {
    master = await startServer(['--appendonly', 'yes', '--dir', dir, '--repl-diskless-sync-delay', '0']);
    replica = await startServer(['--replicaof', `127.0.0.1 ${master.port}`, '--dir', dir, '--dbfilename', 'replica.rdb', '--save', '']);
    await linkUp(client(replica.port));
    if (hasRedis) {
      redisReplica = await spawnRedisServer([
        '--dir',
        dir,
        '--save',
        '',
        '--appendonly',
        'no',
        '--replicaof',
        '127.0.0.1',
        String(master.port),
      ]);
      await linkUp(client(redisReplica.port));
    }
  });

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    redisReplica?.proc.kill('SIGKILL');
    // Both at once: one slow to stop must not leave the other running.
    await Promise.allSettled([replica?.stop(), master?.stop()]);
    rmSync(dir, { recursive: true, force: true });
  });

  /** Subscribes on `port` to channel `news` and shard channel `snews`; resolves to the messages as they arrive. */
  async function subscriber(port: number): Promise<string[]> {
    const sub = client(port);
    const got: string[] = [];
    sub.on('message', (ch: string, m: string) => got.push(`${ch}:${m}`));
    sub.on('smessage', (ch: string, m: string) => got.push(`${ch}:${m}`));
    await sub.subscribe('news');
    await sub.ssubscribe('snews');
    return got;
  }

  it('delivers PUBLISH, SPUBLISH and a script PUBLISH on every replica, and keeps them out of the AOF', async () => {
    const onSabre = await subscriber(replica.port);
    const onRedis = redisReplica === null ? null : await subscriber(redisReplica.port);
    const m = client(master.port);
    // No one subscribes on the master itself: receivers count only local subscribers, as in Redis.
    expect(await m.publish('news', 'one')).toBe(0);
    expect(await m.call('SPUBLISH', 'snews', 'two')).toBe(0);
    expect(await m.eval("return redis.call('PUBLISH', KEYS[1], ARGV[1])", 1, 'news', 'three')).toBe(0);
    await m.set('after', 'x');
    const want = ['news:one', 'snews:two', 'news:three'];
    for (const got of [onSabre, onRedis]) {
      if (got === null) continue;
      for (let i = 0; i < 500 && got.length < want.length; i++) await new Promise((r) => setTimeout(r, 10));
      expect(got).toEqual(want);
    }
    expect(await client(replica.port).get('after')).toBe('x');
    const aof = readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.aof'))
      .map((f) => readFileSync(join(dir, f), 'latin1'))
      .join('');
    expect(aof).toContain('after');
    expect(aof.toUpperCase()).not.toContain('PUBLISH');
  });
});
