/**
 * A flat, transferable layout for chunks of entries crossing threads. Structured-cloning entry objects
 * costs ~4 µs per key (each Uint8Array is cloned on its own), more than RDB-encoding them; a packed
 * chunk moves as one ArrayBuffer and unpacks into views without copying.
 */
import { ByteWriter } from './byte-writer.js';
import { RdbError } from './rdb-error.js';
import type { RdbEntry, RdbValue } from './rdb-types.js';
import { readValue, writeValue } from './rdb-value.js';
import { RdbInput } from './rdb-input.js';

const TYPE_CODES = { string: 0, list: 1, set: 2, hash: 3, zset: 4, stream: 5 } as const;

/** Appends entries to one growing buffer; a shard can feed it straight from its arena, key by key. */
export class EntryPacker {
  private readonly w = new ByteWriter(64 * 1024);
  /** Entries packed since the last take(). */
  count = 0;

  private blob(b: Uint8Array): void {
    this.w.u32le(b.length);
    this.w.bytes(b);
  }

  /** Adds one entry. */
  add(e: RdbEntry): void {
    const { w } = this;
    const v = e.value;
    w.u8(TYPE_CODES[v.type]);
    w.u32le(e.db);
    w.f64le(e.expireAtMs);
    this.blob(e.key);
    switch (v.type) {
      case 'string':
        this.blob(v.bytes);
        break;
      case 'list':
        w.u32le(v.items.length);
        for (const x of v.items) this.blob(x);
        break;
      case 'set':
        w.u32le(v.members.length);
        for (const x of v.members) this.blob(x);
        break;
      case 'hash':
        w.u32le(v.fields.length);
        for (const [f, x] of v.fields) {
          this.blob(f);
          this.blob(x);
        }
        break;
      case 'zset':
        w.u32le(v.entries.length);
        for (const [m, s] of v.entries) {
          this.blob(m);
          w.f64le(s);
        }
        break;
      case 'stream': {
        // A stream crosses threads in its RDB form (type byte and body): one codec, not two.
        const b = new ByteWriter(1024);
        writeValue(b, v, { compress: false });
        this.blob(b.take());
        break;
      }
    }
    this.count++;
  }

  /** Bytes packed so far (to cut chunks by size). */
  get size(): number {
    return this.w.length;
  }

  /** The packed chunk (its buffer is transferable); the packer starts over. */
  take(): Uint8Array {
    this.count = 0;
    return this.w.take();
  }
}

/** Packs a list of entries in one go. */
export function packEntries(entries: Iterable<RdbEntry>): Uint8Array {
  const p = new EntryPacker();
  for (const e of entries) p.add(e);
  return p.take();
}

/** Reads a packed chunk back; byte fields are views into `buf`. */
export function* unpackEntries(buf: Uint8Array): Generator<RdbEntry> {
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.length);
  let p = 0;
  const need = (n: number): void => {
    if (p + n > buf.length) throw new RdbError('CORRUPT', 'packed entry chunk is truncated', p);
  };
  const u32 = (): number => {
    need(4);
    const v = dv.getUint32(p, true);
    p += 4;
    return v;
  };
  const f64 = (): number => {
    need(8);
    const v = dv.getFloat64(p, true);
    p += 8;
    return v;
  };
  const blob = (): Uint8Array => {
    const n = u32();
    need(n);
    const b = buf.subarray(p, p + n);
    p += n;
    return b;
  };
  const many = <T>(read: () => T): T[] => {
    const n = u32();
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(read());
    return out;
  };
  while (p < buf.length) {
    const type = buf[p++];
    const db = u32();
    const expireAtMs = f64();
    const key = blob();
    let value: RdbValue;
    switch (type) {
      case TYPE_CODES.string:
        value = { type: 'string', bytes: blob() };
        break;
      case TYPE_CODES.list:
        value = { type: 'list', items: many(blob) };
        break;
      case TYPE_CODES.set:
        value = { type: 'set', members: many(blob) };
        break;
      case TYPE_CODES.hash:
        value = { type: 'hash', fields: many(() => [blob(), blob()] as [Uint8Array, Uint8Array]) };
        break;
      case TYPE_CODES.zset:
        value = { type: 'zset', entries: many(() => [blob(), f64()] as [Uint8Array, number]) };
        break;
      case TYPE_CODES.stream: {
        const b = blob();
        const input = new RdbInput(b);
        value = readValue(input, input.u8());
        break;
      }
      default:
        throw new RdbError('CORRUPT', `unknown packed entry type ${type}`, p - 1);
    }
    yield { db, key, expireAtMs, value };
  }
}
