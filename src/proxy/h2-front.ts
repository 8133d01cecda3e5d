/**
 * HTTP/2 to clients: TLS connections that chose `h2` by ALPN are served by node:http2 sessions, and each stream goes
 * through the same proxyRequest/Exchange as an HTTP/1.1 request (balancer, retries, limits, health), forwarded to
 * the backends over HTTP/1.1. The stream is seen through the uWS-shaped FrontRequest/FrontResponse the proxy calls.
 */
import {
  constants,
  createServer,
  type Http2Server,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Session,
  type ServerHttp2Stream,
} from 'node:http2';
import type { Socket } from 'node:net';
import type { FrontRequest, FrontResponse } from './front.js';
import type { ProxyContext } from './proxy-context.js';
import { proxyRequest, refuse } from './proxy-request.js';

const EMPTY = Buffer.alloc(0);
/** Idle sessions close after this (nginx's keepalive_timeout for HTTP/2 is 75 s). */
const SESSION_IDLE_MS = 75_000;

/** Response fields HTTP/2 forbids (RFC 9113 §8.2.2); node:http2 throws on them. */
const CONNECTION_SPECIFIC = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade']);

function latin1(s: string | Uint8Array): string {
  return typeof s === 'string' ? s : Buffer.from(s.buffer, s.byteOffset, s.byteLength).toString('latin1');
}

/** A copy: the proxy passes views of the upstream read buffer, and http2 keeps what it has not sent yet. */
function owned(chunk: string | Uint8Array): Buffer {
  return typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : Buffer.from(chunk);
}

// The stream being handled (read synchronously by proxyRequest), as a uWS HttpRequest.
let rqHeaders: IncomingHttpHeaders = {};
let rqPath = '/';
let rqQuery = '';
/** The request has a body but no content-length: it goes upstream chunked. */
let rqChunked = false;

function headerValue(v: string | string[] | undefined): string {
  return v === undefined ? '' : Array.isArray(v) ? v.join(', ') : v;
}

/** The current stream's request through the methods proxyRequest calls; :authority stands for Host (RFC 9113 §8.3.1). */
const REQUEST: FrontRequest = {
  getCaseSensitiveMethod: (): string => rqHeaders[':method'] ?? 'GET',
  getHeader(key: string): string {
    if (key === 'host') return headerValue(rqHeaders[':authority'] ?? rqHeaders.host);
    return headerValue(rqHeaders[key]);
  },
  getUrl: (): string => rqPath,
  getQuery: (): string => rqQuery,
  forEach(cb: (key: string, value: string) => void): void {
    const h = rqHeaders;
    const authority = h[':authority'];
    if (authority !== undefined) cb('host', authority);
    for (const k in h) {
      if (k.charCodeAt(0) === 58 || (k === 'host' && authority !== undefined)) continue;
      const v = h[k];
      // node:http2 has already joined cookie crumbs with '; ' (RFC 9113 §8.2.3).
      if (Array.isArray(v)) for (const one of v) cb(k, one);
      else if (v !== undefined) cb(k, v);
    }
    if (rqChunked) cb('transfer-encoding', 'chunked');
  },
};

/** The client side of one connection's streams (X-Forwarded-For); shaped as net-front's connection for its remoteAddress. */
interface Peer {
  remoteIp: string;
}

/** One stream's response with uWS HttpResponse semantics: the head is sent with the first body bytes or the end. */
class H2Response implements FrontResponse {
  private status = 200;
  private headers: OutgoingHttpHeaders = {};
  private responded = false;
  private done = false;
  private written = 0;

  constructor(
    private readonly stream: ServerHttp2Stream,
    /** Named as net-front's NetResponse.conn, so the worker's remoteAddress reads both. */
    readonly conn: Peer,
  ) {}

  cork(cb: () => void): this {
    cb();
    return this;
  }
  writeStatus(status: string | Uint8Array): this {
    this.status = parseInt(latin1(status), 10);
    return this;
  }
  writeHeader(key: string | Uint8Array, value: string | Uint8Array): this {
    const k = latin1(key).toLowerCase();
    if (this.responded || CONNECTION_SPECIFIC.has(k)) return this;
    const v = latin1(value);
    const prev = this.headers[k];
    if (prev === undefined) this.headers[k] = v;
    else if (Array.isArray(prev)) prev.push(v);
    else this.headers[k] = [String(prev), v];
    return this;
  }
  /** Sends the head; `length` >= 0 adds content-length. False when the stream is gone or the head was refused. */
  private respond(endStream: boolean, length: number): boolean {
    if (this.responded) return true;
    this.responded = true;
    const h = this.headers;
    h[':status'] = this.status;
    if (length >= 0 && this.status !== 204 && this.status !== 304) h['content-length'] = length;
    if (this.stream.destroyed) return false;
    try {
      this.stream.respond(h, { endStream });
      return true;
    } catch {
      // A header value http2 will not carry: the stream is reset rather than answered wrongly.
      this.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
      return false;
    }
  }
  private finish(closeRequest: boolean): void {
    this.done = true;
    // A refused request's body is read and dropped, so the stream closes cleanly once the client has sent it.
    if (closeRequest && !this.stream.readableEnded && this.stream.listenerCount('data') === 0) this.stream.resume();
  }
  end(body?: string | Uint8Array, closeConnection?: boolean): this {
    if (this.done) return this;
    const n = body === undefined ? 0 : typeof body === 'string' ? Buffer.byteLength(body, 'latin1') : body.byteLength;
    if (!this.responded) {
      if (this.respond(n === 0, n) && n > 0) this.stream.end(owned(body!));
    } else if (!this.stream.destroyed) this.stream.end(n > 0 ? owned(body!) : undefined);
    this.written += n;
    this.finish(closeConnection === true);
    return this;
  }
  endWithoutBody(reportedContentLength?: number): this {
    if (this.done) return this;
    if (!this.responded) this.respond(true, reportedContentLength ?? -1);
    else if (!this.stream.destroyed) this.stream.end();
    this.finish(false);
    return this;
  }
  /** The whole chunk is always taken (as net-front does); `ok` reports backpressure. */
  tryEnd(chunk: Uint8Array, totalSize: number): [boolean, boolean] {
    if (this.done) return [true, true];
    if (!this.respond(false, totalSize)) return [true, true];
    this.written += chunk.byteLength;
    if (this.written >= totalSize) {
      this.stream.end(chunk.byteLength > 0 ? owned(chunk) : undefined);
      this.finish(false);
      return [true, true];
    }
    return [chunk.byteLength === 0 || this.stream.write(owned(chunk)), false];
  }
  write(chunk: Uint8Array): boolean {
    if (this.done || !this.respond(false, -1)) return true;
    this.written += chunk.byteLength;
    return chunk.byteLength === 0 || this.stream.write(owned(chunk));
  }
  getWriteOffset(): number {
    return this.written;
  }
  onWritable(handler: (offset: number) => boolean): this {
    if (this.stream.writableNeedDrain) this.stream.once('drain', () => handler(this.written));
    else process.nextTick(() => handler(this.written));
    return this;
  }
  onAborted(handler: () => void): this {
    this.stream.once('close', () => {
      if (this.done) return;
      this.done = true;
      handler();
    });
    return this;
  }
  onData(handler: (chunk: ArrayBuffer | Uint8Array, isLast: boolean) => void): this {
    this.stream.on('data', (c: Buffer) => handler(c, false));
    this.stream.once('end', () => handler(EMPTY, true));
    return this;
  }
  pause(): void {
    this.stream.pause();
  }
  resume(): void {
    this.stream.resume();
  }
  close(): this {
    if (!this.done) {
      this.done = true;
      if (!this.stream.destroyed) this.stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    }
    return this;
  }
  getRemoteAddressAsText(): ArrayBuffer {
    const b = Buffer.from(this.conn.remoteIp, 'latin1');
    return b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;
  }
}

const noop = (): void => undefined;

/** HTTP/2 sessions of one worker thread, fed the TLS sockets that negotiated h2. */
export class H2Front {
  private readonly server: Http2Server;
  private readonly sessions = new Set<ServerHttp2Session>();
  private readonly peers = new WeakMap<ServerHttp2Session, Peer>();
  private draining = false;

  constructor(private readonly ctx: ProxyContext) {
    // A plain http2 server: the sockets it gets have done their TLS handshake already (tls-front.ts).
    this.server = createServer({ settings: { maxConcurrentStreams: 256 } });
    this.server.setTimeout(SESSION_IDLE_MS);
    this.server.on('session', (session: ServerHttp2Session) => {
      this.sessions.add(session);
      this.peers.set(session, { remoteIp: session.socket?.remoteAddress ?? '' });
      session.on('error', noop);
      session.once('close', () => this.sessions.delete(session));
    });
    this.server.on('sessionError', noop);
    this.server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number) =>
      this.onStream(stream, headers, flags),
    );
  }

  /** Serves a TLS socket whose ALPN protocol is h2. */
  adopt(socket: Socket): void {
    if (this.draining) return void socket.destroy();
    this.server.emit('connection', socket);
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number): void {
    stream.on('error', noop);
    const session = stream.session;
    const peer = (session !== undefined ? this.peers.get(session as ServerHttp2Session) : undefined) ?? { remoteIp: '' };
    const res = new H2Response(stream, peer);
    const method = headers[':method'];
    const target = headers[':path'];
    // CONNECT (RFC 9113 §8.5) opens a tunnel, which a reverse proxy does not.
    if (method === 'CONNECT') return refuse(res, '501 Not Implemented');
    if (target === undefined || target === '') return refuse(res, '400 Bad Request');
    const q = target.indexOf('?');
    rqHeaders = headers;
    rqPath = q < 0 ? target : target.slice(0, q);
    rqQuery = q < 0 ? '' : target.slice(q + 1);
    rqChunked = (flags & constants.NGHTTP2_FLAG_END_STREAM) === 0 && headers['content-length'] === undefined;
    proxyRequest(this.ctx, res, REQUEST);
  }

  /** Draining: every session is told (GOAWAY) to open no new streams; streams in flight finish. */
  stopListening(): void {
    this.draining = true;
    for (const s of this.sessions) s.close();
  }

  closeConnections(): void {
    for (const s of this.sessions) s.destroy();
  }
}
