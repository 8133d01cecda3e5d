/** Idle keep-alive connections to one backend, for one thread: hands out a connection per exchange and takes it back. */
import type { ConnectionOptions } from 'node:tls';
import type { CircuitBreaker } from './breaker.js';
import type { TimeoutSweeper } from './timeout-sweeper.js';
import { UpstreamConnection, type ConnectionOwner, type UpstreamTimeouts } from './upstream-connection.js';

/** Idle keep-alive connections to one backend, for one thread. */
export class UpstreamPool implements ConnectionOwner {
  readonly host: string;
  readonly port: number;
  private readonly idle: UpstreamConnection[] = [];
  closed = false;

  constructor(
    url: string,
    readonly timeouts: UpstreamTimeouts,
    readonly sweeper: TimeoutSweeper,
    private readonly maxIdle = 256,
    /** tls.connect options for an https:// backend; null for http://. */
    public tls: ConnectionOptions | null = null,
    /** The pool the backend belongs to, whose circuit breaker (if any) counts connections. */
    private readonly group: { readonly breaker: CircuitBreaker | null } = { breaker: null },
  ) {
    const u = new URL(url);
    this.host = u.hostname.startsWith('[') ? u.hostname.slice(1, -1) : u.hostname;
    this.port = +(u.port || (u.protocol === 'https:' ? 443 : 80));
  }

  /** A connected idle connection, or a new one (connecting); null when the circuit breaker refuses a new one. */
  acquire(): UpstreamConnection | null {
    const now = this.sweeper.now;
    while (this.idle.length > 0) {
      const c = this.idle.pop()!;
      if (!c.idleExpired(now) && !c.socket.destroyed) {
        c.reused = true;
        return c;
      }
      c.destroy();
    }
    const breaker = this.group.breaker;
    if (breaker === null) return new UpstreamConnection(this);
    if (!breaker.tryConnect()) return null;
    const c = new UpstreamConnection(this);
    c.breaker = breaker;
    c.pending = true;
    return c;
  }

  /** A connection is established: its request no longer counts as pending. */
  connected(c: UpstreamConnection): void {
    if (c.pending) {
      c.pending = false;
      c.breaker!.connected();
    }
  }

  release(c: UpstreamConnection): void {
    if (this.closed || this.idle.length >= this.maxIdle) c.destroy();
    else this.idle.push(c);
  }

  /** Drops a connection that closed or failed from the idle list. */
  forget(c: UpstreamConnection): void {
    const b = c.breaker;
    if (b !== null) {
      // Once per connection, however many of destroy, close and upgrade call this.
      c.breaker = null;
      if (c.pending) b.connected();
      c.pending = false;
      b.closed();
    }
    const i = this.idle.lastIndexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
  }

  /** Closes idle connections past the keep-alive limit. */
  reap(): void {
    const now = this.sweeper.now;
    for (let i = this.idle.length - 1; i >= 0; i--) if (this.idle[i]!.idleExpired(now)) this.idle[i]!.destroy();
  }

  close(): void {
    this.closed = true;
    for (const c of this.idle.splice(0)) c.destroy();
  }
}
