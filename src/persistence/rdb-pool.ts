/** The BGSAVE encode pool: piscina workers running rdb-pool-worker.ts, so shards only pack entries and hand them over. */
import { Piscina } from 'piscina';
import type { RdbEntry } from './rdb-types.js';
import type { EncodeTask } from './rdb-pool-worker.js';
import { packEntries } from './entry-pack.js';

/** RDB bytes of a run of entries, with their CRC-64. */
export interface EncodedBlock {
  block: Uint8Array;
  crc: bigint;
}

/** A pool of encode workers; chunks may be encoded in parallel and are written in the order they were asked for. */
export class RdbEncodePool {
  private readonly pool: Piscina<EncodeTask, Uint8Array>;
  private readonly compress: boolean;

  constructor(opts: { threads?: number; compress?: boolean } = {}) {
    this.compress = opts.compress ?? true;
    const threads = opts.threads ?? 2;
    // Workers stay up between chunks: starting one costs ~50 ms, more than encoding a chunk.
    this.pool = new Piscina({
      filename: new URL('./rdb-pool-worker.js', import.meta.url).href,
      minThreads: threads,
      maxThreads: threads,
      idleTimeout: 60_000,
    });
  }

  /**
   * Encodes a chunk packed by EntryPacker (entries of one database) into a block and its CRC-64, for
   * SnapshotFile.writeBlock; the chunk's buffer is transferred, so do not reuse it.
   */
  async encodePacked(packed: Uint8Array): Promise<EncodedBlock> {
    const out = await this.pool.run({ packed, compress: this.compress }, { transferList: [packed.buffer as ArrayBuffer] });
    const at = out.length - 8;
    return { block: out.subarray(0, at), crc: new DataView(out.buffer, out.byteOffset + at, 8).getBigUint64(0, true) };
  }

  /** Packs and encodes entries of one database. */
  encode(entries: Iterable<RdbEntry>): Promise<EncodedBlock> {
    return this.encodePacked(packEntries(entries));
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
