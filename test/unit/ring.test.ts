import { describe, expect, it } from 'vitest';
import { RingReader, RingWriter, createRingMemory } from '../../src/wire/ring.js';

/** Writes one frame of `len` bytes filled with `fill`; false when the ring is full. */
function put(w: RingWriter, len: number, fill: number): boolean {
  const p = w.reserve(len);
  if (p === -1) return false;
  w.buf.fill(fill, p, p + len);
  w.commit(p, len);
  return true;
}

describe('ring', () => {
  it('carries frames in order across the wrap, with their lengths', () => {
    const mem = createRingMemory(1024);
    const w = new RingWriter(mem);
    const r = new RingReader(mem);
    const seen: number[] = [];
    for (let i = 0; i < 50; i++) {
      expect(put(w, 100 + i, i)).toBe(true);
      w.publish();
      expect(r.poll()).toBe(true);
      const p = r.next();
      expect(r.frameLength(p)).toBe(100 + i);
      expect(r.buf[p]).toBe(i);
      seen.push(r.buf[p + 99 + i]!);
      expect(r.next()).toBe(-1);
      r.release();
    }
    expect(seen).toEqual([...Array(50).keys()]);
  });

  it('refuses a frame when full and accepts it once the reader frees space', () => {
    const mem = createRingMemory(1024);
    const w = new RingWriter(mem);
    const r = new RingReader(mem);
    let n = 0;
    while (put(w, 200, n)) n++;
    expect(n).toBeGreaterThan(0);
    w.publish();
    r.poll();
    r.next();
    r.release();
    expect(put(w, 200, 99)).toBe(true);
  });

  it('a release between a failed reserve and waitForSpace is not missed', () => {
    const mem = createRingMemory(1024);
    const w = new RingWriter(mem);
    const r = new RingReader(mem);
    while (put(w, 200, 1));
    w.publish();
    // The reader frees space after the writer saw the ring full, before the writer waits, and
    // while no wait is announced (so it sends no notify): the wait must end at once, not sleep.
    r.poll();
    while (r.next() !== -1);
    expect(r.release()).toBe(false);
    expect(w.waitForSpace(60_000)).toBe('not-equal');
    expect(put(w, 200, 2)).toBe(true);
  });
});
