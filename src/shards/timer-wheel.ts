/**
 * Hierarchical timer wheel for active expiry: four levels of 256 slots at 1 ms, 256 ms,
 * 65.5 s and 4.7 h resolution (49 days in all), plus an overflow list beyond that.
 *
 * Entries live in typed-array pools with intrusive linked lists, so a million TTLs cost
 * no JS objects. An entry is a hint, not the truth: when it fires, the shard checks the
 * key's record still carries that expiry (the key may have been deleted, persisted or
 * given a new TTL since), so TTL changes never need to find and unlink old entries.
 */

const SLOTS = 256;
const LEVELS = 4;
const NIL = -1;

/** Called for each due entry; returns false to stop for now (work budget spent). */
export type FireFn = (db: number, addr: number, when: number) => boolean;

/** A shard's expiry wheel. */
export class TimerWheel {
  private heads = new Int32Array(SLOTS * LEVELS).fill(NIL);
  private overflow = NIL;
  private addr = new Uint32Array(1024);
  private when = new Float64Array(1024);
  private db = new Uint8Array(1024);
  private next = new Int32Array(1024);
  private freeHead = NIL;
  private used = 0;
  /** Entries per level (index 4: the overflow list), so empty stretches are skipped whole. */
  private readonly perLevel = new Float64Array(LEVELS + 1);
  /** The wheel's current time in ms; every entry due before it has been fired. */
  private current: number;
  /** Live entries (including stale hints not yet fired). */
  count = 0;

  constructor(nowMs: number) {
    this.current = Math.floor(nowMs);
  }

  /** Schedules a check of the record at `addr` in `db` at `whenMs`. */
  add(db: number, addr: number, whenMs: number): void {
    const e = this.allocEntry();
    this.addr[e] = addr;
    this.when[e] = whenMs;
    this.db[e] = db;
    this.count++;
    this.place(e);
  }

  private place(e: number): void {
    const when = Math.max(Math.floor(this.when[e]!), this.current);
    const delta = when - this.current;
    let level = 0;
    while (level < LEVELS && delta >= SLOTS ** (level + 1)) level++;
    this.perLevel[level]!++;
    if (level === LEVELS) {
      this.next[e] = this.overflow;
      this.overflow = e;
      return;
    }
    const idx = level * SLOTS + (Math.floor(when / SLOTS ** level) % SLOTS);
    this.next[e] = this.heads[idx]!;
    this.heads[idx] = e;
  }

  /** SWAPDB: entries of database `a` now belong to `b` and the other way round. */
  swapDb(a: number, b: number): void {
    const d = this.db;
    for (let e = 0; e < this.used; e++) {
      if (d[e] === a) d[e] = b;
      else if (d[e] === b) d[e] = a;
    }
  }

  private allocEntry(): number {
    if (this.freeHead !== NIL) {
      const e = this.freeHead;
      this.freeHead = this.next[e]!;
      return e;
    }
    if (this.used === this.addr.length) this.growPools();
    return this.used++;
  }

  private growPools(): void {
    const n = this.addr.length * 2;
    const a = new Uint32Array(n);
    a.set(this.addr);
    this.addr = a;
    const w = new Float64Array(n);
    w.set(this.when);
    this.when = w;
    const d = new Uint8Array(n);
    d.set(this.db);
    this.db = d;
    const x = new Int32Array(n);
    x.set(this.next);
    this.next = x;
  }

  private release(e: number): void {
    this.next[e] = this.freeHead;
    this.freeHead = e;
    this.count--;
  }

  /**
   * Advances to `nowMs`, firing due entries. Stops early when `fire` returns false and
   * resumes from there on the next call. Returns the number of entries fired.
   */
  advance(nowMs: number, fire: FireFn): number {
    const target = Math.floor(nowMs);
    let fired = 0;
    if (this.count === 0) {
      this.current = Math.max(this.current, target + 1);
      return 0;
    }
    while (this.current <= target) {
      const t = this.current;
      if (t % SLOTS === 0) this.cascade(t);
      if (this.perLevel[0] === 0) {
        // Nothing due at 1 ms resolution: jump to the next boundary where a higher level cascades.
        let level = 1;
        while (level < LEVELS && this.perLevel[level] === 0) level++;
        const unit = SLOTS ** Math.min(level, LEVELS - 1);
        this.current = Math.min(target + 1, (Math.floor(t / unit) + 1) * unit);
        continue;
      }
      const slot = t % SLOTS;
      let e = this.heads[slot]!;
      while (e !== NIL) {
        const nxt = this.next[e]!;
        if (this.when[e]! > target) {
          // Placed here from a higher level but due in a later lap of this slot.
          e = nxt;
          continue;
        }
        this.heads[slot] = nxt;
        this.perLevel[0]!--;
        const ok = fire(this.db[e]!, this.addr[e]!, this.when[e]!);
        this.release(e);
        fired++;
        if (!ok) return fired;
        e = nxt;
      }
      this.rebuildSlot(slot, target);
      if (this.heads[slot] !== NIL && this.firstDue(slot, target)) return fired;
      this.current = t + 1;
    }
    return fired;
  }

  /** Keeps only not-yet-due entries in a level-0 slot (those placed for a later lap). */
  private rebuildSlot(slot: number, target: number): void {
    let e = this.heads[slot]!;
    let keep = NIL;
    while (e !== NIL) {
      const nxt = this.next[e]!;
      if (this.when[e]! > target) {
        this.next[e] = keep;
        keep = e;
      }
      e = nxt;
    }
    this.heads[slot] = keep;
  }

  private firstDue(slot: number, target: number): boolean {
    for (let e = this.heads[slot]!; e !== NIL; e = this.next[e]!) if (this.when[e]! <= target) return true;
    return false;
  }

  /** At a level-0 wrap, moves the next slot of each higher level down. */
  private cascade(t: number): void {
    for (let level = 1; level < LEVELS; level++) {
      const unit = SLOTS ** level;
      if (t % unit !== 0) return;
      const idx = level * SLOTS + (Math.floor(t / unit) % SLOTS);
      let e = this.heads[idx]!;
      this.heads[idx] = NIL;
      while (e !== NIL) {
        const nxt = this.next[e]!;
        this.perLevel[level]!--;
        this.place(e);
        e = nxt;
      }
      if (level === LEVELS - 1 || t % (unit * SLOTS) === 0) this.cascadeOverflow();
    }
  }

  private cascadeOverflow(): void {
    let e = this.overflow;
    this.overflow = NIL;
    while (e !== NIL) {
      const nxt = this.next[e]!;
      this.perLevel[LEVELS]!--;
      this.place(e);
      e = nxt;
    }
  }

  /** Milliseconds until the next level-0 slot might hold something (for the shard's sleep). */
  msUntilNext(nowMs: number, cap: number): number {
    if (this.count === 0) return cap;
    const now = Math.floor(nowMs);
    for (let d = 0; d < Math.min(cap, SLOTS); d++) {
      if (this.heads[(now + d) % SLOTS] !== NIL) return d;
    }
    return Math.min(cap, SLOTS - (now % SLOTS));
  }

  /** Drops all entries (FLUSHALL). */
  clear(): void {
    this.heads.fill(NIL);
    this.overflow = NIL;
    this.freeHead = NIL;
    this.used = 0;
    this.count = 0;
    this.perLevel.fill(0);
  }
}
