/**
 * The cluster as this node sees it (Redis's clusterState and clusterNode): the known nodes,
 * who owns each of the 16384 slots, slots being migrated or imported, epochs, and the
 * overall state. Pure state: the bus (bus.ts) and the CLUSTER commands change it, the
 * router reads `slotMode` per keyed command.
 */
import { randomBytes } from 'node:crypto';

export const CLUSTER_SLOTS = 16384;
/** Node flags (Redis's CLUSTER_NODE_*), as they travel on the bus. */
export const NODE_MASTER = 1;
export const NODE_SLAVE = 2;
export const NODE_PFAIL = 4;
export const NODE_FAIL = 8;
export const NODE_MYSELF = 16;
export const NODE_HANDSHAKE = 32;
export const NODE_NOADDR = 64;
export const NODE_MEET = 128;
export const NODE_MIGRATE_TO = 256;
export const NODE_NOFAILOVER = 512;

/** slotMode bits: this node serves the slot, is migrating it away, is importing it. */
export const SLOT_MINE = 1;
export const SLOT_MIGRATING = 2;
export const SLOT_IMPORTING = 4;

/** A new random node name: 40 hex characters. */
export function randomNodeName(): string {
  return randomBytes(20).toString('hex');
}

/** One node of the cluster. */
export class ClusterNode {
  flags: number;
  ip = '';
  port = 0;
  cport = 0;
  pport = 0;
  hostname = '';
  configEpoch = 0;
  /** The master's name while this node is a replica. */
  replicaOf: string | null = null;
  readonly slots = new Uint8Array(CLUSTER_SLOTS / 8);
  numSlots = 0;
  readonly ctime = Date.now();
  /** ms time of the PING in flight (0: none). */
  pingSent = 0;
  pongReceived = 0;
  dataReceived = 0;
  failTime = 0;
  /** ms time since which this master has had no working replica while it should have one (0: not orphaned). */
  orphanedTime = 0;
  /** ms time this node (a master) last voted for one of its replicas' elections. */
  votedTime = 0;
  /** Replication offset it announced. */
  offset = 0;
  /** Who reported this node as failing, and when (ms). */
  readonly failReports = new Map<string, number>();
  /** Bus link state, set by the bus: an outbound link that is connected. */
  linkConnected = false;

  constructor(
    public name: string,
    flags: number,
  ) {
    this.flags = flags;
  }

  hasSlot(slot: number): boolean {
    return (this.slots[slot >> 3]! & (1 << (slot & 7))) !== 0;
  }

  isMaster(): boolean {
    return (this.flags & NODE_MASTER) !== 0;
  }

  /** Failing or suspected failing. */
  failing(): boolean {
    return (this.flags & (NODE_PFAIL | NODE_FAIL)) !== 0;
  }
}

/** Redis's clusterGenNodeDescription flag words. */
export function flagWords(flags: number): string {
  const w: string[] = [];
  if (flags & NODE_MYSELF) w.push('myself');
  if (flags & NODE_MASTER) w.push('master');
  if (flags & NODE_SLAVE) w.push('slave');
  if (flags & NODE_PFAIL) w.push('fail?');
  if (flags & NODE_FAIL) w.push('fail');
  if (flags & NODE_HANDSHAKE) w.push('handshake');
  if (flags & NODE_NOADDR) w.push('noaddr');
  if (flags & NODE_NOFAILOVER) w.push('nofailover');
  return w.length === 0 ? 'noflags' : w.join(',');
}

/** Flags from their words (nodes.conf). */
export function parseFlagWords(s: string): number {
  let f = 0;
  for (const w of s.split(',')) {
    if (w === 'myself') f |= NODE_MYSELF;
    else if (w === 'master') f |= NODE_MASTER;
    else if (w === 'slave') f |= NODE_SLAVE;
    else if (w === 'fail?') f |= NODE_PFAIL;
    else if (w === 'fail') f |= NODE_FAIL;
    else if (w === 'handshake') f |= NODE_HANDSHAKE;
    else if (w === 'noaddr') f |= NODE_NOADDR;
    else if (w === 'nofailover') f |= NODE_NOFAILOVER;
  }
  return f;
}

/** Message counters by bus message type (CLUSTER INFO's cluster_stats_messages_*). */
export const MESSAGE_NAMES = [
  'ping',
  'pong',
  'meet',
  'fail',
  'publish',
  'auth-req',
  'auth-ack',
  'update',
  'mfstart',
  'module',
  'publishshard',
];

/** The cluster from this node's point of view. */
export class ClusterState {
  myself: ClusterNode;
  readonly nodes = new Map<string, ClusterNode>();
  currentEpoch = 0;
  lastVoteEpoch = 0;
  ok = false;
  /** Owner of each slot, null when unassigned. */
  readonly owner: (ClusterNode | null)[] = new Array(CLUSTER_SLOTS).fill(null);
  readonly migratingTo: (ClusterNode | null)[] = new Array(CLUSTER_SLOTS).fill(null);
  readonly importingFrom: (ClusterNode | null)[] = new Array(CLUSTER_SLOTS).fill(null);
  /** Per slot SLOT_MINE | SLOT_MIGRATING | SLOT_IMPORTING: the router's one lookup per command. */
  readonly slotMode = new Uint8Array(CLUSTER_SLOTS);
  readonly sent = new Float64Array(MESSAGE_NAMES.length);
  readonly received = new Float64Array(MESSAGE_NAMES.length);
  /** Nodes FORGET'ed recently: name → ms until which gossip must not re-add them. */
  readonly blacklist = new Map<string, number>();
  /** Called whenever something nodes.conf holds changed. */
  onChange: () => void = () => {};
  /** This node's replication offset (master_repl_offset, or what a replica applied). */
  myOffset: () => number = () => 0;
  /** Until this ms time a master that starts with the cluster down stays down (Redis's CLUSTER_WRITABLE_DELAY). */
  rejoinUntil = 0;

  constructor(name = randomNodeName()) {
    this.myself = new ClusterNode(name, NODE_MYSELF | NODE_MASTER);
    this.nodes.set(name, this.myself);
  }

  /** Slots this node serves as its own (CLUSTER INFO's cluster_slots_assigned counts every node's). */
  assignedSlots(): number {
    let n = 0;
    for (let i = 0; i < CLUSTER_SLOTS; i++) if (this.owner[i] !== null) n++;
    return n;
  }

  /** Gives `slot` to `node` (it must be unassigned). */
  addSlot(node: ClusterNode, slot: number): void {
    if (this.owner[slot] !== null) this.delSlot(slot);
    this.owner[slot] = node;
    node.slots[slot >> 3] = node.slots[slot >> 3]! | (1 << (slot & 7));
    node.numSlots++;
    this.refreshSlot(slot);
  }

  /** Makes `slot` unassigned; true if it was assigned. */
  delSlot(slot: number): boolean {
    const n = this.owner[slot];
    if (n === null || n === undefined) return false;
    n.slots[slot >> 3] = n.slots[slot >> 3]! & ~(1 << (slot & 7));
    n.numSlots--;
    this.owner[slot] = null;
    this.refreshSlot(slot);
    return true;
  }

  /** Recomputes slotMode for one slot. */
  refreshSlot(slot: number): void {
    let m = 0;
    if (this.owner[slot] === this.myself) m |= SLOT_MINE;
    if (this.migratingTo[slot] !== null) m |= SLOT_MIGRATING;
    if (this.importingFrom[slot] !== null) m |= SLOT_IMPORTING;
    this.slotMode[slot] = m;
  }

  /** Drops every slot of `node`; returns how many. */
  delNodeSlots(node: ClusterNode): number {
    let n = 0;
    for (let i = 0; i < CLUSTER_SLOTS; i++) if (this.owner[i] === node && this.delSlot(i)) n++;
    return n;
  }

  /** Removes a node, its slots and every reference to it. */
  delNode(node: ClusterNode): void {
    for (let i = 0; i < CLUSTER_SLOTS; i++) {
      if (this.importingFrom[i] === node) this.importingFrom[i] = null;
      if (this.migratingTo[i] === node) this.migratingTo[i] = null;
      if (this.owner[i] === node) this.delSlot(i);
      else this.refreshSlot(i);
    }
    for (const other of this.nodes.values()) other.failReports.delete(node.name);
    this.nodes.delete(node.name);
  }

  /** Renames a node met by address (handshake) once its real name is known. */
  rename(node: ClusterNode, name: string): void {
    this.nodes.delete(node.name);
    node.name = name;
    this.nodes.set(name, node);
  }

  /** Highest config epoch of any node, or the current epoch if higher. */
  maxEpoch(): number {
    let max = this.currentEpoch;
    for (const n of this.nodes.values()) if (n.configEpoch > max) max = n.configEpoch;
    return max;
  }

  /** Masters serving at least one slot (cluster_size). */
  size(): number {
    let n = 0;
    for (const node of this.nodes.values()) if (node.isMaster() && node.numSlots > 0) n++;
    return n;
  }

  /** The replication offset of `n` as this node knows it (its own, live). */
  offsetOf(n: ClusterNode): number {
    return n === this.myself ? this.myOffset() : n.offset;
  }

  /** The master of `n` when it is a replica this node knows the master of. */
  masterOf(n: ClusterNode): ClusterNode | null {
    return n.replicaOf === null ? null : (this.nodes.get(n.replicaOf) ?? null);
  }

  /**
   * Takes a new config epoch without agreement (Redis's clusterBumpConfigEpochWithoutConsensus)
   * unless this node's epoch is already the greatest one and not zero; true when it took one.
   */
  bumpEpoch(): boolean {
    const me = this.myself;
    if (me.configEpoch !== 0 && me.configEpoch === this.maxEpoch()) return false;
    this.currentEpoch++;
    me.configEpoch = this.currentEpoch;
    return true;
  }

  /** Makes `n` a replica of `master` in this table; a master that had a replica is a target for replica migration. */
  follow(n: ClusterNode, master: ClusterNode): void {
    n.replicaOf = master.name;
    master.flags |= NODE_MIGRATE_TO;
  }

  /** Replicas of `master` that are not FAIL (Redis's clusterCountNonFailingSlaves). */
  workingReplicas(master: ClusterNode): number {
    let n = 0;
    for (const r of this.nodes.values()) if (r.replicaOf === master.name && (r.flags & NODE_FAIL) === 0) n++;
    return n;
  }

  /** Ends every slot migration and import (Redis's clusterCloseAllSlots). */
  closeAllSlots(): void {
    for (let i = 0; i < CLUSTER_SLOTS; i++) {
      if (this.migratingTo[i] === null && this.importingFrom[i] === null) continue;
      this.migratingTo[i] = null;
      this.importingFrom[i] = null;
      this.refreshSlot(i);
    }
  }

  /**
   * Recomputes ok (Redis's clusterUpdateState): down while a slot is unserved or served by
   * a failed node (with require-full-coverage), or while this master is in a minority partition.
   */
  updateState(requireFullCoverage: boolean): void {
    // A restarted master gives the cluster time to tell it that it was failed over before it serves writes.
    if (!this.ok && this.myself.isMaster() && Date.now() < this.rejoinUntil) return;
    let ok = true;
    if (requireFullCoverage) {
      for (let i = 0; i < CLUSTER_SLOTS; i++) {
        const n = this.owner[i];
        if (n === null || (n.flags & NODE_FAIL) !== 0) {
          ok = false;
          break;
        }
      }
    }
    let reachable = 0;
    const size = this.size();
    for (const node of this.nodes.values()) if (node.isMaster() && node.numSlots > 0 && !node.failing()) reachable++;
    if (reachable < Math.floor(size / 2) + 1) ok = false;
    this.ok = ok;
  }

  /** Redis's CLUSTER RESET: forget every other node and the slots; HARD also takes a new name and zeroes the epochs. */
  reset(hard: boolean): void {
    for (let i = 0; i < CLUSTER_SLOTS; i++) {
      this.migratingTo[i] = null;
      this.importingFrom[i] = null;
      this.delSlot(i);
      this.slotMode[i] = 0;
    }
    for (const n of [...this.nodes.values()]) if (n !== this.myself) this.delNode(n);
    this.myself.flags = NODE_MYSELF | NODE_MASTER;
    this.myself.replicaOf = null;
    if (hard) {
      this.currentEpoch = 0;
      this.lastVoteEpoch = 0;
      this.myself.configEpoch = 0;
      this.rename(this.myself, randomNodeName());
    }
  }
}
