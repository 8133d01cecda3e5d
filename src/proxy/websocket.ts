/** WebSocket pass-through: uWS accepts the client side once the backend answered 101; messages are re-framed both ways. */
import { randomFillSync } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import type { HttpRequest, HttpResponse, TemplatedApp, WebSocket } from './uws.js';
import { uws } from './uws.js';
import type { ProxyContext } from './proxy-context.js';
import { awaitUpgradeAnswer, upgradeRequestHead } from './websocket-handshake.js';

const OP_CONT = 0x0;
const OP_TEXT = 0x1;
const OP_BINARY = 0x2;
const OP_CLOSE = 0x8;
const OP_PING = 0x9;

/** Per-connection state uWS keeps as the WebSocket's user data. */
interface Link {
  upstream: Socket;
  slot: number;
  /** Bytes from the backend that arrived with (after) the 101 head. */
  early: Buffer;
  ws: WebSocket<Link> | null;
  closed: boolean;
}

/** Masking keys from the CSPRNG, drawn a kilobyte at a time and used four bytes per frame. */
const MASK_KEYS = Buffer.allocUnsafe(1024);
let maskKeyAt = MASK_KEYS.length;

/** Encodes one client→backend frame, masked with a fresh unpredictable key as RFC 6455 §5.3 requires. */
export function encodeFrame(opcode: number, payload: Uint8Array): Buffer {
  const n = payload.byteLength;
  const headLen = n < 126 ? 6 : n < 65536 ? 8 : 14;
  const frame = Buffer.allocUnsafe(headLen + n);
  frame[0] = 0x80 | opcode;
  if (n < 126) frame[1] = 0x80 | n;
  else if (n < 65536) {
    frame[1] = 0x80 | 126;
    frame.writeUInt16BE(n, 2);
  } else {
    frame[1] = 0x80 | 127;
    frame.writeBigUInt64BE(BigInt(n), 2);
  }
  if (maskKeyAt === MASK_KEYS.length) {
    randomFillSync(MASK_KEYS);
    maskKeyAt = 0;
  }
  const m0 = MASK_KEYS[maskKeyAt]!;
  const m1 = MASK_KEYS[maskKeyAt + 1]!;
  const m2 = MASK_KEYS[maskKeyAt + 2]!;
  const m3 = MASK_KEYS[maskKeyAt + 3]!;
  maskKeyAt += 4;
  frame[headLen - 4] = m0;
  frame[headLen - 3] = m1;
  frame[headLen - 2] = m2;
  frame[headLen - 1] = m3;
  let i = 0;
  let o = headLen;
  for (; i + 4 <= n; i += 4, o += 4) {
    frame[o] = payload[i]! ^ m0;
    frame[o + 1] = payload[i + 1]! ^ m1;
    frame[o + 2] = payload[i + 2]! ^ m2;
    frame[o + 3] = payload[i + 3]! ^ m3;
  }
  for (; i < n; i++, o++) frame[o] = payload[i]! ^ frame[headLen - 4 + (i & 3)]!;
  return frame;
}

/**
 * Incremental decoder for backend→client frames; reassembles fragmented messages. Bytes wait in a list until a whole
 * frame is there, so a large message arriving in many reads is copied once, not once per read.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private size = 0;
  /** Bytes the next step needs: the frame header's first two, the whole header, or the whole frame. */
  private need = 2;
  private fragments: Buffer[] = [];
  private fragmentBytes = 0;
  private fragmentOp = 0;

  constructor(
    /** A message; `data` may be a view of the decoder's buffer, valid only during the call. */
    private readonly onMessage: (data: Buffer, binary: boolean) => void,
    private readonly onControl: (opcode: number, payload: Buffer) => void,
    private readonly maxMessage: number,
  ) {}

  /** Feeds bytes (kept, not copied: the caller must not reuse `chunk`); returns false on a protocol error. */
  push(chunk: Buffer): boolean {
    this.chunks.push(chunk);
    this.size += chunk.length;
    if (this.size < this.need) return true;
    let b = this.chunks.length === 1 ? chunk : Buffer.concat(this.chunks, this.size);
    this.chunks = [];
    this.size = 0;
    for (;;) {
      this.need = 2;
      if (b.length < 2) break;
      const fin = (b[0]! & 0x80) !== 0;
      const op = b[0]! & 0x0f;
      const masked = (b[1]! & 0x80) !== 0;
      let len = b[1]! & 0x7f;
      let off = 2;
      if (len === 126) {
        this.need = 4;
        if (b.length < 4) break;
        len = b.readUInt16BE(2);
        off = 4;
      } else if (len === 127) {
        this.need = 10;
        if (b.length < 10) break;
        const big = b.readBigUInt64BE(2);
        if (big > BigInt(this.maxMessage)) return false;
        len = Number(big);
        off = 10;
      }
      if (len > this.maxMessage) return false;
      const maskAt = off;
      if (masked) off += 4;
      this.need = off + len;
      if (b.length < off + len) break;
      const payload = b.subarray(off, off + len);
      if (masked) for (let i = 0; i < len; i++) payload[i]! ^= b[maskAt + (i & 3)]!;
      b = b.subarray(off + len);
      if (op >= 0x8) this.onControl(op, payload);
      else if (op === OP_CONT || !fin) {
        if (op !== OP_CONT) this.fragmentOp = op;
        this.fragments.push(payload);
        this.fragmentBytes += len;
        if (this.fragmentBytes > this.maxMessage) return false;
        if (fin) {
          const all = Buffer.concat(this.fragments, this.fragmentBytes);
          this.fragments = [];
          this.fragmentBytes = 0;
          this.onMessage(all, this.fragmentOp === OP_BINARY);
        }
      } else this.onMessage(payload, op === OP_BINARY);
    }
    if (b.length > 0) {
      this.chunks.push(b);
      this.size = b.length;
    }
    return true;
  }
}

const MAX_MESSAGE = 16 * 1024 * 1024;
/** Backend→client: the upstream socket is paused while uWS holds more than this for the client, resumed below half. */
const CLIENT_HIGH_WATER = 1024 * 1024;
/**
 * Client→backend: uWS.js has no way to stop reading a WebSocket, so a client that keeps sending while this much
 * waits for a backend that does not read is disconnected (1013) rather than buffered without bound.
 */
const UPSTREAM_LIMIT = 4 * 1024 * 1024;

/** Registers the WebSocket route on a uWS app. */
export function attachWebSocketProxy(app: TemplatedApp, ctx: ProxyContext): void {
  app.ws<Link>('/*', {
    compression: uws!.DISABLED,
    maxPayloadLength: MAX_MESSAGE,
    // 0: uWS never drops a message for backpressure (its default drops past 64 KiB); CLIENT_HIGH_WATER bounds it here.
    maxBackpressure: 0,
    idleTimeout: 0,
    upgrade(res: HttpResponse, req: HttpRequest, context) {
      const key = req.getHeader('sec-websocket-key');
      const host = req.getHeader('host');
      const clientIp = Buffer.from(res.getRemoteAddressAsText()).toString();
      const query = req.getQuery();
      const { pool, path } = ctx.routeUpgrade(req.getUrl(), host, req);
      const head = upgradeRequestHead(`${path}${query ? `?${query}` : ''}`, host, clientIp, (cb) => req.forEach(cb));
      const slot = pool.balancer.pick(clientIp, -1);
      let aborted = false;
      const fail = (status: string): void => {
        if (!aborted) res.cork(() => res.writeStatus(status).end('', true));
      };
      if (slot < 0 || ctx.urls[slot] === undefined) return fail('503 Service Unavailable');
      const u = new URL(ctx.urls[slot]!);
      const upstream = connect({ host: u.hostname, port: +(u.port || 80), noDelay: true });
      ctx.table.acquire(slot);
      let released = false;
      const release = (): void => {
        if (!released) {
          released = true;
          ctx.table.release(slot);
        }
      };
      res.onAborted(() => {
        aborted = true;
        release();
        upstream.destroy();
      });
      upstream.on('error', () => undefined);
      upstream.on('close', release);
      awaitUpgradeAnswer(upstream, key, ctx.config.timeouts.responseHeaders, (answer) => {
        if (aborted) {
          upstream.destroy();
          return;
        }
        if (answer.refusal !== '') {
          // The backend declined or answered wrongly: the client gets the status, no WebSocket.
          upstream.destroy();
          return fail(answer.refusal);
        }
        const link: Link = { upstream, slot, early: answer.rest, ws: null, closed: false };
        res.cork(() => res.upgrade(link, key, answer.protocol, '', context));
      });
      upstream.write(head, 'latin1');
    },
    open(ws) {
      const link = ws.getUserData();
      link.ws = ws;
      const up = link.upstream;
      const decoder = new FrameDecoder(
        (data, binary) => {
          if (link.closed) return;
          ws.send(data, binary);
          // Stop reading the backend while the client is slower; drain() resumes it.
          if (ws.getBufferedAmount() > CLIENT_HIGH_WATER) up.pause();
        },
        (op, payload) => {
          if (op === OP_PING) up.write(encodeFrame(0xa, payload));
          else if (op === OP_CLOSE && !link.closed) {
            link.closed = true;
            const code = payload.length >= 2 ? payload.readUInt16BE(0) : 1000;
            ws.end(code === 1005 || code === 1006 ? 1000 : code, payload.subarray(2));
          }
        },
        MAX_MESSAGE,
      );
      const feed = (chunk: Buffer): void => {
        if (!decoder.push(chunk) && !link.closed) {
          link.closed = true;
          ws.end(1002, 'bad frame from backend');
        }
      };
      up.on('data', feed);
      up.on('close', () => {
        if (!link.closed) {
          link.closed = true;
          ws.end(1001, 'backend went away');
        }
      });
      if (link.early.length > 0) feed(link.early);
      up.resume();
    },
    message(ws, message, isBinary) {
      const link = ws.getUserData();
      if (link.closed) return;
      const up = link.upstream;
      if (up.writableLength > UPSTREAM_LIMIT) {
        // The backend stopped reading and uWS cannot pause the client: cut both rather than buffer without bound.
        link.closed = true;
        up.destroy();
        ws.end(1013, 'backend not reading');
        return;
      }
      up.write(encodeFrame(isBinary ? OP_BINARY : OP_TEXT, new Uint8Array(message)));
    },
    drain(ws) {
      if (ws.getBufferedAmount() < CLIENT_HIGH_WATER / 2) ws.getUserData().upstream.resume();
    },
    close(ws, code, message) {
      const link = ws.getUserData();
      const alreadyClosed = link.closed;
      link.closed = true;
      if (!alreadyClosed && !link.upstream.destroyed) {
        const reason = Buffer.from(message);
        const payload = Buffer.allocUnsafe(2 + reason.length);
        payload.writeUInt16BE(code >= 1000 && code < 5000 && code !== 1005 && code !== 1006 ? code : 1000, 0);
        reason.copy(payload, 2);
        link.upstream.end(encodeFrame(OP_CLOSE, payload));
      } else link.upstream.end();
      // A backend that never reads would keep the socket and its unsent bytes forever.
      link.upstream.setTimeout(ctx.config.timeouts.idle, () => link.upstream.destroy());
    },
  });
}
