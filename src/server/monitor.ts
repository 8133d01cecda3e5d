/**
 * MONITOR: every command the server executes (admin and skip-monitor ones excepted, as in
 * Redis) is written to monitoring clients as `+<unix time.us> [<db> <addr>] "arg" ...`,
 * with arguments quoted like Redis's sdscatrepr. The line is built once per command, when it
 * is dispatched (its arguments live in the read buffer), and written when the command ran, as
 * Redis feeds monitors from call(): at once for commands the acceptor runs, and for shard
 * commands when their reply comes back in the shard's reply stream (or, for a command that
 * blocks, when the shard reports that it blocked), so lines follow each shard's execution
 * order, a client's own commands in its order. A blocking command over several shards shows
 * when it is answered.
 */
import { performance } from 'node:perf_hooks';
import { CMD } from '../commands/ids.generated.js';
import { COMMANDS, F_ADMIN, F_SKIP_MONITOR } from '../commands/table.js';
import type { Acceptor } from '../io/acceptor.js';
import type { Connection } from '../io/connection.js';
import type { ParsedCommand } from '../wire/resp-parser.js';
import { R_OK } from '../wire/resp-writer.js';
import { isKeyword } from '../wire/bytes.js';
import { ownerOf } from './transactions.js';

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
      if (!a.monitoring) a.setMonitoring(true);
    };
  }

  /** Stops monitoring for a closed or RESET client. */
  remove(conn: Connection): void {
    if (!this.clients.delete(conn)) return;
    conn.monitor = false;
    if (this.clients.size === 0) this.a.setMonitoring(false);
  }

  /**
   * Called for each command dispatched while anyone monitors (`ran`: the acceptor ran it): shown
   * once it ran and the client's earlier commands were shown, so each client's commands show in
   * its order (a transaction's with its owner's). EXEC is fed once its commands ran, as in Redis.
   */
  feed(conn: Connection, id: number, cmd: ParsedCommand, seq: number, ran: boolean): void {
    if (id === CMD.EXEC || (COMMANDS[id]!.flags & (F_ADMIN | F_SKIP_MONITOR)) !== 0) return;
    // Answered on the spot (an error the acceptor gave) counts as ran.
    this.queue(conn, seq, this.body(conn, cmd, id), ran || seq < conn.nextWrite || conn.early.has(seq));
  }

  /** Queues EXEC's line behind the commands it ran (dispatched already); `ran`: they all did. */
  exec(conn: Connection, seq: number, cmd: ParsedCommand, ran: boolean): void {
    if (this.clients.size !== 0) this.queue(conn, seq, this.body(conn, cmd, CMD.EXEC), ran);
  }

  private queue(conn: Connection, seq: number, line: string, ran: boolean): void {
    const owner = ownerOf(conn);
    if (ran && owner.monitored === null) return this.write(line);
    const q = (owner.monitored ??= []);
    conn.monitored = q;
    q.push({ conn, seq, line, ran });
  }

  /** The command `seq` of `conn` ran: shows its line, and the ones it held back. */
  executed(conn: Connection, seq: number): void {
    const q = conn.monitored;
    if (q === null) return;
    const e = q.find((x) => x.conn === conn && x.seq === seq);
    if (e === undefined) return;
    e.ran = true;
    let n = 0;
    while (n < q.length && q[n]!.ran) this.write(q[n++]!.line);
    if (n === q.length) {
      for (const x of q) {
        x.conn.monitored = null;
        ownerOf(x.conn).monitored = null;
      }
    }
    q.splice(0, n);
  }

  /** A line without its time: `[<db> <addr>] "arg" ...`. */
  private body(conn: Connection, cmd: ParsedCommand, id: number): string {
    let line = `[${conn.db} ${conn.addr}]`;
    for (let i = 0; i < cmd.argc; i++) {
      line += isSecret(id, cmd, i) ? ' "(redacted)"' : ` ${reprBytes(cmd.buf, cmd.argStart[i]!, cmd.argLen[i]!)}`;
    }
    return line;
  }

  private write(body: string): void {
    const t = (performance.timeOrigin + performance.now()) / 1000;
    const bytes = Buffer.from(`+${t.toFixed(6)} ${body}\r\n`, 'latin1');
    for (const m of this.clients) {
      if (m.closed) continue;
      m.out.raw(bytes, 0, bytes.length);
      this.a.markDirty(m);
    }
  }
}
