/**
 * Redis Cluster with Sabre nodes: cluster mode on one node (slots, redirections, errors,
 * nodes.conf across a restart), a 3-master Sabre cluster built and resharded by redis-cli
 * --cluster and used by ioredis and node-redis cluster clients, and a mixed cluster of Sabre
 * and real redis-server 7.0 masters (skipped with a message where redis-server/redis-cli are missing).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Cluster, Redis } from 'ioredis';
import { createCluster } from 'redis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ClusterNodeProcess, NO_REDIS_TOOLS, hasRedisTools, redisCli, startClusterNode, until } from '../helpers/cluster-nodes.js';

if (!hasRedisTools) console.log(`cluster.test: the redis-cli --cluster and mixed-cluster cases are skipped: ${NO_REDIS_TOOLS}`);

const addr = (n: ClusterNodeProcess): string => `127.0.0.1:${n.port}`;

async function clusterOk(nodes: ClusterNodeProcess[]): Promise<boolean> {
  for (const n of nodes) {
    const c = new Redis({ port: n.port, host: '127.0.0.1', lazyConnect: true });
    try {
      await c.connect();
      const info = (await c.cluster('INFO')) as string;
      if (!info.includes('cluster_state:ok') || !info.includes(`cluster_known_nodes:${nodes.length}`)) return false;
    } finally {
      c.disconnect();
    }
  }
  return true;
}

/** Builds a cluster of `nodes` with redis-cli --cluster create; asserts it reported success. */
async function create(nodes: ClusterNodeProcess[]): Promise<void> {
  const r = await redisCli(['--cluster', 'create', ...nodes.map(addr), '--cluster-replicas', '0', '--cluster-yes']);
  expect(r.output).toContain('[OK] All 16384 slots covered.');
  expect(r.code).toBe(0);
  await until(() => clusterOk(nodes), 'every node to see the cluster ok');
}

async function check(n: ClusterNodeProcess): Promise<string> {
  const r = await redisCli(['--cluster', 'check', addr(n)]);
  expect(r.output).toContain('[OK] All nodes agree about slots configuration.');
  expect(r.output).toContain('[OK] All 16384 slots covered.');
  expect(r.output).not.toMatch(/\[ERR\]|\[WARNING\]/);
  return r.output;
}

function cluster(nodes: ClusterNodeProcess[]): Cluster {
  return new Cluster(
    nodes.map((n) => ({ host: '127.0.0.1', port: n.port })),
    { enableAutoPipelining: true, retryDelayOnMoved: 20, retryDelayOnTryAgain: 50, redisOptions: { maxRetriesPerRequest: 50 } },
  );
}

describe('cluster mode on one Sabre node', () => {
  let dir: string;
  let node: ClusterNodeProcess;
  let c: Redis;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sabre-cluster1-'));
    node = await startClusterNode('sabre', dir);
    c = node.client();
  }, 90_000);

  afterAll(async () => {
    await node?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts alone with a node id, no slots and the cluster down', async () => {
    const id = (await c.cluster('MYID')) as string;
    expect(id).toMatch(/^[0-9a-f]{40}$/);
    expect(await c.cluster('NODES')).toBe(`${id} :${node.port}@${node.busPort} myself,master - 0 0 0 connected\n`);
    const info = (await c.cluster('INFO')) as string;
    expect(info).toContain('cluster_state:fail');
    expect(info).toContain('cluster_known_nodes:1');
    expect(await c.info('cluster')).toContain('cluster_enabled:1');
    await expect(c.get('foo')).rejects.toThrow('CLUSTERDOWN Hash slot not served');
  });

  it('takes slots with Redis’s checks and errors', async () => {
    await expect(c.cluster('ADDSLOTS', '16384')).rejects.toThrow('ERR Invalid or out of range slot');
    await expect(c.cluster('ADDSLOTS', '5', '5')).rejects.toThrow('ERR Slot 5 specified multiple times');
    await expect(c.cluster('ADDSLOTSRANGE', '10', '5')).rejects.toThrow('ERR start slot number 10 is greater than end slot number 5');
    await expect(c.cluster('DELSLOTS', '100')).rejects.toThrow('ERR Slot 100 is already unassigned');
    expect(await c.cluster('ADDSLOTSRANGE', '0', '16383')).toBe('OK');
    await expect(c.cluster('ADDSLOTS', '1')).rejects.toThrow('ERR Slot 1 is already busy');
    await until(async () => ((await c.cluster('INFO')) as string).includes('cluster_state:ok'), 'the cluster state to become ok');
    expect(await c.cluster('SLOTS')).toEqual([[0, 16383, ['', node.port, await c.cluster('MYID'), []]]]);
    expect(await c.cluster('KEYSLOT', 'foo')).toBe(12182);
    expect(await c.cluster('KEYSLOT', '{user1}.name')).toBe(await c.cluster('KEYSLOT', 'user1'));
  });

  it('serves its slots, refuses cross-slot commands and other databases', async () => {
    expect(await c.set('foo', 'bar')).toBe('OK');
    expect(await c.get('foo')).toBe('bar');
    await expect(c.mset('a', '1', 'b', '2')).rejects.toThrow("CROSSSLOT Keys in request don't hash to the same slot");
    expect(await c.mset('{t}a', '1', '{t}b', '2')).toBe('OK');
    await expect(c.select(1)).rejects.toThrow('ERR SELECT is not allowed in cluster mode');
    expect(await c.select(0)).toBe('OK');
    await expect(c.swapdb(0, 1)).rejects.toThrow('ERR SWAPDB is not allowed in cluster mode');
    await expect(c.move('foo', 1)).rejects.toThrow('ERR MOVE is not allowed in cluster mode');
  });

  it('counts and lists the keys of a slot', async () => {
    const slot = (await c.cluster('KEYSLOT', '{s}')) as number;
    for (let i = 0; i < 25; i++) await c.set(`{s}k${i}`, String(i));
    expect(await c.cluster('COUNTKEYSINSLOT', String(slot))).toBe(25);
    const some = (await c.cluster('GETKEYSINSLOT', String(slot), '10')) as string[];
    expect(some).toHaveLength(10);
    for (const k of some) expect(k.startsWith('{s}k')).toBe(true);
    expect(((await c.cluster('GETKEYSINSLOT', String(slot), '100')) as string[]).sort()).toEqual(
      Array.from({ length: 25 }, (_, i) => `{s}k${i}`).sort(),
    );
    await c.del('{s}k0');
    expect(await c.cluster('COUNTKEYSINSLOT', String(slot))).toBe(24);
    // What a reshard does: list, delete (MIGRATE), list again; keys written meanwhile are listed too.
    const all = async (): Promise<string[]> => ((await c.cluster('GETKEYSINSLOT', String(slot), '100')) as string[]).sort();
    for (let i = 1; i < 10; i++) await c.del(`{s}k${i}`);
    await c.set('{s}new', 'x');
    for (let i = 0; i < 200; i++) await c.set(`{t}pad${i}`, 'x');
    await c.set('{s}k1', 'back');
    expect(await all()).toEqual([...Array.from({ length: 15 }, (_, i) => `{s}k${i + 10}`), '{s}k1', '{s}new'].sort());
    await c.del('{s}new', '{s}k1');
    expect(await all()).toEqual(Array.from({ length: 15 }, (_, i) => `{s}k${i + 10}`).sort());
    await expect(c.cluster('COUNTKEYSINSLOT', '16384')).rejects.toThrow('ERR Invalid slot');
    await expect(c.cluster('GETKEYSINSLOT', '1', '-1')).rejects.toThrow('ERR Invalid slot or number of keys');
  });

  it('checks SETSLOT, epoch, FORGET, MEET and FAILOVER arguments as Redis does', async () => {
    const id = (await c.cluster('MYID')) as string;
    await expect(c.cluster('SETSLOT', '12182', 'MIGRATING', 'f'.repeat(40))).rejects.toThrow(
      `ERR I don't know about node ${'f'.repeat(40)}`,
    );
    await expect(c.cluster('SETSLOT', '12182', 'IMPORTING', id)).rejects.toThrow("ERR I'm already the owner of hash slot 12182");
    await expect(c.cluster('SETSLOT', '12182', 'BOGUS')).rejects.toThrow(
      'ERR Invalid CLUSTER SETSLOT action or number of arguments. Try CLUSTER HELP',
    );
    expect(await c.cluster('BUMPEPOCH')).toBe('BUMPED 1');
    expect(await c.cluster('BUMPEPOCH')).toBe('STILL 1');
    await expect(c.cluster('SET-CONFIG-EPOCH', '5')).rejects.toThrow('ERR Node config epoch is already non-zero');
    await expect(c.cluster('FORGET', id)).rejects.toThrow("ERR I tried hard but I can't forget myself...");
    await expect(c.cluster('COUNT-FAILURE-REPORTS', 'x')).rejects.toThrow('ERR Unknown node x');
    await expect(c.cluster('FAILOVER')).rejects.toThrow('ERR You should send CLUSTER FAILOVER to a replica');
    await expect(c.cluster('MEET', '127.0.0.1', 'x')).rejects.toThrow('ERR Invalid TCP base port specified: x');
    await expect(c.cluster('MEET', '300.1.1.1', '1')).rejects.toThrow('ERR Invalid node address specified: 300.1.1.1:1');
    expect(((await c.cluster('HELP')) as string[])[0]).toBe('CLUSTER <subcommand> [<arg> [value] [opt] ...]. Subcommands are:');
  });

  it('keeps its identity and slots in nodes.conf across a restart', async () => {
    const id = (await c.cluster('MYID')) as string;
    expect(await c.cluster('SAVECONFIG')).toBe('OK');
    const nodes = (await c.cluster('NODES')) as string;
    await node.stop();
    const file = join(dir, `nodes-${node.port}.conf`);
    node = await startClusterNode('sabre', dir, ['--cluster-config-file', file]);
    c = node.client();
    expect(await c.cluster('MYID')).toBe(id);
    const again = (await c.cluster('NODES')) as string;
    expect(again.replace(/:\d+@\d+/, '')).toBe(nodes.replace(/:\d+@\d+/, ''));
    expect(again).toContain(' 0-16383');
  });
});

describe.skipIf(!hasRedisTools)('a 3-master Sabre cluster (redis-cli --cluster, ioredis, node-redis)', () => {
  let dir: string;
  let nodes: ClusterNodeProcess[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sabre-cluster3-'));
    nodes = await Promise.all([0, 1, 2].map(() => startClusterNode('sabre', dir)));
    await create(nodes);
  }, 180_000);

  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes redis-cli --cluster check from every node', async () => {
    for (const n of nodes) await check(n);
    const info = (await nodes[0]!.client().cluster('INFO')) as string;
    expect(info).toContain('cluster_size:3');
    expect(info).toContain('cluster_slots_assigned:16384');
  }, 120_000);

  it('redirects with MOVED to the owner', async () => {
    const c = nodes[0]!.client();
    const slots = (await c.cluster('SLOTS')) as [number, number, [string, number, string]][];
    const owner = slots.find(([a, b]) => a <= 12182 && 12182 <= b)![2];
    const other = nodes.find((n) => n.port !== owner[1])!;
    await expect(other.client().get('foo')).rejects.toThrow(`MOVED 12182 127.0.0.1:${owner[1]}`);
  });

  it('answers ASK and TRYAGAIN while a slot moves, and serves the importing node after ASKING', async () => {
    const slot = (await nodes[0]!.client().cluster('KEYSLOT', '{m}')) as number;
    const slots = (await nodes[0]!.client().cluster('SLOTS')) as [number, number, [string, number, string]][];
    const ownerPort = slots.find(([a, b]) => a <= slot && slot <= b)![2][1];
    const source = nodes.find((n) => n.port === ownerPort)!;
    const target = nodes.find((n) => n !== source)!;
    const src = source.client();
    const dst = target.client();
    const srcId = (await src.cluster('MYID')) as string;
    const dstId = (await dst.cluster('MYID')) as string;
    await src.set('{m}a', '1');
    await src.set('{m}e', '1', 'PX', 10);
    await src.set('{m}b', '2');
    expect(await dst.cluster('SETSLOT', String(slot), 'IMPORTING', srcId)).toBe('OK');
    expect(await src.cluster('SETSLOT', String(slot), 'MIGRATING', dstId)).toBe('OK');
    expect(await src.cluster('NODES')).toContain(`[${slot}->-${dstId}]`);
    expect(await src.get('{m}a')).toBe('1');
    await expect(src.get('{m}missing')).rejects.toThrow(`ASK ${slot} 127.0.0.1:${target.port}`);
    await new Promise((r) => setTimeout(r, 50));
    // An expired key is a missing key (Redis's "Key lazy expires during key migration").
    await expect(src.get('{m}e')).rejects.toThrow(`ASK ${slot} 127.0.0.1:${target.port}`);
    await expect(src.mget('{m}a', '{m}missing')).rejects.toThrow('TRYAGAIN Multiple keys request during rehashing of slot');
    await expect(dst.get('{m}missing')).rejects.toThrow(`MOVED ${slot} 127.0.0.1:${source.port}`);
    expect(await dst.asking()).toBe('OK');
    expect(await dst.set('{m}new', 'n')).toBe('OK');
    // ASKING lasts one command.
    await expect(dst.get('{m}new')).rejects.toThrow(`MOVED ${slot}`);
    expect(await src.migrate('127.0.0.1', String(target.port), '', '0', '5000', 'KEYS', '{m}a')).toBe('OK');
    await expect(src.get('{m}a')).rejects.toThrow(`ASK ${slot}`);
    await dst.asking();
    expect(await dst.mget('{m}a', '{m}new')).toEqual(['1', 'n']);
    await dst.asking();
    await expect(dst.mget('{m}a', '{m}b')).rejects.toThrow('TRYAGAIN');
    await expect(src.cluster('SETSLOT', String(slot), 'NODE', dstId)).rejects.toThrow(
      `ERR Can't assign hashslot ${slot} to a different node while I still hold keys for this hash slot.`,
    );
    expect(await src.migrate('127.0.0.1', String(target.port), '', '0', '5000', 'KEYS', '{m}b')).toBe('OK');
    expect(await src.cluster('COUNTKEYSINSLOT', String(slot))).toBe(0);
    for (const n of nodes) expect(await n.client().cluster('SETSLOT', String(slot), 'NODE', dstId)).toBe('OK');
    expect(await dst.get('{m}b')).toBe('2');
    await expect(src.get('{m}b')).rejects.toThrow(`MOVED ${slot} 127.0.0.1:${target.port}`);
    await until(
      async () =>
        (await redisCli(['--cluster', 'check', addr(nodes[0]!)])).output.includes('[OK] All nodes agree about slots configuration.'),
      'the nodes to agree on the moved slot',
    );
  }, 120_000);

  it('ioredis Cluster writes and reads 10k keys across slots', async () => {
    const cl = cluster(nodes);
    try {
      const n = 10_000;
      await Promise.all(Array.from({ length: n }, (_, i) => cl.set(`io:${i}`, `v${i}`)));
      const got = await Promise.all(Array.from({ length: n }, (_, i) => cl.get(`io:${i}`)));
      expect(got.every((v, i) => v === `v${i}`)).toBe(true);
      let total = 0;
      for (const node of nodes) total += await node.client().dbsize();
      expect(total).toBeGreaterThanOrEqual(n);
    } finally {
      cl.disconnect();
    }
  }, 120_000);

  it('node-redis createCluster writes and reads 10k keys across slots', async () => {
    const cl = createCluster({ rootNodes: nodes.map((n) => ({ url: `redis://127.0.0.1:${n.port}` })) });
    await cl.connect();
    try {
      const n = 10_000;
      await Promise.all(Array.from({ length: n }, (_, i) => cl.set(`nr:${i}`, `v${i}`)));
      const got = await Promise.all(Array.from({ length: n }, (_, i) => cl.get(`nr:${i}`)));
      expect(got.every((v, i) => v === `v${i}`)).toBe(true);
    } finally {
      await cl.quit();
    }
  }, 120_000);

  it('delivers PUBLISH to subscribers on every node', async () => {
    const sub = nodes[2]!.client();
    const messages: string[] = [];
    sub.on('message', (ch: string, m: string) => messages.push(`${ch}:${m}`));
    await sub.subscribe('news');
    await nodes[0]!.client().publish('news', 'hello');
    await until(() => messages.length > 0, 'the message to cross the bus');
    expect(messages).toEqual(['news:hello']);
  });

  it('redis-cli --cluster reshard moves 300 slots while a writer runs; every acknowledged write is readable', async () => {
    const cl = cluster(nodes);
    const acked = new Map<string, string>();
    let stop = false;
    let errors = 0;
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        const k = `w:${i % 5000}`;
        const v = String(i);
        try {
          await cl.set(k, v);
          acked.set(k, v);
        } catch {
          errors++;
        }
      }
    })();
    try {
      const from = (await nodes[0]!.client().cluster('MYID')) as string;
      const to = (await nodes[1]!.client().cluster('MYID')) as string;
      await until(() => acked.size > 500, 'the writer to get going');
      const r = await redisCli([
        '--cluster',
        'reshard',
        addr(nodes[0]!),
        '--cluster-from',
        from,
        '--cluster-to',
        to,
        '--cluster-slots',
        '300',
        '--cluster-yes',
      ]);
      expect(r.code).toBe(0);
      expect(r.output).not.toContain('[ERR]');
      stop = true;
      await writer;
      await until(
        async () =>
          (await redisCli(['--cluster', 'check', addr(nodes[1]!)])).output.includes('[OK] All nodes agree about slots configuration.'),
        'the nodes to agree',
      );
      const out = await check(nodes[2]!);
      expect(out).toContain('slots:[0-299],[5461-10922] (5762 slots) master');
      expect(errors).toBe(0);
      for (const [k, v] of acked) expect([k, await cl.get(k)]).toEqual([k, v]);
    } finally {
      stop = true;
      await writer;
      cl.disconnect();
    }
  }, 300_000);

  it('drops the keys of a slot another master takes with a newer epoch, and stays a master of the rest', async () => {
    const [x, y] = [nodes[0]!, nodes[1]!];
    const xc = x.client();
    // A hash tag whose slot x serves (a key of another node's slot gets MOVED).
    let tag = 0;
    while (
      !(await xc.set(`lost{${tag}}:0`, 'v').then(
        () => true,
        () => false,
      ))
    )
      tag++;
    for (let i = 1; i < 5; i++) await xc.set(`lost{${tag}}:${i}`, 'v');
    const slot = (await xc.cluster('KEYSLOT', `lost{${tag}}`)) as number;
    // Earlier tests left keys of their own there too: all of them go.
    const inSlot = (await xc.cluster('COUNTKEYSINSLOT', slot)) as number;
    expect(inSlot).toBeGreaterThanOrEqual(5);
    const before = await xc.dbsize();
    // y claims the slot and takes the newest config epoch: x learns it from y's pings and gives the slot up.
    const yc = y.client();
    expect(await yc.cluster('SETSLOT', slot, 'NODE', (await yc.cluster('MYID')) as string)).toBe('OK');
    await yc.cluster('BUMPEPOCH');
    await until(async () => (await xc.cluster('COUNTKEYSINSLOT', slot)) === 0, `node ${x.port} to drop slot ${slot}'s keys`);
    expect(await xc.dbsize()).toBe(before - inSlot);
    expect((await xc.info('replication')).includes('role:master')).toBe(true);
    await expect(xc.get(`lost{${tag}}:0`)).rejects.toThrow(`MOVED ${slot} 127.0.0.1:${y.port}`);
  }, 120_000);

  it('marks a killed master as failing (PFAIL, then FAIL by the majority)', async () => {
    const dead = nodes[2]!;
    const id = (await dead.client().cluster('MYID')) as string;
    await dead.stop();
    for (const n of nodes.slice(0, 2)) {
      await until(
        async () => ((await n.client().cluster('NODES')) as string).split('\n').some((l) => l.startsWith(id) && / master,fail /.test(l)),
        `node ${n.port} to mark ${id} as failed`,
      );
      await until(async () => ((await n.client().cluster('INFO')) as string).includes('cluster_state:fail'), 'the cluster to be down');
    }
    await expect(nodes[0]!.client().set('foo', 'x')).rejects.toThrow(/CLUSTERDOWN|MOVED/);
  }, 120_000);
});

describe.skipIf(!hasRedisTools)('a mixed cluster of 3 Sabre and 3 redis-server 7.0 masters', () => {
  let dir: string;
  let sabre: ClusterNodeProcess[] = [];
  let redis: ClusterNodeProcess[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sabre-mixed-'));
    sabre = await Promise.all([0, 1, 2].map(() => startClusterNode('sabre', dir)));
    redis = await Promise.all([0, 1, 2].map(() => startClusterNode('redis', dir)));
    await create([sabre[0]!, redis[0]!, sabre[1]!, redis[1]!, sabre[2]!, redis[2]!]);
  }, 180_000);

  afterAll(async () => {
    await Promise.all([...sabre, ...redis].map((n) => n.stop()));
    rmSync(dir, { recursive: true, force: true });
  });

  it('passes redis-cli --cluster check from a Sabre node and from a Redis node', async () => {
    await check(sabre[0]!);
    await check(redis[0]!);
  }, 120_000);

  it('moves slots with their keys from a Sabre node to a Redis node and back', async () => {
    const cl = cluster([...sabre, ...redis]);
    try {
      const n = 3000;
      await Promise.all(Array.from({ length: n }, (_, i) => cl.set(`mx:${i}`, `v${i}`)));
      const s = (await sabre[0]!.client().cluster('MYID')) as string;
      const r = (await redis[0]!.client().cluster('MYID')) as string;
      const sabreKeys = await sabre[0]!.client().dbsize();
      let out = await redisCli([
        '--cluster',
        'reshard',
        addr(sabre[0]!),
        '--cluster-from',
        s,
        '--cluster-to',
        r,
        '--cluster-slots',
        '200',
        '--cluster-yes',
      ]);
      expect(out.code).toBe(0);
      expect(await sabre[0]!.client().dbsize()).toBeLessThan(sabreKeys);
      await until(
        async () => (await redisCli(['--cluster', 'check', addr(redis[1]!)])).output.includes('[OK] All nodes agree'),
        'agreement after the move to Redis',
      );
      out = await redisCli([
        '--cluster',
        'reshard',
        addr(redis[0]!),
        '--cluster-from',
        r,
        '--cluster-to',
        s,
        '--cluster-slots',
        '300',
        '--cluster-yes',
      ]);
      expect(out.code).toBe(0);
      await until(
        async () => (await redisCli(['--cluster', 'check', addr(sabre[1]!)])).output.includes('[OK] All nodes agree'),
        'agreement after the move back',
      );
      await check(redis[2]!);
      await check(sabre[2]!);
      // A fresh client: an auto-pipelined batch sent on a stale slot map gets its MOVED replies back as errors.
      const reader = cluster([sabre[1]!, redis[1]!]);
      try {
        const got = await Promise.all(Array.from({ length: n }, (_, i) => reader.get(`mx:${i}`)));
        expect(got.every((v, i) => v === `v${i}`)).toBe(true);
      } finally {
        reader.disconnect();
      }
    } finally {
      cl.disconnect();
    }
  }, 300_000);
});
