/**
 * x87 80-bit `long double` arithmetic, as Redis uses for INCRBYFLOAT and HINCRBYFLOAT.
 *
 * Redis parses with strtold, adds in long double and prints with "%.17Lf" minus trailing
 * zeros, so `10000000000 + 0.1` answers "10000000000.09999999962747097": a JS double cannot
 * reproduce those digits. A value here is exact: (-1)^neg × m × 2^e with a 64-bit mantissa,
 * rounded half-to-even like the x87 unit; BigInt does the wide arithmetic.
 */

/** A finite long double, or an infinity. */
export interface LongDouble {
  neg: boolean;
  /** Mantissa, < 2^64 (0n for zero). */
  m: bigint;
  e: number;
  inf: boolean;
}

const MANT_BITS = 64;
/** Largest binary exponent of a finite long double (its maximum is just under 2^16384). */
const MAX_EXP2 = 16384;

function bitLength(x: bigint): number {
  return x === 0n ? 0 : x.toString(2).length;
}

/** Rounds |x| × 2^e (x ≥ 0) to 64 mantissa bits, half to even; `sticky` marks dropped nonzero bits below x. */
function round(neg: boolean, x: bigint, e: number, sticky = false): LongDouble {
  const bits = bitLength(x);
  if (bits > MANT_BITS) {
    const shift = bits - MANT_BITS;
    const half = 1n << BigInt(shift - 1);
    const rest = x & ((1n << BigInt(shift)) - 1n);
    let q = x >> BigInt(shift);
    if (rest > half || (rest === half && (sticky || (q & 1n) === 1n))) q += 1n;
    x = q;
    e += shift;
    if (bitLength(x) > MANT_BITS) {
      x >>= 1n;
      e += 1;
    }
  }
  if (x !== 0n && bitLength(x) + e > MAX_EXP2) return { neg, m: 0n, e: 0, inf: true };
  return { neg, m: x, e, inf: false };
}

const DECIMAL = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;
const HEX = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?$/;

/** Parses a float as strtold does for decimal, hex (0x1.8p3) and inf forms; null for anything else (and NaN). */
export function parseLongDouble(s: string): LongDouble | null {
  const lower = s.toLowerCase();
  const sign = lower.startsWith('-');
  const body = lower.replace(/^[+-]/, '');
  if (body === 'inf' || body === 'infinity') return { neg: sign, m: 0n, e: 0, inf: true };
  const h = HEX.exec(s);
  if (h !== null) {
    const digits = (h[2] ?? '') + (h[3] ?? '');
    if (digits === '') return null;
    const exp2 = Number(h[4] ?? '0') - 4 * (h[3] ?? '').length;
    return round(h[1] === '-', BigInt(`0x${digits}`), exp2);
  }
  const d = DECIMAL.exec(s);
  if (d === null) return null;
  const intPart = d[2] ?? '';
  const frac = d[3] ?? '';
  if (intPart === '' && frac === '') return null;
  const exp10 = Number(d[4] ?? '0') - frac.length;
  if (!Number.isFinite(exp10) || Math.abs(exp10) > 100000) return null;
  const n = BigInt((intPart + frac).replace(/^0+(?=\d)/, '') || '0');
  const neg = d[1] === '-';
  if (n === 0n) return { neg, m: 0n, e: 0, inf: false };
  if (exp10 >= 0) return round(neg, n * 10n ** BigInt(exp10), 0);
  const den = 10n ** BigInt(-exp10);
  // Scale so the quotient carries more than 64 bits, then round with the remainder as sticky.
  const k = Math.max(0, MANT_BITS + 2 - (bitLength(n) - bitLength(den)));
  const num = n << BigInt(k);
  return round(neg, num / den, -k, num % den !== 0n);
}

/** a + b, rounded once, as the x87 unit adds. */
export function addLongDouble(a: LongDouble, b: LongDouble): LongDouble {
  if (a.inf || b.inf) return { neg: a.inf ? a.neg : b.neg, m: 0n, e: 0, inf: true };
  if (a.m === 0n) return b;
  if (b.m === 0n) return a;
  const e = Math.min(a.e, b.e);
  const x = (a.neg ? -a.m : a.m) << BigInt(a.e - e);
  const y = (b.neg ? -b.m : b.m) << BigInt(b.e - e);
  const sum = x + y;
  return round(sum < 0n, sum < 0n ? -sum : sum, e);
}

/** True for an infinity (Redis refuses such results). */
export function isInfinite(v: LongDouble): boolean {
  return v.inf;
}

/** Formats as Redis's ld2string(LD_STR_HUMAN): "%.17Lf", trailing zeros and a bare "." dropped, "-0" → "0". */
export function formatLongDoubleHuman(v: LongDouble): string {
  const scale = 10n ** 17n;
  let r: bigint;
  if (v.e >= 0) r = (v.m << BigInt(v.e)) * scale;
  else {
    const num = v.m * scale;
    const sh = BigInt(-v.e);
    const q = num >> sh;
    const rem = num - (q << sh);
    const half = 1n << (sh - 1n);
    r = rem > half || (rem === half && (q & 1n) === 1n) ? q + 1n : q;
  }
  let digits = r.toString().padStart(18, '0');
  digits = `${digits.slice(0, -17)}.${digits.slice(-17)}`.replace(/0+$/, '').replace(/\.$/, '');
  const out = (v.neg ? '-' : '') + digits;
  return out === '-0' ? '0' : out;
}

/** Zero, the value of a missing key or field. */
export const LD_ZERO: LongDouble = { neg: false, m: 0n, e: 0, inf: false };

/** Bytes [s, s+n) as a long double as Redis's string2ld reads them (no spaces, no NaN, at most 5 KiB); null if invalid. */
export function parseLongDoubleBytes(buf: Uint8Array, s: number, n: number): LongDouble | null {
  if (n === 0 || n > 5 * 1024) return null;
  return parseLongDouble(Buffer.from(buf.buffer, buf.byteOffset + s, n).toString('latin1'));
}
