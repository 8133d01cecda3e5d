/** The BGSAVE encode pool: piscina workers running rdb-pool-worker.ts, so shards only hand over entries. */
import { Piscina } from 'piscina';
import type { RdbEntry } from './rdb-types.js';
import type { EncodeTask } from './rdb-pool-worker.js';

/** A pool of encode workers; chunks may be encoded in parallel and are written in the order they were asked for. */
export class RdbEncodePool {
  private readonly pool: Piscina<EncodeTask, Uint8Array>;
  private readonly compress: boolean;

  constructor(opts: { threads?: number; compress?: boolean } = {}) {
    this.compress = opts.compress ?? true;
    const threads = opts.threads ?? 2;
    this.pool = new Piscina({ filename: new URL('./rdb-pool-worker.js', import.meta.url).href, minThreads: 1, maxThreads: threads });
  }

  /** Encodes entries of one database into a block for SnapshotFile.writeBlock. */
  encode(entries: RdbEntry[]): Promise<Uint8Array> {
    return this.pool.run({ entries, compress: this.compress });
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
