/**
 * Whether the acceptor keeps its event loop turning (one more setImmediate tick: a zero-timeout
 * epoll_wait, then the reply rings) instead of sleeping until a socket or a shard's doorbell wakes it.
 *
 * Why: with the shard threads and the clients sharing few cores, an acceptor that sleeps whenever a
 * tick ran dry falls into lockstep with its clients. Each wake-up handles one socket; the client
 * (woken by the acceptor's write, onto the acceptor's own core, as Linux places sync wake-ups) then
 * runs alone there while another core idles, and every reply batch costs the shard a doorbell.
 * Measured on 2 cores (native-bench/results/busy-poll.md): +6-12% at -P 16 on one key, +3-4% for EVALSHA at -P 1.
 *
 * Bounded, so a quiet server does not burn a core: polling lasts at most `acceptor-poll-us` past the
 * last tick that did work, and the time spent polling for nothing never exceeds the time spent
 * working (a credit, capped at `acceptor-poll-us`): at worst it doubles a lightly loaded acceptor's CPU.
 */
export class BusyPoll {
  /** acceptor-poll-us in ms (0: never poll). */
  private windowMs: number;
  /** ms of polling still allowed: earned by ticks that did work, spent by ticks that found none. */
  private credit = 0;
  private lastWork = 0;

  constructor(us: number) {
    this.windowMs = us / 1000;
  }

  /** Sets acceptor-poll-us (CONFIG SET). */
  set(us: number): void {
    this.windowMs = us / 1000;
    if (us === 0) this.credit = 0;
  }

  /** Polling is on at all. */
  get enabled(): boolean {
    return this.windowMs > 0;
  }

  /**
   * A tick that began at `start` ended at `now` (ms, performance.now()), having done work or not.
   * Returns true when the acceptor should run another tick right away.
   */
  after(work: boolean, start: number, now: number): boolean {
    const spent = now - start;
    if (work) {
      this.lastWork = now;
      this.credit = Math.min(this.windowMs, this.credit + spent);
    } else this.credit -= spent;
    return this.credit > 0 && now - this.lastWork < this.windowMs;
  }
}
