import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrameDecoder } from '../../src/proxy/websocket.js';
import { admin, startProxyProc, type ProxyProc } from './helpers.js';

/** An unmasked server→client frame. */
function serverFrame(opcode: number, payload: Buffer): Buffer {
  const n = payload.length;
  const head =
    n < 126 ? Buffer.from([0x80 | opcode, n]) : n < 65536 ? Buffer.from([0x80 | opcode, 126, n >> 8, n & 255]) : Buffer.alloc(10);
  if (n >= 65536) {
    head[0] = 0x80 | opcode;
    head[1] = 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  return Buffer.concat([head, payload]);
}

/** The masking keys of a run of masked client frames, in order. */
function maskingKeys(bytes: Buffer): number[] {
  const keys: number[] = [];
  for (let p = 0; p < bytes.length; ) {
    expect(bytes[p + 1]! & 0x80).toBe(0x80);
    let len = bytes[p + 1]! & 0x7f;
    let at = p + 2;
    if (len === 126) {
      len = bytes.readUInt16BE(at);
      at += 2;
    } else if (len === 127) {
      len = Number(bytes.readBigUInt64BE(at));
      at += 8;
    }
    keys.push(bytes.readUInt32BE(at));
    p = at + 4 + len;
  }
  return keys;
}

describe('proxy WebSocket pass-through', () => {
  let backend: Server;
  let p: ProxyProc;
  let upgradeReq: IncomingMessage | undefined;
  const closes: number[] = [];
  /** Every byte the backend received after the handshake, to check the proxy's masking keys. */
  const upstreamBytes: Buffer[] = [];
  beforeAll(async () => {
    backend = createServer((_req, res) => res.end('plain'));
    backend.on('upgrade', (req: IncomingMessage, sock: Socket) => {
      upgradeReq = req;
      const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC11B85`).digest('base64');
      sock.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\nSec-WebSocket-Protocol: chat\r\n\r\n`,
      );
      // A greeting sent right behind the 101, in the same write burst.
      sock.write(serverFrame(1, Buffer.from('welcome')));
      const dec = new FrameDecoder(
        (data, binary) => sock.write(serverFrame(binary ? 2 : 1, binary ? data : Buffer.from(`echo:${data}`))),
        (op, payload) => {
          if (op === 8) {
            closes.push(payload.readUInt16BE(0));
            sock.end(serverFrame(8, payload));
          }
        },
        1 << 24,
      );
      sock.on('data', (d: Buffer) => {
        upstreamBytes.push(d);
        dec.push(d);
      });
    });
    backend.listen(0, '127.0.0.1');
    await once(backend, 'listening');
    p = await startProxyProc({ backends: [{ url: `http://127.0.0.1:${(backend.address() as AddressInfo).port}` }] });
  });
  afterAll(async () => {
    await p.stop();
    backend.closeAllConnections();
    backend.close();
  });

  it('relays the handshake, text and binary messages both ways, and the close', async (t) => {
    if (!(await admin(p, 'GET', '/status')).json.implementation.native) t.skip();
    const ws = new WebSocket(`ws://127.0.0.1:${p.port}/chat?room=1`, ['chat']);
    ws.binaryType = 'arraybuffer';
    const received: Array<string | number> = [];
    const next = () => new Promise<void>((r) => ws.addEventListener('message', () => r(), { once: true }));
    ws.addEventListener('message', (e) => received.push(typeof e.data === 'string' ? e.data : (e.data as ArrayBuffer).byteLength));
    const welcome = next();
    await new Promise((r, j) => {
      ws.addEventListener('open', r, { once: true });
      ws.addEventListener('error', j, { once: true });
    });
    await welcome;
    expect(ws.protocol).toBe('chat');
    expect(upgradeReq?.url).toBe('/chat?room=1');
    expect(upgradeReq?.headers['x-forwarded-for']).toBe('127.0.0.1');
    let got = next();
    ws.send('hello');
    await got;
    got = next();
    ws.send(new Uint8Array(70_000));
    await got;
    expect(received).toEqual(['welcome', 'echo:hello', 70_000]);
    const closed = new Promise<number>((r) => ws.addEventListener('close', (e) => r(e.code), { once: true }));
    ws.close(4000, 'bye');
    expect(await closed).toBe(4000);
    expect(closes).toEqual([4000]);
    // RFC 6455 §5.3: every client frame is masked with a fresh unpredictable key.
    const keys = maskingKeys(Buffer.concat(upstreamBytes));
    expect(keys.length).toBe(3);
    expect(new Set(keys).size).toBe(3);
    expect(keys).not.toContain(0);
  });
});
