/** Installs the connection-mode hooks (transactions, pub/sub, keyspace events) on an acceptor. */
import type { Acceptor } from '../io/acceptor.js';
import { ST_MULTI } from '../io/connection.js';
import { Transactions } from './transactions.js';

/** Wires MULTI/EXEC and friends into the acceptor's dispatch. */
export function installModes(a: Acceptor): void {
  const txn = new Transactions(a);
  a.hooks = {
    gate: (conn, seq, id, cmd) => (conn.state & ST_MULTI) !== 0 && txn.gate(conn, seq, id, cmd),
    rejected: (conn) => txn.rejected(conn),
    closed: (conn) => txn.closed(conn),
    event: () => {},
  };
}
