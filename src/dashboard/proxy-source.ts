/** One sabre proxy watched by the dashboard, through its admin API's GET /status. */

/** What the page shows for a proxy at one moment. */
export interface ProxySnapshot {
  kind: 'proxy';
  name: string;
  state: 'up' | 'unreachable' | 'waiting';
  error: string | null;
  at: number;
  front: string | null;
  algorithm: string | null;
  backends: {
    url: string;
    state: string;
    healthy: boolean;
    weight: number;
    inflight: number;
    reqPerSec: number;
    errorsPerSec: number;
    p99ms: number;
    /** The last 60 health readings, oldest first: 1 healthy, 0 not. */
    health: number[];
  }[];
  /** Rate limiting: decisions per second by policy and tier, and the bucket table (null without policies). */
  limiter: {
    policies: {
      policy: string;
      tier: string;
      admittedPerSec: number;
      deniedPerSec: number;
      denied: number;
      /** Queue mode: requests held for their slot per second. Global: CL.LEASE trips per second, fallbacks, server down now. */
      delayedPerSec?: number;
      leasePerSec?: number;
      fallbacks?: number;
      unavailable?: boolean;
    }[];
    buckets: number;
    capacity: number;
    fullEvents: number;
  } | null;
}

interface LimiterStatus {
  levels: {
    policy: string;
    tier: string;
    admitted: number;
    denied: number;
    delayed?: number;
    leaseRequests?: number;
    fallbacks?: number;
    unavailable?: boolean;
  }[];
  table: { size: number; capacity: number; fullEvents: number };
}

interface BackendStatus {
  url: string;
  /** The backend's pool (absent before pools existed): the same url may serve two pools, each its own row. */
  pool?: string;
  state: string;
  healthy: boolean;
  weight: number;
  inflight: number;
  requests: number;
  errors: number;
  latency_ms: { p99: number };
}

/** A backend's identity across polls: its pool and url. */
function backendKey(b: BackendStatus): string {
  return `${b.pool ?? ''} ${b.url}`;
}

/** Polls one proxy's admin API; an unreachable proxy is a state of its own. */
export class ProxySource {
  private prev: { at: number; backends: Map<string, BackendStatus>; limiter: LimiterStatus | null } | null = null;
  private readonly health = new Map<string, number[]>();

  constructor(
    readonly name: string,
    private readonly adminUrl: string,
  ) {}

  /** Reads the proxy now. */
  async poll(): Promise<ProxySnapshot> {
    const at = Date.now();
    try {
      const res = await fetch(new URL('/status', this.adminUrl), { signal: AbortSignal.timeout(1000) });
      if (!res.ok) throw new Error(`GET /status answered ${res.status}`);
      const st = (await res.json()) as { front?: string; algorithm?: string; backends: BackendStatus[]; limiter?: LimiterStatus | null };
      const dt = this.prev ? (at - this.prev.at) / 1000 || 1 : 0;
      const backends = st.backends.map((b) => {
        const key = backendKey(b);
        const before = this.prev?.backends.get(key);
        const h = this.health.get(key) ?? [];
        h.push(b.healthy ? 1 : 0);
        if (h.length > 60) h.shift();
        this.health.set(key, h);
        return {
          url: b.url,
          state: b.state,
          healthy: b.healthy,
          weight: b.weight,
          inflight: b.inflight,
          reqPerSec: before && dt ? Math.max(0, (b.requests - before.requests) / dt) : 0,
          errorsPerSec: before && dt ? Math.max(0, (b.errors - before.errors) / dt) : 0,
          p99ms: b.latency_ms.p99,
          health: [...h],
        };
      });
      const lim = st.limiter ?? null;
      const rate = (now: number, then: number | undefined): number => (then !== undefined && dt ? Math.max(0, (now - then) / dt) : 0);
      const limiter =
        lim === null
          ? null
          : {
              policies: lim.levels.map((l) => {
                const before = this.prev?.limiter?.levels.find((p) => p.policy === l.policy && p.tier === l.tier);
                return {
                  policy: l.policy,
                  tier: l.tier,
                  admittedPerSec: rate(l.admitted, before?.admitted),
                  deniedPerSec: rate(l.denied, before?.denied),
                  denied: l.denied,
                  ...(l.delayed === undefined ? {} : { delayedPerSec: rate(l.delayed, before?.delayed) }),
                  ...(l.leaseRequests === undefined
                    ? {}
                    : {
                        leasePerSec: rate(l.leaseRequests, before?.leaseRequests),
                        fallbacks: l.fallbacks ?? 0,
                        unavailable: l.unavailable ?? false,
                      }),
                };
              }),
              buckets: lim.table.size,
              capacity: lim.table.capacity,
              fullEvents: lim.table.fullEvents,
            };
      this.prev = { at, backends: new Map(st.backends.map((b) => [backendKey(b), b])), limiter: lim };
      return {
        limiter,
        kind: 'proxy',
        name: this.name,
        state: 'up',
        error: null,
        at,
        front: st.front ?? null,
        algorithm: st.algorithm ?? null,
        backends,
      };
    } catch (err) {
      this.prev = null;
      const error = (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message;
      return { kind: 'proxy', name: this.name, state: 'unreachable', error, at, front: null, algorithm: null, backends: [], limiter: null };
    }
  }
}
