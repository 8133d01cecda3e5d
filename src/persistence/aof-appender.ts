/** The AOF write path: commands appended as RESP with Redis's appendfsync policies; one thread owns the file. */
import { closeSync, fdatasync, fdatasyncSync, fstatSync, openSync, writeSync } from 'node:fs';
import { encodeCommand } from '../wire/resp-command.js';
import { asciiBytes } from './int-string.js';
import type { AofRewriter } from './aof-rewrite.js';

/** Redis's appendfsync: fsync before acknowledging (always), in the background once a second (everysec), or leave it to the OS (no). */
export type AppendFsync = 'always' | 'everysec' | 'no';

/**
 * Buffers commands and writes them on flush(). The owner calls flush() once per event-loop turn, before
 * sending that turn's replies (Redis does it in beforeSleep): with `always`, flush() returns only after
 * fdatasync, so every acknowledged write is on disk and survives kill -9 or power loss.
 */
export class AofAppender {
  private fd: number;
  private db = -1;
  private pending: Uint8Array[] = [];
  private pendingBytes = 0;
  private capture: Uint8Array[] | null = null;
  private unsynced = false;
  private syncing = false;
  private readonly timer: NodeJS.Timeout | null;
  /** Current size of the AOF in bytes (auto-rewrite compares it with the size after the last rewrite). */
  size: number;

  constructor(
    readonly path: string,
    readonly appendfsync: AppendFsync,
  ) {
    this.fd = openSync(path, 'a');
    this.size = fstatSync(this.fd).size;
    this.timer = appendfsync === 'everysec' ? setInterval(() => this.backgroundSync(), 1000).unref() : null;
  }

  /** Queues one command for database `db`, preceded by SELECT when the database changes. */
  append(db: number, argv: readonly Uint8Array[]): void {
    if (db !== this.db) {
      this.queue(encodeCommand([asciiBytes('SELECT'), asciiBytes(String(db))]));
      this.db = db;
    }
    this.queue(encodeCommand(argv));
  }

  /** Queues one command already encoded as RESP (kept, not copied), preceded by SELECT when the database changes. */
  appendEncoded(db: number, resp: Uint8Array): void {
    if (db !== this.db) {
      this.queue(encodeCommand([asciiBytes('SELECT'), asciiBytes(String(db))]));
      this.db = db;
    }
    this.queue(resp);
  }

  private queue(bytes: Uint8Array): void {
    this.pending.push(bytes);
    this.pendingBytes += bytes.length;
  }

  /** Writes everything queued; with `always` also fdatasyncs before returning. */
  flush(): void {
    if (this.pendingBytes > 0) {
      const block = Buffer.concat(this.pending, this.pendingBytes);
      this.pending = [];
      this.pendingBytes = 0;
      let off = 0;
      while (off < block.length) off += writeSync(this.fd, block, off);
      this.size += block.length;
      this.capture?.push(block);
      this.unsynced = true;
    }
    if (this.appendfsync === 'always' && this.unsynced) {
      fdatasyncSync(this.fd);
      this.unsynced = false;
    }
  }

  private backgroundSync(): void {
    if (!this.unsynced || this.syncing) return;
    this.unsynced = false;
    this.syncing = true;
    // On the libuv thread pool: the event loop keeps serving while the disk catches up.
    fdatasync(this.fd, (err) => {
      this.syncing = false;
      if (err) this.unsynced = true;
    });
  }

  /**
   * Starts an AOF rewrite: from now on flushed bytes are also kept, to be appended to the rewritten file.
   * Take the snapshot of entries for the rewriter at this same point in time.
   */
  startRewrite(): void {
    this.flush();
    this.capture = [];
    // The captured tail must select its own database: the rewritten file may end in another one.
    this.db = -1;
  }

  /** Finishes a rewrite whose entries were all added: appends the captured tail, swaps files, continues on the new one. */
  completeRewrite(rewriter: AofRewriter): void {
    this.flush();
    const tail = Buffer.concat(this.capture ?? []);
    this.capture = null;
    rewriter.commit(tail);
    closeSync(this.fd);
    this.fd = openSync(this.path, 'a');
    this.size = fstatSync(this.fd).size;
    this.db = -1;
  }

  /** Stops capturing after a failed rewrite; the AOF itself was never touched. */
  abortRewrite(rewriter: AofRewriter): void {
    this.capture = null;
    rewriter.abort();
  }

  /** Flushes, fsyncs and closes the file. */
  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.flush();
    fdatasyncSync(this.fd);
    closeSync(this.fd);
  }
}

/** Redis's auto-aof-rewrite rule: grown by `percentage` % over the size after the last rewrite, and at least `minSize` bytes. */
export function shouldRewriteAof(size: number, baseSize: number, percentage = 100, minSize = 64 * 1024 * 1024): boolean {
  if (percentage <= 0 || size < minSize) return false;
  const base = Math.max(baseSize, 1);
  return ((size - base) * 100) / base >= percentage;
}
