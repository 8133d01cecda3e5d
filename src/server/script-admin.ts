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
  // FUNCTION STATS is answered here: it must work while the shard running a script is busy.
  local[CMD.FUNCTION_STATS] = (conn, seq) => {
    const w = a.startReply(conn);
    w.mapHeader(2);
    w.bulkString('running_script');
    const busy = a.shards.find((l) => l.stats[F.ST_SCRIPT_START] !== 0);
    const info = busy === undefined ? null : a.scriptInfo[busy.id];
    if (busy === undefined || info == null) w.nullBulk();
    else {
      // info is [name, argv...]: running_script is {name, command: argv, duration_ms}.
      const latin1 = (from: number, to: number): string => Buffer.from(info.subarray(from, to)).toString('latin1');
      const h = info.indexOf(10) + 1;
      const n = Number(latin1(1, h - 2));
      const e1 = info.indexOf(13, h);
      const nameEnd = e1 + 2 + Number(latin1(h + 1, e1)) + 2;
      w.mapHeader(3);
      w.bulkString('name');
      w.raw(info, h, nameEnd - h);
      w.bulkString('command');
      w.arrayHeader(n - 1);
      w.raw(info, nameEnd, info.length - nameEnd);
      w.bulkString('duration_ms');
      w.int(Date.now() - busy.stats[F.ST_SCRIPT_START]!);
    }
    const counts = a.shards[0]!.stats[F.ST_FUNCTION_COUNTS]!;
    w.bulkString('engines');
    w.mapHeader(1);
    w.bulkString('LUA');
    w.mapHeader(2);
    w.bulkString('libraries_count');
    w.int(Math.floor(counts / F.FUNCTIONS_SPAN));
    w.bulkString('functions_count');
    w.int(counts % F.FUNCTIONS_SPAN);
    a.replyW(conn, seq);
  };
  local[CMD.SCRIPT_KILL] = kill(true);
  local[CMD.FUNCTION_KILL] = kill(false);
}
