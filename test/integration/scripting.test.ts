/**
 * Lua scripting and functions through real clients: ioredis's defineCommand (EVALSHA, falling back
 * to EVAL), node-redis's scriptLoad/evalSha and FUNCTION LOAD/fCall, Redis's conversions and error
 * texts, BUSY and SCRIPT KILL, and scripts on several shards.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { createClient } from 'redis';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, type TestServer } from '../helpers/server.js';

const TOKEN_BUCKET = `
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens') or ARGV[1])
if tokens < tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'tokens', tokens - tonumber(ARGV[2]))
return 1`;

describe.each([1, 3])('scripting with %i shard(s)', (shards) => {
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

  it('publishes from a script: subscribers get the message before the reply, and PUBLISH counts them', async () => {
    const sub = new Redis({ port: srv.port, host: '127.0.0.1' });
    const psub = new Redis({ port: srv.port, host: '127.0.0.1' });
    try {
      const got: string[] = [];
      sub.on('message', (ch: string, msg: string) => got.push(`${ch}:${msg}`));
      psub.on('pmessage', (_p: string, ch: string, msg: string) => got.push(`p ${ch}:${msg}`));
      await sub.subscribe('news');
      await psub.psubscribe('n*');
      const n = await r.eval("redis.call('set', KEYS[1], 'v') return redis.call('publish', 'news', ARGV[1])", 1, 'pub{x}', 'hello');
      expect(n).toBe(2);
      expect(await r.eval("return redis.call('publish', 'other', 'x')", 0)).toBe(0);
      await sub.ping();
      await psub.ping();
      expect(got.sort()).toEqual(['news:hello', 'p news:hello']);
    } finally {
      sub.disconnect();
      psub.disconnect();
    }
  });

  it("counts a script call's error in errorstats once, when the call fails, as Redis does", async () => {
    await r.config('RESETSTAT');
    await expect(r.eval("return redis.call('select', 99)", 0)).rejects.toThrow('ERR DB index is out of range');
    expect(await r.eval("local t = redis.pcall('select', 99) return 1", 0)).toBe(1);
    await expect(r.eval("return redis.pcall('select', 99)", 0)).rejects.toThrow('ERR DB index is out of range');
    await expect(r.eval("return redis.error_reply('MY_ERR custom')", 0)).rejects.toThrow('MY_ERR custom');
    const info = await r.info('errorstats');
    expect(info).toContain('errorstat_ERR:count=3');
    expect(info).toContain('errorstat_MY_ERR:count=1');
    expect(await r.info('stats')).toContain('total_error_replies:4');
  });

  it('answers FUNCTION FLUSH and RESTORE argument errors with Redis texts', async () => {
    await expect(r.function('FLUSH', 'bad_arg')).rejects.toThrow('ERR FUNCTION FLUSH only supports SYNC|ASYNC option');
    await expect(r.function('flush', 'sync', 'extra_arg')).rejects.toThrow(
      "ERR unknown subcommand or wrong number of arguments for 'flush'. Try FUNCTION HELP.",
    );
    await expect(r.function('restore', 'arg1', 'arg2', 'arg3')).rejects.toThrow(
      "ERR unknown subcommand or wrong number of arguments for 'restore'. Try FUNCTION HELP.",
    );
    await expect(r.function('RESTORE', 'x', 'MERGE')).rejects.toThrow(
      'ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.',
    );
  });

  it('counts the commands scripts call in INFO commandstats: run, failed, or rejected before running', async () => {
    await r.config('RESETSTAT');
    await r.set('cs{x}', 'v');
    await r.eval("redis.call('set', KEYS[1], 0) redis.call('expire', KEYS[1], 0) redis.call('geoadd', KEYS[1], 0, 0, 'bar')", 1, 'cs{x}');
    await r.call('EVAL_RO', "return redis.pcall('set', KEYS[1], 'y')", 1, 'cs{x}').catch(() => null);
    await r.eval("return redis.pcall('select', 99)", 0).catch(() => null);
    const stats = (await r.info('commandstats')).split('\r\n');
    const stat = (name: string): string =>
      stats.find((l) => l.startsWith(`cmdstat_${name}:`))?.replace(/usec=[^,]*,usec_per_call=[^,]*,/, '') ?? '';
    expect(stat('set')).toBe('cmdstat_set:calls=2,rejected_calls=1,failed_calls=0');
    expect(stat('expire')).toBe('cmdstat_expire:calls=1,rejected_calls=0,failed_calls=0');
    expect(stat('geoadd')).toBe('cmdstat_geoadd:calls=1,rejected_calls=0,failed_calls=0');
    expect(stat('select')).toBe('cmdstat_select:calls=1,rejected_calls=0,failed_calls=1');
    expect(stat('eval')).toBe('cmdstat_eval:calls=2,rejected_calls=0,failed_calls=1');
  });

  it('sorts a set alphabetically for SORT BY a constant inside a script, as Redis does so replicas agree', async () => {
    await r.del('myset{x}');
    await r.sadd('myset{x}', 'z', 'a', 'aa', 'b', 'azz');
    expect(await r.eval("return redis.call('sort',KEYS[1],'by','_','get','#','get','_:*')", 1, 'myset{x}')).toEqual([
      'a',
      null,
      'aa',
      null,
      'azz',
      null,
      'b',
      null,
      'z',
      null,
    ]);
  });

  it('refuses XREAD and XREADGROUP with BLOCK inside a script, as Redis does, and reads without it', async () => {
    await r.del('st{x}');
    await r.xgroup('CREATE', 'st{x}', 'g', '$', 'MKSTREAM');
    await expect(r.eval("return redis.pcall('xread','BLOCK',0,'STREAMS',KEYS[1],'$')", 1, 'st{x}')).rejects.toThrow(
      'ERR xread command is not allowed with BLOCK option from scripts',
    );
    await expect(r.eval("return redis.pcall('XREADGROUP','GROUP','g','c','BLOCK',0,'STREAMS',KEYS[1],'>')", 1, 'st{x}')).rejects.toThrow(
      'ERR XREADGROUP command is not allowed with BLOCK option from scripts',
    );
    expect(await r.eval("return redis.pcall('xread','STREAMS',KEYS[1],'$')", 1, 'st{x}')).toBeNull();
  });

  it('runs an ioredis defineCommand script atomically against the keyspace', async () => {
    r.defineCommand('take', { numberOfKeys: 1, lua: TOKEN_BUCKET });
    const take = (r as unknown as { take(k: string, cap: number, n: number): Promise<number> }).take.bind(r);
    const results: number[] = [];
    for (let i = 0; i < 7; i++) results.push(await take('bucket:{a}', 5, 1));
    expect(results).toEqual([1, 1, 1, 1, 1, 0, 0]);
    expect(await r.hget('bucket:{a}', 'tokens')).toBe('0');
  });

  it('converts values both ways as Redis does', async () => {
    expect(await r.eval("return {1, 'two', 3.99, true, false, {ok='fine'}}", 0)).toEqual([1, 'two', 3, 1, null, 'fine']);
    expect(await r.eval('return tostring(10/2) .. "|" .. 7/2', 0)).toBe('5|3.5');
    await r.set('n', '41');
    expect(await r.eval("return redis.call('INCR', KEYS[1])", 1, 'n')).toBe(42);
    expect(await r.eval("return type(redis.call('GET', 'missing{n}'))", 0)).toBe('boolean');
    expect(await r.eval("return redis.pcall('INCR', 'x', 'y')", 0).catch((e: Error) => e.message)).toBe(
      'ERR Wrong number of args calling Redis command from script',
    );
    expect(await r.eval("return cjson.encode({1, 2, {a = 'b'}})", 0)).toBe('[1,2,{"a":"b"}]');
    expect(await r.eval('return bit.band(0xff, 0x0f) .. bit.tohex(255, 4)', 0)).toBe('1500ff');
    expect(await r.eval('return unpack({1, 2})', 0)).toBe(1);
  });

  it('lets scripts read the clock with TIME, as Redis 7 does', async () => {
    const before = Date.now();
    const [sec, usec] = (await r.eval("return redis.call('TIME')", 0)) as [string, string];
    const ms = Number(sec) * 1000 + Number(usec) / 1000;
    expect(Number(usec)).toBeLessThan(1e6);
    expect(ms).toBeGreaterThanOrEqual(before - 1000);
    expect(ms).toBeLessThanOrEqual(Date.now() + 1000);
  });

  it('answers with Redis error texts', async () => {
    const err = (p: Promise<unknown>): Promise<string> =>
      p.then(
        () => 'no error',
        (e: Error) => e.message,
      );
    expect(await err(r.eval('return a', 0))).toMatch(
      /^ERR user_script:1: Script attempted to access nonexistent global variable 'a' script: [0-9a-f]{40}, on @user_script:1\.$/,
    );
    expect(await err(r.eval('x = 1', 0))).toMatch(/Attempt to modify a readonly table/);
    expect(await err(r.eval('return +', 0))).toMatch(/^ERR Error compiling script \(new function\): user_script:1:/);
    expect(await err(r.evalsha('0000000000000000000000000000000000000000', 0))).toBe('NOSCRIPT No matching script. Please use EVAL.');
    expect(await err(r.eval("return redis.call('nosuchcommand')", 0))).toMatch(/^ERR Unknown Redis command called from script/);
    expect(await err(r.call('EVAL_RO', "return redis.call('SET', 'k', 'v')", '0'))).toMatch(
      /Write commands are not allowed from read-only scripts/,
    );
    expect(await err(r.eval('return 1', -1))).toBe("ERR Number of keys can't be negative");
  });

  it('loads scripts and functions with node-redis', async () => {
    const nr = createClient({ socket: { port: srv.port, host: '127.0.0.1' } });
    await nr.connect();
    try {
      const sha = await nr.scriptLoad("return redis.call('SET', KEYS[1], ARGV[1])");
      expect(await nr.scriptExists(sha)).toEqual([1]);
      expect(await nr.evalSha(sha, { keys: ['nr:key'], arguments: ['v1'] })).toBe('OK');
      expect(await nr.get('nr:key')).toBe('v1');
      const lib =
        "#!lua name=mylib\nredis.register_function{function_name='getset', callback=function(keys, args) local old = redis.call('GET', keys[1]) redis.call('SET', keys[1], args[1]) return old end}\nredis.register_function{function_name='peek', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}}";
      expect(await nr.functionLoad(lib)).toBe('mylib');
      expect(await nr.fCall('getset', { keys: ['fk'], arguments: ['a'] })).toBeNull();
      expect(await nr.fCall('getset', { keys: ['fk'], arguments: ['b'] })).toBe('a');
      expect(await nr.fCallRo('peek', { keys: ['fk'], arguments: [] })).toBe('b');
      const list = (await nr.sendCommand(['FUNCTION', 'LIST'])) as unknown[];
      expect(JSON.stringify(list)).toContain('mylib');
      expect(await nr.sendCommand(['FUNCTION', 'DELETE', 'mylib'])).toBe('OK');
      await expect(nr.fCall('getset', { keys: ['fk'], arguments: ['c'] })).rejects.toThrow('ERR Function not found');
    } finally {
      await nr.quit();
    }
  });

  it('dumps and restores function libraries with the payload Redis uses', async () => {
    await r.call('FUNCTION', 'FLUSH');
    await r.call('FUNCTION', 'LOAD', "#!lua name=dumped\nredis.register_function('hello', function() return 'hi' end)");
    const payload = (await r.callBuffer('FUNCTION', 'DUMP')) as Buffer;
    expect(payload[0]).toBe(245);
    await r.call('FUNCTION', 'DELETE', 'dumped');
    expect(await r.call('FUNCTION', 'RESTORE', payload)).toBe('OK');
    expect(await r.fcall('hello', 0)).toBe('hi');
    await expect(r.call('FUNCTION', 'RESTORE', payload)).rejects.toThrow('ERR Library dumped already exists');
    expect(await r.call('FUNCTION', 'RESTORE', payload, 'REPLACE')).toBe('OK');
    const bad = Buffer.from(payload);
    bad[bad.length - 1]! ^= 1;
    await expect(r.call('FUNCTION', 'RESTORE', bad, 'FLUSH')).rejects.toThrow('ERR payload version or checksum are wrong');
    expect(await r.fcall('hello', 0)).toBe('hi');
  });

  it.each([
    'while true do end',
    'repeat until false',
    '::top:: goto top',
    'local function f() return f() end return f()',
    'while true do pcall(error) end',
  ])('answers BUSY while a script runs past the threshold, and SCRIPT KILL stops it: %s', async (loop) => {
    await r.config('SET', 'busy-reply-threshold', '50');
    const runner = new Redis({ port: srv.port, host: '127.0.0.1' });
    const looping = runner.eval(loop, 0).then(
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
    expect(busy).toBe('BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.');
    expect(await r.script('KILL')).toBe('OK');
    expect(await looping).toMatch(/^ERR Script killed by user with SCRIPT KILL\.\.\./);
    expect(await r.ping()).toBe('PONG');
    await expect(r.script('KILL')).rejects.toThrow('NOTBUSY No scripts in execution right now.');
    await r.config('SET', 'busy-reply-threshold', '5000');
    runner.disconnect();
  });

  it.runIf(shards > 1)('runs a script whose declared keys live on different shards', async () => {
    const other = Array.from({ length: 20 }, (_, i) => `key:${i}`).find((k) => calculateSlot(k) % shards !== calculateSlot('a') % shards)!;
    await r.set(other, 'there');
    expect(await r.eval("return redis.call('GET', KEYS[2])", 2, 'a', other)).toBe('there');
    expect(await r.eval("return redis.call('SET', KEYS[1], 'x')", 2, '{t}a', '{t}b')).toBe('OK');
  });
});

describe('scripts and the AOF', () => {
  it("logs a script's writes as its effects in MULTI/EXEC and replays them, functions included", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sabre-script-aof-'));
    try {
      let srv = await startServer(['--appendonly', 'yes', '--dir', dir]);
      let r = new Redis({ port: srv.port, host: '127.0.0.1' });
      const sha = (await r.script(
        'LOAD',
        "redis.call('INCRBY', KEYS[1], ARGV[1]) redis.call('SELECT', 2) redis.call('RPUSH', 'l', ARGV[1]) return 1",
      )) as string;
      await r.evalsha(sha, 1, 'n', '5');
      await r.evalsha(sha, 1, 'n', '6');
      await r.call('FUNCTION', 'LOAD', "#!lua name=lib\nredis.register_function('bump', function(k) return redis.call('INCR', k[1]) end)");
      expect(await r.fcall('bump', 1, 'c')).toBe(1);
      r.disconnect();
      expect(await srv.stop()).toBe(0);
      const aof = readFileSync(join(dir, 'appendonly.aof'), 'latin1');
      expect(aof).toContain('MULTI');
      expect(aof).not.toContain('evalsha');
      srv = await startServer(['--appendonly', 'yes', '--dir', dir]);
      r = new Redis({ port: srv.port, host: '127.0.0.1' });
      expect(await r.get('n')).toBe('11');
      await r.select(2);
      expect(await r.lrange('l', 0, -1)).toEqual(['5', '6']);
      await r.select(0);
      expect(await r.fcall('bump', 1, 'c')).toBe(2);
      r.disconnect();
      expect(await srv.stop()).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('table order', () => {
  it("is the same on every server and shard, as Redis's unseeded Lua keeps it", async () => {
    const script =
      "local t = {} for i = 1, 20 do t['k' .. i] = i end local s = {} for k in pairs(t) do s[#s + 1] = k end return table.concat(s, ',')";
    const orders = new Set<string>();
    for (let run = 0; run < 2; run++) {
      const srv = await startServer(['--shards', '3']);
      const r = new Redis({ port: srv.port, host: '127.0.0.1' });
      // A key on each shard: the script runs in each in turn.
      for (let shard = 0; shard < 3; shard++) {
        const key = Array.from({ length: 50 }, (_, i) => `key:${i}`).find((k) => calculateSlot(k) % 3 === shard)!;
        orders.add((await r.eval(script, 1, key)) as string);
      }
      r.disconnect();
      await srv.stop();
    }
    expect(orders.size).toBe(1);
  });
});
