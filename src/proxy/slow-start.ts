/**
 * Slow start: a backend that joins a pool or comes back (health check, end of an ejection) gets its effective weight
 * ramped linearly from a tenth of its weight to all of it over slowStartMs, so a cold backend is not handed its full
 * share at once. The main thread writes the ramp into the shared table on an injected clock; least-connections and
 * p2c weigh load by the effective weight.
 */
import { type BackendTable, WEIGHT_SCALE } from './backend-table.js';

/** The share of its weight a ramping backend starts from (Envoy's min_weight_percent default). */
export const MIN_WEIGHT_SHARE = 0.1;

/** The effective weight (thousandths) `elapsed` ms into a ramp of `durationMs` for a backend of `weight`. */
export function rampWeight(weight: number, elapsed: number, durationMs: number): number {
  const share = durationMs <= 0 ? 1 : Math.min(1, Math.max(MIN_WEIGHT_SHARE, elapsed / durationMs));
  return Math.max(1, Math.round(weight * WEIGHT_SCALE * share));
}

/** The ramps in progress, by slot. */
export class SlowStart {
  private readonly ramps = new Map<number, { since: number; durationMs: number }>();

  constructor(
    private readonly table: BackendTable,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts (or restarts) `slot`'s ramp; durationMs 0 leaves its weight whole. */
  begin(slot: number, durationMs: number): void {
    if (durationMs <= 0) return;
    this.ramps.set(slot, { since: this.now(), durationMs });
    this.table.setEffective(slot, rampWeight(this.table.weight(slot), 0, durationMs));
  }

  /** Writes every ramp's weight for now; finished ramps end at the full weight. */
  tick(): void {
    const now = this.now();
    for (const [slot, r] of this.ramps) {
      const elapsed = now - r.since;
      this.table.setEffective(slot, rampWeight(this.table.weight(slot), elapsed, r.durationMs));
      if (elapsed >= r.durationMs) this.ramps.delete(slot);
    }
  }

  /** Drops a slot's ramp (the backend left). */
  forget(slot: number): void {
    this.ramps.delete(slot);
  }

  /** Whether `slot` is ramping now. */
  ramping(slot: number): boolean {
    return this.ramps.has(slot);
  }
}
