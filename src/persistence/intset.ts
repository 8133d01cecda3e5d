/** Redis intsets (sorted integer arrays, the encoding of small all-integer sets): encode and decode. */
import { ByteWriter } from './byte-writer.js';
import { RdbError } from './rdb-error.js';
import { intToBytes } from './int-string.js';

/** Encodes distinct int64 values as an intset with the narrowest width that holds them all. */
export function encodeIntset(values: readonly bigint[]): Uint8Array {
  const sorted = [...values].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  let width = 2;
  for (const v of sorted) {
    if (v < -2147483648n || v > 2147483647n) width = 8;
    else if ((v < -32768n || v > 32767n) && width < 4) width = 4;
  }
  const w = new ByteWriter(8 + sorted.length * width);
  w.u32le(width);
  w.u32le(sorted.length);
  for (const v of sorted) {
    if (width === 8) w.i64le(v);
    else if (width === 4) w.u32le(Number(BigInt.asUintN(32, v)));
    else {
      const u = Number(BigInt.asUintN(16, v));
      w.u8(u & 0xff);
      w.u8(u >> 8);
    }
  }
  return w.take();
}

/** Decodes an intset into its members as decimal bytes; `offset` locates errors in the file. */
export function decodeIntset(is: Uint8Array, offset: number): Uint8Array[] {
  if (is.length < 8) throw new RdbError('CORRUPT', 'invalid intset: shorter than its header', offset);
  const dv = new DataView(is.buffer, is.byteOffset, is.length);
  const width = dv.getUint32(0, true);
  const count = dv.getUint32(4, true);
  if ((width !== 2 && width !== 4 && width !== 8) || 8 + width * count !== is.length) {
    throw new RdbError('CORRUPT', 'invalid intset: bad encoding or length', offset);
  }
  const out: Uint8Array[] = [];
  for (let i = 0; i < count; i++) {
    const at = 8 + i * width;
    const v = width === 2 ? dv.getInt16(at, true) : width === 4 ? dv.getInt32(at, true) : dv.getBigInt64(at, true);
    out.push(intToBytes(v));
  }
  return out;
}
