/**
 * The append-only file on the acceptor: it gets every write's effect from the propagation fan-out
 * (propagation.ts: relative expiries turned absolute, as Redis's AOF does, in the order the shards ran
 * them); the file is flushed (with `always`, fdatasynced) before any reply of that turn reaches a socket.
 */
import { join } from 'node:path';
import type { ServerConfig } from './config.js';
import { CMD } from '../commands/ids.generated.js';
import { AofAppender, AofRewriter, type AppendFsync } from '../persistence/index.js';
import { isKeyword, parseSafeInt } from '../wire/bytes.js';
import { asciiBytes as ascii } from '../persistence/int-string.js';

/** Rewrites a command whose effect depends on the clock into its absolute form; null keeps the command as it is. */
export function absoluteForm(id: number, argv: Uint8Array[], nowMs: number): Uint8Array[] | null {
  const num = (i: number): number | null => parseSafeInt(argv[i]!, 0, argv[i]!.length);
  const kw = (i: number, upper: string): boolean => isKeyword(argv[i]!, 0, argv[i]!.length, upper);
  switch (id) {
    case CMD.EXPIRE:
    case CMD.PEXPIRE: {
      const n = num(2);
      if (n === null || n <= 0) return null;
      const at = nowMs + (id === CMD.EXPIRE ? n * 1000 : n);
      return [ascii('PEXPIREAT'), argv[1]!, ascii(String(at)), ...argv.slice(3)];
    }
    case CMD.EXPIREAT: {
      const n = num(2);
      return n === null ? null : [ascii('PEXPIREAT'), argv[1]!, ascii(String(n * 1000)), ...argv.slice(3)];
    }
    case CMD.SETEX:
    case CMD.PSETEX: {
      const n = num(2);
      if (n === null || n <= 0) return null;
      return [ascii('SET'), argv[1]!, argv[3]!, ascii('PXAT'), ascii(String(nowMs + (id === CMD.SETEX ? n * 1000 : n)))];
    }
    case CMD.SET:
    case CMD.GETEX: {
      const out = argv.slice();
      for (let i = id === CMD.SET ? 3 : 2; i + 1 < out.length; i++) {
        const ex = kw(i, 'EX');
        if (!ex && !kw(i, 'PX') && !kw(i, 'EXAT')) continue;
        const n = num(i + 1);
        // An invalid expiry fails the command: keep it as it was, so replay fails the same way.
        if (n === null || n <= 0) return null;
        out[i] = ascii('PXAT');
        out[i + 1] = ascii(String(kw(i, 'EXAT') ? n * 1000 : ex ? nowMs + n * 1000 : nowMs + n));
      }
      return out;
    }
    case CMD.RESTORE:
    case CMD.RESTORE_ASKING: {
      const ttl = num(2);
      if (ttl === null || ttl === 0 || argv.some((_, i) => i > 3 && kw(i, 'ABSTTL'))) return null;
      return [argv[0]!, argv[1]!, ascii(String(nowMs + ttl)), ...argv.slice(3), ascii('ABSTTL')];
    }
    default:
      return null;
  }
}

/** The open AOF and its rewrite. */
export class AofLog {
  private appender: AofAppender;
  /** Size after the last rewrite (or at start-up): automatic rewrites compare growth with it. */
  baseSize: number;

  constructor(private readonly config: Pick<ServerConfig, 'get' | 'onChange'>) {
    this.appender = new AofAppender(this.path, config.get('appendfsync') as AppendFsync);
    this.baseSize = this.appender.size;
    config.onChange('appendfsync', (v) => {
      if (this.closed) return;
      this.appender.close();
      this.appender = new AofAppender(this.path, v as AppendFsync);
    });
  }

  private get path(): string {
    return join(this.config.get('dir'), this.config.get('appendfilename'));
  }

  /** Current size of the file. */
  get size(): number {
    return this.appender.size;
  }

  /** Queues one write's effect (from propagation.ts) for database `db`. */
  append(db: number, argv: readonly Uint8Array[]): void {
    this.appender.append(db, argv);
  }

  /** The same for a command already encoded as RESP. */
  appendEncoded(db: number, resp: Uint8Array): void {
    this.appender.appendEncoded(db, resp);
  }

  /** Writes what was recorded (fdatasync with `always`); called before the turn's replies are written. */
  flush(): void {
    this.appender.flush();
  }

  /** BGREWRITEAOF, step 1 (inside the snapshot's hold): later commands are captured for the new file. */
  beginRewrite(): AofRewriter {
    this.appender.startRewrite();
    return new AofRewriter(this.path);
  }

  /** Step 2: every entry of the snapshot was added to `rewriter`; the captured tail is appended and the new file replaces the old. */
  completeRewrite(rewriter: AofRewriter): void {
    this.appender.completeRewrite(rewriter);
    this.baseSize = this.appender.size;
  }

  /** A failed rewrite: the temp file goes, the AOF was never touched. */
  abortRewrite(rewriter: AofRewriter): void {
    this.appender.abortRewrite(rewriter);
  }

  private closed = false;

  /** Flushes, fsyncs and closes the file. */
  close(): void {
    this.closed = true;
    this.appender.close();
  }
}
