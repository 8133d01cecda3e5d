/**
 * Giving large dropped buffers back to the OS. A shard's hot path allocates nothing and its
 * thread sleeps in Atomics.wait, never in its event loop, so V8 seldom collects garbage there on
 * its own: a deleted 100 MB external string (or a big request's buffer, or a BGSAVE copy of the
 * arena) would stay resident indefinitely. The acceptor's event loop does collect, but an idle
 * server only after V8's memory reducer waits ~8 s. Code that drops a large buffer counts its
 * bytes here, and each thread collects when enough has piled up: a shard at once past
 * RECLAIM_BUSY_BYTES, and any thread when idle past RECLAIM_IDLE_BYTES, at most once per
 * RECLAIM_IDLE_MS, so the cost stays a small fraction of the copying that made the garbage.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

/** Dropped bytes that make a busy shard collect. */
const RECLAIM_BUSY_BYTES = 64 * 1024 * 1024;
/** Dropped bytes that make an idle shard collect. */
const RECLAIM_IDLE_BYTES = 1024 * 1024;
/** Least time between two collections of an idle shard. */
const RECLAIM_IDLE_MS = 200;

/** V8's full collection, made reachable without a command-line flag; null where that fails. */
function findGc(): (() => void) | null {
  try {
    v8.setFlagsFromString('--expose-gc');
    const gc: unknown = vm.runInNewContext('gc');
    // Only this context needed it: later contexts (anyone's vm use) get no `gc` global.
    v8.setFlagsFromString('--no-expose-gc');
    return typeof gc === 'function' ? (gc as () => void) : null;
  } catch {
    return null;
  }
}

/** Looked up at the first collection, so only threads that collect touch V8's flags. */
let gc: (() => void) | null | undefined;
let droppedBytes = 0;
let lastCollect = 0;

/** Notes that `n` bytes of large buffers became garbage. */
export function dropped(n: number): void {
  droppedBytes += n;
}

/** Collects this thread's garbage if enough dropped bytes piled up; `idle`: the thread has nothing else to do. */
export function reclaim(idle: boolean, now: number): void {
  if (droppedBytes < RECLAIM_IDLE_BYTES) return;
  if (droppedBytes < RECLAIM_BUSY_BYTES && !(idle && now - lastCollect >= RECLAIM_IDLE_MS)) return;
  droppedBytes = 0;
  lastCollect = now;
  if (gc === undefined) gc = findGc();
  gc?.();
}
