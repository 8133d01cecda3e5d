/**
 * Replication as the rest of the server sees it: the shared history (repl-state.ts), this server's
 * two possible sides — the link to its own master when it is a replica, the replicas attached to it
 * — and what INFO replication and ROLE report from them, in Redis 7.0's form. Each side plugs in
 * here, so neither reaches into the other.
 */
import { CMD } from '../commands/ids.generated.js';
import type { Acceptor } from '../io/acceptor.js';
import type { RespWriter } from '../wire/resp-writer.js';
import { registerInfoSection } from './info.js';
import { ReplicationState } from './repl-state.js';
import { MasterSide } from './repl-master.js';
import { replconfHandler } from './standalone-commands.js';
import { installWait } from './wait.js';
import type { Logger } from '../log.js';
import type { ServerPersistence } from './persistence.js';
import type { Propagation } from './propagation.js';

/** One attached replica as ROLE lists it. */
export interface ReplicaView {
  ip: string;
  port: number;
  /** The offset it last acknowledged. */
  ackOffset: number;
}

/** The replica side while this server replicates a master (REPLICAOF host port). */
export interface UpstreamSide {
  /** INFO lines from master_host to replica_announced, in Redis's order. */
  infoLines(): string[];
  /** ROLE's reply for a replica: slave, host, port, link state, offset. */
  writeRole(w: RespWriter): void;
  /** True while the master's stream is applied: only then may replicas of this replica sync (else -NOMASTERLINK). */
  linkUp(): boolean;
  /** The offset of the stream applied so far, every dispatched byte counted and in the backlog. */
  offset(): number;
}

/** The master side: the replicas attached to this server. */
export interface DownstreamSide {
  /** connected_slaves, the slaveN lines and min_slaves_good_slaves where it applies, in Redis's order. */
  infoLines(): string[];
  /** The attached replicas that finished their sync, for ROLE. */
  replicas(): ReplicaView[];
  /** Stops its timers (server shutdown). */
  close(): void;
  /** This server became a replica, or a master again (upstream set or cleared). */
  roleChanged(): void;
  /** Bytes of the master's stream this replica applied (already in the backlog): passed on unchanged to its own replicas. */
  relay(chunk: Buffer): void;
  /** The history this replica serves changed (a full sync, or a master with a new id): its replicas reconnect to learn it. */
  historyChanged(): void;
}

/** The replication of one server. */
export class Replication {
  /** Ids, offsets and backlog of the stream this server holds. */
  readonly state = new ReplicationState();
  /** Set while this server is a replica. */
  get upstream(): UpstreamSide | null {
    return this.up;
  }

  set upstream(side: UpstreamSide | null) {
    const changed = (side === null) !== (this.up === null);
    this.up = side;
    if (changed) this.downstream?.roleChanged();
  }

  private up: UpstreamSide | null = null;
  /** Set once the master side is installed. */
  downstream: DownstreamSide | null = null;

  constructor(private readonly a: Acceptor) {}

  /** INFO replication, as Redis 7.0 prints it. */
  infoLines(): string[] {
    const lines = [this.upstream === null ? 'role:master' : 'role:slave'];
    if (this.upstream !== null) lines.push(...this.upstream.infoLines());
    lines.push(...(this.downstream?.infoLines() ?? ['connected_slaves:0']));
    lines.push('master_failover_state:no-failover');
    lines.push(...this.state.infoLines(this.a.config.num('repl-backlog-size')));
    return lines;
  }

  /** Stream bytes this replica applied from its master: on to its own replicas, unchanged (Redis's proxied stream). */
  relay(chunk: Buffer): void {
    this.downstream?.relay(chunk);
  }

  /** This replica's history changed under it: its own replicas must reconnect. */
  historyChanged(): void {
    this.downstream?.historyChanged();
  }

  /** Stops the sides' timers (server shutdown). */
  close(): void {
    this.downstream?.close();
  }

  /** ROLE: a master with its offset and synced replicas, or the replica's view of its link. */
  writeRole(w: RespWriter): void {
    if (this.upstream !== null) return this.upstream.writeRole(w);
    const replicas = this.downstream?.replicas() ?? [];
    w.arrayHeader(3);
    w.bulkString('master');
    w.int(this.state.offset);
    w.arrayHeader(replicas.length);
    for (const r of replicas) {
      w.arrayHeader(3);
      w.bulkString(r.ip);
      w.bulkString(String(r.port));
      w.bulkString(String(r.ackOffset));
    }
  }
}

/** What the master side needs from the rest of the server. */
export interface ReplicationDeps {
  persistence: ServerPersistence;
  propagation: Propagation;
  log: Logger;
}

const PUBLISH = Buffer.from('PUBLISH');

/**
 * Outside cluster mode Redis sends PUBLISH and SPUBLISH to its replicas (not to the AOF), so clients
 * subscribed to a replica get the master's messages; a script's PUBLISH goes too, as it runs.
 */
function replicatePublish(a: Acceptor, propagation: Propagation): void {
  for (const id of [CMD.PUBLISH, CMD.SPUBLISH]) {
    const run = a.local[id]!;
    a.local[id] = (conn, seq, cmd) => {
      run(conn, seq, cmd);
      if (!propagation.replicating) return;
      const argv: Uint8Array[] = [];
      for (let i = 0; i < cmd.argc; i++) argv.push(cmd.buf.subarray(cmd.argStart[i]!, cmd.argStart[i]! + cmd.argLen[i]!));
      propagation.replicate(argv);
    };
  }
  const deliver = a.hooks.publish;
  a.hooks.publish = (channel, message) => {
    const n = deliver(channel, message);
    if (propagation.replicating) propagation.replicate([PUBLISH, channel, message]);
    return n;
  };
}

/** Creates the server's replication and installs INFO replication, ROLE, the master side (PSYNC, SYNC, REPLCONF, WAIT). */
export function installReplication(a: Acceptor, deps: ReplicationDeps): Replication {
  const r = new Replication(a);
  const master = new MasterSide(a, r, deps.persistence, deps.propagation, deps.log);
  r.downstream = master;
  a.local[CMD.REPLCONF] = replconfHandler(a, master);
  installWait(a, master);
  if (a.config.get('cluster-enabled') !== 'yes') replicatePublish(a, deps.propagation);
  registerInfoSection(a, 'replication', () => r.infoLines());
  a.local[CMD.ROLE] = (conn, seq) => {
    r.writeRole(a.startReply(conn));
    a.replyW(conn, seq);
  };
  return r;
}
