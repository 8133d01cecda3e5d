/** The entry model shards produce for snapshots and consume when loading: one key, its value and expiry. */

/** A key's value in the shape every persistence format shares; bytes are binary-safe. */
export type RdbValue =
  | { type: 'string'; bytes: Uint8Array }
  | { type: 'list'; items: Uint8Array[] }
  | { type: 'hash'; fields: Array<[field: Uint8Array, value: Uint8Array]> }
  | { type: 'set'; members: Uint8Array[] }
  | { type: 'zset'; entries: Array<[member: Uint8Array, score: number]> }
  | StreamValue;

/** A stream entry id: milliseconds and sequence, each a u64. */
export type StreamId = [ms: bigint, seq: bigint];

/** A stream with its consumer groups (Redis 7.0's STREAM_LISTPACKS_2 content). */
export interface StreamValue {
  type: 'stream';
  /** Live entries in id order; fields as field, value, field, value… */
  entries: Array<{ id: StreamId; fields: Uint8Array[] }>;
  lastId: StreamId;
  maxDeletedId: StreamId;
  entriesAdded: number;
  groups: Array<{
    name: Uint8Array;
    lastId: StreamId;
    /** -1 when unknown. */
    entriesRead: number;
    pel: Array<{ id: StreamId; deliveryTime: number; deliveryCount: number }>;
    consumers: Array<{ name: Uint8Array; seenTime: number; pel: StreamId[] }>;
  }>;
}

/**
 * One key of one database. Writers take entries one at a time (nothing keeps them all in memory);
 * readers yield them one at a time in file order.
 */
export interface RdbEntry {
  db: number;
  key: Uint8Array;
  /** Absolute Unix time in milliseconds; 0 when the key has no expiry. */
  expireAtMs: number;
  value: RdbValue;
}
