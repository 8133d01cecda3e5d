/** Test helpers: free ports, small node:http backends, and the proxy started the way a user starts it. */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo, connect as connectSocket, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { freePort } from '../helpers/redis-server.js';
import { websocketAccept } from '../../src/proxy/websocket-handshake.js';
export { freePort };

const ROOT = join(import.meta.dirname, '..', '..');
/** The Node that runs the proxy: SABRE_TEST_NODE checks another version (e.g. 24) against the same suite. */
export const PROXY_NODE = process.env.SABRE_TEST_NODE ?? process.execPath;

/** A node:http backend that answers with its own name unless `handler` takes over. */
export interface Backend {
  name: string;
  port: number;
  url: string;
  hits: number;
  server: Server;
  /** Stops abruptly: the listener and every open connection. */
  kill(): Promise<void>;
  /** Listens again on the same port. */
  revive(): Promise<void>;
}

export type Handler = (req: IncomingMessage, res: ServerResponse, b: Backend) => boolean | undefined;

export async function startBackend(name: string, handler?: Handler, port = 0): Promise<Backend> {
  const sockets = new Set<Socket>();
  const b: Backend = {
    name,
    port,
    url: '',
    hits: 0,
    server: createServer((req, res) => {
      if (req.url === '/health') {
        res.end('ok');
        return;
      }
      b.hits++;
      if (handler?.(req, res, b)) return;
      req.resume();
      req.on('end', () => {
        res.setHeader('x-backend', name);
        res.end(name);
      });
    }),
    async kill() {
      for (const s of sockets) s.destroy();
      await new Promise((r) => b.server.close(r));
    },
    async revive() {
      b.server.listen(b.port, '127.0.0.1');
      await once(b.server, 'listening');
    },
  };
  b.server.keepAliveTimeout = 30_000;
  b.server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  b.server.listen(port, '127.0.0.1');
  await once(b.server, 'listening');
  b.port = (b.server.address() as AddressInfo).port;
  b.url = `http://127.0.0.1:${b.port}`;
  return b;
}

/** A proxy child process (`node dist/cli.js proxy --config …`). */
export interface ProxyProc {
  port: number;
  adminPort: number;
  proc: ChildProcess;
  output: () => string;
  configPath: string;
  url: (path?: string) => string;
  /** SIGTERM and wait for exit; resolves the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Writes `config` (listen/admin ports filled in) to a temp file and starts the proxy on it. A port freePort()
 * found can be taken by a parallel test before the proxy binds it, so EADDRINUSE gets new ports and a retry.
 */
export async function startProxyProc(config: Record<string, unknown>): Promise<ProxyProc> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await launchProxyProc(config);
    } catch (err) {
      if (attempt >= 3 || !String(err).includes('EADDRINUSE')) throw err;
    }
  }
}

async function launchProxyProc(config: Record<string, unknown>): Promise<ProxyProc> {
  const port = await freePort();
  const adminPort = await freePort();
  const full = {
    admin: { host: '127.0.0.1', port: adminPort },
    threads: 2,
    // PROXY_FRONT=net|uws|node runs every proxy test file on that front (tests that name their front keep it).
    ...(process.env.PROXY_FRONT ? { front: process.env.PROXY_FRONT } : {}),
    ...config,
    // A test's listen section (e.g. tls) keeps the free port unless it names one.
    listen: { host: '127.0.0.1', port, ...(config.listen as object) },
    healthCheck: { path: '/health', interval: 200, timeout: 1000, rise: 2, fall: 2, ...(config.healthCheck as object) },
  };
  const dir = mkdtempSync(join(tmpdir(), 'sabre-proxy-'));
  const configPath = join(dir, 'proxy.json');
  writeFileSync(configPath, JSON.stringify(full));
  const proc = spawn(PROXY_NODE, [join(ROOT, 'dist', 'cli.js'), 'proxy', '--config', configPath], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr!.on('data', (c: Buffer) => (out += c.toString()));
  await new Promise<void>((resolve, reject) => {
    const t = setInterval(() => {
      if (out.includes('proxy listening')) {
        clearInterval(t);
        resolve();
      }
    }, 20);
    proc.once('exit', (code) => {
      clearInterval(t);
      reject(new Error(`proxy exited ${code}: ${out}`));
    });
  });
  return {
    port,
    adminPort,
    proc,
    configPath,
    output: () => out,
    url: (path = '/') => `http://127.0.0.1:${port}${path}`,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill(signal);
      const [code] = (await once(proc, 'exit')) as [number | null];
      return code;
    },
  };
}

/** A response read whole. */
export interface Reply {
  status: number;
  headers: IncomingMessage['headers'];
  body: string;
}

/** One request on a fresh connection (so requests spread over proxy threads). */
export function http(
  url: string,
  opts: { method?: string; headers?: Record<string, string>; body?: string | Buffer; localAddress?: string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method: opts.method ?? 'GET', headers: opts.headers, agent: false, localAddress: opts.localAddress },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

/** JSON from the admin API. */
export async function admin<T = unknown>(p: ProxyProc, method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> {
  const text = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  // node:http sends a DELETE body unframed unless the length is given.
  const r = await http(`http://127.0.0.1:${p.adminPort}${path}`, {
    method,
    body: text,
    headers: text === undefined ? {} : { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(text)) },
  });
  return { status: r.status, json: r.body.startsWith('{') ? JSON.parse(r.body) : (r.body as T) };
}

/** Polls `fn` until it returns truthy or `ms` pass. */
export async function waitFor<T>(fn: () => Promise<T> | T, ms = 5000, what = 'condition'): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** Counts each backend name in `bodies`. */
export function tally(bodies: string[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const b of bodies) t[b] = (t[b] ?? 0) + 1;
  return t;
}

/** Resident memory of a process in MiB. */
export function rssMiB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

/** Samples a process's RSS until stopped; returns the peak. */
export function sampler(pid: number): () => number {
  let peak = rssMiB(pid);
  const t = setInterval(() => (peak = Math.max(peak, rssMiB(pid))), 25);
  return () => {
    clearInterval(t);
    return peak;
  };
}

/** The fronts a proxy can serve clients with; `node` (node:http) and `net` serve wherever Node runs. */
export const FRONTS = ['uws', 'node', 'net'] as const;

/** One response read off a raw connection. */
export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Parses the complete responses at the start of `text` (Content-Length or chunked bodies; HEAD is not supported). */
export function parseResponses(text: string): RawResponse[] {
  const out: RawResponse[] = [];
  let p = 0;
  for (;;) {
    const end = text.indexOf('\r\n\r\n', p);
    if (end < 0) return out;
    const lines = text.slice(p, end).split('\r\n');
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) headers[l.slice(0, l.indexOf(':')).toLowerCase()] = l.slice(l.indexOf(':') + 1).trim();
    let q = end + 4;
    let body = '';
    if (headers['transfer-encoding'] === 'chunked') {
      for (;;) {
        const eol = text.indexOf('\r\n', q);
        if (eol < 0) return out;
        const n = parseInt(text.slice(q, eol), 16);
        if (text.length < eol + 2 + n + 2) return out;
        body += text.slice(eol + 2, eol + 2 + n);
        q = eol + 2 + n + 2;
        if (n === 0) break;
      }
    } else {
      const n = Number(headers['content-length'] ?? 0);
      if (text.length < q + n) return out;
      body = text.slice(q, q + n);
      q += n;
    }
    out.push({ status: Number(lines[0]!.slice(9, 12)), headers, body });
    p = q;
  }
}

/**
 * Writes `data` on a fresh connection and reads until the proxy closes it (or `waitMs` passes: then `closed` is
 * false); returns the responses in order.
 */
export function rawExchange(
  port: number,
  data: string,
  waitMs = 10_000,
): Promise<{ responses: RawResponse[]; closed: boolean; text: string }> {
  return new Promise((resolve) => {
    let text = '';
    const sock = connectSocket(port, '127.0.0.1', () => sock.write(data, 'latin1'));
    const done = (closed: boolean): void => {
      clearTimeout(timer);
      sock.destroy();
      resolve({ responses: parseResponses(text), closed, text });
    };
    const timer = setTimeout(() => done(false), waitMs);
    sock.on('data', (d: Buffer) => (text += d.toString('latin1')));
    sock.on('error', () => undefined);
    sock.on('close', () => done(true));
  });
}

/**
 * A raw WebSocket handshake through the proxy: the status, and the (paused) socket with what followed the response
 * head; a 101 must carry the Sec-WebSocket-Accept of the key sent.
 */
export async function rawUpgrade(port: number, path: string, host = 'test'): Promise<{ status: number; sock: Socket; rest: Buffer }> {
  const sock = connectSocket(port, '127.0.0.1');
  sock.on('error', () => undefined);
  await once(sock, 'connect');
  const key = randomBytes(16).toString('base64');
  sock.write(
    `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
  );
  let buf = Buffer.alloc(0);
  while (buf.indexOf('\r\n\r\n') < 0) {
    const [d] = (await Promise.race([once(sock, 'data'), once(sock, 'close').then(() => [Buffer.alloc(0)])])) as [Buffer];
    if (d.length === 0) break;
    buf = Buffer.concat([buf, d]);
  }
  sock.pause();
  const end = buf.indexOf('\r\n\r\n');
  const status = +buf.toString('latin1', 9, 12);
  if (status === 101)
    expect(buf.toString('latin1', 0, end).toLowerCase()).toContain(`sec-websocket-accept: ${websocketAccept(key).toLowerCase()}`);
  return { status, sock, rest: buf.subarray(end + 4) };
}
