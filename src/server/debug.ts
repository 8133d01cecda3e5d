/**
 * DEBUG SLEEP and DEBUG OBJECT. Redis blocks its whole server during DEBUG SLEEP; Sabre
 * sleeps every shard at once (keyed commands of all clients wait), while the acceptor
 * keeps answering commands that need no shard (PING, INFO, ...).
 */
import { performance } from 'node:perf_hooks';
import { CMD } from '../commands/ids.generated.js';
import type { Acceptor } from '../io/acceptor.js';
import type { ParsedCommand } from '../wire/resp-parser.js';
import { R_OK } from '../wire/resp-writer.js';
import { isKeyword } from '../wire/bytes.js';
import { internalId } from '../commands/internal.js';
import type { SlowLog } from './slowlog.js';
import { unknownSubcommand } from '../wire/error-text.js';

function arg(cmd: ParsedCommand, i: number): Buffer {
  return Buffer.from(cmd.buf.subarray(cmd.argStart[i]!, cmd.argStart[i]! + cmd.argLen[i]!));
}

/** Installs the DEBUG subcommands Sabre supports; DEBUG SLEEP goes to the slow log like any slow command. */
export function installDebug(a: Acceptor, slow: SlowLog): void {
  a.local[CMD.DEBUG] = (conn, seq, cmd) => {
    const sub = arg(cmd, 1).toString('latin1');
    if (isKeyword(cmd.buf, cmd.argStart[1]!, cmd.argLen[1]!, 'SLEEP') && cmd.argc === 3) {
      const secs = Number.parseFloat(arg(cmd, 2).toString('latin1'));
      const ms = Number.isFinite(secs) && secs > 0 ? Math.round(secs * 1000) : 0;
      const args = [Buffer.from('__sleep'), Buffer.from(String(ms))];
      const logged = [arg(cmd, 0), arg(cmd, 1), arg(cmd, 2)];
      const t0 = performance.now();
      void a.coordinator.callAll(0, internalId('__sleep'), args).then(() => {
        slow.recordLocal(conn, logged, Math.floor((performance.now() - t0) * 1000));
        if (!conn.closed) a.replyConst(conn, seq, R_OK);
        a.scheduleTick();
      });
      return;
    }
    if (isKeyword(cmd.buf, cmd.argStart[1]!, cmd.argLen[1]!, 'OBJECT') && cmd.argc === 3) {
      const key = arg(cmd, 2);
      void a.coordinator
        .call(a.coordinator.shardOfKey(key), conn.db, internalId('__debugobject'), [Buffer.from('__debugobject'), key])
        .then((r) => {
          if (!conn.closed) a.replyConst(conn, seq, r);
          a.scheduleTick();
        });
      return;
    }
    a.replyErrorLatin1(conn, seq, unknownSubcommand(sub, 'DEBUG'));
  };
}
