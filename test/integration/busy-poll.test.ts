/**
 * acceptor-poll-us: replies arrive whether the acceptor polls or sleeps between ticks (the shards'
 * doorbell), the option changes at run time, and an idle acceptor stops polling.
 */
import { existsSync, readFileSync } from 'node:fs';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { startServer } from '../helpers/server.js';

/** Exercises the reply paths: a long pipeline, a blocked client woken later, keys on every shard. */
async function exercise(a: Redis, b: Redis): Promise<void> {
  const p = a.pipeline();
  for (let i = 0; i < 2000; i++) p.incr(`n{${i % 7}}`);
  const res = (await p.exec())!;
  expect(res.length).toBe(2000);
  expect(res.every(([err]) => err === null)).toBe(true);
  expect(await a.get('n{0}')).not.toBeNull();
  const blocked = a.blpop('q', 0);
  // Long past any polling window: the reply comes through the shard's doorbell to a sleeping acceptor.
  await new Promise((r) => setTimeout(r, 50));
  await b.rpush('q', 'x');
  expect(await blocked).toEqual(['q', 'x']);
  await a.mset('k1', 'a', 'k2', 'b', 'k3', 'c', 'k4', 'd');
  expect(await a.mget('k1', 'k2', 'k3', 'k4')).toEqual(['a', 'b', 'c', 'd']);
  await a.del('q', 'k1', 'k2', 'k3', 'k4');
}

/** CPU ticks (utime + stime, in clock ticks) the main thread of `pid` has used. */
function mainThreadTicks(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/task/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return Number(fields[11]) + Number(fields[12]);
}

describe('acceptor-poll-us', () => {
  for (const us of ['0', '200']) {
    it(`serves pipelines, blocked clients and every shard with acceptor-poll-us ${us}`, async () => {
      const srv = await startServer(['--shards', '3', '--acceptor-poll-us', us]);
      const a = new Redis(srv.port, '127.0.0.1');
      const b = new Redis(srv.port, '127.0.0.1');
      try {
        expect(await a.config('GET', 'acceptor-poll-us')).toEqual(['acceptor-poll-us', us]);
        await exercise(a, b);
      } finally {
        a.disconnect();
        b.disconnect();
        expect(await srv.stop()).toBe(0);
      }
    });
  }

  it('changes with CONFIG SET and refuses a bad value', async () => {
    const srv = await startServer();
    const a = new Redis(srv.port, '127.0.0.1');
    const b = new Redis(srv.port, '127.0.0.1');
    try {
      expect(await a.config('GET', 'acceptor-poll-us')).toEqual(['acceptor-poll-us', '200']);
      expect(await a.config('SET', 'acceptor-poll-us', '0')).toBe('OK');
      await exercise(a, b);
      expect(await a.config('SET', 'acceptor-poll-us', '1000')).toBe('OK');
      await exercise(a, b);
      await expect(a.config('SET', 'acceptor-poll-us', '-1')).rejects.toThrow(/acceptor-poll-us/);
    } finally {
      a.disconnect();
      b.disconnect();
      expect(await srv.stop()).toBe(0);
    }
  });

  it.skipIf(!existsSync('/proc/self/task'))('stops polling once the clients go quiet', async () => {
    const srv = await startServer(['--acceptor-poll-us', '100000']);
    const a = new Redis(srv.port, '127.0.0.1');
    try {
      const p = a.pipeline();
      for (let i = 0; i < 20000; i++) p.incr('n');
      await p.exec();
      // Polling lasts no longer than the work before it (and 100 ms at most): after a second it has stopped.
      await new Promise((r) => setTimeout(r, 1000));
      const before = mainThreadTicks(srv.proc.pid!);
      await new Promise((r) => setTimeout(r, 1000));
      // A polling acceptor would use ~100 ticks a second; an idle one wakes only for its timers.
      expect(mainThreadTicks(srv.proc.pid!) - before).toBeLessThan(30);
    } finally {
      a.disconnect();
      expect(await srv.stop()).toBe(0);
    }
  });
});
