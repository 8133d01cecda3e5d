/** SAVE and BGSAVE files: temp file + fsync + rename, RESIZEDB hints, the encode pool, and failures that keep the old dump. */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { saveRdbFile, SnapshotFile } from '../../src/persistence/snapshot-file.js';
import { readRdbFile, type RdbRecord } from '../../src/persistence/rdb-reader.js';
import { encodeEntries } from '../../src/persistence/rdb-writer.js';
import type { RdbEntry } from '../../src/persistence/rdb-types.js';
import { canonicalEntry, sampleEntries } from './sample-entries.js';
import { hasRedis } from './redis-process.js';

function records(path: string): RdbRecord[] {
  return [...readRdbFile(path)];
}
const entriesIn = (path: string): RdbEntry[] => records(path).flatMap((r) => (r.kind === 'entry' ? [r.entry] : []));

describe('snapshot files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sabre-snap-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('SAVE writes every entry with RESIZEDB hints and leaves no temp file', () => {
    const path = join(dir, 'dump.rdb');
    const sample = sampleEntries();
    const counts = new Map<number, { keys: number; expires: number }>();
    for (const e of sample) {
      const c = counts.get(e.db) ?? { keys: 0, expires: 0 };
      c.keys++;
      if (e.expireAtMs) c.expires++;
      counts.set(e.db, c);
    }
    const { bytes } = saveRdbFile(path, sample, { dbSizes: (db) => counts.get(db) });
    expect(bytes).toBe(readFileSync(path).length);
    expect(readdirSync(dir)).toEqual(['dump.rdb']);
    const recs = records(path);
    expect(recs.filter((r) => r.kind === 'resizedb')).toEqual([...counts].map(([db, c]) => ({ kind: 'resizedb', db, ...c })));
    expect(entriesIn(path).map(canonicalEntry)).toEqual(sample.map(canonicalEntry));
  });

  it('a SAVE that fails midway keeps the previous dump and removes its temp file', () => {
    const path = join(dir, 'dump.rdb');
    writeFileSync(path, 'previous');
    function* failing(): Generator<RdbEntry> {
      yield sampleEntries()[0]!;
      throw new Error('shard went away');
    }
    expect(() => saveRdbFile(path, failing())).toThrow('shard went away');
    expect(readFileSync(path, 'utf8')).toBe('previous');
    expect(readdirSync(dir)).toEqual(['dump.rdb']);
  });

  it('BGSAVE file: blocks written in order become a valid RDB; abort keeps the old dump', async () => {
    const path = join(dir, 'dump.rdb');
    const sample = sampleEntries();
    const snap = await SnapshotFile.create(path);
    for (let i = 0; i < sample.length; i += 4) {
      const chunk = sample.slice(i, i + 4);
      for (const db of new Set(chunk.map((e) => e.db)))
        snap.writeBlock(
          db,
          encodeEntries(
            chunk.filter((e) => e.db === db),
            { compress: true },
          ),
        );
    }
    await snap.commit();
    expect(entriesIn(path).map(canonicalEntry)).toEqual(sample.map(canonicalEntry));
    if (hasRedis) expect(spawnSync('redis-check-rdb', [path], { encoding: 'utf8' }).stdout).toContain('RDB looks OK');

    const before = readFileSync(path);
    const second = await SnapshotFile.create(path);
    second.writeBlock(0, encodeEntries(sample.slice(0, 2), { compress: true }));
    await second.abort();
    expect(readFileSync(path).equals(before)).toBe(true);
    expect(readdirSync(dir)).toEqual(['dump.rdb']);
  });

  const builtPool = fileURLToPath(new URL('../../dist/persistence/rdb-pool.js', import.meta.url));
  it('the piscina encode pool (built dist/) encodes chunks in parallel into a file identical to a direct write', async () => {
    expect(existsSync(builtPool), 'run `npx tsc -p tsconfig.json` first').toBe(true);
    const { RdbEncodePool } = (await import(builtPool)) as typeof import('../../src/persistence/rdb-pool.js');
    const pool = new RdbEncodePool({ threads: 2 });
    try {
      const sample = sampleEntries();
      const path = join(dir, 'dump.rdb');
      const snap = await SnapshotFile.create(path, { ctime: 1, usedMem: 1 });
      const chunks: RdbEntry[][] = [];
      for (const e of sample) {
        const last = chunks.at(-1);
        if (last && last.length < 3 && last[0]!.db === e.db) last.push(e);
        else chunks.push([e]);
      }
      const blocks = await Promise.all(chunks.map((c) => pool.encode(c)));
      for (const [i, { block, crc }] of blocks.entries()) snap.writeBlock(chunks[i]![0]!.db, block, crc);
      await snap.commit();
      const direct = join(dir, 'direct.rdb');
      saveRdbFile(direct, sample, { ctime: 1, usedMem: 1 });
      expect(readFileSync(path).equals(readFileSync(direct))).toBe(true);
    } finally {
      await pool.close();
    }
  });
});
