/**
 * Slab-style allocator over one growable SharedArrayBuffer owned by a shard.
 *
 * Blocks are 8-byte aligned and rounded to size classes (8-byte steps up to 1 KiB, then
 * four classes per doubling); a freed block goes on its class's free list, threaded
 * through the blocks themselves, so the memory of deleted keys is reused without any
 * JS object per block. Addresses are byte offsets (u32). Views are fixed-length and
 * re-made after each grow: length-tracking views over a growable SAB ran 10× slower
 * on Node 20.
 */
import { dropped } from '../reclaim.js';

/** Byte 0 of a freed block, so stale references (timer wheel entries) can tell. */
export const FREED_MARK = 0xff;
/** Offset of the free-list link inside a freed block (byte 0 keeps FREED_MARK). */
const LINK = 4;
const SMALL_LIMIT = 1024;
const SMALL_CLASSES = SMALL_LIMIT >> 3;
/** Largest single block; the SAB itself is capped at 4 GiB. */
const MAX_BLOCK = 0xf0000000;

/** A shard's arena: allocate, free, and typed views over the bytes. */
export class Arena {
  readonly sab: SharedArrayBuffer;
  u8!: Uint8Array;
  u32!: Uint32Array;
  i32!: Int32Array;
  f64!: Float64Array;
  /** Next never-used byte. Address 0 is reserved as "null". */
  private top = 8;
  private readonly freeHeads: Float64Array;
  /** Bytes in live blocks, by class size, and in external strings (what INFO's used_memory reports). */
  used = 0;
  /** External strings' buffers by handle (record.ts F_EXT); never written after they are filled. */
  ext: (Uint8Array | undefined)[] = [];
  private extFree: number[] = [];

  constructor(initialBytes = 1 << 24, maxBytes = 2 ** 32 - 65536) {
    this.sab = new SharedArrayBuffer(initialBytes, { maxByteLength: maxBytes });
    this.freeHeads = new Float64Array(classCount());
    this.remap();
  }

  private remap(): void {
    const n = this.sab.byteLength;
    this.u8 = new Uint8Array(this.sab, 0, n);
    this.u32 = new Uint32Array(this.sab, 0, n >>> 2);
    this.i32 = new Int32Array(this.sab, 0, n >>> 2);
    this.f64 = new Float64Array(this.sab, 0, n >>> 3);
  }

  /** Bytes reserved from the OS so far (the SAB's length). */
  get capacity(): number {
    return this.sab.byteLength;
  }

  /** Returns the address of a block of at least `size` bytes. Throws RangeError when full. */
  alloc(size: number): number {
    const cls = sizeClass(size);
    const head = this.freeHeads[cls]!;
    const bytes = classSize(cls);
    this.used += bytes;
    if (head !== 0) {
      this.freeHeads[cls] = this.u32[(head + LINK) >>> 2]!;
      return head;
    }
    const addr = this.top;
    const end = addr + bytes;
    if (end > this.sab.byteLength) this.grow(end);
    this.top = end;
    return addr;
  }

  /** Returns a block to its class's free list. `size` is what was asked of alloc. */
  free(addr: number, size: number): void {
    const cls = sizeClass(size);
    this.used -= classSize(cls);
    this.u8[addr] = FREED_MARK;
    this.u32[(addr + LINK) >>> 2] = this.freeHeads[cls]!;
    this.freeHeads[cls] = addr;
  }

  /** True when a block of `newSize` lands in the same class as one of `oldSize` (resize in place). */
  sameClass(oldSize: number, newSize: number): boolean {
    return sizeClass(oldSize) === sizeClass(newSize);
  }

  /** Usable bytes of a block allocated for `size`. */
  blockSize(size: number): number {
    return classSize(sizeClass(size));
  }

  /** A zeroed buffer of `n` bytes outside the arena; returns its handle. */
  allocExt(n: number): number {
    const h = this.extFree.length > 0 ? this.extFree.pop()! : this.ext.length;
    this.ext[h] = new Uint8Array(n);
    this.used += n;
    return h;
  }

  /** Drops an external buffer: its memory goes back to the OS at the next garbage collection. */
  freeExt(h: number): void {
    const n = this.ext[h]!.length;
    this.used -= n;
    dropped(n);
    this.ext[h] = undefined;
    this.extFree.push(h);
  }

  private grow(needEnd: number): void {
    const cur = this.sab.byteLength;
    const max = this.sab.maxByteLength;
    if (needEnd > max || needEnd - this.top > MAX_BLOCK) throw new RangeError('arena full');
    let next = Math.max(needEnd, cur + Math.max(1 << 24, Math.floor(cur / 4)));
    next = Math.min(max, Math.ceil(next / 65536) * 65536);
    this.sab.grow(next);
    this.remap();
  }

  /** A point-in-time copy of every allocated byte, at the same addresses (BGSAVE reads it while the shard keeps writing). */
  copy(): Arena {
    const n = Math.max(this.top, 8);
    const c = new Arena(n, n);
    c.u8.set(this.u8.subarray(0, n));
    // External buffers are never written once filled: the copy shares them.
    c.ext = this.ext.slice();
    return c;
  }

  /** Drops every block (FLUSHALL) and shrinks back to a fresh arena's bookkeeping. */
  reset(): void {
    this.top = 8;
    this.used = 0;
    this.freeHeads.fill(0);
    for (const b of this.ext) if (b !== undefined) dropped(b.length);
    this.ext = [];
    this.extFree = [];
  }
}

/** Number of size classes: 128 small ones plus four per doubling up to 4 GiB. */
function classCount(): number {
  return SMALL_CLASSES + 4 * 23;
}

/** Maps a request size to its class index. */
export function sizeClass(size: number): number {
  if (size <= SMALL_LIMIT) return size <= 8 ? 0 : ((size + 7) >>> 3) - 1;
  // Above 1 KiB: four classes per power of two (1.25, 1.5, 1.75, 2 × 2^k).
  const k = 31 - Math.clz32(size - 1); // 2^k < size <= 2^(k+1)
  const base = 2 ** k;
  const quarter = base / 4;
  const step = Math.ceil((size - base) / quarter); // 1..4
  return SMALL_CLASSES + (k - 10) * 4 + (step - 1);
}

/** Block size of a class. */
export function classSize(cls: number): number {
  if (cls < SMALL_CLASSES) return (cls + 1) << 3;
  const c = cls - SMALL_CLASSES;
  const k = 10 + (c >> 2);
  const step = (c & 3) + 1;
  return 2 ** k + step * 2 ** (k - 2);
}
