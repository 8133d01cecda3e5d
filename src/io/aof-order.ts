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
  /** The same for a whole command logged when its reply comes (it may keep only its RESP encoding). */
  captureWhole(db: number, id: number, cmd: ParsedCommand): AofEntry;
  commit(e: AofEntry, reply: Uint8Array, s: number, len: number): void;
  flush(): void;
}

const OK = Buffer.from('+OK\r\n');
const ONE = Buffer.from(':1\r\n');
const DEL = Buffer.from('DEL');

/** Split parts are keyed seq * 256 + shard; a whole command that cannot take its ring slot, seq * 256 + WHOLE. */
const WHOLE = 255;
/** A connection's ring of whole commands stops growing here (slots then collide only in odd cases, which go to the map). */
const RING_MAX = 1 << 16;

/**
 * One connection's writes waiting for their replies. Whole commands sit in a ring indexed by their
 * sequence number (a connection has at most ~1024 commands in flight, so slots rarely collide):
 * no hashing and no allocation per command, where a Map churns. Split parts, and whole commands
 * whose slot is taken, go to a map.
 */
class Waiting {
  private seqs = new Float64Array(64).fill(-1);
  private entries: (AofEntry | null)[] = new Array<AofEntry | null>(64).fill(null);
  /** Entries held, ring and map. */
  count = 0;
  private map: Map<number, AofEntry> | null = null;

  putWhole(seq: number, e: AofEntry): void {
    let i = seq & (this.seqs.length - 1);
    if (this.seqs[i] !== -1 && this.grow()) i = seq & (this.seqs.length - 1);
    if (this.seqs[i] === -1) {
      this.seqs[i] = seq;
      this.entries[i] = e;
      this.count++;
    } else this.put(seq * 256 + WHOLE, e);
  }

  takeWhole(seq: number): AofEntry | undefined {
    const i = seq & (this.seqs.length - 1);
    if (this.seqs[i] === seq) {
      const e = this.entries[i]!;
      this.seqs[i] = -1;
      this.entries[i] = null;
      this.count--;
      return e;
    }
    return this.map === null ? undefined : this.take(seq * 256 + WHOLE);
  }

  put(key: number, e: AofEntry): void {
    (this.map ??= new Map()).set(key, e);
    this.count++;
  }

  take(key: number): AofEntry | undefined {
    const e = this.map?.get(key);
    if (e === undefined) return undefined;
    this.map!.delete(key);
    this.count--;
    return e;
  }

  /** Doubles the ring (up to RING_MAX), moving its entries; false when it may not grow. */
  private grow(): boolean {
    const n = this.seqs.length * 2;
    if (n > RING_MAX) return false;
    const seqs = this.seqs;
    const entries = this.entries;
    this.seqs = new Float64Array(n).fill(-1);
    this.entries = new Array<AofEntry | null>(n).fill(null);
    for (let i = 0; i < seqs.length; i++) {
      if (seqs[i] === -1) continue;
      const j = seqs[i]! & (n - 1);
      if (this.seqs[j] === -1) {
        this.seqs[j] = seqs[i]!;
        this.entries[j] = entries[i]!;
      } else {
        this.count--;
        this.put(seqs[i]! * 256 + WHOLE, entries[i]!);
      }
    }
    return true;
  }
}

/** Writes waiting for their replies, logged to the sink in the order the shards answer them. */
export class AofOrder {
  /** The propagation fan-out while the AOF or the replication stream is on. */
  sink: AofSink | null = null;
  /** Client writes waiting for their reply, by connection id (emptied ones are pruned now and then). */
  private readonly pending = new Map<number, Waiting>();
  /** Flushes since the last pruning of emptied connections. */
  private flushes = 0;
  /** The same for the server's own calls, by system seq. */
  private readonly system = new Map<number, AofEntry>();
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
    if (write && !this.taken) this.waiting(connId).putWhole(seq, this.sink!.captureWhole(db, id, cmd));
    this.taken = false;
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

  /** Shard `shard` answered command `seq` of `connId`: logs the write (or its part) this reply answers. */
  replied(connId: number, seq: number, shard: number, b: Uint8Array, s: number, len: number): void {
    if (this.pending.size === 0) return;
    const w = this.pending.get(connId);
    if (w === undefined || w.count === 0) return;
    const e = w.takeWhole(seq) ?? w.take(seq * 256 + shard);
    if (e !== undefined) this.sink?.commit(e, b, s, len);
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
    if ((++this.flushes & 1023) === 0) for (const [id, w] of this.pending) if (w.count === 0) this.pending.delete(id);
  }

  private waiting(connId: number): Waiting {
    let w = this.pending.get(connId);
    if (w === undefined) this.pending.set(connId, (w = new Waiting()));
    return w;
  }
}
