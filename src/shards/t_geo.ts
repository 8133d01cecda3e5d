/**
 * Geo commands (Redis's geo.c): points are sorted-set members scored by their 52-bit geohash
 * (geohash.ts), so GEOADD is a ZADD and a search scans the score ranges of up to 9 boxes
 * around the centre, keeping the members within the circle or box.
 */
import type { Arena } from './arena.js';
import type { Ctx, Handler } from './context.js';
import { T_ZSET, recType } from './record.js';
import { scanMember, storeTemp, tempZset, zsetCommands, zsetMemberAt, zsetRestoreAdd, zsetScanScores, zsetScoreOf } from './t_zset.js';
import {
  GEO_LAT_MAX,
  GEO_LAT_MIN,
  GEO_LONG_MAX,
  GEO_LONG_MIN,
  type GeoShape,
  boxRange,
  boxes,
  decodeScore,
  distance,
  found,
  inShape,
  outsideBands,
  prepareShape,
  sameBox,
  scoreOf,
  searchAreas,
  span,
  standardGeohash,
  xy,
} from './geohash.js';
import { copyBytes, parseFloatBytes, parseI64 } from '../wire/bytes.js';
import { writeDigits } from '../wire/resp-writer.js';
import {
  E_GEO_ANY_COUNT,
  E_GEO_COUNT,
  E_GEO_MEMBER,
  E_GEO_NEG_BOX,
  E_GEO_NEG_RADIUS,
  E_GEO_NUM_HEIGHT,
  E_GEO_NUM_RADIUS,
  E_GEO_NUM_WIDTH,
  E_GEO_UNIT,
  E_NOT_FLOAT,
  E_NOT_INT,
  E_SYNTAX,
  E_WRONGTYPE,
  geoBadPair,
  geoNeedBy,
  geoNeedFrom,
  geoStoreWith,
} from '../wire/error-text.js';

// ---- Reply formats. ----

/** C's "%.4f" (round half to even on the exact value), as Redis prints distances. */
export function formatDistance(d: number): string {
  const s = d.toFixed(4);
  const x = d * 10000;
  if (x - Math.floor(x) !== 0.5) return s;
  // A true tie has few binary digits, so its 20-digit expansion is exact.
  if (!/5000000000000000$/.test(d.toFixed(20))) return s;
  const down = Math.floor(x);
  return ((down % 2 === 0 ? down : down + 1) / 10000).toFixed(4);
}

const dbuf = new Uint8Array(64);

/** A distance as a bulk string in "%.4f", written without building a string unless it is near a rounding tie. */
function replyDistance(c: Ctx, d: number): void {
  const x = d * 10000;
  const fl = Math.floor(x);
  const frac = x - fl;
  // Below 1e12, x is within 1e-4 of d·10⁴, so away from a tie the rounding is the same.
  if (x >= 0 && x < 1e12 && Math.abs(frac - 0.5) > 1e-3) {
    const n = frac > 0.5 ? fl + 1 : fl;
    const ip = Math.floor(n / 10000);
    const fp = n - ip * 10000;
    let p = writeDigits(dbuf, 0, ip);
    dbuf[p++] = 46;
    dbuf[p++] = 48 + ((fp / 1000) | 0);
    dbuf[p++] = 48 + (((fp / 100) | 0) % 10);
    dbuf[p++] = 48 + (((fp / 10) | 0) % 10);
    dbuf[p++] = 48 + (fp % 10);
    c.out.bulk(dbuf, 0, p);
    return;
  }
  replyAscii(c, formatDistance(d));
}

/** A bulk string of ASCII text, copied without a Buffer. */
function replyAscii(c: Ctx, s: string): void {
  const n = s.length;
  const b = n <= dbuf.length ? dbuf : new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = s.charCodeAt(i);
  c.out.bulk(b, 0, n);
}

/** Redis's addReplyHumanLongDouble of a double: "%.17Lf" without trailing zeros. */
export function formatCoord(v: number): string {
  let s = v.toFixed(17);
  let e = s.length;
  while (s.charCodeAt(e - 1) === 48) e--;
  if (s.charCodeAt(e - 1) === 46) e--;
  s = s.slice(0, e);
  return s === '-0' ? '0' : s;
}

/** C's "%f", as Redis's invalid-pair error prints the values. */
function formatF(v: number): string {
  if (Number.isNaN(v)) return 'nan';
  if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
  if (Math.abs(v) >= 1e21) return `${BigInt(v)}.000000`;
  return v.toFixed(6);
}

function replyCoord(c: Ctx, v: number): void {
  const s = formatCoord(v);
  if (c.out.proto === 3) c.out.ascii(`,${s}\r\n`);
  else replyAscii(c, s);
}

// ---- Argument parsing. ----

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];

/**
 * A coordinate as strtod reads it. Plain decimals of up to 15 digits are an exact integer over an
 * exact power of ten, so one division rounds them as strtod does, with no string built; anything
 * else goes through the general parser.
 */
function parseCoord(b: Uint8Array, s: number, n: number): number | null {
  let i = s;
  const e = s + n;
  const neg = n > 0 && b[i] === 45;
  if (neg || (n > 0 && b[i] === 43)) i++;
  let m = 0;
  let digits = 0;
  let frac = -1;
  for (; i < e; i++) {
    const ch = b[i]!;
    if (ch === 46 && frac < 0) frac = 0;
    else if (ch >= 48 && ch <= 57) {
      m = m * 10 + (ch - 48);
      digits++;
      if (frac >= 0) frac++;
    } else return parseFloatBytes(b, s, n);
  }
  if (digits === 0 || digits > 15) return parseFloatBytes(b, s, n);
  const v = frac > 0 ? m / POW10[frac]! : m;
  return neg ? -v : v;
}

/** Longitude and latitude parsed by parseLonLat. */
const pair = { lon: 0, lat: 0 };

/** Arguments i, i+1 as a longitude/latitude pair in Redis's ranges; false after replying the error. */
function parseLonLat(c: Ctx, i: number): boolean {
  const lon = parseCoord(c.buf, c.as[i]!, c.al[i]!);
  const lat = lon === null ? null : parseCoord(c.buf, c.as[i + 1]!, c.al[i + 1]!);
  if (lon === null || lat === null) {
    c.out.error(E_NOT_FLOAT);
    return false;
  }
  if (lon < GEO_LONG_MIN || lon > GEO_LONG_MAX || lat < GEO_LAT_MIN || lat > GEO_LAT_MAX) {
    c.out.error(geoBadPair(formatF(lon), formatF(lat)));
    return false;
  }
  pair.lon = lon;
  pair.lat = lat;
  return true;
}

/** Meters per unit named by argument i, or -1 after replying the error. */
function parseUnit(c: Ctx, i: number): number {
  if (c.is(i, 'M')) return 1;
  if (c.is(i, 'KM')) return 1000;
  if (c.is(i, 'FT')) return 0.3048;
  if (c.is(i, 'MI')) return 1609.34;
  c.out.error(E_GEO_UNIT);
  return -1;
}

/** A non-negative distance at argument i and its unit at i+1 into the shape; false after replying. */
function parseRadius(c: Ctx, i: number, s: GeoShape): boolean {
  const r = parseFloatBytes(c.buf, c.as[i]!, c.al[i]!);
  if (r === null) {
    c.out.error(E_GEO_NUM_RADIUS);
    return false;
  }
  if (r < 0) {
    c.out.error(E_GEO_NEG_RADIUS);
    return false;
  }
  const u = parseUnit(c, i + 1);
  if (u < 0) return false;
  s.circle = true;
  s.radius = r;
  s.conversion = u;
  return true;
}

/** Width at i, height at i+1 and unit at i+2 into the shape; false after replying. */
function parseBox(c: Ctx, i: number, s: GeoShape): boolean {
  const w = parseFloatBytes(c.buf, c.as[i]!, c.al[i]!);
  if (w === null) {
    c.out.error(E_GEO_NUM_WIDTH);
    return false;
  }
  const h = parseFloatBytes(c.buf, c.as[i + 1]!, c.al[i + 1]!);
  if (h === null) {
    c.out.error(E_GEO_NUM_HEIGHT);
    return false;
  }
  if (h < 0 || w < 0) {
    c.out.error(E_GEO_NEG_BOX);
    return false;
  }
  const u = parseUnit(c, i + 2);
  if (u < 0) return false;
  s.circle = false;
  s.width = w;
  s.height = h;
  s.conversion = u;
  return true;
}

/** A member's point into xy; false when it is not in the set. */
function memberPoint(m: Arena, a: number, c: Ctx, i: number): boolean {
  const score = zsetScoreOf(m, a, c.buf, c.as[i]!, c.al[i]!);
  if (Number.isNaN(score)) return false;
  decodeScore(score);
  return true;
}

function lookupZset(c: Ctx, i: number): number {
  const a = c.lookupRead(i);
  if (a !== 0 && recType(c.store.arena, a) !== T_ZSET) {
    c.out.error(E_WRONGTYPE);
    return -1;
  }
  return a;
}

// ---- GEOADD: rewritten as the ZADD it is. ----

let zbuf = new Uint8Array(256);
let zas = new Int32Array(16);
let zal = new Int32Array(16);
let zlen = 0;
let zargc = 0;

function zarg(src: Uint8Array, s: number, n: number): void {
  if (zlen + n > zbuf.length) {
    const b = new Uint8Array(Math.max(zbuf.length * 2, zlen + n));
    b.set(zbuf.subarray(0, zlen));
    zbuf = b;
  }
  if (zargc === zas.length) {
    const as = new Int32Array(zargc * 2);
    const al = new Int32Array(zargc * 2);
    as.set(zas);
    al.set(zal);
    zas = as;
    zal = al;
  }
  copyBytes(zbuf, zlen, src, s, n);
  zas[zargc] = zlen;
  zal[zargc++] = n;
  zlen += n;
}

const digitBuf = new Uint8Array(32);

function zscore(score: number): void {
  if (score < 2 ** 53) {
    zarg(digitBuf, 0, writeDigits(digitBuf, 0, score));
    return;
  }
  const s = String(score);
  for (let i = 0; i < s.length; i++) digitBuf[i] = s.charCodeAt(i);
  zarg(digitBuf, 0, s.length);
}

const ZADD_NAME = new TextEncoder().encode('zadd');

const geoadd: Handler = (c) => {
  let xx = false;
  let nx = false;
  let i = 2;
  for (; i < c.argc; i++) {
    if (c.is(i, 'NX')) nx = true;
    else if (c.is(i, 'XX')) xx = true;
    else if (!c.is(i, 'CH')) break;
  }
  if ((c.argc - i) % 3 !== 0 || (xx && nx)) {
    c.out.error(E_SYNTAX);
    return;
  }
  zlen = 0;
  zargc = 0;
  zarg(ZADD_NAME, 0, 4);
  for (let j = 1; j < i; j++) zarg(c.buf, c.as[j]!, c.al[j]!);
  for (let j = i; j < c.argc; j += 3) {
    if (!parseLonLat(c, j)) return;
    zscore(scoreOf(pair.lon, pair.lat));
    zarg(c.buf, c.as[j + 2]!, c.al[j + 2]!);
  }
  const buf = c.buf;
  const as = c.as;
  const al = c.al;
  const argc = c.argc;
  c.buf = zbuf;
  c.as = zas;
  c.al = zal;
  c.argc = zargc;
  try {
    zsetCommands.zadd!(c);
  } finally {
    c.buf = buf;
    c.as = as;
    c.al = al;
    c.argc = argc;
  }
};

// ---- GEOPOS, GEOHASH, GEODIST. ----

const geopos: Handler = (c) => {
  const a = lookupZset(c, 1);
  if (a < 0) return;
  const m = c.store.arena;
  c.out.arrayHeader(c.argc - 2);
  for (let i = 2; i < c.argc; i++) {
    if (a === 0 || !memberPoint(m, a, c, i)) {
      c.out.nullArray();
      continue;
    }
    c.out.arrayHeader(2);
    replyCoord(c, xy.lon);
    replyCoord(c, xy.lat);
  }
};

const geohash: Handler = (c) => {
  const a = lookupZset(c, 1);
  if (a < 0) return;
  const m = c.store.arena;
  c.out.arrayHeader(c.argc - 2);
  for (let i = 2; i < c.argc; i++) {
    const score = a === 0 ? Number.NaN : zsetScoreOf(m, a, c.buf, c.as[i]!, c.al[i]!);
    const h = Number.isNaN(score) ? '' : standardGeohash(score);
    if (h === '') c.out.nullBulk();
    else replyAscii(c, h);
  }
};

const geodist: Handler = (c) => {
  let toMeter = 1;
  if (c.argc === 5) {
    toMeter = parseUnit(c, 4);
    if (toMeter < 0) return;
  } else if (c.argc > 5) {
    c.out.error(E_SYNTAX);
    return;
  }
  const a = lookupZset(c, 1);
  if (a < 0) return;
  if (a === 0) {
    c.out.nullBulk();
    return;
  }
  const m = c.store.arena;
  if (!memberPoint(m, a, c, 2)) {
    c.out.nullBulk();
    return;
  }
  const lon1 = xy.lon;
  const lat1 = xy.lat;
  if (!memberPoint(m, a, c, 3)) {
    c.out.nullBulk();
    return;
  }
  replyDistance(c, distance(lon1, lat1, xy.lon, xy.lat) / toMeter);
};

// ---- Searches: GEORADIUS, GEORADIUSBYMEMBER, GEOSEARCH, GEOSEARCHSTORE and the _RO forms. ----

const RADIUS_COORDS = 1;
const RADIUS_MEMBER = 2;
const RADIUS_NOSTORE = 4;
const GEOSEARCH = 8;
const GEOSEARCHSTORE = 16;

const SORT_NONE = 0;
const SORT_ASC = 1;
const SORT_DESC = 2;

const shape: GeoShape = { lon: 0, lat: 0, circle: true, radius: 0, width: 0, height: 0, conversion: 1 };

/** The points found by a search, as parallel arrays (member spans point into the arena). */
let ptMs = new Int32Array(64);
let ptMn = new Int32Array(64);
let ptScore = new Float64Array(64);
let ptDist = new Float64Array(64);
let ptLon = new Float64Array(64);
let ptLat = new Float64Array(64);
let used = 0;
let limit = 0;
let order = new Int32Array(64);
let tmp = new Int32Array(64);

function grow(): void {
  const n = ptMs.length * 2;
  const i32 = (o: Int32Array): Int32Array<ArrayBuffer> => {
    const x = new Int32Array(n);
    x.set(o);
    return x;
  };
  const f64 = (o: Float64Array): Float64Array<ArrayBuffer> => {
    const x = new Float64Array(n);
    x.set(o);
    return x;
  };
  order = new Int32Array(n);
  tmp = new Int32Array(n);
  ptMs = i32(ptMs);
  ptMn = i32(ptMn);
  ptScore = f64(ptScore);
  ptDist = f64(ptDist);
  ptLon = f64(ptLon);
  ptLat = f64(ptLat);
}

/** The arena of the sorted set collectAll scans. */
let scanArena: Arena | null = null;

/** geoGetPointsInRange's step: keeps a member inside the shape; false once `limit` points are found. */
function collect(pos: number, score: number): boolean {
  if (outsideBands(score)) return true;
  decodeScore(score);
  if (inShape(shape, xy.lon, xy.lat)) {
    if (used === ptMs.length) grow();
    zsetMemberAt(scanArena!, pos);
    ptMs[used] = scanMember.s;
    ptMn[used] = scanMember.n;
    ptScore[used] = score;
    ptDist[used] = found.dist;
    ptLon[used] = xy.lon;
    ptLat[used] = xy.lat;
    used++;
  }
  return !(limit !== 0 && used >= limit);
}

/** membersOfAllNeighbors: scans the search boxes, skipping repeats of the box just scanned. */
function collectAll(m: Arena, a: number): void {
  searchAreas(shape);
  prepareShape(shape);
  scanArena = m;
  used = 0;
  let last = 0;
  for (let i = 0; i < 9; i++) {
    const b = boxes[i]!;
    if (b.zero) continue;
    if (last !== 0 && sameBox(b, boxes[last]!)) continue;
    if (used !== 0 && limit !== 0 && used >= limit) break;
    boxRange(b);
    zsetScanScores(m, a, span.min, span.max, collect);
    last = i;
  }
}

/** Whether point x goes after point y (by distance; ties keep their order, as glibc's merge-based qsort). */
function after(x: number, y: number, desc: boolean): boolean {
  return desc ? ptDist[x]! < ptDist[y]! : ptDist[x]! > ptDist[y]!;
}

/** Stable merge sort of order[lo, hi) by distance, without allocating. */
function sortByDist(lo: number, hi: number, desc: boolean): void {
  if (hi - lo <= 12) {
    for (let i = lo + 1; i < hi; i++) {
      const x = order[i]!;
      let j = i - 1;
      while (j >= lo && after(order[j]!, x, desc)) {
        order[j + 1] = order[j]!;
        j--;
      }
      order[j + 1] = x;
    }
    return;
  }
  const mid = (lo + hi) >>> 1;
  sortByDist(lo, mid, desc);
  sortByDist(mid, hi, desc);
  if (!after(order[mid - 1]!, order[mid]!, desc)) return;
  for (let t = lo; t < mid; t++) tmp[t] = order[t]!;
  let i = lo;
  let j = mid;
  let k = lo;
  while (i < mid && j < hi) order[k++] = after(tmp[i]!, order[j]!, desc) ? order[j++]! : tmp[i++]!;
  while (i < mid) order[k++] = tmp[i++]!;
}

/** sort_gp_asc over order[x] and order[y] (negated for DESC): 1, 0 or -1 by distance. */
function cmpAt(x: number, y: number, desc: boolean): number {
  const a = ptDist[order[x]!]!;
  const b = ptDist[order[y]!]!;
  const r = a > b ? 1 : a === b ? 0 : -1;
  return desc ? -r : r;
}

function swapAt(x: number, y: number): void {
  const t = order[x]!;
  order[x] = order[y]!;
  order[y] = t;
}

/** The median of three positions, as the partial sort picks its pivot. */
function med3(a: number, b: number, c: number, desc: boolean): number {
  return cmpAt(a, b, desc) < 0
    ? cmpAt(b, c, desc) < 0
      ? b
      : cmpAt(a, c, desc) < 0
        ? c
        : a
    : cmpAt(b, c, desc) > 0
      ? b
      : cmpAt(a, c, desc) < 0
        ? a
        : c;
}

function insertionSort(lo: number, n: number, desc: boolean): void {
  for (let m = lo + 1; m < lo + n; m++) for (let l = m; l > lo && cmpAt(l - 1, l, desc) > 0; l--) swapAt(l, l - 1);
}

/**
 * Puts in place order[first, last] of the sort by distance of order[lo, lo + n), the rest
 * partitioned around them: Redis's pqsort (Bentley and McIlroy's three-way quicksort, which skips
 * the parts outside the range), step for step, so that points at equal distances come out in
 * Redis's order when COUNT keeps fewer points than were found (its full sort is stable; this is not).
 */
function partialSortByDist(lo: number, n: number, first: number, last: number, desc: boolean): void {
  for (;;) {
    if (n < 7) {
      insertionSort(lo, n, desc);
      return;
    }
    let pm = lo + (n >>> 1);
    if (n > 7) {
      let pl = lo;
      let pn = lo + n - 1;
      if (n > 40) {
        const d = n >>> 3;
        pl = med3(pl, pl + d, pl + 2 * d, desc);
        pm = med3(pm - d, pm, pm + d, desc);
        pn = med3(pn - 2 * d, pn - d, pn, desc);
      }
      pm = med3(pl, pm, pn, desc);
    }
    swapAt(lo, pm);
    let swapped = false;
    let pa = lo + 1;
    let pb = pa;
    let pc = lo + n - 1;
    let pd = pc;
    for (;;) {
      let r: number;
      while (pb <= pc && (r = cmpAt(pb, lo, desc)) <= 0) {
        if (r === 0) {
          swapped = true;
          swapAt(pa++, pb);
        }
        pb++;
      }
      while (pb <= pc && (r = cmpAt(pc, lo, desc)) >= 0) {
        if (r === 0) {
          swapped = true;
          swapAt(pc, pd--);
        }
        pc--;
      }
      if (pb > pc) break;
      swapAt(pb++, pc--);
      swapped = true;
    }
    if (!swapped) {
      insertionSort(lo, n, desc);
      return;
    }
    const end = lo + n;
    let r = Math.min(pa - lo, pb - pa);
    for (let i = 0; i < r; i++) swapAt(lo + i, pb - r + i);
    r = Math.min(pd - pc, end - pd - 1);
    for (let i = 0; i < r; i++) swapAt(pb + i, end - r + i);
    r = pb - pa;
    if (r > 1 && lo <= last && lo + r - 1 >= first) partialSortByDist(lo, r, first, last, desc);
    r = pd - pc;
    if (r <= 1) return;
    lo = end - r;
    n = r;
    if (lo > last || lo + r - 1 < first) return;
  }
}

function georadiusGeneric(c: Ctx, src: number, flags: number): void {
  let storeIdx = 0;
  let storeDist = false;
  const a = lookupZset(c, src);
  if (a < 0) return;
  const m = c.store.arena;
  let base = 0;
  if (flags & RADIUS_COORDS) {
    base = 6;
    if (!parseLonLat(c, 2)) return;
    shape.lon = pair.lon;
    shape.lat = pair.lat;
    if (!parseRadius(c, 4, shape)) return;
  } else if (flags & RADIUS_MEMBER) {
    base = 5;
    if (a !== 0) {
      if (!memberPoint(m, a, c, 2)) {
        c.out.error(E_GEO_MEMBER);
        return;
      }
      shape.lon = xy.lon;
      shape.lat = xy.lat;
      if (!parseRadius(c, 3, shape)) return;
    }
  } else {
    base = 2;
    if (flags & GEOSEARCHSTORE) {
      base = 3;
      storeIdx = 1;
    }
  }
  let withDist = false;
  let withHash = false;
  let withCoords = false;
  let fromMember = false;
  let fromLoc = false;
  let byRadius = false;
  let byBox = false;
  let sort = SORT_NONE;
  let any = false;
  let count = 0;
  const remaining = c.argc - base;
  for (let i = 0; i < remaining; i++) {
    const j = base + i;
    if (c.is(j, 'WITHDIST')) withDist = true;
    else if (c.is(j, 'WITHHASH')) withHash = true;
    else if (c.is(j, 'WITHCOORD')) withCoords = true;
    else if (c.is(j, 'ANY')) any = true;
    else if (c.is(j, 'ASC')) sort = SORT_ASC;
    else if (c.is(j, 'DESC')) sort = SORT_DESC;
    else if (c.is(j, 'COUNT') && i + 1 < remaining) {
      const n = parseI64(c.buf, c.as[j + 1]!, c.al[j + 1]!);
      if (n === null) {
        c.out.error(E_NOT_INT);
        return;
      }
      if (n <= 0) {
        c.out.error(E_GEO_COUNT);
        return;
      }
      count = Number(n);
      i++;
    } else if ((c.is(j, 'STORE') || c.is(j, 'STOREDIST')) && i + 1 < remaining && !(flags & RADIUS_NOSTORE) && !(flags & GEOSEARCH)) {
      storeDist = c.al[j] === 9;
      storeIdx = j + 1;
      i++;
    } else if (c.is(j, 'STOREDIST') && flags & GEOSEARCH && flags & GEOSEARCHSTORE) {
      storeDist = true;
    } else if (c.is(j, 'FROMMEMBER') && i + 1 < remaining && flags & GEOSEARCH && !fromLoc) {
      if (a !== 0) {
        if (!memberPoint(m, a, c, j + 1)) {
          c.out.error(E_GEO_MEMBER);
          return;
        }
        shape.lon = xy.lon;
        shape.lat = xy.lat;
      }
      fromMember = true;
      i++;
    } else if (c.is(j, 'FROMLONLAT') && i + 2 < remaining && flags & GEOSEARCH && !fromMember) {
      if (!parseLonLat(c, j + 1)) return;
      shape.lon = pair.lon;
      shape.lat = pair.lat;
      fromLoc = true;
      i += 2;
    } else if (c.is(j, 'BYRADIUS') && i + 2 < remaining && flags & GEOSEARCH && !byBox) {
      if (!parseRadius(c, j + 1, shape)) return;
      byRadius = true;
      i += 2;
    } else if (c.is(j, 'BYBOX') && i + 3 < remaining && flags & GEOSEARCH && !byRadius) {
      if (!parseBox(c, j + 1, shape)) return;
      byBox = true;
      i += 3;
    } else {
      c.out.error(E_SYNTAX);
      return;
    }
  }
  if (storeIdx !== 0 && (withDist || withHash || withCoords)) {
    c.out.error(geoStoreWith(flags & GEOSEARCHSTORE ? 'GEOSEARCHSTORE' : 'STORE option in GEORADIUS'));
    return;
  }
  if (flags & GEOSEARCH && !(fromMember || fromLoc)) {
    c.out.error(geoNeedFrom(c.str(0)));
    return;
  }
  if (flags & GEOSEARCH && !(byRadius || byBox)) {
    c.out.error(geoNeedBy(c.str(0)));
    return;
  }
  if (any && count === 0) {
    c.out.error(E_GEO_ANY_COUNT);
    return;
  }
  if (a === 0) {
    if (storeIdx !== 0) {
      storeTemp(c, storeIdx, tempZset(m));
      c.out.int(0);
    } else c.out.arrayHeader(0);
    return;
  }
  if (count !== 0 && sort === SORT_NONE && !any) sort = SORT_ASC;
  limit = any ? count : 0;
  collectAll(m, a);
  if (used === 0 && storeIdx === 0) {
    c.out.arrayHeader(0);
    return;
  }
  const returned = count === 0 || used < count ? used : count;
  for (let i = 0; i < used; i++) order[i] = i;
  // Like Redis: a stable full sort (glibc's qsort), or its partial quicksort when COUNT keeps fewer.
  if (sort !== SORT_NONE) {
    if (returned < used) partialSortByDist(0, used, 0, returned - 1, sort === SORT_DESC);
    else sortByDist(0, used, sort === SORT_DESC);
  }
  if (storeIdx === 0) {
    const options = (withDist ? 1 : 0) + (withHash ? 1 : 0) + (withCoords ? 1 : 0);
    const out = c.out;
    out.arrayHeader(returned);
    for (let k = 0; k < returned; k++) {
      const p = order[k]!;
      if (options !== 0) out.arrayHeader(options + 1);
      out.bulk(m.u8, ptMs[p]!, ptMn[p]!);
      if (withDist) replyDistance(c, ptDist[p]! / shape.conversion);
      if (withHash) out.int(ptScore[p]!);
      if (withCoords) {
        out.arrayHeader(2);
        replyCoord(c, ptLon[p]!);
        replyCoord(c, ptLat[p]!);
      }
    }
  } else {
    const t = tempZset(m);
    for (let k = 0; k < returned; k++) {
      const p = order[k]!;
      const score = storeDist ? ptDist[p]! / shape.conversion : ptScore[p]!;
      // The arena may grow while the result is built: read the member through the current view.
      zsetRestoreAdd(m, t, score, m.u8, ptMs[p]!, ptMn[p]!);
    }
    storeTemp(c, storeIdx, t);
    c.out.int(returned);
  }
}

const georadius: Handler = (c) => georadiusGeneric(c, 1, RADIUS_COORDS);
const georadius_ro: Handler = (c) => georadiusGeneric(c, 1, RADIUS_COORDS | RADIUS_NOSTORE);
const georadiusbymember: Handler = (c) => georadiusGeneric(c, 1, RADIUS_MEMBER);
const georadiusbymember_ro: Handler = (c) => georadiusGeneric(c, 1, RADIUS_MEMBER | RADIUS_NOSTORE);
const geosearch: Handler = (c) => georadiusGeneric(c, 1, GEOSEARCH);
const geosearchstore: Handler = (c) => georadiusGeneric(c, 2, GEOSEARCH | GEOSEARCHSTORE);

/** Handlers by lower-case command name. */
export const geoCommands: Record<string, Handler> = {
  geoadd,
  geopos,
  geohash,
  geodist,
  georadius,
  georadius_ro,
  georadiusbymember,
  georadiusbymember_ro,
  geosearch,
  geosearchstore,
};
