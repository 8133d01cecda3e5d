/**
 * Replication under faults, Sabre master → Sabre replica: a replica restarted inside the backlog
 * continues partially (its RDB kept the history); a restarted master (new replication id) forces a
 * full sync; a link cut by SIGSTOP of either side for longer than repl-timeout heals on SIGCONT; a
 * replica too slow for the write rate passes client-output-buffer-limit replica, is dropped, and
 * comes back with a full sync. Every case ends with the two data sets compared key by key: never a
 * replica that silently diverges. No timing is asserted: each wait is on a condition.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { TestServer } from '../helpers/server.js';
import { dataset, differences, replInfo } from '../helpers/replication.js';
import { freePort, restartSabre, sabreWithConfig, waitFor } from '../helpers/sentinel.js';

const BASE = ['shards 2', 'repl-diskless-sync-delay 0'];

/** INFO stats' sync counters of a master. */
async function syncStats(c: Redis): Promise<{ full: number; partialOk: number; partialErr: number }> {
  const text = await c.info('stats');
  const n = (k: string): number => Number(new RegExp(`${k}:(\\d+)`).exec(text)?.[1] ?? Number.NaN);
  return { full: n('sync_full'), partialOk: n('sync_partial_ok'), partialErr: n('sync_partial_err') };
}

/** Writes of every type Sabre replicates, keyed by `tag` and `i`: strings, counters, lists, hashes, sets, sorted sets, streams, expiring keys. */
async function writeMixed(c: Redis, tag: string, from: number, to: number): Promise<void> {
  const p = c.pipeline();
  for (let i = from; i < to; i++) {
    p.set(`s:${tag}:${i}`, `v${i}`);
    p.incr(`counter:${i % 10}`);
    p.rpush(`l:${i % 7}`, `${tag}${i}`);
    p.hset(`h:${i % 5}`, `${tag}${i}`, String(i));
    p.sadd(`set:${i % 3}`, `${tag}${i}`);
    p.zadd(`z:${i % 4}`, i, `${tag}${i}`);
    if (i % 50 === 0) p.xadd(`x:${tag}`, '*', 'i', String(i));
    if (i % 25 === 0) p.set(`e:${tag}:${i}`, 'x', 'PX', 3_600_000);
    if (i % 40 === 0) p.spop(`set:${i % 3}`);
  }
  await p.exec();
}

/** Waits until the replica's link is up and it has applied all the master has. */
async function caughtUp(master: Redis, replica: Redis): Promise<void> {
  await waitFor(
    'the replica to catch up',
    async () => {
      const [m, r] = [await replInfo(master), await replInfo(replica)];
      return r.master_link_status === 'up' && r.slave_repl_offset === m.master_repl_offset;
    },
    120_000,
  );
}

/** The replica holds exactly the master's data. */
async function expectSameData(master: Redis, replica: Redis): Promise<void> {
  await caughtUp(master, replica);
  const [want, got] = [await dataset(master), await dataset(replica)];
  expect(want.size).toBeGreaterThan(0);
  expect(differences(want, got)).toEqual([]);
}

describe('replication faults, Sabre → Sabre', () => {
  let dir: string;
  const servers: TestServer[] = [];
  const clients: Redis[] = [];

  /** A master and a replica on fixed ports (restartable), each with its own config file and directory. */
  async function pair(masterConf: string[], replicaConf: string[]) {
    dir = mkdtempSync(join(tmpdir(), 'sabre-repl-faults-'));
    const [mp, rp] = [await freePort(), await freePort()];
    const m = await sabreWithConfig(join(dir, 'm'), mp, [...BASE, ...masterConf]);
    servers.push(m);
    const r = await sabreWithConfig(join(dir, 'r'), rp, [...BASE, `replicaof 127.0.0.1 ${mp}`, ...replicaConf]);
    servers.push(r);
    const mc = new Redis({ port: mp, host: '127.0.0.1' });
    const rc = new Redis({ port: rp, host: '127.0.0.1' });
    clients.push(mc, rc);
    await waitFor('the first sync', async () => (await replInfo(rc)).master_link_status === 'up', 120_000);
    return { m, r, mc, rc, mp, rp };
  }

  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    for (const s of servers.splice(0)) {
      s.proc.kill('SIGCONT');
      await s.stop();
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a replica restarted while the backlog covers it continues partially', async () => {
    const { r, mc, rc, rp } = await pair([], ['save "3600 1"']);
    await writeMixed(mc, 'a', 0, 2000);
    await caughtUp(mc, rc);
    const before = await syncStats(mc);
    rc.disconnect();
    await r.stop();
    await writeMixed(mc, 'b', 2000, 2500);
    servers[1] = await restartSabre(join(dir, 'r'), rp);
    const rc2 = new Redis({ port: rp, host: '127.0.0.1' });
    clients.push(rc2);
    await writeMixed(mc, 'c', 2500, 2600);
    await expectSameData(mc, rc2);
    const after = await syncStats(mc);
    expect(after.partialOk).toBeGreaterThan(before.partialOk);
    expect(after.full).toBe(before.full);
  }, 180_000);

  it('a restarted master has a new replication id and the replica syncs fully', async () => {
    const { m, mc, rc, mp } = await pair(['save "3600 1"'], []);
    await writeMixed(mc, 'a', 0, 1000);
    await caughtUp(mc, rc);
    const oldId = (await replInfo(mc)).master_replid;
    mc.disconnect();
    await m.stop();
    servers[0] = await restartSabre(join(dir, 'm'), mp);
    const mc2 = new Redis({ port: mp, host: '127.0.0.1' });
    clients.push(mc2);
    await writeMixed(mc2, 'b', 1000, 1500);
    // The master takes a fresh id again when the first replica makes it start a backlog (as Redis does): compare the current ones.
    await waitFor(
      'the replica to take the new history',
      async () => {
        const [m, r] = [await replInfo(mc2), await replInfo(rc)];
        return r.master_replid === m.master_replid && m.master_replid !== oldId;
      },
      120_000,
    );
    await expectSameData(mc2, rc);
    expect((await syncStats(mc2)).full).toBe(1);
  }, 180_000);

  it('a replica stopped past repl-timeout is dropped by the master and heals on SIGCONT', async () => {
    const { r, mc, rc } = await pair(['repl-timeout 2'], ['repl-timeout 2']);
    await writeMixed(mc, 'a', 0, 500);
    await caughtUp(mc, rc);
    r.proc.kill('SIGSTOP');
    await writeMixed(mc, 'b', 500, 1000);
    await waitFor('the master to drop the silent replica', async () => (await replInfo(mc)).connected_slaves === '0', 120_000);
    await writeMixed(mc, 'c', 1000, 1200);
    r.proc.kill('SIGCONT');
    await writeMixed(mc, 'd', 1200, 1300);
    await expectSameData(mc, rc);
  }, 180_000);

  it('a master stopped past repl-timeout: the replica marks the link down and resumes after SIGCONT', async () => {
    const { m, mc, rc } = await pair(['repl-timeout 2'], ['repl-timeout 2']);
    await writeMixed(mc, 'a', 0, 500);
    await caughtUp(mc, rc);
    m.proc.kill('SIGSTOP');
    await waitFor('the replica to see its link down', async () => (await replInfo(rc)).master_link_status === 'down', 120_000);
    m.proc.kill('SIGCONT');
    await writeMixed(mc, 'b', 500, 1000);
    await expectSameData(mc, rc);
  }, 180_000);

  it('a replica slower than the writes hits client-output-buffer-limit replica and comes back with a full sync', async () => {
    const { r, mc, rc } = await pair(['client-output-buffer-limit replica 1mb 512kb 1', 'repl-backlog-size 128kb'], []);
    await writeMixed(mc, 'a', 0, 200);
    await caughtUp(mc, rc);
    const before = await syncStats(mc);
    r.proc.kill('SIGSTOP');
    // Far more than the socket buffers and the 1mb limit hold: the master must drop the replica.
    const big = 'x'.repeat(16 * 1024);
    for (let batch = 0; batch < 40; batch++) {
      const p = mc.pipeline();
      for (let i = 0; i < 100; i++) p.set(`big:${batch}:${i}`, big);
      await p.exec();
    }
    await waitFor(
      'the master to drop the replica over its output buffer limit',
      async () => (await replInfo(mc)).connected_slaves === '0',
      120_000,
    );
    r.proc.kill('SIGCONT');
    await writeMixed(mc, 'b', 200, 400);
    await expectSameData(mc, rc);
    expect((await syncStats(mc)).full).toBe(before.full + 1);
  }, 240_000);
});
