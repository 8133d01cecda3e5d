// A circuit breaker whose state lives on Sabre (or Redis), shared by every process that calls the
// same dependency: when one process sees the dependency fail, all of them stop calling it.
// Transitions are optimistic transactions (WATCH/MULTI/EXEC), so two processes never both move
// the state, and each change is published for alerting.

/** The breaker's states, as stored. */
export const CLOSED = 'closed';
export const OPEN = 'open';
export const HALF_OPEN = 'half_open';

/** Thrown (or handed to the fallback) when the breaker refuses a call. */
export class BreakerOpenError extends Error {
  constructor(name, state) {
    super(`circuit ${name} is ${state}`);
    this.code = 'EBREAKEROPEN';
    this.state = state;
  }
}

/**
 * Creates a breaker named `name`. It opens after `consecutiveFailures` failures in a row, or when
 * at least `minRequests` calls in the last `windowSec` seconds failed at `failureRate` or more; it
 * stays open `openMs`, then lets `halfOpenMax` trial calls through: a success closes it, a failure
 * opens it again.
 */
export function createBreaker({
  redis,
  name,
  consecutiveFailures = 5,
  failureRate = 0.5,
  minRequests = 20,
  windowSec = 10,
  openMs = 5_000,
  halfOpenMax = 1,
  channel = 'breaker:events',
  now = Date.now,
}) {
  // One hash tag: the state and its window live on one shard, as a transaction over them wants.
  const stateKey = `breaker:{${name}}`;
  const bucketKey = (sec) => `breaker:{${name}}:w:${sec}`;

  /** The stored state, defaults filled in. */
  async function read() {
    const h = await redis.hgetall(stateKey);
    return {
      state: h.state ?? CLOSED,
      consecutive: Number(h.consecutive ?? 0),
      openUntil: Number(h.openUntil ?? 0),
      trials: Number(h.trials ?? 0),
      reason: h.reason ?? null,
    };
  }

  /**
   * Moves from `from` to `to` if the state is still `from` (WATCH makes the check and the write one
   * step); publishes the change. Returns whether this caller made the move.
   */
  async function transition(from, to, reason) {
    await redis.watch(stateKey);
    const cur = (await redis.hget(stateKey, 'state')) ?? CLOSED;
    if (cur !== from) {
      await redis.unwatch();
      return false;
    }
    const fields = { state: to, consecutive: 0, trials: 0, reason, since: now(), openUntil: to === OPEN ? now() + openMs : 0 };
    const done = await redis.multi().hset(stateKey, fields).exec();
    if (done === null) return false;
    await redis.publish(channel, JSON.stringify({ name, from, to, reason, at: now() }));
    return true;
  }

  /** Successes and failures over the window, from one bucket per second. */
  async function windowCounts() {
    const sec = Math.floor(now() / 1000);
    const p = redis.pipeline();
    for (let s = sec - windowSec + 1; s <= sec; s++) p.hmget(bucketKey(s), 'ok', 'fail');
    let ok = 0;
    let fail = 0;
    for (const [, [o, f]] of await p.exec()) {
      ok += Number(o ?? 0);
      fail += Number(f ?? 0);
    }
    return { ok, fail };
  }

  /** Counts an outcome in this second's bucket (it expires once out of the window). */
  function count(field) {
    const key = bucketKey(Math.floor(now() / 1000));
    return redis
      .multi()
      .hincrby(key, field, 1)
      .expire(key, windowSec + 1);
  }

  /** Whether a call may go through now; may move open → half-open. Returns the state it runs in. */
  async function admit() {
    const s = await read();
    if (s.state === CLOSED) return CLOSED;
    if (s.state === OPEN) {
      if (now() < s.openUntil) throw new BreakerOpenError(name, OPEN);
      await transition(OPEN, HALF_OPEN, 'open timeout elapsed');
    }
    // Half-open: only halfOpenMax trial calls among all processes.
    const [[, trials], [, state]] = await redis.multi().hincrby(stateKey, 'trials', 1).hget(stateKey, 'state').exec();
    if (state === CLOSED) return CLOSED;
    if (state !== HALF_OPEN || trials > halfOpenMax) throw new BreakerOpenError(name, state);
    return HALF_OPEN;
  }

  async function onSuccess(ranIn) {
    if (ranIn === HALF_OPEN) {
      await transition(HALF_OPEN, CLOSED, 'trial call succeeded');
      return;
    }
    await count('ok').hset(stateKey, 'consecutive', 0).exec();
  }

  async function onFailure(ranIn, err) {
    if (ranIn === HALF_OPEN) {
      await transition(HALF_OPEN, OPEN, `trial call failed: ${err.message}`);
      return;
    }
    const [, , [, consecutive]] = await count('fail').hincrby(stateKey, 'consecutive', 1).exec();
    if (consecutive >= consecutiveFailures) {
      await transition(CLOSED, OPEN, `${consecutive} consecutive failures`);
      return;
    }
    const { ok, fail } = await windowCounts();
    if (ok + fail >= minRequests && fail / (ok + fail) >= failureRate) {
      await transition(CLOSED, OPEN, `failure rate ${Math.round((100 * fail) / (ok + fail))}% over ${ok + fail} calls`);
    }
  }

  return {
    name,
    /**
     * Runs `fn` through the breaker. When the breaker refuses the call, or `fn` fails, `fallback(err)`
     * answers instead if given; otherwise the error is thrown.
     */
    async call(fn, fallback) {
      let ranIn;
      try {
        ranIn = await admit();
      } catch (err) {
        if (fallback && err instanceof BreakerOpenError) return fallback(err);
        throw err;
      }
      let result;
      try {
        result = await fn();
      } catch (err) {
        await onFailure(ranIn, err);
        if (fallback) return fallback(err);
        throw err;
      }
      await onSuccess(ranIn);
      return result;
    },
    /** The shared state: { state, consecutive, openUntil, trials, reason } plus the window's counts. */
    async status() {
      return { ...(await read()), window: await windowCounts() };
    },
    /** Opens the breaker by hand (it stays open until closed by hand or `ms` pass). */
    async forceOpen(ms = 365 * 86400_000, reason = 'opened by an operator') {
      const from = (await read()).state;
      await redis.hset(stateKey, { state: OPEN, openUntil: now() + ms, trials: 0, consecutive: 0, reason, since: now() });
      await redis.publish(channel, JSON.stringify({ name, from, to: OPEN, reason, at: now() }));
    },
    /** Closes the breaker by hand. */
    async forceClose(reason = 'closed by an operator') {
      const from = (await read()).state;
      await redis.hset(stateKey, { state: CLOSED, openUntil: 0, trials: 0, consecutive: 0, reason, since: now() });
      await redis.publish(channel, JSON.stringify({ name, from, to: CLOSED, reason, at: now() }));
    },
  };
}
