/**
 * WAIT numreplicas timeout: blocks the client until `numreplicas` replicas acknowledged the
 * replication offset its earlier commands reached (Redis's c->woff), or until the timeout (0: for
 * ever, until CLIENT UNBLOCK or the client leaves), then answers how many did. The offset is taken
 * once every earlier command of the client has been answered, so a pipelined `SET` + `WAIT` waits
 * for the SET; it is where the stream's latest write ends at that moment, which may be another
 * client's later write (a stricter wait, never a looser one). Inside MULTI it answers at once.
 */
import { CMD } from '../commands/ids.generated.js';
import type { Acceptor } from '../io/acceptor.js';
import type { Connection } from '../io/connection.js';
import { ST_MULTI } from '../io/connection.js';
import { parseI64 } from '../wire/bytes.js';
import { E_NOT_INT, E_TIMEOUT_NEGATIVE, E_TIMEOUT_NOT_INT, E_UNBLOCKED, E_WAIT_ON_REPLICA } from '../wire/error-text.js';

/** What WAIT needs from the master side (repl-master.ts). */
export interface WaitAcks {
  /** This server replicates a master: WAIT is refused. */
  onReplica(): boolean;
  /** Where the latest write ends in the stream (this turn's included; PINGs and GETACKs not). */
  offset(): number;
  /** Replicas whose acknowledged offset reached `offset`. */
  count(offset: number): number;
  /** Calls `check` after each acknowledgement and each turn's stream until unwatch; asks the replicas for acknowledgements. */
  watch(check: () => void): void;
  unwatch(check: () => void): void;
  /** Asks the replicas for their offsets (REPLCONF GETACK *) with this turn's stream. */
  askAcks(): void;
}

/** No replicas at all: nothing is ever acknowledged. */
const NONE: WaitAcks = {
  onReplica: () => false,
  offset: () => 0,
  count: () => 0,
  watch: () => {},
  unwatch: () => {},
  askAcks: () => {},
};

/** Installs WAIT on the acceptor, counting acknowledgements from `acks`. */
export function installWait(a: Acceptor, acks: WaitAcks = NONE): void {
  a.local[CMD.WAIT] = (conn, seq, cmd) => {
    const n = parseI64(cmd.buf, cmd.argStart[1]!, cmd.argLen[1]!);
    if (n === null) return a.replyError(conn, seq, E_NOT_INT);
    const ms = parseI64(cmd.buf, cmd.argStart[2]!, cmd.argLen[2]!);
    if (ms === null) return a.replyError(conn, seq, E_TIMEOUT_NOT_INT);
    if (ms < 0) return a.replyError(conn, seq, E_TIMEOUT_NEGATIVE);
    if (acks.onReplica()) return a.replyError(conn, seq, E_WAIT_ON_REPLICA);
    const settled = conn.nextWrite === seq;
    // A transaction never blocks: it answers what is acknowledged now.
    if ((conn.state & ST_MULTI) !== 0 || conn.noBlock || (settled && acks.count(acks.offset()) >= n)) {
      a.startReply(conn).int(acks.count(acks.offset()));
      return a.replyW(conn, seq);
    }
    block(a, acks, conn, seq, Number(n), Number(ms), settled ? acks.offset() : -1);
  };
}

/** Parks `conn` on WAIT `seq` until `need` replicas reached `target` (-1: not known until the earlier replies are out). */
function block(a: Acceptor, acks: WaitAcks, conn: Connection, seq: number, need: number, ms: number, target: number): void {
  let timer: NodeJS.Timeout | undefined;
  const check = (): void => {
    if (target < 0) {
      if (conn.nextWrite < seq) return;
      target = acks.offset();
      acks.askAcks();
    }
    if (acks.count(target) >= need) finish();
  };
  const finish = (): void => {
    clearTimeout(timer);
    acks.unwatch(check);
    conn.onClosed = null;
    if (conn.blockedSeq !== seq) return;
    conn.blockedSeq = -1;
    // CLIENT UNBLOCK ERROR leaves its error here; a timeout (or UNBLOCK TIMEOUT) answers the replicas reached.
    const unblocked = conn.unblockReply;
    conn.unblockReply = null;
    const w = a.startReply(conn);
    if (unblocked !== null && unblocked[0] === 45) w.error(E_UNBLOCKED);
    else w.int(acks.count(target < 0 ? acks.offset() : target));
    if (conn.closed) return;
    a.replyW(conn, seq);
    a.releaseStalled();
  };
  conn.blockedSeq = seq;
  conn.blockedCmd = CMD.WAIT;
  a.park(conn);
  conn.onClosed = finish;
  acks.watch(check);
  if (target >= 0) acks.askAcks();
  if (ms > 0) timer = setTimeout(finish, ms);
}
