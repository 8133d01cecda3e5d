/**
 * One client connection on the acceptor: protocol state, input accumulation, and reply
 * ordering. Every command gets a sequence number; replies (from shards in any order, or
 * answered locally) are written strictly in sequence, so pipelining keeps its order.
 */
import type { Socket } from 'node:net';
import type { ParsedCommand } from '../wire/resp-parser.js';
import { RespWriter } from '../wire/resp-writer.js';
import type { ErrorStats } from './error-stats.js';

/** A reply that arrived before its predecessors, or a multi-part reply being assembled. */
export interface PendingPart {
  /** Adds one shard's part; returns true when the whole reply is complete. */
  add(shard: number, buf: Uint8Array, start: number, len: number): boolean;
  /** Writes the combined reply. */
  finish(out: RespWriter): void;
}

/** One command queued by MULTI: its arguments copied into one buffer. */
export interface Queued {
  id: number;
  buf: Buffer;
  argc: number;
  starts: Int32Array;
  lens: Int32Array;
}

/** A transaction being queued (the server's transactions module drives it). */
export interface MultiState {
  cmds: Queued[];
  /** A command was rejected while queueing: EXEC answers EXECABORT. */
  failed: boolean;
  /** A queued command needs the held path (read-then-write across shards). */
  needsHold: boolean;
}

/**
 * Redis's test for a local client (protected mode, enable-*-command local): the peer is exactly
 * 127.0.0.1 or ::1, so 127.0.0.2 is not local. An IPv4 client of a dual-stack `::` listener shows
 * as ::ffff:127.0.0.1, which Redis (IPv6 sockets bound v6-only) would see as 127.0.0.1.
 */
export function isLoopbackAddress(ip: string | undefined): boolean {
  return ip === '127.0.0.1' || ip === '::1' || ip === '::ffff:127.0.0.1';
}

/** The ACL user a connection acts as; the server's access control owns it, io/ reads only its name. */
export interface ConnectionUser {
  readonly name: string;
}

/** Who a connection is before the server's access control says otherwise. */
const NO_ACL_USER: ConnectionUser = { name: 'default' };

/** A MONITOR line waiting for its command (`seq` of `conn`) to run. */
export interface MonitorEntry {
  conn: Connection;
  seq: number;
  line: string;
  ran: boolean;
}

/** A new connection's in-flight cap, until its first replies tell their size: reply-flusher.ts's lowest. */
const START_IN_FLIGHT = 32;

/** ClientTracking.flags bits. */
export const TRACK_BCAST = 1;
export const TRACK_OPTIN = 2;
export const TRACK_OPTOUT = 4;
export const TRACK_NOLOOP = 8;
/** The redirect client was gone when an invalidation was due (CLIENT TRACKINGINFO's broken_redirect). */
export const TRACK_BROKEN_REDIRECT = 16;

/** CLIENT TRACKING of a connection (the server's tracking module keeps it; null while tracking is off). */
export interface ClientTracking {
  /** TRACK_* option bits. */
  flags: number;
  /** REDIRECT's client id (0: none). */
  redirect: number;
  /** BCAST prefixes (latin1). */
  prefixes: Set<string>;
  /** CLIENT CACHING was given by this connection (the client or its transaction) for its command `cachingSeq + 1`. */
  cachingBy: Connection | null;
  cachingSeq: number;
}

/** Connection mode bits of Connection.state. */
export const ST_MULTI = 1;
export const ST_SUBSCRIBED = 2;

/** CLIENT REPLY modes (Connection.replyMode). */
export const REPLY_ON = 0;
export const REPLY_OFF = 1;
export const REPLY_SKIP = 2;

/** The client-visible state of a connection. */
export class Connection {
  /** Cluster mode: ASKING came just before (the next command may use an importing slot). */
  asking = false;
  /** Cluster mode: READONLY (reads from a replica's master slots). */
  readOnly = false;
  /** Cluster mode: a slot check that needed the shards (keys of a slot being moved) runs for command `clusterSeq`. */
  clusterSeq = -1;
  clusterPending = false;
  /** Its outcome: null to run here, else the redirection error. */
  clusterVerdict: string | null | undefined = undefined;
  readonly id: number;
  readonly socket: Socket;
  readonly addr: string;
  readonly laddr: string;
  readonly createdAt = Date.now();
  lastActive = Date.now();
  /** Id of the last command it ran (CLIENT LIST's cmd=), -1 before any: an id, not its name, so the hot path stores a small integer. */
  lastCommand = -1;
  db = 0;
  proto: 2 | 3 = 2;
  authenticated: boolean;
  /** The ACL user (set by the server's access control). */
  user: ConnectionUser = NO_ACL_USER;
  /** The user may not run everything: the acceptor asks the access control about each command (false: no check at all). */
  restricted = false;
  name = '';
  libName = '';
  libVer = '';

  /** Sequence number of the next command parsed. */
  nextSeq = 0;
  /** Sequence number of the next reply to write. */
  nextWrite = 0;
  /** Pushes waiting for pending replies, by the sequence number they must precede. */
  deferred: Map<number, Uint8Array[]> | null = null;
  /** Replies that arrived early, and multi-shard replies in progress, by sequence number. */
  readonly early = new Map<number, Uint8Array>();
  readonly gathers = new Map<number, PendingPart>();
  /** Replies ready to write this tick. */
  readonly out = new RespWriter(1024);
  /** Queued on the acceptor's flush list this tick. */
  dirty = false;
  /** Bytes of a direct write libuv still holds (the socket was full); the socket's writableLength does not count them. */
  directPending = 0;
  /** What the flusher calls when libuv is done with a pending direct write (made once per connection). */
  directDone: (() => void) | null = null;
  /** Where error replies delivered to this client are counted (INFO errorstats); null: not counted. */
  errors: ErrorStats | null = null;
  /** Sequence number of the last reply that was an error (-1: none): the acceptor's failed_calls test. */
  errorSeq = -1;

  /**
   * Unparsed input (a command cut by a read, or input that came while stalled): bytes
   * [inPos, inEnd) of inBuf, which has room to grow; null when there is none.
   */
  inBuf: Buffer | null = null;
  inPos = 0;
  inEnd = 0;
  /** Bytes from inPos the cut command needs before parsing on helps (0: unknown). */
  inNeed = 0;
  /** The cut command's parse state (spans into inBuf), made the first time a read cuts a command. */
  partial: ParsedCommand | null = null;
  /** Parsing stopped (cross-shard operation in flight or shard held); input waits in inBuf. */
  stalled = false;
  /** Close once every pending reply is written (QUIT, protocol error, CLIENT KILL). */
  closeAfterReplies = false;
  closed = false;
  /** Reading paused because the client does not read its replies. */
  readPaused = false;
  /**
   * Parsing stopped (`stalled` is set too) because maxInFlight commands await their replies: replies
   * already dispatched keep coming after reading pauses, so this bounds what a non-reading client holds.
   */
  throttled = false;
  /** The in-flight cap (reply-flusher.ts sets it from the size of the replies flushed). */
  maxInFlight = START_IN_FLIGHT;
  /** nextWrite at the last flush that wrote output. */
  flushedReplies = 0;
  /** Sequence number of a blocking command (BLPOP…) still waiting in a shard, or -1. */
  blockedSeq = -1;
  /** Command id of the last blocking command (valid while blockedSeq is set). */
  blockedCmd = 0;
  /** Commands sent for this connection must not block (a transaction's collector). */
  noBlock = false;
  /** Called once when the socket closes (wakes a cross-shard blocking wait); set only while such a wait runs. */
  onClosed: (() => void) | null = null;
  /** CLIENT UNBLOCK's reply for a cross-shard blocking wait it ends. */
  unblockReply: Uint8Array | null = null;

  /** Non-zero when a connection mode needs the acceptor's gate (ST_* bits); the hot path tests only this. */
  state = 0;
  /** CLIENT TRACKING on: its options; null when off. */
  tracking: ClientTracking | null = null;
  /** Commands queued since MULTI. */
  multi: MultiState | null = null;
  /** Shards holding WATCHed keys of this connection. */
  readonly watchShards = new Set<number>();
  /** Subscriptions: channels, patterns, shard channels (latin1 names). */
  readonly subs = new Set<string>();
  readonly psubs = new Set<string>();
  readonly ssubs = new Set<string>();
  /**
   * Pub/sub messages of this tick kept as a span of a log shared by all subscribers
   * (written before `out` at flush, without copying); null when none.
   */
  share: RespWriter | null = null;
  shareStart = 0;
  shareEnd = 0;
  /** Since when pending output has exceeded its class's soft limit (0: not over it). */
  softLimitSince = 0;
  /**
   * MONITOR lines waiting for commands in the shards, in the client's order: each is shown once its
   * command and every earlier one ran; null when none waits. A transaction's collector shares its
   * owner's queue.
   */
  monitored: MonitorEntry[] | null = null;
  /** A replica's link (it ran PSYNC or SYNC): CLIENT LIST flag S and type replica; it gets only the replication stream. */
  replica = false;
  /** The link to this replica's master (CLIENT LIST flag M): its writes pass a read-only replica. */
  master = false;
  /** MONITOR is on (CLIENT LIST flag O); CLIENT NO-EVICT (flag e). */
  monitor = false;
  noEvict = false;
  /** CLIENT REPLY: REPLY_ON, REPLY_OFF, or REPLY_SKIP (the next command's reply is dropped). */
  replyMode = REPLY_ON;
  /** Sequence numbers whose replies are dropped (CLIENT REPLY OFF/SKIP); null when none is. */
  silenced: Set<number> | null = null;

  constructor(id: number, socket: Socket, authenticated: boolean) {
    this.id = id;
    this.socket = socket;
    this.authenticated = authenticated;
    this.addr = `${socket.remoteAddress}:${socket.remotePort}`;
    this.laddr = `${socket.localAddress}:${socket.localPort}`;
    this.out.proto = 2;
  }

  /**
   * Bytes of the input being parsed right now, from the first command of its read on (0 when none):
   * Redis keeps a read's commands in the query buffer until it has run them all.
   */
  parsingBytes = 0;

  /** CLIENT LIST's qbuf: the query buffer as Redis's would hold it, the read being run or else unparsed input held. */
  get inBytes(): number {
    if (this.parsingBytes > 0) return this.parsingBytes;
    return this.inBuf === null ? 0 : this.inEnd - this.inPos;
  }

  /** True when every command parsed so far has been answered. */
  get idle(): boolean {
    return this.nextWrite === this.nextSeq;
  }

  /**
   * Delivers the reply for `seq`: written now if it is next in line, otherwise kept until
   * its predecessors arrive. Returns true if output was added.
   */
  deliver(seq: number, buf: Uint8Array, start: number, len: number): boolean {
    if (buf[start] === 45) this.countError(seq, buf, start, len);
    if (this.silenced?.delete(seq)) len = 0;
    if (seq !== this.nextWrite) {
      this.early.set(seq, buf.slice(start, start + len));
      return false;
    }
    this.out.raw(buf, start, len);
    this.nextWrite++;
    if (this.deferred !== null) this.writeDeferred();
    if (this.early.size !== 0) this.drainEarly();
    return true;
  }

  /**
   * Queues `count` replies to commands seq onwards, bytes [start, start+len) of `buf` (a shard's KIND_RUN frame),
   * when they are the next ones due and nothing about them needs a look one by one (no error among them, none
   * silenced, no push waiting behind one, no blocked command among them). False, with nothing done, otherwise.
   */
  deliverRun(seq: number, count: number, buf: Uint8Array, start: number, len: number): boolean {
    if (seq !== this.nextWrite || this.deferred !== null || this.early.size !== 0 || this.blockedSeq !== -1) return false;
    if (this.silenced !== null && this.silenced.size !== 0) return false;
    this.out.raw(buf, start, len);
    this.nextWrite += count;
    return true;
  }

  /** Drops the reply of command `seq` (CLIENT REPLY OFF/SKIP) when it comes. */
  silence(seq: number): void {
    (this.silenced ??= new Set()).add(seq);
  }

  /** Notes an error reply to `seq` (a failed call) and counts it for INFO errorstats. */
  countError(seq: number, buf: Uint8Array, start: number, len: number): void {
    this.errorSeq = seq;
    this.errors?.count(buf, start, len);
  }

  /** Writes replies that were waiting for the one just delivered. */
  private drainEarly(): void {
    let next = this.early.get(this.nextWrite);
    while (next !== undefined) {
      this.early.delete(this.nextWrite);
      this.out.raw(next, 0, next.length);
      this.nextWrite++;
      if (this.deferred !== null) this.writeDeferred();
      next = this.early.get(this.nextWrite);
    }
  }

  /** Queues a push (pub/sub message) behind every reply still pending (callers check `!idle`). */
  deferPush(bytes: Uint8Array): void {
    this.deferred ??= new Map();
    const list = this.deferred.get(this.nextSeq);
    if (list === undefined) this.deferred.set(this.nextSeq, [bytes]);
    else list.push(bytes);
  }

  /** Writes a push right behind the reply to `seq`: now if that reply is out, else when it is. */
  pushAfter(seq: number, bytes: Uint8Array): void {
    if (seq < this.nextWrite) {
      this.out.raw(bytes, 0, bytes.length);
      return;
    }
    this.deferred ??= new Map();
    const list = this.deferred.get(seq + 1);
    if (list === undefined) this.deferred.set(seq + 1, [bytes]);
    else list.push(bytes);
  }

  private writeDeferred(): void {
    const list = this.deferred!.get(this.nextWrite);
    if (list === undefined) return;
    this.deferred!.delete(this.nextWrite);
    if (this.deferred!.size === 0) this.deferred = null;
    for (const b of list) this.out.raw(b, 0, b.length);
  }

  /** The client connects from 127.0.0.1 or ::1 (Redis's islocalClient). */
  get local(): boolean {
    return isLoopbackAddress(this.socket.remoteAddress);
  }

  /** Pending output bytes the kernel has not taken yet. */
  get pendingOutput(): number {
    return this.socket.writableLength + this.directPending + this.out.len;
  }
}
