/**
 * Key introspection on a shard: OBJECT IDLETIME/REFCOUNT/FREQ, MEMORY USAGE, and the
 * internal halves of DEBUG OBJECT and DEBUG SLEEP (the acceptor sends `__sleep` to every
 * shard, so keyed commands wait as they would on a blocked Redis).
 */
import type { Handler } from './context.js';
import { F_EXT, T_LIST, T_STREAM, T_STRING, recSize, recType, recValLen } from './record.js';
import { streamBytes } from './stream.js';
import { valPtr } from './value.js';
import { stringEncoding } from './t_keys.js';
import { E_NO_KEY, E_NO_LFU, E_SYNTAX } from '../wire/error-text.js';

/** Hash-table slot and entry overhead counted per key by MEMORY USAGE. */
const KEY_OVERHEAD = 16;

const sleepCell = new Int32Array(new SharedArrayBuffer(4));

const idletime: Handler = (c) => {
  const a = c.lookup(2);
  if (a === 0) return c.out.nullBulk();
  const lru = c.store.arena.u32[(a + 4) >>> 2]!;
  c.out.int(Math.max(0, c.store.lruClock - lru));
};

const refcount: Handler = (c) => {
  if (c.lookup(2) === 0) return c.out.nullBulk();
  c.out.int(1);
};

const freq: Handler = (c) => {
  if (c.lookup(2) === 0) return c.out.nullBulk();
  c.out.error(E_NO_LFU);
};

const memoryUsage: Handler = (c) => {
  if (c.argc !== 3 && !(c.argc === 5 && c.is(3, 'SAMPLES'))) return c.out.error(E_SYNTAX);
  const a = c.lookup(2);
  if (a === 0) return c.out.nullBulk();
  const m = c.store.arena;
  const ext = (m.u8[a + 1]! & F_EXT) !== 0 ? recValLen(m, a) : 0;
  // A stream counts its nodes, index, groups and pending entries.
  const struct = recType(m, a) === T_STREAM ? streamBytes(m, valPtr(m, a)) : 0;
  c.out.int(m.blockSize(recSize(m, a)) + ext + struct + KEY_OVERHEAD);
};

/** `__debugobject key`: DEBUG OBJECT's status line. */
const debugObject: Handler = (c) => {
  const a = c.lookup(1);
  if (a === 0) return c.out.error(E_NO_KEY);
  const m = c.store.arena;
  const t = recType(m, a);
  const enc = t === T_STRING ? stringEncoding(c, a) : t === T_LIST ? 'quicklist' : t === T_STREAM ? 'stream' : 'listpack';
  const lru = m.u32[(a + 4) >>> 2]!;
  c.out.simple(
    `Value at:0x${a.toString(16)} refcount:1 encoding:${enc} serializedlength:${recValLen(m, a)} lru:${lru} lru_seconds_idle:${Math.max(0, c.store.lruClock - lru)}`,
  );
};

/** `__sleep ms`: blocks this shard. */
const sleep: Handler = (c) => {
  const ms = c.int(1) ?? 0;
  if (ms > 0) Atomics.wait(sleepCell, 0, 0, ms);
  c.out.simple('OK');
};

/** Introspection commands and internal helpers. */
export const introspectCommands: Record<string, Handler> = {
  'object|idletime': idletime,
  'object|refcount': refcount,
  'object|freq': freq,
  'memory|usage': memoryUsage,
  __debugobject: debugObject,
  __sleep: sleep,
};
