/**
 * The replication stream's encoder: each write's effect as a RESP command, preceded by SELECT when
 * its database differs from the previous one (Redis's replicationFeedSlaves), gathered for one
 * event-loop turn in one growing buffer and handed on once per turn: appended to the backlog (the
 * offset moves on) and written to the replicas. Nothing is allocated per command.
 */
import type { ReplicationState } from './repl-state.js';
import { copyBytes } from '../wire/bytes.js';
import { writeDigits } from '../wire/resp-writer.js';

const SELECT = Buffer.from('SELECT');

/** Decimal digits of `n` (a RESP header's length). */
function digits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = (n / 10) | 0;
    d++;
  }
  return d;
}

/** The stream of one master: encodes commands, feeds the history once per turn. */
export class ReplStream {
  private buf: Buffer = Buffer.allocUnsafe(64 * 1024);
  /** The buffer the last turn's bytes went out from, when nothing kept a view of it: the next turn's. */
  private spare: Buffer | null = null;
  /** Bytes encoded this turn, not yet fed. */
  private len = 0;
  /** The database the stream last selected (-1: the next command selects its own). */
  private db = -1;
  private readonly dbArg = [SELECT, Buffer.alloc(0)];
  /**
   * Encoded commands that follow each other in one buffer (a connection's pipeline, answered in
   * order), not copied yet: raw extends the run while the next one starts where it ends, and settle
   * copies it as one piece.
   */
  private runBuf: Uint8Array | null = null;
  private runStart = 0;
  private runEnd = 0;
  /** Where the last write's bytes end (PINGs and GETACKs after it not counted): what WAIT waits for. */
  dataOffset: number;

  /** `out` gets each turn's bytes after the backlog took them, as a view of the stream's buffer; it returns true when it keeps that view beyond the call. */
  constructor(
    private readonly repl: { readonly state: ReplicationState; readonly upstream: unknown },
    private readonly out: (chunk: Buffer) => boolean,
  ) {
    this.dataOffset = repl.state.offset;
  }

  /** The offset the stream reaches once this turn's bytes are fed. */
  get offset(): number {
    return this.repl.state.offset + this.len + this.runEnd - this.runStart;
  }

  /** After a promotion: the stream goes on from the offset the server reached as a replica, selecting its database again. */
  restart(): void {
    this.len = 0;
    this.runBuf = null;
    this.runStart = this.runEnd = 0;
    this.db = -1;
    this.dataOffset = this.repl.state.offset;
  }

  /** The next command selects its database again (a full sync starts, as Redis resets slaveseldb). */
  forceSelect(): void {
    this.settle();
    this.db = -1;
  }

  /** Adds one command for database `db` (-1: any database, as PING and REPLCONF GETACK); nothing while this server replicates a master (its history is the master's). */
  command(db: number, argv: readonly Uint8Array[]): void {
    if (this.repl.upstream !== null) return;
    this.settle();
    if (db >= 0 && db !== this.db) {
      this.dbArg[1] = Buffer.from(String(db));
      this.encode(this.dbArg);
      this.db = db;
    }
    this.encode(argv);
    if (db >= 0) this.dataOffset = this.repl.state.offset + this.len;
  }

  /** Adds one command already encoded as RESP (`len` bytes of `resp` from `start`, a view valid until settle), for database `db`. */
  raw(db: number, resp: Uint8Array, start: number, len: number): void {
    if (this.repl.upstream !== null) return;
    if (resp !== this.runBuf || start !== this.runEnd || db !== this.db) {
      this.settle();
      if (db !== this.db) {
        this.dbArg[1] = Buffer.from(String(db));
        this.encode(this.dbArg);
        this.db = db;
      }
      this.runBuf = resp;
      this.runStart = start;
      this.runEnd = start;
    }
    this.runEnd += len;
    this.dataOffset = this.repl.state.offset + this.len + this.runEnd - this.runStart;
  }

  /** Copies the run of commands raw kept as a view into the stream's own bytes. */
  settle(): void {
    const b = this.runBuf;
    if (b === null) return;
    this.runBuf = null;
    const n = this.runEnd - this.runStart;
    if (this.len + n > this.buf.length) this.grow(n);
    copyBytes(this.buf, this.len, b, this.runStart, n);
    this.len += n;
    this.runStart = this.runEnd = 0;
  }

  private grow(size: number): void {
    const grown = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.len + size));
    this.buf.copy(grown, 0, 0, this.len);
    this.buf = grown;
  }

  private encode(argv: readonly Uint8Array[]): void {
    let size = 3 + digits(argv.length);
    for (let i = 0; i < argv.length; i++) size += 5 + digits(argv[i]!.length) + argv[i]!.length;
    if (this.len + size > this.buf.length) this.grow(size);
    const b = this.buf;
    let p = this.len;
    b[p++] = 42;
    p = this.num(argv.length, p);
    for (let i = 0; i < argv.length; i++) {
      const a = argv[i]!;
      b[p++] = 36;
      p = this.num(a.length, p);
      copyBytes(b, p, a, 0, a.length);
      p += a.length;
      b[p++] = 13;
      b[p++] = 10;
    }
    this.len = p;
  }

  /** Writes `n` and CRLF at `p`; returns the position after them. */
  private num(n: number, p: number): number {
    const b = this.buf;
    p = writeDigits(b, p, n);
    b[p++] = 13;
    b[p++] = 10;
    return p;
  }

  /** Feeds this turn's bytes to the backlog and hands them to `out`; a no-op when there are none. */
  flush(): void {
    this.settle();
    if (this.len === 0) return;
    const used = this.buf;
    const chunk = used.subarray(0, this.len);
    // Two buffers take turns while `out` keeps no view of them (anything written to the stream while
    // `out` runs goes to the other one): a buffer per turn (mostly written at once, then garbage)
    // made the old generation grow and V8 mark-compact every few hundred milliseconds under load.
    this.buf = this.spare ?? Buffer.allocUnsafe(64 * 1024);
    this.spare = null;
    this.len = 0;
    this.repl.state.feed(chunk);
    if (!this.out(chunk) && used.length <= 1 << 20) this.spare = used;
  }
}
