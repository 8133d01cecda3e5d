import { afterAll, describe, expect, it } from 'vitest';
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { runCli, startServer, type TestServer } from '../helpers/server.js';

async function connect(port: number): Promise<Redis> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  r.on('error', () => {});
  await r.connect();
  return r;
}

async function killed(srv: TestServer): Promise<void> {
  srv.proc.kill('SIGKILL');
  await new Promise((resolve) =>
    srv.proc.exitCode !== null || srv.proc.signalCode !== null ? resolve(null) : srv.proc.once('exit', resolve),
  );
}

describe('AOF', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sabre-aof-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const flags = (sub: string, more: string[] = []): string[] => ['--shards', '3', '--dir', join(dir, sub), '--appendonly', 'yes', ...more];

  it('with appendfsync always, kill -9 loses no acknowledged write', async () => {
    const sub = join(dir, 'kill');
    mkdirSync(sub);
    let srv = await startServer(flags('kill', ['--appendfsync', 'always']));
    const acked = new Map<string, string>();
    let counterAcked = 0;
    let stop = false;
    const writers = Array.from({ length: 4 }, async (_, w) => {
      const c = await connect(srv.port);
      for (let i = 0; !stop; i++) {
        try {
          await c.set(`w${w}:${i}`, `v${i}`);
          acked.set(`w${w}:${i}`, `v${i}`);
          await c.incr('counter');
          counterAcked++;
        } catch {
          break;
        }
      }
      c.disconnect();
    });
    while (acked.size < 500) await sleep(10);
    await killed(srv);
    stop = true;
    await Promise.all(writers);
    expect(acked.size).toBeGreaterThan(0);

    srv = await startServer(flags('kill'));
    const r = await connect(srv.port);
    const keys = [...acked.keys()];
    const got = await r.mget(...keys.slice(0, 50_000));
    for (const [i, v] of got.entries()) expect(v).toBe(acked.get(keys[i]!));
    expect(Number(await r.get('counter'))).toBeGreaterThanOrEqual(counterAcked);
    r.disconnect();
    expect(await srv.stop()).toBe(0);
  });

  it('replays cross-shard commands, absolute expiries and a rewritten file into the same data set', async () => {
    const sub = join(dir, 'replay');
    mkdirSync(sub);
    let srv = await startServer(flags('replay'));
    let r = await connect(srv.port);
    await r.mset('a', '1', 'b', '2', 'c', '3', 'd', '4');
    await r.rename('a', 'renamed');
    await r.del('b', 'c');
    // A command after a cross-shard RENAME must replay after it.
    for (let i = 0; i < 8; i++) {
      await r.set(`from${i}`, 'old');
      await r.rename(`from${i}`, `to${i}`);
      await r.set(`from${i}`, 'new');
    }
    await r.set('ttl', 'x', 'EX', 1000);
    await r.setex('ttl2', 500, 'y');
    await r.expire('d', 800);
    await r.select(3);
    await r.set('in3', 'three');
    // A rewrite asked for during a BGSAVE waits for it, as in Redis.
    expect(await r.bgsave()).toBe('Background saving started');
    expect(await r.bgrewriteaof()).toMatch(/^Background append only file rewriting (started|scheduled)$/);
    while (!(await r.info('persistence')).includes('aof_rewrites:1')) await sleep(20);
    await r.set('after-rewrite', 'yes');
    r.disconnect();
    expect(await srv.stop()).toBe(0);

    srv = await startServer(flags('replay', ['--shards', '2']));
    r = await connect(srv.port);
    expect(await r.mget('a', 'b', 'c', 'd', 'renamed', 'ttl', 'ttl2')).toEqual([null, null, null, '4', '1', 'x', 'y']);
    for (let i = 0; i < 8; i++) expect(await r.mget(`from${i}`, `to${i}`)).toEqual(['new', 'old']);
    const ttls = [await r.ttl('ttl'), await r.ttl('ttl2'), await r.ttl('d')];
    expect(ttls[0]).toBeGreaterThan(990);
    expect(ttls[1]).toBeLessThanOrEqual(500);
    expect(ttls[2]).toBeLessThanOrEqual(800);
    await r.select(3);
    expect(await r.mget('in3', 'after-rewrite')).toEqual(['three', 'yes']);
    r.disconnect();
    expect(await srv.stop()).toBe(0);
  });

  it('logs SPOP and blocking pops as what they took, and leaves failed writes out', async () => {
    const sub = join(dir, 'effects');
    mkdirSync(sub);
    let srv = await startServer(flags('effects'));
    let r = await connect(srv.port);
    const waiter = await connect(srv.port);
    // Served later by a push: replaying the BLPOP before the push would pop nothing.
    const popped = waiter.blpop('queue', 0);
    await sleep(50);
    await r.rpush('queue', 'job1', 'job2');
    expect(await popped).toEqual(['queue', 'job1']);
    // A cross-shard BLMOVE (a gathered LMOVE) and a BZPOPMIN, both served after they blocked.
    const moved = waiter.blmove('src{a}', 'dst{k1}', 'LEFT', 'RIGHT', 0);
    await sleep(50);
    await r.rpush('src{a}', 'm1', 'm2');
    expect(await moved).toBe('m1');
    const zpopped = waiter.bzpopmin('z', 0);
    await sleep(50);
    await r.zadd('z', 1, 'one', 2, 'two');
    expect(await zpopped).toEqual(['z', 'one', '1']);
    await r.sadd('set', ...Array.from({ length: 20 }, (_, i) => `m${i}`));
    const taken = (await r.spop('set', 5)) as string[];
    const left = (await r.smembers('set')).sort();
    await r.set('text', 'abc');
    await expect(r.incr('text')).rejects.toThrow('ERR value is not an integer or out of range');
    waiter.disconnect();
    r.disconnect();
    expect(await srv.stop()).toBe(0);

    const log = readFileSync(join(dir, 'effects', 'appendonly.aof'), 'latin1');
    expect(log).not.toMatch(/BLPOP|BLMOVE|BZPOPMIN|\bSPOP|incr/i);
    expect(log).toContain('LPOP');
    srv = await startServer(flags('effects', ['--shards', '2']));
    r = await connect(srv.port);
    expect(await r.lrange('queue', 0, -1)).toEqual(['job2']);
    expect(await r.lrange('src{a}', 0, -1)).toEqual(['m2']);
    expect(await r.lrange('dst{k1}', 0, -1)).toEqual(['m1']);
    expect(await r.zrange('z', 0, -1)).toEqual(['two']);
    expect(taken).toHaveLength(5);
    expect((await r.smembers('set')).sort()).toEqual(left);
    expect(await r.get('text')).toBe('abc');
    // A flush over several shards takes one place in the log: what came after it stays.
    await r.flushdb();
    await r.set('after-flush', 'kept');
    r.disconnect();
    expect(await srv.stop()).toBe(0);
    srv = await startServer(flags('effects'));
    r = await connect(srv.port);
    expect(await r.keys('*')).toEqual(['after-flush']);
    r.disconnect();
    expect(await srv.stop()).toBe(0);
  });

  it('cuts a truncated tail with aof-load-truncated yes and refuses to start with no', async () => {
    const sub = join(dir, 'trunc');
    mkdirSync(sub);
    let srv = await startServer(flags('trunc'));
    let r = await connect(srv.port);
    await r.set('kept', '1');
    r.disconnect();
    expect(await srv.stop()).toBe(0);
    const file = join(sub, 'appendonly.aof');
    const good = readFileSync(file).length;
    appendFileSync(file, '*3\r\n$3\r\nset\r\n$4\r\nlost');

    const refused = await runCli(['server', '--port', '0', '--bind', '127.0.0.1', ...flags('trunc', ['--aof-load-truncated', 'no'])]);
    expect(refused.code).toBe(1);
    expect(refused.output).toContain('Bad file format reading');

    srv = await startServer(flags('trunc'));
    r = await connect(srv.port);
    expect(await r.get('kept')).toBe('1');
    expect(await r.exists('lost')).toBe(0);
    expect(readFileSync(file).length).toBe(good);
    r.disconnect();
    expect(await srv.stop()).toBe(0);
  });

  it('rewrites itself once it grew past auto-aof-rewrite-min-size, keeping the data', async () => {
    const sub = join(dir, 'auto');
    mkdirSync(sub);
    let srv = await startServer(flags('auto', ['--auto-aof-rewrite-min-size', '16kb']));
    let r = await connect(srv.port);
    for (let i = 0; i < 1000; i++) await r.set('same', String(i));
    while (!(await r.info('persistence')).includes('aof_rewrites:1')) await sleep(20);
    expect(readFileSync(join(sub, 'appendonly.aof')).length).toBeLessThan(16 * 1024);
    r.disconnect();
    expect(await srv.stop()).toBe(0);
    srv = await startServer(flags('auto'));
    r = await connect(srv.port);
    expect(await r.get('same')).toBe('999');
    r.disconnect();
    expect(await srv.stop()).toBe(0);
  });
});

describe('CONFIG SET appendonly', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sabre-aof-switch-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function persistence(r: Redis): Promise<string> {
    return (await r.info('persistence')) as string;
  }

  it('turned on, starts the file from the data set and logs what follows, a blocked pop included; turned off, logs nothing more', async () => {
    let srv = await startServer(['--shards', '2', '--dir', dir, '--save', '']);
    const r = await connect(srv.port);
    for (let i = 0; i < 100; i++) await r.set(`before:${i}`, String(i));
    await r.rpush('jobs', 'old');
    await r.lpop('jobs');
    const worker = await connect(srv.port);
    const popped = worker.blpop('jobs', 0);
    while (!/blocked_clients:1/.test((await r.info('clients')) as string)) await sleep(10);
    expect(await r.config('SET', 'appendonly', 'yes')).toBe('OK');
    expect(await r.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
    while (!/aof_enabled:1[\s\S]*aof_rewrite_in_progress:0/.test(await persistence(r))) await sleep(10);
    await r.set('after', 'on');
    await r.rpush('jobs', 'j1', 'j2');
    expect(await popped).toEqual(['jobs', 'j1']);
    expect(await r.config('SET', 'appendonly', 'no')).toBe('OK');
    expect(await persistence(r)).toMatch(/aof_enabled:0/);
    await r.set('while-off', 'x');
    r.disconnect();
    worker.disconnect();
    await srv.stop();

    srv = await startServer(['--shards', '2', '--dir', dir, '--save', '', '--appendonly', 'yes']);
    const back = await connect(srv.port);
    expect(await back.get('before:42')).toBe('42');
    expect(await back.get('after')).toBe('on');
    expect(await back.lrange('jobs', 0, -1)).toEqual(['j2']);
    expect(await back.get('while-off')).toBe(null);
    back.disconnect();
    await srv.stop();
  });
});
