/**
 * The one stream of write effects (ARCHITECTURE: "effects are the one stream"): the acceptor's
 * AofOrder captures each write at dispatch and commits it when its shard answers; this fan-out turns
 * it into its effect once (relative expiries absolute, SPOP as SREM, blocking pops as the pop that
 * served them) and hands the same command to the append-only file while appendonly is on and to
 * the replication stream while a backlog exists. With neither, the acceptor's sink is null and the
 * dispatch path captures nothing.
 */
import type { Acceptor } from '../io/acceptor.js';
import type { AofEntry, AofSink } from '../io/aof-order.js';
import type { ParsedCommand } from '../wire/resp-parser.js';
import * as F from '../wire/frames.js';
import { absoluteForm, type AofLog } from './aof-log.js';
import { dependsOnReply, effectForm } from './aof-effects.js';
import type { ReplStream } from './repl-stream.js';
import { CMD } from '../commands/ids.generated.js';
import { pooledCopy } from '../wire/bytes.js';
import { COMMANDS } from '../commands/table.js';

/** Commands kept as arguments until their reply (effectForm) or made absolute at dispatch (absoluteForm); SET only with options. */
const BY_ARGV = Uint8Array.from(COMMANDS, (_, id) =>
  dependsOnReply(id) ||
  id === CMD.EXPIRE ||
  id === CMD.PEXPIRE ||
  id === CMD.EXPIREAT ||
  id === CMD.SETEX ||
  id === CMD.PSETEX ||
  id === CMD.GETEX ||
  id === CMD.RESTORE ||
  id === CMD.RESTORE_ASKING
    ? 1
    : 0,
);

/** Where write effects go: the AOF, the replication stream, or both. */
export class Propagation implements AofSink {
  private aof: AofLog | null = null;
  private stream: ReplStream | null = null;

  constructor(private readonly a: Acceptor) {
    a.aof.idle = this;
  }

  /** The open AOF (null when appendonly is off). */
  setAof(aof: AofLog | null): void {
    this.aof = aof;
    this.update();
  }

  /** The replication stream (null while there is no backlog, or while this server replicates a master). */
  setStream(stream: ReplStream | null): void {
    this.stream = stream;
    this.update();
  }

  /** Sets the acceptor's sink, and asks the shards to report the keys they expire or evict, only while something listens. */
  private update(): void {
    const on = this.aof !== null || this.stream !== null;
    this.a.aof.sink = on ? this : null;
    for (const link of this.a.shards) link.stats[F.CT_PROPAGATE] = on ? 1 : 0;
  }

  /** Copies a dispatched write command (relative expiries made absolute now) until its reply comes. */
  capture(db: number, id: number, cmd: ParsedCommand): AofEntry {
    const argv: Uint8Array[] = [];
    for (let i = 0; i < cmd.argc; i++) argv.push(cmd.buf.slice(cmd.argStart[i]!, cmd.argStart[i]! + cmd.argLen[i]!));
    return { db, id, argv: absoluteForm(id, argv, Date.now()) ?? argv, resp: null };
  }

  /** A whole command keeps its arguments until its reply (capture) when its effect depends on the reply or the clock; otherwise its RESP encoding is its effect. */
  byArgv(id: number, cmd: ParsedCommand): boolean {
    return BY_ARGV[id] === 1 || (id === CMD.SET && cmd.argc > 3);
  }

  /** A write ran (its reply is known): failed commands are left out, as Redis propagates only what ran. */
  commit(e: AofEntry, reply: Uint8Array, s: number, len: number): void {
    if (reply[s] === 45) return;
    const resp = e.resp;
    if (resp !== null) {
      this.aof?.appendEncoded(e.db, resp);
      this.stream?.raw(e.db, resp, 0, resp.length);
      return;
    }
    const argv = effectForm(e.id, e.argv, reply, s, len);
    if (argv === null) return;
    this.aof?.append(e.db, argv);
    this.stream?.command(e.db, argv);
  }

  /** A whole command that ran whose effect is its encoding (a view: the AOF takes a copy, the stream copies it by settle at the latest). */
  commitEncoded(db: number, b: Uint8Array, start: number, len: number): void {
    if (this.aof !== null) this.aof.appendEncoded(db, pooledCopy(b, start, len));
    this.stream?.raw(db, b, start, len);
  }

  /**
   * A command replicas get and the AOF does not (Redis's PROPAGATE_REPL: PUBLISH and SPUBLISH), with no
   * SELECT before it. Sent when it runs: it precedes writes dispatched before it whose shards have not answered yet.
   */
  replicate(argv: readonly Uint8Array[]): void {
    this.stream?.command(-1, argv);
  }

  /** Whether a replication stream is open (replicate() is a no-op without one). */
  get replicating(): boolean {
    return this.stream !== null;
  }

  /** The views commitEncoded passed on are about to change: the stream copies what it still refers to. */
  settle(): void {
    this.stream?.settle();
  }

  /** Once per turn, before replies go out: the AOF is written (fsynced with `always`) and the stream fed. */
  flush(): void {
    this.aof?.flush();
    this.stream?.flush();
  }
}
