/**
 * Reply flushing: a connection that got output is queued once per tick, and at the end of the
 * tick every queued connection's output goes to its socket in one write (after the AOF is flushed,
 * so no reply precedes its write's log entry). A client that does not read its replies stops
 * being read; past its class's `client-output-buffer-limit` it is closed.
 */
import { pooledCopy } from '../wire/bytes.js';
import { WRITE_FALLBACK, WRITE_PENDING, writeBytes } from '../net/direct-write.js';
import { ST_SUBSCRIBED, type Connection } from './connection.js';
import type { AofOrder } from './aof-order.js';
import type { Logger } from '../log.js';
import { dropped } from '../reclaim.js';

/** Writes this big let the thread reclaim their memory once sent (reclaim.ts). */
const BIG_WRITE_BYTES = 1 << 20;

/** Pending output beyond which a connection stops being read until it drains. */
export const PAUSE_OUTPUT_BYTES = 1 << 20;

/** What flushing needs from the acceptor. */
export interface FlushContext {
  /** Counts the bytes written (total_net_output_bytes). */
  readonly stats: { netOutputBytes: number };
  readonly config: { get(name: string): string; onChange(name: string, fn: (v: string) => void): void };
  readonly log: Logger;
  readonly aof: AofOrder;
  /** Closes a client at once. */
  kill(conn: Connection): void;
  /** The client's CLIENT LIST line, for the log line of a limit disconnect. */
  describe(conn: Connection): string;
  /** A connection whose parsing stopped on too many commands in flight may parse again. */
  unthrottle(conn: Connection): void;
  /** The connection's queued output was written (as the socket's 'drain'): a paused one reads again. */
  drained(conn: Connection): void;
}

/**
 * Commands a connection may have parsed and not yet answered before its parsing stops (see
 * Connection.throttled): about IN_FLIGHT_BYTES of replies at the size its last flushed replies had,
 * between MIN_IN_FLIGHT (where a new connection starts) and MAX_IN_FLIGHT, so deep pipelines of
 * small replies are not held back and big replies do not pile up.
 */
const IN_FLIGHT_BYTES = 1 << 20;
const MIN_IN_FLIGHT = 32;
const MAX_IN_FLIGHT = 1024;

/** The in-flight cap for replies of `avg` bytes. */
function inFlightCap(avg: number): number {
  return Math.max(MIN_IN_FLIGHT, Math.min(MAX_IN_FLIGHT, Math.floor(IN_FLIGHT_BYTES / avg)));
}

/** Indexes of a class's hard limit in the limits array (soft and seconds follow it). */
const NORMAL = 0;
const PUBSUB = 6;

/**
 * The `client-output-buffer-limit` value as CONFIG GET spells it (`normal h s secs slave h s secs
 * pubsub h s secs`, bytes) as nine numbers in that order.
 */
export function parseOutputLimits(v: string): Float64Array {
  const w = v.split(' ');
  const out = new Float64Array(9);
  ['normal', 'slave', 'pubsub'].forEach((cls, k) => {
    const i = w.indexOf(cls);
    if (i >= 0) for (let j = 0; j < 3; j++) out[k * 3 + j] = Number(w[i + 1 + j]);
  });
  return out;
}

/** The per-tick list of connections with output, and its flush. */
export class ReplyFlusher {
  /** Flushes so far; pub/sub starts a new shared message log after each. */
  flushes = 0;
  private readonly dirty: Connection[] = [];
  private limits: Float64Array;
  /** The smallest limit of any class (hard or soft, 0 meaning none): below it no limit needs a look. */
  private floor = Infinity;
  /** Connections past their soft limit: checked again each second, since a paused one may get no more output. */
  private readonly overSoft = new Set<Connection>();

  constructor(private readonly ctx: FlushContext) {
    this.limits = this.setLimits(ctx.config.get('client-output-buffer-limit'));
    ctx.config.onChange('client-output-buffer-limit', (v) => (this.limits = this.setLimits(v)));
  }

  private setLimits(v: string): Float64Array {
    const l = parseOutputLimits(v);
    this.floor = Infinity;
    for (const k of [NORMAL, PUBSUB]) {
      if (l[k]! > 0) this.floor = Math.min(this.floor, l[k]!);
      if (l[k + 1]! > 0) this.floor = Math.min(this.floor, l[k + 1]!);
    }
    return l;
  }

  /** Queues a connection for this tick's flush. */
  markDirty(conn: Connection): void {
    if (!conn.dirty) {
      conn.dirty = true;
      this.dirty.push(conn);
    }
  }

  /** Flushes the AOF, then writes every queued connection's output. */
  flush(): void {
    const ctx = this.ctx;
    ctx.aof.flush();
    const list = this.dirty;
    this.flushes++;
    for (let i = 0; i < list.length; i++) {
      const conn = list[i]!;
      conn.dirty = false;
      if (conn.closed) continue;
      const len = conn.out.len;
      // Like Redis, the limit applies to what is queued for the client, this tick's output included.
      const queued = conn.socket.writableLength + conn.directPending + len + (conn.share === null ? 0 : conn.shareEnd - conn.shareStart);
      if (queued >= this.floor) {
        if (this.overLimit(conn, queued)) continue;
      } else if (conn.softLimitSince !== 0) {
        conn.softLimitSince = 0;
        this.overSoft.delete(conn);
      }
      if (conn.share !== null) this.writeShared(conn);
      if (len > 0) {
        ctx.stats.netOutputBytes += len;
        const replies = conn.nextWrite - conn.flushedReplies;
        if (replies > 0) {
          conn.flushedReplies = conn.nextWrite;
          conn.maxInFlight = inFlightCap(len / replies);
        }
        this.write(conn, len);
      }
      if (conn.closeAfterReplies && conn.idle) {
        conn.closed = true;
        // Closed once written, as Redis does: a peer that keeps writing gets a reset, not a half-open socket that reads on.
        conn.socket.end(() => conn.socket.destroy());
        continue;
      }
      if (conn.socket.writableLength + conn.directPending > PAUSE_OUTPUT_BYTES) {
        if (!conn.readPaused) {
          conn.readPaused = true;
          conn.socket.pause();
        }
      } else if (conn.throttled && conn.nextSeq - conn.nextWrite <= conn.maxInFlight >> 1) {
        ctx.unthrottle(conn);
      }
    }
    list.length = 0;
  }

  /**
   * Writes conn.out's `len` bytes. Straight from conn.out to the socket's handle when nothing is queued before them:
   * the kernel mostly takes them at once and conn.out is reused, with no copy and no garbage per write. When libuv
   * keeps them (the socket is full) conn.out starts a new buffer; while that write pends, or where direct writes are
   * not possible, a copy goes through socket.write, which queues behind it in libuv.
   */
  private write(conn: Connection, len: number): void {
    const out = conn.out;
    if (conn.directPending === 0) {
      conn.directDone ??= () => this.directDone(conn);
      const r = writeBytes(conn.socket, out.bytes.subarray(0, len), conn.directDone);
      if (r !== WRITE_FALLBACK) {
        if (r === WRITE_PENDING) {
          conn.directPending = len;
          out.detach(len < BIG_WRITE_BYTES ? out.bytes.length : 4096);
        } else out.reset();
        return;
      }
    }
    // A big reply's copies (the shard's, conn.out's, this one) are garbage once the socket took it.
    if (len < BIG_WRITE_BYTES) conn.socket.write(pooledCopy(out.bytes, 0, len));
    else conn.socket.write(pooledCopy(out.bytes, 0, len), () => dropped(3 * len));
    out.reset();
  }

  /** libuv finished a pending direct write: its buffer is garbage now, and a paused reader may resume. */
  private directDone(conn: Connection): void {
    const len = conn.directPending;
    conn.directPending = 0;
    if (len >= BIG_WRITE_BYTES) dropped(2 * len);
    // Output written through the socket's stream meanwhile (queued behind this write) either ends with the
    // stream's own 'drain', or is under its high-water mark and small enough to read on now.
    if (!conn.closed && !conn.socket.writableNeedDrain) this.ctx.drained(conn);
  }

  /**
   * Redis's checkClientOutputBufferLimits on the bytes queued: closes the client (true) past its
   * class's hard limit, or after it stayed past the soft limit for longer than its seconds.
   */
  private overLimit(conn: Connection, queued: number): boolean {
    const k = (conn.state & ST_SUBSCRIBED) !== 0 ? PUBSUB : NORMAL;
    const hard = this.limits[k]!;
    const soft = this.limits[k + 1]!;
    let over = hard > 0 && queued >= hard;
    if (soft > 0 && queued >= soft) {
      const now = Date.now();
      if (conn.softLimitSince === 0) {
        conn.softLimitSince = now;
        this.overSoft.add(conn);
      } else if (now - conn.softLimitSince > this.limits[k + 2]! * 1000) over = true;
    } else if (conn.softLimitSince !== 0) {
      conn.softLimitSince = 0;
      this.overSoft.delete(conn);
    }
    if (!over) return false;
    this.overSoft.delete(conn);
    this.ctx.log.warn(`Client ${this.ctx.describe(conn)} scheduled to be closed ASAP for overcoming of output buffer limits.`);
    this.ctx.kill(conn);
    return true;
  }

  /** Closes the clients that stayed past their soft limit too long without getting more output (called each second). */
  checkSoftLimits(): void {
    for (const conn of this.overSoft) {
      if (conn.closed) this.overSoft.delete(conn);
      else this.overLimit(conn, conn.pendingOutput);
    }
  }

  /** Writes the connection's span of this tick's shared pub/sub messages (a view, not a copy); it precedes conn.out. */
  private writeShared(conn: Connection): void {
    const b = conn.share!.bytes;
    conn.share = null;
    const n = conn.shareEnd - conn.shareStart;
    this.ctx.stats.netOutputBytes += n;
    conn.socket.write(Buffer.from(b.buffer, b.byteOffset + conn.shareStart, n));
  }
}
