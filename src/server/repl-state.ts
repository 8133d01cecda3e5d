/**
 * The replication identity and history every role shares (Redis's PSYNC2 model): the replication id
 * and offset of the stream this server holds, the previous id it may still continue (replid2, up to
 * second_repl_offset), and the backlog, a ring of the stream's last bytes that serves partial
 * resyncs. A master appends what it propagates; a replica appends what it applied from its master,
 * so after a promotion both its old peers and its own replicas can continue.
 */
import { randomBytes } from 'node:crypto';

/** A replication id: 40 hex characters, as Redis makes them. */
export function newReplId(): string {
  return randomBytes(20).toString('hex');
}

/** An id no stream has: what Redis prints as master_replid2 before any promotion. */
export const NO_REPLID = '0'.repeat(40);

/** The last bytes of the replication stream, in a fixed-size ring. */
export class ReplBacklog {
  private buf: Buffer;
  /** Where the next byte goes. */
  private idx = 0;
  /** Bytes held (at most the size). */
  histlen = 0;
  /** Stream offset of the first byte held (Redis's repl_backlog_first_byte_offset). */
  firstOffset: number;

  /** `nextOffset`: the stream offset the next appended byte will have (master_repl_offset + 1). */
  constructor(size: number, nextOffset: number) {
    this.buf = Buffer.allocUnsafe(Math.max(16384, size));
    this.firstOffset = nextOffset;
  }

  /** The ring's capacity in bytes. */
  get size(): number {
    return this.buf.length;
  }

  /** Appends stream bytes; the oldest fall out once the ring is full. */
  append(b: Uint8Array, start = 0, len = b.length - start): void {
    const size = this.buf.length;
    if (len >= size) {
      // Only the last `size` bytes can stay.
      this.buf.set(b.subarray(start + len - size, start + len), 0);
      this.firstOffset += this.histlen + len - size;
      this.idx = 0;
      this.histlen = size;
      return;
    }
    const first = Math.min(len, size - this.idx);
    this.buf.set(b.subarray(start, start + first), this.idx);
    if (first < len) this.buf.set(b.subarray(start + first, start + len), 0);
    this.idx = (this.idx + len) % size;
    const held = this.histlen + len;
    if (held > size) {
      this.firstOffset += held - size;
      this.histlen = size;
    } else this.histlen = held;
  }

  /** True when every byte from stream offset `from` on is held (from may be one past the end: nothing to send). */
  covers(from: number): boolean {
    return from >= this.firstOffset && from <= this.firstOffset + this.histlen;
  }

  /** Copies of the held bytes from stream offset `from` to the end (one or two pieces); `covers(from)` must hold. */
  since(from: number): Buffer[] {
    const skip = from - this.firstOffset;
    const len = this.histlen - skip;
    if (len <= 0) return [];
    const size = this.buf.length;
    const oldest = (this.idx - this.histlen + size) % size;
    const s = (oldest + skip) % size;
    if (s + len <= size) return [Buffer.from(this.buf.subarray(s, s + len))];
    return [Buffer.from(this.buf.subarray(s, size)), Buffer.from(this.buf.subarray(0, len - (size - s)))];
  }

  /** A new capacity (CONFIG SET repl-backlog-size), keeping the newest bytes that fit. */
  resize(size: number): void {
    const held = this.since(this.firstOffset);
    const end = this.firstOffset + this.histlen;
    this.buf = Buffer.allocUnsafe(Math.max(16384, size));
    this.idx = 0;
    this.histlen = 0;
    this.firstOffset = end - held.reduce((n, p) => n + p.length, 0);
    for (const p of held) this.append(p);
  }
}

/** The ids, offsets and backlog of this server's replication stream. */
export class ReplicationState {
  /** master_replid: the history this server's data set belongs to. */
  replid = newReplId();
  /** master_replid2: the id this server's history had before the last promotion. */
  replid2 = NO_REPLID;
  /** second_repl_offset: offsets up to this one (exclusive) may be continued under replid2; -1 when none. */
  secondOffset = -1;
  /** master_repl_offset: stream bytes produced (as master) or applied (as replica). */
  offset = 0;
  /** Created when the first replica attaches (Redis creates it lazily); null before. */
  backlog: ReplBacklog | null = null;

  /** Creates the backlog if there is none yet (size: repl-backlog-size). */
  ensureBacklog(size: number): ReplBacklog {
    if (this.backlog === null) this.backlog = new ReplBacklog(size, this.offset + 1);
    return this.backlog;
  }

  /** Appends stream bytes: the backlog keeps them and the offset moves on. */
  feed(b: Uint8Array, start = 0, len = b.length - start): void {
    this.backlog?.append(b, start, len);
    this.offset += len;
  }

  /**
   * PSYNC's rule: may a replica that holds history `replid` up to `offset` (the next byte it wants
   * is `offset`, as PSYNC sends it) continue from this server's backlog?
   */
  canContinue(replid: string, offset: number): boolean {
    const b = this.backlog;
    if (b === null) return false;
    const sameHistory = replid === this.replid || (replid === this.replid2 && offset <= this.secondOffset);
    return sameHistory && b.covers(offset) && offset <= this.offset + 1;
  }

  /**
   * A promotion (REPLICAOF NO ONE, or a replica that lost its master): the old id becomes replid2,
   * continuable up to the current offset, and a new history starts, as Redis's shiftReplicationId.
   */
  shiftReplId(): void {
    this.replid2 = this.replid;
    this.secondOffset = this.offset + 1;
    this.replid = newReplId();
  }

  /** Takes a master's history after a full sync: its id and offset, no previous id, an empty backlog. */
  adopt(replid: string, offset: number): void {
    this.replid = replid;
    this.replid2 = NO_REPLID;
    this.secondOffset = -1;
    this.offset = offset;
    if (this.backlog !== null) this.backlog = new ReplBacklog(this.backlog.size, offset + 1);
  }

  /** The INFO replication lines about ids, offsets and the backlog (Redis 7.0's names and order); `configuredSize`: repl-backlog-size. */
  infoLines(configuredSize: number): string[] {
    const b = this.backlog;
    return [
      `master_replid:${this.replid}`,
      `master_replid2:${this.replid2}`,
      `master_repl_offset:${this.offset}`,
      `second_repl_offset:${this.secondOffset}`,
      `repl_backlog_active:${b === null ? 0 : 1}`,
      `repl_backlog_size:${b === null ? configuredSize : b.size}`,
      `repl_backlog_first_byte_offset:${b === null ? 0 : b.firstOffset}`,
      `repl_backlog_histlen:${b === null ? 0 : b.histlen}`,
    ];
  }
}
