/**
 * The cluster bus (Redis's cluster.c networking and gossip): a listener on the bus port,
 * one outbound link per known node, PING/PONG/MEET with gossip sections, failure detection
 * (PFAIL on a ping timeout, FAIL once a majority of masters report it), FAIL, UPDATE and
 * PUBLISH messages, config-epoch propagation and collision handling, roles (a node's master
 * from the header's slaveof). Elections and manual failover (FAILOVER_AUTH_*, MFSTART) are
 * failover.ts's; the bus hands those messages over.
 */
import net from 'node:net';
import { Buffer } from 'node:buffer';
import {
  type BusMessage,
  type Gossip,
  type SenderInfo,
  MSG_FAIL,
  MSG_FAILOVER_AUTH_ACK,
  MSG_FAILOVER_AUTH_REQUEST,
  MSG_MEET,
  MSG_MFSTART,
  MSG_PING,
  MSG_PONG,
  MSG_PUBLISH,
  MSG_PUBLISHSHARD,
  MSG_UPDATE,
  decodeMessage,
  encodeFail,
  encodeHeaderOnly,
  encodePing,
  encodePublish,
  encodeUpdate,
  frameLength,
} from './bus-codec.js';
import {
  CLUSTER_SLOTS,
  ClusterNode,
  type ClusterState,
  NODE_FAIL,
  NODE_HANDSHAKE,
  NODE_MASTER,
  NODE_MEET,
  NODE_MIGRATE_TO,
  NODE_MYSELF,
  NODE_NOADDR,
  NODE_NOFAILOVER,
  NODE_PFAIL,
  NODE_SLAVE,
  randomNodeName,
} from './node-table.js';
import type { Failover } from './failover.js';

/** Settings the bus reads (live: CONFIG SET applies at the next cron). */
export interface BusSettings {
  nodeTimeout(): number;
  /** The client port announced. */
  port(): number;
  /** The bus port listened on. */
  busPort(): number;
  /** The bus port announced. */
  announcedBusPort(): number;
  announceIp(): string;
  hostname(): string;
  requireFullCoverage(): boolean;
  /** cluster-allow-replica-migration: a replica follows its master's slots to their new owner. */
  allowReplicaMigration(): boolean;
}

/** What the bus reports to the server. */
export interface BusEvents {
  /** nodes.conf must be written. */
  save(): void;
  /** A PUBLISH (or PUBLISHSHARD) arrived from another node. */
  publish(channel: Buffer, message: Buffer, shard: boolean): void;
  log(level: 'notice' | 'warning', text: string): void;
  /** A newer configuration took these slots from this master, which keeps serving others: their keys must go. */
  lostSlots(slots: number[]): void;
}

/** Redis's CLUSTER_FAIL_REPORT_VALIDITY_MULT and CLUSTER_FAIL_UNDO_TIME_MULT. */
const FAIL_REPORT_VALIDITY_MULT = 2;
const FAIL_UNDO_TIME_MULT = 2;
/** FORGET keeps a node out of gossip this long (Redis's CLUSTER_BLACKLIST_TTL, s). */
export const BLACKLIST_TTL_MS = 60_000;
const CRON_MS = 100;
/** Redis's CLUSTER_WRITABLE_DELAY: a master that starts with the cluster down waits this long before serving. */
const WRITABLE_DELAY_MS = 2000;

/** One TCP connection of the bus: outbound (`node` set) or inbound. */
export class BusLink {
  node: ClusterNode | null;
  readonly ctime = Date.now();
  private input: Buffer = Buffer.alloc(0);
  connected = false;
  sentBytes = 0;
  /** An inbound link's node, once a message told who is at the other end. */
  peer: ClusterNode | null = null;
  constructor(
    readonly socket: net.Socket,
    node: ClusterNode | null,
    readonly bus: ClusterBus,
  ) {
    this.node = node;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.read(d));
    socket.on('error', () => {});
    socket.on('close', () => bus.linkClosed(this));
  }

  private read(d: Buffer): void {
    this.input = this.input.length === 0 ? d : Buffer.concat([this.input, d]);
    while (!this.socket.destroyed) {
      const total = frameLength(this.input, this.input.length);
      if (total === 0) return this.close();
      if (total < 0 || this.input.length < total) return;
      const msg = decodeMessage(this.input.subarray(0, total));
      this.input = this.input.subarray(total);
      if (msg !== null) this.bus.process(this, msg);
    }
  }

  send(b: Buffer): void {
    if (this.socket.destroyed) return;
    this.sentBytes += b.length;
    this.socket.write(b);
  }

  close(): void {
    this.socket.destroy();
  }

  /** Bytes queued in the socket (CLUSTER LINKS send-buffer-allocated). */
  pending(): number {
    return this.socket.writableLength;
  }
}

function plainIp(a: string | undefined): string {
  if (a === undefined) return '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

/** The bus of one node. */
export class ClusterBus {
  private server: net.Server | null = null;
  /** Outbound link per node. */
  readonly links = new Map<ClusterNode, BusLink>();
  readonly inbound = new Set<BusLink>();
  private timer: NodeJS.Timeout | null = null;
  private iteration = 0;
  /** Replicas and elections; set once by the server right after the bus is made. */
  failover: Failover | null = null;

  constructor(
    readonly st: ClusterState,
    private readonly settings: BusSettings,
    private readonly events: BusEvents,
  ) {}

  /** Listens on the bus port and starts the cron. */
  async start(host: string): Promise<void> {
    const srv = net.createServer((s) => {
      const link = new BusLink(s, null, this);
      link.connected = true;
      this.inbound.add(link);
    });
    await new Promise<void>((resolve, reject) => {
      srv.once('error', reject);
      srv.listen(this.settings.busPort(), host, () => {
        srv.off('error', reject);
        resolve();
      });
    });
    this.server = srv;
    this.st.rejoinUntil = Date.now() + WRITABLE_DELAY_MS;
    this.timer = setInterval(() => this.cron(), CRON_MS);
    this.timer.unref();
  }

  /** Stops listening and drops every link. */
  async close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    for (const l of this.links.values()) l.close();
    for (const l of this.inbound) l.close();
    this.links.clear();
    this.inbound.clear();
    const srv = this.server;
    this.server = null;
    if (srv !== null) await new Promise<void>((r) => srv.close(() => r()));
  }

  /** A link went away: its node gets a new one at the next cron. */
  linkClosed(link: BusLink): void {
    this.inbound.delete(link);
    const n = link.node;
    if (n !== null && this.links.get(n) === link) {
      this.links.delete(n);
      n.linkConnected = false;
    }
  }

  /** Drops the outbound link of `n` (reconnected at the next cron). */
  dropLink(n: ClusterNode): void {
    const l = this.links.get(n);
    if (l === undefined) return;
    this.links.delete(n);
    n.linkConnected = false;
    l.node = null;
    l.close();
  }

  /** CLUSTER MEET: starts a handshake with ip:port (false if one is already in progress or the address is invalid). */
  meet(ip: string, port: number, cport: number): boolean {
    const norm = net.isIP(ip) === 0 ? null : ip;
    if (norm === null || port <= 0 || port > 65535 || cport <= 0 || cport > 65535) return false;
    for (const n of this.st.nodes.values())
      if ((n.flags & NODE_HANDSHAKE) !== 0 && n.ip === norm && n.port === port && n.cport === cport) return false;
    const n = new ClusterNode(randomNodeName(), NODE_HANDSHAKE | NODE_MEET);
    n.ip = norm;
    n.port = port;
    n.cport = cport;
    this.st.nodes.set(n.name, n);
    return true;
  }

  /** Removes a node (FORGET, handshake timeout). */
  forget(n: ClusterNode): void {
    this.dropLink(n);
    for (const l of this.inbound) if (l.peer === n) l.peer = null;
    this.st.delNode(n);
  }

  private sender(mflags = 0): SenderInfo {
    const me = this.st.myself;
    const master = this.st.masterOf(me);
    return {
      port: this.settings.port(),
      pport: 0,
      cport: this.settings.announcedBusPort(),
      currentEpoch: this.st.currentEpoch,
      configEpoch: master !== null ? master.configEpoch : me.configEpoch,
      offset: this.st.myOffset(),
      name: me.name,
      slots: master !== null ? master.slots : me.slots,
      replicaOf: me.replicaOf,
      myip: this.settings.announceIp(),
      flags: me.flags,
      state: this.st.ok ? 0 : 1,
      mflags: mflags | (this.failover?.headerFlags() ?? 0),
    };
  }

  private count(type: number, sent: boolean): void {
    const arr = sent ? this.st.sent : this.st.received;
    if (type < arr.length) arr[type]!++;
  }

  /** Sends a PING, PONG or MEET with gossip about a few random nodes and every failing one (Redis's clusterSendPing). */
  sendPing(link: BusLink, type: number): void {
    const st = this.st;
    const candidates: ClusterNode[] = [];
    const failing: ClusterNode[] = [];
    for (const n of st.nodes.values()) {
      if (n === st.myself) continue;
      if ((n.flags & NODE_PFAIL) !== 0) {
        failing.push(n);
        continue;
      }
      if ((n.flags & (NODE_HANDSHAKE | NODE_NOADDR)) !== 0) continue;
      if (!this.links.has(n) && n.numSlots === 0) continue;
      candidates.push(n);
    }
    const fresh = st.nodes.size - 2;
    let wanted = Math.max(3, Math.floor(st.nodes.size / 10));
    if (wanted > fresh) wanted = fresh;
    const chosen = new Set<ClusterNode>();
    for (let tries = 0; chosen.size < wanted && tries < wanted * 3 && candidates.length > 0; tries++)
      chosen.add(candidates[Math.floor(Math.random() * candidates.length)]!);
    const gossip: Gossip[] = [];
    for (const n of [...chosen, ...failing]) {
      gossip.push({
        name: n.name,
        pingSent: Math.floor(n.pingSent / 1000),
        pongReceived: Math.floor(n.pongReceived / 1000),
        ip: n.ip,
        port: n.port,
        cport: n.cport,
        flags: n.flags,
        pport: n.pport,
      });
    }
    if (type === MSG_PING && link.node !== null) link.node.pingSent = Date.now();
    link.send(encodePing(type, this.sender(), gossip, this.settings.hostname()));
    this.count(type, true);
  }

  /** Sends `b` (of `type`) on every connected outbound link of a known node. */
  private broadcast(b: Buffer, type: number, only: ((n: ClusterNode) => boolean) | null = null): void {
    for (const [n, l] of this.links) {
      if ((n.flags & (NODE_HANDSHAKE | NODE_MYSELF)) !== 0 || !l.connected || (only !== null && !only(n))) continue;
      l.send(b);
      this.count(type, true);
    }
  }

  /**
   * Propagates a PUBLISH to every node; an SPUBLISH (PUBLISHSHARD) only to the nodes serving this node's slots,
   * its master and replicas (Redis's clusterGetNodesServingMySlots), where that shard channel's subscribers are.
   */
  publish(channel: Uint8Array, message: Uint8Array, shard: boolean): void {
    if (!shard) return this.broadcast(encodePublish(MSG_PUBLISH, this.sender(), channel, message), MSG_PUBLISH);
    const me = this.st.myself;
    const master = me.isMaster() ? me : this.st.masterOf(me);
    if (master === null) return;
    const serves = (n: ClusterNode): boolean => n === master || n.replicaOf === master.name;
    this.broadcast(encodePublish(MSG_PUBLISHSHARD, this.sender(), channel, message), MSG_PUBLISHSHARD, serves);
  }

  /** Tells every node (or those `only` accepts) our new slots/epoch/role at once (Redis's clusterBroadcastPong). */
  broadcastPong(only: (n: ClusterNode) => boolean = () => true): void {
    for (const [n, l] of this.links) {
      if ((n.flags & NODE_HANDSHAKE) !== 0 || !l.connected || !only(n)) continue;
      this.sendPing(l, MSG_PONG);
    }
  }

  /** True while the outbound link to `n` is connected. */
  linked(n: ClusterNode): boolean {
    return this.links.get(n)?.connected === true;
  }

  /** PINGs `n` now if its link is up. */
  pingNode(n: ClusterNode): void {
    const l = this.links.get(n);
    if (l?.connected) this.sendPing(l, MSG_PING);
  }

  /** Sends a header-only message (FAILOVER_AUTH_ACK, MFSTART) to `n` if its link is up. */
  sendHeader(n: ClusterNode, type: number): void {
    const l = this.links.get(n);
    if (l === undefined || !l.connected) return;
    l.send(encodeHeaderOnly(type, this.sender()));
    this.count(type, true);
  }

  /** Sends a header-only message (FAILOVER_AUTH_REQUEST) to every node, with extra mflags. */
  broadcastHeader(type: number, mflags: number): void {
    this.broadcast(encodeHeaderOnly(type, this.sender(mflags)), type);
  }

  private connect(n: ClusterNode): void {
    const s = net.connect({ host: n.ip, port: n.cport });
    const link = new BusLink(s, n, this);
    this.links.set(n, link);
    // A PING counts as in flight from the first attempt, so a node that cannot be reached times out (PFAIL).
    if (n.pingSent === 0) n.pingSent = Date.now();
    const timeout = setTimeout(
      () => {
        if (!link.connected) link.close();
      },
      Math.max(this.settings.nodeTimeout(), 1000),
    );
    timeout.unref();
    s.once('connect', () => {
      clearTimeout(timeout);
      link.connected = true;
      n.linkConnected = true;
      const oldPing = n.pingSent;
      this.sendPing(link, (n.flags & NODE_MEET) !== 0 ? MSG_MEET : MSG_PING);
      if (oldPing !== 0) n.pingSent = oldPing;
      n.flags &= ~NODE_MEET;
    });
  }

  /** Every 100 ms (Redis's clusterCron). */
  private cron(): void {
    const st = this.st;
    const now = Date.now();
    const timeout = this.settings.nodeTimeout();
    const handshakeTimeout = Math.max(timeout, 1000);
    this.iteration++;
    for (const [name, until] of st.blacklist) if (until < now) st.blacklist.delete(name);
    for (const n of [...st.nodes.values()]) {
      if ((n.flags & (NODE_MYSELF | NODE_NOADDR)) !== 0) continue;
      if ((n.flags & NODE_HANDSHAKE) !== 0 && now - n.ctime > handshakeTimeout) {
        this.forget(n);
        continue;
      }
      if (!this.links.has(n) && n.ip !== '' && n.cport > 0) this.connect(n);
    }
    // Once a second, ping the node with the oldest pong among five random ones.
    if (this.iteration % 10 === 0) {
      const nodes = [...st.nodes.values()];
      let best: ClusterNode | null = null;
      for (let i = 0; i < 5 && nodes.length > 0; i++) {
        const n = nodes[Math.floor(Math.random() * nodes.length)]!;
        const l = this.links.get(n);
        if (l === undefined || !l.connected || n.pingSent !== 0 || (n.flags & (NODE_MYSELF | NODE_HANDSHAKE)) !== 0) continue;
        if (best === null || n.pongReceived < best.pongReceived) best = n;
      }
      if (best !== null) this.sendPing(this.links.get(best)!, MSG_PING);
    }
    let changed = false;
    for (const n of st.nodes.values()) {
      if ((n.flags & (NODE_MYSELF | NODE_NOADDR | NODE_HANDSHAKE)) !== 0) continue;
      const l = this.links.get(n);
      // A link with no answer for half the timeout may be the problem: reconnect it.
      if (l?.connected && n.pingSent !== 0 && now - n.pingSent > timeout / 2 && now - n.dataReceived > timeout / 2) {
        this.dropLink(n);
      }
      const l2 = this.links.get(n);
      if (l2?.connected && n.pingSent === 0 && now - n.pongReceived > timeout / 2) {
        this.sendPing(l2, MSG_PING);
        continue;
      }
      if (n.pingSent === 0) continue;
      const delay = Math.min(now - n.pingSent, now - n.dataReceived);
      if (delay > timeout && (n.flags & (NODE_PFAIL | NODE_FAIL)) === 0) {
        this.events.log('notice', `*** NODE ${n.name} possibly failing`);
        n.flags |= NODE_PFAIL;
        changed = true;
      }
    }
    const wasOk = st.ok;
    st.updateState(this.settings.requireFullCoverage());
    if (changed || wasOk !== st.ok) {
      if (wasOk !== st.ok) this.events.log('notice', `Cluster state changed: ${st.ok ? 'ok' : 'fail'}`);
    }
    this.failover?.cron();
  }

  /** The ip of the peer of `link`, as it announced or as the socket says. */
  private peerIp(link: BusLink, announced: string): string {
    return announced !== '' ? announced : plainIp(link.socket.remoteAddress);
  }

  /** Handles one message (Redis's clusterProcessPacket). */
  process(link: BusLink, m: BusMessage): void {
    const st = this.st;
    const now = Date.now();
    this.count(m.type, false);
    let sender = st.nodes.get(m.sender) ?? null;
    if (sender !== null && (sender.flags & NODE_HANDSHAKE) !== 0) sender = null;
    if (sender !== null && link.node === null) link.peer = sender;
    if (sender !== null) {
      sender.dataReceived = now;
      if (m.currentEpoch > st.currentEpoch) {
        st.currentEpoch = m.currentEpoch;
        this.events.save();
      }
      // A replica sends its master's epoch, which Redis keeps for it too.
      if (m.configEpoch > sender.configEpoch) {
        sender.configEpoch = m.configEpoch;
        this.events.save();
      }
      sender.offset = m.offset;
      sender.flags = (sender.flags & ~NODE_NOFAILOVER) | (m.flags & NODE_NOFAILOVER);
      this.failover?.onHeader(sender, m);
    }
    if (m.type === MSG_PING || m.type === MSG_PONG || m.type === MSG_MEET) {
      this.processPing(link, m, sender, now);
      return;
    }
    if (sender === null) return;
    if (m.type === MSG_FAIL) {
      const failing = st.nodes.get(m.about);
      if (failing !== undefined && (failing.flags & (NODE_FAIL | NODE_MYSELF)) === 0) {
        this.events.log('notice', `FAIL message received from ${m.sender} about ${m.about}`);
        failing.flags = (failing.flags | NODE_FAIL) & ~NODE_PFAIL;
        failing.failTime = now;
        this.events.save();
      }
    } else if (m.type === MSG_PUBLISH || m.type === MSG_PUBLISHSHARD) {
      this.events.publish(m.channel!, m.message!, m.type === MSG_PUBLISHSHARD);
    } else if (m.type === MSG_FAILOVER_AUTH_REQUEST || m.type === MSG_FAILOVER_AUTH_ACK || m.type === MSG_MFSTART) {
      this.failover?.onMessage(link, m, sender);
    } else if (m.type === MSG_UPDATE) {
      const n = st.nodes.get(m.about);
      if (n === undefined || n.configEpoch >= m.aboutEpoch) return;
      if (!n.isMaster()) this.setNodeAsMaster(n);
      n.configEpoch = m.aboutEpoch;
      this.updateSlotsWith(n, m.aboutEpoch, m.aboutSlots!);
      this.events.save();
    }
  }

  private processPing(link: BusLink, m: BusMessage, sender: ClusterNode | null, now: number): void {
    const st = this.st;
    if (m.type === MSG_PING || m.type === MSG_MEET) {
      // Learn our own address from the connection a MEET came on (unless announced).
      if ((m.type === MSG_MEET || st.myself.ip === '') && this.settings.announceIp() === '') {
        const ip = plainIp(link.socket.localAddress);
        if (ip !== '' && ip !== st.myself.ip) {
          st.myself.ip = ip;
          this.events.save();
        }
      }
      if (sender === null && m.type === MSG_MEET) {
        const n = new ClusterNode(randomNodeName(), NODE_HANDSHAKE);
        n.ip = this.peerIp(link, m.myip);
        n.port = m.port;
        n.pport = m.pport;
        n.cport = m.cport;
        st.nodes.set(n.name, n);
        this.events.save();
      }
      if (sender === null && m.type === MSG_MEET) this.processGossip(m, null, now);
      this.sendPing(link, MSG_PONG);
    }
    const ln = link.node;
    if (ln !== null) {
      if ((ln.flags & NODE_HANDSHAKE) !== 0) {
        if (sender !== null) {
          // We already know it under its real name: refresh its address and drop the handshake node.
          this.updateAddress(sender, link, m);
          this.forget(ln);
          return;
        }
        this.events.log('notice', `Handshake with node ${ln.name} completed (now ${m.sender}).`);
        st.rename(ln, m.sender);
        ln.flags &= ~NODE_HANDSHAKE;
        ln.flags |= m.replicaOf === null ? NODE_MASTER : NODE_SLAVE;
        ln.flags &= m.replicaOf === null ? ~NODE_SLAVE : ~NODE_MASTER;
        this.events.save();
      } else if (ln.name !== m.sender) {
        // The node at this address is another one now: forget the address.
        ln.flags |= NODE_NOADDR;
        ln.ip = '';
        ln.port = 0;
        ln.cport = 0;
        this.dropLink(ln);
        this.events.save();
        return;
      }
    }
    if (sender === null) sender = st.nodes.get(m.sender) ?? null;
    if (sender !== null && (sender.flags & NODE_HANDSHAKE) !== 0) return;
    if (sender !== null && m.type === MSG_PING) this.updateAddress(sender, link, m);
    if (sender !== null) {
      const hostname = m.hostname ?? '';
      if (sender.hostname !== hostname) {
        sender.hostname = hostname;
        this.events.save();
      }
    }
    if (ln !== null && m.type === MSG_PONG) {
      ln.pongReceived = now;
      ln.pingSent = 0;
      if ((ln.flags & NODE_PFAIL) !== 0) ln.flags &= ~NODE_PFAIL;
      else if ((ln.flags & NODE_FAIL) !== 0) this.clearFailureIfNeeded(ln, now);
    }
    if (sender === null) return;
    // Role: a node with no master is a master; a master that now names one gives up its slots.
    if (m.replicaOf === null) this.setNodeAsMaster(sender);
    else {
      if ((sender.flags & NODE_SLAVE) === 0) {
        st.delNodeSlots(sender);
        sender.flags = (sender.flags & ~(NODE_MASTER | NODE_MIGRATE_TO)) | NODE_SLAVE;
        st.updateState(this.settings.requireFullCoverage());
        this.events.save();
      }
      const master = st.nodes.get(m.replicaOf);
      if (sender.replicaOf !== m.replicaOf && master !== undefined) {
        st.follow(sender, master);
        this.events.save();
      }
    }
    const senderMaster = m.replicaOf === null ? sender : (st.nodes.get(m.replicaOf) ?? null);
    let dirty = false;
    if (senderMaster !== null) {
      for (let i = 0; i < m.slots.length; i++)
        if (senderMaster.slots[i] !== m.slots[i]) {
          dirty = true;
          break;
        }
    }
    if (senderMaster !== null && m.replicaOf === null && dirty) this.updateSlotsWith(sender, m.configEpoch, m.slots);
    // Someone else owns a slot it claims with a newer epoch: tell it (UPDATE).
    if (senderMaster !== null && dirty) {
      for (let j = 0; j < CLUSTER_SLOTS; j++) {
        if ((m.slots[j >> 3]! & (1 << (j & 7))) === 0) continue;
        const owner = st.owner[j];
        if (owner === null || owner === undefined || owner === senderMaster) continue;
        if (owner.configEpoch > m.configEpoch) {
          const l = this.links.get(sender);
          if (l?.connected) {
            l.send(encodeUpdate(this.sender(), owner.name, owner.configEpoch, owner.slots));
            this.count(MSG_UPDATE, true);
          }
          break;
        }
      }
    }
    if (m.replicaOf === null && st.myself.isMaster() && sender.isMaster() && m.configEpoch === st.myself.configEpoch)
      this.epochCollision(sender);
    this.processGossip(m, sender, now);
  }

  /** Makes `n` a master in this node's table (Redis's clusterSetNodeAsMaster). */
  private setNodeAsMaster(n: ClusterNode): void {
    if ((n.flags & NODE_MASTER) !== 0 && (n.flags & NODE_SLAVE) === 0 && n.replicaOf === null) return;
    // A promoted replica's shard had replicas: it is a target for replica migration.
    if (n.replicaOf !== null) n.flags |= NODE_MIGRATE_TO;
    n.flags = (n.flags | NODE_MASTER) & ~NODE_SLAVE;
    n.replicaOf = null;
    this.events.save();
  }

  /** Two masters with one config epoch: the one with the smaller name takes a new epoch (Redis's clusterHandleConfigEpochCollision). */
  private epochCollision(sender: ClusterNode): void {
    const me = this.st.myself;
    if (sender.name <= me.name) return;
    this.st.currentEpoch++;
    me.configEpoch = this.st.currentEpoch;
    this.events.save();
    this.events.log('notice', `WARNING: configEpoch collision with node ${sender.name}. configEpoch set to ${me.configEpoch}`);
  }

  /** A FAIL flag is cleared once the node answers (at once for a node without slots, else after 2 × node timeout). */
  private clearFailureIfNeeded(n: ClusterNode, now: number): void {
    if (!n.isMaster() || n.numSlots === 0 || now - n.failTime > this.settings.nodeTimeout() * FAIL_UNDO_TIME_MULT) {
      this.events.log('notice', `Clear FAIL state for node ${n.name}: is reachable again.`);
      n.flags &= ~NODE_FAIL;
      this.events.save();
    }
  }

  /** A PING from a known node at a new address (Redis's nodeUpdateAddressIfNeeded). */
  private updateAddress(n: ClusterNode, link: BusLink, m: BusMessage): void {
    if (n === this.st.myself || this.links.get(n) === link) return;
    const ip = this.peerIp(link, m.myip);
    if (n.ip === ip && n.port === m.port && n.cport === m.cport && n.pport === m.pport) return;
    n.ip = ip;
    n.port = m.port;
    n.cport = m.cport;
    n.pport = m.pport;
    n.flags &= ~NODE_NOADDR;
    this.dropLink(n);
    this.events.log('notice', `Address updated for node ${n.name}, now ${ip}:${m.port}`);
    this.events.save();
  }

  /** Gossip sections: failure reports from masters, pong times, and nodes to meet (Redis's clusterProcessGossipSection). */
  private processGossip(m: BusMessage, sender: ClusterNode | null, now: number): void {
    const st = this.st;
    const timeout = this.settings.nodeTimeout();
    for (const g of m.gossip) {
      const n = st.nodes.get(g.name);
      if (n !== undefined) {
        if (sender?.isMaster() && n !== st.myself) {
          if ((g.flags & (NODE_FAIL | NODE_PFAIL)) !== 0) {
            n.failReports.set(sender.name, now);
            this.markFailingIfNeeded(n, now);
          } else n.failReports.delete(sender.name);
        }
        const pong = g.pongReceived * 1000;
        if (
          (g.flags & (NODE_FAIL | NODE_PFAIL)) === 0 &&
          n.pingSent === 0 &&
          n.failReports.size === 0 &&
          pong <= now + 500 &&
          pong > n.pongReceived
        )
          n.pongReceived = pong;
        // A failing node gossiped at another address is probably there now.
        if ((n.flags & (NODE_FAIL | NODE_PFAIL)) !== 0 && (g.flags & NODE_NOADDR) === 0 && (g.flags & (NODE_FAIL | NODE_PFAIL)) === 0) {
          if (n.ip !== g.ip || n.port !== g.port || n.cport !== g.cport) {
            this.dropLink(n);
            n.ip = g.ip;
            n.port = g.port;
            n.cport = g.cport;
            n.pport = g.pport;
            n.flags &= ~NODE_NOADDR;
          }
        }
        continue;
      }
      if (sender === null || (g.flags & NODE_NOADDR) !== 0 || st.blacklist.has(g.name)) continue;
      const fresh = new ClusterNode(g.name, g.flags & ~(NODE_MYSELF | NODE_PFAIL | NODE_FAIL | NODE_HANDSHAKE | NODE_MEET));
      if ((fresh.flags & (NODE_MASTER | NODE_SLAVE)) === 0) fresh.flags |= NODE_MASTER;
      fresh.ip = g.ip;
      fresh.port = g.port;
      fresh.cport = g.cport;
      fresh.pport = g.pport;
      st.nodes.set(g.name, fresh);
      this.events.save();
    }
    for (const n of st.nodes.values()) {
      for (const [who, t] of n.failReports) if (now - t > timeout * FAIL_REPORT_VALIDITY_MULT) n.failReports.delete(who);
    }
  }

  /** PFAIL becomes FAIL once a majority of the slot-serving masters report it (Redis's markNodeAsFailingIfNeeded). */
  private markFailingIfNeeded(n: ClusterNode, now: number): void {
    const st = this.st;
    const quorum = Math.floor(st.size() / 2) + 1;
    if ((n.flags & NODE_PFAIL) === 0 || (n.flags & NODE_FAIL) !== 0) return;
    const validity = this.settings.nodeTimeout() * FAIL_REPORT_VALIDITY_MULT;
    let failures = 0;
    for (const t of n.failReports.values()) if (now - t <= validity) failures++;
    if (st.myself.isMaster()) failures++;
    if (failures < quorum) return;
    this.events.log('notice', `Marking node ${n.name} as failing (quorum reached).`);
    n.flags = (n.flags | NODE_FAIL) & ~NODE_PFAIL;
    n.failTime = now;
    this.broadcast(encodeFail(this.sender(), n.name), MSG_FAIL);
    this.events.save();
  }

  /**
   * A master claims `slots` at `epoch`: it takes every slot whose owner has an older epoch,
   * except slots this node is importing (Redis's clusterUpdateSlotsConfigWith).
   */
  updateSlotsWith(sender: ClusterNode, epoch: number, slots: Uint8Array): void {
    const st = this.st;
    const me = st.myself;
    if (sender === me) {
      this.events.log('warning', 'Discarding UPDATE message about myself.');
      return;
    }
    // This node's shard: itself as a master, or the master it replicates.
    const current = me.isMaster() ? me : st.masterOf(me);
    let changed = false;
    let senderSlots = 0;
    let ours = 0;
    const mine: number[] = [];
    for (let j = 0; j < CLUSTER_SLOTS; j++) {
      if ((slots[j >> 3]! & (1 << (j & 7))) === 0) continue;
      senderSlots++;
      const owner = st.owner[j];
      if (owner === sender || st.importingFrom[j] !== null) continue;
      if (owner === null || owner === undefined || owner.configEpoch < epoch) {
        if (owner === me) mine.push(j);
        if (owner === current) ours++;
        st.addSlot(sender, j);
        changed = true;
      }
    }
    if (mine.length > 0) this.events.log('warning', `${mine.length} of my slots taken over by ${sender.name} (config epoch ${epoch})`);
    if (changed) {
      st.updateState(this.settings.requireFullCoverage());
      this.events.save();
    }
    const failover = this.failover;
    if (failover === null || current === null) return;
    const grand = me.isMaster() ? null : st.masterOf(current);
    if (ours > 0 && current.numSlots === 0 && (this.settings.allowReplicaMigration() || senderSlots === ours)) {
      // Our shard lost its last slot to a newer configuration: we were failed over, follow the new owner.
      this.events.log('warning', `Configuration change detected. Reconfiguring myself as a replica of ${sender.name}`);
      failover.setMaster(sender);
      st.updateState(this.settings.requireFullCoverage());
      this.events.save();
    } else if (grand !== null && grand !== me) {
      this.events.log('warning', `I'm a sub-replica! Reconfiguring myself as a replica of grandmaster ${grand.name}`);
      failover.setMaster(grand);
      this.events.save();
    } else if (mine.length > 0) {
      // Still a master of other slots: the keys of the ones taken away go, as Redis's delKeysInSlot (a
      // demoted master instead drops everything with the full sync from its new master).
      this.events.lostSlots(mine);
    }
  }
}
