/** SAVE and BGSAVE output: an RDB written to a temp file, fsynced and renamed, so a crash never damages the last good dump. */
import { openSync, writeSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { RdbEntry } from './rdb-types.js';
import { RdbWriter, type RdbWriterOptions, type ReplHistory } from './rdb-writer.js';
import { commitTempFile, commitTempHandle, discardTempFile, tempPathFor } from './durable-file.js';

/** Key and expiry counts of one database, written as the RESIZEDB hint. */
export type DbSizes = (db: number) => { keys: number; expires: number } | undefined;

/**
 * SAVE: streams `entries` (grouped by database) into a temp file beside `path`, then fsync + rename.
 * Blocks the calling thread for the whole write, as Redis's SAVE blocks the server.
 */
export function saveRdbFile(
  path: string,
  entries: Iterable<RdbEntry>,
  opts: RdbWriterOptions & { dbSizes?: DbSizes; functions?: Uint8Array } = {},
): { bytes: number } {
  const temp = tempPathFor(path);
  const fd = openSync(temp, 'w');
  let bytes = 0;
  try {
    const w = new RdbWriter((chunk) => {
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off);
      bytes += chunk.length;
    }, opts);
    w.begin();
    if (opts.functions !== undefined) w.functionRecords(opts.functions);
    let db = -1;
    for (const e of entries) {
      if (e.db !== db) {
        db = e.db;
        w.selectDb(db, opts.dbSizes?.(db));
      }
      w.entry(e);
    }
    w.end();
    commitTempFile(fd, temp, path);
    return { bytes };
  } catch (e) {
    discardTempFile(temp);
    throw e;
  }
}

/**
 * BGSAVE's file: takes blocks of encoded entries (from the encode pool) in order, writes them without
 * blocking the event loop, and commits with fsync + rename. Until commit() resolves the old dump stays.
 */
export class SnapshotFile {
  private readonly writer: RdbWriter;
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown = null;
  /** Bytes handed to the file so far. */
  bytes = 0;
  /** Bytes accepted but not yet written: producers should wait on drained() when this grows. */
  queuedBytes = 0;

  private constructor(
    private readonly handle: FileHandle,
    private readonly temp: string,
    readonly path: string,
    opts: RdbWriterOptions,
  ) {
    this.writer = new RdbWriter((chunk) => this.enqueue(chunk), opts);
  }

  /** The replication history at the copy's point (a replica's snapshot for its own replicas); before any record. */
  history(repl: ReplHistory): void {
    this.writer.history(repl);
  }

  /** Opens the temp file and writes the header. */
  static async create(path: string, opts: RdbWriterOptions = {}): Promise<SnapshotFile> {
    const temp = tempPathFor(path);
    return new SnapshotFile(await open(temp, 'w'), temp, path, opts);
  }

  private enqueue(chunk: Uint8Array): void {
    this.queuedBytes += chunk.length;
    this.chain = this.chain.then(async () => {
      if (this.failure) return;
      try {
        let off = 0;
        while (off < chunk.length) off += (await this.handle.write(chunk, off)).bytesWritten;
        this.bytes += chunk.length;
      } catch (e) {
        this.failure = e;
      } finally {
        this.queuedBytes -= chunk.length;
      }
    });
  }

  /** Writes the function libraries (FUNCTION2 records); before the first database. */
  functionRecords(records: Uint8Array): void {
    this.writer.functionRecords(records);
  }

  /** Starts database `db` (its entries' blocks follow), with the RESIZEDB hint when known. */
  selectDb(db: number, sizes?: { keys: number; expires: number }): void {
    this.writer.selectDb(db, sizes);
  }

  /** Appends a block whose entries all belong to database `db` (from the encode pool, with its CRC, or encodeEntries). */
  writeBlock(db: number, block: Uint8Array, crc?: bigint): void {
    this.writer.writeEncoded(db, block, crc);
  }

  /** Resolves once every queued byte reached the file. */
  async drained(): Promise<void> {
    await this.chain;
    if (this.failure) throw this.failure;
  }

  /** Writes EOF and checksum, fsyncs, renames over `path` and fsyncs the directory. */
  async commit(): Promise<{ bytes: number }> {
    this.writer.end();
    try {
      await this.drained();
      await commitTempHandle(this.handle, this.temp, this.path);
      return { bytes: this.bytes };
    } catch (e) {
      await this.abort();
      throw e;
    }
  }

  /** Abandons the snapshot: closes and removes the temp file, leaving the previous dump. */
  async abort(): Promise<void> {
    await this.chain;
    await this.handle.close().catch(() => undefined);
    discardTempFile(this.temp);
  }
}
