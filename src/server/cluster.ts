/**
 * Cluster mode (`cluster-enabled yes`): the node table loaded from nodes.conf, the bus, the
 * slot check on every keyed command, and the CLUSTER commands with Redis 7.0's replies and
 * errors. Outside cluster mode only INFO's `cluster_enabled:0` comes from here (the
 * standalone refusals stay in standalone-commands.ts).
 */
import { Buffer } from 'node:buffer';
import { isAbsolute, join } from 'node:path';
import { CMD } from '../commands/ids.generated.js';
import { internalId } from '../commands/internal.js';
import type { Acceptor, LocalHandler } from '../io/acceptor.js';
import { bulkArray } from '../io/coordinator.js';
import type { Connection } from '../io/connection.js';
import type { ParsedCommand } from '../wire/resp-parser.js';
import { RespWriter, R_OK } from '../wire/resp-writer.js';
import { isKeyword, parseSafeInt } from '../wire/bytes.js';
import { keySlot } from '../wire/key-slot.js';
import * as F from '../wire/frames.js';
import {
  E_CLUSTER_BAD_SLOT,
  E_CLUSTER_EPOCH_ALONE,
  E_CLUSTER_EPOCH_NONZERO,
  E_CLUSTER_FLUSHSLOTS,
  E_CLUSTER_FORGET_MASTER,
  E_CLUSTER_FORGET_MYSELF,
  E_CLUSTER_INVALID_SLOT,
  E_CLUSTER_NOT_MASTER,
  E_CLUSTER_REPLICAOF,
  E_CLUSTER_REPLICAS_OF_REPLICA,
  E_CLUSTER_REPLICATE_MYSELF,
  E_CLUSTER_REPLICATE_NOT_EMPTY,
  E_CLUSTER_REPLICATE_REPLICA,
  E_CLUSTER_RESET_KEYS,
  E_CLUSTER_SELECT,
  E_CLUSTER_SETSLOT_REPLICA,
  E_CLUSTER_SETSLOT_SYNTAX,
  E_CLUSTER_SLOT_OR_KEYS,
  E_CLUSTER_SWAPDB,
  E_NOT_INT,
  E_SYNTAX,
  clusterAlreadyOwner,
  clusterBadAddress,
  clusterBadEpoch,
  clusterBadPort,
  clusterNotOwner,
  clusterRangeOrder,
  clusterSaveFailed,
  clusterSlotBusy,
  clusterSlotHasKeys,
  clusterSlotTwice,
  clusterSlotUnassigned,
  clusterUnknownNode,
  wrongArityError,
} from '../wire/error-text.js';
import type { Logger } from '../log.js';
import { ClusterBus } from '../cluster/bus.js';
import { CLUSTER_SLOTS, ClusterState, MESSAGE_NAMES, NODE_FAIL, NODE_PFAIL, type ClusterNode } from '../cluster/node-table.js';
import { nodeLine, nodesText, replicasOf, writeShards, writeSlots } from '../cluster/node-description.js';
import { loadNodesConf, saveNodesConf } from '../cluster/nodes-conf.js';
import { CLUSTER_HELP } from '../cluster/help-text.js';
import { ConfigError } from '../errors.js';
import { registerInfoSection } from './info.js';
import { ClusterRouter } from './cluster-router.js';
import { BLACKLIST_TTL_MS } from '../cluster/bus.js';
import { Failover, type ReplicationControl } from '../cluster/failover.js';
import type { ReplicaSide } from './repl-replica.js';
import type { Replication } from './replication.js';

/** Redis's CLUSTER_PORT_INCR: the default bus port is the client port plus this. */
const PORT_INCR = 10000;

/** The parts of the server configuration cluster mode reads. */
export interface ClusterConfig {
  get(name: string): string;
  num(name: string): number;
  onChange(name: string, fn: (v: string) => void): void;
}

/** A running cluster node's bus, stopped with the server. */
export interface RunningCluster {
  readonly state: ClusterState;
  readonly bus: ClusterBus;
  /** Starts the bus once the client port is known. */
  start(): Promise<void>;
  close(): Promise<void>;
}

function text(cmd: ParsedCommand, i: number): string {
  return Buffer.from(cmd.buf.subarray(cmd.argStart[i]!, cmd.argStart[i]! + cmd.argLen[i]!)).toString('latin1');
}

function int(cmd: ParsedCommand, i: number): number | null {
  return parseSafeInt(cmd.buf, cmd.argStart[i]!, cmd.argLen[i]!);
}

function is(cmd: ParsedCommand, i: number, upper: string): boolean {
  return isKeyword(cmd.buf, cmd.argStart[i]!, cmd.argLen[i]!, upper);
}

/** INFO's cluster section, in either mode. */
export function installClusterInfo(a: Acceptor, enabled: boolean): void {
  registerInfoSection(a, 'cluster', () => [`cluster_enabled:${enabled ? 1 : 0}`]);
}

/** The server's replication as cluster mode drives it: both sides, installed before cluster mode. */
export interface ClusterReplicationSides {
  replication: Replication;
  replica: ReplicaSide;
}

/** Failover's handle on replication: REPLICAOF host port / NO ONE, the link's age, and a pause of client writes. */
function replicationControl(a: Acceptor, sides: ClusterReplicationSides): ReplicationControl {
  /** The pause end this module set (0: none), so it never lifts a CLIENT PAUSE of someone else. */
  let paused = 0;
  return {
    setMaster: (host, port) => sides.replica.setMaster(host, port),
    unsetMaster: () => sides.replica.unsetMaster(),
    active: () => sides.replica.active,
    dataAge: () => sides.replica.dataAge(),
    pauseWrites: async (until) => {
      if (until > 0) {
        if (a.pauseUntil === 0) a.pauseAll = false;
        a.pauseUntil = Math.max(a.pauseUntil, until);
        paused = a.pauseUntil;
        // Shard rings are FIFO: once every shard answered a read, the writes sent before the pause have run and propagated.
        await a.coordinator.callAll(0, internalId('__countslot'), [Buffer.from('__countslot'), Buffer.from('0')]);
        return;
      }
      if (paused !== 0 && a.pauseUntil === paused) {
        a.pauseUntil = 0;
        a.releaseStalled();
      }
      paused = 0;
    },
  };
}

const DEL = Buffer.from('DEL');
/** Keys fetched and deleted per round trip when a slot's keys are dropped. */
const DELETE_BATCH = 1000;

/**
 * Deletes database 0's keys in `slots` (Redis's delKeysInSlot, after an UPDATE gave them to another master):
 * as the server's own DELs, so they reach the AOF and replicas, notify and touch WATCH and tracking like any DEL.
 */
async function deleteSlotKeys(a: Acceptor, slots: number[]): Promise<void> {
  const co = a.coordinator;
  for (const slot of slots) {
    const shard = slot % a.shards.length;
    for (;;) {
      const reply = await co.call(shard, 0, internalId('__slotkeys'), [
        Buffer.from('__slotkeys'),
        Buffer.from(String(slot)),
        Buffer.from(String(DELETE_BATCH)),
      ]);
      const keys = bulkArray(reply).filter((k): k is Buffer => k !== null);
      if (keys.length === 0) break;
      const argv = [DEL, ...keys];
      await co.call(shard, 0, CMD.DEL, argv, 0, 0, co.logEntry(0, CMD.DEL, argv));
    }
  }
}

/** Sets up cluster mode on the acceptor: loads (or creates) nodes.conf and installs the commands and the slot check. */
export function installCluster(
  a: Acceptor,
  config: ClusterConfig,
  log: Logger,
  deliver: (channel: Buffer, message: Buffer, shard: boolean) => void,
  sides: ClusterReplicationSides,
): RunningCluster {
  // A node's master is the cluster's to say (nodes.conf), never the config file's, as in Redis.
  if (config.get('replicaof') !== '') throw new ConfigError('replicaof directive not allowed in cluster mode');
  const st = new ClusterState();
  st.myOffset = () => (sides.replica.active ? sides.replica.offset() : sides.replication.state.offset);
  const file = config.get('cluster-config-file');
  const path = isAbsolute(file) ? file : join(config.get('dir'), file);
  const loaded = loadNodesConf(path, st);
  if (typeof loaded === 'string') throw new ConfigError(loaded);
  if (loaded) log.info(`Node configuration loaded, I'm ${st.myself.name}`);
  else log.info(`No cluster configuration found, I'm ${st.myself.name}`);

  let saveQueued = false;
  const saveNow = (fsync = false): string | null => {
    try {
      saveNodesConf(path, st, fsync);
      return null;
    } catch (e) {
      log.warn(`Could not save the cluster config file ${path}: ${(e as Error).message}`);
      return (e as Error).message;
    }
  };
  // Many changes in one tick write the file once, after that tick's replies: a SETSLOT's reply does not wait for
  // the file's write and rename (a reshard sends four per slot, one at a time). Epochs and votes use saveNow(true).
  const save = (): void => {
    if (saveQueued) return;
    saveQueued = true;
    a.afterReplies(() => {
      saveQueued = false;
      saveNow();
    });
  };
  const fullCoverage = (): boolean => config.get('cluster-require-full-coverage') === 'yes';
  const busPort = (): number => config.num('cluster-port') || a.port + PORT_INCR;
  const refreshMyself = (): void => {
    const me = st.myself;
    me.port = config.num('cluster-announce-port') || a.port;
    me.cport = config.num('cluster-announce-bus-port') || busPort();
    me.hostname = config.get('cluster-announce-hostname');
    const ip = config.get('cluster-announce-ip');
    if (ip !== '') me.ip = ip;
  };

  const bus = new ClusterBus(
    st,
    {
      nodeTimeout: () => config.num('cluster-node-timeout'),
      port: () => st.myself.port,
      busPort,
      announcedBusPort: () => st.myself.cport,
      announceIp: () => config.get('cluster-announce-ip'),
      hostname: () => config.get('cluster-announce-hostname'),
      requireFullCoverage: fullCoverage,
      allowReplicaMigration: () => config.get('cluster-allow-replica-migration') === 'yes',
    },
    {
      save,
      publish: deliver,
      log: (level, t) => (level === 'warning' ? log.warn(t) : log.info(t)),
      lostSlots: (slots) => void deleteSlotKeys(a, slots),
    },
  );
  const failover = new Failover(
    st,
    bus,
    {
      nodeTimeout: () => config.num('cluster-node-timeout'),
      validityFactor: () => config.num('cluster-replica-validity-factor'),
      replPingPeriodMs: () => config.num('repl-ping-replica-period') * 1000,
      noFailover: () => config.get('cluster-replica-no-failover') === 'yes',
      allowReplicaMigration: () => config.get('cluster-allow-replica-migration') === 'yes',
      migrationBarrier: () => config.num('cluster-migration-barrier'),
      requireFullCoverage: fullCoverage,
    },
    replicationControl(a, sides),
    {
      // Epochs and votes reach the disk before they count, as Redis fsyncs them.
      save: (fsync = false) => (fsync ? saveNow(true) : save()),
      log: (level, t) => (level === 'warning' ? log.warn(t) : log.info(t)),
    },
  );
  bus.failover = failover;
  for (const name of ['cluster-announce-port', 'cluster-announce-bus-port', 'cluster-announce-hostname', 'cluster-announce-ip'])
    config.onChange(name, () => {
      refreshMyself();
      save();
    });
  config.onChange('cluster-require-full-coverage', () => st.updateState(fullCoverage()));

  a.cluster = new ClusterRouter(a, st);
  installClusterInfo(a, true);
  const h = a.local;
  const co = a.coordinator;
  const endpointType = (): string => config.get('cluster-preferred-endpoint-type');
  const changed = (): void => {
    st.updateState(fullCoverage());
    save();
  };

  /** Replies to `seq` once `reply` resolves (the connection waits, in order). */
  const later = (conn: Connection, seq: number, reply: Promise<Uint8Array>): void => {
    a.park(conn);
    void reply.then((r) => {
      if (!conn.closed && conn.deliver(seq, r, 0, r.length)) a.markDirty(conn);
      a.releaseStalled();
    });
  };
  const writer = (conn: Connection): RespWriter => {
    const w = new RespWriter(256);
    w.proto = conn.proto;
    return w;
  };
  const done = (w: RespWriter): Uint8Array => w.bytes.slice(0, w.len);
  const countInSlot = async (slot: number): Promise<number> => {
    const r = await co.call(slot % a.shards.length, 0, internalId('__countslot'), [Buffer.from('__countslot'), Buffer.from(String(slot))]);
    return Number(Buffer.from(r.subarray(1, r.indexOf(13))).toString('latin1'));
  };
  const dbKeys = (): number => {
    let n = 0;
    for (const link of a.shards) n += link.stats[F.ST_KEYS]!;
    return n;
  };
  /** A slot argument (Redis's getSlotOrReply), or -1 after replying the error. */
  const slotArg = (conn: Connection, seq: number, cmd: ParsedCommand, i: number): number => {
    const v = int(cmd, i);
    if (v === null || v < 0 || v >= CLUSTER_SLOTS) {
      a.replyError(conn, seq, E_CLUSTER_BAD_SLOT);
      return -1;
    }
    return v;
  };
  const node = (cmd: ParsedCommand, i: number): ClusterNode | undefined => st.nodes.get(text(cmd, i));
  const status = (conn: Connection, seq: number, s: string): void => {
    a.startReply(conn).simple(s);
    a.replyW(conn, seq);
  };

  h[CMD.ASKING] = (conn, seq) => {
    conn.asking = true;
    a.replyConst(conn, seq, R_OK);
  };
  h[CMD.READONLY] = (conn, seq) => {
    conn.readOnly = true;
    a.replyConst(conn, seq, R_OK);
  };
  h[CMD.READWRITE] = (conn, seq) => {
    conn.readOnly = false;
    a.replyConst(conn, seq, R_OK);
  };
  const select = h[CMD.SELECT];
  h[CMD.SELECT] = (conn, seq, cmd) => {
    const db = int(cmd, 1);
    if (db !== null && db !== 0) return a.replyError(conn, seq, E_CLUSTER_SELECT);
    select?.(conn, seq, cmd);
  };
  h[CMD.SWAPDB] = (conn, seq) => a.replyError(conn, seq, E_CLUSTER_SWAPDB);
  // A node's master is CLUSTER REPLICATE's to choose.
  h[CMD.REPLICAOF] = (conn, seq) => a.replyError(conn, seq, E_CLUSTER_REPLICAOF);
  h[CMD.SLAVEOF] = h[CMD.REPLICAOF];
  const reset = h[CMD.RESET];
  h[CMD.RESET] = (conn, seq, cmd) => {
    conn.asking = false;
    conn.readOnly = false;
    reset?.(conn, seq, cmd);
  };
  // A script's PUBLISH too.
  const deliverLocal = a.hooks.publish;
  a.hooks.publish = (channel, message) => {
    const n = deliverLocal(channel, message);
    bus.publish(channel, message, false);
    return n;
  };
  // PUBLISH goes to every node over the bus, SPUBLISH to the nodes of this shard (its replicas), as Redis sends them.
  for (const [id, shard] of [
    [CMD.PUBLISH, false],
    [CMD.SPUBLISH, true],
  ] as const) {
    const publish = h[id];
    h[id] = (conn, seq, cmd) => {
      publish?.(conn, seq, cmd);
      bus.publish(
        cmd.buf.subarray(cmd.argStart[1]!, cmd.argStart[1]! + cmd.argLen[1]!),
        cmd.buf.subarray(cmd.argStart[2]!, cmd.argStart[2]! + cmd.argLen[2]!),
        shard,
      );
    };
  }

  h[CMD.CLUSTER_HELP] = (conn, seq) => {
    const w = a.startReply(conn);
    w.arrayHeader(CLUSTER_HELP.length);
    for (const l of CLUSTER_HELP) w.simple(l);
    a.replyW(conn, seq);
  };
  h[CMD.CLUSTER_MYID] = (conn, seq) => {
    a.startReply(conn).bulkString(st.myself.name);
    a.replyW(conn, seq);
  };
  h[CMD.CLUSTER_KEYSLOT] = (conn, seq, cmd) => {
    a.startReply(conn).int(keySlot(cmd.buf, cmd.argStart[2]!, cmd.argLen[2]!));
    a.replyW(conn, seq);
  };
  h[CMD.CLUSTER_NODES] = (conn, seq) => {
    a.startReply(conn).verbatim(nodesText(st));
    a.replyW(conn, seq);
  };
  h[CMD.CLUSTER_SLOTS] = (conn, seq) => {
    writeSlots(a.startReply(conn), st, endpointType());
    a.replyW(conn, seq);
  };
  h[CMD.CLUSTER_SHARDS] = (conn, seq) => {
    writeShards(a.startReply(conn), st, endpointType());
    a.replyW(conn, seq);
  };
  h[CMD.CLUSTER_INFO] = (conn, seq) => {
    a.startReply(conn).verbatim(infoText(st));
    a.replyW(conn, seq);
  };
  h[CMD.CLUSTER_COUNTKEYSINSLOT] = (conn, seq, cmd) => {
    const slot = int(cmd, 2);
    if (slot === null) return a.replyError(conn, seq, E_NOT_INT);
    if (slot < 0 || slot >= CLUSTER_SLOTS) return a.replyError(conn, seq, E_CLUSTER_INVALID_SLOT);
    later(
      conn,
      seq,
      countInSlot(slot).then((n) => {
        const w = writer(conn);
        w.int(n);
        return done(w);
      }),
    );
  };
  h[CMD.CLUSTER_GETKEYSINSLOT] = (conn, seq, cmd) => {
    const slot = int(cmd, 2);
    const count = int(cmd, 3);
    if (slot === null || count === null) return a.replyError(conn, seq, E_NOT_INT);
    if (slot < 0 || slot >= CLUSTER_SLOTS || count < 0) return a.replyError(conn, seq, E_CLUSTER_SLOT_OR_KEYS);
    later(
      conn,
      seq,
      co.call(slot % a.shards.length, 0, internalId('__slotkeys'), [
        Buffer.from('__slotkeys'),
        Buffer.from(String(slot)),
        Buffer.from(String(count)),
      ]),
    );
  };

  /** ADDSLOTS/DELSLOTS and their RANGE forms: every slot is checked before any changes. */
  const slotsCommand = (add: boolean, ranges: boolean): LocalHandler => {
    return (conn, seq, cmd) => {
      if (ranges && cmd.argc % 2 === 1)
        return a.replyError(conn, seq, wrongArityError(add ? 'cluster|addslotsrange' : 'cluster|delslotsrange'));
      const slots: number[] = [];
      if (ranges) {
        for (let i = 2; i < cmd.argc; i += 2) {
          const s = slotArg(conn, seq, cmd, i);
          if (s < 0) return;
          const e = slotArg(conn, seq, cmd, i + 1);
          if (e < 0) return;
          if (s > e) return a.replyError(conn, seq, clusterRangeOrder(s, e));
          for (let j = s; j <= e; j++) slots.push(j);
        }
      } else {
        for (let i = 2; i < cmd.argc; i++) {
          const s = slotArg(conn, seq, cmd, i);
          if (s < 0) return;
          slots.push(s);
        }
      }
      const seen = new Uint8Array(CLUSTER_SLOTS);
      for (const s of slots) {
        if (add && st.owner[s] !== null) return a.replyError(conn, seq, clusterSlotBusy(s));
        if (!add && st.owner[s] === null) return a.replyError(conn, seq, clusterSlotUnassigned(s));
        if (seen[s] === 1) return a.replyError(conn, seq, clusterSlotTwice(s));
        seen[s] = 1;
      }
      for (const s of slots) {
        if (add) {
          st.importingFrom[s] = null;
          st.addSlot(st.myself, s);
        } else st.delSlot(s);
      }
      changed();
      a.replyConst(conn, seq, R_OK);
    };
  };
  h[CMD.CLUSTER_ADDSLOTS] = slotsCommand(true, false);
  h[CMD.CLUSTER_ADDSLOTSRANGE] = slotsCommand(true, true);
  h[CMD.CLUSTER_DELSLOTS] = slotsCommand(false, false);
  h[CMD.CLUSTER_DELSLOTSRANGE] = slotsCommand(false, true);

  h[CMD.CLUSTER_FLUSHSLOTS] = (conn, seq) => {
    if (dbKeys() !== 0) return a.replyError(conn, seq, E_CLUSTER_FLUSHSLOTS);
    st.delNodeSlots(st.myself);
    changed();
    a.replyConst(conn, seq, R_OK);
  };

  h[CMD.CLUSTER_SETSLOT] = (conn, seq, cmd) => {
    if (!st.myself.isMaster()) return a.replyError(conn, seq, E_CLUSTER_SETSLOT_REPLICA);
    const slot = slotArg(conn, seq, cmd, 2);
    if (slot < 0) return;
    if (is(cmd, 3, 'MIGRATING') && cmd.argc === 5) {
      if (st.owner[slot] !== st.myself) return a.replyError(conn, seq, clusterNotOwner(slot));
      const n = node(cmd, 4);
      if (n === undefined) return a.replyError(conn, seq, clusterUnknownNode(text(cmd, 4), true));
      if (!n.isMaster()) return a.replyError(conn, seq, E_CLUSTER_NOT_MASTER);
      st.migratingTo[slot] = n;
    } else if (is(cmd, 3, 'IMPORTING') && cmd.argc === 5) {
      if (st.owner[slot] === st.myself) return a.replyError(conn, seq, clusterAlreadyOwner(slot));
      const n = node(cmd, 4);
      if (n === undefined) return a.replyError(conn, seq, clusterUnknownNode(text(cmd, 4), true));
      if (!n.isMaster()) return a.replyError(conn, seq, E_CLUSTER_NOT_MASTER);
      st.importingFrom[slot] = n;
    } else if (is(cmd, 3, 'STABLE') && cmd.argc === 4) {
      st.migratingTo[slot] = null;
      st.importingFrom[slot] = null;
    } else if (is(cmd, 3, 'NODE') && cmd.argc === 5) {
      const n = node(cmd, 4);
      if (n === undefined) return a.replyError(conn, seq, clusterUnknownNode(text(cmd, 4)));
      if (!n.isMaster()) return a.replyError(conn, seq, E_CLUSTER_NOT_MASTER);
      const assign = (keys: number): string | null => {
        if (st.owner[slot] === st.myself && n !== st.myself && keys !== 0) return clusterSlotHasKeys(slot);
        if (keys === 0) st.migratingTo[slot] = null;
        st.addSlot(n, slot);
        if (n === st.myself && st.importingFrom[slot] !== null) {
          // The new owner claims the slot with a new epoch, so its claim wins everywhere.
          if (st.bumpEpoch()) {
            save();
            log.info(`configEpoch updated after importing slot ${slot}`);
          }
          st.importingFrom[slot] = null;
          st.refreshSlot(slot);
          bus.broadcastPong();
        }
        changed();
        return null;
      };
      // Only a slot served or migrated from here needs its keys counted (a shard round trip).
      if (st.owner[slot] !== st.myself && st.migratingTo[slot] === null) {
        assign(1);
        return a.replyConst(conn, seq, R_OK);
      }
      later(
        conn,
        seq,
        countInSlot(slot).then((keys) => {
          const w = writer(conn);
          const err = assign(keys);
          if (err !== null) w.error(err);
          else w.constant(R_OK);
          return done(w);
        }),
      );
      return;
    } else return a.replyError(conn, seq, E_CLUSTER_SETSLOT_SYNTAX);
    st.refreshSlot(slot);
    changed();
    a.replyConst(conn, seq, R_OK);
  };

  h[CMD.CLUSTER_BUMPEPOCH] = (conn, seq) => {
    const bumped = st.bumpEpoch();
    if (bumped) save();
    status(conn, seq, `${bumped ? 'BUMPED' : 'STILL'} ${st.myself.configEpoch}`);
  };
  h[CMD.CLUSTER_SET_CONFIG_EPOCH] = (conn, seq, cmd) => {
    const epoch = int(cmd, 2);
    if (epoch === null) return a.replyError(conn, seq, E_NOT_INT);
    if (epoch < 0) return a.replyError(conn, seq, clusterBadEpoch(text(cmd, 2)));
    if (st.nodes.size > 1) return a.replyError(conn, seq, E_CLUSTER_EPOCH_ALONE);
    if (st.myself.configEpoch !== 0) return a.replyError(conn, seq, E_CLUSTER_EPOCH_NONZERO);
    st.myself.configEpoch = epoch;
    if (st.currentEpoch < epoch) st.currentEpoch = epoch;
    changed();
    a.replyConst(conn, seq, R_OK);
  };

  h[CMD.CLUSTER_MEET] = (conn, seq, cmd) => {
    const port = int(cmd, 3);
    if (port === null) return a.replyError(conn, seq, clusterBadPort(text(cmd, 3), false));
    let cport = port + PORT_INCR;
    if (cmd.argc === 5) {
      const c = int(cmd, 4);
      if (c === null) return a.replyError(conn, seq, clusterBadPort(text(cmd, 4), true));
      cport = c;
    }
    const ip = text(cmd, 2);
    const valid =
      (ip.includes(':')
        ? /^[0-9a-fA-F:.]+$/.test(ip)
        : /^\d{1,3}(\.\d{1,3}){3}$/.test(ip) && ip.split('.').every((p) => Number(p) <= 255)) &&
      port > 0 &&
      port <= 65535 &&
      cport > 0 &&
      cport <= 65535;
    if (!valid) return a.replyError(conn, seq, clusterBadAddress(ip, text(cmd, 3)));
    // Already meeting that address: nothing more to do, as in Redis.
    bus.meet(ip, port, cport);
    a.replyConst(conn, seq, R_OK);
  };

  h[CMD.CLUSTER_FORGET] = (conn, seq, cmd) => {
    const n = node(cmd, 2);
    if (n === undefined) return a.replyError(conn, seq, clusterUnknownNode(text(cmd, 2)));
    if (n === st.myself) return a.replyError(conn, seq, E_CLUSTER_FORGET_MYSELF);
    if (st.myself.replicaOf === n.name) return a.replyError(conn, seq, E_CLUSTER_FORGET_MASTER);
    st.blacklist.set(n.name, Date.now() + BLACKLIST_TTL_MS);
    bus.forget(n);
    changed();
    a.replyConst(conn, seq, R_OK);
  };

  h[CMD.CLUSTER_COUNT_FAILURE_REPORTS] = (conn, seq, cmd) => {
    const n = node(cmd, 2);
    if (n === undefined) return a.replyError(conn, seq, clusterUnknownNode(text(cmd, 2)));
    const validity = config.num('cluster-node-timeout') * 2;
    const now = Date.now();
    let count = 0;
    for (const t of n.failReports.values()) if (now - t <= validity) count++;
    a.startReply(conn).int(count);
    a.replyW(conn, seq);
  };

  h[CMD.CLUSTER_RESET] = (conn, seq, cmd) => {
    let hard = false;
    if (cmd.argc === 3) {
      if (is(cmd, 2, 'HARD')) hard = true;
      else if (!is(cmd, 2, 'SOFT')) return a.replyError(conn, seq, E_SYNTAX);
    }
    if (st.myself.isMaster() && dbKeys() !== 0) return a.replyError(conn, seq, E_CLUSTER_RESET_KEYS);
    const wasReplica = !st.myself.isMaster();
    failover.reset();
    for (const n of [...st.nodes.values()]) if (n !== st.myself) bus.forget(n);
    st.reset(hard);
    refreshMyself();
    changed();
    if (!wasReplica) return a.replyConst(conn, seq, R_OK);
    // A replica becomes an empty master.
    sides.replica.unsetMaster();
    later(
      conn,
      seq,
      co.callAll(0, CMD.FLUSHALL, [Buffer.from('FLUSHALL')]).then(() => R_OK),
    );
  };

  h[CMD.CLUSTER_SAVECONFIG] = (conn, seq) => {
    const err = saveNow(true);
    if (err !== null) return a.replyError(conn, seq, clusterSaveFailed(err));
    a.replyConst(conn, seq, R_OK);
  };

  const replicas: LocalHandler = (conn, seq, cmd) => {
    const n = node(cmd, 2);
    if (n === undefined) return a.replyError(conn, seq, clusterUnknownNode(text(cmd, 2)));
    if (!n.isMaster()) return a.replyError(conn, seq, E_CLUSTER_REPLICAS_OF_REPLICA);
    const reps = replicasOf(st, n);
    const w = a.startReply(conn);
    w.arrayHeader(reps.length);
    for (const r of reps) w.bulkString(nodeLine(st, r));
    a.replyW(conn, seq);
  };
  h[CMD.CLUSTER_REPLICAS] = replicas;
  h[CMD.CLUSTER_SLAVES] = replicas;
  h[CMD.CLUSTER_FAILOVER] = (conn, seq, cmd) => {
    if (cmd.argc > 3) return a.replyError(conn, seq, E_SYNTAX);
    let mode: 'default' | 'force' | 'takeover' = 'default';
    if (cmd.argc === 3) {
      if (is(cmd, 2, 'FORCE')) mode = 'force';
      else if (is(cmd, 2, 'TAKEOVER')) mode = 'takeover';
      else return a.replyError(conn, seq, E_SYNTAX);
    }
    const err = failover.manual(mode);
    if (err !== null) return a.replyError(conn, seq, err);
    a.replyConst(conn, seq, R_OK);
  };
  h[CMD.CLUSTER_REPLICATE] = (conn, seq, cmd) => {
    const n = node(cmd, 2);
    if (n === undefined) return a.replyError(conn, seq, clusterUnknownNode(text(cmd, 2)));
    if (n === st.myself) return a.replyError(conn, seq, E_CLUSTER_REPLICATE_MYSELF);
    if (!n.isMaster()) return a.replyError(conn, seq, E_CLUSTER_REPLICATE_REPLICA);
    // A master must hold nothing to become a replica; a replica may switch masters freely.
    if (st.myself.isMaster() && (st.myself.numSlots !== 0 || dbKeys() !== 0)) return a.replyError(conn, seq, E_CLUSTER_REPLICATE_NOT_EMPTY);
    failover.setMaster(n);
    changed();
    a.replyConst(conn, seq, R_OK);
  };

  h[CMD.CLUSTER_LINKS] = (conn, seq) => {
    const w = a.startReply(conn);
    const rows: { dir: string; node: ClusterNode; ctime: number; pending: number }[] = [];
    for (const [n, l] of bus.links) if (l.connected) rows.push({ dir: 'to', node: n, ctime: l.ctime, pending: l.pending() });
    for (const l of bus.inbound) if (l.peer !== null) rows.push({ dir: 'from', node: l.peer, ctime: l.ctime, pending: l.pending() });
    w.arrayHeader(rows.length);
    for (const r of rows) {
      w.mapHeader(6);
      w.bulkString('direction');
      w.bulkString(r.dir);
      w.bulkString('node');
      w.bulkString(r.node.name);
      w.bulkString('create-time');
      w.int(r.ctime);
      w.bulkString('events');
      w.bulkString(r.pending > 0 ? 'rw' : 'r');
      w.bulkString('send-buffer-allocated');
      w.int(r.pending);
      w.bulkString('send-buffer-used');
      w.int(r.pending);
    }
    a.replyW(conn, seq);
  };

  return {
    state: st,
    bus,
    start: async () => {
      if (a.port + PORT_INCR > 65535 && config.num('cluster-port') === 0)
        throw new ConfigError(
          'Redis port number too high. Cluster communication port is 10,000 port numbers higher than your Redis port. Your Redis port number must be 55535 or less.',
        );
      refreshMyself();
      st.updateState(fullCoverage());
      saveNow();
      await bus.start(config.get('bind').split(/\s+/).filter(Boolean)[0] ?? '0.0.0.0');
    },
    close: () => bus.close(),
  };

  function infoText(s: ClusterState): string {
    let assigned = 0;
    let ok = 0;
    let pfail = 0;
    let fail = 0;
    for (let i = 0; i < CLUSTER_SLOTS; i++) {
      const n = s.owner[i];
      if (n === null || n === undefined) continue;
      assigned++;
      if ((n.flags & NODE_FAIL) !== 0) fail++;
      else if ((n.flags & NODE_PFAIL) !== 0) pfail++;
      else ok++;
    }
    const me = s.myself;
    const master = me.replicaOf !== null ? s.nodes.get(me.replicaOf) : undefined;
    const lines = [
      `cluster_state:${s.ok ? 'ok' : 'fail'}`,
      `cluster_slots_assigned:${assigned}`,
      `cluster_slots_ok:${ok}`,
      `cluster_slots_pfail:${pfail}`,
      `cluster_slots_fail:${fail}`,
      `cluster_known_nodes:${s.nodes.size}`,
      `cluster_size:${s.size()}`,
      `cluster_current_epoch:${s.currentEpoch}`,
      `cluster_my_epoch:${master !== undefined ? master.configEpoch : me.configEpoch}`,
    ];
    let sent = 0;
    let received = 0;
    for (let i = 0; i < MESSAGE_NAMES.length; i++) {
      if (s.sent[i]! > 0) lines.push(`cluster_stats_messages_${MESSAGE_NAMES[i]}_sent:${s.sent[i]}`);
      sent += s.sent[i]!;
    }
    lines.push(`cluster_stats_messages_sent:${sent}`);
    for (let i = 0; i < MESSAGE_NAMES.length; i++) {
      if (s.received[i]! > 0) lines.push(`cluster_stats_messages_${MESSAGE_NAMES[i]}_received:${s.received[i]}`);
      received += s.received[i]!;
    }
    lines.push(`cluster_stats_messages_received:${received}`);
    lines.push('total_cluster_links_buffer_limit_exceeded:0');
    return `${lines.join('\r\n')}\r\n`;
  }
}
