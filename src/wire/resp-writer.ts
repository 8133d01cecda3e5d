/**
 * RESP2/RESP3 reply encoder into one growable, reused byte buffer.
 *
 * Integers and lengths are written digit by digit, so no JS string is built for them.
 * The same writer serves the acceptor (local replies) and the shards (reply frames).
 */

import { copyBytes } from './bytes.js';

const CRLF_CR = 13;
const CRLF_LF = 10;

/** "00".."99": two digits per division when writing numbers. */
const DIGIT_PAIRS = new Uint8Array(200);
for (let i = 0; i < 100; i++) {
  DIGIT_PAIRS[2 * i] = 48 + ((i / 10) | 0);
  DIGIT_PAIRS[2 * i + 1] = 48 + (i % 10);
}

/** Decimal digits of a non-negative int32. */
function digitCount(m: number): number {
  if (m < 100000) return m < 100 ? (m < 10 ? 1 : 2) : m < 1000 ? 3 : m < 10000 ? 4 : 5;
  return m < 10000000 ? (m < 1000000 ? 6 : 7) : m < 100000000 ? 8 : m < 1000000000 ? 9 : 10;
}

/** Writes the digits of non-negative int32 `m` so that they end just before `e`. */
function fillDigits(b: Uint8Array, e: number, m: number): void {
  while (m >= 100) {
    const q = (m / 100) | 0;
    const r = (m - q * 100) << 1;
    b[--e] = DIGIT_PAIRS[r + 1]!;
    b[--e] = DIGIT_PAIRS[r]!;
    m = q;
  }
  if (m >= 10) {
    b[--e] = DIGIT_PAIRS[(m << 1) + 1]!;
    b[--e] = DIGIT_PAIRS[m << 1]!;
  } else b[--e] = 48 + m;
}

/**
 * Writes the decimal digits of an integer (|n| < 2^53) at `p`; returns the position after
 * them. Counts the digits first and fills them from the end, two per 32-bit division: past 2^31
 * (millisecond timestamps, BullMQ's scores) one float division splits off the low 8 digits, where
 * a float division per digit cost ~90 ns for 16 digits.
 */
export function writeDigits(b: Uint8Array, p: number, n: number): number {
  if (n < 0) {
    b[p++] = 45;
    n = -n;
  }
  if (n < 10) {
    b[p] = 48 + n;
    return p + 1;
  }
  if (n <= 0x7fffffff) {
    const end = p + digitCount(n);
    fillDigits(b, end, n | 0);
    return end;
  }
  // n < 2^53, so hi < 2^27 and hi * 1e8 is exact.
  const hi = Math.floor(n / 1e8);
  let lo = (n - hi * 1e8) | 0;
  const end = p + digitCount(hi) + 8;
  let e = end;
  for (let k = 0; k < 4; k++) {
    const q = (lo / 100) | 0;
    const r = (lo - q * 100) << 1;
    b[--e] = DIGIT_PAIRS[r + 1]!;
    b[--e] = DIGIT_PAIRS[r]!;
    lo = q;
  }
  fillDigits(b, e, hi);
  return end;
}

/** A growable reply buffer; `bytes.subarray(0, len)` is what was written. */
export class RespWriter {
  bytes: Uint8Array;
  len = 0;
  /** 3 after HELLO 3: changes nulls, maps, sets, doubles and pushes. */
  proto: 2 | 3 = 2;

  constructor(initial = 4096) {
    this.bytes = new Uint8Array(initial);
  }

  /** Makes room for `n` more bytes. */
  ensure(n: number): void {
    const need = this.len + n;
    if (need <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < need) size *= 2;
    const b = new Uint8Array(size);
    b.set(this.bytes.subarray(0, this.len));
    this.bytes = b;
  }

  /** Forgets everything written; keeps the memory (shrinking it if a huge reply grew it). */
  reset(): void {
    this.len = 0;
    if (this.bytes.length > 1 << 22) this.bytes = new Uint8Array(4096);
  }

  /** Hands the written bytes' buffer over (someone else keeps it now) and starts an empty one of `initial` bytes. */
  detach(initial: number): void {
    this.bytes = new Uint8Array(initial);
    this.len = 0;
  }

  /** Appends raw bytes. */
  raw(src: Uint8Array, start: number, length: number): void {
    this.ensure(length);
    copyBytes(this.bytes, this.len, src, start, length);
    this.len += length;
  }

  /** Appends an ASCII/Latin-1 string as bytes. */
  ascii(s: string): void {
    const n = s.length;
    this.ensure(n);
    const b = this.bytes;
    let p = this.len;
    for (let i = 0; i < n; i++) b[p++] = s.charCodeAt(i);
    this.len = p;
  }

  private crlf(): void {
    this.bytes[this.len++] = CRLF_CR;
    this.bytes[this.len++] = CRLF_LF;
  }

  /** Writes the decimal digits of an integer (|n| < 2^53). */
  digits(n: number): void {
    this.ensure(22);
    this.len = writeDigits(this.bytes, this.len, n);
  }

  private header(type: number, n: number): void {
    this.ensure(24);
    const b = this.bytes;
    b[this.len] = type;
    const p = writeDigits(b, this.len + 1, n);
    b[p] = CRLF_CR;
    b[p + 1] = CRLF_LF;
    this.len = p + 2;
  }

  /** +OK style status. */
  simple(s: string): void {
    this.ensure(s.length + 3);
    this.bytes[this.len++] = 43;
    this.ascii(s);
    this.crlf();
  }

  /** Pre-encoded constant reply. */
  constant(c: Uint8Array): void {
    this.ensure(c.length);
    this.bytes.set(c, this.len);
    this.len += c.length;
  }

  /** -ERR style error; the text must not contain CR or LF. */
  error(text: string): void {
    const b = Buffer.from(text, 'utf8');
    this.ensure(b.length + 3);
    this.bytes[this.len++] = 45;
    this.bytes.set(b, this.len);
    this.len += b.length;
    this.crlf();
  }

  /** :N integer. */
  int(n: number): void {
    this.header(58, n);
  }

  /** Bulk string from a span of bytes. */
  bulk(src: Uint8Array, start: number, length: number): void {
    this.ensure(length + 24);
    const b = this.bytes;
    b[this.len] = 36;
    let p = writeDigits(b, this.len + 1, length);
    b[p++] = CRLF_CR;
    b[p++] = CRLF_LF;
    copyBytes(b, p, src, start, length);
    p += length;
    b[p++] = CRLF_CR;
    b[p++] = CRLF_LF;
    this.len = p;
  }

  /** Bulk string of a JS string (UTF-8). */
  bulkString(s: string): void {
    const b = Buffer.from(s, 'utf8');
    this.bulk(b, 0, b.length);
  }

  /** Bulk string holding the decimal form of an integer. */
  bulkInt(n: number): void {
    const start = this.len;
    this.ensure(26);
    this.len += 4;
    const digitsAt = this.len;
    this.digits(n);
    const digitLen = this.len - digitsAt;
    // Shift the digits left so the header is exact ("$<len>\r\n").
    const header = `$${digitLen}\r\n`;
    this.bytes.copyWithin(start + header.length, digitsAt, this.len);
    for (let i = 0; i < header.length; i++) this.bytes[start + i] = header.charCodeAt(i);
    this.len = start + header.length + digitLen;
    this.crlf();
  }

  /** The null bulk string ($-1 in RESP2, _ in RESP3). */
  nullBulk(): void {
    this.constant(this.proto === 3 ? NULL3 : NULL_BULK2);
  }

  /** The null array (*-1 in RESP2, _ in RESP3). */
  nullArray(): void {
    this.constant(this.proto === 3 ? NULL3 : NULL_ARRAY2);
  }

  /** *N array header. */
  arrayHeader(n: number): void {
    this.header(42, n);
  }

  /** %N map header in RESP3, *2N array header in RESP2. */
  mapHeader(n: number): void {
    if (this.proto === 3) this.header(37, n);
    else this.header(42, n * 2);
  }

  /** ~N set header in RESP3, *N in RESP2. */
  setHeader(n: number): void {
    this.header(this.proto === 3 ? 126 : 42, n);
  }

  /** >N push header in RESP3, *N in RESP2. */
  pushHeader(n: number): void {
    this.header(this.proto === 3 ? 62 : 42, n);
  }

  /** A double (scores): RESP3 `,` type, RESP2 bulk string, formatted like C's %.17g. */
  double(d: number): void {
    const s = formatDouble17(d);
    if (this.proto === 3) {
      this.ensure(s.length + 3);
      this.bytes[this.len++] = 44;
      this.ascii(s);
      this.crlf();
    } else {
      this.bulkString(s);
    }
  }

  /** Boolean: RESP3 #t/#f, RESP2 :1/:0. */
  bool(v: boolean): void {
    if (this.proto === 3) this.constant(v ? TRUE3 : FALSE3);
    else this.int(v ? 1 : 0);
  }

  /** Verbatim text (RESP3 `=` with txt:, RESP2 bulk) as INFO and CLIENT INFO reply. */
  verbatim(s: string): void {
    if (this.proto !== 3) {
      this.bulkString(s);
      return;
    }
    const b = Buffer.from(s, 'utf8');
    this.header(61, b.length + 4);
    this.ascii('txt:');
    this.raw(b, 0, b.length);
    this.ensure(2);
    this.crlf();
  }
}

const enc = (s: string): Uint8Array => Buffer.from(s, 'latin1');
const NULL3 = enc('_\r\n');
const NULL_BULK2 = enc('$-1\r\n');
const NULL_ARRAY2 = enc('*-1\r\n');
const TRUE3 = enc('#t\r\n');
const FALSE3 = enc('#f\r\n');

/** Common constant replies. */
export const R_OK = enc('+OK\r\n');
export const R_PONG = enc('+PONG\r\n');
export const R_QUEUED = enc('+QUEUED\r\n');
export const R_EMPTY_ARRAY = enc('*0\r\n');

/**
 * Formats a double as C's `%.17g`, which Redis 7.0 uses for scores and RESP3 doubles
 * (so 1.1 reads back as "1.1000000000000001", as real Redis 7.0 answers).
 */
export function formatDouble17(d: number): string {
  if (d === Infinity) return 'inf';
  if (d === -Infinity) return '-inf';
  if (Number.isNaN(d)) return 'nan';
  if (d === 0) return Object.is(d, -0) ? '-0' : '0';
  // Safe integers have at most 16 digits: "%.17g" prints them exactly, as String does.
  if (Number.isSafeInteger(d)) return String(d);
  const e = d.toExponential(16);
  const ei = e.indexOf('e');
  const exp = Number(e.slice(ei + 1));
  if (exp < -4 || exp >= 17) {
    const mant = e.slice(0, ei).replace(/\.?0+$/, '');
    const ax = Math.abs(exp);
    return `${mant}e${exp < 0 ? '-' : '+'}${ax < 10 ? '0' : ''}${ax}`;
  }
  const f = d.toFixed(16 - exp);
  return f.indexOf('.') === -1 ? f : f.replace(/\.?0+$/, '');
}
