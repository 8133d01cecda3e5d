/**
 * One keep-alive HTTP/1.1 connection to a backend, carrying one exchange at a time: it writes the request head
 * (straight to the libuv handle), then decodes the response (the head with response-head-parser.ts, then a
 * length-framed, chunked or read-until-close body) into an ExchangeHandler's calls, inside the handler's cork.
 */
import { connect, type Socket } from 'node:net';
import { type ConnectionOptions, connect as tlsConnect } from 'node:tls';
import { SabreError } from '../errors.js';
import { writeLatin1 } from '../net/direct-write.js';
import { READ_BUFFER, view } from './read-buffer.js';
import {
  BODY_CHUNKED,
  BODY_LENGTH,
  BODY_NONE,
  bodyFraming,
  HEAD_INCOMPLETE,
  parseResponseHead,
  ResponseHead,
} from './response-head-parser.js';
import type { Expiring, TimeoutSweeper } from './timeout-sweeper.js';
import type { CircuitBreaker } from './breaker.js';

/**
 * How an upstream exchange failed; `kind` decides the status (502/504) and whether it counts against the backend
 * ('total': the request's own time limit passed, which says nothing about the backend).
 */
export class UpstreamError extends SabreError {
  constructor(
    readonly kind: 'connect' | 'timeout' | 'total' | 'reset' | 'protocol',
    message: string,
    /** True once any response byte arrived: the request must not be retried. */
    readonly responseStarted: boolean,
    /** True when the connection came from the idle pool (a reset may just be a stale keep-alive). */
    readonly reused: boolean,
  ) {
    super('SABRE_UPSTREAM', message);
  }
}

/** Receives one response; calls arrive in order head, body*, end — or error at any point. */
export interface ExchangeHandler {
  /** `head` (and the bytes it points into) is only valid during the call. */
  onHead(head: ResponseHead, bodyKind: number, contentLength: number): void;
  /** `chunk` is a view into the thread's shared read buffer: copy what must outlive the call. */
  onBody(chunk: Buffer): void;
  onEnd(): void;
  onError(err: UpstreamError): void;
  /** Runs `fn` batched for the client (uWS cork); one call per socket read. */
  corked(fn: () => void): void;
}

const MAX_HEAD = 64 * 1024;
/** The parsed head handed to onHead (one per thread, like READ_BUFFER). */
const HEAD = new ResponseHead();

/** startResponse's result when the exchange ended with the head (an error, or a response without a body). */
const HEAD_ENDED = -2;

// Response decoding states.
const S_IDLE = 0;
const S_HEAD = 1;
const S_BODY_LENGTH = 2;
const S_CHUNK_SIZE = 3;
const S_CHUNK_DATA = 4;
const S_CHUNK_DATA_END = 5;
const S_TRAILERS = 6;
const S_UNTIL_CLOSE = 7;

/** Timeouts the client enforces, in ms. */
export interface UpstreamTimeouts {
  connect: number;
  /** From the request's last byte handed to the backend to the response head. */
  responseHeaders: number;
  /** No byte sent (request body) or received (response) for this long, before or after the head. */
  idle: number;
  upstreamKeepAlive: number;
}

/** A zero-length write: its callback runs once everything written before it has gone to the kernel. */
const FLUSHED = Buffer.alloc(0);

/** What a connection needs from the pool that made it (upstream-pool.ts). */
export interface ConnectionOwner {
  readonly host: string;
  readonly port: number;
  readonly timeouts: UpstreamTimeouts;
  readonly sweeper: TimeoutSweeper;
  /** tls.connect options for an https:// backend (connected once the handshake is done); null: plain TCP. */
  readonly tls: ConnectionOptions | null;
  /** Takes back a connection whose exchange completed with the connection reusable. */
  release(c: UpstreamConnection): void;
  /** Drops a connection that closed, failed or was taken over by an upgrade. */
  forget(c: UpstreamConnection): void;
  /** The connection is established (TCP, or the TLS handshake). */
  connected(c: UpstreamConnection): void;
}

/** One keep-alive connection to a backend, carrying one exchange at a time. */
export class UpstreamConnection implements Expiring {
  readonly socket: Socket;
  handler: ExchangeHandler | null = null;
  deadline = 0;
  /** The exchange's absolute time limit (timeouts.total, on the sweeper's clock); 0 when there is none. */
  private totalDeadline = 0;
  reused = false;
  /** The circuit breaker counting this connection (UpstreamPool sets and clears it); null when none does. */
  breaker: CircuitBreaker | null = null;
  /** Counted as a request waiting for its connection until it is established. */
  pending = false;
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
  /** Bytes of the current read (in READ_BUFFER), parsed inside the handler's cork. */
  private pendingLength = 0;
  private readonly parseBound = (): void => this.parsePending();
  /** The request's last byte went to the kernel: the wait for the response head starts. */
  private readonly requestSent = (): void => {
    if (this.state === S_HEAD && this.handler !== null && !this.bodyPending) this.arm(this.pool.timeouts.responseHeaders);
  };
  private readonly onRead = (n: number): boolean => {
    this.onData(n);
    return true;
  };

  constructor(readonly pool: ConnectionOwner) {
    pool.sweeper.connections.add(this);
    // onread with one buffer per thread skips a Buffer allocation and the stream machinery on every read;
    // every consumer copies what it keeps beyond the callback.
    const onread = { buffer: READ_BUFFER, callback: this.onRead };
    const tls = pool.tls;
    if (tls === null) this.socket = connect({ host: pool.host, port: pool.port, noDelay: true, onread });
    else {
      // tls.connect takes net's onread too (Node >= 14), though @types/node does not list it.
      this.socket = tlsConnect({ ...tls, host: pool.host, port: pool.port, onread } as ConnectionOptions);
      this.socket.setNoDelay(true);
    }
    this.socket.on(tls === null ? 'connect' : 'secureConnect', () => {
      this.connected = true;
      if (this.pending) pool.connected(this);
      if (this.handler) this.arm(this.bodyPending ? this.pool.timeouts.idle : this.pool.timeouts.responseHeaders);
    });
    this.socket.on('error', (err: NodeJS.ErrnoException) => this.fail(this.connected ? 'reset' : 'connect', err.code ?? err.message));
    this.socket.on('close', () => {
      if (this.state === S_UNTIL_CLOSE && this.handler !== null) this.finish();
      else this.fail(this.connected ? 'reset' : 'connect', 'connection closed');
    });
  }

  /**
   * Sends a request head and starts its clock: the connect timeout, then idle while a body follows (via write(), then
   * endBody()), then responseHeaders once the request is sent. `totalDeadline` (0: none) caps every deadline.
   */
  send(head: string, handler: ExchangeHandler, isHeadRequest: boolean, hasBody: boolean, totalDeadline: number): void {
    this.handler = handler;
    this.bodyPending = hasBody;
    this.state = S_HEAD;
    this.isHeadRequest = isHeadRequest;
    this.started = false;
    this.keepAlive = true;
    this.totalDeadline = totalDeadline;
    const t = this.pool.timeouts;
    this.arm(!this.connected ? t.connect : hasBody ? t.idle : t.responseHeaders);
    writeLatin1(this.socket, head);
  }

  /** Sets the deadline `ms` from now, or at the exchange's total limit if that comes first. */
  private arm(ms: number): void {
    const d = this.pool.sweeper.now + ms;
    this.deadline = this.totalDeadline !== 0 && d > this.totalDeadline ? this.totalDeadline : d;
  }

  /** Bytes moved for the exchange (a request body chunk out, or the client taking response bytes): idle restarts. */
  touch(): void {
    if (this.connected && this.handler !== null && (this.state !== S_HEAD || this.bodyPending)) this.arm(this.pool.timeouts.idle);
  }

  /** Writes request body bytes; false means wait for 'drain'. */
  write(chunk: Uint8Array | string): boolean {
    this.touch();
    return this.socket.write(chunk);
  }

  /** The request body is complete (until then the connection cannot be reused); responseHeaders starts once it is sent. */
  endBody(): void {
    this.bodyPending = false;
    if (this.state !== S_HEAD || !this.connected) return;
    if (this.socket.writableLength === 0) this.requestSent();
    else this.socket.write(FLUSHED, this.requestSent);
  }

  /** Abandons the exchange (client went away): the connection cannot be reused. */
  abort(): void {
    this.handler = null;
    this.destroy();
  }

  destroy(): void {
    this.deadline = 0;
    this.pool.sweeper.connections.delete(this);
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
    if (this.deadline === this.totalDeadline) this.fail('total', 'total time limit passed');
    else this.fail(this.connected ? 'timeout' : 'connect', this.connected ? 'upstream timed out' : 'connect timed out', true);
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

  private onData(n: number): void {
    const h = this.handler;
    if (h === null) {
      // Bytes on an idle connection: the backend broke framing; never reuse it.
      this.destroy();
      return;
    }
    this.started = true;
    // Response bytes restart the idle clock (the head has its own deadline, responseHeaders).
    if (this.state > S_HEAD) this.arm(this.pool.timeouts.idle);
    this.pendingLength = n;
    h.corked(this.parseBound);
  }

  private parsePending(): void {
    let buf = READ_BUFFER;
    let length = this.pendingLength;
    this.pendingLength = 0;
    let pos = 0;
    while (pos < length && this.handler !== null) {
      const h = this.handler;
      switch (this.state) {
        case S_HEAD: {
          if (this.head !== null) {
            buf = Buffer.concat([this.head, buf.subarray(pos, length)]);
            length = buf.length;
            pos = 0;
            this.head = null;
          }
          const next = this.startResponse(buf, pos, length, h);
          if (next === HEAD_INCOMPLETE) {
            if (length - pos > MAX_HEAD) return this.fail('protocol', 'response head too large');
            this.head = Buffer.from(buf.subarray(pos, length));
            return;
          }
          if (next === HEAD_ENDED) return;
          pos = next;
          break;
        }
        case S_BODY_LENGTH: {
          const n = Math.min(this.remaining, length - pos);
          this.remaining -= n;
          h.onBody(view(buf, pos, pos + n));
          pos += n;
          if (this.remaining === 0) this.finish();
          break;
        }
        case S_UNTIL_CLOSE:
          h.onBody(view(buf, pos, length));
          pos = length;
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
          const n = Math.min(this.remaining, length - pos);
          this.remaining -= n;
          h.onBody(view(buf, pos, pos + n));
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
    if (pos < length && this.handler === null && this.state === S_IDLE) this.destroy();
  }

  /**
   * Parses the head at buf[start] into HEAD and starts reading the body it announces. Returns the position after
   * the head, HEAD_INCOMPLETE when the head goes past `limit`, or HEAD_ENDED when the exchange ended (an error, or a
   * response without a body).
   */
  private startResponse(buf: Buffer, start: number, limit: number, h: ExchangeHandler): number {
    const head = HEAD;
    const p = parseResponseHead(buf, start, limit, head);
    if (p < 0) {
      if (p === HEAD_INCOMPLETE) return HEAD_INCOMPLETE;
      this.fail('protocol', head.error);
      return HEAD_ENDED;
    }
    const code = head.status;
    // Interim responses (100 Continue, 103 Early Hints) are consumed; the final one follows.
    if (code < 200 && code !== 101) return p;
    this.keepAlive = !head.close;
    this.arm(this.pool.timeouts.idle);
    const kind = bodyFraming(head, this.isHeadRequest);
    const length = head.contentLength;
    h.onHead(head, kind, length);
    head.buf = READ_BUFFER;
    if (this.handler === null) return HEAD_ENDED;
    if (code === 101) {
      // The socket now belongs to the upgrade; detach it from the pool without destroying it.
      this.handler = null;
      this.state = S_IDLE;
      this.deadline = 0;
      this.pool.sweeper.connections.delete(this);
      this.pool.forget(this);
      return HEAD_ENDED;
    }
    switch (kind) {
      case BODY_NONE:
        this.finish();
        return HEAD_ENDED;
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
    return p;
  }

  /** The response is complete: hand the socket back to the pool (or close it), then tell the handler. */
  private finish(): void {
    const h = this.handler!;
    this.handler = null;
    this.state = S_IDLE;
    this.deadline = 0;
    this.totalDeadline = 0;
    if (this.keepAlive && !this.bodyPending) {
      // A response that ended while the client was slow leaves the socket paused; idle sockets must read (to see EOF).
      if (this.socket.isPaused()) this.socket.resume();
      this.idleSince = this.pool.sweeper.now;
      this.pool.release(this);
    } else this.destroy();
    h.onEnd();
  }
}
