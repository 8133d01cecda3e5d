/**
 * The replica side of replication (Redis 7.0's replication.c, replica half): REPLICAOF / SLAVEOF
 * and the `replicaof` setting, the link to the master (handshake, full sync into the shards,
 * partial resync), the command stream applied through the acceptor as a client whose replies are
 * dropped, offsets acknowledged every second and on REPLCONF GETACK, reconnection after a lost link,
 * the refusals a replica answers (READONLY, MASTERDOWN, LOADING), and INFO / ROLE's replica part.
 */
import net from 'node:net';
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { CMD } from '../commands/ids.generated.js';
import { F_LOADING, F_STALE, F_WRITE, unknownCommandError } from '../commands/table.js';
import type { Acceptor, LocalHandler } from '../io/acceptor.js';
import type { Connection } from '../io/connection.js';
import type { Logger } from '../log.js';
import * as F from '../wire/frames.js';
import { isKeyword, parseSafeInt } from '../wire/bytes.js';
import { E_LOADING, E_MASTERDOWN, E_READONLY_REPLICA } from '../wire/error-text.js';
import { encodeCommand } from '../wire/resp-command.js';
import type { RespWriter } from '../wire/resp-writer.js';
import { R_OK } from '../wire/resp-writer.js';
import type { ServerConfig } from './config.js';
import { loadReplicaRdb } from './data-load.js';
import { LineReader, handshake } from './repl-handshake.js';
import { RdbHeaderError, RdbReceiver } from './repl-rdb-receive.js';
import type { Replication, UpstreamSide } from './replication.js';

/** Link states, named as ROLE shows them (Redis's repl_state). */
const enum Link {
  /** Waiting to connect (the cron retries every second). */
  Connect,
  /** The TCP connection is being made. */
  Connecting,
  /** PING … PSYNC. */
  Handshake,
  /** Receiving or loading the RDB. */
  Sync,
  /** Applying the stream. */
  Connected,
}
const LINK_NAMES = ['connect', 'connecting', 'handshake', 'sync', 'connected'];

/** acceptor.replicaGate bits. */
const GATE_LOADING = 1;
const GATE_READ_ONLY = 2;
const GATE_STALE = 4;

const E_INVALID_MASTER_PORT = 'ERR Invalid master port';
const R_ALREADY = Buffer.from('+OK Already connected to specified master\r\n');

/** One attempt to reach the master: its socket and what arrived on it. */
interface Attempt {
  socket: net.Socket;
  lines: LineReader;
  /** Set while the RDB arrives. */
  rdb: RdbReceiver | null;
  tmpPath: string;
  tmpFd: number;
  /** Bytes that came while the RDB loaded: the start of the stream. */
  early: Buffer[];
  /** The master client, once the stream runs. */
  conn: Connection | null;
  /** The RDB came in the EOF-marker form (diskless): the master waits for a first ACK. */
  diskless: boolean;
}

/** The replica side: installed once, active while the server has a master. */
export class ReplicaSide implements UpstreamSide {
  host = '';
  port = 0;
  private link = Link.Connect;
  private attempt: Attempt | null = null;
  /** Bumped for each attempt: callbacks of an abandoned one see a different value and stop. */
  private generation = 0;
  /**
   * The data set continues a known history (state.replid up to state.offset), so PSYNC may ask to
   * continue it (Redis's cached master); false when no history is known (PSYNC ? -1).
   */
  private cached = true;
  /** The database the master's stream had selected when the link was lost (continued on +CONTINUE). */
  private streamDb = 0;
  /** Last time bytes came from the master (ms). */
  private lastIo = 0;
  /** When the link went down (ms); 0: never up since this replica started (INFO shows -1). */
  private downSince = 0;
  /** Stream bytes received on this link, and how many of them ran (were parsed and dispatched). */
  private received = 0;
  private applied = 0;
  /** The received stream bytes not yet counted as applied (fed to the backlog once they are). */
  private pending: Buffer[] = [];
  private pendingPos = 0;
  /** Where the master client's open transaction (MULTI) starts in the received bytes: only its EXEC counts it as applied. */
  private multiAt = 0;
  /** Loading the master's RDB into the shards (clients get LOADING). */
  private loading = false;
  private readonly cron: NodeJS.Timeout;

  constructor(
    private readonly a: Acceptor,
    private readonly repl: Replication,
    private readonly config: ServerConfig,
    private readonly log: Logger,
  ) {
    a.replicaRefuses = (conn, _id, flags) => this.refuses(conn, flags);
    for (const name of ['replica-read-only', 'replica-serve-stale-data', 'replica-ignore-maxmemory'])
      config.onChange(name, () => this.refresh());
    this.cron = setInterval(() => this.tick(), 1000);
    this.cron.unref();
  }

  /** True while this server replicates a master. */
  get active(): boolean {
    return this.host !== '';
  }

  /**
   * Starts replicating the master named by the `replicaof` setting (at start-up, once the data set is
   * loaded). `aux`: the loaded RDB's aux fields; when they name the history the data belongs to
   * (repl-id, repl-offset, as a replica saves them), PSYNC continues it, else it asks `? -1`.
   */
  startFromConfig(aux: ReadonlyMap<string, string>): void {
    const v = this.config.get('replicaof');
    if (v === '') return;
    const [host, port] = v.split(' ');
    this.setMaster(host!, Number(port), this.resumeHistory(aux));
  }

  /**
   * Takes the history the loaded RDB's aux fields name (repl-id, repl-offset, repl-stream-db, as a replica saves
   * them) as this data set's, so the next PSYNC asks to continue it; true when they name one. A cluster replica,
   * whose master comes from nodes.conf rather than replicaof, takes it up at start-up too.
   */
  resumeHistory(aux: ReadonlyMap<string, string>): boolean {
    const id = aux.get('repl-id') ?? '';
    const offset = Number(aux.get('repl-offset') ?? 'x');
    if (!/^[0-9a-f]{40}$/.test(id) || !Number.isSafeInteger(offset) || offset < 0) return false;
    const s = this.repl.state;
    s.replid = id;
    s.offset = offset;
    this.streamDb = streamDbOf(aux);
    this.log.info(`Continuing replication history ${id}:${offset} saved in the RDB`);
    return true;
  }

  /** True while the master's stream runs (ROLE's "connected"). */
  linkUp(): boolean {
    return this.link === Link.Connected;
  }

  /** The offset of the stream applied so far (Redis's replicationGetSlaveOffset; cluster headers carry it). */
  offset(): number {
    this.account();
    return this.repl.state.offset;
  }

  /** ms since the master last sent data while the link is up, or since the link went down; Infinity when it never came up. */
  dataAge(now = Date.now()): number {
    if (this.link === Link.Connected) return now - this.lastIo;
    return this.downSince === 0 ? Number.POSITIVE_INFINITY : now - this.downSince;
  }

  /** What a snapshot records about the history (aux repl-stream-db, repl-id, repl-offset): set while this server is a replica that holds one. */
  saveInfo(): { streamDb: number; id: string; offset: number } | null {
    if (!this.active || !this.cached) return null;
    this.account();
    const conn = this.attempt?.conn;
    return { streamDb: conn == null ? this.streamDb : conn.db, id: this.repl.state.replid, offset: this.repl.state.offset };
  }

  /**
   * REPLICAOF host port: drops any current link and connects in the background. A master that
   * becomes a replica offers its own history (`ownHistory`, Redis's replicationCacheMasterUsingMyself),
   * so a promoted peer it fed continues it partially.
   */
  setMaster(host: string, port: number, ownHistory = true): void {
    if (!this.active) this.cached = ownHistory;
    this.dropLink();
    this.host = host;
    this.port = port;
    this.config.override('replicaof', `${host} ${port}`);
    this.repl.upstream = this;
    this.link = Link.Connect;
    this.refresh();
    this.log.info(`Connecting to MASTER ${host}:${port}`);
    // A load still running (the previous master's RDB) finishes first; the cron connects after it.
    if (!this.loading) this.connect();
  }

  /** REPLICAOF NO ONE: keeps the data, starts a new history (the old one continuable as replid2). */
  unsetMaster(): void {
    if (!this.active) return;
    this.dropLink();
    this.host = '';
    this.port = 0;
    this.config.override('replicaof', '');
    this.repl.state.shiftReplId();
    this.repl.upstream = null;
    this.cached = true;
    this.streamDb = 0;
    this.downSince = 0;
    this.refresh();
    this.log.info('MASTER MODE enabled');
  }

  // ---- refusals and the shards' replica mode ----

  /** The acceptor's gate for clients of a replica, in Redis's order: READONLY, MASTERDOWN, LOADING. */
  private refuses(conn: Connection, flags: number): string | null {
    if (conn.master) return null;
    const g = this.a.replicaGate;
    if ((g & GATE_READ_ONLY) !== 0 && (flags & F_WRITE) !== 0) return E_READONLY_REPLICA;
    if ((g & GATE_STALE) !== 0 && (flags & F_STALE) === 0) return E_MASTERDOWN;
    if ((g & GATE_LOADING) !== 0 && (flags & F_LOADING) === 0) return E_LOADING;
    return null;
  }

  /** Recomputes the acceptor's gate and the shards' replica word from the role, the link and the settings. */
  private refresh(): void {
    let gate = 0;
    let word = 0;
    if (this.active) {
      const ro = this.config.get('replica-read-only') === 'yes';
      if (this.loading) gate |= GATE_LOADING;
      if (ro) gate |= GATE_READ_ONLY;
      if (this.link !== Link.Connected && this.config.get('replica-serve-stale-data') === 'no') gate |= GATE_STALE;
      word =
        F.REPLICA_ON | (ro ? F.REPLICA_READ_ONLY : 0) | (this.config.get('replica-ignore-maxmemory') === 'yes' ? F.REPLICA_NO_EVICT : 0);
    }
    this.a.replicaGate = gate;
    for (const link of this.a.shards) link.stats[F.CT_REPLICA] = word;
  }

  // ---- the link ----

  private connect(): void {
    const gen = ++this.generation;
    this.link = Link.Connecting;
    this.lastIo = Date.now();
    const socket = net.connect({ host: this.host, port: this.port, noDelay: true });
    socket.unref();
    const at: Attempt = { socket, lines: new LineReader(), rdb: null, tmpPath: '', tmpFd: -1, early: [], conn: null, diskless: false };
    this.attempt = at;
    socket.on('error', (err) => {
      if (gen === this.generation) this.log.warn(`Error condition on socket for SYNC: ${err.message}`);
    });
    socket.on('close', () => {
      if (gen !== this.generation) return;
      if (this.link === Link.Connected) this.log.info('Connection with master lost.');
      this.dropLink();
    });
    socket.on('data', (d: Buffer) => {
      if (gen === this.generation) this.onData(at, d);
    });
    socket.once('connect', () => {
      if (gen !== this.generation) return;
      this.log.info('MASTER <-> REPLICA sync started');
      this.link = Link.Handshake;
      void this.runHandshake(at, gen);
    });
  }

  private async runHandshake(at: Attempt, gen: number): Promise<void> {
    const s = this.repl.state;
    try {
      const announced = this.config.num('replica-announce-port');
      const reply = await handshake((b) => at.socket.write(b), at.lines, {
        masteruser: this.config.get('masteruser'),
        masterauth: this.config.get('masterauth'),
        port: announced !== 0 ? announced : this.a.port,
        ip: this.config.get('replica-announce-ip'),
        psync: this.cached ? { replid: s.replid, offset: s.offset + 1 } : null,
      });
      if (gen !== this.generation) return;
      if (reply.kind === 'retry') {
        this.log.info(`Master is currently unable to PSYNC but should be in the future: ${reply.line}`);
        this.dropLink();
        return;
      }
      if (reply.kind === 'continue') {
        this.log.info('Successful partial resynchronization with master.');
        if (reply.replid !== null && reply.replid !== s.replid) {
          // The master was promoted: our history goes on under its new id (Redis's PSYNC2 switch).
          s.replid2 = s.replid;
          s.secondOffset = s.offset + 1;
          s.replid = reply.replid;
          this.log.info(`Master replication ID changed to ${reply.replid}`);
          this.repl.historyChanged();
        }
        s.ensureBacklog(this.config.num('repl-backlog-size'));
        this.startStream(at, this.streamDb, at.lines.rest());
        return;
      }
      this.log.info(`Full resync from master: ${reply.replid}:${reply.offset}`);
      this.beginTransfer(at, reply.replid, reply.offset);
    } catch (err) {
      if (gen !== this.generation) return;
      this.log.warn((err as Error).message);
      this.dropLink();
    }
  }

  /** +FULLRESYNC: the RDB arrives next, into a temp file in `dir`. */
  private beginTransfer(at: Attempt, replid: string, offset: number): void {
    this.link = Link.Sync;
    this.cached = false;
    at.tmpPath = join(this.config.get('dir'), `temp-${Math.floor(Date.now() / 1000)}.${process.pid}.rdb`);
    try {
      at.tmpFd = openSync(at.tmpPath, 'w');
    } catch (err) {
      this.log.warn(`Opening the temp file needed for MASTER <-> REPLICA synchronization: ${(err as Error).message}`);
      this.dropLink();
      return;
    }
    const fd = at.tmpFd;
    at.rdb = new RdbReceiver((chunk) => {
      let off = 0;
      while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
    });
    this.fullSync = { replid, offset };
    const rest = at.lines.rest();
    if (rest.length > 0) this.onData(at, rest);
  }

  /** The history a full sync adopts once its RDB is loaded. */
  private fullSync: { replid: string; offset: number } | null = null;

  private onData(at: Attempt, d: Buffer): void {
    this.lastIo = Date.now();
    if (at.conn !== null) return this.feed(at, d);
    if (at.rdb === null) return at.lines.push(d);
    if (at.rdb.done) {
      at.early.push(d);
      return;
    }
    let end: number;
    try {
      end = at.rdb.push(d);
    } catch (err) {
      // A refusal from the master, or the temp file could not take the bytes (disk full).
      this.log.warn(err instanceof RdbHeaderError ? err.message : `Failed writing the RDB from the master: ${(err as Error).message}`);
      this.dropLink();
      return;
    }
    if (end === -1) return;
    if (end < d.length) at.early.push(d.subarray(end));
    // The stream waits in the socket (and the master's buffers) while the RDB loads, as Redis's blocking load does.
    at.socket.pause();
    this.log.info(`MASTER <-> REPLICA sync: receiving ${at.rdb.read} bytes from master to disk`);
    void this.loadTransfer(at, this.generation);
  }

  /** The RDB is in: empty the data set, load it, take the master's history, and start the stream. */
  private async loadTransfer(at: Attempt, gen: number): Promise<void> {
    at.diskless = at.rdb!.size === 0;
    const path = join(this.config.get('dir'), this.config.get('dbfilename'));
    let streamDb = 0;
    this.loading = true;
    this.refresh();
    try {
      closeSync(at.tmpFd);
      at.tmpFd = -1;
      renameSync(at.tmpPath, path);
      at.tmpPath = '';
      this.repl.historyChanged();
      this.log.info('MASTER <-> REPLICA sync: Flushing old data');
      await this.a.coordinator.callAll(0, CMD.FLUSHALL, [Buffer.from('FLUSHALL')]);
      // The master's libraries replace this replica's, as Redis empties its functions for a full sync.
      await this.a.coordinator.callAll(0, CMD.FUNCTION_FLUSH, [Buffer.from('FUNCTION'), Buffer.from('FLUSH')]);
      this.log.info('MASTER <-> REPLICA sync: Loading DB in memory');
      const { keys, aux } = await loadReplicaRdb(this.a, path);
      // A replica of a replica learns which database its master's stream has selected from the RDB (Redis's rsi.repl_stream_db).
      streamDb = streamDbOf(aux);
      this.log.info(`MASTER <-> REPLICA sync: Finished with success (${keys} keys)`);
    } catch (err) {
      this.loading = false;
      if (gen === this.generation) {
        this.log.warn(`Failed trying to load the MASTER synchronization DB from disk: ${(err as Error).message}`);
        this.dropLink();
      }
      this.refresh();
      return;
    }
    this.loading = false;
    if (gen !== this.generation) {
      this.refresh();
      return;
    }
    const s = this.repl.state;
    s.adopt(this.fullSync!.replid, this.fullSync!.offset);
    s.ensureBacklog(this.config.num('repl-backlog-size'));
    this.fullSync = null;
    const early = Buffer.concat(at.early);
    at.early = [];
    this.startStream(at, streamDb, early);
    // A diskless master sends the stream only once it has our first ACK.
    if (at.diskless) this.sendAck();
  }

  /** The stream starts: the master becomes a client of the acceptor, fed from `first` on. */
  private startStream(at: Attempt, db: number, first: Buffer): void {
    const conn = this.a.attachLink(at.socket);
    conn.db = db;
    at.conn = conn;
    at.socket.resume();
    this.received = 0;
    this.applied = 0;
    this.pending = [];
    this.pendingPos = 0;
    this.multiAt = 0;
    this.cached = true;
    this.link = Link.Connected;
    this.downSince = 0;
    this.refresh();
    this.log.info('MASTER <-> REPLICA sync: Master accepted a Partial Resynchronization or finished a full sync; streaming.');
    if (first.length > 0) this.feed(at, first);
  }

  /** Stream bytes: parsed and run as the master client's commands; the offset moves by what ran. */
  private feed(at: Attempt, d: Buffer): void {
    // A killed master client reads nothing more: its bytes must not count as applied.
    if (at.conn!.closed || at.conn!.closeAfterReplies) return;
    this.received += d.length;
    this.pending.push(d);
    this.a.linkInput(at.conn!, d);
    this.account();
  }

  /**
   * The master client's MULTI (`cmd`, parsed from input that ends at the last byte received) opens
   * a transaction: its bytes count as applied once EXEC ran it, so a link lost before then (which
   * drops the queued commands) continues from the MULTI, as Redis's reploff stays put in MULTI.
   */
  multiStarted(cmd: Parameters<LocalHandler>[2]): void {
    this.multiAt = this.received - (cmd.buf.length - cmd.start);
  }

  /**
   * Moves the offset (and this replica's backlog) over the stream bytes whose commands were parsed
   * and dispatched: everything received but what the master client still holds unparsed, and but
   * an open transaction.
   */
  private account(): void {
    const conn = this.attempt?.conn;
    if (conn == null) return;
    if (conn.closeAfterReplies) {
      // The master sent bytes that do not parse: which of them ran is unknown, so only a full sync is safe.
      this.cached = false;
      return;
    }
    const parsed = this.received - conn.inBytes;
    const applied = conn.multi === null ? parsed : Math.min(parsed, this.multiAt);
    let delta = applied - this.applied;
    if (delta <= 0) return;
    this.applied = applied;
    const s = this.repl.state;
    while (delta > 0) {
      const b = this.pending[0]!;
      const n = Math.min(delta, b.length - this.pendingPos);
      s.feed(b, this.pendingPos, n);
      this.repl.relay(b.subarray(this.pendingPos, this.pendingPos + n));
      delta -= n;
      this.pendingPos += n;
      if (this.pendingPos === b.length) {
        this.pending.shift();
        this.pendingPos = 0;
      }
    }
  }

  /** REPLCONF ACK <offset> to the master. */
  private sendAck(): void {
    const at = this.attempt;
    if (at === null || at.conn === null || at.socket.destroyed) return;
    this.account();
    at.socket.write(encodeCommand(['REPLCONF', 'ACK', String(this.repl.state.offset)]));
  }

  /** REPLCONF GETACK from the master: answered once the commands parsed with it have run through. */
  ackSoon(): void {
    queueMicrotask(() => this.sendAck());
  }

  /** Ends the current attempt (or link) and goes back to waiting to connect; the cron retries. */
  private dropLink(): void {
    const at = this.attempt;
    this.generation++;
    if (at !== null) {
      // Counted while account() still finds the link: commands parsed since the last count (input
      // held while the master client was throttled or stalled) ran, and PSYNC must not ask for them again.
      this.account();
      this.attempt = null;
      at.lines.fail(new Error('link closed'));
      if (at.conn !== null) {
        this.streamDb = at.conn.db;
        this.a.detachLink(at.conn);
      }
      at.socket.destroy();
      if (at.tmpFd !== -1) closeSync(at.tmpFd);
      if (at.tmpPath !== '') rmSync(at.tmpPath, { force: true });
    }
    if (this.link === Link.Connected) this.downSince = Date.now();
    this.link = Link.Connect;
    this.fullSync = null;
    this.refresh();
  }

  /** Every second: connect when due, time out a silent master, acknowledge the offset. */
  private tick(): void {
    if (!this.active) return;
    const timeoutMs = this.config.num('repl-timeout') * 1000;
    const now = Date.now();
    if (this.link === Link.Connect) {
      if (!this.loading) this.connect();
      return;
    }
    if (now - this.lastIo > timeoutMs && !this.loading) {
      this.log.warn(this.link === Link.Connected ? 'MASTER timeout: no data nor PING received...' : 'Timeout connecting to the MASTER...');
      this.dropLink();
      return;
    }
    if (this.link === Link.Connected) this.sendAck();
  }

  // ---- INFO and ROLE ----

  /** INFO replication from master_host to replica_announced, as Redis 7.0 prints them. */
  infoLines(): string[] {
    const now = Date.now();
    const at = this.attempt;
    const streaming = at !== null && at.conn !== null;
    const s = this.repl.state;
    this.account();
    const applied = streaming || this.cached ? s.offset : 1;
    const read = streaming ? s.offset + (this.received - this.applied) : applied;
    const lines = [
      `master_host:${this.host}`,
      `master_port:${this.port}`,
      `master_link_status:${this.link === Link.Connected ? 'up' : 'down'}`,
      `master_last_io_seconds_ago:${streaming ? secondsBetween(this.lastIo, now) : -1}`,
      `master_sync_in_progress:${this.link === Link.Sync ? 1 : 0}`,
      `slave_read_repl_offset:${read}`,
      `slave_repl_offset:${applied}`,
    ];
    if (this.link === Link.Sync && at !== null) {
      const size = at.rdb?.size ?? -1;
      const got = at.rdb?.read ?? 0;
      const perc = size !== 0 ? (got / size) * 100 : 0;
      lines.push(
        `master_sync_total_bytes:${size}`,
        `master_sync_read_bytes:${got}`,
        `master_sync_left_bytes:${size - got}`,
        `master_sync_perc:${perc.toFixed(2)}`,
        `master_sync_last_io_seconds_ago:${secondsBetween(this.lastIo, now)}`,
      );
    }
    if (this.link !== Link.Connected)
      lines.push(`master_link_down_since_seconds:${this.downSince === 0 ? -1 : secondsBetween(this.downSince, now)}`);
    lines.push(
      `slave_priority:${this.config.num('replica-priority')}`,
      `slave_read_only:${this.config.get('replica-read-only') === 'yes' ? 1 : 0}`,
      `replica_announced:${this.config.get('replica-announced') === 'yes' ? 1 : 0}`,
    );
    return lines;
  }

  /** ROLE: slave, host, port, link state, offset (-1 while there is no master client). */
  writeRole(w: RespWriter): void {
    const streaming = this.attempt !== null && this.attempt.conn !== null;
    this.account();
    w.arrayHeader(5);
    w.bulkString('slave');
    w.bulkString(this.host);
    w.int(this.port);
    w.bulkString(LINK_NAMES[this.link]!);
    w.int(streaming ? this.repl.state.offset : -1);
  }
}

/** The database an RDB's aux repl-stream-db says the master's stream has selected (0 when it names none). */
function streamDbOf(aux: ReadonlyMap<string, string>): number {
  return Number(aux.get('repl-stream-db') ?? '0') || 0;
}

/** Whole seconds from `from` to `to` (ms) as Redis counts them: the difference of two Unix-second clocks. */
function secondsBetween(from: number, to: number): number {
  return Math.floor(to / 1000) - Math.floor(from / 1000);
}

/** Argument `i` of a command as text. */
function text(cmd: Parameters<LocalHandler>[2], i: number): string {
  return Buffer.from(cmd.buf.subarray(cmd.argStart[i]!, cmd.argStart[i]! + cmd.argLen[i]!)).toString('latin1');
}

/** Installs the replica side: REPLICAOF / SLAVEOF, REPLCONF GETACK from a master; call `started` once the server listens. */
export function installReplicaSide(a: Acceptor, repl: Replication, config: ServerConfig, log: Logger): ReplicaSide {
  const side = new ReplicaSide(a, repl, config, log);
  const replicaof: LocalHandler = (conn, seq, cmd) => {
    if (isKeyword(cmd.buf, cmd.argStart[1]!, cmd.argLen[1]!, 'NO') && isKeyword(cmd.buf, cmd.argStart[2]!, cmd.argLen[2]!, 'ONE')) {
      side.unsetMaster();
      return a.replyConst(conn, seq, R_OK);
    }
    if (conn.replica) return a.replyError(conn, seq, 'ERR Command is not valid when client is a replica.');
    const port = parseSafeInt(cmd.buf, cmd.argStart[2]!, cmd.argLen[2]!);
    if (port === null || port < 0 || port > 65535) return a.replyError(conn, seq, E_INVALID_MASTER_PORT);
    const host = text(cmd, 1);
    if (side.active && side.host.toLowerCase() === host.toLowerCase() && side.port === port) {
      log.info('REPLICAOF would result into synchronization with the master we are already connected with. No operation performed.');
      return a.replyConst(conn, seq, R_ALREADY);
    }
    side.setMaster(host, port);
    a.replyConst(conn, seq, R_OK);
  };
  a.local[CMD.REPLICAOF] = replicaof;
  a.local[CMD.SLAVEOF] = replicaof;
  return side;
}

/**
 * Lets the master client's REPLCONF GETACK and MULTI reach the replica side, in front of whatever
 * handles REPLCONF for this server's own replicas (installed later by the master side, so wrapped at
 * start) and MULTI for every client.
 */
export function wrapReplconf(a: Acceptor, side: ReplicaSide): void {
  const multi = a.local[CMD.MULTI]!;
  a.local[CMD.MULTI] = (conn, seq, cmd) => {
    if (conn.master && conn.multi === null) side.multiStarted(cmd);
    multi(conn, seq, cmd);
  };
  const next = a.local[CMD.REPLCONF];
  a.local[CMD.REPLCONF] = (conn, seq, cmd) => {
    if (conn.master) {
      if (cmd.argc >= 2 && isKeyword(cmd.buf, cmd.argStart[1]!, cmd.argLen[1]!, 'GETACK')) side.ackSoon();
      return a.replyConst(conn, seq, R_OK);
    }
    if (next !== undefined) return next(conn, seq, cmd);
    a.replyErrorLatin1(conn, seq, unknownCommandError(cmd.buf, cmd.argStart, cmd.argLen, cmd.argc));
  };
}
