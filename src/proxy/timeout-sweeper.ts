/** A coarse clock and deadline sweep shared by a thread's upstream connections, instead of a timer per request. */

/** What the sweeper watches: a deadline (0: none) and what to do once it passed. */
export interface Expiring {
  deadline: number;
  expire(): void;
}

/**
 * Scans every open connection (a few hundred at most) for a passed deadline, so starting and ending an exchange
 * costs no set insertion or removal; `now` is the clock connections set their deadlines from.
 */
export class TimeoutSweeper {
  now = Date.now();
  readonly connections = new Set<Expiring>();
  private readonly timer: NodeJS.Timeout;
  constructor(periodMs = 100) {
    this.timer = setInterval(() => {
      this.now = Date.now();
      for (const c of this.connections) if (c.deadline !== 0 && c.deadline <= this.now) c.expire();
    }, periodMs);
    this.timer.unref();
  }
  stop(): void {
    clearInterval(this.timer);
  }
}
