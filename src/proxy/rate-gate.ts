/**
 * Rate-limit admission in the proxy: refusals answered with the policy's status and headers,
 * queue-mode requests held on a timer until their slot comes (nginx limit_req with burst), and
 * global policies, whose decision comes from sabre server, awaited before the exchange starts.
 */
import { STATUS_CODES } from 'node:http';
import type { Decision, RequestInfo } from '../limiter/policy.js';
import type { Exchange } from './exchange.js';
import type { FrontResponse } from './front.js';
import type { ProxyContext } from './proxy-context.js';

/** Requests this thread holds waiting for a queue slot (bounded by rateLimit.maxWaiting). */
let waiting = 0;

/** Requests held waiting for a queue slot in this thread right now. */
export function waitingNow(): number {
  return waiting;
}

function statusLine(status: number): string {
  return `${status} ${STATUS_CODES[status] ?? 'Rate Limited'}`;
}

/** Answers a refused request (nothing forwarded) and closes the connection, whose body is left unread. */
export function refuseLimited(res: FrontResponse, d: Decision): void {
  res.cork(() => {
    res.writeStatus(statusLine(d.status));
    for (const k in d.headers) res.writeHeader(k, d.headers[k]!);
    res.writeHeader('content-type', 'application/problem+json');
    res.end(d.body ?? '', true);
  });
}

/** The limiter's verdict taken in the request's own call: refused (answered), admitted now or after a delay, or pending. */
export function checkLimits(ctx: ProxyContext, res: FrontResponse, info: RequestInfo): Decision | Promise<Decision> | null {
  const engine = ctx.limiter!;
  const d = engine.evaluateSync(info);
  if (d === undefined) return engine.evaluate(info);
  if (d.allowed) return d;
  refuseLimited(res, d);
  return null;
}

/** Starts an admitted exchange: at once, after its queue slot's delay, or when a global decision arrives. */
export function startAdmitted(
  ctx: ProxyContext,
  res: FrontResponse,
  ex: Exchange,
  sticky: number,
  verdict: Decision | Promise<Decision>,
): void {
  if (!(verdict instanceof Promise)) return startAfter(ctx, res, ex, sticky, verdict);
  verdict.then(
    (d) => {
      // A client that left while the server decided is not forwarded.
      if (ex.isDone()) return;
      if (d.allowed) startAfter(ctx, res, ex, sticky, d);
      else ex.refuse(statusLine(d.status), d.headers, 'application/problem+json', d.body ?? '');
    },
    () => ex.refuse('503 Service Unavailable', {}, 'application/json', '{"error":"service unavailable","reason":"rate limiter failed"}'),
  );
}

function startAfter(ctx: ProxyContext, res: FrontResponse, ex: Exchange, sticky: number, d: Decision): void {
  ex.limitHeaders = d.headers;
  if (d.delayMs <= 0) return ex.begin(sticky);
  const max = ctx.config.rateLimit?.maxWaiting ?? 0;
  if (waiting >= max) {
    // The slot stays spent: like a request the backend refused, it counted against the rate.
    const headers = { ...d.headers, 'Retry-After': String(Math.max(1, Math.ceil(d.delayMs / 1000))) };
    const status = ctx.config.rateLimit?.status ?? 429;
    return ex.refuse(statusLine(status), headers, 'application/json', '{"error":"too many requests waiting"}');
  }
  waiting++;
  // Hold the client's body back while waiting rather than buffer it.
  if (ex.hasBody) res.pause();
  setTimeout(() => {
    waiting--;
    if (ex.isDone()) return;
    if (ex.hasBody) res.resume();
    ex.begin(sticky);
  }, d.delayMs);
}
