/**
 * The shard's half of CLUSTER COUNTKEYSINSLOT and GETKEYSINSLOT: database 0's keys by hash
 * slot. The per-slot counts are built on first use and kept by the store afterwards, so a
 * server outside cluster mode never pays for them.
 */
import type { Handler } from './context.js';
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

/** `__slotkeys slot count`: up to `count` keys of database 0 in the slot; the scan stops once it has them all. */
const slotKeys: Handler = (c) => {
  const slot = (c.int(1) ?? 0) & 16383;
  const want = Math.min(c.int(2) ?? 0, c.store.slotIndex()[slot]!);
  const m = c.store.arena;
  const t = c.store.dbs[0]!;
  found.length = 0;
  const emit = (a: number): void => {
    if (found.length < want && keySlot(m.u8, recKeyOff(m, a), recKeyLen(m, a)) === slot) found.push(a);
  };
  if (want > 0) {
    let cursor = 0;
    do cursor = t.scan(cursor, SCAN_STEP, emit);
    while (cursor !== 0 && found.length < want);
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
