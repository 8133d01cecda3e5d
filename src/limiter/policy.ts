/**
 * The policy engine: matches a request against the configured policies, checks each matching
 * policy's bucket and returns the decision with the headers to send (IETF draft RateLimit-Policy /
 * RateLimit, Retry-After on denial) and an application/problem+json body for 429s.
 */
import { STATUS_CODES } from 'node:http';
import { BucketTable, NS_MAX } from './bucket-table.js';
import { KeyTooLongError, LimiterError } from './errors.js';
import { GcraLimiter } from './gcra.js';
import { parsePolicyConfig, type Policy, type PolicyConfig } from './policy-config.js';
import { QueueLimiter } from './queue.js';
import { GlobalLimiter } from './remote.js';
import { RespClient } from './resp-client.js';
import type { CheckResult } from './result.js';
import { TokenBucketLimiter } from './token-bucket.js';

/** What the engine needs to know about a request. */
export interface RequestInfo {
  method: string;
  /** Path without the query string. */
  path: string;
  /** Client IP as the caller determined it. */
  ip: string;
  /** Header lookup by lower-case name. */
  header(name: string): string | undefined;
}

/** The decision for one request. */
export interface Decision {
  allowed: boolean;
  /** 200 when allowed (send your response), the configured status (429) when limited, 400 when a key header is too long. */
  status: number;
  /** Queue-mode policies: milliseconds to hold an admitted request before serving it (0: at once). */
  delayMs: number;
  /** Headers to add to the response, allowed or not. */
  headers: Record<string, string>;
  /** application/problem+json body when not allowed. */
  body: string | undefined;
  /** Name of the policy that denied, if any. */
  policy: string | undefined;
}

interface Level {
  /** Name used in the headers: the policy name, or "policy.tier". */
  label: string;
  limit: number;
  windowS: number;
  local: GcraLimiter | TokenBucketLimiter | undefined;
  queue: QueueLimiter | undefined;
  global: GlobalLimiter | undefined;
  /** Checks of this level that admitted and that denied (each matching policy counts once per request). */
  admitted: number;
  denied: number;
  /** Queue mode: admitted requests that had to wait for their slot. */
  delayed: number;
}

/** Counters of one policy level, as PolicyEngine.stats() reports them. */
export interface LevelStats {
  policy: string;
  tier: string;
  scope: 'local' | 'global';
  mode: 'refuse' | 'queue';
  admitted: number;
  denied: number;
  /** Queue mode: admitted requests that waited for their slot. */
  delayed?: number;
  /** Global levels: CL.LEASE round trips, checks answered by onUnavailable, and whether that rule is in force now. */
  leaseRequests?: number;
  fallbacks?: number;
  unavailable?: boolean;
}

/** What PolicyEngine.stats() returns: per level counters and the bucket table's occupancy. */
export interface EngineStats {
  levels: LevelStats[];
  table: { size: number; capacity: number; fullEvents: number };
  /** Requests held for a queue slot right now (set by the proxy, which holds them). */
  waiting?: number;
}

interface Compiled {
  policy: Policy;
  methods: Set<string> | undefined;
  path: RegExp | undefined;
  levels: Map<string, Level>;
  prefixes: [string, string][];
}

/** Compiles "/a/:id/*" (one segment) and "/a/**" (any rest) to an anchored RegExp. */
export function compilePathPattern(pattern: string): RegExp {
  let re = '';
  for (const part of pattern.split(/(\*\*|\*|:[A-Za-z0-9_]+)/)) {
    if (part === '**') re += '.*';
    else if (part === '*' || part.startsWith(':')) re += '[^/]+';
    else re += part.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

const PROBLEM_TYPE = 'about:blank';

/** Evaluates requests against a validated policy configuration. */
export class PolicyEngine {
  readonly config: PolicyConfig;
  readonly table: BucketTable;
  private readonly compiled: Compiled[];
  private readonly client: RespClient | undefined;
  private readonly stopSweeper: () => void;

  /** Validates `config` (ConfigError names the bad field) and builds one bucket namespace per policy tier. */
  constructor(config: unknown, opts: { table?: BucketTable; client?: RespClient } = {}) {
    this.config = parsePolicyConfig(config);
    const c = this.config;
    this.table = opts.table ?? BucketTable.create(c.table ?? {});
    const needsClient = c.policies.some((p) => p.scope === 'global');
    this.client = needsClient
      ? (opts.client ?? new RespClient({ host: c.server!.host, port: c.server!.port, commandTimeoutMs: c.server!.timeoutMs }))
      : undefined;
    let ns = 0;
    const nextNs = (n: number): number => {
      const at = ns;
      ns += n;
      if (ns > NS_MAX) throw new LimiterError('SABRE_LIMITER_NAMESPACE', `policies need more than ${NS_MAX} bucket namespaces`);
      return at;
    };
    this.compiled = c.policies.map((p) => {
      const levels = new Map<string, Level>();
      const specs = p.tiers ? Object.entries(p.tiers.levels) : [['', { limit: p.limit!, window: p.window!, burst: p.burst }] as const];
      for (const [tier, l] of specs) {
        const label = tier ? `${p.name}.${tier}` : p.name;
        const base = { limit: l.limit, windowMs: l.window, burst: l.burst };
        let local: Level['local'];
        let queue: Level['queue'];
        let global: Level['global'];
        if (p.mode === 'queue') {
          queue = new QueueLimiter({
            table: this.table,
            namespace: nextNs(1),
            onFull: c.onFull,
            limit: l.limit,
            windowMs: l.window,
            burst: l.burst ?? 0,
            delay: p.delay,
            nodelay: p.nodelay,
            maxDelayMs: p.maxDelayMs,
          });
        } else if (p.scope === 'global') {
          global = new GlobalLimiter({
            client: this.client!,
            table: this.table,
            namespace: nextNs(2),
            prefix: `sabre:rl:${label}:`,
            ...base,
            leaseSize: p.leaseSize,
            onUnavailable: p.onUnavailable,
            insurance: p.insurance ? { limit: p.insurance.limit, windowMs: p.insurance.window } : undefined,
          });
        } else if (p.algorithm === 'gcra') {
          local = new GcraLimiter({ table: this.table, namespace: nextNs(1), onFull: c.onFull, ...base });
        } else {
          local = new TokenBucketLimiter({ table: this.table, namespace: nextNs(1), onFull: c.onFull, ...base });
        }
        const limit = queue ? queue.params.burst : (l.burst ?? l.limit);
        levels.set(tier, { label, limit, windowS: Math.ceil(l.window / 1000), local, queue, global, admitted: 0, denied: 0, delayed: 0 });
      }
      return {
        policy: p,
        methods: p.match?.methods ? new Set(p.match.methods.map((m) => m.toUpperCase())) : undefined,
        path: p.match?.path ? compilePathPattern(p.match.path) : undefined,
        levels,
        prefixes: Object.entries(p.tiers?.prefixes ?? {}).sort((a, b) => b[0].length - a[0].length),
      };
    });
    this.stopSweeper = this.table.startSweeper();
  }

  /**
   * Checks every policy matching the request (each consumes one unit) and builds the response
   * headers. Awaits the server only for policies with `scope: "global"`.
   */
  async evaluate(req: RequestInfo): Promise<Decision> {
    const found = this.matching(req);
    const results: Checked[] = [];
    for (const { level, key, policy } of found) {
      if (level.global) results.push({ level, r: await level.global.check(key) });
      else {
        const r = this.checkLocal(level, key, policy);
        if ('status' in r) return r;
        results.push({ level, r });
      }
    }
    return decide(count(results), this.config.status);
  }

  /**
   * evaluate() without waiting: the decision when every matching policy is local, or undefined
   * when one is global (then call evaluate()). For callers that must answer in the same tick,
   * like the proxy's uWS handler.
   */
  evaluateSync(req: RequestInfo): Decision | undefined {
    const found = this.matching(req);
    if (found.some((f) => f.level.global)) return undefined;
    const results: Checked[] = [];
    for (const { level, key, policy } of found) {
      const r = this.checkLocal(level, key, policy);
      if ('status' in r) return r;
      results.push({ level, r });
    }
    return decide(count(results), this.config.status);
  }

  /** Counters per policy level (this engine's checks) and the bucket table's occupancy (all threads). */
  stats(): EngineStats {
    const levels: LevelStats[] = [];
    for (const c of this.compiled) {
      for (const [tier, l] of c.levels) {
        const s: LevelStats = {
          policy: c.policy.name,
          tier,
          scope: l.global ? 'global' : 'local',
          mode: l.queue ? 'queue' : 'refuse',
          admitted: l.admitted,
          denied: l.denied,
        };
        if (l.queue) s.delayed = l.delayed;
        if (l.global) {
          s.leaseRequests = l.global.leaseRequests;
          s.fallbacks = l.global.fallbacks;
          s.unavailable = l.global.unavailableNow;
        }
        levels.push(s);
      }
    }
    return { levels, table: { size: this.table.size, capacity: this.table.capacity, fullEvents: this.table.fullEvents } };
  }

  /** The policies that apply to a request, with the key and level each checks. */
  private matching(req: RequestInfo): { level: Level; key: string; policy: string }[] {
    const method = req.method.toUpperCase();
    const out: { level: Level; key: string; policy: string }[] = [];
    for (const c of this.compiled) {
      if (c.methods && !c.methods.has(method)) continue;
      if (c.path && !c.path.test(req.path)) continue;
      const p = c.policy;
      let key: string | undefined;
      if (p.key === 'ip') key = req.ip;
      else if (p.key === 'endpoint') key = `${method} ${p.match?.path ?? '*'}`;
      else key = req.header(p.key.header.toLowerCase());
      // A request without the identifying header is not subject to that policy.
      if (key === undefined || key === '') continue;
      out.push({ level: this.levelFor(c, key, req), key, policy: p.name });
    }
    return out;
  }

  /** One local check or queue reservation (a copy of the reused result), or the 400 decision for a key too long. */
  private checkLocal(level: Level, key: string, policy: string): CheckResult | Decision {
    try {
      if (level.queue) return { ...level.queue.reserve(key) };
      return { ...level.local!.check(key) };
    } catch (err) {
      if (err instanceof KeyTooLongError) return badKey(policy, err);
      throw err;
    }
  }

  /** Stops the sweeper and closes the server connection. */
  close(): void {
    this.stopSweeper();
    this.client?.close();
  }

  private levelFor(c: Compiled, key: string, req: RequestInfo): Level {
    const tiers = c.policy.tiers;
    if (!tiers) return c.levels.get('')!;
    if (tiers.header) {
      const named = req.header(tiers.header.toLowerCase());
      if (named !== undefined && c.levels.has(named)) return c.levels.get(named)!;
    }
    for (const [prefix, tier] of c.prefixes) if (key.startsWith(prefix)) return c.levels.get(tier)!;
    return c.levels.get(tiers.default)!;
  }
}

/** One policy's check result (with `delayMs` from a queue-mode policy). */
interface Checked {
  level: Level;
  r: CheckResult & { delayMs?: number };
}

/** Counts each check on its level; returns the results. */
function count(results: Checked[]): Checked[] {
  for (const { level, r } of results) {
    if (!r.allowed) level.denied++;
    else {
      level.admitted++;
      if (r.delayMs) level.delayed++;
    }
  }
  return results;
}

/** The decision and headers from the checks of every matching policy; `status` is the refusal's. */
function decide(results: Checked[], status: number): Decision {
  const policyItems: string[] = [];
  const stateItems: string[] = [];
  let deny: Checked | undefined;
  let delayMs = 0;
  for (const { level, r } of results) {
    if (r.delayMs !== undefined && r.delayMs > delayMs) delayMs = r.delayMs;
    policyItems.push(`"${level.label}";q=${level.limit};w=${level.windowS}`);
    const t = r.allowed ? Math.ceil(r.resetMs / 1000) : retrySeconds(r, level);
    stateItems.push(`"${level.label}";r=${r.remaining};t=${t}`);
    if (!r.allowed && !deny) deny = { level, r };
  }
  const headers: Record<string, string> = {};
  if (policyItems.length > 0) {
    headers['RateLimit-Policy'] = policyItems.join(', ');
    headers.RateLimit = stateItems.join(', ');
  }
  if (!deny) return { allowed: true, status: 200, delayMs, headers, body: undefined, policy: undefined };
  const retry = retrySeconds(deny.r, deny.level);
  headers['Retry-After'] = String(retry);
  const body = JSON.stringify({
    type: PROBLEM_TYPE,
    title: STATUS_CODES[status] ?? 'Rate Limited',
    status,
    detail: `rate limit "${deny.level.label}" exceeded (${deny.level.limit} per ${deny.level.windowS} s); retry in ${retry} s`,
    policy: deny.level.label,
    retryAfter: retry,
  });
  return { allowed: false, status, delayMs: 0, headers, body, policy: deny.level.label };
}

function retrySeconds(r: CheckResult, level: Level): number {
  return r.retryAfterMs < 0 ? level.windowS : Math.max(1, Math.ceil(r.retryAfterMs / 1000));
}

function badKey(policy: string, err: KeyTooLongError): Decision {
  return {
    allowed: false,
    status: 400,
    delayMs: 0,
    headers: {},
    body: JSON.stringify({ type: PROBLEM_TYPE, title: 'Bad Request', status: 400, detail: err.message, policy }),
    policy,
  };
}
