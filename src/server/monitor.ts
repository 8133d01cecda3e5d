/**
 * MONITOR: every command the server executes (admin and skip-monitor ones excepted, as in
 * Redis) is written to monitoring clients as `+<unix time.us> [<db> <addr>] "arg" ...`,
 * with arguments quoted like Redis's sdscatrepr. The line is built once per command.
 */
import { CMD } from '../commands/ids.generated.js';
import { COMMANDS, F_ADMIN, F_SKIP_MONITOR } from '../commands/table.js';
import type { Acceptor } from '../io/acceptor.js';
import type { Connection } from '../io/connection.js';
import type { ParsedCommand } from '../wire/resp-parser.js';
import { R_OK } from '../wire/resp-writer.js';
import { isKeyword } from '../wire/bytes.js';

const HEX = '0123456789abcdef';

/** Appends `b[s, s+n)` quoted as sdscatrepr does. */
export function reprBytes(b: Uint8Array, s: number, n: number): string {
  let out = '"';
  for (let i = s; i < s + n; i++) {
    const c = b[i]!;
    if (c === 92) out += '\\\\';
    else if (c === 34) out += '\\"';
    else if (c === 10) out += '\\n';
    else if (c === 13) out += '\\r';
    else if (c === 9) out += '\\t';
    else if (c === 7) out += '\\a';
    else if (c === 8) out += '\\b';
    else if (c >= 32 && c < 127) out += String.fromCharCode(c);
    else out += `\\x${HEX[c >> 4]}${HEX[c & 15]}`;
  }
  return `${out}"`;
}

/** True for arguments Redis shows as "(redacted)": AUTH's user and password, HELLO's AUTH pair. */
function isSecret(id: number, cmd: ParsedCommand, i: number): boolean {
  if (id === CMD.AUTH) return i >= 1;
  if (id !== CMD.HELLO) return false;
  for (let j = 2; j + 2 < cmd.argc; j++) {
    if (isKeyword(cmd.buf, cmd.argStart[j]!, cmd.argLen[j]!, 'AUTH')) {
      if (i === j + 1 || i === j + 2) return true;
      j += 2;
    } else if (isKeyword(cmd.buf, cmd.argStart[j]!, cmd.argLen[j]!, 'SETNAME')) j++;
  }
  return false;
}

/** The set of monitoring clients and the feed. */
export class Monitor {
  readonly clients = new Set<Connection>();

  constructor(private readonly a: Acceptor) {
    a.local[CMD.MONITOR] = (conn, seq) => {
      a.replyConst(conn, seq, R_OK);
      this.clients.add(conn);
      conn.monitor = true;
      a.monitoring = true;
    };
  }

  /** Stops monitoring for a closed or RESET client. */
  remove(conn: Connection): void {
    if (!this.clients.delete(conn)) return;
    conn.monitor = false;
    this.a.monitoring = this.clients.size !== 0;
  }

  /** Called for each command dispatched while anyone monitors; EXEC is fed by the transaction once its commands ran, as in Redis. */
  feed(conn: Connection, id: number, cmd: ParsedCommand): void {
    if (id === CMD.EXEC || (COMMANDS[id]!.flags & (F_ADMIN | F_SKIP_MONITOR)) !== 0) return;
    this.write(conn, cmd, id);
  }

  /** Feeds an EXEC after the commands it ran. */
  feedExec(conn: Connection, cmd: ParsedCommand): void {
    if (this.clients.size !== 0) this.write(conn, cmd, CMD.EXEC);
  }

  private write(conn: Connection, cmd: ParsedCommand, id: number): void {
    const t = (performance.timeOrigin + performance.now()) / 1000;
    let line = `+${t.toFixed(6)} [${conn.db} ${conn.addr}]`;
    for (let i = 0; i < cmd.argc; i++) {
      line += isSecret(id, cmd, i) ? ' "(redacted)"' : ` ${reprBytes(cmd.buf, cmd.argStart[i]!, cmd.argLen[i]!)}`;
    }
    const bytes = Buffer.from(`${line}\r\n`, 'latin1');
    for (const m of this.clients) {
      if (m.closed) continue;
      m.out.raw(bytes, 0, bytes.length);
      this.a.markDirty(m);
    }
  }
}
