/** What one worker thread's requests share: backend pools and latency recorders by slot, the balancer, the config. */
import type { PolicyEngine } from '../limiter/policy.js';
import type { BackendTable } from './backend-table.js';
import type { Balancer } from './balancer.js';
import type { ProxyConfig } from './config.js';
import type { Exchange } from './exchange.js';
import type { FrontResponse } from './front.js';
import { LatencyRecorder } from './latency.js';
import type { TimeoutSweeper } from './timeout-sweeper.js';
import { UpstreamPool } from './upstream-pool.js';
import { UpstreamTlsSettings } from './upstream-tls.js';

/** Everything one worker thread's requests share. */
export class ProxyContext {
  readonly pools: Array<UpstreamPool | undefined> = [];
  readonly urls: Array<string | undefined> = [];
  readonly histograms: Array<LatencyRecorder | undefined> = [];
  /** Requests this thread has in flight (shutdown waits for zero). */
  inflight = 0;
  /** Rate-limit policies checked before a request is proxied (null: none configured). */
  limiter: PolicyEngine | null = null;
  /**
   * Set for the uWS front: exchanges start after the read that parsed them has been handled. uWS.js closes a
   * connection whose next request arrives while a response is pending, inside that same read; started later, an
   * exchange aborted that way never reaches a backend (so a pipelined POST is not run without an answer).
   */
  deferStarts = false;
  /** tls.connect options for https:// backends. */
  private readonly upstreamTls: UpstreamTlsSettings;
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
    readonly balancer: Balancer,
    readonly sweeper: TimeoutSweeper,
    public config: ProxyConfig,
    /** The client's address as text (X-Forwarded-For), read the way the thread's front end can. */
    readonly remoteAddress: (res: FrontResponse) => string,
  ) {
    this.upstreamTls = new UpstreamTlsSettings(config.tls);
  }

  /** Starts `ex` in the check phase of this loop iteration, after every read of the poll phase. */
  queueStart(ex: Exchange): void {
    if (this.starts.push(ex) === 1) setImmediate(this.flushStarts);
  }

  /** Replaces the slot → url map; pools of removed or changed slots close. */
  setBackends(list: ReadonlyArray<{ slot: number; url: string }>): void {
    const keep = new Set<number>();
    for (const { slot, url } of list) {
      keep.add(slot);
      if (this.urls[slot] !== url) {
        this.pools[slot]?.close();
        this.urls[slot] = url;
        this.pools[slot] = new UpstreamPool(url, this.config.timeouts, this.sweeper, undefined, this.upstreamTls.forUrl(url));
        this.histograms[slot] = new LatencyRecorder();
      }
    }
    for (let s = 0; s < this.urls.length; s++) {
      if (this.urls[s] !== undefined && !keep.has(s)) {
        this.pools[s]?.close();
        this.pools[s] = this.urls[s] = this.histograms[s] = undefined;
      }
    }
    this.balancer.setBackends(list);
  }

  /** Applies a reloaded config to the thread. */
  setConfig(config: ProxyConfig): void {
    this.config = config;
    this.balancer.algorithm = config.algorithm;
    this.upstreamTls.update(config.tls);
    for (let s = 0; s < this.pools.length; s++) {
      const p = this.pools[s];
      if (p === undefined) continue;
      Object.assign(p.timeouts, config.timeouts);
      p.tls = this.upstreamTls.forUrl(this.urls[s]!);
    }
  }

  /** Closes idle upstream connections past their keep-alive time. */
  reap(): void {
    for (const p of this.pools) p?.reap();
  }
}
