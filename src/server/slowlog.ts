/** SLOWLOG GET/LEN/RESET: entries come from the shards' slow-command reports (src/shards/latency.ts). */
import { CMD } from '../commands/ids.generated.js';
import type { Acceptor } from '../io/acceptor.js';
import type { Connection } from '../io/connection.js';
import { R_OK } from '../wire/resp-writer.js';
import { isKeyword, parseSafeInt } from '../wire/bytes.js';
import type { ParsedCommand } from '../wire/resp-parser.js';
import { E_SLOWLOG_COUNT } from '../wire/error-text.js';

/** Redis's SLOWLOG_ENTRY_MAX_ARGC and SLOWLOG_ENTRY_MAX_STRING. */
const MAX_ARGS = 32;
const MAX_STRING = 128;
const REDACTED = Buffer.from('(redacted)');
const NONE = new Set<number>();
/** CONFIG SET parameters Redis flags sensitive: their values are redacted. */
const SENSITIVE_CONFIGS = new Set(['masterauth', 'masteruser', 'requirepass']);

function argIs(cmd: ParsedCommand, i: number, upper: string): boolean {
  return isKeyword(cmd.buf, cmd.argStart[i]!, cmd.argLen[i]!, upper);
}

/** Argument positions Redis redacts from logs (redactClientCommandArgument): passwords, ACL rules, sensitive configs. */
function redactedFrom(id: number, cmd: ParsedCommand): Set<number> {
  const out = new Set<number>();
  const argc = cmd.argc;
  if (id === CMD.AUTH || id === CMD.ACL_SETUSER) {
    for (let i = id === CMD.AUTH ? 1 : 2; i < argc; i++) out.add(i);
  } else if (id === CMD.HELLO) {
    for (let i = 2; i < argc; i++) {
      if (argIs(cmd, i, 'AUTH') && i + 2 < argc) {
        out.add(i + 1).add(i + 2);
        i += 2;
      }
    }
  } else if (id === CMD.CONFIG_SET) {
    for (let i = 2; i + 1 < argc; i += 2) {
      const name = Buffer.from(cmd.buf.subarray(cmd.argStart[i]!, cmd.argStart[i]! + cmd.argLen[i]!))
        .toString('latin1')
        .toLowerCase();
      if (SENSITIVE_CONFIGS.has(name)) out.add(i + 1);
    }
  } else if (id === CMD.MIGRATE) {
    for (let i = 6; i < argc; i++) {
      if (argIs(cmd, i, 'KEYS')) break;
      if (argIs(cmd, i, 'AUTH') && i + 1 < argc) out.add(++i);
      else if (argIs(cmd, i, 'AUTH2') && i + 2 < argc) {
        out.add(i + 1).add(i + 2);
        i += 2;
      }
    }
  } else return NONE;
  return out;
}

/** One slow-log entry as SLOWLOG GET shows it. */
interface Entry {
  id: number;
  time: number;
  us: number;
  args: Buffer[];
  addr: string;
  name: string;
}

function u32(b: Uint8Array, p: number): number {
  return (b[p]! | (b[p + 1]! << 8) | (b[p + 2]! << 16) | (b[p + 3]! << 24)) >>> 0;
}

/** The acceptor's slow log. */
export class SlowLog {
  private entries: Entry[] = [];
  private nextId = 0;

  constructor(private readonly a: Acceptor) {
    const threshold = (): void => {
      a.localSlowUs = a.config.num('slowlog-log-slower-than');
    };
    threshold();
    a.config.onChange('slowlog-log-slower-than', threshold);
    a.localSlow = (conn, id, cmd, us) => this.recordCommand(conn, id, cmd, us);
    a.local[CMD.SLOWLOG_LEN] = (conn, seq) => {
      a.startReply(conn).int(this.entries.length);
      a.replyW(conn, seq);
    };
    a.local[CMD.SLOWLOG_RESET] = (conn, seq) => {
      this.entries = [];
      a.replyConst(conn, seq, R_OK);
    };
    a.local[CMD.SLOWLOG_GET] = (conn, seq, cmd) => {
      let count = 10;
      if (cmd.argc === 3) {
        const n = parseSafeInt(cmd.buf, cmd.argStart[2]!, cmd.argLen[2]!);
        if (n === null || n < -1) return a.replyError(conn, seq, E_SLOWLOG_COUNT);
        count = n === -1 ? this.entries.length : n;
      }
      const list = this.entries.slice(0, count);
      const w = a.startReply(conn);
      w.arrayHeader(list.length);
      for (const e of list) {
        w.arrayHeader(6);
        w.int(e.id);
        w.int(e.time);
        w.int(e.us);
        w.arrayHeader(e.args.length);
        for (const x of e.args) w.bulk(x, 0, x.length);
        w.bulkString(e.addr);
        w.bulkString(e.name);
      }
      a.replyW(conn, seq);
    };
  }

  /** A slow-command report: [1][u32 conn][u32 µs][u16 cmd][u8 db][u32 argc][per arg: u32 len, bytes, u32 omitted]. */
  report(b: Uint8Array, s: number): void {
    const max = this.a.config.num('slowlog-max-len');
    const conn = this.a.conns.get(u32(b, s + 1)) ?? this.a.sinks.get(u32(b, s + 1));
    const us = u32(b, s + 5);
    const argc = u32(b, s + 12);
    const kept = Math.min(argc, 32);
    let p = s + 16;
    const args: Buffer[] = [];
    for (let i = 0; i < kept; i++) {
      const n = u32(b, p);
      const arg = Buffer.from(b.subarray(p + 4, p + 4 + n));
      const omitted = u32(b, p + 4 + n);
      p += 8 + n;
      if (i === 31 && argc > 32) {
        args.push(Buffer.from(`... (${argc - 31} more arguments)`));
        break;
      }
      args.push(omitted > 0 ? Buffer.concat([arg, Buffer.from(`... (${omitted} more bytes)`)]) : arg);
    }
    this.push(conn, args, us, max);
  }

  /** Logs a command the acceptor ran itself, trimmed and with secrets redacted as Redis logs it. */
  recordCommand(conn: Connection, id: number, cmd: ParsedCommand, us: number): void {
    const argc = cmd.argc;
    const redact = redactedFrom(id, cmd);
    const args: Buffer[] = [];
    for (let i = 0; i < argc && i < MAX_ARGS; i++) {
      if (i === MAX_ARGS - 1 && argc > MAX_ARGS) {
        args.push(Buffer.from(`... (${argc - MAX_ARGS + 1} more arguments)`));
        break;
      }
      if (redact.has(i)) {
        args.push(REDACTED);
        continue;
      }
      const n = cmd.argLen[i]!;
      const s = cmd.argStart[i]!;
      if (n > MAX_STRING)
        args.push(Buffer.concat([cmd.buf.subarray(s, s + MAX_STRING), Buffer.from(`... (${n - MAX_STRING} more bytes)`)]));
      else args.push(Buffer.from(cmd.buf.subarray(s, s + n)));
    }
    this.push(conn, args, us, this.a.config.num('slowlog-max-len'));
  }

  /** Logs a command the acceptor ran itself (DEBUG SLEEP) if it took at least the threshold. */
  recordLocal(conn: Connection, args: Buffer[], us: number): void {
    const threshold = this.a.config.num('slowlog-log-slower-than');
    if (threshold < 0 || us < threshold) return;
    this.push(conn, args.slice(0, 32), us, this.a.config.num('slowlog-max-len'));
  }

  private push(conn: Connection | undefined, args: Buffer[], us: number, max: number): void {
    this.entries.unshift({
      id: this.nextId++,
      time: Math.floor(Date.now() / 1000),
      us,
      args,
      addr: conn?.addr ?? '',
      name: conn?.name ?? '',
    });
    if (this.entries.length > max) this.entries.length = max;
  }
}
