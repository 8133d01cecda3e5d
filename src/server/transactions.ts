/**
 * MULTI/EXEC/DISCARD/WATCH/UNWATCH on the acceptor.
 *
 * MULTI queues copies of the commands. EXEC replays them through the normal dispatch on
 * behalf of a collector connection that gathers the replies into one array. Without
 * WATCH or read-then-write cross-shard commands the replay is one synchronous pass into
 * the rings: the acceptor is their only producer, so no other client's command can land
 * between two of the transaction's commands on any shard — atomic without locks, and a
 * single-shard transaction costs one frame per command as usual. With WATCH (or RENAME,
 * MSETNX, COPY across shards, or a shard already held) EXEC runs as a held operation: it
 * holds the involved shards, asks them whether a watched key changed, then replays.
 */
import { keySlot } from '../wire/key-slot.js';
import { CMD } from '../commands/ids.generated.js';
import { COMMANDS, F_NO_MULTI, extractKeys } from '../commands/table.js';
import type { Acceptor } from '../io/acceptor.js';
import { Connection, ST_MULTI, type Queued } from '../io/connection.js';
import { ParsedCommand } from '../wire/resp-parser.js';
import { RespWriter, R_OK, R_QUEUED } from '../wire/resp-writer.js';
import { SHARD_IMPLEMENTS } from '../shards/command-set.js';
import { internalId } from '../commands/internal.js';
import { sortSpansShards } from '../commands/sort-args.js';
import {
  E_DISCARD_WITHOUT_MULTI,
  E_EXECABORT,
  execAbortBecause,
  E_EXEC_WITHOUT_MULTI,
  E_MULTI_NESTED,
  E_NOT_IN_MULTI,
  E_WATCH_IN_MULTI,
} from '../wire/error-text.js';

/** Commands that run at once inside MULTI instead of being queued. */
const RUN_IN_MULTI = new Set<number>([CMD.EXEC, CMD.DISCARD, CMD.MULTI, CMD.WATCH, CMD.QUIT, CMD.RESET]);
/** Cross-shard operations the acceptor runs in several steps. */
const MULTI_STEP = new Set<number>([CMD.MSETNX, CMD.RENAME, CMD.RENAMENX, CMD.COPY]);

/**
 * Stands in for the client while a transaction's commands run: replies are kept by
 * sequence number instead of being written, and the EXEC reply is built once all are in.
 */
export class TxnCollector extends Connection {
  private readonly replies: Uint8Array[];
  private got = 0;
  constructor(
    id: number,
    readonly owner: Connection,
    private readonly expected: number,
    private readonly done: (replies: Uint8Array[]) => void,
  ) {
    super(id, owner.socket, true);
    this.user = owner.user;
    this.restricted = owner.restricted;
    this.db = owner.db;
    this.proto = owner.proto;
    this.out.proto = owner.proto;
    this.noBlock = true;
    this.errors = owner.errors;
    this.replies = new Array<Uint8Array>(expected);
  }

  override deliver(seq: number, buf: Uint8Array, start: number, len: number): boolean {
    // Each command's error counts (Redis counts them as they run), the EXEC array around them does not.
    if (buf[start] === 45) this.countError(seq, buf, start, len);
    this.replies[seq] = buf.slice(start, start + len);
    this.nextWrite++;
    if (++this.got === this.expected) this.done(this.replies);
    return false;
  }

  /** Each reply is kept apart (the EXEC array is built from them): a run is handed over one reply at a time. */
  override deliverRun(): boolean {
    return false;
  }
}

/** A parsed command with its own copy of the bytes (for use after the parse buffer moves on). */
function copyCommand(cmd: ParsedCommand): ParsedCommand {
  const c = new ParsedCommand();
  c.reserve(cmd.argc);
  let size = 0;
  for (let i = 0; i < cmd.argc; i++) size += cmd.argLen[i]!;
  c.buf = new Uint8Array(size);
  let p = 0;
  for (let i = 0; i < cmd.argc; i++) {
    c.buf.set(cmd.buf.subarray(cmd.argStart[i]!, cmd.argStart[i]! + cmd.argLen[i]!), p);
    c.argStart[i] = p;
    c.argLen[i] = cmd.argLen[i]!;
    p += cmd.argLen[i]!;
  }
  c.argc = cmd.argc;
  return c;
}

/** The connection a command acts for: the client behind a transaction's collector. */
export function ownerOf(conn: Connection): Connection {
  return conn instanceof TxnCollector ? conn.owner : conn;
}

/** How EXEC reaches MONITOR clients (the server's Monitor). */
export interface ExecMonitor {
  /** Queues EXEC's line in the client's order, behind the commands it ran; `ran`: they all did. */
  exec(conn: Connection, seq: number, cmd: ParsedCommand, ran: boolean): void;
  /** The transaction answering `seq` of `conn` finished. */
  executed(conn: Connection, seq: number): void;
}

/** Transaction state machine and EXEC execution for one acceptor. */
export class Transactions {
  private readonly watchId = internalId('__watch');
  private readonly checkId = internalId('__watchcheck');
  private readonly unwatchId = internalId('__unwatch');
  private keyIdx = new Int32Array(64);
  private readonly parsed = new ParsedCommand();

  constructor(
    private readonly a: Acceptor,
    private readonly monitor: ExecMonitor,
  ) {
    const h = a.local;
    h[CMD.MULTI] = (conn, seq) => {
      if (conn.multi !== null) return a.replyError(conn, seq, E_MULTI_NESTED);
      conn.multi = { cmds: [], failed: false, needsHold: false };
      conn.state |= ST_MULTI;
      a.replyConst(conn, seq, R_OK);
    };
    h[CMD.DISCARD] = (conn, seq) => {
      if (conn.multi === null) return a.replyError(conn, seq, E_DISCARD_WITHOUT_MULTI);
      this.endMulti(conn);
      this.unwatch(conn);
      a.replyConst(conn, seq, R_OK);
    };
    h[CMD.EXEC] = (conn, seq, cmd) => this.exec(conn, seq, cmd);
    h[CMD.WATCH] = (conn, seq, cmd) => this.watch(conn, seq, cmd);
    h[CMD.UNWATCH] = (conn, seq) => {
      this.unwatch(conn);
      a.replyConst(conn, seq, R_OK);
    };
    const reset = h[CMD.RESET];
    h[CMD.RESET] = (conn, seq, cmd) => {
      this.endMulti(conn);
      this.unwatch(conn);
      reset?.(conn, seq, cmd);
    };
  }

  /** Inside MULTI: queues the command (true) or lets it run (false). */
  gate(conn: Connection, seq: number, id: number, cmd: ParsedCommand): boolean {
    if (RUN_IN_MULTI.has(id)) return false;
    const m = conn.multi!;
    if ((COMMANDS[id]!.flags & F_NO_MULTI) !== 0) {
      m.failed = true;
      this.a.replyError(conn, seq, E_NOT_IN_MULTI);
      return true;
    }
    let size = 0;
    for (let i = 0; i < cmd.argc; i++) size += cmd.argLen[i]!;
    const buf = Buffer.allocUnsafe(size);
    const starts = new Int32Array(cmd.argc);
    const lens = new Int32Array(cmd.argc);
    let p = 0;
    for (let i = 0; i < cmd.argc; i++) {
      const s = cmd.argStart[i]!;
      const n = cmd.argLen[i]!;
      buf.set(cmd.buf.subarray(s, s + n), p);
      starts[i] = p;
      lens[i] = n;
      p += n;
    }
    const q = { id, buf, argc: cmd.argc, starts, lens };
    if (this.a.nShards > 1 && (MULTI_STEP.has(id) || this.sortAcross(q))) m.needsHold = true;
    m.cmds.push(q);
    this.a.replyConst(conn, seq, R_QUEUED);
    return true;
  }

  /** A command was rejected while queueing. */
  rejected(conn: Connection): void {
    if (conn.multi !== null) conn.multi.failed = true;
  }

  /** EXEC refused before it ran: the transaction ends with EXECABORT naming the error, as Redis's rejectCommand does. */
  execRejected(conn: Connection, seq: number, error: string): boolean {
    if (conn.multi === null) return false;
    this.endMulti(conn);
    this.unwatch(conn);
    this.a.replyError(conn, seq, execAbortBecause(error));
    return true;
  }

  /** Drops the connection's transaction and watches. */
  closed(conn: Connection): void {
    this.endMulti(conn);
    this.unwatch(conn);
  }

  private endMulti(conn: Connection): void {
    conn.multi = null;
    conn.state &= ~ST_MULTI;
  }

  /** WATCH: registers the keys on their shards, answering once every shard has them. */
  private watch(conn: Connection, seq: number, cmd: ParsedCommand): void {
    const a = this.a;
    if (conn.multi !== null) return a.replyError(conn, seq, E_WATCH_IN_MULTI);
    const byShard = new Map<number, Buffer[]>();
    const connArg = Buffer.from(String(conn.id));
    for (let i = 1; i < cmd.argc; i++) {
      const key = Buffer.from(cmd.buf.subarray(cmd.argStart[i]!, cmd.argStart[i]! + cmd.argLen[i]!));
      const s = keySlot(key, 0, key.length) % a.nShards;
      let args = byShard.get(s);
      if (args === undefined) byShard.set(s, (args = [Buffer.from('__watch'), connArg]));
      args.push(key);
      conn.watchShards.add(s);
    }
    const db = conn.db;
    void Promise.all([...byShard].map(([s, args]) => a.coordinator.call(s, db, this.watchId, args))).then(() => {
      if (!conn.closed) a.replyConst(conn, seq, R_OK);
      a.scheduleTick();
    });
  }

  /** Drops every watch of the connection (fire and forget: the shards process it before any later frame). */
  private unwatch(conn: Connection): void {
    if (conn.watchShards.size === 0) return;
    const args = [Buffer.from('__unwatch'), Buffer.from(String(conn.id))];
    for (const s of conn.watchShards) void this.a.coordinator.call(s, 0, this.unwatchId, args);
    conn.watchShards.clear();
  }

  private exec(conn: Connection, seq: number, cmd: ParsedCommand): void {
    const a = this.a;
    const m = conn.multi;
    if (m === null) return a.replyError(conn, seq, E_EXEC_WITHOUT_MULTI);
    this.endMulti(conn);
    if (m.failed) {
      this.unwatch(conn);
      a.replyError(conn, seq, E_EXECABORT);
      if (a.monitoring) this.monitor.exec(conn, seq, cmd, true);
      return;
    }
    // MONITOR shows EXEC after the commands it ran, as Redis does.
    if (conn.watchShards.size === 0 && !m.needsHold && !a.coordinator.anyHeld()) {
      if (!a.monitoring) return this.replay(conn, seq, m.cmds, null);
      // Its line takes its place in the client's order now (later commands follow it), shown once the commands ran.
      let done = false;
      let queued = false;
      this.replay(conn, seq, m.cmds, () => {
        done = true;
        if (queued) this.monitor.executed(conn, seq);
      });
      queued = true;
      this.monitor.exec(conn, seq, cmd, done);
      return;
    }
    // The client is parked until this finishes: nothing of its own can come between.
    const fed = a.monitoring ? copyCommand(cmd) : null;
    this.execHeld(conn, seq, m.cmds, () => {
      if (fed !== null) this.monitor.exec(conn, seq, fed, true);
    });
  }

  /** Builds a collector for `cmds` whose completion writes the EXEC array to `seq`. */
  private collector(conn: Connection, seq: number, n: number, after: (() => void) | null): TxnCollector {
    const a = this.a;
    const id = a.nextConnId++;
    const col = new TxnCollector(id, conn, n, (replies) => {
      a.sinks.delete(id);
      const w = new RespWriter(256);
      w.proto = conn.proto;
      w.arrayHeader(n);
      for (const r of replies) w.raw(r, 0, r.length);
      if (!conn.closed && conn.deliver(seq, w.bytes, 0, w.len)) a.markDirty(conn);
      after?.();
    });
    // The master's transactions write on a read-only replica.
    col.master = conn.master;
    a.sinks.set(id, col);
    return col;
  }

  /** Points the reusable parsed command at a queued command's arguments. */
  private load(q: Queued): ParsedCommand {
    const p = this.parsed;
    p.buf = q.buf;
    p.argc = q.argc;
    p.argStart = q.starts;
    p.argLen = q.lens;
    return p;
  }

  /** The fast path: every queued command dispatched in one synchronous pass. */
  private replay(conn: Connection, seq: number, cmds: Queued[], after: (() => void) | null): void {
    const a = this.a;
    if (cmds.length === 0) {
      a.startReply(conn).arrayHeader(0);
      a.replyW(conn, seq);
      after?.();
      return;
    }
    const col = this.collector(conn, seq, cmds.length, after);
    for (const q of cmds) a.dispatch(col, this.load(q));
    conn.db = col.db;
    a.scheduleTick();
  }

  /** Shards a queued command touches; null when it is keyless (it may touch every shard). */
  /** A SORT whose STORE key or pattern keys may be on other shards: the coordinator runs it, holding every shard. */
  private sortAcross(q: Queued): boolean {
    if ((q.id !== CMD.SORT && q.id !== CMD.SORT_RO) || this.a.nShards === 1) return false;
    const n = this.a.nShards;
    return sortSpansShards(q.buf, q.starts, q.lens, q.argc, q.id === CMD.SORT_RO, (b, s, k) => keySlot(b, s, k) % n);
  }

  private shardsOf(q: Queued, into: Set<number>): boolean {
    const spec = COMMANDS[q.id]!;
    if (!SHARD_IMPLEMENTS[q.id]) return true;
    if (this.sortAcross(q)) return false;
    if (this.keyIdx.length < q.argc) this.keyIdx = new Int32Array(q.argc * 2);
    const nk = extractKeys(spec, q.buf, q.starts, q.lens, q.argc, this.keyIdx);
    if (nk <= 0) return false;
    for (let i = 0; i < nk; i++) {
      const k = this.keyIdx[i]!;
      into.add(keySlot(q.buf, q.starts[k]!, q.lens[k]!) % this.a.nShards);
    }
    return true;
  }

  /**
   * EXEC with WATCH or multi-step commands: queued behind other cross-shard operations,
   * it holds the involved shards, checks the watches, then runs the commands in order
   * (multi-step ones awaited in place) before releasing the shards.
   */
  private execHeld(conn: Connection, seq: number, cmds: Queued[], ran: () => void): void {
    const a = this.a;
    const c = a.coordinator;
    a.park(conn);
    const watched = [...conn.watchShards];
    const connArg = Buffer.from(String(conn.id));
    conn.watchShards.clear();
    const involved = new Set<number>(watched);
    let all = false;
    for (const q of cmds) if (!this.shardsOf(q, involved)) all = true;
    if (all) for (let s = 0; s < a.nShards; s++) involved.add(s);
    void c.holding(involved, async () => {
      const checks = await Promise.all(watched.map((s) => c.call(s, 0, this.checkId, [Buffer.from('__watchcheck'), connArg])));
      for (const s of watched) void c.call(s, 0, this.unwatchId, [Buffer.from('__unwatch'), connArg]);
      if (checks.some((r) => r[1] === 49)) {
        a.startReply(conn).nullArray();
        if (!conn.closed) a.replyW(conn, seq);
        ran();
        return;
      }
      await new Promise<void>((resolve) => {
        if (cmds.length === 0) return this.replay(conn, seq, cmds, resolve);
        const col = this.collector(conn, seq, cmds.length, resolve);
        void this.runInOrder(col, cmds).then(() => {
          conn.db = col.db;
        });
      });
      ran();
    });
  }

  /** Dispatches queued commands while their shards are held; multi-step ones run inline. */
  private async runInOrder(col: TxnCollector, cmds: Queued[]): Promise<void> {
    const a = this.a;
    for (const q of cmds) {
      if ((MULTI_STEP.has(q.id) && a.nShards > 1 && this.spansShards(q)) || this.sortAcross(q)) {
        const args: Buffer[] = [];
        for (let i = 0; i < q.argc; i++) args.push(q.buf.subarray(q.starts[i]!, q.starts[i]! + q.lens[i]!));
        const s = col.nextSeq++;
        // Run by the coordinator, not dispatch: check the ACL here (the rules may have changed since MULTI).
        if (col.restricted && !a.access.check(col, s, q.id, this.load(q))) continue;
        const reply = await a.coordinator.step(q.id, args, col.db, col.proto);
        col.deliver(s, reply, 0, reply.length);
        continue;
      }
      // The shards are held for this transaction: let its own commands through.
      a.coordinator.withoutHolds(() => a.dispatch(col, this.load(q)));
    }
    a.scheduleTick();
  }

  private spansShards(q: Queued): boolean {
    const set = new Set<number>();
    this.shardsOf(q, set);
    return set.size > 1;
  }
}
