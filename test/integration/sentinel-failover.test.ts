/**
 * Failover by real Redis Sentinel (skipped where redis-sentinel is not installed): three Sentinels
 * watch a Sabre master and two Sabre replicas; a writer connected through ioredis's Sentinel support
 * runs SET + WAIT 1 100 in a loop; the master is killed with SIGKILL; the Sentinels promote a
 * replica, the writer finds it and goes on, and every write WAIT acknowledged is on the new master.
 * The old master, started again from its config file, is turned into a replica of the new one by
 * Sentinel (REPLICAOF + CONFIG REWRITE) and ends with the same data. No timing is asserted: every
 * wait is on a condition, with a generous bound.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { TestServer } from '../helpers/server.js';
import { dataset, differences, replInfo } from '../helpers/replication.js';
import {
  freePort,
  hasSentinel,
  restartSabre,
  sabreWithConfig,
  sentinelClient,
  sentinelMaster,
  startSentinel,
  waitFor,
  type TestSentinel,
} from '../helpers/sentinel.js';

if (!hasSentinel) console.warn('sentinel-failover: skipped: redis-sentinel is not installed (Debian: apt-get install redis-sentinel)');

const NODE_CONF = ['shards 2', 'repl-diskless-sync-delay 0'];

/** A client of one node. Sentinel's reconfiguration kills normal clients (CLIENT KILL TYPE normal): ioredis reconnects, the reset is expected. */
function nodeClient(port: number): Redis {
  const c = new Redis({ port, host: '127.0.0.1' });
  c.on('error', () => {});
  return c;
}

describe.skipIf(!hasSentinel)('failover of a Sabre master by Redis Sentinel', () => {
  let dir: string;
  const ports: number[] = [];
  const nodes: (TestServer | null)[] = [];
  const sentinels: TestSentinel[] = [];
  const admin: Redis[] = [];
  let writer: Redis | null = null;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sabre-failover-'));
    for (let i = 0; i < 3; i++) ports.push(await freePort());
    nodes.push(await sabreWithConfig(join(dir, 'n0'), ports[0]!, NODE_CONF));
    for (const i of [1, 2])
      nodes.push(await sabreWithConfig(join(dir, `n${i}`), ports[i]!, [...NODE_CONF, `replicaof 127.0.0.1 ${ports[0]}`]));
    const master = nodeClient(ports[0]!);
    try {
      await waitFor('both replicas online', async () => {
        const info = await replInfo(master);
        return info.slave0?.includes('state=online') && info.slave1?.includes('state=online');
      });
    } finally {
      master.disconnect();
    }
    for (let i = 0; i < 3; i++) sentinels.push(await startSentinel(join(dir, `s${i}`), ports[0]!, { quorum: 2 }));
    for (const s of sentinels) admin.push(sentinelClient(s));
    for (const s of admin) {
      await waitFor('each Sentinel to know both replicas and the other Sentinels', async () => {
        const m = await sentinelMaster(s);
        return m['num-slaves'] === '2' && m['num-other-sentinels'] === '2';
      });
    }
  }, 180_000);

  afterAll(async () => {
    writer?.disconnect();
    for (const c of admin) c.disconnect();
    for (const s of sentinels) await s.stop();
    for (const n of nodes) await n?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('promotes a replica after kill -9 of the master and loses no write WAIT acknowledged', async () => {
    writer = new Redis({
      sentinels: sentinels.map((s) => ({ host: '127.0.0.1', port: s.port })),
      name: 'mymaster',
      maxRetriesPerRequest: 1,
      retryStrategy: () => 100,
      sentinelRetryStrategy: () => 100,
    });
    writer.on('error', () => {});
    const acked: number[] = [];
    let stop = false;
    let ackedAfterSwitch = 0;
    let switched = false;
    const loop = (async () => {
      for (let i = 0; !stop; i++) {
        try {
          await writer!.set(`k${i}`, String(i));
          const n = (await writer!.call('WAIT', '1', '100')) as number;
          if (n >= 1) {
            acked.push(i);
            if (switched) ackedAfterSwitch++;
          }
        } catch {
          await new Promise((r) => setTimeout(r, 50));
        }
      }
    })();

    await waitFor('writes acknowledged by a replica', async () => acked.length >= 300, 120_000);
    nodes[0]!.proc.kill('SIGKILL');
    await nodes[0]!.stop();
    nodes[0] = null;
    const [, newPort] = await waitFor(
      'Sentinel to switch the master',
      async () => {
        const addr = (await admin[0]!.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'mymaster')) as [string, string];
        return Number(addr[1]) !== ports[0] ? addr : undefined;
      },
      120_000,
    );
    switched = true;
    await waitFor('the writer to go on against the new master', async () => ackedAfterSwitch >= 100, 120_000);
    stop = true;
    await loop;

    const promoted = ports.indexOf(Number(newPort));
    expect([1, 2]).toContain(promoted);
    const c = nodeClient(Number(newPort));
    try {
      expect((await c.call('ROLE')) as unknown[]).toContainEqual('master');
      const missing: number[] = [];
      for (let j = 0; j < acked.length; j += 500) {
        const batch = acked.slice(j, j + 500);
        const values = await c.mget(...batch.map((i) => `k${i}`));
        batch.forEach((i, x) => {
          if (values[x] !== String(i)) missing.push(i);
        });
      }
      expect(missing).toEqual([]);

      // The other replica follows the new master and ends with the same data.
      const other = nodeClient(ports[3 - promoted]!);
      try {
        await waitFor('the other replica to follow the new master', async () => {
          const info = await replInfo(other);
          return info.master_port === newPort && info.master_link_status === 'up';
        });
        const want = await dataset(c);
        await waitFor('the other replica to catch up', async () => differences(want, await dataset(other)).length === 0);
      } finally {
        other.disconnect();
      }
    } finally {
      c.disconnect();
    }
  }, 400_000);

  it('the old master started again is made a replica of the new one by Sentinel', async () => {
    const [, newPort] = (await admin[0]!.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', 'mymaster')) as [string, string];
    nodes[0] = await restartSabre(join(dir, 'n0'), ports[0]!);
    const old = nodeClient(ports[0]!);
    const master = nodeClient(Number(newPort));
    try {
      await waitFor(
        'Sentinel to reconfigure the old master as a replica',
        async () => {
          const info = await replInfo(old);
          return info.role === 'slave' && info.master_port === newPort && info.master_link_status === 'up';
        },
        120_000,
      );
      // Sentinel's CONFIG REWRITE put the new role in the old master's file.
      expect(readFileSync(join(dir, 'n0', 'sabre.conf'), 'utf8')).toContain(`\nreplicaof 127.0.0.1 ${newPort}\n`);
      const want = await dataset(master);
      await waitFor("the old master to hold the new master's data", async () => differences(want, await dataset(old)).length === 0);
      await expect(old.set('x', '1')).rejects.toThrow(/^READONLY/);
    } finally {
      old.disconnect();
      master.disconnect();
    }
  }, 200_000);
});
