/** Buffered reading of RDB primitives (lengths, strings, doubles) from a byte array or a file descriptor, with a running CRC-64. */
import { fstatSync, readSync } from 'node:fs';
import { Crc64 } from './crc64.js';
import { RdbError } from './rdb-error.js';
import { lzfDecompress } from './lzf.js';
import { intToBytes, parseScore } from './int-string.js';

const CHUNK = 1 << 20;

/** Sequential reader over an RDB byte stream; every primitive it returns is a fresh copy. */
export class RdbInput {
  private buf: Uint8Array;
  private view: DataView;
  private pos = 0;
  private end: number;
  /** Absolute file offset of buf[0]. */
  private base = 0;
  /** Position in buf up to which bytes were fed to the CRC. */
  private crcPos = 0;
  private readonly crc = new Crc64();
  private eof: boolean;
  /** Total bytes available, so a corrupt length fails as truncation instead of allocating gigabytes. */
  private readonly size: number;

  /** Reads `source` whole when it is bytes, or a file descriptor from its start. */
  constructor(private readonly source: Uint8Array | number) {
    if (typeof source === 'number') {
      this.size = fstatSync(source).size;
      this.buf = new Uint8Array(Math.min(CHUNK, Math.max(this.size, 1)));
      this.end = 0;
      this.eof = false;
    } else {
      // A plain view, so slices of a Buffer come out as plain Uint8Arrays too.
      this.buf = new Uint8Array(source.buffer, source.byteOffset, source.length);
      this.end = source.length;
      this.size = source.length;
      this.eof = true;
    }
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  }

  /** Absolute offset of the next unread byte. */
  get offset(): number {
    return this.base + this.pos;
  }

  private fill(n: number): void {
    if (this.end - this.pos >= n) return;
    if (this.eof || this.offset + n > this.size) {
      throw new RdbError('TRUNCATED', `unexpected end of data, needed ${n} more bytes`, this.offset);
    }
    this.crc.update(this.buf.subarray(this.crcPos, this.pos));
    const keep = this.end - this.pos;
    const size = Math.min(Math.max(CHUNK, n * 2), Math.max(this.size - this.base - this.pos, n));
    const next = size > this.buf.length ? new Uint8Array(size) : this.buf;
    if (next === this.buf) next.copyWithin(0, this.pos, this.end);
    else next.set(this.buf.subarray(this.pos, this.end));
    this.base += this.pos;
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.length);
    this.pos = 0;
    this.crcPos = 0;
    this.end = keep;
    while (this.end - this.pos < n) {
      const got = readSync(this.source as number, this.buf, this.end, this.buf.length - this.end, this.base + this.end);
      if (got === 0) {
        this.eof = true;
        throw new RdbError('TRUNCATED', `unexpected end of data, needed ${n} more bytes`, this.offset);
      }
      this.end += got;
    }
  }

  /** True when no byte is left. */
  atEnd(): boolean {
    return this.offset >= this.size;
  }

  /** The little-endian CRC-64 of every byte consumed so far. */
  checksumSoFar(): Uint8Array {
    this.crc.update(this.buf.subarray(this.crcPos, this.pos));
    this.crcPos = this.pos;
    return this.crc.digestLE();
  }

  u8(): number {
    this.fill(1);
    return this.buf[this.pos++]!;
  }

  bytes(n: number): Uint8Array {
    this.fill(n);
    const out = this.buf.slice(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  u32le(): number {
    this.fill(4);
    const v = this.view.getUint32(this.pos, true);
    this.pos += 4;
    return v;
  }

  i64le(): bigint {
    this.fill(8);
    const v = this.view.getBigInt64(this.pos, true);
    this.pos += 8;
    return v;
  }

  f64le(): number {
    this.fill(8);
    const v = this.view.getFloat64(this.pos, true);
    this.pos += 8;
    return v;
  }

  /** An RDB length; the special-encoding forms are refused here (readString handles them). */
  length(): number {
    const at = this.offset;
    const b = this.u8();
    const kind = b >> 6;
    if (kind === 0) return b & 0x3f;
    if (kind === 1) return ((b & 0x3f) << 8) | this.u8();
    if (b === 0x80) {
      this.fill(4);
      const v = this.view.getUint32(this.pos, false);
      this.pos += 4;
      return v;
    }
    if (b === 0x81) {
      this.fill(8);
      const v = this.view.getBigUint64(this.pos, false);
      this.pos += 8;
      if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new RdbError('CORRUPT', 'length too large', at);
      return Number(v);
    }
    throw new RdbError('CORRUPT', `invalid length encoding 0x${b.toString(16)}`, at);
  }

  /** An RDB length as a u64 (stream ids and counters may use all 64 bits). */
  lengthBig(): bigint {
    this.fill(1);
    const b = this.buf[this.pos];
    if (b === 0x81) {
      this.pos++;
      this.fill(8);
      const v = this.view.getBigUint64(this.pos, false);
      this.pos += 8;
      return v;
    }
    return BigInt(this.length());
  }

  /** An RDB string: plain, integer-encoded (returned as decimal bytes) or LZF-compressed. */
  string(): Uint8Array {
    const at = this.offset;
    this.fill(1);
    const b = this.buf[this.pos]!;
    if (b >> 6 !== 3) return this.bytes(this.length());
    this.pos++;
    switch (b & 0x3f) {
      case 0: {
        this.fill(1);
        return intToBytes(this.view.getInt8(this.pos++));
      }
      case 1: {
        this.fill(2);
        const v = this.view.getInt16(this.pos, true);
        this.pos += 2;
        return intToBytes(v);
      }
      case 2: {
        this.fill(4);
        const v = this.view.getInt32(this.pos, true);
        this.pos += 4;
        return intToBytes(v);
      }
      case 3: {
        const clen = this.length();
        const len = this.length();
        const data = this.bytes(clen);
        return lzfDecompress(data, len, at);
      }
      default:
        throw new RdbError('CORRUPT', `unknown string encoding 0x${b.toString(16)}`, at);
    }
  }

  /** A score in the pre-ZSET_2 text form: length byte (253 NaN, 254 +inf, 255 -inf) then ASCII. */
  textDouble(): number {
    const at = this.offset;
    const n = this.u8();
    if (n === 253) return NaN;
    if (n === 254) return Infinity;
    if (n === 255) return -Infinity;
    const v = parseScore(this.bytes(n));
    if (v === null) throw new RdbError('CORRUPT', 'invalid double', at);
    return v;
  }
}
