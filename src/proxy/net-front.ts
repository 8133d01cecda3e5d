/**
 * The net front: the proxy's own HTTP/1.x server on node:net sockets, with the hand-written request-head parser
 * (request-head-parser.ts). It serves keep-alive and pipelined requests in order (the next request is read only once
 * the current response is done), HTTP/1.0 (keep-alive only when asked, its own status line, length-framed or
 * close-delimited bodies), request bodies by Content-Length or chunked, streamed to the exchange with backpressure,
 * and answers every request it will not forward with a status and a closed connection. Responses are built in one
 * buffer per thread and leave in one write.
 */
import { createServer, type Server, Socket, type SocketConstructorOpts } from 'node:net';
import { WRITE_FALLBACK, WRITE_PENDING, writeBytes } from '../net/direct-write.js';
import { type Front, type FrontResponse, listenOn } from './front.js';
import type { ProxyContext } from './proxy-context.js';
import { proxyRequest } from './proxy-request.js';
import {
  findHeadEnd,
  type HeadScan,
  MAX_REQUEST_HEAD,
  oversizeStatus,
  parseRequestHead,
  R_HOST,
  RequestHead,
} from './request-head-parser.js';
import { answerAndClose, errorAnswer, tunnel } from './websocket-tunnel.js';

/** An idle keep-alive connection closes after this (uWS.js: 10 s). */
const KEEP_ALIVE_MS = 10_000;
/** A request head must arrive within this once the connection waits for one, or the client gets 408. */
const HEAD_TIMEOUT_MS = 30_000;
/** After the proxy ends a connection it reads and drops what the client still sends this long (lingering close). */
const LINGER_MS = 2_000;
/** Pipelined bytes held while a response is pending before the client is no longer read. */
const MAX_QUEUED = 64 * 1024;

/** Connection states. */
const S_HEAD = 0;
const S_BODY = 1;
const S_WAIT = 2;
const S_CLOSED = 3;
const S_TUNNEL = 4;

/** Chunked request body decoder states (RFC 9112 §7.1). */
const C_SIZE = 0;
const C_EXT = 1;
const C_SIZE_LF = 2;
const C_DATA = 3;
const C_DATA_CR = 4;
const C_DATA_LF = 5;
const C_TRAILER = 6;
const C_TRAILER_LINE = 7;
const C_TRAILER_LF = 8;
const C_END_LF = 9;

/** Response body framing, chosen when the head is finished: a length (>= 0), or one of these. */
const FRAME_NONE = -1;
const FRAME_STREAM = -2;

const EMPTY = Buffer.alloc(0);
const CRLF = Buffer.from('\r\n');
const LAST_CHUNK = Buffer.from('0\r\n\r\n');
const CONTINUE = 'HTTP/1.1 100 Continue\r\n\r\n';
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16));

/** The request head parsed last on this thread (read synchronously by the proxy while it handles the request). */
const HEAD = new RequestHead();
const SCAN: HeadScan = { resume: 0 };

/** The Date header line, rewritten once a second. */
let dateLine = Buffer.from(`date: ${new Date().toUTCString()}\r\n`, 'latin1');
setInterval(() => {
  dateLine = Buffer.from(`date: ${new Date().toUTCString()}\r\n`, 'latin1');
}, 1000).unref();

/**
 * The thread's output buffer: responses are assembled here and written with one socket.write. When the socket could
 * not take all of it at once, the kernel-bound bytes stay referenced by libuv, so a fresh buffer takes its place.
 */
let out = Buffer.allocUnsafeSlow(64 * 1024);
let outLen = 0;
/** The connection whose bytes are in `out` (null when it is empty). */
let outOwner: NetConnection | null = null;

function reserve(conn: NetConnection, n: number): void {
  if (outOwner !== conn) {
    outOwner?.flush();
    outOwner = conn;
  }
  if (outLen + n > out.length) {
    const bigger = Buffer.allocUnsafeSlow(Math.max(out.length * 2, outLen + n));
    out.copy(bigger, 0, 0, outLen);
    out = bigger;
  }
}

function putBytes(conn: NetConnection, b: Uint8Array): void {
  reserve(conn, b.byteLength);
  out.set(b, outLen);
  outLen += b.byteLength;
}

function putText(conn: NetConnection, s: string): void {
  reserve(conn, s.length);
  outLen += out.write(s, outLen, 'latin1');
}

function put(conn: NetConnection, s: string | Uint8Array): void {
  if (typeof s === 'string') putText(conn, s);
  else putBytes(conn, s);
}

/** The request being handled, through the uWS HttpRequest methods the proxy calls (valid during proxyRequest only). */
const REQUEST = {
  getCaseSensitiveMethod: (): string => HEAD.methodName(),
  getHeader(key: string): string {
    if (key === 'host') return HEAD.hostValue();
    const i = HEAD.find(key);
    return i < 0 ? '' : HEAD.value(i);
  },
  getUrl: (): string => HEAD.path(),
  getQuery: (): string => HEAD.query(),
  forEach(cb: (key: string, value: string) => void): void {
    // An absolute-form target's authority stands for Host (RFC 9112 §3.2.2).
    const authority = HEAD.authorityStart >= 0;
    if (authority) cb('host', HEAD.hostValue());
    const f = HEAD.fields;
    for (let i = 0; i < HEAD.count; i++) {
      if (authority && (f[i * 5 + 4]! & 7) === R_HOST) continue;
      cb(HEAD.name(i), HEAD.value(i));
    }
  },
};

/**
 * Client reads go into one buffer per thread, as upstream reads do (net.Socket's `onread` option), instead of a fresh
 * 64 KiB allocation per read. Sockets a server accepts cannot be given that option, so its two private fields are
 * set on them directly, found once by their descriptions on a socket that was given it; where this Node has them
 * under other names, reads arrive as 'data' events instead.
 */
const CLIENT_READ_BUFFER = Buffer.allocUnsafeSlow(64 * 1024);
const [kBuffer, kBufferCb] = ((): [symbol | undefined, symbol | undefined] => {
  const probe = new Socket({ onread: { buffer: Buffer.alloc(1), callback: () => true } } as SocketConstructorOpts);
  const syms = Object.getOwnPropertySymbols(probe);
  probe.destroy();
  return [syms.find((s) => s.description === 'kBuffer'), syms.find((s) => s.description === 'kBufferCb')];
})();

interface ReadHandle {
  useUserBuffer?(buf: Uint8Array): void;
}

/** Makes `socket` (accepted paused) read into the thread's buffer and hand reads to `conn`; false where it cannot. */
function readIntoThreadBuffer(socket: Socket, conn: NetConnection): boolean {
  const handle = (socket as unknown as { _handle: ReadHandle | null })._handle;
  // A TLS socket may hold decrypted bytes read during its handshake: those are read as 'data' events.
  if (kBuffer === undefined || kBufferCb === undefined || typeof handle?.useUserBuffer !== 'function' || socket.readableLength > 0)
    return false;
  const fields = socket as unknown as Record<symbol, unknown>;
  fields[kBuffer] = CLIENT_READ_BUFFER;
  fields[kBufferCb] = (n: number, buf: Buffer): boolean => {
    conn.onRead(n, buf, false);
    return true;
  };
  handle.useUserBuffer(CLIENT_READ_BUFFER);
  return true;
}

/**
 * For the WebSocket tunnel, which pipes the socket: reads in the thread's buffer are copied into the stream, and
 * reading stops while the stream is full (pipe's backpressure resumes it).
 */
function userBufferToStream(socket: Socket): void {
  const fields = socket as unknown as Record<symbol, unknown>;
  if (kBufferCb === undefined || fields[kBufferCb] === undefined || fields[kBufferCb] === null) return;
  fields[kBufferCb] = (n: number, buf: Buffer): boolean => socket.push(Buffer.from(buf.subarray(0, n)));
}

/** One response on a net-front connection, with uWS HttpResponse semantics. */
class NetResponse implements FrontResponse {
  done = false;
  private statusWritten = false;
  private headDone = false;
  private chunkedOut = false;
  closeAfter = false;
  written = 0;
  abortHandler: (() => void) | null = null;

  constructor(readonly conn: NetConnection) {}

  cork(cb: () => void): this {
    const c = this.conn;
    c.corked++;
    cb();
    if (--c.corked === 0) c.flush();
    return this;
  }
  /** The status line has been written: a refusal can no longer replace this response. */
  get started(): boolean {
    return this.statusWritten;
  }
  writeStatus(status: string | Uint8Array): this {
    if (this.done || this.statusWritten) return this;
    this.statusWritten = true;
    put(this.conn, this.conn.minor === 1 ? 'HTTP/1.1 ' : 'HTTP/1.0 ');
    put(this.conn, status);
    putBytes(this.conn, CRLF);
    return this;
  }
  writeHeader(key: string | Uint8Array, value: string | Uint8Array): this {
    if (this.done || this.headDone) return this;
    if (!this.statusWritten) this.writeStatus('200 OK');
    const c = this.conn;
    put(c, key);
    putText(c, ': ');
    put(c, value);
    putBytes(c, CRLF);
    return this;
  }
  /** Ends the head: Date, the body's framing (a length, FRAME_NONE, FRAME_STREAM) and the connection's fate. */
  private finishHead(framing: number): void {
    if (!this.statusWritten) this.writeStatus('200 OK');
    this.headDone = true;
    const c = this.conn;
    putBytes(c, dateLine);
    if (framing >= 0) putText(c, `content-length: ${framing}\r\n`);
    else if (framing === FRAME_STREAM) {
      // HTTP/1.0 has no chunked coding: the body ends with the connection.
      if (c.minor === 1) {
        this.chunkedOut = true;
        putText(c, 'transfer-encoding: chunked\r\n');
      } else this.closeAfter = true;
    }
    if (!c.keepAlive || c.front.draining) this.closeAfter = true;
    if (this.closeAfter) putText(c, 'connection: close\r\n\r\n');
    else putText(c, c.minor === 1 ? '\r\n' : 'connection: keep-alive\r\n\r\n');
  }
  end(body?: string | Uint8Array, closeConnection?: boolean): this {
    if (this.done) return this;
    const c = this.conn;
    if (closeConnection) this.closeAfter = true;
    if (!this.headDone) {
      const n = body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body, 'latin1') : body.byteLength;
      this.finishHead(n);
      if (n > 0) put(c, body!);
    } else if (body !== undefined) this.writeChunk(typeof body === 'string' ? Buffer.from(body, 'latin1') : body);
    if (this.chunkedOut) putBytes(c, LAST_CHUNK);
    this.finish();
    return this;
  }
  endWithoutBody(reportedContentLength?: number): this {
    if (this.done) return this;
    if (!this.headDone) this.finishHead(reportedContentLength ?? FRAME_NONE);
    else if (this.chunkedOut) putBytes(this.conn, LAST_CHUNK);
    this.finish();
    return this;
  }
  /** The whole chunk is always taken (copied into the output); `ok` says whether the socket is under its bound. */
  tryEnd(chunk: Uint8Array, totalSize: number): [boolean, boolean] {
    if (this.done) return [true, true];
    if (!this.headDone) this.finishHead(totalSize);
    if (chunk.byteLength > 0) putBytes(this.conn, chunk);
    this.written += chunk.byteLength;
    if (this.written >= totalSize) {
      this.finish();
      return [true, true];
    }
    if (this.conn.corked === 0) this.conn.flush();
    return [this.conn.writeOk(), false];
  }
  write(chunk: Uint8Array): boolean {
    if (this.done) return true;
    if (!this.headDone) this.finishHead(FRAME_STREAM);
    this.writeChunk(chunk);
    const c = this.conn;
    if (c.corked === 0) c.flush();
    return c.writeOk();
  }
  private writeChunk(chunk: Uint8Array): void {
    const n = chunk.byteLength;
    if (n === 0) return;
    const c = this.conn;
    if (this.chunkedOut) {
      putText(c, n < 256 ? HEX[n]! : n.toString(16));
      putBytes(c, CRLF);
      putBytes(c, chunk);
      putBytes(c, CRLF);
    } else putBytes(c, chunk);
    this.written += n;
  }
  private finish(): void {
    this.done = true;
    this.conn.finished(this);
  }
  getWriteOffset(): number {
    return this.written;
  }
  onWritable(handler: (offset: number) => boolean): this {
    this.conn.whenWritable(this, handler);
    return this;
  }
  onAborted(handler: () => void): this {
    this.abortHandler = handler;
    return this;
  }
  onData(handler: (chunk: ArrayBuffer | Uint8Array, isLast: boolean) => void): this {
    if (this.conn.res === this) this.conn.onBody = handler;
    return this;
  }
  pause(): void {
    if (this.conn.res === this) this.conn.pauseReading();
  }
  resume(): void {
    if (this.conn.res === this) this.conn.resumeReading();
  }
  close(): this {
    if (!this.done) {
      this.done = true;
      this.conn.socket.destroy();
    }
    return this;
  }
  getRemoteAddressAsText(): ArrayBuffer {
    const b = Buffer.from(this.conn.remoteIp, 'latin1');
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;
  }
}

/** The client's address as text, as the socket reports it. */
export function netRemoteAddress(res: FrontResponse): string {
  return (res as NetResponse).conn.remoteIp;
}

/** One client connection: reads requests one at a time and writes their responses in order. */
class NetConnection {
  state = S_HEAD;
  /** Bytes received and not yet used: one read, or a concatenation (never written to, so views of it stay valid). */
  private pending: Buffer = EMPTY;
  /** The end of the received bytes in `pending`. */
  private end = 0;
  /** False while `pending` is the thread's read buffer, which the next read of any connection overwrites. */
  private owned = true;
  private pos = 0;
  /** Where findHeadEnd looks again in `pending` (bytes before it have been scanned). */
  private scanResume = 0;
  /** When the current state began, on the thread's coarse clock (keep-alive, head and linger timeouts). */
  since: number;
  /** The response being produced; the request it answers was the last head read. */
  res: NetResponse | null = null;
  /** A finished response whose connection-level follow-up waits for the output to be flushed. */
  private done: NetResponse | null = null;
  onBody: ((chunk: ArrayBuffer | Uint8Array, isLast: boolean) => void) | null = null;
  private chunked = false;
  private bodyLeft = 0;
  private chunkState = C_SIZE;
  private chunkDigits = 0;
  private trailerBytes = 0;
  /** HTTP/1.minor of the current request, and whether its client keeps the connection. */
  minor = 1;
  keepAlive = true;
  corked = 0;
  /** Direct writes libuv still holds (the socket's buffer is full), and what waits for them to finish. */
  private inFlight = 0;
  private writableWaiter: (() => void) | null = null;
  /**
   * TLS: bytes written while a write is pending in TLSWrap (it takes one at a time), in order, and what waits for
   * them all to be handed over (the connection's end, the next request's head).
   */
  private tlsQueue: Buffer[] | null = null;
  private tlsIdle: (() => void) | null = null;
  private readonly written = (): void => {
    if (--this.inFlight > 0) return;
    const q = this.tlsQueue;
    if (q !== null) {
      this.tlsQueue = null;
      this.sendTls(q.length === 1 ? q[0]! : Buffer.concat(q));
      if (this.inFlight > 0) return;
    }
    if (this.tlsIdle !== null) {
      const fn = this.tlsIdle;
      this.tlsIdle = null;
      fn();
    }
    if (this.writableWaiter !== null) {
      const fn = this.writableWaiter;
      this.writableWaiter = null;
      this.onceWritable(fn);
    }
  };
  private processing = false;
  /** Reading is paused for the exchange (upstream backpressure) or because pipelined bytes piled up. */
  private pausedForBody = false;
  private pausedForQueue = false;
  readonly remoteIp: string;
  /** A TLS socket: written through its stream (TLSWrap allows one pending write), never straight to the handle. */
  private readonly encrypted: boolean;
  private readonly process = (): void => this.run();

  constructor(
    readonly front: NetFront,
    readonly socket: Socket,
  ) {
    this.remoteIp = socket.remoteAddress ?? '';
    this.encrypted = (socket as Socket & { encrypted?: boolean }).encrypted === true;
    this.since = front.ctx.sweeper.now;
    if (!readIntoThreadBuffer(socket, this)) socket.on('data', (chunk: Buffer) => this.onRead(chunk.length, chunk, true));
    socket.on('end', () => this.onEnd());
    socket.on('close', () => this.onClose());
    socket.on('error', () => undefined);
  }

  /**
   * Bytes received: `chunk[0, n)`. With `owned` false the chunk is the thread's read buffer, valid only during this
   * call, so what is left for later (a partial head, pipelined requests) is copied out.
   */
  onRead(n: number, chunk: Buffer, owned: boolean): void {
    if (this.state >= S_CLOSED) return;
    if (this.pos < this.end) {
      this.scanResume -= this.pos;
      const left = this.end - this.pos;
      const joined = Buffer.allocUnsafe(left + n);
      this.pending.copy(joined, 0, this.pos, this.end);
      chunk.copy(joined, left, 0, n);
      this.pending = joined;
      this.end = left + n;
      this.owned = true;
    } else {
      this.pending = chunk;
      this.end = n;
      this.owned = owned;
      this.scanResume = 0;
    }
    this.pos = 0;
    this.run();
    if (this.pos >= this.end) {
      this.pending = EMPTY;
      this.pos = this.end = 0;
      this.owned = true;
    } else if (!this.owned) {
      this.scanResume -= this.pos;
      this.pending = Buffer.from(this.pending.subarray(this.pos, this.end));
      this.end -= this.pos;
      this.pos = 0;
      this.owned = true;
    }
  }

  /** Body bytes pending[p, p + n) for the exchange, which may keep them: copied when they are in the read buffer. */
  private bodyBytes(p: number, n: number): Buffer {
    if (this.owned) return this.pending.subarray(p, p + n);
    const copy = Buffer.allocUnsafe(n);
    this.pending.copy(copy, 0, p, p + n);
    return copy;
  }

  /** Handles what has been received as far as the current state allows. */
  private run(): void {
    if (this.processing) return;
    this.processing = true;
    for (;;) {
      const st = this.state;
      if (st === S_BODY) {
        if (!this.readBody()) break;
      } else if (st !== S_HEAD) break;
      else if (this.encrypted && this.inFlight > 0) {
        // TLS: the next head waits until the last response is handed to TLSWrap, so whatever it leads to (a
        // refusal, a WebSocket tunnel writing through the stream) never meets a pending write.
        if (this.pos < this.end) this.tlsIdle = this.process;
        break;
      } else if (!this.readHead()) break;
    }
    this.processing = false;
    if (this.state === S_WAIT && this.end - this.pos > MAX_QUEUED && !this.pausedForQueue) {
      this.pausedForQueue = true;
      this.socket.pause();
    }
  }

  /** Reads one request head if all of it is here and starts its exchange; false when there is nothing more to do. */
  private readHead(): boolean {
    const buf = this.pending;
    const end = this.end;
    let start = this.pos;
    // RFC 9112 §2.2: empty lines before a request line are ignored.
    while (start < end && (buf[start] === 13 || buf[start] === 10)) start++;
    this.pos = start;
    if (start === end) return false;
    const headEnd = findHeadEnd(buf, start, this.scanResume, end, SCAN);
    if (headEnd < 0) {
      this.scanResume = SCAN.resume;
      if (end - start > MAX_REQUEST_HEAD) this.refuse(oversizeStatus(buf, start, end));
      return false;
    }
    if (headEnd - start > MAX_REQUEST_HEAD) {
      this.refuse(oversizeStatus(buf, start, headEnd));
      return false;
    }
    this.scanResume = 0;
    this.pos = headEnd;
    const status = parseRequestHead(buf, start, HEAD);
    if (status !== 0) {
      this.refuse(status);
      return false;
    }
    this.minor = HEAD.minor;
    this.keepAlive = HEAD.keepAlive;
    if (HEAD.websocket) {
      this.upgrade(Buffer.from(buf.subarray(headEnd, end)));
      return false;
    }
    const res = new NetResponse(this);
    this.res = res;
    this.onBody = null;
    if (HEAD.chunked) {
      this.chunked = true;
      this.chunkState = C_SIZE;
      this.bodyLeft = this.chunkDigits = this.trailerBytes = 0;
      this.state = S_BODY;
    } else if (HEAD.contentLength > 0) {
      this.chunked = false;
      this.bodyLeft = HEAD.contentLength;
      this.state = S_BODY;
    } else this.state = S_WAIT;
    const expectContinue = HEAD.expectContinue;
    proxyRequest(this.front.ctx, res, REQUEST);
    // RFC 9110 §10.1.1: the client waits for 100 before it sends the body; a final answer already given replaces it.
    if (expectContinue && this.state === S_BODY && this.onBody !== null && !res.done && this.pos === this.end) this.writeRaw(CONTINUE);
    return true;
  }

  /** Passes received body bytes to the exchange (or drops them when it wants none); false when all here are used. */
  private readBody(): boolean {
    const buf = this.pending;
    const end = this.end;
    let p = this.pos;
    if (p >= end) return false;
    if (!this.chunked) {
      const n = Math.min(this.bodyLeft, end - p);
      this.bodyLeft -= n;
      this.pos = p + n;
      const last = this.bodyLeft === 0;
      if (this.onBody !== null) this.onBody(this.bodyBytes(p, n), last);
      if (last) this.bodyRead();
      return true;
    }
    while (p < end) {
      const b = buf[p]!;
      switch (this.chunkState) {
        case C_SIZE: {
          const d = b >= 48 && b <= 57 ? b - 48 : b >= 97 && b <= 102 ? b - 87 : b >= 65 && b <= 70 ? b - 55 : -1;
          if (d >= 0) {
            if (++this.chunkDigits > 12) return this.badBody();
            this.bodyLeft = this.bodyLeft * 16 + d;
          } else if (this.chunkDigits === 0) return this.badBody();
          else if (b === 59 || b === 32 || b === 9) this.chunkState = C_EXT;
          else if (b === 13) this.chunkState = C_SIZE_LF;
          else return this.badBody();
          p++;
          break;
        }
        case C_EXT:
          if (b === 13) this.chunkState = C_SIZE_LF;
          else if ((b < 32 && b !== 9) || b === 127) return this.badBody();
          p++;
          break;
        case C_SIZE_LF:
          if (b !== 10) return this.badBody();
          p++;
          this.chunkState = this.bodyLeft === 0 ? C_TRAILER : C_DATA;
          break;
        case C_DATA: {
          const n = Math.min(this.bodyLeft, end - p);
          this.bodyLeft -= n;
          this.pos = p + n;
          if (this.onBody !== null) this.onBody(this.bodyBytes(p, n), false);
          if (this.state !== S_BODY) return false;
          p += n;
          if (this.bodyLeft === 0) this.chunkState = C_DATA_CR;
          break;
        }
        case C_DATA_CR:
          if (b !== 13) return this.badBody();
          p++;
          this.chunkState = C_DATA_LF;
          break;
        case C_DATA_LF:
          if (b !== 10) return this.badBody();
          p++;
          this.chunkDigits = 0;
          this.chunkState = C_SIZE;
          break;
        case C_TRAILER:
          // Trailer fields are dropped (the proxy re-frames the body); an empty line ends the message.
          this.chunkState = b === 13 ? C_END_LF : C_TRAILER_LINE;
          p++;
          break;
        case C_TRAILER_LINE:
          if (++this.trailerBytes > MAX_REQUEST_HEAD) return this.badBody();
          if (b === 13) this.chunkState = C_TRAILER_LF;
          else if (b === 10 || (b < 32 && b !== 9)) return this.badBody();
          p++;
          break;
        case C_TRAILER_LF:
        case C_END_LF:
          if (b !== 10) return this.badBody();
          p++;
          if (this.chunkState === C_END_LF) {
            this.pos = p;
            this.onBody?.(EMPTY, true);
            this.bodyRead();
            return true;
          }
          this.chunkState = C_TRAILER;
          break;
      }
    }
    this.pos = p;
    return false;
  }

  /** A malformed chunked body: the exchange is abandoned; the client gets 400 unless its response has begun. */
  private badBody(): boolean {
    const res = this.res;
    this.res = null;
    if (res !== null && !res.done) {
      res.done = true;
      res.abortHandler?.();
    }
    if (res === null || res.started) this.closeSoon();
    else this.refuse(400);
    return false;
  }

  /** The request's body has been read: the next request may be read once its response is done. */
  private bodyRead(): void {
    if (this.state !== S_BODY) return;
    this.onBody = null;
    if (this.res === null) this.toHead();
    else this.state = S_WAIT;
  }

  private toHead(): void {
    this.state = S_HEAD;
    this.since = this.front.ctx.sweeper.now;
    if (this.pausedForQueue) {
      this.pausedForQueue = false;
      if (!this.pausedForBody) this.socket.resume();
    }
  }

  /** Called by a response once its last byte is in the output: the follow-up waits for the flush. */
  finished(res: NetResponse): void {
    this.done = res;
    if (this.corked === 0) this.flush();
  }

  /** Writes the thread's output buffer if it holds this connection's bytes, then follows up a finished response. */
  flush(): void {
    if (outOwner === this && outLen > 0) {
      const data = out.subarray(0, outLen);
      outLen = 0;
      outOwner = null;
      const socket = this.socket;
      if (this.encrypted) this.sendTls(data);
      else if (!socket.destroyed) {
        // Straight to libuv, past the Writable machinery; bytes it holds keep the buffer, so the thread takes another.
        const r = writeBytes(socket, data, this.written);
        if (r === WRITE_PENDING) {
          this.inFlight++;
          out = Buffer.allocUnsafeSlow(64 * 1024);
        } else if (r === WRITE_FALLBACK) {
          socket.write(data);
          if (socket.writableLength > 0) out = Buffer.allocUnsafeSlow(64 * 1024);
        }
      }
    }
    const res = this.done;
    if (res === null) return;
    this.done = null;
    if (this.res === res) this.res = null;
    if (res.closeAfter) return this.closeSoon();
    if (this.state === S_WAIT) {
      this.toHead();
      if (this.pos < this.end && !this.processing) queueMicrotask(this.process);
    }
  }

  /**
   * Writes to a TLS socket straight to its TLSWrap, one write at a time: a second write while one is pending would
   * abort the process, so later bytes are queued (copied) until the pending one completes. TLSWrap encrypts (copies)
   * the bytes before the call returns, so `data` may be reused at once.
   */
  private sendTls(data: Uint8Array): void {
    const socket = this.socket;
    if (socket.destroyed) return;
    if (this.inFlight > 0) {
      (this.tlsQueue ??= []).push(Buffer.from(data));
      return;
    }
    const r = writeBytes(socket, data, this.written, true);
    if (r === WRITE_PENDING) this.inFlight++;
    // The stream has writes of its own pending: it queues behind them.
    else if (r === WRITE_FALLBACK) socket.write(Buffer.from(data));
  }

  /** Writes a latin1 text outside a response (100 Continue, a refusal), in order with the responses. */
  private writeRaw(text: string): void {
    if (this.encrypted) this.sendTls(Buffer.from(text, 'latin1'));
    else this.socket.write(text, 'latin1');
  }

  /** True while no write waits in libuv and the socket's pending output is under its high-water mark. */
  writeOk(): boolean {
    const queued = outOwner === this ? outLen : 0;
    return this.inFlight === 0 && this.socket.writableLength + queued < this.socket.writableHighWaterMark;
  }

  /** Calls `handler` with the write offset once the socket has drained (at once, after this call, if it has). */
  whenWritable(res: NetResponse, handler: (offset: number) => boolean): void {
    process.nextTick(() => this.onceWritable(() => handler(res.written)));
  }

  private onceWritable(fn: () => void): void {
    if (this.socket.destroyed) return;
    if (this.inFlight > 0) this.writableWaiter = fn;
    else if (this.socket.writableNeedDrain) this.socket.once('drain', fn);
    else fn();
  }

  pauseReading(): void {
    this.pausedForBody = true;
    this.socket.pause();
  }

  resumeReading(): void {
    this.pausedForBody = false;
    if (!this.pausedForQueue) this.socket.resume();
  }

  /** Answers `status` and closes: for requests the proxy will not forward, before any response on this request. */
  private refuse(status: number): void {
    this.writeRaw(errorAnswer(status));
    this.closeSoon();
  }

  /** Ends the connection once the output is flushed, and drops what the client still sends for a while. */
  closeSoon(): void {
    this.state = S_CLOSED;
    this.since = this.front.ctx.sweeper.now;
    this.pending = EMPTY;
    this.pos = this.end = 0;
    if (this.pausedForBody || this.pausedForQueue) this.socket.resume();
    if (this.encrypted && this.inFlight > 0) this.tlsIdle = this.endSocket;
    else this.socket.end();
  }

  private readonly endSocket = (): void => {
    this.socket.end();
  };

  /** Hands the socket to the WebSocket tunnel, with the bytes that came after the head. */
  private upgrade(early: Buffer): void {
    this.state = S_TUNNEL;
    this.pending = EMPTY;
    this.pos = this.end = 0;
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('end');
    userBufferToStream(this.socket);
    tunnel(this.front.ctx, REQUEST, HEAD.minor === 1 ? '' : '400 Bad Request', this.socket, early);
  }

  /** The client closed its side: as nginx does, a request still in progress is given up (its client is gone). */
  private onEnd(): void {
    this.socket.destroy();
  }

  private onClose(): void {
    this.front.connections.delete(this);
    this.state = S_CLOSED;
    const res = this.res;
    this.res = null;
    if (res !== null && !res.done) {
      res.done = true;
      res.abortHandler?.();
    }
  }

  /** The sweep: closes idle keep-alive connections, answers 408 to a head that does not arrive, ends lingering. */
  expire(now: number): void {
    const age = now - this.since;
    if (this.state === S_HEAD && this.res === null) {
      const partial = this.pos < this.end;
      if (partial && age > HEAD_TIMEOUT_MS) {
        if (this.encrypted) this.refuse(408);
        else answerAndClose(this.socket, errorAnswer(408));
      } else if (!partial && age > KEEP_ALIVE_MS) this.socket.destroy();
    } else if (this.state === S_CLOSED && age > LINGER_MS) this.socket.destroy();
  }

  /** Drain: an idle connection closes now; a busy one after its response (which says `connection: close`). */
  drain(): void {
    if (this.state === S_HEAD && this.res === null && this.pos >= this.end) this.socket.destroy();
  }
}

/** The net front: one server per worker thread, all on one port where Node has reusePort (>= 22.12). */
export class NetFront implements Front {
  private readonly server: Server;
  readonly connections = new Set<NetConnection>();
  draining = false;
  private readonly sweep: NodeJS.Timeout;

  constructor(
    readonly ctx: ProxyContext,
    private readonly reusePort: boolean,
  ) {
    // Accepted paused, so the read buffer is set before the first read.
    this.server = createServer({ allowHalfOpen: true, noDelay: true, pauseOnConnect: true }, (socket) => this.adopt(socket));
    this.sweep = setInterval(() => {
      const now = this.ctx.sweeper.now;
      for (const c of this.connections) c.expire(now);
    }, 1000);
    this.sweep.unref();
  }

  /** Serves a connected socket: one this front accepted (paused), or a TLS socket the TLS front hands over. */
  adopt(socket: Socket): void {
    if (this.draining) return void socket.destroy();
    this.connections.add(new NetConnection(this, socket));
    socket.resume();
  }

  listen(host: string, port: number): Promise<number> {
    return listenOn(this.server, host, port, this.reusePort);
  }

  stopListening(): void {
    this.draining = true;
    if (this.server.listening) this.server.close();
    for (const c of this.connections) c.drain();
  }

  closeConnections(): void {
    clearInterval(this.sweep);
    for (const c of this.connections) c.socket.destroy();
  }
}
