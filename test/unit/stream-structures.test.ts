import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Arena } from '../../src/shards/arena.js';
import { ID, idSet, idSetNum, idString, parseId } from '../../src/shards/stream-id.js';
import { tCount, tDelete, tFind, tFirst, tInsert, tNew, tNext, tRec, tSeekGE } from '../../src/shards/id-table.js';
import { StreamIter, sLength, streamAppend, streamDelete, streamNew, streamTrim } from '../../src/shards/stream.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const MAX = 0xffffffff;

/** Appends an entry with id ms-seq and the given fields to stream s. */
function add(m: Arena, s: number, ms: number, seq: number, kv: string[], maxBytes: number, maxEntries: number): void {
  const parts = kv.map((x) => enc.encode(x));
  const buf = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  const as = new Int32Array(parts.length);
  const al = new Int32Array(parts.length);
  let o = 0;
  parts.forEach((p, i) => {
    buf.set(p, o);
    as[i] = o;
    al[i] = p.length;
    o += p.length;
  });
  idSetNum(0, ms, seq);
  streamAppend(m, s, 0, buf, as, al, 0, parts.length / 2, maxBytes, maxEntries);
}

/** Every live entry as [id, fields], forwards or backwards. */
function read(m: Arena, s: number, rev = false): Array<[string, string[]]> {
  const it = new StreamIter(8);
  idSet(1, 0, 0, 0, 0);
  idSet(2, MAX, MAX, MAX, MAX);
  it.start(m, s, 1, 2, rev);
  const out: Array<[string, string[]]> = [];
  while (it.next()) {
    const fields: string[] = [];
    it.eachField((fs, fn, vs, vn) => fields.push(dec.decode(m.u8.slice(fs, fs + fn)), dec.decode(m.u8.slice(vs, vs + vn))));
    out.push([idString(8), fields]);
  }
  return out;
}

describe('stream ids', () => {
  it('parses and formats the full u64 range, and refuses overflow and junk', () => {
    const b = enc.encode('18446744073709551615-18446744073709551615');
    expect(parseId(b, 0, b.length, 0, false, true, false)).toBe(true);
    expect(idString(0)).toBe('18446744073709551615-18446744073709551615');
    const over = enc.encode('18446744073709551616-0');
    expect(parseId(over, 0, over.length, 0, false, true, false)).toBe(false);
    const junk = enc.encode('12-x');
    expect(parseId(junk, 0, junk.length, 0, false, true, false)).toBe(false);
    const partial = enc.encode('1234567890123');
    expect(parseId(partial, 0, partial.length, 0, true, true, false)).toBe(true);
    expect(idString(0)).toBe('1234567890123-18446744073709551615');
    expect(Array.from(ID.subarray(0, 2))).toEqual([Math.floor(1234567890123 / 2 ** 32), 1234567890123 % 2 ** 32]);
  });

  it('formats ids at every digit-count boundary, and after a repeated ms part', () => {
    const vals = [0n, 9n, 10n, 99_999_999n, 100_000_000n, 1_733_200_000_000n, 9_999_999_999_999_999n, 10_000_000_000_000_000n];
    vals.push(2n ** 53n - 1n, 2n ** 53n, 2n ** 64n - 1n);
    for (const ms of vals) {
      for (const seq of vals) {
        const text = `${ms}-${seq}`;
        const b = enc.encode(text);
        expect(parseId(b, 0, b.length, 0, false, true, false)).toBe(true);
        expect(idString(0)).toBe(text);
        // The same ms part again (formatted from the cache) with another seq.
        idSetNum(0, 1_733_200_000_000, 7);
        expect(idString(0)).toBe('1733200000000-7');
      }
    }
  });
});

describe('id table', () => {
  it('keeps records ordered through random inserts and deletes (against a sorted model)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), fc.integer({ min: 0, max: 5000 })), { maxLength: 600 }), (ops) => {
        const m = new Arena(1 << 22);
        const t = tNew(m, 16);
        const model = new Set<number>();
        for (const [ins, k] of ops) {
          idSetNum(3, k, k % 7);
          if (ins && !model.has(k)) {
            tInsert(m, t, 3);
            model.add(k);
          } else if (!ins) {
            expect(tDelete(m, t, 3)).toBe(model.delete(k));
          }
        }
        const got: number[] = [];
        for (let p = tFirst(m, t); p >= 0; p = tNext(m, t, p)) got.push(m.u32[(tRec(m, t, p) >>> 2) + 1]!);
        expect(got).toEqual([...model].sort((a, b) => a - b));
        expect(tCount(m, t)).toBe(model.size);
        for (const k of model) {
          idSetNum(3, k, k % 7);
          expect(tFind(m, t, 3)).not.toBe(0);
        }
        idSetNum(3, 2500, 0);
        const ge = [...model].sort((a, b) => a - b).find((k) => k >= 2500);
        const p = tSeekGE(m, t, 3);
        expect(p < 0 ? undefined : m.u32[(tRec(m, t, p) >>> 2) + 1]).toBe(ge);
      }),
      { numRuns: 60 },
    );
  });
});

describe('stream nodes', () => {
  it('match a simple model through random XADD, XDEL and XTRIM sequences', () => {
    const op = fc.oneof(
      fc.record({
        k: fc.constant('add' as const),
        fields: fc.integer({ min: 1, max: 3 }),
        same: fc.boolean(),
        len: fc.integer({ min: 0, max: 300 }),
      }),
      fc.record({ k: fc.constant('del' as const), at: fc.nat() }),
      fc.record({ k: fc.constant('trim' as const), keep: fc.nat({ max: 50 }), approx: fc.boolean() }),
    );
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 300 }),
        fc.constantFrom(0, 200, 4096),
        fc.constantFrom(0, 3, 100),
        (ops, maxBytes, maxEntries) => {
          const m = new Arena(1 << 22);
          const s = streamNew(m);
          let model: Array<[string, string[]]> = [];
          let ms = 1;
          let seq = 0;
          for (const o of ops) {
            if (o.k === 'add') {
              // Ids step within a millisecond and across big gaps (deltas beyond 2^32 ms).
              if (o.len % 5 === 0) {
                ms += o.len % 2 === 0 ? 2 ** 33 : 1;
                seq = 0;
              } else seq++;
              const kv: string[] = [];
              for (let f = 0; f < o.fields; f++) kv.push(o.same ? `f${f}` : `g${o.len}${f}`, 'v'.repeat(o.len % 40) + o.len);
              add(m, s, ms, seq, kv, maxBytes, maxEntries);
              model.push([`${ms}-${seq}`, kv]);
            } else if (o.k === 'del' && model.length > 0) {
              const [id] = model[o.at % model.length]!;
              const [a, b] = id.split('-');
              idSetNum(4, Number(a), Number(b));
              expect(streamDelete(m, s, 4)).toBe(true);
              model = model.filter(([x]) => x !== id);
            } else if (o.k === 'trim') {
              const removed = streamTrim(m, s, false, o.keep, 0, o.approx, 0);
              expect(removed).toBe(model.length - sLength(m, s));
              model = model.slice(model.length - sLength(m, s));
              if (!o.approx) expect(sLength(m, s)).toBe(Math.min(o.keep, model.length));
            }
            expect(sLength(m, s)).toBe(model.length);
          }
          expect(read(m, s)).toEqual(model);
          expect(read(m, s, true)).toEqual([...model].reverse());
        },
      ),
      { numRuns: 80 },
    );
  });
});
