/** LZF as Redis uses it for strings (rdbcompression yes), via the lzfjs port of liblzf. */
import lzfjs from 'lzfjs';
import { RdbError } from './rdb-error.js';

/** Compresses `data` when that saves at least 4 bytes (Redis's rule), else returns null. */
export function lzfCompress(data: Uint8Array): Uint8Array | null {
  if (data.length <= 4) return null;
  const out = lzfjs.compress(data);
  return out.length <= data.length - 4 ? out : null;
}

/** Decompresses an LZF block that must expand to exactly `expectedLength` bytes. */
export function lzfDecompress(data: Uint8Array, expectedLength: number, offset: number): Uint8Array {
  let out: Uint8Array;
  try {
    out = lzfjs.decompress(data);
  } catch {
    throw new RdbError('CORRUPT', 'invalid LZF-compressed string', offset);
  }
  if (out.length !== expectedLength) {
    throw new RdbError('CORRUPT', `LZF string expanded to ${out.length} bytes, expected ${expectedLength}`, offset);
  }
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}
