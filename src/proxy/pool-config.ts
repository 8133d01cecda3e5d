/** Schemas of routing rules, named pools and the resilience settings (Envoy's model) a pool or the default pool takes. */
import { z } from 'zod';

const ms = z.number().int().positive();
const limitOrOff = z.number().int().min(1).nullable().default(null);

/** Circuit breaker: requests past a limit (summed over every thread) get a 503 at once instead of piling up. */
export const circuitBreakerSchema = z.strictObject({
  /** Open upstream connections (idle and busy) to the pool's backends. */
  maxConnections: limitOrOff,
  /** Requests waiting for a new upstream connection to be established. */
  maxPendingRequests: limitOrOff,
  /** Requests in flight to the pool. */
  maxRequests: limitOrOff,
});

/** Outlier detection: a backend answering errors in a row is ejected for a while. */
export const outlierDetectionSchema = z
  .strictObject({
    /** 5xx answers (and gateway errors) in a row that eject a backend (null: not counted). */
    consecutive5xx: z.number().int().min(1).nullable().default(5),
    /** Gateway errors in a row (502, 503, 504, failed connections, resets, timeouts) that eject a backend. */
    consecutiveGatewayErrors: z.number().int().min(1).nullable().default(null),
    /** An ejection lasts baseEjectionMs × the backend's ejection count, up to maxEjectionMs. */
    baseEjectionMs: ms.default(30_000),
    maxEjectionMs: ms.default(300_000),
    /** At most this share of the pool is ejected at once (rounded down: never more). */
    maxEjectionPercent: z.number().int().min(0).max(100).default(50),
  })
  .refine((o) => o.maxEjectionMs >= o.baseEjectionMs, {
    message: 'maxEjectionMs must be at least baseEjectionMs',
    path: ['maxEjectionMs'],
  });

/** Retry budget: retries in flight may be at most budgetPercent of the requests in flight, or minRetryConcurrency. */
export const retryBudgetSchema = z.strictObject({
  budgetPercent: z.number().min(0).max(100).default(20),
  minRetryConcurrency: z.number().int().min(0).default(3),
});

/** The settings the default pool takes at the top level and each named pool takes in its own section. */
export const resilienceFields = {
  circuitBreaker: circuitBreakerSchema.nullable().default(null),
  outlierDetection: outlierDetectionSchema.nullable().default(null),
  /** A backend that joins or recovers ramps its weight linearly over this many ms (0: at once). */
  slowStartMs: z.number().int().min(0).default(0),
  retryBudget: retryBudgetSchema.nullable().default(null),
};

/** One routing rule: every condition given must hold; the first rule that matches picks the pool. */
export const routeSchema = z.strictObject({
  match: z
    .strictObject({
      /** Host without port, case-insensitive; "*.example.com" matches any subdomain. */
      host: z
        .string()
        .regex(/^(\*\.)?[A-Za-z0-9.-]+$/, 'must be a host name, optionally starting with "*."')
        .optional(),
      pathPrefix: z.string().startsWith('/').optional(),
      path: z.string().startsWith('/').optional(),
      methods: z
        .array(z.string().regex(/^[A-Za-z]+$/, 'must be a method name'))
        .min(1)
        .optional(),
      /** Header name → exact value. */
      headers: z.record(z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/, 'must be a header name'), z.string()).optional(),
    })
    .prefault({}),
  pool: z.string().min(1),
  rewrite: z
    .strictObject({
      /** Removed from the start of the path before forwarding (the path keeps a leading "/"). */
      stripPrefix: z.string().startsWith('/'),
    })
    .optional(),
});

export type RouteSpec = z.infer<typeof routeSchema>;
