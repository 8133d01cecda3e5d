/**
 * Scripts and functions whose declared keys live on different shards: they run atomically in the
 * first key's shard while every other shard serves its calls, their writes reach the AOF as one
 * MULTI/EXEC and fire keyspace events; a script declaring no keys reaches every shard, and one
 * declaring keys of one shard is refused an undeclared key of another.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type TestServer } from '../helpers/server.js';

const SHARDS = 3;

/** A key named `prefix…` that lands on `shard` (slot % shards, as Sabre routes). */
function keyOn(shard: number, prefix: string): string {
  for (let i = 0; ; i++) if (calculateSlot(`${prefix}${i}`) % SHARDS === shard) return `${prefix}${i}`;
}

const MOVE = `
local n = tonumber(ARGV[1])
local from = tonumber(redis.call('GET', KEYS[1]) or '0')
redis.call('SET', KEYS[1], from - n)
redis.call('INCRBY', KEYS[2], n)
return redis.call('GET', KEYS[1])`;

describe('scripts whose keys span shards', () => {
  let srv: TestServer;
  let r: Redis;
  beforeAll(async () => {
    srv = await startServer(['--shards', String(SHARDS)]);
    r = new Redis({ port: srv.port, host: '127.0.0.1' });
  });
  afterAll(async () => {
    r.disconnect();
    expect(await srv.stop()).toBe(0);
  });

  it('reads and writes keys on three shards from one EVAL', async () => {
    const [a, b, c] = [keyOn(0, 'ea'), keyOn(1, 'eb'), keyOn(2, 'ec')];
    await r.set(b, 'bee');
    const reply = await r.eval(
      "redis.call('SET', KEYS[1], 'one') redis.call('RPUSH', KEYS[3], 'x', 'y') return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2]), redis.call('LRANGE', KEYS[3], 0, -1), redis.call('INCR', KEYS[2] .. 'n')}",
      3,
      a,
      b,
      c,
    );
    // KEYS[2] .. 'n' is undeclared but lives on a held shard: the script has every shard at hand.
    expect(reply).toEqual(['one', 'bee', ['x', 'y'], 1]);
    expect(await r.get(a)).toBe('one');
    expect(await r.lrange(c, 0, -1)).toEqual(['x', 'y']);
    // Errors from another shard come back as redis.call errors.
    await expect(r.eval("return redis.call('LPUSH', KEYS[2], 'v')", 2, a, b)).rejects.toThrow(/^WRONGTYPE Operation against a key/);
    expect(await r.eval("return redis.pcall('LPUSH', KEYS[2], 'v')['err']", 2, a, b)).toMatch(/^WRONGTYPE/);
  });

  it('keeps a total constant under 8 clients × 200 EVALSHAs moving between shards', async () => {
    const [x, y] = [keyOn(1, 'mx'), keyOn(2, 'my')];
    await r.set(x, '1000');
    await r.set(y, '0');
    const sha = (await r.script('LOAD', MOVE)) as string;
    const clients = Array.from({ length: 8 }, () => new Redis({ port: srv.port, host: '127.0.0.1' }));
    const watcher = new Redis({ port: srv.port, host: '127.0.0.1' });
    let stop = false;
    const sums: number[] = [];
    // A reader on both shards never sees a half-done move.
    const watching = (async () => {
      while (!stop) {
        const [vx, vy] = await watcher.mget(x, y);
        sums.push(Number(vx) + Number(vy));
      }
    })();
    await Promise.all(
      clients.map(async (c, i) => {
        for (let k = 0; k < 200; k++) {
          if (i % 2 === 0) await c.evalsha(sha, 2, x, y, '1');
          else await c.evalsha(sha, 2, y, x, '1');
        }
      }),
    );
    stop = true;
    await watching;
    expect(Number(await r.get(x)) + Number(await r.get(y))).toBe(1000);
    // Even clients moved 800 from x to y, odd ones 800 back.
    expect(await r.get(x)).toBe('1000');
    expect(sums.length).toBeGreaterThan(0);
    expect(sums.every((s) => s === 1000)).toBe(true);
    for (const c of clients) c.disconnect();
    watcher.disconnect();
  });

  it('runs FCALL and FCALL_RO with keys on different shards', async () => {
    const [a, b] = [keyOn(0, 'fa'), keyOn(2, 'fb')];
    await r.call(
      'FUNCTION',
      'LOAD',
      'REPLACE',
      "#!lua name=xlib\nredis.register_function('swap', function(k) local va = redis.call('GET', k[1]) local vb = redis.call('GET', k[2]) redis.call('SET', k[1], vb) redis.call('SET', k[2], va) return {vb, va} end)\nredis.register_function{function_name='both', callback=function(k) return {redis.call('GET', k[1]), redis.call('GET', k[2])} end, flags={'no-writes'}}",
    );
    await r.set(a, 'A');
    await r.set(b, 'B');
    expect(await r.fcall('swap', 2, a, b)).toEqual(['B', 'A']);
    expect(await r.call('FCALL_RO', 'both', 2, a, b)).toEqual(['B', 'A']);
    await expect(r.call('FCALL_RO', 'swap', 2, a, b)).rejects.toThrow(/^ERR Can not execute a script with write flag using \*_ro command/);
  });

  it('keeps a total constant under 4 clients × 100 FCALLs moving between shards', async () => {
    const [x, y] = [keyOn(0, 'fx'), keyOn(1, 'fy')];
    await r.call('FUNCTION', 'LOAD', 'REPLACE', `#!lua name=movelib\nredis.register_function('move', function(KEYS, ARGV) ${MOVE} end)`);
    await r.set(x, '500');
    const clients = Array.from({ length: 4 }, () => new Redis({ port: srv.port, host: '127.0.0.1' }));
    await Promise.all(
      clients.map(async (c, i) => {
        for (let k = 0; k < 100; k++) await c.fcall('move', 2, i % 2 === 0 ? x : y, i % 2 === 0 ? y : x, '2');
      }),
    );
    expect(await r.mget(x, y)).toEqual(['500', '0']);
    for (const c of clients) c.disconnect();
  });

  it('refuses an undeclared key on another shard, and one call whose keys span shards', async () => {
    const [a, other] = [keyOn(0, 'ua'), keyOn(1, 'uo')];
    await expect(r.eval("return redis.call('GET', ARGV[1])", 1, a, other)).rejects.toThrow(
      /^ERR Script attempted to access a key on another shard that was not declared in its keys/,
    );
    await expect(r.eval("return redis.call('MGET', KEYS[1], KEYS[2])", 2, a, other)).rejects.toThrow(
      /^ERR Script attempted to access keys on different shards in one command/,
    );
    // A script that fails before it runs (EVALSHA of an unknown script) releases every shard.
    await expect(r.evalsha('0000000000000000000000000000000000000000', 2, a, other)).rejects.toThrow(/^NOSCRIPT/);
    expect(await r.set(other, 'ok')).toBe('OK');
  });

  it('lets a script that declares no keys use keys on every shard, as Redis does outside cluster mode', async () => {
    const [a, b, c] = [keyOn(0, 'na'), keyOn(1, 'nb'), keyOn(2, 'nc')];
    expect(await r.eval("for _, k in ipairs(ARGV) do redis.call('SET', k, k) end return #ARGV", 0, a, b, c)).toBe(3);
    expect(await r.mget(a, b, c)).toEqual([a, b, c]);
    expect(await r.eval("redis.call('DEL', ARGV[1]) return redis.call('EXISTS', ARGV[1])", 0, b)).toBe(0);
    expect(await r.exists(b)).toBe(0);
  });

  it('fires keyspace events from every shard a script writes', async () => {
    const [a, b] = [keyOn(1, 'ka'), keyOn(2, 'kb')];
    await r.config('SET', 'notify-keyspace-events', 'KA');
    const sub = new Redis({ port: srv.port, host: '127.0.0.1' });
    const seen: string[] = [];
    sub.on('pmessage', (_p, ch, msg) => seen.push(`${ch} ${msg}`));
    await sub.psubscribe('__keyspace@0__:k*');
    await r.eval("redis.call('SET', KEYS[1], 1) redis.call('SET', KEYS[2], 2) return 1", 2, a, b);
    for (let i = 0; i < 100 && seen.length < 2; i++) await new Promise((res) => setTimeout(res, 20));
    expect(seen.sort()).toEqual([`__keyspace@0__:${a} set`, `__keyspace@0__:${b} set`].sort());
    await r.config('SET', 'notify-keyspace-events', '');
    sub.disconnect();
  });

  it('answers BUSY while a script across shards loops, and SCRIPT KILL stops it', async () => {
    const [a, b] = [keyOn(0, 'ba'), keyOn(1, 'bb')];
    await r.config('SET', 'busy-reply-threshold', '50');
    const runner = new Redis({ port: srv.port, host: '127.0.0.1' });
    const looping = runner.eval("redis.call('GET', KEYS[2]) while true do end", 2, a, b).then(
      () => 'finished',
      (e: Error) => e.message,
    );
    let busy = '';
    while (busy === '') {
      busy = await r.ping().then(
        () => '',
        (e: Error) => e.message,
      );
    }
    expect(busy).toMatch(/^BUSY/);
    expect(await r.script('KILL')).toBe('OK');
    expect(await looping).toMatch(/^ERR Script killed by user with SCRIPT KILL\.\.\./);
    expect(await r.get(b)).toBe(null);
    await r.config('SET', 'busy-reply-threshold', '5000');
    runner.disconnect();
  });
});

describe('scripts across shards and the AOF', () => {
  it('logs the writes on every shard as one MULTI/EXEC and replays them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sabre-xscript-aof-'));
    const [a, b] = [keyOn(0, 'aa'), keyOn(2, 'ab')];
    try {
      let srv = await startServer(['--shards', String(SHARDS), '--appendonly', 'yes', '--dir', dir]);
      let r = new Redis({ port: srv.port, host: '127.0.0.1' });
      await r.eval("redis.call('SET', KEYS[1], ARGV[1]) redis.call('INCRBY', KEYS[2], ARGV[1]) return 1", 2, a, b, '7');
      r.disconnect();
      expect(await srv.stop()).toBe(0);
      const aof = readFileSync(join(dir, 'appendonly.aof'), 'latin1');
      expect(aof).toMatch(new RegExp(`MULTI[\\s\\S]*${a}[\\s\\S]*${b}[\\s\\S]*EXEC`));
      srv = await startServer(['--shards', String(SHARDS), '--appendonly', 'yes', '--dir', dir]);
      r = new Redis({ port: srv.port, host: '127.0.0.1' });
      expect(await r.mget(a, b)).toEqual(['7', '7']);
      r.disconnect();
      expect(await srv.stop()).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
