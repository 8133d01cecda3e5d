/** One Sabre or Redis watched by the dashboard: INFO, LATENCY HISTOGRAM and SLOWLOG once a second. */
import { Redis } from 'ioredis';
import { parseInfo } from '../wire/info-text.js';
import { type Cdf, mergeHistogramReply, percentile, since } from './latency-cdf.js';

/** What the page shows for a server at one moment. */
export interface ServerSnapshot {
  kind: 'server';
  name: string;
  state: 'up' | 'unreachable' | 'waiting';
  error: string | null;
  at: number;
  version: string | null;
  role: string | null;
  replicas: number | null;
  clients: number;
  blocked: number;
  opsPerSec: number;
  opsByFamily: Record<string, number>;
  memory: number;
  maxmemory: number;
  keys: Record<string, { keys: number; expires: number }>;
  evictedPerSec: number;
  expiredPerSec: number;
  latencyTracking: boolean;
  /** Microseconds (power-of-two bucket bounds), null without calls. */
  latency10s: { p50: number | null; p99: number | null; p999: number | null };
  latencyTotal: { p50: number | null; p99: number | null; p999: number | null };
  slowlog: { id: number; at: number; usec: number; command: string }[];
}

const num = (m: Map<string, string>, k: string): number => Number(m.get(k) ?? 0);

/** Polls one server; `snapshot()` never throws: an unreachable server is a state of its own. */
export class ServerSource {
  private readonly redis: Redis;
  private groups: Map<string, string> | null = null;
  private prev: { at: number; info: Map<string, string> } | null = null;
  private cdfs: { at: number; cdf: Cdf }[] = [];
  private last: ServerSnapshot;
  private lastError: string | null = null;

  constructor(
    readonly name: string,
    host: string,
    port: number,
    password?: string,
  ) {
    this.redis = new Redis({
      host,
      port,
      ...(password === undefined ? {} : { password }),
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 1000,
      // Keep trying for as long as the dashboard runs: a restarted server comes back on the page.
      retryStrategy: () => 1000,
      connectionName: 'sabre-dashboard',
    });
    this.redis.on('error', (err: NodeJS.ErrnoException) => {
      this.lastError = err.code === 'ECONNREFUSED' ? `cannot connect to ${host}:${port}: connection refused` : err.message;
    });
    this.redis.on('ready', () => (this.lastError = null));
    this.last = this.empty('waiting', null);
  }

  private empty(state: ServerSnapshot['state'], error: string | null): ServerSnapshot {
    const none = { p50: null, p99: null, p999: null };
    return {
      kind: 'server',
      name: this.name,
      state,
      error,
      at: Date.now(),
      version: null,
      role: null,
      replicas: null,
      clients: 0,
      blocked: 0,
      opsPerSec: 0,
      opsByFamily: {},
      memory: 0,
      maxmemory: 0,
      keys: {},
      evictedPerSec: 0,
      expiredPerSec: 0,
      latencyTracking: false,
      latency10s: none,
      latencyTotal: none,
      slowlog: [],
    };
  }

  /** Command → group ("string", "list"…) from COMMAND DOCS, once per connection. */
  private async commandGroups(): Promise<Map<string, string>> {
    if (this.groups) return this.groups;
    const docs = (await this.redis.call('COMMAND', 'DOCS')) as unknown[];
    const m = new Map<string, string>();
    for (let i = 0; i + 1 < docs.length; i += 2) {
      const fields = docs[i + 1] as unknown[];
      for (let j = 0; j + 1 < fields.length; j += 2) if (String(fields[j]) === 'group') m.set(String(docs[i]), String(fields[j + 1]));
    }
    this.groups = m;
    return m;
  }

  /** The latest view, without polling ('waiting' before the first poll). */
  get latest(): ServerSnapshot {
    return this.last;
  }

  /** Reads the server now and returns the page's view of it. */
  async poll(): Promise<ServerSnapshot> {
    try {
      if (this.redis.status === 'wait' || this.redis.status === 'end') await this.redis.connect();
      if (this.redis.status !== 'ready') throw new Error(this.lastError ?? 'connection lost; reconnecting');
      const [infoText, hist, slow, groups] = await Promise.all([
        this.redis.info('everything'),
        this.redis.call('LATENCY', 'HISTOGRAM').catch(() => []),
        this.redis.call('SLOWLOG', 'GET', '10').catch(() => []) as Promise<unknown[][]>,
        this.commandGroups(),
      ]);
      this.last = this.build(parseInfo(infoText), mergeHistogramReply(hist), slow, groups);
    } catch (err) {
      this.prev = null;
      this.groups = null;
      this.last = this.empty('unreachable', (err as Error).message);
    }
    return this.last;
  }

  private build(info: Map<string, string>, cdf: Cdf, slow: unknown[][], groups: Map<string, string>): ServerSnapshot {
    const at = Date.now();
    const s = this.empty('up', null);
    s.at = at;
    s.version = info.get('redis_version') ?? null;
    s.role = info.get('role') ?? null;
    s.replicas = info.has('connected_slaves') ? num(info, 'connected_slaves') : null;
    s.clients = num(info, 'connected_clients');
    s.blocked = num(info, 'blocked_clients');
    s.memory = num(info, 'used_memory');
    s.maxmemory = num(info, 'maxmemory');
    for (const [k, v] of info) {
      const m = /^db(\d+)$/.exec(k);
      if (m) s.keys[k] = { keys: Number(/keys=(\d+)/.exec(v)?.[1] ?? 0), expires: Number(/expires=(\d+)/.exec(v)?.[1] ?? 0) };
    }
    if (this.prev) {
      const dt = (at - this.prev.at) / 1000 || 1;
      const rate = (k: string): number => Math.max(0, (num(info, k) - num(this.prev!.info, k)) / dt);
      s.opsPerSec = rate('total_commands_processed');
      s.evictedPerSec = rate('evicted_keys');
      s.expiredPerSec = rate('expired_keys');
      for (const [k, v] of info) {
        const m = /^cmdstat_([^|]+)(\|.*)?$/.exec(k);
        if (!m) continue;
        const calls = Number(/calls=(\d+)/.exec(v)?.[1] ?? 0);
        const before = Number(/calls=(\d+)/.exec(this.prev.info.get(k) ?? '')?.[1] ?? 0);
        const family = groups.get(m[1]!) ?? 'other';
        s.opsByFamily[family] = (s.opsByFamily[family] ?? 0) + Math.max(0, calls - before) / dt;
      }
    }
    this.prev = { at, info };
    s.latencyTracking = cdf.size > 0 || info.get('latency_tracking') === 'yes';
    this.cdfs.push({ at, cdf });
    while (this.cdfs.length > 1 && at - this.cdfs[0]!.at > 10_500) this.cdfs.shift();
    const window = since(cdf, this.cdfs.length > 1 ? this.cdfs[0]!.cdf : null);
    const q = (c: Cdf): ServerSnapshot['latency10s'] => ({ p50: percentile(c, 50), p99: percentile(c, 99), p999: percentile(c, 99.9) });
    s.latency10s = q(window);
    s.latencyTotal = q(cdf);
    s.slowlog = (Array.isArray(slow) ? slow : []).map((e) => ({
      id: Number(e[0]),
      at: Number(e[1]) * 1000,
      usec: Number(e[2]),
      command: (e[3] as unknown[]).map(String).join(' ').slice(0, 200),
    }));
    return s;
  }

  /** Closes the connection. */
  close(): void {
    this.redis.disconnect();
  }
}
