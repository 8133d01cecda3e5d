/** Installs transactions, pub/sub, keyspace events and the introspection commands on an acceptor. */
import type { Acceptor } from '../io/acceptor.js';
import { CMD } from '../commands/ids.generated.js';
import { ST_MULTI, ST_SUBSCRIBED } from '../io/connection.js';
import { Transactions } from './transactions.js';
import { PubSub } from './pubsub.js';
import { Notifications } from './notifications.js';
import { Monitor } from './monitor.js';
import { installClientAdmin } from './client-admin.js';
import { SlowLog } from './slowlog.js';
import { installLatency } from './latency.js';
import { installDebug } from './debug.js';
import { Migrate } from './migrate.js';
import { installWait } from './wait.js';
import { installStandaloneCommands } from './standalone-commands.js';
import { installHelp } from './local-commands.js';
import { clientInfoLine } from './info.js';
import { Tracking } from './tracking.js';
import { TRACK_TAG } from '../wire/frames.js';

/** Wires MULTI/EXEC, pub/sub and keyspace events into the acceptor's dispatch; call started() once the shards run. */
export function installModes(a: Acceptor): { started(): void; pubsub: PubSub } {
  const mon = new Monitor(a);
  const txn = new Transactions(a, mon);
  const ps = new PubSub(a);
  const notes = new Notifications(a, ps);
  const tracking = new Tracking(a);
  installClientAdmin(a);
  const slow = new SlowLog(a);
  const latency = installLatency(a);
  installDebug(a, slow);
  new Migrate(a);
  installWait(a);
  installStandaloneCommands(a);
  installHelp(a, a.local);
  const reset = a.local[CMD.RESET];
  a.local[CMD.RESET] = (conn, seq, cmd) => {
    mon.remove(conn);
    reset?.(conn, seq, cmd);
  };
  a.hooks = {
    gate: (conn, seq, id, cmd) => {
      if ((conn.state & ST_SUBSCRIBED) !== 0 && ps.gate(conn, seq, id)) return true;
      return (conn.state & ST_MULTI) !== 0 && txn.gate(conn, seq, id, cmd);
    },
    rejected: (conn) => txn.rejected(conn),
    execRejected: (conn, seq, error) => txn.execRejected(conn, seq, error),
    closed: (conn) => {
      txn.closed(conn);
      ps.closed(conn);
      mon.remove(conn);
      tracking.closed(conn);
    },
    event: (b, s, len) => {
      if (b[s] === 0) notes.event(b, s, len);
      else if (b[s] === TRACK_TAG) tracking.event(b, s, len);
      else slow.report(b, s);
    },
    publish: (channel, message) => ps.publish(channel, message, false),
    monitor: (conn, id, cmd, seq, ran) => mon.feed(conn, id, cmd, seq, ran),
    executed: (conn, seq) => mon.executed(conn, seq),
    operationDone: (id, args, db, reply) => notes.operationDone(id, args, db, reply),
    clientInfo: (conn) => clientInfoLine(conn),
  };
  return {
    pubsub: ps,
    started: () => {
      notes.started();
      latency.started();
    },
  };
}
