/**
 * One proxied request: picks a backend, sends the request head and streams the body up, retries where that is safe,
 * and streams the response back to the client, with backpressure both ways and the counters and latency recorded
 * once however it ends.
 */
// The module binding, not the global: globalThis.performance is a lazy getter, run on every read.
import { performance } from 'node:perf_hooks';
import { C_ERRORS, C_REQUESTS, C_RETRIES, C_TIMEOUTS } from './backend-table.js';
import type { BackendPool } from './backend-pool.js';
import { stickyToken } from './balancer.js';
import { breakerBody } from './breaker.js';
import { recordOutcome } from './outlier.js';
import { claimRetry, releaseRetry } from './retry-budget.js';
import type { FrontResponse } from './front.js';
import type { ProxyContext } from './proxy-context.js';
import { view } from './read-buffer.js';
import { BODY_LENGTH, BODY_NONE, F_OTHER, type ResponseHead } from './response-head-parser.js';
import type { ExchangeHandler, UpstreamConnection, UpstreamError } from './upstream-connection.js';

/** Methods a request without a body may be retried with on another backend when no response byte arrived. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'TRACE']);

/** What chunked-body writes may put into uWS's 16 KiB cork buffer (the status line and headers count too). */
const CORK_BUDGET = 12 * 1024;

const JSON_502 = '{"error":"bad gateway","reason":"upstream connection failed"}';
const JSON_503 = '{"error":"service unavailable","reason":"no healthy backend"}';
const JSON_504 = '{"error":"gateway timeout","reason":"upstream timed out"}';
/** The empty last chunk uWS passes for a body that ended with the previous one. */
const NO_BYTES = new Uint8Array(0);
/** The body of a 413 answer: the declared or received request body is larger than maxBodySize. */
export const JSON_413 = '{"error":"payload too large"}';

/** One proxied request: its backend attempt(s) and the response stream back to the client. */
export class Exchange implements ExchangeHandler {
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
  /** A deferred start (ProxyContext.queueStart): the sticky slot to use, and body chunks (copies) that came first. */
  private sticky = -1;
  private started = false;
  private early: Uint8Array[] | null = null;
  private earlyLast = false;
  /** timeouts.total as a deadline on the sweeper's clock (0: no limit), kept across retries. */
  private readonly totalDeadline: number;
  private writableFn: ((offset: number) => boolean) | null = null;
  /** Claims held in the pool's shared counters: a place among its requests in flight, a retry of its budget. */
  private holdsActive = false;
  private holdsRetry = false;

  constructor(
    private readonly ctx: ProxyContext,
    private readonly pool: BackendPool,
    private readonly res: FrontResponse,
    private readonly method: string,
    private readonly head: string,
    private readonly clientIp: string,
    readonly hasBody: boolean,
    private readonly chunkedUpload: boolean,
  ) {
    ctx.inflight++;
    const total = ctx.config.timeouts.total;
    this.totalDeadline = total === null ? 0 : ctx.sweeper.now + total;
  }

  isDone(): boolean {
    return this.done;
  }

  /** Starts the exchange now, or once the current read is handled where the front asks for that (ProxyContext.queueStart). */
  begin(sticky: number): void {
    if (this.ctx.deferStarts) {
      this.sticky = sticky;
      this.ctx.queueStart(this);
    } else this.start(sticky);
  }

  /** Runs a deferred start, unless the client went away meanwhile (uWS closed the connection). */
  startDeferred(): void {
    if (!this.done) this.start(this.sticky);
  }

  /** Picks a backend (the sticky one when given), sends the request head and any body that already arrived. */
  private start(sticky: number): void {
    this.started = true;
    const ctx = this.ctx;
    const pool = this.pool;
    if (pool.countsActive) {
      if (!pool.claimRequest()) return this.failResponse('503 Service Unavailable', breakerBody(pool.name, 'maxRequests'));
      this.holdsActive = true;
    }
    const slot = sticky >= 0 ? sticky : pool.balancer.pick(this.clientIp, -1);
    if (slot < 0) return this.failResponse('503 Service Unavailable', JSON_503);
    if (ctx.config.sticky !== null && sticky < 0)
      this.setCookie = `${ctx.config.sticky.cookie}=${stickyToken(ctx.urls[slot]!)}; Path=/; HttpOnly`;
    this.send(slot);
    const early = this.early;
    if (early !== null) {
      this.early = null;
      for (let i = 0; i < early.length && !this.done; i++) this.writeBody(early[i]!, this.earlyLast && i === early.length - 1);
    }
  }

  private send(slot: number): void {
    const upstream = this.ctx.pools[slot];
    if (upstream === undefined) return this.failResponse('503 Service Unavailable', JSON_503);
    const conn = upstream.acquire();
    if (conn === null) return this.failResponse('503 Service Unavailable', breakerBody(this.pool.name, this.pool.breaker!.refused));
    this.slot = slot;
    this.attempts++;
    this.ctx.table.acquire(slot);
    this.conn = conn;
    conn.send(this.head, this, this.method === 'HEAD', this.hasBody, this.totalDeadline);
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
    let chunk: Uint8Array;
    if (ab instanceof Uint8Array) chunk = ab;
    else if (ab.byteLength === 0) chunk = NO_BYTES;
    else {
      chunk = Buffer.allocUnsafe(ab.byteLength);
      chunk.set(new Uint8Array(ab));
    }
    if (this.started) this.writeBody(chunk, last);
    else {
      (this.early ??= []).push(chunk);
      if (last) this.earlyLast = true;
    }
  }

  /** Sends a body chunk (owned by the callee) upstream, framed as the client's was, and pauses the client on backpressure. */
  private writeBody(chunk: Uint8Array, last: boolean): void {
    const conn = this.conn;
    if (conn === null) return;
    let ok = true;
    if (chunk.byteLength > 0) {
      if (this.chunkedUpload) {
        conn.write(`${chunk.byteLength.toString(16)}\r\n`);
        conn.write(chunk);
        ok = conn.write('\r\n');
      } else ok = conn.write(chunk);
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
    const od = this.pool.settings.outlierDetection;
    if (od !== null) recordOutcome(this.ctx.table, this.ctx.poolTable, this.slot, this.pool.index, status, od);
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
    // The client took bytes: the exchange is not idle even while the upstream socket is paused for it.
    this.conn?.touch();
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
    const pool = this.pool;
    const settings = pool.settings;
    const t = ctx.table;
    const url = ctx.urls[this.slot] ?? '';
    const stale = err.kind === 'reset' && err.reused && !err.responseStarted;
    // The request's own time limit says nothing about the backend's health.
    if (!stale && err.kind !== 'total') {
      t.recordFailure(this.slot, settings.healthCheck.fall, url, `${err.kind}: ${err.message}`);
      // A failure after the head was counted already (its status); only one that left no answer is a gateway error.
      if (settings.outlierDetection !== null && !err.responseStarted)
        recordOutcome(t, ctx.poolTable, this.slot, pool.index, 0, settings.outlierDetection);
    }
    const timedOut = err.kind === 'timeout' || err.kind === 'total';
    if (timedOut) t.count(ctx.worker, this.slot, C_TIMEOUTS);
    const failed = this.slot;
    this.releaseSlot();
    if (
      !err.responseStarted &&
      !this.aborted &&
      !this.hasBody &&
      err.kind !== 'total' &&
      IDEMPOTENT.has(this.method) &&
      this.attempts <= settings.retries
    ) {
      // Prefer another backend; a stale keep-alive connection says nothing about its backend, so that one may serve too.
      let next = pool.balancer.pick(this.clientIp, failed);
      if (next < 0 && stale) next = pool.balancer.pick(this.clientIp, -1);
      if (next >= 0 && this.retryAllowed()) {
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
    } else if (timedOut) this.failResponse('504 Gateway Timeout', JSON_504);
    else this.failResponse('502 Bad Gateway', JSON_502);
  }

  /** Whether the pool's retry budget (if any) lets this exchange retry; a claim is held until the exchange ends. */
  private retryAllowed(): boolean {
    const budget = this.pool.settings.retryBudget;
    if (budget === null || this.holdsRetry) return true;
    if (!claimRetry(this.ctx.poolTable, this.pool.index, budget)) return false;
    this.holdsRetry = true;
    return true;
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

  /** Answers a request refused before it started (a rate-limit decision that came later); nothing once the client is gone. */
  refuse(status: string, headers: Record<string, string>, contentType: string, body: string): void {
    if (this.done) return;
    this.done = true;
    const res = this.res;
    res.cork(() => {
      res.writeStatus(status);
      for (const k in headers) res.writeHeader(k, headers[k]!);
      res.writeHeader('content-type', contentType);
      res.end(body, true);
    });
    this.complete(true);
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
    if (this.holdsActive) this.pool.releaseRequest();
    if (this.holdsRetry) releaseRetry(ctx.poolTable, this.pool.index);
    const s = this.lastSlot;
    if (s < 0) return;
    ctx.table.count(ctx.worker, s, C_REQUESTS);
    if (!error) ctx.histograms[s]?.record((performance.now() - this.startedAt) * 1000);
  }
}
