/** The geohash math, geo reply formats, SORT's score parsing and its pattern helpers, without a server. */
import { describe, expect, it } from 'vitest';
import {
  GEO_STEP_MAX,
  boxRange,
  boxes,
  decodeScore,
  deinterleave,
  distance,
  encode,
  inShape,
  interleave,
  outsideBands,
  prepareShape,
  scoreOf,
  searchAreas,
  sep,
  span,
  standardGeohash,
  xy,
  type GeoHash,
  type GeoShape,
} from '../../src/shards/geohash.js';
import { formatCoord, formatDistance } from '../../src/shards/t_geo.js';
import { sortScore } from '../../src/shards/t_sort.js';
import {
  parseSortArgs,
  patternField,
  patternFixedTag,
  patternKey,
  patternReadsKeys,
  sortSpansShards,
} from '../../src/commands/sort-args.js';

const enc = new TextEncoder();
const spans = (...args: string[]): { b: Uint8Array; as: Int32Array; al: Int32Array } => {
  const parts = args.map((a) => enc.encode(a));
  const as = new Int32Array(parts.length);
  const al = Int32Array.from(parts, (p) => p.length);
  for (let i = 1; i < parts.length; i++) as[i] = as[i - 1]! + al[i - 1]!;
  const b = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  for (let i = 0; i < parts.length; i++) b.set(parts[i]!, as[i]!);
  return { b, as, al };
};

describe('geohash', () => {
  it("scores points as Redis's GEOADD does", () => {
    expect(scoreOf(13.361389, 38.115556)).toBe(3479099956230698);
    expect(scoreOf(15.087269, 37.502669)).toBe(3479447370796909);
    expect(scoreOf(-180, -85.05112878)).toBe(0);
    expect(Number.isNaN(scoreOf(0, 86))).toBe(true);
  });

  it('interleaves and splits 52 bits exactly', () => {
    for (const [lat, lon] of [
      [0, 0],
      [0x3ffffff, 0],
      [0, 0x3ffffff],
      [0x2aaaaaa, 0x1555555],
      [12345678, 54321],
    ] as const) {
      deinterleave(interleave(lat, lon));
      expect([sep.lat, sep.lon]).toEqual([lat, lon]);
    }
  });

  it('decodes a score to the centre of its cell, and the standard geohash', () => {
    decodeScore(3479099956230698);
    expect(formatCoord(xy.lon)).toBe('13.36138933897018433');
    expect(formatCoord(xy.lat)).toBe('38.11555639549629859');
    expect(standardGeohash(3479099956230698)).toBe('sqc8b49rny0');
  });

  it('measures haversine distances on the earth radius Redis uses', () => {
    // GEODIST measures between the decoded cell centres.
    decodeScore(3479099956230698);
    const [lon1, lat1] = [xy.lon, xy.lat];
    decodeScore(3479447370796909);
    expect(formatDistance(distance(lon1, lat1, xy.lon, xy.lat))).toBe('166274.1516');
    expect(distance(1, 2, 1, 2)).toBe(0);
  });

  it('covers a search with the centre box and its neighbours, dropping useless ones', () => {
    searchAreas({ lon: 15, lat: 37, circle: true, radius: 200, width: 0, height: 0, conversion: 1000 });
    const c = boxes[0]!;
    expect(c.step).toBeLessThan(GEO_STEP_MAX);
    const h: GeoHash = { lat: 0, lon: 0, step: c.step, zero: false };
    encode(15, 37, c.step, h);
    expect([h.lat, h.lon]).toEqual([c.lat, c.lon]);
    boxRange(c);
    const own = scoreOf(15, 37);
    expect(own >= span.min && own < span.max).toBe(true);
    expect(boxes.filter((b) => !b.zero).length).toBeGreaterThan(1);
  });

  it('rejects by cell indexes only points the exact shape test rejects, near its edges too', () => {
    // mulberry32: the same cases every run.
    let seed = 20261203;
    const rand = (): number => {
      seed = (seed + 0x6d2b79f5) >>> 0;
      let t = Math.imul(seed ^ (seed >>> 15), seed | 1);
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    let rejected = 0;
    for (let k = 0; k < 400; k++) {
      const circle = rand() < 0.5;
      const size = 10 ** (rand() * 7); // 1 m to 10,000 km
      const shape: GeoShape = {
        // Centres near the poles and the antimeridian as well as anywhere.
        lon: k % 4 === 0 ? 179.9 - rand() * 0.2 : rand() * 360 - 180,
        lat: k % 4 === 1 ? (rand() < 0.5 ? -1 : 1) * (84 + rand()) : rand() * 170 - 85,
        circle,
        radius: circle ? size : 0,
        width: circle ? 0 : size * (0.2 + rand() * 2),
        height: circle ? 0 : size * (0.2 + rand() * 2),
        conversion: 1,
      };
      prepareShape(shape);
      const reach = (circle ? size : Math.max(shape.width, shape.height)) / 111000;
      for (let i = 0; i < 300; i++) {
        // Half of the points at about the shape's reach in some direction, the rest anywhere.
        const near = i % 2 === 0;
        const angle = rand() * 2 * Math.PI;
        const r = reach * (0.5 + rand());
        let lon = near ? shape.lon + (r * Math.cos(angle)) / Math.max(0.05, Math.cos((shape.lat * Math.PI) / 180)) : rand() * 360 - 180;
        const lat = near ? Math.max(-85, Math.min(85, shape.lat + r * Math.sin(angle))) : rand() * 170 - 85;
        lon = ((((lon + 180) % 360) + 360) % 360) - 180;
        const score = scoreOf(lon, lat);
        if (!outsideBands(score)) continue;
        rejected++;
        decodeScore(score);
        expect(inShape(shape, xy.lon, xy.lat)).toBe(false);
      }
    }
    expect(rejected).toBeGreaterThan(10000);
  });

  it('prints distances as C\'s "%.4f" (half to even) and coordinates as "%.17Lf" trimmed', () => {
    expect(formatDistance(1.03125)).toBe('1.0312');
    expect(formatDistance(1.09375)).toBe('1.0938');
    expect(formatDistance(0)).toBe('0.0000');
    expect(formatCoord(-0)).toBe('0');
    expect(formatCoord(12.5)).toBe('12.5');
    expect(formatCoord(-1e-18)).toBe('0');
  });
});

describe('SORT helpers', () => {
  it('reads scores as strtod does, refusing what Redis refuses', () => {
    expect(sortScore(enc.encode('42'), 0, 2)).toBe(42);
    expect(sortScore(enc.encode(''), 0, 0)).toBe(0);
    expect(sortScore(enc.encode('  1.5'), 0, 5)).toBe(1.5);
    expect(sortScore(enc.encode('0x10'), 0, 4)).toBe(16);
    expect(sortScore(enc.encode('-inf'), 0, 4)).toBe(-Infinity);
    for (const bad of ['1.5 ', 'abc', 'nan', '1e400', '1e-400', '0b11']) expect(sortScore(enc.encode(bad), 0, bad.length)).toBeNaN();
  });

  it('parses options as sortCommandGeneric does', () => {
    const s = spans('sort', 'k', 'BY', 'w_*', 'GET', '#', 'get', 'h_*->f', 'LIMIT', '1', '2', 'DESC', 'ALPHA', 'STORE', 'd');
    const a = parseSortArgs(s.b, s.as, s.al, 15, false);
    expect([a.error, a.by, a.gets, a.patterns, a.store, a.desc, a.alpha, a.limitStart, a.limitCount, a.dontsort]).toEqual([
      null,
      3,
      [5, 7],
      [3, 5, 7],
      14,
      true,
      true,
      1,
      2,
      false,
    ]);
    const ro = spans('sort_ro', 'k', 'STORE', 'd');
    expect(parseSortArgs(ro.b, ro.as, ro.al, 4, true).error).toBe('ERR syntax error');
    const lim = spans('sort', 'k', 'LIMIT', 'x', '1');
    expect(parseSortArgs(lim.b, lim.as, lim.al, 5, false).error).toBe('ERR value is not an integer or out of range');
    const nosort = spans('sort', 'k', 'BY', 'nosort');
    expect(parseSortArgs(nosort.b, nosort.as, nosort.al, 4, false).dontsort).toBe(true);
  });

  it('substitutes patterns and finds hash fields and fixed hash tags', () => {
    const p = enc.encode('pre_*_post->field');
    const [k, n] = patternKey(p, 0, p.length, enc.encode('EL'), 0, 2, new Uint8Array(4));
    expect(new TextDecoder().decode(k.subarray(0, n))).toBe('pre_EL_post');
    expect(patternField(p, 0, p.length)).toBe(12);
    const noField = enc.encode('w_*->');
    expect(patternField(noField, 0, noField.length)).toBe(-1);
    expect(patternReadsKeys(enc.encode('#'), 0, 1)).toBe(false);
    expect(patternReadsKeys(enc.encode('fixed'), 0, 5)).toBe(false);
    const tagged = enc.encode('{u1}w_*');
    expect(patternFixedTag(tagged, 0, tagged.length)).toEqual([1, 2]);
    const open = enc.encode('w_{*}');
    expect(patternFixedTag(open, 0, open.length)).toBeNull();
  });

  it('keeps a sort on its shard only when every key it reads or writes is there', () => {
    const byLen = (b: Uint8Array, s: number, n: number): number => (n === 1 && b[s] === 116 ? 0 : n % 2);
    const local = spans('sort', 'kk', 'BY', '{t}w_*', 'GET', '#');
    expect(sortSpansShards(local.b, local.as, local.al, 6, false, byLen)).toBe(false);
    const remote = spans('sort', 'kk', 'GET', 'o_*');
    expect(sortSpansShards(remote.b, remote.as, remote.al, 4, false, byLen)).toBe(true);
    const store = spans('sort', 'kk', 'STORE', 'd');
    expect(sortSpansShards(store.b, store.as, store.al, 4, false, byLen)).toBe(true);
  });
});
