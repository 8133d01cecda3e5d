/**
 * The acceptor thread: owns every socket, parses RESP in place, answers keyless commands
 * itself, and routes keyed ones by hash slot to the shard rings. Replies come back through
 * the reply rings (one doorbell wake-up per shard batch) and are written in order.
 *
 * Consistency across shards comes from the rings' order: the acceptor is their only
 * producer, so a command split over several shards in one go is ordered identically
 * against every other command on each shard. Operations that must read before they write
 * across shards (RENAME, MSETNX, COPY) hold their shards: any connection that needs a held
 * shard stops parsing until the operation is done.
 */
import net from 'node:net';
import { Buffer } from 'node:buffer';
import { randomBytes } from 'node:crypto';
import calculateSlot from 'cluster-key-slot';
import { Connection, ST_SUBSCRIBED, type PendingPart } from './connection.js';
import { ParsedCommand, PARSE_ERROR, PARSE_INCOMPLETE, parseCommand, type ParserLimits } from '../wire/resp-parser.js';
import { RespWriter } from '../wire/resp-writer.js';
import { ShardLink } from './shard-link.js';
import { readIntoScratch } from '../net/socket-reader.js';
import { readU32 } from '../wire/ring.js';
import * as F from '../wire/frames.js';
import { isKeyword, pooledCopy } from '../wire/bytes.js';
import { ConcatParts, MgetParts, OkParts, RandomParts, SumParts } from './gather.js';
import { CMD } from '../commands/ids.generated.js';
import {
  COMMANDS,
  F_BLOCKING,
  F_MAY_REPLICATE,
  F_READONLY,
  F_NO_AUTH,
  F_WRITE,
  checkArity,
  extractKeys,
  lookupCommand,
  lookupSubcommand,
  unknownCommandError,
  unknownSubcommandError,
  wrongArityError,
} from '../commands/table.js';
import { internalId } from '../commands/internal.js';
import { cursorShard, parseScanCursor } from '../wire/scan-cursor.js';
import { E_NOAUTH } from '../wire/error-text.js';
import type { Logger } from '../log.js';

/** A command the acceptor answers itself. */
export type LocalHandler = (conn: Connection, seq: number, cmd: ParsedCommand) => void;

/** A write command waiting for its reply before it is logged. */
export interface AofEntry {
  db: number;
  id: number;
  argv: Uint8Array[];
}

/** The AOF as the acceptor uses it: capture at dispatch, log at reply, flush before replies go out. */
export interface AofSink {
  capture(db: number, id: number, cmd: ParsedCommand): AofEntry;
  commit(e: AofEntry, reply: Uint8Array, s: number, len: number): void;
  flush(): void;
}

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
  /** The connection closed. */
  closed(conn: Connection): void;
  /** A keyspace event frame from a shard (reply frame with connId 0, seq 0). */
  event(buf: Uint8Array, start: number, len: number): void;
  /** MONITOR feed, called only while `monitoring` is set. */
  monitor(conn: Connection, id: number, cmd: ParsedCommand): void;
  /** A cross-shard operation finished with `reply` (keyspace events for RENAME/COPY). */
  operationDone(id: number, args: Buffer[], db: number, reply: RespWriter): void;
  /** After a flush, a subscribed client still has `pending` unsent bytes (pub/sub output limits). */
  subscriberBacklog(conn: Connection, pending: number): void;
}

/** Pending output beyond which a connection stops being read until it drains. */
const PAUSE_OUTPUT_BYTES = 1 << 20;
/**
 * Input a stalled client (blocked, or waiting on a cross-shard operation) may send before its
 * socket stops reading. Below it the socket keeps reading, so a client that hangs up while
 * blocked is seen at once (a paused onread socket stops reading, and would miss the EOF).
 */
const STALLED_INPUT_BYTES = 64 * 1024;
/** Per-direction ring size; frames over half of it travel over the MessagePort instead. */
const RING_BYTES = 1 << 20;

/** Frame flags for a connection's commands. */
function frameFlags(conn: Connection): number {
  return (conn.proto === 3 ? F.FLAG_RESP3 : 0) | (conn.noBlock ? F.FLAG_NOBLOCK : 0);
}

/** Command groups whose multi-key commands run across shards by gathering the keys into one. */
const GATHERED_GROUPS = new Set(['list', 'set', 'sorted-set', 'hash']);

/** True for the collection commands that run across shards by gathering their keys into one. */
export function runsGathered(id: number): boolean {
  return GATHERED_GROUPS.has(COMMANDS[id]!.docs.group) && (COMMANDS[id]!.flags & F_BLOCKING) === 0;
}

/** The payload of a bulk-string reply (null for a null reply). */
function bulkBody(reply: Uint8Array): Buffer | null {
  if (reply[0] !== 36 || reply[1] === 45) return null;
  const cr = reply.indexOf(13);
  return Buffer.from(reply.subarray(cr + 2, reply.length - 2));
}

/** A null reply in either protocol: RESP3 `_`, RESP2 `*-1` or `$-1` (nothing to pop or move). */
function isNullReply(r: Uint8Array): boolean {
  return r[0] === 95 || ((r[0] === 42 || r[0] === 36) && r[1] === 45);
}

/** LEFT or RIGHT, as BLMOVE checks its directions before its timeout. */
function isSide(a: Buffer): boolean {
  return isKeyword(a, 0, a.length, 'LEFT') || isKeyword(a, 0, a.length, 'RIGHT');
}

/** Connection ids from here up name the server's own waits in shards (cross-shard blocking). */
const SYSTEM_CONN_BASE = 0x80000000;

/** Which combiner a command split over shards uses. */
const enum Split {
  Sum,
  Ok,
  Concat,
  Random,
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
    return Math.round(((newest - oldest) * 10) / n);
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
  /** The append-only file while appendonly is on: records dispatched writes, flushed before replies go out. */
  aof: AofSink | null = null;
  /** Writes waiting for their reply before the AOF logs them: by connection id, then seq * 256 + part (255: the whole command). */
  private readonly aofPending = new Map<number, Map<number, AofEntry>>();
  /** The same for the server's own calls (cross-shard blocking pops), by system seq. */
  private readonly sysAof = new Map<number, AofEntry>();
  /** Set by routing paths that took care of the AOF for the command being dispatched. */
  private aofTaken = false;
  /** Local command handlers by command id, installed by the server. */
  local: (LocalHandler | undefined)[] = [];
  /** Transactions, pub/sub and notification hooks. */
  hooks: ModeHooks = { gate: () => false, rejected: () => {}, closed: () => {}, event: () => {}, monitor: () => {}, operationDone: () => {}, subscriberBacklog: () => {} };
  /** Some client runs MONITOR. */
  monitoring = false;
  /** Flushes so far; pub/sub starts a new shared message log after each. */
  flushes = 0;
  /** CLIENT PAUSE: end time (0: not paused) and whether reads are paused too. */
  pauseUntil = 0;
  pauseAll = false;
  /** Collectors of transaction replies, by their connection id (looked up only when conns misses). */
  readonly sinks = new Map<number, Connection>();
  /** Scratch writer for locally built replies. */
  readonly w = new RespWriter(1 << 14);
  private readonly servers: net.Server[] = [];
  private readonly cmd = new ParsedCommand();
  private readonly limits: ParserLimits;
  private keyIdx = new Int32Array(256);
  readonly nShards: number;
  nextConnId = 1;
  private readonly dirty: Connection[] = [];
  private tickScheduled = false;
  private readonly bell: Int32Array;
  private readonly doorbellSab = new SharedArrayBuffer(64);
  /** Shards held by an in-flight cross-shard operation. */
  readonly held: Uint8Array;
  readonly stalled = new Set<Connection>();
  private opChain: Promise<void> = Promise.resolve();
  /** Cross-shard gathered operations started, for their temporary key names. */
  private gatherOps = 0;
  /** Cross-shard blocking operations started, for their system connection ids. */
  private blockOps = 0;
  /** System calls made as a given system connection (so they can be forgotten when cancelled). */
  private readonly sysOwner = new Map<number, number[]>();
  private sysSeq = 0;
  private readonly sysPending = new Map<number, (reply: Uint8Array) => void>();
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
    this.held = new Uint8Array(this.nShards);
    this.bell = new Int32Array(this.doorbellSab);
    this.limits = { maxBulkLen: config.num('proto-max-bulk-len'), authenticated: true };
    config.onChange('proto-max-bulk-len', (v) => (this.limits.maxBulkLen = Number(v)));
    this.onShardExit = (id, code) => {
      if (this.closing) return;
      this.log.error('shard worker exited unexpectedly; shutting down', { shard: id, code });
      process.exit(1);
    };
  }

  /** Starts the shard workers, runs `beforeListen` (loading the data set), then listens on every bind address. */
  async start(beforeListen: () => Promise<void> = async () => {}): Promise<void> {
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
            workerUrl: this.workerUrl,
          },
          this.onShardExit,
        ),
      );
    }
    this.armDoorbell();
    let ticks = 0;
    this.idleTimer = setInterval(() => {
      this.stats.sample();
      if (++ticks % 10 === 0) this.closeIdleClients();
    }, 100);
    this.idleTimer.unref();
    await beforeListen();
    const port = this.config.num('port');
    const binds = this.config.get('bind').split(/\s+/).filter(Boolean);
    for (const host of binds) {
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
  }

  /** The port actually bound (differs from the config when it was 0). */
  get port(): number {
    const a = this.servers[0]?.address();
    return typeof a === 'object' && a !== null ? a.port : 0;
  }

  /** Closes clients idle for longer than `timeout` seconds (Redis's idle client timeout; 0 = never). */
  private closeIdleClients(): void {
    const limitMs = this.config.num('timeout') * 1000;
    if (limitMs === 0) return;
    const now = Date.now();
    for (const c of this.conns.values()) {
      if (c.idle && !c.stalled && now - c.lastActive > limitMs) this.kill(c);
    }
  }

  /** Stops listening, closes clients and stops the shards. */
  async close(): Promise<void> {
    this.closing = true;
    if (this.idleTimer !== null) clearInterval(this.idleTimer);
    for (const s of this.servers) s.close();
    for (const c of this.conns.values()) c.socket.destroy();
    const shutdown = internalId('__shutdown');
    await Promise.all(
      this.shards.map((link) => {
        const exited = new Promise<void>((resolve) => link.worker.once('exit', () => resolve()));
        link.control(shutdown);
        return exited;
      }),
    );
  }

  private onConnection(socket: net.Socket): void {
    this.stats.connectionsReceived++;
    if (this.conns.size >= this.config.num('maxclients') || this.closing) {
      this.stats.rejectedConnections++;
      socket.end('-ERR max number of clients reached\r\n');
      return;
    }
    const conn = new Connection(this.nextConnId++, socket, this.config.get('requirepass') === '');
    this.conns.set(conn.id, conn);
    const onData = (d: Buffer): void => this.onData(conn, d);
    if (!readIntoScratch(socket, onData)) socket.on('data', onData);
    socket.on('drain', () => {
      if (conn.readPaused) {
        conn.readPaused = false;
        if (!conn.stalled) socket.resume();
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => this.onClose(conn));
  }

  private onClose(conn: Connection): void {
    conn.closed = true;
    conn.onClosed?.();
    this.conns.delete(conn.id);
    this.stalled.delete(conn);
    if (conn.blockedSeq !== -1) {
      // Its waiter may sit in any shard its keys map to: tell them all to drop it.
      const unblock = internalId('__unblock');
      const id = Buffer.from(String(conn.id));
      const key = conn.blockedSeq * 256 + 255;
      const calls: Promise<Uint8Array>[] = [];
      for (let s = 0; s < this.nShards; s++) calls.push(this.sysCall(s, 0, unblock, [Buffer.from('__unblock'), id]));
      // A waiter dropped unserved never answers: its write never happened.
      void Promise.all(calls).then(() => this.takePending(conn.id, key));
    }
    this.hooks.closed(conn);
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
    if (conn.stalled || conn.inBytes !== 0) {
      conn.inParts.push(data);
      conn.inBytes += data.length;
      if (conn.inBytes > this.config.num('client-query-buffer-limit')) {
        this.log.warn('closing client that reached max query buffer length', { id: conn.id, addr: conn.addr, qbuf: conn.inBytes });
        this.kill(conn);
        return;
      }
      if (conn.stalled) {
        if (conn.inBytes > STALLED_INPUT_BYTES) conn.socket.pause();
        return;
      }
      if (conn.inBytes < conn.inNeed) return;
      data = conn.inParts.length === 1 ? conn.inParts[0]! : Buffer.concat(conn.inParts, conn.inBytes);
      conn.inParts = [];
      conn.inBytes = 0;
      conn.inNeed = 0;
    }
    this.processInput(conn, data);
    this.scheduleTick();
  }

  /** Parses and dispatches every complete command in `buf`; keeps the incomplete tail. */
  private processInput(conn: Connection, buf: Buffer): void {
    const cmd = this.cmd;
    const end = buf.length;
    let pos = 0;
    while (pos < end) {
      if (conn.closeAfterReplies || conn.closed) return;
      this.limits.authenticated = conn.authenticated;
      const r = parseCommand(buf, pos, end, cmd, this.limits);
      if (r === PARSE_INCOMPLETE) {
        conn.inParts = [pos === 0 ? buf : buf.subarray(pos)];
        conn.inBytes = end - pos;
        conn.inNeed = cmd.need;
        if (conn.inBytes > this.config.num('client-query-buffer-limit')) this.kill(conn);
        return;
      }
      if (r === PARSE_ERROR) {
        this.replyError(conn, conn.nextSeq++, cmd.error);
        conn.closeAfterReplies = true;
        return;
      }
      const start = pos;
      pos = r;
      if (cmd.argc === 0) continue;
      const consumed = this.dispatch(conn, cmd);
      if (conn.stalled) {
        const rest = buf.subarray(consumed ? pos : start);
        if (rest.length > 0) {
          conn.inParts.unshift(rest);
          conn.inBytes += rest.length;
        }
        if (conn.inBytes > STALLED_INPUT_BYTES) conn.socket.pause();
        return;
      }
    }
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
    if (id < 0) {
      this.hooks.rejected(conn);
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
          this.replyErrorLatin1(conn, seq, unknownSubcommandError(b, as, al));
        }
        return true;
      }
      id = sub;
      spec = COMMANDS[id]!;
    }
    if (!checkArity(spec, argc)) {
      this.hooks.rejected(conn);
      this.replyError(conn, seq, wrongArityError(spec.name));
      return true;
    }
    if (!conn.authenticated && (spec.flags & F_NO_AUTH) === 0) {
      this.replyError(conn, seq, E_NOAUTH);
      return true;
    }
    conn.lastCommand = spec.name;
    if (conn.state !== 0 && this.hooks.gate(conn, seq, id, cmd)) return true;
    if (this.pauseUntil !== 0 && this.pausedFor(id, spec.flags) && !this.sinks.has(conn.id)) return this.stall(conn, id);
    this.stats.calls[id]!++;
    if ((spec.flags & F_WRITE) !== 0) this.writes.dirty++;
    const local = this.local[id];
    if (local !== undefined) {
      local(conn, seq, cmd);
      // After the handler, as Redis feeds monitors after a command runs (SELECT shows its new db).
      if (this.monitoring) this.hooks.monitor(conn, id, cmd);
      return true;
    }
    if (!this.shardCommands[id]) {
      if (spec.container !== null) this.replyErrorLatin1(conn, seq, unknownSubcommandError(b, as, al));
      else this.replyErrorLatin1(conn, seq, unknownCommandError(b, as, al, argc));
      return true;
    }
    if (this.nShards === 1) {
      if (this.held[0] === 1) return this.stall(conn, id);
      this.sendAll(this.shards[0]!, conn, seq, id, cmd);
    } else if (!this.route(conn, seq, id, cmd)) {
      return false;
    }
    if (this.aof !== null) {
      if ((spec.flags & F_WRITE) !== 0 && !this.aofTaken) this.pendAof(conn.id, seq * 256 + 255, this.aof.capture(conn.db, id, cmd));
      this.aofTaken = false;
    }
    if ((spec.flags & F_BLOCKING) !== 0 && !conn.noBlock && seq >= conn.nextWrite && !conn.early.has(seq)) {
      // Like Redis, a blocked client runs nothing else until its command is answered.
      conn.blockedSeq = seq;
      conn.stalled = true;
    }
    // Only once routed: a stalled command is parsed again later.
    if (this.monitoring) this.hooks.monitor(conn, id, cmd);
    return true;
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
    conn.stalled = true;
    this.stalled.add(conn);
    return false;
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
        if (this.aof === null) return this.broadcast(conn, seq, id, cmd, Split.Ok);
        // Logged once, at one point of every shard's order: run it with all shards held.
        for (let i = 0; i < this.nShards; i++) if (this.held[i] === 1) return this.stall(conn, id);
        this.startOperation(conn, seq, id, cmd);
        return true;
      case CMD.RANDOMKEY:
        return this.broadcast(conn, seq, id, cmd, Split.Random);
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
    if (nk <= 0) {
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

  /** Shard owning a key given as bytes (cross-shard operations keep copies of their arguments). */
  private shardOfKey(k: Buffer): number {
    return calculateSlot(k) % this.nShards;
  }

  /** Shard owning the key at argument `i`: CRC16 slot (hash tags honoured) spread over shards. */
  private shardOf(cmd: ParsedCommand, i: number): number {
    if (this.nShards === 1) return 0;
    const s = cmd.argStart[i]!;
    const slot = calculateSlot(Buffer.from(cmd.buf.buffer, cmd.buf.byteOffset + s, cmd.argLen[i]!));
    return slot % this.nShards;
  }

  /** Sends the whole command to one shard. */
  private sendAll(link: ShardLink, conn: Connection, seq: number, id: number, cmd: ParsedCommand): void {
    const argc = cmd.argc;
    const al = cmd.argLen;
    let size = F.REQ_ARGS;
    for (let i = 0; i < argc; i++) size += 4 + al[i]!;
    const buf = link.begin(conn.id, seq, id, conn.db, frameFlags(conn), argc, size);
    const src = cmd.buf;
    const as = cmd.argStart;
    for (let i = 0; i < argc; i++) link.arg(buf, src, as[i]!, al[i]!);
    link.end();
  }

  /** Sends argument 0 plus the listed arguments to one shard. */
  private sendSubset(link: ShardLink, connId: number, seq: number, id: number, db: number, proto: number, cmd: ParsedCommand, args: number[]): void {
    let size = F.REQ_ARGS + 4 + cmd.argLen[0]!;
    for (const i of args) size += 4 + cmd.argLen[i]!;
    const buf = link.begin(connId, seq, id, db, proto === 3 ? F.FLAG_RESP3 : 0, args.length + 1, size);
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
        if (id === CMD.DEL || id === CMD.UNLINK) this.pendAofParts(conn, seq, id, cmd, byShard);
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
        this.pendAofParts(conn, seq, id, cmd, byShard);
        return true;
      }
      case CMD.MSETNX:
      case CMD.RENAME:
      case CMD.RENAMENX:
      case CMD.COPY:
        this.startOperation(conn, seq, id, cmd);
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
        void this.blockAcross(conn, seq, id, cmd, nk);
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
    this.aofTaken = this.aof !== null;
    this.replyError(conn, seq, "CROSSSLOT Keys in request don't hash to the same slot");
    return true;
  }

  /**
   * Runs a read-then-write operation across shards: the connection stalls until it is done,
   * and the involved shards are held (other clients needing them wait) while it runs.
   */
  private startOperation(conn: Connection, seq: number, id: number, cmd: ParsedCommand, gather = false): void {
    const args: Buffer[] = [];
    for (let i = 0; i < cmd.argc; i++) args.push(Buffer.from(cmd.buf.subarray(cmd.argStart[i]!, cmd.argStart[i]! + cmd.argLen[i]!)));
    const keys = gather ? Array.from(this.keyIdx.subarray(0, extractKeys(COMMANDS[id]!, cmd.buf, cmd.argStart, cmd.argLen, cmd.argc, this.keyIdx))) : null;
    const logged = this.takeAof(conn.db, id, cmd);
    conn.stalled = true;
    this.stalled.add(conn);
    void this.queueOperation(id, args, keys, conn.db, conn.proto, logged).then((reply) => {
      if (!conn.closed && conn.deliver(seq, reply, 0, reply.length)) this.markDirty(conn);
      this.scheduleTick();
    });
  }

  /**
   * Queues a cross-shard operation behind the others and resolves with its reply: a gathered
   * collection command when `keys` lists its key arguments, else MSETNX/RENAME/RENAMENX/COPY.
   */
  private queueOperation(id: number, args: Buffer[], keys: number[] | null, db: number, proto: 2 | 3, logged: AofEntry | null): Promise<Uint8Array> {
    return this.queued(async () => {
      const w = new RespWriter(256);
      w.proto = proto;
      try {
        if (keys !== null) await this.runGathered(id, args, keys, db, w);
        else await this.runOperation(id, args, db, w);
        this.hooks.operationDone(id, args, db, w);
      } catch (err) {
        w.len = 0;
        w.error(`ERR ${(err as Error).message}`);
      }
      // Logged while the shards are still held, so nothing that ran after it is logged before it.
      if (logged !== null) this.aof?.commit(logged, w.bytes, 0, w.len);
      this.held.fill(0);
      this.releaseStalled();
      return w.bytes.subarray(0, w.len);
    });
  }

  /** Runs `fn` after every cross-shard operation queued before it, and before any queued after it. */
  queued<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.opChain.then(fn);
    this.opChain = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }

  /**
   * A collection command over keys on several shards: copy each key living elsewhere into the
   * first key's shard under a temporary name, run the command there, then copy written keys
   * back (or delete them if the command emptied them) and drop the copies. Runs while every
   * involved shard is held, so it is atomic; it costs a copy of the foreign keys' values.
   */
  private async runGathered(id: number, args: Buffer[], keys: number[], db: number, w: RespWriter): Promise<void> {
    const home = this.shardOfKey(args[keys[0]!]!);
    for (const k of keys) this.held[this.shardOfKey(args[k]!)] = 1;
    const dump = internalId('__dump');
    const restore = internalId('__restore');
    const op = ++this.gatherOps;
    const moved: { arg: number; shard: number; temp: Buffer }[] = [];
    const local = args.slice();
    for (const k of keys) {
      const shard = this.shardOfKey(args[k]!);
      if (shard === home) continue;
      const temp = Buffer.from(`\u0000sabre:gather:${op}:${k}`);
      const payload = bulkBody(await this.sysCall(shard, db, dump, [Buffer.from('__dump'), args[k]!, Buffer.from('0')]));
      if (payload !== null) await this.sysCall(home, db, restore, [Buffer.from('__restore'), temp, payload, Buffer.from('1')]);
      moved.push({ arg: k, shard, temp });
      local[k] = temp;
    }
    const reply = await this.sysCall(home, db, id, local, w.proto === 3 ? F.FLAG_RESP3 | F.FLAG_NOBLOCK : F.FLAG_NOBLOCK);
    const readOnly = (COMMANDS[id]!.flags & F_READONLY) !== 0;
    for (const m of moved) {
      const back = bulkBody(await this.sysCall(home, db, dump, [Buffer.from('__dump'), m.temp, Buffer.from('1')]));
      if (readOnly) continue;
      if (back !== null) await this.sysCall(m.shard, db, restore, [Buffer.from('__restore'), args[m.arg]!, back, Buffer.from('1')]);
      else await this.sysCall(m.shard, db, CMD.DEL, [Buffer.from('del'), args[m.arg]!]);
    }
    w.raw(reply, 0, reply.length);
  }

  /**
   * Runs a cross-shard command for the server itself (AOF replay) and resolves with its reply:
   * MSETNX/RENAME/RENAMENX/COPY, or a gathered collection command when `keys` lists its key arguments.
   */
  async serverOperation(id: number, args: Buffer[], db: number, keys: number[] | null = null): Promise<Uint8Array> {
    const w = new RespWriter(256);
    await this.exclusive(() => (keys !== null ? this.runGathered(id, args, keys, db, w) : this.runOperation(id, args, db, w)));
    return w.bytes.slice(0, w.len);
  }

  /** The steps of each cross-shard operation. */
  async runOperation(id: number, args: Buffer[], db: number, w: RespWriter): Promise<void> {
    if (id === CMD.FLUSHALL || id === CMD.FLUSHDB) {
      this.held.fill(1);
      const replies = await Promise.all(this.shards.map((_, s) => this.sysCall(s, db, id, args)));
      const failed = replies.find((r) => r[0] === 45);
      if (failed !== undefined) w.raw(failed, 0, failed.length);
      else w.simple('OK');
      return;
    }
    if (id === CMD.MSETNX) {
      const parts = new Map<number, Buffer[]>();
      for (let i = 1; i + 1 < args.length; i += 2) {
        const s = this.shardOfKey(args[i]!);
        if (!parts.has(s)) parts.set(s, []);
        parts.get(s)!.push(args[i]!, args[i + 1]!);
      }
      if ((args.length & 1) === 0) {
        w.error(wrongArityError('msetnx'));
        return;
      }
      for (const s of parts.keys()) this.held[s] = 1;
      const exists = await Promise.all(
        [...parts].map(([s, kv]) => this.sysCall(s, db, CMD.EXISTS, [Buffer.from('exists'), ...kv.filter((_, j) => j % 2 === 0)])),
      );
      if (exists.some((r) => r[0] !== 58 || r[1] !== 48)) {
        w.int(0);
        return;
      }
      await Promise.all([...parts].map(([s, kv]) => this.sysCall(s, db, CMD.MSET, [Buffer.from('mset'), ...kv])));
      w.int(1);
      return;
    }
    // RENAME / RENAMENX / COPY: take the source's payload, then create the destination.
    const src = args[1]!;
    const dst = args[2]!;
    const ss = this.shardOfKey(src);
    const ds = this.shardOfKey(dst);
    this.held[ss] = 1;
    this.held[ds] = 1;
    let replace = id === CMD.RENAME;
    let dstDb = db;
    if (id === CMD.COPY) {
      for (let i = 3; i < args.length; i++) {
        const a = args[i]!.toString('latin1').toUpperCase();
        if (a === 'REPLACE') replace = true;
        else if (a === 'DB' && i + 1 < args.length) {
          const n = Number(args[++i]!.toString('latin1'));
          if (!Number.isInteger(n)) return w.error('ERR value is not an integer or out of range');
          if (n < 0 || n >= this.config.num('databases')) return w.error('ERR DB index is out of range');
          dstDb = n;
        } else return w.error('ERR syntax error');
      }
    }
    if (id === CMD.RENAMENX || (id === CMD.COPY && !replace)) {
      const e = await this.sysCall(ds, dstDb, CMD.EXISTS, [Buffer.from('exists'), dst]);
      const srcExists = await this.sysCall(ss, db, CMD.EXISTS, [Buffer.from('exists'), src]);
      if (srcExists[1] === 48) {
        if (id === CMD.COPY) w.int(0);
        else w.error('ERR no such key');
        return;
      }
      if (e[1] !== 48) return w.int(0);
    }
    const dump = await this.sysCall(ss, db, internalId('__dump'), [Buffer.from('__dump'), src, Buffer.from(id === CMD.COPY ? '0' : '1')]);
    if (dump[0] === 45) {
      w.raw(dump, 0, dump.length);
      return;
    }
    if (dump[1] === 45 || dump[0] === 95) {
      if (id === CMD.COPY) w.int(0);
      else w.error('ERR no such key');
      return;
    }
    const cr = dump.indexOf(13);
    const payload = Buffer.from(dump.subarray(cr + 2, dump.length - 2));
    await this.sysCall(ds, dstDb, internalId('__restore'), [Buffer.from('__restore'), dst, payload, Buffer.from(replace ? '1' : '0')]);
    if (id === CMD.RENAME) w.simple('OK');
    else w.int(1);
  }

  /**
   * Runs `fn` with every shard held: commands that need a shard wait until it settles, so what `fn`
   * asks the shards sees one point in time (SAVE, snapshots). Queued behind cross-shard operations.
   */
  exclusive<T>(fn: () => Promise<T>): Promise<T> {
    return this.queued(async () => {
      this.held.fill(1);
      try {
        return await fn();
      } finally {
        this.held.fill(0);
        this.releaseStalled();
      }
    });
  }

  /** Sends a command on behalf of the server itself and resolves with its raw reply. */
  sysCall(shard: number, db: number, id: number, args: Buffer[], flags = 0, asConn = 0, logged: AofEntry | null = null): Promise<Uint8Array> {
    const link = this.shards[shard]!;
    const seq = (this.sysSeq = (this.sysSeq % 0xfffffffe) + 1);
    if (logged !== null) this.sysAof.set(seq, logged);
    let size = F.REQ_ARGS;
    for (const a of args) size += 4 + a.length;
    const buf = link.begin(asConn, seq, id, db, flags, args.length, size);
    for (const a of args) link.arg(buf, a, 0, a.length);
    link.end();
    this.scheduleTick();
    if (asConn !== 0) {
      const seqs = this.sysOwner.get(asConn);
      if (seqs === undefined) this.sysOwner.set(asConn, [seq]);
      else seqs.push(seq);
    }
    return new Promise((resolve) => this.sysPending.set(seq, resolve));
  }

  /**
   * A blocking pop whose keys span shards. BLPOP/BRPOP/BZPOPMIN/BZPOPMAX/BLMPOP/BZMPOP try
   * each run of consecutive same-shard keys without blocking, in the order given; BLMOVE and
   * BRPOPLPUSH try the gathered (atomic) LMOVE/RPOPLPUSH. When nothing was there, every shard
   * watches its keys (__bwatch answers once one holds data, at once if one already does, so no
   * push is missed) and the command is tried again, until the timeout. The client stays parked.
   */
  private async blockAcross(conn: Connection, seq: number, id: number, cmd: ParsedCommand, nk: number): Promise<void> {
    // Each try is logged (as what it popped) when its shard answers it.
    this.aofTaken = this.aof !== null;
    const arg = (i: number): Buffer => Buffer.from(cmd.buf.subarray(cmd.argStart[i]!, cmd.argStart[i]! + cmd.argLen[i]!));
    const reply = (bytes: Uint8Array): void => {
      if (!conn.closed && conn.deliver(seq, bytes, 0, bytes.length)) this.markDirty(conn);
      if (conn.blockedSeq === seq) {
        conn.blockedSeq = -1;
        this.resume(conn);
      }
      this.scheduleTick();
    };
    const moving = id === CMD.BLMOVE || id === CMD.BRPOPLPUSH;
    if (id === CMD.BLMOVE && (!isSide(arg(3)) || !isSide(arg(4)))) return reply(Buffer.from('-ERR syntax error\r\n'));
    const timeoutArg = arg(id === CMD.BLMPOP || id === CMD.BZMPOP ? 1 : cmd.argc - 1).toString('latin1');
    const seconds = Number(timeoutArg);
    if (timeoutArg.trim() !== timeoutArg || timeoutArg === '' || !Number.isFinite(seconds)) {
      return reply(Buffer.from('-ERR timeout is not a float or out of range\r\n'));
    }
    if (seconds < 0) return reply(Buffer.from('-ERR timeout is negative\r\n'));
    const db = conn.db;
    const proto = conn.proto;
    const zero = Buffer.from('0');
    const name = arg(0);
    const keyArgs = Array.from(this.keyIdx.subarray(0, nk));
    // What each try sends: one request per run of consecutive keys on the same shard.
    const tries: { shard: number; args: Buffer[] }[] = [];
    const watched = new Map<number, Buffer[]>();
    for (const i of moving ? [1] : keyArgs) {
      const s = this.shardOf(cmd, i);
      if (!watched.has(s)) watched.set(s, []);
      watched.get(s)!.push(arg(i));
      if (tries.length === 0 || tries[tries.length - 1]!.shard !== s) tries.push({ shard: s, args: [] });
      tries[tries.length - 1]!.args.push(arg(i));
    }
    if (id === CMD.BLMPOP || id === CMD.BZMPOP) {
      const tail: Buffer[] = [];
      for (let i = keyArgs[nk - 1]! + 1; i < cmd.argc; i++) tail.push(arg(i));
      for (const t of tries) t.args = [name, zero, Buffer.from(String(t.args.length)), ...t.args, ...tail];
    } else for (const t of tries) t.args = [name, ...t.args, zero];
    const move = id === CMD.BLMOVE ? [Buffer.from('lmove'), arg(1), arg(2), arg(3), arg(4)] : [Buffer.from('rpoplpush'), arg(1), arg(2)];
    const flags = (proto === 3 ? F.FLAG_RESP3 : 0) | F.FLAG_NOBLOCK;
    const watchType = Buffer.from(id === CMD.BZPOPMIN || id === CMD.BZPOPMAX || id === CMD.BZMPOP ? 'zset' : 'list');
    const deadline = seconds === 0 ? Infinity : Date.now() + seconds * 1000;
    conn.blockedSeq = seq;
    conn.stalled = true;
    const opConn = SYSTEM_CONN_BASE + (this.blockOps = (this.blockOps + 1) % 0x7ffffff0);
    while (!conn.closed) {
      if (moving) {
        const moveId = id === CMD.BLMOVE ? CMD.LMOVE : CMD.RPOPLPUSH;
        const r = await this.queueOperation(moveId, move, [1, 2], db, proto, this.aof === null ? null : { db, id: moveId, argv: move });
        if (!isNullReply(r)) return reply(r);
      } else {
        // Queued like cross-shard operations, so a snapshot's point never falls between a try and its log entry.
        const r = await this.queued(async () => {
          for (const t of tries) {
            const got = await this.sysCall(t.shard, db, id, t.args, flags, 0, this.aof === null ? null : { db, id, argv: t.args });
            if (!isNullReply(got)) return got;
          }
          return null;
        });
        if (r !== null) return reply(r);
      }
      const left = deadline - Date.now();
      if (left <= 0) break;
      const watches = [...watched].map(([s, keys]) =>
        this.sysCall(s, db, internalId('__bwatch'), [Buffer.from('__bwatch'), watchType, ...keys], 0, opConn),
      );
      let timer: NodeJS.Timeout | undefined;
      const timedOut = left === Infinity ? null : new Promise<void>((res) => (timer = setTimeout(res, left)));
      const closed = new Promise<void>((res) => (conn.onClosed = res));
      await Promise.race([...watches, ...(timedOut ? [timedOut] : []), closed]);
      clearTimeout(timer);
      conn.onClosed = null;
      const unblock = [Buffer.from('__unblock'), Buffer.from(String(opConn))];
      await Promise.all([...watched.keys()].map((s) => this.sysCall(s, 0, internalId('__unblock'), unblock)));
      this.dropSystemWaits(opConn);
    }
    reply(Buffer.from(proto === 3 ? '_\r\n' : '*-1\r\n'));
  }

  /** Forgets pending system calls made on behalf of `opConn` whose shard waiters were dropped. */
  private dropSystemWaits(opConn: number): void {
    const seqs = this.sysOwner.get(opConn);
    if (seqs === undefined) return;
    for (const seq of seqs) this.sysPending.delete(seq);
    this.sysOwner.delete(opConn);
  }

  /** Resumes connections parked on held shards, in arrival order. */
  releaseStalled(): void {
    const list = [...this.stalled];
    this.stalled.clear();
    for (const conn of list) this.resume(conn);
    this.scheduleTick();
  }

  /** Lets a parked connection parse the input that waited, then read again. */
  private resume(conn: Connection): void {
    conn.stalled = false;
    if (conn.closed) return;
    if (conn.inBytes > 0) {
      const data = conn.inParts.length === 1 ? conn.inParts[0]! : Buffer.concat(conn.inParts, conn.inBytes);
      conn.inParts = [];
      conn.inBytes = 0;
      conn.inNeed = 0;
      this.processInput(conn, data);
    }
    if (!conn.stalled && !conn.readPaused) conn.socket.resume();
  }

  // ---- the AOF, in the order shards run writes ----

  private pendAof(connId: number, key: number, e: AofEntry): void {
    let m = this.aofPending.get(connId);
    if (m === undefined) this.aofPending.set(connId, (m = new Map()));
    m.set(key, e);
  }

  /** Captures the command for the AOF when one is on, and marks it as taken care of by the caller. */
  private takeAof(db: number, id: number, cmd: ParsedCommand): AofEntry | null {
    if (this.aof === null || (COMMANDS[id]!.flags & F_WRITE) === 0) return null;
    this.aofTaken = true;
    return this.aof.capture(db, id, cmd);
  }

  /** A write split over shards (DEL, UNLINK, MSET) is logged as each shard's part answers. */
  private pendAofParts(conn: Connection, seq: number, id: number, cmd: ParsedCommand, byShard: number[][]): void {
    const whole = this.takeAof(conn.db, id, cmd);
    if (whole === null) return;
    byShard.forEach((args, s) => {
      if (args.length > 0) this.pendAof(conn.id, seq * 256 + s, { db: whole.db, id, argv: [whole.argv[0]!, ...args.map((i) => whole.argv[i]!)] });
    });
  }

  /** Logs the write (or the shard's part of it) that this reply answers. */
  private commitAof(connId: number, seq: number, shard: number, b: Uint8Array, s: number, len: number): void {
    const e = this.takePending(connId, seq * 256 + 255) ?? this.takePending(connId, seq * 256 + shard);
    if (e !== undefined) this.aof?.commit(e, b, s, len);
  }

  private commitSysAof(seq: number, b: Uint8Array, s: number, len: number): void {
    const e = this.sysAof.get(seq);
    if (e === undefined) return;
    this.sysAof.delete(seq);
    this.aof?.commit(e, b, s, len);
  }

  /** Removes and returns a pending entry. */
  private takePending(connId: number, key: number): AofEntry | undefined {
    const m = this.aofPending.get(connId);
    const e = m?.get(key);
    if (e === undefined) return undefined;
    m!.delete(key);
    if (m!.size === 0) this.aofPending.delete(connId);
    return e;
  }

  // ---- replies ----

  /** Queues a connection for this tick's flush. */
  markDirty(conn: Connection): void {
    if (!conn.dirty) {
      conn.dirty = true;
      this.dirty.push(conn);
    }
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

  scheduleTick(): void {
    if (this.tickScheduled) return;
    this.tickScheduled = true;
    setImmediate(this.endOfTick);
  }

  private readonly endOfTick = (): void => {
    this.tickScheduled = false;
    for (const link of this.shards) link.publish();
    this.flush();
  };

  private flush(): void {
    this.aof?.flush();
    const list = this.dirty;
    this.flushes++;
    for (let i = 0; i < list.length; i++) {
      const conn = list[i]!;
      conn.dirty = false;
      if (conn.closed) continue;
      if (conn.share !== null) this.writeShared(conn);
      const len = conn.out.len;
      if (len > 0) {
        this.stats.netOutputBytes += len;
        conn.socket.write(pooledCopy(conn.out.bytes, 0, len));
        conn.out.reset();
      }
      if (conn.closeAfterReplies && conn.idle) {
        conn.closed = true;
        conn.socket.end();
        continue;
      }
      const pending = conn.socket.writableLength;
      if (pending > PAUSE_OUTPUT_BYTES && !conn.readPaused) {
        conn.readPaused = true;
        conn.socket.pause();
        const limit = this.config.num('client-output-buffer-limit-bytes');
        if (limit > 0 && pending > limit) {
          this.log.warn('client scheduled to be closed for overcoming of output buffer limits', { id: conn.id, addr: conn.addr, omem: pending });
          this.kill(conn);
        }
      }
      if ((conn.state & ST_SUBSCRIBED) !== 0 && pending !== 0) this.hooks.subscriberBacklog(conn, pending);
    }
    list.length = 0;
  }

  /** Writes the connection's span of this tick's shared pub/sub messages (a view, not a copy); it precedes conn.out. */
  private writeShared(conn: Connection): void {
    const b = conn.share!.bytes;
    conn.share = null;
    const n = conn.shareEnd - conn.shareStart;
    this.stats.netOutputBytes += n;
    conn.socket.write(Buffer.from(b.buffer, b.byteOffset + conn.shareStart, n));
  }

  private armDoorbell(): void {
    const r = Atomics.waitAsync(this.bell, F.DOORBELL_WORD, 0);
    if (r.async) void r.value.then(this.onDoorbell);
    else setImmediate(this.onDoorbell);
  }

  private readonly onDoorbell = (): void => {
    if (this.closing) return;
    Atomics.store(this.bell, F.DOORBELL_WORD, 0);
    this.drainReplies();
    for (const link of this.shards) link.publish();
    this.flush();
    this.armDoorbell();
  };

  /** Reads every published reply frame and hands each to its connection. */
  private drainReplies(): void {
    for (const link of this.shards) {
      const rr = link.rep;
      if (!rr.poll()) continue;
      let p: number;
      while ((p = rr.next()) !== -1) {
        let b = rr.buf;
        const connId = readU32(b, p + F.REP_CONN);
        const seq = readU32(b, p + F.REP_SEQ);
        let s = p + F.REP_BODY;
        let len = rr.frameLength(p) - F.REP_BODY;
        if (readU32(b, p + F.REP_KIND) === F.KIND_BIG) {
          b = link.takeBigReply();
          s = 0;
          len = b.length;
        }
        if (connId === 0 || connId >= SYSTEM_CONN_BASE) {
          if (seq === 0) {
            this.hooks.event(b, s, len);
            continue;
          }
          if (this.sysAof.size !== 0) this.commitSysAof(seq, b, s, len);
          const resolve = this.sysPending.get(seq);
          if (resolve !== undefined) {
            this.sysPending.delete(seq);
            resolve(b.slice(s, s + len));
          }
          continue;
        }
        if (this.aofPending.size !== 0) this.commitAof(connId, seq, link.id, b, s, len);
        const conn = this.conns.get(connId) ?? this.sinks.get(connId);
        if (conn === undefined) continue;
        if (conn.gathers.size !== 0) {
          const g = conn.gathers.get(seq);
          if (g !== undefined) {
            if (g.add(link.id, b, s, len)) {
              conn.gathers.delete(seq);
              const w = this.startReply(conn);
              g.finish(w);
              this.replyW(conn, seq);
            }
            continue;
          }
        }
        if (conn.deliver(seq, b, s, len)) this.markDirty(conn);
        if (conn.blockedSeq === seq) {
          conn.blockedSeq = -1;
          this.resume(conn);
        }
      }
      rr.release();
    }
  }
}
