/**
 * INFO commandstats for the calls scripts make, as Redis counts them: a call that ran (and whether
 * it replied an error), or one refused before running (ACL, read-only script, OOM...). The shard
 * owning the key counts it, wherever the script runs.
 */
import type { Ctx } from './context.js';

export const CALL_OK = 0;
export const CALL_FAILED = 1;
export const CALL_REJECTED = 2;

let count: (id: number, outcome: number) => void = () => {};

/** Sets what counts each call (the shard's commandstats counters). */
export function setCallCounter(fn: (id: number, outcome: number) => void): void {
  count = fn;
}

/** Counts command `id`, refused before running. */
export function countRejectedCall(id: number): void {
  count(id, CALL_REJECTED);
}

/** Counts command `id` as `c` just ran it (refused by the shard, failed, or run). */
export function countRanCall(id: number, c: Ctx): void {
  count(id, c.refused ? CALL_REJECTED : c.out.len > 0 && c.out.bytes[0] === 45 ? CALL_FAILED : CALL_OK);
}
