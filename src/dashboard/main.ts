/** `sabre dashboard`: one live page for servers and proxies, fed over server-sent events. */
import { readFileSync } from 'node:fs';
import { createServer, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { ConfigError } from '../errors.js';
import { ProxySource, type ProxySnapshot } from './proxy-source.js';
import { ServerSource, type ServerSnapshot } from './server-source.js';

const USAGE = `usage: sabre dashboard [--port 8088] [--bind 127.0.0.1] [--server HOST:PORT]… [--proxy http://HOST:ADMINPORT]…

  -p, --port PORT        the page's port (default 8088)
      --bind HOST        address to listen on (default 127.0.0.1)
  -s, --server HOST:PORT a Sabre or Redis to watch, repeatable (default 127.0.0.1:6379)
  -a, --password PASS    the servers' password
      --proxy URL        a sabre proxy's admin API, repeatable (e.g. http://127.0.0.1:9090)
`;

/** The page and the chart library it draws with (shipped in the package: no CDN, works offline). */
function assets(): Record<string, [string, Buffer]> {
  const require = createRequire(import.meta.url);
  const uplot = (f: string): Buffer => readFileSync(require.resolve(`uplot/dist/${f}`));
  return {
    '/': ['text/html; charset=utf-8', readFileSync(new URL('../../data/dashboard.html', import.meta.url))],
    '/uplot.js': ['text/javascript; charset=utf-8', uplot('uPlot.iife.min.js')],
    '/uplot.css': ['text/css; charset=utf-8', uplot('uPlot.min.css')],
  };
}

/** A running dashboard. */
export interface Dashboard {
  port: number;
  close(): Promise<void>;
}

/** Starts polling the sources every `intervalMs` and serves the page on `port` (0: a free one). */
export async function startDashboard(opts: {
  port: number;
  bind: string;
  servers: { name: string; host: string; port: number; password?: string }[];
  proxies: string[];
  intervalMs?: number;
}): Promise<Dashboard> {
  const servers = opts.servers.map((s) => new ServerSource(s.name, s.host, s.port, s.password));
  const proxies = opts.proxies.map((url) => new ProxySource(new URL(url).host, url));
  const files = assets();
  const streams = new Set<ServerResponse>();
  let latest: (ServerSnapshot | ProxySnapshot)[] = servers.map((s) => s.latest);
  let polling = false;
  const tick = async (): Promise<void> => {
    if (polling) return;
    polling = true;
    try {
      latest = await Promise.all([...servers.map((s) => s.poll()), ...proxies.map((p) => p.poll())]);
      const frame = `data: ${JSON.stringify(latest)}\n\n`;
      for (const res of streams) res.write(frame);
    } finally {
      polling = false;
    }
  };
  const timer = setInterval(() => void tick(), opts.intervalMs ?? 1000);
  void tick();

  const http = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]!;
    if (req.method !== 'GET') {
      res.writeHead(405, { allow: 'GET', 'content-type': 'text/plain' }).end('method not allowed\n');
      return;
    }
    if (path === '/events') {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(`data: ${JSON.stringify(latest)}\n\n`);
      streams.add(res);
      req.on('close', () => streams.delete(res));
      return;
    }
    if (path === '/api/snapshot') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(latest));
      return;
    }
    const file = files[path];
    if (!file) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
      return;
    }
    res.writeHead(200, { 'content-type': file[0], 'cache-control': 'no-cache' }).end(file[1]);
  });
  await new Promise<void>((resolve, reject) => {
    http.once('error', (err: NodeJS.ErrnoException) =>
      reject(err.code === 'EADDRINUSE' ? new ConfigError(`dashboard: port ${opts.port} on ${opts.bind} is in use`) : err),
    );
    http.listen(opts.port, opts.bind, resolve);
  });
  return {
    port: (http.address() as { port: number }).port,
    async close() {
      clearInterval(timer);
      for (const res of streams) res.end();
      for (const s of servers) s.close();
      await new Promise<void>((r) => http.close(() => r()));
    },
  };
}

/** HOST:PORT (IPv6 in brackets) → host and port. */
function hostPort(s: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(s);
  if (!m) throw new ConfigError(`--server: expected HOST:PORT, got '${s}'`);
  return { host: m[1] ?? m[2]!, port: Number(m[3]) };
}

/** CLI entry for `sabre dashboard`. */
export async function main(argv: string[]): Promise<void> {
  const options = {
    port: { type: 'string', short: 'p', default: '8088' },
    bind: { type: 'string', default: '127.0.0.1' },
    server: { type: 'string', short: 's', multiple: true },
    password: { type: 'string', short: 'a' },
    proxy: { type: 'string', multiple: true },
    help: { type: 'boolean', short: 'h', default: false },
  } as const;
  let v: ReturnType<typeof parseArgs<{ args: string[]; options: typeof options }>>['values'];
  try {
    ({ values: v } = parseArgs({ args: argv, options }));
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}\n\n${USAGE}`);
  }
  if (v.help) {
    process.stdout.write(USAGE);
    return;
  }
  const port = Number(v.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`--port: expected a port number, got '${v.port}'`);
  for (const p of v.proxy ?? []) if (!/^https?:\/\//.test(p)) throw new ConfigError(`--proxy: expected http://HOST:ADMINPORT, got '${p}'`);
  const servers = (v.server ?? ['127.0.0.1:6379']).map((s) => ({
    name: s,
    ...hostPort(s),
    ...(v.password === undefined ? {} : { password: v.password }),
  }));
  const d = await startDashboard({ port, bind: v.bind!, servers, proxies: v.proxy ?? [] });
  process.stdout.write(
    `dashboard on http://${v.bind}:${d.port}/ watching ${[...servers.map((s) => s.name), ...(v.proxy ?? [])].join(', ')}\n`,
  );
  const stop = (): void => {
    void d.close().then(() => process.exit(0));
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}
