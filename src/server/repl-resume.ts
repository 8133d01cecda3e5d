/**
 * A replica's replication history across a restart, as Redis keeps it: SAVE on a replica records
 * repl-stream-db, repl-id and repl-offset among the RDB's aux fields at the snapshot point; started
 * again with `replicaof` and that RDB, it asks its master to continue (PSYNC id offset+1), so a
 * restart within the master's backlog costs a partial resync instead of a full one.
 */
import type { Acceptor } from '../io/acceptor.js';
import type { ServerConfig } from './config.js';
import type { ReplicaSide } from './repl-replica.js';
import type { Replication } from './replication.js';

/** The aux fields SAVE adds on a replica streaming from its master (none otherwise: a restart then syncs fully). */
export function replicaSaveAux(a: Acceptor, repl: Replication): [string, string][] {
  if (repl.upstream === null) return [];
  for (const c of a.conns.values()) {
    // The master client's database is where the stream stands (it sends no SELECT on a continue).
    if (c.master) {
      return [
        ['repl-stream-db', String(c.db)],
        ['repl-id', repl.state.replid],
        ['repl-offset', String(repl.state.offset)],
      ];
    }
  }
  return [];
}

/**
 * Starts replicating from the history the loaded RDB carried, when the server is configured as a
 * replica and the file has one; returns false to start as a fresh replica (PSYNC ? -1).
 * Only a stream standing in database 0 resumes: the replica side starts a continued stream there.
 */
export function resumeFromRdb(aux: ReadonlyMap<string, string>, cfg: ServerConfig, repl: Replication, replica: ReplicaSide): boolean {
  const master = cfg.get('replicaof');
  const id = aux.get('repl-id');
  const offset = aux.get('repl-offset');
  if (master === '' || id === undefined || offset === undefined || aux.get('repl-stream-db') !== '0') return false;
  if (!/^[0-9a-f]{40}$/.test(id) || !/^\d+$/.test(offset)) return false;
  repl.state.adopt(id, Number(offset));
  const [host, port] = master.split(' ');
  replica.setMaster(host!, Number(port), true);
  return true;
}
