/**
 * ACL as Redis 7.0.15 has it. Redis's own tests/unit/acl.tcl, acl-v2.tcl and auth.tcl cannot run
 * in external mode, so their checks are ported here, next to node-redis and ioredis clients that
 * authenticate as ACL users. SABRE_COMPARE_REDIS=1 runs the same expectations against a real
 * redis-server (the Sabre-only start-up checks are skipped then).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { createClient } from 'redis';
import { RespConn, type Reply } from '../helpers/resp.js';
import { AGAINST_REDIS, startTarget } from '../helpers/target.js';
import { runCli, startServer, type TestServer } from '../helpers/server.js';
import { startRedis } from '../persistence/redis-process.js';

/** A map reply (RESP2 flat array or RESP3 map) as an object. */
function mapOf(r: Reply): Record<string, Reply> {
  if (Array.isArray(r)) {
    const o: Record<string, Reply> = {};
    for (let i = 0; i < r.length; i += 2) o[r[i] as string] = r[i + 1]!;
    return o;
  }
  return Object.fromEntries((r as { map: [Reply, Reply][] }).map.map(([k, v]) => [k as string, v]));
}

const NOPERM_KEY = 'NOPERM this user has no permissions to access one of the keys used as arguments';
const NOPERM_CHANNEL = 'NOPERM this user has no permissions to access one of the channels used as arguments';
const noperm = (cmd: string): { err: string } => ({ err: `NOPERM this user has no permissions to run the '${cmd}' command` });
const WRONGPASS = { err: 'WRONGPASS invalid username-password pair or user is disabled.' };

describe('ACL users, rules and permissions', () => {
  let srv: TestServer;
  /** The default user's connection, for administration. */
  let admin: RespConn;
  const opened: RespConn[] = [];
  const open = async (): Promise<RespConn> => {
    const c = await RespConn.open(srv.port);
    opened.push(c);
    return c;
  };
  /** A connection authenticated as `user` (any password for nopass users). */
  const as = async (user: string, pass = 'x'): Promise<RespConn> => {
    const c = await open();
    expect(await c.call('AUTH', user, pass)).toBe('OK');
    return c;
  };
  const getuser = async (name: string): Promise<Record<string, Reply>> => mapOf(await admin.call('ACL', 'GETUSER', name));
  const commandsOf = async (name: string): Promise<string> => (await getuser(name)).commands as string;
  const clientList = async (): Promise<string> => (await admin.call('CLIENT', 'LIST')) as string;

  beforeAll(async () => {
    srv = await startTarget(['--shards', '2']);
    admin = await open();
  });
  afterAll(async () => {
    for (const c of opened) c.close();
    await srv.stop();
  });

  it('connections start as the default user: on, nopass, ~* &* +@all', async () => {
    expect(await admin.call('ACL', 'WHOAMI')).toBe('default');
    expect(await admin.call('ACL', 'LIST')).toEqual(['user default on nopass ~* &* +@all']);
    expect(await admin.call('ACL', 'USERS')).toEqual(['default']);
    expect(await getuser('default')).toEqual({
      flags: ['on', 'nopass'],
      passwords: [],
      commands: '+@all',
      keys: '~*',
      channels: '&*',
      selectors: [],
    });
    expect(await admin.call('ACL', 'GETUSER', 'nosuchuser')).toBeNull();
    expect(await clientList()).toMatch(/ user=default /);
  });

  it('new users start disabled, without passwords or permissions; user names hold no spaces', async () => {
    expect(await admin.call('ACL', 'SETUSER', 'newuser')).toBe('OK');
    expect(await admin.call('ACL', 'SETUSER', 'a a')).toEqual({ err: "ERR Usernames can't contain spaces or null characters" });
    expect(await admin.call('ACL', 'SETUSER', 'a\0a')).toEqual({ err: "ERR Usernames can't contain spaces or null characters" });
    expect(await admin.call('ACL', 'LIST')).toContain('user newuser off resetchannels -@all');
    expect(await admin.call('ACL', 'SETUSER', 'newuser', '>passwd1')).toBe('OK');
    const c = await open();
    expect(await c.call('AUTH', 'newuser', 'passwd1')).toEqual(WRONGPASS);
    expect(await admin.call('ACL', 'SETUSER', 'newuser', 'on', '+acl')).toBe('OK');
    expect(await c.call('AUTH', 'newuser', 'passwd1')).toBe('OK');
    expect(await c.call('ACL', 'WHOAMI')).toBe('newuser');
    expect(await clientList()).toMatch(/ user=newuser /);
    expect(await c.call('AUTH', 'nosuchuser', 'passwd1')).toEqual(WRONGPASS);
  });

  it('passwords: several at once, removed by text or hash, stored and shown as SHA-256 hashes', async () => {
    const c = await open();
    expect(await admin.call('ACL', 'SETUSER', 'newuser', '>passwd2')).toBe('OK');
    expect(await c.call('AUTH', 'newuser', 'passwd1')).toBe('OK');
    expect(await c.call('AUTH', 'newuser', 'passwd2')).toBe('OK');
    expect(await c.call('AUTH', 'newuser', 'passwd3')).toEqual(WRONGPASS);
    expect(await admin.call('ACL', 'SETUSER', 'newuser', '<passwd1')).toBe('OK');
    expect(await c.call('AUTH', 'newuser', 'passwd1')).toEqual(WRONGPASS);
    const hash = '34344e4d60c2b6d639b7bd22e18f2b0b91bc34bf0ac5f9952744435093cfb4e6'; // SHA-256 of "passwd4"
    expect(await admin.call('ACL', 'SETUSER', 'newuser', `#${hash}`)).toBe('OK');
    expect(await c.call('AUTH', 'newuser', 'passwd4')).toBe('OK');
    const badHash = 'ERR Error in ACL SETUSER modifier';
    const reason = 'The password hash must be exactly 64 characters and contain only lowercase hexadecimal characters';
    expect(await admin.call('ACL', 'SETUSER', 'newuser', `#${hash.slice(0, 63)}`)).toEqual({
      err: `${badHash} '#${hash.slice(0, 63)}': ${reason}`,
    });
    expect(await admin.call('ACL', 'SETUSER', 'newuser', `#${hash.slice(0, 63)}q`)).toEqual({
      err: `${badHash} '#${hash.slice(0, 63)}q': ${reason}`,
    });
    const passwords = (await getuser('newuser')).passwords as string[];
    expect(passwords).toContain(hash);
    expect(passwords.join(' ')).not.toContain('passwd');
    expect(await admin.call('ACL', 'SETUSER', 'newuser', `!${hash}`)).toBe('OK');
    expect((await getuser('newuser')).passwords).not.toContain(hash);
    expect(await admin.call('ACL', 'SETUSER', 'newuser', '<nosuchpass')).toEqual({
      err: "ERR Error in ACL SETUSER modifier '<nosuchpass': The password you are trying to remove from the user does not exist",
    });
    // A failed rule changes nothing, even the rules before it.
    expect(await admin.call('ACL', 'SETUSER', 'newuser', 'off', 'bogus')).toEqual({
      err: "ERR Error in ACL SETUSER modifier 'bogus': Syntax error",
    });
    expect((await getuser('newuser')).flags).toEqual(['on']);
  });

  it('new users may run no command and touch no key until allowed; key patterns select keys', async () => {
    const c = await as('newuser', 'passwd2');
    expect(await c.call('SET', 'foo', 'bar')).toEqual(noperm('set'));
    expect(await admin.call('ACL', 'SETUSER', 'newuser', '+set')).toBe('OK');
    expect(await c.call('SET', 'foo', 'bar')).toEqual({ err: NOPERM_KEY });
    expect(await admin.call('ACL', 'SETUSER', 'newuser', 'allcommands', '~foo:*', '~bar:*')).toBe('OK');
    expect(await c.call('SET', 'foo:1', 'a')).toBe('OK');
    expect(await c.call('SET', 'bar:2', 'b')).toBe('OK');
    expect(await c.call('SET', 'zap:3', 'c')).toEqual({ err: NOPERM_KEY });
    // MSET names keys of both shards: every one must be allowed.
    expect(await c.call('MSET', 'foo:a', '1', 'bar:b', '2', 'zap:c', '3')).toEqual({ err: NOPERM_KEY });
    expect(await c.call('MSET', 'foo:a', '1', 'bar:b', '2')).toBe('OK');
    expect(await admin.call('ACL', 'SETUSER', 'newuser', 'allkeys')).toBe('OK');
    expect(await c.call('SET', 'zap:3', 'c')).toBe('OK');
    expect(await admin.call('ACL', 'SETUSER', 'newuser', '~more')).toEqual({
      err: "ERR Error in ACL SETUSER modifier '~more': Adding a pattern after the * pattern (or the 'allkeys' flag) is not valid and does not have any effect. Try 'resetkeys' to start with an empty list of patterns",
    });
  });

  it('command rules: single commands, categories, subcommands and first arguments', async () => {
    const c = await as('newuser', 'passwd2');
    expect(await admin.call('ACL', 'SETUSER', 'newuser', 'nopass', '-ping')).toBe('OK');
    expect(await c.call('INCR', 'mycounter')).toBe(1);
    expect(await c.call('PING')).toEqual(noperm('ping'));
    expect(await admin.call('ACL', 'SETUSER', 'newuser', '-@all', '+@set', '+acl')).toBe('OK');
    expect(await c.call('SADD', 'myset', 'a', 'b', 'c')).toBe(3);
    expect(await admin.call('ACL', 'SETUSER', 'newuser', '+@all', '-@string')).toBe('OK');
    expect(await c.call('SADD', 'myset', 'd')).toBe(1);
    expect(await c.call('SET', 'foo', 'bar')).toEqual(noperm('set'));
    expect(await admin.call('ACL', 'SETUSER', 'newuser', 'allcommands')).toBe('OK');

    expect(await admin.call('ACL', 'SETUSER', 'newuser', '+@all', '-client')).toBe('OK');
    expect(await admin.call('ACL', 'SETUSER', 'newuser', '+client|id', '+client|setname')).toBe('OK');
    expect(await commandsOf('newuser')).toMatch(/^\+@all.*-client.*\+client\|(id|setname).*\+client\|(id|setname)/);
    expect(typeof (await c.call('CLIENT', 'ID'))).toBe('number');
    expect(await c.call('CLIENT', 'SETNAME', 'foo')).toBe('OK');
    expect(await c.call('CLIENT', 'KILL', 'type', 'master')).toEqual(noperm('client|kill'));

    expect(await admin.call('ACL', 'SETUSER', 'newuser', '+@all', '-client|kill')).toBe('OK');
    expect(await commandsOf('newuser')).toBe('+@all -client|kill');
    expect(await c.call('CLIENT', 'KILL', 'type', 'master')).toEqual(noperm('client|kill'));

    expect(await admin.call('ACL', 'SETUSER', 'newuser', '-@all', '+acl', '+config', '-config|set')).toBe('OK');
    expect(await commandsOf('newuser')).toMatch(/\+config.*-config\|set/);
    expect(mapOf(await c.call('CONFIG', 'GET', 'maxclients')).maxclients).toBe('10000');
    expect(await c.call('CONFIG', 'SET', 'maxclients', '10000')).toEqual(noperm('config|set'));

    expect(await admin.call('ACL', 'SETUSER', 'newuser', '+config|get|appendonly')).toEqual({
      err: "ERR Error in ACL SETUSER modifier '+config|get|appendonly': Allowing first-arg of a subcommand is not supported",
    });
    for (const bad of [
      '+config|asdf',
      '-config|asdf',
      '+get|key1|key2',
      '-get|key1|key2',
      '+nosuchcommand',
      '+@nosuchcategory',
      '-select|1',
    ]) {
      expect(await admin.call('ACL', 'SETUSER', 'newuser', bad)).toEqual({
        err: `ERR Error in ACL SETUSER modifier '${bad}': Unknown command or category name in ACL`,
      });
    }
    expect(await admin.call('ACL', 'SETUSER', 'newuser', '+debug|')).toEqual({
      err: "ERR Error in ACL SETUSER modifier '+debug|': Syntax error",
    });

    // A first argument of a command without subcommands: SELECT 0 but no other database.
    expect(await admin.call('ACL', 'SETUSER', 'newuser', '-@all', '+acl', '+select|0')).toBe('OK');
    expect(await commandsOf('newuser')).toContain('+select|0');
    expect(await c.call('SELECT', '0')).toBe('OK');
    expect(await c.call('SELECT', '1')).toEqual(noperm('select'));

    // Adding a container engulfs its subcommands; +@all engulfs everything.
    expect(await admin.call('ACL', 'SETUSER', 'bob', '+memory|usage')).toBe('OK');
    expect(await commandsOf('bob')).toBe('-@all +memory|usage');
    expect(await admin.call('ACL', 'SETUSER', 'bob', '+memory')).toBe('OK');
    expect(await commandsOf('bob')).toBe('-@all +memory');
    expect(await admin.call('ACL', 'SETUSER', 'bob', '+@all', '+client|id')).toBe('OK');
    expect(await commandsOf('bob')).toBe('+@all');
    expect(await admin.call('ACL', 'SETUSER', 'alice', '+@all', '-memory|usage')).toBe('OK');
    expect(await commandsOf('alice')).toBe('+@all -memory|usage');
    expect(await admin.call('ACL', 'SETUSER', 'alice', '+@all', '-memory')).toBe('OK');
    expect(await commandsOf('alice')).toBe('+@all -memory');
    expect(await admin.call('ACL', 'SETUSER', 'alice', '-@all')).toBe('OK');
    expect(await commandsOf('alice')).toBe('-@all');
    expect(await admin.call('ACL', 'DELUSER', 'alice', 'bob')).toBe(2);
  });

  it('GETUSER describes rules back: every category alone, added or taken away, reads back as given', async () => {
    const cats = (await admin.call('ACL', 'CAT')) as string[];
    expect(cats).toHaveLength(21);
    for (const cat of cats) {
      expect(await admin.call('ACL', 'SETUSER', 'additive', 'reset', '+@all', `-@${cat}`)).toBe('OK');
      expect(await commandsOf('additive')).toBe(`+@all -@${cat}`);
      expect(await admin.call('ACL', 'SETUSER', 'restrictive', 'reset', '-@all', `+@${cat}`)).toBe('OK');
      expect(await commandsOf('restrictive')).toBe(`-@all +@${cat}`);
    }
    expect(await admin.call('ACL', 'SETUSER', 'newuser', 'reset', '+@all', '~*', '-@string', '+incr', '-debug', '+debug|digest')).toBe(
      'OK',
    );
    const sub = await commandsOf('newuser');
    for (const part of ['+@all', '-@string', '+incr', '-debug +debug|digest']) expect(sub).toContain(part);
    expect(await admin.call('ACL', 'SETUSER', 'newuser', 'reset', '+@string', '-incr', '+acl', '+debug|digest', '+debug|segfault')).toBe(
      'OK',
    );
    const add = await commandsOf('newuser');
    for (const part of ['-@all', '+@string', '-incr', '+debug|digest', '+debug|segfault', '+acl']) expect(add).toContain(part);
    // Categories that only roughly fit are approximated, then corrected command by command.
    expect(await admin.call('ACL', 'SETUSER', 'newuser', 'reset', '+@read', '+@write', '-@dangerous')).toBe('OK');
    const approx = (await commandsOf('newuser')).split(' ');
    expect(approx.slice(0, 3)).toEqual(['-@all', '+@string', '+@hash']);
    expect(approx).toEqual(expect.arrayContaining(['-keys', '-flushall', '-flushdb', '+lolwut']));
    expect(await admin.call('ACL', 'DELUSER', 'additive', 'restrictive')).toBe(2);
  });

  it('ACL CAT lists categories and their commands, subcommands included', async () => {
    const cats = (await admin.call('ACL', 'CAT')) as string[];
    expect(cats.slice(0, 3)).toEqual(['keyspace', 'read', 'write']);
    expect(cats).toContain('connection');
    expect(await admin.call('ACL', 'CAT', 'transaction')).toContain('multi');
    expect(await admin.call('ACL', 'CAT', 'scripting')).toContain('function|list');
    expect(await admin.call('ACL', 'CAT', 'keyspace')).not.toContain('set');
    expect(await admin.call('ACL', 'CAT', 'stream')).not.toContain('get');
    expect(await admin.call('ACL', 'CAT', 'NON_EXISTS')).toEqual({ err: "ERR Unknown category 'NON_EXISTS'" });
    expect(await admin.call('ACL', 'CAT', 'NON_EXISTS', 'NON_EXISTS2')).toEqual({
      err: "ERR unknown subcommand or wrong number of arguments for 'CAT'. Try ACL HELP.",
    });
  });

  it('%R~ and %W~ patterns follow the key specs: reads, writes, SET ... GET, COPY', async () => {
    expect(await admin.call('ACL', 'SETUSER', 'key-permission-R', 'on', 'nopass', '%R~read*', '+@all')).toBe('OK');
    const r = await as('key-permission-R');
    expect(await r.call('PING')).toBe('PONG');
    expect(await admin.call('SET', 'readstr', 'bar')).toBe('OK');
    expect(await r.call('GET', 'readstr')).toBe('bar');
    expect(await r.call('SET', 'readstr', 'bar')).toEqual({ err: NOPERM_KEY });
    expect(await r.call('GET', 'notread')).toEqual({ err: NOPERM_KEY });
    for (const args of [
      ['bar', 'get'],
      ['bar', 'ex', '100'],
      ['bar', 'keepttl', 'nx'],
    ]) {
      expect(await r.call('SET', 'readstr', ...args)).toEqual({ err: NOPERM_KEY });
    }

    expect(await admin.call('ACL', 'SETUSER', 'key-permission-W', 'on', 'nopass', '%W~write*', '+@all')).toBe('OK');
    const w = await as('key-permission-W');
    expect(await w.call('LPUSH', 'writelist', '10')).toBe(1);
    expect(await w.call('GET', 'writestr')).toEqual({ err: NOPERM_KEY });
    expect(await w.call('LPUSH', 'notwrite', '10')).toEqual({ err: NOPERM_KEY });
    expect(await w.call('SET', 'writestr', 'bar')).toBe('OK');
    expect(await w.call('SET', 'writestr', 'get')).toBe('OK');
    expect(await w.call('SET', 'get', 'writestr')).toEqual({ err: NOPERM_KEY });
    expect(await w.call('SET', 'writestr', 'bar', 'get')).toEqual({ err: NOPERM_KEY });
    expect(await w.call('SET', 'writestr', 'bar', 'ex', 'get')).toEqual({ err: NOPERM_KEY });

    expect(await admin.call('ACL', 'SETUSER', 'key-permission-RW', 'on', 'nopass', '%R~read*', '%W~write*', '+@all')).toBe('OK');
    const rw = await as('key-permission-RW');
    expect(await admin.call('SET', 'read', 'bar')).toBe('OK');
    expect(await rw.call('COPY', 'read', 'write')).toBe(1);
    expect(await rw.call('COPY', 'write', 'read')).toEqual({ err: NOPERM_KEY });

    expect(await admin.call('ACL', 'SETUSER', 'set-rw', 'on', 'nopass', '%RW~readwrite*', '+@all')).toBe('OK');
    const both = await as('set-rw');
    expect(await both.call('SET', 'readwrite_str', 'bar', 'ex', 'get')).toEqual({ err: 'ERR value is not an integer or out of range' });
    expect(await both.call('SET', 'readwrite_str', 'bar')).toBe('OK');
    expect(await both.call('SET', 'readwrite_str', 'bar2', 'get')).toBe('bar');
    // %R~x %W~x is ~x; %RW~ is ~.
    expect(await admin.call('ACL', 'SETUSER', 'selector-rw-info', '%R~foo', '%W~foo', '%RW~bar')).toBe('OK');
    expect((await getuser('selector-rw-info')).keys).toBe('~foo ~bar');
    expect(await admin.call('ACL', 'SETUSER', 'selector-rw-info', '%X~foo')).toEqual({
      err: "ERR Error in ACL SETUSER modifier '%X~foo': Syntax error",
    });
    expect(await admin.call('ACL', 'SETUSER', 'selector-rw-info', '~a b')).toEqual({
      err: "ERR Error in ACL SETUSER modifier '~a b': Syntax error",
    });
  });

  it('ACL DRYRUN checks commands, keys by their key specs, and channels', async () => {
    expect(
      await admin.call('ACL', 'SETUSER', 'command-test', '+@all', '%R~read*', '%W~write*', '%RW~rw*', 'resetchannels', '&channel'),
    ).toBe('OK');
    const dry = (...args: string[]): Promise<Reply> => admin.call('ACL', 'DRYRUN', 'command-test', ...args);
    const key = (k: string): string => `This user has no permissions to access the '${k}' key`;
    expect(await dry('GET', 'read')).toBe('OK');
    expect(await admin.call('ACL', 'DRYRUN', 'not-a-user', 'GET', 'read')).toEqual({ err: "ERR User 'not-a-user' not found" });
    expect(await dry('not-a-command', 'read')).toEqual({ err: "ERR Command 'not-a-command' not found" });
    expect(await dry('SET', 'v')).toEqual({ err: "ERR wrong number of arguments for 'set' command" });
    const cases: [string[], string][] = [
      [['MIGRATE', 'h', 'p', 'rw', '0', '500'], 'OK'],
      [['MIGRATE', 'h', 'p', 'read', '0', '500'], key('read')],
      [['MIGRATE', 'h', 'p', '', '0', '5000', 'KEYS', 'write'], key('write')],
      [['MIGRATE', 'h', 'p', '', '0', '5000', 'AUTH2', 'KEYS', '123', 'KEYS', 'rw'], 'OK'],
      [['SORT', 'read', 'STORE', 'write'], 'OK'],
      [['SORT', 'read', 'STORE', 'read'], key('read')],
      [['SORT', 'write', 'STORE', 'write'], key('write')],
      [['EVAL', '', '1', 'rw1'], 'OK'],
      [['EVAL', '', '1', 'read'], key('read')],
      [['EVAL_RO', '', '1', 'read'], 'OK'],
      [['EVAL', '', '0', 'read'], 'OK'],
      [['EVAL', '', '-1', 'read'], 'OK'],
      [['EVAL', '', '3', 'rw', 'read'], 'OK'],
      [['GEORADIUS', 'read', '0', '0', '1', 'M', 'STOREDIST', 'write'], 'OK'],
      [['GEORADIUS', 'read1', '0', '0', '1', 'M', 'STOREDIST', 'read2'], key('read2')],
      [['GEORADIUS', 'write1', '0', '0', '1', 'M', 'STORE', 'write2'], key('write1')],
      [['HEXISTS', 'read', 'f'], 'OK'],
      [['HEXISTS', 'write', 'f'], 'OK'],
      [['HEXISTS', 'nothing', 'f'], key('nothing')],
      [['SINTERCARD', '2', 'write', 'read'], key('write')],
      [['ZCOUNT', 'write', '0', '1'], key('write')],
      [['PFCOUNT', 'read', 'nothing'], key('nothing')],
      [['TOUCH', 'write'], 'OK'],
      [['MEMORY', 'USAGE', 'write'], 'OK'],
      [['STRLEN', 'write'], 'OK'],
      [['BITFIELD', 'read', 'GET', 'u4', '0'], 'OK'],
      [['BITFIELD', 'read', 'SET', 'u4', '0', '1'], key('read')],
      [['BITFIELD', 'write', 'GET', 'u4', '0'], key('write')],
      [['SPUBLISH', 'channel', 'foo'], 'OK'],
      [['SSUBSCRIBE', 'channel'], 'OK'],
      [['SUNSUBSCRIBE', 'otherchannel'], 'OK'],
      [['SPUBLISH', 'otherchannel', 'foo'], "This user has no permissions to access the 'otherchannel' channel"],
      [['SUBSCRIBE', 'channel', 'otherchannel'], "This user has no permissions to access the 'otherchannel' channel"],
    ];
    for (const [args, want] of cases) expect([args, await dry(...args)]).toEqual([args, want]);
    expect(await admin.call('ACL', 'SETUSER', 'command-test', '-@all')).toBe('OK');
    expect(await dry('SET', 'somekey', 'somevalue')).toBe("This user has no permissions to run the 'set' command");
    // READONLY is a (cluster) command, not a category: eval_ro still needs its own permission.
    expect(await admin.call('ACL', 'SETUSER', 'scripter', 'on', 'nopass', '+readonly', '+@read')).toBe('OK');
    expect(await admin.call('ACL', 'DRYRUN', 'scripter', 'EVAL_RO', '', '0')).toBe(
      "This user has no permissions to run the 'eval_ro' command",
    );
  });

  it('channels: PUBLISH, SUBSCRIBE, PSUBSCRIBE and shard channels need channel permissions (resetchannels by default)', async () => {
    expect(await admin.call('PUBLISH', 'foo', 'bar')).toBe(0);
    expect(await admin.call('ACL', 'SETUSER', 'psuser', 'on', '>pspass', '+acl', '+client', '+@pubsub', '+multi', '+discard')).toBe('OK');
    const p = await as('psuser', 'pspass');
    expect(await p.call('PUBLISH', 'foo', 'bar')).toEqual({ err: NOPERM_CHANNEL });
    expect(await p.call('SPUBLISH', 'foo', 'bar')).toEqual({ err: NOPERM_CHANNEL });
    expect(await p.call('SUBSCRIBE', 'foo')).toEqual({ err: NOPERM_CHANNEL });
    expect(await p.call('SSUBSCRIBE', 'foo')).toEqual({ err: NOPERM_CHANNEL });
    expect(await p.call('PSUBSCRIBE', 'bar*')).toEqual({ err: NOPERM_CHANNEL });
    expect(await admin.call('ACL', 'SETUSER', 'psuser', 'resetchannels', '&foo:1', '&bar:*')).toBe('OK');
    expect(await p.call('PUBLISH', 'foo:1', 'somemessage')).toBe(0);
    expect(await p.call('PUBLISH', 'bar:2', 'anothermessage')).toBe(0);
    expect(await p.call('SPUBLISH', 'bar:2', 'anothermessage')).toBe(0);
    expect(await p.call('PUBLISH', 'zap:3', 'nosuchmessage')).toEqual({ err: NOPERM_CHANNEL });
    // Refused while queueing, so EXEC would abort.
    expect(await p.call('MULTI')).toBe('OK');
    expect(await p.call('PUBLISH', 'notexits', 'helloworld')).toEqual({ err: NOPERM_CHANNEL });
    expect(await p.call('SUBSCRIBE', 'notexits', 'foo:1')).toEqual({ err: NOPERM_CHANNEL });
    expect(await p.call('PSUBSCRIBE', 'notexits:*', 'bar:*')).toEqual({ err: NOPERM_CHANNEL });
    expect(await p.call('DISCARD')).toBe('OK');

    const s = await as('psuser', 'pspass');
    expect(await s.call('SUBSCRIBE', 'foo:1')).toEqual(['subscribe', 'foo:1', 1]);
    expect(await s.call('SUBSCRIBE', 'bar:2')).toEqual(['subscribe', 'bar:2', 2]);
    expect(await s.call('SUBSCRIBE', 'zap:3')).toEqual({ err: NOPERM_CHANNEL });
    // A subscribed pattern must be one of the allowed patterns, literally.
    expect(await s.call('PSUBSCRIBE', 'bar:*')).toEqual(['psubscribe', 'bar:*', 3]);
    expect(await s.call('PSUBSCRIBE', 'bar:baz')).toEqual({ err: NOPERM_CHANNEL });

    expect(await admin.call('ACL', 'SETUSER', 'hpuser', 'on', 'nopass', 'resetchannels', '&foo', '+@all')).toBe('OK');
    expect(await admin.call('ACL', 'LIST')).toContain('user hpuser on nopass resetchannels &foo +@all');
    expect(await admin.call('ACL', 'SETUSER', 'hpuser', '&*', '&bar')).toEqual({
      err: "ERR Error in ACL SETUSER modifier '&bar': Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
    });
    expect(await admin.call('ACL', 'DELUSER', 'hpuser')).toBe(1);
  });

  it('subscribers are disconnected when their channels are revoked, kept when their permissions remain', async () => {
    const subscribed = async (name: string, cmd: string, ch: string): Promise<RespConn> => {
      const c = await as('psuser', 'pspass');
      expect(await c.call('CLIENT', 'SETNAME', name)).toBe('OK');
      expect(((await c.call(cmd, ch)) as Reply[])[0]).toBe(cmd.toLowerCase());
      return c;
    };
    for (const [cmd, grant, ch] of [
      ['SUBSCRIBE', '&foo:1', 'foo:1'],
      ['SSUBSCRIBE', '&foo:1', 'foo:1'],
      ['PSUBSCRIBE', '&bar:*', 'bar:*'],
      ['PSUBSCRIBE', 'allchannels', 'foo'],
    ] as const) {
      expect(await admin.call('ACL', 'SETUSER', 'psuser', 'resetchannels', grant)).toBe('OK');
      const c = await subscribed('deathrow', cmd, ch);
      expect(await admin.call('ACL', 'SETUSER', 'psuser', 'resetchannels')).toBe('OK');
      expect(await c.waitClose()).toBe(true);
      expect(await clientList()).not.toContain('deathrow');
    }
    expect(await admin.call('ACL', 'SETUSER', 'psuser', 'resetchannels', '&foo:1', '&bar:*', '&orders')).toBe('OK');
    const kept = await as('psuser', 'pspass');
    expect(await kept.call('CLIENT', 'SETNAME', 'pardoned')).toBe('OK');
    expect(await kept.call('SUBSCRIBE', 'foo:1')).toEqual(['subscribe', 'foo:1', 1]);
    expect(await kept.call('SSUBSCRIBE', 'orders')).toEqual(['ssubscribe', 'orders', 1]);
    expect(await kept.call('PSUBSCRIBE', 'bar:*')).toEqual(['psubscribe', 'bar:*', 2]);
    expect(await admin.call('ACL', 'SETUSER', 'psuser', 'resetchannels', '&foo:1', '&bar:*', '&orders', '&baz:qaz', '&zoo:*')).toBe('OK');
    expect(await clientList()).toContain('pardoned');
    expect(await admin.call('ACL', 'SETUSER', 'psuser', 'allchannels')).toBe('OK');
    expect(await clientList()).toContain('pardoned');
  });

  it('selectors: each one is a separate set of permissions; R and W in different selectors do not add up', async () => {
    expect(await admin.call('ACL', 'SETUSER', 'selector-1', 'on', '-@all', 'resetkeys', 'nopass')).toBe('OK');
    const c = await as('selector-1', 'password');
    expect(await c.call('PING')).toEqual(noperm('ping'));
    expect(await c.call('SET', 'write::foo', 'bar')).toEqual(noperm('set'));
    expect(await admin.call('ACL', 'SETUSER', 'selector-1', '(+@write ~write::*)', '(+@read ~read::*)')).toBe('OK');
    expect(await c.call('SET', 'write::foo', 'bar')).toBe('OK');
    expect(await c.call('GET', 'read::foo')).toBeNull();
    expect(await c.call('GET', 'write::foo')).toEqual({ err: NOPERM_KEY });
    expect(await c.call('SET', 'read::foo', 'bar')).toEqual({ err: NOPERM_KEY });

    expect(await admin.call('ACL', 'SETUSER', 'key-permission-RW-selector', 'on', 'nopass', '(%R~read* +@all)', '(%W~write* +@all)')).toBe(
      'OK',
    );
    const s = await as('key-permission-RW-selector');
    expect(await s.call('LPUSH', 'writelist', '10')).toBe(2);
    expect(await s.call('GET', 'writestr')).toEqual({ err: NOPERM_KEY });
    expect(await s.call('GET', 'readstr')).toBe('bar');
    expect(await s.call('COPY', 'read', 'write')).toEqual({ err: NOPERM_KEY });

    expect(await admin.call('ACL', 'SETUSER', 'selector-default', 'reset', '()')).toBe('OK');
    expect((await getuser('selector-default')).selectors).toEqual([['commands', '-@all', 'keys', '', 'channels', '']]);
    expect(await admin.call('ACL', 'SETUSER', 'selector-del', 'on', '(~added-selector)')).toBe('OK');
    expect(((await getuser('selector-del')).selectors as Reply[][])[0]![3]).toBe('~added-selector');
    expect(await admin.call('ACL', 'SETUSER', 'selector-del', 'clearselectors')).toBe('OK');
    expect((await getuser('selector-del')).selectors).toEqual([]);
    // Selectors may be spread over arguments, with spaces inside.
    expect(await admin.call('ACL', 'SETUSER', 'selector-2', '(~key1 +get )', '( ~key2 +get )', '(~key3', '+get)')).toBe('OK');
    expect(((await getuser('selector-2')).selectors as Reply[][]).map((x) => x[3])).toEqual(['~key1', '~key2', '~key3']);
    expect(await admin.call('ACL', 'SETUSER', 'selector-syntax', 'on', '(this-is-invalid)')).toEqual({
      err: "ERR Error in ACL SETUSER modifier '(this-is-invalid)': Syntax error",
    });
    expect(await admin.call('ACL', 'SETUSER', 'selector-syntax', 'on', '(&* &fail)')).toEqual({
      err: "ERR Error in ACL SETUSER modifier '(&* &fail)': Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
    });
    expect(await admin.call('ACL', 'GETUSER', 'selector-syntax')).toBeNull();
    expect(await admin.call('ACL', 'SETUSER', 'invalid-selector', ' () ')).toEqual({
      err: "ERR Error in ACL SETUSER modifier ' () ': Syntax error",
    });
    expect(await admin.call('ACL', 'SETUSER', 'invalid-selector', '(')).toEqual({
      err: "ERR Unmatched parenthesis in acl selector starting at '('.",
    });
    expect(await admin.call('ACL', 'SETUSER', 'invalid-selector', ')')).toEqual({
      err: "ERR Error in ACL SETUSER modifier ')': Syntax error",
    });

    const args = ['off', '-@all', '+get', 'resetchannels', '&channel1', '%R~foo1', '%W~bar1', '~baz1'];
    expect(await admin.call('ACL', 'SETUSER', 'selector-info', ...args, '(-@all +set resetchannels &channel2 %R~foo2 %W~bar2 ~baz2)')).toBe(
      'OK',
    );
    const info = await getuser('selector-info');
    expect([info.commands, info.keys, info.channels]).toEqual(['-@all +get', '%R~foo1 %W~bar1 ~baz1', '&channel1']);
    expect(info.selectors).toEqual([['commands', '-@all +set', 'keys', '%R~foo2 %W~bar2 ~baz2', 'channels', '&channel2']]);
    expect(await admin.call('ACL', 'LIST')).toContain(
      'user selector-info off %R~foo1 %W~bar1 ~baz1 resetchannels &channel1 -@all +get (%R~foo2 %W~bar2 ~baz2 resetchannels &channel2 -@all +set)',
    );
  });

  it('ACL LOG records refused commands, keys, channels and AUTHs, grouping similar events', async () => {
    expect(await admin.call('ACL', 'LOG', 'RESET')).toBe('OK');
    expect(
      await admin.call(
        'ACL',
        'SETUSER',
        'antirez',
        '>foo',
        'on',
        '+set',
        '~object:1234',
        '+eval',
        '+multi',
        '+exec',
        'resetchannels',
        '+publish',
      ),
    ).toBe('OK');
    const c = await as('antirez', 'foo');
    const last = async (): Promise<Record<string, Reply>> => mapOf(((await admin.call('ACL', 'LOG')) as Reply[])[0]!);
    expect(await c.call('GET', 'foo')).toEqual(noperm('get'));
    const e = await last();
    expect([e.count, e.reason, e.context, e.object, e.username]).toEqual([1, 'command', 'toplevel', 'get', 'antirez']);
    expect(Number(e['age-seconds'])).toBeGreaterThanOrEqual(0);
    expect(e['client-info']).toMatch(/ cmd=get user=antirez /);
    await c.call('GET', 'foo');
    await c.call('GET', 'foo');
    expect((await last()).count).toBe(3);
    await c.call('SET', 'somekeynotallowed', '1234');
    expect([(await last()).reason, (await last()).object]).toEqual(['key', 'somekeynotallowed']);
    await c.call('PUBLISH', 'somechannelnotallowed', 'nullmsg');
    expect([(await last()).reason, (await last()).object]).toEqual(['channel', 'somechannelnotallowed']);
    expect(await c.call('MULTI')).toBe('OK');
    expect(await c.call('INCR', 'foo')).toEqual(noperm('incr'));
    expect(await c.call('EXEC')).toEqual({ err: 'EXECABORT Transaction discarded because of previous errors.' });
    expect([(await last()).context, (await last()).object]).toEqual(['multi', 'incr']);
    expect(await admin.call('ACL', 'LOG', '2')).toHaveLength(2);
    expect(await admin.call('ACL', 'LOG', '-1')).toEqual([]);
    expect(await admin.call('ACL', 'LOG', 'abc')).toEqual({ err: 'ERR value is not an integer or out of range' });
    const stranger = await open();
    expect(await stranger.call('AUTH', 'antirez', 'wrong-password')).toEqual(WRONGPASS);
    const auth = await last();
    expect([auth.context, auth.reason, auth.object, auth.username]).toEqual(['toplevel', 'auth', 'AUTH', 'antirez']);
    expect(await admin.call('ACL', 'LOG', 'RESET')).toBe('OK');
    expect(await admin.call('ACL', 'LOG')).toEqual([]);
    expect(await admin.call('CONFIG', 'SET', 'acllog-max-len', '5')).toBe('OK');
    for (let j = 0; j < 10; j++) await c.call('SET', `obj:${j}`, '123');
    expect(await admin.call('ACL', 'LOG')).toHaveLength(5);
    expect(await admin.call('CONFIG', 'SET', 'acllog-max-len', '128')).toBe('OK');
  });

  it('EXEC checks the queued commands again: rules changed since MULTI refuse them', async () => {
    expect(await admin.call('ACL', 'LOG', 'RESET')).toBe('OK');
    expect(await admin.call('ACL', 'SETUSER', 'antirez', '+incr', '+get', 'resetkeys', '~obj*')).toBe('OK');
    const c = await as('antirez', 'foo');
    expect(await c.call('MULTI')).toBe('OK');
    expect(await c.call('INCR', 'obj1')).toBe('QUEUED');
    expect(await c.call('GET', 'obj1')).toBe('QUEUED');
    expect(await admin.call('ACL', 'SETUSER', 'antirez', '-incr', 'resetkeys', '~xx')).toBe('OK');
    const why =
      'NOPERM ACLs rules changed between the moment the transaction was accumulated and the EXEC call. This command is no longer allowed for the following reason:';
    expect(await c.call('EXEC')).toEqual([
      { err: `${why} no permission to execute the command or subcommand` },
      { err: `${why} no permission to touch the specified keys` },
    ]);
    const log = ((await admin.call('ACL', 'LOG')) as Reply[]).map(mapOf);
    expect(log.map((e) => [e.reason, e.context, e.object])).toEqual([
      ['key', 'multi', 'obj1'],
      ['command', 'multi', 'incr'],
    ]);
    // AUTH inside MULTI switches the user for the commands after it.
    expect(await admin.call('ACL', 'SETUSER', 'v', 'on', 'nopass', '-@all', '+ping')).toBe('OK');
    const d = await open();
    expect(await d.call('MULTI')).toBe('OK');
    expect(await d.call('AUTH', 'v', 'x')).toBe('QUEUED');
    expect(await d.call('PING')).toBe('QUEUED');
    expect(await d.call('ACL', 'WHOAMI')).toBe('QUEUED');
    expect(await d.call('EXEC')).toEqual(['OK', 'PONG', { err: `${why} no permission to execute the command or subcommand` }]);
    expect(await d.call('ACL', 'WHOAMI')).toEqual(noperm('acl|whoami'));
  });

  it('deleting a user disconnects its clients (the caller after its reply); default cannot be removed', async () => {
    expect(await admin.call('ACL', 'SETUSER', 'not_used', 'on', '>passwd')).toBe('OK');
    expect(await admin.call('ACL', 'DELUSER', 'not_used', 'nosuchuser')).toBe(1);
    expect(await admin.call('PING')).toBe('PONG');
    expect(await admin.call('ACL', 'SETUSER', 'using', 'on', '+acl', '>passwd')).toBe('OK');
    const other = await as('using', 'passwd');
    const self = await as('using', 'passwd');
    expect(await self.call('ACL', 'DELUSER', 'using')).toBe(1);
    expect(await self.waitClose()).toBe(true);
    expect(await other.waitClose()).toBe(true);
    expect(await admin.call('ACL', 'DELUSER', 'default')).toEqual({ err: "ERR The 'default' user cannot be removed" });
  });

  it('CLIENT KILL USER kills the clients of a user', async () => {
    expect(await admin.call('ACL', 'SETUSER', 'killme', 'on', 'nopass', '+@all')).toBe('OK');
    const a = await as('killme');
    const b = await as('killme');
    expect(await admin.call('CLIENT', 'KILL', 'USER', 'killme')).toBe(2);
    expect(await a.waitClose()).toBe(true);
    expect(await b.waitClose()).toBe(true);
    expect(await admin.call('CLIENT', 'KILL', 'USER', 'nobody')).toEqual({ err: "ERR No such user 'nobody'" });
  });

  it('ACL GENPASS, HELP and LOAD/SAVE without an aclfile', async () => {
    expect(await admin.call('ACL', 'GENPASS')).toMatch(/^[0-9a-f]{64}$/);
    expect(await admin.call('ACL', 'GENPASS', '5')).toMatch(/^[0-9a-f]{2}$/);
    const bits = 'ERR ACL GENPASS argument must be the number of bits for the output password, a positive number up to 4096';
    expect(await admin.call('ACL', 'GENPASS', '-236')).toEqual({ err: bits });
    expect(await admin.call('ACL', 'GENPASS', '5000')).toEqual({ err: bits });
    expect(await admin.call('ACL', 'HELP', 'xxx')).toEqual({ err: "ERR wrong number of arguments for 'acl|help' command" });
    expect(((await admin.call('ACL', 'HELP')) as string[])[0]).toBe('ACL <subcommand> [<arg> [value] [opt] ...]. Subcommands are:');
    const noFile =
      'ERR This Redis instance is not configured to use an ACL file. You may want to specify users via the ACL SETUSER command and then issue a CONFIG REWRITE (assuming you have a Redis configuration file set) in order to store users in the Redis configuration.';
    expect(await admin.call('ACL', 'LOAD')).toEqual({ err: noFile });
    expect(await admin.call('ACL', 'SAVE')).toEqual({ err: noFile });
  });

  it('node-redis and ioredis authenticate as ACL users (RESP2 and RESP3)', async () => {
    const rules = [
      'on',
      '>app-secret',
      '+@read',
      '+@write',
      '+@connection',
      '+@pubsub',
      '+acl|whoami',
      '~app:*',
      'resetchannels',
      '&app:*',
    ];
    expect(await admin.call('ACL', 'SETUSER', 'app', ...rules)).toBe('OK');
    for (const RESP of [2, 3] as const) {
      const nr = createClient({ RESP, username: 'app', password: 'app-secret', socket: { port: srv.port, host: '127.0.0.1' } });
      nr.on('error', () => {});
      await nr.connect();
      try {
        expect(await nr.set('app:k', 'v')).toBe('OK');
        expect(await nr.get('app:k')).toBe('v');
        expect(await nr.sendCommand(['ACL', 'WHOAMI'])).toBe('app');
        await expect(nr.get('other')).rejects.toThrow(NOPERM_KEY);
        await expect(nr.configGet('maxclients')).rejects.toThrow("NOPERM this user has no permissions to run the 'config|get' command");
        await expect(nr.publish('news', 'x')).rejects.toThrow(NOPERM_CHANNEL);
      } finally {
        nr.destroy();
      }
    }
    const bad = createClient({
      username: 'app',
      password: 'wrong',
      socket: { port: srv.port, host: '127.0.0.1', reconnectStrategy: false },
    });
    bad.on('error', () => {});
    await expect(bad.connect()).rejects.toThrow('WRONGPASS');
    bad.destroy();

    const io = new Redis({ port: srv.port, host: '127.0.0.1', username: 'app', password: 'app-secret' });
    try {
      expect(await io.set('app:io', '1')).toBe('OK');
      expect(await io.incr('app:io')).toBe(2);
      expect(await io.call('ACL', 'WHOAMI')).toBe('app');
      await expect(io.get('secret')).rejects.toThrow(NOPERM_KEY);
      await expect(io.config('GET', 'maxclients')).rejects.toThrow("NOPERM this user has no permissions to run the 'config|get' command");
      const sub = io.duplicate();
      await sub.subscribe('app:news');
      const got = new Promise<string>((resolve) => sub.on('message', (_ch, msg) => resolve(msg)));
      expect(await io.publish('app:news', 'hello')).toBe(1);
      expect(await got).toBe('hello');
      await expect(sub.subscribe('other')).rejects.toThrow(NOPERM_CHANNEL);
      sub.disconnect();
    } finally {
      io.disconnect();
    }
  });

  it('HELLO 3 AUTH authenticates and switches protocol; HELLO needs no command permission', async () => {
    const c = await open();
    expect(await c.call('HELLO', '3', 'AUTH', 'nouser', 'x')).toEqual(WRONGPASS);
    expect(await c.call('HELLO', '3', 'AUTH', 'app', 'wrong')).toEqual(WRONGPASS);
    const hello = mapOf(await c.call('HELLO', '3', 'AUTH', 'app', 'app-secret'));
    expect([hello.server, hello.proto]).toEqual(['redis', 3]);
    expect(await c.call('ACL', 'WHOAMI')).toBe('app');
    expect(await c.call('CONFIG', 'GET', 'maxclients')).toEqual(noperm('config|get'));
    expect(await c.call('CLIENT', 'INFO')).toMatchObject({ verb: expect.stringMatching(/ user=app .*resp=3/) });
    // The default user without any command may still log in as someone else.
    expect(await admin.call('ACL', 'SETUSER', 'secure-user', '>supass', 'on', '+@all')).toBe('OK');
    expect(await admin.call('ACL', 'SETUSER', 'default', '-@all')).toBe('OK');
    const d = await open();
    expect(await d.call('PING')).toEqual(noperm('ping'));
    expect(mapOf(await d.call('HELLO', '2', 'AUTH', 'secure-user', 'supass')).proto).toBe(2);
    expect(await d.call('ACL', 'SETUSER', 'default', 'nopass', '+@all')).toBe('OK');
    expect(await d.call('AUTH', 'default', '')).toBe('OK');
    expect(await d.call('PING')).toBe('PONG');
    // RESET makes a client the default user again.
    expect(await c.call('RESET')).toBe('RESET');
    expect(await c.call('ACL', 'WHOAMI')).toBe('default');
  });

  it('MONITOR shows the user names and passwords of AUTH and HELLO AUTH as (redacted)', async () => {
    const m = await open();
    expect(await m.call('MONITOR')).toBe('OK');
    const c = await open();
    expect(await c.call('AUTH', 'app', 'app-secret')).toBe('OK');
    expect(mapOf(await c.call('HELLO', '2', 'AUTH', 'app', 'app-secret', 'SETNAME', 'x')).proto).toBe(2);
    const lines = (await m.raw(Buffer.alloc(0), 2)) as string[];
    expect(lines.map((l) => l.replace(/^.*\] /, ''))).toEqual([
      '"AUTH" "(redacted)" "(redacted)"',
      '"HELLO" "2" "AUTH" "(redacted)" "(redacted)" "SETNAME" "x"',
    ]);
    m.close();
  });

  it('the default user: off or with a password, new clients must AUTH; once it needs none, they are served', async () => {
    expect(await admin.call('ACL', 'SETUSER', 'default', 'off')).toBe('OK');
    const c = await open();
    expect(await c.call('PING')).toEqual({ err: 'NOAUTH Authentication required.' });
    expect(await c.call('AUTH', 'default', 'x')).toEqual(WRONGPASS);
    expect(await admin.call('ACL', 'SETUSER', 'default', 'on')).toBe('OK');
    expect(await c.call('PING')).toBe('PONG');
    expect(await admin.call('CONFIG', 'SET', 'requirepass', 'foobar')).toBe('OK');
    try {
      const list = (await admin.call('ACL', 'LIST')) as string[];
      expect(list).toContain('user default on #c3ab8ff13720e8ad9047dd39466b3c8974e592c2fa383d4a3960714caef0c4f2 ~* &* +@all');
      expect(await c.call('PING')).toEqual({ err: 'NOAUTH Authentication required.' });
      expect(await c.call('AUTH', 'wrong!')).toEqual(WRONGPASS);
      expect(await c.call('SET', 'foo', '100')).toEqual({ err: 'NOAUTH Authentication required.' });
      expect(await c.call('HELLO', '3')).toEqual({
        err: 'NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time',
      });
      // Unauthenticated clients may send only small commands.
      const [big] = await c.raw('*100\r\n', 1);
      expect(big).toEqual({ err: 'ERR Protocol error: unauthenticated multibulk length' });
      const d = await open();
      expect(await d.call('AUTH', 'foobar')).toBe('OK');
      expect(await d.call('SET', 'foo', '100')).toBe('OK');
      expect(await d.call('INCR', 'foo')).toBe(101);
      const e = await open();
      expect(await admin.call('CONFIG', 'SET', 'requirepass', '')).toBe('OK');
      expect(await e.call('PING')).toBe('PONG');
    } finally {
      expect(await admin.call('CONFIG', 'SET', 'requirepass', '')).toBe('OK');
    }
    expect(await admin.call('AUTH', 'x')).toEqual({
      err: 'ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?',
    });
    expect(await admin.call('AUTH', 'a', 'b', 'c')).toEqual({ err: 'ERR syntax error' });
    // Binary passwords work byte for byte.
    expect(await admin.call('CONFIG', 'SET', 'requirepass', 'abc\0def')).toBe('OK');
    const f = await open();
    expect(await f.call('AUTH', 'abc')).toEqual(WRONGPASS);
    expect(await f.call('AUTH', 'abc\0def')).toBe('OK');
    expect(await admin.call('CONFIG', 'SET', 'requirepass', '')).toBe('OK');
  });
});

describe('ACL files and user directives', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'sabre-acl-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const USERS =
    'user alice on allcommands allkeys &* >alice\nuser bob on -@all +@set +acl ~set* &* >bob\nuser default on nopass ~* &* +@all\n';

  it('loads the aclfile at start-up; ACL SAVE writes it and ACL LOAD reads it back, disconnecting old users', async () => {
    writeFileSync(join(dir, 'user.acl'), USERS);
    const srv = await startTarget(['--dir', dir, '--aclfile', 'user.acl', '--acl-pubsub-default', 'allchannels']);
    const r = await RespConn.open(srv.port);
    try {
      expect(await r.call('SUBSCRIBE', 'foo')).toEqual(['subscribe', 'foo', 1]);
      expect(await r.call('UNSUBSCRIBE')).toEqual(['unsubscribe', 'foo', 0]);
      expect(await r.call('ACL', 'SETUSER', 'default', 'reset', 'on', 'nopass', '~*', '+@all')).toBe('OK');
      expect(await r.call('PUBLISH', 'hello', 'world')).toBe(0);
      expect(await r.call('CONFIG', 'SET', 'acl-pubsub-default', 'resetchannels')).toBe('OK');
      expect(await r.call('ACL', 'SETUSER', 'default', 'reset', 'on', 'nopass', '~*', '+@all')).toBe('OK');
      expect(await r.call('PUBLISH', 'hello', 'world')).toEqual({ err: NOPERM_CHANNEL });
      expect(await r.call('ACL', 'SETUSER', 'default', '&*')).toBe('OK');

      expect(await r.call('AUTH', 'alice', 'alice')).toBe('OK');
      expect(await r.call('SET', 'key', 'value')).toBe('OK');
      expect(await r.call('AUTH', 'bob', 'bob')).toBe('OK');
      expect(await r.call('SADD', 'set', '1', '2', '3')).toBe(3);
      expect(await r.call('SET', 'key', 'value')).toEqual(noperm('set'));
      expect(await r.call('ACL', 'SETUSER', 'eve', '+get', 'allkeys', '>eve', 'on')).toBe('OK');
      expect(await r.call('ACL', 'SAVE')).toBe('OK');
      const saved = readFileSync(join(dir, 'user.acl'), 'utf8');
      expect(saved).toContain('user eve on #');
      expect(
        saved
          .split('\n')
          .filter(Boolean)
          .map((l) => l.split(' ')[1]),
      ).toEqual(['alice', 'bob', 'default', 'eve']);
      // bob is a user of the old set: its client gets the reply, then is disconnected.
      expect(await r.call('ACL', 'LOAD')).toBe('OK');
      expect(await r.waitClose()).toBe(true);
      const c = await RespConn.open(srv.port);
      expect(await c.call('AUTH', 'eve', 'eve')).toBe('OK');
      expect(await c.call('GET', 'key')).toBe('value');
      expect(await c.call('SET', 'key', 'value')).toEqual(noperm('set'));

      // A file with errors changes nothing.
      writeFileSync(join(dir, 'user.acl'), `${USERS}user alice on nopass ~* -@all\n`);
      const d = await RespConn.open(srv.port);
      const err = (await d.call('ACL', 'LOAD')) as { err: string };
      expect(err.err).toMatch(/Duplicate user 'alice' found/);
      expect(err.err).toMatch(/WARNING: ACL errors detected, no change to the previously active ACL rules was performed$/);
      expect(mapOf(await d.call('ACL', 'GETUSER', 'alice')).commands).toBe('+@all');
      expect(await d.call('ACL', 'GETUSER', 'eve')).not.toBeNull();
      writeFileSync(join(dir, 'user.acl'), `${USERS}user carol on (+get ~rw*) (+set %W~w*)\nuser dave bogus\n`);
      expect(((await d.call('ACL', 'LOAD')) as { err: string }).err).toMatch(/^ERR user\.acl:5: Syntax error\. WARNING/);
      // Without a default user in the file, the default user is made afresh, with all channels.
      writeFileSync(join(dir, 'user.acl'), 'user alice on nopass ~* +@all\nuser bob on nopass ~* &* +@all\n');
      expect(await d.call('ACL', 'LOAD')).toBe('OK');
      expect(mapOf(await d.call('ACL', 'GETUSER', 'default')).channels).toBe('&*');
      expect(mapOf(await d.call('ACL', 'GETUSER', 'alice')).channels).toBe('');
      // New users follow acl-pubsub-default; existing ones keep their channels.
      expect(await d.call('CONFIG', 'SET', 'acl-pubsub-default', 'allchannels')).toBe('OK');
      expect(await d.call('ACL', 'SETUSER', 'mydefault')).toBe('OK');
      expect(await d.call('ACL', 'SETUSER', 'onechannel', '&test')).toEqual({
        err: "ERR Error in ACL SETUSER modifier '&test': Adding a pattern after the * pattern (or the 'allchannels' flag) is not valid and does not have any effect. Try 'resetchannels' to start with an empty list of channels",
      });
      expect(await d.call('CONFIG', 'SET', 'acl-pubsub-default', 'resetchannels')).toBe('OK');
      expect(mapOf(await d.call('ACL', 'GETUSER', 'mydefault')).channels).toBe('&*');
      expect(mapOf(await d.call('ACL', 'GETUSER', 'alice')).channels).toBe('');
      c.close();
      d.close();
    } finally {
      r.close();
      await srv.stop();
    }
  });

  it.skipIf(AGAINST_REDIS)('users from the config file; a bad aclfile, duplicate users or both kinds of users stop start-up', async () => {
    const conf = join(dir, 'sabre.conf');
    writeFileSync(conf, 'user default on nopass ~* +@all -flushdb\nuser carol on >pw (+get ~rw*) (+set %W~w*)\n');
    const srv = await startServer(['--config', conf]);
    const r = await RespConn.open(srv.port);
    try {
      expect(await r.call('FLUSHDB')).toEqual(noperm('flushdb'));
      expect(await r.call('SUBSCRIBE', 'foo')).toEqual({ err: NOPERM_CHANNEL });
      expect(await r.call('ACL', 'LIST')).toEqual([
        'user carol on #30c952fab122c3f9759f02a6d95c3758b246b4fee239957b2d4fee46e26170c4 resetchannels -@all (~rw* resetchannels -@all +get) (%W~w* resetchannels -@all +set)',
        // A `user default` line starts from `reset`, which sets sanitize-payload (as Redis shows it).
        'user default on nopass sanitize-payload ~* resetchannels +@all -flushdb',
      ]);
      expect(await r.call('AUTH', 'carol', 'pw')).toBe('OK');
      expect(await r.call('SET', 'w1', 'x')).toBe('OK');
      expect(await r.call('GET', 'w1')).toEqual({ err: NOPERM_KEY });
    } finally {
      r.close();
      await srv.stop();
    }
    writeFileSync(join(dir, 'bad.acl'), 'bogus line\n');
    const bad = await runCli(['server', '--port', '0', '--dir', dir, '--aclfile', 'bad.acl']);
    expect(bad.code).toBe(1);
    expect(bad.output).toContain('bad.acl:1 should start with user keyword followed by the username.');
    const missing = await runCli(['server', '--port', '0', '--dir', dir, '--aclfile', 'nofile.acl']);
    expect(missing.output).toContain("Error loading ACLs, opening file 'nofile.acl': No such file or directory");
    const dup = await runCli(['server', '--port', '0', '--user', 'foo', '--user', 'foo']);
    expect([dup.code, /Duplicate user found/.test(dup.output)]).toEqual([1, true]);
    const both = await runCli(['server', '--port', '0', '--user', 'foo on', '--aclfile', 'x.acl']);
    expect([both.code, /define either an ACL file or declare users directly/.test(both.output)]).toEqual([1, true]);
  });
});

/** mulberry32: a small seeded PRNG so a failing case replays. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const hasRedis = spawnSync('redis-server', ['--version']).status === 0;

describe.skipIf(!hasRedis || AGAINST_REDIS)(
  'ACL rules against redis-server (skipped without redis-server: apt-get install redis-server)',
  () => {
    it('random rule sets describe back the same (ACL LIST) and allow the same commands (ACL DRYRUN)', async () => {
      const sabre = await startServer(['--shards', '1']);
      const redis = await startRedis(tmpdir());
      const [a, b] = [await RespConn.open(sabre.port), await RespConn.open(redis.client.options.port!)];
      try {
        const cats = ((await b.call('ACL', 'CAT')) as string[]).concat('all');
        const cmds = [
          'get',
          'set',
          'config',
          'config|get',
          'config|set',
          'client|kill',
          'memory',
          'object|help',
          'keys',
          'flushall',
          'acl',
          'incr',
          'sort',
        ];
        const keys = ['~a*', '%R~r*', '%W~w*', 'allkeys', 'resetkeys'];
        const probes = [
          ['GET', 'a1'],
          ['SET', 'w1', 'x'],
          ['SET', 'r1', 'x', 'GET'],
          ['CONFIG', 'GET', 'x'],
          ['MEMORY', 'USAGE', 'r'],
          ['KEYS', '*'],
          ['SORT', 'r', 'STORE', 'w'],
        ];
        // Only the greedy category choice is ordered; single commands follow each server's table order.
        const norm = (line: string): string => {
          const t = line.split(' ');
          return `${t.filter((x) => /^[+-]@/.test(x)).join(' ')} | ${t
            .filter((x) => !/^[+-]@/.test(x))
            .sort()
            .join(' ')}`;
        };
        const rand = rng(22);
        const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)]!;
        for (let i = 0; i < 120; i++) {
          const rules = Array.from({ length: 1 + Math.floor(rand() * 6) }, () => {
            const r = rand();
            const sign = rand() < 0.5 ? '+' : '-';
            return r < 0.45 ? `${sign}@${pick(cats)}` : r < 0.8 ? `${sign}${pick(cmds)}` : pick(keys);
          });
          const set = ['ACL', 'SETUSER', 'fuzz', 'reset', ...rules];
          expect([rules, await a.call(...set)]).toEqual([rules, await b.call(...set)]);
          const line = async (c: RespConn): Promise<string> =>
            ((await c.call('ACL', 'LIST')) as string[]).find((l) => l.startsWith('user fuzz '))!;
          expect([rules, norm(await line(a))]).toEqual([rules, norm(await line(b))]);
          for (const p of probes)
            expect([rules, p, await a.call('ACL', 'DRYRUN', 'fuzz', ...p)]).toEqual([
              rules,
              p,
              await b.call('ACL', 'DRYRUN', 'fuzz', ...p),
            ]);
        }
      } finally {
        a.close();
        b.close();
        await sabre.stop();
        await redis.stop();
      }
    });
  },
);
