/** RDB files and DUMP payloads written by real Redis 7.0 (test/persistence/fixtures) decode to the data that made them. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { readRdb, readRdbFile, type RdbRecord } from '../../src/persistence/rdb-reader.js';
import { readAofFile, aofReplayOrder } from '../../src/persistence/aof.js';
import { decodeDumpPayload } from '../../src/persistence/dump-payload.js';
import type { RdbEntry, RdbValue } from '../../src/persistence/rdb-types.js';

const dir = fileURLToPath(new URL('./fixtures/', import.meta.url));
const text = (b: Uint8Array): string => Buffer.from(b).toString('latin1');

function load(name: string): { entries: Map<string, RdbEntry>; aux: Map<string, string>; checksum: string } {
  const gen = readRdbFile(dir + name);
  const entries = new Map<string, RdbEntry>();
  const aux = new Map<string, string>();
  let r: IteratorResult<RdbRecord, { checksum: string }>;
  while (!(r = gen.next()).done) {
    const rec = r.value;
    if (rec.kind === 'entry') entries.set(`${rec.entry.db}:${text(rec.entry.key)}`, rec.entry);
    if (rec.kind === 'aux') aux.set(rec.key, text(rec.value));
  }
  return { entries, aux, checksum: r.value.checksum };
}

function plain(v: RdbValue): unknown {
  switch (v.type) {
    case 'string':
      return text(v.bytes);
    case 'list':
      return v.items.map(text);
    case 'set':
      return v.members.map(text).sort();
    case 'hash':
      return Object.fromEntries(v.fields.map(([f, x]) => [text(f), text(x)]));
    case 'zset':
      return Object.fromEntries(v.entries.map(([m, s]) => [text(m), s]));
  }
}

const value = (f: ReturnType<typeof load>, key: string): unknown => plain(f.entries.get(key)!.value);

describe('real Redis 7.0 RDB fixtures', () => {
  it('strings: int-encoded, raw, empty, binary, LZF-compressed, with expiry; aux fields and checksum', () => {
    const f = load('strings.rdb');
    expect(f.checksum).toBe('verified');
    expect(f.aux.get('redis-ver')).toMatch(/^7\.0\./);
    expect(f.aux.get('redis-bits')).toBe('64');
    expect(value(f, '0:int8')).toBe('12');
    expect(value(f, '0:int16')).toBe('-1234');
    expect(value(f, '0:int32')).toBe('123456789');
    expect(value(f, '0:int64')).toBe('9007199254740993');
    expect(value(f, '0:raw')).toBe('hello world');
    expect(value(f, '0:empty')).toBe('');
    expect(value(f, '0:binary')).toBe('bin\x00\xff\x01');
    expect(value(f, '0:compressed')).toBe('abcabcabc'.repeat(40));
    expect(f.entries.get('0:withttl')!.expireAtMs).toBe(4102444800000);
    expect(f.entries.get('0:raw')!.expireAtMs).toBe(0);
    expect(f.entries.size).toBe(9);
  });

  it('lists: single listpack node, several nodes, LZF-compressed inner nodes', () => {
    const f = load('lists.rdb');
    expect(value(f, '0:small')).toEqual(['a', 'b', '1', '-2', '300', '70000', '4294967296', '-9223372036854775808']);
    const x = 'x'.repeat(100);
    expect(value(f, '0:big')).toEqual(Array.from({ length: 100 }, (_, i) => `item-${i}-${x}`));
    const y = 'y'.repeat(100);
    expect(value(f, '0:deep')).toEqual(Array.from({ length: 250 }, (_, i) => `deep-${i}-${y}`));
  });

  it('hashes: listpack and hashtable, with expiry', () => {
    const f = load('hashes.rdb');
    expect(value(f, '0:hsmall')).toEqual({ f1: 'v1', f2: '2', f3: '' });
    const big = value(f, '0:hbig') as Record<string, string>;
    expect(Object.keys(big)).toHaveLength(200);
    expect(big['field:123']).toBe('value:123');
    expect(f.entries.get('0:hbig')!.expireAtMs).toBe(4102444800000);
  });

  it('sets: intset and hashtable', () => {
    const f = load('sets.rdb');
    expect(value(f, '0:sint')).toEqual(['-5', '1', '100000', '2', '3', '5000000000']);
    expect(value(f, '0:sstr')).toEqual(['a', 'b', 'c']);
  });

  it('sorted sets: listpack and skiplist, infinite scores', () => {
    const f = load('zsets.rdb');
    expect(value(f, '0:zsmall')).toEqual({ a: 1, b: 2.5, c: -3, d: Infinity, e: -Infinity });
    const big = value(f, '0:zbig') as Record<string, number>;
    expect(Object.keys(big)).toHaveLength(200);
    expect(big.m17).toBe(17.25);
  });

  it('several databases', () => {
    const f = load('multidb.rdb');
    expect(value(f, '0:k0')).toBe('v0');
    expect(value(f, '3:k3')).toBe('v3');
    expect(f.entries.get('3:k3')!.expireAtMs).toBe(4102444800000);
    expect(value(f, '15:l15')).toEqual(['x', 'y']);
  });

  it('reads the same records from bytes as from a file descriptor', () => {
    const fromBytes = [...readRdb(readFileSync(`${dir}lists.rdb`))];
    const fromFile = [...readRdbFile(`${dir}lists.rdb`)];
    expect(fromBytes).toEqual(fromFile);
  });
});

describe('real Redis 7.0 DUMP payloads', () => {
  const dump = (name: string): unknown => plain(decodeDumpPayload(readFileSync(`${dir}dump-${name}.bin`)));
  it('decodes every encoding', () => {
    expect(dump('string-int')).toBe('123');
    expect(dump('string-raw')).toBe('plain text value');
    expect(dump('string-lzf')).toBe('z'.repeat(200));
    expect(dump('list')).toEqual(['a', 'b', '3']);
    expect(dump('hash-listpack')).toEqual({ f: 'v', n: '1' });
    expect(Object.keys(dump('hash-table') as object)).toHaveLength(200);
    expect(dump('set-intset')).toEqual(['1', '2', '3']);
    expect(dump('set-table')).toEqual(['x', 'y', 'z']);
    expect(dump('zset-listpack')).toEqual({ a: 1, b: 2.5 });
    expect((dump('zset-skiplist') as Record<string, number>).m7).toBe(7.5);
  });
});

describe('real Redis 7.0 AOF', () => {
  it("Sabre replays real Redis 7.0's multi-part AOF (RDB-preamble base file + incremental commands)", () => {
    const dir = fileURLToPath(new URL('./fixtures/appendonlydir/', import.meta.url));
    const files = aofReplayOrder(dir, 'appendonly.aof.manifest');
    const records = files.flatMap((f) => [...readAofFile(f)]);
    const rebuilt = new Map<string, string>();
    for (const r of records) {
      if (r.kind === 'entry' && r.entry.value.type === 'string')
        rebuilt.set(Buffer.from(r.entry.key).toString(), Buffer.from(r.entry.value.bytes).toString());
      if (r.kind === 'command' && Buffer.from(r.argv[0]!).toString().toUpperCase() === 'SET')
        rebuilt.set(Buffer.from(r.argv[1]!).toString(), Buffer.from(r.argv[2]!).toString());
    }
    expect(files).toHaveLength(2);
    expect(records.some((r) => r.kind === 'entry')).toBe(true);
    expect(Object.fromEntries(rebuilt)).toEqual({ before: 'rewrite', after: 'rewrite' });
  });
});
