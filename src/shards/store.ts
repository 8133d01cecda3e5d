/**
 * A shard's keyspace: the arena, one KeyTable per database, the expiry wheel, and the
 * operations every command family builds on (lookup with lazy expiry, create, replace,
 * delete, TTL changes, active expiry).
 */
import { Arena } from './arena.js';
import { KeyTable, hashBytes } from './key-table.js';
import { TimerWheel } from './timer-wheel.js';
import {
  EXT_MIN,
  F_EXT,
  F_TTL,
  HEADER,
  T_STREAM,
  T_LIST,
  T_ZSET,
  T_STRING,
  freeRecord,
  newRecord,
  newString,
  recExpire,
  recFlags,
  recKeyLen,
  recKeyOff,
  recType,
  recValBytes,
  recValLen,
  recValOff,
  strBuf,
  strOff,
} from './record.js';
import { copyBytes } from '../wire/bytes.js';
import { freeValue } from './value.js';
import { blockedKeyCount, signalDb, signalReady } from './blocking.js';
import { lfuTouch } from './evict.js';
import { keySlot } from '../wire/key-slot.js';

/** Keyspace counters a shard reports (INFO stats/keyspace). */
export class StoreStats {
  hits = 0;
  misses = 0;
  expired = 0;
}

/** The keyspace of one shard. */
export class Store {
  readonly arena: Arena;
  readonly dbs: KeyTable[];
  readonly expires: Int32Array;
  readonly wheel: TimerWheel;
  readonly stats = new StoreStats();
  /** Cached wall clock (ms), refreshed once per batch. */
  now = Date.now();
  /** Seconds clock for LRU idle times. */
  lruClock = 0;
  /** Hash of the key most recently looked up, reused when inserting it. */
  lastHash = 0;
  /** Count LFU accesses on reads (only while an LFU maxmemory policy is set). */
  trackLfu = false;
  /**
   * A replica's client read is running: an expired key reads as missing but stays, for the master's
   * DEL (Redis 7.0's replica expiry); writes and the master's commands delete it as usual.
   */
  hideExpired = false;
  /** Called just before a key is deleted by expiry, while its record is still readable (WATCH, notifications). It must not look keys up. */
  onExpired: ((db: number, addr: number) => void) | null = null;
  /**
   * Keys of database 0 per cluster hash slot (CLUSTER COUNTKEYSINSLOT/GETKEYSINSLOT): built by
   * the first such command, then kept by every insert and delete; null (and free) until then.
   */
  slotCounts: Int32Array | null = null;

  constructor(databases: number, arenaBytes?: number) {
    this.arena = new Arena(arenaBytes);
    this.dbs = [];
    for (let i = 0; i < databases; i++) this.dbs.push(new KeyTable(this.arena));
    this.expires = new Int32Array(databases);
    this.wheel = new TimerWheel(this.now);
  }

  /** Refreshes the cached clocks; called once per batch. */
  tick(nowMs: number): void {
    this.now = nowMs;
    this.lruClock = Math.floor(nowMs / 1000) >>> 0;
  }

  /** Finds a live key (deleting it first if it has expired); 0 when absent. */
  lookup(db: number, buf: Uint8Array, s: number, n: number): number {
    const h = hashBytes(buf, s, n);
    this.lastHash = h;
    const t = this.dbs[db]!;
    const a = t.find(buf, s, n, h);
    if (a === 0) return 0;
    if ((this.arena.u8[a + 1]! & F_TTL) !== 0 && recExpire(this.arena, a) <= this.now) {
      if (this.hideExpired) return 0;
      this.onExpired?.(db, a);
      this.removeFound(db, a);
      this.stats.expired++;
      return 0;
    }
    return a;
  }

  /** lookup() for reads: counts hits/misses and touches the LRU clock. */
  lookupRead(db: number, buf: Uint8Array, s: number, n: number): number {
    const a = this.lookup(db, buf, s, n);
    if (a === 0) this.stats.misses++;
    else {
      this.stats.hits++;
      this.arena.u32[(a + 4) >>> 2] = this.lruClock;
      if (this.trackLfu) lfuTouch(this.arena, a, this.now);
    }
    return a;
  }

  /** lookup() for reads that leave the access time alone (Redis's LOOKUP_NOTOUCH: EXISTS, TTL, TYPE): counts hits/misses only. */
  lookupReadNoTouch(db: number, buf: Uint8Array, s: number, n: number): number {
    const a = this.lookup(db, buf, s, n);
    if (a === 0) this.stats.misses++;
    else this.stats.hits++;
    return a;
  }

  /**
   * Deletes the record just returned by lookup() (the table remembers its slot), with its
   * collection structure unless `keepValue` (RENAME moved the structure to another record).
   */
  removeFound(db: number, a: number, keepValue = false): void {
    // A stream going away wakes its XREADGROUP waiters (they fail: the group is gone with it).
    if (recType(this.arena, a) === T_STREAM && blockedKeyCount() > 0)
      signalReady(db, this.arena.u8, recKeyOff(this.arena, a), recKeyLen(this.arena, a));
    this.dbs[db]!.removeFound();
    if (db === 0 && this.slotCounts !== null)
      this.slotCounts[keySlot(this.arena.u8, recKeyOff(this.arena, a), recKeyLen(this.arena, a))]!--;
    if ((recFlags(this.arena, a) & F_TTL) !== 0) this.expires[db]!--;
    if (!keepValue) freeValue(this.arena, a);
    freeRecord(this.arena, a);
  }

  /** Deletes a key; true if it existed. */
  del(db: number, buf: Uint8Array, s: number, n: number): boolean {
    const a = this.lookup(db, buf, s, n);
    if (a === 0) return false;
    this.removeFound(db, a);
    return true;
  }

  /** Inserts a new record for a key known to be absent (lookup() was just called for it). */
  insertNew(db: number, a: number): void {
    this.dbs[db]!.insert(this.lastHash, a);
    if (db === 0 && this.slotCounts !== null)
      this.slotCounts[keySlot(this.arena.u8, recKeyOff(this.arena, a), recKeyLen(this.arena, a))]!++;
    const t = this.arena.u8[a]!;
    // A new list or sorted set may be what blocked clients wait for.
    if ((t === T_LIST || t === T_ZSET) && blockedKeyCount() > 0)
      signalReady(db, this.arena.u8, recKeyOff(this.arena, a), recKeyLen(this.arena, a));
    if ((recFlags(this.arena, a) & F_TTL) !== 0) {
      this.expires[db]!++;
      this.wheel.add(db, a, recExpire(this.arena, a));
    }
  }

  /**
   * Sets a string value. `expireAt` > 0 sets a TTL, 0 clears it, -1 keeps the existing one
   * (KEEPTTL). Reuses the record's block when the size class allows.
   */
  setString(db: number, kb: Uint8Array, ks: number, kn: number, vb: Uint8Array, vs: number, vn: number, expireAt: number): void {
    const m = this.arena;
    const old = this.lookup(db, kb, ks, kn);
    let exp = expireAt;
    if (old !== 0 && exp === -1) exp = recExpire(m, old);
    if (exp < 0) exp = 0;
    if (old !== 0) {
      const flags = recFlags(m, old);
      const oldTtl = (flags & F_TTL) !== 0;
      const newTtl = exp > 0;
      const oldSize = HEADER + (oldTtl ? 8 : 0) + kn + recValLen(m, old);
      const newSize = HEADER + (newTtl ? 8 : 0) + kn + vn;
      if (recType(m, old) === T_STRING && (flags & F_EXT) === 0 && vn < EXT_MIN && oldTtl === newTtl && m.sameClass(oldSize, newSize)) {
        m.u32[(old + 12) >>> 2] = vn;
        m.u32[(old + 4) >>> 2] = this.lruClock;
        if (newTtl && m.f64[(old + HEADER) >>> 3] !== exp) {
          m.f64[(old + HEADER) >>> 3] = exp;
          this.wheel.add(db, old, exp);
        }
        copyBytes(m.u8, recValOff(m, old), vb, vs, vn);
        return;
      }
      this.removeFound(db, old);
    }
    const a = newString(m, kb, ks, kn, vn, exp, this.lruClock);
    copyBytes(strBuf(m, a), strOff(m, a), vb, vs, vn);
    this.insertNew(db, a);
  }

  /**
   * Changes the TTL of an existing record (0 = persist). The record is re-allocated when it
   * gains or loses its expiry slot. Returns the record's (possibly new) address.
   */
  setExpire(db: number, a: number, expireAt: number): number {
    const m = this.arena;
    const had = (recFlags(m, a) & F_TTL) !== 0;
    const want = expireAt > 0;
    if (had && want) {
      m.f64[(a + HEADER) >>> 3] = expireAt;
      this.wheel.add(db, a, expireAt);
      return a;
    }
    if (!had && !want) return a;
    const kn = recKeyLen(m, a);
    // An external string moves its handle (and keeps its buffer) to the new record.
    const vn = recValBytes(m, a);
    const b = newRecord(m, recType(m, a), m.u8, recKeyOff(m, a), kn, vn, expireAt, m.u32[(a + 4) >>> 2]!);
    m.u8[b + 1] = m.u8[b + 1]! | (recFlags(m, a) & F_EXT);
    m.u32[(b + 12) >>> 2] = recValLen(m, a);
    m.u8[b + 2] = m.u8[a + 2]!;
    m.u8[b + 3] = m.u8[a + 3]!;
    m.u8.copyWithin(recValOff(m, b), recValOff(m, a), recValOff(m, a) + vn);
    // Re-find to point the slot at the new block (the table remembers the last find).
    const t = this.dbs[db]!;
    t.find(m.u8, recKeyOff(m, b), kn, hashBytes(m.u8, recKeyOff(m, b), kn));
    t.replaceFound(b);
    freeRecord(m, a);
    if (want) {
      this.expires[db]!++;
      this.wheel.add(db, b, expireAt);
    } else {
      this.expires[db]!--;
    }
    return b;
  }

  /** Active expiry: fires due wheel entries, deleting at most `budget` keys. */
  expireCycle(budget: number): number {
    let deleted = 0;
    const m = this.arena;
    this.wheel.advance(this.now, (db, a, when) => {
      if (deleted >= budget) return false;
      if (a + HEADER > m.capacity || recType(m, a) > T_STREAM) return true;
      if ((recFlags(m, a) & F_TTL) === 0 || recExpire(m, a) !== when) return true;
      const kn = recKeyLen(m, a);
      const ko = recKeyOff(m, a);
      if (ko + kn > m.capacity) return true;
      const t = this.dbs[db];
      if (t === undefined) return true;
      if (t.find(m.u8, ko, kn, hashBytes(m.u8, ko, kn)) !== a) return true;
      this.onExpired?.(db, a);
      this.removeFound(db, a);
      this.stats.expired++;
      deleted++;
      return true;
    });
    return deleted;
  }

  /** SWAPDB: databases `a` and `b` trade their keys, expiry counts and scheduled expiries. */
  swapDbs(a: number, b: number): void {
    const t = this.dbs[a]!;
    this.dbs[a] = this.dbs[b]!;
    this.dbs[b] = t;
    const e = this.expires[a]!;
    this.expires[a] = this.expires[b]!;
    this.expires[b] = e;
    this.wheel.swapDb(a, b);
    this.slotCounts = null;
  }

  /** Empties one database. */
  flushDb(db: number): void {
    signalDb(db);
    const t = this.dbs[db]!;
    const m = this.arena;
    t.forEach((a) => {
      freeValue(m, a);
      freeRecord(m, a);
    });
    t.clear();
    this.expires[db] = 0;
    if (db === 0) this.slotCounts = null;
  }

  /** Empties every database and resets the arena. */
  flushAll(): void {
    for (let i = 0; i < this.dbs.length; i++) {
      signalDb(i);
      this.dbs[i]!.clear();
      this.expires[i] = 0;
    }
    this.arena.reset();
    this.wheel.clear();
    this.slotCounts = null;
  }

  /** The per-slot key counts of database 0, counted now if they were not kept yet. */
  slotIndex(): Int32Array {
    if (this.slotCounts !== null) return this.slotCounts;
    const counts = new Int32Array(16384);
    const m = this.arena;
    this.dbs[0]!.forEach((a) => {
      counts[keySlot(m.u8, recKeyOff(m, a), recKeyLen(m, a))]!++;
    });
    this.slotCounts = counts;
    return counts;
  }

  /** Advances incremental rehashes while the shard is idle; true if work remains. */
  rehashIdle(): boolean {
    let more = false;
    for (const t of this.dbs) if (t.rehashing && t.rehashStep(1000)) more = true;
    return more;
  }
}
