/** Encodings of RDB files older than version 10 (Redis < 7.0), which Redis 7.0 still loads: ziplists, zipmaps, text scores. */
import { describe, expect, it } from 'vitest';
import { readRdb } from '../../src/persistence/rdb-reader.js';
import { decodeZiplist } from '../../src/persistence/ziplist.js';
import { RdbError } from '../../src/persistence/rdb-error.js';
import { RdbType } from '../../src/persistence/rdb-constants.js';
import { crc64LE } from '../../src/persistence/crc64.js';
import { canonical } from './sample-entries.js';

const ascii = (s: string): number[] => [...Buffer.from(s, 'latin1')];
/** An RDB string of up to 63 bytes. */
const str = (s: string | number[]): number[] => {
  const b = typeof s === 'string' ? ascii(s) : s;
  return [b.length, ...b];
};
const u32 = (v: number): number[] => [v & 255, (v >> 8) & 255, (v >> 16) & 255, v >>> 24];

/** Builds a ziplist the way Redis 6 did, with each entry type: short strings and the integer encodings. */
function ziplist(items: Array<string | number>): number[] {
  const body: number[] = [];
  let prev = 0;
  for (const it of items) {
    let entry: number[];
    if (typeof it === 'string') entry = [it.length, ...ascii(it)];
    else if (it >= 0 && it <= 12) entry = [0xf1 + it];
    else if (it >= -128 && it <= 127) entry = [0xfe, it & 255];
    else if (it >= -32768 && it <= 32767) entry = [0xc0, it & 255, (it >> 8) & 255];
    else if (it >= -8388608 && it <= 8388607) entry = [0xf0, it & 255, (it >> 8) & 255, (it >> 16) & 255];
    else entry = [0xd0, ...u32(it)];
    const full = [prev, ...entry];
    body.push(...full);
    prev = full.length;
  }
  const total = 10 + body.length + 1;
  return [...u32(total), ...u32(total - 1 - prev), items.length & 255, items.length >> 8, ...body, 0xff];
}

function zipmap(pairs: Array<[string, string]>): number[] {
  const out = [pairs.length];
  for (const [k, v] of pairs) out.push(k.length, ...ascii(k), v.length, 0, ...ascii(v));
  return [...out, 0xff];
}

function file(version: string, body: number[]): Uint8Array {
  const head = [...ascii(`REDIS${version}`), ...body, 0xff];
  return Uint8Array.from([...head, ...crc64LE(Uint8Array.from(head))]);
}

describe('legacy RDB encodings', () => {
  it('reads a version 9 file with ziplist, zipmap, plain list and text-score zset values', () => {
    const body = [
      0xfe,
      0,
      RdbType.LIST_ZIPLIST,
      ...str('zl'),
      ...str(ziplist(['a', 5, -100, 1000, 100000, 3000000000 | 0])),
      RdbType.HASH_ZIPLIST,
      ...str('hz'),
      ...str(ziplist(['f', 'v', 'n', 7])),
      RdbType.ZSET_ZIPLIST,
      ...str('zz'),
      ...str(ziplist(['m', '1.5', 'n', 2])),
      RdbType.HASH_ZIPMAP,
      ...str('zm'),
      ...str(
        zipmap([
          ['k', 'v'],
          ['a', 'bc'],
        ]),
      ),
      RdbType.LIST,
      ...str('plain'),
      2,
      ...str('x'),
      0xc0,
      42,
      RdbType.ZSET,
      ...str('tz'),
      2,
      ...str('a'),
      3,
      ...ascii('2.5'),
      ...str('b'),
      254,
      0xfd,
      ...u32(2000000000),
      RdbType.STRING,
      ...str('sec'),
      ...str('v'),
      RdbType.SET,
      ...str('s'),
      1,
      ...str('only'),
    ];
    const values = new Map<string, { value: unknown; expireAtMs: number }>();
    const gen = readRdb(file('0009', body));
    let r = gen.next();
    for (; !r.done; r = gen.next()) {
      if (r.value.kind === 'entry')
        values.set(Buffer.from(r.value.entry.key).toString(), {
          value: canonical(r.value.entry.value),
          expireAtMs: r.value.entry.expireAtMs,
        });
    }
    expect(r.value).toMatchObject({ version: 9, checksum: 'verified' });
    expect(values.get('zl')!.value).toEqual({ list: ['a', '5', '-100', '1000', '100000', String(3000000000 | 0)] });
    expect(values.get('hz')!.value).toEqual({
      hash: [
        ['f', 'v'],
        ['n', '7'],
      ],
    });
    expect(values.get('zz')!.value).toEqual({
      zset: [
        ['m', 1.5],
        ['n', 2],
      ],
    });
    expect(values.get('zm')!.value).toEqual({
      hash: [
        ['a', 'bc'],
        ['k', 'v'],
      ],
    });
    expect(values.get('plain')!.value).toEqual({ list: ['x', '42'] });
    expect(values.get('tz')!.value).toEqual({
      zset: [
        ['a', 2.5],
        ['b', Infinity],
      ],
    });
    expect(values.get('sec')!.expireAtMs).toBe(2000000000 * 1000);
    expect(values.get('s')!.value).toEqual({ set: ['only'] });
  });

  it('a file saved with rdbchecksum no (zero checksum) reads, reporting the checksum absent', () => {
    const head = [...ascii('REDIS0010'), RdbType.STRING, ...str('k'), ...str('v'), 0xff];
    const gen = readRdb(Uint8Array.from([...head, 0, 0, 0, 0, 0, 0, 0, 0]));
    let r = gen.next();
    while (!r.done) r = gen.next();
    expect(r.value.checksum).toBe('absent');
  });

  it('ziplists with bad headers or entries are CORRUPT', () => {
    const zl = Uint8Array.from(ziplist(['a', 'b']));
    const badCount = Uint8Array.from(zl);
    badCount[8] = 3;
    expect(() => decodeZiplist(badCount, 0)).toThrow(RdbError);
    expect(() => decodeZiplist(zl.subarray(0, zl.length - 1), 0)).toThrow(RdbError);
  });
});
