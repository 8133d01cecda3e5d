/** `sabre proxy`: parses flags, starts the proxy, and wires SIGTERM/SIGINT (graceful stop) and SIGHUP (reload). */
import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.js';
import { logger } from '../log.js';
import type { ConfigOverrides } from './config.js';
import { startProxy } from './proxy.js';
import { setFlagsFromString } from 'node:v8';

// A young-generation pause here is mostly the sweep of the ArrayBuffers that died since the
// last one (uWS makes one per request for the client address), so it grows with the
// semi-space. A 2 MB cap, set before the worker isolates exist, keeps each pause short:
// p99 latency under wrk is lower with it than with V8's growth to 16 MB (native-bench/README.md).
setFlagsFromString('--max-semi-space-size=2');

const USAGE = `usage: sabre proxy [--config proxy.json] [options]

options:
  -c, --config PATH       JSON config file (see examples/proxy.json)
  -l, --listen HOST:PORT  address clients connect to (default 0.0.0.0:8080)
  -p, --port PORT         listen port
  -t, --threads N         worker threads (default: CPU count)
  -b, --backend URL       backend origin, repeatable (replaces the file's list)
  -a, --algorithm NAME    least-connections | round-robin | weighted-round-robin | ip-hash | p2c
      --front NAME        auto (default) | net | uws | node (see docs/proxy.md, "Fronts")
      --admin-port PORT   admin API port (default 9090)
  -h, --help
`;

const log = logger('proxy');

function intFlag(name: string, v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new ConfigError(`--${name}: expected an integer, got '${v}'`);
  return n;
}

const OPTIONS = {
  config: { type: 'string', short: 'c' },
  listen: { type: 'string', short: 'l' },
  port: { type: 'string', short: 'p' },
  threads: { type: 'string', short: 't' },
  backend: { type: 'string', short: 'b', multiple: true },
  algorithm: { type: 'string', short: 'a' },
  front: { type: 'string' },
  'admin-port': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** The flags, or a ConfigError with the usage text. */
function parseFlags(argv: string[]) {
  try {
    return parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false });
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}\n\n${USAGE}`);
  }
}

/** CLI entry point called by src/cli.ts. */
export async function main(argv: string[]): Promise<void> {
  const parsed = parseFlags(argv);
  const v = parsed.values;
  if (v.help) {
    process.stdout.write(USAGE);
    return;
  }
  const o: ConfigOverrides = {};
  if (v.listen !== undefined) {
    const m = /^(.*):(\d+)$/.exec(v.listen);
    if (!m) throw new ConfigError(`--listen: expected HOST:PORT, got '${v.listen}'`);
    o.host = m[1]!;
    o.port = Number(m[2]);
  }
  const port = intFlag('port', v.port);
  if (port !== undefined) o.port = port;
  const threads = intFlag('threads', v.threads);
  if (threads !== undefined) o.threads = threads;
  if (v.backend !== undefined) o.backends = v.backend;
  if (v.algorithm !== undefined) o.algorithm = v.algorithm;
  if (v.front !== undefined) o.front = v.front;
  const adminPort = intFlag('admin-port', v['admin-port']);
  if (adminPort !== undefined) o.adminPort = adminPort;

  const proxy = await startProxy(v.config, o);
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('stopping: finishing in-flight requests', { signal, deadline_ms: proxy.config.timeouts.shutdown });
    void proxy.close().then(() => {
      log.info('stopped');
      process.exit(0);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGHUP', () => {
    try {
      proxy.reload();
    } catch (err) {
      log.error('reload failed; keeping the running config', { error: err });
    }
  });
}
