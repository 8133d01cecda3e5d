import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { startServer, type TestServer } from '../helpers/server.js';

/** One field of an INFO section. */
async function info(r: Redis, section: string, field: string): Promise<string | undefined> {
  const text = await r.info(section);
  return new RegExp(`^${field}:(.*)\\r$`, 'm').exec(text)?.[1];
}

/** Polls INFO until `field` reads `want` (a blocked client is counted once its shard has run its command). */
async function waitForInfo(r: Redis, section: string, field: string, want: string): Promise<void> {
  for (;;) {
    if ((await info(r, section, field)) === want) return;
    await new Promise((res) => setTimeout(res, 10));
  }
}

describe.each([1, 3])('config aliases, INFO counters and CLIENT UNBLOCK with %i shard(s)', (shards) => {
  let srv: TestServer;
  let r: Redis;
  const clients: Redis[] = [];
  const client = (): Redis => {
    const c = new Redis({ port: srv.port, host: '127.0.0.1' });
    clients.push(c);
    return c;
  };
  /** A key named `prefix…` on `shard`. */
  const keyOn = (shard: number, prefix: string): string => {
    for (let i = 0; ; i++) if (calculateSlot(`${prefix}${i}`) % shards === shard) return `${prefix}${i}`;
  };
  beforeAll(async () => {
    srv = await startServer(['--shards', String(shards)]);
    r = client();
  });
  afterAll(async () => {
    for (const c of clients) c.disconnect();
    expect(await srv.stop()).toBe(0);
  });

  it('takes the *-ziplist-* names as aliases, and lists both names as Redis 7.0 does', async () => {
    expect(await r.config('GET', 'list-max-ziplist-size')).toEqual(['list-max-ziplist-size', '-2']);
    expect(await r.config('SET', 'hash-max-ziplist-entries', '3')).toBe('OK');
    expect(await r.config('GET', 'hash-max-listpack-entries')).toEqual(['hash-max-listpack-entries', '3']);
    const all = (await r.config('GET', '*max-*list*')) as string[];
    const names = all.filter((_, i) => i % 2 === 0).sort();
    expect(names).toEqual(
      [
        'hash-max-listpack-entries',
        'hash-max-listpack-value',
        'hash-max-ziplist-entries',
        'hash-max-ziplist-value',
        'list-max-listpack-size',
        'list-max-ziplist-size',
        'zset-max-listpack-entries',
        'zset-max-listpack-value',
        'zset-max-ziplist-entries',
        'zset-max-ziplist-value',
      ].sort(),
    );
    // The new threshold reached the shards: a fourth field turns the hash into a hash table.
    await r.hset('aliased', 'a', '1', 'b', '2', 'c', '3');
    expect(await r.object('ENCODING', 'aliased')).toBe('listpack');
    await r.hset('aliased', 'd', '4');
    expect(await r.object('ENCODING', 'aliased')).toBe('hashtable');
    await r.config('SET', 'hash-max-ziplist-entries', '512');
    await expect(r.config('SET', 'zset-max-ziplist-value', 'x')).rejects.toThrow(
      "ERR CONFIG SET failed (possibly related to argument 'zset-max-ziplist-value') - argument couldn't be parsed into an integer",
    );
  });

  it('takes lua-time-limit as the alias of busy-reply-threshold', async () => {
    expect(await r.config('SET', 'lua-time-limit', '100')).toBe('OK');
    expect(await r.config('GET', 'busy-reply-threshold')).toEqual(['busy-reply-threshold', '100']);
    expect(await r.config('GET', 'lua-time-limit')).toEqual(['lua-time-limit', '100']);
    await r.config('SET', 'busy-reply-threshold', '5000');
  });

  it('accepts list-compress-depth within Redis bounds', async () => {
    expect(await r.config('SET', 'list-compress-depth', '2')).toBe('OK');
    expect(await r.config('GET', 'list-compress-depth')).toEqual(['list-compress-depth', '2']);
    await expect(r.config('SET', 'list-compress-depth', '-1')).rejects.toThrow('argument must be between 0 and 2147483647 inclusive');
    await r.config('SET', 'list-compress-depth', '0');
  });

  it('counts keyspace hits and misses, error replies by code, and commands', async () => {
    await r.config('RESETSTAT');
    await r.set('hit', '1');
    await r.get('hit');
    await r.get('miss');
    await r.lpush('hit', 'x').catch(() => {});
    await r.call('SET', 'only-key').catch(() => {});
    await r.call('NOSUCHCOMMAND').catch(() => {});
    expect(await info(r, 'stats', 'keyspace_hits')).toBe('1');
    expect(await info(r, 'stats', 'keyspace_misses')).toBe('1');
    expect(await info(r, 'stats', 'total_error_replies')).toBe('3');
    // RESETSTAT, SET, GET, GET, LPUSH and the three INFO before this one (the refused SET and the unknown command do not count).
    expect(await info(r, 'stats', 'total_commands_processed')).toBe('8');
    const errors = await r.info('errorstats');
    expect(errors).toContain('errorstat_ERR:count=2\r\n');
    expect(errors).toContain('errorstat_WRONGTYPE:count=1\r\n');
    const stats = await r.info('commandstats');
    expect(stats).toMatch(/cmdstat_set:calls=1,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=1,failed_calls=0\r\n/);
    expect(stats).toMatch(/cmdstat_get:calls=2,usec=\d+,usec_per_call=\d+\.\d\d,rejected_calls=0,failed_calls=0\r\n/);
    expect(stats).toMatch(/cmdstat_lpush:calls=1,.*,rejected_calls=0,failed_calls=1\r\n/);
    expect(stats).toMatch(/cmdstat_config\|resetstat:calls=1,/);
    expect(await info(r, 'stats', 'expired_keys')).toBe('0');
    expect(await info(r, 'stats', 'evicted_keys')).toBe('0');
  });

  it('counts a mixed session as Redis 7.0.15 does (its INFO after the same commands)', async () => {
    const c = client();
    await c.config('RESETSTAT');
    const run = (...args: string[]): Promise<unknown> => c.call(args[0]!, ...args.slice(1)).catch((e: Error) => e);
    for (const cmd of [['auth', 'k'], ['multi'], ['set', 'a', 'b'], ['auth', 'a'], ['exec'], ['exec'], ['multi'], ['set'], ['exec']])
      await run(...cmd);
    for (const cmd of [['set', 'k'], ['set', 'k1', 'v1'], ['asdf'], ['lpush', 'a', 'x'], ['hset', 'a']]) await run(...cmd);
    const stats = (await c.info('commandstats'))
      .split('\r\n')
      .filter((l) => l.startsWith('cmdstat_'))
      .map((l) => l.replace(/usec=\d+,usec_per_call=[\d.]+,/, ''))
      .sort();
    expect(stats).toEqual([
      'cmdstat_auth:calls=2,rejected_calls=0,failed_calls=2',
      'cmdstat_config|resetstat:calls=1,rejected_calls=0,failed_calls=0',
      'cmdstat_exec:calls=3,rejected_calls=0,failed_calls=2',
      'cmdstat_hset:calls=0,rejected_calls=1,failed_calls=0',
      'cmdstat_lpush:calls=1,rejected_calls=0,failed_calls=1',
      'cmdstat_multi:calls=2,rejected_calls=0,failed_calls=0',
      'cmdstat_set:calls=2,rejected_calls=2,failed_calls=0',
    ]);
    const errors = (await c.info('errorstats')).split('\r\n').filter((l) => l.startsWith('errorstat_'));
    expect(errors).toEqual(['errorstat_ERR:count=7', 'errorstat_EXECABORT:count=1', 'errorstat_WRONGTYPE:count=1']);
    expect(await info(c, 'stats', 'total_error_replies')).toBe('9');
    // Eleven commands ran (the two EXECuted ones included) and the three INFO above; refused and queued ones do not count.
    expect(await info(c, 'stats', 'total_commands_processed')).toBe('14');
  });

  it('counts a write refused under maxmemory as rejected, not as a call', async () => {
    await r.config('RESETSTAT');
    await r.config('SET', 'maxmemory', '1');
    await expect(r.set('oom', 'v')).rejects.toThrow(/^OOM /);
    await r.config('SET', 'maxmemory', '0');
    expect(await r.info('commandstats')).toMatch(/cmdstat_set:calls=0,usec=\d+,usec_per_call=0\.00,rejected_calls=1,failed_calls=0\r\n/);
    expect(await info(r, 'errorstats', 'errorstat_OOM')).toBe('count=1');
  });

  it('counts a transaction as MULTI, EXEC and each command it ran', async () => {
    await r.config('RESETSTAT');
    const [a, b] = [keyOn(0, 'tx'), keyOn(shards - 1, 'ty')];
    const out = await r.multi().set(a, 'v').incr(a).set(b, 'w').exec();
    expect(out?.[1]?.[0]).toBeInstanceOf(Error);
    const stats = await r.info('commandstats');
    expect(stats).toMatch(/cmdstat_multi:calls=1,/);
    expect(stats).toMatch(/cmdstat_exec:calls=1,/);
    expect(stats).toMatch(/cmdstat_set:calls=2,/);
    expect(stats).toMatch(/cmdstat_incr:calls=1,.*failed_calls=1\r\n/);
    expect(await info(r, 'errorstats', 'errorstat_ERR')).toBe('count=1');
  });

  it('keeps blocked_clients as clients block, are served, time out and leave', async () => {
    const [k1, k2] = [keyOn(0, 'bq'), keyOn(shards - 1, 'bz')];
    expect(await info(r, 'clients', 'blocked_clients')).toBe('0');
    const w1 = client();
    const w2 = client();
    const w3 = client();
    const served = w1.blpop(k1, 0);
    // Keys on two shards when there are several: the wait runs across shards.
    const across = w2.bzpopmin(k1 === k2 ? keyOn(0, 'bw') : k2, k1 === k2 ? keyOn(0, 'bv') : k1, 0);
    const timedOut = w3.brpop(keyOn(0, 'bt'), 0.2);
    await waitForInfo(r, 'clients', 'blocked_clients', '3');
    expect(await timedOut).toBeNull();
    await waitForInfo(r, 'clients', 'blocked_clients', '2');
    await r.rpush(k1, 'x');
    expect(await served).toEqual([k1, 'x']);
    await waitForInfo(r, 'clients', 'blocked_clients', '1');
    w2.disconnect();
    await across.catch(() => {});
    await waitForInfo(r, 'clients', 'blocked_clients', '0');
  });

  it('CLIENT UNBLOCK ends a wait as a timeout or with an UNBLOCKED error', async () => {
    await r.config('RESETSTAT');
    const w = client();
    const id = (await w.client('ID')) as number;
    const [k1, k2] = [keyOn(0, 'ua'), keyOn(shards - 1, 'ub')];
    const p1 = w.blpop(k1, 0);
    await waitForInfo(r, 'clients', 'blocked_clients', '1');
    expect(await r.client('UNBLOCK', id)).toBe(1);
    expect(await p1).toBeNull();
    const p2 = w.blpop(k1, k2, 0).catch((e: Error) => e);
    await waitForInfo(r, 'clients', 'blocked_clients', '1');
    expect(await r.client('UNBLOCK', id, 'ERROR')).toBe(1);
    expect(((await p2) as Error).message).toBe('UNBLOCKED client unblocked via CLIENT UNBLOCK');
    expect(await info(r, 'errorstats', 'errorstat_UNBLOCKED')).toBe('count=1');
    expect(await r.info('commandstats')).toMatch(/cmdstat_blpop:calls=2,.*,rejected_calls=0,failed_calls=1\r\n/);
    expect(await r.client('UNBLOCK', id)).toBe(0);
    await expect(r.client('UNBLOCK', id, 'LATER')).rejects.toThrow('ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR');
    await expect(r.call('CLIENT', 'UNBLOCK', 'abc')).rejects.toThrow('ERR value is not an integer or out of range');
    // Still usable afterwards.
    const p3 = w.blpop(k1, 0);
    await waitForInfo(r, 'clients', 'blocked_clients', '1');
    await r.lpush(k1, 'after');
    expect(await p3).toEqual([k1, 'after']);
  });

  it('serves a blocked client only after the whole transaction ran', async () => {
    const k = keyOn(0, 'atomic');
    const w = client();
    const popped = w.blpop(k, 0);
    await waitForInfo(r, 'clients', 'blocked_clients', '1');
    await r.multi().lpush(k, 'a').del(k).exec();
    await r.multi().lpush(k, 'a').lpush(k, 'b').lpush(k, 'c').exec();
    expect(await popped).toEqual([k, 'c']);
    await r.del(k);
  });

  it('answers Redis error texts for numkeys, COUNT, LIMIT and random counts', async () => {
    await expect(r.call('ZMPOP', 'a', 'k', 'MIN')).rejects.toThrow('ERR numkeys should be greater than 0');
    await expect(r.call('LMPOP', '1', 'k', 'LEFT', 'COUNT', 'x')).rejects.toThrow('ERR count should be greater than 0');
    await expect(r.call('ZINTERCARD', '1', 'k', 'LIMIT', 'x')).rejects.toThrow("ERR LIMIT can't be negative");
    await expect(r.call('ZINTERCARD', '0', 'k')).rejects.toThrow("ERR at least 1 input key is needed for 'zintercard' command");
    await r.hset('rh', 'a', '1');
    await r.zadd('rz', 1, 'a');
    await expect(r.call('HRANDFIELD', 'rh', '-9223372036854775808')).rejects.toThrow(
      'ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807',
    );
    await expect(r.call('ZRANDMEMBER', 'rz', '-9223372036854770000', 'WITHSCORES')).rejects.toThrow(/^ERR value is out of range$/);
  });

  it("reports the scripts' memory as Redis 7.0's INFO memory does, and keeps the Lua heap near its live size", async () => {
    await r.script('FLUSH');
    await r.function('FLUSH');
    const body = 'return redis.call("incr", KEYS[1])';
    const lib = "#!lua name=infolib\nredis.register_function('f1', function() return 1 end)";
    await r.function('LOAD', lib);
    await r.set('lua:x', '0');
    // As the suite's "EVAL does not leak in the Lua stack": 10000 runs, then the heap stays under 100 KB.
    for (let round = 0; round < 10; round++) {
      const p = r.pipeline();
      for (let i = 0; i < 1000; i++) p.eval(body, 1, 'lua:x');
      await p.exec();
    }
    expect(await r.get('lua:x')).toBe('10000');
    // The heap figure is read at most every 100 ms, at the end of a batch: one more batch after that.
    await new Promise((res) => setTimeout(res, 120));
    await r.get('lua:x');
    const lua = Number(await info(r, 'memory', 'used_memory_lua'));
    expect(lua).toBeGreaterThan(10_000);
    expect(lua).toBeLessThan(100 * 1024 * shards);
    expect(await info(r, 'memory', 'used_memory_vm_eval')).toBe(String(lua));
    expect(await info(r, 'memory', 'number_of_cached_scripts')).toBe('1');
    expect(await info(r, 'memory', 'number_of_functions')).toBe('1');
    expect(await info(r, 'memory', 'number_of_libraries')).toBe('1');
    // A script and a library are held by every shard that ran or loaded them.
    expect(Number(await info(r, 'memory', 'used_memory_scripts_eval')) % (body.length + 40)).toBe(0);
    expect(Number(await info(r, 'memory', 'used_memory_functions'))).toBe(shards * (lib.length + 'infolib'.length));
  });
});
