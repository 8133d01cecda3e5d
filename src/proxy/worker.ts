/** A proxy worker thread: one front (net, uWS.js or node:http) on the shared port (SO_REUSEPORT), proxying to the backends. */
import { BucketTable } from '../limiter/bucket-table.js';
import type { EngineStats } from '../limiter/policy.js';
import { PolicyEngine } from '../limiter/policy.js';
import { parentPort, workerData } from 'node:worker_threads';
import { logger } from '../log.js';
import { BackendTable } from './backend-table.js';
import { encodeRecorder } from './latency.js';
import type { FromWorker, ToWorker, WorkerInit } from './messages.js';
import type { Front } from './front.js';
import { NetFront, netRemoteAddress } from './net-front.js';
import { NodeFront, nodeRemoteAddress } from './node-front.js';
import { PoolTable } from './pool-table.js';
import { ProxyContext } from './proxy-context.js';
import { limitGate } from './rate-gate.js';
import { TimeoutSweeper } from './timeout-sweeper.js';
import { setForwardedProto } from './request-head.js';
import { TlsFront } from './tls-front.js';
import { uws } from './uws.js';
import { UwsFront, uwsRemoteAddress } from './uws-front.js';

const init = workerData as WorkerInit;
const port = parentPort!;
const log = logger(`proxy-${init.index}`);
const post = (m: FromWorker): void => port.postMessage(m);

const table = new BackendTable(init.memory);
const sweeper = new TimeoutSweeper();
const native = init.front === 'uws' ? uws : null;
const remoteAddress = native !== null ? uwsRemoteAddress : init.front === 'net' ? netRemoteAddress : nodeRemoteAddress;
const ctx = new ProxyContext(
  init.index,
  table,
  new PoolTable(init.poolMemory),
  sweeper,
  init.config,
  init.poolNames,
  init.poolLimiters,
  remoteAddress,
);
ctx.setBackends(init.backends);
ctx.deferStarts = native !== null;
if (init.config.rateLimit !== null && init.limiterMemory !== null) {
  ctx.gate = limitGate(new PolicyEngine(init.config.rateLimit, { table: BucketTable.attach(init.limiterMemory) }));
}
const reaper = setInterval(() => ctx.reap(), 1000);
reaper.unref();

// listen.tls: the net front's parser over TLS sockets, h2 by ALPN (front-choice.ts picks net for TLS).
const tlsFront = init.config.listen.tls !== null ? new TlsFront(ctx, init.reusePort, init.config.listen.tls) : null;
if (tlsFront !== null) setForwardedProto('https');
const front: Front =
  tlsFront !== null
    ? tlsFront
    : native !== null
      ? new UwsFront(native, ctx)
      : init.front === 'net'
        ? new NetFront(ctx, init.reusePort)
        : new NodeFront(ctx, init.reusePort);
front.listen(init.config.listen.host, init.config.listen.port).then(
  (bound) => post({ type: 'listening', port: bound }),
  (err: Error) => post({ type: 'listen-failed', reason: err.message }),
);

/** Stops accepting, then closes every client connection and reports once in-flight requests finish or the deadline passes. */
function shutdown(deadlineMs: number): void {
  front.stopListening();
  const until = Date.now() + deadlineMs;
  const check = (): void => {
    if (ctx.inflight === 0 || Date.now() >= until) {
      if (ctx.inflight > 0) log.warn('shutdown deadline passed with requests in flight', { inflight: ctx.inflight });
      const inflight = ctx.inflight;
      front.closeConnections();
      post({ type: 'stopped', inflight });
    } else setTimeout(check, 20);
  };
  check();
}

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'config':
      ctx.setConfig(m.config, m.poolNames);
      tlsFront?.reconfigure(m.config);
      break;
    case 'backends':
      ctx.setBackends(m.backends);
      break;
    case 'stats': {
      const histograms: Array<{ slot: number; data: string }> = [];
      ctx.histograms.forEach((h, slot) => {
        if (h !== undefined && h.totalCount > 0) histograms.push({ slot, data: encodeRecorder(h) });
      });
      const poolLimiters: Array<{ pool: number; stats: EngineStats }> = [];
      for (const bp of ctx.backendPools)
        if (bp?.gate) poolLimiters.push({ pool: bp.index, stats: { ...bp.gate.engine.stats(), waiting: bp.gate.waiting } });
      const limiter = ctx.gate ? { ...ctx.gate.engine.stats(), waiting: ctx.gate.waiting } : null;
      post({ type: 'stats', id: m.id, histograms, limiter, poolLimiters });
      break;
    }
    case 'shutdown':
      shutdown(m.deadlineMs);
      break;
  }
});
