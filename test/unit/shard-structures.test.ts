import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Arena, FREED_MARK, classSize, sizeClass } from '../../src/shards/arena.js';
import { KeyTable, hashBytes } from '../../src/shards/key-table.js';
import { HEADER, recKeyLen, recKeyOff } from '../../src/shards/record.js';
import { TimerWheel } from '../../src/shards/timer-wheel.js';

/** A minimal string record for `key` (no TTL), as the shard lays it out. */
function makeRecord(arena: Arena, key: Buffer): number {
  const a = arena.alloc(HEADER + key.length);
  arena.u8[a] = 0;
  arena.u8[a + 1] = 0;
  arena.u32[(a + 8) >>> 2] = key.length;
  arena.u32[(a + 12) >>> 2] = 0;
  arena.u8.set(key, a + HEADER);
  return a;
}

function keyOf(arena: Arena, a: number): string {
  const off = recKeyOff(arena, a);
  return Buffer.from(arena.u8.subarray(off, off + recKeyLen(arena, a))).toString('latin1');
}

class Harness {
  arena = new Arena(1 << 20);
  table = new KeyTable(this.arena);
  find(k: string): number {
    const b = Buffer.from(k, 'latin1');
    return this.table.find(b, 0, b.length, hashBytes(b, 0, b.length));
  }
  add(k: string): boolean {
    if (this.find(k) !== 0) return false;
    const b = Buffer.from(k, 'latin1');
    this.table.insert(hashBytes(b, 0, b.length), makeRecord(this.arena, b));
    return true;
  }
  del(k: string): boolean {
    if (this.find(k) === 0) return false;
    this.table.removeFound();
    return true;
  }
  scanStep(cursor: number, count: number, seen: string[]): number {
    return this.table.scan(cursor, count, (a) => seen.push(keyOf(this.arena, a)));
  }
}

describe('KeyTable', () => {
  it('inserts, finds and removes many keys through several incremental rehashes', () => {
    const h = new Harness();
    const N = 50_000;
    let added = 0;
    for (let i = 0; i < N; i++) if (h.add(`key:${i}`)) added++;
    expect(added).toBe(N);
    expect(h.table.size).toBe(N);
    expect(h.add('key:123')).toBe(false);
    for (let i = 0; i < N; i += 7) expect(keyOf(h.arena, h.find(`key:${i}`))).toBe(`key:${i}`);
    expect(h.find('key:-1')).toBe(0);
    let deleted = 0;
    for (let i = 0; i < N; i += 2) if (h.del(`key:${i}`)) deleted++;
    expect(deleted).toBe(N / 2);
    expect(h.del('key:0')).toBe(false);
    expect(h.table.size).toBe(N / 2);
    const wrong: number[] = [];
    for (let i = 0; i < N; i++) if ((h.find(`key:${i}`) !== 0) !== (i % 2 === 1)) wrong.push(i);
    expect(wrong).toEqual([]);
    // reinsert into a table full of tombstones
    added = 0;
    for (let i = 0; i < N; i += 2) if (h.add(`key:${i}`)) added++;
    expect(added).toBe(N / 2);
    expect(h.table.size).toBe(N);
    let n = 0;
    h.table.forEach(() => {
      n++;
    });
    expect(n).toBe(N);
  });

  it('finds keys mid-rehash and finishes the rehash with rehashStep', () => {
    const h = new Harness();
    let i = 0;
    while (!h.table.rehashing && i < 10_000) h.add(`k${i++}`);
    expect(h.table.rehashing).toBe(true);
    for (let j = 0; j < i; j++) expect(h.find(`k${j}`)).not.toBe(0);
    for (let guard = 0; guard < 100_000 && h.table.rehashStep(16); guard++);
    expect(h.table.rehashing).toBe(false);
    for (let j = 0; j < i; j++) expect(h.find(`k${j}`)).not.toBe(0);
    expect(h.table.size).toBe(i);
  });

  it('binary keys and keys sharing prefixes stay distinct', () => {
    const h = new Harness();
    const keys = ['', '\x00', '\x00\x00', 'a', 'a\x00', 'ab', '\xff'.repeat(300)];
    for (const k of keys) expect(h.add(k)).toBe(true);
    for (const k of keys) expect(keyOf(h.arena, h.find(k))).toBe(k);
  });

  it('a full SCAN returns every key exactly once when the table does not change', () => {
    const h = new Harness();
    for (let i = 0; i < 5000; i++) h.add(`s${i}`);
    const seen: string[] = [];
    let cursor = 0;
    let calls = 0;
    do {
      cursor = h.scanStep(cursor, 10, seen);
      calls++;
    } while (cursor !== 0 && calls < 100_000);
    expect(cursor).toBe(0);
    expect(seen.length).toBe(5000);
    expect(new Set(seen).size).toBe(5000);
  });

  it('SCAN while the table grows and shrinks still returns every key present throughout', () => {
    for (const seed of [1, 2, 3]) {
      const h = new Harness();
      const stable = Array.from({ length: 3000 }, (_, i) => `stable:${seed}:${i}`);
      for (const k of stable) h.add(k);
      const seen = new Set<string>();
      const arr: string[] = [];
      let cursor = 0;
      let calls = 0;
      let extra = 0;
      do {
        arr.length = 0;
        cursor = h.scanStep(cursor, 5 + (calls % 20), arr);
        for (const k of arr) seen.add(k);
        calls++;
        // grow by a burst of new keys, then delete them again (tombstones, rebuilds)
        if (calls % 40 < 20) for (let j = 0; j < 300; j++) h.add(`tmp:${extra++}`);
        else for (let j = extra - 6000; j < extra; j++) if (j >= 0) h.del(`tmp:${j}`);
        h.table.rehashStep(8);
      } while (cursor !== 0 && calls < 200_000);
      expect(cursor).toBe(0);
      const missing = stable.filter((k) => !seen.has(k));
      expect(missing).toEqual([]);
    }
  });

  it('random() returns live keys and 0 when empty', () => {
    const h = new Harness();
    expect(h.table.random()).toBe(0);
    for (let i = 0; i < 100; i++) h.add(`r${i}`);
    for (let i = 0; i < 50; i++) h.del(`r${i}`);
    for (let i = 0; i < 200; i++) {
      const k = keyOf(h.arena, h.table.random());
      expect(Number(k.slice(1))).toBeGreaterThanOrEqual(50);
    }
    h.table.clear();
    expect(h.table.size).toBe(0);
    expect(h.find('r60')).toBe(0);
  });
});

describe('TimerWheel', () => {
  const T0 = 1_763_900_000_123; // an ordinary epoch time, not aligned to any slot
  const H = 3600_000;

  it('fires entries at 0 ms, 300 ms, 70 s and 5 h exactly when due, never before', () => {
    const w = new TimerWheel(T0);
    const delays = [0, 300, 70_000, 5 * H];
    for (const [i, d] of delays.entries()) w.add(i % 2, 1000 + i * 8, T0 + d);
    expect(w.count).toBe(4);
    const fired: [number, number, number][] = [];
    const fire = (db: number, addr: number, when: number): boolean => {
      fired.push([db, addr, when]);
      return true;
    };
    for (const [i, d] of delays.entries()) {
      if (d > 0) {
        w.advance(T0 + d - 1, fire);
        expect(fired.length).toBe(i);
      }
      w.advance(T0 + d, fire);
      expect(fired.length).toBe(i + 1);
      expect(fired[i]).toEqual([i % 2, 1000 + i * 8, T0 + d]);
    }
    expect(w.count).toBe(0);
  });

  it('fires entries added in the past on the next advance, and entries at odd times', () => {
    const w = new TimerWheel(T0);
    const fired: number[] = [];
    const fire = (_db: number, addr: number): boolean => {
      fired.push(addr);
      return true;
    };
    w.advance(T0 + 1000, fire);
    w.add(0, 8, T0 + 10); // already past
    w.add(0, 16, T0 + 1000 + 255);
    w.add(0, 24, T0 + 1000 + 256);
    w.add(0, 32, T0 + 1000 + 65_537);
    w.advance(T0 + 1001, fire);
    expect(fired).toEqual([8]);
    w.advance(T0 + 1254, fire);
    expect(fired).toEqual([8]);
    w.advance(T0 + 1256, fire);
    expect(fired).toEqual([8, 16, 24]);
    w.advance(T0 + 1000 + 65_536, fire);
    expect(fired).toEqual([8, 16, 24]);
    w.advance(T0 + 1000 + 65_537, fire);
    expect(fired).toEqual([8, 16, 24, 32]);
  });

  it('stops when fire() returns false and resumes from there', () => {
    const w = new TimerWheel(T0);
    for (let i = 0; i < 100; i++) w.add(0, 8 * (i + 1), T0 + 10 + (i % 3));
    const fired = new Set<number>();
    let budget = 0;
    const fire = (_db: number, addr: number): boolean => {
      expect(fired.has(addr)).toBe(false);
      fired.add(addr);
      return --budget > 0;
    };
    let rounds = 0;
    while (fired.size < 100 && rounds < 50) {
      budget = 30;
      const n = w.advance(T0 + 20, fire);
      expect(n).toBeLessThanOrEqual(30);
      rounds++;
    }
    expect(fired.size).toBe(100);
    expect(rounds).toBe(4);
    expect(w.count).toBe(0);
  });

  it('an entry 60 days ahead (beyond the 49-day wheel) fires at its time, not before', () => {
    // In a child process: advance() must handle a 60-day span; if it steps through every
    // millisecond (5e9 iterations) it cannot finish, and the child is stopped after 10 s.
    const mod = fileURLToPath(new URL('../../dist/shards/timer-wheel.js', import.meta.url));
    const script = `
      import { TimerWheel } from ${JSON.stringify(mod)};
      const T0 = ${T0}, D = 86400000, due = T0 + 60 * D;
      const w = new TimerWheel(T0);
      const fired = [];
      w.add(3, 64, due);
      w.add(0, 72, T0 + 50 * D);
      const f = (db, addr, when) => (fired.push([db, addr, when]), true);
      const log = [];
      for (const t of [T0 + 10 * D, T0 + 50 * D - 1, T0 + 50 * D, due - 1, due]) { w.advance(t, f); log.push(fired.length); }
      console.log(JSON.stringify({ log, fired }));`;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000, encoding: 'utf8' });
    expect(r.signal, 'advance() over 60 days did not finish').toBeNull();
    expect(JSON.parse(r.stdout)).toEqual({
      log: [0, 0, 1, 1, 2],
      fired: [
        [0, 72, T0 + 50 * 86400000],
        [3, 64, T0 + 60 * 86400000],
      ],
    });
  }, 20_000);
});

describe('Arena', () => {
  it('size classes cover every size with bounded waste', () => {
    let prev = -1;
    const bad: string[] = [];
    for (let s = 1; s <= 70_000; s++) {
      const c = sizeClass(s);
      const size = classSize(c);
      if (c < prev || size < s || size % 8 !== 0 || (s > 8 && size > Math.ceil(s * 1.25) + 8)) bad.push(`${s}->${c}/${size}`);
      prev = c;
    }
    expect(bad).toEqual([]);
    expect(classSize(sizeClass(1024))).toBe(1024);
    expect(classSize(sizeClass(1025))).toBe(1280);
    expect(classSize(sizeClass(2048))).toBe(2048);
  });

  it('reuses freed blocks of the same class and marks them freed', () => {
    const a = new Arena(1 << 16);
    const x = a.alloc(100);
    const y = a.alloc(100);
    expect(x % 8).toBe(0);
    expect(y - x).toBeGreaterThanOrEqual(100);
    const used = a.used;
    a.free(x, 100);
    expect(a.u8[x]).toBe(FREED_MARK);
    expect(a.used).toBe(used - a.blockSize(100));
    expect(a.alloc(97)).toBe(x); // same class (104)
    const z = a.alloc(200); // other class: fresh block
    expect(z).not.toBe(x);
    expect(a.sameClass(97, 104)).toBe(true);
    expect(a.sameClass(104, 105)).toBe(false);
  });

  it('grows past its initial size and keeps every byte written before', () => {
    const a = new Arena(1 << 16);
    const blocks: [number, number][] = [];
    for (let i = 0; i < 2000; i++) {
      const size = 16 + ((i * 37) % 3000);
      const p = a.alloc(size);
      a.u8.fill(i & 0xff, p, p + size);
      a.u32[p >>> 2] = i;
      blocks.push([p, size]);
    }
    expect(a.capacity).toBeGreaterThan(1 << 16);
    for (const [i, [p, size]] of blocks.entries()) {
      expect(a.u32[p >>> 2]).toBe(i);
      expect(a.u8[p + size - 1]).toBe(i & 0xff);
      expect(a.u8[p + 4]).toBe(i & 0xff);
    }
    // no two live blocks overlap
    const sorted = [...blocks].sort((l, r) => l[0] - r[0]);
    for (let i = 1; i < sorted.length; i++) expect(sorted[i]![0]).toBeGreaterThanOrEqual(sorted[i - 1]![0] + sorted[i - 1]![1]);
  });

  it('throws RangeError when the maximum size is reached', () => {
    const a = new Arena(1 << 16, 1 << 20);
    expect(() => {
      for (let i = 0; i < 100; i++) a.alloc(64 * 1024);
    }).toThrow(RangeError);
  });
});
