/** Replica elections, masters' votes, manual failover and demotion by a newer epoch (src/cluster/failover.ts), on an injected clock, without sockets. */
import { describe, expect, it } from 'vitest';
import { type BusLink, ClusterBus } from '../../src/cluster/bus.js';
import {
  type BusMessage,
  MFLAG_FORCEACK,
  MFLAG_PAUSED,
  MSG_FAILOVER_AUTH_ACK,
  MSG_FAILOVER_AUTH_REQUEST,
  MSG_MFSTART,
  MSG_PING,
  MSG_PONG,
  type SenderInfo,
  decodeMessage,
  encodeHeaderOnly,
  encodePing,
} from '../../src/cluster/bus-codec.js';
import { Failover, type ReplicationControl } from '../../src/cluster/failover.js';
import { ClusterNode, ClusterState, NODE_FAIL, NODE_MASTER, NODE_MIGRATE_TO, NODE_SLAVE } from '../../src/cluster/node-table.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const R = 'e'.repeat(40);
const R2 = 'f'.repeat(40);
const TIMEOUT = 1000;

/** A node of the table with an address and, for a master, a run of slots. */
function node(st: ClusterState, name: string, port: number, slots: [number, number] | null, replicaOf: string | null = null): ClusterNode {
  const n = new ClusterNode(name, replicaOf === null ? NODE_MASTER : NODE_SLAVE);
  n.ip = '127.0.0.1';
  n.port = port;
  n.cport = port + 10000;
  n.replicaOf = replicaOf;
  st.nodes.set(name, n);
  if (slots !== null) for (let i = slots[0]; i <= slots[1]; i++) st.addSlot(n, i);
  return n;
}

/** What the fake replication was asked to do. */
interface ReplCalls {
  setMaster: string[];
  unsetMaster: number;
  pauses: number[];
  /** Slots whose keys the bus asked to delete, per call. */
  lostSlots: number[][];
}

/** A node's failover on a fake bus: every link records what it sends; the clock is `t.now`. */
function setup(st: ClusterState) {
  const t = { now: 1_000_000, dataAge: 0 };
  const sent = new Map<string, BusMessage[]>();
  const calls: ReplCalls = { setMaster: [], unsetMaster: 0, pauses: [], lostSlots: [] };
  let active = st.myself.replicaOf !== null;
  const bus = new ClusterBus(
    st,
    {
      nodeTimeout: () => TIMEOUT,
      port: () => 7000,
      busPort: () => 17000,
      announcedBusPort: () => 17000,
      announceIp: () => '',
      hostname: () => '',
      requireFullCoverage: () => true,
      allowReplicaMigration: () => true,
    },
    { save: () => {}, publish: () => {}, log: () => {}, lostSlots: (slots) => calls.lostSlots.push(slots) },
  );
  const repl: ReplicationControl = {
    setMaster: (host, port) => {
      calls.setMaster.push(`${host}:${port}`);
      active = true;
    },
    unsetMaster: () => {
      calls.unsetMaster++;
      active = false;
    },
    active: () => active,
    dataAge: () => t.dataAge,
    pauseWrites: async (until) => {
      calls.pauses.push(until);
    },
  };
  const failover = new Failover(
    st,
    bus,
    {
      nodeTimeout: () => TIMEOUT,
      validityFactor: () => 10,
      replPingPeriodMs: () => 10_000,
      noFailover: () => false,
      allowReplicaMigration: () => true,
      migrationBarrier: () => 1,
      requireFullCoverage: () => true,
    },
    repl,
    { save: () => {}, log: () => {} },
    () => t.now,
    () => 0,
  );
  bus.failover = failover;
  const linkTo = (n: ClusterNode): BusLink => {
    const out: BusMessage[] = [];
    sent.set(n.name, out);
    const link = {
      node: n,
      peer: null,
      connected: true,
      socket: { remoteAddress: '127.0.0.1', localAddress: '127.0.0.1', destroyed: false },
      send: (b: Buffer) => out.push(decodeMessage(b)!),
      close: () => {},
      pending: () => 0,
    } as unknown as BusLink;
    bus.links.set(n, link);
    return link;
  };
  for (const n of st.nodes.values()) if (n !== st.myself) linkTo(n);
  const of = (name: string, type: number): BusMessage[] => (sent.get(name) ?? []).filter((m) => m.type === type);
  return { t, bus, failover, calls, of };
}

/** The header `n` sends as `type` (a replica names its master and carries the master's slots and epoch). */
function header(st: ClusterState, n: ClusterNode, over: Partial<SenderInfo> = {}): SenderInfo {
  const master = n.replicaOf === null ? n : st.nodes.get(n.replicaOf)!;
  return {
    port: n.port,
    pport: 0,
    cport: n.cport,
    currentEpoch: st.currentEpoch,
    configEpoch: master.configEpoch,
    offset: n.offset,
    name: n.name,
    slots: master.slots,
    replicaOf: n.replicaOf,
    myip: '',
    flags: n.flags,
    state: 0,
    mflags: 0,
    ...over,
  };
}

function msg(type: number, s: SenderInfo): BusMessage {
  return decodeMessage(type === MSG_PING || type === MSG_PONG ? encodePing(type, s, [], '') : encodeHeaderOnly(type, s))!;
}

describe('a master’s vote', () => {
  /** Myself A (slots 0-99) votes; B (100-199) has replica R; C serves the rest. */
  function cluster() {
    const st = new ClusterState(A);
    st.myself.ip = '127.0.0.1';
    st.myself.configEpoch = 1;
    for (let i = 0; i <= 99; i++) st.addSlot(st.myself, i);
    const b = node(st, B, 7001, [100, 199]);
    b.configEpoch = 2;
    node(st, C, 7002, [200, 16383]).configEpoch = 3;
    const r = node(st, R, 7003, null, B);
    st.currentEpoch = 3;
    return { st, b, r, ...setup(st) };
  }

  it('is given once per epoch, to a replica of a failed master, and not again for that master within 2 × node timeout', () => {
    const { st, b, r, bus, t, of } = cluster();
    const link = bus.links.get(r)!;
    const ask = (epoch: number, over: Partial<SenderInfo> = {}): void =>
      bus.process(link, msg(MSG_FAILOVER_AUTH_REQUEST, header(st, r, { currentEpoch: epoch, ...over })));
    ask(4);
    expect(of(R, MSG_FAILOVER_AUTH_ACK)).toHaveLength(0);
    b.flags |= NODE_FAIL;
    ask(4);
    expect(of(R, MSG_FAILOVER_AUTH_ACK)).toHaveLength(1);
    expect(st.lastVoteEpoch).toBe(4);
    ask(4);
    expect(of(R, MSG_FAILOVER_AUTH_ACK)).toHaveLength(1);
    t.now += TIMEOUT;
    ask(5);
    expect(of(R, MSG_FAILOVER_AUTH_ACK)).toHaveLength(1);
    t.now += TIMEOUT + 1;
    ask(6);
    expect(of(R, MSG_FAILOVER_AUTH_ACK)).toHaveLength(2);
    expect(of(R, MSG_FAILOVER_AUTH_ACK)[1]!.currentEpoch).toBe(6);
  });

  it('is refused for a stale epoch, for slots served with a newer configuration, and to a master; FORCEACK votes for a live master', () => {
    const { st, b, r, bus, of } = cluster();
    const link = bus.links.get(r)!;
    b.flags |= NODE_FAIL;
    bus.process(link, msg(MSG_FAILOVER_AUTH_REQUEST, header(st, r, { currentEpoch: 2 })));
    // R claims B's slots at epoch 2, but C's newer epoch (3) owns slot 300.
    const claim = new Uint8Array(2048);
    claim.set(b.slots);
    claim[300 >> 3] = claim[300 >> 3]! | (1 << (300 & 7));
    bus.process(link, msg(MSG_FAILOVER_AUTH_REQUEST, header(st, r, { currentEpoch: 4, slots: claim })));
    bus.process(link, msg(MSG_FAILOVER_AUTH_REQUEST, header(st, b, { currentEpoch: 5 })));
    expect(of(R, MSG_FAILOVER_AUTH_ACK)).toHaveLength(0);
    expect(of(B, MSG_FAILOVER_AUTH_ACK)).toHaveLength(0);
    b.flags &= ~NODE_FAIL;
    bus.process(link, msg(MSG_FAILOVER_AUTH_REQUEST, header(st, r, { currentEpoch: 6, mflags: MFLAG_FORCEACK })));
    expect(of(R, MSG_FAILOVER_AUTH_ACK)).toHaveLength(1);
  });
});

describe('a replica’s election', () => {
  /** Myself R replicates B (100-199); masters A (0-99) and C (200-16383) vote; R2 is B's other replica. */
  function cluster() {
    const st = new ClusterState(R);
    st.myself.ip = '127.0.0.1';
    st.myself.port = 7003;
    st.myself.flags = (st.myself.flags & ~NODE_MASTER) | NODE_SLAVE;
    st.myself.replicaOf = B;
    const a = node(st, A, 7000, [0, 99]);
    a.configEpoch = 1;
    const b = node(st, B, 7001, [100, 199]);
    b.configEpoch = 2;
    const c = node(st, C, 7002, [200, 16383]);
    c.configEpoch = 3;
    const r2 = node(st, R2, 7004, null, B);
    st.currentEpoch = 3;
    let offset = 100;
    st.myOffset = () => offset;
    return { st, a, b, c, r2, setOffset: (o: number) => (offset = o), ...setup(st) };
  }

  it('waits 500 ms + rank seconds after the FAIL, asks every node for votes, and takes the slots with a majority', () => {
    const { st, a, b, c, r2, t, failover, bus, calls, of } = cluster();
    failover.cron();
    expect(of(A, MSG_FAILOVER_AUTH_REQUEST)).toHaveLength(0);
    b.flags |= NODE_FAIL;
    // R2 is ahead: rank 1, one more second.
    r2.offset = 200;
    failover.cron();
    t.now += 1499;
    failover.cron();
    expect(of(A, MSG_FAILOVER_AUTH_REQUEST)).toHaveLength(0);
    t.now += 1;
    failover.cron();
    const req = of(A, MSG_FAILOVER_AUTH_REQUEST);
    expect(req).toHaveLength(1);
    expect(of(C, MSG_FAILOVER_AUTH_REQUEST)).toHaveLength(1);
    expect([req[0]!.currentEpoch, req[0]!.configEpoch, req[0]!.replicaOf, st.currentEpoch]).toEqual([4, 2, B, 4]);
    expect(req[0]!.mflags & MFLAG_FORCEACK).toBe(0);
    bus.process(bus.links.get(a)!, msg(MSG_FAILOVER_AUTH_ACK, header(st, a, { currentEpoch: 4 })));
    failover.cron();
    expect(st.myself.isMaster()).toBe(false);
    // A vote from a replica does not count.
    bus.process(bus.links.get(r2)!, msg(MSG_FAILOVER_AUTH_ACK, header(st, r2, { currentEpoch: 4 })));
    expect(st.myself.isMaster()).toBe(false);
    bus.process(bus.links.get(c)!, msg(MSG_FAILOVER_AUTH_ACK, header(st, c, { currentEpoch: 4 })));
    expect(st.myself.isMaster()).toBe(true);
    expect([st.myself.replicaOf, st.myself.configEpoch, st.myself.numSlots, b.numSlots, calls.unsetMaster]).toEqual([null, 4, 100, 0, 1]);
    expect(st.owner[150]).toBe(st.myself);
    const pong = of(A, MSG_PONG).at(-1)!;
    expect([pong.replicaOf, pong.configEpoch, pong.slots[150 >> 3]! & (1 << (150 & 7))]).toEqual([null, 4, 1 << (150 & 7)]);
  });

  it('does not start while its data is older than the validity factor allows', () => {
    const st = new ClusterState(R);
    st.myself.flags = NODE_SLAVE;
    st.myself.replicaOf = B;
    node(st, A, 7000, [0, 99]);
    const b = node(st, B, 7001, [100, 16383]);
    b.flags |= NODE_FAIL;
    const { failover, t, of } = setup(st);
    // Allowed: node timeout (the baseline) + ping period + node timeout × factor.
    t.dataAge = TIMEOUT + 10_000 + TIMEOUT * 10 + 1;
    failover.cron();
    t.now += 1000;
    failover.cron();
    expect(of(A, MSG_FAILOVER_AUTH_REQUEST)).toHaveLength(0);
    t.dataAge -= 1;
    failover.cron();
    t.now += 1000;
    failover.cron();
    expect(of(A, MSG_FAILOVER_AUTH_REQUEST)).toHaveLength(1);
  });

  it('CLUSTER FAILOVER: MFSTART, then the election as soon as the paused master’s offset is reached, with FORCEACK', () => {
    const { st, a, b, bus, failover, setOffset, of } = cluster();
    expect(failover.manual('default')).toBeNull();
    expect(of(B, MSG_MFSTART)).toHaveLength(1);
    const link = bus.links.get(b)!;
    setOffset(90);
    bus.process(link, msg(MSG_PING, header(st, b, { offset: 100, mflags: MFLAG_PAUSED })));
    failover.cron();
    expect(of(A, MSG_FAILOVER_AUTH_REQUEST)).toHaveLength(0);
    setOffset(100);
    failover.cron();
    const req = of(A, MSG_FAILOVER_AUTH_REQUEST);
    expect(req).toHaveLength(1);
    expect(req[0]!.mflags & MFLAG_FORCEACK).toBe(MFLAG_FORCEACK);
    expect(a.isMaster()).toBe(true);
  });

  it('refuses CLUSTER FAILOVER on a master and without FORCE when the master is failed; TAKEOVER promotes at once', () => {
    const { st, b, failover, calls } = cluster();
    b.flags |= NODE_FAIL;
    expect(failover.manual('default')).toBe('ERR Master is down or failed, please use CLUSTER FAILOVER FORCE');
    expect(failover.manual('takeover')).toBeNull();
    expect([st.myself.isMaster(), st.myself.configEpoch, st.currentEpoch, calls.unsetMaster]).toEqual([true, 4, 4, 1]);
    expect(failover.manual('force')).toBe('ERR You should send CLUSTER FAILOVER to a replica');
  });
});

describe('a master failed over', () => {
  it('pauses writes for MFSTART and says PAUSED once they drained', async () => {
    const st = new ClusterState(B);
    for (let i = 0; i < 16384; i++) st.addSlot(st.myself, i);
    const r = node(st, R, 7003, null, B);
    const { bus, failover, calls, of } = setup(st);
    bus.process(bus.links.get(r)!, msg(MSG_MFSTART, header(st, r)));
    expect(calls.pauses).toHaveLength(1);
    await Promise.resolve();
    expect(failover.headerFlags()).toBe(MFLAG_PAUSED);
    expect(of(R, MSG_PING).at(-1)!.mflags & MFLAG_PAUSED).toBe(MFLAG_PAUSED);
    failover.reset();
    expect([calls.pauses.at(-1), failover.headerFlags()]).toEqual([0, 0]);
  });

  it('becomes a replica of the node that claims all its slots with a newer epoch', () => {
    const st = new ClusterState(B);
    st.myself.configEpoch = 2;
    for (let i = 0; i < 100; i++) st.addSlot(st.myself, i);
    node(st, A, 7000, [100, 16383]).configEpoch = 1;
    const r = node(st, R, 7003, null, B);
    const { bus, calls } = setup(st);
    const claim = new Uint8Array(2048);
    claim.set(st.myself.slots);
    bus.process(bus.links.get(r)!, msg(MSG_PONG, header(st, r, { replicaOf: null, flags: NODE_MASTER, configEpoch: 5, slots: claim })));
    expect([st.myself.isMaster(), st.myself.replicaOf, st.myself.numSlots, calls.setMaster]).toEqual([false, R, 0, ['127.0.0.1:7003']]);
    // Demoted: its data goes with the full sync from the new master, not slot by slot.
    expect(calls.lostSlots).toEqual([]);
  });

  it('stays a master and drops the keys of the slots a newer epoch took when it keeps others (Redis delKeysInSlot)', () => {
    const st = new ClusterState(B);
    st.myself.configEpoch = 2;
    for (let i = 0; i < 100; i++) st.addSlot(st.myself, i);
    const a = node(st, A, 7000, [100, 16383]);
    a.configEpoch = 1;
    const { bus, calls } = setup(st);
    const claim = new Uint8Array(2048);
    claim.set(a.slots);
    for (let i = 10; i < 20; i++) claim[i >> 3] = claim[i >> 3]! | (1 << (i & 7));
    bus.process(bus.links.get(a)!, msg(MSG_PONG, header(st, a, { configEpoch: 5, slots: claim })));
    expect([st.myself.isMaster(), st.myself.numSlots, st.owner[10], st.owner[9]]).toEqual([true, 90, a, st.myself]);
    expect(calls.lostSlots).toEqual([Array.from({ length: 10 }, (_, i) => 10 + i)]);
    expect(calls.setMaster).toEqual([]);
  });
});

describe('replica migration', () => {
  it('moves the smallest-named replica of the best-served master to an orphaned master after 5 s', () => {
    const st = new ClusterState(R);
    st.myself.flags = NODE_SLAVE;
    st.myself.replicaOf = A;
    node(st, A, 7000, [0, 5000]);
    node(st, B, 7001, [5001, 10000]);
    const c = node(st, C, 7002, [10001, 16383]);
    node(st, R2, 7004, null, A);
    // C had a replica, now failed: C is orphaned.
    const dead = node(st, 'd'.repeat(40), 7005, null, C);
    c.flags |= NODE_MIGRATE_TO;
    const { t, failover, calls } = setup(st);
    st.updateState(true);
    failover.cron();
    expect(calls.setMaster).toEqual([]);
    dead.flags |= NODE_FAIL;
    failover.cron();
    t.now += 5000;
    failover.cron();
    expect(calls.setMaster).toEqual([]);
    t.now += 1;
    failover.cron();
    expect([calls.setMaster, st.myself.replicaOf]).toEqual([['127.0.0.1:7002'], C]);
  });

  it('keeps a replica whose master would fall to the migration barrier, or that is not the smallest name', () => {
    const st = new ClusterState(R2);
    st.myself.flags = NODE_SLAVE;
    st.myself.replicaOf = A;
    node(st, A, 7000, [0, 5000]);
    node(st, B, 7001, [5001, 10000]);
    node(st, C, 7002, [10001, 16383]).flags |= NODE_MIGRATE_TO;
    const other = node(st, R, 7003, null, A);
    const { t, failover, calls } = setup(st);
    st.updateState(true);
    failover.cron();
    t.now += 6000;
    failover.cron();
    expect(calls.setMaster).toEqual([]);
    other.flags |= NODE_FAIL;
    failover.cron();
    t.now += 6000;
    failover.cron();
    expect(calls.setMaster).toEqual([]);
  });
});
