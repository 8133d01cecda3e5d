/**
 * A Sabre replica (two shards) of a real redis-server 7.0 master: full sync of every data type with
 * writes running during it, the live stream after it, partial resync after a cut link, READONLY,
 * expiry driven by the master's DELs, promotion with REPLICAOF NO ONE, REPLICAOF inside MULTI/EXEC
 * (as redis-sentinel sends it), MASTERDOWN. Skips with a message when redis-server is missing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startServer, type TestServer } from '../helpers/server.js';
import { freePort, spawnRedisServer } from '../helpers/redis-server.js';

const hasRedis = spawnSync('redis-server', ['--version']).status === 0;
if (!hasRedis) console.log('replication-replica.test: skipped: install redis-server 7.0 (apt-get install redis-server)');

function startRedis(extra: string[]): Promise<{ port: number; proc: ChildProcess }> {
  return spawnRedisServer(['--save', '', '--appendonly', 'no', ...extra]);
}

/** INFO section as a map. */
async function info(c: Redis, section: string): Promise<Record<string, string>> {
  const text = (await c.info(section)) as string;
  const out: Record<string, string> = {};
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) out[line.slice(0, i)] = line.slice(i + 1);
  }
  return out;
}

/** A function library with a read-only function, for FCALL on a replica. */
const LIBRARY =
  "#!lua name=replib\nredis.register_function{function_name='rget', callback=function(keys) return redis.call('get', keys[1]) end, flags={'no-writes'}}";

/** Polls `fn` until it returns true (a condition the replica reaches asynchronously). */
async function until(what: string, fn: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The replica applied everything the master produced so far. */
async function caughtUp(master: Redis, replica: Redis): Promise<void> {
  await until('the replica to catch up', async () => {
    const m = await info(master, 'replication');
    const r = await info(replica, 'replication');
    return r.master_link_status === 'up' && r.slave_repl_offset === m.master_repl_offset;
  });
}

/** Content of one key, by type, for comparison. */
async function content(c: Redis, key: string): Promise<unknown> {
  const type = await c.type(key);
  switch (type) {
    case 'string':
      return [type, await c.getBuffer(key)];
    case 'list':
      return [type, await c.lrange(key, 0, -1)];
    case 'hash':
      return [type, await c.hgetall(key)];
    case 'set':
      return [type, (await c.smembers(key)).sort()];
    case 'zset':
      return [type, await c.zrange(key, 0, -1, 'WITHSCORES')];
    case 'stream': {
      // entries-read and lag are left out: a Redis replica has them unset too (XREADGROUP travels as XCLAIM … LASTID).
      const groups = (await c.call('xinfo', 'groups', key)) as unknown[][];
      const pending = groups.length > 0 ? await c.call('xpending', key, 'g1') : null;
      return [type, await c.xrange(key, '-', '+'), groups.map((g) => g.slice(0, 8)), pending];
    }
    default:
      return [type];
  }
}

/** Compares every key of dbs 0..3: content by type, expiry time within a second, DUMP payloads of strings. */
async function compareAll(mPort: number, rPort: number, password?: string): Promise<number> {
  let compared = 0;
  for (let db = 0; db < 4; db++) {
    const m = new Redis({ port: mPort, host: '127.0.0.1', db, password });
    const r = new Redis({ port: rPort, host: '127.0.0.1', db });
    try {
      const keys = (await m.keys('*')).sort();
      expect((await r.keys('*')).sort()).toEqual(keys);
      // Every key at once: ioredis pipelines the concurrent commands on each connection.
      const snap = (c: Redis, k: string): Promise<[unknown, number, Buffer | null]> =>
        Promise.all([content(c, k), c.call('pexpiretime', k) as Promise<number>, k.startsWith('hll') ? null : c.dumpBuffer(k)]);
      const [ms, rs] = await Promise.all([Promise.all(keys.map((k) => snap(m, k))), Promise.all(keys.map((k) => snap(r, k)))]);
      keys.forEach((k, i) => {
        const [mContent, mt, mDump] = ms[i]!;
        const [rContent, rt, rDump] = rs[i]!;
        expect(rContent, `db ${db} key ${k}`).toEqual(mContent);
        // Expiry times as absolute Unix ms (PEXPIRETIME): what the RDB and the stream (PXAT) carry.
        if (mt < 0) expect(rt).toBe(mt);
        else expect(Math.abs(mt - rt)).toBeLessThan(1000);
        if ((mContent as unknown[])[0] === 'string' && mDump !== null) expect(rDump, `DUMP of ${k}`).toEqual(mDump);
        compared++;
      });
    } finally {
      m.disconnect();
      r.disconnect();
    }
  }
  return compared;
}

/** Writes of every type, in several dbs; `tag` keeps runs apart. */
async function fill(port: number, tag: string, n: number, password?: string): Promise<void> {
  for (let db = 0; db < 4; db++) {
    const c = new Redis({ port, host: '127.0.0.1', db, password });
    const p = c.pipeline();
    for (let i = 0; i < n; i++) {
      p.set(`${tag}:s:${i}`, `v${i}`);
      p.set(`${tag}:int:${i}`, String(i * 7));
      p.rpush(`${tag}:l:${i % 10}`, `e${i}`);
      p.hset(`${tag}:h:${i % 10}`, `f${i}`, `x${i}`);
      p.sadd(`${tag}:set:${i % 10}`, `m${i}`);
      p.sadd(`${tag}:iset`, i);
      p.zadd(`${tag}:z:${i % 10}`, i / 3, `z${i}`);
      p.xadd(`${tag}:x`, '*', 'i', String(i));
      p.pfadd(`hll:${tag}`, `u${i}`);
      p.setbit(`${tag}:bits`, i * 13, 1);
      if (i % 5 === 0) p.set(`${tag}:ttl:${i}`, 't', 'PX', 60_000 + i);
    }
    // Big collections take the non-compact encodings.
    p.hset(`${tag}:bighash`, Object.fromEntries(Array.from({ length: 300 }, (_, i) => [`k${i}`, 'y'.repeat(i % 80)])));
    p.rpush(`${tag}:biglist`, ...Array.from({ length: 1000 }, (_, i) => `item-${i}`));
    p.zadd(`${tag}:bigz`, ...Array.from({ length: 300 }, (_, i) => [i, `member-${i}`]).flat());
    await p.exec();
    if (db === 0) {
      // Transactions and scripts reach the replica as MULTI … EXEC of their effects.
      await c.multi().set(`${tag}:tx:a`, db).incrby(`${tag}:tx:b`, 5).lpush(`${tag}:tx:c`, 'q').exec();
      await c.eval("redis.call('set', KEYS[1], ARGV[1]); return redis.call('incr', KEYS[2])", 2, `${tag}:ev:1`, `${tag}:ev:2`, 'e');
      await c.xgroup('CREATE', `${tag}:x`, 'g1', '0');
      await c.xreadgroup('GROUP', 'g1', 'alice', 'COUNT', 3, 'STREAMS', `${tag}:x`, '>');
    }
    c.disconnect();
  }
}

describe.skipIf(!hasRedis)('Sabre replica of a real Redis 7.0 master', () => {
  let master: { port: number; proc: ChildProcess };
  let replica: TestServer;
  let m: Redis;
  let r: Redis;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sabre-replica-'));
    master = await startRedis(['--repl-diskless-sync-delay', '0', '--dir', dir, '--enable-debug-command', 'yes']);
    m = new Redis({ port: master.port, host: '127.0.0.1' });
    await m.call('function', 'load', LIBRARY);
    await fill(master.port, 'pre', 200);
    replica = await startServer(replicaFlags());
    r = new Redis({ port: replica.port, host: '127.0.0.1' });
  }, 30_000);

  /** Saves on shutdown (a save point), to its own file next to the master's. */
  const replicaFlags = (): string[] => [
    '--shards',
    '2',
    '--dir',
    dir,
    '--dbfilename',
    'replica.rdb',
    '--save',
    '3600 1',
    '--replicaof',
    `127.0.0.1 ${master.port}`,
  ];

  afterAll(async () => {
    r?.disconnect();
    m?.disconnect();
    await replica?.stop();
    master?.proc.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('full-syncs every type while writes run, then follows the live stream', async () => {
    // Writes during the sync: the replica must end with them too.
    const during = fill(master.port, 'during', 100);
    await until('the first sync', async () => (await info(r, 'replication')).master_link_status === 'up');
    await during;
    await fill(master.port, 'live', 50);
    await caughtUp(m, r);
    expect(await compareAll(master.port, replica.port)).toBeGreaterThan(1000);
    const role = (await r.call('role')) as unknown[];
    expect(role.slice(0, 4)).toEqual(['slave', '127.0.0.1', master.port, 'connected']);
    expect(role[4]).toBe(Number((await info(m, 'replication')).master_repl_offset));
    const ri = await info(r, 'replication');
    expect(ri.role).toBe('slave');
    expect(ri.master_replid).toBe((await info(m, 'replication')).master_replid);
    expect(ri.repl_backlog_active).toBe('1');
    expect((await r.client('LIST')) as string).toMatch(/flags=M /);
    // Function libraries come with the RDB.
    expect(await r.call('fcall', 'rget', '1', 'pre:s:2')).toBe('v2');
    expect(await r.call('function', 'list')).toEqual(await m.call('function', 'list'));
  }, 60_000);

  it('resyncs partially after the master cuts the link', async () => {
    const before = Number((await info(m, 'stats')).sync_partial_ok);
    expect(Number(await m.client('KILL', 'TYPE', 'replica'))).toBe(1);
    await m.set('after-cut', 'yes');
    await fill(master.port, 'cut', 20);
    await caughtUp(m, r);
    expect(Number((await info(m, 'stats')).sync_partial_ok)).toBe(before + 1);
    expect(await r.get('after-cut')).toBe('yes');
    await compareAll(master.port, replica.port);
  }, 60_000);

  it('resyncs partially after a restart, from the history its RDB saved', async () => {
    await caughtUp(m, r);
    r.disconnect();
    expect(await replica.stop()).toBe(0);
    await m.set('while-down', 'x');
    const before = Number((await info(m, 'stats')).sync_partial_ok);
    replica = await startServer(replicaFlags());
    r = new Redis({ port: replica.port, host: '127.0.0.1' });
    await caughtUp(m, r);
    expect(Number((await info(m, 'stats')).sync_partial_ok)).toBe(before + 1);
    expect(await r.get('while-down')).toBe('x');
    await compareAll(master.port, replica.port);
  }, 60_000);

  it('notices a silent master after repl-timeout, and resyncs partially once it answers again', async () => {
    await m.config('SET', 'repl-ping-replica-period', '1');
    await r.config('SET', 'repl-timeout', '2');
    const before = Number((await info(m, 'stats')).sync_partial_ok);
    master.proc.kill('SIGSTOP');
    try {
      await until('the link to go down', async () => (await info(r, 'replication')).master_link_status === 'down');
      const ri = await info(r, 'replication');
      expect(Number(ri.master_link_down_since_seconds)).toBeGreaterThanOrEqual(0);
      expect(await r.get('pre:s:3')).toBe('v3');
    } finally {
      master.proc.kill('SIGCONT');
    }
    await m.set('after-pause', '1');
    await caughtUp(m, r);
    expect(await r.get('after-pause')).toBe('1');
    expect(Number((await info(m, 'stats')).sync_partial_ok)).toBeGreaterThan(before);
    await r.config('SET', 'repl-timeout', '60');
  }, 60_000);

  it('reconnects after CLIENT KILL TYPE master on the replica', async () => {
    const before = Number((await info(m, 'stats')).sync_partial_ok);
    expect(Number(await r.client('KILL', 'TYPE', 'master'))).toBe(1);
    await m.set('after-kill', '1');
    await caughtUp(m, r);
    expect(await r.get('after-kill')).toBe('1');
    expect(Number((await info(m, 'stats')).sync_partial_ok)).toBe(before + 1);
  }, 30_000);

  it('refuses writes, scripted writes included, with READONLY', async () => {
    await expect(r.set('x', '1')).rejects.toThrow("READONLY You can't write against a read only replica.");
    await expect(r.eval("return redis.call('set', 'x', '1')", 0)).rejects.toThrow(/^READONLY You can't write against a read only replica/);
    expect(await r.eval("return redis.call('get', 'pre:s:1')", 0)).toBe('v1');
    // A shebang without no-writes declares a writing script: refused before it runs.
    await expect(r.eval('#!lua\nreturn 1', 0)).rejects.toThrow("READONLY You can't write against a read only replica.");
    expect(await r.eval("#!lua flags=no-writes\nreturn redis.call('get', 'pre:s:1')", 0)).toBe('v1');
    await expect(r.call('function', 'load', '#!lua name=lib\nredis.register_function("f", function() return 1 end)')).rejects.toThrow(
      /^READONLY/,
    );
    await r
      .multi()
      .set('x', '1')
      .exec()
      .then(
        () => expect.fail('EXEC should abort'),
        (e: Error) => expect(e.message).toMatch(/EXECABORT/),
      );
    expect(await r.get('x')).toBeNull();
  });

  it("hides expired keys but deletes them only on the master's DEL", async () => {
    await m.call('debug', 'set-active-expire', '0');
    try {
      await m.set('soon', 'v', 'PX', 300);
      await caughtUp(m, r);
      expect(await r.get('soon')).toBe('v');
      await new Promise((res) => setTimeout(res, 400));
      // Logically expired: reads miss, the key stays until the master says.
      expect(await r.get('soon')).toBeNull();
      expect(await r.exists('soon')).toBe(0);
      const size = await r.dbsize();
      expect(size).toBe(await m.dbsize());
      // The master's lookup expires it and sends DEL.
      expect(await m.get('soon')).toBeNull();
      await caughtUp(m, r);
      expect(await r.dbsize()).toBe(size - 1);
    } finally {
      await m.call('debug', 'set-active-expire', '1');
    }
  });

  it('serves MASTERDOWN while the link is down with replica-serve-stale-data no', async () => {
    const dead = await freePort();
    await r.config('SET', 'replica-serve-stale-data', 'no');
    try {
      expect(await r.call('replicaof', '127.0.0.1', String(dead))).toBe('OK');
      await expect(r.get('pre:s:1')).rejects.toThrow("MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.");
      const ri = await info(r, 'replication');
      expect(ri.master_link_status).toBe('down');
      expect(ri.master_port).toBe(String(dead));
      expect(ri.master_link_down_since_seconds).toBeDefined();
    } finally {
      await r.config('SET', 'replica-serve-stale-data', 'yes');
    }
    expect(await r.get('pre:s:1')).toBe('v1');
    // Back to the real master: its history is still ours, so it continues partially.
    const before = Number((await info(m, 'stats')).sync_partial_ok);
    expect(await r.call('replicaof', '127.0.0.1', String(master.port))).toBe('OK');
    expect(await r.call('replicaof', '127.0.0.1', String(master.port))).toBe('OK Already connected to specified master');
    await m.set('back', '1');
    await caughtUp(m, r);
    expect(Number((await info(m, 'stats')).sync_partial_ok)).toBe(before + 1);
  }, 30_000);

  it('promotes with REPLICAOF NO ONE, keeping the data and the old history as replid2', async () => {
    await caughtUp(m, r);
    const old = await info(r, 'replication');
    expect(await r.call('replicaof', 'no', 'one')).toBe('OK');
    const now = await info(r, 'replication');
    expect(now.role).toBe('master');
    expect(now.master_replid2).toBe(old.master_replid);
    expect(now.second_repl_offset).toBe(String(Number(old.master_repl_offset) + 1));
    expect(await r.set('mine', '1')).toBe('OK');
    expect(await r.get('pre:s:7')).toBe('v7');
    expect(((await r.call('role')) as unknown[])[0]).toBe('master');
  });

  it('takes REPLICAOF inside MULTI/EXEC as redis-sentinel sends it, and syncs in full from the disk-backed form', async () => {
    await m.config('SET', 'repl-diskless-sync', 'no');
    const fullBefore = Number((await info(m, 'stats')).sync_full);
    const tx = (await r.multi().call('slaveof', '127.0.0.1', String(master.port)).exec()) as [Error | null, unknown][];
    expect(tx).toEqual([[null, 'OK']]);
    await m.set('after-tx', '2');
    await caughtUp(m, r);
    // Its own writes made a new history the master does not know: a full sync.
    expect(Number((await info(m, 'stats')).sync_full)).toBe(fullBefore + 1);
    expect(await r.get('mine')).toBeNull();
    expect(await r.get('after-tx')).toBe('2');
    await compareAll(master.port, replica.port);
    const promote = (await r.multi().call('slaveof', 'no', 'one').exec()) as [Error | null, unknown][];
    expect(promote).toEqual([[null, 'OK']]);
    expect((await info(r, 'replication')).role).toBe('master');
  }, 60_000);
});

describe('Sabre replica of a Sabre master', () => {
  let master: TestServer;
  let replica: TestServer;
  let m: Redis;
  let r: Redis;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sabre-replica-'));
    master = await startServer(['--shards', '3', '--dir', dir, '--save', '', '--repl-diskless-sync-delay', '0', '--requirepass', 'pw']);
    m = new Redis({ port: master.port, host: '127.0.0.1', password: 'pw' });
    await fill(master.port, 'pre', 100, 'pw');
    replica = await startServer([
      '--shards',
      '2',
      '--dir',
      dir,
      '--dbfilename',
      'replica.rdb',
      '--save',
      '',
      '--masterauth',
      'pw',
      '--replicaof',
      `127.0.0.1 ${master.port}`,
    ]);
    r = new Redis({ port: replica.port, host: '127.0.0.1' });
  }, 30_000);

  afterAll(async () => {
    r?.disconnect();
    m?.disconnect();
    await replica?.stop();
    await master?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('authenticates, full-syncs every type with writes running, follows the stream and answers WAIT', async () => {
    const during = fill(master.port, 'during', 50, 'pw');
    await until('the first sync', async () => (await info(r, 'replication')).master_link_status === 'up');
    await during;
    await fill(master.port, 'live', 30, 'pw');
    await caughtUp(m, r);
    expect(await compareAll(master.port, replica.port, 'pw')).toBeGreaterThan(500);
    await m.set('acked', '1');
    expect(await m.call('wait', '1', '5000')).toBe(1);
    expect(await r.get('acked')).toBe('1');
  }, 60_000);

  it('resyncs partially after the master cuts the link', async () => {
    const before = Number((await info(m, 'stats')).sync_partial_ok);
    expect(Number(await m.client('KILL', 'TYPE', 'replica'))).toBe(1);
    await fill(master.port, 'cut', 10, 'pw');
    await caughtUp(m, r);
    expect(Number((await info(m, 'stats')).sync_partial_ok)).toBe(before + 1);
    await compareAll(master.port, replica.port, 'pw');
  }, 60_000);
});

describe('failover among Sabre servers (PSYNC2 across a promotion)', () => {
  let dir: string;
  const servers: TestServer[] = [];
  const clients: Redis[] = [];

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sabre-failover-'));
  });

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    await Promise.all(servers.map((s) => s.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  /** A Sabre server with its own RDB file name in the shared dir. */
  async function start(name: string, flags: string[]): Promise<[TestServer, Redis]> {
    const s = await startServer(['--dir', dir, '--dbfilename', `${name}.rdb`, '--save', '', '--repl-diskless-sync-delay', '0', ...flags]);
    const c = new Redis({ port: s.port, host: '127.0.0.1' });
    servers.push(s);
    clients.push(c);
    return [s, c];
  }

  it('a promoted replica continues its peers and its old master partially', async () => {
    const [m, mc] = await start('m', ['--shards', '3']);
    await fill(m.port, 'f', 40);
    const [r1, r1c] = await start('r1', ['--shards', '2', '--replicaof', `127.0.0.1 ${m.port}`]);
    const [r2, r2c] = await start('r2', ['--shards', '1', '--replicaof', `127.0.0.1 ${m.port}`]);
    await caughtUp(mc, r1c);
    await caughtUp(mc, r2c);
    const oldId = (await info(mc, 'replication')).master_replid;

    // Sentinel's promotion, then its reconfiguration of the others.
    expect(await r1c.call('replicaof', 'no', 'one')).toBe('OK');
    expect(await r2c.call('replicaof', '127.0.0.1', String(r1.port))).toBe('OK');
    expect(await mc.call('replicaof', '127.0.0.1', String(r1.port))).toBe('OK');
    await r1c.set('after-failover', 'yes');
    await caughtUp(r1c, r2c);
    await caughtUp(r1c, mc);
    const stats = await info(r1c, 'stats');
    expect(stats.sync_partial_ok).toBe('2');
    expect(stats.sync_full).toBe('0');
    const r1i = await info(r1c, 'replication');
    expect(r1i.master_replid2).toBe(oldId);
    for (const c of [r2c, mc]) {
      const ri = await info(c, 'replication');
      expect(ri.master_replid).toBe(r1i.master_replid);
      expect(ri.master_replid2).toBe(oldId);
      expect(await c.get('after-failover')).toBe('yes');
    }
    await compareAll(r1.port, r2.port);
    await compareAll(r1.port, m.port);
  }, 90_000);
});
