import { describe, expect, it } from 'vitest';
import { Arena } from '../../src/shards/arena.js';
import { ES, EN, lpCount, lpDecode, lpDelete, lpEnd, lpInsert, lpNew, lpStart } from '../../src/shards/listpack.js';
import { qlCount, qlDelAt, qlNew, qlPeekEnd, qlPush, qlSeek } from '../../src/shards/quicklist.js';
import { FT_HEADER, entHeader, ftCount, ftFind, ftHash, ftInit, ftInsert, ftRemoveFound, ftScan } from '../../src/shards/field-table.js';
import {
  nodeMember,
  nodeMemberLen,
  zslByRank,
  zslDelete,
  zslFind,
  zslInsert,
  zslLen,
  zslNew,
  zslRank,
  zslUpdateScore,
} from '../../src/shards/skiplist.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const bytes = (s: string): Uint8Array => enc.encode(s);

function entries(m: Arena, p: number): string[] {
  const out: string[] = [];
  for (let a = p + lpStart(m, p), end = p + lpEnd(m, p); a < end; ) {
    a = lpDecode(m.u8, a);
    out.push(dec.decode(m.u8.slice(ES, ES + EN)));
  }
  return out;
}

describe('listpack', () => {
  it('inserts and deletes at both ends and in the middle, with long entries', () => {
    const m = new Arena(1 << 20);
    let p = lpNew(m, 16);
    const model: string[] = [];
    for (let i = 0; i < 300; i++) {
      const v = i % 37 === 0 ? 'L'.repeat(20000 + i) : `v${i}`;
      const b = bytes(v);
      const where = i % 3;
      if (where === 0) {
        p = lpInsert(m, p, lpStart(m, p), b, 0, b.length);
        model.unshift(v);
      } else if (where === 1) {
        p = lpInsert(m, p, lpEnd(m, p), b, 0, b.length);
        model.push(v);
      } else {
        let a = p + lpStart(m, p);
        for (let k = 0; k < model.length >> 1; k++) a = lpDecode(m.u8, a);
        p = lpInsert(m, p, a - p, b, 0, b.length);
        model.splice(model.length >> 1, 0, v);
      }
      if (i % 5 === 4) {
        lpDelete(m, p, lpStart(m, p), 1);
        model.shift();
      }
    }
    expect(lpCount(m, p)).toBe(model.length);
    expect(entries(m, p)).toEqual(model);
  });
});

describe('quicklist', () => {
  it('indexes from either end across many nodes and pops in order', () => {
    const m = new Arena(1 << 22);
    const q = qlNew(m);
    for (let i = 0; i < 50000; i++) {
      const b = bytes(`e${i}`);
      qlPush(m, q, false, b, 0, b.length);
    }
    expect(qlCount(m, q)).toBe(50000);
    for (const i of [0, 1, 777, 25000, 49998, 49999]) {
      expect(qlSeek(m, q, i)).toBe(true);
      expect(dec.decode(m.u8.slice(ES, ES + EN))).toBe(`e${i}`);
    }
    expect(qlSeek(m, q, 50000)).toBe(false);
    for (let i = 0; i < 20000; i++) {
      qlPeekEnd(m, q, true);
      expect(dec.decode(m.u8.slice(ES, ES + EN))).toBe(`e${i}`);
      qlDelAt(m, q);
    }
    qlPeekEnd(m, q, false);
    expect(dec.decode(m.u8.slice(ES, ES + EN))).toBe('e49999');
  });
});

describe('field table', () => {
  it('finds every key after inserts, deletes (backward shift) and resizes, and scans each once', () => {
    const m = new Arena(1 << 22);
    const h = m.alloc(FT_HEADER);
    ftInit(m, h, 0);
    const add = (k: string): void => {
      const b = bytes(k);
      const e = m.alloc(12 + b.length);
      entHeader(m, e, 12, ftHash(b, 0, b.length), b.length);
      m.u8.set(b, e + 12);
      ftInsert(m, h, e);
    };
    for (let i = 0; i < 20000; i++) add(`k${i}`);
    for (let i = 0; i < 20000; i += 2) {
      const b = bytes(`k${i}`);
      expect(ftFind(m, h, b, 0, b.length, ftHash(b, 0, b.length))).not.toBe(0);
      ftRemoveFound(m, h);
    }
    expect(ftCount(m, h)).toBe(10000);
    for (let i = 0; i < 20000; i++) {
      const b = bytes(`k${i}`);
      expect(ftFind(m, h, b, 0, b.length, ftHash(b, 0, b.length)) !== 0).toBe(i % 2 === 1);
    }
    const seen: number[] = [];
    let cursor = 0;
    let rounds = 0;
    do cursor = ftScan(m, h, cursor, 100, seen);
    while (cursor !== 0 && ++rounds < 100000);
    expect(new Set(seen).size).toBe(10000);
  });

  it('scans every key present throughout while inserts and deletes rehash the table', () => {
    const m = new Arena(1 << 22);
    const h = m.alloc(FT_HEADER);
    ftInit(m, h, 0);
    const keyOf = (e: number): string => dec.decode(m.u8.slice(e + 12, e + 12 + m.u32[(e + 8) >>> 2]!));
    const add = (k: string): void => {
      const b = bytes(k);
      const e = m.alloc(12 + b.length);
      entHeader(m, e, 12, ftHash(b, 0, b.length), b.length);
      m.u8.set(b, e + 12);
      ftInsert(m, h, e);
    };
    const del = (k: string): void => {
      const b = bytes(k);
      expect(ftFind(m, h, b, 0, b.length, ftHash(b, 0, b.length))).not.toBe(0);
      ftRemoveFound(m, h);
    };
    for (let i = 0; i < 3000; i++) add(`keep${i}`);
    const seen = new Set<string>();
    const batch: number[] = [];
    let cursor = 0;
    let round = 0;
    do {
      batch.length = 0;
      cursor = ftScan(m, h, cursor, 50, batch);
      for (const e of batch) seen.add(keyOf(e));
      // Grow through several rehashes, then shrink back, between scan calls.
      if (round < 60) for (let i = 0; i < 500; i++) add(`tmp${round}_${i}`);
      else if (round < 120) for (let i = 0; i < 500; i++) del(`tmp${round - 60}_${i}`);
      for (let i = 0; i < 3000; i += 97) {
        const b = bytes(`keep${i}`);
        expect(ftFind(m, h, b, 0, b.length, ftHash(b, 0, b.length))).not.toBe(0);
      }
      round++;
    } while (cursor !== 0 && round < 100000);
    for (let i = 0; i < 3000; i++) expect(seen.has(`keep${i}`)).toBe(true);
  });
});

describe('skiplist', () => {
  it('keeps ranks, rank lookups and order consistent through updates and deletes', () => {
    const m = new Arena(1 << 22);
    const z = zslNew(m, 0);
    const scores = new Map<string, number>();
    for (let i = 0; i < 5000; i++) {
      const k = `m${i}`;
      const s = (i * 7919) % 1000;
      const b = bytes(k);
      zslInsert(m, z, s, b, 0, b.length, ftHash(b, 0, b.length));
      scores.set(k, s);
    }
    for (let i = 0; i < 5000; i += 3) {
      const b = bytes(`m${i}`);
      const e = zslFind(m, z, b, 0, b.length);
      zslUpdateScore(m, z, e, -i);
      scores.set(`m${i}`, -i);
    }
    for (let i = 1; i < 5000; i += 7) {
      const b = bytes(`m${i}`);
      zslDelete(m, z, zslFind(m, z, b, 0, b.length));
      scores.delete(`m${i}`);
    }
    const sorted = [...scores.entries()].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1)).map(([k]) => k);
    expect(zslLen(m, z)).toBe(sorted.length);
    for (const r of [0, 1, 100, 2000, sorted.length - 1]) {
      const e = zslByRank(m, z, r + 1);
      expect(dec.decode(m.u8.slice(nodeMember(m, e), nodeMember(m, e) + nodeMemberLen(m, e)))).toBe(sorted[r]);
      expect(zslRank(m, z, e)).toBe(r + 1);
    }
  });
});
