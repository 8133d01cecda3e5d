/**
 * shard-sched-batch: as many threads as there are shards run under SCHED_BATCH (read back from
 * /proc), the main (acceptor) thread not among them, and `no` leaves every thread on the default
 * policy. Linux with util-linux's chrt only.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { startServer } from '../helpers/server.js';

const SCHED_BATCH = 3;
const hasChrt = existsSync('/proc/thread-self') && spawnSync('chrt', ['--version']).status === 0;
if (!hasChrt) console.warn('thread-sched tests skipped: they need Linux and chrt (apt-get install util-linux)');

/** Scheduling policy of each thread of `pid`. */
function policies(pid: number): { tid: number; policy: number }[] {
  return readdirSync(`/proc/${pid}/task`).map((tid) => {
    const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
    // Fields after the command name: state is field 3, policy field 41.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return { tid: Number(tid), policy: Number(fields[41 - 3]) };
  });
}

describe.skipIf(!hasChrt)('shard-sched-batch', () => {
  it('puts the shard threads, not the acceptor, under SCHED_BATCH by default', async () => {
    const srv = await startServer(['--shards', '3']);
    try {
      const batch = policies(srv.proc.pid!).filter((t) => t.policy === SCHED_BATCH);
      expect(batch.length).toBe(3);
      expect(batch.some((t) => t.tid === srv.proc.pid)).toBe(false);
    } finally {
      expect(await srv.stop()).toBe(0);
    }
  });

  it('leaves every thread on the default policy with shard-sched-batch no', async () => {
    const srv = await startServer(['--shards', '2', '--shard-sched-batch', 'no']);
    try {
      const threads = policies(srv.proc.pid!);
      expect(threads.length).toBeGreaterThan(2);
      expect(threads.filter((t) => t.policy === SCHED_BATCH)).toEqual([]);
    } finally {
      expect(await srv.stop()).toBe(0);
    }
  });
});
