/**
 * The shard's half of CLUSTER COUNTKEYSINSLOT and GETKEYSINSLOT: database 0's keys by hash
 * slot. The per-slot counts are built on first use and kept by the store afterwards, so a
 * server outside cluster mode never pays for them.
 */
import type { Ctx, Handler } from './context.js';
import { hashBytes } from './key-table.js';
import { recKeyLen, recKeyOff } from './record.js';
import { keySlot } from '../wire/key-slot.js';

/** Keys emitted per table scan step while looking for a slot's keys. */
const SCAN_STEP = 1024;

/** `__countslot slot`: keys of database 0 in the slot. */
const countSlot: Handler = (c) => {
  const slot = c.int(1) ?? 0;
  c.out.int(c.store.slotIndex()[slot & 16383]!);
};

let found: number[] = [];

/**
 * Database 0's records by slot as one table pass found them (`addrs[start[s]..start[s + 1])` for slot s), so a
 * reshard's GETKEYSINSLOT of each slot costs that slot's keys, not a scan of the table. Records deleted or moved
 * since are skipped when read (each address is checked against the table); a slot holding keys the snapshot
 * lacks (written after it) is scanned, and the snapshot taken again.
 */
let byslot: { start: Int32Array; addrs: Int32Array } | null = null;

/** Takes the snapshot: one scan of database 0 filling each slot's run, sized from the store's exact per-slot counts. */
function snapshotSlots(c: Ctx): { start: Int32Array; addrs: Int32Array } {
  const m = c.store.arena;
  const counts = c.store.slotIndex();
  const start = new Int32Array(16385);
  for (let s = 0; s < 16384; s++) start[s + 1] = start[s]! + counts[s]!;
  const fill = start.slice(0, 16384);
  const addrs = new Int32Array(start[16384]!);
  let cursor = 0;
  do
    cursor = c.store.dbs[0]!.scan(cursor, SCAN_STEP, (a) => {
      const s = keySlot(m.u8, recKeyOff(m, a), recKeyLen(m, a));
      // A scan may emit a key twice across a resize; its slot's run has room for its count only.
      if (fill[s]! < start[s + 1]!) addrs[fill[s]!++] = a;
    });
  while (cursor !== 0);
  return { start, addrs };
}

/** True when `a` is still the record of a key of database 0 in `slot` (not freed, moved or reused by another key). */
function liveIn(c: Ctx, a: number, slot: number): boolean {
  const m = c.store.arena;
  if (a <= 0 || a + 16 > m.u8.length) return false;
  const off = recKeyOff(m, a);
  const len = recKeyLen(m, a);
  if (off + len > m.u8.length || keySlot(m.u8, off, len) !== slot) return false;
  return c.store.dbs[0]!.find(m.u8, off, len, hashBytes(m.u8, off, len)) === a;
}

/** `__slotkeys slot count`: up to `count` keys of database 0 in the slot. */
const slotKeys: Handler = (c) => {
  const slot = (c.int(1) ?? 0) & 16383;
  const want = Math.min(c.int(2) ?? 0, c.store.slotIndex()[slot]!);
  const m = c.store.arena;
  found.length = 0;
  if (want > 0) {
    byslot ??= snapshotSlots(c);
    for (let i = byslot.start[slot]!; i < byslot.start[slot + 1]! && found.length < want; i++) {
      const a = byslot.addrs[i]!;
      if (liveIn(c, a, slot)) found.push(a);
    }
    if (found.length < want) {
      // Keys the snapshot lacks: a scan finds them, and the next call works from a fresh snapshot.
      byslot = null;
      found.length = 0;
      const t = c.store.dbs[0]!;
      const emit = (a: number): void => {
        if (found.length < want && keySlot(m.u8, recKeyOff(m, a), recKeyLen(m, a)) === slot) found.push(a);
      };
      let cursor = 0;
      do cursor = t.scan(cursor, SCAN_STEP, emit);
      while (cursor !== 0 && found.length < want);
    }
  }
  c.out.arrayHeader(found.length);
  for (const a of found) c.out.bulk(m.u8, recKeyOff(m, a), recKeyLen(m, a));
  if (found.length > 100000) found = [];
};

/** Cluster slot introspection (internal commands). */
export const clusterCommands: Record<string, Handler> = {
  __countslot: countSlot,
  __slotkeys: slotKeys,
};
