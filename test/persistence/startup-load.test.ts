/** Start-up loading: source choice, expired keys, truncated AOF tails cut, corrupt files refused before anything is served. */
import { appendFileSync, cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadAtStartup, type LoadSink } from '../../src/persistence/startup-load.js';
import { encodeCommand } from '../../src/wire/resp-command.js';
import { RdbError } from '../../src/persistence/rdb-error.js';
import { aofReplayOrder, parseAofManifest } from '../../src/persistence/aof-manifest.js';
import type { RdbEntry } from '../../src/persistence/rdb-types.js';
import { sampleEntries, writeRdb, FAR } from './sample-entries.js';

const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));

function collector(): LoadSink & { entries: RdbEntry[]; commands: string[] } {
  const entries: RdbEntry[] = [];
  const commands: string[] = [];
  return {
    entries,
    commands,
    entry: (e) => entries.push(e),
    command: (db, argv) => commands.push(`${db}:${argv.map((a) => Buffer.from(a).toString()).join(' ')}`),
    functionCode: (code) => commands.push(`function:${Buffer.from(code).toString()}`),
  };
}

describe('start-up loading', () => {
  let dir: string;
  const base = () => ({ dir, dbfilename: 'dump.rdb', appendonly: false, appendfilename: 'appendonly.aof', nowMs: FAR - 1 });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'sabre-load-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('starts empty when the file does not exist', async () => {
    const sink = collector();
    expect(await loadAtStartup(base(), sink)).toMatchObject({ source: 'none', keysLoaded: 0 });
    expect(await loadAtStartup({ ...base(), appendonly: true }, sink)).toMatchObject({ source: 'none' });
    expect(sink.entries).toHaveLength(0);
  });

  it('loads the RDB, skipping keys that already expired', async () => {
    const sample = sampleEntries();
    const expired: RdbEntry = { db: 0, key: b('gone'), expireAtMs: 1000, value: { type: 'string', bytes: b('x') } };
    writeFileSync(join(dir, 'dump.rdb'), writeRdb([...sample, expired]));
    const sink = collector();
    expect(await loadAtStartup(base(), sink)).toMatchObject({ source: 'rdb', keysLoaded: sample.length, keysExpired: 1 });
    expect(sink.entries.map((e) => Buffer.from(e.key).toString())).not.toContain('gone');
  });

  it('prefers the AOF when appendonly is on, and cuts a truncated tail off the file', async () => {
    writeFileSync(join(dir, 'dump.rdb'), writeRdb(sampleEntries()));
    const good = Buffer.concat([
      encodeCommand([b('SET'), b('a'), b('1')]),
      encodeCommand([b('SELECT'), b('2')]),
      encodeCommand([b('SET'), b('b'), b('2')]),
    ]);
    const path = join(dir, 'appendonly.aof');
    writeFileSync(path, good);
    appendFileSync(path, encodeCommand([b('SET'), b('c'), b('3')]).subarray(0, 9));
    const lines: string[] = [];
    const sink = collector();
    const r = await loadAtStartup({ ...base(), appendonly: true, log: (l) => lines.push(l) }, sink);
    expect(r).toMatchObject({ source: 'aof', commands: 2, truncatedBytes: 9 });
    expect(sink.commands).toEqual(['0:SET a 1', '2:SET b 2']);
    expect(readFileSync(path).equals(good)).toBe(true);
    expect(lines.join('\n')).toMatch(/short read while loading the AOF/);
  });

  it("loads real Redis 7.0's multi-part AOF through its manifest", async () => {
    cpSync(fileURLToPath(new URL('./fixtures/appendonlydir', import.meta.url)), join(dir, 'appendonlydir'), { recursive: true });
    const sink = collector();
    const r = await loadAtStartup({ ...base(), appendonly: true }, sink);
    expect(r).toMatchObject({ source: 'aof', keysLoaded: 1, commands: 1 });
    expect(sink.entries.map((e) => Buffer.from(e.key).toString())).toEqual(['before']);
    expect(sink.commands).toEqual(['0:SET after rewrite']);
  });

  it('refuses a truncated AOF with aof-load-truncated no, and a corrupt RDB, with RdbError', async () => {
    writeFileSync(join(dir, 'appendonly.aof'), encodeCommand([b('SET'), b('a'), b('1')]).subarray(0, 10));
    await expect(loadAtStartup({ ...base(), appendonly: true, aofLoadTruncated: false }, collector())).rejects.toThrow(RdbError);
    const file = writeRdb(sampleEntries());
    writeFileSync(join(dir, 'dump.rdb'), file.subarray(0, file.length - 3));
    await expect(loadAtStartup(base(), collector())).rejects.toThrow(RdbError);
  });
});

describe('AOF manifest', () => {
  it('orders the base file first, then incremental files by sequence, skipping history', () => {
    const text =
      'file a.1.base.rdb seq 1 type b\nfile a.3.incr.aof seq 3 type i\nfile a.2.incr.aof seq 2 type i\nfile a.0.base.aof seq 0 type h\n';
    expect(parseAofManifest(text)).toHaveLength(4);
    const dir = mkdtempSync(join(tmpdir(), 'sabre-manifest-'));
    try {
      writeFileSync(join(dir, 'm'), text);
      expect(aofReplayOrder(dir, 'm').map((p) => p.slice(dir.length + 1))).toEqual(['a.1.base.rdb', 'a.2.incr.aof', 'a.3.incr.aof']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    expect(() => parseAofManifest('file x seq one type i')).toThrow(RdbError);
  });
});
