// The capstone under load, through sabre proxy: cached against uncached reads, 429s once a limit
// is hit, and the breaker opening and closing as the metadata service fails and recovers.
// Needs `npm run build` and hey (native-bench/setup.sh installs it).
// Usage: node examples/book-reviews/load.mjs [--seconds 10] [--connections 50]
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSabre } from '../lib/sabre.mjs';
import { startMetadataStub } from './metadata-stub.mjs';

const arg = (name, fallback) => (process.argv.includes(name) ? process.argv[process.argv.indexOf(name) + 1] : fallback);
const SECONDS = Number(arg('--seconds', 10));
const CONNECTIONS = Number(arg('--connections', 50));
const APP = fileURLToPath(new URL('./app.mjs', import.meta.url));
const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
const GATEWAY = fileURLToPath(new URL('../gateway/proxy.json', import.meta.url));
const children = [];

if (spawnSync('hey', ['-h']).error) {
  console.error('hey is missing: run `sudo bash native-bench/setup.sh` (or apt-get install hey)');
  process.exit(2);
}

function freePort() {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Spawns a process and resolves once it prints `ready`. */
function start(args, ready) {
  const p = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(p);
  return new Promise((resolve, reject) => {
    let out = '';
    p.stdout.on('data', (d) => {
      out += d;
      if (ready.test(out)) resolve(p);
    });
    p.once('exit', (code) => reject(new Error(`${args.join(' ')} exited with ${code}:\n${out}`)));
  });
}

/** Runs hey (without blocking this process: the metadata stub lives here) and returns its results. */
function hey(args) {
  return new Promise((resolve) => {
    const p = spawn('hey', args);
    let out = '';
    p.stdout.on('data', (d) => (out += d));
    p.on('exit', () => {
      const q = (pct) => Number(new RegExp(`${pct}% in ([\\d.]+) secs`).exec(out)?.[1]) * 1000;
      resolve({
        rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1]),
        p50: q(50),
        p99: q(99),
        statuses: Object.fromEntries([...out.matchAll(/\[(\d{3})\]\s+(\d+) responses/g)].map((m) => [m[1], Number(m[2])])),
      });
    });
  });
}

/** One proxy (the gateway config, backends replaced) in front of `backends`; resolves with its URL. */
async function startProxy(backends, tmp, name) {
  const cfg = JSON.parse(readFileSync(GATEWAY, 'utf8'));
  const port = await freePort();
  cfg.listen = { host: '127.0.0.1', port };
  cfg.backends = backends.map((b) => ({ url: `http://127.0.0.1:${b}`, weight: 1 }));
  cfg.admin = { host: '127.0.0.1', port: await freePort() };
  const file = join(tmp, `${name}.json`);
  writeFileSync(file, JSON.stringify(cfg));
  await start([CLI, 'proxy', '--config', file], /listening|ready/i);
  return `http://127.0.0.1:${port}`;
}

async function main() {
  const tmp = mkdtempSync(join(tmpdir(), 'book-reviews-load-'));
  const sabre = await startSabre();
  const stub = await startMetadataStub({ delayMs: 100 });
  const ports = await Promise.all([freePort(), freePort(), freePort(), freePort()]);
  const app = (port, extra) =>
    start([APP, String(sabre.port), '--port', String(port), '--metadata', stub.url, ...extra], /book reviews API on/);
  await Promise.all([app(ports[0], []), app(ports[1], []), app(ports[2], ['--no-cache']), app(ports[3], ['--no-cache'])]);
  const cached = await startProxy([ports[0], ports[1]], tmp, 'cached');
  const uncached = await startProxy([ports[2], ports[3]], tmp, 'uncached');
  try {
    await fetch(`${cached}/books/7`);
    const load = ['-z', `${SECONDS}s`, '-c', String(CONNECTIONS)];
    const c = await hey([...load, `${cached}/books/7`]);
    const u = await hey([...load, `${uncached}/books/7`]);
    console.log(
      `cached:   ${c.rps.toFixed(0)} req/s, p50 ${c.p50.toFixed(1)} ms, p99 ${c.p99.toFixed(1)} ms, statuses ${JSON.stringify(c.statuses)}`,
    );
    console.log(
      `uncached: ${u.rps.toFixed(0)} req/s, p50 ${u.p50.toFixed(1)} ms, p99 ${u.p99.toFixed(1)} ms, statuses ${JSON.stringify(u.statuses)}`,
    );
    console.log(`cached/uncached: ${(c.rps / u.rps).toFixed(1)}x`);

    const login = await hey([
      '-n',
      '100',
      '-c',
      '4',
      '-m',
      'POST',
      '-T',
      'application/json',
      '-d',
      '{"user":"nobody","password":"wrong password"}',
      `${cached}/login`,
    ]);
    const counts = login.statuses;
    console.log(
      `100 bad logins through the proxy: ${JSON.stringify(counts)} (the apps allow 20 a minute per client, together: a global policy on Sabre)`,
    );
    const limited = await fetch(`${cached}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{"user":"nobody","password":"wrong password"}',
    });
    console.log(`a limited login: ${limited.status}`);
    for (const h of ['ratelimit-policy', 'ratelimit', 'retry-after']) console.log(`  ${h}: ${limited.headers.get(h)}`);

    const breakerOpen = async () => /^breaker_open 1$/m.test(await (await fetch(`${cached}/metrics`)).text());
    stub.setBroken(true);
    const during = [];
    for (let b = 100; b < 106; b++) during.push((await (await fetch(`${cached}/books/${b}`)).json()).degraded);
    const callsWhileOpen = stub.calls();
    for (let b = 106; b < 110; b++) await fetch(`${cached}/books/${b}`);
    console.log(
      `metadata service down: degraded answers ${during.filter(Boolean).length}/6, breaker open: ${await breakerOpen()}, ` +
        `service calls while open: ${stub.calls() - callsWhileOpen}`,
    );
    stub.setBroken(false);
    await new Promise((r) => setTimeout(r, 2100));
    const after = (await (await fetch(`${cached}/books/110`)).json()).degraded;
    console.log(`service back, after the open timeout: degraded ${after}, breaker open: ${await breakerOpen()}`);
  } finally {
    for (const p of children) p.kill('SIGTERM');
    await stub.close();
    await sabre.stop();
  }
}

main().catch((err) => {
  console.error(err);
  for (const p of children) p.kill('SIGKILL');
  process.exit(1);
});
