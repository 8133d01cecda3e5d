import type { EngineStats } from '../limiter/policy.js';
/** The control surface of a running proxy: what the admin API and the CLI drive (proxy.ts implements it). */
import { SabreError } from '../errors.js';
import type { ProxyConfig } from './config.js';
import type { UwsImplementation } from './uws.js';
import type { tlsStatus } from './tls-config.js';
import type { PoolStatus } from './pool-status.js';

/** An admin request that cannot be applied (unknown backend, duplicate, table full); `status` is the HTTP answer. */
export class BackendError extends SabreError {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super('SABRE_BACKEND', message);
  }
}

/** One backend's figures for GET /status and /metrics. */
export interface BackendStatus {
  url: string;
  /** The pool it serves ("default": the top-level backends). */
  pool: string;
  weight: number;
  /** The weight least-connections and p2c use now: less than `weight` while slow start ramps it. */
  effectiveWeight: number;
  slowStart: boolean;
  state: 'active' | 'draining';
  /** Out of rotation by outlier detection, how many ejections count against it, and for how much longer. */
  ejected: boolean;
  ejections: number;
  ejectedForMs: number;
  healthy: boolean;
  inflight: number;
  requests: number;
  errors: number;
  retries: number;
  timeouts: number;
  latency_ms: { p50: number; p90: number; p99: number; max: number; count: number };
}

/** A running proxy. */
export interface ProxyHandle {
  port: number;
  adminPort: number;
  config: ProxyConfig;
  status(): Promise<{
    implementation: UwsImplementation;
    /** What serves clients. */
    front: 'uws' | 'node:http' | 'net';
    /** Why that front serves: the config's choice, what loads on this Node, SO_REUSEPORT. */
    frontReason: string;
    /** TLS termination on the listen port (null: plain HTTP): certificates loaded, versions, ALPN, and whether h2 is served. */
    tls: (ReturnType<typeof tlsStatus> & { h2: boolean }) | null;
    /** How https:// backends are reached. */
    upstreamTls: { verify: boolean; ca: string | null; servername: string | null };
    algorithm: string;
    threads: number;
    backends: BackendStatus[];
    /** Per pool (the default pool first): backends, circuit breaker, ejections, retry budget. */
    pools: PoolStatus[];
    /** Rate limiting, summed over the worker threads (null without a rateLimit section). */
    limiter: EngineStats | null;
  }>;
  /** HDR percentile distribution (ms) of all proxied requests since start. */
  latencyDistribution(): Promise<string>;
  /** `pool`: a named pool; omitted, the default pool. */
  addBackend(url: string, weight: number, pool?: string): void;
  removeBackend(url: string, pool?: string): Promise<{ url: string; drained: boolean }>;
  setWeight(url: string, weight: number, pool?: string): void;
  reload(): void;
  /** Stops accepting, lets in-flight requests finish (up to the shutdown timeout), then stops everything. */
  close(): Promise<void>;
}
