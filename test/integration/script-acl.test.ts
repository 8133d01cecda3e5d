/**
 * Scripts run as the user who called them, as in Redis 7.0: every redis.call / redis.pcall is
 * checked against that user's commands, keys and channels (scriptVerifyACL), and
 * redis.acl_check_cmd answers whether the user could run a command. On one shard and on three,
 * where a script's keys on several shards (or none declared) run with every shard held.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startServer, type TestServer } from '../helpers/server.js';

const CANT_RUN = "ERR The user executing the script can't run this command or subcommand";
const CANT_KEY = "ERR The user executing the script can't access at least one of the keys mentioned in the command arguments";
const CANT_PUBLISH = "ERR The user executing the script can't publish to the channel mentioned in the command";

describe.each([1, 3])('script commands are checked against the calling user (%i shard(s))', (shards) => {
  let srv: TestServer;
  let admin: Redis;
  let bob: Redis;
  beforeAll(async () => {
    srv = await startServer(['--shards', String(shards)]);
    admin = new Redis({ port: srv.port, host: '127.0.0.1' });
    await admin.acl('SETUSER', 'bob', 'on', '>pw', '+@scripting', '+set', '+get', '~x*', 'resetchannels', '&news');
    bob = new Redis({ port: srv.port, host: '127.0.0.1', username: 'bob', password: 'pw' });
  });
  afterAll(async () => {
    bob.disconnect();
    admin.disconnect();
    expect(await srv.stop()).toBe(0);
  });

  it('refuses commands, keys and channels the user may not use, in redis.call and redis.pcall', async () => {
    await expect(bob.eval("return redis.call('hset', KEYS[1], 'f', 1)", 1, 'x1')).rejects.toThrow(CANT_RUN);
    await expect(bob.eval("return redis.call('set', 'y1', 1)", 0)).rejects.toThrow(CANT_KEY);
    await expect(bob.eval("return redis.call('publish', 'sports', 'm')", 0)).rejects.toThrow(CANT_RUN);
    expect(await bob.eval("return redis.pcall('set', 'y1', 1)['err']", 0)).toBe(CANT_KEY);
    expect(await bob.eval("return redis.call('set', KEYS[1], 'v')", 1, 'x1')).toBe('OK');
    expect(await admin.exists('y1')).toBe(0);
    expect(await admin.get('x1')).toBe('v');
    await admin.acl('SETUSER', 'bob', '+publish');
    await expect(bob.eval("return redis.call('publish', 'sports', 'm')", 0)).rejects.toThrow(CANT_PUBLISH);
    expect(await bob.eval("return redis.call('publish', 'news', 'm')", 0)).toBe(0);
  });

  it('redis.acl_check_cmd answers for the calling user, and refuses unknown commands', async () => {
    expect(await bob.eval("return redis.acl_check_cmd('set', 'xx', 1)", 0)).toBe(1);
    expect(await bob.eval("return redis.acl_check_cmd('hset', 'xx', 'f', 1)", 0)).toBeNull();
    expect(await bob.eval("return redis.acl_check_cmd('set', 'yy', 1)", 0)).toBeNull();
    expect(await admin.eval("return redis.acl_check_cmd('hset', 'yy', 'f', 1)", 0)).toBe(1);
    await expect(bob.eval("return redis.acl_check_cmd('invalid-cmd', 'arg')", 0)).rejects.toThrow(
      'ERR Invalid command passed to redis.acl_check_cmd()',
    );
  });

  it('follows rule changes on the same connection, and checks functions (FCALL) too', async () => {
    await expect(bob.eval("return redis.call('del', KEYS[1])", 1, 'x1')).rejects.toThrow(CANT_RUN);
    await admin.acl('SETUSER', 'bob', '+del');
    expect(await bob.eval("return redis.call('del', KEYS[1])", 1, 'x1')).toBe(1);
    await admin.function(
      'LOAD',
      'REPLACE',
      "#!lua name=acllib\nredis.register_function('put', function(keys) return redis.call('hset', keys[1], 'f', 'v') end)",
    );
    await expect(bob.fcall('put', 1, 'x2')).rejects.toThrow(CANT_RUN);
    expect(await admin.fcall('put', 1, 'x2')).toBe(1);
  });

  it('checks scripts whose keys live on several shards, or that declare none', async () => {
    const two = "redis.call('set', KEYS[1], 'a') redis.call('set', KEYS[2], 'b') return redis.call('lpush', KEYS[1], 'c')";
    await expect(bob.eval(two, 2, 'x{a}', 'x{b}')).rejects.toThrow(CANT_RUN);
    expect(await bob.eval("redis.call('set', KEYS[1], 'a') return redis.call('set', KEYS[2], 'b')", 2, 'x{a}', 'x{b}')).toBe('OK');
    await expect(bob.eval("return redis.call('set', 'y{b}', 1)", 0)).rejects.toThrow(CANT_KEY);
    expect(await admin.mget('x{a}', 'x{b}', 'y{b}')).toEqual(['a', 'b', null]);
  });
});
