/**
 * Changing a string value's bytes in place (bitmaps, HyperLogLogs): an arena string long enough
 * is written where it lies; a string that must grow, or one held outside the arena (whose buffer
 * a snapshot may share, so it is never written once filled), is changed in a work copy that
 * replaces the value when the command commits.
 */
import type { Ctx } from './context.js';
import { F_EXT, recFlags, recValLen, recValOff, strBuf, strOff } from './record.js';
import { dropped } from '../reclaim.js';

/** Where the bytes being changed are: wb[wo, wo + wlen). */
export const w = { b: new Uint8Array(0) as Uint8Array<ArrayBufferLike>, o: 0, len: 0, inPlace: false };

let scratch: Uint8Array<ArrayBufferLike> = new Uint8Array(4096);
/** Largest work copy kept between commands; a bigger one is a buffer of its own. */
const SCRATCH_KEEP = 1 << 20;

/** A buffer of at least n bytes for a work copy. */
export function workBuffer(n: number): Uint8Array<ArrayBufferLike> {
  if (n > SCRATCH_KEEP) {
    dropped(n);
    return new Uint8Array(n);
  }
  if (scratch.length < n) scratch = new Uint8Array(Math.max(n, scratch.length * 2));
  return scratch;
}

/**
 * Opens the string record `a` (0: none yet) of key argument 1 for writing at least `need` bytes,
 * zero-padded past its old end, into `w`.
 */
export function openWrite(c: Ctx, a: number, need: number): void {
  const m = c.store.arena;
  const old = a === 0 ? 0 : recValLen(m, a);
  if (a !== 0 && (recFlags(m, a) & F_EXT) === 0 && old >= need) {
    w.b = m.u8;
    w.o = recValOff(m, a);
    w.len = old;
    w.inPlace = true;
    return;
  }
  const len = Math.max(old, need);
  const b = workBuffer(len);
  if (a !== 0) b.set(strBuf(m, a).subarray(strOff(m, a), strOff(m, a) + old), 0);
  b.fill(0, old, len);
  w.b = b;
  w.o = 0;
  w.len = len;
  w.inPlace = false;
}

/** Stores what openWrite opened (a work copy replaces the value, keeping the key's TTL). */
export function commitWrite(c: Ctx): void {
  if (!w.inPlace) c.store.setString(c.db, c.buf, c.as[1]!, c.al[1]!, w.b, w.o, w.len, -1);
}
