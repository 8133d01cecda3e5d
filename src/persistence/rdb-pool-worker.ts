/** Piscina task of the BGSAVE encode pool: turns a packed chunk of entries into RDB bytes off the shard threads. */
import { move } from 'piscina';
import { unpackEntries } from './entry-pack.js';
import { encodeEntries } from './rdb-writer.js';
import { crc64, crc64ToLE } from './crc64.js';

/** One chunk: entries of a single database packed by EntryPacker, in the order they go into the file. */
export interface EncodeTask {
  packed: Uint8Array;
  compress: boolean;
}

/**
 * Encodes the chunk and appends the block's CRC-64 (8 bytes LE), so the file writer never checksums the
 * bulk of the data itself; piscina transfers the result's buffer back rather than copying it.
 */
export default function encodeChunk(task: EncodeTask): ReturnType<typeof move> {
  const block = encodeEntries(unpackEntries(task.packed), { compress: task.compress });
  const out = new Uint8Array(block.length + 8);
  out.set(block);
  out.set(crc64ToLE(crc64(block)), block.length);
  return move(out);
}
