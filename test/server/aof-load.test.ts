/** Loading a long AOF: replayed while it is read, with a bounded window of requests in flight, in file order across shards. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import calculateSlot from 'cluster-key-slot';
import { afterAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startServer } from '../helpers/server.js';
import { encodeCommand } from '../../src/wire/resp-command.js';

const SHARDS = 3;
const shardOf = (k: string): number => calculateSlot(k) % SHARDS;
const cmd = (...args: string[]): Buffer => Buffer.from(encodeCommand(args.map((a) => Buffer.from(a))));

describe('AOF loading', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sabre-aof-load-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('replays 150k commands across window boundaries in file order, held operations included', async () => {
    // Two keys on different shards, so RENAME between them is a held cross-shard operation.
    const c = 'counter';
    let other = 'moved0';
    for (let i = 1; shardOf(other) === shardOf(c); i++) other = `moved${i}`;
    const parts: Buffer[] = [cmd('SELECT', '0')];
    for (let i = 0; i < 40_000; i++) parts.push(cmd('INCR', c));
    parts.push(cmd('RENAME', c, other));
    for (let i = 0; i < 30_000; i++) parts.push(cmd('INCR', c));
    for (let i = 0; i < 60_000; i++) parts.push(cmd('RPUSH', `list:${i % 7}`, `e${i}`));
    parts.push(cmd('MULTI'), cmd('SET', 'in-multi', '1'), cmd('INCRBY', c, '5'), cmd('EXEC'));
    parts.push(cmd('MSET', 'ms:a', 'A', 'ms:b', 'B', 'ms:c', 'C', 'ms:d', 'D'));
    parts.push(cmd('DEL', 'ms:a', 'ms:c', 'list:6'));
    for (let i = 0; i < 20_000; i++) parts.push(cmd('SET', `k:${i}`, String(i)));
    parts.push(cmd('SELECT', '2'), cmd('SET', 'in2', 'two'));
    const sub = join(dir, 'long');
    mkdirSync(join(sub, 'appendonlydir'), { recursive: true });
    writeFileSync(join(sub, 'appendonlydir', 'appendonly.aof.1.base.aof'), Buffer.concat(parts));
    writeFileSync(join(sub, 'appendonlydir', 'appendonly.aof.manifest'), 'file appendonly.aof.1.base.aof seq 1 type b\n');

    const srv = await startServer(['--shards', String(SHARDS), '--dir', sub, '--appendonly', 'yes']);
    const r = new Redis({ port: srv.port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
    try {
      expect(await r.mget(other, c, 'in-multi', 'ms:a', 'ms:b', 'ms:c', 'ms:d')).toEqual(['40000', '30005', '1', null, 'B', null, 'D']);
      const lens = await Promise.all(Array.from({ length: 7 }, (_, i) => r.llen(`list:${i}`)));
      expect(lens).toEqual([...Array.from({ length: 6 }, (_, i) => Math.ceil((60_000 - i) / 7)), 0]);
      expect(await r.lindex('list:3', -1)).toBe('e59993');
      expect(await r.get('k:19999')).toBe('19999');
      // counter, moved, 6 lists, in-multi, ms:b, ms:d, 20k k:*
      expect(await r.dbsize()).toBe(2 + 6 + 1 + 2 + 20_000);
      await r.select(2);
      expect(await r.get('in2')).toBe('two');
    } finally {
      r.disconnect();
      await srv.stop();
    }
  }, 60_000);
});
