import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BODY_CHUNKED, BODY_LENGTH, BODY_NONE, BODY_UNTIL_CLOSE } from '../../src/proxy/response-head-parser.js';
import { TimeoutSweeper } from '../../src/proxy/timeout-sweeper.js';
import type { ExchangeHandler, UpstreamError } from '../../src/proxy/upstream-connection.js';
import { UpstreamPool } from '../../src/proxy/upstream-pool.js';
import { freePort } from './helpers.js';

interface Result {
  status: number;
  reason: string;
  headers: string[];
  kind: number;
  length: number;
  body: string;
  error?: UpstreamError;
}

const sweeper = new TimeoutSweeper(20);
const timeouts = { connect: 500, responseHeaders: 500, idle: 500, upstreamKeepAlive: 5000 };

/**
 * Runs one exchange on `pool` and collects what the handler saw. A body given as pieces goes out one piece per
 * `pieceMs`; `total` is the exchange's absolute time limit on the sweeper's clock (0: none).
 */
function exchange(pool: UpstreamPool, head: string, isHead = false, body?: string | string[], total = 0, pieceMs = 100): Promise<Result> {
  return new Promise((resolve) => {
    const r: Result = { status: 0, reason: '', headers: [], kind: -1, length: -1, body: '' };
    const h: ExchangeHandler = {
      onHead(head, kind, length) {
        Object.assign(r, { status: head.status, reason: head.reason(), headers: head.headers(), kind, length });
      },
      onBody(chunk) {
        r.body += chunk.toString('latin1');
      },
      onEnd: () => resolve(r),
      onError(err) {
        r.error = err;
        resolve(r);
      },
      corked: (fn) => fn(),
    };
    const c = pool.acquire()!;
    c.send(head, h, isHead, body !== undefined, total);
    if (typeof body === 'string') {
      c.write(body);
      c.endBody();
    } else if (body !== undefined) {
      let i = 0;
      const next = (): void => {
        if (i < body.length) c.write(body[i++]!);
        if (i < body.length) setTimeout(next, pieceMs);
        else c.endBody();
      };
      next();
    }
  });
}

/** A raw TCP server that answers every request with `reply(requestText)`; bytes go out one write per piece. */
async function rawServer(
  reply: (req: string, sock: Socket) => Array<string | Buffer> | null,
): Promise<{ server: NetServer; url: string; conns: number }> {
  const state = { server: null as unknown as NetServer, url: '', conns: 0 };
  state.server = createServer((sock) => {
    state.conns++;
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      const req = buf.slice(0, end + 4);
      buf = buf.slice(end + 4);
      const pieces = reply(req, sock);
      if (pieces === null) return;
      let i = 0;
      const next = (): void => {
        if (i < pieces.length) sock.write(pieces[i++]!, () => setImmediate(next));
      };
      next();
    });
    sock.on('error', () => undefined);
  });
  state.server.listen(0, '127.0.0.1');
  await once(state.server, 'listening');
  state.url = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}`;
  return state;
}

const GET = 'GET / HTTP/1.1\r\nhost: x\r\n\r\n';
const closers: Array<() => unknown> = [];
afterAll(async () => {
  for (const c of closers) await c();
  sweeper.stop();
});

describe('upstream client against raw responses', () => {
  it('reads content-length bodies split across packets and reuses the connection', async () => {
    const s = await rawServer(() => ['HTTP/1.1 200 OK\r\nContent-Le', 'ngth: 5\r\nX-A: b\r\n\r\nhe', 'llo']);
    closers.push(() => s.server.close());
    const pool = new UpstreamPool(s.url, timeouts, sweeper);
    const r1 = await exchange(pool, GET);
    expect(r1).toMatchObject({ status: 200, reason: 'OK', kind: BODY_LENGTH, length: 5, body: 'hello' });
    expect(r1.headers).toEqual(['content-length', '5', 'x-a', 'b']);
    const r2 = await exchange(pool, GET);
    expect(r2.body).toBe('hello');
    expect(s.conns).toBe(1);
    pool.close();
  });

  it('reads a head that arrives a byte at a time, its blank line split across reads', async () => {
    const head = 'HTTP/1.1 200 OK\r\nX-A: b\r\nContent-Length: 2\r\n\r';
    const s = await rawServer(() => [...head.split(''), '\nok']);
    closers.push(() => s.server.close());
    const pool = new UpstreamPool(s.url, timeouts, sweeper);
    const r = await exchange(pool, GET);
    expect(r).toMatchObject({ status: 200, kind: BODY_LENGTH, length: 2, body: 'ok' });
    expect(r.headers).toEqual(['x-a', 'b', 'content-length', '2']);
    pool.close();
  });

  it('decodes chunked bodies with extensions and trailers', async () => {
    const s = await rawServer(() => [
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n',
      '5;ext=1\r\nhel',
      'lo\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n',
    ]);
    closers.push(() => s.server.close());
    const pool = new UpstreamPool(s.url, timeouts, sweeper);
    expect(await exchange(pool, GET)).toMatchObject({ kind: BODY_CHUNKED, body: 'hello world' });
    expect((await exchange(pool, GET)).body).toBe('hello world');
    expect(s.conns).toBe(1);
    pool.close();
  });

  it('skips 1xx interim responses, honors HEAD, 204 and connection: close', async () => {
    const s = await rawServer((req) => {
      if (req.startsWith('HEAD')) return ['HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n'];
      if (req.includes('/204')) return ['HTTP/1.1 204 No Content\r\n\r\n'];
      if (req.includes('/close')) return ['HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok'];
      return [
        'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n',
        'HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n',
      ];
    });
    closers.push(() => s.server.close());
    const pool = new UpstreamPool(s.url, timeouts, sweeper);
    expect(await exchange(pool, GET)).toMatchObject({ status: 201, kind: BODY_NONE });
    expect(await exchange(pool, 'HEAD / HTTP/1.1\r\nhost: x\r\n\r\n', true)).toMatchObject({
      status: 200,
      kind: BODY_NONE,
      length: 1000,
      body: '',
    });
    expect(await exchange(pool, 'GET /204 HTTP/1.1\r\nhost: x\r\n\r\n')).toMatchObject({ status: 204, kind: BODY_NONE });
    expect(s.conns).toBe(1);
    expect((await exchange(pool, 'GET /close HTTP/1.1\r\nhost: x\r\n\r\n')).body).toBe('ok');
    await exchange(pool, GET);
    expect(s.conns).toBe(2);
    pool.close();
  });

  it('reads a body delimited by connection close', async () => {
    const s = await rawServer((_req, sock) => {
      sock.write('HTTP/1.0 200 OK\r\n\r\nuntil ');
      setTimeout(() => sock.end('close'), 20);
      return null;
    });
    closers.push(() => s.server.close());
    const pool = new UpstreamPool(s.url, timeouts, sweeper);
    expect(await exchange(pool, GET)).toMatchObject({ kind: BODY_UNTIL_CLOSE, body: 'until close' });
    pool.close();
  });

  it('reports connect, reset, timeout and protocol errors with whether the response started', async () => {
    const refused = new UpstreamPool(`http://127.0.0.1:${await freePort()}`, timeouts, sweeper);
    expect((await exchange(refused, GET)).error).toMatchObject({ kind: 'connect', responseStarted: false });
    const reset = await rawServer((_req, sock) => {
      sock.destroy();
      return null;
    });
    const partial = await rawServer((_req, sock) => {
      sock.end('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc');
      return null;
    });
    const silent = await rawServer(() => null);
    const garbage = await rawServer(() => ['SMTP ready\r\n\r\n']);
    closers.push(...[reset, partial, silent, garbage].map((s) => () => s.server.close()));
    expect((await exchange(new UpstreamPool(reset.url, timeouts, sweeper), GET)).error).toMatchObject({
      kind: 'reset',
      responseStarted: false,
    });
    const p = await exchange(new UpstreamPool(partial.url, timeouts, sweeper), GET);
    expect(p.error).toMatchObject({ kind: 'reset', responseStarted: true });
    expect(p.body).toBe('abc');
    expect((await exchange(new UpstreamPool(silent.url, timeouts, sweeper), GET)).error).toMatchObject({
      kind: 'timeout',
      responseStarted: false,
    });
    expect((await exchange(new UpstreamPool(garbage.url, timeouts, sweeper), GET)).error).toMatchObject({ kind: 'protocol' });
  });

  it('rejects a transfer coding other than chunked alone, and one next to a Content-Length', async () => {
    for (const head of [
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n',
      'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n',
    ]) {
      const s = await rawServer(() => [`${head}3\r\nabc\r\n0\r\n\r\n`]);
      closers.push(() => s.server.close());
      expect((await exchange(new UpstreamPool(s.url, timeouts, sweeper), GET)).error).toMatchObject({ kind: 'protocol' });
    }
  });
});

describe('upstream client timeouts (idle 500 ms, responseHeaders 500 ms)', () => {
  let url = '';
  beforeAll(async () => {
    const server: Server = createHttpServer((req, res) => {
      if (req.url === '/stream') {
        // A chunk every 100 ms for 1.5 s: never idle for 500 ms.
        let n = 0;
        const t = setInterval(() => {
          if (++n === 15) {
            clearInterval(t);
            res.end('.');
          } else res.write('.');
        }, 100);
        res.on('close', () => clearInterval(t));
      } else if (req.url === '/stall') {
        res.write('started');
      } else {
        // Answers only once the whole body has arrived.
        let n = 0;
        req.on('data', (c: Buffer) => (n += c.length));
        req.on('end', () => res.end(String(n)));
      }
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(() => {
      server.closeAllConnections();
      server.close();
    });
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });

  it('lets a response that keeps streaming outlive the idle timeout', async () => {
    const r = await exchange(new UpstreamPool(url, timeouts, sweeper), 'GET /stream HTTP/1.1\r\nhost: x\r\n\r\n');
    expect(r.error).toBeUndefined();
    expect(r.body).toBe('.'.repeat(15));
  });

  it('cuts a response that stalls once idle passes, as a timeout after the response started', async () => {
    const r = await exchange(new UpstreamPool(url, timeouts, sweeper), 'GET /stall HTTP/1.1\r\nhost: x\r\n\r\n');
    expect(r.body).toBe('started');
    expect(r.error).toMatchObject({ kind: 'timeout', responseStarted: true });
  });

  it('starts responseHeaders once the request is sent: a 1.2 s upload outlives it', async () => {
    const pieces = Array.from({ length: 12 }, () => 'x'.repeat(100));
    const r = await exchange(
      new UpstreamPool(url, timeouts, sweeper),
      'POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 1200\r\n\r\n',
      false,
      pieces,
    );
    expect(r.error).toBeUndefined();
    expect(r.body).toBe('1200');
  });

  it('cuts an upload that stalls once idle passes', async () => {
    const r = await exchange(
      new UpstreamPool(url, timeouts, sweeper),
      'POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 1200\r\n\r\n',
      false,
      ['x', 'y'],
      0,
      2000,
    );
    expect(r.error).toMatchObject({ kind: 'timeout', responseStarted: false });
  });

  it('ends an exchange at its total time limit, as kind "total"', async () => {
    const r = await exchange(
      new UpstreamPool(url, timeouts, sweeper),
      'GET /stream HTTP/1.1\r\nhost: x\r\n\r\n',
      false,
      undefined,
      sweeper.now + 700,
    );
    expect(r.error).toMatchObject({ kind: 'total', responseStarted: true });
    expect(r.body.length).toBeLessThan(15);
  });
});

describe('upstream client against node:http', () => {
  it('sends bodies and keeps the connection alive', async () => {
    let conns = 0;
    const server: Server = createHttpServer((req, res) => {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => {
        if (req.url === '/chunked') {
          res.write('a');
          res.end('b');
        } else res.end(`${req.method} ${n}`);
      });
    });
    server.on('connection', () => conns++);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(() => server.close());
    const pool = new UpstreamPool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, timeouts, sweeper);
    expect((await exchange(pool, 'POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 4\r\n\r\n', false, 'abcd')).body).toBe('POST 4');
    expect(await exchange(pool, 'GET /chunked HTTP/1.1\r\nhost: x\r\n\r\n')).toMatchObject({ kind: BODY_CHUNKED, body: 'ab' });
    expect(await exchange(pool, 'HEAD / HTTP/1.1\r\nhost: x\r\n\r\n', true)).toMatchObject({ status: 200, kind: BODY_NONE });
    expect((await exchange(pool, GET)).body).toBe('GET 0');
    expect(conns).toBe(1);
    pool.close();
  });
});

const hasNginx = spawnSync('nginx', ['-v']).status === 0;

describe.skipIf(!hasNginx)('upstream client against nginx', () => {
  let nginx: ChildProcess | undefined;
  afterAll(() => nginx?.kill('SIGTERM'));

  it('reads fixed-length, HEAD and error responses over kept-alive connections', async () => {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'sabre-nginx-'));
    writeFileSync(
      join(dir, 'nginx.conf'),
      `worker_processes 1; daemon off; pid ${dir}/nginx.pid; error_log ${dir}/error.log;
       events { worker_connections 64; }
       http { access_log off; client_body_temp_path ${dir}; proxy_temp_path ${dir}; fastcgi_temp_path ${dir}; uwsgi_temp_path ${dir}; scgi_temp_path ${dir};
         server { listen 127.0.0.1:${port};
           location = /fixed { return 200 "nginx fixed body"; }
         } }`,
    );
    nginx = spawn('nginx', ['-c', join(dir, 'nginx.conf'), '-p', dir], { stdio: 'ignore' });
    const pool = new UpstreamPool(`http://127.0.0.1:${port}`, timeouts, sweeper);
    let r: Result | undefined;
    for (let i = 0; i < 100 && (r = await exchange(pool, 'GET /fixed HTTP/1.1\r\nhost: x\r\n\r\n')).error; i++)
      await new Promise((res) => setTimeout(res, 20));
    expect(r).toMatchObject({ status: 200, kind: BODY_LENGTH, body: 'nginx fixed body' });
    expect(await exchange(pool, 'HEAD /fixed HTTP/1.1\r\nhost: x\r\n\r\n', true)).toMatchObject({ kind: BODY_NONE, length: 16 });
    expect((await exchange(pool, 'GET /missing HTTP/1.1\r\nhost: x\r\n\r\n')).status).toBe(404);
    expect((await exchange(pool, 'GET /fixed HTTP/1.1\r\nhost: x\r\n\r\n')).body).toBe('nginx fixed body');
    pool.close();
  });
});
