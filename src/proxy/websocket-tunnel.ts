/**
 * The raw-socket side shared by the node:http and net fronts: status answers that close the connection, and the
 * WebSocket tunnel. After the backend's checked 101 the two sockets are piped both ways as raw bytes (frames stay as
 * the client masked them), so each side is read only as fast as the other writes: memory stays flat whatever a
 * peer floods.
 */
import { STATUS_CODES } from 'node:http';
import { connect, type Socket } from 'node:net';
import type { FrontRequest } from './front.js';
import type { ProxyContext } from './proxy-context.js';
import { requestProblem, scanRequestHeaders } from './request-head.js';
import { awaitUpgradeAnswer, upgradeRequestHead } from './websocket-handshake.js';

/** A status answer that closes the connection, for requests the proxy refuses before any response. */
export function errorAnswer(code: number): string {
  const text = STATUS_CODES[code] ?? 'Error';
  const body = `{"error":"${text.toLowerCase()}"}`;
  return `HTTP/1.1 ${code} ${text}\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`;
}

/** Writes `answer` and closes the socket once it is flushed. */
export function answerAndClose(socket: Socket, answer: string): void {
  if (socket.writable) socket.write(answer, 'latin1');
  socket.destroySoon();
}

/**
 * Opens a WebSocket tunnel for the upgrade request `req` (read synchronously here) on the client `socket`, whose
 * `early` bytes came after the request head; `problem` is a status line the front already refuses it with ('' if none).
 */
export function tunnel(ctx: ProxyContext, req: FrontRequest, problem: string, socket: Socket, early: Buffer): void {
  socket.on('error', () => undefined);
  const query = req.getQuery() ?? '';
  const url = req.getUrl();
  scanRequestHeaders(req);
  const key = req.getHeader('sec-websocket-key');
  const refusal = problem || requestProblem(url.length + query.length) || (key === '' ? '400 Bad Request' : '');
  if (refusal !== '') return answerAndClose(socket, errorAnswer(+refusal.slice(0, 3)));
  const clientIp = socket.remoteAddress ?? '';
  const { pool, path } = ctx.routeUpgrade(url, req.getHeader('host'), req);
  const target = query === '' ? path : `${path}?${query}`;
  const slot = pool.balancer.pick(clientIp, -1);
  if (slot < 0 || ctx.urls[slot] === undefined) return answerAndClose(socket, errorAnswer(503));
  const u = new URL(ctx.urls[slot]!);
  const upstream = connect({ host: u.hostname, port: +(u.port || 80), noDelay: true });
  ctx.table.acquire(slot);
  upstream.on('error', () => undefined);
  upstream.once('close', () => {
    ctx.table.release(slot);
    socket.destroy();
  });
  socket.once('close', () => upstream.destroy());
  // Nothing is read from the client until the backend has accepted: its first frames wait in the kernel.
  socket.pause();
  awaitUpgradeAnswer(upstream, key, ctx.config.timeouts.responseHeaders, (answer) => {
    if (socket.destroyed) return void upstream.destroy();
    if (answer.refusal !== '') {
      upstream.destroy();
      return answerAndClose(socket, errorAnswer(+answer.refusal.slice(0, 3)));
    }
    socket.write(answer.head);
    if (answer.rest.length > 0) socket.write(answer.rest);
    if (early.length > 0) upstream.write(early);
    upstream.pipe(socket);
    socket.pipe(upstream);
    upstream.resume();
    socket.resume();
  });
  upstream.write(
    upgradeRequestHead(target, req.getHeader('host'), clientIp, (cb) => req.forEach(cb)),
    'latin1',
  );
}
