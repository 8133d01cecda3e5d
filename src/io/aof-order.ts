/**
 * The AOF in the order shards run writes. A write is captured when it is dispatched and logged
 * when its reply comes back, which is the order its shard ran it in (blocked commands included);
 * a write split over shards (DEL, UNLINK, MSET) is logged part by part as each shard answers, and
 * the server's own calls (cross-shard blocking pops) by their system sequence number. The sink
 * (the server's propagation fan-out: the append-only file and the replication stream) is set only
 * while one of them is on.
 */
import type { ParsedCommand } from '../wire/resp-parser.js';
import { COMMANDS, F_WRITE } from '../commands/table.js';
import { CMD } from '../commands/ids.generated.js';
import { encodeParsed, parsedSize } from '../wire/resp-command.js';

/** A write command waiting for its reply before it is logged. */
export interface AofEntry {
  db: number;
  id: number;
  argv: Uint8Array[];
  /** The command already encoded as RESP (then argv is empty): a whole command whose effect is its arguments. */
  resp: Uint8Array | null;
}

/** The AOF as the acceptor uses it: capture at dispatch, log at reply, flush before replies go out. */
export interface AofSink {
  capture(db: number, id: number, cmd: ParsedCommand): AofEntry;
  /** True when a whole command's effect needs its arguments at its reply (capture); false when its RESP encoding is its effect. */
  byArgv(id: number, cmd: ParsedCommand): boolean;
  commit(e: AofEntry, reply: Uint8Array, s: number, len: number): void;
  /**
   * Logs a command that ran whose effect is its RESP encoding, `len` bytes of `b` from `start`: a
   * view, valid until `settle` (so consecutive ones may be copied as one).
   */
  commitEncoded(db: number, b: Uint8Array, start: number, len: number): void;
  /** The views commitEncoded got are about to be overwritten: whatever the sink keeps of them, it copies now. */
  settle(): void;
  flush(): void;
}

const OK = Buffer.from('+OK\r\n');
const ONE = Buffer.from(':1\r\n');
const DEL = Buffer.from('DEL');
const NO_ARGV: Uint8Array[] = [];

/** Split parts are keyed seq * 256 + shard; a whole command that cannot take its ring slot, seq * 256 + WHOLE. */
const WHOLE = 255;
/** A connection's ring of whole commands stops growing here (slots then collide only in odd cases, which go to the map). */
const RING_MAX = 1 << 16;
/** A connection's encoded commands start in this many bytes... */
const BYTES_MIN = 1024;
/** ...and grow up to this; past it (a client that pipelines on while a command of its waits) commands get a buffer each. */
const BYTES_MAX = 256 * 1024;
/** Emptied bytes bigger than this are let go. */
const BYTES_KEEP = 64 * 1024;
/** What takeWhole returns for a command held as bytes (then in takenDb, takenOff, takenLen). */
const ENCODED: AofEntry = { db: -1, id: -1, argv: NO_ARGV, resp: null };

/** A whole command as its own RESP buffer: where it cannot sit in its connection's bytes. */
function encodedEntry(db: number, id: number, cmd: ParsedCommand): AofEntry {
  const resp = Buffer.allocUnsafe(parsedSize(cmd));
  encodeParsed(resp, 0, cmd);
  return { db, id, argv: NO_ARGV, resp };
}

/**
 * One connection's writes waiting for their replies. Whole commands sit in a ring indexed by their
 * sequence number (a connection has at most ~1024 commands in flight, so slots rarely collide):
 * no hashing and no allocation per command, where a Map churns. A whole command whose effect is
 * its RESP encoding is written into the connection's byte buffer, in dispatch order, which starts
 * over once nothing waits (after the sink settled the views it got of it): no object or buffer per
 * command. Split parts, and whole commands whose slot is taken, go to a map.
 */
class Waiting {
  private seqs = new Float64Array(64).fill(-1);
  /** An entry's object, or null where its encoding is `lens[i]` bytes of `bytes` from `offs[i]`. */
  private entries: (AofEntry | null)[] = new Array<AofEntry | null>(64).fill(null);
  private dbs = new Int32Array(64);
  private offs = new Int32Array(64);
  private lens = new Int32Array(64);
  /** Encoded commands, one after another in dispatch order. */
  bytes: Buffer | null = null;
  /** Where the next encoding goes in `bytes`. */
  private head = 0;
  /** Nothing waits in `bytes` any more; the sink may still hold views of them until it settles. */
  private stale = false;
  /** The command takeWhole returned as ENCODED: its database, and where its bytes are. */
  takenDb = 0;
  takenOff = 0;
  takenLen = 0;
  /** Entries held, ring and map. */
  count = 0;
  private map: Map<number, AofEntry> | null = null;

  /** Holds `e` for whole command `seq`. */
  putWhole(seq: number, e: AofEntry): void {
    const i = this.slot(seq);
    if (i < 0) return this.put(seq * 256 + WHOLE, e);
    this.seqs[i] = seq;
    this.entries[i] = e;
    this.count++;
  }

  /** Holds whole command `seq` as its RESP encoding, in this connection's bytes (settling `sink` before they are reused). */
  putEncoded(seq: number, db: number, id: number, cmd: ParsedCommand, sink: AofSink): void {
    if (this.stale) {
      this.stale = false;
      sink.settle();
      this.head = 0;
      // A burst's big buffer is let go.
      if (this.bytes !== null && this.bytes.length > BYTES_KEEP) this.bytes = null;
    }
    const size = parsedSize(cmd);
    const i = this.room(size) ? this.slot(seq) : -1;
    if (i < 0) return this.putWhole(seq, encodedEntry(db, id, cmd));
    this.seqs[i] = seq;
    this.entries[i] = null;
    this.dbs[i] = db;
    this.offs[i] = this.head;
    this.lens[i] = size;
    this.head = encodeParsed(this.bytes!, this.head, cmd);
    this.count++;
  }

  /** Takes whole command `seq`: its entry, or ENCODED (its bytes: takenDb, takenOff, takenLen); undefined when it does not wait here. */
  takeWhole(seq: number): AofEntry | undefined {
    const i = seq & (this.seqs.length - 1);
    if (this.seqs[i] !== seq) return this.map === null ? undefined : this.take(seq * 256 + WHOLE);
    let e = this.entries[i] ?? null;
    this.seqs[i] = -1;
    if (e === null) {
      e = ENCODED;
      this.takenDb = this.dbs[i]!;
      this.takenOff = this.offs[i]!;
      this.takenLen = this.lens[i]!;
    } else this.entries[i] = null;
    if (--this.count === 0) this.stale = true;
    return e;
  }

  put(key: number, e: AofEntry): void {
    (this.map ??= new Map()).set(key, e);
    this.count++;
  }

  take(key: number): AofEntry | undefined {
    const e = this.map?.get(key);
    if (e === undefined) return undefined;
    this.map!.delete(key);
    if (--this.count === 0) this.stale = true;
    return e;
  }

  /** Makes room for `size` more bytes; false past BYTES_MAX. */
  private room(size: number): boolean {
    const b = this.bytes;
    if (b !== null && this.head + size <= b.length) return true;
    const need = this.head + size;
    if (need > BYTES_MAX) return false;
    let n = b === null ? BYTES_MIN : b.length * 2;
    while (n < need) n *= 2;
    const grown = Buffer.allocUnsafeSlow(n);
    if (b !== null) b.copy(grown, 0, 0, this.head);
    this.bytes = grown;
    return true;
  }

  /** The free ring slot for `seq`, growing the ring (up to RING_MAX) when it is taken; -1 when none. */
  private slot(seq: number): number {
    let i = seq & (this.seqs.length - 1);
    if (this.seqs[i] !== -1 && this.grow()) i = seq & (this.seqs.length - 1);
    return this.seqs[i] === -1 ? i : -1;
  }

  /** Doubles the ring (up to RING_MAX), moving its entries; false when it may not grow. */
  private grow(): boolean {
    const n = this.seqs.length * 2;
    if (n > RING_MAX) return false;
    const { seqs, entries, dbs, offs, lens } = this;
    this.seqs = new Float64Array(n).fill(-1);
    this.entries = new Array<AofEntry | null>(n).fill(null);
    this.dbs = new Int32Array(n);
    this.offs = new Int32Array(n);
    this.lens = new Int32Array(n);
    // Doubling keeps distinct slots distinct: every entry finds its new slot free.
    for (let i = 0; i < seqs.length; i++) {
      const seq = seqs[i]!;
      if (seq === -1) continue;
      const j = seq & (n - 1);
      this.seqs[j] = seq;
      this.entries[j] = entries[i]!;
      this.dbs[j] = dbs[i]!;
      this.offs[j] = offs[i]!;
      this.lens[j] = lens[i]!;
    }
    return true;
  }
}

/** Writes waiting for their replies, logged to the sink in the order the shards answer them. */
export class AofOrder {
  /** The propagation fan-out while the AOF or the replication stream is on. */
  sink: AofSink | null = null;
  /**
   * The same fan-out while neither is on: a blocking write is captured with it anyway, since its
   * client may be served after a replica attached, and the pop that served it must reach the replica.
   */
  idle: AofSink | null = null;
  /** Client writes waiting for their reply, by connection id (emptied ones are pruned now and then). */
  private readonly pending = new Map<number, Waiting>();
  /** Flushes since the last pruning of emptied connections. */
  private flushes = 0;
  /** The same for the server's own calls, by system seq. */
  private readonly system = new Map<number, AofEntry>();
  /** The record `waiting` returned last, and its connection id (-1: none). */
  private lastId = -1;
  private last: Waiting | null = null;
  /** Set by routing paths that took care of the AOF for the command being dispatched. */
  private taken = false;

  /**
   * Captures a client's write for a routing path that logs it itself (held operations, split
   * writes) and marks the command being dispatched as taken care of; null when the AOF is off or
   * the command does not write.
   */
  take(db: number, id: number, cmd: ParsedCommand): AofEntry | null {
    if (this.sink === null || (COMMANDS[id]!.flags & F_WRITE) === 0) return null;
    this.taken = true;
    return this.sink.capture(db, id, cmd);
  }

  /** Marks the command being dispatched as one with nothing to log here (refused, or logged per try). */
  skip(): void {
    this.taken = this.sink !== null;
  }

  /** After routing (only while a sink is set): a write no path took is logged when its reply comes. */
  dispatched(connId: number, seq: number, write: boolean, db: number, id: number, cmd: ParsedCommand): void {
    if (write && !this.taken) this.hold(this.sink!, connId, seq, db, id, cmd);
    this.taken = false;
  }

  /** A blocking write dispatched while nothing listens: held like any write, and logged if something listens when it is served. */
  dispatchedBlocking(connId: number, seq: number, db: number, id: number, cmd: ParsedCommand): void {
    if (this.idle !== null) this.hold(this.idle, connId, seq, db, id, cmd);
  }

  /** Holds client write `seq` until its reply: its arguments when its effect needs them, else its RESP encoding. */
  private hold(sink: AofSink, connId: number, seq: number, db: number, id: number, cmd: ParsedCommand): void {
    const w = this.waiting(connId);
    if (sink.byArgv(id, cmd)) w.putWhole(seq, sink.capture(db, id, cmd));
    else w.putEncoded(seq, db, id, cmd, sink);
  }

  /** A write split over shards (DEL, UNLINK, MSET): `byShard[s]` lists shard s's argument indexes. */
  dispatchedParts(connId: number, seq: number, db: number, id: number, cmd: ParsedCommand, byShard: number[][]): void {
    const whole = this.take(db, id, cmd);
    if (whole === null) return;
    const w = this.waiting(connId);
    byShard.forEach((args, s) => {
      if (args.length > 0)
        w.put(seq * 256 + s, { db: whole.db, id, argv: [whole.argv[0]!, ...args.map((i) => whole.argv[i]!)], resp: null });
    });
  }

  /** No command waits for its reply to be logged: replied() has nothing to do. */
  get quiet(): boolean {
    return this.pending.size === 0;
  }

  /** Shard `shard` answered command `seq` of `connId`: logs the write (or its part) this reply answers. */
  replied(connId: number, seq: number, shard: number, b: Uint8Array, s: number, len: number): void {
    if (this.quiet) return;
    const w = this.find(connId);
    if (w === undefined || w.count === 0) return;
    const e = w.takeWhole(seq) ?? w.take(seq * 256 + shard);
    if (e === undefined || this.sink === null) return;
    // Failed commands are left out, as Redis propagates only what ran.
    if (e !== ENCODED) this.sink.commit(e, b, s, len);
    else if (b[s] !== 45) this.sink.commitEncoded(w.takenDb, w.bytes!, w.takenOff, w.takenLen);
  }

  /** Logs `e` when the server's own call `seq` is answered. */
  awaitSystem(seq: number, e: AofEntry): void {
    this.system.set(seq, e);
  }

  /** The server's own call `seq` was answered. */
  systemReplied(seq: number, b: Uint8Array, s: number, len: number): void {
    if (this.system.size === 0) return;
    const e = this.system.get(seq);
    if (e === undefined) return;
    this.system.delete(seq);
    this.sink?.commit(e, b, s, len);
  }

  /**
   * Logs the writes a script made (RESP arrays [db, argv...], in the order it made them) as one
   * MULTI/EXEC block, as Redis 7 propagates a script's effects.
   */
  scriptEffects(b: Uint8Array, s: number, len: number): void {
    const sink = this.sink;
    if (sink === null) return;
    const entries: AofEntry[] = [];
    const end = s + len;
    let p = s;
    while (p < end) {
      let e = b.indexOf(13, p);
      const n = Number(Buffer.from(b.buffer, b.byteOffset + p + 1, e - p - 1).toString('latin1'));
      p = e + 2;
      const items: Uint8Array[] = [];
      for (let i = 0; i < n; i++) {
        e = b.indexOf(13, p);
        const l = Number(Buffer.from(b.buffer, b.byteOffset + p + 1, e - p - 1).toString('latin1'));
        items.push(b.slice(e + 2, e + 2 + l));
        p = e + 2 + l + 2;
      }
      entries.push({ db: Number(Buffer.from(items[0]!).toString('latin1')), id: -1, argv: items.slice(1), resp: null });
    }
    if (entries.length === 0) return;
    const db = entries[0]!.db;
    sink.commit({ db, id: -1, argv: [Buffer.from('MULTI')], resp: null }, OK, 0, OK.length);
    for (const e of entries) sink.commit(e, OK, 0, OK.length);
    sink.commit({ db: entries[entries.length - 1]!.db, id: -1, argv: [Buffer.from('EXEC')], resp: null }, OK, 0, OK.length);
  }

  /** A key a shard expired or evicted (a DEL_TAG frame body: tag, db, key): logged as DEL, as Redis propagates it. */
  deleted(b: Uint8Array, s: number, len: number): void {
    this.sink?.commit({ db: b[s + 1]!, id: CMD.DEL, argv: [DEL, b.slice(s + 2, s + len)], resp: null }, ONE, 0, ONE.length);
  }

  /** Logs `e` with its reply now (a held operation, while its shards are still held). */
  commit(e: AofEntry, reply: Uint8Array, s: number, len: number): void {
    this.sink?.commit(e, reply, s, len);
  }

  /** Drops a client's pending command `seq`: a blocked command dropped unserved never ran. */
  drop(connId: number, seq: number): void {
    this.pending.get(connId)?.takeWhole(seq);
  }

  /** Writes what was logged (fdatasync with `always`); called before the turn's replies go out. */
  flush(): void {
    this.sink?.flush();
    // Closed connections leave their emptied records: dropped now and then, not per command.
    if ((++this.flushes & 1023) === 0) {
      for (const [id, w] of this.pending) if (w.count === 0) this.pending.delete(id);
      this.lastId = -1;
      this.last = null;
    }
  }

  /** The connection's record, if it has one. */
  private find(connId: number): Waiting | undefined {
    if (connId === this.lastId) return this.last!;
    const w = this.pending.get(connId);
    if (w !== undefined) {
      this.lastId = connId;
      this.last = w;
    }
    return w;
  }

  /** The connection's record, created on demand; the last one looked up is kept (a pipeline's commands come in runs). */
  private waiting(connId: number): Waiting {
    if (connId === this.lastId) return this.last!;
    let w = this.pending.get(connId);
    if (w === undefined) this.pending.set(connId, (w = new Waiting()));
    this.lastId = connId;
    this.last = w;
    return w;
  }
}
