/** Rate-limit middleware for node:http and express-style `(req, res, next)` stacks, driven by a PolicyEngine. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Decision, PolicyEngine, RequestInfo } from './policy.js';

/** Middleware options. */
export interface MiddlewareOptions {
  /** Take the client IP from the first X-Forwarded-For entry (only behind a trusted proxy). */
  trustForwardedFor?: boolean;
}

/** The client IP of a request: the socket peer, or the first X-Forwarded-For hop when trusted. */
export function clientIp(req: IncomingMessage, trustForwardedFor = false): string {
  if (trustForwardedFor) {
    const xff = req.headers['x-forwarded-for'];
    const first = (Array.isArray(xff) ? xff[0] : xff)?.split(',')[0]?.trim();
    if (first) return first;
  }
  return req.socket.remoteAddress ?? '';
}

/** Builds the engine's view of a node:http request. */
export function requestInfo(req: IncomingMessage, trustForwardedFor = false): RequestInfo {
  const url = req.url ?? '/';
  const q = url.indexOf('?');
  return {
    method: req.method ?? 'GET',
    path: q < 0 ? url : url.slice(0, q),
    ip: clientIp(req, trustForwardedFor),
    header: (name) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v[0] : v;
    },
  };
}

/** Writes the decision's headers and, when not allowed, the problem+json response. Returns `allowed`. */
export function applyDecision(res: ServerResponse, d: Decision): boolean {
  for (const name in d.headers) res.setHeader(name, d.headers[name]!);
  if (d.allowed) return true;
  res.statusCode = d.status;
  res.setHeader('Content-Type', 'application/problem+json');
  res.end(d.body);
  return false;
}

/**
 * Express-style middleware: `app.use(rateLimit(engine))`, or in node:http
 * `limit(req, res, () => handler(req, res))`. Admitted requests get the RateLimit headers and
 * continue (after their slot's wait under a queue-mode policy); limited ones get 429 (the
 * configured status) with Retry-After and a problem+json body. Engine errors go to `next(err)`.
 */
export function rateLimit(engine: PolicyEngine, opts: MiddlewareOptions = {}) {
  return (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void): void => {
    engine.evaluate(requestInfo(req, opts.trustForwardedFor)).then(
      (d) => {
        if (!applyDecision(res, d)) return;
        if (d.delayMs > 0) setTimeout(next, d.delayMs);
        else next();
      },
      (err: unknown) => next(err),
    );
  };
}

/** Wraps a node:http request listener so it only runs for admitted requests (errors answer 500). */
export function withRateLimit(
  engine: PolicyEngine,
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  opts: MiddlewareOptions = {},
): (req: IncomingMessage, res: ServerResponse) => void {
  const mw = rateLimit(engine, opts);
  return (req, res) =>
    mw(req, res, (err) => {
      if (err === undefined) return handler(req, res);
      res.statusCode = 500;
      res.end();
    });
}
