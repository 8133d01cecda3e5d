/** Forwards one client request (uWS) to a backend (upstream client) and streams the response back, both ways with backpressure. */
import type { PolicyEngine } from '../limiter/policy.js';
import type { ProxyConfig } from './config.js';
import { C_ERRORS, C_REQUESTS, C_RETRIES, C_TIMEOUTS, type BackendTable } from './backend-table.js';
import type { Balancer } from './balancer.js';
import { stickyToken } from './balancer.js';
import {
  BODY_LENGTH,
  BODY_NONE,
  F_OTHER,
  type ExchangeHandler,
  type ResponseHead,
  type TimeoutSweeper,
  type UpstreamConnection,
  type UpstreamError,
  UpstreamPool,
  view,
} from './upstream-client.js';
import { LatencyRecorder } from './latency.js';
// The module binding, not the global: globalThis.performance is a lazy getter, run on every read.
import { performance } from 'node:perf_hooks';

/** Hop-by-hop headers (RFC 9110 §7.6.1) plus those the proxy frames itself. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'content-length',
  'host',
  'x-forwarded-for',
  'x-forwarded-proto',
  'x-forwarded-host',
  'via',
]);
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'TRACE']);

/** What chunked-body writes may put into uWS's 16 KiB cork buffer (the status line and headers count too). */
const CORK_BUDGET = 12 * 1024;

const JSON_502 = '{"error":"bad gateway","reason":"upstream connection failed"}';
const JSON_503 = '{"error":"service unavailable","reason":"no healthy backend"}';
const JSON_504 = '{"error":"gateway timeout","reason":"upstream timed out"}';
const JSON_413 = '{"error":"payload too large"}';

/** The uWS HttpResponse methods the proxy uses (node-front.ts provides them over node:http where uWS is unavailable). */
export interface FrontResponse {
  cork(cb: () => void): unknown;
  /** Strings, or latin1 bytes (views into the upstream read buffer, valid only during the call). */
  writeStatus(status: string | Uint8Array): unknown;
  writeHeader(key: string | Uint8Array, value: string | Uint8Array): unknown;
  end(body?: string | Uint8Array, closeConnection?: boolean): unknown;
  endWithoutBody(reportedContentLength?: number): unknown;
  tryEnd(chunk: Uint8Array, totalSize: number): [boolean, boolean];
  write(chunk: Uint8Array): boolean;
  getWriteOffset(): number;
  onWritable(handler: (offset: number) => boolean): unknown;
  onAborted(handler: () => void): unknown;
  /** uWS passes an ArrayBuffer valid only during the call; node-front passes a Buffer it never reuses. */
  onData(handler: (chunk: ArrayBuffer | Uint8Array, isLast: boolean) => void): unknown;
  pause(): void;
  resume(): void;
  close(): unknown;
  /** The client address in binary, 4 bytes (IPv4) or 16 (IPv6): uWS only (ProxyContext.remoteAddress picks). */
  getRemoteAddress?(): ArrayBuffer;
  getRemoteAddressAsText(): ArrayBuffer;
}

/** The uWS HttpRequest methods the proxy uses. */
export interface FrontRequest {
  getCaseSensitiveMethod(): string;
  getHeader(lowerCaseKey: string): string;
  getUrl(): string;
  getQuery(): string;
  forEach(cb: (key: string, value: string) => void): void;
}

/** Everything one worker thread's requests share. */
export class ProxyContext {
  readonly pools: Array<UpstreamPool | undefined> = [];
  readonly urls: Array<string | undefined> = [];
  readonly histograms: Array<LatencyRecorder | undefined> = [];
  /** Requests this thread has in flight (shutdown waits for zero). */
  inflight = 0;
  /** Rate-limit policies checked before a request is proxied (null: none configured). */
  limiter: PolicyEngine | null = null;
  /** The client's address as text (X-Forwarded-For); the node:http front end replaces it. */
  remoteAddress: (res: FrontResponse) => string = (res) => addressText(res.getRemoteAddress!());

  constructor(
    readonly worker: number,
    readonly table: BackendTable,
    readonly balancer: Balancer,
    readonly sweeper: TimeoutSweeper,
    public config: ProxyConfig,
  ) {}

  /** Replaces the slot → url map; pools of removed or changed slots close. */
  setBackends(list: ReadonlyArray<{ slot: number; url: string }>): void {
    const keep = new Set<number>();
    for (const { slot, url } of list) {
      keep.add(slot);
      if (this.urls[slot] !== url) {
        this.pools[slot]?.close();
        this.urls[slot] = url;
        this.pools[slot] = new UpstreamPool(url, this.config.timeouts, this.sweeper);
        this.histograms[slot] = new LatencyRecorder();
      }
    }
    for (let s = 0; s < this.urls.length; s++) {
      if (this.urls[s] !== undefined && !keep.has(s)) {
        this.pools[s]?.close();
        this.pools[s] = this.urls[s] = this.histograms[s] = undefined;
      }
    }
    this.balancer.setBackends(list);
  }

  /** Applies a reloaded config to the thread. */
  setConfig(config: ProxyConfig): void {
    this.config = config;
    this.balancer.algorithm = config.algorithm;
    for (const p of this.pools) if (p) Object.assign(p.timeouts, config.timeouts);
  }

  /** Closes idle upstream connections past their keep-alive time. */
  reap(): void {
    for (const p of this.pools) p?.reap();
  }
}

/** Text form of a binary client address, as uWS's getRemoteAddressAsText writes it (IPv6: eight 4-digit hex groups). */
export function addressText(ab: ArrayBuffer): string {
  const b = new Uint8Array(ab);
  if (b.length === 4) {
    const key = ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0;
    let text = IPV4_TEXT.get(key);
    if (text === undefined) {
      if (IPV4_TEXT.size >= 4096) IPV4_TEXT.clear();
      text = `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
      IPV4_TEXT.set(key, text);
    }
    return text;
  }
  if (b.length !== 16) return '';
  let text = '';
  for (let i = 0; i < 16; i += 2) text += (i === 0 ? '' : ':') + HEX[b[i]!] + HEX[b[i + 1]!];
  return text;
}
const IPV4_TEXT = new Map<number, string>();
const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

// What one pass over the request headers collects. req.forEach calls back synchronously, so one module-level
// callback and these fields serve every request without a closure or a getHeader() call per header.
let rqForward = '';
let rqHost = '';
let rqLength = '';
let rqChunked = false;
let rqConnection = '';
let rqXff = '';
let rqVia = '';
let rqCookie = '';
let rqSeen = 0;
const SEEN_HOST = 1;
const SEEN_LENGTH = 2;
const SEEN_TE = 4;
const SEEN_CONNECTION = 8;
const SEEN_COOKIE = 16;

/** Sorts one request header: hop-by-hop and proxy-written ones are kept aside, the rest is forwarded as is. */
function collectHeader(k: string, v: string): void {
  switch (k) {
    case 'host':
      if ((rqSeen & SEEN_HOST) === 0) rqHost = v;
      rqSeen |= SEEN_HOST;
      return;
    case 'content-length':
      if ((rqSeen & SEEN_LENGTH) === 0) rqLength = v;
      rqSeen |= SEEN_LENGTH;
      return;
    case 'transfer-encoding':
      if ((rqSeen & SEEN_TE) === 0) rqChunked = v !== '';
      rqSeen |= SEEN_TE;
      return;
    case 'connection':
      if ((rqSeen & SEEN_CONNECTION) === 0) rqConnection = v;
      rqSeen |= SEEN_CONNECTION;
      return;
    case 'x-forwarded-for':
      rqXff = rqXff === '' ? v : rqXff + ', ' + v;
      return;
    case 'via':
      rqVia = rqVia === '' ? v : rqVia + ', ' + v;
      return;
    case 'keep-alive':
    case 'proxy-connection':
    case 'te':
    case 'trailer':
    case 'upgrade':
    case 'x-forwarded-proto':
    case 'x-forwarded-host':
      return;
    case 'cookie':
      if ((rqSeen & SEEN_COOKIE) === 0) rqCookie = v;
      rqSeen |= SEEN_COOKIE;
      break;
  }
  rqForward += k + ': ' + v + '\r\n';
}

/** Handles one request: call from app.any() with the live (res, req). */
export function proxyRequest(ctx: ProxyContext, res: FrontResponse, req: FrontRequest): void {
  const cfg = ctx.config;
  rqForward = rqHost = rqLength = rqConnection = rqXff = rqVia = rqCookie = '';
  rqChunked = false;
  rqSeen = 0;
  req.forEach(collectHeader);
  const chunked = rqChunked;
  const declared = rqLength === '' ? -1 : +rqLength;
  if (declared > cfg.maxBodySize) {
    res.cork(() => {
      res.writeStatus('413 Payload Too Large');
      res.writeHeader('content-type', 'application/json');
      res.end(JSON_413, true);
    });
    return;
  }
  const method = req.getCaseSensitiveMethod();
  const clientIp = ctx.remoteAddress(res);
  let limitHeaders: Record<string, string> | null = null;
  if (ctx.limiter !== null) {
    const d = ctx.limiter.evaluateSync({ method, path: req.getUrl(), ip: clientIp, header: (n) => req.getHeader(n) || undefined })!;
    if (!d.allowed) {
      res.cork(() => {
        res.writeStatus(d.status === 429 ? '429 Too Many Requests' : '400 Bad Request');
        for (const k in d.headers) res.writeHeader(k, d.headers[k]!);
        res.writeHeader('content-type', 'application/problem+json');
        res.end(d.body ?? '', true);
      });
      return;
    }
    limitHeaders = d.headers;
  }
  const query = req.getQuery();
  const connTokens = rqConnection;
  let forward = rqForward;
  if (connTokens !== '' && !/^\s*(keep-alive|close)\s*$/i.test(connTokens)) {
    // Headers named in Connection are hop-by-hop too (rare: the common values need no second pass).
    const extraHop = new Set(connTokens.toLowerCase().split(',').map((t) => t.trim()));
    forward = '';
    req.forEach((k, v) => {
      if (!HOP_BY_HOP.has(k) && !extraHop.has(k)) forward += `${k}: ${v}\r\n`;
    });
  }
  const host = rqHost;
  const xff = rqXff;
  const via = rqVia;
  let head =
    method +
    ' ' +
    req.getUrl() +
    (query ? '?' + query : '') +
    ' HTTP/1.1\r\nhost: ' +
    host +
    '\r\n' +
    forward +
    'x-forwarded-for: ' +
    (xff ? xff + ', ' + clientIp : clientIp) +
    '\r\nx-forwarded-proto: http\r\nx-forwarded-host: ' +
    host +
    (via ? '\r\nvia: ' + via + ', 1.1 sabre\r\n' : '\r\nvia: 1.1 sabre\r\n');
  if (chunked) head += 'transfer-encoding: chunked\r\n\r\n';
  else if (declared >= 0) head += 'content-length: ' + declared + '\r\n\r\n';
  else head += '\r\n';

  let sticky = -1;
  const stickyCfg = cfg.sticky;
  if (stickyCfg !== null) {
    const cookie = rqCookie;
    const at = cookie.indexOf(stickyCfg.cookie + '=');
    if (at >= 0 && (at === 0 || cookie[at - 1] === ' ' || cookie[at - 1] === ';')) {
      const start = at + stickyCfg.cookie.length + 1;
      const end = cookie.indexOf(';', start);
      sticky = ctx.balancer.stickySlot(cookie.slice(start, end < 0 ? undefined : end));
    }
  }
  const ex = new Exchange(ctx, res, method, head, clientIp, chunked || declared > 0, chunked);
  ex.limitHeaders = limitHeaders;
  res.onAborted(() => ex.onAborted());
  ex.begin(sticky);
  if (ex.hasBody && !ex.isDone()) res.onData((ab, last) => ex.onRequestData(ab, last));
}

/** One proxied request: its backend attempt(s) and the response stream back to the client. */
class Exchange implements ExchangeHandler {
  private slot = -1;
  private conn: UpstreamConnection | null = null;
  private aborted = false;
  private done = false;
  private responded = false;
  private attempts = 0;
  private bodyBytes = 0;
  private bodyKind = BODY_NONE;
  private total = 0;
  private pendingChunk: Buffer | null = null;
  private pendingOffset = 0;
  private setCookie: string | null = null;
  /** RateLimit headers an admitted request's response carries. */
  limitHeaders: Record<string, string> | null = null;
  /** The slot the request ended on, for counters after the in-flight count is released. */
  private lastSlot = -1;
  private completed = false;
  /** Bytes written in the current res.cork(), and chunked-body data held back until it ends. */
  private corkUsed = 0;
  private deferred: Buffer[] | null = null;
  private endDeferred = false;
  /** Body bytes uWS accepted for a length-framed response (its write offset, tracked here to save a call per chunk). */
  private sent = 0;
  private readonly startedAt = performance.now();
  private writableFn: ((offset: number) => boolean) | null = null;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly res: FrontResponse,
    private readonly method: string,
    private readonly head: string,
    private readonly clientIp: string,
    readonly hasBody: boolean,
    private readonly chunkedUpload: boolean,
  ) {
    ctx.inflight++;
  }

  isDone(): boolean {
    return this.done;
  }

  /** Picks a backend (the sticky one when given) and sends the request head. */
  begin(sticky: number): void {
    const ctx = this.ctx;
    const slot = sticky >= 0 ? sticky : ctx.balancer.pick(this.clientIp, -1);
    if (slot < 0) return this.failResponse('503 Service Unavailable', JSON_503);
    if (ctx.config.sticky !== null && sticky < 0) this.setCookie = `${ctx.config.sticky.cookie}=${stickyToken(ctx.urls[slot]!)}; Path=/; HttpOnly`;
    this.send(slot);
  }

  private send(slot: number): void {
    const pool = this.ctx.pools[slot];
    if (pool === undefined) return this.failResponse('503 Service Unavailable', JSON_503);
    this.slot = slot;
    this.attempts++;
    this.ctx.table.acquire(slot);
    this.conn = pool.acquire();
    this.conn.send(this.head, this, this.method === 'HEAD', this.hasBody);
  }

  /** A request body chunk from the client; an ArrayBuffer (uWS) is only valid during this call. */
  onRequestData(ab: ArrayBuffer | Uint8Array, last: boolean): void {
    if (this.done) return;
    this.bodyBytes += ab.byteLength;
    if (this.bodyBytes > this.ctx.config.maxBodySize) {
      this.dropUpstream();
      if (!this.responded) this.failResponse('413 Payload Too Large', JSON_413);
      return;
    }
    const conn = this.conn;
    if (conn === null) return;
    let ok = true;
    if (ab.byteLength > 0) {
      let copy: Uint8Array;
      if (ab instanceof Uint8Array) copy = ab;
      else {
        copy = Buffer.allocUnsafe(ab.byteLength);
        copy.set(new Uint8Array(ab));
      }
      if (this.chunkedUpload) {
        conn.write(ab.byteLength.toString(16) + '\r\n');
        conn.write(copy);
        ok = conn.write('\r\n');
      } else ok = conn.write(copy);
    }
    if (last) {
      if (this.chunkedUpload) ok = conn.write('0\r\n\r\n');
      conn.endBody();
    }
    if (!ok && !last) {
      // Upstream is slower than the client: stop reading the client until the socket drains.
      this.res.pause();
      conn.socket.once('drain', () => {
        if (!this.done) this.res.resume();
      });
    }
  }

  corked(fn: () => void): void {
    if (this.done) {
      fn();
      return;
    }
    this.corkUsed = 0;
    this.res.cork(fn);
    if (this.deferred !== null) this.flushDeferred();
  }

  /** Writes chunks held back from the cork, now uncorked (uWS buffers what the socket does not take). */
  private flushDeferred(): void {
    const list = this.deferred!;
    this.deferred = null;
    let ok = true;
    for (const c of list) if (!this.res.write(c)) ok = false;
    if (this.endDeferred) {
      this.endDeferred = false;
      this.res.end();
    } else if (!ok) this.pauseUpstream();
  }

  private pauseUpstream(): void {
    this.conn?.socket.pause();
    this.res.onWritable((this.writableFn ??= (offset: number): boolean => this.onWritable(offset)));
  }

  onHead(head: ResponseHead, bodyKind: number, contentLength: number): void {
    const res = this.res;
    this.responded = true;
    this.bodyKind = bodyKind;
    const status = head.status;
    // Status and headers go to uWS as views of the received bytes: no strings are made for them. Framing,
    // hop-by-hop and Date (uWS writes its own) are left out.
    const buf = head.buf;
    const f = head.fields;
    res.writeStatus(view(buf, head.statusStart, head.statusEnd));
    for (let i = 0, j = 0; i < head.count; i++, j += 5) {
      if (f[j + 4] === F_OTHER) {
        res.writeHeader(view(buf, f[j]!, f[j + 1]!), view(buf, f[j + 2]!, f[j + 3]!));
        this.corkUsed += f[j + 3]! - f[j]! + 4;
      }
    }
    if (this.setCookie !== null) res.writeHeader('set-cookie', this.setCookie);
    if (this.limitHeaders !== null) for (const k in this.limitHeaders) res.writeHeader(k, this.limitHeaders[k]!);
    if (bodyKind === BODY_NONE) {
      // HEAD keeps the length the GET would have had; 204/304/1xx carry no length at all.
      if (this.method === 'HEAD' && contentLength >= 0) res.endWithoutBody(contentLength);
      else if (this.method === 'HEAD' || status === 204 || status === 304) res.endWithoutBody();
      else res.end();
    } else if (bodyKind === BODY_LENGTH) this.total = contentLength;
  }

  onBody(chunk: Buffer): void {
    if (this.done) return;
    const res = this.res;
    if (this.bodyKind === BODY_LENGTH) {
      if (this.sent === 0 && chunk.length === this.total) {
        // The whole body in one read (the common small response): end() takes it all, buffering what the
        // socket does not, and saves tryEnd's result array.
        res.end(chunk);
        this.sent = chunk.length;
        return;
      }
      const offset = this.sent;
      const [ok, finished] = res.tryEnd(chunk, this.total);
      if (ok || finished) this.sent += chunk.length;
      else {
        // The client is slower than the backend: keep the unsent part and stop reading upstream.
        this.pendingChunk = Buffer.from(chunk);
        this.pendingOffset = offset;
        this.conn?.socket.pause();
        res.onWritable((this.writableFn ??= (o: number): boolean => this.onWritable(o)));
      }
    } else if (this.deferred !== null || this.corkUsed + chunk.length > CORK_BUDGET) {
      // uWS.js 20.30 drops the data of a chunked write() that overflows its cork buffer when the flush
      // meets backpressure, so larger chunks wait until the cork is released.
      (this.deferred ??= []).push(Buffer.from(chunk));
    } else {
      this.corkUsed += chunk.length + 16;
      if (!res.write(chunk)) this.pauseUpstream();
    }
  }

  private onWritable(offset: number): boolean {
    if (this.done && this.bodyKind !== BODY_LENGTH) return true;
    if (this.pendingChunk === null) {
      this.conn?.socket.resume();
      return true;
    }
    const [ok, finished] = this.res.tryEnd(this.pendingChunk.subarray(offset - this.pendingOffset), this.total);
    if (ok || finished) {
      this.sent = this.pendingOffset + this.pendingChunk.length;
      this.pendingChunk = null;
      if (finished) this.complete(false);
      else this.conn?.socket.resume();
    }
    return ok;
  }

  onEnd(): void {
    this.conn = null;
    const t = this.ctx.table;
    t.recordPassiveSuccess(this.slot);
    // Chunked and read-until-close bodies were relayed with write(); end the client's chunked stream.
    if (!this.done && this.bodyKind !== BODY_NONE && this.bodyKind !== BODY_LENGTH) {
      if (this.deferred !== null) this.endDeferred = true;
      else this.res.end();
    }
    // A length-framed body still being written to a slow client finishes in onWritable.
    if (this.pendingChunk === null) this.complete(false);
    else this.releaseSlot();
  }

  onError(err: UpstreamError): void {
    this.conn = null;
    const ctx = this.ctx;
    const t = ctx.table;
    const url = ctx.urls[this.slot] ?? '';
    const stale = err.kind === 'reset' && err.reused && !err.responseStarted;
    if (!stale) t.recordFailure(this.slot, ctx.config.healthCheck.fall, url, `${err.kind}: ${err.message}`);
    if (err.kind === 'timeout') t.count(ctx.worker, this.slot, C_TIMEOUTS);
    const failed = this.slot;
    this.releaseSlot();
    if (!err.responseStarted && !this.aborted && !this.hasBody && IDEMPOTENT.has(this.method) && this.attempts <= ctx.config.retries) {
      // Prefer another backend; a stale keep-alive connection says nothing about its backend, so that one may serve too.
      let next = ctx.balancer.pick(this.clientIp, failed);
      if (next < 0 && stale) next = ctx.balancer.pick(this.clientIp, -1);
      if (next >= 0) {
        t.count(ctx.worker, next, C_RETRIES);
        this.send(next);
        return;
      }
    }
    t.count(ctx.worker, failed, C_ERRORS);
    if (this.responded) {
      // Headers already went out: the only honest signal left is to cut the client connection.
      this.done = true;
      this.res.close();
      this.complete(true);
    } else if (err.kind === 'timeout') this.failResponse('504 Gateway Timeout', JSON_504);
    else this.failResponse('502 Bad Gateway', JSON_502);
  }

  onAborted(): void {
    this.aborted = true;
    this.dropUpstream();
    this.complete(true);
  }

  /** Cancels the upstream exchange (the connection cannot be reused mid-message). */
  private dropUpstream(): void {
    if (this.conn !== null) {
      this.conn.abort();
      this.conn = null;
    }
    this.releaseSlot();
  }

  private failResponse(status: string, body: string): void {
    if (this.done) return;
    this.dropUpstream();
    this.done = true;
    const res = this.res;
    if (!this.aborted) {
      res.cork(() => {
        res.writeStatus(status);
        res.writeHeader('content-type', 'application/json');
        // With an unread request body the connection cannot carry another request.
        res.end(body, this.hasBody);
      });
    }
    this.complete(true);
  }

  private releaseSlot(): void {
    if (this.slot >= 0) {
      const s = this.slot;
      this.slot = -1;
      this.ctx.table.release(s);
      this.lastSlot = s;
    }
  }

  /** Runs once per request, however it ended: frees the slot and records counters and latency. */
  private complete(error: boolean): void {
    if (this.completed) return;
    this.completed = true;
    this.done = true;
    if (this.slot >= 0) this.releaseSlot();
    const ctx = this.ctx;
    ctx.inflight--;
    const s = this.lastSlot;
    if (s < 0) return;
    ctx.table.count(ctx.worker, s, C_REQUESTS);
    if (!error) ctx.histograms[s]?.record((performance.now() - this.startedAt) * 1000);
  }
}
