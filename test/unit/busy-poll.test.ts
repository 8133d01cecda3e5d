/** The acceptor's polling budget (src/io/busy-poll.ts): bounded by its window and by the work it follows. */
import { describe, expect, it } from 'vitest';
import { BusyPoll } from '../../src/io/busy-poll.js';

describe('BusyPoll', () => {
  it('never polls with acceptor-poll-us 0', () => {
    const p = new BusyPoll(0);
    expect(p.enabled).toBe(false);
    expect(p.after(true, 0, 5)).toBe(false);
  });

  it('polls after work for no longer than the work took', () => {
    const p = new BusyPoll(200);
    // 0.05 ms of work earns 0.05 ms of polling.
    expect(p.after(true, 10, 10.05)).toBe(true);
    expect(p.after(false, 10.05, 10.08)).toBe(true);
    expect(p.after(false, 10.08, 10.11)).toBe(false);
  });

  it('stops at the window after the last work, however much credit is left', () => {
    const p = new BusyPoll(200);
    expect(p.after(true, 0, 1)).toBe(true);
    expect(p.after(false, 1, 1.1)).toBe(true);
    expect(p.after(false, 1.1, 1.21)).toBe(false);
  });

  it('keeps polling while work keeps coming, and stops once it is turned off', () => {
    const p = new BusyPoll(200);
    let t = 0;
    for (let i = 0; i < 100; i++) {
      expect(p.after(true, t, t + 0.02)).toBe(true);
      expect(p.after(false, t + 0.02, t + 0.03)).toBe(true);
      t += 0.03;
    }
    p.set(0);
    expect(p.enabled).toBe(false);
    expect(p.after(true, t, t + 0.02)).toBe(false);
  });
});
