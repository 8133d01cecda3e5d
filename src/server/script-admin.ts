/**
 * SCRIPT KILL and FUNCTION KILL: answered by the acceptor, since the shard running the script is
 * busy. A shard publishes a long-running script in its stats block; a kill sets the block's kill
 * word, which the script's instruction hook reads.
 */
import { CMD } from '../commands/ids.generated.js';
import type { Acceptor, LocalHandler } from '../io/acceptor.js';
import * as F from '../wire/frames.js';
import { R_OK } from '../wire/resp-writer.js';
import { E_BUSY_FUNCTION, E_BUSY_SCRIPT, E_NOTBUSY, E_UNKILLABLE } from '../wire/error-text.js';

/** Installs SCRIPT KILL and FUNCTION KILL as the acceptor's own commands. */
export function installScriptAdmin(a: Acceptor, local: (LocalHandler | undefined)[]): void {
  const kill =
    (isEval: boolean): LocalHandler =>
    (conn, seq) => {
      for (const link of a.shards) {
        const st = link.stats;
        if (st[F.ST_SCRIPT_START] === 0) continue;
        const state = st[F.ST_SCRIPT_STATE]!;
        if ((state & F.SCRIPT_WROTE) !== 0) return a.replyError(conn, seq, E_UNKILLABLE);
        const fn = (state & F.SCRIPT_FUNCTION) !== 0;
        if (isEval && fn) return a.replyError(conn, seq, E_BUSY_FUNCTION);
        if (!isEval && !fn) return a.replyError(conn, seq, E_BUSY_SCRIPT);
        st[F.CT_SCRIPT_KILL] = F.KILL_ASKED;
        return a.replyConst(conn, seq, R_OK);
      }
      a.replyError(conn, seq, E_NOTBUSY);
    };
  local[CMD.SCRIPT_KILL] = kill(true);
  local[CMD.FUNCTION_KILL] = kill(false);
}
