/** Decoding of ziplists, the compact encoding RDB files before version 10 (Redis < 7.0) used; Redis 7.0 still loads them. */
import { RdbError } from './rdb-error.js';
import { intToBytes } from './int-string.js';

/** Decodes a ziplist into its elements (integers as decimal bytes); `offset` locates errors in the file. */
export function decodeZiplist(zl: Uint8Array, offset: number): Uint8Array[] {
  const fail = (why: string): never => {
    throw new RdbError('CORRUPT', `invalid ziplist: ${why}`, offset);
  };
  if (zl.length < 11) fail('shorter than its header');
  const dv = new DataView(zl.buffer, zl.byteOffset, zl.length);
  if (dv.getUint32(0, true) !== zl.length) fail('total-bytes header does not match its length');
  const declared = dv.getUint16(8, true);
  const out: Uint8Array[] = [];
  let p = 10;
  const need = (n: number): void => {
    if (p + n > zl.length) fail('entry runs past the end');
  };
  for (;;) {
    need(1);
    if (zl[p] === 0xff) break;
    p += zl[p] === 0xfe ? 5 : 1;
    need(1);
    const enc = zl[p]!;
    if (enc >> 6 === 0) {
      const n = enc & 0x3f;
      need(1 + n);
      out.push(zl.slice(p + 1, p + 1 + n));
      p += 1 + n;
    } else if (enc >> 6 === 1) {
      need(2);
      const n = ((enc & 0x3f) << 8) | zl[p + 1]!;
      need(2 + n);
      out.push(zl.slice(p + 2, p + 2 + n));
      p += 2 + n;
    } else if (enc === 0x80) {
      need(5);
      const n = dv.getUint32(p + 1, false);
      need(5 + n);
      out.push(zl.slice(p + 5, p + 5 + n));
      p += 5 + n;
    } else if (enc === 0xc0) {
      need(3);
      out.push(intToBytes(dv.getInt16(p + 1, true)));
      p += 3;
    } else if (enc === 0xd0) {
      need(5);
      out.push(intToBytes(dv.getInt32(p + 1, true)));
      p += 5;
    } else if (enc === 0xe0) {
      need(9);
      out.push(intToBytes(dv.getBigInt64(p + 1, true)));
      p += 9;
    } else if (enc === 0xf0) {
      need(4);
      const u = zl[p + 1]! | (zl[p + 2]! << 8) | (zl[p + 3]! << 16);
      out.push(intToBytes((u << 8) >> 8));
      p += 4;
    } else if (enc === 0xfe) {
      need(2);
      out.push(intToBytes(dv.getInt8(p + 1)));
      p += 2;
    } else if (enc >= 0xf1 && enc <= 0xfd) {
      out.push(intToBytes((enc & 0x0f) - 1));
      p += 1;
    } else {
      fail(`unknown entry encoding 0x${enc.toString(16)}`);
    }
  }
  if (p !== zl.length - 1) fail('bytes after the terminator');
  if (declared !== 65535 && declared !== out.length) fail('element count header does not match');
  return out;
}
