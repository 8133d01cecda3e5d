/**
 * The net front over raw sockets: HTTP/1.0 with and without keep-alive, pipelining (also a head trickled a byte at a
 * time), request bodies by length and chunked, Expect: 100-continue, and every malformed or ambiguous request
 * answered with a status and a closed connection without reaching a backend.
 */
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, type Backend, type ProxyProc, parseResponses, rawExchange, startBackend, startProxyProc } from './helpers.js';

/** Reads from `sock` until `done(text)` holds; resolves with the text and whether the socket closed. */
function readUntil(sock: Socket, done: (text: string) => boolean): Promise<{ text: string; closed: boolean }> {
  return new Promise((resolve) => {
    let text = '';
    let closed = false;
    const check = (): void => {
      if (closed || done(text)) {
        sock.off('data', onData);
        resolve({ text, closed });
      }
    };
    const onData = (d: Buffer): void => {
      text += d.toString('latin1');
      check();
    };
    sock.on('data', onData);
    sock.once('close', () => {
      closed = true;
      check();
    });
  });
}

function open(port: number): Promise<Socket> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1', () => resolve(s));
    s.on('error', () => undefined);
  });
}

const headers = (n: number): string => Array.from({ length: n }, (_, i) => `x-h${i}: v\r\n`).join('');

/** Requests the net front refuses, with the status nginx-like parsing gives each (RFC 9112). */
const REFUSED: Array<{ name: string; request: string; status: number }> = [
  {
    name: 'Transfer-Encoding: chunked, identity',
    request: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n',
    status: 400,
  },
  {
    name: 'chunked twice',
    request: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n',
    status: 400,
  },
  { name: 'an unknown transfer coding', request: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: frob\r\n\r\n', status: 501 },
  { name: 'gzip before chunked', request: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n', status: 501 },
  {
    name: 'two different Content-Lengths',
    request: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd',
    status: 400,
  },
  { name: 'a Content-Length list', request: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 3\r\n\r\nabc', status: 400 },
  { name: 'a negative Content-Length', request: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n', status: 400 },
  {
    name: 'Transfer-Encoding then Content-Length',
    request: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n',
    status: 400,
  },
  { name: 'chunked on HTTP/1.0', request: 'POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', status: 400 },
  {
    name: 'a bad chunk size',
    request: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n',
    status: 400,
  },
  {
    name: 'a chunk size past 2^48',
    request: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000\r\nabc\r\n',
    status: 400,
  },
  {
    name: 'a chunk without its CRLF',
    request: 'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n',
    status: 400,
  },
  { name: 'whitespace before the colon', request: 'POST / HTTP/1.1\r\nHost: a\r\nContent-Length : 3\r\n\r\nabc', status: 400 },
  { name: 'an obs-fold line', request: 'GET / HTTP/1.1\r\nHost: a\r\nX-A: b\r\n c\r\n\r\n', status: 400 },
  { name: 'a bare CR in a value', request: 'GET / HTTP/1.1\r\nHost: a\r\nX-A: b\rc\r\n\r\n', status: 400 },
  { name: 'a line without a colon', request: 'GET / HTTP/1.1\r\nHost: a\r\nnocolon\r\n\r\n', status: 400 },
  { name: 'a space in the target', request: 'GET /a b HTTP/1.1\r\nHost: a\r\n\r\n', status: 400 },
  { name: 'a fragment in the target', request: 'GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n', status: 400 },
  { name: 'a target that is not a path', request: 'GET a HTTP/1.1\r\nHost: a\r\n\r\n', status: 400 },
  { name: 'no version', request: 'GET /\r\nHost: a\r\n\r\n', status: 400 },
  { name: 'a lower-case version', request: 'GET / http/1.1\r\nHost: a\r\n\r\n', status: 400 },
  { name: 'HTTP/0.9', request: 'GET / HTTP/0.9\r\nHost: a\r\n\r\n', status: 505 },
  { name: '64 KB of headers', request: `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'b'.repeat(64 * 1024)}\r\n\r\n`, status: 431 },
  { name: '10,000 headers', request: `GET / HTTP/1.1\r\nHost: a\r\n${headers(10_000)}\r\n`, status: 431 },
  { name: '300 headers', request: `GET / HTTP/1.1\r\nHost: a\r\n${headers(300)}\r\n`, status: 431 },
  {
    name: 'an expectation other than 100-continue',
    request: 'POST / HTTP/1.1\r\nHost: a\r\nExpect: magic\r\nContent-Length: 1\r\n\r\nx',
    status: 417,
  },
  { name: 'OPTIONS * with another method', request: 'GET * HTTP/1.1\r\nHost: a\r\n\r\n', status: 400 },
];

describe('the net front', () => {
  let b: Backend;
  let p: ProxyProc;
  /** What the backend saw, in order: method, target, Host and body. */
  const seen: string[] = [];
  beforeAll(async () => {
    b = await startBackend('echo', (req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const line = `${req.method} ${req.url} host=${req.headers.host} body=${Buffer.concat(chunks).toString()}`;
        seen.push(line);
        if (req.url === '/stream') {
          // No length: the proxy relays it chunked (HTTP/1.1) or close-delimited (HTTP/1.0).
          res.write('part1-');
          setTimeout(() => res.end('part2'), 20);
          return;
        }
        res.end(line);
      });
      return true;
    });
    p = await startProxyProc({ front: 'net', threads: 1, backends: [{ url: b.url }] });
  });
  afterAll(async () => {
    await p.stop();
    await b.kill();
  });

  it('says in GET /status which front runs and why', async () => {
    const { json } = await admin<{ front: string; frontReason: string }>(p, 'GET', '/status');
    expect(json.front).toBe('net');
    expect(json.frontReason).toMatch(/front "net" set in the config/);
  });

  it('serves HTTP/1.0 without keep-alive: an HTTP/1.0 status line, a length, then the close', async () => {
    const { text, responses, closed } = await rawExchange(p.port, 'GET /old HTTP/1.0\r\n\r\n');
    expect(text.startsWith('HTTP/1.0 200 OK\r\n')).toBe(true);
    expect(closed).toBe(true);
    expect(responses.map((r) => [r.body, r.headers['content-length'], r.headers.connection])).toEqual([
      ['GET /old host= body=', '20', 'close'],
    ]);
  });

  it('keeps an HTTP/1.0 connection that asks for keep-alive, as ab -k does', async () => {
    const sock = await open(p.port);
    const got: string[] = [];
    for (const path of ['/k1', '/k2', '/k3']) {
      sock.write(`GET ${path} HTTP/1.0\r\nHost: h\r\nConnection: Keep-Alive\r\n\r\n`);
      const { text, closed } = await readUntil(sock, (t) => parseResponses(t).length === 1);
      expect(closed).toBe(false);
      expect(text.startsWith('HTTP/1.0 200 OK\r\n')).toBe(true);
      const [r] = parseResponses(text);
      expect(r!.headers.connection).toBe('keep-alive');
      got.push(r!.body);
    }
    expect(got).toEqual(['GET /k1 host=h body=', 'GET /k2 host=h body=', 'GET /k3 host=h body=']);
    sock.destroy();
  });

  it('ends an HTTP/1.0 response without a length by closing the connection', async () => {
    const { text, closed } = await rawExchange(p.port, 'GET /stream HTTP/1.0\r\nConnection: keep-alive\r\n\r\n');
    expect(closed).toBe(true);
    const [head, body] = text.split('\r\n\r\n');
    expect(head).toMatch(/^HTTP\/1\.0 200 OK\r\n/);
    expect(head).not.toMatch(/transfer-encoding/i);
    expect(head).toMatch(/connection: close/i);
    expect(body).toBe('part1-part2');
  });

  it('relays a response without a length to HTTP/1.1 clients chunked, and keeps the connection', async () => {
    const sock = await open(p.port);
    sock.write('GET /stream HTTP/1.1\r\nHost: h\r\n\r\n');
    const { text, closed } = await readUntil(sock, (t) => t.endsWith('0\r\n\r\n'));
    expect(closed).toBe(false);
    const [r] = parseResponses(text);
    expect(r!.headers['transfer-encoding']).toBe('chunked');
    expect(r!.body).toBe('part1-part2');
    sock.destroy();
  });

  it('answers twenty pipelined requests in order', async () => {
    seen.length = 0;
    let batch = '';
    for (let i = 0; i < 19; i++) batch += `GET /p${i} HTTP/1.1\r\nHost: h\r\n\r\n`;
    batch += 'GET /p19 HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n';
    const { responses, closed } = await rawExchange(p.port, batch);
    expect(closed).toBe(true);
    expect(responses.map((r) => r.body)).toEqual(Array.from({ length: 20 }, (_, i) => `GET /p${i} host=h body=`));
  });

  it('reads a request head and body sent a byte at a time', async () => {
    const sock = await open(p.port);
    const request = 'POST /slow?x=1 HTTP/1.1\r\nHost: trickle\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello';
    const reply = readUntil(sock, () => false);
    for (const ch of request) {
      sock.write(ch);
      await new Promise((r) => setImmediate(r));
    }
    const { text, closed } = await reply;
    expect(closed).toBe(true);
    expect(parseResponses(text).map((r) => r.body)).toEqual(['POST /slow?x=1 host=trickle body=hello']);
  });

  it('streams a chunked upload with extensions and trailers to the backend', async () => {
    const { responses } = await rawExchange(
      p.port,
      'POST /up HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n' +
        '5;ext=1\r\nhello\r\n1\r\n-\r\nA\r\n0123456789\r\n0\r\nX-Trailer: t\r\n\r\n',
    );
    expect(responses.map((r) => r.body)).toEqual(['POST /up host=h body=hello-0123456789']);
  });

  it('answers Expect: 100-continue before the body is sent', async () => {
    const sock = await open(p.port);
    sock.write('POST /exp HTTP/1.1\r\nHost: h\r\nExpect: 100-continue\r\nContent-Length: 4\r\nConnection: close\r\n\r\n');
    const interim = await readUntil(sock, (t) => t.includes('\r\n\r\n'));
    expect(interim.text).toBe('HTTP/1.1 100 Continue\r\n\r\n');
    sock.write('body');
    const { text } = await readUntil(sock, () => false);
    expect(parseResponses(text).map((r) => r.body)).toEqual(['POST /exp host=h body=body']);
  });

  it('takes an absolute-form target: its authority is the Host', async () => {
    const { responses } = await rawExchange(p.port, 'GET https://api.example:8443 HTTP/1.1\r\nHost: other\r\nConnection: close\r\n\r\n');
    expect(responses.map((r) => r.body)).toEqual(['GET / host=api.example:8443 body=']);
  });

  it.each(REFUSED)('answers $name with $status and closes, forwarding nothing', async ({ request, status }) => {
    seen.length = 0;
    const { responses, closed } = await rawExchange(p.port, `${request}GET /never HTTP/1.1\r\nHost: h\r\n\r\n`);
    expect(responses.map((r) => r.status)).toEqual([status]);
    expect(closed).toBe(true);
    expect(seen).toEqual([]);
  });

  it('answers a smuggling attempt behind a valid request after that request, and forwards nothing more', async () => {
    seen.length = 0;
    const { responses, closed } = await rawExchange(
      p.port,
      'GET /ok HTTP/1.1\r\nHost: h\r\n\r\n' +
        'POST /smuggle HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n' +
        'GET /hidden HTTP/1.1\r\nHost: h\r\n\r\n',
    );
    expect(responses.map((r) => r.status)).toEqual([200, 400]);
    expect(closed).toBe(true);
    expect(seen.map((l) => l.split(' ')[1])).toEqual(['/ok']);
  });
});
