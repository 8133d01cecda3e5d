import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { startServer } from '../helpers/server.js';
import { readRdbFile } from '../../src/persistence/rdb-reader.js';
import { hasRedis } from '../persistence/redis-process.js';
import { spawnSync } from 'node:child_process';

const KEYS = 2000;

async function waitFor(check: () => Promise<boolean>): Promise<void> {
  while (!(await check())) await sleep(20);
}

describe('BGSAVE', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sabre-bgsave-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a point-in-time snapshot while a writer keeps updating keys in a known order', async () => {
    const srv = await startServer(['--shards', '3', '--dir', dir]);
    const writer = new Redis({ port: srv.port, host: '127.0.0.1' });
    const admin = new Redis({ port: srv.port, host: '127.0.0.1' });
    try {
      // Round r sets k0..k(KEYS-1) to r in order; any point of that stream leaves a prefix at r, the rest at r - 1.
      let stop = false;
      let rounds = 0;
      const writing = (async () => {
        for (let round = 1; !stop; round++) {
          const p = writer.pipeline();
          for (let i = 0; i < KEYS; i++) p.set(`k${i}`, String(round));
          await p.exec();
          rounds = round;
        }
      })();
      // Every key exists once the first round is in (a fixed sleep raced it on a loaded machine).
      await waitFor(async () => rounds >= 1);
      expect(await admin.bgsave()).toBe('Background saving started');
      await waitFor(async () => (await admin.info('persistence')).includes('rdb_bgsave_in_progress:0'));
      stop = true;
      await writing;
      const info = await admin.info('persistence');
      expect(info).toContain('rdb_last_bgsave_status:ok');
      const values = new Map<string, number>();
      for (const rec of readRdbFile(join(dir, 'dump.rdb'))) {
        if (rec.kind === 'entry' && rec.entry.value.type === 'string')
          values.set(Buffer.from(rec.entry.key).toString(), Number(Buffer.from(rec.entry.value.bytes).toString()));
      }
      expect(values.size).toBe(KEYS);
      const first = values.get('k0')!;
      let i = 0;
      while (i < KEYS && values.get(`k${i}`) === first) i++;
      while (i < KEYS && values.get(`k${i}`) === first - 1) i++;
      expect(i).toBe(KEYS);
      if (hasRedis) expect(spawnSync('redis-check-rdb', [join(dir, 'dump.rdb')]).status).toBe(0);
    } finally {
      writer.disconnect();
      admin.disconnect();
      expect(await srv.stop()).toBe(0);
    }
  });

  it('runs on the save schedule once enough changes are made', async () => {
    const sub = join(dir, 'sched');
    rmSync(sub, { recursive: true, force: true });
    mkdirSync(sub);
    const srv = await startServer(['--shards', '2', '--dir', sub, '--save', '1 3']);
    const c = new Redis({ port: srv.port, host: '127.0.0.1' });
    try {
      await c.set('a', '1');
      await c.set('b', '2');
      await c.set('c', '3');
      await waitFor(async () => (await c.info('persistence')).includes('rdb_saves:1'));
      expect(existsSync(join(sub, 'dump.rdb'))).toBe(true);
      expect(await c.config('GET', 'save')).toEqual(['save', '1 3']);
      expect(await c.bgsave('SCHEDULE')).toMatch(/Background saving (started|scheduled)/);
    } finally {
      c.disconnect();
      expect(await srv.stop()).toBe(0);
    }
  });
});

describe('saving on shutdown', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sabre-shutdown-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('saves on SIGTERM when save points are set, and not after SHUTDOWN NOSAVE', async () => {
    let srv = await startServer(['--shards', '2', '--dir', dir, '--save', '3600 1']);
    let c = new Redis({ port: srv.port, host: '127.0.0.1' });
    await c.set('kept', 'yes');
    c.disconnect();
    expect(await srv.stop()).toBe(0);
    expect(existsSync(join(dir, 'dump.rdb'))).toBe(true);

    srv = await startServer(['--shards', '2', '--dir', dir, '--save', '3600 1']);
    c = new Redis({ port: srv.port, host: '127.0.0.1', retryStrategy: () => null, maxRetriesPerRequest: 0 });
    c.on('error', () => {});
    expect(await c.get('kept')).toBe('yes');
    await c.set('dropped', 'x');
    await c.shutdown('NOSAVE').catch(() => undefined);
    c.disconnect();
    await srv.stop();

    srv = await startServer(['--shards', '2', '--dir', dir]);
    c = new Redis({ port: srv.port, host: '127.0.0.1' });
    expect(await c.mget('kept', 'dropped')).toEqual(['yes', null]);
    c.disconnect();
    expect(await srv.stop()).toBe(0);
  });
});
