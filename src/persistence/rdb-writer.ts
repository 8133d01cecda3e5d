/** Streaming writer of RDB version 10 files (what Redis 7.0 writes), one entry at a time, into any byte sink. */
import { ByteWriter } from './byte-writer.js';
import { crc64, crc64Combine, crc64ToLE } from './crc64.js';
import type { RdbEntry } from './rdb-types.js';
import { RDB_VERSION, RdbOpcode } from './rdb-constants.js';
import { writeLength, writeString, writeValue, type EncodeOptions } from './rdb-value.js';
import { asciiBytes } from './int-string.js';

/** Receives the file's bytes in order; a chunk is not reused after the call. */
export type RdbSink = (chunk: Uint8Array) => void;

/** What the writer encodes and what the header says; defaults are what Redis 7.0.15 would write. */
export interface RdbWriterOptions {
  /** LZF-compress long strings (rdbcompression); default true. */
  compress?: boolean;
  redisVersion?: string;
  /** Unix seconds of the snapshot (ctime aux field); default now. */
  ctime?: number;
  usedMem?: number;
  /** The replication history the data belongs to (aux repl-stream-db, repl-id, repl-offset), so a restarted replica continues it. */
  repl?: ReplHistory;
}

const FLUSH_AT = 64 * 1024;

/** Encodes one entry's expiry, type, key and value (no SELECTDB) into `w`: the unit the BGSAVE pool serializes. */
export function writeEntry(w: ByteWriter, e: RdbEntry, opts: EncodeOptions): void {
  if (e.expireAtMs > 0) {
    w.u8(RdbOpcode.EXPIRETIME_MS);
    w.i64le(BigInt(e.expireAtMs));
  }
  writeValue(w, e.value, opts, e.key);
}

/** Encodes a run of entries of one database into a block `RdbWriter.writeEncoded` accepts. */
export function encodeEntries(entries: Iterable<RdbEntry>, opts: EncodeOptions): Uint8Array {
  const w = new ByteWriter(64 * 1024);
  for (const e of entries) writeEntry(w, e, opts);
  return w.take();
}

/** A replica's history as its RDB names it (aux repl-stream-db, repl-id, repl-offset). */
export interface ReplHistory {
  streamDb: number;
  id: string;
  offset: number;
}

/**
 * Writes header, databases and trailer (EOF + CRC-64) to a sink: entries (each database's entries
 * together), then end(); the header goes out with the first record (or at begin()). The sink sees
 * 64 KiB chunks, so memory stays flat.
 */
export class RdbWriter {
  private readonly out = new ByteWriter(FLUSH_AT * 2);
  private crc = 0n;
  private readonly encode: EncodeOptions;
  private db = -1;
  private begun = false;
  private repl: ReplHistory | undefined;

  constructor(
    private readonly sink: RdbSink,
    private readonly options: RdbWriterOptions = {},
  ) {
    this.encode = { compress: options.compress ?? true };
    this.repl = options.repl;
  }

  private aux(key: string, value: string): void {
    this.out.u8(RdbOpcode.AUX);
    writeString(this.out, asciiBytes(key), this.encode);
    writeString(this.out, asciiBytes(value), this.encode);
  }

  private maybeFlush(): void {
    if (this.out.length >= FLUSH_AT) this.flush();
  }

  private flush(): void {
    if (this.out.length === 0) return;
    const chunk = this.out.take();
    this.crc = crc64Combine(this.crc, crc64(chunk), chunk.length);
    this.sink(chunk);
  }

  /** The history the header names, when it is known only after the writer was made (before the first record). */
  history(repl: ReplHistory): void {
    this.repl = repl;
  }

  /** Magic, version and the aux fields Redis 7.0 writes; the first record writes them if begin() was not called. */
  begin(): void {
    if (this.begun) return;
    this.begun = true;
    const repl = this.repl;
    this.out.bytes(asciiBytes(`REDIS${String(RDB_VERSION).padStart(4, '0')}`));
    this.aux('redis-ver', this.options.redisVersion ?? '7.0.15');
    this.aux('redis-bits', '64');
    this.aux('ctime', String(this.options.ctime ?? Math.floor(Date.now() / 1000)));
    this.aux('used-mem', String(this.options.usedMem ?? process.memoryUsage().rss));
    if (repl !== undefined) {
      this.aux('repl-stream-db', String(repl.streamDb));
      this.aux('repl-id', repl.id);
      this.aux('repl-offset', String(repl.offset));
    }
    this.aux('aof-base', '0');
  }

  /** Starts database `db`, with its key and expiry counts as the RESIZEDB hint when known. */
  selectDb(db: number, sizes?: { keys: number; expires: number }): void {
    this.begin();
    this.out.u8(RdbOpcode.SELECTDB);
    writeLength(this.out, db);
    if (sizes) {
      this.out.u8(RdbOpcode.RESIZEDB);
      writeLength(this.out, sizes.keys);
      writeLength(this.out, sizes.expires);
    }
    this.db = db;
  }

  /** Writes one entry, selecting its database first when it differs from the previous entry's. */
  entry(e: RdbEntry): void {
    if (e.db !== this.db) this.selectDb(e.db);
    writeEntry(this.out, e, this.encode);
    this.maybeFlush();
  }

  /**
   * Appends a block from `encodeEntries` whose entries all belong to database `db`. Pass the block's
   * CRC-64 when it is known (the encode pool computes it), so this thread only combines checksums.
   */
  writeEncoded(db: number, block: Uint8Array, blockCrc?: bigint): void {
    if (db !== this.db) this.selectDb(db);
    this.flush();
    this.crc = crc64Combine(this.crc, blockCrc ?? crc64(block), block.length);
    this.sink(block);
  }

  /**
   * Appends function libraries as FUNCTION2 records (opcode and code, the body of a FUNCTION DUMP
   * payload): after the aux fields and before the first database, where Redis writes them.
   */
  functionRecords(records: Uint8Array): void {
    this.begin();
    this.out.bytes(records);
    this.maybeFlush();
  }

  /** EOF opcode and the checksum; flushes everything to the sink. */
  end(): void {
    this.begin();
    this.out.u8(RdbOpcode.EOF);
    this.flush();
    this.sink(crc64ToLE(this.crc));
  }
}
