/** Entries covering every value type and every encoding choice the RDB writer makes, plus helpers to compare them. */
import type { RdbEntry, RdbValue } from '../../src/persistence/rdb-types.js';
import { RdbWriter } from '../../src/persistence/rdb-writer.js';

const b = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'latin1'));
const range = <T>(n: number, f: (i: number) => T): T[] => Array.from({ length: n }, (_, i) => f(i));

/** Expiry far in the future so a real Redis loading the file keeps the keys. */
export const FAR = 4102444800000;

/** The sample data set; keys are unique per database. */
export function sampleEntries(): RdbEntry[] {
  const e = (db: number, key: string, value: RdbValue, expireAtMs = 0): RdbEntry => ({ db, key: b(key), expireAtMs, value });
  const str = (s: string): RdbValue => ({ type: 'string', bytes: b(s) });
  return [
    e(0, 'str:int8', str('-7')),
    e(0, 'str:int16', str('30000')),
    e(0, 'str:int32', str('-2000000000')),
    e(0, 'str:int64', str('9223372036854775807')),
    e(0, 'str:leading-zero', str('007')),
    e(0, 'str:raw', str('hello')),
    e(0, 'str:empty', str('')),
    e(0, 'str:binary', { type: 'string', bytes: Uint8Array.from([0, 255, 13, 10, 128]) }),
    e(0, 'str:compressible', str('abcd'.repeat(500))),
    e(0, 'str:incompressible', { type: 'string', bytes: Uint8Array.from(range(300, (i) => (i * 7919) % 251)) }),
    e(0, 'str:ttl', str('expiring'), FAR),
    e(0, 'list:small', {
      type: 'list',
      items: [
        'a',
        '1',
        '-1',
        '127',
        '128',
        '-4096',
        '4095',
        '40000',
        '-8388608',
        '2147483647',
        '-9223372036854775808',
        '18446744073709551616',
        '',
      ].map(b),
    }),
    e(0, 'list:nodes', { type: 'list', items: range(500, (i) => b(`element-${i}-${'q'.repeat(i % 90)}`)) }),
    e(0, 'list:huge-element', { type: 'list', items: [b('x'), b('y'.repeat(10000)), b('z')] }, FAR),
    e(0, 'hash:small', {
      type: 'hash',
      fields: [
        [b('f'), b('v')],
        [b('n'), b('42')],
        [b('e'), b('')],
      ],
    }),
    e(0, 'hash:many', { type: 'hash', fields: range(600, (i) => [b(`field${i}`), b(`value${i}`)] as [Uint8Array, Uint8Array]) }),
    e(0, 'hash:long-value', { type: 'hash', fields: [[b('f'), b('v'.repeat(65))]] }, FAR),
    e(0, 'set:ints', { type: 'set', members: ['3', '-1', '70000', '5000000000', '0'].map(b) }),
    e(0, 'set:strings', { type: 'set', members: ['apple', 'banana', '12'].map(b) }),
    e(0, 'set:many-ints', { type: 'set', members: range(600, (i) => b(String(i * 3))) }),
    e(0, 'set:not-int64', { type: 'set', members: ['99999999999999999999', '1'].map(b) }),
    e(0, 'zset:small', {
      type: 'zset',
      entries: [
        [b('b'), 2],
        [b('a'), 2],
        [b('c'), -1.5],
        [b('inf'), Infinity],
        [b('ninf'), -Infinity],
        [b('tiny'), 1e-300],
        [b('third'), 1 / 3],
      ],
    }),
    e(0, 'zset:many', { type: 'zset', entries: range(200, (i) => [b(`m${i}`), i * 0.5] as [Uint8Array, number]) }, FAR),
    e(0, 'zset:long-member', { type: 'zset', entries: [[b('m'.repeat(65)), 1]] }),
    e(1, 'db1:key', str('in db 1')),
    e(9, 'db9:list', { type: 'list', items: [b('only')] }, FAR),
  ];
}

const text = (x: Uint8Array): string => Buffer.from(x).toString('latin1');

/** A comparable form of a value: order kept for lists, sorted for sets, hashes and sorted sets. */
export function canonical(v: RdbValue): unknown {
  switch (v.type) {
    case 'string':
      return { string: text(v.bytes) };
    case 'list':
      return { list: v.items.map(text) };
    case 'set':
      return { set: v.members.map(text).sort() };
    case 'hash':
      return { hash: v.fields.map(([f, x]) => [text(f), text(x)]).sort() };
    case 'zset':
      return { zset: v.entries.map(([m, s]) => [text(m), s]).sort() };
  }
}

/** A comparable form of a whole entry. */
export function canonicalEntry(e: RdbEntry): unknown {
  return { db: e.db, key: text(e.key), expireAtMs: e.expireAtMs, value: canonical(e.value) };
}

/** Serializes entries with RdbWriter into one buffer. */
export function writeRdb(entries: Iterable<RdbEntry>, compress = true): Uint8Array {
  const chunks: Uint8Array[] = [];
  const w = new RdbWriter((c) => chunks.push(c), { compress, ctime: 1700000000, usedMem: 1000 });
  w.begin();
  for (const e of entries) w.entry(e);
  w.end();
  return Buffer.concat(chunks);
}
