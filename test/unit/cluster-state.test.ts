/** The cluster node table, nodes.conf and the bus's state machine (gossip, failure detection, epochs), without sockets. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type BusLink, ClusterBus } from '../../src/cluster/bus.js';
import {
  type BusMessage,
  MSG_FAIL,
  MSG_PING,
  MSG_PONG,
  MSG_PUBLISH,
  MSG_UPDATE,
  decodeMessage,
  encodeFail,
  encodePing,
  encodePublish,
  type Gossip,
  type SenderInfo,
} from '../../src/cluster/bus-codec.js';
import { nodeLine, nodesText } from '../../src/cluster/node-description.js';
import {
  ClusterNode,
  ClusterState,
  NODE_FAIL,
  NODE_HANDSHAKE,
  NODE_MASTER,
  NODE_PFAIL,
  SLOT_IMPORTING,
  SLOT_MIGRATING,
  SLOT_MINE,
} from '../../src/cluster/node-table.js';
import { formatNodesConf, loadNodesConf, saveNodesConf } from '../../src/cluster/nodes-conf.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const C = 'c'.repeat(40);
const D = 'd'.repeat(40);

function master(st: ClusterState, name: string, port: number): ClusterNode {
  const n = new ClusterNode(name, NODE_MASTER);
  n.ip = '127.0.0.1';
  n.port = port;
  n.cport = port + 10000;
  st.nodes.set(name, n);
  return n;
}

/** A link that records what the bus sends on it. */
function fakeLink(node: ClusterNode | null, sent: BusMessage[]): BusLink {
  return {
    node,
    peer: null,
    connected: true,
    socket: { remoteAddress: '127.0.0.1', localAddress: '127.0.0.1', destroyed: false },
    send: (b: Buffer) => sent.push(decodeMessage(b)!),
    close: () => {},
    pending: () => 0,
  } as unknown as BusLink;
}

function busFor(st: ClusterState, published: string[] = []): ClusterBus {
  return new ClusterBus(
    st,
    {
      nodeTimeout: () => 5000,
      port: () => 7000,
      busPort: () => 17000,
      announcedBusPort: () => 17000,
      announceIp: () => '',
      hostname: () => '',
      requireFullCoverage: () => true,
      allowReplicaMigration: () => true,
    },
    { save: () => {}, publish: (c, m) => published.push(`${c}:${m}`), log: () => {}, lostSlots: () => {} },
  );
}

function from(name: string, epoch: number, slots: number[], over: Partial<SenderInfo> = {}): SenderInfo {
  const bitmap = new Uint8Array(2048);
  for (const s of slots) bitmap[s >> 3] = bitmap[s >> 3]! | (1 << (s & 7));
  return {
    port: 7001,
    pport: 0,
    cport: 17001,
    currentEpoch: epoch,
    configEpoch: epoch,
    offset: 0,
    name,
    slots: bitmap,
    replicaOf: null,
    myip: '',
    flags: NODE_MASTER,
    state: 0,
    mflags: 0,
    ...over,
  };
}

function ping(s: SenderInfo, gossip: Gossip[] = [], type = MSG_PING): BusMessage {
  return decodeMessage(encodePing(type, s, gossip, ''))!;
}

describe('cluster node table', () => {
  it('tracks slot owners and the per-slot mode the router reads', () => {
    const st = new ClusterState(A);
    const b = master(st, B, 7001);
    st.addSlot(st.myself, 1);
    st.addSlot(b, 2);
    expect([st.slotMode[1], st.slotMode[2], st.myself.numSlots, b.numSlots]).toEqual([SLOT_MINE, 0, 1, 1]);
    st.migratingTo[1] = b;
    st.refreshSlot(1);
    st.importingFrom[2] = b;
    st.refreshSlot(2);
    expect([st.slotMode[1], st.slotMode[2]]).toEqual([SLOT_MINE | SLOT_MIGRATING, SLOT_IMPORTING]);
    st.updateState(true);
    expect(st.ok).toBe(false);
    for (let i = 0; i < 16384; i++) if (st.owner[i] === null) st.addSlot(st.myself, i);
    st.updateState(true);
    expect(st.ok).toBe(true);
    b.flags |= NODE_FAIL;
    st.updateState(true);
    expect(st.ok).toBe(false);
  });

  it('writes CLUSTER NODES lines and nodes.conf as Redis does, and reads them back', () => {
    const dir = mkdtempSync(join(tmpdir(), 'sabre-nodes-'));
    try {
      const st = new ClusterState(A);
      st.myself.ip = '127.0.0.1';
      st.myself.port = 7000;
      st.myself.cport = 17000;
      st.myself.hostname = 'host-a';
      st.myself.configEpoch = 3;
      st.currentEpoch = 5;
      const b = master(st, B, 7001);
      b.configEpoch = 2;
      for (let i = 0; i <= 10; i++) st.addSlot(st.myself, i);
      st.addSlot(st.myself, 20);
      st.addSlot(b, 11);
      st.migratingTo[5] = b;
      st.importingFrom[11] = b;
      expect(nodeLine(st, st.myself)).toBe(
        `${A} 127.0.0.1:7000@17000,host-a myself,master - 0 0 3 connected 0-10 20 [5->-${B}] [11-<-${B}]`,
      );
      const file = join(dir, 'nodes.conf');
      saveNodesConf(file, st);
      expect(readFileSync(file, 'latin1')).toBe(formatNodesConf(st));
      expect(formatNodesConf(st).endsWith('vars currentEpoch 5 lastVoteEpoch 0\n')).toBe(true);
      const back = new ClusterState();
      expect(loadNodesConf(file, back)).toBe(true);
      expect(back.myself.name).toBe(A);
      expect(back.currentEpoch).toBe(5);
      expect(nodesText(back)).toBe(nodesText(st));
      expect(back.slotMode[5]).toBe(SLOT_MINE | SLOT_MIGRATING);
      expect(back.slotMode[11]).toBe(SLOT_IMPORTING);
      expect(loadNodesConf(join(dir, 'missing.conf'), new ClusterState())).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('cluster bus state machine', () => {
  it('a claim with a newer config epoch takes the slot; an older one gets an UPDATE', () => {
    const st = new ClusterState(A);
    st.myself.configEpoch = 1;
    const b = master(st, B, 7001);
    const c = master(st, C, 7002);
    c.configEpoch = 5;
    st.addSlot(st.myself, 7);
    st.addSlot(c, 9);
    const bus = busFor(st);
    const toB: BusMessage[] = [];
    bus.links.set(b, fakeLink(b, toB));
    bus.process(fakeLink(null, []), ping(from(B, 2, [7])));
    expect(st.owner[7]).toBe(b);
    expect(b.configEpoch).toBe(2);
    expect(st.slotMode[7]).toBe(0);
    bus.process(fakeLink(null, []), ping(from(B, 2, [7, 9])));
    expect(st.owner[9]).toBe(c);
    const update = toB.find((m) => m.type === MSG_UPDATE)!;
    expect([update.about, update.aboutEpoch]).toEqual([C, 5]);
  });

  it('slots this node imports are not taken by gossip', () => {
    const st = new ClusterState(A);
    const b = master(st, B, 7001);
    st.importingFrom[3] = b;
    busFor(st).process(fakeLink(null, []), ping(from(B, 4, [3])));
    expect(st.owner[3]).toBeNull();
  });

  it('on a config epoch collision the node with the smaller name takes a new epoch', () => {
    const st = new ClusterState(A);
    st.myself.configEpoch = 3;
    st.currentEpoch = 3;
    master(st, B, 7001);
    busFor(st).process(fakeLink(null, []), ping(from(B, 3, [])));
    expect([st.myself.configEpoch, st.currentEpoch]).toEqual([4, 4]);
    const st2 = new ClusterState(C);
    st2.myself.configEpoch = 3;
    st2.currentEpoch = 3;
    master(st2, B, 7001);
    busFor(st2).process(fakeLink(null, []), ping(from(B, 3, [])));
    expect(st2.myself.configEpoch).toBe(3);
  });

  it('PFAIL becomes FAIL once a majority of masters report it, and FAIL is broadcast', () => {
    const st = new ClusterState(A);
    const b = master(st, B, 7001);
    const c = master(st, C, 7002);
    const d = master(st, D, 7003);
    st.addSlot(st.myself, 0);
    st.addSlot(b, 1);
    st.addSlot(c, 2);
    st.addSlot(d, 3);
    d.flags |= NODE_PFAIL;
    const bus = busFor(st);
    const toC: BusMessage[] = [];
    bus.links.set(c, fakeLink(c, toC));
    const aboutD: Gossip = {
      name: D,
      pingSent: 0,
      pongReceived: 0,
      ip: '127.0.0.1',
      port: 7003,
      cport: 17003,
      flags: NODE_MASTER | NODE_PFAIL,
      pport: 0,
    };
    // Quorum of 4 slot-serving masters is 3: this node plus B is not enough.
    bus.process(fakeLink(null, []), ping(from(B, 0, [1]), [aboutD]));
    expect(d.flags & NODE_FAIL).toBe(0);
    bus.process(fakeLink(null, []), ping(from(C, 0, [2], { port: 7002, cport: 17002 }), [aboutD]));
    expect(d.flags & (NODE_FAIL | NODE_PFAIL)).toBe(NODE_FAIL);
    expect(toC.some((m) => m.type === MSG_FAIL && m.about === D)).toBe(true);
  });

  it('learns nodes from gossip, FAIL from other nodes, and delivers PUBLISH', () => {
    const st = new ClusterState(A);
    const b = master(st, B, 7001);
    const published: string[] = [];
    const bus = busFor(st, published);
    const aboutC: Gossip = {
      name: C,
      pingSent: 0,
      pongReceived: 0,
      ip: '127.0.0.2',
      port: 7002,
      cport: 17002,
      flags: NODE_MASTER,
      pport: 0,
    };
    bus.process(fakeLink(null, []), ping(from(B, 0, []), [aboutC]));
    const c = st.nodes.get(C)!;
    expect([c.ip, c.port, c.cport, c.isMaster()]).toEqual(['127.0.0.2', 7002, 17002, true]);
    bus.process(fakeLink(null, []), decodeMessage(encodeFail(from(B, 0, []), C))!);
    expect(c.flags & NODE_FAIL).toBe(NODE_FAIL);
    bus.process(fakeLink(null, []), decodeMessage(encodePublish(MSG_PUBLISH, from(B, 0, []), Buffer.from('ch'), Buffer.from('hi')))!);
    expect(published).toEqual(['ch:hi']);
    expect(b.dataReceived).toBeGreaterThan(0);
  });

  it('a PONG on a handshake link renames the node to its real name; a PING is answered with a PONG', () => {
    const st = new ClusterState(A);
    const bus = busFor(st);
    expect(bus.meet('127.0.0.1', 7001, 17001)).toBe(true);
    expect(bus.meet('127.0.0.1', 7001, 17001)).toBe(false);
    const hs = [...st.nodes.values()].find((n) => (n.flags & NODE_HANDSHAKE) !== 0)!;
    bus.process(fakeLink(hs, []), ping(from(B, 0, []), [], MSG_PONG));
    expect(st.nodes.get(B)).toBe(hs);
    expect(hs.flags & NODE_HANDSHAKE).toBe(0);
    const answers: BusMessage[] = [];
    bus.process(fakeLink(null, answers), ping(from(B, 0, [])));
    expect(answers.map((m) => [m.type, m.sender])).toEqual([[MSG_PONG, A]]);
  });
});
