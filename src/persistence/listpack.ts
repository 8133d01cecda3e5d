/** Redis listpacks (the compact encoding inside quicklist nodes, small hashes and small sorted sets): encode and decode. */
import { ByteWriter } from './byte-writer.js';
import { RdbError } from './rdb-error.js';
import { intToBytes, parseCanonicalInt } from './int-string.js';

const HEADER = 6;
const EOF_BYTE = 0xff;

function backlenSize(l: number): number {
  if (l <= 127) return 1;
  if (l < 16383) return 2;
  if (l < 2097151) return 3;
  if (l < 268435455) return 4;
  return 5;
}

function writeBacklen(w: ByteWriter, l: number): void {
  const n = backlenSize(l);
  // Most significant 7-bit group first; every byte but the first carries the continuation bit.
  for (let i = n - 1; i >= 0; i--) {
    const group = Math.floor(l / 2 ** (7 * i)) & 127;
    w.u8(i === n - 1 ? group : group | 128);
  }
}

function writeInt(w: ByteWriter, v: bigint): number {
  if (v >= 0n && v <= 127n) {
    w.u8(Number(v));
    return 1;
  }
  if (v >= -4096n && v <= 4095n) {
    const u = Number(v < 0n ? (1n << 13n) + v : v);
    w.u8((u >> 8) | 0xc0);
    w.u8(u & 0xff);
    return 2;
  }
  if (v >= -32768n && v <= 32767n) {
    const u = Number(BigInt.asUintN(16, v));
    w.u8(0xf1);
    w.u8(u & 0xff);
    w.u8(u >> 8);
    return 3;
  }
  if (v >= -8388608n && v <= 8388607n) {
    const u = Number(BigInt.asUintN(24, v));
    w.u8(0xf2);
    w.u8(u & 0xff);
    w.u8((u >> 8) & 0xff);
    w.u8(u >> 16);
    return 4;
  }
  if (v >= -2147483648n && v <= 2147483647n) {
    w.u8(0xf3);
    w.u32le(Number(BigInt.asUintN(32, v)));
    return 5;
  }
  w.u8(0xf4);
  w.i64le(v);
  return 9;
}

function writeString(w: ByteWriter, s: Uint8Array): number {
  const n = s.length;
  let head: number;
  if (n < 64) {
    w.u8(0x80 | n);
    head = 1;
  } else if (n < 4096) {
    w.u8((n >> 8) | 0xe0);
    w.u8(n & 0xff);
    head = 2;
  } else {
    w.u8(0xf0);
    w.u32le(n);
    head = 5;
  }
  w.bytes(s);
  return head + n;
}

/** Bytes one element takes in a listpack (encoding, data and back-length), for node-size decisions. */
export function listpackEntrySize(s: Uint8Array): number {
  const v = parseCanonicalInt(s);
  let l: number;
  if (v !== null) {
    l =
      v >= 0n && v <= 127n
        ? 1
        : v >= -4096n && v <= 4095n
          ? 2
          : v >= -32768n && v <= 32767n
            ? 3
            : v >= -8388608n && v <= 8388607n
              ? 4
              : v >= -2147483648n && v <= 2147483647n
                ? 5
                : 9;
  } else {
    l = s.length + (s.length < 64 ? 1 : s.length < 4096 ? 2 : 5);
  }
  return l + backlenSize(l);
}

/** Encodes elements as a listpack; elements that spell an int64 exactly use integer encodings, as Redis does. */
export function encodeListpack(elements: readonly Uint8Array[]): Uint8Array {
  const w = new ByteWriter(HEADER + 1 + elements.length * 8);
  w.u32le(0);
  w.u16le(elements.length < 65535 ? elements.length : 65535);
  for (const e of elements) {
    const v = parseCanonicalInt(e);
    const l = v !== null ? writeInt(w, v) : writeString(w, e);
    writeBacklen(w, l);
  }
  w.u8(EOF_BYTE);
  w.patchU32le(0, w.length);
  return w.take();
}

/** Decodes a listpack into its elements (integers as their decimal bytes); `offset` locates errors in the file. */
export function decodeListpack(lp: Uint8Array, offset: number): Uint8Array[] {
  const fail = (why: string): never => {
    throw new RdbError('CORRUPT', `invalid listpack: ${why}`, offset);
  };
  if (lp.length < HEADER + 1) fail('shorter than its header');
  const dv = new DataView(lp.buffer, lp.byteOffset, lp.length);
  if (dv.getUint32(0, true) !== lp.length) fail('total-bytes header does not match its length');
  const declared = dv.getUint16(4, true);
  const out: Uint8Array[] = [];
  let p = HEADER;
  for (;;) {
    if (p >= lp.length) fail('missing terminator');
    const b = lp[p]!;
    if (b === EOF_BYTE) break;
    const start = p;
    const need = (n: number): void => {
      if (p + n > lp.length) fail('entry runs past the end');
    };
    if (b < 0x80) {
      out.push(intToBytes(b));
      p += 1;
    } else if ((b & 0xc0) === 0x80) {
      const n = b & 0x3f;
      need(1 + n);
      out.push(lp.slice(p + 1, p + 1 + n));
      p += 1 + n;
    } else if ((b & 0xe0) === 0xc0) {
      need(2);
      const u = ((b & 0x1f) << 8) | lp[p + 1]!;
      out.push(intToBytes(u >= 4096 ? u - 8192 : u));
      p += 2;
    } else if ((b & 0xf0) === 0xe0) {
      need(2);
      const n = ((b & 0x0f) << 8) | lp[p + 1]!;
      need(2 + n);
      out.push(lp.slice(p + 2, p + 2 + n));
      p += 2 + n;
    } else if (b === 0xf0) {
      need(5);
      const n = dv.getUint32(p + 1, true);
      need(5 + n);
      out.push(lp.slice(p + 5, p + 5 + n));
      p += 5 + n;
    } else if (b === 0xf1) {
      need(3);
      out.push(intToBytes(dv.getInt16(p + 1, true)));
      p += 3;
    } else if (b === 0xf2) {
      need(4);
      const u = lp[p + 1]! | (lp[p + 2]! << 8) | (lp[p + 3]! << 16);
      out.push(intToBytes((u << 8) >> 8));
      p += 4;
    } else if (b === 0xf3) {
      need(5);
      out.push(intToBytes(dv.getInt32(p + 1, true)));
      p += 5;
    } else if (b === 0xf4) {
      need(9);
      out.push(intToBytes(dv.getBigInt64(p + 1, true)));
      p += 9;
    } else {
      fail(`unknown entry encoding 0x${b.toString(16)}`);
    }
    p += backlenSize(p - start);
  }
  if (p !== lp.length - 1) fail('bytes after the terminator');
  if (declared !== 65535 && declared !== out.length) fail('element count header does not match');
  return out;
}
