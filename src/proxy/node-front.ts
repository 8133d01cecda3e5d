/** The slow path for Node versions without a native uWS: node:http behind the small uWS-shaped interface the proxy uses. */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, ListenOptions } from 'node:net';
import type { Front, FrontRequest, FrontResponse } from './front.js';
import type { ProxyContext } from './proxy-context.js';
import { proxyRequest } from './proxy-request.js';

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

/** A node:http request seen through the uWS HttpRequest methods the proxy calls. */
export class NodeFrontRequest implements FrontRequest {
  private readonly q: number;
  constructor(private readonly req: IncomingMessage) {
    this.q = (req.url ?? '/').indexOf('?');
  }
  getCaseSensitiveMethod(): string {
    return this.req.method ?? 'GET';
  }
  getHeader(key: string): string {
    const v = this.req.headers[key];
    return v === undefined ? '' : Array.isArray(v) ? v.join(', ') : v;
  }
  getUrl(): string {
    const url = this.req.url ?? '/';
    return this.q < 0 ? url : url.slice(0, this.q);
  }
  getQuery(): string {
    return this.q < 0 ? '' : (this.req.url ?? '').slice(this.q + 1);
  }
  forEach(cb: (key: string, value: string) => void): void {
    const raw = this.req.rawHeaders;
    for (let i = 0; i < raw.length; i += 2) cb(raw[i]!.toLowerCase(), raw[i + 1]!);
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
    if (closeConnection) this.res.setHeader('connection', 'close');
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

/** The node:http front: one server per worker thread, all on one port where Node has reusePort (>= 22.12). */
export class NodeFront implements Front {
  private readonly server: Server;

  constructor(
    ctx: ProxyContext,
    private readonly reusePort: boolean,
  ) {
    this.server = createServer({ noDelay: true }, (req, res) =>
      proxyRequest(ctx, new NodeFrontResponse(req, res), new NodeFrontRequest(req)),
    );
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.on('error', (err) => reject(new Error(`cannot listen on ${host}:${port}: ${err.message}`)));
      // reusePort (Node >= 22.12) lets every thread bind the same port, as uWS does natively.
      this.server.listen({ host, port, reusePort: this.reusePort } as ListenOptions, () =>
        resolve((this.server.address() as AddressInfo).port),
      );
    });
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
