/**
 * Cluster mode's check before a keyed command runs (Redis's getNodeByQuery and
 * clusterRedirectClient): all keys in one slot (CROSSSLOT), the slot served here or a MOVED,
 * ASK and TRYAGAIN while a slot is moving, CLUSTERDOWN states. The common case costs the
 * key extraction, one CRC16 per key and one byte lookup; only slots being migrated or
 * imported ask the shards which keys exist (the connection waits for that answer).
 */
import { Buffer } from 'node:buffer';
import { CMD } from '../commands/ids.generated.js';
import { COMMANDS, F_ASKING, F_WRITE, extractKeys } from '../commands/table.js';
import type { Acceptor, ClusterGate } from '../io/acceptor.js';
import { type Connection, ST_MULTI } from '../io/connection.js';
import type { ParsedCommand } from '../wire/resp-parser.js';
import { keySlot } from '../wire/key-slot.js';
import {
  E_CLUSTERDOWN,
  E_CLUSTERDOWN_RO,
  E_CLUSTERDOWN_UNBOUND,
  E_CLUSTER_MOVE,
  E_CROSSSLOT,
  E_TRYAGAIN,
  clusterRedirect,
} from '../wire/error-text.js';
import { type ClusterState, SLOT_IMPORTING, SLOT_MIGRATING, SLOT_MINE } from '../cluster/node-table.js';
import { preferredEndpoint } from '../cluster/node-description.js';
import { TxnCollector } from './transactions.js';

/** The slot check installed on the acceptor in cluster mode. */
export class ClusterRouter implements ClusterGate {
  private keyIdx = new Int32Array(16);

  constructor(
    private readonly a: Acceptor,
    private readonly st: ClusterState,
  ) {}

  check(conn: Connection, seq: number, id: number, cmd: ParsedCommand): number {
    // ASKING lasts for one command (outside MULTI, where it covers the transaction).
    const asking = conn.asking;
    if (id !== CMD.ASKING && (conn.state & ST_MULTI) === 0) conn.asking = false;
    if (conn.clusterSeq === seq && conn.clusterVerdict !== undefined) {
      const v = conn.clusterVerdict;
      conn.clusterVerdict = undefined;
      conn.clusterSeq = -1;
      if (v === null) return 0;
      this.a.replyError(conn, seq, v);
      return 1;
    }
    if (conn.clusterPending) return 2;
    // The master's stream on a replica runs whatever the slots say (Redis's mustObeyClient).
    if (conn.master) return 0;
    // Commands EXEC runs were checked when they were queued.
    if (conn instanceof TxnCollector) return 0;
    const spec = COMMANDS[id]!;
    if (spec.keySpecs.length === 0 && id !== CMD.MIGRATE) return 0;
    if (this.keyIdx.length < cmd.argc) this.keyIdx = new Int32Array(cmd.argc * 2);
    const nk = extractKeys(spec, cmd.buf, cmd.argStart, cmd.argLen, cmd.argc, this.keyIdx);
    if (nk <= 0) return 0;
    const b = cmd.buf;
    const slot = keySlot(b, cmd.argStart[this.keyIdx[0]!]!, cmd.argLen[this.keyIdx[0]!]!);
    for (let k = 1; k < nk; k++) {
      const i = this.keyIdx[k]!;
      if (keySlot(b, cmd.argStart[i]!, cmd.argLen[i]!) !== slot) return this.refuse(conn, seq, E_CROSSSLOT);
    }
    const st = this.st;
    const owner = st.owner[slot];
    if (owner === null || owner === undefined) return this.refuse(conn, seq, E_CLUSTERDOWN_UNBOUND);
    if (!st.ok) {
      if (this.a.config.get('cluster-allow-reads-when-down') !== 'yes') return this.refuse(conn, seq, E_CLUSTERDOWN);
      if ((spec.flags & F_WRITE) !== 0) return this.refuse(conn, seq, E_CLUSTERDOWN_RO);
    }
    const mode = st.slotMode[slot]!;
    // MOVE fails where it would run (after any redirection), as in Redis's moveCommand.
    if (id === CMD.MOVE && (mode & SLOT_MINE) !== 0) return this.refuse(conn, seq, E_CLUSTER_MOVE);
    if (mode === SLOT_MINE) return 0;
    const migrating = (mode & (SLOT_MINE | SLOT_MIGRATING)) === (SLOT_MINE | SLOT_MIGRATING);
    const importing = (mode & SLOT_IMPORTING) !== 0;
    if ((migrating || importing) && id === CMD.MIGRATE) return 0;
    const mayImport = importing && (asking || (spec.flags & F_ASKING) !== 0);
    if (!migrating && !mayImport) {
      if ((mode & SLOT_MINE) !== 0) return 0;
      // A replica serves reads of its master's slots to READONLY clients.
      if (conn.readOnly && (spec.flags & F_WRITE) === 0 && st.myself.replicaOf === owner.name && !st.myself.isMaster()) return 0;
      return this.refuse(conn, seq, this.moved('MOVED', slot, owner));
    }
    // One key on an importing slot after ASKING runs whether or not it is here yet (RESTORE-ASKING of a migration).
    if (!migrating && nk === 1) return 0;
    // Which keys are here decides: ask the shards, and run or refuse once they answered.
    const keys: Buffer[] = [];
    for (let k = 0; k < nk; k++) {
      const i = this.keyIdx[k]!;
      keys.push(Buffer.from(b.subarray(cmd.argStart[i]!, cmd.argStart[i]! + cmd.argLen[i]!)));
    }
    conn.clusterPending = true;
    conn.clusterSeq = seq;
    void this.countExisting(keys).then((existing) => {
      const missing = keys.length - existing;
      let v: string | null = null;
      if (migrating && missing > 0) {
        const to = st.migratingTo[slot];
        v = existing > 0 ? E_TRYAGAIN : to === null || to === undefined ? null : this.moved('ASK', slot, to);
      } else if (mayImport) v = nk > 1 && missing > 0 ? E_TRYAGAIN : null;
      else if (st.owner[slot] !== st.myself) v = this.moved('MOVED', slot, st.owner[slot] ?? owner);
      conn.clusterVerdict = v;
      conn.clusterPending = false;
      this.a.releaseStalled();
    });
    return 2;
  }

  private async countExisting(keys: Buffer[]): Promise<number> {
    const co = this.a.coordinator;
    let n = 0;
    for (const k of keys) {
      const r = await co.call(co.shardOfKey(k), 0, CMD.EXISTS, [Buffer.from('exists'), k]);
      if (r[0] === 58 && r[1] !== 48) n++;
    }
    return n;
  }

  private moved(kind: 'MOVED' | 'ASK', slot: number, n: { ip: string; port: number; hostname: string; name: string }): string {
    const endpoint = preferredEndpoint(n as Parameters<typeof preferredEndpoint>[0], this.a.config.get('cluster-preferred-endpoint-type'));
    return clusterRedirect(kind, slot, endpoint, n.port);
  }

  private refuse(conn: Connection, seq: number, error: string): number {
    this.a.replyError(conn, seq, error);
    return 1;
  }
}
