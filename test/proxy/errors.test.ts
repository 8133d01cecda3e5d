import { Agent, request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, freePort, http, startBackend, startProxyProc, waitFor, type Backend, type ProxyProc } from './helpers.js';

describe('proxy error paths', () => {
  let ok: Backend, hang: Backend;
  let hangClosed = 0;
  const procs: ProxyProc[] = [];
  beforeAll(async () => {
    ok = await startBackend('ok');
    // Never answers; counts connections the proxy tears down.
    hang = await startBackend('hang', (req) => {
      req.resume();
      req.socket.on('close', () => hangClosed++);
      return true;
    });
  });
  afterAll(async () => {
    await Promise.all(procs.map((p) => p.stop()));
    await Promise.all([ok.kill(), hang.kill()]);
  });
  const start = async (cfg: Record<string, unknown>): Promise<ProxyProc> => {
    const p = await startProxyProc(cfg);
    procs.push(p);
    return p;
  };

  it('answers 413 when the body exceeds maxBodySize (declared or streamed)', async () => {
    const p = await start({ maxBodySize: 1000, backends: [{ url: ok.url }] });
    const r = await http(p.url('/up'), { method: 'POST', body: Buffer.alloc(2000) });
    expect(r.status).toBe(413);
    expect(JSON.parse(r.body).error).toBe('payload too large');
    const chunked = await http(p.url('/up'), { method: 'POST', body: Buffer.alloc(5000), headers: { 'transfer-encoding': 'chunked' } });
    expect(chunked.status).toBe(413);
    expect((await http(p.url('/up'), { method: 'POST', body: Buffer.alloc(900) })).status).toBe(200);
  });

  it('answers 502 when the backend refuses connections, then 503 once it is ejected', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const p = await start({ backends: [{ url: dead }], healthCheck: { interval: 60_000, fall: 1 } });
    const r = await http(p.url('/'), { method: 'POST', body: 'x' });
    expect(r.status).toBe(502);
    expect(r.headers['content-type']).toBe('application/json');
    expect(JSON.parse(r.body).error).toBe('bad gateway');
    const r2 = await http(p.url('/'));
    expect(r2.status).toBe(503);
    expect(JSON.parse(r2.body).error).toBe('service unavailable');
  });

  it('answers 503 with no backends configured', async () => {
    const p = await start({ backends: [] });
    expect((await http(p.url('/'))).status).toBe(503);
  });

  it('answers 504 when response headers time out', async () => {
    const p = await start({ backends: [{ url: hang.url }], timeouts: { responseHeaders: 300 }, retries: 0 });
    const r = await http(p.url('/slow'));
    expect(r.status).toBe(504);
    expect(JSON.parse(r.body).error).toBe('gateway timeout');
  });

  it('a client abort cancels the upstream request and frees the in-flight count', async () => {
    const p = await start({ backends: [{ url: hang.url }], timeouts: { responseHeaders: 20_000 } });
    const closedBefore = hangClosed;
    const hitsBefore = hang.hits;
    const req = request(p.url('/abort'), { agent: false });
    req.on('error', () => undefined);
    req.end();
    await waitFor(() => hang.hits > hitsBefore, 3000, 'request at the backend');
    expect((await admin(p, 'GET', '/status')).json.backends[0].inflight).toBe(1);
    req.destroy();
    await waitFor(async () => (await admin(p, 'GET', '/status')).json.backends[0].inflight === 0, 3000, 'in-flight freed');
    await waitFor(() => hangClosed > closedBefore, 3000, 'upstream connection closed');
  });

  it('a backend answering before reading the whole upload does not poison the connection pool', async () => {
    const early = await startBackend('early', (req, res) => {
      // Answers at once and leaves the rest of the body unread.
      if (req.method === 'POST') res.end('early');
      else return false;
      return true;
    });
    const p = await start({ threads: 1, backends: [{ url: early.url }] });
    const r = await http(p.url('/up'), { method: 'POST', body: Buffer.alloc(4 * 1024 * 1024) }).catch((e: Error) => e.message);
    expect(typeof r === 'string' || r.body === 'early').toBe(true);
    for (let i = 0; i < 5; i++) expect((await http(p.url('/'))).body).toBe('early');
    await early.kill();
  });

  it('SIGTERM with an idle keep-alive client connection open still exits 0', async () => {
    const b = await startBackend('b');
    const p = await start({ threads: 1, backends: [{ url: b.url }] });
    // An agent that keeps the connection open after the response, as browsers and load tools do.
    const agent = new Agent({ keepAlive: true });
    const body = await new Promise<string>((resolve, reject) => {
      request(p.url('/'), { agent }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve(Buffer.concat(chunks).toString()));
      })
        .on('error', reject)
        .end();
    });
    expect(body).toContain('b');
    expect(await p.stop('SIGTERM')).toBe(0);
    agent.destroy();
    await b.kill();
  });

  it('SIGTERM lets in-flight requests finish, then exits 0', async () => {
    const slow = await startBackend('slow', (req, res) => {
      req.resume();
      setTimeout(() => res.end('done'), 300);
      return true;
    });
    const p = await start({ backends: [{ url: slow.url }] });
    const pending = http(p.url('/'));
    await waitFor(() => slow.hits === 1, 3000, 'request at backend');
    const code = p.stop('SIGTERM');
    const r = await pending;
    expect(r.status).toBe(200);
    expect(r.body).toBe('done');
    expect(await code).toBe(0);
    await slow.kill();
  });
});
