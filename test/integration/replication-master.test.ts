/**
 * A real Redis 7.0 replica of a Sabre master (skipped where redis-server is not installed): full
 * sync of every data type over several databases while writes run, diskless and disk-based, then
 * the live stream; partial resync after the replica restarts and after its link is cut; expired
 * keys reaching the replica as DELs; WAIT counting acknowledgements; min-replicas-to-write.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startServer, type TestServer } from '../helpers/server.js';
import { hasRedis } from '../persistence/redis-process.js';
import { freePort } from '../helpers/redis-server.js';

if (!hasRedis) console.warn('replication-master: skipped: redis-server 7.0 is not installed (Debian: apt-get install redis-server)');

/** A redis-server replica of the Sabre master, restartable on the same port and directory. */
class RedisReplica {
  proc: ChildProcess | null = null;
  client!: Redis;
  out = '';

  constructor(
    readonly dir: string,
    readonly port: number,
    readonly masterPort: number,
  ) {}

  async start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'no'];
    args.push('--replicaof', '127.0.0.1', String(this.masterPort));
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.proc = proc;
    const from = this.out.length;
    proc.stdout!.on('data', (d: Buffer) => (this.out += d.toString()));
    proc.stderr!.on('data', (d: Buffer) => (this.out += d.toString()));
    await waitFor(
      () => this.out.includes('Ready to accept connections', from),
      10_000,
      () => this.out,
    );
    this.client = new Redis({ port: this.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
    // SHUTDOWN and kill close it under the client's feet: that is expected here.
    this.client.on('error', () => {});
    await this.client.connect();
  }

  /** SHUTDOWN SAVE: the replica keeps its replication id and offset in its RDB and asks to continue from them on restart. */
  async shutdown(): Promise<void> {
    const exited = new Promise<void>((resolve) => this.proc!.once('exit', () => resolve()));
    await this.client.call('SHUTDOWN', 'SAVE').catch(() => undefined);
    this.client.disconnect();
    await exited;
    this.proc = null;
  }

  async kill(): Promise<void> {
    if (this.proc === null) return;
    const exited = new Promise<void>((resolve) => this.proc!.once('exit', () => resolve()));
    this.client?.disconnect();
    this.proc.kill('SIGKILL');
    await exited;
    this.proc = null;
  }

  async info(section: string): Promise<Map<string, string>> {
    return parseInfo(await this.client.info(section));
  }
}

function parseInfo(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\r\n')) {
    const i = line.indexOf(':');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, why: () => string = () => ''): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting\n${why()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const DBS = [0, 1, 3];

/** Keys of every type Sabre has, in several databases, some with TTLs, collections big enough for their large encodings. */
async function fill(c: Redis, tag: string): Promise<void> {
  for (const db of DBS) {
    await c.select(db);
    const p = c.pipeline();
    for (let i = 0; i < 300; i++) p.set(`${tag}:s:${i}`, `v${i}-${db}`);
    for (let i = 0; i < 50; i++) p.set(`${tag}:ttl:${i}`, 'x', 'EX', 1000 + i);
    p.set(`${tag}:int`, '12345');
    p.rpush(`${tag}:list`, ...Array.from({ length: 600 }, (_, i) => `e${i}`));
    p.rpush(`${tag}:small-list`, 'a', 'b', 'c');
    p.hset(`${tag}:hash`, Object.fromEntries(Array.from({ length: 700 }, (_, i) => [`f${i}`, `v${i}`])));
    p.hset(`${tag}:small-hash`, 'a', '1', 'b', '2');
    p.sadd(`${tag}:intset`, ...Array.from({ length: 100 }, (_, i) => i * 3));
    p.sadd(`${tag}:set`, ...Array.from({ length: 800 }, (_, i) => `m${i}`));
    p.zadd(`${tag}:zset`, ...Array.from({ length: 400 }, (_, i) => [i * 1.5, `z${i}`]).flat());
    p.zadd(`${tag}:small-zset`, 1, 'a', 2, 'b');
    for (let i = 0; i < 50; i++) p.xadd(`${tag}:stream`, '*', 'n', String(i), 'db', String(db));
    p.xgroup('CREATE', `${tag}:stream`, 'g1', '0');
    p.pfadd(`${tag}:hll`, ...Array.from({ length: 500 }, (_, i) => `u${i}`));
    p.setbit(`${tag}:bitmap`, 1000, 1);
    p.setbit(`${tag}:bitmap`, 7, 1);
    p.hset(`${tag}:ttl-hash`, 'a', '1');
    p.pexpire(`${tag}:ttl-hash`, 900_000);
    await p.exec();
  }
  await c.select(0);
}

/** Writes of many kinds in a loop until stopped (what runs while a sync is in progress). */
function writer(c: Redis, tag: string): { stop(): Promise<number> } {
  let running = true;
  let n = 0;
  const done = (async () => {
    while (running) {
      const p = c.pipeline();
      p.select(n % 2 === 0 ? 0 : 1);
      p.incr(`${tag}:w:counter`);
      p.rpush(`${tag}:w:list`, `i${n}`);
      p.hset(`${tag}:w:hash`, `f${n % 50}`, String(n));
      p.zadd(`${tag}:w:zset`, n, `m${n % 30}`);
      p.sadd(`${tag}:w:set`, `s${n}`, `t${n}`);
      p.spop(`${tag}:w:set`);
      p.xadd(`${tag}:w:stream`, '*', 'n', String(n));
      p.set(`${tag}:w:ex:${n % 20}`, String(n), 'EX', 500);
      p.expire(`${tag}:w:counter`, 1000);
      p.pfadd(`${tag}:w:hll`, `e${n}`);
      p.setbit(`${tag}:w:bits`, n % 500, 1);
      p.eval("redis.call('incr', KEYS[1]); return redis.call('rpush', KEYS[2], ARGV[1])", 2, `{${tag}}a`, `{${tag}}b`, String(n));
      p.mset(`${tag}:w:m1`, String(n), `${tag}:w:m2`, String(n));
      p.del(`${tag}:w:ex:${(n + 7) % 20}`);
      await p.exec();
      n++;
    }
  })();
  return {
    async stop() {
      running = false;
      await done;
      return n;
    },
  };
}

/** Waits until the replica processed every byte the master produced. */
async function caughtUp(master: Redis, replica: RedisReplica): Promise<void> {
  await waitFor(
    async () => {
      const m = parseInfo(await master.info('replication')).get('master_repl_offset');
      const r = (await replica.info('replication')).get('master_repl_offset');
      return m !== undefined && m === r;
    },
    20_000,
    () => replica.out,
  );
}

/** The value of a key as a comparable text, by type. */
async function keyValue(c: Redis, key: string, type: string): Promise<string> {
  switch (type) {
    case 'string':
      return (await c.getBuffer(key))!.toString('base64');
    case 'list':
      return JSON.stringify(await c.lrange(key, 0, -1));
    case 'hash':
      return JSON.stringify(Object.entries(await c.hgetall(key)).sort());
    case 'set':
      return JSON.stringify((await c.smembers(key)).sort());
    case 'zset':
      return JSON.stringify(await c.zrange(key, 0, -1, 'WITHSCORES'));
    case 'stream':
      return JSON.stringify([await c.xrange(key, '-', '+'), await c.xinfo('GROUPS', key)]);
    default:
      throw new Error(`unexpected type ${type} for ${key}`);
  }
}

/** Compares every key of every database: type, value, TTL within a tolerance. */
async function compare(master: Redis, replica: Redis): Promise<number> {
  let keys = 0;
  for (const db of [0, 1, 2, 3]) {
    await master.select(db);
    await replica.select(db);
    const mk = (await master.keys('*')).sort();
    const rk = (await replica.keys('*')).sort();
    expect(rk, `keys of db ${db}`).toEqual(mk);
    for (const k of mk) {
      const type = await master.type(k);
      expect(await replica.type(k), `type of ${k}`).toBe(type);
      expect(await keyValue(replica, k, type), `value of ${k}`).toBe(await keyValue(master, k, type));
      const [mt, rt] = [await master.pttl(k), await replica.pttl(k)];
      if (mt < 0) expect(rt, `ttl of ${k}`).toBe(mt);
      else expect(Math.abs(mt - rt), `ttl of ${k}`).toBeLessThan(5000);
      keys++;
    }
  }
  await master.select(0);
  await replica.select(0);
  return keys;
}

describe.skipIf(!hasRedis)('a Redis 7.0 replica of a Sabre master', () => {
  let dir: string;
  let srv: TestServer;
  let master: Redis;
  const replicas: RedisReplica[] = [];

  const stats = async (): Promise<Map<string, string>> => parseInfo(await master.info('stats'));

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sabre-repl-master-'));
    srv = await startServer(['--shards', '3', '--dir', dir, '--save', '', '--repl-diskless-sync-delay', '0']);
    master = new Redis({ port: srv.port, host: '127.0.0.1', lazyConnect: true });
    await master.connect();
    await fill(master, 'base');
    await master.call('FUNCTION', 'LOAD', "#!lua name=lib1\nredis.register_function('f1', function() return 1 end)");
  });
  afterAll(async () => {
    master?.disconnect();
    for (const r of replicas) await r.kill();
    await srv?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const newReplica = async (name: string): Promise<RedisReplica> => {
    const rdir = join(dir, name);
    const { mkdirSync } = await import('node:fs');
    mkdirSync(rdir);
    const r = new RedisReplica(rdir, await freePort(), srv.port);
    replicas.push(r);
    return r;
  };

  let a: RedisReplica;

  it('full-syncs a replica diskless while writes run, then streams live writes', async () => {
    const w = writer(master, 'sync1');
    await new Promise((r) => setTimeout(r, 200));
    a = await newReplica('a');
    await a.start();
    await waitFor(
      async () => (await a.info('replication')).get('master_link_status') === 'up',
      20_000,
      () => a.out,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(await w.stop()).toBeGreaterThan(0);
    expect(a.out).toContain('receiving streamed RDB from master with EOF');
    await caughtUp(master, a);
    expect(await compare(master, a.client)).toBeGreaterThan(1000);
    // Function libraries come with the snapshot, and later ones with the stream.
    const names = async (c: Redis): Promise<string[]> =>
      ((await c.call('FUNCTION', 'LIST')) as unknown[][]).map((lib) => String(lib[1])).sort();
    expect(await names(a.client)).toEqual(['lib1']);
    await master.call('FUNCTION', 'LOAD', "#!lua name=lib2\nredis.register_function('f2', function() return 2 end)");
    // Live writes after the sync.
    await master.set('live:1', 'one');
    await master.select(3);
    await master.lpush('live:list', 'x', 'y');
    await master.select(0);
    await caughtUp(master, a);
    await compare(master, a.client);
    expect(await names(a.client)).toEqual(['lib1', 'lib2']);
    const info = parseInfo(await master.info('replication'));
    expect(info.get('connected_slaves')).toBe('1');
    expect(info.get('slave0')).toMatch(new RegExp(`^ip=127\\.0\\.0\\.1,port=${a.port},state=online,offset=\\d+,lag=\\d+$`));
    expect((await stats()).get('sync_full')).toBe('1');
    const role = (await master.call('ROLE')) as [string, number, string[][]];
    expect(role[0]).toBe('master');
    expect(role[2]).toEqual([['127.0.0.1', String(a.port), expect.stringMatching(/^\d+$/)]]);
    const list = (await master.call('CLIENT', 'LIST', 'TYPE', 'replica')) as string;
    expect(list).toMatch(/flags=S /);
    expect(info.get('repl_backlog_active')).toBe('1');
    await master.config('SET', 'repl-backlog-size', '2mb');
    const resized = parseInfo(await master.info('replication'));
    expect(resized.get('repl_backlog_size')).toBe(String(2 << 20));
    // The bytes held are kept (a PING may have added some since).
    expect(Number(resized.get('repl_backlog_histlen'))).toBeGreaterThanOrEqual(Number(info.get('repl_backlog_histlen')));
  }, 120_000);

  it('sends the keys that expire on the master as DELs', async () => {
    await master.select(1);
    await master.set('soon:1', 'a', 'PX', 200);
    await master.set('soon:2', 'b', 'PX', 200);
    await caughtUp(master, a);
    await a.client.select(1);
    const before = await a.client.dbsize();
    // The replica never expires keys itself: its key count drops only when the master's DELs arrive.
    await waitFor(async () => (await a.client.dbsize()) === before - 2, 10_000);
    expect(await a.client.dbsize()).toBe(await master.dbsize());
    await a.client.select(0);
    await master.select(0);
  }, 120_000);

  it('WAIT counts the replicas that acknowledged the write', async () => {
    await master.set('wait:1', 'x');
    expect(await master.wait(1, 5000)).toBe(1);
    // Pipelined with the write it waits for.
    const p = master.pipeline();
    p.set('wait:2', 'y');
    p.wait(1, 5000);
    const r = await p.exec();
    expect(r![1]![1]).toBe(1);
    expect(await a.client.get('wait:2')).toBe('y');
    // Two asked, one there: the timeout answers the one reached.
    expect(await master.wait(2, 300)).toBe(1);
    // Timeout 0 waits as long as it takes; then WAIT 0 counts the same replica at once.
    expect(await master.wait(1, 0)).toBe(1);
    expect(await master.wait(0, 0)).toBe(1);
  }, 120_000);

  it('refuses writes without enough good replicas (min-replicas-to-write)', async () => {
    await master.config('SET', 'min-replicas-to-write', '2');
    await waitFor(async () => parseInfo(await master.info('replication')).get('min_slaves_good_slaves') === '1', 3000);
    await expect(master.set('refused', 'x')).rejects.toThrow('NOREPLICAS Not enough good replicas to write.');
    // Scripts: refused at their first write, or up front when their shebang lets them write.
    await expect(master.eval("return redis.call('set', KEYS[1], 'x')", 1, 'refused')).rejects.toThrow(/^NOREPLICAS /);
    await expect(master.eval("#!lua\nreturn redis.call('get', KEYS[1])", 1, 'refused')).rejects.toThrow(/^NOREPLICAS /);
    expect(await master.eval("#!lua flags=no-writes\nreturn redis.call('get', KEYS[1])", 1, 'base:s:2')).toBe('v2-0');
    expect(await master.get('base:s:1')).not.toBeNull();
    // A transaction with a write ends in EXECABORT, as in Redis.
    await expect(master.multi().set('refused', 'x').exec()).rejects.toThrow(/EXECABORT/);
    await master.config('SET', 'min-replicas-to-write', '1');
    expect(await master.set('allowed', 'x')).toBe('OK');
    await master.config('SET', 'min-replicas-to-write', '0');
  }, 120_000);

  it('continues partially after the replica restarts', async () => {
    await caughtUp(master, a);
    const ok = Number((await stats()).get('sync_partial_ok'));
    await a.shutdown();
    // Writes while it is away come from the backlog.
    await master.set('while-away', '1');
    await master.select(3);
    await master.hset('while-away:h', 'f', 'v');
    await master.select(0);
    await a.start();
    await waitFor(
      async () => (await a.info('replication')).get('master_link_status') === 'up',
      20_000,
      () => a.out,
    );
    expect(a.out).toContain('Successful partial resynchronization with master');
    expect(Number((await stats()).get('sync_partial_ok'))).toBe(ok + 1);
    expect((await stats()).get('sync_full')).toBe('1');
    await caughtUp(master, a);
    await compare(master, a.client);
  }, 120_000);

  it('continues partially after the link is cut (CLIENT KILL TYPE replica)', async () => {
    const ok = Number((await stats()).get('sync_partial_ok'));
    expect(await master.client('KILL', 'TYPE', 'normal')).toBe(0);
    expect(await master.client('KILL', 'TYPE', 'replica')).toBe(1);
    await master.set('after-cut', '1');
    await waitFor(
      async () => Number((await stats()).get('sync_partial_ok')) === ok + 1,
      20_000,
      () => a.out,
    );
    await caughtUp(master, a);
    expect(await a.client.get('after-cut')).toBe('1');
    expect((await stats()).get('sync_full')).toBe('1');
  }, 120_000);

  it('drops a replica past client-output-buffer-limit replica; it comes back with a full sync', async () => {
    await caughtUp(master, a);
    const full = Number((await stats()).get('sync_full'));
    await master.config('SET', 'client-output-buffer-limit', 'replica 1mb 512kb 10');
    a.proc!.kill('SIGSTOP');
    try {
      // Far more than the kernel's socket buffers and the 1 MB backlog hold.
      const big = 'v'.repeat(100_000);
      for (let i = 0; i < 300; i++) await master.set(`big:${i % 50}`, big);
      await waitFor(async () => parseInfo(await master.info('replication')).get('connected_slaves') === '0', 10_000);
    } finally {
      a.proc!.kill('SIGCONT');
    }
    await master.config('SET', 'client-output-buffer-limit', 'replica 256mb 64mb 60');
    await waitFor(
      async () => Number((await stats()).get('sync_full')) === full + 1,
      30_000,
      () => a.out,
    );
    await waitFor(
      async () => (await a.info('replication')).get('master_link_status') === 'up',
      20_000,
      () => a.out,
    );
    await caughtUp(master, a);
    await compare(master, a.client);
    for (let i = 0; i < 50; i++) await master.del(`big:${i}`);
  }, 120_000);

  it('full-syncs a second replica from an RDB file (repl-diskless-sync no) while writes run', async () => {
    await master.config('SET', 'repl-diskless-sync', 'no');
    const w = writer(master, 'sync2');
    await new Promise((r) => setTimeout(r, 200));
    const b = await newReplica('b');
    await b.start();
    await waitFor(
      async () => (await b.info('replication')).get('master_link_status') === 'up',
      20_000,
      () => b.out,
    );
    await new Promise((r) => setTimeout(r, 300));
    await w.stop();
    expect(b.out).toMatch(/MASTER <-> REPLICA sync: receiving \d+ bytes from master to disk/);
    await caughtUp(master, b);
    await caughtUp(master, a);
    await compare(master, b.client);
    await compare(master, a.client);
    expect(b.out).toContain('Full resync from master');
    expect(await master.wait(2, 0)).toBe(2);
    await b.kill();
    await master.config('SET', 'repl-diskless-sync', 'yes');
  }, 120_000);
});
