/**
 * Rate-limit admission in the proxy: refusals answered with the policy's status and headers,
 * queue-mode requests held on a timer until their slot comes (nginx limit_req with burst), and
 * global policies, whose decision comes from sabre server, awaited before the exchange starts.
 * The top-level policies and each pool's own go through the same gate, one LimitGate each.
 */
import { STATUS_CODES } from 'node:http';
import type { Decision, PolicyEngine, RequestInfo } from '../limiter/policy.js';
import type { Exchange } from './exchange.js';
import type { FrontResponse } from './front.js';

/** One set of policies: its engine, and the refusal status and waiting bound of its config. */
export interface LimitGate {
  readonly engine: PolicyEngine;
  /** Requests this gate may hold waiting in this thread. */
  readonly maxWaiting: number;
  readonly status: number;
  /** Requests this gate holds waiting now, in this thread. */
  waiting: number;
}

/** A gate over `engine`, its bounds read from the engine's config. */
export function limitGate(engine: PolicyEngine): LimitGate {
  return { engine, maxWaiting: engine.config.maxWaiting, status: engine.config.status, waiting: 0 };
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
export function checkLimits(gate: LimitGate, res: FrontResponse, info: RequestInfo): Decision | Promise<Decision> | null {
  const engine = gate.engine;
  const d = engine.evaluateSync(info);
  if (d === undefined) return engine.evaluate(info);
  if (d.allowed) return d;
  refuseLimited(res, d);
  return null;
}

/** Starts an admitted exchange: at once, after its queue slot's delay, or when a global decision arrives. */
export function startAdmitted(
  gate: LimitGate,
  res: FrontResponse,
  ex: Exchange,
  sticky: number,
  verdict: Decision | Promise<Decision>,
): void {
  if (!(verdict instanceof Promise)) return startAfter(gate, res, ex, sticky, verdict);
  verdict.then(
    (d) => {
      // A client that left while the server decided is not forwarded.
      if (ex.isDone()) return;
      if (d.allowed) startAfter(gate, res, ex, sticky, d);
      else ex.refuse(statusLine(d.status), d.headers, 'application/problem+json', d.body ?? '');
    },
    () => ex.refuse('503 Service Unavailable', {}, 'application/json', '{"error":"service unavailable","reason":"rate limiter failed"}'),
  );
}

function startAfter(gate: LimitGate, res: FrontResponse, ex: Exchange, sticky: number, d: Decision): void {
  ex.limitHeaders = d.headers;
  if (d.delayMs <= 0) return ex.begin(sticky);
  if (gate.waiting >= gate.maxWaiting) {
    // The slot stays spent: like a request the backend refused, it counted against the rate.
    const headers = { ...d.headers, 'Retry-After': String(Math.max(1, Math.ceil(d.delayMs / 1000))) };
    return ex.refuse(statusLine(gate.status), headers, 'application/json', '{"error":"too many requests waiting"}');
  }
  gate.waiting++;
  // Hold the client's body back while waiting rather than buffer it.
  if (ex.hasBody) res.pause();
  setTimeout(() => {
    gate.waiting--;
    if (ex.isDone()) return;
    if (ex.hasBody) res.resume();
    ex.begin(sticky);
  }, d.delayMs);
}

/** Both gates' verdicts as one: refused if either refuses, else admitted after the longer delay with both sets of headers. */
export function combineVerdicts(a: Decision | Promise<Decision>, b: Decision | Promise<Decision>): Decision | Promise<Decision> {
  if (a instanceof Promise || b instanceof Promise) return Promise.all([a, b]).then(([x, y]) => merge(x, y));
  return merge(a, b);
}

function merge(a: Decision, b: Decision): Decision {
  if (!a.allowed) return a;
  if (!b.allowed) return b;
  return { ...b, delayMs: Math.max(a.delayMs, b.delayMs), headers: { ...a.headers, ...b.headers } };
}
