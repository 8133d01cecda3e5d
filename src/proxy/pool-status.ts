/** One pool's figures for GET /status and /metrics: its backends, breaker counts and trips, ejections and retry budget. */
import type { EngineStats } from '../limiter/policy.js';
import type { PoolSettings } from './backend-pool.js';
import { maxEjected } from './outlier.js';
import {
  P_ACTIVE,
  P_BUDGET_REFUSED,
  P_CONNECTIONS,
  P_EJECTED,
  P_EJECTIONS,
  P_PENDING,
  P_RETRIES,
  P_SIZE,
  P_TRIPS_CONNECTIONS,
  P_TRIPS_PENDING,
  P_TRIPS_REQUESTS,
  type PoolTable,
} from './pool-table.js';
import type { BackendStatus } from './proxy-handle.js';

/** A pool in /status. */
export interface PoolStatus {
  name: string;
  algorithm: string;
  backends: BackendStatus[];
  /** Requests in flight to the pool (counted while a breaker or a retry budget is configured). */
  active: number;
  circuitBreaker: {
    limits: { maxConnections: number | null; maxPendingRequests: number | null; maxRequests: number | null };
    connections: number;
    pending: number;
    /** Whether a limit is reached now (the next claim past it is refused). */
    open: boolean;
    trips: { maxConnections: number; maxPendingRequests: number; maxRequests: number };
  } | null;
  outlierDetection: { ejectedNow: number; maxEjected: number; ejectionsTotal: number } | null;
  retryBudget: { budgetPercent: number; minRetryConcurrency: number; activeRetries: number; refused: number } | null;
  slowStartMs: number;
  /** The pool's own rate-limit policies, summed over the threads (null: none). */
  limiter: EngineStats | null;
}

/** Reads pool `index`'s counters from the shared table. */
export function poolStatus(
  name: string,
  index: number,
  s: PoolSettings,
  t: PoolTable,
  backends: BackendStatus[],
  limiter: EngineStats | null,
): PoolStatus {
  const cb = s.circuitBreaker;
  const od = s.outlierDetection;
  const rb = s.retryBudget;
  const active = t.get(index, P_ACTIVE);
  const connections = t.get(index, P_CONNECTIONS);
  const pending = t.get(index, P_PENDING);
  const reached = (v: number, max: number | null): boolean => max !== null && v >= max;
  return {
    name,
    algorithm: s.algorithm,
    backends,
    active,
    circuitBreaker:
      cb === null
        ? null
        : {
            limits: { ...cb },
            connections,
            pending,
            open: reached(active, cb.maxRequests) || reached(connections, cb.maxConnections) || reached(pending, cb.maxPendingRequests),
            trips: {
              maxConnections: t.get(index, P_TRIPS_CONNECTIONS) >>> 0,
              maxPendingRequests: t.get(index, P_TRIPS_PENDING) >>> 0,
              maxRequests: t.get(index, P_TRIPS_REQUESTS) >>> 0,
            },
          },
    outlierDetection:
      od === null
        ? null
        : {
            ejectedNow: t.get(index, P_EJECTED),
            maxEjected: maxEjected(t.get(index, P_SIZE), od),
            ejectionsTotal: t.get(index, P_EJECTIONS) >>> 0,
          },
    retryBudget: rb === null ? null : { ...rb, activeRetries: t.get(index, P_RETRIES), refused: t.get(index, P_BUDGET_REFUSED) >>> 0 },
    slowStartMs: s.slowStartMs,
    limiter,
  };
}
