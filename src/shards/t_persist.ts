/**
 * Persistence commands a shard runs: DUMP and RESTORE (Redis's payload format), and the internal
 * commands the acceptor uses to snapshot a database (`__snapshot`) and to load entries (`__load`).
 */
import type { Handler } from './context.js';
import { fromEntryValue, toEntryValue } from './entry-codec.js';
import { lfuSetCounter } from './evict.js';
import { F_TTL, recExpire, recKeyLen, recKeyOff } from './record.js';
import { EntryPacker, unpackEntries } from '../persistence/entry-pack.js';
import { decodeDumpPayload, encodeDumpPayload } from '../persistence/dump-payload.js';
import { RdbError } from '../persistence/rdb-error.js';
import type { RdbValue } from '../persistence/rdb-types.js';
import { E_NOT_INT, E_SYNTAX } from '../io/error-text.js';
import { R_OK } from '../io/resp-writer.js';

const BUSYKEY = 'BUSYKEY Target key name already exists.';

const dump: Handler = (c) => {
  const a = c.lookupRead(1);
  if (a === 0) {
    c.out.nullBulk();
    return;
  }
  const p = encodeDumpPayload(toEntryValue(c.store, a));
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
      if (v < 0) return c.out.error('ERR Invalid IDLETIME value, must be >= 0');
      idle = v;
    } else if (c.is(j, 'FREQ') && more && idle === -1) {
      const v = c.int(++j);
      if (v === null) return c.out.error(E_NOT_INT);
      if (v < 0 || v > 255) return c.out.error('ERR Invalid FREQ value, must be >= 0 and <= 255');
      freq = v;
    } else return c.out.error(E_SYNTAX);
  }
  const store = c.store;
  const old = c.lookup(1);
  if (!replace && old !== 0) return c.out.error(BUSYKEY);
  const ttl = c.int(2);
  if (ttl === null) return c.out.error(E_NOT_INT);
  if (ttl < 0) return c.out.error('ERR Invalid TTL value, must be >= 0');
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
    packer.add({ db, key: m.u8.subarray(ko, ko + recKeyLen(m, a)), expireAtMs: exp, value: toEntryValue(store, a) });
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
  __snapshot: snapshot,
  __load: load,
};
