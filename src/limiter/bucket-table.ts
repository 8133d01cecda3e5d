/**
 * A fixed-size open-addressing table of rate-limit buckets in a SharedArrayBuffer, shareable with
 * worker threads. Each slot stores its key whole (namespace, hash, length, UTF-16 units), so two
 * keys never share a bucket; the bucket state is one Int32 word that algorithms update with a
 * single Atomics.compareExchange.
 *
 * Concurrency: looking up an existing key takes no lock. Inserting a key and reclaiming idle
 * slots are serialized by one spin lock in the header, so two threads can never insert the same
 * key twice. Each slot's meta word carries a generation that changes when the slot is reclaimed;
 * a checker re-reads it after reading the state word, so a state read always belongs to its key.
 */
import { monotonicMs } from './clock.js';
import { KeyTooLongError, LimiterError } from './errors.js';
import { gcraIdle } from './gcra-math.js';
import { tokenBucketIdle } from './token-bucket-math.js';

/** State word of a freshly inserted bucket: full / never used. Valid states never take this value. */
export const FRESH = -0x80000000;
/** State word of a reclaimed bucket: checkers that read it look the key up again. */
export const DEAD = -0x7fffffff;

/** Namespace algorithm ids stored in the shared registry. */
export const ALG_GCRA = 1;
export const ALG_TOKEN_BUCKET = 2;
export const ALG_LEASE = 3;

const MAGIC = 0x5ab7e1;
const EMPTY = 0;
const READY = 1;
const TOMB = 2;

// Header words.
const H_MAGIC = 0;
const H_CAPACITY = 1;
const H_STRIDE = 2;
const H_MAX_KEY = 3;
const H_LOCK = 4;
const H_SIZE = 5;
const H_FULL = 6;
const NS_BASE = 16;
/** Number of namespaces (policies) one table can hold. */
export const NS_MAX = 64;
const NS_WORDS = 8;
const HEADER = NS_BASE + NS_MAX * NS_WORDS;

// Slot words: meta, state, hash, namespace, key length, then key UTF-16 units two per word.
const S_STATE = 1;
const S_HASH = 2;
const S_NS = 3;
const S_LEN = 4;
const S_KEY = 5;

/** Table sizing; `capacity` is rounded up to a power of two. */
export interface BucketTableOptions {
  /** Number of buckets (default 16384). */
  capacity?: number;
  /** Longest key stored, in UTF-16 units (default 128); longer keys throw KeyTooLongError. */
  maxKeyChars?: number;
}

/** Returned by `slotFor` when the probe window is full of live buckets. */
export const TABLE_FULL = -1;

const MAX_PROBE = 64;
const SWEEP_CHUNK = 4096;

/** The shared bucket table; create it once, send `.buffer` to workers and `attach` there. */
export class BucketTable {
  readonly buffer: SharedArrayBuffer;
  readonly i32: Int32Array;
  readonly capacity: number;
  readonly maxKeyChars: number;
  /** Meta word seen by the last successful `slotFor`; checkers compare it after reading the state. */
  lastMeta = 0;
  // Per-thread hints from key to slot, one Map per namespace with the slot number as a Smi value: V8
  // caches a string's hash, so a hit costs one Map probe and no hashing or key compare of ours. The
  // meta word seen when the hint was made is kept per slot; a hint is used only while the slot's meta
  // still equals it (a reclaim changes the generation). Each slot is the target of at most one hint:
  // remembering another key there drops the old one, so the maps never outgrow the table.
  private readonly hintMaps: Map<string, number>[] = [];
  private readonly hintMeta: Int32Array;
  private readonly hintKey: (string | undefined)[];
  private readonly hintNs: Int8Array;
  private readonly u16: Uint16Array;
  private readonly mask: number;
  private readonly stride: number;
  private readonly maxProbe: number;

  private constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.i32 = new Int32Array(buffer);
    this.u16 = new Uint16Array(buffer);
    if (this.i32[H_MAGIC] !== MAGIC) throw new LimiterError('SABRE_LIMITER_TABLE', 'buffer is not a sabre bucket table');
    this.capacity = this.i32[H_CAPACITY]!;
    this.stride = this.i32[H_STRIDE]!;
    this.maxKeyChars = this.i32[H_MAX_KEY]!;
    this.mask = this.capacity - 1;
    this.maxProbe = Math.min(MAX_PROBE, this.capacity);
    this.hintMeta = new Int32Array(this.capacity);
    this.hintKey = new Array<string | undefined>(this.capacity).fill(undefined);
    this.hintNs = new Int8Array(this.capacity);
    for (let n = 0; n < NS_MAX; n++) this.hintMaps.push(new Map());
  }

  /** Allocates a new table. */
  static create(opts: BucketTableOptions = {}): BucketTable {
    const want = opts.capacity ?? 16384;
    const maxKeyChars = opts.maxKeyChars ?? 128;
    if (!Number.isInteger(want) || want < 1 || want > 1 << 24) {
      throw new LimiterError('SABRE_LIMITER_TABLE', `capacity must be an integer in 1..16777216, got ${want}`);
    }
    if (!Number.isInteger(maxKeyChars) || maxKeyChars < 1 || maxKeyChars > 4096) {
      throw new LimiterError('SABRE_LIMITER_TABLE', `maxKeyChars must be an integer in 1..4096, got ${maxKeyChars}`);
    }
    let capacity = 1;
    while (capacity < want) capacity <<= 1;
    const stride = S_KEY + Math.ceil(maxKeyChars / 2);
    const buffer = new SharedArrayBuffer((HEADER + capacity * stride) * 4);
    const i32 = new Int32Array(buffer);
    i32[H_CAPACITY] = capacity;
    i32[H_STRIDE] = stride;
    i32[H_MAX_KEY] = maxKeyChars;
    for (let s = 0; s < capacity; s++) i32[HEADER + s * stride + S_STATE] = FRESH;
    Atomics.store(i32, H_MAGIC, MAGIC);
    return new BucketTable(buffer);
  }

  /** Opens a table created elsewhere (typically in another thread) over its buffer. */
  static attach(buffer: SharedArrayBuffer): BucketTable {
    return new BucketTable(buffer);
  }

  /** Live buckets right now. */
  get size(): number {
    return Atomics.load(this.i32, H_SIZE);
  }

  /** How many checks found the table full and fell back to the declared rule. */
  get fullEvents(): number {
    return Atomics.load(this.i32, H_FULL);
  }

  /** Counts one full-table degradation (shared by all threads). */
  noteFull(): void {
    Atomics.add(this.i32, H_FULL, 1);
  }

  /**
   * Declares namespace `ns` (0..NS_MAX-1) with an algorithm and its parameters, so any thread can
   * tell when a bucket of it is idle. Re-declaring with identical parameters is a no-op.
   */
  registerNamespace(ns: number, alg: number, p1: number, p2: number, p3: number): void {
    if (!Number.isInteger(ns) || ns < 0 || ns >= NS_MAX) {
      throw new LimiterError('SABRE_LIMITER_NAMESPACE', `namespace must be an integer in 0..${NS_MAX - 1}, got ${ns}`);
    }
    const i32 = this.i32;
    const at = NS_BASE + ns * NS_WORDS;
    this.lock();
    try {
      const cur = i32[at]!;
      if (cur === 0) {
        i32[at + 1] = p1;
        i32[at + 2] = p2;
        i32[at + 3] = p3;
        Atomics.store(i32, at, alg);
      } else if (cur !== alg || i32[at + 1] !== p1 || i32[at + 2] !== p2 || i32[at + 3] !== p3) {
        throw new LimiterError('SABRE_LIMITER_NAMESPACE', `namespace ${ns} is already declared with other parameters`);
      }
    } finally {
      this.unlock();
    }
  }

  /** The per-thread hint map of namespace `ns`, for limiters that probe it inline (see `hinted`). */
  hintsOf(ns: number): Map<string, number> {
    return this.hintMaps[ns]!;
  }

  /**
   * The slot (word index) a hint gives for `key` in the namespace of `hints`, else -1; sets
   * `lastMeta` to the meta seen when the hint was made. The caller validates it the way it
   * validates any state read: the meta word, read after the state word, must still equal lastMeta.
   */
  hinted(hints: Map<string, number>, key: string): number {
    const s = hints.get(key);
    if (s === undefined) return -1;
    this.lastMeta = this.hintMeta[s]!;
    return HEADER + s * this.stride;
  }

  /**
   * Returns the word index of `key`'s slot in namespace `ns`, inserting it when absent, or
   * TABLE_FULL. Sets `lastMeta`. Lock-free when the key exists; allocation-free once this thread
   * has seen the key (a first sighting adds one hint entry).
   */
  slotFor(ns: number, key: string, nowMs: number): number {
    const i32 = this.i32;
    const hit = this.hinted(this.hintMaps[ns]!, key);
    if (hit >= 0 && Atomics.load(i32, hit) === this.lastMeta) return hit;
    const len = key.length;
    if (len > this.maxKeyChars) throw new KeyTooLongError(len, this.maxKeyChars);
    const h = hashKey(ns, key, len);
    const stride = this.stride;
    let idx = h & this.mask;
    for (let p = 0; p < this.maxProbe; p++) {
      const base = HEADER + idx * stride;
      const meta = Atomics.load(i32, base);
      const st = meta & 3;
      if (st === EMPTY) break;
      if (
        st === READY &&
        i32[base + S_HASH] === h &&
        i32[base + S_NS] === ns &&
        i32[base + S_LEN] === len &&
        this.sameKey(base, key, len)
      ) {
        this.remember(key, ns, base, meta);
        return base;
      }
      idx = (idx + 1) & this.mask;
    }
    return this.insert(ns, key, len, h, nowMs);
  }

  /** Reclaims every idle bucket (one whose state equals a full bucket); returns how many. */
  sweep(nowMs: number): number {
    let n = 0;
    // In chunks, so inserts in other threads wait for at most one chunk.
    for (let start = 0; start < this.capacity; start += SWEEP_CHUNK) {
      const end = Math.min(this.capacity, start + SWEEP_CHUNK);
      this.lock();
      try {
        for (let s = start; s < end; s++) if (this.reclaimIfIdle(HEADER + s * this.stride, nowMs)) n++;
      } finally {
        this.unlock();
      }
    }
    return n;
  }

  private remember(key: string, ns: number, base: number, meta: number): void {
    this.lastMeta = meta;
    const slot = (base - HEADER) / this.stride;
    const prev = this.hintKey[slot];
    if (prev !== undefined && (prev !== key || this.hintNs[slot] !== ns)) {
      // The slot now holds another key: drop the old key's hint unless it already points elsewhere.
      const m = this.hintMaps[this.hintNs[slot]!]!;
      if (m.get(prev) === slot) m.delete(prev);
    }
    this.hintKey[slot] = key;
    this.hintNs[slot] = ns;
    this.hintMeta[slot] = meta;
    this.hintMaps[ns]!.set(key, slot);
  }

  /**
   * Sweeps every `intervalMs` on an unref'd timer; returns the stop function. One thread per
   * table should run it: it reclaims idle buckets long before their clock words could wrap.
   */
  startSweeper(intervalMs = 5000): () => void {
    const timer = setInterval(() => this.sweep(monotonicMs()), intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }

  private sameKey(base: number, key: string, len: number): boolean {
    const u16 = this.u16;
    const at = (base + S_KEY) * 2;
    for (let i = 0; i < len; i++) if (u16[at + i] !== key.charCodeAt(i)) return false;
    return true;
  }

  private insert(ns: number, key: string, len: number, h: number, nowMs: number): number {
    const i32 = this.i32;
    const stride = this.stride;
    this.lock();
    try {
      let free = -1;
      let idx = h & this.mask;
      for (let p = 0; p < this.maxProbe; p++) {
        const base = HEADER + idx * stride;
        const meta = i32[base]!;
        const st = meta & 3;
        if (
          st === READY &&
          i32[base + S_HASH] === h &&
          i32[base + S_NS] === ns &&
          i32[base + S_LEN] === len &&
          this.sameKey(base, key, len)
        ) {
          this.remember(key, ns, base, meta);
          return base;
        }
        if (st !== READY && free < 0) free = base;
        if (st === EMPTY) break;
        idx = (idx + 1) & this.mask;
      }
      if (free < 0) {
        // Reclaiming an idle bucket is lossless: its state is that of a full bucket.
        idx = h & this.mask;
        for (let p = 0; p < this.maxProbe && free < 0; p++) {
          const base = HEADER + idx * stride;
          if (this.reclaimIfIdle(base, nowMs)) free = base;
          idx = (idx + 1) & this.mask;
        }
        if (free < 0) return TABLE_FULL;
      }
      i32[free + S_HASH] = h;
      i32[free + S_NS] = ns;
      i32[free + S_LEN] = len;
      const at = (free + S_KEY) * 2;
      for (let i = 0; i < len; i++) this.u16[at + i] = key.charCodeAt(i);
      Atomics.store(i32, free + S_STATE, FRESH);
      const meta = (i32[free]! & ~3) | READY;
      Atomics.store(i32, free, meta);
      Atomics.add(i32, H_SIZE, 1);
      this.remember(key, ns, free, meta);
      return free;
    } finally {
      this.unlock();
    }
  }

  // Caller holds the lock. The state CAS to DEAD fails if a checker changed it meanwhile.
  private reclaimIfIdle(base: number, nowMs: number): boolean {
    const i32 = this.i32;
    const meta = i32[base]!;
    if ((meta & 3) !== READY) return false;
    const w = Atomics.load(i32, base + S_STATE);
    const at = NS_BASE + i32[base + S_NS]! * NS_WORDS;
    const alg = Atomics.load(i32, at);
    let idle: boolean;
    if (w === FRESH) idle = true;
    else if (alg === ALG_GCRA) idle = gcraIdle(w, nowMs, i32[at + 1]!, i32[at + 3]!);
    else if (alg === ALG_TOKEN_BUCKET) idle = tokenBucketIdle(w, nowMs, i32[at + 1]!, i32[at + 2]!, i32[at + 3]!);
    else if (alg === ALG_LEASE) idle = w <= 0;
    else idle = false;
    if (!idle || Atomics.compareExchange(i32, base + S_STATE, w, DEAD) !== w) return false;
    Atomics.store(i32, base, ((meta + 4) & ~3) | TOMB);
    Atomics.sub(i32, H_SIZE, 1);
    return true;
  }

  // Threads may outnumber cores: after a short spin, sleep until the holder wakes us.
  private lock(): void {
    const i32 = this.i32;
    for (let spins = 0; Atomics.compareExchange(i32, H_LOCK, 0, 1) !== 0; spins++) {
      if (spins > 64) Atomics.wait(i32, H_LOCK, 1, 1);
    }
  }

  private unlock(): void {
    Atomics.store(this.i32, H_LOCK, 0);
    Atomics.notify(this.i32, H_LOCK, 1);
  }
}

/** FNV-1a-style hash over the namespace and UTF-16 units (two per step) with a murmur3 finalizer. */
function hashKey(ns: number, key: string, len: number): number {
  let h = Math.imul(0x811c9dc5 ^ ns, 0x01000193);
  let i = 0;
  for (; i + 1 < len; i += 2) h = Math.imul(h ^ (key.charCodeAt(i) | (key.charCodeAt(i + 1) << 16)), 0x01000193);
  if (i < len) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}
