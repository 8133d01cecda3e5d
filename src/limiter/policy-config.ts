/** Rate-limit policy configuration: the zod schema, duration parsing and field-naming errors. */
import { z } from 'zod';
import { ConfigError } from '../errors.js';
import { LimiterError } from './errors.js';
import { gcraParams } from './gcra-math.js';
import { tokenBucketParams } from './token-bucket-math.js';

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** A duration: milliseconds as a number, or a string like "500ms", "60s", "1m", "1h", "1d". */
const duration = z.union(
  [
    z.number().positive(),
    z
      .string()
      .regex(/^\d+(\.\d+)?(ms|s|m|h|d)$/, 'expected a duration like "60s", "1m" or "500ms"')
      .transform((s) => {
        const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(s)!;
        return Number(m[1]) * UNITS[m[2]!]!;
      }),
  ],
  { error: 'expected milliseconds or a duration like "60s", "1m", "500ms"' },
);

const limits = {
  limit: z.number().int().positive(),
  window: duration,
  /** Refuse mode: the bucket's capacity (default limit). Queue mode: requests that may wait beyond the rate (nginx burst, default 0). */
  burst: z.number().int().min(0).optional(),
};

const level = z.object(limits).strict();

const tiers = z
  .object({
    /** Header whose value names the tier (e.g. x-plan: pro). */
    header: z.string().min(1).optional(),
    /** Key prefix → tier name (e.g. "sk_live_" → "pro"); the longest matching prefix wins. */
    prefixes: z.record(z.string().min(1), z.string()).optional(),
    levels: z.record(z.string().regex(/^[A-Za-z0-9_.-]+$/), level),
    default: z.string(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (!t.header && !t.prefixes) ctx.addIssue({ code: 'custom', message: 'give "header" or "prefixes" to pick the tier' });
    if (!(t.default in t.levels)) ctx.addIssue({ code: 'custom', path: ['default'], message: `"${t.default}" is not one of levels` });
    for (const [p, name] of Object.entries(t.prefixes ?? {})) {
      if (!(name in t.levels)) ctx.addIssue({ code: 'custom', path: ['prefixes', p], message: `"${name}" is not one of levels` });
    }
  });

const policy = z
  .object({
    /** Policy name, sent in the RateLimit headers. */
    name: z.string().regex(/^[A-Za-z0-9_.-]+$/, 'use letters, digits, "_", "-" or "."'),
    match: z
      .object({
        methods: z
          .array(z.string().regex(/^[A-Za-z]+$/))
          .min(1)
          .optional(),
        /** "/api/users/:id", "/static/*" (one segment), "/api/**" (any rest). */
        path: z.string().startsWith('/').optional(),
      })
      .strict()
      .optional(),
    /** What identifies a bucket: the client IP, the endpoint itself, or a header (API key, user id). */
    key: z.union([z.literal('ip'), z.literal('endpoint'), z.object({ header: z.string().min(1) }).strict()]).default('ip'),
    algorithm: z.enum(['gcra', 'token-bucket']).default('gcra'),
    limit: limits.limit.optional(),
    window: duration.optional(),
    burst: limits.burst,
    scope: z.enum(['local', 'global']).default('local'),
    /** "refuse" answers over-limit requests at once; "queue" makes them wait for their slot (nginx limit_req burst). */
    mode: z.enum(['refuse', 'queue']).default('refuse'),
    /** Queue mode: of the `burst` waiting requests, how many go at once (nginx delay=N). */
    delay: z.number().int().min(0).optional(),
    /** Queue mode: the whole burst goes at once (nginx nodelay). */
    nodelay: z.boolean().default(false),
    /** Queue mode: refuse a request that would wait longer than this many ms. */
    maxDelayMs: z.number().min(0).optional(),
    /** While sabre server is unreachable: admit ("open"/"allow"), refuse ("closed"/"deny"), or a per-process limit ("local"). */
    onUnavailable: z
      .enum(['allow', 'deny', 'local', 'open', 'closed'])
      .default('local')
      .transform((v) => (v === 'open' ? 'allow' : v === 'closed' ? 'deny' : v)),
    /** Global scope: tokens leased per server round trip (1 = exact). */
    leaseSize: z.number().int().positive().max(1_000_000).default(1),
    /** Global scope, onUnavailable "local": the per-process limit while the server is unreachable. */
    insurance: level.optional(),
    tiers: tiers.optional(),
  })
  .strict()
  .superRefine((p, ctx) => {
    if (!p.tiers && (p.limit === undefined || p.window === undefined)) {
      ctx.addIssue({ code: 'custom', path: [p.limit === undefined ? 'limit' : 'window'], message: 'required unless tiers are given' });
    }
    // The limiters' own parameter checks (word sizes, tick range), reported at the field.
    const levels: [PropertyKey[], { limit?: number; window?: number; burst?: number }][] = p.tiers
      ? Object.entries(p.tiers.levels).map(([name, l]) => [['tiers', 'levels', name, 'limit'], l])
      : [[['limit'], p]];
    for (const [path, l] of levels) {
      if (l.limit === undefined || l.window === undefined) continue;
      try {
        if (p.algorithm === 'token-bucket') tokenBucketParams(l.limit, l.window);
        else if (p.mode === 'queue') gcraParams(l.limit, l.window, (l.burst ?? 0) + 1);
        else if (l.burst === 0) ctx.addIssue({ code: 'custom', path, message: 'burst 0 admits nothing; it is for mode "queue"' });
        else gcraParams(l.limit, l.window, l.burst ?? l.limit);
      } catch (err) {
        if (!(err instanceof LimiterError)) throw err;
        ctx.addIssue({ code: 'custom', path, message: err.message });
      }
    }
    if (p.scope === 'global') {
      const windows = p.tiers ? Object.values(p.tiers.levels).map((l) => l.window) : [p.window];
      for (const w of windows) {
        if (w !== undefined && (w % 1000 !== 0 || w < 1000))
          ctx.addIssue({ code: 'custom', path: ['window'], message: 'a global window must be whole seconds' });
      }
      if (p.algorithm !== 'gcra') ctx.addIssue({ code: 'custom', path: ['algorithm'], message: 'global policies run GCRA on the server' });
    }
    if (p.mode === 'queue') {
      if (p.scope === 'global') ctx.addIssue({ code: 'custom', path: ['mode'], message: 'queue mode is local only' });
      if (p.algorithm !== 'gcra') ctx.addIssue({ code: 'custom', path: ['algorithm'], message: 'queue mode runs GCRA' });
      if (p.delay !== undefined && p.nodelay)
        ctx.addIssue({ code: 'custom', path: ['delay'], message: 'give "delay" or "nodelay", not both' });
    } else {
      for (const f of ['delay', 'maxDelayMs'] as const) {
        if (p[f] !== undefined) ctx.addIssue({ code: 'custom', path: [f], message: 'only with mode "queue"' });
      }
      if (p.nodelay) ctx.addIssue({ code: 'custom', path: ['nodelay'], message: 'only with mode "queue"' });
    }
  });

/** The whole limiter configuration. */
export const policyConfigSchema = z
  .object({
    policies: z.array(policy).min(1),
    table: z
      .object({
        capacity: z
          .number()
          .int()
          .positive()
          .max(1 << 24)
          .optional(),
        maxKeyChars: z.number().int().positive().max(4096).optional(),
      })
      .strict()
      .optional(),
    /** sabre server for global policies. */
    server: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: z.number().int().min(1).max(65535),
        /** A reply slower than this counts as unreachable (onUnavailable) and the connection is remade. */
        timeoutMs: z.number().int().positive().max(60_000).default(250),
      })
      .strict()
      .optional(),
    /** Rule when the bucket table is full: deny (default) or allow, both counted and logged. */
    onFull: z.enum(['deny', 'allow']).default('deny'),
    /** Status of a refused request (nginx limit_req_status, whose default is 503). */
    status: z.number().int().min(400).max(599).default(429),
    /** Queue mode: requests one process (thread) holds waiting at most; beyond it they are refused. */
    maxWaiting: z.number().int().min(0).default(10_000),
  })
  .strict()
  .superRefine((c, ctx) => {
    const names = new Set<string>();
    c.policies.forEach((p, i) => {
      if (names.has(p.name)) ctx.addIssue({ code: 'custom', path: ['policies', i, 'name'], message: `duplicate policy name "${p.name}"` });
      names.add(p.name);
      if (p.scope === 'global' && !c.server)
        ctx.addIssue({ code: 'custom', path: ['policies', i, 'scope'], message: 'global scope needs "server"' });
    });
  });

/** A validated configuration (durations in ms, defaults applied). */
export type PolicyConfig = z.output<typeof policyConfigSchema>;
/** One validated policy. */
export type Policy = PolicyConfig['policies'][number];

function fieldPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out || '(root)';
}

/** Validates `input`; throws ConfigError naming each bad field, e.g. `policies[0].limit: …`. */
export function parsePolicyConfig(input: unknown): PolicyConfig {
  const r = policyConfigSchema.safeParse(input);
  if (r.success) return r.data;
  throw new ConfigError(`invalid rate-limit config: ${r.error.issues.map((i) => `${fieldPath(i.path)}: ${i.message}`).join('; ')}`);
}
