/** Leased tokens held locally per key in the shared bucket table: worker threads spend them with one CAS. */
import { ALG_LEASE, type BucketTable, DEAD, FRESH, TABLE_FULL } from './bucket-table.js';

/** Per-key counters of tokens already granted by the server and not yet spent. */
export class LeasePool {
  constructor(
    readonly table: BucketTable,
    readonly namespace: number,
  ) {
    table.registerNamespace(namespace, ALG_LEASE, 0, 0, 0);
  }

  /** Takes `cost` leased tokens for `key` if that many are held; false otherwise. No allocation. */
  take(key: string, cost: number, nowMs: number): boolean {
    const table = this.table;
    const i32 = table.i32;
    for (;;) {
      const base = table.slotFor(this.namespace, key, nowMs);
      if (base === TABLE_FULL) return false;
      const meta = table.lastMeta;
      for (;;) {
        const w = Atomics.load(i32, base + 1);
        if (w === DEAD || Atomics.load(i32, base) !== meta) break;
        const tokens = w === FRESH ? 0 : w;
        if (tokens < cost) return false;
        if (Atomics.compareExchange(i32, base + 1, w, tokens - cost) === w) return true;
      }
    }
  }

  /** Adds `n` granted tokens for `key`; false when the table is full (the tokens are then dropped, never invented). */
  add(key: string, n: number, nowMs: number): boolean {
    const table = this.table;
    const i32 = table.i32;
    for (;;) {
      const base = table.slotFor(this.namespace, key, nowMs);
      if (base === TABLE_FULL) return false;
      const meta = table.lastMeta;
      for (;;) {
        const w = Atomics.load(i32, base + 1);
        if (w === DEAD || Atomics.load(i32, base) !== meta) break;
        if (Atomics.compareExchange(i32, base + 1, w, (w === FRESH ? 0 : w) + n) === w) return true;
      }
    }
  }

  /** Tokens held for `key` right now. */
  held(key: string, nowMs: number): number {
    const base = this.table.slotFor(this.namespace, key, nowMs);
    if (base === TABLE_FULL) return 0;
    const w = Atomics.load(this.table.i32, base + 1);
    return w === FRESH || w === DEAD ? 0 : w;
  }
}
