/**
 * Persistence codecs of the collection types (lists, sets, hashes, sorted sets): how their
 * arena structures become RDB entry values and back. Registering them makes SAVE, BGSAVE,
 * loading, DUMP, RESTORE and the AOF rewrite handle every type.
 */
import { registerEntryCodec, type EntryCodec } from './entry-codec.js';
import type { RdbValue } from '../persistence/rdb-types.js';
import type { Arena } from './arena.js';
import type { Store } from './store.js';
import { T_HASH, T_LIST, T_SET, T_ZSET } from './record.js';
import { ENC_INTSET, ENC_LISTPACK, ENC_QUICKLIST, createCollection, newCompact, serializeElements } from './value.js';
import { listPush } from './t_list.js';
import { setAdd } from './t_set.js';
import { hashSet } from './t_hash.js';
import { zsetRestoreAdd } from './t_zset.js';
import { readF64 } from './listpack.js';

/** The elements of a collection record, read through `m` (the live arena or BGSAVE's copy). */
function elements(m: Arena, a: number): Uint8Array[] {
  const flat = serializeElements(m, a);
  const dv = new DataView(flat.buffer, flat.byteOffset, flat.byteLength);
  const count = dv.getUint32(0, true);
  const out: Uint8Array[] = new Array(count);
  let o = 4;
  for (let i = 0; i < count; i++) {
    const n = dv.getUint32(o, true);
    out[i] = flat.subarray(o + 4, o + 4 + n);
    o += 4 + n;
  }
  return out;
}

/** Creates the (absent) key as an empty collection of `type`, fills it, then applies the expiry. */
function create(
  store: Store,
  db: number,
  kb: Uint8Array,
  ks: number,
  kn: number,
  type: number,
  enc: number,
  fill: (a: number) => void,
  expireAt: number,
): number {
  const a = createCollection(store, db, kb, ks, kn, type, enc, newCompact(store.arena, type));
  fill(a);
  return expireAt > 0 ? store.setExpire(db, a, expireAt) : a;
}

const list: EntryCodec = {
  toEntryValue: (m, a): RdbValue => ({ type: 'list', items: elements(m, a) }),
  fromEntryValue(store, db, kb, ks, kn, value, expireAt) {
    if (value.type !== 'list') throw new Error('list codec given another type');
    return create(
      store,
      db,
      kb,
      ks,
      kn,
      T_LIST,
      ENC_QUICKLIST,
      (a) => {
        for (const it of value.items) listPush(store.arena, a, false, it, 0, it.length);
      },
      expireAt,
    );
  },
};

const set: EntryCodec = {
  toEntryValue: (m, a): RdbValue => ({ type: 'set', members: elements(m, a) }),
  fromEntryValue(store, db, kb, ks, kn, value, expireAt) {
    if (value.type !== 'set') throw new Error('set codec given another type');
    return create(
      store,
      db,
      kb,
      ks,
      kn,
      T_SET,
      ENC_INTSET,
      (a) => {
        for (const mb of value.members) setAdd(store.arena, a, mb, 0, mb.length);
      },
      expireAt,
    );
  },
};

const hash: EntryCodec = {
  toEntryValue(m, a): RdbValue {
    const e = elements(m, a);
    const fields: [Uint8Array, Uint8Array][] = [];
    for (let i = 0; i + 1 < e.length; i += 2) fields.push([e[i]!, e[i + 1]!]);
    return { type: 'hash', fields };
  },
  fromEntryValue(store, db, kb, ks, kn, value, expireAt) {
    if (value.type !== 'hash') throw new Error('hash codec given another type');
    return create(
      store,
      db,
      kb,
      ks,
      kn,
      T_HASH,
      ENC_LISTPACK,
      (a) => {
        for (const [f, v] of value.fields) hashSet(store.arena, a, f, 0, f.length, v, 0, v.length);
      },
      expireAt,
    );
  },
};

const zset: EntryCodec = {
  toEntryValue(m, a): RdbValue {
    const e = elements(m, a);
    const entries: [Uint8Array, number][] = [];
    for (let i = 0; i + 1 < e.length; i += 2) entries.push([e[i]!, readF64(e[i + 1]!, 0)]);
    return { type: 'zset', entries };
  },
  fromEntryValue(store, db, kb, ks, kn, value, expireAt) {
    if (value.type !== 'zset') throw new Error('zset codec given another type');
    return create(
      store,
      db,
      kb,
      ks,
      kn,
      T_ZSET,
      ENC_LISTPACK,
      (a) => {
        for (const [mb, score] of value.entries) zsetRestoreAdd(store.arena, a, score, mb, 0, mb.length);
      },
      expireAt,
    );
  },
};

registerEntryCodec(T_LIST, 'list', list);
registerEntryCodec(T_SET, 'set', set);
registerEntryCodec(T_HASH, 'hash', hash);
registerEntryCodec(T_ZSET, 'zset', zset);
