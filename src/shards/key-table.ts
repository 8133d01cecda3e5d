/**
 * Open-addressing hash table from key bytes to record addresses, one per database.
 *
 * Linear probing over two parallel Uint32Arrays (hash, address). Growth is incremental,
 * like Redis's dict: a bigger table is allocated and each write moves a few old slots, so
 * there is never a pause proportional to the key count. SCAN walks "home buckets" in
 * Redis's reverse-binary cursor order, which stays valid across resizes.
 */
import type { Arena } from './arena.js';
import { recKeyLen, recKeyOff } from './record.js';

const EMPTY = 0;
const TOMB = 1;
const MAX_LOAD = 0.75;
/** Old slots moved per write while a rehash is in progress. */
const REHASH_STEP = 32;

/** Hash of key bytes: FNV-1a with a murmur3 finalizer, never 0 or 1 (those mark empty/tombstone). */
export function hashBytes(b: Uint8Array, s: number, n: number): number {
  let h = 0x811c9dc5;
  const e = s + n;
  for (let i = s; i < e; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  h >>>= 0;
  return h < 2 ? h + 2 : h;
}

/** Slot i is the pair (e[2i] = hash, e[2i+1] = record address): one cache line holds both. */
class Slots {
  readonly e: Uint32Array;
  readonly mask: number;
  live = 0;
  /** live + tombstones */
  used = 0;
  constructor(readonly cap: number) {
    this.e = new Uint32Array(new SharedArrayBuffer(cap * 8));
    this.mask = cap - 1;
  }
}

function rev32(v: number): number {
  v = ((v >>> 1) & 0x55555555) | ((v & 0x55555555) << 1);
  v = ((v >>> 2) & 0x33333333) | ((v & 0x33333333) << 2);
  v = ((v >>> 4) & 0x0f0f0f0f) | ((v & 0x0f0f0f0f) << 4);
  v = ((v >>> 8) & 0x00ff00ff) | ((v & 0x00ff00ff) << 8);
  return ((v >>> 16) | (v << 16)) >>> 0;
}

/** Advances a reverse-binary cursor over a table with `mask`. */
function nextCursor(v: number, mask: number): number {
  v = (v | ~mask) >>> 0;
  v = rev32(v);
  v = (v + 1) >>> 0;
  return rev32(v);
}

/** One database's key index. */
export class KeyTable {
  private cur: Slots;
  private old: Slots | null = null;
  private rehashIdx = 0;
  /** Where the last successful find() landed, for replace()/remove() without a second probe. */
  private foundIn: Slots | null = null;
  private foundSlot = -1;

  constructor(
    private readonly arena: Arena,
    initialCap = 64,
  ) {
    this.cur = new Slots(initialCap);
  }

  /** Number of keys. */
  get size(): number {
    return this.cur.live + (this.old ? this.old.live : 0);
  }

  /** Bytes held by the slot arrays (for INFO memory). */
  get overheadBytes(): number {
    return this.cur.cap * 8 + (this.old ? this.old.cap * 8 : 0);
  }

  /** Returns the record address of the key, or 0. Remembers the slot for replace/remove. */
  find(buf: Uint8Array, s: number, n: number, h: number): number {
    let a = this.probe(this.cur, buf, s, n, h);
    if (a !== 0) return a;
    if (this.old !== null) {
      a = this.probe(this.old, buf, s, n, h);
      if (a !== 0) return a;
    }
    return 0;
  }

  private probe(t: Slots, buf: Uint8Array, s: number, n: number, h: number): number {
    const e = t.e;
    const mask = t.mask;
    const mem = this.arena.u8;
    let i = h & mask;
    while (true) {
      const sh = e[i << 1]!;
      if (sh === EMPTY) return 0;
      if (sh === h) {
        const a = e[(i << 1) + 1]!;
        if (recKeyLen(this.arena, a) === n) {
          const ko = recKeyOff(this.arena, a);
          let j = 0;
          while (j < n && mem[ko + j] === buf[s + j]) j++;
          if (j === n) {
            this.foundIn = t;
            this.foundSlot = i;
            return a;
          }
        }
      }
      i = (i + 1) & mask;
    }
  }

  /** Points the slot of the last find() at a new record address (after a realloc). */
  replaceFound(addr: number): void {
    this.foundIn!.e[(this.foundSlot << 1) + 1] = addr;
  }

  /** Removes the key found by the last find(). */
  removeFound(): void {
    const t = this.foundIn!;
    const i = this.foundSlot;
    t.live--;
    const mask = t.mask;
    const e = t.e;
    if (e[((i + 1) & mask) << 1] === EMPTY) {
      // End of a cluster: free this slot and any tombstones just before it.
      e[i << 1] = EMPTY;
      e[(i << 1) + 1] = 0;
      t.used--;
      let j = (i - 1) & mask;
      while (e[j << 1] === TOMB) {
        e[j << 1] = EMPTY;
        t.used--;
        j = (j - 1) & mask;
      }
    } else {
      e[i << 1] = TOMB;
      e[(i << 1) + 1] = 0;
    }
    this.foundIn = null;
  }

  /** Inserts a key known to be absent (call find() first). */
  insert(h: number, addr: number): void {
    if (this.old !== null) this.rehashStep(REHASH_STEP);
    else if (this.cur.used + 1 > this.cur.cap * MAX_LOAD) this.startRehash();
    place(this.cur, h, addr);
  }

  private startRehash(): void {
    const c = this.cur;
    // Mostly tombstones: rebuild at the same size; otherwise double.
    const cap = c.live * 2 >= c.cap * MAX_LOAD ? c.cap * 2 : c.cap;
    this.old = c;
    this.cur = new Slots(cap);
    this.rehashIdx = 0;
    this.rehashStep(REHASH_STEP);
  }

  /** Moves up to `n` old slots into the new table; true while a rehash is still in progress. */
  rehashStep(n: number): boolean {
    const o = this.old;
    if (o === null) return false;
    let i = this.rehashIdx;
    const end = Math.min(o.cap, i + n * 4);
    let moved = 0;
    while (i < end && moved < n) {
      const h = o.e[i << 1]!;
      if (h > TOMB) {
        place(this.cur, h, o.e[(i << 1) + 1]!);
        o.e[i << 1] = TOMB;
        o.live--;
        moved++;
      }
      i++;
    }
    this.rehashIdx = i;
    if (i >= o.cap) {
      this.old = null;
      this.foundIn = null;
    }
    return this.old !== null;
  }

  /** True while an incremental rehash is under way (the shard advances it when idle). */
  get rehashing(): boolean {
    return this.old !== null;
  }

  /** Calls `fn` for every record address (KEYS, FLUSH, snapshots). `fn` must not modify the table. */
  forEach(fn: (addr: number) => void): void {
    for (const t of this.old ? [this.cur, this.old] : [this.cur]) {
      for (let i = 0; i < t.cap; i++) if (t.e[i << 1]! > TOMB) fn(t.e[(i << 1) + 1]!);
    }
  }

  /**
   * Copies of the slot arrays (pairs of hash, address; a hash above 1 marks a live slot): a point-in-time
   * key list for one memcpy per table, during a rehash too (a key is in exactly one of the two).
   */
  copySlots(): Uint32Array[] {
    return this.old ? [this.cur.e.slice(), this.old.e.slice()] : [this.cur.e.slice()];
  }

  /** A random record address, or 0 when empty. */
  random(): number {
    if (this.size === 0) return 0;
    for (let tries = 0; tries < 64; tries++) {
      const t = this.old && this.old.live > 0 && Math.random() < 0.5 ? this.old : this.cur;
      const i = Math.floor(Math.random() * t.cap);
      if (t.e[i << 1]! > TOMB) return t.e[(i << 1) + 1]!;
    }
    let found = 0;
    this.forEach((a) => {
      if (found === 0) found = a;
    });
    return found;
  }

  /**
   * One SCAN step from `cursor`: calls `emit` for the keys of at least one home bucket,
   * until about `count` keys were emitted. Returns the next cursor (0 = done).
   */
  scan(cursor: number, count: number, emit: (addr: number) => void): number {
    let v = cursor >>> 0;
    let emitted = 0;
    let steps = 0;
    const maxSteps = count * 10;
    do {
      if (this.old === null) {
        emitted += this.emitBucket(this.cur, v & this.cur.mask, emit);
        v = nextCursor(v, this.cur.mask);
      } else {
        let small = this.old;
        let large = this.cur;
        if (small.cap > large.cap) {
          small = this.cur;
          large = this.old;
        }
        const m0 = small.mask;
        const m1 = large.mask;
        emitted += this.emitBucket(small, v & m0, emit);
        if (m0 === m1) {
          emitted += this.emitBucket(large, v & m1, emit);
          v = nextCursor(v, m0);
        } else {
          do {
            emitted += this.emitBucket(large, v & m1, emit);
            v = nextCursor(v, m1);
          } while ((v & (m0 ^ m1)) !== 0);
        }
      }
      steps++;
    } while (v !== 0 && emitted < count && steps < maxSteps);
    return v;
  }

  private emitBucket(t: Slots, b: number, emit: (addr: number) => void): number {
    let n = 0;
    let i = b;
    const mask = t.mask;
    while (true) {
      const h = t.e[i << 1]!;
      if (h === EMPTY) return n;
      if (h > TOMB && (h & mask) === b) {
        emit(t.e[(i << 1) + 1]!);
        n++;
      }
      i = (i + 1) & mask;
      if (i === b) return n;
    }
  }

  /** Drops every key (the caller frees the records). */
  clear(): void {
    this.cur = new Slots(64);
    this.old = null;
    this.foundIn = null;
  }
}

function place(t: Slots, h: number, addr: number): void {
  const mask = t.mask;
  const e = t.e;
  let i = h & mask;
  while (e[i << 1]! > TOMB) i = (i + 1) & mask;
  if (e[i << 1] === EMPTY) t.used++;
  e[i << 1] = h;
  e[(i << 1) + 1] = addr;
  t.live++;
}
