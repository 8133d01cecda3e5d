/** What one worker thread's requests share: backend connections and latency recorders by slot, the pools and routes, the config. */
import type { BackendTable } from './backend-table.js';
import { BackendPool, type PoolNames, settingsFor } from './backend-pool.js';
import type { ProxyConfig } from './config.js';
import type { Exchange } from './exchange.js';
import type { FrontResponse } from './front.js';
import { LatencyRecorder } from './latency.js';
import type { SlotUrl } from './messages.js';
import type { PoolTable } from './pool-table.js';
import type { LimitGate } from './rate-gate.js';
import { compileRoutes, type HeaderLookup, rewritePath, Router } from './router.js';
import type { TimeoutSweeper } from './timeout-sweeper.js';
import { UpstreamPool } from './upstream-pool.js';
import { UpstreamTlsSettings } from './upstream-tls.js';

/** Everything one worker thread's requests share. */
export class ProxyContext {
  readonly pools: Array<UpstreamPool | undefined> = [];
  readonly urls: Array<string | undefined> = [];
  readonly histograms: Array<LatencyRecorder | undefined> = [];
  /** Pools by index; 0 is the default pool (the top-level backends). */
  readonly backendPools: Array<BackendPool | undefined> = [];
  readonly defaultPool: BackendPool;
  /** Routing rules; null when the config has none, so such a config runs no matching at all. */
  router: Router | null = null;
  /** Requests this thread has in flight (shutdown waits for zero). */
  inflight = 0;
  /** Top-level rate-limit policies, checked for every request before routing (null: none configured). */
  gate: LimitGate | null = null;
  /**
   * Set for the uWS front: exchanges start after the read that parsed them has been handled. uWS.js closes a
   * connection whose next request arrives while a response is pending, inside that same read; started later, an
   * exchange aborted that way never reaches a backend (so a pipelined POST is not run without an answer).
   */
  deferStarts = false;
  /** tls.connect options for https:// backends. */
  private readonly upstreamTls: UpstreamTlsSettings;
  private poolNames: PoolNames;
  private starts: Exchange[] = [];
  private spare: Exchange[] = [];
  private readonly flushStarts = (): void => {
    const q = this.starts;
    this.starts = this.spare;
    this.spare = q;
    for (let i = 0; i < q.length; i++) q[i]!.startDeferred();
    q.length = 0;
  };

  constructor(
    readonly worker: number,
    readonly table: BackendTable,
    readonly poolTable: PoolTable,
    readonly sweeper: TimeoutSweeper,
    public config: ProxyConfig,
    poolNames: PoolNames,
    /** Each named pool's rate-limiter memory by index (null: the pool has no policies). */
    private readonly poolLimiters: ReadonlyArray<SharedArrayBuffer | null>,
    /** The client's address as text (X-Forwarded-For), read the way the thread's front end can. */
    readonly remoteAddress: (res: FrontResponse) => string,
  ) {
    this.upstreamTls = new UpstreamTlsSettings(config.tls);
    this.poolNames = poolNames;
    this.applyPools();
    this.defaultPool = this.backendPools[0]!;
  }

  /**
   * Where a WebSocket upgrade goes: the routes match it as the GET it is (host, path, headers), so it reaches
   * the pool a plain request to that path would, with the rule's prefix stripped; no rule, the default pool.
   */
  routeUpgrade(path: string, host: string, header: HeaderLookup): { pool: BackendPool; path: string } {
    const route = this.router?.match('GET', path, host, header) ?? null;
    if (route === null) return { pool: this.defaultPool, path };
    return {
      pool: this.backendPools[route.pool] ?? this.defaultPool,
      path: route.stripPrefix !== null ? rewritePath(route, path) : path,
    };
  }

  /** Starts `ex` in the check phase of this loop iteration, after every read of the poll phase. */
  queueStart(ex: Exchange): void {
    if (this.starts.push(ex) === 1) setImmediate(this.flushStarts);
  }

  /** Replaces the slot → url map; pools of removed or changed slots close. */
  setBackends(list: readonly SlotUrl[]): void {
    const keep = new Set<number>();
    for (const { slot, url, pool } of list) {
      keep.add(slot);
      if (this.urls[slot] !== url) {
        this.pools[slot]?.close();
        this.urls[slot] = url;
        const group = this.backendPools[pool] ?? this.defaultPool;
        this.pools[slot] = new UpstreamPool(url, group.timeouts, this.sweeper, undefined, this.upstreamTls.forUrl(url), group);
        this.histograms[slot] = new LatencyRecorder();
      }
    }
    for (let s = 0; s < this.urls.length; s++) {
      if (this.urls[s] !== undefined && !keep.has(s)) {
        this.pools[s]?.close();
        this.pools[s] = this.urls[s] = this.histograms[s] = undefined;
      }
    }
    for (let i = 0; i < this.backendPools.length; i++) {
      const bp = this.backendPools[i];
      if (bp !== undefined) bp.balancer.setBackends(list.filter((b) => b.pool === i));
    }
  }

  /** Applies a reloaded config (and pool names, new ones added at the end) to the thread. */
  setConfig(config: ProxyConfig, poolNames: PoolNames): void {
    this.config = config;
    this.poolNames = poolNames;
    this.applyPools();
    this.upstreamTls.update(config.tls);
    for (let s = 0; s < this.pools.length; s++) {
      const p = this.pools[s];
      if (p === undefined) continue;
      p.tls = this.upstreamTls.forUrl(this.urls[s]!);
    }
  }

  /** Creates or reconfigures a BackendPool per pool the config has, and compiles its routes. */
  private applyPools(): void {
    const names = this.poolNames;
    for (let i = 0; i < names.length; i++) {
      const settings = settingsFor(this.config, names, i);
      const bp = this.backendPools[i];
      if (settings === null) continue;
      if (bp !== undefined) bp.configure(settings);
      else
        this.backendPools[i] = new BackendPool(
          i,
          names[i] ?? 'default',
          settings,
          this.table,
          this.poolTable,
          this.poolLimiters[i] ?? null,
        );
    }
    const byName = new Map<string, number>();
    names.forEach((n, i) => {
      if (n !== null) byName.set(n, i);
    });
    this.router = this.config.routes.length === 0 ? null : new Router(compileRoutes(this.config.routes, (name) => byName.get(name) ?? 0));
  }

  /** Closes idle upstream connections past their keep-alive time. */
  reap(): void {
    for (const p of this.pools) p?.reap();
  }
}
