/** A minimal keep-alive HTTP/1.1 client over node:net: per-backend connection pools and a streaming response parser. */
import { connect, type Socket } from 'node:net';
import { SabreError } from '../errors.js';
import { writeLatin1 } from '../net/direct-write.js';

/** How an upstream exchange failed; `kind` decides the status (502/504) and whether it counts against the backend. */
export class UpstreamError extends SabreError {
  constructor(
    readonly kind: 'connect' | 'timeout' | 'reset' | 'protocol',
    message: string,
    /** True once any response byte arrived: the request must not be retried. */
    readonly responseStarted: boolean,
    /** True when the connection came from the idle pool (a reset may just be a stale keep-alive). */
    readonly reused: boolean,
  ) {
    super('SABRE_UPSTREAM', message);
  }
}

/** How the response body is framed. */
export const BODY_NONE = 0;
export const BODY_LENGTH = 1;
export const BODY_CHUNKED = 2;
export const BODY_UNTIL_CLOSE = 3;

/** Header fields the parser tells apart by name (case-insensitively): framing, hop-by-hop, and Date (uWS writes its own). */
export const F_OTHER = 0;
export const F_CONTENT_LENGTH = 1;
export const F_TRANSFER_ENCODING = 2;
export const F_CONNECTION = 3;
/** keep-alive, proxy-connection, te, trailer, upgrade. */
export const F_HOP = 4;
export const F_DATE = 5;
/** A line without a name and colon, or an obs-fold continuation line: dropped. */
export const F_INVALID = 6;

/** Stride of ResponseHead.fields: name start, name end (the colon), value start, value end (trimmed), field kind. */
const FIELD = 5;

/**
 * A parsed response head as offsets into the received bytes, so the hot path creates no strings: the proxy hands
 * views of the status and header bytes straight to uWS. One per thread, valid only during onHead.
 */
export class ResponseHead {
  /** The head's bytes (valid only during onHead). */
  buf: Buffer = Buffer.alloc(0);
  status = 0;
  /** "200 OK": the status code and reason are buf[statusStart, statusEnd). */
  statusStart = 0;
  statusEnd = 0;
  /** Header lines. */
  count = 0;
  /** Per header line i, at i * 5: name start, name end (the colon), value start, value end (trimmed), field kind (F_*). */
  fields = new Int32Array(FIELD * 64);

  kind(i: number): number {
    return this.fields[i * FIELD + 4]!;
  }
  /** The reason phrase ("OK"). */
  reason(): string {
    return this.buf.toString('latin1', Math.min(this.statusStart + 4, this.statusEnd), this.statusEnd);
  }
  /** Header i's name, lower-cased. */
  name(i: number): string {
    return this.buf.toString('latin1', this.fields[i * FIELD]!, this.fields[i * FIELD + 1]!).toLowerCase();
  }
  /** Header i's value, without surrounding blanks. */
  value(i: number): string {
    return this.buf.toString('latin1', this.fields[i * FIELD + 2]!, this.fields[i * FIELD + 3]!);
  }
  /** Flat [name, value, …] with lower-case names, every valid line (copies; for callers off the hot path). */
  headers(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.count; i++) if (this.kind(i) !== F_INVALID) out.push(this.name(i), this.value(i));
    return out;
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
/** The read buffer all upstream sockets of this thread share (reads are handled synchronously). */
const READ_BUFFER = Buffer.allocUnsafe(64 * 1024);
/** The parsed head handed to onHead (one per thread, like READ_BUFFER). */
const HEAD = new ResponseHead();

/** Views of READ_BUFFER by [start, end), kept: responses from one backend put their fields at the same offsets. */
const VIEWS = new Map<number, Buffer>();
const MAX_VIEWS = 4096;

/**
 * buf[start, end) as a Buffer. Views of the shared read buffer are reused rather than made per call (a typed
 * array each, several per response), so like the buffer they are only valid during the call that gets them.
 */
export function view(buf: Buffer, start: number, end: number): Buffer {
  // The key must stay a small integer: 15 bits each.
  if (buf !== READ_BUFFER || end > 0x7fff) return buf.subarray(start, end);
  const key = (start << 15) | end;
  let v = VIEWS.get(key);
  if (v === undefined) {
    if (VIEWS.size >= MAX_VIEWS) VIEWS.clear();
    v = READ_BUFFER.subarray(start, end);
    VIEWS.set(key, v);
  }
  return v;
}

/** True when buf[s, s + name.length) equals the lower-case ASCII `name`, ignoring the case of letters. */
function nameIs(buf: Buffer, s: number, name: string): boolean {
  for (let i = 0; i < name.length; i++) {
    const c = buf[s + i]!;
    const w = name.charCodeAt(i);
    if (c !== w && !(c >= 65 && c <= 90 && c + 32 === w)) return false;
  }
  return true;
}

/** The F_* kind of the header name buf[s, e). */
function fieldKind(buf: Buffer, s: number, e: number): number {
  switch (e - s) {
    case 2:
      return nameIs(buf, s, 'te') ? F_HOP : F_OTHER;
    case 4:
      return nameIs(buf, s, 'date') ? F_DATE : F_OTHER;
    case 7:
      return nameIs(buf, s, 'trailer') || nameIs(buf, s, 'upgrade') ? F_HOP : F_OTHER;
    case 10:
      if (nameIs(buf, s, 'connection')) return F_CONNECTION;
      return nameIs(buf, s, 'keep-alive') ? F_HOP : F_OTHER;
    case 14:
      return nameIs(buf, s, 'content-length') ? F_CONTENT_LENGTH : F_OTHER;
    case 16:
      return nameIs(buf, s, 'proxy-connection') ? F_HOP : F_OTHER;
    case 17:
      return nameIs(buf, s, 'transfer-encoding') ? F_TRANSFER_ENCODING : F_OTHER;
    default:
      return F_OTHER;
  }
}

/** READ_BUFFER as 32-bit words, for lineEnd's four-bytes-at-a-time scan. */
const READ_WORDS = new DataView(READ_BUFFER.buffer, READ_BUFFER.byteOffset, READ_BUFFER.byteLength);

/** Where the line starting at p ends: the CR of the next CRLF before `limit`, or -1 (not all here yet). */
function lineEnd(buf: Buffer, p: number, limit: number): number {
  const words = buf === READ_BUFFER;
  for (;;) {
    // Four bytes per step while none is LF: x has a zero byte exactly where the word had a 10.
    if (words) {
      while (p + 4 <= limit) {
        const x = READ_WORDS.getUint32(p, true) ^ 0x0a0a0a0a;
        if (((x - 0x01010101) & ~x & 0x80808080) !== 0) break;
        p += 4;
      }
    }
    while (p < limit && buf[p] !== 10) p++;
    if (p >= limit) return -1;
    if (buf[p - 1] === 13) return p - 1;
    p++;
  }
}

/** True when buf[s, e) contains the lower-case ASCII `word`, ignoring the case of letters. */
function containsWord(buf: Buffer, s: number, e: number, word: string): boolean {
  for (let i = s; i + word.length <= e; i++) if (nameIs(buf, i, word)) return true;
  return false;
}

/** parseHead's results besides the position after the head. */
const HEAD_INCOMPLETE = -1;
const HEAD_ENDED = -2;

// Parser states.
const S_IDLE = 0;
const S_HEAD = 1;
const S_BODY_LENGTH = 2;
const S_CHUNK_SIZE = 3;
const S_CHUNK_DATA = 4;
const S_CHUNK_DATA_END = 5;
const S_TRAILERS = 6;
const S_UNTIL_CLOSE = 7;

/**
 * A coarse clock and deadline sweep shared by all connections of a thread, instead of a timer per request. It scans
 * every open connection (a few hundred at most) for a set deadline, so starting and ending an exchange costs no set
 * insertion or removal.
 */
export class TimeoutSweeper {
  now = Date.now();
  readonly connections = new Set<UpstreamConnection>();
  private readonly timer: NodeJS.Timeout;
  constructor(periodMs = 100) {
    this.timer = setInterval(() => {
      this.now = Date.now();
      for (const c of this.connections) if (c.deadline !== 0 && c.deadline <= this.now) c.expire();
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
  /** Bytes of the current read (in READ_BUFFER), parsed inside the handler's cork. */
  private pendingLength = 0;
  private readonly parseBound = (): void => this.parsePending();
  private readonly onRead = (n: number): boolean => {
    this.onData(n);
    return true;
  };

  constructor(readonly pool: UpstreamPool) {
    pool.sweeper.connections.add(this);
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
    writeLatin1(this.socket, head);
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

  private onData(n: number): void {
    const h = this.handler;
    if (h === null) {
      // Bytes on an idle connection: the backend broke framing; never reuse it.
      this.destroy();
      return;
    }
    this.started = true;
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
          const next = this.parseHead(buf, pos, length, h);
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
   * Parses the head starting at buf[start] (status line, header lines, blank line) into HEAD without making
   * strings, in one pass that also finds where it ends. Returns the position after the blank line, HEAD_INCOMPLETE
   * when the head goes past `limit` (READ_BUFFER holds older bytes beyond it), or HEAD_ENDED when the exchange
   * ended (an error, or a response without a body).
   */
  private parseHead(buf: Buffer, start: number, limit: number, h: ExchangeHandler): number {
    const statusEnd = lineEnd(buf, start, limit);
    if (statusEnd < 0) return HEAD_INCOMPLETE;
    let p: number;
    if (statusEnd - start < 12 || !nameIs(buf, start, 'http/1.')) {
      this.fail('protocol', 'bad status line');
      return HEAD_ENDED;
    }
    const d0 = buf[start + 9]! - 48;
    const d1 = buf[start + 10]! - 48;
    const d2 = buf[start + 11]! - 48;
    const code = d0 * 100 + d1 * 10 + d2;
    if (!(d0 >= 1 && d0 <= 5 && d1 >= 0 && d1 <= 9 && d2 >= 0 && d2 <= 9)) {
      this.fail('protocol', 'bad status code');
      return HEAD_ENDED;
    }
    const head = HEAD;
    head.buf = buf;
    head.status = code;
    head.statusStart = start + 9;
    head.statusEnd = statusEnd;
    let f = head.fields;
    let n = 0;
    let length = -1;
    let chunked = false;
    let close = buf[start + 7] === 48; // HTTP/1.0 defaults to close
    p = statusEnd + 2;
    for (;;) {
      const ls = p;
      const le = lineEnd(buf, p, limit);
      if (le < 0) return HEAD_INCOMPLETE;
      p = le + 2;
      if (le === ls) break;
      let colon = ls;
      while (colon < le && buf[colon] !== 58) colon++;
      if (colon === le) colon = -1;
      if ((n + 1) * FIELD > f.length) {
        const bigger = new Int32Array(f.length * 2);
        bigger.set(f);
        f = head.fields = bigger;
      }
      const j = n * FIELD;
      n++;
      // RFC 9112 forbids whitespace before the colon and obs-fold continuation lines (dropped here).
      const first = buf[ls];
      if (colon <= ls || first === 32 || first === 9) {
        f[j] = f[j + 1] = f[j + 2] = f[j + 3] = ls;
        f[j + 4] = F_INVALID;
        continue;
      }
      let vs = colon + 1;
      while (vs < le && (buf[vs] === 32 || buf[vs] === 9)) vs++;
      let ve = le;
      while (ve > vs && (buf[ve - 1] === 32 || buf[ve - 1] === 9)) ve--;
      const kind = fieldKind(buf, ls, colon);
      f[j] = ls;
      f[j + 1] = colon;
      f[j + 2] = vs;
      f[j + 3] = ve;
      f[j + 4] = kind;
      if (kind === F_CONTENT_LENGTH) {
        let v = 0;
        let digits = ve - vs;
        for (let i = vs; i < ve; i++) {
          const c = buf[i]! - 48;
          if (c < 0 || c > 9) {
            digits = -1;
            break;
          }
          v = v * 10 + c;
        }
        if (digits < 0 || digits > 15) v = +buf.toString('latin1', vs, ve);
        if (!Number.isSafeInteger(v) || v < 0 || (length >= 0 && v !== length)) {
          this.fail('protocol', 'bad content-length');
          return HEAD_ENDED;
        }
        length = v;
      } else if (kind === F_TRANSFER_ENCODING) {
        chunked = /(?:^|,)\s*chunked\s*$/i.test(buf.toString('latin1', vs, ve));
      } else if (kind === F_CONNECTION) {
        if (containsWord(buf, vs, ve, 'close')) close = true;
        else if (containsWord(buf, vs, ve, 'keep-alive')) close = false;
      }
    }
    // Interim responses (100 Continue, 103 Early Hints) are consumed; the final one follows.
    if (code < 200 && code !== 101) return p;
    head.count = n;
    this.keepAlive = !close;
    this.deadline = this.pool.sweeper.now + this.pool.timeouts.idle;
    let kind: number;
    if (this.isHeadRequest || code === 204 || code === 304 || code === 101) kind = BODY_NONE;
    else if (chunked) kind = BODY_CHUNKED;
    else if (length >= 0) kind = length === 0 ? BODY_NONE : BODY_LENGTH;
    else kind = BODY_UNTIL_CLOSE;
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
