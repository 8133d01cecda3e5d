/** The front-agnostic request handler: admits one client request (framing, body size, rate limits) and starts its Exchange. */
import { Exchange, JSON_413 } from './exchange.js';
import type { FrontRequest, FrontResponse } from './front.js';
import type { Decision } from '../limiter/policy.js';
import type { ProxyContext } from './proxy-context.js';
import { checkLimits, combineVerdicts, startAdmitted } from './rate-gate.js';
import {
  chunkedBody,
  declaredLength,
  requestCookie,
  requestHost,
  requestProblem,
  scanRequestHeaders,
  upstreamRequestHead,
} from './request-head.js';
import { rewritePath } from './router.js';

/** Answers a request the proxy will not forward and closes the connection (its body, if any, is left unread). */
export function refuse(res: FrontResponse, status: string): void {
  res.cork(() => {
    res.writeStatus(status);
    res.writeHeader('content-type', 'application/json');
    res.end(`{"error":"${status.slice(4).toLowerCase()}"}`, true);
  });
}

/** Handles one request: call from the front's route with the live (res, req). */
export function proxyRequest(ctx: ProxyContext, res: FrontResponse, req: FrontRequest): void {
  const cfg = ctx.config;
  scanRequestHeaders(req);
  const path = req.getUrl();
  // uWS.js returns undefined, not '', for a target without a query.
  const query = req.getQuery() || '';
  const problem = requestProblem(path.length + query.length);
  if (problem !== '') return refuse(res, problem);
  const chunked = chunkedBody();
  const declared = declaredLength();
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
  // No routes: no matching at all, the default pool.
  let pool = ctx.defaultPool;
  let target = path;
  const router = ctx.router;
  if (router !== null) {
    const route = router.match(method, path, requestHost(), req);
    if (route !== null) {
      pool = ctx.backendPools[route.pool] ?? pool;
      if (route.stripPrefix !== null) target = rewritePath(route, path);
    }
  }
  let verdict: Decision | Promise<Decision> | null = null;
  let gate = ctx.gate;
  if (gate !== null || pool.gate !== null) {
    const info = { method, path, ip: clientIp, header: (n: string) => req.getHeader(n) || undefined };
    if (gate !== null) {
      verdict = checkLimits(gate, res, info);
      if (verdict === null) return;
    }
    if (pool.gate !== null) {
      const own = checkLimits(pool.gate, res, info);
      if (own === null) return;
      verdict = verdict === null ? own : combineVerdicts(verdict, own);
      gate = pool.gate;
    }
  }
  const head = upstreamRequestHead(req, method, query === '' ? target : `${target}?${query}`, clientIp, declared, chunked);

  let sticky = -1;
  const stickyCfg = cfg.sticky;
  if (stickyCfg !== null) {
    const value = requestCookie(stickyCfg.cookie);
    if (value !== null) sticky = pool.balancer.stickySlot(value);
  }
  const ex = new Exchange(ctx, pool, res, method, head, clientIp, chunked || declared > 0, chunked);
  res.onAborted(() => ex.onAborted());
  if (verdict === null) ex.begin(sticky);
  else startAdmitted(gate!, res, ex, sticky, verdict);
  if (ex.hasBody && !ex.isDone()) res.onData((ab, last) => ex.onRequestData(ab, last));
}
