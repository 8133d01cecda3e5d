/**
 * The proxy's timeouts, end to end: idle counts time without bytes (a stream that keeps sending outlives it, a stalled
 * one is cut), responseHeaders starts once the request is sent (a slow upload outlives it), total bounds a request.
 */
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admin, type Backend, FRONTS, type ProxyProc, startBackend, startProxyProc } from './helpers.js';

/** GETs `url` and collects the body; `error` says whether the response was cut before its end. */
function get(url: string): Promise<{ status: number; body: string; cut: boolean }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode!, body, cut: !res.complete }));
      res.on('error', () => resolve({ status: res.statusCode!, body, cut: true }));
      res.on('aborted', () => resolve({ status: res.statusCode!, body, cut: true }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe.concurrent.each(FRONTS)('proxy timeouts (%s front)', (front) => {
  let b: Backend;
  let p: ProxyProc;
  let capped: ProxyProc;
  beforeAll(async () => {
    b = await startBackend('timeouts', (req, res) => {
      if (req.url === '/events') {
        // Server-sent events: one every 100 ms for 4 s, then the end.
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        let n = 0;
        const t = setInterval(() => {
          res.write(`data: ${++n}\n\n`);
          if (n === 40) {
            clearInterval(t);
            res.end();
          }
        }, 100);
        res.on('close', () => clearInterval(t));
      } else if (req.url === '/stall') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.write('the start, then nothing');
      } else {
        let n = 0;
        req.on('data', (c: Buffer) => (n += c.length));
        req.on('end', () => res.end(String(n)));
      }
      return true;
    });
    const backends = [{ url: b.url }];
    [p, capped] = await Promise.all([
      startProxyProc({ front, threads: 1, backends, retries: 0, timeouts: { idle: 1000, responseHeaders: 3000 } }),
      startProxyProc({ front, threads: 1, backends, retries: 0, timeouts: { idle: 1000, total: 1500 } }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([p.stop(), capped.stop()]);
    await b.kill();
  });

  it('lets a 4 s event stream (an event every 100 ms) outlive timeouts.idle of 1 s', async () => {
    const r = await get(p.url('/events'));
    expect(r.cut).toBe(false);
    expect(r.body.match(/^data: \d+$/gm)).toHaveLength(40);
  });

  it('lets a 6 s upload outlive timeouts.responseHeaders of 3 s', async () => {
    const body = await new Promise<string>((resolve, reject) => {
      const req = request(p.url('/upload'), { method: 'POST', agent: false, headers: { 'content-length': 60 * 1024 } }, (res) => {
        let s = '';
        res.on('data', (c: Buffer) => (s += c.toString()));
        res.on('end', () => resolve(`${res.statusCode} ${s}`));
      });
      req.on('error', reject);
      let sent = 0;
      const t = setInterval(() => {
        req.write(Buffer.alloc(1024, 0x61));
        if (++sent === 60) {
          clearInterval(t);
          req.end();
        }
      }, 100);
    });
    expect(body).toBe(`200 ${60 * 1024}`);
  });

  it('cuts a stream that stalls once timeouts.idle passes', async () => {
    const r = await get(p.url('/stall'));
    expect(r.status).toBe(200);
    expect(r.body).toBe('the start, then nothing');
    expect(r.cut).toBe(true);
  });

  it('ends a request at timeouts.total, however busy its stream', async () => {
    const r = await get(capped.url('/events'));
    expect(r.cut).toBe(true);
    expect(r.body.match(/^data: \d+$/gm)!.length).toBeLessThan(40);
    const status = (await admin<{ backends: Array<{ timeouts: number; healthy: boolean }> }>(capped, 'GET', '/status')).json;
    expect(status.backends[0]).toMatchObject({ timeouts: 1, healthy: true });
  });
});
