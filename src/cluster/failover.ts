/**
 * Replicas and failover in cluster mode (Redis 7.0's cluster.c, replica half): a node becoming
 * a replica of a master (CLUSTER REPLICATE, or a master that lost its last slot to a newer epoch),
 * the replica's election when its master is FAIL (delay by rank, a new epoch, votes from the
 * masters, promotion with the master's slots), the masters' vote (one per epoch, none twice for
 * one master within 2 × node timeout), and manual failover (CLUSTER FAILOVER with MFSTART and the
 * paused master's offset, FORCE, TAKEOVER). The bus delivers the messages; replication is reached
 * through ReplicationControl.
 */
import {
  type BusMessage,
  MFLAG_FORCEACK,
  MFLAG_PAUSED,
  MSG_FAILOVER_AUTH_ACK,
  MSG_FAILOVER_AUTH_REQUEST,
  MSG_MFSTART,
  MSG_PING,
} from './bus-codec.js';
import type { BusLink, ClusterBus } from './bus.js';
import {
  CLUSTER_SLOTS,
  type ClusterNode,
  type ClusterState,
  NODE_FAIL,
  NODE_MASTER,
  NODE_MIGRATE_TO,
  NODE_NOADDR,
  NODE_NOFAILOVER,
  NODE_SLAVE,
} from './node-table.js';
import { E_CLUSTER_FAILOVER_MASTER, E_CLUSTER_FAILOVER_MASTER_DOWN, E_CLUSTER_FAILOVER_NO_MASTER } from '../wire/error-text.js';

/** What failover needs from the server's replication. */
export interface ReplicationControl {
  /** Replicates host:port; this node's data is offered as history PSYNC may continue. */
  setMaster(host: string, port: number): void;
  /** Stops replicating and keeps the data (REPLICAOF NO ONE). */
  unsetMaster(): void;
  /** True while this server is configured to replicate a master. */
  active(): boolean;
  /** ms since the master last sent data (link up) or since the link went down; Infinity when it never came up. */
  dataAge(): number;
  /** Pauses client writes until the ms time `until` (0 resumes them); resolves once the writes already sent to the shards have run. */
  pauseWrites(until: number): Promise<void>;
}

/** The settings failover reads (live). */
export interface FailoverSettings {
  nodeTimeout(): number;
  validityFactor(): number;
  replPingPeriodMs(): number;
  noFailover(): boolean;
  allowReplicaMigration(): boolean;
  /** cluster-migration-barrier: replicas a master keeps before one of them migrates. */
  migrationBarrier(): number;
  requireFullCoverage(): boolean;
}

/** What failover reports. */
export interface FailoverEvents {
  /** nodes.conf must be written (`fsync`: epochs and votes, which Redis syncs to disk). */
  save(fsync?: boolean): void;
  log(level: 'notice' | 'warning', text: string): void;
}

/** Redis's CLUSTER_MF_TIMEOUT and CLUSTER_MF_PAUSE_MULT. */
const MF_TIMEOUT = 5000;
const MF_PAUSE_MULT = 2;
/** Redis's CLUSTER_SLAVE_MIGRATION_DELAY: a master stays orphaned this long before a replica moves to it. */
const MIGRATION_DELAY = 5000;

/** Why a replica is not failing over yet (Redis's CLUSTER_CANT_FAILOVER_*), logged once a change. */
const enum Cant {
  None,
  DataAge,
  WaitingDelay,
  Expired,
  WaitingVotes,
}
const CANT_TEXT = [
  '',
  'Disconnected from master for longer than allowed. Please check the cluster-replica-validity-factor configuration option.',
  'Waiting the delay before I can start a new failover.',
  'Failover attempt expired.',
  'Waiting for votes, but majority still not reached.',
];

/** The failover state of one node. */
export class Failover {
  /** When the election may start (or started); its votes, whether the request went out, rank and epoch. */
  private authTime = 0;
  private authCount = 0;
  private authSent = false;
  private authRank = 0;
  private authEpoch = 0;
  private cant = Cant.None;
  /** Manual failover: its deadline (0: none), whether the election may start, the replica asking (on the master), the paused master's offset. */
  private mfEnd = 0;
  private mfCanStart = false;
  private mfReplica: ClusterNode | null = null;
  private mfMasterOffset = -1;
  /** The master's writes are paused and drained: its offset is final and its headers say PAUSED. */
  private mfPaused = false;

  constructor(
    private readonly st: ClusterState,
    private readonly bus: ClusterBus,
    private readonly settings: FailoverSettings,
    private readonly repl: ReplicationControl,
    private readonly events: FailoverEvents,
    /** Injected in tests: the ms clock and the random part of the election delay. */
    private readonly now: () => number = Date.now,
    private readonly random: () => number = Math.random,
  ) {}

  /** mflags this node sets in its headers: PAUSED while a master serves a manual failover. */
  headerFlags(): number {
    return this.st.myself.isMaster() && this.mfPaused ? MFLAG_PAUSED : 0;
  }

  /** Every message from a known node: a replica in a manual failover learns its paused master's offset. */
  onHeader(sender: ClusterNode, m: BusMessage): void {
    const me = this.st.myself;
    if (this.mfEnd === 0 || me.isMaster() || me.replicaOf !== sender.name || (m.mflags & MFLAG_PAUSED) === 0 || this.mfCanStart) return;
    // Redis takes the first paused offset; the latest one is as good, and safe should the offset still move.
    if (this.mfMasterOffset !== m.offset) {
      this.mfMasterOffset = m.offset;
      this.events.log('warning', `Received replication offset for paused master manual failover: ${m.offset}`);
    }
    this.handleManual();
  }

  /** FAILOVER_AUTH_REQUEST, FAILOVER_AUTH_ACK and MFSTART from a known node. */
  onMessage(link: BusLink, m: BusMessage, sender: ClusterNode): void {
    if (m.type === MSG_FAILOVER_AUTH_REQUEST) this.voteIfNeeded(sender, m);
    else if (m.type === MSG_FAILOVER_AUTH_ACK) {
      // A vote counts from a master serving slots that has seen the election's epoch.
      if (sender.isMaster() && sender.numSlots > 0 && m.currentEpoch >= this.authEpoch) {
        this.authCount++;
        this.handleReplicaFailover();
      }
    } else if (m.type === MSG_MFSTART) {
      if (sender.replicaOf !== this.st.myself.name) return;
      this.reset();
      const now = this.now();
      this.mfEnd = now + MF_TIMEOUT;
      this.mfReplica = sender;
      this.events.log('warning', `Manual failover requested by replica ${sender.name}.`);
      void this.repl.pauseWrites(now + MF_TIMEOUT * MF_PAUSE_MULT).then(() => {
        if (this.mfReplica !== sender) return;
        this.mfPaused = true;
        // The ping carries the offset at which writes stopped, so the replica can start as soon as it has it.
        this.bus.sendPing(link, MSG_PING);
      });
    }
  }

  /** Every 100 ms (Redis's clusterCron, replica part). */
  cron(): void {
    const me = this.st.myself;
    // cluster-replica-no-failover travels as a flag, so the other replicas rank without this one.
    const nofailover = this.settings.noFailover() ? NODE_NOFAILOVER : 0;
    if ((me.flags & NODE_NOFAILOVER) !== nofailover) {
      me.flags = (me.flags & ~NODE_NOFAILOVER) | nofailover;
      this.events.save();
    }
    if (!me.isMaster()) {
      // A replica whose replication is off (after a restart) resumes it once its master's address is known.
      const master = this.st.masterOf(me);
      if (master !== null && !this.repl.active() && (master.flags & NODE_NOADDR) === 0 && master.ip !== '')
        this.repl.setMaster(master.ip, master.port);
    }
    if (this.mfEnd !== 0 && this.mfEnd < this.now()) {
      this.events.log('warning', 'Manual failover timed out.');
      this.reset();
    }
    if (!me.isMaster()) {
      this.handleManual();
      this.handleReplicaFailover();
      this.migrateIfNeeded();
    } else if (this.mfEnd !== 0 && this.mfReplica !== null) this.bus.pingNode(this.mfReplica);
  }

  /** Makes this node a replica of `n` (Redis's clusterSetMaster); it holds no slots. */
  setMaster(n: ClusterNode): void {
    const me = this.st.myself;
    if (me.isMaster()) {
      me.flags = (me.flags & ~(NODE_MASTER | NODE_MIGRATE_TO)) | NODE_SLAVE;
      this.st.closeAllSlots();
    }
    this.st.follow(me, n);
    this.repl.setMaster(n.ip, n.port);
    this.reset();
  }

  /**
   * CLUSTER FAILOVER [FORCE|TAKEOVER] on a replica: null when accepted, else the error. The default
   * form asks the master to pause (MFSTART) and waits for its offset; FORCE elects at once;
   * TAKEOVER takes a new epoch without any vote.
   */
  manual(mode: 'default' | 'force' | 'takeover'): string | null {
    const me = this.st.myself;
    if (me.isMaster()) return E_CLUSTER_FAILOVER_MASTER;
    const master = this.st.masterOf(me);
    if (master === null) return E_CLUSTER_FAILOVER_NO_MASTER;
    if (mode === 'default' && ((master.flags & NODE_FAIL) !== 0 || !this.bus.linked(master))) return E_CLUSTER_FAILOVER_MASTER_DOWN;
    this.reset();
    this.mfEnd = this.now() + MF_TIMEOUT;
    if (mode === 'takeover') {
      this.events.log('warning', 'Taking over the master (user request).');
      this.st.bumpEpoch();
      this.replaceMaster();
    } else if (mode === 'force') {
      this.events.log('warning', 'Forced failover user request accepted.');
      this.mfCanStart = true;
    } else {
      this.events.log('warning', 'Manual failover user request accepted.');
      this.bus.sendHeader(master, MSG_MFSTART);
    }
    return null;
  }

  /** Ends any manual failover; a master resumes the writes it paused (Redis's resetManualFailover). */
  reset(): void {
    if (this.mfReplica !== null) void this.repl.pauseWrites(0);
    this.mfPaused = false;
    this.mfEnd = 0;
    this.mfCanStart = false;
    this.mfReplica = null;
    this.mfMasterOffset = -1;
  }

  /** The replica's manual failover may start once it applied everything its paused master sent. */
  private handleManual(): void {
    if (this.mfEnd === 0 || this.mfCanStart || this.mfMasterOffset === -1) return;
    if (this.mfMasterOffset !== this.st.myOffset()) return;
    this.mfCanStart = true;
    this.events.log('warning', 'All master replication stream processed, manual failover can start.');
    this.handleReplicaFailover();
  }

  /** Replicas of this node's master ahead of it: each adds a second to its election delay. */
  private rank(): number {
    const me = this.st.myself;
    const master = this.st.masterOf(me);
    if (master === null) return 0;
    const mine = this.st.myOffset();
    let rank = 0;
    for (const n of this.st.nodes.values())
      if (n !== me && n.replicaOf === master.name && (n.flags & NODE_NOFAILOVER) === 0 && n.offset > mine) rank++;
    return rank;
  }

  private cantFailover(reason: Cant): void {
    if (reason === this.cant) return;
    this.cant = reason;
    this.events.log('notice', `Currently unable to failover: ${CANT_TEXT[reason]}`);
  }

  /** The replica's election (Redis's clusterHandleSlaveFailover). */
  private handleReplicaFailover(): void {
    const st = this.st;
    const me = st.myself;
    const master = st.masterOf(me);
    const now = this.now();
    const timeout = this.settings.nodeTimeout();
    const authAge = now - this.authTime;
    const quorum = Math.floor(st.size() / 2) + 1;
    const manual = this.mfEnd !== 0 && this.mfCanStart;
    const authTimeout = Math.max(timeout * 2, 2000);
    const retryTime = authTimeout * 2;
    if (
      me.isMaster() ||
      master === null ||
      ((master.flags & NODE_FAIL) === 0 && !manual) ||
      (this.settings.noFailover() && !manual) ||
      master.numSlots === 0
    ) {
      this.cant = Cant.None;
      return;
    }
    // Disconnected for the node timeout is the baseline; the validity factor bounds the rest (not for a manual failover).
    let dataAge = this.repl.dataAge();
    if (dataAge > timeout) dataAge -= timeout;
    const factor = this.settings.validityFactor();
    if (factor !== 0 && dataAge > this.settings.replPingPeriodMs() + timeout * factor && !manual) {
      this.cantFailover(Cant.DataAge);
      return;
    }
    if (authAge > retryTime) {
      // 500 ms for the FAIL to spread, a random part so replicas rarely tie, a second per better replica.
      this.authTime = now + 500 + Math.floor(this.random() * 500);
      this.authCount = 0;
      this.authSent = false;
      this.authRank = this.rank();
      this.authTime += this.authRank * 1000;
      if (this.mfEnd !== 0) {
        this.authTime = now;
        this.authRank = 0;
        setImmediate(() => this.handleReplicaFailover());
      }
      this.events.log(
        'warning',
        `Start of election delayed for ${this.authTime - now} milliseconds (rank #${this.authRank}, offset ${st.myOffset()}).`,
      );
      // The other replicas of the master learn our offset, so their ranks are right.
      this.bus.broadcastPong((n) => n.replicaOf === master.name);
      return;
    }
    if (!this.authSent && this.mfEnd === 0) {
      const rank = this.rank();
      if (rank > this.authRank) {
        const added = (rank - this.authRank) * 1000;
        this.authTime += added;
        this.authRank = rank;
        this.events.log('warning', `Replica rank updated to #${rank}, added ${added} milliseconds of delay.`);
      }
    }
    if (now < this.authTime) return this.cantFailover(Cant.WaitingDelay);
    if (authAge > authTimeout) return this.cantFailover(Cant.Expired);
    if (!this.authSent) {
      st.currentEpoch++;
      this.authEpoch = st.currentEpoch;
      this.events.log('warning', `Starting a failover election for epoch ${st.currentEpoch}.`);
      this.bus.broadcastHeader(MSG_FAILOVER_AUTH_REQUEST, this.mfEnd !== 0 ? MFLAG_FORCEACK : 0);
      this.authSent = true;
      st.updateState(this.settings.requireFullCoverage());
      this.events.save(true);
      return;
    }
    if (this.authCount < quorum) return this.cantFailover(Cant.WaitingVotes);
    this.events.log('warning', "Failover election won: I'm the new master.");
    if (me.configEpoch < this.authEpoch) {
      me.configEpoch = this.authEpoch;
      this.events.log('warning', `configEpoch set to ${me.configEpoch} after successful failover`);
    }
    this.replaceMaster();
  }

  /**
   * Replica migration (Redis's clusterCron and clusterHandleSlaveMigration): when a master that had
   * replicas has none working, a replica of a master with the most working replicas (at least two,
   * and more than the migration barrier) — the one with the smallest name — moves to it after
   * MIGRATION_DELAY.
   */
  private migrateIfNeeded(): void {
    const st = this.st;
    const me = st.myself;
    const mine = st.masterOf(me);
    if (mine === null || !this.settings.allowReplicaMigration()) return;
    let orphaned = 0;
    let maxReplicas = 0;
    let myReplicas = 0;
    for (const n of st.nodes.values()) {
      if (!n.isMaster() || (n.flags & NODE_FAIL) !== 0) continue;
      const ok = st.workingReplicas(n);
      if (ok === 0 && n.numSlots > 0 && (n.flags & NODE_MIGRATE_TO) !== 0) orphaned++;
      if (ok > maxReplicas) maxReplicas = ok;
      if (n === mine) myReplicas = ok;
    }
    if (orphaned === 0 || maxReplicas < 2 || myReplicas !== maxReplicas || !st.ok) return;
    let healthy = 0;
    for (const r of st.nodes.values()) if (r.replicaOf === mine.name && !r.failing()) healthy++;
    if (healthy <= this.settings.migrationBarrier()) return;
    let target: ClusterNode | null = null;
    let candidate = me;
    const now = this.now();
    for (const n of st.nodes.values()) {
      const ok = n.isMaster() ? st.workingReplicas(n) : 0;
      const isOrphaned = n.isMaster() && (n.flags & NODE_FAIL) === 0 && (n.flags & NODE_MIGRATE_TO) !== 0 && ok === 0;
      if (isOrphaned) {
        if (target === null && n.numSlots > 0) target = n;
        if (n.orphanedTime === 0) n.orphanedTime = now;
      } else n.orphanedTime = 0;
      if (ok === maxReplicas) for (const r of st.nodes.values()) if (r.replicaOf === n.name && r.name < candidate.name) candidate = r;
    }
    if (target === null || candidate !== me || now - target.orphanedTime <= MIGRATION_DELAY) return;
    this.events.log('warning', `Migrating to orphaned master ${target.name}`);
    this.setMaster(target);
    this.events.save();
  }

  /** The promotion (Redis's clusterFailoverReplaceYourMaster): master role, the old master's slots, everyone told at once. */
  private replaceMaster(): void {
    const st = this.st;
    const me = st.myself;
    const old = st.masterOf(me);
    if (me.isMaster() || old === null) return;
    me.flags = (me.flags & ~NODE_SLAVE) | NODE_MASTER;
    me.replicaOf = null;
    this.repl.unsetMaster();
    for (let j = 0; j < CLUSTER_SLOTS; j++) if (old.hasSlot(j)) st.addSlot(me, j);
    st.updateState(this.settings.requireFullCoverage());
    this.events.save(true);
    this.bus.broadcastPong();
    this.reset();
  }

  /** A master's vote for a replica's election (Redis's clusterSendFailoverAuthIfNeeded). */
  private voteIfNeeded(node: ClusterNode, m: BusMessage): void {
    const st = this.st;
    const me = st.myself;
    if (!me.isMaster() || me.numSlots === 0) return;
    const master = st.masterOf(node);
    const deny = (why: string): void => this.events.log('warning', `Failover auth denied to ${node.name}: ${why}`);
    if (m.currentEpoch < st.currentEpoch) return deny(`reqEpoch (${m.currentEpoch}) < curEpoch(${st.currentEpoch})`);
    if (st.lastVoteEpoch === st.currentEpoch) return deny(`already voted for epoch ${st.currentEpoch}`);
    if (node.isMaster()) return deny('it is a master node');
    if (master === null) return deny("I don't know its master");
    if ((master.flags & NODE_FAIL) === 0 && (m.mflags & MFLAG_FORCEACK) === 0) return deny('its master is up');
    const now = this.now();
    const wait = this.settings.nodeTimeout() * 2 - (now - master.votedTime);
    if (wait > 0) return deny(`can't vote about this master before ${wait} milliseconds`);
    // Every slot it claims must not be served by a master with a newer configuration.
    for (let j = 0; j < CLUSTER_SLOTS; j++) {
      if ((m.slots[j >> 3]! & (1 << (j & 7))) === 0) continue;
      const owner = st.owner[j];
      if (owner === null || owner === undefined || owner.configEpoch <= m.configEpoch) continue;
      return deny(`slot ${j} epoch (${owner.configEpoch}) > reqEpoch (${m.configEpoch})`);
    }
    st.lastVoteEpoch = st.currentEpoch;
    master.votedTime = now;
    this.events.save(true);
    this.bus.sendHeader(node, MSG_FAILOVER_AUTH_ACK);
    this.events.log('warning', `Failover auth granted to ${node.name} for epoch ${st.currentEpoch}`);
  }
}
