/**
 * Per-type conversion between a shard's records and persistence entries (RdbValue), keyed by
 * the record's type byte. SAVE, load, DUMP and RESTORE go through here only, so a value type
 * plugs into every persistence path by registering one codec.
 */
import type { RdbValue } from '../persistence/rdb-types.js';
import type { Store } from './store.js';
import type { Arena } from './arena.js';
import { T_STRING, newString, recValLen, strBuf, strOff } from './record.js';
import { copyBytes } from '../wire/bytes.js';

/** How one record type becomes an RdbValue and back. */
export interface EntryCodec {
  /**
   * The value of the record at `addr` in `m` (the live arena, or BGSAVE's copy of it, so read only
   * through `m`); byte fields may be views into it, valid until it next changes.
   */
  toEntryValue(m: Arena, addr: number): RdbValue;
  /**
   * Creates the record for an absent key (store.lookup was just called for it) holding `value`;
   * `expireAt` is ms since the epoch or 0. Returns the record's address.
   */
  fromEntryValue(store: Store, db: number, kb: Uint8Array, ks: number, kn: number, value: RdbValue, expireAt: number): number;
}

const byRecordType: (EntryCodec | undefined)[] = [];
const byValueType = new Map<RdbValue['type'], EntryCodec>();

/** Registers the codec of a record type (type byte from record.ts) and the RdbValue type it maps to. */
export function registerEntryCodec(recordType: number, valueType: RdbValue['type'], codec: EntryCodec): void {
  byRecordType[recordType] = codec;
  byValueType.set(valueType, codec);
}

/** The value of a record in `m`; throws for a type no codec handles. */
export function toEntryValue(m: Arena, addr: number): RdbValue {
  const type = m.u8[addr]!;
  const codec = byRecordType[type];
  if (codec === undefined) throw new Error(`no persistence codec for record type ${type}`);
  return codec.toEntryValue(m, addr);
}

/** Creates an absent key from an entry value (see EntryCodec.fromEntryValue); throws for a type no codec handles. */
export function fromEntryValue(
  store: Store,
  db: number,
  kb: Uint8Array,
  ks: number,
  kn: number,
  value: RdbValue,
  expireAt: number,
): number {
  const codec = byValueType.get(value.type);
  if (codec === undefined) throw new Error(`${value.type} values are not supported by this server yet`);
  return codec.fromEntryValue(store, db, kb, ks, kn, value, expireAt);
}

registerEntryCodec(T_STRING, 'string', {
  toEntryValue(m, a) {
    const off = strOff(m, a);
    return { type: 'string', bytes: strBuf(m, a).subarray(off, off + recValLen(m, a)) };
  },
  fromEntryValue(store, db, kb, ks, kn, value, expireAt) {
    if (value.type !== 'string') throw new Error('string codec given a non-string value');
    const m = store.arena;
    const v = value.bytes;
    const a = newString(m, kb, ks, kn, v.length, expireAt, store.lruClock);
    copyBytes(strBuf(m, a), strOff(m, a), v, 0, v.length);
    store.insertNew(db, a);
    return a;
  },
});
