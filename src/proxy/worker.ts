/** A proxy worker thread: one uWS app (node:http where no native uWS loads) on the shared port (SO_REUSEPORT), proxying to the backends. */
import { BucketTable } from '../limiter/bucket-table.js';
import { PolicyEngine } from '../limiter/policy.js';
import { parentPort, workerData } from 'node:worker_threads';
import { logger } from '../log.js';
import { BackendTable } from './backend-table.js';
import { Balancer } from './balancer.js';
import { encodeRecorder } from './latency.js';
import type { FromWorker, ToWorker, WorkerInit } from './messages.js';
import { ProxyContext, proxyRequest } from './proxy-handler.js';
import { TimeoutSweeper } from './upstream-client.js';
import { uws, type us_listen_socket } from './uws.js';
import { NodeFrontRequest, NodeFrontResponse } from './node-front.js';
import { attachWebSocketProxy } from './websocket.js';
import { createServer } from 'node:http';
import type { AddressInfo, ListenOptions } from 'node:net';

const init = workerData as WorkerInit;
const port = parentPort!;
const log = logger(`proxy-${init.index}`);
const post = (m: FromWorker): void => port.postMessage(m);

const table = new BackendTable(init.memory);
const sweeper = new TimeoutSweeper();
const ctx = new ProxyContext(init.index, table, new Balancer(table, init.config.algorithm), sweeper, init.config);
ctx.setBackends(init.backends);
if (init.config.rateLimit !== null && init.limiterMemory !== null) {
  ctx.limiter = new PolicyEngine(init.config.rateLimit, { table: BucketTable.attach(init.limiterMemory) });
}
const reaper = setInterval(() => ctx.reap(), 1000);
reaper.unref();

let stopListening: () => void = () => undefined;
const { host, port: listenPort } = init.config.listen;
if (uws !== null) {
  const native = uws;
  const app = native.App();
  attachWebSocketProxy(app, ctx);
  app.any('/*', (res, req) => proxyRequest(ctx, res, req));
  app.listen(host, listenPort, (ls: us_listen_socket | false) => {
    if (!ls) {
      post({ type: 'listen-failed', reason: `cannot listen on ${host}:${listenPort}` });
      return;
    }
    stopListening = () => native.us_listen_socket_close(ls);
    post({ type: 'listening', port: native.us_socket_local_port(ls) });
  });
} else {
  ctx.remoteAddress = (res) => Buffer.from(res.getRemoteAddressAsText()).toString();
  const server = createServer({ noDelay: true }, (req, res) => proxyRequest(ctx, new NodeFrontResponse(req, res), new NodeFrontRequest(req)));
  server.on('error', (err) => post({ type: 'listen-failed', reason: `cannot listen on ${host}:${listenPort}: ${err.message}` }));
  // reusePort (Node >= 22.12) lets every thread bind the same port, as uWS does natively.
  server.listen({ host, port: listenPort, reusePort: init.reusePort } as ListenOptions, () => {
    stopListening = () => {
      server.close();
      server.closeIdleConnections();
    };
    post({ type: 'listening', port: (server.address() as AddressInfo).port });
  });
}

/** Stops accepting, then reports once in-flight requests finish or the deadline passes. */
function shutdown(deadlineMs: number): void {
  stopListening();
  const until = Date.now() + deadlineMs;
  const check = (): void => {
    if (ctx.inflight === 0 || Date.now() >= until) {
      if (ctx.inflight > 0) log.warn('shutdown deadline passed with requests in flight', { inflight: ctx.inflight });
      post({ type: 'stopped', inflight: ctx.inflight });
    } else setTimeout(check, 20);
  };
  check();
}

port.on('message', (m: ToWorker) => {
  switch (m.type) {
    case 'config':
      ctx.setConfig(m.config);
      break;
    case 'backends':
      ctx.setBackends(m.backends);
      break;
    case 'stats': {
      const histograms: Array<{ slot: number; data: string }> = [];
      ctx.histograms.forEach((h, slot) => {
        if (h !== undefined && h.totalCount > 0) histograms.push({ slot, data: encodeRecorder(h) });
      });
      post({ type: 'stats', id: m.id, histograms });
      break;
    }
    case 'shutdown':
      shutdown(m.deadlineMs);
      break;
  }
});
