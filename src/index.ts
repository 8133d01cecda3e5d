/**
 * Public entry of `sabre`: runs the Redis-compatible server or the HTTP proxy inside the caller's
 * process, with the same configuration and checks as `sabre server` and `sabre proxy --config`.
 * The rate limiter is `sabre/limiter`.
 */
import type { z } from 'zod';
import { logger, setLogLevel } from './log.js';
import { serverConfigFromOptions, type ServerOptionValue } from './server/config.js';
import { startServer as runServer, type RunningServer } from './server/main.js';
import type { configSchema } from './proxy/config.js';
import { startProxy as runProxy } from './proxy/proxy.js';

export { SabreError, ConfigError, DataLoadError } from './errors.js';
export { SABRE_VERSION, REDIS_COMPAT_VERSION } from './version.js';
export type { ServerOptionValue } from './server/config.js';

/**
 * Options of startServer: redis.conf parameter names (`port`, `bind`, `shards`, `save`,
 * `appendonly`, `dir`, … as listed by `sabre server --help`). Unset ones keep their defaults
 * (port 6379 on 127.0.0.1; pass `port: 0` for a free port).
 */
export type ServerOptions = Readonly<Record<string, ServerOptionValue | undefined>>;

/** A server started by startServer. */
export interface SabreServer {
  /** The TCP port it listens on (the one the system chose when `port` was 0). */
  readonly port: number;
  /** Settles once the server has stopped, through close() or a client's SHUTDOWN. */
  readonly closed: Promise<void>;
  /** Stops listening, finishes persistence (the AOF) and ends the shard threads; the same promise on every call. */
  close(): Promise<void>;
}

/** The logger levels Redis's `loglevel` values map to, as in `sabre server`. */
const LOG_LEVELS = { debug: 'debug', verbose: 'debug', notice: 'info', warning: 'warn' } as const;

/**
 * Starts a server in this process; rejects with ConfigError on an unknown option, a bad value
 * or a port that cannot be bound, and with DataLoadError when the RDB/AOF in `dir` cannot be loaded.
 * A client's SHUTDOWN stops the server (not the process).
 */
export async function startServer(options: ServerOptions = {}): Promise<SabreServer> {
  const config = serverConfigFromOptions(options);
  // Only an explicit loglevel changes the process-wide threshold (SABRE_LOG_LEVEL otherwise).
  if (options.loglevel !== undefined) setLogLevel(LOG_LEVELS[config.get('loglevel') as keyof typeof LOG_LEVELS]);
  let running: RunningServer | null = null;
  let stopping: Promise<void> | null = null;
  let shutdownCommand = false;
  let stopped!: () => void;
  const closed = new Promise<void>((resolve) => (stopped = resolve));
  const close = (): Promise<void> => {
    stopping ??= running!.stop().finally(stopped);
    return stopping;
  };
  const onShutdownCommand = (): void => {
    // SHUTDOWN can arrive between listen and the end of start-up: stop once started.
    if (running === null) shutdownCommand = true;
    else close().catch((err: unknown) => logger('server').error('shutdown failed', { error: String(err) }));
  };
  running = await runServer(config, onShutdownCommand);
  if (shutdownCommand) onShutdownCommand();
  return { port: running.port, closed, close };
}

/**
 * Options of startProxy: the JSON config file's schema (`listen`, `threads`, `backends`,
 * `algorithm`, `healthCheck`, `timeouts`, `admin`, `rateLimit`, …; see examples/proxy.json).
 * Ports of 0 pick free ones; with port 0 use `threads: 1`, since each thread would bind its own.
 */
export type ProxyOptions = z.input<typeof configSchema>;

/** A proxy started by startProxy. */
export interface SabreProxy {
  /** The port clients connect to. */
  readonly port: number;
  /** The port of the admin API (GET /status, POST/DELETE /backends, /metrics). */
  readonly adminPort: number;
  /** Stops accepting, lets in-flight requests finish (up to `timeouts.shutdown`), then ends the worker threads. */
  close(): Promise<void>;
}

/** Starts the proxy in this process; rejects with ConfigError naming the fields at fault, or a port that cannot be bound. */
export async function startProxy(options: ProxyOptions = {}): Promise<SabreProxy> {
  const handle = await runProxy(options as Record<string, unknown>);
  return { port: handle.port, adminPort: handle.adminPort, close: () => handle.close() };
}
