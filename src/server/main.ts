/** `sabre server`: parse the configuration, start the acceptor and shards, handle signals. */
import { Acceptor } from '../io/acceptor.js';
import { TLS_CONTEXT_SETTINGS } from '../io/tls-listener.js';
import { installLocalCommands } from './local-commands.js';
import { Acl } from './acl.js';
import { installModes } from './modes.js';
import { syncDatatypeConfig } from './datatype-config.js';
import { installReplication } from './replication.js';
import { installConfigRewrite, replicaofOption } from './config-rewrite.js';
import { installReplicaSide, wrapReplconf } from './repl-replica.js';
import { installCluster, installClusterInfo } from './cluster.js';
import { ServerPersistence } from './persistence.js';
import { Propagation } from './propagation.js';
import { applyMemoryLimits, trackMemoryPeak } from './memory-limit.js';
import { fitMaxclients } from './fd-limit.js';
import { startMetrics } from './metrics.js';
import { SERVER_USAGE, parseServerArgs, type ServerConfig } from './config.js';
import { logger, setLogLevel } from '../log.js';
import { ConfigError } from '../errors.js';
import { SABRE_VERSION } from '../version.js';
import { installScriptAdmin } from './script-admin.js';
import { SHARD_IMPLEMENTS } from '../shards/command-set.js';
import { PersistenceStatus } from '../persistence/index.js';

const log = logger('server');

/** A running server: its acceptor and a way to stop it. */
export interface RunningServer {
  acceptor: Acceptor;
  port: number;
  stop(): Promise<void>;
}

/** Starts a server with the given configuration (also used by tests and benchmarks). */
export async function startServer(config: ServerConfig, onShutdownCommand: () => void = () => {}): Promise<RunningServer> {
  const status = new PersistenceStatus();
  const workerUrl = new URL('../shards/worker.js', import.meta.url);
  const acceptor = new Acceptor({ config, log, shardCommands: SHARD_IMPLEMENTS, workerUrl, writes: status });
  const acl = new Acl(acceptor, config, log);
  acl.loadAtStartup();
  acceptor.access = acl;
  installLocalCommands(acceptor, config, onShutdownCommand, acl);
  for (const name of TLS_CONTEXT_SETTINGS) config.onApply(name, acceptor.tls.reconfigure);
  const modes = installModes(acceptor);
  const propagation = new Propagation(acceptor);
  const persistence = new ServerPersistence(acceptor, status, log, propagation);
  persistence.install(acceptor.local);
  installScriptAdmin(acceptor, acceptor.local);
  const replication = installReplication(acceptor, { persistence, propagation, log });
  const replica = installReplicaSide(acceptor, replication, config, log);
  // In cluster mode a replica's master lives in nodes.conf: CONFIG REWRITE leaves replicaof out, as Redis does.
  const clusterMode = config.get('cluster-enabled') === 'yes';
  installConfigRewrite(acceptor, config, acl, () => [replicaofOption(clusterMode ? [] : replication.infoLines())]);
  persistence.replInfo = () => replica.saveInfo();
  const cluster = clusterMode
    ? installCluster(
        acceptor,
        config,
        log,
        (channel, message, shard) => {
          // Outside any client's command: the subscribers' output needs its own flush.
          modes.pubsub.publish(channel, message, shard);
          acceptor.scheduleTick();
        },
        { replication, replica },
      )
    : null;
  if (cluster === null) installClusterInfo(acceptor, false);
  try {
    await acceptor.start(async () => {
      // Thresholds first: shard rings are FIFO, so data loaded next uses them.
      syncDatatypeConfig(acceptor);
      applyMemoryLimits(acceptor);
      trackMemoryPeak(acceptor);
      await persistence.load();
      // Last, so the reserve counts what loading opened (the AOF), plus the listening sockets to come.
      fitMaxclients(config, log, config.get('bind').split(/\s+/).filter(Boolean).length);
    });
    modes.started();
    wrapReplconf(acceptor, replica);
    replica.startFromConfig(persistence.loadedAux);
    if (cluster !== null && cluster.state.myself.replicaOf !== null) replica.resumeHistory(persistence.loadedAux);
    await cluster?.start();
  } catch (err) {
    await cluster?.close();
    await persistence.close(false);
    await acceptor.close();
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE' || e.code === 'EADDRNOTAVAIL' || e.code === 'EACCES') {
      throw new ConfigError(`could not listen on ${config.get('bind')}:${config.get('port')}: ${e.message}`);
    }
    throw err;
  }
  let metrics: Awaited<ReturnType<typeof startMetrics>>;
  try {
    metrics = await startMetrics(acceptor, config, log);
  } catch (err) {
    await persistence.close(false);
    await acceptor.close();
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'EADDRINUSE' || e.code === 'EADDRNOTAVAIL' || e.code === 'EACCES') {
      throw new ConfigError(`could not listen on ${config.get('bind')}:${config.get('metrics-port')} for metrics: ${e.message}`);
    }
    throw err;
  }
  return {
    acceptor,
    port: acceptor.port,
    stop: async () => {
      if (metrics) await new Promise<void>((r) => metrics!.close(() => r()));
      replication.close();
      await cluster?.close();
      await persistence.close();
      await acceptor.close();
    },
  };
}

/** CLI entry for `sabre server`. */
export async function main(argv: string[]): Promise<void> {
  const { config, help } = parseServerArgs(argv);
  if (help) {
    process.stdout.write(SERVER_USAGE);
    return;
  }
  const level = config.get('loglevel');
  setLogLevel(level === 'debug' || level === 'verbose' ? 'debug' : level === 'warning' ? 'warn' : 'info');
  let stopping = false;
  let running: RunningServer | null = null;
  const stop = (why: string): void => {
    if (stopping) return;
    stopping = true;
    log.info('shutting down', { reason: why });
    const done = running ? running.stop() : Promise.resolve();
    done.then(
      () => {
        log.info('bye');
        process.exit(0);
      },
      (err: unknown) => {
        log.error('shutdown failed', { error: String(err) });
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  running = await startServer(config, () => stop('SHUTDOWN command'));
  log.info('ready to accept connections', {
    version: SABRE_VERSION,
    bind: config.get('bind'),
    port: running.port,
    ...(config.num('tls-port') !== 0 ? { tlsPort: running.acceptor.tls.port } : {}),
    shards: config.num('shards'),
    node: process.versions.node,
  });
}
