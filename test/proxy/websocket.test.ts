import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { WebSocket } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FrameDecoder } from '../../src/proxy/websocket.js';
import { admin, FRONTS, rawUpgrade, rssMiB, sampler, startProxyProc, type ProxyProc } from './helpers.js';

/** RFC 6455 §4.2.2, computed here independently of the proxy's own code. */
const accept = (key: string, guid = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11'): string =>
  createHash('sha1').update(`${key}${guid}`).digest('base64');

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

/** A masked client→server binary frame of `n` bytes (the test client's key is fixed; the proxy's own are checked below). */
function clientFrame(n: number): Buffer {
  const head = Buffer.from([0x82, 0x80 | 127, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
  head.writeBigUInt64BE(BigInt(n), 2);
  const payload = Buffer.alloc(n, 0x55);
  for (let i = 0; i < n; i++) payload[i]! ^= head[10 + (i & 3)]!;
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

/** Counts the payload bytes of the frames in a byte stream, and the close code if a close frame comes. */
function payloadCounter(): { push(d: Buffer): void; bytes: number; closeCode: number } {
  const c = {
    bytes: 0,
    closeCode: 0,
    dec: new FrameDecoder(
      (data) => (c.bytes += data.length),
      (op, payload) => {
        if (op === 8) c.closeCode = payload.length >= 2 ? payload.readUInt16BE(0) : 1005;
      },
      1 << 24,
    ),
    push(d: Buffer) {
      c.dec.push(d);
    },
  };
  return c;
}

/**
 * Writes `frame` up to `count` times honoring backpressure. Resolves with the frames written and why it stopped:
 * all written, the socket closed, or no write drained for `stallMs` (the peer applies backpressure; not an assertion).
 */
function flood(
  sock: Socket,
  frame: Buffer,
  count: number,
  stallMs = 1000,
): Promise<{ written: number; ended: 'done' | 'closed' | 'stalled' }> {
  return new Promise((resolve) => {
    let written = 0;
    let settled = false;
    const end = (ended: 'done' | 'closed' | 'stalled'): void => {
      if (settled) return;
      settled = true;
      sock.off('close', onClose);
      resolve({ written, ended });
    };
    const onClose = (): void => end('closed');
    sock.on('close', onClose);
    const go = (): void => {
      while (written < count) {
        if (sock.destroyed) return end('closed');
        written++;
        if (!sock.write(frame)) {
          const timer = setTimeout(() => {
            sock.off('drain', resume);
            end('stalled');
          }, stallMs);
          const resume = (): void => {
            clearTimeout(timer);
            if (!settled) go();
          };
          sock.once('drain', resume);
          return;
        }
      }
      end('done');
    };
    go();
  });
}

const FRAME = 64 * 1024;
/** 200 MiB in 64 KiB frames. */
const FLOOD_FRAMES = 3200;

describe.each(FRONTS)('proxy WebSocket pass-through (%s front)', (front) => {
  let backend: Server;
  let p: ProxyProc;
  let upgradeReq: IncomingMessage | undefined;
  const closes: number[] = [];
  /** Every byte the echo backend received after the handshake, to check the masking keys. */
  const upstreamBytes: Buffer[] = [];
  /** The non-reading backend's socket (`/sink`), and the flooding backend's run (`/flood`). */
  let sink: Socket | null = null;
  let floodRun: Promise<{ written: number; ended: string }> | null = null;
  let floodSock: Socket | null = null;
  let native = true;

  beforeAll(async () => {
    backend = createServer((_req, res) => res.end('plain'));
    backend.on('upgrade', (req: IncomingMessage, sock: Socket) => {
      sock.on('error', () => undefined);
      const key = String(req.headers['sec-websocket-key']);
      const head = (acceptValue: string, extra = ''): string =>
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${acceptValue}\r\n${extra}\r\n`;
      if (req.url === '/bad-accept') {
        // Digits of the GUID's last group swapped: a backend that gets the handshake wrong.
        sock.write(head(accept(key, '258EAFA5-E914-47DA-95CA-C5AB0DC11B85')));
        return;
      }
      if (req.url === '/sink') {
        sock.write(head(accept(key)));
        sock.pause();
        sink = sock;
        return;
      }
      if (req.url === '/flood') {
        sock.write(head(accept(key)));
        floodSock = sock;
        floodRun = flood(sock, serverFrame(2, Buffer.alloc(FRAME, 0x66)), FLOOD_FRAMES);
        return;
      }
      upgradeReq = req;
      sock.write(head(accept(key), 'Sec-WebSocket-Protocol: chat\r\n'));
      // A greeting sent right behind the 101, in the same write burst.
      sock.write(serverFrame(1, Buffer.from('welcome')));
      const dec = new FrameDecoder(
        (data, binary) => sock.write(serverFrame(binary ? 2 : 1, binary ? Buffer.from(data) : Buffer.from(`echo:${data}`))),
        (op, payload) => {
          if (op === 8) {
            closes.push(payload.readUInt16BE(0));
            sock.end(serverFrame(8, Buffer.from(payload)));
          }
        },
        1 << 24,
      );
      sock.on('data', (d: Buffer) => {
        upstreamBytes.push(Buffer.from(d));
        dec.push(d);
      });
    });
    backend.listen(0, '127.0.0.1');
    await once(backend, 'listening');
    p = await startProxyProc({ front, threads: 1, backends: [{ url: `http://127.0.0.1:${(backend.address() as AddressInfo).port}` }] });
    native = (await admin(p, 'GET', '/status')).json.implementation.native;
  });
  afterAll(async () => {
    await p.stop();
    backend.closeAllConnections();
    backend.close();
  });

  it('relays the handshake, text and binary messages both ways, and the close', async (t) => {
    if (front === 'uws' && !native) t.skip();
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
    // RFC 6455 §5.3: every client frame is masked with a fresh unpredictable key (the proxy's own on uWS, which
    // re-frames; the client's on node:http, which passes frames through).
    const keys = maskingKeys(Buffer.concat(upstreamBytes));
    expect(keys.length).toBe(3);
    expect(new Set(keys).size).toBe(3);
    expect(keys).not.toContain(0);
  });

  it('refuses the upgrade with 502 when the backend answers a wrong Sec-WebSocket-Accept', async (t) => {
    if (front === 'uws' && !native) t.skip();
    const { status, sock } = await rawUpgrade(p.port, '/bad-accept');
    expect(status).toBe(502);
    sock.destroy();
  });

  it('keeps its memory flat while a client floods 200 MiB at a backend that does not read', async (t) => {
    if (front === 'uws' && !native) t.skip();
    const { status, sock } = await rawUpgrade(p.port, '/sink');
    expect(status).toBe(101);
    const fromProxy = payloadCounter();
    sock.on('data', (d: Buffer) => fromProxy.push(d));
    sock.resume();
    const base = rssMiB(p.proc.pid!);
    const stop = sampler(p.proc.pid!);
    const frame = clientFrame(FRAME);
    let first = await flood(sock, frame, FLOOD_FRAMES);
    // uWS keeps reading, so a pause here only means the proxy got no CPU for a while: flood on.
    while (front === 'uws' && first.ended === 'stalled') {
      const more = await flood(sock, frame, FLOOD_FRAMES - first.written);
      first = { written: first.written + more.written, ended: more.ended };
    }
    const peak = stop();
    expect(peak - base).toBeLessThan(20);
    expect(first.written).toBeLessThan(FLOOD_FRAMES);
    if (front === 'uws') {
      // uWS.js cannot stop reading a WebSocket: past its bound the proxy closes the client (1013) instead.
      expect(first.ended).toBe('closed');
      expect(fromProxy.closeCode).toBe(1013);
      return;
    }
    // node:http stops reading the client: the flood stalls. Once the backend reads, everything arrives.
    expect(first.ended).toBe('stalled');
    const received = payloadCounter();
    const all = new Promise<void>((resolve) =>
      sink!.on('data', (d: Buffer) => {
        received.push(d);
        if (received.bytes === FLOOD_FRAMES * FRAME) resolve();
      }),
    );
    sink!.resume();
    const rest = await flood(sock, frame, FLOOD_FRAMES - first.written, 10_000);
    expect(rest.ended).toBe('done');
    await all;
    expect(received.bytes).toBe(FLOOD_FRAMES * FRAME);
    sock.destroy();
  });

  it('keeps its memory flat while a backend floods 200 MiB at a client that does not read', async (t) => {
    if (front === 'uws' && !native) t.skip();
    const { status, sock, rest } = await rawUpgrade(p.port, '/flood');
    expect(status).toBe(101);
    const base = rssMiB(p.proc.pid!);
    const stop = sampler(p.proc.pid!);
    const first = await floodRun!;
    const peak = stop();
    expect(peak - base).toBeLessThan(20);
    expect(first.ended).toBe('stalled');
    // The client reads now: every frame arrives, none was dropped on the way.
    const received = payloadCounter();
    received.push(rest);
    const all = new Promise<void>((resolve) => {
      sock.on('data', (d: Buffer) => {
        received.push(d);
        if (received.bytes === FLOOD_FRAMES * FRAME) resolve();
      });
    });
    sock.resume();
    const second = await flood(floodSock!, serverFrame(2, Buffer.alloc(FRAME, 0x66)), FLOOD_FRAMES - first.written, 10_000);
    expect(second.ended).toBe('done');
    await all;
    expect(received.bytes).toBe(FLOOD_FRAMES * FRAME);
    sock.destroy();
  });
});
