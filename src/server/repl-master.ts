/**
 * The master side of replication (Redis 7.0's replication.c, master half): replicas attach with
 * PSYNC (or the old SYNC), continue from the backlog when their history allows it (+CONTINUE) or
 * take a full sync (+FULLRESYNC, then an RDB of one point across all shards, written to dbfilename
 * and sent as `$<len>`, or streamed to the sockets in the `$EOF:<mark>` form when the replica said
 * `capa eof` and repl-diskless-sync is on), then get the write stream (repl-stream.ts). The cron
 * pings them, drops silent ones, frees an unused backlog, and keeps the good-replica count that
 * min-replicas-to-write needs; REPLCONF ACK moves their offsets, which WAIT counts. A replica
 * serves replicas of its own the same way while its master's stream runs, passing that stream on
 * unchanged (relay) instead of producing one.
 */
import { randomBytes } from 'node:crypto';
import { open } from 'node:fs/promises';
import type { Acceptor } from '../io/acceptor.js';
import { REPLY_OFF, type Connection } from '../io/connection.js';
import { parseOutputLimits } from '../io/reply-flusher.js';
import type { Logger } from '../log.js';
import { RdbWriter, type ReplHistory } from '../persistence/index.js';
import { CMD } from '../commands/ids.generated.js';
import type { ParsedCommand } from '../wire/resp-parser.js';
import { parseI64 } from '../wire/bytes.js';
import * as F from '../wire/frames.js';
import { E_NOMASTERLINK, E_NOREPLICAS } from '../wire/error-text.js';
import { NO_REPLID, newReplId } from './repl-state.js';
import { ReplStream } from './repl-stream.js';
import type { DownstreamSide, ReplicaView, Replication } from './replication.js';
import type { Propagation } from './propagation.js';
import type { ServerPersistence, SnapshotTarget } from './persistence.js';
import type { ReplconfListener } from './standalone-commands.js';
import type { WaitAcks } from './wait.js';
import { registerInfoLines } from './info.js';

/** What a replica said in its handshake (REPLCONF) before PSYNC. */
interface Handshake {
  port: number;
  ip: string;
  /** capa eof: it reads the `$EOF:` form of a diskless RDB. */
  eof: boolean;
  /** capa psync2: +CONTINUE carries the replication id. */
  psync2: boolean;
}

/** Redis's replica states as INFO names them. */
const WAIT_BGSAVE = 0;
const SEND_BULK = 1;
const ONLINE = 2;
const STATE_NAMES = ['wait_bgsave', 'send_bulk', 'online'];

/** Pending socket output past which a full sync waits for the replicas to read. */
const DRAIN_BYTES = 4 << 20;

/** One attached replica. */
class ReplicaLink {
  state = WAIT_BGSAVE;
  ackOffset = 0;
  ackTime = Date.now();
  /** Stream chunks held back while the replica cannot take them yet (RDB in progress, or a diskless RDB not acknowledged yet); null while they flow. */
  held: Buffer[] | null = null;
  heldBytes = 0;
  /** After a diskless sync: the stream starts with the first ACK (the replica reads the RDB up to the mark, so nothing may follow it in the same read). */
  startOnAck = false;
  /** Since when its pending output passed the soft limit (0: not over it). */
  softSince = 0;
  /** The full sync it waits for (null once online, or after a partial resync). */
  job: SyncJob | null = null;

  constructor(
    readonly conn: Connection,
    readonly hs: Handshake,
    /** It came with PSYNC (false: the old SYNC, which gets no +FULLRESYNC line and sends no ACKs). */
    readonly psync: boolean,
  ) {}

  /** The address INFO and ROLE show: REPLCONF ip-address, else the peer's address. */
  get ip(): string {
    if (this.hs.ip !== '') return this.hs.ip;
    const a = this.conn.socket.remoteAddress ?? '';
    return a.startsWith('::ffff:') ? a.slice(7) : a;
  }

  /** Stream bytes queued for it (what client-output-buffer-limit replica measures). */
  get pending(): number {
    return this.held !== null ? this.heldBytes : this.conn.socket.writableLength;
  }

  write(b: Uint8Array | string): void {
    if (!this.conn.closed) this.conn.socket.write(b);
  }
}

/** Replicas sharing one snapshot. */
class SyncJob {
  readonly links: ReplicaLink[] = [];
  /** The snapshot point passed: later replicas need another job. */
  pointPassed = false;
  started = false;
  timer: NodeJS.Timeout | null = null;
  /** The diskless form's end mark. */
  readonly mark = randomBytes(20).toString('hex');

  constructor(readonly diskless: boolean) {}

  get live(): ReplicaLink[] {
    return this.links.filter((l) => !l.conn.closed);
  }
}

/**
 * A diskless sync's RDB: written to every replica socket of the job as the walk produces it (its
 * header with the first record, after the `$EOF:` line the snapshot point wrote).
 */
class SocketTarget implements SnapshotTarget {
  private readonly writer: RdbWriter;
  bytes = 0;

  constructor(
    private readonly job: SyncJob,
    compress: boolean,
  ) {
    this.writer = new RdbWriter((chunk) => this.send(chunk), { compress });
  }

  private send(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    for (const l of this.job.live) l.write(chunk);
  }

  history(repl: ReplHistory): void {
    this.writer.history(repl);
  }

  get queuedBytes(): number {
    let n = 0;
    for (const l of this.job.live) n = Math.max(n, l.conn.socket.writableLength);
    return n > DRAIN_BYTES ? n : 0;
  }

  functionRecords(records: Uint8Array): void {
    this.writer.functionRecords(records);
  }

  selectDb(db: number, sizes?: { keys: number; expires: number }): void {
    this.writer.selectDb(db, sizes);
  }

  writeBlock(db: number, block: Uint8Array, crc?: bigint): void {
    this.writer.writeEncoded(db, block, crc);
  }

  async drained(): Promise<void> {
    const live = this.job.live;
    if (live.length === 0) throw new Error('every replica of the sync disconnected');
    await Promise.all(live.map((l) => socketDrained(l.conn)));
  }

  async commit(): Promise<{ bytes: number }> {
    this.writer.end();
    this.send(Buffer.from(this.job.mark, 'latin1'));
    return { bytes: this.bytes };
  }

  async abort(): Promise<void> {}
}

/** Resolves once the socket's queued output is small again (or it closed). */
function socketDrained(conn: Connection): Promise<void> {
  const s = conn.socket;
  if (conn.closed || s.writableLength < DRAIN_BYTES) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      s.off('drain', done);
      s.off('close', done);
      resolve();
    };
    s.on('drain', done);
    s.on('close', done);
  });
}

const PING = [Buffer.from('PING')];
const GETACK = [Buffer.from('REPLCONF'), Buffer.from('GETACK'), Buffer.from('*')];

/** The replicas of this server and everything that serves them. */
export class MasterSide implements DownstreamSide, ReplconfListener, WaitAcks {
  /** Attached replicas, in attach order (INFO's slaveN numbering). */
  private readonly links: ReplicaLink[] = [];
  private readonly byConn = new Map<Connection, ReplicaLink>();
  private readonly handshakes = new Map<Connection, Handshake>();
  private readonly jobs: SyncJob[] = [];
  /** Set while a backlog exists and this server is a master. */
  private stream: ReplStream | null = null;
  private readonly waiters = new Set<() => void>();
  private acksAsked = false;
  private cronLoops = 0;
  private noReplicasSince = Date.now();
  private goodReplicas = 0;
  private limits: Float64Array;
  /** INFO stats counters. */
  private syncFull = 0;
  private syncPartialOk = 0;
  private syncPartialErr = 0;
  private readonly cron: NodeJS.Timeout;

  constructor(
    private readonly a: Acceptor,
    private readonly repl: Replication,
    private readonly persistence: ServerPersistence,
    private readonly propagation: Propagation,
    private readonly log: Logger,
  ) {
    const cfg = a.config;
    this.limits = parseOutputLimits(cfg.get('client-output-buffer-limit'));
    cfg.onChange('client-output-buffer-limit', (v) => (this.limits = parseOutputLimits(v)));
    cfg.onChange('repl-backlog-size', (v) => this.repl.state.backlog?.resize(Number(v)));
    cfg.onChange('min-replicas-to-write', () => this.refreshGood());
    cfg.onChange('min-replicas-max-lag', () => this.refreshGood());
    registerInfoLines(a, 'stats', () => [
      `sync_full:${this.syncFull}`,
      `sync_partial_ok:${this.syncPartialOk}`,
      `sync_partial_err:${this.syncPartialErr}`,
    ]);
    const h = a.local;
    h[CMD.PSYNC] = (conn, seq, cmd) => this.attach(conn, seq, cmd, true);
    h[CMD.SYNC] = (conn, seq, cmd) => this.attach(conn, seq, cmd, false);
    const closed = a.hooks.closed;
    a.hooks.closed = (conn) => {
      closed(conn);
      this.closed(conn);
    };
    this.cron = setInterval(() => this.replicationCron(), 1000);
    this.cron.unref();
  }

  // ---- the handshake ----

  /** REPLCONF listening-port / ip-address / capa before PSYNC. */
  option(conn: Connection, name: string, value: string): void {
    let hs = this.handshakes.get(conn);
    if (hs === undefined) this.handshakes.set(conn, (hs = { port: 0, ip: '', eof: false, psync2: false }));
    if (name === 'listening-port') hs.port = Number(value);
    else if (name === 'ip-address') hs.ip = value;
    else if (value === 'eof') hs.eof = true;
    else if (value === 'psync2') hs.psync2 = true;
  }

  /** REPLCONF ACK <offset>: the replica processed the stream up to `offset`. */
  ack(conn: Connection, offset: number): void {
    const link = this.byConn.get(conn);
    if (link === undefined) return;
    if (offset > link.ackOffset) link.ackOffset = offset;
    link.ackTime = Date.now();
    if (link.startOnAck) {
      link.startOnAck = false;
      this.release(link);
    }
    for (const check of this.waiters) check();
  }

  /** PSYNC replid offset, or SYNC (`psync` false): the connection becomes a replica link. */
  private attach(conn: Connection, seq: number, cmd: ParsedCommand, psync: boolean): void {
    if (conn.replica) return this.a.replyConst(conn, seq, EMPTY);
    // A replica serves replicas of its own while its master's stream runs (Redis's chained replication).
    const upstream = this.repl.upstream;
    if (upstream !== null && !upstream.linkUp()) return this.a.replyError(conn, seq, E_NOMASTERLINK);
    const hs = this.handshakes.get(conn) ?? { port: 0, ip: '', eof: false, psync2: false };
    this.handshakes.delete(conn);
    // From here on the link gets only what the protocol sends, written straight to its socket.
    conn.silence(seq);
    this.a.replyConst(conn, seq, EMPTY);
    if (conn.out.len > 0) {
      conn.socket.write(Buffer.from(conn.out.bytes.subarray(0, conn.out.len)));
      conn.out.reset();
    }
    conn.replyMode = REPLY_OFF;
    conn.replica = true;
    const link = new ReplicaLink(conn, hs, psync);
    this.links.push(link);
    this.byConn.set(conn, link);
    const st = this.repl.state;
    if (psync) {
      const replid = Buffer.from(cmd.buf.subarray(cmd.argStart[1]!, cmd.argStart[1]! + cmd.argLen[1]!)).toString('latin1');
      const offset = parseI64(cmd.buf, cmd.argStart[2]!, cmd.argLen[2]!);
      // The backlog must hold this turn's writes (or everything applied from the master) before it is read.
      this.stream?.flush();
      upstream?.offset();
      if (offset !== null && st.canContinue(replid, Number(offset))) return this.continuePartially(link, Number(offset));
      if (replid !== '?') this.syncPartialErr++;
      this.log.info('Full resync requested by replica', { replica: `${link.ip}:${hs.port}` });
    } else this.log.info('Replica asks for synchronization (SYNC)', { replica: `${link.ip}:${hs.port}` });
    this.syncFull++;
    this.ensureHistory();
    this.enqueue(link);
    this.refreshGood();
  }

  /** +CONTINUE and the backlog from `offset` on: the replica is online at once. */
  private continuePartially(link: ReplicaLink, offset: number): void {
    const st = this.repl.state;
    link.state = ONLINE;
    link.write(link.hs.psync2 ? `+CONTINUE ${st.replid}\r\n` : '+CONTINUE\r\n');
    for (const piece of st.backlog!.since(offset)) link.write(piece);
    this.syncPartialOk++;
    this.startStream();
    this.refreshGood();
    this.log.info('Partial resynchronization request accepted', { replica: `${link.ip}:${link.hs.port}`, offset });
  }

  /**
   * A backlog and the stream feeding it; a new backlog starts a new history (Redis's changeReplicationId +
   * clearReplicationId2). A replica's history is its master's, and its stream is the one it applies (relay).
   */
  private ensureHistory(): void {
    const st = this.repl.state;
    if (this.repl.upstream !== null) {
      st.ensureBacklog(this.a.config.num('repl-backlog-size'));
      return;
    }
    if (st.backlog === null) {
      st.replid = newReplId();
      st.replid2 = NO_REPLID;
      st.secondOffset = -1;
      st.ensureBacklog(this.a.config.num('repl-backlog-size'));
    }
    this.startStream();
  }

  /** The stream feeds the backlog from now on (while this server is a master). */
  private startStream(): void {
    if (this.stream !== null || this.repl.upstream !== null) return;
    this.stream = new ReplStream(this.repl, (chunk) => this.distribute(chunk));
    this.propagation.setStream(this.stream);
  }

  // ---- full syncs ----

  /** Joins a snapshot that has not reached its point yet, or starts a new one. */
  private enqueue(link: ReplicaLink): void {
    const cfg = this.a.config;
    const diskless = cfg.get('repl-diskless-sync') === 'yes' && link.hs.eof;
    let job = this.jobs.find((j) => j.diskless === diskless && !j.pointPassed);
    if (job === undefined) {
      job = new SyncJob(diskless);
      this.jobs.push(job);
      const delay = diskless ? cfg.num('repl-diskless-sync-delay') * 1000 : 0;
      const j = job;
      j.timer = setTimeout(() => void this.run(j), delay);
    }
    job.links.push(link);
    link.job = job;
    const max = cfg.num('repl-diskless-sync-max-replicas');
    if (diskless && max > 0 && job.live.length >= max && !job.started) {
      clearTimeout(job.timer!);
      void this.run(job);
    }
  }

  /** Produces the job's snapshot and brings its replicas online. */
  private async run(job: SyncJob): Promise<void> {
    if (job.started) return;
    job.started = true;
    if (job.live.length === 0) return this.dropJob(job);
    const target = job.diskless ? new SocketTarget(job, this.a.config.get('rdbcompression') === 'yes') : null;
    try {
      const path = await this.persistence.replicationSnapshot(() => this.atPoint(job), target);
      this.dropJob(job);
      if (job.diskless) {
        for (const l of job.live) {
          l.state = ONLINE;
          l.job = null;
          l.ackTime = Date.now();
          l.startOnAck = true;
          this.log.info('Streamed RDB transfer with replica succeeded: waiting for REPLCONF ACK from replica to enable streaming', {
            replica: `${l.ip}:${l.hs.port}`,
          });
        }
      } else await this.sendFile(job, path);
      this.refreshGood();
    } catch (err) {
      this.dropJob(job);
      for (const l of job.live) this.a.kill(l.conn);
      this.log.warn('full sync failed; its replicas were disconnected', { error: String(err) });
    }
  }

  private dropJob(job: SyncJob): void {
    const i = this.jobs.indexOf(job);
    if (i >= 0) this.jobs.splice(i, 1);
  }

  /**
   * The snapshot point, with all shards held: everything fed so far is in the RDB, the stream from
   * the next byte on is held for these replicas, and +FULLRESYNC names that offset.
   */
  private atPoint(job: SyncJob): void {
    job.pointPassed = true;
    const st = this.repl.state;
    // A tiny repl-backlog-ttl may have freed them while the job waited.
    this.ensureHistory();
    const upstream = this.repl.upstream;
    if (upstream !== null) {
      // What the master client dispatched is in the shards: the point's offset counts it, and the RDB names its database.
      upstream.offset();
    } else {
      this.stream!.flush();
      this.stream!.forceSelect();
    }
    for (const l of job.live) {
      l.held = [];
      l.heldBytes = 0;
      if (l.psync) l.write(`+FULLRESYNC ${st.replid} ${st.offset}\r\n`);
      if (job.diskless) l.write(`$EOF:${job.mark}\r\n`);
    }
  }

  /** A disk-based sync: `$<len>` and the file to each replica, then the held stream. */
  private async sendFile(job: SyncJob, path: string): Promise<void> {
    const fh = await open(path, 'r');
    try {
      const size = (await fh.stat()).size;
      for (const l of job.live) {
        l.state = SEND_BULK;
        l.write(`$${size}\r\n`);
      }
      const buf = Buffer.allocUnsafe(1 << 20);
      for (let pos = 0; pos < size; ) {
        const live = job.live;
        if (live.length === 0) return;
        const { bytesRead } = await fh.read(buf, 0, Math.min(buf.length, size - pos), pos);
        if (bytesRead === 0) throw new Error('the RDB file ended early');
        const chunk = Buffer.from(buf.subarray(0, bytesRead));
        for (const l of live) l.write(chunk);
        pos += bytesRead;
        await Promise.all(live.map((l) => socketDrained(l.conn)));
      }
    } finally {
      await fh.close();
    }
    for (const l of job.live) {
      l.state = ONLINE;
      l.job = null;
      l.ackTime = Date.now();
      this.release(l);
      this.log.info('Synchronization with replica succeeded', { replica: `${l.ip}:${l.hs.port}` });
    }
  }

  /** Sends what was held for a replica and lets the stream flow to it. */
  private release(link: ReplicaLink): void {
    const held = link.held;
    link.held = null;
    link.heldBytes = 0;
    if (held !== null) for (const c of held) link.write(c);
  }

  // ---- the stream ----

  /**
   * One turn's stream bytes (already in the backlog, `chunk` a view of the stream's buffer): to
   * every online replica, held for the others. A socket that has output queued, and a held list,
   * get a copy; true when a socket kept the view itself (it took only part of it at once), so the
   * stream must not reuse its bytes.
   */
  private distribute(chunk: Buffer): boolean {
    this.acksAsked = false;
    let kept = false;
    for (let i = 0; i < this.links.length; i++) {
      const l = this.links[i]!;
      if (l.conn.closed) continue;
      if (l.held !== null) {
        l.held.push(Buffer.from(chunk));
        l.heldBytes += chunk.length;
      } else if (l.state === ONLINE) {
        const socket = l.conn.socket;
        if (socket.writableLength > 0) socket.write(Buffer.from(chunk));
        else {
          socket.write(chunk);
          if (socket.writableLength > 0) kept = true;
        }
      } else continue;
      this.checkLimit(l);
    }
    if (this.waiters.size > 0) for (const check of this.waiters) check();
    return kept;
  }

  /** client-output-buffer-limit replica: past the hard limit, or past the soft one for its seconds, the link is closed. */
  private checkLimit(l: ReplicaLink): void {
    const hard = this.limits[3]!;
    const soft = this.limits[4]!;
    const pending = l.pending;
    let over = hard > 0 && pending >= hard;
    if (soft > 0 && pending >= soft) {
      const now = Date.now();
      if (l.softSince === 0) l.softSince = now;
      else if (now - l.softSince > this.limits[5]! * 1000) over = true;
    } else l.softSince = 0;
    if (!over) return;
    this.log.warn(`Client ${this.a.hooks.clientInfo(l.conn)} scheduled to be closed ASAP for overcoming of output buffer limits.`);
    this.a.kill(l.conn);
  }

  // ---- WAIT ----

  onReplica(): boolean {
    return this.repl.upstream !== null;
  }

  /** The end of the latest write in the stream (Redis's c->woff is the client's own; this is at least that). */
  offset(): number {
    return this.stream?.dataOffset ?? this.repl.state.offset;
  }

  count(offset: number): number {
    let n = 0;
    for (const l of this.links) if (l.state === ONLINE && !l.conn.closed && l.ackOffset >= offset) n++;
    return n;
  }

  watch(check: () => void): void {
    this.waiters.add(check);
  }

  unwatch(check: () => void): void {
    this.waiters.delete(check);
  }

  /** REPLCONF GETACK * once per turn, in the stream (as Redis's beforeSleep sends it). */
  askAcks(): void {
    if (this.acksAsked || this.stream === null || !this.links.some((l) => l.state === ONLINE)) return;
    this.acksAsked = true;
    this.stream.command(-1, GETACK);
    this.a.scheduleTick();
  }

  /**
   * A change of role drops this server's replicas: they reconnect and learn the new history (as Redis's
   * disconnectSlaves; after a promotion they continue partially, through replid2). Becoming a master
   * again starts the stream at once when a backlog exists, so writes after a promotion reach the
   * backlog that replicas of the old history continue from.
   */
  roleChanged(): void {
    this.historyChanged();
    if (this.repl.upstream === null && this.repl.state.backlog !== null) {
      this.startStream();
      this.stream!.restart();
    }
    this.refreshGood();
  }

  historyChanged(): void {
    for (const l of this.links) this.a.kill(l.conn);
  }

  relay(chunk: Buffer): void {
    if (this.links.length > 0) this.distribute(chunk);
  }

  // ---- the cron ----

  /** Once a second, as Redis's replicationCron. */
  private replicationCron(): void {
    const cfg = this.a.config;
    const now = Date.now();
    this.cronLoops++;
    // A replica's own replicas get its master's PINGs in the stream it relays; it pings nobody itself.
    const master = this.repl.upstream === null;
    if (master && this.links.length > 0 && this.stream !== null && this.cronLoops % cfg.num('repl-ping-replica-period') === 0) {
      this.stream.command(-1, PING);
      this.a.scheduleTick();
    }
    const timeout = cfg.num('repl-timeout') * 1000;
    for (const l of this.links) {
      if (l.conn.closed) continue;
      // Newlines keep a replica waiting for its RDB from timing out (it skips them).
      if (l.state === WAIT_BGSAVE && (l.job === null || !l.job.pointPassed || !l.job.diskless)) l.write('\n');
      if (l.state === ONLINE && l.psync && now - l.ackTime > timeout) {
        this.log.warn('Disconnecting timedout replica (streaming sync)', { replica: `${l.ip}:${l.hs.port}` });
        this.a.kill(l.conn);
        continue;
      }
      if (l.softSince !== 0) this.checkLimit(l);
    }
    const st = this.repl.state;
    const ttl = cfg.num('repl-backlog-ttl') * 1000;
    // A replica keeps its backlog: it continues its master's history, and serves it after a promotion.
    if (master && this.links.length === 0 && st.backlog !== null && ttl > 0 && now - this.noReplicasSince > ttl) {
      st.replid = newReplId();
      st.replid2 = NO_REPLID;
      st.secondOffset = -1;
      st.backlog = null;
      this.stream?.flush();
      this.stream = null;
      this.propagation.setStream(null);
      this.log.info('Replication backlog freed after its time to live without replicas', { seconds: ttl / 1000 });
    }
    this.refreshGood();
  }

  /** Counts the replicas that acknowledged within min-replicas-max-lag, and refuses writes when too few did. */
  private refreshGood(): void {
    const cfg = this.a.config;
    const min = cfg.num('min-replicas-to-write');
    const lag = cfg.num('min-replicas-max-lag');
    const now = Date.now();
    let good = 0;
    for (const l of this.links) if (l.state === ONLINE && !l.conn.closed && Math.floor((now - l.ackTime) / 1000) <= lag) good++;
    this.goodReplicas = good;
    const refused = min > 0 && lag > 0 && this.repl.upstream === null && good < min;
    this.a.writesRefused = refused ? E_NOREPLICAS : null;
    // Scripts run in the shards: they refuse their writes themselves.
    for (const link of this.a.shards) link.stats[F.CT_NOREPLICAS] = refused ? 1 : 0;
  }

  private closed(conn: Connection): void {
    this.handshakes.delete(conn);
    const link = this.byConn.get(conn);
    if (link === undefined) return;
    this.byConn.delete(conn);
    this.links.splice(this.links.indexOf(link), 1);
    if (this.links.length === 0) this.noReplicasSince = Date.now();
    this.log.info('Connection with replica lost', { replica: `${link.ip}:${link.hs.port}` });
    this.refreshGood();
  }

  // ---- what INFO and ROLE show ----

  infoLines(): string[] {
    const cfg = this.a.config;
    const lines = [`connected_slaves:${this.links.length}`];
    if (cfg.num('min-replicas-to-write') > 0 && cfg.num('min-replicas-max-lag') > 0)
      lines.push(`min_slaves_good_slaves:${this.goodReplicas}`);
    const now = Date.now();
    this.links.forEach((l, i) => {
      lines.push(
        `slave${i}:ip=${l.ip},port=${l.hs.port},state=${STATE_NAMES[l.state]},offset=${l.ackOffset},lag=${Math.floor((now - l.ackTime) / 1000)}`,
      );
    });
    return lines;
  }

  replicas(): ReplicaView[] {
    return this.links.filter((l) => l.state === ONLINE).map((l) => ({ ip: l.ip, port: l.hs.port, ackOffset: l.ackOffset }));
  }

  /**
   * Server shutdown: stops the cron and the syncs not started; online replicas get the last of the
   * stream and an orderly close, the others (a sync in progress, which then ends) are cut.
   */
  close(): void {
    clearInterval(this.cron);
    for (const j of this.jobs) if (j.timer !== null) clearTimeout(j.timer);
    this.stream?.flush();
    for (const l of this.links) {
      if (l.state === ONLINE && l.held === null) l.conn.socket.end();
      else this.a.kill(l.conn);
    }
  }
}

const EMPTY = new Uint8Array(0);
