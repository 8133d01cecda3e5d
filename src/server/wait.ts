/**
 * WAIT numreplicas timeout: Sabre has no replicas yet, so no write is ever acknowledged. As Redis
 * with none connected, WAIT 0 answers 0 at once and WAIT n > 0 blocks until its timeout (0: for
 * ever, until CLIENT UNBLOCK or the client leaves), then answers 0 replicas.
 */
import { CMD } from '../commands/ids.generated.js';
import type { Acceptor } from '../io/acceptor.js';
import { ST_MULTI } from '../io/connection.js';
import { parseI64 } from '../wire/bytes.js';
import { E_NOT_INT, E_TIMEOUT_NEGATIVE, E_TIMEOUT_NOT_INT, E_UNBLOCKED } from '../wire/error-text.js';

/** Installs WAIT on the acceptor. */
export function installWait(a: Acceptor): void {
  a.local[CMD.WAIT] = (conn, seq, cmd) => {
    const n = parseI64(cmd.buf, cmd.argStart[1]!, cmd.argLen[1]!);
    if (n === null) return a.replyError(conn, seq, E_NOT_INT);
    const ms = parseI64(cmd.buf, cmd.argStart[2]!, cmd.argLen[2]!);
    if (ms === null) return a.replyError(conn, seq, E_TIMEOUT_NOT_INT);
    if (ms < 0) return a.replyError(conn, seq, E_TIMEOUT_NEGATIVE);
    // Acknowledged by 0 replicas: enough for n <= 0, and a transaction never blocks.
    if (n <= 0 || (conn.state & ST_MULTI) !== 0 || conn.noBlock) {
      a.startReply(conn).int(0);
      return a.replyW(conn, seq);
    }
    let timer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      clearTimeout(timer);
      conn.onClosed = null;
      if (conn.blockedSeq !== seq) return;
      conn.blockedSeq = -1;
      // CLIENT UNBLOCK ERROR leaves its error here; a timeout (or UNBLOCK TIMEOUT) answers the 0 replicas reached.
      const unblocked = conn.unblockReply;
      conn.unblockReply = null;
      const w = a.startReply(conn);
      if (unblocked !== null && unblocked[0] === 45) w.error(E_UNBLOCKED);
      else w.int(0);
      if (conn.closed) return;
      a.replyW(conn, seq);
      a.releaseStalled();
    };
    conn.blockedSeq = seq;
    a.park(conn);
    conn.onClosed = finish;
    if (ms > 0) timer = setTimeout(finish, Number(ms));
  };
}
