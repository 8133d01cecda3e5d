/** Conversions between integers and their decimal bytes, with Redis's string2ll rules for what counts as one. */

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

/**
 * The int64 that `bytes` spell exactly (no sign other than a leading '-', no leading zeros, no "-0"),
 * or null. Only such strings may be stored in integer encodings and read back unchanged.
 */
export function parseCanonicalInt(bytes: Uint8Array): bigint | null {
  const n = bytes.length;
  if (n === 0 || n > 20) return null;
  let i = 0;
  const negative = bytes[0] === 0x2d;
  if (negative) {
    i = 1;
    if (n === 1) return null;
  }
  if (bytes[i] === 0x30) return n === 1 ? 0n : null;
  let v = 0n;
  for (; i < n; i++) {
    const c = bytes[i]! - 0x30;
    if (c < 0 || c > 9) return null;
    v = v * 10n + BigInt(c);
  }
  if (negative) v = -v;
  return v < INT64_MIN || v > INT64_MAX ? null : v;
}

/** Decimal ASCII bytes of an integer. */
export function intToBytes(v: number | bigint): Uint8Array {
  const s = v.toString();
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** ASCII bytes of a short string (RDB aux values, command names). */
export function asciiBytes(s: string): Uint8Array {
  return encoder.encode(s);
}

/** Parses a sorted-set score stored as text the way Redis's strtod does, including inf/-inf; null when invalid. */
export function parseScore(bytes: Uint8Array): number | null {
  const s = decoder.decode(bytes).trim().toLowerCase();
  if (s === 'inf' || s === '+inf' || s === 'infinity' || s === '+infinity') return Infinity;
  if (s === '-inf' || s === '-infinity') return -Infinity;
  if (s === '' || s === 'nan') return null;
  const v = Number(s);
  return Number.isNaN(v) ? null : v;
}

/** Text of a score that Redis's strtod reads back to the same double. */
export function formatScore(score: number): string {
  if (score === Infinity) return 'inf';
  if (score === -Infinity) return '-inf';
  if (Object.is(score, -0)) return '-0';
  return String(score);
}
