/**
 * CLIENT PAUSE / UNPAUSE / NO-EVICT / UNBLOCK: pausing parks clients through the acceptor's
 * stall mechanism; unblocking ends a BLPOP-style wait as its timeout (or an error) would.
 */
import { CMD } from '../commands/ids.generated.js';
import type { Acceptor } from '../io/acceptor.js';
import type { ParsedCommand } from '../wire/resp-parser.js';
import { R_OK } from '../wire/resp-writer.js';
import { isKeyword, parseSafeInt } from '../wire/bytes.js';
import {
  E_NOT_INT,
  E_PAUSE_MODE,
  E_SYNTAX,
  E_TIMEOUT_NEGATIVE,
  E_TIMEOUT_NOT_INT,
  E_UNBLOCK_REASON,
  E_UNBLOCKED,
} from '../wire/error-text.js';

function is(cmd: ParsedCommand, i: number, upper: string): boolean {
  return isKeyword(cmd.buf, cmd.argStart[i]!, cmd.argLen[i]!, upper);
}

/** Installs the CLIENT subcommands that change server-wide client handling. */
export function installClientAdmin(a: Acceptor): void {
  let timer: NodeJS.Timeout | null = null;
  const unpause = (): void => {
    if (timer !== null) clearTimeout(timer);
    timer = null;
    a.pauseUntil = 0;
    a.releaseStalled();
  };
  a.local[CMD.CLIENT_PAUSE] = (conn, seq, cmd) => {
    const ms = parseSafeInt(cmd.buf, cmd.argStart[2]!, cmd.argLen[2]!);
    if (ms === null) return a.replyError(conn, seq, E_TIMEOUT_NOT_INT);
    if (ms < 0) return a.replyError(conn, seq, E_TIMEOUT_NEGATIVE);
    let all = true;
    if (cmd.argc === 4) {
      if (is(cmd, 3, 'WRITE')) all = false;
      else if (!is(cmd, 3, 'ALL')) return a.replyError(conn, seq, E_PAUSE_MODE);
    } else if (cmd.argc > 4) return a.replyError(conn, seq, E_SYNTAX);
    // Like Redis, a second pause keeps the later end and the stricter mode.
    const until = Date.now() + ms;
    a.pauseAll = a.pauseUntil !== 0 ? a.pauseAll || all : all;
    a.pauseUntil = Math.max(a.pauseUntil, until, 1);
    if (timer !== null) clearTimeout(timer);
    timer = setTimeout(unpause, a.pauseUntil - Date.now());
    a.replyConst(conn, seq, R_OK);
  };
  a.local[CMD.CLIENT_UNPAUSE] = (conn, seq) => {
    a.replyConst(conn, seq, R_OK);
    unpause();
  };
  a.local[CMD.CLIENT_UNBLOCK] = (conn, seq, cmd) => {
    const id = parseSafeInt(cmd.buf, cmd.argStart[2]!, cmd.argLen[2]!);
    if (id === null) return a.replyError(conn, seq, E_NOT_INT);
    let error = false;
    if (cmd.argc === 4) {
      if (is(cmd, 3, 'ERROR')) error = true;
      else if (!is(cmd, 3, 'TIMEOUT')) return a.replyError(conn, seq, E_UNBLOCK_REASON);
    } else if (cmd.argc > 4) return a.replyError(conn, seq, E_SYNTAX);
    const target = a.conns.get(id);
    const answer = (done: boolean): void => {
      a.startReply(conn).int(done ? 1 : 0);
      a.replyW(conn, seq);
    };
    if (target === undefined) return answer(false);
    const reply = Buffer.from(error ? `-${E_UNBLOCKED}\r\n` : target.proto === 3 ? '_\r\n' : '*-1\r\n');
    void a.unblockClient(target, reply).then((done) => {
      if (!conn.closed) answer(done);
      a.scheduleTick();
    });
  };
  a.local[CMD.CLIENT_NO_EVICT] = (conn, seq, cmd) => {
    if (is(cmd, 2, 'ON')) conn.noEvict = true;
    else if (is(cmd, 2, 'OFF')) conn.noEvict = false;
    else return a.replyError(conn, seq, E_SYNTAX);
    a.replyConst(conn, seq, R_OK);
  };
}
