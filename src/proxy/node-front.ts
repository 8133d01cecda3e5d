/**
 * The node:http front, behind the small uWS-shaped interface the proxy uses: slower than uWS, but it answers every
 * request: pipelined requests in order, HTTP/1.0, absolute-form targets, and a status for every request it will not
 * forward (node's parser errors become 400/414/431/501/505). Chosen with `front: "node"`, and where no native uWS loads.
 */
import { createServer, type IncomingMessage, type Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { type Front, type FrontRequest, type FrontResponse, listenOn } from './front.js';
import type { ProxyContext } from './proxy-context.js';
import { proxyRequest, refuse } from './proxy-request.js';
import { answerAndClose, errorAnswer, tunnel } from './websocket-tunnel.js';

/** The proxy passes uWS latin1 bytes (views of the upstream read buffer) or strings. */
function latin1(s: string | Uint8Array): string {
  return typeof s === 'string' ? s : Buffer.from(s.buffer, s.byteOffset, s.byteLength).toString('latin1');
}

/**
 * A copy of a body chunk: the proxy passes views of the upstream read buffer that are valid only during the call,
 * while node:http keeps a reference to what the socket does not take at once (and libuv writes it later).
 */
function owned(chunk: Uint8Array): Buffer {
  return Buffer.from(chunk);
}

/** An absolute-form request target (RFC 9112 §3.2.2): scheme, authority, and the rest. */
const ABSOLUTE_FORM = /^([a-zA-Z][a-zA-Z0-9+.-]*):\/\/([^/?#]*)(.*)$/;

/**
 * A node:http request seen through the uWS HttpRequest methods the proxy calls. An absolute-form target is taken
 * apart as RFC 9112 §3.2.2 says: its authority replaces the Host header and its path and query are forwarded.
 */
export class NodeFrontRequest implements FrontRequest {
  private readonly path: string;
  private readonly query: string;
  /** The authority of an absolute-form target, which stands for the Host header; null for origin-form. */
  private readonly host: string | null = null;
  /** The status line to refuse the request with, or '' when it may be forwarded. */
  readonly problem: string = '';

  constructor(private readonly req: IncomingMessage) {
    let url = req.url ?? '/';
    if (req.httpVersionMajor !== 1) this.problem = '505 HTTP Version Not Supported';
    else if (url.charCodeAt(0) !== 47 && url !== '*') {
      const m = ABSOLUTE_FORM.exec(url);
      const scheme = m?.[1]?.toLowerCase();
      if (m === null || (scheme !== 'http' && scheme !== 'https') || m[2] === '' || m[2]!.includes('@') || m[3]!.startsWith('#'))
        this.problem = '400 Bad Request';
      else {
        this.host = m[2]!;
        url = m[3] === '' ? '/' : m[3]!.startsWith('?') ? `/${m[3]}` : m[3]!;
      }
    }
    const q = url.indexOf('?');
    this.path = q < 0 ? url : url.slice(0, q);
    this.query = q < 0 ? '' : url.slice(q + 1);
  }
  getCaseSensitiveMethod(): string {
    return this.req.method ?? 'GET';
  }
  getHeader(key: string): string {
    if (key === 'host' && this.host !== null) return this.host;
    const v = this.req.headers[key];
    return v === undefined ? '' : Array.isArray(v) ? v.join(', ') : v;
  }
  getUrl(): string {
    return this.path;
  }
  getQuery(): string {
    return this.query;
  }
  forEach(cb: (key: string, value: string) => void): void {
    const host = this.host;
    if (host !== null) cb('host', host);
    const raw = this.req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) {
      const key = raw[i]!.toLowerCase();
      if (host === null || key !== 'host') cb(key, raw[i + 1]!);
    }
  }
}

/** A node:http response with uWS HttpResponse semantics: tryEnd offsets, onWritable on drain, onAborted on early close. */
export class NodeFrontResponse implements FrontResponse {
  private status = 200;
  private reason = '';
  private written = 0;
  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
  ) {}
  cork(cb: () => void): this {
    cb();
    return this;
  }
  writeStatus(status: string | Uint8Array): this {
    const text = latin1(status);
    this.status = parseInt(text, 10);
    this.reason = text.slice(4);
    return this;
  }
  writeHeader(key: string | Uint8Array, value: string | Uint8Array): this {
    this.res.appendHeader(latin1(key), latin1(value));
    return this;
  }
  private head(): void {
    if (!this.res.headersSent) this.res.writeHead(this.status, this.reason || undefined);
  }
  end(body?: string | Uint8Array, closeConnection?: boolean): this {
    if (closeConnection) {
      this.res.setHeader('connection', 'close');
      // Requests pipelined behind this one would get no answer: they must not reach a backend either.
      (this.req.socket as ClientSocket).sabreClosing = true;
    }
    if (body !== undefined && !this.res.headersSent)
      this.res.setHeader('content-length', typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength);
    this.head();
    this.res.end(body === undefined || typeof body === 'string' ? body : owned(body));
    return this;
  }
  endWithoutBody(reportedContentLength?: number): this {
    if (reportedContentLength !== undefined) this.res.setHeader('content-length', reportedContentLength);
    this.head();
    this.res.end();
    return this;
  }
  /** node:http buffers what it cannot send, so the whole chunk always counts as written; `ok` reports backpressure. */
  tryEnd(chunk: Uint8Array, totalSize: number): [boolean, boolean] {
    if (!this.res.headersSent) {
      this.res.setHeader('content-length', totalSize);
      this.head();
    }
    this.written += chunk.byteLength;
    const ok = chunk.byteLength === 0 || this.res.write(owned(chunk));
    const done = this.written >= totalSize;
    if (done) this.res.end();
    return [ok || done, done];
  }
  write(chunk: Uint8Array): boolean {
    this.head();
    this.written += chunk.byteLength;
    return this.res.write(owned(chunk));
  }
  getWriteOffset(): number {
    return this.written;
  }
  onWritable(handler: (offset: number) => boolean): this {
    this.res.once('drain', () => handler(this.written));
    return this;
  }
  onAborted(handler: () => void): this {
    this.res.on('close', () => {
      if (!this.res.writableFinished) handler();
    });
    return this;
  }
  onData(handler: (chunk: ArrayBuffer | Uint8Array, isLast: boolean) => void): this {
    this.req.on('data', (c: Buffer) => handler(c, false));
    this.req.on('end', () => handler(new ArrayBuffer(0), true));
    return this;
  }
  pause(): void {
    this.req.pause();
  }
  resume(): void {
    this.req.resume();
  }
  close(): this {
    this.res.destroy();
    return this;
  }
  getRemoteAddressAsText(): ArrayBuffer {
    return new TextEncoder().encode(this.req.socket.remoteAddress ?? '').buffer as ArrayBuffer;
  }
}

/** The client's address as text, as node:http reports it. */
export function nodeRemoteAddress(res: FrontResponse): string {
  return Buffer.from(res.getRemoteAddressAsText()).toString();
}

/** The longest request line that still gets 431 rather than 414 when node's 16 KiB head limit is passed. */
const MAX_REQUEST_LINE = 8192;

/** The status for a request node's parser rejected (llhttp error codes), as nginx would answer it. */
function clientErrorStatus(err: NodeJS.ErrnoException & { rawPacket?: Buffer }): number {
  switch (err.code) {
    case 'HPE_HEADER_OVERFLOW': {
      // The head passed 16 KiB: when the bytes start with a request line that has not ended yet, the target is too long.
      const raw = err.rawPacket;
      if (raw !== undefined && /^[A-Za-z]+ /.test(raw.toString('latin1', 0, 16))) {
        const lf = raw.indexOf(10);
        if (lf < 0 || lf > MAX_REQUEST_LINE) return 414;
      }
      return 431;
    }
    case 'HPE_INVALID_METHOD':
      return 501;
    case 'HPE_INVALID_VERSION':
      return 505;
    case 'HPE_INVALID_TRANSFER_ENCODING':
      // The same code for a coding llhttp does not take and for one next to a Content-Length (a bad request).
      return /content-length/i.test((err as { reason?: string }).reason ?? '') ? 400 : 501;
    case 'ERR_HTTP_REQUEST_TIMEOUT':
      return 408;
    default:
      return 400;
  }
}

/** Per client socket: responses not yet finished, and an error answer that must wait for them (pipelining order). */
interface ClientSocket extends Socket {
  sabrePending?: number;
  sabreErrorAnswer?: string;
  /** A response that closes the connection is queued: later requests on it are not proxied. */
  sabreClosing?: boolean;
}

/** Counts a response as pending on its socket until it closes; an error answer waiting for it goes out after the last. */
function trackPending(socket: ClientSocket, res: ServerResponse): void {
  socket.sabrePending = (socket.sabrePending ?? 0) + 1;
  res.once('close', () => {
    if (--socket.sabrePending! === 0 && socket.sabreErrorAnswer !== undefined) answerAndClose(socket, socket.sabreErrorAnswer);
  });
}

/** Proxies one request through node:http, or refuses it (version, target) with a status and a closed connection. */
function handle(ctx: ProxyContext, req: IncomingMessage, res: ServerResponse): void {
  // node:http ends the connection after the closing response; this request's response is dropped with it.
  if ((req.socket as ClientSocket).sabreClosing) return;
  trackPending(req.socket, res);
  const fres = new NodeFrontResponse(req, res);
  const freq = new NodeFrontRequest(req);
  if (freq.problem !== '') refuse(fres, freq.problem);
  else proxyRequest(ctx, fres, freq);
}

/** A WebSocket upgrade through the node:http front: the tunnel of websocket-tunnel.ts. */
function upgrade(ctx: ProxyContext, req: IncomingMessage, socket: Socket, early: Buffer): void {
  const freq = new NodeFrontRequest(req);
  tunnel(ctx, freq, freq.problem, socket, early);
}

/** The node:http front: one server per worker thread, all on one port where Node has reusePort (>= 22.12). */
export class NodeFront implements Front {
  private readonly server: Server;

  constructor(
    ctx: ProxyContext,
    private readonly reusePort: boolean,
  ) {
    // No whole-request deadline: a long upload is fine while bytes flow (timeouts.idle cuts a stalled one).
    this.server = createServer({ noDelay: true, requestTimeout: 0 }, (req, res) => handle(ctx, req, res));
    // No cap on the header count (node drops headers past 2000 silently); the 16 KiB head limit bounds it (431).
    this.server.maxHeadersCount = 0;
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: ClientSocket) => {
      if (err.code === 'ECONNRESET' || err.code === 'EPIPE' || !socket.writable) return void socket.destroy();
      const answer = errorAnswer(clientErrorStatus(err));
      // Responses to earlier pipelined requests go first.
      if ((socket.sabrePending ?? 0) > 0) socket.sabreErrorAnswer = answer;
      else answerAndClose(socket, answer);
    });
    // A reverse proxy opens no tunnels.
    this.server.on('connect', (_req: IncomingMessage, socket: Socket) => {
      socket.on('error', () => undefined);
      answerAndClose(socket, errorAnswer(501));
    });
    this.server.on('upgrade', (req: IncomingMessage, socket: Socket, early: Buffer) => {
      if (/^websocket$/i.test(req.headers.upgrade ?? '') && req.method === 'GET') return upgrade(ctx, req, socket, early);
      // Other upgrades (h2c) are optional for a server: served as a plain request on a connection that then closes.
      socket.on('error', () => undefined);
      if (req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined)
        return answerAndClose(socket, errorAnswer(501));
      const res = new ServerResponse(req);
      res.shouldKeepAlive = false;
      res.assignSocket(socket);
      res.once('finish', () => socket.destroySoon());
      handle(ctx, req, res);
    });
  }

  listen(host: string, port: number): Promise<number> {
    return listenOn(this.server, host, port, this.reusePort);
  }

  stopListening(): void {
    if (!this.server.listening) return;
    this.server.close();
    this.server.closeIdleConnections();
  }

  closeConnections(): void {
    this.server.closeAllConnections();
  }
}
