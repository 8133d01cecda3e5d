/** Piscina task of the BGSAVE encode pool: turns a chunk of entries into RDB bytes off the shard threads. */
import { move } from 'piscina';
import type { RdbEntry } from './rdb-types.js';
import { encodeEntries } from './rdb-writer.js';

/** One chunk: entries of a single database, in the order they go into the file. */
export interface EncodeTask {
  entries: RdbEntry[];
  compress: boolean;
}

/** Encodes the chunk; piscina transfers the result's buffer back (the caller receives a Uint8Array), not a copy. */
export default function encodeChunk(task: EncodeTask): ReturnType<typeof move> {
  return move(encodeEntries(task.entries, { compress: task.compress }));
}
