/**
 * Reply flushing: a connection that got output is queued once per tick, and at the end of the
 * tick every queued connection's output goes to its socket in one write (after the AOF is flushed,
 * so no reply precedes its write's log entry). A client that does not read its replies stops
 * being read; past the output buffer limit it is closed.
 */
import { pooledCopy } from '../wire/bytes.js';
import { ST_SUBSCRIBED, type Connection } from './connection.js';
import type { AofOrder } from './aof-order.js';
import type { Logger } from '../log.js';

/** Pending output beyond which a connection stops being read until it drains. */
const PAUSE_OUTPUT_BYTES = 1 << 20;

/** What flushing needs from the acceptor. */
export interface FlushContext {
  /** Counts the bytes written (total_net_output_bytes). */
  readonly stats: { netOutputBytes: number };
  readonly config: { num(name: string): number };
  readonly log: Logger;
  readonly aof: AofOrder;
  /** Closes a client at once. */
  kill(conn: Connection): void;
  /** A subscribed client still has `pending` unsent bytes after a flush (pub/sub output limits). */
  subscriberBacklog(conn: Connection, pending: number): void;
}

/** The per-tick list of connections with output, and its flush. */
export class ReplyFlusher {
  /** Flushes so far; pub/sub starts a new shared message log after each. */
  flushes = 0;
  private readonly dirty: Connection[] = [];

  constructor(private readonly ctx: FlushContext) {}

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
      if (conn.share !== null) this.writeShared(conn);
      const len = conn.out.len;
      if (len > 0) {
        ctx.stats.netOutputBytes += len;
        conn.socket.write(pooledCopy(conn.out.bytes, 0, len));
        conn.out.reset();
      }
      if (conn.closeAfterReplies && conn.idle) {
        conn.closed = true;
        // Closed once written, as Redis does: a peer that keeps writing gets a reset, not a half-open socket that reads on.
        conn.socket.end(() => conn.socket.destroy());
        continue;
      }
      const pending = conn.socket.writableLength;
      if (pending > PAUSE_OUTPUT_BYTES && !conn.readPaused) {
        conn.readPaused = true;
        conn.socket.pause();
        const limit = ctx.config.num('client-output-buffer-limit-bytes');
        if (limit > 0 && pending > limit) {
          ctx.log.warn('client scheduled to be closed for overcoming of output buffer limits', {
            id: conn.id,
            addr: conn.addr,
            omem: pending,
          });
          ctx.kill(conn);
        }
      }
      if ((conn.state & ST_SUBSCRIBED) !== 0 && pending !== 0) ctx.subscriberBacklog(conn, pending);
    }
    list.length = 0;
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
