import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { Redis } from 'ioredis';
import { runCli, startServer, type TestServer } from '../helpers/server.js';
import { hasRedis, startRedis } from '../persistence/redis-process.js';
import { readRdbFile } from '../../src/persistence/rdb-reader.js';

const FIXTURES = new URL('../persistence/fixtures/', import.meta.url).pathname;

async function connect(port: number): Promise<Redis> {
  const r = new Redis({ port, host: '127.0.0.1', lazyConnect: true });
  await r.connect();
  return r;
}

describe.each([1, 3])('SAVE and restart with %i shard(s)', (shards) => {
  const dir = mkdtempSync(join(tmpdir(), 'sabre-save-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('brings back every key, value, expiry and database', async () => {
    let srv = await startServer(['--shards', String(shards), '--dir', dir]);
    let r = await connect(srv.port);
    const p = r.pipeline();
    for (let i = 0; i < 500; i++) p.set(`k${i}`, `v${i}`);
    p.set('big', 'x'.repeat(100_000));
    p.set('bin', Buffer.from([0, 1, 2, 255, 13, 10]));
    p.set('int', '-12345');
    p.set('ttl', 'soon', 'EX', 1000);
    p.select(5);
    p.set('other', 'db5');
    await p.exec();
    expect(await r.save()).toBe('OK');
    const lastsave = await r.lastsave();
    expect(Math.abs(lastsave - Date.now() / 1000)).toBeLessThan(5);
    expect(await r.info('persistence')).toContain('rdb_changes_since_last_save:0');
    r.disconnect();
    expect(await srv.stop()).toBe(0);

    // Load with a different shard count: keys are routed to their new shards.
    srv = await startServer(['--shards', String(4 - shards), '--dir', dir]);
    r = await connect(srv.port);
    expect(await r.dbsize()).toBe(504);
    expect(await r.get('k321')).toBe('v321');
    expect((await r.get('big'))!.length).toBe(100_000);
    expect(await r.getBuffer('bin')).toEqual(Buffer.from([0, 1, 2, 255, 13, 10]));
    expect(await r.get('int')).toBe('-12345');
    const ttl = await r.ttl('ttl');
    expect(ttl).toBeGreaterThan(990);
    expect(ttl).toBeLessThanOrEqual(1000);
    await r.select(5);
    expect(await r.get('other')).toBe('db5');
    expect(await r.info('persistence')).toContain('rdb_last_load_keys_loaded:505');
    r.disconnect();
    expect(await srv.stop()).toBe(0);
    if (hasRedis) expect(spawnSync('redis-check-rdb', [join(dir, 'dump.rdb')]).status).toBe(0);
  });
});

describe('start-up loading', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sabre-load-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('loads a dump.rdb written by real Redis 7.0', async () => {
    copyFileSync(join(FIXTURES, 'strings.rdb'), join(dir, 'dump.rdb'));
    const expected = [...readRdbFile(join(dir, 'dump.rdb'))].flatMap((rec) => (rec.kind === 'entry' ? [rec.entry] : []));
    expect(expected.length).toBeGreaterThan(0);
    const srv = await startServer(['--shards', '3', '--dir', dir]);
    const r = await connect(srv.port);
    for (const e of expected) {
      await r.select(e.db);
      expect(await r.getBuffer(Buffer.from(e.key))).toEqual(Buffer.from((e.value as { bytes: Uint8Array }).bytes));
    }
    r.disconnect();
    expect(await srv.stop()).toBe(0);
  });

  it('refuses to start on a corrupted or truncated file, with a clear error', async () => {
    const good = readFileSync(join(FIXTURES, 'strings.rdb'));
    const corrupt = Buffer.from(good);
    corrupt[corrupt.length - 20] = corrupt[corrupt.length - 20]! ^ 0x5a;
    for (const bytes of [corrupt, good.subarray(0, good.length - 30)]) {
      writeFileSync(join(dir, 'dump.rdb'), bytes);
      const res = await runCli(['server', '--port', '0', '--bind', '127.0.0.1', '--shards', '2', '--dir', dir]);
      expect(res.code).toBe(1);
      expect(res.output).toMatch(/Bad file format reading .*dump\.rdb/);
      expect(res.output).not.toContain('ready to accept connections');
    }
  });
});

describe('DUMP and RESTORE', () => {
  let srv: TestServer;
  let r: Redis;
  beforeAll(async () => {
    // CONFIG SET dir below: a protected config, refused by default as in Redis.
    srv = await startServer(['--shards', '3', '--enable-protected-configs', 'yes']);
    r = await connect(srv.port);
  });
  afterAll(async () => {
    r.disconnect();
    expect(await srv.stop()).toBe(0);
  });

  it('round-trips values with Redis error texts, REPLACE, ABSTTL and TTL', async () => {
    await r.set('src', 'payload-value');
    const dump = await r.dumpBuffer('src');
    expect(await r.dumpBuffer('missing')).toBeNull();
    await expect(r.restore('src', 0, dump)).rejects.toThrow('BUSYKEY Target key name already exists.');
    expect(await r.restore('src', 0, dump, 'REPLACE')).toBe('OK');
    expect(await r.restore('dst', 5000, dump)).toBe('OK');
    expect(await r.get('dst')).toBe('payload-value');
    expect(await r.pttl('dst')).toBeGreaterThan(4000);
    expect(await r.restore('abs', Date.now() + 60_000, dump, 'ABSTTL')).toBe('OK');
    expect(await r.ttl('abs')).toBeGreaterThan(50);
    expect(await r.restore('gone', 1, dump, 'ABSTTL')).toBe('OK');
    expect(await r.exists('gone')).toBe(0);
    const bad = Buffer.from(dump);
    bad[bad.length - 1] = bad[bad.length - 1]! ^ 1;
    await expect(r.restore('x', 0, bad)).rejects.toThrow('ERR DUMP payload version or checksum are wrong');
    await expect(r.restore('x', -1, dump)).rejects.toThrow('ERR Invalid TTL value, must be >= 0');
    await expect(r.restore('x', 0, dump, 'BOGUS')).rejects.toThrow('ERR syntax error');
    expect(await r.call('restore', 'idle', '0', dump, 'IDLETIME', '100')).toBe('OK');
  });

  it('exposes the persistence and memory parameters through CONFIG GET/SET, validated', async () => {
    expect(await r.config('GET', 'dbfilename')).toEqual(['dbfilename', 'dump.rdb']);
    expect(await r.config('SET', 'save', '900 1 300 10')).toBe('OK');
    expect(await r.config('GET', 'save')).toEqual(['save', '900 1 300 10']);
    await expect(r.config('SET', 'save', '900')).rejects.toThrow(
      "ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters",
    );
    await expect(r.config('SET', 'dir', '/no/such/dir')).rejects.toThrow('No such file or directory');
    await expect(r.config('SET', 'maxmemory-policy', 'sometimes')).rejects.toThrow("argument 'maxmemory-policy'");
    expect(await r.config('SET', 'maxmemory', '1gb', 'maxmemory-policy', 'allkeys-lfu', 'maxmemory-samples', '10')).toBe('OK');
    const info = await r.info('memory');
    expect(info).toContain(`maxmemory:${1024 ** 3}`);
    expect(info).toContain('maxmemory_policy:allkeys-lfu');
    expect(await r.config('SET', 'maxmemory', '0', 'save', '')).toBe('OK');
    expect(await r.config('GET', 'appendfsync')).toEqual(['appendfsync', 'everysec']);
  });

  describe.skipIf(!hasRedis)('with real Redis 7.0', () => {
    it('moves keys both ways through DUMP payloads', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sabre-dump-'));
      const real = await startRedis(dir);
      try {
        const big = 'abc'.repeat(5000);
        await r.set('to-redis', big);
        expect(await real.client.restore('to-redis', 0, await r.dumpBuffer('to-redis'))).toBe('OK');
        expect(await real.client.get('to-redis')).toBe(big);
        await real.client.set('from-redis', '12345');
        await real.client.set('from-redis-2', 'y'.repeat(300));
        expect(await r.restore('from-redis', 0, await real.client.dumpBuffer('from-redis'))).toBe('OK');
        expect(await r.restore('from-redis-2', 0, await real.client.dumpBuffer('from-redis-2'))).toBe('OK');
        expect(await r.get('from-redis')).toBe('12345');
        expect(await r.get('from-redis-2')).toBe('y'.repeat(300));
      } finally {
        await real.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });

    it('writes a dump.rdb that real Redis loads', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'sabre-interop-'));
      const s = await startServer(['--shards', '2', '--dir', dir]);
      const c = await connect(s.port);
      try {
        for (let i = 0; i < 100; i++) await c.set(`key:${i}`, i % 2 ? String(i) : `val-${i}`.repeat(10));
        await c.set('exp', 'e', 'EX', 500);
        expect(await c.save()).toBe('OK');
      } finally {
        c.disconnect();
        await s.stop();
      }
      const real = await startRedis(dir);
      try {
        expect(await real.client.dbsize()).toBe(101);
        expect(await real.client.get('key:7')).toBe('7');
        expect(await real.client.get('key:8')).toBe('val-8'.repeat(10));
        expect(await real.client.ttl('exp')).toBeGreaterThan(400);
      } finally {
        await real.stop();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
