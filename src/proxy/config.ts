/** The proxy's configuration: a zod schema (errors name the field), file loading and command-line overrides. */
import { policyConfigSchema } from '../limiter/policy-config.js';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { logger } from '../log.js';
import { listenTlsSchema, upstreamTlsSchema } from './tls-config.js';
import { resilienceFields, routeSchema } from './pool-config.js';

const log = logger('proxy');

/** Balancing algorithms the proxy implements. */
export const ALGORITHMS = ['least-connections', 'round-robin', 'weighted-round-robin', 'ip-hash', 'p2c'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

const port = z.number().int().min(0).max(65535);
const ms = z.number().int().positive();

/** One backend: an http:// or https:// origin and its relative weight. */
export const backendSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' }).refine((u) => {
    const p = new URL(u);
    return p.pathname === '/' && p.search === '' && p.hash === '';
  }, 'must be an origin (http://host:port) without a path'),
  weight: z.number().int().min(1).max(1000).default(1),
});

const healthSchema = z.strictObject({
  type: z.enum(['http', 'tcp']).default('http'),
  path: z.string().startsWith('/').default('/'),
  interval: ms.default(2000),
  timeout: ms.default(1000),
  rise: z.number().int().min(1).default(2),
  fall: z.number().int().min(1).default(3),
});

const timeoutsSchema = z.strictObject({
  connect: ms.default(2000),
  responseHeaders: ms.default(30_000),
  /** Each attempt's limit for the response head (null: responseHeaders); an attempt past it is retried where retries allow. */
  perTry: ms.nullable().default(null),
  /** No byte in either direction (request body up, response down) for this long cuts the exchange. */
  idle: ms.default(60_000),
  /** Longest time one request may take from start to the response's last byte (null: no limit). */
  total: ms.nullable().default(null),
  /** Idle upstream connections close after this; keep it under the backends' keep-alive timeout. */
  upstreamKeepAlive: ms.default(4000),
  /** SIGTERM: how long in-flight requests may take to finish. */
  shutdown: ms.default(10_000),
});

const retriesSchema = z.number().int().min(0).max(5).default(1);

/** Most named pools (the default pool is one more). */
export const MAX_POOLS = 31;

/** A named pool: its own backends and, unless given here, the top-level algorithm, health check, timeouts and retries. */
export const poolSchema = z.strictObject({
  backends: z.array(backendSchema).min(1).max(64),
  algorithm: z.enum(ALGORITHMS).default('least-connections'),
  healthCheck: healthSchema.prefault({}),
  timeouts: timeoutsSchema.prefault({}),
  retries: retriesSchema,
  /** The pool's own rate-limit policies, checked after the top-level ones. */
  rateLimit: policyConfigSchema.nullable().default(null),
  ...resilienceFields,
});

/** The whole config file. */
export const configSchema = z.strictObject({
  listen: z
    .strictObject({
      host: z.string().min(1).default('0.0.0.0'),
      port: port.default(8080),
      /** TLS termination on the listen port (tls-config.ts); null: plain HTTP. */
      tls: listenTlsSchema.nullable().default(null),
    })
    .prefault({}),
  threads: z
    .number()
    .int()
    .min(1)
    .max(64)
    .default(() => availableParallelism()),
  backends: z.array(backendSchema).max(64).default([]),
  algorithm: z.enum(ALGORITHMS).default('least-connections'),
  /**
   * What serves clients: `net` (the proxy's own HTTP/1.x server on node:net: answers every request, pipelining,
   * HTTP/1.0), `uws` (uWS.js; its C++ parser closes or ignores some requests, see docs/proxy.md), `node` (node:http),
   * or `auto`: native uWS where it loads, else net (front-choice.ts). Without a native uWS build `uws` falls back
   * to `net`.
   */
  front: z.enum(['auto', 'net', 'uws', 'node']).default('auto'),
  healthCheck: healthSchema.prefault({}),
  timeouts: timeoutsSchema.prefault({}),
  retries: retriesSchema,
  sticky: z
    .strictObject({ cookie: z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'must be a cookie name token') })
    .nullable()
    .default(null),
  maxBodySize: z
    .number()
    .int()
    .min(0)
    .default(100 * 1024 * 1024),
  /** How https:// backends are reached (tls-config.ts). */
  tls: upstreamTlsSchema.prefault({}),
  admin: z.strictObject({ host: z.string().min(1).default('127.0.0.1'), port: port.default(9090) }).prefault({}),
  /** Rate-limit policies (the limiter's own schema, see docs/limiter.md), checked before proxying; global ones through `server`. */
  rateLimit: policyConfigSchema.nullable().default(null),
  /** Routing rules, tried in order; a request no rule matches goes to the default pool (the top-level backends). */
  routes: z.array(routeSchema).max(256).default([]),
  /** Named pools that routes send requests to. */
  pools: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/, 'use letters, digits, "_", "-" or "."'), poolSchema).default({}),
  ...resilienceFields,
});

export type ProxyConfig = z.infer<typeof configSchema>;
export type BackendSpec = z.infer<typeof backendSchema>;
export type PoolConfig = z.infer<typeof poolSchema>;

/** The name the default pool goes by in /status, /metrics and the admin API. */
export const DEFAULT_POOL = 'default';

/** Fields a named pool inherits from the top level when it does not give them (objects merge field by field). */
const INHERITED = ['algorithm', 'healthCheck', 'timeouts', 'retries'] as const;

/** Fills each named pool's missing algorithm, health check, timeouts and retries from the top-level values. */
function inheritPoolDefaults(raw: unknown): unknown {
  if (typeof raw !== 'object' || raw === null) return raw;
  const top = raw as Record<string, unknown>;
  const pools = top.pools;
  if (typeof pools !== 'object' || pools === null || Array.isArray(pools)) return raw;
  const out: Record<string, unknown> = {};
  for (const [name, p] of Object.entries(pools as Record<string, unknown>)) {
    if (typeof p !== 'object' || p === null || Array.isArray(p)) {
      out[name] = p;
      continue;
    }
    const pool = { ...(p as Record<string, unknown>) };
    for (const k of INHERITED) {
      const t = top[k];
      if (t === undefined) continue;
      const own = pool[k];
      if (own === undefined) pool[k] = t;
      else if (isPlain(t) && isPlain(own)) pool[k] = { ...t, ...own };
    }
    out[name] = pool;
  }
  return { ...top, pools: out };
}

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Formats zod issues as `field: reason; …` so users see which field is wrong. */
export function describeIssues(err: z.ZodError): string {
  return err.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
}

/** Validates a parsed config object; throws ConfigError naming the fields at fault. */
export function parseConfig(raw: unknown): ProxyConfig {
  const r = configSchema.safeParse(inheritPoolDefaults(raw));
  if (!r.success) throw new ConfigError(`invalid proxy config: ${describeIssues(r.error)}`);
  const c = r.data;
  uniqueUrls(c.backends, 'backends');
  const names = Object.keys(c.pools);
  if (names.length > MAX_POOLS) throw new ConfigError(`invalid proxy config: pools: at most ${MAX_POOLS} named pools`);
  let total = c.backends.length;
  for (const name of names) {
    if (name === DEFAULT_POOL) throw new ConfigError(`invalid proxy config: pools.${name}: "${DEFAULT_POOL}" names the top-level backends`);
    uniqueUrls(c.pools[name]!.backends, `pools.${name}.backends`);
    total += c.pools[name]!.backends.length;
  }
  if (total > 64) throw new ConfigError(`invalid proxy config: pools: ${total} backends in all, at most 64`);
  c.routes.forEach((route, i) => {
    const at = `invalid proxy config: routes.${i}`;
    if (!(route.pool in c.pools) && route.pool !== DEFAULT_POOL)
      throw new ConfigError(`${at}.pool: no pool "${route.pool}" (pools: ${names.length ? names.join(', ') : 'none'})`);
    const strip = route.rewrite?.stripPrefix;
    if (strip !== undefined && route.match.pathPrefix === undefined && route.match.path === undefined)
      throw new ConfigError(`${at}.rewrite.stripPrefix: needs match.pathPrefix or match.path, so every request it rewrites starts with it`);
    const start = route.match.pathPrefix ?? route.match.path;
    if (strip !== undefined && start !== undefined && !start.startsWith(strip))
      throw new ConfigError(`${at}.rewrite.stripPrefix: "${strip}" is not a prefix of "${start}"`);
  });
  const routedTo = new Set(c.routes.map((r) => r.pool));
  for (const name of names) if (!routedTo.has(name)) log.warn('pool has no route', { pool: name });
  return c;
}

/** Normalizes each url of `list` and rejects duplicates, naming the field. */
function uniqueUrls(list: BackendSpec[], field: string): void {
  const urls = new Set<string>();
  for (const b of list) {
    b.url = normalizeUrl(b.url);
    if (urls.has(b.url)) throw new ConfigError(`invalid proxy config: ${field}: duplicate url ${b.url}`);
    urls.add(b.url);
  }
}

/** Canonical form of a backend origin (`http://host:port`, `https://host:port`), used as its identity. */
export function normalizeUrl(url: string): string {
  const u = new URL(url);
  const https = u.protocol === 'https:';
  return `${https ? 'https' : 'http'}://${u.hostname}:${u.port || (https ? '443' : '80')}`;
}

/** Reads and parses a JSON config file, or `{}` when no path is given. */
export function readConfigFile(path: string | undefined): Record<string, unknown> {
  if (path === undefined) return {};
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(`cannot read config ${path}: ${(err as Error).message}`);
  }
  try {
    const v: unknown = JSON.parse(text);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('top level must be an object');
    return v as Record<string, unknown>;
  } catch (err) {
    throw new ConfigError(`invalid JSON in ${path}: ${(err as Error).message}`);
  }
}

/** Command-line values that override the file. */
export interface ConfigOverrides {
  host?: string;
  port?: number;
  threads?: number;
  backends?: string[];
  algorithm?: string;
  front?: string;
  adminPort?: number;
}

/** Merges flag overrides into a raw file object before validation. */
export function applyOverrides(raw: Record<string, unknown>, o: ConfigOverrides): Record<string, unknown> {
  const out: Record<string, unknown> = { ...raw };
  const obj = (k: string): Record<string, unknown> => {
    const v = out[k];
    return typeof v === 'object' && v !== null ? { ...(v as Record<string, unknown>) } : {};
  };
  if (o.host !== undefined || o.port !== undefined) {
    const l = obj('listen');
    if (o.host !== undefined) l.host = o.host;
    if (o.port !== undefined) l.port = o.port;
    out.listen = l;
  }
  if (o.threads !== undefined) out.threads = o.threads;
  if (o.algorithm !== undefined) out.algorithm = o.algorithm;
  if (o.front !== undefined) out.front = o.front;
  if (o.backends !== undefined && o.backends.length > 0) out.backends = o.backends.map((url) => ({ url, weight: 1 }));
  if (o.adminPort !== undefined) {
    const a = obj('admin');
    a.port = o.adminPort;
    out.admin = a;
  }
  return out;
}

/** Where the config comes from: a JSON file's path, an object of the same shape (the programmatic API), or nothing (defaults). */
export type ConfigSource = string | Record<string, unknown> | undefined;

/** Loads, overrides and validates: the one entry point main.ts and reload use. */
export function loadConfig(source: ConfigSource, overrides: ConfigOverrides = {}): ProxyConfig {
  return parseConfig(applyOverrides(typeof source === 'object' ? source : readConfigFile(source), overrides));
}
