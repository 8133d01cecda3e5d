/** Starts and runs the proxy: worker threads, the shared backend table, health checks, admin API, reload and shutdown. */
import { BucketTable } from '../limiter/bucket-table.js';
import type { EngineStats } from '../limiter/policy.js';
import { sumLimiterStats } from './limiter-stats.js';
import { Worker } from 'node:worker_threads';
import { logger } from '../log.js';
import { ConfigError } from '../errors.js';
import {
  BackendTable,
  C_ERRORS,
  C_REQUESTS,
  C_RETRIES,
  C_TIMEOUTS,
  STATE_DRAINING,
  STATE_EMPTY,
  WEIGHT_SCALE,
  createTableMemory,
} from './backend-table.js';
import { DEFAULT_POOL, loadConfig, normalizeUrl, type ConfigOverrides, type ConfigSource } from './config.js';
import { settingsFor } from './backend-pool.js';
import { HealthChecker } from './health.js';
import { EjectionTracker } from './outlier.js';
import { createPoolMemory, POOL_SLOTS, PoolTable, P_SIZE } from './pool-table.js';
import { poolStatus } from './pool-status.js';
import { SlowStart } from './slow-start.js';
import { mergeEncoded, newHistogram } from './latency.js';
import type { FromWorker, SlotUrl, ToWorker, WorkerInit } from './messages.js';
import { chooseFront, nodeHasReusePort } from './front-choice.js';
import { uwsImplementation } from './uws.js';
import { startAdmin, type AdminServer } from './admin.js';
import { BackendError, type BackendStatus, type ProxyHandle } from './proxy-handle.js';
import { loadServerContexts, tlsStatus, upstreamContext } from './tls-config.js';
import { UpstreamTlsSettings } from './upstream-tls.js';

const log = logger('proxy');

interface Entry {
  slot: number;
  url: string;
  /** The pool's index (0: the default pool). */
  pool: number;
  draining: boolean;
}

/** How often the main thread times ejections and slow-start ramps and looks for backends that came back. */
const RESILIENCE_TICK_MS = 100;

/** Entries are keyed by pool and url: the same backend may serve two pools, each with its own slot. */
function entryKey(pool: number, url: string): string {
  return `${pool} ${url}`;
}

/** Starts the proxy from a config file path or object (kept for reload) and flag overrides. */
export async function startProxy(source: ConfigSource, overrides: ConfigOverrides = {}): Promise<ProxyHandle> {
  let config = loadConfig(source, overrides);
  // Certificate files are read here first, so a bad one fails the start with a message rather than in a worker.
  if (config.listen.tls !== null) loadServerContexts(config.listen.tls);
  const upstreamTls = new UpstreamTlsSettings(config.tls);
  upstreamContext(config.tls);
  const impl = uwsImplementation;
  const reusePort = nodeHasReusePort();
  const choice = chooseFront(config, impl, reusePort);
  const front = choice.front;
  if (choice.threads !== config.threads) config = { ...config, threads: choice.threads };
  if (config.front !== 'auto' && config.front !== front) log.warn('front changed', { asked: config.front, front, why: choice.reason });
  const memory = createTableMemory();
  const table = new BackendTable(memory);
  const poolMemory = createPoolMemory();
  const poolTable = new PoolTable(poolMemory);
  const entries = new Map<string, Entry>();
  /** Pool names by index: 0 is the default pool; a name keeps its index across reloads, new ones are appended. */
  const poolNames: Array<string | null> = [null, ...Object.keys(config.pools)];
  const poolIndex = (name: string | undefined): number => {
    if (name === undefined || name === DEFAULT_POOL) return 0;
    const i = poolNames.indexOf(name);
    if (i <= 0) throw new BackendError(404, `no pool ${name}`);
    return i;
  };
  const poolName = (i: number): string => poolNames[i] ?? DEFAULT_POOL;
  const settingsOf = (i: number) => settingsFor(config, poolNames, i);
  const slowStart = new SlowStart(table);
  const ejections = new EjectionTracker(table, poolTable);
  let started = false;

  const slotList = (): SlotUrl[] => [...entries.values()].map((e) => ({ slot: e.slot, url: e.url, pool: e.pool }));
  /** Writes each pool's backend count (what max-ejection shares are taken of). */
  const countPools = (): void => {
    const sizes = new Array<number>(POOL_SLOTS).fill(0);
    for (const e of entries.values()) if (!e.draining) sizes[e.pool]!++;
    for (let i = 0; i < POOL_SLOTS; i++) poolTable.set(i, P_SIZE, sizes[i]!);
  };
  const workers: Worker[] = [];
  const broadcast = (m: ToWorker): void => {
    for (const w of workers) w.postMessage(m);
  };

  const add = (rawUrl: string, weight: number, pool: number): void => {
    const url = normalizeUrl(rawUrl);
    const key = entryKey(pool, url);
    if (entries.has(key)) throw new BackendError(409, `backend ${url} already exists in pool ${poolName(pool)}`);
    const slot = table.allocate(weight, pool);
    if (slot < 0) throw new BackendError(409, 'backend table is full');
    entries.set(key, { slot, url, pool, draining: false });
    countPools();
    // A backend that joins a running pool ramps up; those the proxy starts with do not (nothing to protect yet).
    if (started) slowStart.begin(slot, settingsOf(pool)?.slowStartMs ?? 0);
    log.info('backend added', { backend: url, pool: poolName(pool), weight, slot });
  };
  for (const b of config.backends) add(b.url, b.weight, 0);
  for (const [name, p] of Object.entries(config.pools)) for (const b of p.backends) add(b.url, b.weight, poolIndex(name));

  /** One health checker per pool, each with its pool's settings. */
  const checkers = new Map<number, HealthChecker>();
  const syncCheckers = (): void => {
    for (let i = 0; i < poolNames.length; i++) {
      const s = settingsOf(i);
      const hc = checkers.get(i);
      if (s === null) {
        hc?.stop();
        checkers.delete(i);
      } else if (hc !== undefined) hc.reconfigure(s.healthCheck);
      else {
        const pool = i;
        const checker = new HealthChecker(
          table,
          () => [...entries.values()].filter((e) => e.pool === pool),
          s.healthCheck,
          (url) => upstreamTls.forUrl(url),
        );
        checkers.set(i, checker);
        if (started) checker.start();
      }
    }
  };
  syncCheckers();

  // Backends that come back (health check, end of an ejection) ramp up again under slow start.
  const wasHealthy = new Map<number, boolean>();
  const resilienceTick = (): void => {
    const list = [...entries.values()];
    ejections.tick(
      list,
      (pool) => settingsOf(pool)?.outlierDetection ?? null,
      (slot) => slowStart.begin(slot, settingsOf(table.pool(slot))?.slowStartMs ?? 0),
    );
    for (const e of list) {
      const healthy = table.healthy(e.slot);
      if (healthy && wasHealthy.get(e.slot) === false) slowStart.begin(e.slot, settingsOf(e.pool)?.slowStartMs ?? 0);
      wasHealthy.set(e.slot, healthy);
    }
    slowStart.tick();
  };
  const resilienceTimer = setInterval(resilienceTick, RESILIENCE_TICK_MS);
  resilienceTimer.unref();

  const limiterMemory = config.rateLimit === null ? null : BucketTable.create(config.rateLimit.table ?? {}).buffer;
  const poolLimiters = poolNames.map((name) => {
    const rl = name === null ? null : config.pools[name]!.rateLimit;
    return rl === null ? null : BucketTable.create(rl.table ?? {}).buffer;
  });

  // Workers: one uWS app each on the same port.
  const statsWaiters = new Map<
    number,
    {
      left: number;
      parts: Array<Array<{ slot: number; data: string }>>;
      limiters: EngineStats[];
      poolLimiters: Array<{ pool: number; stats: EngineStats }>;
      done: () => void;
    }
  >();
  let statsId = 0;
  const stopped = new Set<Worker>();
  let closing = false;
  let port = config.listen.port;
  await Promise.all(
    Array.from({ length: config.threads }, (_, index) => {
      const init: WorkerInit = {
        index,
        memory,
        config,
        backends: slotList(),
        front,
        reusePort,
        limiterMemory,
        poolMemory,
        poolNames,
        poolLimiters,
      };
      const w = new Worker(new URL('./worker.js', import.meta.url), { workerData: init });
      workers.push(w);
      return new Promise<void>((resolve, reject) => {
        w.on('message', (m: FromWorker) => {
          switch (m.type) {
            case 'listening':
              port = m.port;
              resolve();
              break;
            case 'listen-failed':
              reject(new ConfigError(`listen: ${m.reason}`));
              break;
            case 'stats': {
              const waiter = statsWaiters.get(m.id);
              if (waiter) {
                waiter.parts.push(m.histograms);
                if (m.limiter) waiter.limiters.push(m.limiter);
                waiter.poolLimiters.push(...m.poolLimiters);
                if (--waiter.left === 0) waiter.done();
              }
              break;
            }
            case 'stopped':
              stopped.add(w);
              break;
          }
        });
        w.on('error', (err) => {
          log.error('worker failed', { worker: index, error: err });
          reject(err);
        });
        w.on('exit', (code) => {
          if (!closing) log.error('worker exited unexpectedly', { worker: index, code });
        });
      });
    }),
  ).catch(async (err: unknown) => {
    await Promise.all(workers.map((w) => w.terminate()));
    throw err;
  });
  started = true;
  for (const c of checkers.values()) c.start();

  const collectStats = async (): Promise<{
    parts: Array<Array<{ slot: number; data: string }>>;
    limiters: EngineStats[];
    poolLimiters: Array<{ pool: number; stats: EngineStats }>;
  }> => {
    const id = ++statsId;
    const parts: Array<Array<{ slot: number; data: string }>> = [];
    const limiters: EngineStats[] = [];
    const poolLimiters: Array<{ pool: number; stats: EngineStats }> = [];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      statsWaiters.set(id, {
        left: workers.length,
        parts,
        limiters,
        poolLimiters,
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      });
      broadcast({ type: 'stats', id });
    });
    statsWaiters.delete(id);
    return { parts, limiters, poolLimiters };
  };
  const collectHistograms = async (): Promise<Array<Array<{ slot: number; data: string }>>> => (await collectStats()).parts;

  const handle: ProxyHandle = {
    port,
    adminPort: config.admin.port,
    config,
    async status() {
      const { parts, limiters, poolLimiters } = await collectStats();
      const backends: BackendStatus[] = [];
      for (const e of entries.values()) {
        const h = newHistogram();
        for (const list of parts) for (const p of list) if (p.slot === e.slot) mergeEncoded(h, p.data);
        const q = (p: number): number => (h.totalCount === 0 ? 0 : h.getValueAtPercentile(p) / 1000);
        const ej = ejections.info(e.slot);
        backends.push({
          url: e.url,
          pool: poolName(e.pool),
          weight: table.weight(e.slot),
          effectiveWeight: table.effective(e.slot) / WEIGHT_SCALE,
          slowStart: slowStart.ramping(e.slot),
          state: e.draining ? 'draining' : 'active',
          ejected: table.ejected(e.slot),
          ejections: ej.ejections,
          ejectedForMs: ej.ejectedUntil === 0 ? 0 : Math.max(0, ej.ejectedUntil - Date.now()),
          healthy: table.healthy(e.slot),
          inflight: table.inflight(e.slot),
          requests: table.total(e.slot, C_REQUESTS),
          errors: table.total(e.slot, C_ERRORS),
          retries: table.total(e.slot, C_RETRIES),
          timeouts: table.total(e.slot, C_TIMEOUTS),
          latency_ms: { p50: q(50), p90: q(90), p99: q(99), max: h.totalCount === 0 ? 0 : h.maxValue / 1000, count: h.totalCount },
        });
        h.destroy();
      }
      return {
        implementation: impl,
        front: front === 'node' ? 'node:http' : front,
        frontReason: choice.reason,
        tls: config.listen.tls === null ? null : { ...tlsStatus(config.listen.tls), h2: config.listen.tls.alpn.includes('h2') },
        upstreamTls: { verify: config.tls.verify, ca: config.tls.ca ?? null, servername: config.tls.servername ?? null },
        algorithm: config.algorithm,
        threads: workers.length,
        backends,
        pools: poolNames.flatMap((_name, i) => {
          const s = settingsOf(i);
          if (s === null) return [];
          const own = poolLimiters.filter((l) => l.pool === i).map((l) => l.stats);
          return [
            poolStatus(
              poolName(i),
              i,
              s,
              poolTable,
              backends.filter((b) => b.pool === poolName(i)),
              own.length ? sumLimiterStats(own) : null,
            ),
          ];
        }),
        limiter: sumLimiterStats(limiters),
      };
    },
    async latencyDistribution() {
      const h = newHistogram();
      for (const list of await collectHistograms()) for (const p of list) mergeEncoded(h, p.data);
      const text = h.outputPercentileDistribution(1, 1000);
      h.destroy();
      return text;
    },
    addBackend(url, weight, pool) {
      add(url, weight, poolIndex(pool));
      broadcast({ type: 'backends', backends: slotList() });
    },
    async removeBackend(rawUrl, pool) {
      const url = normalizeUrl(rawUrl);
      const e = entries.get(entryKey(poolIndex(pool), url));
      if (!e) throw new BackendError(404, `no backend ${url} in pool ${pool ?? DEFAULT_POOL}`);
      if (e.draining) throw new BackendError(409, `backend ${url} is already draining`);
      e.draining = true;
      countPools();
      table.setState(e.slot, STATE_DRAINING);
      log.info('backend state change', { backend: url, from: 'active', to: 'draining', inflight: table.inflight(e.slot) });
      const deadline = Date.now() + config.timeouts.shutdown;
      // A worker may have picked the slot just before it turned draining: wait a tick past zero before freeing it.
      let zeroSince = 0;
      while (Date.now() < deadline) {
        if (table.inflight(e.slot) === 0) {
          if (zeroSince === 0) zeroSince = Date.now();
          else if (Date.now() - zeroSince >= 50) break;
        } else zeroSince = 0;
        await new Promise((r) => setTimeout(r, 10));
      }
      const drained = table.inflight(e.slot) === 0;
      entries.delete(entryKey(e.pool, url));
      slowStart.forget(e.slot);
      wasHealthy.delete(e.slot);
      broadcast({ type: 'backends', backends: slotList() });
      await new Promise((r) => setTimeout(r, 50));
      table.setState(e.slot, STATE_EMPTY);
      log.info('backend state change', { backend: url, from: 'draining', to: 'removed', drained });
      return { url, drained };
    },
    setWeight(rawUrl, weight, pool) {
      const url = normalizeUrl(rawUrl);
      const e = entries.get(entryKey(poolIndex(pool), url));
      if (!e) throw new BackendError(404, `no backend ${url} in pool ${pool ?? DEFAULT_POOL}`);
      table.setWeight(e.slot, weight);
      log.info('backend weight changed', { backend: url, pool: poolName(e.pool), weight });
    },
    reload() {
      const next = loadConfig(source, overrides);
      // New certificates are read and checked before any thread sees them: a bad file keeps the running config.
      if (next.listen.tls !== null) loadServerContexts(next.listen.tls);
      upstreamContext(next.tls);
      if ((next.listen.tls === null) !== (config.listen.tls === null))
        log.warn('reload: turning TLS on or off applies only after a restart');
      if (
        next.listen.port !== config.listen.port ||
        next.listen.host !== config.listen.host ||
        next.threads !== config.threads ||
        next.front !== config.front
      ) {
        log.warn('reload: listen address, threads and front apply only after a restart');
      }
      for (const name of Object.keys(next.pools)) {
        if (poolNames.includes(name)) continue;
        if (poolNames.length >= POOL_SLOTS) throw new ConfigError(`reload: more than ${POOL_SLOTS - 1} pools since start; restart instead`);
        poolTable.reset(poolNames.length);
        poolNames.push(name);
        if (next.pools[name]!.rateLimit !== null) log.warn("reload: a new pool's rateLimit applies only after a restart", { pool: name });
      }
      const wanted = new Map<string, { url: string; weight: number; pool: number }>();
      for (const b of next.backends) wanted.set(entryKey(0, b.url), { url: b.url, weight: b.weight, pool: 0 });
      for (const [name, p] of Object.entries(next.pools)) {
        const i = poolIndex(name);
        for (const b of p.backends) wanted.set(entryKey(i, b.url), { url: b.url, weight: b.weight, pool: i });
      }
      for (const [key, e] of entries) {
        if (!wanted.has(key) && !e.draining) void handle.removeBackend(e.url, poolName(e.pool)).catch(() => undefined);
      }
      for (const [key, w] of wanted) {
        const e = entries.get(key);
        if (!e) add(w.url, w.weight, w.pool);
        else if (!e.draining && table.weight(e.slot) !== w.weight) handle.setWeight(w.url, w.weight, poolName(w.pool));
      }
      // Certificates (listen.tls) reload; whether the port speaks TLS at all does not.
      const listen = config.listen.tls !== null && next.listen.tls !== null ? { ...config.listen, tls: next.listen.tls } : config.listen;
      upstreamTls.update(next.tls);
      config = { ...next, listen, threads: config.threads, front: config.front, admin: config.admin };
      handle.config = config;
      syncCheckers();
      broadcast({ type: 'config', config, poolNames });
      broadcast({ type: 'backends', backends: slotList() });
      log.info('config reloaded', { backends: entries.size, algorithm: config.algorithm });
    },
    async close() {
      if (closing) return;
      closing = true;
      for (const c of checkers.values()) c.stop();
      clearInterval(resilienceTimer);
      await admin.close();
      broadcast({ type: 'shutdown', deadlineMs: config.timeouts.shutdown });
      const until = Date.now() + config.timeouts.shutdown + 1000;
      while (stopped.size < workers.length && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };

  let admin: AdminServer;
  try {
    admin = await startAdmin(handle, config.admin.host, config.admin.port);
  } catch (err) {
    closing = true;
    for (const c of checkers.values()) c.stop();
    clearInterval(resilienceTimer);
    await Promise.all(workers.map((w) => w.terminate()));
    throw new ConfigError(`admin: cannot listen on ${config.admin.host}:${config.admin.port}: ${(err as Error).message}`);
  }
  handle.adminPort = admin.port;
  log.info('proxy listening', {
    host: config.listen.host,
    port,
    admin_port: admin.port,
    threads: workers.length,
    algorithm: config.algorithm,
    backends: entries.size,
    front: front === 'uws' ? `uWS.js ${impl.package} (native)` : front === 'node' ? 'node:http' : 'net',
    why: choice.reason,
  });
  return handle;
}
