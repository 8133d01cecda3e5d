/**
 * MIGRATE (Redis's migrateCommand): DUMP payloads of the keys go to another server over a
 * client connection made from here, as AUTH, SELECT and RESTORE commands; keys the target
 * acknowledged are deleted unless COPY. Connections are cached per host:port and closed after
 * 10 s idle (INFO's migrate_cached_sockets), as Redis does. The keys' shards are held while it
 * runs, so no other client's command lands between the DUMP and the DEL (Redis blocks entirely).
 */
import net from 'node:net';
import { Buffer } from 'node:buffer';
import { CMD } from '../commands/ids.generated.js';
import type { Acceptor } from '../io/acceptor.js';
import type { Connection } from '../io/connection.js';
import type { ParsedCommand } from '../wire/resp-parser.js';
import { RespWriter } from '../wire/resp-writer.js';
import { encodeCommand } from '../wire/resp-command.js';
import { isKeyword, parseI64 } from '../wire/bytes.js';
import { E_MIGRATE_CONNECT, E_MIGRATE_KEYS_ARG, E_NOT_INT, E_SYNTAX, migrateIoError, migrateTargetError } from '../wire/error-text.js';
import { registerInfoLines } from './info.js';
import { TxnCollector } from './transactions.js';

/** Redis's MIGRATE_SOCKET_CACHE_ITEMS and MIGRATE_SOCKET_CACHE_TTL (seconds). */
const CACHE_ITEMS = 64;
const CACHE_TTL_MS = 10_000;

/** A cached connection to a MIGRATE target: replies are read as lines, like Redis's syncReadLine. */
class TargetLink {
  lastDbid = -1;
  lastUse = Date.now();
  closed = false;
  private input: Buffer = Buffer.alloc(0);
  private wake: (() => void) | null = null;

  constructor(readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => {
      this.input = this.input.length === 0 ? d : Buffer.concat([this.input, d]);
      this.wake?.();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    socket.on('error', () => {});
  }

  /** Writes `bytes`; false when the socket failed or the write did not drain within `ms`. */
  write(bytes: Buffer, ms: number): Promise<boolean> {
    return new Promise((resolve) => {
      if (this.closed) return resolve(false);
      const timer = setTimeout(() => resolve(false), ms);
      this.socket.write(bytes, (err) => {
        clearTimeout(timer);
        resolve(!err);
      });
    });
  }

  /** The next reply line without its CRLF, or null on timeout or a closed socket. */
  async readLine(ms: number): Promise<string | null> {
    const deadline = Date.now() + ms;
    for (;;) {
      const nl = this.input.indexOf(10);
      if (nl >= 0) {
        const end = nl > 0 && this.input[nl - 1] === 13 ? nl - 1 : nl;
        const line = this.input.subarray(0, end).toString('latin1');
        this.input = this.input.subarray(nl + 1);
        return line;
      }
      const left = deadline - Date.now();
      if (this.closed || left <= 0) return null;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          this.wake = null;
          resolve();
        }, left);
        this.wake = () => {
          clearTimeout(timer);
          this.wake = null;
          resolve();
        };
      });
    }
  }

  close(): void {
    this.closed = true;
    this.socket.destroy();
  }
}

/** MIGRATE's parsed arguments. */
interface MigrateArgs {
  host: string;
  port: number;
  dbid: number;
  timeout: number;
  copy: boolean;
  replace: boolean;
  username: Buffer | null;
  password: Buffer | null;
  keys: Buffer[];
}

function arg(cmd: ParsedCommand, i: number): Buffer {
  return Buffer.from(cmd.buf.subarray(cmd.argStart[i]!, cmd.argStart[i]! + cmd.argLen[i]!));
}

function is(cmd: ParsedCommand, i: number, upper: string): boolean {
  return isKeyword(cmd.buf, cmd.argStart[i]!, cmd.argLen[i]!, upper);
}

/** Parses MIGRATE's arguments in Redis's order of checks; a string is the error to reply. */
export function parseMigrateArgs(cmd: ParsedCommand): MigrateArgs | string {
  let copy = false;
  let replace = false;
  let username: Buffer | null = null;
  let password: Buffer | null = null;
  let firstKey = 3;
  let numKeys = 1;
  for (let j = 6; j < cmd.argc; j++) {
    const more = cmd.argc - 1 - j;
    if (is(cmd, j, 'COPY')) copy = true;
    else if (is(cmd, j, 'REPLACE')) replace = true;
    else if (is(cmd, j, 'AUTH')) {
      if (more < 1) return E_SYNTAX;
      password = arg(cmd, ++j);
    } else if (is(cmd, j, 'AUTH2')) {
      if (more < 2) return E_SYNTAX;
      username = arg(cmd, ++j);
      password = arg(cmd, ++j);
    } else if (is(cmd, j, 'KEYS')) {
      if (cmd.argLen[3] !== 0) return E_MIGRATE_KEYS_ARG;
      firstKey = j + 1;
      numKeys = cmd.argc - j - 1;
      break;
    } else return E_SYNTAX;
  }
  const timeout = parseI64(cmd.buf, cmd.argStart[5]!, cmd.argLen[5]!);
  const dbid = parseI64(cmd.buf, cmd.argStart[4]!, cmd.argLen[4]!);
  if (timeout === null || dbid === null) return E_NOT_INT;
  const keys: Buffer[] = [];
  for (let i = 0; i < numKeys; i++) keys.push(arg(cmd, firstKey + i));
  return {
    host: arg(cmd, 1).toString('latin1'),
    // Redis reads the port with atoi.
    port: Number.parseInt(arg(cmd, 2).toString('latin1'), 10) || 0,
    dbid: Number(dbid),
    timeout: timeout <= 0 ? 1000 : Number(timeout),
    copy,
    replace,
    username,
    password,
    keys,
  };
}

/** The payload of a bulk reply, or null (nil or an error). */
function bulkBody(reply: Uint8Array): Buffer | null {
  if (reply[0] !== 36 || reply[1] === 45) return null;
  const cr = reply.indexOf(13);
  return Buffer.from(reply.subarray(cr + 2, reply.length - 2));
}

/** The value of an integer reply (PTTL). */
function intBody(reply: Uint8Array): number {
  return reply[0] === 58 ? Number(Buffer.from(reply.subarray(1, reply.indexOf(13))).toString('latin1')) : -2;
}

/** MIGRATE's cache of target connections and the command itself. */
export class Migrate {
  private readonly links = new Map<string, TargetLink>();

  constructor(private readonly a: Acceptor) {
    registerInfoLines(a, 'stats', () => [`migrate_cached_sockets:${this.links.size}`]);
    a.local[CMD.MIGRATE] = (conn, seq, cmd) => this.command(conn, seq, cmd);
    const sweep = setInterval(() => this.closeIdle(), 1000);
    sweep.unref();
  }

  /** Closes cached connections idle for more than Redis's 10 s. */
  private closeIdle(): void {
    const now = Date.now();
    for (const [k, link] of this.links) {
      if (now - link.lastUse > CACHE_TTL_MS || link.closed) {
        link.close();
        this.links.delete(k);
      }
    }
  }

  private dropLink(host: string, port: number): void {
    const k = `${host}:${port}`;
    this.links.get(k)?.close();
    this.links.delete(k);
  }

  /**
   * A cached connection to host:port, or a new one within `ms`: 'timeout' when connecting took
   * longer, 'failed' when it was refused (Redis's non-blocking connect then fails at the write).
   */
  private async link(host: string, port: number, ms: number): Promise<TargetLink | 'timeout' | 'failed'> {
    const k = `${host}:${port}`;
    const cached = this.links.get(k);
    if (cached !== undefined && !cached.closed) {
      cached.lastUse = Date.now();
      return cached;
    }
    if (cached !== undefined) this.links.delete(k);
    if (this.links.size >= CACHE_ITEMS) {
      // Like Redis, make room by dropping a random cached connection.
      const victims = [...this.links.keys()];
      const v = victims[Math.floor(Math.random() * victims.length)]!;
      this.links.get(v)!.close();
      this.links.delete(v);
    }
    const socket = await new Promise<net.Socket | 'timeout' | 'failed'>((resolve) => {
      if (port <= 0 || port > 65535) return resolve('failed');
      const s = net.connect({ host, port });
      const timer = setTimeout(() => {
        s.destroy();
        resolve('timeout');
      }, ms);
      s.once('connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', () => {
        clearTimeout(timer);
        s.destroy();
        resolve('failed');
      });
    });
    if (typeof socket === 'string') return socket;
    const link = new TargetLink(socket);
    this.links.set(k, link);
    return link;
  }

  private command(conn: Connection, seq: number, cmd: ParsedCommand): void {
    const args = parseMigrateArgs(cmd);
    if (typeof args === 'string') return this.a.replyError(conn, seq, args);
    const co = this.a.coordinator;
    const shards = new Set(args.keys.map((k) => co.shardOfKey(k)));
    const db = conn.db;
    const proto = conn.proto;
    const run = (): Promise<Uint8Array> => this.run(args, db, proto);
    // Inside EXEC the transaction already holds what it needs: a second hold would wait for it forever.
    const done = conn instanceof TxnCollector ? run() : co.holding(shards, run);
    this.a.park(conn);
    void done.then((reply) => {
      if (!conn.closed && conn.deliver(seq, reply, 0, reply.length)) this.a.markDirty(conn);
      this.a.releaseStalled();
    });
  }

  /** The steps of one MIGRATE; resolves with its reply. */
  private async run(m: MigrateArgs, db: number, proto: 2 | 3): Promise<Uint8Array> {
    const w = new RespWriter(256);
    w.proto = proto;
    const co = this.a.coordinator;
    const keys: Buffer[] = [];
    const payloads: Buffer[] = [];
    const ttls: number[] = [];
    // The keys' shards are held: every DUMP and PTTL can be in flight at once (each ring keeps its order).
    const read = await Promise.all(
      m.keys.map((key) => {
        const shard = co.shardOfKey(key);
        return Promise.all([
          co.call(shard, db, CMD.DUMP, [Buffer.from('dump'), key]),
          co.call(shard, db, CMD.PTTL, [Buffer.from('pttl'), key]),
        ]);
      }),
    );
    for (let i = 0; i < m.keys.length; i++) {
      const payload = bulkBody(read[i]![0]);
      if (payload === null) continue;
      const pttl = intBody(read[i]![1]);
      if (pttl === -2) continue;
      keys.push(m.keys[i]!);
      payloads.push(payload);
      ttls.push(pttl < 0 ? 0 : Math.max(pttl, 1));
    }
    if (keys.length === 0) {
      w.simple('NOKEY');
      return w.bytes.slice(0, w.len);
    }
    let mayRetry = true;
    for (;;) {
      const link = await this.link(m.host, m.port, m.timeout);
      if (link === 'timeout') {
        w.error(E_MIGRATE_CONNECT);
        return w.bytes.slice(0, w.len);
      }
      if (link === 'failed') {
        if (mayRetry) {
          mayRetry = false;
          continue;
        }
        w.error(migrateIoError(true));
        return w.bytes.slice(0, w.len);
      }
      const select = link.lastDbid !== m.dbid;
      const cluster = this.a.config.get('cluster-enabled') === 'yes';
      const parts: Buffer[] = [];
      if (m.password !== null) {
        parts.push(encodeCommand(m.username !== null ? [Buffer.from('AUTH'), m.username, m.password] : [Buffer.from('AUTH'), m.password]));
      }
      if (select) parts.push(encodeCommand([Buffer.from('SELECT'), Buffer.from(String(m.dbid))]));
      for (let i = 0; i < keys.length; i++) {
        // A cluster node's target is importing the slot: RESTORE-ASKING passes there (Redis's migrateCommand).
        const restore = [Buffer.from(cluster ? 'RESTORE-ASKING' : 'RESTORE'), keys[i]!, Buffer.from(String(ttls[i])), payloads[i]!];
        if (m.replace) restore.push(Buffer.from('REPLACE'));
        parts.push(encodeCommand(restore));
      }
      if (!(await link.write(Buffer.concat(parts), m.timeout))) {
        this.dropLink(m.host, m.port);
        if (mayRetry) {
          mayRetry = false;
          continue;
        }
        w.error(migrateIoError(true));
        return w.bytes.slice(0, w.len);
      }
      const authReply = m.password !== null ? await link.readLine(m.timeout) : '';
      const selectReply = select && authReply !== null ? await link.readLine(m.timeout) : '';
      if (authReply === null || selectReply === null) {
        const timedOut = !link.closed;
        this.dropLink(m.host, m.port);
        // Like Redis, a socket that failed (not one that timed out) gets one retry on a new connection.
        if (mayRetry && !timedOut) {
          mayRetry = false;
          continue;
        }
        w.error(migrateIoError(false));
        return w.bytes.slice(0, w.len);
      }
      let targetError: string | null = null;
      let socketError = false;
      let acked = 0;
      const deleted: Buffer[] = [];
      for (let j = 0; j < keys.length; j++) {
        const line = await link.readLine(m.timeout);
        if (line === null) {
          socketError = true;
          break;
        }
        acked++;
        const failed = authReply.startsWith('-')
          ? authReply
          : selectReply.startsWith('-')
            ? selectReply
            : line.startsWith('-')
              ? line
              : null;
        if (failed !== null) {
          if (targetError === null) {
            link.lastDbid = -1;
            targetError = failed.slice(1);
          }
        } else if (!m.copy) deleted.push(keys[j]!);
      }
      await Promise.all(
        deleted.map((key) => {
          const del = [Buffer.from('del'), key];
          return co.call(co.shardOfKey(key), db, CMD.DEL, del, 0, 0, co.logEntry(db, CMD.DEL, del));
        }),
      );
      if (socketError) {
        this.dropLink(m.host, m.port);
        // Retry only when nothing was read back and the socket failed rather than timed out.
        if (targetError === null && acked === 0 && mayRetry && link.closed) {
          mayRetry = false;
          continue;
        }
        if (targetError === null) {
          w.error(migrateIoError(false));
          return w.bytes.slice(0, w.len);
        }
      }
      if (targetError !== null) w.error(migrateTargetError(targetError));
      else {
        link.lastDbid = m.dbid;
        link.lastUse = Date.now();
        w.simple('OK');
      }
      return w.bytes.slice(0, w.len);
    }
  }
}
