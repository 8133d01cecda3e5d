import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Server, type Socket as ServerSocket } from 'socket.io';
import { io as connectClient, type Socket as ClientSocket } from 'socket.io-client';
import { createAdapter } from '@socket.io/redis-streams-adapter';
import { createClient } from 'redis';
import { Redis } from 'ioredis';
import { startServer, type TestServer } from '../helpers/server.js';

/**
 * socket.io's Redis Streams adapter, unchanged, on Sabre: two Socket.IO servers share one stream
 * (XADD, XREAD BLOCK from `$` and onwards) and broadcast to each other's clients, answer
 * fetchSockets and serverSideEmit acknowledgements across servers, and a client that reconnects to
 * the other server gets the packets it missed (connection state recovery reads the stream with XRANGE).
 * Once with node-redis and once with ioredis, as the adapter's README offers both.
 */
describe.each(['redis', 'ioredis'] as const)('socket.io redis-streams adapter through Sabre (%s)', (lib) => {
  let srv: TestServer;
  const http: HttpServer[] = [];
  const ios: Server[] = [];
  const redisClients: { quit(): Promise<unknown> }[] = [];
  const clients: ClientSocket[] = [];
  const ports: number[] = [];
  /** Ids of the sockets the servers restored from a session (connection state recovery). */
  const recovered: string[] = [];

  /** A Redis client of the chosen library, connected to Sabre. */
  async function redisClient(): Promise<unknown> {
    if (lib === 'redis') {
      const c = createClient({ url: `redis://127.0.0.1:${srv.port}` });
      c.on('error', () => {});
      await c.connect();
      redisClients.push(c);
      return c;
    }
    const c = new Redis({ host: '127.0.0.1', port: srv.port, lazyConnect: true });
    await c.connect();
    redisClients.push(c);
    return c;
  }

  /** A Socket.IO client connected to server `i`, once its connection is acknowledged. */
  async function client(i: number, opts: Record<string, unknown> = {}): Promise<ClientSocket> {
    const c = connectClient(`http://127.0.0.1:${ports[i]}`, { transports: ['websocket'], forceNew: true, ...opts });
    clients.push(c);
    await new Promise<void>((resolve, reject) => {
      c.once('connect', () => resolve());
      c.once('connect_error', reject);
    });
    return c;
  }

  /** The next `event` a client receives. */
  function next<T = unknown>(c: ClientSocket, event: string): Promise<T> {
    return new Promise((resolve) => c.once(event, (v: T) => resolve(v)));
  }

  beforeAll(async () => {
    srv = await startServer();
    for (let i = 0; i < 2; i++) {
      const h = createServer();
      const io = new Server(h, {
        adapter: createAdapter((await redisClient()) as never, { streamName: `sio-${lib}`, blockTimeInMs: 200 }),
        connectionStateRecovery: { maxDisconnectionDuration: 60_000 },
      });
      io.on('connection', (socket: ServerSocket) => {
        if (socket.recovered) recovered.push(socket.id);
        socket.on('join', (room: string, ack: () => void) => {
          void socket.join(room);
          ack();
        });
      });
      await new Promise<void>((resolve) => h.listen(0, '127.0.0.1', resolve));
      http.push(h);
      ios.push(io);
      ports.push((h.address() as AddressInfo).port);
    }
    // Each adapter reads the stream from `$` until it has seen an entry, so an entry added between two of its
    // XREAD BLOCKs then is never read (on Redis too). Exchange server-side emits until each server has read one.
    const heard = [false, false];
    ios[0]!.on('warm', () => (heard[0] = true));
    ios[1]!.on('warm', () => (heard[1] = true));
    while (!heard[0] || !heard[1]) {
      ios[0]!.serverSideEmit('warm');
      ios[1]!.serverSideEmit('warm');
      await new Promise((r) => setTimeout(r, 50));
    }
  });

  afterAll(async () => {
    for (const c of clients) c.disconnect();
    for (const io of ios) await new Promise<void>((resolve) => io.close(() => resolve()));
    for (const c of redisClients) await c.quit().catch(() => {});
    await srv.stop();
  });

  it('broadcasts from one server to the clients of both, and to a room across servers', async () => {
    const a = await client(0);
    const b = await client(1);
    const gotA = next<string>(a, 'news');
    const gotB = next<string>(b, 'news');
    ios[0]!.emit('news', 'from server 0');
    expect(await gotA).toBe('from server 0');
    expect(await gotB).toBe('from server 0');

    await b.emitWithAck('join', 'room1');
    const inRoom = next<number>(b, 'room-msg');
    let aGotRoom = false;
    a.once('room-msg', () => (aGotRoom = true));
    ios[0]!.to('room1').emit('room-msg', 42);
    expect(await inRoom).toBe(42);
    // A later broadcast to everyone arrives after the room message would have: a saw none.
    const after = next(a, 'after');
    ios[0]!.emit('after', 1);
    await after;
    expect(aGotRoom).toBe(false);
  });

  it('finds sockets on the other server and collects acknowledgements across servers', async () => {
    const a = await client(0);
    const b = await client(1);
    const all = await ios[0]!.fetchSockets();
    const ids = all.map((s) => s.id);
    expect(ids).toContain(a.id);
    expect(ids).toContain(b.id);

    ios[1]!.on('ping-servers', (n: number, ack: (v: number) => void) => ack(n + 1));
    const answers = await ios[0]!.serverSideEmitWithAck('ping-servers', 41);
    expect(answers).toEqual([42]);
  });

  it('lets a client that reconnects to the other server recover the packets it missed', async () => {
    const a = await client(0, { reconnection: false });
    const first = next(a, 'tick');
    ios[0]!.emit('tick', 0);
    await first;
    const offsetSeen = (a as unknown as { _lastOffset?: string })._lastOffset;
    expect(offsetSeen).toMatch(/^\d+-\d+$/);
    const pid = (a as unknown as { _pid?: string })._pid;
    const sid = a.id;
    // A lost transport (not a deliberate disconnect) is what the server keeps a session for, in Sabre (SET ... PX).
    a.io.engine.close();
    const watcher = createClient({ url: `redis://127.0.0.1:${srv.port}` });
    await watcher.connect();
    while ((await watcher.exists(`sio:session:${pid}`)) === 0) await new Promise((r) => setTimeout(r, 10));
    expect(await watcher.pTTL(`sio:session:${pid}`)).toBeGreaterThan(50_000);
    await watcher.quit();
    ios[1]!.emit('tick', 1);
    ios[1]!.emit('tick', 2);
    // The same session (pid and offset) on the other server.
    const again = connectClient(`http://127.0.0.1:${ports[1]}`, {
      transports: ['websocket'],
      forceNew: true,
      auth: (cb: (d: object) => void) => cb({ pid, offset: offsetSeen }),
    });
    clients.push(again);
    const missed: number[] = [];
    again.on('tick', (n: number) => missed.push(n));
    await new Promise<void>((resolve) => again.once('connect', () => resolve()));
    // Restored with its old socket id (the client object is new, so only the server knows).
    expect(again.id).toBe(sid);
    expect(recovered).toContain(again.id);
    await new Promise<void>((resolve) => {
      const check = (): void => (missed.length >= 2 ? resolve() : void setTimeout(check, 10));
      check();
    });
    expect(missed).toEqual([1, 2]);
  });
});
