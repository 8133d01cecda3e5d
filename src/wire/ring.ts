/**
 * Single-producer/single-consumer byte ring in a SharedArrayBuffer.
 *
 * Frames are `u32 length` + payload, 4-byte aligned, and never wrap: a frame that
 * does not fit before the end is preceded by a pad marker and starts at offset 0.
 * Head and tail are free-running u32 byte counters, so `tail - head` is the fill.
 * The producer publishes by storing the tail; the consumer frees by storing the head.
 */

/** Control words at the start of the ring's SAB, in Int32 units. */
const HEAD = 0;
const TAIL = 1;
/** Set by the consumer before it sleeps on TAIL; the producer notifies only then. */
const SLEEPING = 2;
/** Set by the producer when it is waiting for space; the consumer notifies after freeing. */
const WANT_SPACE = 3;
const CONTROL_BYTES = 64;
/** A length word of 0 means "skip to the start of the ring". */
const PAD = 0;

/** Shared memory of one ring, passed to a worker through workerData. */
export interface RingMemory {
  sab: SharedArrayBuffer;
  capacity: number;
}

/** Allocates a ring of `capacity` bytes (a power of two). */
export function createRingMemory(capacity: number): RingMemory {
  if ((capacity & (capacity - 1)) !== 0) throw new RangeError('ring capacity must be a power of two');
  return { sab: new SharedArrayBuffer(CONTROL_BYTES + capacity), capacity };
}

/** This machine stores integers little-endian, as frame headers are laid out: they can be read and written as u32 words. */
export const LITTLE_ENDIAN = new Uint8Array(Uint32Array.of(1).buffer)[0] === 1;

/** Rounds a frame length up to the ring's 4-byte alignment. */
function aligned(n: number): number {
  return (n + 3) & ~3;
}

/** Bytes published and not yet released in a ring, from its control words (`ctl` of either end; any thread). */
export function ringUsedBytes(ctl: Int32Array): number {
  return (Atomics.load(ctl, TAIL) - Atomics.load(ctl, HEAD)) >>> 0;
}

/** The producer end: reserve, fill in place, commit; publish when the batch is done. */
export class RingWriter {
  readonly ctl: Int32Array;
  readonly buf: Uint8Array;
  /**
   * `buf` as u32 words: frames start 4-byte aligned, so each one's length word (the ring's own, read
   * and written only here, in the machine's byte order) and the header words of its payload are whole
   * words; frame headers read as words need LITTLE_ENDIAN, their layout being little-endian.
   */
  readonly u32: Uint32Array;
  readonly capacity: number;
  private readonly mask: number;
  private tail: number;
  /** Consumer's head as last read; refreshed only when space looks short. */
  private head: number;

  constructor(mem: RingMemory) {
    this.ctl = new Int32Array(mem.sab, 0, CONTROL_BYTES >> 2);
    this.buf = new Uint8Array(mem.sab, CONTROL_BYTES, mem.capacity);
    this.u32 = new Uint32Array(mem.sab, CONTROL_BYTES, mem.capacity >>> 2);
    this.capacity = mem.capacity;
    this.mask = mem.capacity - 1;
    this.tail = Atomics.load(this.ctl, TAIL) >>> 0;
    this.head = Atomics.load(this.ctl, HEAD) >>> 0;
  }

  /** Largest payload a single frame may carry. */
  get maxPayload(): number {
    return (this.capacity >> 1) - 4;
  }

  /**
   * Reserves room for a frame of `payloadLen` bytes and returns the buffer offset where
   * the payload starts, or -1 when the ring is too full right now.
   */
  reserve(payloadLen: number): number {
    const need = aligned(payloadLen + 4);
    let pos = this.tail & this.mask;
    const toEnd = this.capacity - pos;
    const total = need <= toEnd ? need : toEnd + need;
    if (this.capacity - ((this.tail - this.head) >>> 0) < total) {
      this.head = Atomics.load(this.ctl, HEAD) >>> 0;
      if (this.capacity - ((this.tail - this.head) >>> 0) < total) return -1;
    }
    if (need > toEnd) {
      this.u32[pos >>> 2] = PAD;
      this.tail = (this.tail + toEnd) >>> 0;
      pos = 0;
    }
    return pos + 4;
  }

  /** Completes the frame reserved at `payloadPos` with its final payload length. */
  commit(payloadPos: number, payloadLen: number): void {
    this.u32[(payloadPos >>> 2) - 1] = payloadLen;
    this.tail = (this.tail + aligned(payloadLen + 4)) >>> 0;
  }

  /** Makes committed frames visible; returns true if the consumer is asleep and needs a notify. */
  publish(): boolean {
    Atomics.store(this.ctl, TAIL, this.tail | 0);
    return Atomics.load(this.ctl, SLEEPING) === 1;
  }

  /** Wakes a consumer sleeping on the tail word. */
  notify(): void {
    Atomics.notify(this.ctl, TAIL);
  }

  /**
   * Blocks (worker threads only) after a failed `reserve` until the consumer frees space or
   * `timeoutMs` passes. It waits on the head `reserve` saw, with WANT_SPACE raised first: a release
   * after that read either changed the head (the wait returns at once) or sees the flag and
   * notifies, so no release is missed (reading the head again here would lose one that landed
   * between `reserve` and this call, and sleep the whole timeout). Returns how the wait ended.
   */
  waitForSpace(timeoutMs: number): 'ok' | 'not-equal' | 'timed-out' {
    Atomics.store(this.ctl, WANT_SPACE, 1);
    const r = Atomics.wait(this.ctl, HEAD, this.head | 0, timeoutMs);
    Atomics.store(this.ctl, WANT_SPACE, 0);
    return r;
  }
}

/** The consumer end: iterate frames in place, then release them. */
export class RingReader {
  readonly ctl: Int32Array;
  readonly buf: Uint8Array;
  /** `buf` as u32 words, as RingWriter.u32. */
  readonly u32: Uint32Array;
  readonly capacity: number;
  private readonly mask: number;
  private head: number;
  private tail: number;

  constructor(mem: RingMemory) {
    this.ctl = new Int32Array(mem.sab, 0, CONTROL_BYTES >> 2);
    this.buf = new Uint8Array(mem.sab, CONTROL_BYTES, mem.capacity);
    this.u32 = new Uint32Array(mem.sab, CONTROL_BYTES, mem.capacity >>> 2);
    this.capacity = mem.capacity;
    this.mask = mem.capacity - 1;
    this.head = Atomics.load(this.ctl, HEAD) >>> 0;
    this.tail = this.head;
  }

  /** Loads the producer's tail; returns true if there are frames to read. */
  poll(): boolean {
    this.tail = Atomics.load(this.ctl, TAIL) >>> 0;
    return this.tail !== this.head;
  }

  /**
   * Returns the buffer offset of the next frame's payload (its length is `frameLength(pos)`),
   * or -1 when no published frame is left. Advances past the frame locally.
   */
  next(): number {
    if (this.head === this.tail) return -1;
    let pos = this.head & this.mask;
    let len = this.u32[pos >>> 2]!;
    if (len === PAD) {
      this.head = (this.head + (this.capacity - pos)) >>> 0;
      if (this.head === this.tail) return -1;
      pos = 0;
      len = this.u32[0]!;
    }
    this.head = (this.head + aligned(len + 4)) >>> 0;
    return pos + 4;
  }

  /** Payload length of the frame whose payload starts at `pos`. */
  frameLength(pos: number): number {
    return this.u32[(pos >>> 2) - 1]!;
  }

  /** Frees everything read so far; returns true if the producer waits for space. */
  release(): boolean {
    Atomics.store(this.ctl, HEAD, this.head | 0);
    if (Atomics.load(this.ctl, WANT_SPACE) === 1) {
      Atomics.notify(this.ctl, HEAD);
      return true;
    }
    return false;
  }

  /**
   * Sleeps (worker threads only) until the tail moves or `timeoutMs` passes.
   * The SLEEPING flag is raised first and the tail re-checked, so a publish is never missed.
   */
  sleep(timeoutMs: number): void {
    Atomics.store(this.ctl, SLEEPING, 1);
    const seen = this.tail | 0;
    if (Atomics.load(this.ctl, TAIL) === seen) Atomics.wait(this.ctl, TAIL, seen, timeoutMs);
    Atomics.store(this.ctl, SLEEPING, 0);
  }
}

/** Reads a little-endian u32. */
export function readU32(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}

/** Writes a little-endian u32. */
export function writeU32(b: Uint8Array, p: number, v: number): void {
  b[p] = v;
  b[p + 1] = v >>> 8;
  b[p + 2] = v >>> 16;
  b[p + 3] = v >>> 24;
}
