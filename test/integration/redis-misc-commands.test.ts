/**
 * Redis 7.0 commands and details issue #14 added outside the big families: GETSET, LCS,
 * CLIENT REPLY, CLIENT UNBLOCK, WAIT, MOVE, SWAPDB, COMMAND GETKEYSANDFLAGS, the slow log's
 * trimming and threshold 0, argument checks of SINTERCARD/SRANDMEMBER, SMOVE and WATCH, and the
 * standalone answers (CLUSTER, ROLE, REPLCONF, MODULE, LATENCY). Expectations are Redis's
 * (SABRE_COMPARE_REDIS=1 runs the same file against redis-server).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startTarget } from '../helpers/target.js';
import type { TestServer } from '../helpers/server.js';
import { rawClient } from '../helpers/raw-client.js';

/** Polls `check` every 20 ms until `ok`, at most ~4 s; returns its last value. */
async function eventually<T>(check: () => Promise<T>, ok: (v: T) => boolean): Promise<T> {
  let v = await check();
  for (let i = 0; i < 200 && !ok(v); i++) {
    await new Promise((r) => setTimeout(r, 20));
    v = await check();
  }
  return v;
}

/** The id of the client named `name` once its last command is `cmd` (CLIENT LIST). */
async function clientIdRunning(r: Redis, cmd: string, name: string): Promise<string> {
  const line = await eventually(
    async () =>
      ((await r.call('client', 'list')) as string).split('\n').find((l) => l.includes(` name=${name} `) && l.includes(` cmd=${cmd} `)),
    (l) => l !== undefined,
  );
  return /id=(\d+)/.exec(line!)![1]!;
}

describe.each([1, 3])('misc Redis 7.0 commands with %i shard(s)', (shards) => {
  let srv: TestServer;
  let r: Redis;
  beforeAll(async () => {
    srv = await startTarget(['--shards', String(shards)]);
    r = new Redis({ port: srv.port, host: '127.0.0.1' });
  });
  afterAll(async () => {
    r.disconnect();
    await srv.stop();
  });

  it('GETSET returns the old value, sets the new one and drops the TTL', async () => {
    await r.del('gs');
    expect(await r.call('getset', 'gs', 'a')).toBeNull();
    await r.expire('gs', 100);
    expect(await r.call('getset', 'gs', 'b')).toBe('a');
    expect(await r.get('gs')).toBe('b');
    expect(await r.ttl('gs')).toBe(-1);
    await r.lpush('gslist', 'x');
    await expect(r.call('getset', 'gslist', 'y')).rejects.toThrow(/^WRONGTYPE/);
  });

  it('LCS: the string, LEN, IDX with MINMATCHLEN/WITHMATCHLEN, and its errors', async () => {
    await r.set('virus1{t}', 'ohmytext');
    await r.set('virus2{t}', 'mynewtext');
    expect(await r.call('lcs', 'virus1{t}', 'virus2{t}')).toBe('mytext');
    expect(await r.call('lcs', 'virus1{t}', 'virus2{t}', 'LEN')).toBe(6);
    expect(await r.call('lcs', 'virus1{t}', 'virus2{t}', 'IDX', 'MINMATCHLEN', '4', 'WITHMATCHLEN')).toEqual([
      'matches',
      [[[4, 7], [5, 8], 4]],
      'len',
      6,
    ]);
    expect(await r.call('lcs', 'virus1{t}', 'virus2{t}', 'IDX')).toEqual([
      'matches',
      [
        [
          [4, 7],
          [5, 8],
        ],
        [
          [2, 3],
          [0, 1],
        ],
      ],
      'len',
      6,
    ]);
    expect(await r.call('lcs', 'virus1{t}', 'nokey{t}')).toBe('');
    await expect(r.call('lcs', 'virus1{t}', 'virus2{t}', 'LEN', 'IDX')).rejects.toThrow(
      'ERR If you want both the length and indexes, please just use IDX.',
    );
    await expect(r.call('lcs', 'virus1{t}', 'virus2{t}', 'FOO')).rejects.toThrow('ERR syntax error');
    await r.lpush('lcslist{t}', 'x');
    await expect(r.call('lcs', 'virus1{t}', 'lcslist{t}')).rejects.toThrow('ERR The specified keys must contain string values');
  });

  it('LCS of keys on different shards reads both', async () => {
    await r.set('lcs-a', 'ohmytext');
    await r.set('lcs-b', 'mynewtext');
    expect(await r.call('lcs', 'lcs-a', 'lcs-b')).toBe('mytext');
  });

  it('CLIENT REPLY OFF/SKIP silence replies, ON answers OK, subscriptions are still confirmed', async () => {
    const c = await rawClient(srv.port);
    try {
      c.send('CLIENT REPLY OFF', 'PING one', 'PING two', 'CLIENT REPLY ON', 'PING three');
      await c.waitFor('three');
      expect(c.received()).toBe('+OK\r\n$5\r\nthree\r\n');
      c.send('CLIENT REPLY SKIP', 'PING four', 'PING five');
      await c.waitFor('five');
      expect(c.received()).toBe('+OK\r\n$5\r\nthree\r\n$4\r\nfive\r\n');
      c.send('CLIENT REPLY OFF', 'SUBSCRIBE ch');
      await c.waitFor('subscribe');
      expect(c.received().endsWith('*3\r\n$9\r\nsubscribe\r\n$2\r\nch\r\n:1\r\n')).toBe(true);
    } finally {
      c.close();
    }
    await expect(r.call('client', 'reply', 'maybe')).rejects.toThrow('ERR syntax error');
  });

  it('SINTERCARD, LMPOP numkeys and LIMIT errors, SRANDMEMBER count range', async () => {
    await r.sadd('sic{t}', 'a');
    await expect(r.call('sintercard', 'x', 'sic{t}')).rejects.toThrow('ERR numkeys should be greater than 0');
    await expect(r.call('sintercard', '1', 'sic{t}', 'LIMIT', 'x')).rejects.toThrow("ERR LIMIT can't be negative");
    await expect(r.call('lmpop', 'x', 'l', 'LEFT')).rejects.toThrow('ERR numkeys should be greater than 0');
    await expect(r.call('srandmember', 'sic{t}', '-9223372036854775808')).rejects.toThrow(
      'ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807',
    );
    expect(await r.call('srandmember', 'sic{t}', '9223372036854775807')).toEqual(['a']);
    await r.hset('hrf', 'f', 'v');
    await expect(r.call('hrandfield', 'hrf', '9223372036854775807', 'WITHVALUES')).rejects.toThrow('ERR value is out of range');
  });

  it('SMOVE of a member the destination already has leaves a WATCH on it intact', async () => {
    await r.del('src{s}', 'dst{s}');
    await r.sadd('src{s}', 'a', 'b');
    await r.sadd('dst{s}', 'a');
    const w = new Redis({ port: srv.port, host: '127.0.0.1' });
    try {
      await w.watch('dst{s}');
      await r.smove('src{s}', 'dst{s}', 'a');
      expect(await w.multi().sadd('dst{s}', 'c').exec()).toEqual([[null, 1]]);
      expect(await r.scard('dst{s}')).toBe(2);
    } finally {
      w.disconnect();
    }
  });

  it('EXISTS, TTL and TYPE leave the access time alone, GET counts as an access', async () => {
    await r.set('idle', 'v');
    // OBJECT IDLETIME counts whole seconds of the LRU clock: after 1.5 s at least one has passed.
    await new Promise((res) => setTimeout(res, 1500));
    await r.exists('idle');
    await r.ttl('idle');
    await r.type('idle');
    expect(Number(await r.call('object', 'idletime', 'idle'))).toBeGreaterThanOrEqual(1);
    await r.get('idle');
    expect(Number(await r.call('object', 'idletime', 'idle'))).toBe(0);
  });

  it('COMMAND GETKEYSANDFLAGS gives each key with its flags', async () => {
    expect(await r.call('command', 'getkeysandflags', 'set', 'k1', 'v1')).toEqual([['k1', ['OW', 'update']]]);
    expect(await r.call('command', 'getkeysandflags', 'lmove', 'k1', 'k2', 'left', 'right')).toEqual([
      ['k1', ['RW', 'access', 'delete']],
      ['k2', ['RW', 'insert']],
    ]);
    await expect(r.call('command', 'getkeysandflags', 'ping', 'x')).rejects.toThrow('ERR The command has no key arguments');
  });

  it('the slow log at threshold 0 keeps every command, trims long ones, honours slowlog-max-len', async () => {
    await r.config('SET', 'slowlog-log-slower-than', '0');
    try {
      await r.call('slowlog', 'reset');
      const many = Array.from({ length: 33 }, (_, i) => String(i));
      await r.sadd('slowset', ...many);
      await r.sadd('slowset', 'A'.repeat(129));
      const log = (await r.call('slowlog', 'get')) as [number, number, number, string[]][];
      // SLOWLOG GET itself is logged once it ran, after this reply.
      expect(log[0]![3]).toEqual(['sadd', 'slowset', `${'A'.repeat(128)}... (1 more bytes)`]);
      expect(log[1]![3]).toEqual(['sadd', 'slowset', ...many.slice(0, 29), '... (4 more arguments)']);
      expect(log[2]![3]).toEqual(['slowlog', 'reset']);
      await r.config('SET', 'slowlog-max-len', '10');
      for (let i = 0; i < 20; i++) await r.ping();
      expect(await r.call('slowlog', 'len')).toBe(10);
      expect(((await r.call('slowlog', 'get', '5')) as unknown[]).length).toBe(5);
    } finally {
      await r.config('SET', 'slowlog-log-slower-than', '10000');
      await r.config('SET', 'slowlog-max-len', '128');
    }
  });

  it('CLIENT UNBLOCK ends a blocked BLPOP as a timeout or with the UNBLOCKED error', async () => {
    // CLIENT LIST shows cmd=blpop once the named connection's BLPOP is dispatched (and blocked).
    const b = new Redis({ port: srv.port, host: '127.0.0.1', connectionName: 'ub1' });
    const b2 = new Redis({ port: srv.port, host: '127.0.0.1', connectionName: 'ub2' });
    try {
      const popped = b.blpop('ub-a', 'ub-b', 'ub-c', 0);
      const id = await clientIdRunning(r, 'blpop', 'ub1');
      expect(await r.call('client', 'unblock', id)).toBe(1);
      expect(await popped).toBeNull();
      await b.ping();
      const failed = b2.blpop('ub-a', 'ub-b', 0).catch((e: Error) => e.message);
      const id2 = await clientIdRunning(r, 'blpop', 'ub2');
      expect(await r.call('client', 'unblock', id2, 'ERROR')).toBe(1);
      expect(await failed).toBe('UNBLOCKED client unblocked via CLIENT UNBLOCK');
      expect(await r.call('client', 'unblock', id2)).toBe(0);
      await expect(r.call('client', 'unblock', id2, 'LATER')).rejects.toThrow('ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR');
    } finally {
      b.disconnect();
      b2.disconnect();
    }
  });

  it('WAIT answers 0 replicas: at once for 0, after its timeout otherwise, and CLIENT UNBLOCK ends it', async () => {
    expect(await r.call('wait', '0', '0')).toBe(0);
    expect(await r.call('wait', '1', '50')).toBe(0);
    await expect(r.call('wait', '1', '-1')).rejects.toThrow('ERR timeout is negative');
    await expect(r.call('wait', 'x', '0')).rejects.toThrow('ERR value is not an integer or out of range');
    const b = new Redis({ port: srv.port, host: '127.0.0.1', connectionName: 'wt1' });
    try {
      const waited = b.call('wait', '1', '0');
      const id = await clientIdRunning(r, 'wait', 'wt1');
      expect(await r.call('client', 'unblock', id)).toBe(1);
      expect(await waited).toBe(0);
    } finally {
      b.disconnect();
    }
  });

  it('MOVE takes a key with its TTL to another database; SWAPDB swaps two', async () => {
    await r.flushall();
    await r.set('mv', '1', 'EX', 100);
    expect(await r.call('move', 'mv', '1')).toBe(1);
    expect(await r.call('move', 'mv', '1')).toBe(0);
    await expect(r.call('move', 'mv', '0')).rejects.toThrow('ERR source and destination objects are the same');
    await expect(r.call('move', 'mv', '99')).rejects.toThrow('ERR DB index is out of range');
    const d1 = new Redis({ port: srv.port, host: '127.0.0.1', db: 1 });
    try {
      expect(await d1.get('mv')).toBe('1');
      expect(await d1.ttl('mv')).toBeGreaterThan(90);
      for (let i = 0; i < 10; i++) await r.set(`sw${i}`, `v${i}`);
      expect(await r.call('swapdb', '0', '1')).toBe('OK');
      expect(await r.dbsize()).toBe(1);
      expect(await d1.dbsize()).toBe(10);
      expect(await d1.get('sw3')).toBe('v3');
      expect(await r.ttl('mv')).toBeGreaterThan(90);
      await expect(r.call('swapdb', 'x', '1')).rejects.toThrow('ERR invalid first DB index');
      await expect(r.call('swapdb', '0', '99')).rejects.toThrow('ERR DB index is out of range');
    } finally {
      d1.disconnect();
    }
  });

  it('SWAPDB serves a client blocked on a key the swap brings in', async () => {
    await r.flushall();
    const d1 = new Redis({ port: srv.port, host: '127.0.0.1', db: 1 });
    const b = new Redis({ port: srv.port, host: '127.0.0.1', connectionName: 'sw1' });
    try {
      await d1.rpush('swl', 'x');
      const popped = b.blpop('swl', 0);
      await clientIdRunning(r, 'blpop', 'sw1');
      await r.call('swapdb', '0', '1');
      expect(await popped).toEqual(['swl', 'x']);
    } finally {
      d1.disconnect();
      b.disconnect();
    }
  });

  it('answers as a standalone master: CLUSTER, ROLE, REPLCONF, MODULE, LATENCY', async () => {
    await expect(r.call('cluster', 'info')).rejects.toThrow('ERR This instance has cluster support disabled');
    await expect(r.call('readonly')).rejects.toThrow('ERR This instance has cluster support disabled');
    expect(await r.call('role')).toEqual(['master', 0, []]);
    expect(await r.call('replconf', 'listening-port', '6380', 'capa', 'eof')).toBe('OK');
    await expect(r.call('replconf', 'what', 'x')).rejects.toThrow('ERR Unrecognized REPLCONF option: what');
    expect(await r.call('module', 'list')).toEqual([]);
    expect(await r.call('latency', 'latest')).toEqual([]);
    await expect(r.call('latency', 'graph', 'command')).rejects.toThrow("ERR No samples available for event 'command'");
    expect(((await r.call('slowlog', 'help')) as string[])[0]).toMatch(/^SLOWLOG <subcommand>/);
  });
});
