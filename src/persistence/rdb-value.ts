/** Encoding and decoding of one value in RDB object form (type byte + body), shared by RDB files and DUMP payloads. */
import type { ByteWriter } from './byte-writer.js';
import type { RdbInput } from './rdb-input.js';
import { RdbError } from './rdb-error.js';
import type { RdbValue } from './rdb-types.js';
import { LIMITS, QUICKLIST_NODE_PACKED, QUICKLIST_NODE_PLAIN, RdbType } from './rdb-constants.js';
import { encodeListpack, decodeListpack, listpackEntrySize } from './listpack.js';
import { encodeIntset, decodeIntset } from './intset.js';
import { decodeZiplist } from './ziplist.js';
import { decodeZipmap } from './zipmap.js';
import { lzfCompress } from './lzf.js';
import { readStream, writeStream } from './rdb-stream.js';
import { asciiBytes, formatScore, parseCanonicalInt, parseScore } from './int-string.js';

/** Options of the encoders. */
export interface EncodeOptions {
  /** LZF-compress strings longer than 20 bytes when that pays (Redis's rdbcompression, default yes). */
  compress: boolean;
}

/** Writes an RDB length. */
export function writeLength(w: ByteWriter, n: number): void {
  if (n < 64) w.u8(n);
  else if (n < 16384) {
    w.u8((n >> 8) | 0x40);
    w.u8(n & 0xff);
  } else if (n <= 0xffffffff) {
    w.u8(0x80);
    w.u32be(n);
  } else {
    w.u8(0x81);
    w.u64be(n);
  }
}

/** Writes an RDB string the way rdbSaveRawString does: int-encoded, LZF-compressed or plain. */
export function writeString(w: ByteWriter, s: Uint8Array, opts: EncodeOptions): void {
  if (s.length <= 11) {
    const v = parseCanonicalInt(s);
    if (v !== null && v >= -2147483648n && v <= 2147483647n) {
      const n = Number(v);
      if (n >= -128 && n <= 127) {
        w.u8(0xc0);
        w.u8(n & 0xff);
      } else if (n >= -32768 && n <= 32767) {
        w.u8(0xc1);
        w.u8(n & 0xff);
        w.u8((n >> 8) & 0xff);
      } else {
        w.u8(0xc2);
        w.u32le(n >>> 0);
      }
      return;
    }
  }
  if (opts.compress && s.length > 20) {
    const c = lzfCompress(s);
    if (c) {
      w.u8(0xc3);
      writeLength(w, c.length);
      writeLength(w, s.length);
      w.bytes(c);
      return;
    }
  }
  writeLength(w, s.length);
  w.bytes(s);
}

function fitsListpack(items: Iterable<Uint8Array>, maxValue: number): boolean {
  for (const s of items) if (s.length > maxValue) return false;
  return true;
}

function writeList(w: ByteWriter, items: readonly Uint8Array[], opts: EncodeOptions): void {
  // Quicklist nodes of at most 8 KiB each (list-max-listpack-size -2); an oversized element gets a node of its own.
  const nodes: Uint8Array[][] = [];
  let node: Uint8Array[] = [];
  let size = 7;
  for (const it of items) {
    const add = listpackEntrySize(it);
    if (node.length > 0 && size + add > LIMITS.listNodeBytes) {
      nodes.push(node);
      node = [];
      size = 7;
    }
    node.push(it);
    size += add;
  }
  if (node.length > 0) nodes.push(node);
  writeLength(w, nodes.length);
  for (const n of nodes) {
    writeLength(w, QUICKLIST_NODE_PACKED);
    writeString(w, encodeListpack(n), opts);
  }
}

/**
 * Writes one value's type byte, then `key` when given (RDB files put it there; DUMP payloads have none),
 * then the body, choosing the encoding Redis 7.0 would hold the value in.
 */
export function writeValue(w: ByteWriter, value: RdbValue, opts: EncodeOptions, key?: Uint8Array): void {
  const head = (type: number): void => {
    w.u8(type);
    if (key) writeString(w, key, opts);
  };
  switch (value.type) {
    case 'stream':
      writeStream(w, value, head, (ww, b) => writeString(ww, b, opts));
      return;
    case 'string':
      head(RdbType.STRING);
      writeString(w, value.bytes, opts);
      return;
    case 'list':
      if (value.items.length === 0) throw new RdbError('INVALID_ENTRY', 'empty list');
      head(RdbType.LIST_QUICKLIST_2);
      writeList(w, value.items, opts);
      return;
    case 'hash': {
      const { fields } = value;
      if (fields.length === 0) throw new RdbError('INVALID_ENTRY', 'empty hash');
      if (fields.length <= LIMITS.hashListpackEntries && fitsListpack(fields.flat(), LIMITS.hashListpackValue)) {
        head(RdbType.HASH_LISTPACK);
        writeString(w, encodeListpack(fields.flat()), opts);
        return;
      }
      head(RdbType.HASH);
      writeLength(w, fields.length);
      for (const [f, v] of fields) {
        writeString(w, f, opts);
        writeString(w, v, opts);
      }
      return;
    }
    case 'set': {
      const { members } = value;
      if (members.length === 0) throw new RdbError('INVALID_ENTRY', 'empty set');
      if (members.length <= LIMITS.setIntsetEntries) {
        const ints = members.map(parseCanonicalInt);
        if (ints.every((v) => v !== null)) {
          head(RdbType.SET_INTSET);
          writeString(w, encodeIntset(ints as bigint[]), opts);
          return;
        }
      }
      head(RdbType.SET);
      writeLength(w, members.length);
      for (const m of members) writeString(w, m, opts);
      return;
    }
    case 'zset': {
      const { entries } = value;
      if (entries.length === 0) throw new RdbError('INVALID_ENTRY', 'empty sorted set');
      if (entries.some(([, s]) => Number.isNaN(s))) throw new RdbError('INVALID_ENTRY', 'NaN score');
      if (
        entries.length <= LIMITS.zsetListpackEntries &&
        fitsListpack(
          entries.map(([m]) => m),
          LIMITS.zsetListpackValue,
        )
      ) {
        // Listpack zsets are ordered by (score, member), as Redis keeps and verifies them.
        const sorted = [...entries].sort(compareZsetEntries);
        head(RdbType.ZSET_LISTPACK);
        writeString(w, encodeListpack(sorted.flatMap(([m, s]) => [m, asciiBytes(formatScore(s))])), opts);
        return;
      }
      head(RdbType.ZSET_2);
      writeLength(w, entries.length);
      for (const [m, s] of entries) {
        writeString(w, m, opts);
        w.f64le(s);
      }
      return;
    }
  }
}

function compareZsetEntries(a: [Uint8Array, number], b: [Uint8Array, number]): number {
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return Buffer.compare(a[0], b[0]);
}

function pairs(flat: Uint8Array[], what: string, at: number): Array<[Uint8Array, Uint8Array]> {
  if (flat.length % 2 !== 0) throw new RdbError('CORRUPT', `${what} with an odd number of elements`, at);
  const out: Array<[Uint8Array, Uint8Array]> = [];
  for (let i = 0; i < flat.length; i += 2) out.push([flat[i]!, flat[i + 1]!]);
  return out;
}

function scored(flat: Uint8Array[], at: number): Array<[Uint8Array, number]> {
  return pairs(flat, 'sorted set', at).map(([m, s]) => {
    const v = parseScore(s);
    if (v === null) throw new RdbError('CORRUPT', 'invalid sorted set score', at);
    return [m, v];
  });
}

function nonEmpty<T extends RdbValue>(v: T, count: number, at: number): T {
  if (count === 0) throw new RdbError('CORRUPT', `empty ${v.type} value`, at);
  return v;
}

/** Refuses repeated set members, hash fields or zset members (as Redis does), so shards never see them. */
function distinct<T extends RdbValue>(v: T, names: Iterable<Uint8Array>, at: number): T {
  const seen = new Set<string>();
  for (const n of names) {
    const k = Buffer.from(n.buffer, n.byteOffset, n.length).toString('latin1');
    if (seen.has(k)) throw new RdbError('CORRUPT', `duplicate ${v.type === 'hash' ? 'field' : 'member'} in ${v.type} value`, at);
    seen.add(k);
  }
  return v;
}

/** Reads the body of a value whose type byte was already read. */
export function readValue(input: RdbInput, type: number): RdbValue {
  const at = input.offset;
  switch (type) {
    case RdbType.STRING:
      return { type: 'string', bytes: input.string() };
    case RdbType.LIST: {
      const n = input.length();
      const items: Uint8Array[] = [];
      for (let i = 0; i < n; i++) items.push(input.string());
      return nonEmpty({ type: 'list', items }, n, at);
    }
    case RdbType.LIST_ZIPLIST: {
      const items = decodeZiplist(input.string(), at);
      return nonEmpty({ type: 'list', items }, items.length, at);
    }
    case RdbType.LIST_QUICKLIST:
    case RdbType.LIST_QUICKLIST_2: {
      const nodes = input.length();
      const items: Uint8Array[] = [];
      for (let i = 0; i < nodes; i++) {
        const container = type === RdbType.LIST_QUICKLIST_2 ? input.length() : QUICKLIST_NODE_PACKED;
        const nodeAt = input.offset;
        const blob = input.string();
        if (container === QUICKLIST_NODE_PLAIN) items.push(blob);
        else if (container !== QUICKLIST_NODE_PACKED) throw new RdbError('CORRUPT', 'unknown quicklist container', nodeAt);
        else for (const it of type === RdbType.LIST_QUICKLIST ? decodeZiplist(blob, nodeAt) : decodeListpack(blob, nodeAt)) items.push(it);
      }
      return nonEmpty({ type: 'list', items }, items.length, at);
    }
    case RdbType.SET: {
      const n = input.length();
      const members: Uint8Array[] = [];
      for (let i = 0; i < n; i++) members.push(input.string());
      return distinct(nonEmpty({ type: 'set', members }, n, at), members, at);
    }
    case RdbType.SET_INTSET: {
      const members = decodeIntset(input.string(), at);
      return distinct(nonEmpty({ type: 'set', members }, members.length, at), members, at);
    }
    case RdbType.SET_LISTPACK: {
      const members = decodeListpack(input.string(), at);
      return distinct(nonEmpty({ type: 'set', members }, members.length, at), members, at);
    }
    case RdbType.HASH: {
      const n = input.length();
      const fields: Array<[Uint8Array, Uint8Array]> = [];
      for (let i = 0; i < n; i++) fields.push([input.string(), input.string()]);
      return distinct(
        nonEmpty({ type: 'hash', fields }, n, at),
        fields.map(([f]) => f),
        at,
      );
    }
    case RdbType.HASH_ZIPMAP: {
      const fields = decodeZipmap(input.string(), at);
      return distinct(
        nonEmpty({ type: 'hash', fields }, fields.length, at),
        fields.map(([f]) => f),
        at,
      );
    }
    case RdbType.HASH_ZIPLIST:
    case RdbType.HASH_LISTPACK: {
      const blob = input.string();
      const flat = type === RdbType.HASH_ZIPLIST ? decodeZiplist(blob, at) : decodeListpack(blob, at);
      const fields = pairs(flat, 'hash', at);
      return distinct(
        nonEmpty({ type: 'hash', fields }, fields.length, at),
        fields.map(([f]) => f),
        at,
      );
    }
    case RdbType.ZSET:
    case RdbType.ZSET_2: {
      const n = input.length();
      const entries: Array<[Uint8Array, number]> = [];
      for (let i = 0; i < n; i++) {
        const m = input.string();
        const s = type === RdbType.ZSET_2 ? input.f64le() : input.textDouble();
        if (Number.isNaN(s)) throw new RdbError('CORRUPT', 'NaN sorted set score', at);
        entries.push([m, s]);
      }
      return distinct(
        nonEmpty({ type: 'zset', entries }, n, at),
        entries.map(([m]) => m),
        at,
      );
    }
    case RdbType.ZSET_ZIPLIST:
    case RdbType.ZSET_LISTPACK: {
      const blob = input.string();
      const entries = scored(type === RdbType.ZSET_ZIPLIST ? decodeZiplist(blob, at) : decodeListpack(blob, at), at);
      return distinct(
        nonEmpty({ type: 'zset', entries }, entries.length, at),
        entries.map(([m]) => m),
        at,
      );
    }
    case RdbType.MODULE_PRE_GA:
    case RdbType.MODULE_2:
      throw new RdbError('UNSUPPORTED', 'module data types are not supported', at - 1);
    case RdbType.STREAM_LISTPACKS:
    case RdbType.STREAM_LISTPACKS_2:
    case RdbType.STREAM_LISTPACKS_3:
      return readStream(input, type);
    default:
      throw new RdbError('CORRUPT', `unknown object type ${type}`, at - 1);
  }
}
