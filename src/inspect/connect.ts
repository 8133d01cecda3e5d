/** The connection `sabre inspect` works over: ioredis, with errors an operator can act on. */
import { Redis, type RedisOptions } from 'ioredis';
import { SabreError } from '../errors.js';

/** A connection failure or refusal, said plainly (exit code 1, no stack). */
export class InspectError extends SabreError {
  constructor(message: string) {
    super('SABRE_INSPECT', message);
    this.name = 'InspectError';
  }
}

/** Where to connect and as whom. */
export interface Target {
  host: string;
  port: number;
  username?: string | undefined;
  password?: string | undefined;
  db: number;
  tls: boolean;
}

/** Opens and checks a connection (PING), turning refusals and auth failures into InspectErrors. */
export async function connect(t: Target): Promise<Redis> {
  const opts: RedisOptions = {
    host: t.host,
    port: t.port,
    db: t.db,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    connectionName: 'sabre-inspect',
  };
  if (t.username !== undefined) opts.username = t.username;
  if (t.password !== undefined) opts.password = t.password;
  if (t.tls) opts.tls = {};
  const r = new Redis(opts);
  // ioredis rejects connect() with "Connection is closed"; the cause arrives as an 'error' event.
  let cause: Error | null = null;
  r.on('error', (err: Error) => (cause ??= err));
  const where = `${t.host}:${t.port}`;
  try {
    await r.connect();
    await r.ping();
  } catch (err) {
    r.disconnect();
    const e = (cause ?? err) as NodeJS.ErrnoException;
    if (e.code === 'ECONNREFUSED') throw new InspectError(`cannot connect to ${where}: connection refused (is the server running?)`);
    if (e.code === 'ENOTFOUND') throw new InspectError(`cannot connect to ${where}: unknown host`);
    const msg = e.message ?? String(err);
    if (/NOAUTH/.test(msg)) throw new InspectError(`${where} requires a password: use -a PASSWORD (and --user NAME for an ACL user)`);
    if (/WRONGPASS|invalid password|invalid username-password/i.test(msg)) {
      throw new InspectError(`${where} refused the credentials: ${msg.replace(/^ReplyError: /, '')} (use -a PASSWORD and --user NAME)`);
    }
    throw new InspectError(`cannot use ${where}: ${msg}`);
  }
  return r;
}

/** Every key matching `pattern`, a batch at a time (SCAN, never KEYS, so the server is never blocked). */
export async function* scanKeys(r: Redis, pattern: string, count = 1000, type?: string): AsyncGenerator<Buffer[]> {
  let cursor = '0';
  do {
    const args: (string | number)[] = [cursor, 'MATCH', pattern, 'COUNT', count];
    if (type !== undefined) args.push('TYPE', type);
    const [next, keys] = (await r.callBuffer('SCAN', ...args)) as [Buffer, Buffer[]];
    cursor = next.toString();
    if (keys.length > 0) yield keys;
  } while (cursor !== '0');
}

/** A key as text for a terminal: printable ASCII as is, other bytes as \xNN (like redis-cli). */
export function showKey(k: Buffer): string {
  let s = '';
  for (const b of k)
    s += b >= 0x20 && b < 0x7f && b !== 0x5c ? String.fromCharCode(b) : b === 0x5c ? '\\\\' : `\\x${b.toString(16).padStart(2, '0')}`;
  return s;
}
