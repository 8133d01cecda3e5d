/** Encoding thresholds of the collection types (Redis 7.0's defaults) and the shard's other settings, set by CONFIG SET. */
import type { Handler } from './context.js';
import { E_NOT_INT, unknownConfigOption } from '../wire/error-text.js';
import { R_OK } from '../wire/resp-writer.js';

export const dtConfig = {
  listMaxListpackSize: -2,
  hashMaxListpackEntries: 512,
  hashMaxListpackValue: 64,
  setMaxIntsetEntries: 512,
  zsetMaxListpackEntries: 128,
  zsetMaxListpackValue: 64,
  hllSparseMaxBytes: 3000,
  streamNodeMaxBytes: 4096,
  streamNodeMaxEntries: 100,
};

/** Config parameter names (as CONFIG uses them) mapped to their fields. */
const NAMES: Record<string, keyof typeof dtConfig> = {
  'list-max-listpack-size': 'listMaxListpackSize',
  'list-max-ziplist-size': 'listMaxListpackSize',
  'hash-max-listpack-entries': 'hashMaxListpackEntries',
  'hash-max-ziplist-entries': 'hashMaxListpackEntries',
  'hash-max-listpack-value': 'hashMaxListpackValue',
  'hash-max-ziplist-value': 'hashMaxListpackValue',
  'set-max-intset-entries': 'setMaxIntsetEntries',
  'zset-max-listpack-entries': 'zsetMaxListpackEntries',
  'zset-max-ziplist-entries': 'zsetMaxListpackEntries',
  'zset-max-listpack-value': 'zsetMaxListpackValue',
  'zset-max-ziplist-value': 'zsetMaxListpackValue',
  'hll-sparse-max-bytes': 'hllSparseMaxBytes',
  'stream-node-max-bytes': 'streamNodeMaxBytes',
  'stream-node-max-entries': 'streamNodeMaxEntries',
};

/** What runs after a threshold changes (latency.ts: whether HLL commands are timed depends on one). */
const listeners: ((field: keyof typeof dtConfig) => void)[] = [];

/** Calls `fn` with the field's name after each change of a threshold. */
export function onDatatypeConfig(fn: (field: keyof typeof dtConfig) => void): void {
  listeners.push(fn);
}

/** Sets a threshold by its CONFIG name; false when the name is not one of these. */
export function setDatatypeConfig(name: string, value: number): boolean {
  const f = NAMES[name.toLowerCase()];
  if (f === undefined) return false;
  dtConfig[f] = value;
  for (const fn of listeners) fn(f);
  return true;
}

/**
 * Internal: `__dtconfig <name> <integer>` sets a threshold, or proto-max-bulk-len (the longest
 * string APPEND and SETRANGE may build), in this shard: CONFIG SET sends it to every shard,
 * each holding its own copy. Replies +OK, or an error for an unknown name.
 */
const dtconfig: Handler = (c) => {
  const v = c.int(2);
  if (v === null) {
    c.out.error(E_NOT_INT);
    return;
  }
  if (c.is(1, 'PROTO-MAX-BULK-LEN')) {
    c.limits.maxBulkLen = v;
    c.out.constant(R_OK);
  } else if (setDatatypeConfig(c.str(1), v)) c.out.constant(R_OK);
  else c.out.error(unknownConfigOption(c.str(1)));
};

/** Handlers by lower-case command name. */
export const dtConfigCommands: Record<string, Handler> = { __dtconfig: dtconfig };
