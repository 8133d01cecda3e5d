/** `sabre inspect`: an operator's look into a Sabre or Redis server over RESP. */
import { createReadStream, createWriteStream, statSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Redis } from 'ioredis';
import { ConfigError } from '../errors.js';
import { connect, InspectError, type Target } from './connect.js';
import { bigKeysReport, keysReport, ttlReport } from './reports.js';
import { statLoop } from './stat.js';
import { exportKeys, importKeys } from './transfer.js';

const USAGE = `usage: sabre inspect [connection] <command> [args]

connection (as redis-cli):
  -h HOST  -p PORT  -a PASSWORD  --user NAME  -n DB  --tls  (or -u redis://[user:pass@]host:port/db)

commands:
  keys PATTERN [--limit N]     type, TTL, MEMORY USAGE and encoding of matching keys (SCAN)
  bigkeys                      the biggest key of each type by element count
  memkeys                      the biggest key of each type by memory
  ttl [PATTERN] [--soonest N]  TTL histogram and the keys that expire first
  stat [-i SECONDS] [--count N]  one line a second: keys, memory, clients, commands
  export [PATTERN] [-o FILE]   keys as JSON lines (DUMP payloads, absolute expiry) to FILE or stdout
  import [FILE] [--replace]    restore an export (stdin without FILE); existing keys kept unless --replace
`;

const OPTIONS = {
  host: { type: 'string', short: 'h', default: '127.0.0.1' },
  port: { type: 'string', short: 'p', default: '6379' },
  pass: { type: 'string', short: 'a' },
  user: { type: 'string' },
  db: { type: 'string', short: 'n', default: '0' },
  uri: { type: 'string', short: 'u' },
  tls: { type: 'boolean', default: false },
  limit: { type: 'string', default: '100' },
  soonest: { type: 'string', default: '10' },
  interval: { type: 'string', short: 'i' },
  count: { type: 'string', default: '0' },
  output: { type: 'string', short: 'o' },
  replace: { type: 'boolean', default: false },
  help: { type: 'boolean', default: false },
} as const;

function int(name: string, v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new ConfigError(`--${name}: expected a whole number, got '${v}'`);
  return n;
}

/** The connection target from -h/-p/-a/--user/-n/--tls, or from a redis:// / rediss:// URI. */
function target(v: Record<string, string | boolean | undefined>): Target {
  if (typeof v.uri === 'string') {
    let u: URL;
    try {
      u = new URL(v.uri);
    } catch {
      throw new ConfigError(`-u: not a URI: '${v.uri}'`);
    }
    if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
      throw new ConfigError(`-u: expected redis:// or rediss://, got '${u.protocol}'`);
    return {
      host: u.hostname || '127.0.0.1',
      port: u.port ? int('uri port', u.port) : 6379,
      username: u.username ? decodeURIComponent(u.username) : undefined,
      password: u.password ? decodeURIComponent(u.password) : undefined,
      db: u.pathname.length > 1 ? int('uri db', u.pathname.slice(1)) : 0,
      tls: u.protocol === 'rediss:',
    };
  }
  return {
    host: String(v.host),
    port: int('port', String(v.port)),
    username: v.user as string | undefined,
    password: v.pass as string | undefined,
    db: int('db', String(v.db)),
    tls: v.tls === true,
  };
}

/** CLI entry for `sabre inspect`. */
export async function main(argv: string[]): Promise<void> {
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true });
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}\n\n${USAGE}`);
  }
  const { values: v, positionals: pos } = parsed;
  const [cmd, arg] = pos;
  if (v.help || cmd === undefined) {
    process.stdout.write(USAGE);
    return;
  }
  if (!['keys', 'bigkeys', 'memkeys', 'ttl', 'stat', 'export', 'import'].includes(cmd))
    throw new ConfigError(`inspect: unknown command '${cmd}'\n\n${USAGE}`);
  if (cmd === 'keys' && arg === undefined) throw new ConfigError('inspect keys: give a PATTERN (e.g. "user:*")');
  const r: Redis = await connect(target(v));
  const out = (line: string): void => {
    process.stdout.write(`${line}\n`);
  };
  let stopping = false;
  process.once('SIGINT', () => (stopping = true));
  try {
    switch (cmd) {
      case 'keys':
        await keysReport(r, arg!, int('limit', v.limit), out);
        break;
      case 'bigkeys':
      case 'memkeys':
        await bigKeysReport(r, cmd === 'memkeys', out);
        break;
      case 'ttl':
        await ttlReport(r, arg ?? '*', int('soonest', v.soonest), out);
        break;
      case 'stat':
        await statLoop(r, 1000 * Number(v.interval ?? 1), int('count', v.count), out, () => stopping);
        break;
      case 'export': {
        const file = v.output === undefined ? process.stdout : createWriteStream(v.output);
        const n = await exportKeys(r, arg ?? '*', file);
        if (file !== process.stdout) await new Promise<void>((res, rej) => file.end((err?: Error | null) => (err ? rej(err) : res())));
        process.stderr.write(`exported ${n} keys\n`);
        break;
      }
      case 'import': {
        const file = arg;
        const input = file === undefined ? process.stdin : createReadStream(file);
        const res = await importKeys(r, input, v.replace, file === undefined ? 0 : statSync(file).size);
        process.stderr.write(
          `restored ${res.restored} keys; ${res.existing} already existed${v.replace ? '' : ' (kept: --replace overwrites)'}; ${res.expired} had expired\n`,
        );
        break;
      }
    }
  } catch (err) {
    if (err instanceof InspectError || err instanceof ConfigError) throw err;
    throw new InspectError(`${cmd}: ${(err as Error).message}`);
  } finally {
    r.disconnect();
  }
}
