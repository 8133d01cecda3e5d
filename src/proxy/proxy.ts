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
  createTableMemory,
} from './backend-table.js';
import { loadConfig, normalizeUrl, type ConfigOverrides, type ConfigSource } from './config.js';
import { HealthChecker } from './health.js';
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
  draining: boolean;
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
  const entries = new Map<string, Entry>();

  const slotList = (): SlotUrl[] => [...entries.values()].map((e) => ({ slot: e.slot, url: e.url }));
  const workers: Worker[] = [];
  const broadcast = (m: ToWorker): void => {
    for (const w of workers) w.postMessage(m);
  };

  const add = (rawUrl: string, weight: number): void => {
    const url = normalizeUrl(rawUrl);
    if (entries.has(url)) throw new BackendError(409, `backend ${url} already exists`);
    const slot = table.allocate(weight);
    if (slot < 0) throw new BackendError(409, 'backend table is full');
    entries.set(url, { slot, url, draining: false });
    log.info('backend added', { backend: url, weight, slot });
  };
  for (const b of config.backends) add(b.url, b.weight);

  const health = new HealthChecker(
    table,
    () => entries.values(),
    config.healthCheck,
    (url) => upstreamTls.forUrl(url),
  );

  const limiterMemory = config.rateLimit === null ? null : BucketTable.create(config.rateLimit.table ?? {}).buffer;

  // Workers: one uWS app each on the same port.
  const statsWaiters = new Map<
    number,
    { left: number; parts: Array<Array<{ slot: number; data: string }>>; limiters: EngineStats[]; done: () => void }
  >();
  let statsId = 0;
  const stopped = new Set<Worker>();
  let closing = false;
  let port = config.listen.port;
  await Promise.all(
    Array.from({ length: config.threads }, (_, index) => {
      const init: WorkerInit = { index, memory, config, backends: slotList(), front, reusePort, limiterMemory };
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
  health.start();

  const collectStats = async (): Promise<{ parts: Array<Array<{ slot: number; data: string }>>; limiters: EngineStats[] }> => {
    const id = ++statsId;
    const parts: Array<Array<{ slot: number; data: string }>> = [];
    const limiters: EngineStats[] = [];
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 1000);
      statsWaiters.set(id, {
        left: workers.length,
        parts,
        limiters,
        done: () => {
          clearTimeout(timer);
          resolve();
        },
      });
      broadcast({ type: 'stats', id });
    });
    statsWaiters.delete(id);
    return { parts, limiters };
  };
  const collectHistograms = async (): Promise<Array<Array<{ slot: number; data: string }>>> => (await collectStats()).parts;

  const handle: ProxyHandle = {
    port,
    adminPort: config.admin.port,
    config,
    async status() {
      const { parts, limiters } = await collectStats();
      const backends: BackendStatus[] = [];
      for (const e of entries.values()) {
        const h = newHistogram();
        for (const list of parts) for (const p of list) if (p.slot === e.slot) mergeEncoded(h, p.data);
        const q = (p: number): number => (h.totalCount === 0 ? 0 : h.getValueAtPercentile(p) / 1000);
        backends.push({
          url: e.url,
          weight: table.weight(e.slot),
          state: e.draining ? 'draining' : 'active',
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
    addBackend(url, weight) {
      add(url, weight);
      broadcast({ type: 'backends', backends: slotList() });
    },
    async removeBackend(rawUrl) {
      const url = normalizeUrl(rawUrl);
      const e = entries.get(url);
      if (!e) throw new BackendError(404, `no backend ${url}`);
      if (e.draining) throw new BackendError(409, `backend ${url} is already draining`);
      e.draining = true;
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
      entries.delete(url);
      broadcast({ type: 'backends', backends: slotList() });
      await new Promise((r) => setTimeout(r, 50));
      table.setState(e.slot, STATE_EMPTY);
      log.info('backend state change', { backend: url, from: 'draining', to: 'removed', drained });
      return { url, drained };
    },
    setWeight(rawUrl, weight) {
      const url = normalizeUrl(rawUrl);
      const e = entries.get(url);
      if (!e) throw new BackendError(404, `no backend ${url}`);
      table.setWeight(e.slot, weight);
      log.info('backend weight changed', { backend: url, weight });
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
      const wanted = new Map(next.backends.map((b) => [b.url, b.weight]));
      for (const e of entries.values()) {
        if (!wanted.has(e.url) && !e.draining) void handle.removeBackend(e.url).catch(() => undefined);
      }
      for (const [url, weight] of wanted) {
        const e = entries.get(url);
        if (!e) add(url, weight);
        else if (!e.draining && table.weight(e.slot) !== weight) handle.setWeight(url, weight);
      }
      // Certificates (listen.tls) reload; whether the port speaks TLS at all does not.
      const listen = config.listen.tls !== null && next.listen.tls !== null ? { ...config.listen, tls: next.listen.tls } : config.listen;
      upstreamTls.update(next.tls);
      config = { ...next, listen, threads: config.threads, front: config.front, admin: config.admin };
      handle.config = config;
      health.reconfigure(config.healthCheck);
      broadcast({ type: 'config', config });
      broadcast({ type: 'backends', backends: slotList() });
      log.info('config reloaded', { backends: entries.size, algorithm: config.algorithm });
    },
    async close() {
      if (closing) return;
      closing = true;
      health.stop();
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
    health.stop();
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
