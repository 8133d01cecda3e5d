/**
 * A pool's retry budget (Envoy's): retries in flight may be at most budgetPercent of the pool's requests in flight,
 * or minRetryConcurrency when that is more, counted in the shared pool table so the budget holds over every thread.
 * A retry refused by the budget answers with the failure it would have retried.
 */
import type { z } from 'zod';
import type { retryBudgetSchema } from './pool-config.js';
import { P_ACTIVE, P_BUDGET_REFUSED, P_RETRIES, type PoolTable } from './pool-table.js';

export type RetryBudgetConfig = z.infer<typeof retryBudgetSchema>;

/** The most retries the budget lets be in flight with `active` requests in flight. */
export function retryAllowance(budget: RetryBudgetConfig, active: number): number {
  return Math.max(budget.minRetryConcurrency, Math.floor((active * budget.budgetPercent) / 100));
}

/** Claims a retry in `pool`; false (counted as refused) when the budget is spent. Release with releaseRetry. */
export function claimRetry(table: PoolTable, pool: number, budget: RetryBudgetConfig): boolean {
  if (table.tryClaim(pool, P_RETRIES, retryAllowance(budget, table.get(pool, P_ACTIVE)))) return true;
  table.add(pool, P_BUDGET_REFUSED, 1);
  return false;
}

/** Ends a retry claimed by claimRetry. */
export function releaseRetry(table: PoolTable, pool: number): void {
  table.unclaim(pool, P_RETRIES);
}
