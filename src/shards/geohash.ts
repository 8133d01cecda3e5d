/**
 * Redis's geohash math (geohash.c, geohash_helper.c), pure: 52-bit interleaved scores with
 * latitude on the even bits and longitude on the odd ones, the 9-box search areas, and
 * haversine distances on Redis's earth radius. A hash is kept as its two coordinate indexes
 * (each < 2^26) so every step runs on 32-bit integers; the interleaved value is only built as
 * a double, where 52 bits are exact.
 */

export const GEO_LONG_MIN = -180;
export const GEO_LONG_MAX = 180;
export const GEO_LAT_MIN = -85.05112878;
export const GEO_LAT_MAX = 85.05112878;
export const GEO_STEP_MAX = 26;
const EARTH_RADIUS_IN_METERS = 6372797.560856;
const MERCATOR_MAX = 20037726.37;
const D_R = Math.PI / 180.0;
const TWO26 = 67108864;
const TWO64 = 2 ** 64;

/** Spreads the low 16 bits of x to the even bit positions. */
function spread(x: number): number {
  x &= 0xffff;
  x = (x | (x << 8)) & 0x00ff00ff;
  x = (x | (x << 4)) & 0x0f0f0f0f;
  x = (x | (x << 2)) & 0x33333333;
  return (x | (x << 1)) & 0x55555555;
}

/** Gathers the even bit positions of x into its low 16 bits. */
function squash(x: number): number {
  x &= 0x55555555;
  x = (x | (x >>> 1)) & 0x33333333;
  x = (x | (x >>> 2)) & 0x0f0f0f0f;
  x = (x | (x >>> 4)) & 0x00ff00ff;
  return (x | (x >>> 8)) & 0x0000ffff;
}

/** The interleaved value of (lat, lon) indexes (lat on even bits) as an exact double. */
export function interleave(lat: number, lon: number): number {
  // 13 bits of each per 26-bit half; a 27th bit (a coordinate on the range's top edge) carries into hi.
  const lo = spread(lat & 0x1fff) | (spread(lon & 0x1fff) << 1);
  const hi = spread(Math.floor(lat / 8192)) | (spread(Math.floor(lon / 8192)) << 1);
  return (hi >>> 0) * TWO26 + (lo >>> 0);
}

/** Latitude and longitude indexes of a 52-bit score, set by deinterleave. */
export const sep = { lat: 0, lon: 0 };

/** Splits a score's bits into sep.lat and sep.lon (as Redis's uint64 cast of the score). */
export function deinterleave(bits: number): void {
  if (!(bits >= 0) || bits >= TWO64) bits = 0;
  bits = Math.floor(bits);
  const hi = Math.floor(bits / TWO26);
  const lo = bits - hi * TWO26;
  const hiLo = hi % 0x100000000;
  sep.lat = squash(hiLo) * 8192 + squash(lo);
  sep.lon = squash(hiLo >>> 1) * 8192 + squash(lo >>> 1);
}

/** A geohash at `step` bits per coordinate; `zero` marks a box left out of a search (GZERO). */
export interface GeoHash {
  lat: number;
  lon: number;
  step: number;
  zero: boolean;
}

/** Redis's geohashEncode over the WGS84 ranges; false outside them. */
export function encode(lon: number, lat: number, step: number, out: GeoHash): boolean {
  if (lon > GEO_LONG_MAX || lon < GEO_LONG_MIN || lat > GEO_LAT_MAX || lat < GEO_LAT_MIN) return false;
  return encodeIn(GEO_LONG_MIN, GEO_LONG_MAX, GEO_LAT_MIN, GEO_LAT_MAX, lon, lat, step, out);
}

/** geohashEncode over explicit ranges (GEOHASH re-encodes over latitude ±90). */
export function encodeIn(
  lonMin: number,
  lonMax: number,
  latMin: number,
  latMax: number,
  lon: number,
  lat: number,
  step: number,
  out: GeoHash,
): boolean {
  if (lon > GEO_LONG_MAX || lon < GEO_LONG_MIN || lat > GEO_LAT_MAX || lat < GEO_LAT_MIN) return false;
  if (lat < latMin || lat > latMax || lon < lonMin || lon > lonMax) return false;
  const scale = 2 ** step;
  // The C code truncates each offset to a uint32 when it interleaves them.
  out.lat = Math.trunc(((lat - latMin) / (latMax - latMin)) * scale) >>> 0;
  out.lon = Math.trunc(((lon - lonMin) / (lonMax - lonMin)) * scale) >>> 0;
  out.step = step;
  out.zero = false;
  return true;
}

/** The zset score of a point (geohashEncodeWGS84 at full precision, aligned to 52 bits); NaN outside the ranges. */
export function scoreOf(lon: number, lat: number): number {
  return encode(lon, lat, GEO_STEP_MAX, scratch) ? interleave(scratch.lat, scratch.lon) : Number.NaN;
}

const scratch: GeoHash = { lat: 0, lon: 0, step: 0, zero: false };

/** A decoded box (geohashDecode). */
export interface GeoArea {
  latMin: number;
  latMax: number;
  lonMin: number;
  lonMax: number;
}

/** Redis's geohashDecode over the WGS84 ranges. */
export function decodeArea(h: GeoHash, out: GeoArea): void {
  const div = 2 ** h.step;
  const latScale = GEO_LAT_MAX - GEO_LAT_MIN;
  const lonScale = GEO_LONG_MAX - GEO_LONG_MIN;
  out.latMin = GEO_LAT_MIN + (h.lat / div) * latScale;
  out.latMax = GEO_LAT_MIN + ((h.lat + 1) / div) * latScale;
  out.lonMin = GEO_LONG_MIN + (h.lon / div) * lonScale;
  out.lonMax = GEO_LONG_MIN + ((h.lon + 1) / div) * lonScale;
}

/** Longitude and latitude decoded by decodeScore. */
export const xy = { lon: 0, lat: 0 };
const INV26 = 1 / TWO26;
const LAT_SCALE = GEO_LAT_MAX - GEO_LAT_MIN;
const LON_SCALE = GEO_LONG_MAX - GEO_LONG_MIN;

/** A score's point (the centre of its box, clamped to the ranges) into xy. */
export function decodeScore(score: number): void {
  if (score >= 0 && score < 4503599627370496) {
    // The usual 52-bit score: split with exact power-of-two scaling and 32-bit truncation.
    const hi = (score * INV26) | 0;
    const lo = (score - hi * TWO26) | 0;
    sep.lat = squash(hi) * 8192 + squash(lo);
    sep.lon = squash(hi >>> 1) * 8192 + squash(lo >>> 1);
  } else deinterleave(score);
  // geohashDecode at step 26 (i / 2^26 is exact), then the box centre, as Redis computes them.
  const latMin = GEO_LAT_MIN + sep.lat * INV26 * LAT_SCALE;
  const latMax = GEO_LAT_MIN + (sep.lat + 1) * INV26 * LAT_SCALE;
  const lonMin = GEO_LONG_MIN + sep.lon * INV26 * LON_SCALE;
  const lonMax = GEO_LONG_MIN + (sep.lon + 1) * INV26 * LON_SCALE;
  let lon = (lonMin + lonMax) / 2;
  if (lon > GEO_LONG_MAX) lon = GEO_LONG_MAX;
  if (lon < GEO_LONG_MIN) lon = GEO_LONG_MIN;
  let lat = (latMin + latMax) / 2;
  if (lat > GEO_LAT_MAX) lat = GEO_LAT_MAX;
  if (lat < GEO_LAT_MIN) lat = GEO_LAT_MIN;
  xy.lon = lon;
  xy.lat = lat;
}

const GEOALPHABET = '0123456789bcdefghjkmnpqrstuvwxyz';

/** The 11-character standard geohash of a score (GEOHASH): re-encoded over latitude ±90, the last character always '0'. */
export function standardGeohash(score: number): string {
  decodeScore(score);
  if (!encodeIn(-180, 180, -90, 90, xy.lon, xy.lat, GEO_STEP_MAX, scratch)) return '';
  const bits = interleave(scratch.lat, scratch.lon);
  let s = '';
  for (let i = 0; i < 11; i++) {
    const idx = i === 10 ? 0 : Math.floor(bits / 2 ** (52 - (i + 1) * 5)) % 32;
    s += GEOALPHABET[idx];
  }
  return s;
}

function degRad(a: number): number {
  return a * D_R;
}

function radDeg(a: number): number {
  return a / D_R;
}

/** Haversine distance in meters (geohashGetDistance). */
export function distance(lon1d: number, lat1d: number, lon2d: number, lat2d: number): number {
  const lat1r = degRad(lat1d);
  const lon1r = degRad(lon1d);
  const lat2r = degRad(lat2d);
  const lon2r = degRad(lon2d);
  const u = Math.sin((lat2r - lat1r) / 2);
  const v = Math.sin((lon2r - lon1r) / 2);
  return 2.0 * EARTH_RADIUS_IN_METERS * Math.asin(Math.sqrt(u * u + Math.cos(lat1r) * Math.cos(lat2r) * v * v));
}

/** A search shape: a circle (radius) or a box (width, height), in units of `conversion` meters. */
export interface GeoShape {
  lon: number;
  lat: number;
  circle: boolean;
  radius: number;
  width: number;
  height: number;
  conversion: number;
}

/** The distance set by inShape. */
export const found = { dist: 0 };

/** Per-search constants of inShape (prepareShape): the centre in radians and its cosine, the limits in meters. */
const pre = {
  lon1r: 0,
  lat1r: 0,
  cosLat1: 0,
  limit: 0,
  halfW: 0,
  halfH: 0,
  latBand: 0,
  cosMin: 0,
  wideW: 0,
  lonDeg: 0,
  latDeg: 0,
  latBandDeg: 0,
  lonBandDeg: 0,
};

/** Slack of outsideBands' degree bounds: ~11 m, some twenty cells at step 26, far above rounding. */
const BAND_SLACK_DEG = 1e-4;
const CELL_LAT = LAT_SCALE * INV26;
const CELL_LON = LON_SCALE * INV26;

/**
 * The longitude difference (radians) past which inShape's east-west bound rejects every point up to
 * π, or Infinity when it may not: cosMin·dl·(1 − dl²/24) rises until 2.83 and stays above its value
 * at 2 up to π, so a crossing found below 2 holds for the whole of (crossing, π].
 */
function lonBandRad(): number {
  const g = (dl: number): number => pre.cosMin * dl * (1 - (dl * dl) / 24);
  if (pre.cosMin === 0 || g(2) <= pre.wideW) return Number.POSITIVE_INFINITY;
  let lo = 0;
  let hi = 2;
  for (let i = 0; i < 50; i++) {
    const mid = (lo + hi) / 2;
    if (g(mid) > pre.wideW) hi = mid;
    else lo = mid;
  }
  return hi;
}

/**
 * Readies inShape for shape `s`. The distances stay Redis's expressions, operation for operation;
 * only what does not change per point is computed once, and a point whose latitude alone puts it
 * clearly outside (by a relative margin far above rounding) skips the trigonometry.
 */
export function prepareShape(s: GeoShape): void {
  pre.lon1r = degRad(s.lon);
  pre.lat1r = degRad(s.lat);
  pre.cosLat1 = Math.cos(pre.lat1r);
  pre.limit = s.radius * s.conversion;
  pre.halfW = (s.width * s.conversion) / 2;
  pre.halfH = (s.height * s.conversion) / 2;
  pre.latBand = ((s.circle ? pre.limit : pre.halfH) * (1 + 1e-6) + 1e-3) / EARTH_RADIUS_IN_METERS;
  // The smallest cosine of a latitude the box can keep (0 when its band reaches a pole).
  const lo = pre.lat1r - pre.latBand;
  const hi = pre.lat1r + pre.latBand;
  pre.cosMin = lo <= -Math.PI / 2 || hi >= Math.PI / 2 ? 0 : Math.min(Math.cos(lo), Math.cos(hi));
  pre.wideW = ((s.circle ? pre.limit : pre.halfW) * (1 + 1e-6) + 1e-3) / EARTH_RADIUS_IN_METERS;
  pre.latDeg = s.lat;
  pre.lonDeg = s.lon;
  pre.latBandDeg = pre.latBand / D_R + BAND_SLACK_DEG;
  pre.lonBandDeg = lonBandRad() / D_R + BAND_SLACK_DEG;
}

/**
 * Whether inShape would reject a score's point on its latitude or east-west bound alone, read from
 * the cell indexes without decoding the point (a search's boxes hold several times the points its
 * shape keeps). Conservative: a point it lets through still meets inShape's exact test.
 */
export function outsideBands(score: number): boolean {
  if (!(score >= 0 && score < 4503599627370496)) return false;
  const hi = (score * INV26) | 0;
  const lo = (score - hi * TWO26) | 0;
  const lat = GEO_LAT_MIN + (squash(hi) * 8192 + squash(lo) + 0.5) * CELL_LAT;
  if (Math.abs(lat - pre.latDeg) > pre.latBandDeg) return true;
  const dl = Math.abs(GEO_LONG_MIN + (squash(hi >>> 1) * 8192 + squash(lo >>> 1) + 0.5) * CELL_LON - pre.lonDeg);
  // Past 180 degrees inShape's east-west bound does not apply (the way round the antimeridian is shorter).
  return dl > pre.lonBandDeg && dl <= 180 - BAND_SLACK_DEG;
}

/** Whether point (lon, lat) lies in the shape readied by prepareShape; its distance from the centre goes to found.dist (meters). */
export function inShape(s: GeoShape, lon: number, lat: number): boolean {
  const lat2r = degRad(lat);
  // Any path between two latitudes is at least their difference long.
  if (Math.abs(lat2r - pre.lat1r) > pre.latBand) return false;
  const lon2r = degRad(lon);
  // East-west, both the box's longitude distance and the great-circle distance are at least
  // R·cos(lat)·|Δlon|·(1 − Δlon²/24) for the smaller cosine of the two latitudes (sin x ≥ x − x³/6).
  const dl = Math.abs(lon2r - pre.lon1r);
  if (dl <= Math.PI && pre.cosMin * dl * (1 - (dl * dl) / 24) > pre.wideW) return false;
  if (!s.circle) {
    // geohashGetDistance(x2, y2, x1, y2): same latitude, so u = sin(0) = 0.
    const vw = Math.sin((pre.lon1r - lon2r) / 2);
    const cos2 = Math.cos(lat2r);
    const lonDist = 2.0 * EARTH_RADIUS_IN_METERS * Math.asin(Math.sqrt(0 + cos2 * cos2 * vw * vw));
    if (lonDist > pre.halfW) return false;
    // geohashGetDistance(x2, y2, x2, y1): same longitude, so v = sin(0) = 0.
    const uh = Math.sin((pre.lat1r - lat2r) / 2);
    const latDist = 2.0 * EARTH_RADIUS_IN_METERS * Math.asin(Math.sqrt(uh * uh + cos2 * pre.cosLat1 * 0 * 0));
    if (latDist > pre.halfH) return false;
  }
  const u = Math.sin((lat2r - pre.lat1r) / 2);
  const v = Math.sin((lon2r - pre.lon1r) / 2);
  const d = 2.0 * EARTH_RADIUS_IN_METERS * Math.asin(Math.sqrt(u * u + pre.cosLat1 * Math.cos(lat2r) * v * v));
  if (s.circle && d > pre.limit) return false;
  found.dist = d;
  return true;
}

/** Redis's geohashEstimateStepsByRadius. */
export function estimateSteps(rangeMeters: number, lat: number): number {
  if (rangeMeters === 0) return 26;
  let step = 1;
  while (rangeMeters < MERCATOR_MAX) {
    rangeMeters *= 2;
    step++;
  }
  step -= 2;
  if (lat > 66 || lat < -66) {
    step--;
    if (lat > 80 || lat < -80) step--;
  }
  if (step < 1) step = 1;
  if (step > 26) step = 26;
  return step;
}

function newHash(): GeoHash {
  return { lat: 0, lon: 0, step: 0, zero: true };
}

/** The 9 boxes of a search, in Redis's order: centre, N, S, E, W, NE, NW, SE, SW. */
export const boxes: GeoHash[] = Array.from({ length: 9 }, newHash);
const B_C = 0;
const B_N = 1;
const B_S = 2;
const B_E = 3;
const B_W = 4;
const B_NE = 5;
const B_NW = 6;
const B_SE = 7;
const B_SW = 8;

/** Sets `h` to `from` moved by dlon, dlat boxes (geohash_move_x/y: wraps modulo 2^step). */
function moved(h: GeoHash, from: GeoHash, dlon: number, dlat: number): void {
  const mask = 2 ** from.step - 1;
  h.step = from.step;
  h.zero = false;
  h.lon = (from.lon + dlon) & mask;
  h.lat = (from.lat + dlat) & mask;
}

function neighbors(c: GeoHash): void {
  moved(boxes[B_N]!, c, 0, 1);
  moved(boxes[B_S]!, c, 0, -1);
  moved(boxes[B_E]!, c, 1, 0);
  moved(boxes[B_W]!, c, -1, 0);
  moved(boxes[B_NE]!, c, 1, 1);
  moved(boxes[B_NW]!, c, -1, 1);
  moved(boxes[B_SE]!, c, 1, -1);
  moved(boxes[B_SW]!, c, -1, -1);
}

const a0: GeoArea = { latMin: 0, latMax: 0, lonMin: 0, lonMax: 0 };

/** Redis's geohashCalculateAreasByShapeWGS84: fills `boxes` (unused ones marked zero). */
export function searchAreas(s: GeoShape): void {
  const height = s.conversion * (s.circle ? s.radius : s.height / 2);
  const width = s.conversion * (s.circle ? s.radius : s.width / 2);
  const latDelta = radDeg(height / EARTH_RADIUS_IN_METERS);
  const lonDeltaTop = radDeg(width / EARTH_RADIUS_IN_METERS / Math.cos(degRad(s.lat + latDelta)));
  const lonDeltaBottom = radDeg(width / EARTH_RADIUS_IN_METERS / Math.cos(degRad(s.lat - latDelta)));
  const south = s.lat < 0;
  const minLon = south ? s.lon - lonDeltaBottom : s.lon - lonDeltaTop;
  const maxLon = south ? s.lon + lonDeltaBottom : s.lon + lonDeltaTop;
  const minLat = s.lat - latDelta;
  const maxLat = s.lat + latDelta;
  let radiusMeters = s.circle ? s.radius : Math.sqrt((s.width / 2) * (s.width / 2) + (s.height / 2) * (s.height / 2));
  radiusMeters *= s.conversion;
  let steps = estimateSteps(radiusMeters, s.lat);
  const c = boxes[B_C]!;
  encode(s.lon, s.lat, steps, c);
  neighbors(c);
  decodeArea(boxes[B_N]!, a0);
  let decrease = a0.latMax < maxLat;
  decodeArea(boxes[B_S]!, a0);
  if (a0.latMin > minLat) decrease = true;
  decodeArea(boxes[B_E]!, a0);
  if (a0.lonMax < maxLon) decrease = true;
  decodeArea(boxes[B_W]!, a0);
  if (a0.lonMin > minLon) decrease = true;
  if (steps > 1 && decrease) {
    steps--;
    encode(s.lon, s.lat, steps, c);
    neighbors(c);
  }
  decodeArea(c, a0);
  if (steps >= 2) {
    if (a0.latMin < minLat) zero(B_S, B_SW, B_SE);
    if (a0.latMax > maxLat) zero(B_N, B_NE, B_NW);
    if (a0.lonMin < minLon) zero(B_W, B_SW, B_NW);
    if (a0.lonMax > maxLon) zero(B_E, B_SE, B_NE);
  }
}

function zero(i: number, j: number, k: number): void {
  boxes[i]!.zero = true;
  boxes[j]!.zero = true;
  boxes[k]!.zero = true;
}

/** The score range [min, max) a box covers, set by boxRange. */
export const span = { min: 0, max: 0 };

/** Scores covered by box `h` (scoresOfGeoHashBox). */
export function boxRange(h: GeoHash): void {
  const v = interleave(h.lat, h.lon);
  const shift = 2 ** (52 - h.step * 2);
  span.min = v * shift;
  span.max = (v + 1) * shift;
}

/** Whether two boxes are the same (Redis skips a repeated neighbour on huge radii). */
export function sameBox(a: GeoHash, b: GeoHash): boolean {
  return a.lat === b.lat && a.lon === b.lon && a.step === b.step;
}
