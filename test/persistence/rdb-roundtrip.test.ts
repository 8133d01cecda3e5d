/** Writer → reader round trips of every type and encoding, and DUMP payload round trips. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readRdb, readRdbFile, type RdbRecord } from '../../src/persistence/rdb-reader.js';
import { decodeDumpPayload, encodeDumpPayload } from '../../src/persistence/dump-payload.js';
import { E_DUMP_PAYLOAD } from '../../src/wire/error-text.js';
import type { RdbEntry, RdbValue } from '../../src/persistence/rdb-types.js';
import { canonical, canonicalEntry, sampleEntries, writeRdb } from './sample-entries.js';

function entriesOf(records: Iterable<RdbRecord>): RdbEntry[] {
  const out: RdbEntry[] = [];
  for (const r of records) if (r.kind === 'entry') out.push(r.entry);
  return out;
}

describe('RDB round trip', () => {
  for (const compress of [true, false]) {
    it(`every sample entry comes back unchanged (compression ${compress ? 'on' : 'off'})`, () => {
      const sample = sampleEntries();
      const gen = readRdb(writeRdb(sample, compress));
      const records: RdbRecord[] = [];
      let r = gen.next();
      for (; !r.done; r = gen.next()) records.push(r.value);
      expect(r.value).toMatchObject({ version: 10, checksum: 'verified' });
      expect(entriesOf(records).map(canonicalEntry)).toEqual(sample.map(canonicalEntry));
      const aux = Object.fromEntries(records.flatMap((x) => (x.kind === 'aux' ? [[x.key, Buffer.from(x.value).toString()]] : [])));
      expect(aux).toMatchObject({ 'redis-ver': '7.0.15', 'redis-bits': '64', ctime: '1700000000', 'used-mem': '1000' });
    });
  }

  it("values larger than the file reader's 1 MiB window read back from disk intact", () => {
    const dir = mkdtempSync(join(tmpdir(), 'sabre-big-'));
    try {
      const big = Uint8Array.from({ length: 3 * 1024 * 1024 + 17 }, (_, i) => (i * 2654435761) >>> 24);
      const items = Array.from({ length: 3000 }, (_, i) => big.subarray(i * 1000, i * 1000 + 700));
      const sample: RdbEntry[] = [
        { db: 0, key: new Uint8Array([1]), expireAtMs: 0, value: { type: 'string', bytes: big } },
        { db: 0, key: new Uint8Array([2]), expireAtMs: 0, value: { type: 'list', items } },
        { db: 0, key: new Uint8Array([3]), expireAtMs: 0, value: { type: 'string', bytes: new Uint8Array(2_000_000).fill(120) } },
      ];
      const path = join(dir, 'big.rdb');
      writeFileSync(path, writeRdb(sample));
      expect(entriesOf(readRdbFile(path)).map(canonicalEntry)).toEqual(sample.map(canonicalEntry));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('compression shrinks compressible strings', () => {
    const sample = sampleEntries();
    expect(writeRdb(sample, true).length).toBeLessThan(writeRdb(sample, false).length);
  });

  it('an empty data set is a valid file', () => {
    const gen = readRdb(writeRdb([]));
    let r = gen.next();
    while (!r.done) r = gen.next();
    expect(r.value.checksum).toBe('verified');
  });

  it('refuses empty collections, which Redis cannot hold', () => {
    expect(() => writeRdb([{ db: 0, key: new Uint8Array([107]), expireAtMs: 0, value: { type: 'list', items: [] } }])).toThrow(
      /empty list/,
    );
  });
});

describe('DUMP payload round trip', () => {
  it('every sample value comes back unchanged', () => {
    for (const e of sampleEntries()) {
      expect(canonical(decodeDumpPayload(encodeDumpPayload(e.value)))).toEqual(canonical(e.value));
    }
  });

  it('is byte-identical to real Redis 7.0 DUMP output for deterministic encodings', () => {
    const fixture = (name: string): string =>
      readFileSync(fileURLToPath(new URL(`./fixtures/dump-${name}.bin`, import.meta.url))).toString('hex');
    const hex = (v: RdbValue): string => Buffer.from(encodeDumpPayload(v)).toString('hex');
    const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s));
    expect(hex({ type: 'string', bytes: b('123') })).toBe(fixture('string-int'));
    expect(hex({ type: 'string', bytes: b('plain text value') })).toBe(fixture('string-raw'));
    expect(hex({ type: 'list', items: [b('a'), b('b'), b('3')] })).toBe(fixture('list'));
    expect(
      hex({
        type: 'hash',
        fields: [
          [b('f'), b('v')],
          [b('n'), b('1')],
        ],
      }),
    ).toBe(fixture('hash-listpack'));
    expect(hex({ type: 'set', members: [b('3'), b('1'), b('2')] })).toBe(fixture('set-intset'));
    expect(
      hex({
        type: 'zset',
        entries: [
          [b('b'), 2.5],
          [b('a'), 1],
        ],
      }),
    ).toBe(fixture('zset-listpack'));
  });

  it("refuses a payload whose checksum or version is wrong with Redis's error text", () => {
    const p = encodeDumpPayload({ type: 'string', bytes: new Uint8Array([104, 105]) });
    const flipped = Uint8Array.from(p);
    flipped[2]! ^= 1;
    expect(() => decodeDumpPayload(flipped)).toThrow(E_DUMP_PAYLOAD);
    const future = Uint8Array.from(p);
    future[p.length - 10] = 11;
    expect(() => decodeDumpPayload(future)).toThrow(E_DUMP_PAYLOAD);
    expect(() => decodeDumpPayload(p.subarray(0, 5))).toThrow(E_DUMP_PAYLOAD);
  });
});
