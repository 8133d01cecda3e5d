import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import calculateSlot from 'cluster-key-slot';
import { startServer, type TestServer } from '../helpers/server.js';
import { readRdbFile } from '../../src/persistence/rdb-reader.js';

const MB = 1024 * 1024;

/** The server process's resident set in bytes (Linux /proc). */
function rss(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Waits (up to ~20 s) for the server's RSS to come within `slack` bytes of `target`; returns the last reading. */
async function settles(pid: number, target: number, slack: number): Promise<number> {
  let now = rss(pid);
  for (let i = 0; i < 200 && now - target > slack; i++) {
    await pause(100);
    now = rss(pid);
  }
  return now;
}

describe.skipIf(!existsSync('/proc/self/status'))('memory of large values', () => {
  let srv: TestServer;
  let c: Redis;
  const dir = mkdtempSync(join(tmpdir(), 'sabre-bigvalues-'));
  beforeAll(async () => {
    srv = await startServer(['--shards', '2', '--dir', dir]);
    c = new Redis({ port: srv.port, host: '127.0.0.1' });
  });
  afterAll(async () => {
    c.disconnect();
    expect(await srv.stop()).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });

  it('gives a deleted 100 MB value back to the OS', async () => {
    const pid = srv.proc.pid!;
    await c.set('warm', 'x'.repeat(100));
    const before = await settles(pid, 0, Infinity);
    const big = Buffer.alloc(100 * MB, 'v');
    await c.set('big', big);
    expect(rss(pid) - before).toBeGreaterThan(100 * MB);
    expect((await c.getBuffer('big'))!.equals(big)).toBe(true);
    expect(await c.del('big')).toBe(1);
    const after = await settles(pid, before, 20 * MB);
    expect(after - before).toBeLessThan(20 * MB);
  });

  it('serves large values like any string (outside the arena from 64 KB)', async () => {
    const v = Buffer.alloc(MB, 'a');
    v.write('head', 0);
    await c.set('s', v);
    expect(await c.strlen('s')).toBe(MB);
    expect(await c.getrange('s', 0, 3)).toBe('head');
    expect(await c.append('s', 'tail')).toBe(MB + 4);
    expect(await c.getrange('s', -4, -1)).toBe('tail');
    expect(await c.setrange('s', 1, 'EA')).toBe(MB + 4);
    expect(await c.getrange('s', 0, 3)).toBe('hEAd');
    expect(await c.expire('s', 1000)).toBe(1);
    expect(await c.persist('s')).toBe(1);
    expect(await c.copy('s', 's2')).toBe(1);
    // One rename within the shard (the value moves with its record), one across shards (a dump and a restore).
    const shardOf = (k: string): number => calculateSlot(k) % 2;
    const same = ['m1', 'm2', 'm3', 'm4', 'm5'].find((k) => shardOf(k) === shardOf('s'))!;
    const other = ['e1', 'e2', 'e3', 'e4', 'e5'].find((k) => shardOf(k) !== shardOf(same))!;
    expect(await c.rename('s', same)).toBe('OK');
    expect(await c.rename(same, other)).toBe('OK');
    await c.rename(other, 'elsewhere');
    const want = Buffer.concat([Buffer.from('hEAd'), Buffer.alloc(MB - 4, 'a'), Buffer.from('tail')]);
    expect((await c.getBuffer('elsewhere'))!.equals(want)).toBe(true);
    expect((await c.getBuffer('s2'))!.equals(want)).toBe(true);
    expect(await c.object('ENCODING', 's2')).toBe('raw');
    expect(Number(await c.call('MEMORY', 'USAGE', 's2'))).toBeGreaterThan(MB);
    const dump = await c.dumpBuffer('s2');
    expect(await c.restore('restored', 0, dump)).toBe('OK');
    expect((await c.getBuffer('restored'))!.equals(want)).toBe(true);
    await c.set('s2', 'small now');
    expect(await c.get('s2')).toBe('small now');
    // Saved and loaded: BGSAVE reads from its copy of the arena, which shares the value's buffer.
    await c.set('kept', want);
    expect(await c.bgsave()).toBe('Background saving started');
    for (let i = 0; i < 200 && !(await c.info('persistence')).includes('rdb_bgsave_in_progress:0'); i++) await pause(25);
    expect(await c.info('persistence')).toContain('rdb_last_bgsave_status:ok');
    const saved = new Map<string, Buffer>();
    for (const rec of readRdbFile(join(dir, 'dump.rdb')))
      if (rec.kind === 'entry' && rec.entry.value.type === 'string')
        saved.set(Buffer.from(rec.entry.key).toString(), Buffer.from(rec.entry.value.bytes));
    expect(saved.get('kept')!.equals(want)).toBe(true);
    const second = await startServer(['--shards', '2', '--dir', dir]);
    const c2 = new Redis({ port: second.port, host: '127.0.0.1' });
    try {
      expect((await c2.getBuffer('kept'))!.equals(want)).toBe(true);
      expect((await c2.getBuffer('elsewhere'))!.equals(want)).toBe(true);
    } finally {
      c2.disconnect();
      await second.stop();
    }
    await c.flushall();
    expect(await c.dbsize()).toBe(0);
  });
});
