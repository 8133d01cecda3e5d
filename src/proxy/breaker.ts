/**
 * A pool's circuit breaker (Envoy's thresholds): requests in flight, upstream connections and requests waiting for a
 * connection, each claimed against its limit in the shared pool table, so a limit holds exactly over every thread.
 * Past a limit a request gets a 503 at once instead of adding load to a pool that cannot take it.
 */
import type { z } from 'zod';
import type { circuitBreakerSchema } from './pool-config.js';
import { P_CONNECTIONS, P_PENDING, P_TRIPS_CONNECTIONS, P_TRIPS_PENDING, P_TRIPS_REQUESTS, type PoolTable } from './pool-table.js';

export type BreakerLimits = z.infer<typeof circuitBreakerSchema>;
/** Which limit refused a request. */
export type BreakerLimit = 'maxConnections' | 'maxPendingRequests' | 'maxRequests';

/** The 503 body of a request a breaker refused. */
export function breakerBody(pool: string, limit: BreakerLimit): string {
  return `{"error":"service unavailable","reason":"circuit breaker open","pool":${JSON.stringify(pool)},"limit":"${limit}"}`;
}

/** One thread's handle on a pool's breaker. */
export class CircuitBreaker {
  /** The limit that refused the last claim that failed. */
  refused: BreakerLimit = 'maxRequests';

  constructor(
    private readonly table: PoolTable,
    readonly pool: number,
    public limits: BreakerLimits,
  ) {}

  /** Claims a place for a new upstream connection and its connect wait; false (and counted as a trip) when full. */
  tryConnect(): boolean {
    const { maxConnections, maxPendingRequests } = this.limits;
    const t = this.table;
    if (!t.tryClaim(this.pool, P_CONNECTIONS, maxConnections ?? 0x7fffffff)) return this.trip('maxConnections', P_TRIPS_CONNECTIONS);
    if (!t.tryClaim(this.pool, P_PENDING, maxPendingRequests ?? 0x7fffffff)) {
      t.unclaim(this.pool, P_CONNECTIONS);
      return this.trip('maxPendingRequests', P_TRIPS_PENDING);
    }
    return true;
  }

  /** The connection is established: its request no longer waits. */
  connected(): void {
    this.table.unclaim(this.pool, P_PENDING);
  }

  /** The connection closed (or detached for an upgrade). */
  closed(): void {
    this.table.unclaim(this.pool, P_CONNECTIONS);
  }

  /** Counts a request refused for maxRequests (the claim itself is the pool's active count, backend-pool.ts). */
  tripRequests(): false {
    return this.trip('maxRequests', P_TRIPS_REQUESTS);
  }

  private trip(limit: BreakerLimit, counter: number): false {
    this.refused = limit;
    this.table.add(this.pool, counter, 1);
    return false;
  }
}
