/** Installs the connection-mode hooks (transactions, pub/sub, keyspace events) on an acceptor. */
import type { Acceptor } from '../io/acceptor.js';
import { ST_MULTI, ST_SUBSCRIBED } from '../io/connection.js';
import { Transactions } from './transactions.js';
import { PubSub } from './pubsub.js';
import { Notifications } from './notifications.js';

/** Wires MULTI/EXEC, pub/sub and keyspace events into the acceptor's dispatch; call started() once the shards run. */
export function installModes(a: Acceptor): { started(): void } {
  const txn = new Transactions(a);
  const ps = new PubSub(a);
  const notes = new Notifications(a, ps);
  a.hooks = {
    gate: (conn, seq, id, cmd) => {
      if ((conn.state & ST_SUBSCRIBED) !== 0 && ps.gate(conn, seq, id)) return true;
      return (conn.state & ST_MULTI) !== 0 && txn.gate(conn, seq, id, cmd);
    },
    rejected: (conn) => txn.rejected(conn),
    closed: (conn) => {
      txn.closed(conn);
      ps.closed(conn);
    },
    event: (b, s, len) => notes.event(b, s, len),
  };
  return { started: () => notes.started() };
}
