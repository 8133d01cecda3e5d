/** A growable byte buffer the encoders append to; the owner drains it in chunks. */

/** Appends little- and big-endian fields to one growing buffer. */
export class ByteWriter {
  private buf: Uint8Array;
  private view: DataView;
  length = 0;

  constructor(initial = 4096) {
    this.buf = new Uint8Array(initial);
    this.view = new DataView(this.buf.buffer);
  }

  private ensure(extra: number): void {
    const need = this.length + extra;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.ensure(1);
    this.buf[this.length++] = v;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  u16le(v: number): void {
    this.ensure(2);
    this.view.setUint16(this.length, v, true);
    this.length += 2;
  }

  u32le(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }

  u32be(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.length, v, false);
    this.length += 4;
  }

  u64be(v: number): void {
    this.ensure(8);
    this.view.setBigUint64(this.length, BigInt(v), false);
    this.length += 8;
  }

  i64le(v: bigint): void {
    this.ensure(8);
    this.view.setBigInt64(this.length, v, true);
    this.length += 8;
  }

  f64le(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.length, v, true);
    this.length += 8;
  }

  /** Overwrites a u32 written earlier (listpack headers learn their size last). */
  patchU32le(at: number, v: number): void {
    this.view.setUint32(at, v, true);
  }

  patchU16le(at: number, v: number): void {
    this.view.setUint16(at, v, true);
  }

  /** A copy of everything written so far; the writer is emptied. */
  take(): Uint8Array {
    const out = this.buf.slice(0, this.length);
    this.length = 0;
    return out;
  }
}
