/**
 * How nodes are described to clients and on disk: CLUSTER NODES lines (also nodes.conf's
 * lines, Redis's clusterGenNodeDescription), CLUSTER SLOTS and CLUSTER SHARDS replies.
 */
import type { RespWriter } from '../wire/resp-writer.js';
import { CLUSTER_SLOTS, type ClusterNode, type ClusterState, NODE_FAIL, NODE_MYSELF, NODE_SLAVE, flagWords } from './node-table.js';

/** The `ip:port@cport[,hostname]` field. */
export function nodeAddress(n: ClusterNode): string {
  return `${n.ip}:${n.port}@${n.cport}${n.hostname !== '' ? `,${n.hostname}` : ''}`;
}

/** Runs of consecutive slots owned by `n`, as [start, end] pairs; whole bytes of the bitmap are skipped at once. */
export function slotRanges(n: ClusterNode): number[] {
  const out: number[] = [];
  const bits = n.slots;
  let start = -1;
  for (let b = 0; b < bits.length; b++) {
    const v = bits[b]!;
    if ((v === 0 && start < 0) || (v === 0xff && start >= 0)) continue;
    for (let k = 0; k < 8; k++) {
      const has = (v & (1 << k)) !== 0;
      if (has && start < 0) start = b * 8 + k;
      else if (!has && start >= 0) {
        out.push(start, b * 8 + k - 1);
        start = -1;
      }
    }
  }
  if (start >= 0) out.push(start, CLUSTER_SLOTS - 1);
  return out;
}

/** One CLUSTER NODES line (without the newline); a replica shows its master's config epoch, as Redis prints it. */
export function nodeLine(st: ClusterState, n: ClusterNode): string {
  const myself = (n.flags & NODE_MYSELF) !== 0;
  const master = (n.flags & NODE_SLAVE) !== 0 ? st.masterOf(n) : null;
  const epoch = master !== null ? master.configEpoch : n.configEpoch;
  let s = `${n.name} ${nodeAddress(n)} ${flagWords(n.flags)} ${n.replicaOf ?? '-'} ${myself ? 0 : n.pingSent} ${n.pongReceived} ${epoch} ${myself || n.linkConnected ? 'connected' : 'disconnected'}`;
  const r = slotRanges(n);
  for (let i = 0; i < r.length; i += 2) s += r[i] === r[i + 1] ? ` ${r[i]}` : ` ${r[i]}-${r[i + 1]}`;
  if (myself) {
    for (let i = 0; i < CLUSTER_SLOTS; i++) {
      const to = st.migratingTo[i];
      if (to !== null && to !== undefined) s += ` [${i}->-${to.name}]`;
      const from = st.importingFrom[i];
      if (from !== null && from !== undefined) s += ` [${i}-<-${from.name}]`;
    }
  }
  return s;
}

/** CLUSTER NODES: every node, one line each ending in a newline. */
export function nodesText(st: ClusterState): string {
  let s = '';
  for (const n of st.nodes.values()) s += `${nodeLine(st, n)}\n`;
  return s;
}

/** Replicas of `master`. */
export function replicasOf(st: ClusterState, master: ClusterNode): ClusterNode[] {
  const out: ClusterNode[] = [];
  for (const n of st.nodes.values()) if (n.replicaOf === master.name) out.push(n);
  return out;
}

/** The address a client is sent to (Redis's getPreferredEndpoint). */
export function preferredEndpoint(n: ClusterNode, type: string): string {
  if (type === 'hostname') return n.hostname !== '' ? n.hostname : '?';
  if (type === 'unknown-endpoint') return '?';
  return n.ip;
}

function writeSlotNode(w: RespWriter, n: ClusterNode, endpointType: string): void {
  // The metadata map holds the networking names the endpoint did not use.
  const ip = endpointType !== 'ip';
  const hostname = endpointType !== 'hostname' && n.hostname !== '';
  w.arrayHeader(4);
  w.bulkString(preferredEndpoint(n, endpointType));
  w.int(n.port);
  w.bulkString(n.name);
  w.mapHeader((ip ? 1 : 0) + (hostname ? 1 : 0));
  if (ip) {
    w.bulkString('ip');
    w.bulkString(n.ip);
  }
  if (hostname) {
    w.bulkString('hostname');
    w.bulkString(n.hostname);
  }
}

/** CLUSTER SLOTS: [start, end, master, replicas...] per run of slots. */
export function writeSlots(w: RespWriter, st: ClusterState, endpointType: string): void {
  const entries: [number, number, ClusterNode][] = [];
  let start = -1;
  for (let i = 0; i <= CLUSTER_SLOTS; i++) {
    const n = i < CLUSTER_SLOTS ? st.owner[i]! : null;
    if (start >= 0 && (n !== st.owner[start] || i === CLUSTER_SLOTS)) {
      entries.push([start, i - 1, st.owner[start]!]);
      start = -1;
    }
    if (n !== null && start < 0) start = i;
  }
  w.arrayHeader(entries.length);
  for (const [a, b, n] of entries) {
    // Redis's isReplicaAvailable: not failed, and past its first sync (a non-zero offset).
    const reps = replicasOf(st, n).filter((r) => (r.flags & NODE_FAIL) === 0 && st.offsetOf(r) !== 0);
    w.arrayHeader(3 + reps.length);
    w.int(a);
    w.int(b);
    writeSlotNode(w, n, endpointType);
    for (const r of reps) writeSlotNode(w, r, endpointType);
  }
}

function writeShardNode(w: RespWriter, st: ClusterState, n: ClusterNode, endpointType: string): void {
  const offset = st.offsetOf(n);
  const hostname = n.hostname !== '';
  w.mapHeader(hostname ? 8 : 7);
  w.bulkString('id');
  w.bulkString(n.name);
  w.bulkString('port');
  w.int(n.port);
  w.bulkString('ip');
  w.bulkString(n.ip);
  w.bulkString('endpoint');
  w.bulkString(preferredEndpoint(n, endpointType));
  if (hostname) {
    w.bulkString('hostname');
    w.bulkString(n.hostname);
  }
  w.bulkString('role');
  w.bulkString(n.isMaster() ? 'master' : 'replica');
  w.bulkString('replication-offset');
  w.int(offset);
  w.bulkString('health');
  w.bulkString((n.flags & NODE_FAIL) !== 0 ? 'fail' : !n.isMaster() && offset === 0 ? 'loading' : 'online');
}

/** CLUSTER SHARDS: each master with its slot ranges and nodes. */
export function writeShards(w: RespWriter, st: ClusterState, endpointType: string): void {
  const masters = [...st.nodes.values()].filter((n) => n.isMaster());
  w.arrayHeader(masters.length);
  for (const m of masters) {
    const nodes = [m, ...replicasOf(st, m)];
    const r = slotRanges(m);
    w.mapHeader(2);
    w.bulkString('slots');
    w.arrayHeader(r.length);
    for (const x of r) w.int(x);
    w.bulkString('nodes');
    w.arrayHeader(nodes.length);
    for (const n of nodes) writeShardNode(w, st, n, endpointType);
  }
}
