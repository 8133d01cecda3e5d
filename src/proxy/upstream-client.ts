/** A minimal keep-alive HTTP/1.1 client over node:net: per-backend connection pools and a streaming response parser. */
import { connect, type Socket } from 'node:net';

/** How an upstream exchange failed; `kind` decides the status (502/504) and whether it counts against the backend. */
export class UpstreamError extends Error {
  constructor(
    readonly kind: 'connect' | 'timeout' | 'reset' | 'protocol',
    message: string,
    /** True once any response byte arrived: the request must not be retried. */
    readonly responseStarted: boolean,
    /** True when the connection came from the idle pool (a reset may just be a stale keep-alive). */
    readonly reused: boolean,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

/** How the response body is framed. */
export const BODY_NONE = 0;
export const BODY_LENGTH = 1;
export const BODY_CHUNKED = 2;
export const BODY_UNTIL_CLOSE = 3;

/** Receives one response; calls arrive in order head, body*, end — or error at any point. */
export interface ExchangeHandler {
  /** `headers` is flat [name, value, …] with lower-case names. */
  onHead(status: number, reason: string, headers: string[], bodyKind: number, contentLength: number): void;
  /** `chunk` is a view into the thread's shared read buffer: copy what must outlive the call. */
  onBody(chunk: Buffer): void;
  onEnd(): void;
  onError(err: UpstreamError): void;
  /** Runs `fn` batched for the client (uWS cork); one call per socket read. */
  corked(fn: () => void): void;
}

const CRLFCRLF = Buffer.from('\r\n\r\n');
const MAX_HEAD = 64 * 1024;
/** The read buffer all upstream sockets of this thread share (reads are handled synchronously). */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);

// Parser states.
const S_IDLE = 0;
const S_HEAD = 1;
const S_BODY_LENGTH = 2;
const S_CHUNK_SIZE = 3;
const S_CHUNK_DATA = 4;
const S_CHUNK_DATA_END = 5;
const S_TRAILERS = 6;
const S_UNTIL_CLOSE = 7;

/** A coarse clock and deadline sweep shared by all connections of a thread, instead of a timer per request. */
export class TimeoutSweeper {
  now = Date.now();
  readonly active = new Set<UpstreamConnection>();
  private readonly timer: NodeJS.Timeout;
  constructor(periodMs = 100) {
    this.timer = setInterval(() => {
      this.now = Date.now();
      for (const c of this.active) if (c.deadline !== 0 && c.deadline <= this.now) c.expire();
    }, periodMs);
    this.timer.unref();
  }
  stop(): void {
    clearInterval(this.timer);
  }
}

/** Timeouts the client enforces, in ms. */
export interface UpstreamTimeouts {
  connect: number;
  responseHeaders: number;
  idle: number;
  upstreamKeepAlive: number;
}

/** One keep-alive connection to a backend, carrying one exchange at a time. */
export class UpstreamConnection {
  readonly socket: Socket;
  handler: ExchangeHandler | null = null;
  deadline = 0;
  reused = false;
  private connected = false;
  private state = S_IDLE;
  private head: Buffer | null = null;
  private remaining = 0;
  private sizeLine = '';
  private trailerLine = 0;
  private keepAlive = true;
  /** A response that arrives before the whole request body was sent leaves the connection unusable. */
  private bodyPending = false;
  private isHeadRequest = false;
  private started = false;
  private idleSince = 0;
  private pending: Buffer | null = null;
  private readonly parseBound = (): void => this.parsePending();
  private readonly onRead = (n: number, buf: Buffer): boolean => {
    this.onData(buf.subarray(0, n));
    return true;
  };

  constructor(readonly pool: UpstreamPool) {
    // onread with one buffer per thread skips a Buffer allocation and the stream machinery on every read;
    // every consumer copies what it keeps beyond the callback.
    this.socket = connect({ host: pool.host, port: pool.port, noDelay: true, onread: { buffer: READ_BUFFER, callback: this.onRead } });
    this.socket.on('connect', () => {
      this.connected = true;
      if (this.handler) this.deadline = this.pool.sweeper.now + this.pool.timeouts.responseHeaders;
    });
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.fail(this.connected ? 'reset' : 'connect', err.code ?? err.message));
    this.socket.on('close', () => {
      if (this.state === S_UNTIL_CLOSE && this.handler !== null) this.finish();
      else this.fail(this.connected ? 'reset' : 'connect', 'connection closed');
    });
  }

  /** Sends a request head (and starts the response timer); a body follows via write(), then endBody(). */
  send(head: string, handler: ExchangeHandler, isHeadRequest: boolean, hasBody: boolean): void {
    this.handler = handler;
    this.bodyPending = hasBody;
    this.state = S_HEAD;
    this.isHeadRequest = isHeadRequest;
    this.started = false;
    this.keepAlive = true;
    const t = this.pool.timeouts;
    this.deadline = this.pool.sweeper.now + (this.connected ? t.responseHeaders : t.connect);
    this.pool.sweeper.active.add(this);
    this.socket.write(head, 'latin1');
  }

  /** Writes request body bytes; false means wait for 'drain'. */
  write(chunk: Uint8Array | string): boolean {
    return this.socket.write(chunk);
  }

  /** The request body is complete; until then the connection cannot be reused. */
  endBody(): void {
    this.bodyPending = false;
  }

  /** Abandons the exchange (client went away): the connection cannot be reused. */
  abort(): void {
    this.handler = null;
    this.destroy();
  }

  destroy(): void {
    this.pool.sweeper.active.delete(this);
    this.pool.forget(this);
    this.socket.destroy();
  }

  /** Called by the sweeper when the current deadline passed. */
  expire(): void {
    const h = this.handler;
    if (this.state === S_IDLE || h === null) {
      this.destroy();
      return;
    }
    this.fail(this.connected ? 'timeout' : 'connect', this.connected ? 'upstream timed out' : 'connect timed out', true);
  }

  /** Idle connections past the keep-alive limit are closed by the pool's sweep. */
  idleExpired(now: number): boolean {
    return now - this.idleSince > this.pool.timeouts.upstreamKeepAlive;
  }

  private fail(kind: UpstreamError['kind'], message: string, timeout = false): void {
    const h = this.handler;
    this.handler = null;
    this.state = S_IDLE;
    this.destroy();
    if (h) h.onError(new UpstreamError(timeout ? 'timeout' : kind, message, this.started, this.reused));
  }

  private onData(buf: Buffer): void {
    const h = this.handler;
    if (h === null) {
      // Bytes on an idle connection: the backend broke framing; never reuse it.
      this.destroy();
      return;
    }
    this.started = true;
    this.pending = buf;
    h.corked(this.parseBound);
  }

  private parsePending(): void {
    let buf = this.pending!;
    this.pending = null;
    let pos = 0;
    while (pos < buf.length && this.handler !== null) {
      const h = this.handler;
      switch (this.state) {
        case S_HEAD: {
          if (this.head !== null) {
            buf = Buffer.concat([this.head, buf.subarray(pos)]);
            pos = 0;
            this.head = null;
          }
          const end = buf.indexOf(CRLFCRLF, pos);
          if (end < 0) {
            if (buf.length - pos > MAX_HEAD) return this.fail('protocol', 'response head too large');
            this.head = Buffer.from(buf.subarray(pos));
            return;
          }
          const ok = this.parseHead(buf.toString('latin1', pos, end), h);
          pos = end + 4;
          if (!ok) return;
          break;
        }
        case S_BODY_LENGTH: {
          const n = Math.min(this.remaining, buf.length - pos);
          this.remaining -= n;
          h.onBody(n === buf.length ? buf : buf.subarray(pos, pos + n));
          pos += n;
          if (this.remaining === 0) this.finish();
          break;
        }
        case S_UNTIL_CLOSE:
          h.onBody(pos === 0 ? buf : buf.subarray(pos));
          pos = buf.length;
          break;
        case S_CHUNK_SIZE: {
          const c = buf[pos++]!;
          if (c === 10) {
            const semi = this.sizeLine.indexOf(';');
            const hex = (semi < 0 ? this.sizeLine : this.sizeLine.slice(0, semi)).trim();
            this.sizeLine = '';
            if (!/^[0-9a-fA-F]{1,12}$/.test(hex)) return this.fail('protocol', 'bad chunk size');
            this.remaining = parseInt(hex, 16);
            if (this.remaining === 0) {
              this.state = S_TRAILERS;
              this.trailerLine = 0;
            } else this.state = S_CHUNK_DATA;
          } else if (c !== 13) {
            if (this.sizeLine.length > 64) return this.fail('protocol', 'chunk size line too long');
            this.sizeLine += String.fromCharCode(c);
          }
          break;
        }
        case S_CHUNK_DATA: {
          const n = Math.min(this.remaining, buf.length - pos);
          this.remaining -= n;
          h.onBody(buf.subarray(pos, pos + n));
          pos += n;
          if (this.remaining === 0) {
            this.state = S_CHUNK_DATA_END;
            this.remaining = 2;
          }
          break;
        }
        case S_CHUNK_DATA_END: {
          const c = buf[pos++]!;
          if (c === 10) this.state = S_CHUNK_SIZE;
          else if (c !== 13) return this.fail('protocol', 'missing CRLF after chunk');
          break;
        }
        case S_TRAILERS: {
          // Trailers are dropped; the message ends at the first empty line.
          const c = buf[pos++]!;
          if (c === 10) {
            if (this.trailerLine === 0) this.finish();
            this.trailerLine = 0;
          } else if (c !== 13) this.trailerLine++;
          break;
        }
        default:
          return this.fail('protocol', 'unexpected data');
      }
    }
    if (pos < buf.length && this.handler === null && this.state === S_IDLE) this.destroy();
  }

  /** Parses the status line and headers; false when the exchange ended (error or body-less). */
  private parseHead(text: string, h: ExchangeHandler): boolean {
    const lines = text.split('\r\n');
    const status = lines[0]!;
    if (!status.startsWith('HTTP/1.')) {
      this.fail('protocol', 'bad status line');
      return false;
    }
    const code = +status.slice(9, 12);
    if (!(code >= 100 && code < 600)) {
      this.fail('protocol', 'bad status code');
      return false;
    }
    // Interim responses (100 Continue, 103 Early Hints) are consumed; the final one follows.
    if (code < 200 && code !== 101) return true;
    const headers: string[] = [];
    let length = -1;
    let chunked = false;
    let close = status.charCodeAt(7) === 48; // HTTP/1.0 defaults to close
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i]!;
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      // RFC 9112 forbids whitespace before the colon; values usually carry exactly one leading space.
      const name = line.slice(0, colon).toLowerCase();
      let value = line.slice(line.charCodeAt(colon + 1) === 32 ? colon + 2 : colon + 1);
      const last = value.charCodeAt(value.length - 1);
      if (last === 32 || last === 9 || value.charCodeAt(0) === 32 || value.charCodeAt(0) === 9) value = value.trim();
      if (name === 'content-length') {
        const n = +value;
        if (!Number.isSafeInteger(n) || n < 0 || (length >= 0 && n !== length)) {
          this.fail('protocol', 'bad content-length');
          return false;
        }
        length = n;
      } else if (name === 'transfer-encoding') {
        chunked = /(?:^|,)\s*chunked\s*$/i.test(value);
      } else if (name === 'connection') {
        const v = value.toLowerCase();
        if (v.includes('close')) close = true;
        else if (v.includes('keep-alive')) close = false;
      }
      headers.push(name, value);
    }
    this.keepAlive = !close;
    this.deadline = this.pool.sweeper.now + this.pool.timeouts.idle;
    let kind: number;
    if (this.isHeadRequest || code === 204 || code === 304 || code === 101) kind = BODY_NONE;
    else if (chunked) kind = BODY_CHUNKED;
    else if (length >= 0) kind = length === 0 ? BODY_NONE : BODY_LENGTH;
    else kind = BODY_UNTIL_CLOSE;
    h.onHead(code, status.slice(13), headers, kind, length);
    if (this.handler === null) return false;
    if (code === 101) {
      // The socket now belongs to the upgrade; detach it from the pool without destroying it.
      this.handler = null;
      this.state = S_IDLE;
      this.pool.sweeper.active.delete(this);
      this.pool.forget(this);
      return false;
    }
    switch (kind) {
      case BODY_NONE:
        this.finish();
        return false;
      case BODY_LENGTH:
        this.state = S_BODY_LENGTH;
        this.remaining = length;
        break;
      case BODY_CHUNKED:
        this.state = S_CHUNK_SIZE;
        this.sizeLine = '';
        break;
      default:
        this.keepAlive = false;
        this.state = S_UNTIL_CLOSE;
    }
    return true;
  }

  /** The response is complete: hand the socket back to the pool (or close it), then tell the handler. */
  private finish(): void {
    const h = this.handler!;
    this.handler = null;
    this.state = S_IDLE;
    this.deadline = 0;
    this.pool.sweeper.active.delete(this);
    if (this.keepAlive && !this.bodyPending) {
      // A response that ended while the client was slow leaves the socket paused; idle sockets must read (to see EOF).
      if (this.socket.isPaused()) this.socket.resume();
      this.idleSince = this.pool.sweeper.now;
      this.pool.release(this);
    } else this.destroy();
    h.onEnd();
  }

}

/** Idle keep-alive connections to one backend, for one thread. */
export class UpstreamPool {
  readonly host: string;
  readonly port: number;
  private readonly idle: UpstreamConnection[] = [];
  closed = false;

  constructor(
    url: string,
    readonly timeouts: UpstreamTimeouts,
    readonly sweeper: TimeoutSweeper,
    private readonly maxIdle = 256,
  ) {
    const u = new URL(url);
    this.host = u.hostname;
    this.port = +(u.port || 80);
  }

  /** A connected idle connection, or a new one (connecting). */
  acquire(): UpstreamConnection {
    const now = this.sweeper.now;
    while (this.idle.length > 0) {
      const c = this.idle.pop()!;
      if (!c.idleExpired(now) && !c.socket.destroyed) {
        c.reused = true;
        return c;
      }
      c.destroy();
    }
    return new UpstreamConnection(this);
  }

  release(c: UpstreamConnection): void {
    if (this.closed || this.idle.length >= this.maxIdle) c.destroy();
    else this.idle.push(c);
  }

  /** Drops a connection that closed or failed from the idle list. */
  forget(c: UpstreamConnection): void {
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
