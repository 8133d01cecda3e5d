/** The entry model shards produce for snapshots and consume when loading: one key, its value and expiry. */

/** A key's value in the shape every persistence format shares; bytes are binary-safe. */
export type RdbValue =
  | { type: 'string'; bytes: Uint8Array }
  | { type: 'list'; items: Uint8Array[] }
  | { type: 'hash'; fields: Array<[field: Uint8Array, value: Uint8Array]> }
  | { type: 'set'; members: Uint8Array[] }
  | { type: 'zset'; entries: Array<[member: Uint8Array, score: number]> };

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
