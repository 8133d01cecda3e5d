/**
 * One pool as a worker thread runs it: its balancer over the pool's slots, its settings (retries, timeouts, breaker,
 * outlier detection, retry budget), its rate-limit gate, and the shared-table claims a request makes against them.
 */
import { BucketTable } from '../limiter/bucket-table.js';
import { PolicyEngine } from '../limiter/policy.js';
import type { BackendTable } from './backend-table.js';
import { Balancer } from './balancer.js';
import { CircuitBreaker } from './breaker.js';
import type { PoolConfig, ProxyConfig } from './config.js';
import { P_ACTIVE, type PoolTable } from './pool-table.js';
import { type LimitGate, limitGate } from './rate-gate.js';
import type { UpstreamTimeouts } from './upstream-connection.js';

/** What a pool runs with: a named pool's section, or the top-level fields for the default pool. */
export type PoolSettings = Omit<PoolConfig, 'backends'>;

/** The default pool's settings: the top-level fields (its rate limits are the top-level gate, checked for every request). */
export function defaultPoolSettings(c: ProxyConfig): PoolSettings {
  return {
    algorithm: c.algorithm,
    healthCheck: c.healthCheck,
    timeouts: c.timeouts,
    retries: c.retries,
    rateLimit: null,
    circuitBreaker: c.circuitBreaker,
    outlierDetection: c.outlierDetection,
    slowStartMs: c.slowStartMs,
    retryBudget: c.retryBudget,
  };
}

/** Pool names by index (0: the default pool), as the main thread assigned them. */
export type PoolNames = ReadonlyArray<string | null>;

/** The settings of the pool with index `i` in `names` under `config`, or null when it has none now. */
export function settingsFor(config: ProxyConfig, names: PoolNames, i: number): PoolSettings | null {
  if (i === 0) return defaultPoolSettings(config);
  const name = names[i];
  const p = name == null ? undefined : config.pools[name];
  return p === undefined ? null : p;
}

/** The timeouts each attempt's upstream connection runs with: perTry, when set, bounds the wait for the head. */
export function upstreamTimeouts(t: PoolSettings['timeouts']): UpstreamTimeouts {
  return {
    connect: t.connect,
    responseHeaders: t.perTry ?? t.responseHeaders,
    idle: t.idle,
    upstreamKeepAlive: t.upstreamKeepAlive,
  };
}

/** One pool in one worker thread. */
export class BackendPool {
  readonly balancer: Balancer;
  breaker: CircuitBreaker | null = null;
  /** The pool's own policies (null: none). */
  gate: LimitGate | null = null;
  /** Whether requests claim a place in the pool's shared active count (maxRequests or a retry budget need it). */
  countsActive = false;
  /** The per-connection timeouts, one object that upstream pools share, updated in place on reload. */
  readonly timeouts: UpstreamTimeouts;

  constructor(
    readonly index: number,
    readonly name: string,
    public settings: PoolSettings,
    table: BackendTable,
    private readonly pools: PoolTable,
    limiterMemory: SharedArrayBuffer | null,
  ) {
    this.balancer = new Balancer(table, settings.algorithm);
    this.timeouts = upstreamTimeouts(settings.timeouts);
    if (settings.rateLimit !== null && limiterMemory !== null)
      this.gate = limitGate(new PolicyEngine(settings.rateLimit, { table: BucketTable.attach(limiterMemory) }));
    this.configure(settings);
  }

  /** Applies (reloaded) settings; rate-limit policies apply from the start only, as the top-level ones. */
  configure(s: PoolSettings): void {
    this.settings = s;
    this.balancer.algorithm = s.algorithm;
    Object.assign(this.timeouts, upstreamTimeouts(s.timeouts));
    const cb = s.circuitBreaker;
    if (cb === null) this.breaker = null;
    else if (this.breaker === null) this.breaker = new CircuitBreaker(this.pools, this.index, cb);
    else this.breaker.limits = cb;
    this.countsActive = cb !== null || s.retryBudget !== null;
  }

  /** Claims a place among the pool's requests in flight; false when the breaker's maxRequests refuses it. */
  claimRequest(): boolean {
    const max = this.settings.circuitBreaker?.maxRequests ?? null;
    if (max === null) {
      this.pools.add(this.index, P_ACTIVE, 1);
      return true;
    }
    return this.pools.tryClaim(this.index, P_ACTIVE, max) || this.breaker!.tripRequests();
  }

  /** Gives back a place claimed by claimRequest. */
  releaseRequest(): void {
    this.pools.unclaim(this.index, P_ACTIVE);
  }
}
