import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startServer } from '../helpers/server.js';
import { hasRedis, startRedis } from './redis-process.js';

const LIB = `#!lua name=counters
redis.register_function('bump', function(keys, args) return redis.call('INCRBY', keys[1], args[1]) end)
redis.register_function{function_name='peek', callback=function(keys) return redis.call('GET', keys[1]) end, flags={'no-writes'}}`;

/** Keys spread over several shards (different hash slots). */
const KEYS = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];

/** FUNCTION LIST WITHCODE with libraries and their functions by name (Redis lists both in its dictionaries' order). */
async function libraries(c: Redis): Promise<unknown[][]> {
  const list = (await c.call('FUNCTION', 'LIST', 'WITHCODE')) as unknown[][];
  for (const lib of list) (lib[5] as unknown[][]).sort((x, y) => String(x[1]).localeCompare(String(y[1])));
  return list.sort((x, y) => String(x[1]).localeCompare(String(y[1])));
}

/** Every key bumped once through the library: FCALL must run in whichever shard owns the key. */
async function bumpAll(c: Redis): Promise<unknown[]> {
  return Promise.all(KEYS.map((k) => c.call('FCALL', 'bump', 1, k, 5)));
}

describe('function libraries persist', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sabre-functions-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  for (const how of ['SAVE', 'BGSAVE'] as const) {
    it(`in the RDB written by ${how}, and load into every shard`, async () => {
      let srv = await startServer(['--shards', '3', '--dir', dir, '--save', '']);
      let c = new Redis({ port: srv.port, host: '127.0.0.1' });
      await c.call('FUNCTION', 'LOAD', LIB);
      await bumpAll(c);
      const before = await libraries(c);
      if (how === 'SAVE') await c.save();
      else {
        // The save is marked in progress before BGSAVE answers; LASTSAVE (seconds) may not move.
        await c.bgsave();
        while ((await c.info('persistence')).includes('rdb_bgsave_in_progress:1')) await new Promise((r) => setTimeout(r, 50));
        expect(await c.info('persistence')).toContain('rdb_last_bgsave_status:ok');
      }
      c.disconnect();
      await srv.stop();
      srv = await startServer(['--shards', '3', '--dir', dir, '--save', '']);
      c = new Redis({ port: srv.port, host: '127.0.0.1' });
      try {
        expect(await libraries(c)).toEqual(before);
        expect(await bumpAll(c)).toEqual(KEYS.map(() => 10));
      } finally {
        c.disconnect();
        await srv.stop();
      }
    });
  }

  it('in the AOF, replayed into every shard, and through BGREWRITEAOF', async () => {
    const flags = ['--shards', '3', '--dir', dir, '--save', '', '--appendonly', 'yes'];
    let srv = await startServer(flags);
    let c = new Redis({ port: srv.port, host: '127.0.0.1' });
    await c.call('FUNCTION', 'LOAD', LIB);
    await bumpAll(c);
    const before = await libraries(c);
    c.disconnect();
    await srv.stop();
    srv = await startServer(flags);
    c = new Redis({ port: srv.port, host: '127.0.0.1' });
    expect(await libraries(c)).toEqual(before);
    expect(await bumpAll(c)).toEqual(KEYS.map(() => 10));
    await c.bgrewriteaof();
    while ((await c.info('persistence')).includes('aof_rewrite_in_progress:1')) await new Promise((r) => setTimeout(r, 50));
    c.disconnect();
    await srv.stop();
    srv = await startServer(flags);
    c = new Redis({ port: srv.port, host: '127.0.0.1' });
    try {
      expect(await libraries(c)).toEqual(before);
      expect(await bumpAll(c)).toEqual(KEYS.map(() => 15));
    } finally {
      c.disconnect();
      await srv.stop();
    }
  });

  it.skipIf(!hasRedis)(
    'an RDB with functions from real Redis loads in Sabre, and Sabre’s loads in Redis (needs redis-server)',
    async () => {
      const real = await startRedis(dir);
      await real.client.call('FUNCTION', 'LOAD', LIB);
      await real.client.set('a', '1');
      const fromRedis = await libraries(real.client);
      await real.client.save();
      await real.stop();

      const srv = await startServer(['--shards', '2', '--dir', dir, '--save', '']);
      const c = new Redis({ port: srv.port, host: '127.0.0.1' });
      try {
        expect(await libraries(c)).toEqual(fromRedis);
        expect(await c.call('FCALL', 'bump', 1, 'a', 2)).toBe(3);
        await c.call('FUNCTION', 'LOAD', LIB.replace('counters', 'more').replace("'bump'", "'bump2'").replace("'peek'", "'peek2'"));
        const fromSabre = await libraries(c);
        await c.save();
        c.disconnect();
        await srv.stop();

        const back = await startRedis(dir);
        try {
          expect(await libraries(back.client)).toEqual(fromSabre);
          expect(await back.client.call('FCALL_RO', 'peek2', 1, 'a')).toBe('3');
        } finally {
          await back.stop();
        }
      } finally {
        c.disconnect();
        await srv.stop();
      }
    },
  );
});

if (!hasRedis) console.warn('function RDB interop test skipped: install redis-server 7.0 (apt-get install redis-server) to run it');
