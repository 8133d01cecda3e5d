/**
 * TLS termination and HTTP/2: certificates chosen by SNI (checked through the peer certificate), HTTP/1.1 and h2 by
 * ALPN on one port, a certificate reload while a keep-alive connection stays open and requests keep flowing, plain
 * HTTP sent to the TLS port, and https:// backends with verification on (a custom CA) and off.
 */
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer, request as httpsRequest, Agent } from 'node:https';
import { connect as h2connect, type ClientHttp2Session } from 'node:http2';
import { type AddressInfo, connect as netConnect, type Socket } from 'node:net';
import { type PeerCertificate, connect as tlsConnect, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, type Backend, type ProxyProc, startBackend, startProxyProc, waitFor } from './helpers.js';
import { makeCa, makeLeaf, OPENSSL_MISSING, type TestCa } from './tls-certs.js';

if (OPENSSL_MISSING) console.warn(`skipping TLS tests: ${OPENSSL_MISSING}`);

interface HttpsReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  cert: PeerCertificate;
}

/** One HTTPS request; `servername` is the SNI name ('' sends none). */
function get(
  port: number,
  ca: string,
  opts: { servername?: string; path?: string; method?: string; body?: string; agent?: Agent } = {},
): Promise<HttpsReply> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      {
        host: '127.0.0.1',
        port,
        path: opts.path ?? '/',
        method: opts.method ?? 'GET',
        ca,
        servername: opts.servername ?? '',
        // The certificates name 127.0.0.1 too; with an SNI name the name is checked as well.
        checkServerIdentity: () => undefined,
        agent: opts.agent ?? false,
        headers: opts.body !== undefined ? { 'content-length': String(Buffer.byteLength(opts.body)) } : {},
      },
      (res) => {
        const cert = (res.socket as TLSSocket).getPeerCertificate();
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString(), cert }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** A backend that answers with its name, the X-Forwarded-Proto it got, and the request body. */
function echo(name: string): Promise<Backend> {
  return startBackend(name, (req, res) => {
    if (req.url === '/big') {
      // A streamed (chunked) response of many writes: the proxy writes it to the TLS socket in many pieces.
      for (let i = 0; i < 20; i++) res.write(Buffer.alloc(64 * 1024, 97 + i));
      res.end();
      return true;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      res.setHeader('x-backend', name);
      res.setHeader('set-cookie', ['a=1', 'b=2']);
      res.end(`${name} ${req.headers['x-forwarded-proto']} ${req.method} ${req.url} ${Buffer.concat(chunks).toString()}`);
    });
    return true;
  });
}

describe.skipIf(OPENSSL_MISSING !== '')('TLS termination, SNI and HTTP/2', () => {
  let ca: TestCa;
  let caPem: string;
  let b1: Backend;
  let b2: Backend;
  let proxy: ProxyProc;
  let certs: Record<'default' | 'a' | 'b', { cert: string; key: string }>;
  let config: Record<string, unknown>;

  beforeAll(async () => {
    ca = makeCa();
    caPem = readFileSync(ca.cert, 'latin1');
    certs = { default: makeLeaf(ca, ['default.test']), a: makeLeaf(ca, ['a.test']), b: makeLeaf(ca, ['b.test', '*.wild.test']) };
    b1 = await echo('b1');
    b2 = await echo('b2');
    config = {
      threads: 2,
      listen: {
        tls: {
          cert: certs.default.cert,
          key: certs.default.key,
          certificates: [
            { serverNames: ['a.test'], cert: certs.a.cert, key: certs.a.key },
            { serverNames: ['b.test', '*.wild.test'], cert: certs.b.cert, key: certs.b.key },
          ],
        },
      },
      backends: [{ url: b1.url }, { url: b2.url }],
    };
    proxy = await startProxyProc(config);
  });

  afterAll(async () => {
    await proxy?.stop();
    await b1?.kill();
    await b2?.kill();
  });

  it('serves the default certificate without SNI and the SNI-selected one by name', async () => {
    const none = await get(proxy.port, caPem);
    expect(none.status).toBe(200);
    expect(none.cert.subject.CN).toBe('default.test');
    expect(none.body).toMatch(/^b[12] https GET \/ $/);
    expect((await get(proxy.port, caPem, { servername: 'a.test' })).cert.subject.CN).toBe('a.test');
    expect((await get(proxy.port, caPem, { servername: 'b.test' })).cert.subject.CN).toBe('b.test');
    expect((await get(proxy.port, caPem, { servername: 'x.wild.test' })).cert.subject.CN).toBe('b.test');
    expect((await get(proxy.port, caPem, { servername: 'unknown.test' })).cert.subject.CN).toBe('default.test');
  });

  it('serves HTTP/1.1 keep-alive with request bodies on the TLS port', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const seen = new Set<unknown>();
    for (let i = 0; i < 5; i++) {
      const r = await get(proxy.port, caPem, { agent, method: 'POST', path: `/p?i=${i}`, body: `body-${i}` });
      expect(r.status).toBe(200);
      expect(r.body).toMatch(new RegExp(`^b[12] https POST /p\\?i=${i} body-${i}$`));
      expect(r.headers['set-cookie']).toEqual(['a=1', 'b=2']);
      seen.add(r.cert.fingerprint256);
    }
    agent.destroy();
    expect(seen.size).toBe(1);
  });

  it('answers pipelined requests in order over TLS, and a malformed one behind them with 400', async () => {
    const sock = tlsConnect({ host: '127.0.0.1', port: proxy.port, ca: caPem, checkServerIdentity: () => undefined });
    sock.on('error', () => undefined);
    await once(sock, 'secureConnect');
    let text = '';
    sock.on('data', (d: Buffer) => (text += d.toString('latin1')));
    const req = (p: string): string => `GET ${p} HTTP/1.1\r\nHost: x\r\n\r\n`;
    sock.write(`${req('/1')}${req('/2')}${req('/3')}POST /4 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd`);
    await once(sock, 'close');
    const statuses = [...text.matchAll(/HTTP\/1\.1 (\d+)/g)].map((m) => m[1]);
    expect(statuses).toEqual(['200', '200', '200', '400']);
    expect([...text.matchAll(/b[12] https GET (\/\d)/g)].map((m) => m[1])).toEqual(['/1', '/2', '/3']);
  });

  it('streams a large chunked response over TLS (HTTP/1.1 and h2)', async () => {
    const r = await get(proxy.port, caPem, { path: '/big' });
    expect(r.status).toBe(200);
    expect(r.body.length).toBe(20 * 64 * 1024);
    expect(r.body.slice(-3)).toBe('ttt');
    const session = h2connect(`https://127.0.0.1:${proxy.port}`, { ca: caPem, servername: 'a.test' });
    session.on('error', () => undefined);
    const s = session.request({ ':path': '/big' });
    let n = 0;
    s.on('data', (c: Buffer) => (n += c.length));
    await once(s, 'end');
    expect(n).toBe(20 * 64 * 1024);
    session.close();
  });

  it('speaks h2 by ALPN: concurrent streams, request bodies, response headers', async () => {
    const session: ClientHttp2Session = h2connect(`https://127.0.0.1:${proxy.port}`, { ca: caPem, servername: 'a.test' });
    session.on('error', () => undefined);
    await once(session, 'connect');
    expect((session.socket as TLSSocket).alpnProtocol).toBe('h2');
    const one = (i: number): Promise<{ status: number; headers: Record<string, unknown>; body: string }> =>
      new Promise((resolve, reject) => {
        const post = i % 2 === 1;
        const payload = `payload-${i}-${'x'.repeat(i * 1000)}`;
        // Streams 3, 7, … declare their length; the other POSTs send none, so theirs goes upstream chunked.
        const length = i % 4 === 3 ? { 'content-length': String(payload.length) } : {};
        const s = session.request({ ':method': post ? 'POST' : 'GET', ':path': `/s/${i}?q=${i}`, ...length }, { endStream: !post });
        let headers: Record<string, unknown> = {};
        let body = '';
        s.on('response', (h) => (headers = h));
        s.setEncoding('utf8');
        s.on('data', (c: string) => (body += c));
        s.on('end', () => resolve({ status: headers[':status'] as number, headers, body }));
        s.on('error', reject);
        if (post) s.end(payload);
      });
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => one(i)));
    for (const [i, r] of replies.entries()) {
      expect(r.status).toBe(200);
      expect(r.headers['x-backend']).toMatch(/^b[12]$/);
      expect(r.headers['set-cookie']).toEqual(['a=1', 'b=2']);
      const post = i % 2 === 1;
      expect(r.body).toBe(
        `${r.headers['x-backend']} https ${post ? 'POST' : 'GET'} /s/${i}?q=${i} ${post ? `payload-${i}-${'x'.repeat(i * 1000)}` : ''}`,
      );
    }
    session.close();
  });

  it('survives plain HTTP and garbage on the TLS port', async () => {
    for (const junk of ['GET / HTTP/1.1\r\nHost: a\r\n\r\n', '\x16\x03\x01\x00\x05hello', '\x00\x01\x02\x03'.repeat(1000)]) {
      const s = netConnect(proxy.port, '127.0.0.1');
      s.on('error', () => undefined);
      await once(s, 'connect');
      s.write(junk, 'latin1');
      s.on('data', () => undefined);
      await once(s, 'close');
    }
    // A client that negotiates h2 and then sends no HTTP/2 preface.
    const h2junk = tlsConnect({
      host: '127.0.0.1',
      port: proxy.port,
      ca: caPem,
      ALPNProtocols: ['h2'],
      checkServerIdentity: () => undefined,
    });
    h2junk.on('error', () => undefined);
    await once(h2junk, 'secureConnect');
    expect(h2junk.alpnProtocol).toBe('h2');
    h2junk.write('GET / HTTP/1.1\r\nHost: a\r\n\r\n');
    h2junk.on('data', () => undefined);
    await once(h2junk, 'close');
    expect((await get(proxy.port, caPem)).status).toBe(200);
    expect(proxy.proc.exitCode).toBeNull();
  });

  it('tunnels a WebSocket upgrade over TLS, after a pipelined request on the same connection', async () => {
    const ws = createHttpServer((_req, res) => res.end('plain'));
    ws.on('upgrade', (req, sock: Socket) => {
      const accept = createHash('sha1').update(`${req.headers['sec-websocket-key']}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      sock.write(
        `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`,
      );
      sock.on('data', (d: Buffer) => sock.write(Buffer.concat([Buffer.from('echo:'), d])));
    });
    ws.listen(0, '127.0.0.1');
    await once(ws, 'listening');
    const p = await startProxyProc({ ...config, backends: [{ url: `http://127.0.0.1:${(ws.address() as AddressInfo).port}` }] });
    try {
      const sock = tlsConnect({ host: '127.0.0.1', port: p.port, ca: caPem, checkServerIdentity: () => undefined });
      sock.on('error', () => undefined);
      await once(sock, 'secureConnect');
      let text = '';
      sock.on('data', (d: Buffer) => (text += d.toString('latin1')));
      sock.write(
        'GET /first HTTP/1.1\r\nHost: x\r\n\r\n' +
          'GET /chat HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n',
      );
      for (let i = 0; i < 300 && !text.includes('101 Switching'); i++) await new Promise((r) => setTimeout(r, 10));
      expect(text).toMatch(/^HTTP\/1\.1 200[\s\S]*plainHTTP\/1\.1 101 Switching Protocols/);
      sock.write('ping');
      for (let i = 0; i < 300 && !text.endsWith('echo:ping'); i++) await new Promise((r) => setTimeout(r, 10));
      expect(text.endsWith('echo:ping')).toBe(true);
      sock.destroy();
    } finally {
      await p.stop();
      ws.closeAllConnections();
      ws.close();
    }
  });

  it('re-reads the certificates on SIGHUP', async () => {
    const before = await get(proxy.port, caPem, { servername: 'a.test' });
    const fresh = makeLeaf(ca, ['a.test'], 'sighup');
    writeFileSync(certs.a.cert, readFileSync(fresh.cert));
    writeFileSync(certs.a.key, readFileSync(fresh.key));
    proxy.proc.kill('SIGHUP');
    await waitFor(
      async () => (await get(proxy.port, caPem, { servername: 'a.test' })).cert.fingerprint256 !== before.cert.fingerprint256,
      5000,
      'the new certificate',
    );
    expect((await get(proxy.port, caPem, { servername: 'a.test' })).cert.subject.CN).toBe('a.test');
  });

  it('reports the TLS setup in /status', async () => {
    const st = await admin<{ front: string; tls: { h2: boolean; alpn: string[]; certificates: Array<{ serverNames: string[] }> } }>(
      proxy,
      'GET',
      '/status',
    );
    expect(st.json.front).toBe('net');
    expect(st.json.tls.h2).toBe(true);
    expect(st.json.tls.alpn).toEqual(['h2', 'http/1.1']);
    expect(st.json.tls.certificates.map((c) => c.serverNames)).toEqual([['(default)'], ['a.test'], ['b.test', '*.wild.test']]);
  });

  it('reloads certificates while a keep-alive connection stays open under load, failing no request', async () => {
    const before = await get(proxy.port, caPem);
    // One raw TLS connection kept open across the reload: it goes on with the certificate it was made with.
    const kept = tlsConnect({ host: '127.0.0.1', port: proxy.port, ca: caPem, checkServerIdentity: () => undefined });
    await once(kept, 'secureConnect');
    let keptText = '';
    kept.on('data', (d: Buffer) => (keptText += d.toString('latin1')));
    const ask = async (): Promise<void> => {
      const n = (keptText.match(/HTTP\/1\.1 200/g) ?? []).length;
      kept.write('GET /kept HTTP/1.1\r\nHost: x\r\n\r\n');
      for (let i = 0; i < 200 && (keptText.match(/HTTP\/1\.1 200/g) ?? []).length === n; i++) await new Promise((r) => setTimeout(r, 10));
      expect((keptText.match(/HTTP\/1\.1 200/g) ?? []).length).toBe(n + 1);
    };
    await ask();

    // Load: keep-alive clients run requests while the certificate changes.
    let failed = 0;
    let done = 0;
    let stop = false;
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const loop = async (): Promise<void> => {
      while (!stop) {
        try {
          const r = await get(proxy.port, caPem, { agent });
          if (r.status === 200) done++;
          else failed++;
        } catch {
          failed++;
        }
      }
    };
    const loops = Array.from({ length: 4 }, loop);
    await new Promise((r) => setTimeout(r, 200));
    const fresh = makeLeaf(ca, ['default.test'], 'renewed');
    writeFileSync(certs.default.cert, readFileSync(fresh.cert));
    writeFileSync(certs.default.key, readFileSync(fresh.key));
    expect((await admin(proxy, 'POST', '/reload')).status).toBe(200);
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(loops);
    agent.destroy();
    expect(failed).toBe(0);
    expect(done).toBeGreaterThan(0);

    await ask();
    kept.destroy();
    const after = await get(proxy.port, caPem);
    expect(after.cert.subject.CN).toBe('default.test');
    expect(after.cert.fingerprint256).not.toBe(before.cert.fingerprint256);
    // SNI certificates are re-read as well, and still chosen by name.
    expect((await get(proxy.port, caPem, { servername: 'a.test' })).cert.subject.CN).toBe('a.test');
  });
});

describe.skipIf(OPENSSL_MISSING !== '')('https:// backends', () => {
  let ca: TestCa;
  let other: TestCa;
  let backend: HttpsServer;
  let untrusted: HttpsServer;
  let connections = 0;
  const proxies: ProxyProc[] = [];

  const serve = async (pair: { cert: string; key: string }, count: boolean): Promise<HttpsServer> => {
    const s = createHttpsServer({ cert: readFileSync(pair.cert), key: readFileSync(pair.key), keepAliveTimeout: 30_000 }, (req, res) => {
      if (req.url === '/big') {
        for (let i = 0; i < 10; i++) res.write(Buffer.alloc(64 * 1024, 98));
        return void res.end();
      }
      let size = 0;
      req.on('data', (c: Buffer) => (size += c.length));
      req.on('end', () =>
        res.end(`tls ${(req.socket as TLSSocket).servername || '-'} ${req.headers['x-forwarded-proto']}${size ? ` ${size}` : ''}`),
      );
    });
    if (count) s.on('secureConnection', () => connections++);
    s.listen(0, '127.0.0.1');
    await once(s, 'listening');
    return s;
  };
  const url = (s: HttpsServer): string => `https://127.0.0.1:${(s.address() as AddressInfo).port}`;

  beforeAll(async () => {
    ca = makeCa('Backend CA');
    other = makeCa('Other CA');
    backend = await serve(makeLeaf(ca, ['backend.test']), true);
    untrusted = await serve(makeLeaf(other, ['backend.test']), false);
  });

  afterAll(async () => {
    for (const p of proxies) await p.stop();
    backend?.close();
    untrusted?.close();
    backend?.closeAllConnections();
    untrusted?.closeAllConnections();
  });

  const start = async (config: Record<string, unknown>): Promise<ProxyProc> => {
    const p = await startProxyProc({ threads: 1, healthCheck: { path: '/' }, ...config });
    proxies.push(p);
    return p;
  };
  const plainGet = async (p: ProxyProc): Promise<{ status: number; body: string }> => {
    const r = await fetch(p.url('/'));
    return { status: r.status, body: await r.text() };
  };

  it('verifies the backend against a custom CA, sends the configured SNI name and pools connections', async () => {
    const p = await start({ backends: [{ url: url(backend) }], tls: { ca: ca.cert, servername: 'backend.test' } });
    const before = connections;
    for (let i = 0; i < 20; i++) expect(await plainGet(p)).toEqual({ status: 200, body: 'tls backend.test http' });
    // Keep-alive: the twenty requests (and any health probes) share a few connections, not one each.
    expect(connections - before).toBeLessThan(10);
    // Request bodies (head and body written back to back on a reused TLS connection) and a large streamed response.
    for (let i = 1; i <= 5; i++) {
      const r = await fetch(p.url('/post'), { method: 'POST', body: 'y'.repeat(i * 40_000) });
      expect(await r.text()).toBe(`tls backend.test http ${i * 40_000}`);
    }
    const big = await fetch(p.url('/big'));
    expect((await big.arrayBuffer()).byteLength).toBe(10 * 64 * 1024);
  });

  it('reaches https:// backends of a named pool with the same settings, health checks included', async () => {
    const p = await start({
      routes: [{ match: { pathPrefix: '/tls/' }, pool: 'secure' }],
      pools: { secure: { backends: [{ url: url(backend) }], healthCheck: { interval: 100, fall: 1 } } },
      tls: { ca: ca.cert, servername: 'backend.test' },
    });
    for (let i = 0; i < 3; i++) expect(await (await fetch(p.url('/tls/x'))).text()).toBe('tls backend.test http');
    // Health probes open a TLS connection each: three more of them, and the backend is still up (fall 1).
    const before = connections;
    await waitFor(() => connections - before >= 3, 5000, 'three health probes over TLS');
    const st = await admin<{ pools: Array<{ name: string; backends: Array<{ healthy: boolean }> }> }>(p, 'GET', '/status');
    expect(st.json.pools.find((x) => x.name === 'secure')!.backends[0]!.healthy).toBe(true);
  });

  it('refuses a backend whose certificate does not chain to the CA (502), and accepts it with verify off', async () => {
    const strict = await start({ backends: [{ url: url(untrusted) }], tls: { ca: ca.cert, servername: 'backend.test' }, retries: 0 });
    expect((await plainGet(strict)).status).toBe(502);
    const lax = await start({ backends: [{ url: url(untrusted) }], tls: { verify: false } });
    expect(await plainGet(lax)).toEqual({ status: 200, body: 'tls - http' });
  });

  it('rejects an unreadable certificate file at start with a message naming it', async () => {
    await expect(start({ listen: { tls: { cert: '/nonexistent/cert.pem', key: '/nonexistent/key.pem' } } })).rejects.toThrow(
      /cannot read cert \/nonexistent\/cert\.pem/,
    );
  });
});
