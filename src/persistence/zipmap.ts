/** Decoding of zipmaps, the small-hash encoding of RDB files from Redis < 2.6, which Redis 7.0 still loads. */
import { RdbError } from './rdb-error.js';

/** Decodes a zipmap into field/value pairs; `offset` locates errors in the file. */
export function decodeZipmap(zm: Uint8Array, offset: number): Array<[Uint8Array, Uint8Array]> {
  const fail = (why: string): never => {
    throw new RdbError('CORRUPT', `invalid zipmap: ${why}`, offset);
  };
  const dv = new DataView(zm.buffer, zm.byteOffset, zm.length);
  let p = 1;
  const readLen = (): number => {
    if (p >= zm.length) fail('runs past the end');
    const b = zm[p]!;
    if (b < 254) {
      p += 1;
      return b;
    }
    if (b === 254) {
      if (p + 5 > zm.length) fail('runs past the end');
      const n = dv.getUint32(p + 1, true);
      p += 5;
      return n;
    }
    return -1;
  };
  const take = (n: number): Uint8Array => {
    if (p + n > zm.length) fail('runs past the end');
    const s = zm.slice(p, p + n);
    p += n;
    return s;
  };
  const out: Array<[Uint8Array, Uint8Array]> = [];
  for (;;) {
    const klen = readLen();
    if (klen < 0) break;
    const field = take(klen);
    const vlen = readLen();
    if (vlen < 0) fail('field without a value');
    const free = take(1)[0]!;
    const value = take(vlen);
    take(free);
    out.push([field, value]);
  }
  if (p !== zm.length - 1) fail('bytes after the terminator');
  return out;
}
