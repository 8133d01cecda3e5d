/**
 * Streams in RDB form: Redis 7.0's STREAM_LISTPACKS_2 (type 19) written, and types 15 (Redis 5–6.2),
 * 19 and 21 (Redis 7.2) read. Entries travel as Redis's own listpack nodes (a master entry with the
 * node's fields, then delta-encoded entries), so files move between Sabre and Redis.
 */
import type { ByteWriter } from './byte-writer.js';
import type { RdbInput } from './rdb-input.js';
import type { StreamId, StreamValue } from './rdb-types.js';
import { RdbError } from './rdb-error.js';
import { RdbType } from './rdb-constants.js';
import { decodeListpack, encodeListpack, listpackEntrySize } from './listpack.js';
import { asciiBytes } from './int-string.js';

/** Node limits Redis uses by default (stream-node-max-entries, stream-node-max-bytes). */
const NODE_ENTRIES = 100;
const NODE_BYTES = 4096;
const F_DELETED = 1;
const F_SAME = 2;
const U64_MAX = (1n << 64n) - 1n;

type Writer = (w: ByteWriter, s: Uint8Array) => void;

/** Writes a u64 as an RDB length. */
function writeLen(w: ByteWriter, v: bigint): void {
  if (v < 0n) v &= U64_MAX;
  if (v < 64n) w.u8(Number(v));
  else if (v < 16384n) {
    w.u8((Number(v) >> 8) | 0x40);
    w.u8(Number(v) & 0xff);
  } else if (v <= 0xffffffffn) {
    w.u8(0x80);
    w.u32be(Number(v));
  } else {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, v, false);
    w.u8(0x81);
    w.bytes(b);
  }
}

function idKey(id: StreamId): Uint8Array {
  const b = new Uint8Array(16);
  const dv = new DataView(b.buffer);
  dv.setBigUint64(0, id[0], false);
  dv.setBigUint64(8, id[1], false);
  return b;
}

function keyId(b: Uint8Array, at: number): StreamId {
  if (b.length !== 16) throw new RdbError('CORRUPT', 'stream node key is not 16 bytes', at);
  const dv = new DataView(b.buffer, b.byteOffset, 16);
  return [dv.getBigUint64(0, false), dv.getBigUint64(8, false)];
}

const num = (v: number | bigint): Uint8Array => asciiBytes(String(v));

function sameFields(a: Uint8Array[], entry: Uint8Array[]): boolean {
  if (a.length * 2 !== entry.length) return false;
  for (let i = 0; i < a.length; i++) if (Buffer.compare(a[i]!, entry[2 * i]!) !== 0) return false;
  return true;
}

/** Redis's listpack nodes for the entries: [master id, listpack] each. */
function buildNodes(v: StreamValue): Array<[StreamId, Uint8Array]> {
  const nodes: Array<[StreamId, Uint8Array]> = [];
  let i = 0;
  const es = v.entries;
  while (i < es.length) {
    const master = es[i]!.id;
    const fields: Uint8Array[] = [];
    for (let f = 0; f < es[i]!.fields.length; f += 2) fields.push(es[i]!.fields[f]!);
    const items: Uint8Array[] = [num(0), num(0), num(fields.length), ...fields, num(0)];
    let bytes = 7;
    for (const x of items) bytes += listpackEntrySize(x);
    let n = 0;
    while (i < es.length && n < NODE_ENTRIES && (n === 0 || bytes < NODE_BYTES)) {
      const e = es[i]!;
      const same = sameFields(fields, e.fields);
      const part: Uint8Array[] = [num(same ? F_SAME : 0), num(e.id[0] - master[0]), num(e.id[1] - master[1])];
      if (!same) part.push(num(e.fields.length / 2));
      for (let f = 0; f < e.fields.length; f++) if (!same || f % 2 === 1) part.push(e.fields[f]!);
      part.push(num(part.length));
      for (const x of part) bytes += listpackEntrySize(x);
      items.push(...part);
      n++;
      i++;
    }
    items[0] = num(n);
    nodes.push([master, encodeListpack(items)]);
  }
  return nodes;
}

/** Writes a stream's type byte (via `head`) and body as STREAM_LISTPACKS_2. */
export function writeStream(w: ByteWriter, v: StreamValue, head: (type: number) => void, writeString: Writer): void {
  head(RdbType.STREAM_LISTPACKS_2);
  const nodes = buildNodes(v);
  writeLen(w, BigInt(nodes.length));
  for (const [id, lp] of nodes) {
    writeString(w, idKey(id));
    writeString(w, lp);
  }
  writeLen(w, BigInt(v.entries.length));
  writeLen(w, v.lastId[0]);
  writeLen(w, v.lastId[1]);
  const first = v.entries.length > 0 ? v.entries[0]!.id : ([0n, 0n] as StreamId);
  writeLen(w, first[0]);
  writeLen(w, first[1]);
  writeLen(w, v.maxDeletedId[0]);
  writeLen(w, v.maxDeletedId[1]);
  writeLen(w, BigInt(v.entriesAdded));
  writeLen(w, BigInt(v.groups.length));
  for (const g of v.groups) {
    writeString(w, g.name);
    writeLen(w, g.lastId[0]);
    writeLen(w, g.lastId[1]);
    writeLen(w, BigInt(g.entriesRead));
    writeLen(w, BigInt(g.pel.length));
    for (const n of g.pel) {
      w.bytes(idKey(n.id));
      w.i64le(BigInt(Math.trunc(n.deliveryTime)));
      writeLen(w, BigInt(n.deliveryCount));
    }
    writeLen(w, BigInt(g.consumers.length));
    for (const c of g.consumers) {
      writeString(w, c.name);
      w.i64le(BigInt(Math.trunc(c.seenTime)));
      writeLen(w, BigInt(c.pel.length));
      for (const id of c.pel) w.bytes(idKey(id));
    }
  }
}

function big(b: Uint8Array, at: number): bigint {
  const s = Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
  if (!/^-?\d+$/.test(s)) throw new RdbError('CORRUPT', 'stream listpack holds a non-integer where a number belongs', at);
  return BigInt(s);
}

/** Reads a stream body of RDB type `type` (15, 19 or 21). */
export function readStream(input: RdbInput, type: number): StreamValue {
  const at = input.offset;
  const v: StreamValue = { type: 'stream', entries: [], lastId: [0n, 0n], maxDeletedId: [0n, 0n], entriesAdded: 0, groups: [] };
  const nodes = input.length();
  for (let i = 0; i < nodes; i++) {
    const master = keyId(input.string(), at);
    const items = decodeListpack(input.string(), at);
    let p = 0;
    const next = (): Uint8Array => {
      if (p >= items.length) throw new RdbError('CORRUPT', 'stream listpack ends inside an entry', at);
      return items[p++]!;
    };
    const count = Number(big(next(), at));
    const deleted = Number(big(next(), at));
    const nMaster = Number(big(next(), at));
    const masterFields: Uint8Array[] = [];
    for (let f = 0; f < nMaster; f++) masterFields.push(next());
    next();
    for (let k = 0; k < count + deleted; k++) {
      const flags = Number(big(next(), at));
      const ms = (master[0] + big(next(), at)) & U64_MAX;
      const seq = (master[1] + big(next(), at)) & U64_MAX;
      const fields: Uint8Array[] = [];
      if ((flags & F_SAME) !== 0) for (let f = 0; f < nMaster; f++) fields.push(masterFields[f]!, next());
      else {
        const nf = Number(big(next(), at));
        for (let f = 0; f < 2 * nf; f++) fields.push(next());
      }
      next();
      if ((flags & F_DELETED) === 0) v.entries.push({ id: [ms, seq], fields });
    }
  }
  const length = input.length();
  if (length !== v.entries.length) throw new RdbError('CORRUPT', 'stream length does not match its entries', at);
  v.lastId = [input.lengthBig(), input.lengthBig()];
  if (type >= RdbType.STREAM_LISTPACKS_2) {
    input.lengthBig();
    input.lengthBig();
    v.maxDeletedId = [input.lengthBig(), input.lengthBig()];
    v.entriesAdded = Number(input.lengthBig());
  } else v.entriesAdded = length;
  const groups = input.length();
  for (let g = 0; g < groups; g++) {
    const name = input.string();
    const lastId: StreamId = [input.lengthBig(), input.lengthBig()];
    let entriesRead = -1;
    if (type >= RdbType.STREAM_LISTPACKS_2) {
      const er = input.lengthBig();
      entriesRead = er === U64_MAX ? -1 : Number(er);
    } else entriesRead = estimateRead(v, lastId);
    const pel: StreamValue['groups'][number]['pel'] = [];
    const np = input.length();
    for (let k = 0; k < np; k++) {
      const id = keyId(input.bytes(16), at);
      const deliveryTime = Number(input.i64le());
      const deliveryCount = input.length();
      pel.push({ id, deliveryTime, deliveryCount });
    }
    const consumers: StreamValue['groups'][number]['consumers'] = [];
    const nc = input.length();
    for (let k = 0; k < nc; k++) {
      const cname = input.string();
      const seenTime = Number(input.i64le());
      if (type >= RdbType.STREAM_LISTPACKS_3) input.i64le();
      const cp: StreamId[] = [];
      const n = input.length();
      for (let j = 0; j < n; j++) cp.push(keyId(input.bytes(16), at));
      consumers.push({ name: cname, seenTime, pel: cp });
    }
    v.groups.push({ name, lastId, entriesRead, pel, consumers });
  }
  return v;
}

/** A group's read counter for files that did not record one (Redis's estimate from the first entry). */
function estimateRead(v: StreamValue, id: StreamId): number {
  const cmp = (a: StreamId, b: StreamId): number => (a[0] !== b[0] ? (a[0] < b[0] ? -1 : 1) : a[1] !== b[1] ? (a[1] < b[1] ? -1 : 1) : 0);
  if (v.entriesAdded === 0) return 0;
  if (v.entries.length === 0 && cmp(id, v.lastId) < 1) return v.entriesAdded;
  const last = cmp(id, v.lastId);
  if (last === 0) return v.entriesAdded;
  if (last > 0) return -1;
  const first = v.entries[0]!.id;
  const c = cmp(id, first);
  if (c < 0) return v.entriesAdded - v.entries.length;
  if (c === 0) return v.entriesAdded - v.entries.length + 1;
  return -1;
}
