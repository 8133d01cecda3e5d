/** The admin HTTP API (node:http, own port): status, backend add/remove/weight, Prometheus metrics, reload. */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { backendSchema, DEFAULT_POOL, describeIssues } from './config.js';
import type { PoolStatus } from './pool-status.js';
import { BackendError, type BackendStatus, type ProxyHandle } from './proxy-handle.js';
import { ConfigError, SabreError } from '../errors.js';
import type { EngineStats } from '../limiter/policy.js';

/** A listening admin server. */
export interface AdminServer {
  port: number;
  close(): Promise<void>;
}

/** A pool name in an admin body; omitted, the default pool. */
const pool = z.string().min(1).optional();
const urlOnly = z.strictObject({ url: backendSchema.shape.url, pool });
const withWeight = z.strictObject({ url: backendSchema.shape.url, weight: z.number().int().min(1).max(1000), pool });
const newBackend = backendSchema.extend({ pool });
const MAX_ADMIN_BODY = 64 * 1024;

/** A 4xx the admin API answers with a reason. */
class BadRequest extends SabreError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super('SABRE_BAD_REQUEST', message);
  }
}

function readJson(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_ADMIN_BODY) reject(new BadRequest(413, 'body too large'));
      else chunks.push(c);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch {
        reject(new BadRequest(400, 'body must be JSON'));
      }
    });
    req.on('error', reject);
  });
}

async function parseBody<T>(req: IncomingMessage, schema: z.ZodType<T>): Promise<T> {
  const r = schema.safeParse(await readJson(req));
  if (!r.success) throw new BadRequest(400, describeIssues(r.error));
  return r.data;
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = typeof body === 'string' ? body : `${JSON.stringify(body)}\n`;
  res.writeHead(status, {
    'content-type': typeof body === 'string' ? 'text/plain; version=0.0.4' : 'application/json',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"');
}

/** A backend's labels: its url, and its pool unless it is the default pool's (so existing series keep their labels). */
function backendLabels(b: BackendStatus): string {
  return b.pool === DEFAULT_POOL ? `backend="${esc(b.url)}"` : `backend="${esc(b.url)}",pool="${esc(b.pool)}"`;
}

/** Renders backend, pool and rate-limit figures in the Prometheus text exposition format. */
export function renderMetrics(backends: BackendStatus[], limiter: EngineStats | null = null, pools: PoolStatus[] = []): string {
  const out: string[] = [];
  const family = (name: string, type: string, help: string, value: (b: BackendStatus) => number): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const b of backends) out.push(`${name}{${backendLabels(b)}} ${value(b)}`);
  };
  family('sabre_proxy_backend_up', 'gauge', 'Whether the backend is healthy (1) or ejected (0).', (b) => (b.healthy ? 1 : 0));
  family('sabre_proxy_backend_draining', 'gauge', 'Whether the backend is being drained.', (b) => (b.state === 'draining' ? 1 : 0));
  family('sabre_proxy_backend_weight', 'gauge', 'Configured weight.', (b) => b.weight);
  family('sabre_proxy_backend_inflight', 'gauge', 'Requests in flight to the backend, all threads.', (b) => b.inflight);
  family('sabre_proxy_backend_requests_total', 'counter', 'Requests that ended on the backend.', (b) => b.requests);
  family('sabre_proxy_backend_errors_total', 'counter', 'Requests that failed on the backend.', (b) => b.errors);
  family('sabre_proxy_backend_retries_total', 'counter', 'Requests retried onto the backend.', (b) => b.retries);
  family('sabre_proxy_backend_timeouts_total', 'counter', 'Upstream timeouts.', (b) => b.timeouts);
  family('sabre_proxy_backend_ejected', 'gauge', 'Whether outlier detection has ejected the backend now.', (b) => (b.ejected ? 1 : 0));
  family(
    'sabre_proxy_backend_effective_weight',
    'gauge',
    'Weight used now (less than the weight while slow start ramps).',
    (b) => b.effectiveWeight,
  );
  out.push('# HELP sabre_proxy_backend_latency_seconds Proxied request latency.', '# TYPE sabre_proxy_backend_latency_seconds summary');
  for (const b of backends) {
    for (const [q, v] of [
      ['0.5', b.latency_ms.p50],
      ['0.9', b.latency_ms.p90],
      ['0.99', b.latency_ms.p99],
    ] as const) {
      out.push(`sabre_proxy_backend_latency_seconds{${backendLabels(b)},quantile="${q}"} ${v / 1000}`);
    }
    out.push(`sabre_proxy_backend_latency_seconds_count{${backendLabels(b)}} ${b.latency_ms.count}`);
  }
  renderPools(out, pools);
  if (limiter) renderLimiter(out, limiter);
  return `${out.join('\n')}\n`;
}

/** The pools' families: requests in flight, breaker trips per limit, ejections, retries the budget refused. */
function renderPools(out: string[], pools: PoolStatus[]): void {
  const family = (name: string, type: string, help: string, rows: Array<[string, number]>): void => {
    if (rows.length === 0) return;
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const [labels, v] of rows) out.push(`${name}{${labels}} ${v}`);
  };
  const p = (x: PoolStatus): string => `pool="${esc(x.name)}"`;
  family(
    'sabre_proxy_pool_active_requests',
    'gauge',
    'Requests in flight to the pool, all threads (breaker or retry budget on).',
    pools.filter((x) => x.circuitBreaker || x.retryBudget).map((x) => [p(x), x.active]),
  );
  family(
    'sabre_proxy_circuit_breaker_trips_total',
    'counter',
    'Requests a circuit breaker refused with 503, by the limit reached.',
    pools.flatMap((x) =>
      x.circuitBreaker ? Object.entries(x.circuitBreaker.trips).map(([k, v]): [string, number] => [`${p(x)},limit="${k}"`, v]) : [],
    ),
  );
  family(
    'sabre_proxy_circuit_breaker_open',
    'gauge',
    'Whether a breaker limit is reached now.',
    pools.flatMap((x) => (x.circuitBreaker ? [[p(x), x.circuitBreaker.open ? 1 : 0] as [string, number]] : [])),
  );
  family(
    'sabre_proxy_outlier_ejections_total',
    'counter',
    'Backends ejected by outlier detection.',
    pools.flatMap((x) => (x.outlierDetection ? [[p(x), x.outlierDetection.ejectionsTotal] as [string, number]] : [])),
  );
  family(
    'sabre_proxy_outlier_ejected',
    'gauge',
    'Backends ejected now.',
    pools.flatMap((x) => (x.outlierDetection ? [[p(x), x.outlierDetection.ejectedNow] as [string, number]] : [])),
  );
  family(
    'sabre_proxy_retry_budget_refused_total',
    'counter',
    'Retries the retry budget refused.',
    pools.flatMap((x) => (x.retryBudget ? [[p(x), x.retryBudget.refused] as [string, number]] : [])),
  );
}

/** The limiter's families: decisions per policy and tier, and the bucket table's occupancy. */
function renderLimiter(out: string[], limiter: EngineStats): void {
  const level = (name: string, type: string, help: string, value: (l: EngineStats['levels'][number]) => number | undefined): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
    for (const l of limiter.levels) {
      const v = value(l);
      if (v !== undefined) out.push(`${name}{policy="${esc(l.policy)}",tier="${esc(l.tier)}"} ${v}`);
    }
  };
  level('sabre_limiter_admitted_total', 'counter', 'Requests a rate-limit policy admitted.', (l) => l.admitted);
  level('sabre_limiter_denied_total', 'counter', 'Requests a rate-limit policy refused (429).', (l) => l.denied);
  level('sabre_limiter_delayed_total', 'counter', 'Requests a queue-mode policy held until their slot.', (l) => l.delayed);
  level(
    'sabre_limiter_lease_requests_total',
    'counter',
    'Round trips to sabre server for a global policy (CL.LEASE).',
    (l) => l.leaseRequests,
  );
  level('sabre_limiter_fallbacks_total', 'counter', 'Global-policy checks decided by onUnavailable.', (l) => l.fallbacks);
  level('sabre_limiter_server_unavailable', 'gauge', 'Whether a global policy is on its onUnavailable rule now.', (l) =>
    l.unavailable === undefined ? undefined : l.unavailable ? 1 : 0,
  );
  const gauge = (name: string, type: string, help: string, v: number): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, `${name} ${v}`);
  };
  gauge('sabre_limiter_table_buckets', 'gauge', 'Live buckets in the shared table.', limiter.table.size);
  gauge('sabre_limiter_table_capacity', 'gauge', 'Buckets the table can hold.', limiter.table.capacity);
  gauge('sabre_limiter_table_full_events_total', 'counter', 'Checks decided by the full-table rule.', limiter.table.fullEvents);
  if (limiter.waiting !== undefined) gauge('sabre_limiter_waiting', 'gauge', 'Requests held for a queue-mode slot now.', limiter.waiting);
}

async function route(proxy: ProxyHandle, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  const key = `${req.method} ${path}`;
  switch (key) {
    case 'GET /status':
      return send(res, 200, await proxy.status());
    case 'GET /metrics': {
      const st = await proxy.status();
      return send(res, 200, renderMetrics(st.backends, st.limiter, st.pools));
    }
    case 'GET /pools':
      return send(res, 200, (await proxy.status()).pools);
    case 'GET /latency':
      return send(res, 200, await proxy.latencyDistribution());
    case 'POST /backends': {
      const b = await parseBody(req, newBackend);
      proxy.addBackend(b.url, b.weight, b.pool);
      return send(res, 201, { added: b.url, weight: b.weight, pool: b.pool ?? DEFAULT_POOL });
    }
    case 'PUT /backends': {
      const b = await parseBody(req, withWeight);
      proxy.setWeight(b.url, b.weight, b.pool);
      return send(res, 200, { url: b.url, weight: b.weight, pool: b.pool ?? DEFAULT_POOL });
    }
    case 'DELETE /backends': {
      const b = await parseBody(req, urlOnly);
      return send(res, 200, await proxy.removeBackend(b.url, b.pool));
    }
    case 'POST /reload':
      proxy.reload();
      return send(res, 200, { reloaded: true });
    default:
      return send(res, 404, { error: `no route ${key}` });
  }
}

/** Starts the admin API on host:port (0 picks a free port). */
export function startAdmin(proxy: ProxyHandle, host: string, port: number): Promise<AdminServer> {
  const server = createServer((req, res) => {
    route(proxy, req, res).catch((err: unknown) => {
      if (err instanceof BadRequest || err instanceof BackendError) send(res, err.status, { error: err.message });
      else if (err instanceof ConfigError) send(res, 400, { error: err.message });
      else send(res, 500, { error: (err as Error).message });
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      resolve({
        port: (server.address() as AddressInfo).port,
        close: () =>
          new Promise<void>((r) => {
            server.close(() => r());
            server.closeAllConnections();
          }),
      });
    });
  });
}
