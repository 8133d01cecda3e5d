/** Byte helpers that keep keys and values as bytes: copy, compare, numbers, glob match. */

/**
 * Spans up to this long are copied by a loop, longer ones by set() over a subarray view. The view and
 * the call cost ~50 ns (more from a SharedArrayBuffer); the loop ~1.5 ns a byte, so past 32 bytes set()
 * wins (GET of 100-byte values at -P 16: +28% against a 256-byte cut-over).
 */
const LOOP_COPY_MAX = 32;

/** Copies n bytes between arrays without allocating for short spans. */
export function copyBytes(dst: Uint8Array, dp: number, src: Uint8Array, sp: number, n: number): void {
  if (n <= LOOP_COPY_MAX) {
    for (let i = 0; i < n; i++) dst[dp + i] = src[sp + i]!;
  } else {
    dst.set(src.subarray(sp, sp + n), dp);
  }
}

/**
 * A Buffer of its own holding `n` bytes of `src` from `start`. Short ones come from Node's shared
 * pool (Buffer.allocUnsafe): no malloc or new ArrayBuffer per copy, as there would be per read
 * or write otherwise.
 */
export function pooledCopy(src: Uint8Array, start: number, n: number): Buffer {
  const copy = Buffer.allocUnsafe(n);
  copyBytes(copy, 0, src, start, n);
  return copy;
}

/** `buf` when it holds `need` bytes, else a buffer of at least twice its size holding its first `used` bytes. */
export function grown(buf: Uint8Array, used: number, need: number): Uint8Array {
  if (need <= buf.length) return buf;
  let size = buf.length * 2;
  while (size < need) size *= 2;
  const next = new Uint8Array(size);
  next.set(buf.subarray(0, used));
  return next;
}

/** True when the two spans hold the same bytes. */
export function bytesEqual(a: Uint8Array, as: number, al: number, b: Uint8Array, bs: number, bl: number): boolean {
  if (al !== bl) return false;
  for (let i = 0; i < al; i++) if (a[as + i] !== b[bs + i]) return false;
  return true;
}

/** Case-insensitive compare of a span with an ASCII keyword given in upper case. */
export function isKeyword(b: Uint8Array, s: number, n: number, upper: string): boolean {
  if (n !== upper.length) return false;
  for (let i = 0; i < n; i++) {
    // Fold only a-z: masking every byte with 0xdf broke keywords holding '-' or digits (LIB-NAME).
    let c = b[s + i]!;
    if (c >= 97 && c <= 122) c -= 32;
    if (c !== upper.charCodeAt(i)) return false;
  }
  return true;
}

const I64_MAX = 9223372036854775807n;
const I64_MIN = -9223372036854775808n;

/**
 * Parses a span as Redis's string2ll does: optional '-', no '+', no leading zeros or spaces,
 * within a signed 64-bit range. Returns a number when it is exact (|v| < 2^53), a bigint
 * beyond that, or null when the bytes are not such an integer.
 */
export function parseI64(b: Uint8Array, s: number, n: number): number | bigint | null {
  if (n === 0 || n > 20) return null;
  let i = s;
  const e = s + n;
  let neg = false;
  if (b[i] === 45) {
    neg = true;
    i++;
    if (i === e) return null;
  }
  if (b[i] === 48) return i + 1 === e && !neg ? 0 : null;
  let v = 0;
  for (let j = i; j < e; j++) {
    const d = b[j]! - 48;
    if (d < 0 || d > 9) return null;
    v = v * 10 + d;
  }
  if (e - i <= 15) return neg ? -v : v;
  let big = BigInt(Buffer.from(b.buffer, b.byteOffset + i, e - i).toString('latin1'));
  if (neg) big = -big;
  if (big > I64_MAX || big < I64_MIN) return null;
  return Number.isSafeInteger(Number(big)) ? Number(big) : big;
}

/** parseI64 narrowed to safe integers (counts, indexes, timeouts); null otherwise. */
export function parseSafeInt(b: Uint8Array, s: number, n: number): number | null {
  const v = parseI64(b, s, n);
  return typeof v === 'number' ? v : null;
}

/** 10^k for k = 0…16: exact doubles, and the digit counts of integers below 2^53. */
export const POW10 = Array.from({ length: 17 }, (_, k) => 10 ** k);

/**
 * Scores and bounds as clients mostly send them (`[+-]digits[.digits]`, digits making an integer below
 * 2^53, e.g. BullMQ's millisecond-times-4096 bounds), without building a string: one division by an exact power of
 * ten rounds correctly, so the result is Number()'s. Null for anything else (the general path decides).
 */
function parseShortDecimal(b: Uint8Array, s: number, n: number): number | null {
  const e = s + n;
  let i = s;
  const c0 = b[i]!;
  const neg = c0 === 45;
  if (neg || c0 === 43) i++;
  let v = 0;
  let digits = 0;
  let scale = -1;
  for (; i < e; i++) {
    const c = b[i]!;
    if (c === 46 && scale === -1) {
      scale = 0;
      continue;
    }
    const d = c - 48;
    if (d < 0 || d > 9) return null;
    v = v * 10 + d;
    digits++;
    if (scale !== -1) scale++;
  }
  // Below 2^53 every step above was exact (a 16th digit can pass it: then rounding may have hidden that, so refuse).
  if (digits === 0 || digits > 16 || v >= TWO_53) return null;
  if (scale > 0) v /= POW10[scale]!;
  return neg ? -v : v;
}

const TWO_53 = 2 ** 53;

/** "infinity": its first three letters and the whole word are the spellings strtold accepts. */
const INFINITY = [105, 110, 102, 105, 110, 105, 116, 121];

/** ±Infinity for "inf" or "infinity", signed or not, in any case (sorted-set bounds), else null. */
function parseInf(b: Uint8Array, s: number, n: number): number | null {
  let i = s;
  let sign = 1;
  const c = b[s]!;
  if (c === 45 || c === 43) {
    if (c === 45) sign = -1;
    i++;
  }
  const len = s + n - i;
  if (len !== 3 && len !== 8) return null;
  // | 32 lower-cases a letter, and turns no other byte into one.
  for (let k = 0; k < len; k++) if ((b[i + k]! | 32) !== INFINITY[k]) return null;
  return sign * Infinity;
}

/** Parses a float the way Redis's string2ld accepts it (no spaces, no NaN); null if invalid. */
export function parseFloatBytes(b: Uint8Array, s: number, n: number): number | null {
  if (n === 0 || n > 5000) return null;
  const first = b[s]!;
  const last = b[s + n - 1]!;
  if (first === 32 || first === 9 || last === 32 || last === 9) return null;
  const fast = parseShortDecimal(b, s, n);
  if (fast !== null) return fast;
  const inf = parseInf(b, s, n);
  if (inf !== null) return inf;
  const str = Buffer.from(b.buffer, b.byteOffset + s, n).toString('latin1');
  if (!/^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(str) && !/^[+-]?0x[0-9a-f]+$/i.test(str)) return null;
  const v = Number(str.startsWith('-0x') ? -Number(str.slice(1)) : str);
  return Number.isNaN(v) ? null : v;
}

/** Lower-cases an ASCII byte. */
function lower(c: number): number {
  return c >= 65 && c <= 90 ? c + 32 : c;
}

/**
 * Glob match as Redis's stringmatchlen: `*`, `?`, `[abc]`, `[^a-z]`, `\x` escapes.
 * Patterns are bounded by the query size, so the recursion for `*` stays shallow in practice.
 */
export function globMatch(p: Uint8Array, ps: number, pl: number, s: Uint8Array, ss: number, sl: number, nocase = false): boolean {
  return matchAt(p, ps, ps + pl, s, ss, ss + sl, nocase, 0) === MATCH;
}

const NO_MATCH = 0;
const MATCH = 1;
/**
 * No match for the rest of the pattern from any later position either, so no enclosing `*`
 * needs to try a longer span (Redis's skipLongerMatches, the fix for CVE-2022-36021: without
 * it "a*a*a*…b" against "aaaa…" takes exponential time).
 */
const NO_MATCH_SKIP_LONGER = 2;

function matchAt(p: Uint8Array, pi: number, pe: number, s: Uint8Array, si: number, se: number, nocase: boolean, depth: number): number {
  if (depth > 1000) return NO_MATCH;
  while (pi < pe) {
    const c = p[pi]!;
    if (c === 42 /* * */) {
      while (pi + 1 < pe && p[pi + 1] === 42) pi++;
      if (pi + 1 === pe) return MATCH;
      for (let k = si; k <= se; k++) {
        const r = matchAt(p, pi + 1, pe, s, k, se, nocase, depth + 1);
        if (r !== NO_MATCH) return r;
      }
      return NO_MATCH_SKIP_LONGER;
    }
    if (si >= se) return NO_MATCH;
    if (c === 63 /* ? */) {
      si++;
      pi++;
      continue;
    }
    if (c === 91 /* [ */) {
      pi++;
      const not = pi < pe && p[pi] === 94;
      if (not) pi++;
      let match = false;
      const ch = nocase ? lower(s[si]!) : s[si]!;
      while (pi < pe && p[pi] !== 93) {
        if (p[pi] === 92 && pi + 1 < pe) {
          pi++;
          if ((nocase ? lower(p[pi]!) : p[pi]) === ch) match = true;
        } else if (pi + 2 < pe && p[pi + 1] === 45 /* - */) {
          let a = nocase ? lower(p[pi]!) : p[pi]!;
          let b = nocase ? lower(p[pi + 2]!) : p[pi + 2]!;
          if (a > b) [a, b] = [b, a];
          if (ch >= a && ch <= b) match = true;
          pi += 2;
        } else if ((nocase ? lower(p[pi]!) : p[pi]) === ch) {
          match = true;
        }
        pi++;
      }
      if (not) match = !match;
      if (!match) return NO_MATCH;
      pi++;
      si++;
      continue;
    }
    let lit = c;
    if (c === 92 && pi + 1 < pe) {
      pi++;
      lit = p[pi]!;
    }
    if (nocase ? lower(lit) !== lower(s[si]!) : lit !== s[si]) return NO_MATCH;
    pi++;
    si++;
  }
  return si === se ? MATCH : NO_MATCH;
}
