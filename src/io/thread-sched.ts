/**
 * Linux's SCHED_BATCH for the shard threads. A shard sleeps whenever its ring runs dry and is
 * woken by the acceptor's next batch; under the default policy that wake-up preempts whatever
 * runs on the CPU, often the acceptor itself, which then waits for a CPU with the shard's next
 * batch half built. A batch thread still gets its fair share of CPU but does not preempt on
 * wake-up. Node has no call for the policy, so util-linux's `chrt` sets it (an unprivileged
 * thread may choose SCHED_BATCH); native-bench/results/sched-batch.md has the measurements.
 */
import { spawnSync } from 'node:child_process';

/** Puts thread `tid` under SCHED_BATCH; returns null, or why it could not. */
export function setBatchPolicy(tid: number): string | null {
  if (tid <= 0) return 'no thread id (/proc/thread-self is Linux-only)';
  const r = spawnSync('chrt', ['--batch', '--pid', '0', String(tid)], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 5000 });
  if (r.error) return `chrt: ${r.error.message} (util-linux provides it)`;
  if (r.status !== 0) return `chrt exited with ${r.status}: ${r.stderr.toString().trim()}`;
  return null;
}
