/**
 * maxmemory in a shard: before a write runs over this shard's share of the limit, keys are evicted
 * by Redis's sampled approximations (LRU idle time, LFU counter, nearest expiry, random), each victim
 * the best of `maxmemory-samples` keys sampled per database. The acceptor writes the limit, policy and
 * sample count into the shard's control words (frames.ts CT_*), so CONFIG SET applies at once.
 */
import type { Arena } from './arena.js';
import type { Store } from './store.js';
import { F_TTL, recExpire, recKeyLen, recKeyOff } from './record.js';
import * as F from '../wire/frames.js';

/** Policy names in control-word order: allkeys ones at 1..3, volatile ones (keys with a TTL only) from 4. */
export const POLICIES = [
  'noeviction',
  'allkeys-lru',
  'allkeys-lfu',
  'allkeys-random',
  'volatile-lru',
  'volatile-lfu',
  'volatile-random',
  'volatile-ttl',
] as const;

const NOEVICTION = 0;
const FIRST_VOLATILE = 4;

/** Redis's LFU_INIT_VAL: a new key's counter, so it is not the first victim. */
const LFU_INIT = 5;
/** Redis's lfu-log-factor default. */
const LFU_LOG_FACTOR = 10;

// LFU lives in the header's u16: byte 2 holds counter + 1 (0 = never touched, i.e. LFU_INIT),
// byte 3 the minute of the last access modulo 256; one point decays per idle minute (lfu-decay-time 1).

function nowMinute(nowMs: number): number {
  return Math.floor(nowMs / 60000) & 255;
}

/** The record's LFU counter after decay. */
export function lfuCounter(m: Arena, a: number, nowMs: number): number {
  const stored = m.u8[a + 2]!;
  if (stored === 0) return LFU_INIT;
  const idleMinutes = (nowMinute(nowMs) - m.u8[a + 3]!) & 255;
  return Math.max(0, stored - 1 - idleMinutes);
}

/** Sets the counter (RESTORE FREQ). */
export function lfuSetCounter(m: Arena, a: number, counter: number, nowMs: number): void {
  m.u8[a + 2] = Math.min(counter, 254) + 1;
  m.u8[a + 3] = nowMinute(nowMs);
}

/** Counts an access: decays, then increments with probability 1/((counter - LFU_INIT) * factor + 1), as Redis. */
export function lfuTouch(m: Arena, a: number, nowMs: number): void {
  let c = lfuCounter(m, a, nowMs);
  if (c < 254 && Math.random() < 1 / (Math.max(0, c - LFU_INIT) * LFU_LOG_FACTOR + 1)) c++;
  lfuSetCounter(m, a, c, nowMs);
}

/** Arena bytes in use plus hash-table overhead: what counts against maxmemory (INFO used_memory). */
export function usedMemory(store: Store): number {
  let overhead = 0;
  for (const t of store.dbs) overhead += t.overheadBytes;
  return store.arena.used + overhead;
}

/** Evicts keys of one shard under its share of maxmemory. */
export class Evictor {
  /** Keys evicted so far (INFO evicted_keys). */
  evicted = 0;
  /** Called with each victim's record and database just before it is deleted (client tracking, propagation). */
  onEvict: ((addr: number, db: number) => void) | null = null;
  private bestDb = -1;
  private bestAddr = 0;
  private bestScore = -Infinity;

  constructor(
    private readonly store: Store,
    private readonly control: Float64Array,
  ) {}

  /** Whether a maxmemory limit is set (the per-command flag test). */
  get enabled(): boolean {
    // A replica leaves evictions to its master, whose deletions it receives (replica-ignore-maxmemory).
    return this.control[F.CT_MAXMEMORY]! > 0 && (this.control[F.CT_REPLICA]! & F.REPLICA_NO_EVICT) === 0;
  }

  /** Whether the policy ranks keys by LFU (lookups must then count accesses). */
  get tracksLfu(): boolean {
    const p = this.control[F.CT_POLICY]!;
    return p === 2 || p === 5;
  }

  /**
   * Evicts until used memory plus `incoming` (what the next write may add) is within the limit, so the
   * limit holds after the write too; false when that cannot be reached (noeviction, or nothing left to evict).
   */
  makeRoom(incoming: number): boolean {
    const limit = this.control[F.CT_MAXMEMORY]! - incoming;
    const policy = this.control[F.CT_POLICY]!;
    const samples = Math.max(1, this.control[F.CT_SAMPLES]!);
    while (usedMemory(this.store) > limit) {
      if (policy === NOEVICTION || !this.evictOne(policy, samples)) return false;
    }
    return true;
  }

  private score(policy: number, a: number): number {
    const s = this.store;
    const m = s.arena;
    switch (policy) {
      case 1:
      case 4:
        return (s.lruClock - m.u32[(a + 4) >>> 2]!) >>> 0;
      case 2:
      case 5:
        return 255 - lfuCounter(m, a, s.now);
      case 7:
        return -recExpire(m, a);
      default:
        return Math.random();
    }
  }

  /** Samples each database, deletes the best victim; false when no key qualifies. */
  private evictOne(policy: number, samples: number): boolean {
    const s = this.store;
    const m = s.arena;
    const volatile = policy >= FIRST_VOLATILE;
    this.bestAddr = 0;
    this.bestScore = -Infinity;
    for (let db = 0; db < s.dbs.length; db++) {
      const t = s.dbs[db]!;
      if (t.size === 0 || (volatile && s.expires[db] === 0)) continue;
      let seen = 0;
      const consider = (a: number): void => {
        if (volatile && (m.u8[a + 1]! & F_TTL) === 0) return;
        seen++;
        const sc = this.score(policy, a);
        if (sc > this.bestScore) {
          this.bestScore = sc;
          this.bestAddr = a;
          this.bestDb = db;
        }
      };
      // Scan steps from random cursors visit scattered buckets, like Redis's dictGetSomeKeys.
      for (let round = 0; round < 16 && seen < samples; round++) t.scan((Math.random() * 2 ** 32) >>> 0, samples - seen, consider);
    }
    const a = this.bestAddr;
    if (a === 0) return false;
    this.onEvict?.(a, this.bestDb);
    s.del(this.bestDb, m.u8, recKeyOff(m, a), recKeyLen(m, a));
    this.evicted++;
    return true;
  }
}
