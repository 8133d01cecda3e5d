/** The save schedule rule and the INFO persistence fields. */
import { describe, expect, it } from 'vitest';
import { dueSavePoint, formatSaveConfig, parseSaveConfig, BGSAVE_RETRY_DELAY_MS } from '../../src/persistence/save-schedule.js';
import { PersistenceStatus } from '../../src/persistence/persistence-status.js';
import { hasRedis, startRedis } from './redis-process.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

describe('save schedule', () => {
  it('parses and formats the save config like CONFIG SET/GET save', () => {
    expect(parseSaveConfig('3600 1 300 100 60 10000')).toEqual([
      { seconds: 3600, changes: 1 },
      { seconds: 300, changes: 100 },
      { seconds: 60, changes: 10000 },
    ]);
    expect(parseSaveConfig('')).toEqual([]);
    expect(parseSaveConfig('60')).toBeNull();
    expect(parseSaveConfig('x 1')).toBeNull();
    expect(formatSaveConfig(parseSaveConfig(' 900  1 ')!)).toBe('900 1');
  });

  it('asks for a BGSAVE once both the changes and the seconds of a point are reached', () => {
    const points = parseSaveConfig('300 100 60 10000')!;
    const base = { dirty: 0, lastSaveMs: 0, lastBgsaveTryMs: 0, lastBgsaveOk: true };
    expect(dueSavePoint(points, { ...base, dirty: 99 }, 301_000)).toBeNull();
    expect(dueSavePoint(points, { ...base, dirty: 100 }, 301_000)).toEqual({ seconds: 300, changes: 100 });
    expect(dueSavePoint(points, { ...base, dirty: 10000 }, 61_000)).toEqual({ seconds: 60, changes: 10000 });
    expect(dueSavePoint(points, { ...base, dirty: 10000 }, 60_000)).toBeNull();
  });

  it('waits the retry delay after a failed BGSAVE', () => {
    const points = parseSaveConfig('1 1')!;
    const failed = { dirty: 5, lastSaveMs: 0, lastBgsaveTryMs: 10_000, lastBgsaveOk: false };
    expect(dueSavePoint(points, failed, 10_000 + BGSAVE_RETRY_DELAY_MS)).toBeNull();
    expect(dueSavePoint(points, failed, 10_001 + BGSAVE_RETRY_DELAY_MS)).not.toBeNull();
  });
});

describe('INFO persistence', () => {
  it('keeps writes made during a BGSAVE dirty and records its outcome', () => {
    const s = new PersistenceStatus();
    s.dirty = 10;
    s.bgsaveStarted(1_000_000);
    s.dirty += 3;
    expect(s.infoLines(1_002_000)).toContain('rdb_current_bgsave_time_sec:2');
    s.bgsaveFinished(true, 1_004_000);
    const lines = s.infoLines(1_005_000);
    expect(lines).toContain('rdb_changes_since_last_save:3');
    expect(lines).toContain('rdb_last_save_time:1004');
    expect(lines).toContain('rdb_last_bgsave_status:ok');
    expect(lines).toContain('rdb_last_bgsave_time_sec:4');
    expect(lines).toContain('rdb_saves:1');
    s.bgsaveStarted(2_000_000);
    s.bgsaveFinished(false, 2_000_000);
    expect(s.infoLines()).toContain('rdb_last_bgsave_status:err');
    expect(s.infoLines()).toContain('rdb_changes_since_last_save:3');
  });

  it.skipIf(!hasRedis)('has the same fields, in the same order, as real Redis 7.0', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'sabre-info-'));
    const redis = await startRedis(dir);
    try {
      const info = (await redis.client.info('persistence')).split('\r\n').filter((l) => l.includes(':'));
      const theirs = info.map((l) => l.split(':')[0]).filter((k) => !k!.startsWith('loading_'));
      const ours = new PersistenceStatus().infoLines().map((l) => l.split(':')[0]);
      expect(ours).toEqual(theirs);
    } finally {
      await redis.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
