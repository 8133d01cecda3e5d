import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { BucketTable } from '../../src/limiter/bucket-table.js';
import { RateLimitedError } from '../../src/limiter/errors.js';
import { QueueLimiter, type QueueLimiterOptions } from '../../src/limiter/queue.js';

const T0 = 1_000_000;
const WORKER = new URL('./fixtures/queue-worker.mjs', import.meta.url);

/** An injected clock and timer list: advance() fires due timers in time order. */
function fakeTime() {
  let now = T0;
  const timers: { at: number; seq: number; fn: () => void }[] = [];
  let seq = 0;
  return {
    clock: () => now,
    setTimer: (fn: () => void, ms: number) => {
      timers.push({ at: now + ms, seq: seq++, fn });
    },
    pending: () => timers.length,
    advance(ms: number) {
      const until = now + ms;
      for (;;) {
        timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
        const t = timers[0];
        if (t === undefined || t.at > until) break;
        timers.shift();
        now = t.at;
        t.fn();
      }
      now = until;
    },
  };
}

function queue(opts: Omit<QueueLimiterOptions, 'clock' | 'setTimer'>) {
  const time = fakeTime();
  return { time, q: new QueueLimiter({ ...opts, clock: time.clock, setTimer: time.setTimer }) };
}

describe('QueueLimiter (nginx limit_req burst/delay) with an injected clock', () => {
  it('burst=0 serves at the rate and refuses the excess, like limit_req without burst', () => {
    const { q } = queue({ limit: 10, windowMs: 1000 });
    expect(q.reserve('k', 1, T0)).toMatchObject({ allowed: true, delayMs: 0 });
    expect(q.reserve('k', 1, T0)).toMatchObject({ allowed: false, retryAfterMs: 100 });
    expect(q.reserve('k', 1, T0 + 99).allowed).toBe(false);
    expect(q.reserve('k', 1, T0 + 100)).toMatchObject({ allowed: true, delayMs: 0 });
  });

  it('burst=5 queues five requests at the rate, each with its own later slot, and refuses the sixth', () => {
    const { q } = queue({ limit: 10, windowMs: 1000, burst: 5 });
    const delays = Array.from({ length: 6 }, () => q.reserve('k', 1, T0).delayMs);
    expect(delays).toEqual([0, 100, 200, 300, 400, 500]);
    const over = q.reserve('k', 1, T0);
    expect(over).toMatchObject({ allowed: false, delayMs: 0, retryAfterMs: 100 });
    // Refused requests reserve nothing: 100 ms later the line has moved one slot.
    expect(q.reserve('k', 1, T0 + 100)).toMatchObject({ allowed: true, delayMs: 500 });
  });

  it('delay=2 lets two excess requests through at once and delays the rest; nodelay lets the whole burst through', () => {
    const a = queue({ limit: 10, windowMs: 1000, burst: 4, delay: 2 }).q;
    expect(Array.from({ length: 5 }, () => a.reserve('k', 1, T0).delayMs)).toEqual([0, 0, 0, 100, 200]);
    expect(a.reserve('k', 1, T0).allowed).toBe(false);
    const b = queue({ limit: 10, windowMs: 1000, burst: 4, nodelay: true }).q;
    expect(Array.from({ length: 5 }, () => b.reserve('k', 1, T0).delayMs)).toEqual([0, 0, 0, 0, 0]);
    const refused = b.reserve('k', 1, T0);
    expect(refused).toMatchObject({ allowed: false, retryAfterMs: 100 });
  });

  it('maxDelayMs refuses a request whose wait would pass it, with the wait it would have needed', () => {
    const { q } = queue({ limit: 10, windowMs: 1000, burst: 10, maxDelayMs: 250 });
    expect(Array.from({ length: 3 }, () => q.reserve('k', 1, T0).delayMs)).toEqual([0, 100, 200]);
    expect(q.reserve('k', 1, T0)).toMatchObject({ allowed: false, retryAfterMs: 50 });
    expect(q.reserve('k', 1, T0 + 50)).toMatchObject({ allowed: true, delayMs: 250 });
  });

  it('acquire() resolves each waiter when its slot comes, in arrival order, and rejects beyond the burst', async () => {
    const { q, time } = queue({ limit: 10, windowMs: 1000, burst: 3 });
    const order: number[] = [];
    const waits = [0, 1, 2, 3].map((i) => q.acquire('k').then((ms) => order.push(i) && ms));
    const refused = q.acquire('k').catch((e: unknown) => e);
    const err = await refused;
    expect(err).toBeInstanceOf(RateLimitedError);
    expect((err as RateLimitedError).retryAfterMs).toBe(100);
    await Promise.resolve();
    expect(order).toEqual([0]);
    expect(time.pending()).toBe(3);
    time.advance(100);
    await Promise.resolve();
    expect(order).toEqual([0, 1]);
    time.advance(250);
    expect(await Promise.all(waits)).toEqual([0, 100, 200, 300]);
    expect(order).toEqual([0, 1, 2, 3]);
  });

  it('a cost larger than burst + 1 is refused for good', async () => {
    const { q } = queue({ limit: 10, windowMs: 1000, burst: 2 });
    expect(q.reserve('k', 4, T0)).toMatchObject({ allowed: false, retryAfterMs: -1 });
    await expect(q.acquire('k', 4)).rejects.toMatchObject({ code: 'SABRE_LIMITER_LIMITED', retryAfterMs: -1 });
  });

  it('threads reserving on one shared table never get the same slot', async () => {
    const table = BucketTable.create({ capacity: 64 });
    const burst = 4000;
    new QueueLimiter({ table, namespace: 2, limit: 1000, windowMs: 1000, burst });
    const workers = [0, 1, 2, 3].map(() => new Worker(WORKER, { workerData: { buffer: table.buffer, n: 1500, burst, now: T0 } }));
    const all = (await Promise.all(workers.map((w) => new Promise<number[]>((r) => w.once('message', r))))).flat();
    await Promise.all(workers.map((w) => w.terminate()));
    // 6000 tries for a line of 1 + 4000: exactly 4001 admitted, each with its own 1 ms slot.
    expect(all.length).toBe(burst + 1);
    const sorted = all.map((d) => Math.round(d)).sort((a, b) => a - b);
    expect(sorted).toEqual(Array.from({ length: burst + 1 }, (_, i) => i));
  });
});
