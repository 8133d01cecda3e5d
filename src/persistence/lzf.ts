/**
 * LZF (liblzf's format) as Redis uses it for strings when rdbcompression is on. Written here rather than
 * taken from lzfjs, the only pure-JS package: its decompressor builds a JS array byte by byte (~7 MB/s)
 * and its compressor allocates and zeroes a 256 KiB table per call, which a 1M-key snapshot cannot afford.
 * lzfjs stays the tests' independent reference, and real Redis loads what this writes.
 */
import { RdbError } from './rdb-error.js';

const HLOG = 16;
const HSIZE = 1 << HLOG;
const MAX_LIT = 1 << 5;
const MAX_OFF = 1 << 13;
const MAX_REF = (1 << 8) + (1 << 3);

// Reused across calls without clearing: a stale slot only suggests a match, which is verified byte by byte.
const htab = new Int32Array(HSIZE);
let scratch = new Uint8Array(1024);

const idx = (h: number): number => (Math.imul(h, 0x1e35a7bd) >>> (32 - HLOG - 8)) & (HSIZE - 1);

/** lzf_compress: writes at most `outLen` bytes into `out`; returns the length, or 0 when it does not fit. */
function compressInto(input: Uint8Array, out: Uint8Array, outLen: number): number {
  const inEnd = input.length;
  if (inEnd === 0 || outLen === 0) return 0;
  let ip = 0;
  let op = 1;
  let lit = 0;
  let hval = (input[0]! << 8) | input[1]!;
  while (ip < inEnd - 2) {
    hval = ((hval << 8) | input[ip + 2]!) >>> 0;
    const slot = idx(hval);
    const ref = htab[slot]!;
    htab[slot] = ip;
    const off = ip - ref - 1;
    if (
      ref < ip &&
      ref > 0 &&
      off < MAX_OFF &&
      input[ref] === input[ip] &&
      input[ref + 1] === input[ip + 1] &&
      input[ref + 2] === input[ip + 2]
    ) {
      let len = 2;
      const maxlen = Math.min(inEnd - ip - len, MAX_REF);
      if (op - (lit === 0 ? 1 : 0) + 3 + 1 >= outLen) return 0;
      out[op - lit - 1] = lit - 1;
      if (lit === 0) op--;
      do len++;
      while (len < maxlen && input[ref + len] === input[ip + len]);
      len -= 2;
      ip++;
      if (len < 7) out[op++] = (off >> 8) + (len << 5);
      else {
        out[op++] = (off >> 8) + (7 << 5);
        out[op++] = len - 7;
      }
      out[op++] = off & 0xff;
      lit = 0;
      op++;
      ip += len + 1;
      if (ip >= inEnd - 2) break;
      ip -= 2;
      hval = (input[ip]! << 8) | input[ip + 1]!;
      hval = ((hval << 8) | input[ip + 2]!) >>> 0;
      htab[idx(hval)] = ip++;
      hval = ((hval << 8) | input[ip + 2]!) >>> 0;
      htab[idx(hval)] = ip++;
    } else {
      if (op >= outLen) return 0;
      lit++;
      out[op++] = input[ip++]!;
      if (lit === MAX_LIT) {
        out[op - lit - 1] = lit - 1;
        lit = 0;
        op++;
      }
    }
  }
  if (op + 3 > outLen) return 0;
  while (ip < inEnd) {
    lit++;
    out[op++] = input[ip++]!;
    if (lit === MAX_LIT) {
      out[op - lit - 1] = lit - 1;
      lit = 0;
      op++;
    }
  }
  out[op - lit - 1] = lit - 1;
  if (lit === 0) op--;
  return op;
}

/** Compresses `data` when that saves at least 4 bytes (Redis's rule), else returns null. */
export function lzfCompress(data: Uint8Array): Uint8Array | null {
  if (data.length <= 4) return null;
  const limit = data.length - 4;
  if (scratch.length < limit + 1) scratch = new Uint8Array(Math.max(limit + 1, scratch.length * 2));
  const n = compressInto(data, scratch, limit);
  return n === 0 ? null : scratch.slice(0, n);
}

/** lzf_decompress with input checking: the block must expand to exactly `expectedLength` bytes. */
export function lzfDecompress(data: Uint8Array, expectedLength: number, offset: number): Uint8Array {
  const bad = (why: string): never => {
    throw new RdbError('CORRUPT', `invalid LZF-compressed string: ${why}`, offset);
  };
  // A 3-byte back reference expands to at most 264 bytes: a larger claim is corrupt, not worth allocating.
  if (expectedLength > data.length * 88 + 32) bad(`claims ${expectedLength} bytes from ${data.length}`);
  const out = new Uint8Array(expectedLength);
  const inEnd = data.length;
  let ip = 0;
  let op = 0;
  while (ip < inEnd) {
    let ctrl = data[ip++]!;
    if (ctrl < 32) {
      ctrl++;
      if (op + ctrl > expectedLength) bad('expands past its stated length');
      if (ip + ctrl > inEnd) bad('literal run past the end');
      out.set(data.subarray(ip, ip + ctrl), op);
      op += ctrl;
      ip += ctrl;
    } else {
      let len = ctrl >> 5;
      let ref = op - ((ctrl & 0x1f) << 8) - 1;
      if (ip >= inEnd) bad('back reference past the end');
      if (len === 7) {
        len += data[ip++]!;
        if (ip >= inEnd) bad('back reference past the end');
      }
      ref -= data[ip++]!;
      if (op + len + 2 > expectedLength) bad('expands past its stated length');
      if (ref < 0) bad('back reference before the start');
      len += 2;
      // Byte by byte: source and destination may overlap (a run repeating its own output).
      do out[op++] = out[ref++]!;
      while (--len);
    }
  }
  if (op !== expectedLength) bad(`expanded to ${op} bytes, expected ${expectedLength}`);
  return out;
}
