/**
 * Persistence commands a shard runs: DUMP and RESTORE (Redis's payload format), and the internal
 * commands the acceptor uses to snapshot a database (`__snapshot`) and to load entries (`__load`).
 */
import type { Handler } from './context.js';
import type { Arena } from './arena.js';
import { fromEntryValue, toEntryValue } from './entry-codec.js';
import { lfuSetCounter } from './evict.js';
import { dropped } from '../reclaim.js';
import { F_TTL, recExpire, recKeyLen, recKeyOff } from './record.js';
import { EntryPacker, unpackEntries } from '../persistence/entry-pack.js';
import { decodeDumpPayload, encodeDumpPayload } from '../persistence/dump-payload.js';
import { RdbError } from '../persistence/rdb-error.js';
import type { RdbValue } from '../persistence/rdb-types.js';
import { E_BUSYKEY, E_FREQ_RANGE, E_IDLETIME_NEGATIVE, E_NOT_INT, E_NO_SNAPSHOT, E_SYNTAX, E_TTL_NEGATIVE } from '../wire/error-text.js';
import { R_OK } from '../wire/resp-writer.js';

const dump: Handler = (c) => {
  const a = c.lookupRead(1);
  if (a === 0) {
    c.out.nullBulk();
    return;
  }
  const p = encodeDumpPayload(toEntryValue(c.store.arena, a));
  c.out.bulk(p, 0, p.length);
};

/** RESTORE key ttl payload [REPLACE] [ABSTTL] [IDLETIME s] [FREQ f], with Redis's checks in Redis's order. */
const restore: Handler = (c) => {
  let replace = false;
  let absttl = false;
  let idle = -1;
  let freq = -1;
  for (let j = 4; j < c.argc; j++) {
    const more = j + 1 < c.argc;
    if (c.is(j, 'REPLACE')) replace = true;
    else if (c.is(j, 'ABSTTL')) absttl = true;
    else if (c.is(j, 'IDLETIME') && more && freq === -1) {
      const v = c.int(++j);
      if (v === null) return c.out.error(E_NOT_INT);
      if (v < 0) return c.out.error(E_IDLETIME_NEGATIVE);
      idle = v;
    } else if (c.is(j, 'FREQ') && more && idle === -1) {
      const v = c.int(++j);
      if (v === null) return c.out.error(E_NOT_INT);
      if (v < 0 || v > 255) return c.out.error(E_FREQ_RANGE);
      freq = v;
    } else return c.out.error(E_SYNTAX);
  }
  const store = c.store;
  const old = c.lookup(1);
  if (!replace && old !== 0) return c.out.error(E_BUSYKEY);
  const ttl = c.int(2);
  if (ttl === null) return c.out.error(E_NOT_INT);
  if (ttl < 0) return c.out.error(E_TTL_NEGATIVE);
  let value: RdbValue;
  try {
    value = decodeDumpPayload(c.buf.subarray(c.as[3]!, c.as[3]! + c.al[3]!));
  } catch (e) {
    if (e instanceof RdbError) return c.out.error(e.message.startsWith('ERR ') ? e.message : `ERR ${e.message}`);
    throw e;
  }
  if (old !== 0) store.removeFound(c.db, old);
  const expireAt = ttl > 0 && !absttl ? ttl + store.now : ttl;
  if (expireAt > 0 && expireAt <= store.now) return c.out.constant(R_OK);
  c.lookup(1);
  let a: number;
  try {
    a = fromEntryValue(store, c.db, c.buf, c.as[1]!, c.al[1]!, value, expireAt);
  } catch (e) {
    return c.out.error(`ERR ${(e as Error).message}`);
  }
  if (idle >= 0) store.arena.u32[(a + 4) >>> 2] = (store.lruClock - idle) >>> 0;
  if (freq >= 0) lfuSetCounter(store.arena, a, freq, store.now);
  c.out.constant(R_OK);
};

/**
 * Internal: `__snapshot db` replies one bulk: u32 keys, u32 keys with an expiry, then every live key of
 * `db` packed by EntryPacker. The acceptor holds the shards while it asks, so the set is point-in-time.
 */
const snapshot: Handler = (c) => {
  const db = c.int(1)!;
  const store = c.store;
  const m = store.arena;
  const packer = new EntryPacker();
  let expires = 0;
  store.dbs[db]!.forEach((a) => {
    const exp = recExpire(m, a);
    if ((m.u8[a + 1]! & F_TTL) !== 0) {
      if (exp <= store.now) return;
      expires++;
    }
    const ko = recKeyOff(m, a);
    packer.add({ db, key: m.u8.subarray(ko, ko + recKeyLen(m, a)), expireAtMs: exp, value: toEntryValue(m, a) });
  });
  const keys = packer.count;
  const packed = packer.take();
  const out = new Uint8Array(8 + packed.length);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, keys, true);
  dv.setUint32(4, expires, true);
  out.set(packed, 8);
  c.out.bulk(out, 0, out.length);
};

/** BGSAVE's view of this shard at its snapshot point: copies of the arena and of each database's slot arrays. */
interface BgSnapshot {
  mem: Arena;
  now: number;
  slots: Uint32Array[][];
  /** Per database: which slot array, and the next slot in it. */
  table: number[];
  slot: number[];
}

let bg: BgSnapshot | null = null;

/** Keys packed per `__bgsnap next` call: a slice of a few ms, so client commands between slices wait little. */
const BG_SLICE_KEYS = 1024;

/**
 * Internal BGSAVE steps, each one ring frame so they interleave with client commands:
 * - `begin` (all shards held): copies the arena and the key tables' slots, two memcpys being the only
 *   pause clients see; replies u32 keys and u32 expires per database (the RESIZEDB hint).
 * - `next db`: packs the next slice of `db` from the copies (entry-pack.ts); an empty bulk when `db` is done.
 * - `end`: drops the copies.
 */
const bgsnap: Handler = (c) => {
  const store = c.store;
  if (c.is(1, 'BEGIN')) {
    const counts = new Uint32Array(store.dbs.length * 2);
    store.dbs.forEach((t, db) => {
      counts[db * 2] = t.size;
      counts[db * 2 + 1] = store.expires[db]!;
    });
    bg = {
      mem: store.arena.copy(),
      now: store.now,
      slots: store.dbs.map((t) => t.copySlots()),
      table: store.dbs.map(() => 0),
      slot: store.dbs.map(() => 0),
    };
    const bytes = new Uint8Array(counts.buffer);
    c.out.bulk(bytes, 0, bytes.length);
    return;
  }
  if (c.is(1, 'END')) {
    if (bg !== null) dropped(bg.mem.capacity);
    bg = null;
    c.out.constant(R_OK);
    return;
  }
  const db = c.int(2)!;
  if (bg === null) return c.out.error(E_NO_SNAPSHOT);
  const { mem, now } = bg;
  const tables = bg.slots[db]!;
  const packer = new EntryPacker();
  let ti = bg.table[db]!;
  let i = bg.slot[db]!;
  while (ti < tables.length && packer.count < BG_SLICE_KEYS) {
    const e = tables[ti]!;
    const n = e.length >>> 1;
    for (; i < n && packer.count < BG_SLICE_KEYS; i++) {
      if (e[i << 1]! <= 1) continue;
      const a = e[(i << 1) + 1]!;
      const exp = recExpire(mem, a);
      if (exp !== 0 && exp <= now) continue;
      const ko = recKeyOff(mem, a);
      packer.add({ db, key: mem.u8.subarray(ko, ko + recKeyLen(mem, a)), expireAtMs: exp, value: toEntryValue(mem, a) });
    }
    if (i >= n) {
      ti++;
      i = 0;
    }
  }
  bg.table[db] = ti;
  bg.slot[db] = i;
  const packed = packer.take();
  c.out.bulk(packed, 0, packed.length);
};

/** Internal: `__load chunk` creates the keys of an EntryPacker chunk (each in its entry's db), replacing any with the same name. */
const load: Handler = (c) => {
  const store = c.store;
  let n = 0;
  for (const e of unpackEntries(c.buf.subarray(c.as[1]!, c.as[1]! + c.al[1]!))) {
    const old = store.lookup(e.db, e.key, 0, e.key.length);
    if (old !== 0) store.removeFound(e.db, old);
    fromEntryValue(store, e.db, e.key, 0, e.key.length, e.value, e.expireAtMs);
    n++;
  }
  c.out.int(n);
};

/** Handlers by lower-case command name. */
export const persistCommands: Record<string, Handler> = {
  dump,
  restore,
  // What a cluster's MIGRATE sends; standalone, it is RESTORE.
  'restore-asking': restore,
  __snapshot: snapshot,
  __load: load,
  __bgsnap: bgsnap,
};
