/**
 * Redis Cluster replicas and failover with Sabre nodes: a 6-node cluster with one replica per
 * master built by redis-cli --cluster create, replicas in the topology replies, READONLY reads,
 * CLUSTER FAILOVER swapping a healthy pair, and a master killed with kill -9 while an ioredis
 * Cluster client writes: its replica wins the election, the client goes on, every write the
 * replica acknowledged (WAIT 1) survives, and the old master comes back as a replica. Skipped
 * with a message where redis-server/redis-cli are missing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import calculateSlot from 'cluster-key-slot';
import { Cluster, Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterNodeProcess, NO_REDIS_TOOLS, hasRedisTools, redisCli, startClusterNode, until } from '../helpers/cluster-nodes.js';

if (!hasRedisTools) console.log(`cluster-failover.test: skipped: ${NO_REDIS_TOOLS}`);

/** Small, so failure detection and elections take a few seconds. */
const NODE_TIMEOUT = ['--cluster-node-timeout', '1500'];

const addr = (n: ClusterNodeProcess): string => `127.0.0.1:${n.port}`;

/** A short-lived connection for one question. */
async function ask<T>(n: ClusterNodeProcess, fn: (c: Redis) => Promise<T>): Promise<T> {
  const c = new Redis({ port: n.port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
  try {
    await c.connect();
    return await fn(c);
  } finally {
    c.disconnect();
  }
}

const nodesOf = (n: ClusterNodeProcess): Promise<string> => ask(n, async (c) => (await c.cluster('NODES')) as string);
const idOf = (n: ClusterNodeProcess): Promise<string> => ask(n, async (c) => (await c.cluster('MYID')) as string);
const roleOf = (n: ClusterNodeProcess): Promise<unknown[]> => ask(n, async (c) => (await c.role()) as unknown[]);

/**
 * Every node sees the cluster ok with all `nodes`, `replicas` of them as replicas of a master
 * serving slots, and every replica's link to its master is up.
 */
async function settled(nodes: ClusterNodeProcess[], replicas: number): Promise<boolean> {
  for (const n of nodes) {
    const ok = await ask(n, async (c) => {
      const info = (await c.cluster('INFO')) as string;
      if (!info.includes('cluster_state:ok') || !info.includes(`cluster_known_nodes:${nodes.length}`)) return false;
      const lines = ((await c.cluster('NODES')) as string).trim().split('\n');
      const serving = new Set(lines.filter((l) => l.split(' ').length > 8).map((l) => l.split(' ')[0]));
      const following = lines.filter((l) => l.split(' ')[2]!.includes('slave') && serving.has(l.split(' ')[3]!));
      if (following.length !== replicas) return false;
      const role = (await c.role()) as unknown[];
      return role[0] === 'master' || role[3] === 'connected';
    }).catch(() => false);
    if (!ok) return false;
  }
  return true;
}

async function check(n: ClusterNodeProcess): Promise<string> {
  const r = await redisCli(['--cluster', 'check', addr(n)]);
  expect(r.output).toContain('[OK] All nodes agree about slots configuration.');
  expect(r.output).toContain('[OK] All 16384 slots covered.');
  expect(r.output).not.toMatch(/\[ERR\]|\[WARNING\]/);
  return r.output;
}

/** The node `port` among `nodes`. */
function byPort(nodes: ClusterNodeProcess[], port: number): ClusterNodeProcess {
  return nodes.find((n) => n.port === port)!;
}

/** Master → replica pairs, from one node's CLUSTER NODES. */
async function pairs(nodes: ClusterNodeProcess[]): Promise<[ClusterNodeProcess, ClusterNodeProcess][]> {
  const lines = (await nodesOf(nodes[0]!)).trim().split('\n');
  const portOf = new Map(lines.map((l) => [l.split(' ')[0]!, Number(l.split(' ')[1]!.split(':')[1]!.split('@')[0])]));
  const out: [ClusterNodeProcess, ClusterNodeProcess][] = [];
  for (const l of lines) {
    const f = l.split(' ');
    if (!f[2]!.includes('slave')) continue;
    out.push([byPort(nodes, portOf.get(f[3]!)!), byPort(nodes, portOf.get(f[0]!)!)]);
  }
  return out;
}

function cluster(nodes: ClusterNodeProcess[]): Cluster {
  return new Cluster(
    nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    {
      retryDelayOnMoved: 20,
      retryDelayOnTryAgain: 50,
      retryDelayOnClusterDown: 100,
      retryDelayOnFailover: 100,
      redisOptions: { maxRetriesPerRequest: 2 },
    },
  );
}

describe.skipIf(!hasRedisTools)('6 Sabre nodes: 3 masters with a replica each', () => {
  let dir: string;
  let nodes: ClusterNodeProcess[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sabre-failover-'));
    nodes = await Promise.all(Array.from({ length: 6 }, () => startClusterNode('sabre', dir, NODE_TIMEOUT)));
    const r = await redisCli(['--cluster', 'create', ...nodes.map(addr), '--cluster-replicas', '1', '--cluster-yes']);
    expect(r.output).toContain('[OK] All 16384 slots covered.');
    expect(r.code).toBe(0);
    await until(() => settled(nodes, 3), 'the cluster to be ok with every replica in sync');
  }, 180_000);

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes redis-cli --cluster check with one replica per master', async () => {
    const out = await check(nodes[0]!);
    expect(out.match(/1 additional replica\(s\)/g)).toHaveLength(3);
    expect(out.match(/^S: /gm)).toHaveLength(3);
    const info = await ask(nodes[0]!, async (c) => (await c.cluster('INFO')) as string);
    expect(info).toContain('cluster_size:3');
  }, 120_000);

  it('shows the replicas in CLUSTER NODES, REPLICAS, SLOTS and SHARDS as Redis does', async () => {
    const [[master, replica]] = await pairs(nodes);
    const masterId = await idOf(master!);
    const replicaId = await idOf(replica!);
    const own = (await nodesOf(replica!)).split('\n').find((l) => l.startsWith(replicaId))!;
    const masterLine = (await nodesOf(replica!)).split('\n').find((l) => l.startsWith(masterId))!;
    // A replica shows its master's config epoch and no slots.
    expect(own).toMatch(
      new RegExp(
        `^${replicaId} 127\\.0\\.0\\.1:${replica!.port}@\\d+ myself,slave ${masterId} 0 \\d+ ${masterLine.split(' ')[6]} connected$`,
      ),
    );
    const listed = await ask(master!, async (c) => (await c.cluster('REPLICAS', masterId)) as string[]);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatch(
      new RegExp(`^${replicaId} 127\\.0\\.0\\.1:${replica!.port}@\\d+ slave ${masterId} \\d+ \\d+ \\d+ connected$`),
    );
    // SLAVES is REPLICAS (but for the ping and pong times, which move).
    const timeless = (lines: string[]): string[] => lines.map((l) => l.replace(/ \d+ \d+ (\d+ connected)$/, ' $1'));
    expect(timeless((await ask(master!, (c) => c.cluster('SLAVES', masterId))) as string[])).toEqual(timeless(listed));
    await expect(ask(master!, (c) => c.cluster('REPLICAS', replicaId))).rejects.toThrow('ERR The specified node is not a master');
    // A replica is listed in CLUSTER SLOTS once it has replicated something.
    const range = masterLine.split(' ')[8]!.split('-').map(Number);
    const key = await keyInRange(master!, range[0]!, range[1]!);
    await ask(master!, async (c) => {
      await c.set(key, 'v');
      expect(await c.wait(1, 5000)).toBe(1);
    });
    await until(async () => {
      const slots = (await ask(nodes[0]!, (c) => c.cluster('SLOTS'))) as [number, number, ...[string, number, string, unknown][]][];
      const entry = slots.find(([a]) => a === range[0]);
      return entry !== undefined && entry.length === 4 && entry[2]![2] === masterId && entry[3]![2] === replicaId;
    }, 'the replica in CLUSTER SLOTS');
    const shards = (await ask(nodes[0]!, (c) => c.call('CLUSTER', 'SHARDS'))) as unknown[][];
    const shard = shards.find((s) => (s[1] as number[])[0] === range[0])!;
    const members = (shard[3] as unknown[][]).map((n) => [n[1], n[9]]);
    expect(members).toEqual([
      [masterId, 'master'],
      [replicaId, 'replica'],
    ]);
  }, 60_000);

  it('redirects a replica’s clients to the master unless READONLY, and never for writes', async () => {
    const [[master, replica]] = await pairs(nodes);
    const key = await ownKey(master!);
    await ask(master!, async (c) => {
      await c.set(key, 'here');
      await c.wait(1, 5000);
    });
    await ask(replica!, async (c) => {
      const slot = (await c.cluster('KEYSLOT', key)) as number;
      await expect(c.get(key)).rejects.toThrow(`MOVED ${slot} 127.0.0.1:${master!.port}`);
      expect(await c.readonly()).toBe('OK');
      expect(await c.get(key)).toBe('here');
      await expect(c.set(key, 'x')).rejects.toThrow(`MOVED ${slot} 127.0.0.1:${master!.port}`);
      expect(await c.readwrite()).toBe('OK');
      await expect(c.get(key)).rejects.toThrow(`MOVED ${slot}`);
      await expect(c.replicaof('127.0.0.1', String(master!.port))).rejects.toThrow('ERR REPLICAOF not allowed in cluster mode.');
      await expect(c.cluster('REPLICATE', await c.cluster('MYID'))).rejects.toThrow("ERR Can't replicate myself");
      await expect(c.cluster('SETSLOT', '1', 'STABLE')).rejects.toThrow('ERR Please use SETSLOT only with masters.');
    });
    // Nor from the configuration: the cluster says who is whose replica.
    await expect(startClusterNode('sabre', dir, ['--replicaof', `127.0.0.1 ${master!.port}`])).rejects.toThrow(
      'replicaof directive not allowed in cluster mode',
    );
    await ask(master!, async (c) => {
      await expect(c.cluster('FAILOVER')).rejects.toThrow('ERR You should send CLUSTER FAILOVER to a replica');
      await expect(c.cluster('REPLICATE', await idOf(replica!))).rejects.toThrow('ERR I can only replicate a master, not a replica.');
    });
  }, 60_000);

  it('sends SPUBLISH to the replicas of its shard and nowhere else, and PUBLISH (a script’s too) to every node', async () => {
    const [[master, replica], [otherMaster]] = await pairs(nodes);
    const channel = await ownKey(master!);
    const got = new Map<number, string[]>();
    const subs: Redis[] = [];
    for (const n of [master!, replica!, otherMaster!]) {
      const sub = new Redis({ port: n.port, host: '127.0.0.1', lazyConnect: true });
      await sub.connect();
      subs.push(sub);
      got.set(n.port, []);
      sub.on('smessage', (ch: string, m: string) => got.get(n.port)!.push(`s:${ch}:${m}`));
      sub.on('message', (ch: string, m: string) => got.get(n.port)!.push(`p:${ch}:${m}`));
      // A replica takes SSUBSCRIBE for its master's slots; another shard's node would answer MOVED.
      if (n !== otherMaster) await sub.ssubscribe(channel);
      await sub.subscribe('everyone');
    }
    try {
      await ask(master!, async (c) => {
        expect(await c.call('SPUBLISH', channel, 'sharded')).toBe(1);
        expect(await c.publish('everyone', 'hi')).toBe(1);
        expect(await c.eval("return redis.call('PUBLISH', 'everyone', 'script')", 0)).toBe(1);
      });
      await until(
        () => got.get(replica!.port)!.length === 3 && got.get(otherMaster!.port)!.length === 2,
        'the messages on the other nodes',
      );
      const everywhere = ['p:everyone:hi', 'p:everyone:script'];
      expect(got.get(master!.port)).toEqual([`s:${channel}:sharded`, ...everywhere]);
      expect(got.get(replica!.port)).toEqual([`s:${channel}:sharded`, ...everywhere]);
      expect(got.get(otherMaster!.port)).toEqual(everywhere);
    } finally {
      for (const s of subs) s.disconnect();
    }
  }, 60_000);

  it('restarts a replica that continues its master’s history from its RDB (a partial resync, not a full one)', async () => {
    const [[master, replica]] = await pairs(nodes);
    const key = await ownKey(master!);
    await ask(master!, async (c) => {
      await c.set(key, 'before');
      expect(await c.wait(1, 5000)).toBe(1);
    });
    const syncs = async (): Promise<string> =>
      ask(master!, async (c) => (await c.info('stats')).match(/sync_full:\d+\r\nsync_partial_ok:\d+/)![0]);
    const [full, partial] = (await syncs()).match(/\d+/g)!.map(Number);
    // SHUTDOWN saves the RDB with the replication history (aux repl-id, repl-offset); meanwhile the master writes on.
    await ask(replica!, (c) => c.call('SHUTDOWN', 'SAVE').catch(() => undefined));
    await replica!.stop();
    await ask(master!, (c) => c.set(key, 'while away'));
    const back = await startClusterNode('sabre', dir, NODE_TIMEOUT, { port: replica!.port, busPort: replica!.busPort });
    nodes[nodes.indexOf(replica!)] = back;
    await until(async () => (await roleOf(back))[3] === 'connected', 'the replica to reconnect');
    expect(await syncs()).toBe(`sync_full:${full}\r\nsync_partial_ok:${partial! + 1}`);
    await until(
      () => ask(back, async (c) => (await c.readonly()) === 'OK' && (await c.get(key)) === 'while away'),
      'the write made while it was away',
    );
  }, 60_000);

  it('CLUSTER FAILOVER swaps a healthy pair with no write lost', async () => {
    const [, [master, replica]] = await pairs(nodes);
    const cl = cluster(nodes);
    const acked = new Map<string, string>();
    let stop = false;
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        const k = `mf:${i % 3000}`;
        try {
          await cl.set(k, String(i));
          acked.set(k, String(i));
        } catch {
          // A write that failed may or may not have run: its key is not checked.
          acked.delete(k);
        }
      }
    })();
    try {
      await until(() => acked.size > 500, 'the writer to get going');
      expect(await ask(replica!, (c) => c.cluster('FAILOVER'))).toBe('OK');
      await until(async () => (await roleOf(replica!))[0] === 'master', 'the replica to become master');
      expect(master!.output()).toContain('Manual failover requested by replica');
      expect(replica!.output()).toContain('All master replication stream processed, manual failover can start.');
      await until(async () => {
        const r = await roleOf(master!);
        return r[0] === 'slave' && r[2] === replica!.port && r[3] === 'connected';
      }, 'the old master to replicate the new one');
      const written = acked.size;
      await until(() => acked.size > written + 200, 'writes to go on after the failover');
      stop = true;
      await writer;
      await until(() => settled(nodes, 3), 'the cluster to settle');
      await check(nodes[0]!);
      const reader = cluster(nodes);
      try {
        for (const [k, v] of acked) expect([k, await reader.get(k)]).toEqual([k, v]);
      } finally {
        reader.disconnect();
      }
    } finally {
      stop = true;
      await writer;
      cl.disconnect();
    }
  }, 180_000);

  it('CLUSTER FAILOVER FORCE (an election without the master) and TAKEOVER (no election) swap a pair too', async () => {
    const [[master, replica]] = await pairs(nodes);
    const swapped = async (newMaster: ClusterNodeProcess, newReplica: ClusterNodeProcess): Promise<void> => {
      await until(async () => (await roleOf(newMaster))[0] === 'master', `${newMaster.port} to become master`);
      await until(async () => {
        const r = await roleOf(newReplica);
        return r[0] === 'slave' && r[2] === newMaster.port && r[3] === 'connected';
      }, `${newReplica.port} to replicate ${newMaster.port}`);
      await until(() => settled(nodes, 3), 'the cluster to settle');
      await check(nodes[0]!);
    };
    const epochBefore = await ask(replica!, async (c) => (await c.cluster('INFO')) as string);
    expect(await ask(replica!, (c) => c.cluster('FAILOVER', 'FORCE'))).toBe('OK');
    await swapped(replica!, master!);
    expect(replica!.output()).toContain('Forced failover user request accepted.');
    expect(await ask(master!, (c) => c.cluster('FAILOVER', 'TAKEOVER'))).toBe('OK');
    await swapped(master!, replica!);
    expect(master!.output()).toContain('Taking over the master (user request).');
    const epoch = (info: string): number => Number(/cluster_current_epoch:(\d+)/.exec(info)![1]);
    expect(epoch(await ask(master!, async (c) => (await c.cluster('INFO')) as string))).toBeGreaterThan(epoch(epochBefore));
  }, 180_000);

  it('promotes the replica of a master killed with kill -9; replicated writes survive; the old master returns as a replica', async () => {
    const [, , [master, replica]] = await pairs(nodes);
    const masterId = await idOf(master!);
    const replicaId = await idOf(replica!);
    const cl = cluster(nodes);
    // The killed master's slots, which the promoted replica serves next.
    const own = (await nodesOf(master!))
      .split('\n')
      .find((l) => l.includes('myself'))!
      .split(' ')
      .slice(8);
    const ranges = own.map((r) => r.split('-').map(Number));
    const moves = (k: string): boolean => ranges.some(([a, b]) => calculateSlot(k) >= a! && calculateSlot(k) <= (b ?? a!));
    // Acknowledged: the SET succeeded and WAIT saw the replica have it.
    const acked = new Map<string, string>();
    // Writes to the killed master's slots that succeeded after the promotion (the new master has no replica to WAIT for).
    let afterPromotion = 0;
    let promoted = false;
    let stop = false;
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        const k = `kill:${i % 4000}`;
        const v = String(i);
        try {
          const r = await cl.pipeline().set(k, v).wait(1, 200).exec();
          const ok = r !== null && r[0]![1] === 'OK';
          // ioredis retries a pipeline on MOVED only when all of it may be retried, which WAIT is not: refresh the slot map.
          if (r?.[0]?.[0] instanceof Error && r[0][0].message.startsWith('MOVED')) cl.refreshSlotsCache();
          if (ok && (r[1]![1] as number) >= 1) acked.set(k, v);
          // A write not acknowledged by the replica may or may not survive: its key is not checked.
          else acked.delete(k);
          if (promoted && ok && moves(k)) afterPromotion++;
        } catch {
          acked.delete(k);
          await new Promise((res) => setTimeout(res, 20));
        }
      }
    })();
    try {
      await until(() => acked.size > 500, 'the writer to get going');
      master!.proc.kill('SIGKILL');
      await until(async () => (await roleOf(replica!))[0] === 'master', 'the replica to win the election', 60_000);
      promoted = true;
      expect(replica!.output()).toContain("Failover election won: I'm the new master.");
      expect(nodes.filter((n) => n.output().includes(`Failover auth granted to ${replicaId}`))).toHaveLength(2);
      for (const n of nodes.filter((x) => x !== master))
        await until(async () => {
          const line = (await nodesOf(n)).split('\n').find((l) => l.startsWith(replicaId))!;
          return / (myself,)?master /.test(line) && line.split(' ').length > 8;
        }, `node ${n.port} to see the promotion`);
      await until(() => afterPromotion > 20, 'the client to write to the promoted replica');
      stop = true;
      await writer;
      const reader = cluster(nodes.filter((x) => x !== master));
      try {
        for (const [k, v] of acked) expect([k, await reader.get(k)]).toEqual([k, v]);
      } finally {
        reader.disconnect();
      }
      // The old master restarts with its nodes.conf, learns its slots went to a newer epoch, and follows.
      const back = await startClusterNode('sabre', dir, NODE_TIMEOUT, { port: master!.port, busPort: master!.busPort });
      nodes[nodes.indexOf(master!)] = back;
      expect(await idOf(back)).toBe(masterId);
      await until(async () => {
        const r = await roleOf(back);
        return r[0] === 'slave' && r[2] === replica!.port && r[3] === 'connected';
      }, 'the old master to come back as a replica of the new one');
      await until(() => settled(nodes, 3), 'the cluster to settle');
      await check(back);
    } finally {
      stop = true;
      await writer;
      cl.disconnect();
    }
  }, 240_000);

  it('moves a replica to a master whose only replica died (replica migration)', async () => {
    const [[donor], [orphan, lost]] = await pairs(nodes);
    const orphanId = await idOf(orphan!);
    // The donor gets a second replica, so it can give one away (cluster-migration-barrier 1).
    const extra = await startClusterNode('sabre', dir, NODE_TIMEOUT);
    nodes.push(extra);
    const added = await redisCli([
      '--cluster',
      'add-node',
      addr(extra),
      addr(donor!),
      '--cluster-slave',
      '--cluster-master-id',
      await idOf(donor!),
    ]);
    expect(added.output).toContain('[OK] New node added correctly.');
    await until(() => settled(nodes, 4), 'the second replica to sync');
    lost!.proc.kill('SIGKILL');
    const alive = nodes.filter((n) => n !== lost);
    const migrated = (): ClusterNodeProcess[] => alive.filter((n) => n.output().includes(`Migrating to orphaned master ${orphanId}`));
    await until(() => migrated().length > 0, 'a replica to migrate to the orphaned master', 60_000);
    expect(migrated()).toHaveLength(1);
    await until(async () => {
      const r = await roleOf(migrated()[0]!);
      return r[0] === 'slave' && r[2] === orphan!.port && r[3] === 'connected';
    }, 'the migrated replica to sync with its new master');
    // The donor keeps one replica.
    expect((await pairs(alive)).filter(([m]) => m === donor)).toHaveLength(1);
    nodes.splice(nodes.indexOf(lost!), 1);
    await lost!.stop();
  }, 180_000);
});

/** A key of a slot in the first range master `n` serves (from its own CLUSTER NODES line). */
async function ownKey(n: ClusterNodeProcess): Promise<string> {
  const range = (await nodesOf(n))
    .split('\n')
    .find((l) => l.includes('myself'))!
    .split(' ')[8]!
    .split('-')
    .map(Number);
  return keyInRange(n, range[0]!, range[1]!);
}

/** A key whose slot lies in [from, to]. */
async function keyInRange(n: ClusterNodeProcess, from: number, to: number): Promise<string> {
  return ask(n, async (c) => {
    for (let i = 0; ; i++) {
      const slot = (await c.cluster('KEYSLOT', `k${i}`)) as number;
      if (slot >= from && slot <= to) return `k${i}`;
    }
  });
}

describe.skipIf(!hasRedisTools)('a mixed cluster: redis-server 7.0 replicas of Sabre masters and the other way round', () => {
  let dir: string;
  /** Masters: Sabre A, Redis B, Sabre C; replicas: Redis RA of A, Sabre SB of B. */
  let a: ClusterNodeProcess;
  let b: ClusterNodeProcess;
  let c: ClusterNodeProcess;
  let ra: ClusterNodeProcess;
  let sb: ClusterNodeProcess;
  const all = (): ClusterNodeProcess[] => [a, b, c, ra, sb];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sabre-mixed-failover-'));
    [a, b, c, ra, sb] = await Promise.all([
      startClusterNode('sabre', dir, NODE_TIMEOUT),
      startClusterNode('redis', dir, NODE_TIMEOUT),
      startClusterNode('sabre', dir, NODE_TIMEOUT),
      startClusterNode('redis', dir, NODE_TIMEOUT),
      startClusterNode('sabre', dir, NODE_TIMEOUT),
    ]);
    const r = await redisCli(['--cluster', 'create', addr(a), addr(b), addr(c), '--cluster-replicas', '0', '--cluster-yes']);
    expect(r.code).toBe(0);
    await until(() => settled([a, b, c], 0), 'the masters to agree');
    for (const [replica, master] of [
      [ra, a],
      [sb, b],
    ] as const) {
      const added = await redisCli([
        '--cluster',
        'add-node',
        addr(replica),
        addr(c),
        '--cluster-slave',
        '--cluster-master-id',
        await idOf(master),
      ]);
      expect(added.output).toContain('[OK] New node added correctly.');
    }
    await until(() => settled(all(), 2), 'the replicas to join and sync');
  }, 180_000);

  afterAll(async () => {
    await Promise.all(all().map((n) => n?.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes redis-cli --cluster check from either kind, with each replica fed by the other kind', async () => {
    for (const n of [ra, sb]) {
      const out = await check(n);
      expect(out.match(/1 additional replica\(s\)/g)).toHaveLength(2);
    }
    for (const [master, replica] of [
      [a, ra],
      [b, sb],
    ] as const) {
      const key = await ownKey(master);
      await ask(master, async (cl) => {
        await cl.set(key, `from-${master.kind}`);
        expect(await cl.wait(1, 5000)).toBe(1);
      });
      await ask(replica, async (cl) => {
        await cl.readonly();
        expect(await cl.get(key)).toBe(`from-${master.kind}`);
      });
    }
  }, 120_000);

  it('CLUSTER FAILOVER on a Redis replica promotes it over its Sabre master, which then replicates Redis', async () => {
    expect(await ask(ra, (cl) => cl.cluster('FAILOVER'))).toBe('OK');
    await until(async () => (await roleOf(ra))[0] === 'master', 'the Redis replica to become master');
    await until(async () => {
      const r = await roleOf(a);
      return r[0] === 'slave' && r[2] === ra.port && r[3] === 'connected';
    }, 'the Sabre master to replicate the Redis node');
    expect(a.output()).toContain(`Manual failover requested by replica ${await idOf(ra)}.`);
    await until(() => settled(all(), 2), 'the cluster to settle');
    await check(b);
  }, 120_000);

  it('kill -9 of a Redis master: its Sabre replica wins the election with Redis and Sabre votes', async () => {
    const sbId = await idOf(sb);
    b.proc.kill('SIGKILL');
    await until(async () => (await roleOf(sb))[0] === 'master', 'the Sabre replica to win the election', 60_000);
    expect(sb.output()).toContain("Failover election won: I'm the new master.");
    // Votes came from the other masters: Sabre C, and Redis RA (master since the previous case).
    expect(c.output()).toContain(`Failover auth granted to ${sbId}`);
    await until(
      async () => /cluster_state:ok/.test((await ask(ra, (cl) => cl.cluster('INFO'))) as string),
      'the Redis node to see the cluster ok',
    );
    const restarted = await startClusterNode('redis', dir, NODE_TIMEOUT, { port: b.port, busPort: b.busPort });
    b = restarted;
    await until(async () => {
      const r = await roleOf(b);
      return r[0] === 'slave' && r[2] === sb.port && r[3] === 'connected';
    }, 'the restarted Redis node to replicate the Sabre node');
    await until(() => settled(all(), 2), 'the cluster to settle');
    await check(b);
  }, 180_000);
});
