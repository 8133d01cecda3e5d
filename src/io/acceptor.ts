/**
 * The acceptor thread: owns every socket, parses RESP in place, answers keyless commands
 * itself, and routes keyed ones by hash slot to the shard rings. Replies come back through
 * the reply rings (one doorbell wake-up per shard batch) and are written in order.
 *
 * Consistency across shards comes from the rings' order: the acceptor is their only
 * producer, so a command split over several shards in one go is ordered identically
 * against every other command on each shard. Operations that must read before they write
 * across shards (RENAME, MSETNX, COPY) run in the coordinator (coordinator.ts), which holds
 * their shards: any connection that needs a held shard stops parsing until the operation is
 * done. AOF ordering is aof-order.ts's job, writing replies out reply-flusher.ts's.
 */
import { performance } from 'node:perf_hooks';
import net from 'node:net';
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import { keySlot } from '../wire/key-slot.js';
import { Connection, REPLY_OFF, REPLY_ON, REPLY_SKIP, isLoopbackAddress, type PendingPart } from './connection.js';
import { ErrorStats } from './error-stats.js';
import { continueCommand, ParsedCommand, PARSE_ERROR, PARSE_INCOMPLETE, parseCommand, type ParserLimits } from '../wire/resp-parser.js';
import { SCRIPT_CALLS, TO_EVERY_SHARD } from '../commands/script-calls.js';
import { RespWriter } from '../wire/resp-writer.js';
import { ShardLink } from './shard-link.js';
import { readIntoScratch } from '../net/socket-reader.js';
import { BusyPoll } from './busy-poll.js';
import { LITTLE_ENDIAN, readU32 } from '../wire/ring.js';
import * as F from '../wire/frames.js';
import { ConcatParts, MgetParts, OkParts, RandomParts, SameParts, SumParts } from './gather.js';
import { CMD } from '../commands/ids.generated.js';
import {
  COMMANDS,
  F_ALLOW_BUSY,
  F_BLOCKING,
  F_FAST,
  F_MAY_REPLICATE,
  F_NO_AUTH,
  F_PROTECTED,
  F_READONLY,
  F_SKIP_SLOWLOG,
  F_WRITE,
  checkArity,
  extractKeys,
  lookupCommand,
  lookupSubcommand,
  unknownCommandError,
  unknownSubcommandError,
} from '../commands/table.js';
import { internalId } from '../commands/internal.js';
import { cursorShard, parseScanCursor } from '../wire/scan-cursor.js';
import {
  E_BUSY_FUNCTION,
  E_BUSY_SCRIPT,
  E_DENIED_PROTECTED_MODE,
  E_NOAUTH,
  protectedCommandRefused,
  wrongArityError,
} from '../wire/error-text.js';
import type { Logger } from '../log.js';
import { AofOrder } from './aof-order.js';
import { Coordinator, runsGathered } from './coordinator.js';
import { sortSpansShards } from '../commands/sort-args.js';
import { planBlock, runBlock } from './block-across.js';
import { planXread, runXread } from './xread-across.js';
import { isKeyword } from '../wire/bytes.js';
import { ReplyFlusher } from './reply-flusher.js';
import { TlsListener } from './tls-listener.js';
import { setBatchPolicy } from './thread-sched.js';
import { reclaim } from '../reclaim.js';

/** A command the acceptor answers itself. */
export type LocalHandler = (conn: Connection, seq: number, cmd: ParsedCommand) => void;

/** The configuration as the acceptor reads it (the server's ServerConfig satisfies it). */
export interface AcceptorConfig {
  get(name: string): string;
  num(name: string): number;
  /** Runs `fn` after a successful CONFIG SET of `name`. */
  onChange(name: string, fn: (v: string) => void): void;
}

/** Where the acceptor counts write commands (rdb_changes_since_last_save): the server's persistence status. */
export interface WriteCounter {
  dirty: number;
}

/** What the server hands the acceptor. */
export interface AcceptorOptions {
  config: AcceptorConfig;
  log: Logger;
  /** Which command ids the shards execute; the others answer "unknown command". */
  shardCommands: readonly boolean[];
  /** The shard worker's entry module. */
  workerUrl: URL;
  /** Counts the write commands dispatched. */
  writes: WriteCounter;
}

/** Connection-mode hooks (transactions, pub/sub), installed by the server. */
export interface ModeHooks {
  /** Runs for connections with a non-zero state before a command executes; true if it handled the command. */
  gate(conn: Connection, seq: number, id: number, cmd: ParsedCommand): boolean;
  /** A command was rejected (unknown, arity): a MULTI in progress must abort. */
  rejected(conn: Connection): void;
  /** EXEC refused before it ran (`error`, e.g. BUSY): true when that ended the client's transaction with EXECABORT. */
  execRejected(conn: Connection, seq: number, error: string): boolean;
  /** The connection closed. */
  closed(conn: Connection): void;
  /** A keyspace event frame from a shard (reply frame with connId 0, seq 0). */
  event(buf: Uint8Array, start: number, len: number): void;
  /** A script's PUBLISH, run in a shard: publishes and returns the number of clients that received it. */
  publish(channel: Buffer, message: Buffer): number;
  /**
   * MONITOR feed, called only while `monitoring` is set, for a command the acceptor ran (`ran`), or
   * for one sent to the shards, which `executed` reports once it ran.
   */
  monitor(conn: Connection, id: number, cmd: ParsedCommand, seq: number, ran: boolean): void;
  /** The command `seq` of a connection with `monitored` lines ran (its reply came back, or it blocked). */
  executed(conn: Connection, seq: number): void;
  /** A cross-shard operation finished with `reply` (keyspace events for RENAME/COPY). */
  operationDone(id: number, args: Buffer[], db: number, reply: RespWriter): void;
  /** The client's CLIENT LIST line (the log line of an output-limit disconnect). */
  clientInfo(conn: Connection): string;
}

/** Cluster mode's slot check (server/cluster-router.ts), installed by the server; null outside cluster mode. */
export interface ClusterGate {
  /** 0: run here; 1: refused (the redirection or error is replied); 2: wait: parked, parsed again once the check is done. */
  check(conn: Connection, seq: number, id: number, cmd: ParsedCommand): number;
}

/** Access control (ACL), installed by the server; the defaults serve everyone as an unrestricted default user. */
export interface AccessControl {
  /** Sets up a new connection as the default user: its `user`, `authenticated` and `restricted`. */
  connected(conn: Connection): void;
  /** Whether a connection that has not authenticated must still do so (the default user has a password or is off). */
  authRequired(): boolean;
  /** The default user has no password (nopass): protected mode applies. */
  defaultNoPassword(): boolean;
  /** Checks a command of a `restricted` connection; false when refused, with the error already replied. */
  check(conn: Connection, seq: number, id: number, cmd: ParsedCommand): boolean;
  /** A `restricted` connection's user's rules (ACL LIST's text, latin1), which its scripts' redis.call are checked against. */
  scriptRules(conn: Connection): Uint8Array;
}

/**
 * Input a stalled client (blocked, or waiting on a cross-shard operation) may send before its
 * socket stops reading. Below it the socket keeps reading, so a client that hangs up while
 * blocked is seen at once (a paused onread socket stops reading, and would miss the EOF).
 */
const STALLED_INPUT_BYTES = 64 * 1024;
/** Per-direction ring size; frames over half of it travel over the MessagePort instead. */
const RING_BYTES = 1 << 20;

/** Copies of a command's arguments, for work that outlives the parse buffer. */
function copyArgs(cmd: ParsedCommand): Buffer[] {
  const args: Buffer[] = [];
  for (let i = 0; i < cmd.argc; i++) args.push(Buffer.from(cmd.buf.subarray(cmd.argStart[i]!, cmd.argStart[i]! + cmd.argLen[i]!)));
  return args;
}

/** Frame flags for a connection's commands. */
function frameFlags(conn: Connection): number {
  return (conn.proto === 3 ? F.FLAG_RESP3 : 0) | (conn.noBlock ? F.FLAG_NOBLOCK : 0);
}

/** EVAL, EVALSHA, FCALL and their read-only forms. */
function isScriptRun(id: number): boolean {
  return id === CMD.EVAL || id === CMD.EVALSHA || id === CMD.EVAL_RO || id === CMD.EVALSHA_RO || id === CMD.FCALL || id === CMD.FCALL_RO;
}

/** Which combiner a command split over shards uses. */
const enum Split {
  Sum,
  Ok,
  Concat,
  Random,
  Same,
}

/** Counters INFO reports. */
export class AcceptorStats {
  startedAt = Date.now();
  /** Random per start, as Redis's run_id. */
  readonly runId = randomBytes(20).toString('hex');
  /** Commands counted at the last few 100 ms samples, for instantaneous_ops_per_sec. */
  private readonly samples = new Float64Array(16);
  private sampleIdx = 0;
  connectionsReceived = 0;
  rejectedConnections = 0;
  commandsProcessed = 0;
  netInputBytes = 0;
  netOutputBytes = 0;
  readonly calls = new Float64Array(COMMANDS.length);
  /** Per command id: refused before running (arity, ACL, auth); and, for commands the acceptor runs, time and error replies (the shards count theirs). */
  readonly rejected = new Float64Array(COMMANDS.length);
  readonly usec = new Float64Array(COMMANDS.length);
  readonly failed = new Float64Array(COMMANDS.length);
  readonly errors = new ErrorStats();

  /** Records the command counter (every 100 ms, like Redis's ops sampling). */
  sample(): void {
    this.samples[this.sampleIdx++ & 15] = this.commandsProcessed;
  }

  /** Commands per second over the last 1.5 s of samples. */
  opsPerSec(): number {
    if (this.sampleIdx < 2) return 0;
    const n = Math.min(this.sampleIdx, 16) - 1;
    const newest = this.samples[(this.sampleIdx - 1) & 15]!;
    const oldest = this.samples[(this.sampleIdx - 1 - n) & 15]!;
    // CONFIG RESETSTAT may have zeroed the counter between samples.
    return Math.max(0, Math.round(((newest - oldest) * 10) / n));
  }
}

/** The Redis-protocol front end. */
export class Acceptor {
  readonly shards: ShardLink[] = [];
  readonly conns = new Map<number, Connection>();
  readonly stats = new AcceptorStats();
  /** Counts write commands (rdb_changes_since_last_save). */
  readonly writes: WriteCounter;
  readonly config: AcceptorConfig;
  private readonly log: Logger;
  /** Which command ids the shards execute. */
  private readonly shardCommands: readonly boolean[];
  private readonly workerUrl: URL;
  /** The AOF in shard order: the server sets its sink while appendonly is on. */
  readonly aof = new AofOrder();
  /** Cross-shard work: holds, system calls to shards, multi-step operations. */
  readonly coordinator: Coordinator;
  /** The per-tick flush of replies to sockets. */
  readonly replies: ReplyFlusher;
  /** Local command handlers by command id, installed by the server. */
  local: (LocalHandler | undefined)[] = [];
  /** Slow-log threshold in µs for commands the acceptor runs itself (-1: off); kept by the server's slow log. */
  localSlowUs = -1;
  /** Logs a local command that took `us` µs (installed by the server's slow log). */
  localSlow: (conn: Connection, id: number, cmd: ParsedCommand, us: number) => void = () => {};
  /** Transactions, pub/sub and notification hooks. */
  hooks: ModeHooks = {
    gate: () => false,
    rejected: () => {},
    execRejected: () => false,
    closed: () => {},
    event: () => {},
    publish: () => 0,
    monitor: () => {},
    executed: () => {},
    operationDone: () => {},
    clientInfo: (conn) => `id=${conn.id} addr=${conn.addr}`,
  };
  /** Who may run what; the server installs its ACL here. */
  /** Cluster mode's slot check; null outside cluster mode (one null test per command). */
  cluster: ClusterGate | null = null;
  access: AccessControl = {
    connected: (conn) => (conn.authenticated = this.config.get('requirepass') === ''),
    authRequired: () => this.config.get('requirepass') !== '',
    defaultNoPassword: () => this.config.get('requirepass') === '',
    check: () => true,
    scriptRules: () => new Uint8Array(0),
  };
  /** Non-zero while the server is a replica with commands to refuse (loading, read-only, stale): then replicaRefuses decides. */
  replicaGate = 0;
  /** A replica's refusal of a command (installed by the replica side): the error text, or null to run it. */
  replicaRefuses: (conn: Connection, id: number, flags: number) => string | null = () => null;
  /** Clients with CLIENT TRACKING on (INFO tracking_clients), and those in the default mode: while non-zero, reads ask tracksRead. */
  trackingClients = 0;
  trackingReaders = 0;
  /** Client tracking, installed by the server: whether read `seq` of `conn` registers its keys. */
  tracksRead: (conn: Connection, seq: number) => boolean = () => false;
  /** Registers a tracked read's keys with `__track` frames, where its own frames could not carry FLAG_TRACK. */
  onRead: (conn: Connection, seq: number, id: number, cmd: ParsedCommand) => void = () => {};
  /** FLAG_TRACK while the read being routed registers its keys; set once a frame carried it. */
  private trackFlag = 0;
  private trackSent = false;
  /** The error every write gets while set (min-replicas-to-write not met: NOREPLICAS); null: writes run. */
  writesRefused: string | null = null;
  /** Some client runs MONITOR (set through setMonitoring). */
  monitoring = false;
  /** CLIENT PAUSE: end time (0: not paused) and whether reads are paused too. */
  pauseUntil = 0;
  pauseAll = false;
  /** Collectors of transaction replies, by their connection id (looked up only when conns misses). */
  readonly sinks = new Map<number, Connection>();
  /** Scratch writer for locally built replies. */
  readonly w = new RespWriter(1 << 14);
  private readonly servers: net.Server[] = [];
  /** The TLS port (tls-port): its listeners and secure context. */
  readonly tls: TlsListener;
  private readonly cmd = new ParsedCommand();
  private readonly limits: ParserLimits;
  private keyIdx = new Int32Array(256);
  readonly nShards: number;
  nextConnId = 1;
  private tickScheduled = false;
  /** acceptor-poll-us: whether a tick that ran dry turns the loop again or sleeps. */
  private readonly busy: BusyPoll;
  private readonly bell: Int32Array;
  private readonly doorbellSab = new SharedArrayBuffer(64);
  /** The coordinator's holds (1: held), read for every command routed. */
  private readonly held: Uint8Array;
  /** Connections parked until the holds (or CLIENT PAUSE) are released, in arrival order. */
  private readonly stalled = new Set<Connection>();
  private closing = false;
  /** Samples ops/s every 100 ms and closes idle clients every second. */
  private idleTimer: NodeJS.Timeout | null = null;
  private readonly onShardExit: (id: number, code: number) => void;

  constructor(opts: AcceptorOptions) {
    const config = opts.config;
    this.config = config;
    this.log = opts.log;
    this.writes = opts.writes;
    this.shardCommands = opts.shardCommands;
    this.workerUrl = opts.workerUrl;
    this.nShards = config.num('shards');
    this.coordinator = new Coordinator({
      ports: this.shards,
      count: this.nShards,
      databases: config.num('databases'),
      aof: this.aof,
      wake: () => this.scheduleTick(),
      released: () => this.releaseStalled(),
      operationDone: (id, args, db, reply) => this.hooks.operationDone(id, args, db, reply),
    });
    this.held = this.coordinator.held;
    this.replies = new ReplyFlusher({
      stats: this.stats,
      config,
      log: this.log,
      aof: this.aof,
      kill: (conn) => this.kill(conn),
      describe: (conn) => this.hooks.clientInfo(conn),
      unthrottle: (conn) => this.unthrottle(conn),
      drained: (conn) => this.drained(conn),
    });
    this.bell = new Int32Array(this.doorbellSab);
    this.tls = new TlsListener(config, this.log, (s) => this.onConnection(s, true));
    this.limits = { maxBulkLen: config.num('proto-max-bulk-len'), authenticated: true };
    config.onChange('proto-max-bulk-len', (v) => (this.limits.maxBulkLen = Number(v)));
    this.busy = new BusyPoll(config.num('acceptor-poll-us'));
    config.onChange('acceptor-poll-us', (v) => this.busy.set(Number(v)));
    this.onShardExit = (id, code) => {
      if (this.closing) return;
      this.log.error('shard worker exited unexpectedly; shutting down', { shard: id, code });
      process.exit(1);
    };
  }

  /** Puts the shard threads under SCHED_BATCH (thread-sched.ts): their wake-ups stop preempting this thread. Linux only. */
  private batchShards(): void {
    if (process.platform !== 'linux') return;
    for (const link of this.shards) {
      const why = setBatchPolicy(link.tid);
      if (why !== null) {
        this.log.warn(`shard threads keep the default scheduling policy (shard-sched-batch): ${why}`);
        return;
      }
    }
  }

  /** Starts the shard workers, runs `beforeListen` (loading the data set), then listens on every bind address. */
  async start(beforeListen: () => Promise<void> = async () => {}): Promise<void> {
    this.tls.start();
    const mailboxes = Array.from({ length: this.nShards > 1 ? this.nShards : 0 }, () => new SharedArrayBuffer(F.MAILBOX_BYTES));
    for (let i = 0; i < this.nShards; i++) {
      this.shards.push(
        new ShardLink(
          {
            id: i,
            count: this.nShards,
            doorbell: this.doorbellSab,
            databases: this.config.num('databases'),
            maxBulkLen: this.config.num('proto-max-bulk-len'),
            ringBytes: RING_BYTES,
            mailboxes,
            workerUrl: this.workerUrl,
          },
          this.onShardExit,
        ),
      );
    }
    this.armDoorbell();
    // Clients are served once every shard runs (each loads its Lua VM first).
    await Promise.all(this.shards.map((l) => l.ready));
    if (this.config.get('shard-sched-batch') === 'yes') this.batchShards();
    let ticks = 0;
    let commands = 0;
    this.idleTimer = setInterval(() => {
      this.stats.sample();
      // Big values that passed through are garbage: an idle acceptor gives their memory back now.
      if (this.stats.commandsProcessed === commands) reclaim(true, Date.now());
      commands = this.stats.commandsProcessed;
      if (++ticks % 10 === 0) {
        this.closeIdleClients();
        this.replies.checkSoftLimits();
      }
    }, 100);
    this.idleTimer.unref();
    await beforeListen();
    const port = this.config.num('port');
    const tlsPort = this.config.num('tls-port');
    const binds = this.config.get('bind').split(/\s+/).filter(Boolean);
    // As in Redis, port 0 next to a TLS port means TLS only; alone, it picks a free port.
    for (const host of port === 0 && tlsPort !== 0 ? [] : binds) {
      const srv = net.createServer({ noDelay: true }, (s) => this.onConnection(s));
      await new Promise<void>((resolve, reject) => {
        srv.once('error', reject);
        srv.listen({ port, host, backlog: 511 }, () => {
          srv.off('error', reject);
          resolve();
        });
      });
      this.servers.push(srv);
    }
    if (tlsPort !== 0) await this.tls.listen(tlsPort, binds);
  }

  /** The port actually bound (differs from the config when it was 0); the TLS port when serving TLS only. */
  get port(): number {
    const a = this.servers[0]?.address();
    return typeof a === 'object' && a !== null ? a.port : this.tls.port;
  }

  /** Closes clients idle for longer than `timeout` seconds (Redis's idle client timeout; 0 = never). */
  private closeIdleClients(): void {
    const limitMs = this.config.num('timeout') * 1000;
    if (limitMs === 0) return;
    const now = Date.now();
    for (const c of this.conns.values()) {
      if (c.idle && !c.stalled && !c.master && now - c.lastActive > limitMs) this.kill(c);
    }
  }

  /** Stops listening, closes clients and stops the shards. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.idleTimer !== null) clearInterval(this.idleTimer);
    for (const s of this.servers) s.close();
    this.tls.close();
    for (const c of this.conns.values()) c.socket.destroy();
    const shutdown = internalId('__shutdown');
    // A script still running would never read the shutdown frame.
    for (const link of this.shards) link.stats[F.CT_SCRIPT_KILL] = F.KILL_FORCED;
    await Promise.all(
      this.shards.map((link) => {
        const exited = new Promise<void>((resolve) => link.worker.once('exit', () => resolve()));
        link.control(shutdown);
        return exited;
      }),
    );
  }

  /** Serves an accepted socket; a TLS one is read through 'data' events (the scratch reader is for plain sockets). */
  private onConnection(socket: net.Socket, tls = false): void {
    this.stats.connectionsReceived++;
    if (this.conns.size >= this.config.num('maxclients') || this.closing) {
      this.refuse(socket, '-ERR max number of clients reached\r\n');
      return;
    }
    // Redis's protected mode: without a password, only loopback clients are served.
    if (this.access.defaultNoPassword() && !isLoopbackAddress(socket.remoteAddress) && this.config.get('protected-mode') === 'yes') {
      this.refuse(socket, `-${E_DENIED_PROTECTED_MODE}\r\n`);
      return;
    }
    const conn = new Connection(this.nextConnId++, socket, false);
    conn.errors = this.stats.errors;
    this.access.connected(conn);
    this.conns.set(conn.id, conn);
    const onData = (d: Buffer): void => this.onData(conn, d);
    if (tls || !readIntoScratch(socket, onData, (b, n) => this.onHeldRead(conn, b, n))) socket.on('data', onData);
    socket.on('drain', () => {
      if (conn.directPending === 0) this.drained(conn);
    });
    socket.on('error', () => {});
    socket.on('close', () => this.onClose(conn));
  }

  /**
   * Serves an outgoing socket (a replica's link to its master) as a client: its input, handed over
   * with linkInput, runs as any client's (writes pass a read-only replica), its replies are dropped.
   */
  attachLink(socket: net.Socket): Connection {
    const conn = new Connection(this.nextConnId++, socket, true);
    conn.master = true;
    conn.replyMode = REPLY_OFF;
    this.conns.set(conn.id, conn);
    return conn;
  }

  /** Input of a connection made by attachLink. */
  linkInput(conn: Connection, data: Buffer): void {
    this.onData(conn, data);
  }

  /** A connection made by attachLink is gone (its socket closed). */
  detachLink(conn: Connection): void {
    if (this.conns.get(conn.id) === conn) this.onClose(conn);
  }

  /** Answers a connection it will not serve with one error line, then closes it as Redis does (no waiting for the peer). */
  private refuse(socket: net.Socket, line: string): void {
    this.stats.rejectedConnections++;
    socket.on('error', () => {});
    socket.end(line, () => socket.destroy());
  }

  private onClose(conn: Connection): void {
    conn.closed = true;
    conn.onClosed?.();
    this.conns.delete(conn.id);
    this.stalled.delete(conn);
    if (conn.blockedSeq !== -1) {
      // Its waiter may sit in any shard its keys map to: tell them all to drop it.
      const seq = conn.blockedSeq;
      const args = [Buffer.from('__unblock'), Buffer.from(String(conn.id))];
      // A waiter dropped unserved never answers: its write never happened.
      void this.coordinator.callAll(0, internalId('__unblock'), args).then(() => this.aof.drop(conn.id, seq));
    }
    this.hooks.closed(conn);
  }

  /**
   * CLIENT UNBLOCK: ends `target`'s blocking wait with `reply` (a null or an UNBLOCKED error);
   * resolves true when it was waiting (false when it was served first or never blocked).
   */
  async unblockClient(target: Connection, reply: Uint8Array): Promise<boolean> {
    // The blocked command failed (Redis's failed_calls) when it is ended with an error.
    const wake = target.onClosed;
    if (wake !== null) {
      // Cleared now, so a second CLIENT UNBLOCK before the wait wakes finds nothing to end.
      target.onClosed = null;
      target.unblockReply = reply;
      wake();
      if (reply[0] === 45) this.stats.failed[target.blockedCmd]!++;
      return true;
    }
    const seq = target.blockedSeq;
    if (seq === -1) return false;
    const args = [Buffer.from('__unblock'), Buffer.from(String(target.id))];
    const counts = await this.coordinator.callAll(0, internalId('__unblock'), args);
    // A shard that dropped the waiter never answers it: the acceptor does, and its write never happened.
    if (target.closed || target.blockedSeq !== seq) return false;
    if (!counts.some((r) => r[1] !== 48)) {
      // No shard held it and nothing answered it: a wait across shards between its tries and its watches,
      // which takes the reply when it next looks.
      target.unblockReply = reply;
      if (reply[0] === 45) this.stats.failed[target.blockedCmd]!++;
      // It may have started waiting on its watches while the shards answered: wake it.
      const late = target.onClosed;
      target.onClosed = null;
      late?.();
      return true;
    }
    this.aof.drop(target.id, seq);
    if (reply[0] === 45) this.stats.failed[target.blockedCmd]!++;
    if (target.monitored !== null) this.hooks.executed(target, seq);
    if (target.deliver(seq, reply, 0, reply.length)) this.markDirty(target);
    target.blockedSeq = -1;
    this.resume(target);
    this.scheduleTick();
    return true;
  }

  /** Turns the MONITOR feed on or off; the shards then report commands that block (frames.ts KIND_BLOCKED). */
  setMonitoring(on: boolean): void {
    this.monitoring = on;
    for (const link of this.shards) link.stats[F.CT_MONITOR] = on ? 1 : 0;
  }

  /** Closes a client immediately (CLIENT KILL, limits). */
  kill(conn: Connection): void {
    conn.closed = true;
    conn.socket.destroy();
  }

  private onData(conn: Connection, data: Buffer): void {
    this.stats.netInputBytes += data.length;
    conn.lastActive = Date.now();
    if (conn.closed || conn.closeAfterReplies) return;
    if (conn.inBuf === null) {
      if (!conn.stalled) {
        this.processInput(conn, data, 0, false);
        this.scheduleTick();
        return;
      }
      conn.inBuf = data;
      conn.inPos = 0;
      conn.inEnd = data.length;
    } else {
      this.appendInput(conn, data, data.length);
    }
    this.onInputHeld(conn);
  }

  /**
   * A read for a connection that holds input (a cut command, or a stalled client), taken straight
   * from the socket's scratch buffer into the held input: one copy, not two. False when none is held.
   */
  private onHeldRead(conn: Connection, scratch: Buffer, n: number): boolean {
    if (conn.inBuf === null) return false;
    this.stats.netInputBytes += n;
    conn.lastActive = Date.now();
    if (conn.closed || conn.closeAfterReplies) return true;
    this.appendInput(conn, scratch, n);
    this.onInputHeld(conn);
    return true;
  }

  /** Held input grew: checks its limits, and parses on when that can help. */
  private onInputHeld(conn: Connection): void {
    const held = conn.inEnd - conn.inPos;
    // As Redis, the master's link has no query buffer limit: a big write it replicates must not cut it.
    if (held > this.config.num('client-query-buffer-limit') && !conn.master) {
      this.log.warn('closing client that reached max query buffer length', { id: conn.id, addr: conn.addr, qbuf: held });
      this.kill(conn);
      return;
    }
    if (conn.stalled) {
      if (held > STALLED_INPUT_BYTES) conn.socket.pause();
      return;
    }
    if (held < conn.inNeed) return;
    this.processInput(conn, conn.inBuf!.subarray(0, conn.inEnd), conn.inPos, true);
    this.scheduleTick();
  }

  /**
   * Adds bytes [0, n) of a read to the held input. When they do not fit, the held bytes move to
   * a new buffer of twice their size (up to eight times toward what a cut bulk needs, and no more
   * than that): each byte is copied a bounded number of times, and a declared length alone never
   * allocates.
   */
  private appendInput(conn: Connection, data: Buffer, n: number): void {
    const buf = conn.inBuf!;
    if (conn.inEnd + n <= buf.length) {
      data.copy(buf, conn.inEnd, 0, n);
      conn.inEnd += n;
      return;
    }
    const held = conn.inEnd - conn.inPos;
    let cap = Math.max(2 * (held + n), 16384);
    // Toward a cut bulk's known size, faster: fewer copies and fresh pages, still bounded by what arrived.
    if (conn.inNeed > held + n) cap = Math.min(conn.inNeed, Math.max(cap, 8 * (held + n)));
    const grown = Buffer.allocUnsafe(cap);
    buf.copy(grown, 0, conn.inPos, conn.inEnd);
    data.copy(grown, held, 0, n);
    if (conn.partial?.partial) conn.partial.rebase(-conn.inPos);
    conn.inBuf = grown;
    conn.inPos = 0;
    conn.inEnd = held + n;
  }

  /**
   * Keeps [pos, end) of `buf` as held input: `buf` itself when it is a read's own copy
   * (`held` false), otherwise the held buffer, which gives back its space when a big command
   * left only a small tail in it.
   */
  private holdInput(conn: Connection, buf: Buffer, pos: number, held: boolean): void {
    if (!held) {
      conn.inBuf = buf;
      conn.inEnd = buf.length;
    } else {
      const size = conn.inBuf!.length;
      const live = conn.inEnd - pos;
      if (size > 1 << 20 && live * 4 < size) {
        const small = Buffer.allocUnsafe(Math.max(2 * live, 16384));
        conn.inBuf!.copy(small, 0, pos, conn.inEnd);
        if (conn.partial?.partial) conn.partial.rebase(-pos);
        conn.inBuf = small;
        conn.inEnd = live;
        pos = 0;
      }
    }
    conn.inPos = pos;
  }

  /**
   * Parses and dispatches every complete command in `buf` from `pos`; keeps what is left.
   * `held`: `buf` is a view of the connection's held input, where a cut command may go on.
   */
  private processInput(conn: Connection, buf: Buffer, pos: number, held: boolean): void {
    this.parseDepth++;
    const outer = conn.parsingBytes;
    conn.parsingBytes = buf.length - pos;
    try {
      this.parseInput(conn, buf, pos, held);
    } finally {
      conn.parsingBytes = outer;
      this.parseDepth--;
    }
    if (this.parseDepth === 0 && this.runCmd >= 0) this.endLocalRun();
  }

  /**
   * Local commands are timed (INFO commandstats usec) per run of one command within a read,
   * parsing included: a pipeline of PINGs costs two clock reads, not two per PING. Only
   * commands parsed from input start runs (`parseDepth`); those a local command dispatches
   * itself (EXEC's queue) count in its time (`localDepth`).
   */
  private runCmd = -1;
  private runClock = 0;
  private parseDepth = 0;
  private localDepth = 0;

  /** Ends the timed run of local commands, adding its time to its command. */
  private endLocalRun(): void {
    this.stats.usec[this.runCmd]! += (performance.now() - this.runClock) * 1000;
    this.runCmd = -1;
  }

  /** Parses and dispatches the commands in `buf` from `pos`; input that waits is kept on the connection. */
  private parseInput(conn: Connection, buf: Buffer, pos: number, held: boolean): void {
    const end = buf.length;
    // A connection that ever had a command cut parses with its own state, so a cut survives other connections' parses.
    const cmd = conn.partial ?? this.cmd;
    let resume = held && conn.partial?.partial === true;
    while (pos < end) {
      if (conn.closeAfterReplies || conn.closed) break;
      this.limits.authenticated = conn.authenticated || !this.access.authRequired();
      const r = resume ? continueCommand(buf, end, cmd, this.limits) : parseCommand(buf, pos, end, cmd, this.limits);
      resume = false;
      if (r === PARSE_INCOMPLETE) {
        if (cmd !== conn.partial) {
          (conn.partial ??= new ParsedCommand()).copyFrom(cmd);
          cmd.clear();
        }
        this.holdInput(conn, buf, pos, held);
        conn.inNeed = conn.partial!.need;
        if (end - pos > this.config.num('client-query-buffer-limit') && !conn.master) this.kill(conn);
        return;
      }
      if (r === PARSE_ERROR) {
        this.replyErrorLatin1(conn, conn.nextSeq++, cmd.error);
        conn.closeAfterReplies = true;
        break;
      }
      const start = pos;
      pos = r;
      if (cmd.argc === 0) continue;
      const consumed = this.dispatch(conn, cmd);
      if (conn.nextSeq - conn.nextWrite >= conn.maxInFlight && !conn.stalled) {
        conn.stalled = true;
        conn.throttled = true;
      }
      if (conn.stalled) {
        const from = consumed ? pos : start;
        if (from < end) {
          this.holdInput(conn, buf, from, held);
          conn.inNeed = 0;
          if (end - from > STALLED_INPUT_BYTES) conn.socket.pause();
        } else {
          conn.inBuf = null;
          conn.inNeed = 0;
        }
        return;
      }
    }
    // Everything parsed (or the connection is closing: a cut command is dropped with its input).
    if (resume) cmd.clear();
    conn.inBuf = null;
    conn.inNeed = 0;
  }

  /** Executes or routes one parsed command. Returns false if it must be re-parsed later (stalled first). */
  dispatch(conn: Connection, cmd: ParsedCommand): boolean {
    const b = cmd.buf;
    const as = cmd.argStart;
    const al = cmd.argLen;
    const argc = cmd.argc;
    let id = lookupCommand(b, as[0]!, al[0]!);
    const seq = conn.nextSeq++;
    this.stats.commandsProcessed++;
    if (conn.replyMode !== REPLY_ON) this.silenceReply(conn, seq, id);
    if (id < 0) {
      this.hooks.rejected(conn);
      this.stats.commandsProcessed--;
      this.replyErrorLatin1(conn, seq, unknownCommandError(b, as, al, argc));
      return true;
    }
    let spec = COMMANDS[id]!;
    if (spec.subcommands !== null && argc >= 2) {
      const sub = lookupSubcommand(id, b, as[1]!, al[1]!);
      if (sub < 0) {
        const h = id === CMD.CLIENT ? this.local[id] : undefined;
        if (h !== undefined) h(conn, seq, cmd);
        else {
          this.hooks.rejected(conn);
          this.stats.commandsProcessed--;
          this.replyErrorLatin1(conn, seq, unknownSubcommandError(b, as, al));
        }
        return true;
      }
      id = sub;
      spec = COMMANDS[id]!;
    }
    if (!checkArity(spec, argc)) {
      this.rejectedCall(conn, id);
      this.replyError(conn, seq, wrongArityError(spec.name));
      return true;
    }
    if ((spec.flags & F_PROTECTED) !== 0 && !this.protectedAllowed(conn, id)) {
      this.rejectedCall(conn, id);
      const debug = id === CMD.DEBUG;
      this.replyError(
        conn,
        seq,
        protectedCommandRefused(debug ? 'DEBUG' : 'MODULE', debug ? 'enable-debug-command' : 'enable-module-command'),
      );
      return true;
    }
    if (!conn.authenticated && (spec.flags & F_NO_AUTH) === 0 && this.access.authRequired()) {
      this.rejectedCall(conn, id);
      this.replyError(conn, seq, E_NOAUTH);
      return true;
    }
    conn.lastCommand = id;
    if ((spec.flags & F_ALLOW_BUSY) === 0 && this.busyScript() !== 0) {
      // Refused like any command that cannot run now: inside MULTI it aborts the transaction (EXECABORT).
      this.rejectedCall(conn, id);
      const busy = this.busyScript() === 2 ? E_BUSY_FUNCTION : E_BUSY_SCRIPT;
      if (id === CMD.EXEC && this.hooks.execRejected(conn, seq, busy)) return true;
      this.replyError(conn, seq, busy);
      return true;
    }
    if (conn.restricted && !this.access.check(conn, seq, id, cmd)) {
      this.stats.rejected[id]!++;
      this.stats.commandsProcessed--;
      return true;
    }
    if (this.cluster !== null) {
      const v = this.cluster.check(conn, seq, id, cmd);
      if (v === 1) {
        this.rejectedCall(conn, id);
        return true;
      }
      if (v === 2) {
        // stall() undoes the counts of a command that will be parsed again: count it first.
        this.stats.calls[id]!++;
        if ((spec.flags & F_WRITE) !== 0) this.writes.dirty++;
        return this.stall(conn, id);
      }
    }
    if (this.writesRefused !== null && ((spec.flags & F_WRITE) !== 0 || (id === CMD.EXEC && queuesWrite(conn)))) {
      // An EXEC with writes queued is refused too, ending the transaction (EXECABORT), as Redis does.
      this.rejectedCall(conn, id);
      if (id === CMD.EXEC && this.hooks.execRejected(conn, seq, this.writesRefused)) return true;
      this.replyError(conn, seq, this.writesRefused);
      return true;
    }
    if (this.replicaGate !== 0) {
      const refused = this.replicaRefuses(conn, id, spec.flags);
      if (refused !== null) {
        this.rejectedCall(conn, id);
        this.replyError(conn, seq, refused);
        return true;
      }
    }
    // Queued by MULTI (counted when EXEC runs it) or refused by a connection mode: not processed now.
    if (conn.state !== 0 && this.hooks.gate(conn, seq, id, cmd)) {
      this.stats.commandsProcessed--;
      return true;
    }
    if (this.pauseUntil !== 0 && this.pausedFor(id, spec.flags) && !this.sinks.has(conn.id)) {
      // stall() undoes the counts of a command that will be parsed again: count it first.
      this.stats.calls[id]!++;
      if ((spec.flags & F_WRITE) !== 0) this.writes.dirty++;
      return this.stall(conn, id);
    }
    if ((spec.flags & F_WRITE) !== 0) this.writes.dirty++;
    const local = this.local[id];
    if (local !== undefined) {
      if (id !== this.runCmd && this.parseDepth > 0 && this.localDepth === 0) {
        if (this.runCmd >= 0) this.endLocalRun();
        this.runCmd = id;
        this.runClock = performance.now();
      }
      this.localDepth++;
      try {
        // Like the shards, O(1) commands are timed for the slow log only at threshold 0 (a clock read costs more than they do).
        if (this.localSlowUs < 0 || (this.localSlowUs > 0 && (spec.flags & F_FAST) !== 0)) local(conn, seq, cmd);
        else this.runTimed(local, conn, seq, id, cmd);
      } finally {
        this.localDepth--;
      }
      // Counted once it ran, as Redis's call() does: INFO does not count itself, RESETSTAT shows its own call.
      this.stats.calls[id]!++;
      // Its own reply was an error (not one of the replies EXEC collects): a failed call.
      if (conn.errorSeq === seq) this.stats.failed[id]!++;
      // After the handler, as Redis feeds monitors after a command runs (SELECT shows its new db).
      if (this.monitoring) this.hooks.monitor(conn, id, cmd, seq, true);
      return true;
    }
    this.stats.calls[id]!++;
    if (this.runCmd >= 0 && this.localDepth === 0) this.endLocalRun();
    if (!this.shardCommands[id]) {
      if (spec.container !== null) this.replyErrorLatin1(conn, seq, unknownSubcommandError(b, as, al));
      else this.replyErrorLatin1(conn, seq, unknownCommandError(b, as, al, argc));
      return true;
    }
    // A script may read: its frame carries the tracking flag, and the shard tracks its keys if it did.
    const tracked = this.trackingReaders !== 0 && ((spec.flags & F_READONLY) !== 0 || SCRIPT_CALLS.has(id)) && this.tracksRead(conn, seq);
    // The shards register a tracked read's keys from its own frames, under the frame's connection:
    // a transaction's collector is not the client, so its reads send `__track` frames instead.
    if (tracked && !this.sinks.has(conn.id)) this.trackFlag = F.FLAG_TRACK;
    this.trackSent = false;
    let routed = true;
    if (this.nShards === 1) {
      if (this.held[0] === 1) routed = this.stall(conn, id);
      else this.sendAll(this.shards[0]!, conn, seq, id, cmd);
    } else routed = this.route(conn, seq, id, cmd);
    this.trackFlag = 0;
    if (!routed) return false;
    const blocks = (spec.flags & F_BLOCKING) !== 0 && !conn.noBlock && seq >= conn.nextWrite && !conn.early.has(seq) && mayBlock(id, cmd);
    if (this.aof.sink !== null) this.aof.dispatched(conn.id, seq, (spec.flags & F_WRITE) !== 0, conn.db, id, cmd);
    else if (blocks && (spec.flags & F_WRITE) !== 0) this.aof.dispatchedBlocking(conn.id, seq, conn.db, id, cmd);
    if (tracked && !this.trackSent) this.onRead(conn, seq, id, cmd);
    if (blocks) {
      // Like Redis, a blocked client runs nothing else until its command is answered.
      conn.blockedSeq = seq;
      conn.blockedCmd = id;
      conn.stalled = true;
    }
    // Only once routed: a stalled command is parsed again later.
    if (this.monitoring) this.hooks.monitor(conn, id, cmd, seq, false);
    return true;
  }

  /** Runs a local command under the clock and hands it to the slow log when it took at least the threshold. */
  private runTimed(local: LocalHandler, conn: Connection, seq: number, id: number, cmd: ParsedCommand): void {
    const t0 = performance.now();
    local(conn, seq, cmd);
    const us = Math.floor((performance.now() - t0) * 1000);
    // DEBUG SLEEP logs itself when its shards answer.
    if (us >= this.localSlowUs && (COMMANDS[id]!.flags & F_SKIP_SLOWLOG) === 0 && id !== CMD.DEBUG) this.localSlow(conn, id, cmd, us);
  }

  /** CLIENT REPLY OFF/SKIP: drops the reply of `seq`, unless it is a pub/sub (un)subscription, which Redis pushes anyway. */
  private silenceReply(conn: Connection, seq: number, id: number): void {
    if (conn.replyMode === REPLY_SKIP) conn.replyMode = REPLY_ON;
    if (
      id === CMD.SUBSCRIBE ||
      id === CMD.PSUBSCRIBE ||
      id === CMD.SSUBSCRIBE ||
      id === CMD.UNSUBSCRIBE ||
      id === CMD.PUNSUBSCRIBE ||
      id === CMD.SUNSUBSCRIBE
    )
      return;
    conn.silence(seq);
  }

  /** Counts a command refused before it ran (Redis's rejected_calls): not a processed command. */
  private rejectedCall(conn: Connection, id: number): void {
    this.hooks.rejected(conn);
    this.stats.rejected[id]!++;
    this.stats.commandsProcessed--;
  }

  /** Per shard: [name, argv...] (RESP) of the script it last reported busy. */
  readonly scriptInfo: (Uint8Array | null)[] = [];

  /**
   * A script that has run past busy-reply-threshold in some shard: 1 for EVAL, 2 for a function,
   * 0 when none (Redis then refuses all but the allow-busy commands).
   */
  busyScript(): number {
    for (let i = 0; i < this.nShards; i++) {
      const st = this.shards[i]!.stats;
      const start = st[F.ST_SCRIPT_START]!;
      if (start !== 0 && Date.now() - start >= this.config.num('busy-reply-threshold'))
        return (st[F.ST_SCRIPT_STATE]! & F.SCRIPT_FUNCTION) !== 0 ? 2 : 1;
    }
    return 0;
  }

  /** DEBUG and MODULE's protected subcommands run only where enable-debug-command / enable-module-command allow (Redis's allowProtectedAction). */
  private protectedAllowed(conn: Connection, id: number): boolean {
    const v = this.config.get(id === CMD.DEBUG ? 'enable-debug-command' : 'enable-module-command');
    return v === 'yes' || (v === 'local' && conn.local);
  }

  /** CLIENT PAUSE in force for this command (EXEC counts as a write: its queue may hold writes). */
  private pausedFor(id: number, flags: number): boolean {
    if (Date.now() >= this.pauseUntil) {
      this.pauseUntil = 0;
      return false;
    }
    return this.pauseAll || id === CMD.EXEC || (flags & (F_WRITE | F_MAY_REPLICATE)) !== 0;
  }

  /** Parks a connection until the held shards are released; undoes the command's sequence number. */
  private stall(conn: Connection, id: number): boolean {
    conn.nextSeq--;
    this.stats.commandsProcessed--;
    this.stats.calls[id]!--;
    if ((COMMANDS[id]!.flags & F_WRITE) !== 0) this.writes.dirty--;
    this.park(conn);
    return false;
  }

  /** Stops parsing a connection's input until the coordinator's holds (or CLIENT PAUSE) are released. */
  park(conn: Connection): void {
    conn.stalled = true;
    this.stalled.add(conn);
  }

  /** Routes a shard command when there are several shards. */
  private route(conn: Connection, seq: number, id: number, cmd: ParsedCommand): boolean {
    switch (id) {
      case CMD.KEYS:
        return this.broadcast(conn, seq, id, cmd, Split.Concat);
      case CMD.DBSIZE:
        return this.broadcast(conn, seq, id, cmd, Split.Sum);
      case CMD.FLUSHDB:
      case CMD.FLUSHALL:
        if (this.aof.sink === null) return this.broadcast(conn, seq, id, cmd, Split.Ok);
        // Logged once, at one point of every shard's order: run it with all shards held.
        for (let i = 0; i < this.nShards; i++) if (this.held[i] === 1) return this.stall(conn, id);
        this.startOperation(conn, seq, id, cmd);
        return true;
      case CMD.RANDOMKEY:
        return this.broadcast(conn, seq, id, cmd, Split.Random);
      case CMD.SWAPDB:
        if (this.aof.sink === null) return this.broadcast(conn, seq, id, cmd, Split.Ok);
        // Logged once, at one point of every shard's order, like FLUSHALL.
        for (let i = 0; i < this.nShards; i++) if (this.held[i] === 1) return this.stall(conn, id);
        this.startOperation(conn, seq, id, cmd);
        return true;
      case CMD.SORT:
      case CMD.SORT_RO:
        if (sortSpansShards(cmd.buf, cmd.argStart, cmd.argLen, cmd.argc, id === CMD.SORT_RO, this.shardOfSpan)) {
          for (let i = 0; i < this.nShards; i++) if (this.held[i] === 1) return this.stall(conn, id);
          this.startOperation(conn, seq, id, cmd);
          return true;
        }
        break;
      case CMD.SCAN: {
        const c = parseScanCursor(cmd.buf, cmd.argStart[1]!, cmd.argLen[1]!);
        const s = c === null ? 0 : cursorShard(c, this.nShards);
        if (this.held[s] === 1) return this.stall(conn, id);
        this.sendAll(this.shards[s]!, conn, seq, id, cmd);
        return true;
      }
    }
    const spec = COMMANDS[id]!;
    if (this.keyIdx.length < cmd.argc) this.keyIdx = new Int32Array(cmd.argc * 2);
    const nk = extractKeys(spec, cmd.buf, cmd.argStart, cmd.argLen, cmd.argc, this.keyIdx);
    if (nk === 0 && isScriptRun(id)) {
      // A script declaring no keys may touch any key (as Redis allows outside cluster mode): it runs with every shard at hand.
      for (let i = 0; i < this.nShards; i++) if (this.held[i] === 1) return this.stall(conn, id);
      this.scriptAcross(conn, seq, id, cmd, 0);
      return true;
    }
    if (nk <= 0) {
      // Scripts and function libraries live in every shard.
      if (TO_EVERY_SHARD.has(id)) return this.broadcast(conn, seq, id, cmd, Split.Same);
      if (this.held[0] === 1) return this.stall(conn, id);
      this.sendAll(this.shards[0]!, conn, seq, id, cmd);
      return true;
    }
    const first = this.shardOf(cmd, this.keyIdx[0]!);
    let same = true;
    for (let i = 1; i < nk; i++) {
      if (this.shardOf(cmd, this.keyIdx[i]!) !== first) {
        same = false;
        break;
      }
    }
    if (same) {
      if (this.held[first] === 1) return this.stall(conn, id);
      this.sendAll(this.shards[first]!, conn, seq, id, cmd);
      return true;
    }
    for (let i = 0; i < this.nShards; i++) if (this.held[i] === 1) return this.stall(conn, id);
    return this.crossShard(conn, seq, id, cmd, nk);
  }

  /** Shard owning the key bytes [s, s+n) of `b`. */
  private readonly shardOfSpan = (b: Uint8Array, s: number, n: number): number => keySlot(b, s, n) % this.nShards;

  /** Shard owning the key at argument `i`: CRC16 slot (hash tags honoured) spread over shards. */
  private shardOf(cmd: ParsedCommand, i: number): number {
    if (this.nShards === 1) return 0;
    // From the bytes in place: a Buffer per key (as cluster-key-slot takes) cost more than the CRC.
    return keySlot(cmd.buf, cmd.argStart[i]!, cmd.argLen[i]!) % this.nShards;
  }

  /** Sends the whole command to one shard. */
  private sendAll(link: ShardLink, conn: Connection, seq: number, id: number, cmd: ParsedCommand): void {
    const argc = cmd.argc;
    const al = cmd.argLen;
    let size = F.REQ_ARGS;
    for (let i = 0; i < argc; i++) size += 4 + al[i]!;
    // A restricted user's script carries the user's rules: the shard checks each command it calls.
    const rules = conn.restricted && isScriptRun(id) ? this.access.scriptRules(conn) : null;
    if (rules !== null) size += 4 + rules.length;
    const buf = link.begin(
      conn.id,
      seq,
      id,
      conn.db,
      frameFlags(conn) | this.trackFlag | (this.aof.sink !== null ? F.FLAG_EFFECTS : 0) | (rules !== null ? F.FLAG_ACL : 0),
      rules !== null ? argc + 1 : argc,
      size,
    );
    if (this.trackFlag !== 0) this.trackSent = true;
    const src = cmd.buf;
    const as = cmd.argStart;
    for (let i = 0; i < argc; i++) link.arg(buf, src, as[i]!, al[i]!);
    if (rules !== null) link.arg(buf, rules, 0, rules.length);
    link.end();
  }

  /** Sends argument 0 plus the listed arguments to one shard. */
  private sendSubset(
    link: ShardLink,
    connId: number,
    seq: number,
    id: number,
    db: number,
    proto: number,
    cmd: ParsedCommand,
    args: number[],
  ): void {
    let size = F.REQ_ARGS + 4 + cmd.argLen[0]!;
    for (const i of args) size += 4 + cmd.argLen[i]!;
    const buf = link.begin(connId, seq, id, db, (proto === 3 ? F.FLAG_RESP3 : 0) | this.trackFlag, args.length + 1, size);
    if (this.trackFlag !== 0) this.trackSent = true;
    link.arg(buf, cmd.buf, cmd.argStart[0]!, cmd.argLen[0]!);
    for (const i of args) link.arg(buf, cmd.buf, cmd.argStart[i]!, cmd.argLen[i]!);
    link.end();
  }

  /** Sends a keyless command to every shard and combines the replies. */
  private broadcast(conn: Connection, seq: number, id: number, cmd: ParsedCommand, split: Split): boolean {
    for (let i = 0; i < this.nShards; i++) if (this.held[i] === 1) return this.stall(conn, id);
    conn.gathers.set(seq, this.combiner(split, this.nShards));
    for (const link of this.shards) this.sendAll(link, conn, seq, id, cmd);
    return true;
  }

  private combiner(split: Split, parts: number): PendingPart {
    switch (split) {
      case Split.Sum:
        return new SumParts(parts);
      case Split.Ok:
        return new OkParts(parts);
      case Split.Concat:
        return new ConcatParts(parts);
      case Split.Same:
        return new SameParts(parts);
      default:
        return new RandomParts(parts);
    }
  }

  /** A command whose keys span several shards. */
  private crossShard(conn: Connection, seq: number, id: number, cmd: ParsedCommand, nk: number): boolean {
    const byShard: number[][] = this.shards.map(() => []);
    switch (id) {
      case CMD.MGET:
      case CMD.DEL:
      case CMD.UNLINK:
      case CMD.EXISTS:
      case CMD.TOUCH: {
        for (let k = 0; k < nk; k++) byShard[this.shardOf(cmd, this.keyIdx[k]!)]!.push(this.keyIdx[k]!);
        const used = byShard.filter((a) => a.length > 0).length;
        const positions = byShard.map((a) => a.map((i) => i - 1));
        conn.gathers.set(seq, id === CMD.MGET ? new MgetParts(used, positions, cmd.argc - 1) : new SumParts(used));
        byShard.forEach((args, s) => {
          if (args.length > 0) this.sendSubset(this.shards[s]!, conn.id, seq, id, conn.db, conn.proto, cmd, args);
        });
        if (id === CMD.DEL || id === CMD.UNLINK) this.aof.dispatchedParts(conn.id, seq, conn.db, id, cmd, byShard);
        return true;
      }
      case CMD.MSET: {
        for (let k = 0; k < nk; k++) {
          const i = this.keyIdx[k]!;
          byShard[this.shardOf(cmd, i)]!.push(i, i + 1);
        }
        const used = byShard.filter((a) => a.length > 0).length;
        conn.gathers.set(seq, new OkParts(used));
        byShard.forEach((args, s) => {
          if (args.length > 0) this.sendSubset(this.shards[s]!, conn.id, seq, id, conn.db, conn.proto, cmd, args);
        });
        this.aof.dispatchedParts(conn.id, seq, conn.db, id, cmd, byShard);
        return true;
      }
      case CMD.MSETNX:
      case CMD.RENAME:
      case CMD.RENAMENX:
      case CMD.COPY:
        this.startOperation(conn, seq, id, cmd);
        return true;
      case CMD.EVAL:
      case CMD.EVALSHA:
      case CMD.EVAL_RO:
      case CMD.EVALSHA_RO:
      case CMD.FCALL:
      case CMD.FCALL_RO:
        this.scriptAcross(conn, seq, id, cmd, this.shardOf(cmd, this.keyIdx[0]!));
        return true;
      case CMD.XREAD:
      case CMD.XREADGROUP:
        if (conn.noBlock) return this.refuseCrossSlot(conn, seq);
        this.readAcross(conn, seq, id, cmd);
        return true;
      case CMD.BLPOP:
      case CMD.BRPOP:
      case CMD.BZPOPMIN:
      case CMD.BZPOPMAX:
      case CMD.BLMPOP:
      case CMD.BZMPOP:
      case CMD.BLMOVE:
      case CMD.BRPOPLPUSH:
        if (conn.noBlock) return this.refuseCrossSlot(conn, seq);
        this.blockAcross(conn, seq, id, cmd, nk);
        return true;
      default:
        if (runsGathered(id)) {
          this.startOperation(conn, seq, id, cmd, true);
          return true;
        }
        return this.refuseCrossSlot(conn, seq);
    }
  }

  /** Refuses a command whose keys span shards; nothing ran, so the AOF has nothing to log. */
  private refuseCrossSlot(conn: Connection, seq: number): boolean {
    this.aof.skip();
    this.replyError(conn, seq, "CROSSSLOT Keys in request don't hash to the same slot");
    return true;
  }

  /**
   * Runs a read-then-write operation across shards in the coordinator: the connection stalls
   * until it is done, and the involved shards are held (other clients needing them wait) while it runs.
   */
  private startOperation(conn: Connection, seq: number, id: number, cmd: ParsedCommand, gather = false): void {
    const args = copyArgs(cmd);
    const keys = gather
      ? Array.from(this.keyIdx.subarray(0, extractKeys(COMMANDS[id]!, cmd.buf, cmd.argStart, cmd.argLen, cmd.argc, this.keyIdx)))
      : null;
    const logged = this.aof.take(conn.db, id, cmd);
    this.park(conn);
    void this.coordinator.operation(id, args, keys, conn.db, conn.proto, logged).then((reply) => {
      if (conn.monitored !== null) this.hooks.executed(conn, seq);
      if (!conn.closed && conn.deliver(seq, reply, 0, reply.length)) this.markDirty(conn);
      this.scheduleTick();
    });
  }

  /**
   * A script whose declared keys span shards (or that declares none): it runs in `home` (its first
   * key's shard) with every shard held, the others serving its calls on their keys
   * (script-across.ts); the client stays parked.
   */
  private scriptAcross(conn: Connection, seq: number, id: number, cmd: ParsedCommand, home: number): void {
    // Its writes are logged as the effects the script sends.
    this.aof.skip();
    let flags = frameFlags(conn) | F.FLAG_ACROSS | (this.aof.sink !== null ? F.FLAG_EFFECTS : 0);
    const args = copyArgs(cmd);
    if (conn.restricted) {
      args.push(Buffer.from(this.access.scriptRules(conn)));
      flags |= F.FLAG_ACL;
    }
    this.park(conn);
    void this.coordinator.scriptAcross(home, id, args, conn.db, flags).then((reply) => {
      if (conn.monitored !== null) this.hooks.executed(conn, seq);
      if (!conn.closed && conn.deliver(seq, reply, 0, reply.length)) this.markDirty(conn);
      this.scheduleTick();
    });
  }

  /** A blocking pop whose keys span shards: the client stays parked while the coordinator runs it (block-across.ts). */
  private blockAcross(conn: Connection, seq: number, id: number, cmd: ParsedCommand, nk: number): void {
    // Each try is logged (as what it popped) when its shard answers it.
    this.aof.skip();
    const plan = planBlock(this.coordinator, id, copyArgs(cmd), Array.from(this.keyIdx.subarray(0, nk)));
    if (typeof plan === 'string') return this.replyError(conn, seq, plan);
    conn.blockedSeq = seq;
    conn.blockedCmd = id;
    conn.stalled = true;
    void runBlock(this.coordinator, plan, conn.db, conn.proto, conn).then((reply) => {
      if (conn.monitored !== null) this.hooks.executed(conn, seq);
      if (!conn.closed && conn.deliver(seq, reply, 0, reply.length)) this.markDirty(conn);
      if (conn.blockedSeq === seq) {
        conn.blockedSeq = -1;
        this.resume(conn);
      }
      this.scheduleTick();
    });
  }

  /** XREAD/XREADGROUP over streams on several shards: the client stays parked while the coordinator runs it (xread-across.ts). */
  private readAcross(conn: Connection, seq: number, id: number, cmd: ParsedCommand): void {
    // Each XREADGROUP try is logged when its shard answers it.
    this.aof.skip();
    const plan = planXread(id, copyArgs(cmd), conn.noBlock);
    if (typeof plan === 'string') return this.replyError(conn, seq, plan);
    conn.blockedSeq = seq;
    conn.stalled = true;
    void runXread(this.coordinator, plan, conn.db, conn.proto, conn).then((reply) => {
      if (conn.monitored !== null) this.hooks.executed(conn, seq);
      if (!conn.closed && conn.deliver(seq, reply, 0, reply.length)) this.markDirty(conn);
      if (conn.blockedSeq === seq) {
        conn.blockedSeq = -1;
        this.resume(conn);
      }
      this.scheduleTick();
    });
  }

  /** Resumes connections parked on held shards, in arrival order. */
  releaseStalled(): void {
    const list = [...this.stalled];
    this.stalled.clear();
    for (const conn of list) this.resume(conn);
    this.scheduleTick();
  }

  /** A client's queued output was all written: if its reading was paused for it, it reads again. */
  private drained(conn: Connection): void {
    if (!conn.readPaused) return;
    conn.readPaused = false;
    if (conn.throttled && conn.nextSeq - conn.nextWrite <= conn.maxInFlight >> 1) this.unthrottle(conn);
    else if (!conn.stalled) conn.socket.resume();
  }

  /** Lets a connection throttled at its in-flight cap parse again (its replies caught up). */
  private unthrottle(conn: Connection): void {
    conn.throttled = false;
    this.resume(conn);
    this.scheduleTick();
  }

  /** Lets a parked connection parse the input that waited, then read again. */
  private resume(conn: Connection): void {
    conn.stalled = false;
    if (conn.closed) return;
    if (conn.inBuf !== null) this.processInput(conn, conn.inBuf.subarray(0, conn.inEnd), conn.inPos, true);
    if (!conn.stalled && !conn.readPaused) conn.socket.resume();
  }

  // ---- replies ----

  /** Queues a connection for this tick's flush. */
  markDirty(conn: Connection): void {
    this.replies.markDirty(conn);
  }

  /** Delivers the scratch writer's content as the reply to `seq`. */
  replyW(conn: Connection, seq: number): void {
    if (conn.deliver(seq, this.w.bytes, 0, this.w.len)) this.markDirty(conn);
  }

  /** Starts building a reply in the scratch writer for this connection's protocol. */
  startReply(conn: Connection): RespWriter {
    this.w.len = 0;
    this.w.proto = conn.proto;
    return this.w;
  }

  /** Replies a constant. */
  replyConst(conn: Connection, seq: number, c: Uint8Array): void {
    if (conn.deliver(seq, c, 0, c.length)) this.markDirty(conn);
  }

  /** Replies an error (UTF-8 text). */
  replyError(conn: Connection, seq: number, text: string): void {
    this.startReply(conn).error(text);
    this.replyW(conn, seq);
  }

  /** Replies an error whose text carries the client's bytes as Latin-1 (sent back unchanged). */
  replyErrorLatin1(conn: Connection, seq: number, text: string): void {
    const w = this.startReply(conn);
    w.ensure(text.length + 3);
    w.ascii(`-${text}\r\n`);
    this.replyW(conn, seq);
  }

  /** Routes a keyless command to every shard (used by local commands that need shard data). */
  broadcastCommand(conn: Connection, seq: number, id: number, cmd: ParsedCommand, kind: 'sum' | 'ok'): void {
    if (this.nShards === 1) this.sendAll(this.shards[0]!, conn, seq, id, cmd);
    else {
      conn.gathers.set(seq, this.combiner(kind === 'sum' ? Split.Sum : Split.Ok, this.nShards));
      for (const link of this.shards) this.sendAll(link, conn, seq, id, cmd);
    }
  }

  // ---- the tick: publish requests, flush replies ----

  /**
   * Runs `fn` once this tick's replies are flushed (at once in a tick of its own when none is due): work the
   * replies need not wait for, such as writing nodes.conf after CLUSTER SETSLOT.
   */
  afterReplies(fn: () => void): void {
    this.afterFlush.push(fn);
    this.scheduleTick();
  }

  private afterFlush: (() => void)[] = [];

  /** Publishes this tick's request frames and flushes the replies once, when the tick ends. */
  scheduleTick(): void {
    if (this.tickScheduled) return;
    this.tickScheduled = true;
    if (this.busy.enabled) this.tickStart = performance.now();
    Atomics.store(this.bell, F.ACCEPTOR_AWAKE, 1);
    setImmediate(this.endOfTick);
  }

  private readonly endOfTick = (): void => {
    this.tickScheduled = false;
    const polling = this.busy.enabled;
    // Lowered before the rings are read: a shard publishing after that read sees it and rings (both sides
    // are sequentially consistent), so no reply waits for a doorbell that was never rung. Under
    // acceptor-poll-us it stays up while the loop polls, and pollOn reads the rings again once it is down.
    if (!polling) Atomics.store(this.bell, F.ACCEPTOR_AWAKE, 0);
    this.drainedAny = false;
    if (!this.closing) this.drainReplies();
    let work = this.drainedAny;
    for (const link of this.shards) {
      if (link.dirty) work = true;
      link.publish();
    }
    this.replies.flush();
    if (this.afterFlush.length !== 0) {
      const run = this.afterFlush;
      this.afterFlush = [];
      for (const fn of run) fn();
    }
    if (polling) this.pollOn(work, this.tickStart);
  };

  /** When the current tick began (ms), under acceptor-poll-us. */
  private tickStart = 0;
  /** drainReplies took a frame. */
  private drainedAny = false;

  /** After a tick under acceptor-poll-us (src/io/busy-poll.ts): runs another at once, or lowers ACCEPTOR_AWAKE to sleep. */
  private pollOn(work: boolean, start: number): void {
    if (!this.closing && this.busy.after(work, start, performance.now())) {
      this.scheduleTick();
      return;
    }
    Atomics.store(this.bell, F.ACCEPTOR_AWAKE, 0);
    // Replies a shard published while the flag was up rang no doorbell: look once more now that it is down.
    if (this.closing) return;
    for (const link of this.shards) {
      if (link.rep.poll()) {
        this.scheduleTick();
        return;
      }
    }
  }

  private armDoorbell(): void {
    const r = Atomics.waitAsync(this.bell, F.DOORBELL_WORD, 0);
    if (r.async) void r.value.then(this.onDoorbell);
    else setImmediate(this.onDoorbell);
  }

  private readonly onDoorbell = (): void => {
    if (this.closing) return;
    const polling = this.busy.enabled;
    const start = polling ? performance.now() : 0;
    Atomics.store(this.bell, F.DOORBELL_WORD, 0);
    this.drainReplies();
    for (const link of this.shards) link.publish();
    this.replies.flush();
    this.armDoorbell();
    // A shard's replies woke the acceptor: more are likely, so it polls (scheduleTick raises ACCEPTOR_AWAKE).
    if (polling && !this.tickScheduled && this.busy.after(true, start, performance.now())) this.scheduleTick();
  };

  /** Publishes a script's PUBLISH (a PUBLISH_TAG frame) and answers the shard, which waits for the count of receivers. */
  private scriptPublish(link: ShardLink, b: Uint8Array, s: number, len: number): void {
    const n = readU32(b, s + 1);
    const channel = Buffer.from(b.subarray(s + 5, s + 5 + n));
    const message = Buffer.from(b.subarray(s + 5 + n, s + len));
    const answer = link.publishAnswer;
    Atomics.store(answer, F.PUB_RECEIVERS, this.hooks.publish(channel, message));
    Atomics.store(answer, F.PUB_STATE, F.PUB_ANSWERED);
    Atomics.notify(answer, F.PUB_STATE);
  }

  /** Reads every published reply frame and hands each to its connection. */
  private drainReplies(): void {
    for (const link of this.shards) {
      const rr = link.rep;
      if (!rr.poll()) continue;
      let p: number;
      // A shard that filled its ring waits for space: frames are freed every quarter ring, not
      // only at the end, so it writes on while this drain goes on; frames it publishes meanwhile
      // are taken in the same pass, up to a few rings so sockets still get flushed.
      let unreleased = 0;
      let budget = rr.capacity * 4;
      for (;;) {
        if (unreleased >= rr.capacity >> 2) {
          rr.release();
          budget -= unreleased;
          unreleased = 0;
          if (budget > 0) rr.poll();
        }
        if ((p = rr.next()) === -1) break;
        this.drainedAny = true;
        unreleased += rr.frameLength(p);
        let b = rr.buf;
        let connId: number;
        let seq: number;
        let kind: number;
        if (LITTLE_ENDIAN) {
          const w = p >>> 2;
          connId = rr.u32[w + (F.REP_CONN >>> 2)]!;
          seq = rr.u32[w + (F.REP_SEQ >>> 2)]!;
          kind = rr.u32[w + (F.REP_KIND >>> 2)]!;
        } else {
          connId = readU32(b, p + F.REP_CONN);
          seq = readU32(b, p + F.REP_SEQ);
          kind = readU32(b, p + F.REP_KIND);
        }
        let s = p + F.REP_BODY;
        let len = rr.frameLength(p) - F.REP_BODY;
        if ((kind & 0xff) === F.KIND_RUN) {
          this.replyRun(link, connId, seq, F.runCount(kind), F.runUnchanged(kind), b, s, len);
          continue;
        }
        if (kind === F.KIND_UNCHANGED) {
          this.takeBackChanges(1);
          kind = F.KIND_INLINE;
        }
        if (kind !== F.KIND_INLINE) {
          if (kind === F.KIND_SCRIPT_INFO) {
            this.scriptInfo[link.id] = b.slice(s, s + len);
            continue;
          }
          if (kind === F.KIND_EFFECTS || kind === F.KIND_EFFECTS_BIG) {
            if (kind === F.KIND_EFFECTS) this.aof.scriptEffects(b, s, len);
            else {
              const big = link.takeBigReply();
              this.aof.scriptEffects(big, 0, big.length);
            }
            continue;
          }
          if (kind === F.KIND_BLOCKED) {
            const c = this.conns.get(connId) ?? this.sinks.get(connId);
            if (c?.monitored != null) this.hooks.executed(c, seq);
            continue;
          }
          b = link.takeBigReply();
          s = 0;
          len = b.length;
        }
        if (connId === 0 || connId >= F.SYSTEM_CONN_BASE) {
          if (seq === 0) {
            if (b[s] === F.DEL_TAG) this.aof.deleted(b, s, len);
            else if (b[s] === F.ERRSTAT_TAG) this.stats.errors.count(b, s + 1, len - 1);
            else if (b[s] === F.ERRSTAT_UNDO_TAG) this.stats.errors.uncount(b, s + 1, len - 1);
            else if (b[s] === F.PUBLISH_TAG) this.scriptPublish(link, b, s, len);
            else this.hooks.event(b, s, len);
            continue;
          }
          this.coordinator.answer(seq, b, s, len);
          continue;
        }
        this.replyOne(link, connId, seq, b, s, len);
      }
      rr.release();
    }
  }

  /** `n` writes changed nothing (KIND_UNCHANGED replies): not changes since the last save after all. */
  private takeBackChanges(n: number): void {
    this.writes.dirty = Math.max(0, this.writes.dirty - n);
  }

  /** The connection of the last reply handed out: replies come in runs for one connection (a pipeline's batch). */
  private lastConn: Connection | undefined = undefined;

  /** The client (or transaction collector) `connId`, if it is still there. */
  private replyTarget(connId: number): Connection | undefined {
    const last = this.lastConn;
    if (last !== undefined && last.id === connId && !last.closed) return last;
    const conn = this.conns.get(connId);
    if (conn !== undefined) {
      this.lastConn = conn;
      return conn;
    }
    return this.sinks.get(connId);
  }

  /** Hands one shard reply to its connection: the AOF's order, a gather it completes, MONITOR, a blocked client. */
  private replyOne(link: ShardLink, connId: number, seq: number, b: Uint8Array, s: number, len: number): void {
    this.aof.replied(connId, seq, link.id, b, s, len);
    const conn = this.replyTarget(connId);
    if (conn === undefined) return;
    if (conn.gathers.size !== 0) {
      const g = conn.gathers.get(seq);
      if (g !== undefined) {
        if (g.add(link.id, b, s, len)) {
          conn.gathers.delete(seq);
          if (conn.monitored !== null) this.hooks.executed(conn, seq);
          const w = this.startReply(conn);
          g.finish(w);
          this.replyW(conn, seq);
        }
        return;
      }
    }
    if (conn.monitored !== null) this.hooks.executed(conn, seq);
    if (conn.deliver(seq, b, s, len)) this.markDirty(conn);
    if (conn.blockedSeq === seq) {
      conn.blockedSeq = -1;
      this.resume(conn);
    }
  }

  /**
   * A shard's KIND_RUN frame (frames.ts): `count` replies to commands seq onwards, `unchanged` of them to writes
   * that changed nothing. Queued in one copy when nothing needs them one at a time (no AOF or gather waiting, no
   * MONITOR, the connection's own checks in deliverRun), else handed out one by one, as separate frames would
   * have been.
   */
  private replyRun(
    link: ShardLink,
    connId: number,
    seq: number,
    count: number,
    unchanged: number,
    b: Uint8Array,
    s: number,
    len: number,
  ): void {
    const bytes = len - 4 * count;
    if (unchanged !== 0) this.takeBackChanges(unchanged);
    const conn = this.replyTarget(connId);
    if (
      conn !== undefined &&
      this.aof.quiet &&
      conn.gathers.size === 0 &&
      conn.monitored === null &&
      conn.deliverRun(seq, count, b, s, bytes)
    ) {
      this.markDirty(conn);
      return;
    }
    for (let i = 0, p = s; i < count; i++) {
      const n = readU32(b, s + bytes + 4 * i);
      this.replyOne(link, connId, seq + i, b, p, n);
      p += n;
    }
  }
}

/** A transaction in progress has a write queued. */
function queuesWrite(conn: Connection): boolean {
  return conn.multi !== null && conn.multi.cmds.some((q) => (COMMANDS[q.id]!.flags & F_WRITE) !== 0);
}

/** Whether a command flagged blocking can block: XREAD and XREADGROUP only with BLOCK (the others always), so plain reads pipeline. */
function mayBlock(id: number, cmd: ParsedCommand): boolean {
  if (id !== CMD.XREAD && id !== CMD.XREADGROUP) return true;
  for (let i = 1; i < cmd.argc; i++) {
    if (isKeyword(cmd.buf, cmd.argStart[i]!, cmd.argLen[i]!, 'STREAMS')) return false;
    if (isKeyword(cmd.buf, cmd.argStart[i]!, cmd.argLen[i]!, 'BLOCK')) return true;
  }
  return false;
}
