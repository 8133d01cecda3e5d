/**
 * A replica's handshake with its master, as Redis 7.0's syncWithMaster: PING, AUTH (masteruser /
 * masterauth), REPLCONF listening-port (and ip-address), REPLCONF capa eof capa psync2, then PSYNC
 * with the cached history or `? -1`. The replies are single lines; what follows the PSYNC reply on
 * the socket (the RDB, or the stream after +CONTINUE) is left to the caller.
 */
import { encodeCommand } from '../wire/resp-command.js';

/** The longest reply line the handshake accepts. */
const MAX_LINE = 64 * 1024;

/** Collects bytes from the master and hands them out as lines, keeping what follows the last line read. */
export class LineReader {
  private buf: Buffer = Buffer.alloc(0);
  private waiter: ((line: string | Error) => void) | null = null;
  private failed: Error | null = null;

  /** Adds bytes read from the socket. */
  push(d: Buffer): void {
    this.buf = this.buf.length === 0 ? d : Buffer.concat([this.buf, d]);
    this.wake();
  }

  /** Makes the pending and later reads fail (the link went down). */
  fail(err: Error): void {
    this.failed = err;
    this.wake();
  }

  /** The next line without its CRLF (a bare LF ends one too, as the master's keepalive newlines). */
  readLine(): Promise<string> {
    return new Promise((resolve, reject) => {
      this.waiter = (r) => (r instanceof Error ? reject(r) : resolve(r));
      this.wake();
    });
  }

  /** The bytes after the last line read; the reader is empty afterwards. */
  rest(): Buffer {
    const b = this.buf;
    this.buf = Buffer.alloc(0);
    return b;
  }

  private wake(): void {
    const w = this.waiter;
    if (w === null) return;
    if (this.failed !== null) {
      this.waiter = null;
      w(this.failed);
      return;
    }
    const nl = this.buf.indexOf(10);
    if (nl === -1) {
      if (this.buf.length > MAX_LINE) {
        this.waiter = null;
        w(new Error('master sent an overlong reply line'));
      }
      return;
    }
    const end = nl > 0 && this.buf[nl - 1] === 13 ? nl - 1 : nl;
    const line = this.buf.toString('latin1', 0, end);
    this.buf = this.buf.subarray(nl + 1);
    this.waiter = null;
    w(line);
  }
}

/** What the handshake needs to say. */
export interface HandshakeOptions {
  masteruser: string;
  masterauth: string;
  /** The port this replica announces (replica-announce-port, else the listening port). */
  port: number;
  /** replica-announce-ip, or '' for none. */
  ip: string;
  /** The history to continue: replid and the next offset wanted, or null for `PSYNC ? -1`. */
  psync: { replid: string; offset: number } | null;
}

/** The master's PSYNC answer. */
export type PsyncReply =
  | { kind: 'full'; replid: string; offset: number }
  | { kind: 'continue'; replid: string | null }
  /** -NOMASTERLINK, -LOADING and the like: try again later. */
  | { kind: 'retry'; line: string };

/** Runs the handshake over `send` / `lines`; throws an Error whose message says what the master refused. */
export async function handshake(send: (b: Buffer) => void, lines: LineReader, o: HandshakeOptions): Promise<PsyncReply> {
  send(encodeCommand(['PING']));
  const pong = await lines.readLine();
  // A master with a password answers NOAUTH (or NOPERM): fine, AUTH comes next.
  if (
    pong.startsWith('-') &&
    !pong.startsWith('-NOAUTH') &&
    !pong.startsWith('-NOPERM') &&
    !pong.startsWith('-ERR operation not permitted')
  )
    throw new Error(`Error reply to PING from master: '${pong}'`);
  if (o.masterauth !== '') {
    send(encodeCommand(o.masteruser === '' ? ['AUTH', o.masterauth] : ['AUTH', o.masteruser, o.masterauth]));
    const r = await lines.readLine();
    if (r.startsWith('-')) throw new Error(`Unable to AUTH to MASTER: ${r}`);
  }
  // Older masters may not know these: Redis goes on without them, and so does Sabre.
  send(encodeCommand(['REPLCONF', 'listening-port', String(o.port)]));
  await lines.readLine();
  if (o.ip !== '') {
    send(encodeCommand(['REPLCONF', 'ip-address', o.ip]));
    await lines.readLine();
  }
  send(encodeCommand(['REPLCONF', 'capa', 'eof', 'capa', 'psync2']));
  await lines.readLine();
  send(encodeCommand(o.psync === null ? ['PSYNC', '?', '-1'] : ['PSYNC', o.psync.replid, String(o.psync.offset)]));
  let r = await lines.readLine();
  // The master may send newlines while it gets ready to answer.
  while (r === '') r = await lines.readLine();
  if (r.startsWith('+FULLRESYNC')) {
    const [, replid, offset] = r.split(' ');
    if (replid === undefined || replid.length !== 40 || offset === undefined || !/^-?\d+$/.test(offset))
      throw new Error(`Master replied with wrong +FULLRESYNC syntax: ${r}`);
    return { kind: 'full', replid, offset: Number(offset) };
  }
  if (r.startsWith('+CONTINUE')) {
    const id = r.slice(9).trim();
    return { kind: 'continue', replid: id.length === 40 ? id : null };
  }
  if (r.startsWith('-NOMASTERLINK') || r.startsWith('-LOADING')) return { kind: 'retry', line: r };
  throw new Error(`Unexpected reply to PSYNC from master: ${r}`);
}
