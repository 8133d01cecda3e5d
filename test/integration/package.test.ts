/** The published package: `npm pack`, installed into an empty folder, runs `npx sabre server`, the programmatic API and its types. */
import { execFile, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { refused } from '../helpers/server.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const run = promisify(execFile);

let dir = '';
let app = '';
let packed: string[] = [];

// dist/ is built by `npm test` (or `npm run build`) before this runs; --ignore-scripts keeps
// prepack from rebuilding dist/ under the other test files that spawn it.
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sabre-package-'));
  const { stdout } = await run('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: ROOT, timeout: 60_000 });
  const [info] = JSON.parse(stdout) as [{ filename: string; files: { path: string }[] }];
  packed = info.files.map((f) => f.path);
  app = join(dir, 'app');
  mkdirSync(app);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'sabre-package-test', private: true, type: 'module' }));
  await run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', join(dir, info.filename)], { cwd: app, timeout: 170_000 });
}, 180_000);

afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

describe('the npm package', () => {
  it('holds the build, the data files read at start-up and nothing else of the repository', () => {
    for (const f of ['dist/cli.js', 'dist/index.js', 'dist/index.d.ts', 'dist/limiter/index.js', 'dist/limiter/index.d.ts'])
      expect(packed).toContain(f);
    for (const f of ['data/redis-commands.json', 'data/sabre-commands.json', 'data/redis-help.json', 'data/redis-commands.COPYING'])
      expect(packed).toContain(f);
    expect(packed.filter((f) => !/^(dist|data)\//.test(f) && f !== 'package.json' && f !== 'README.md')).toEqual([]);
  });

  it('`npx sabre server --port 0` answers PING and stops on SIGTERM', async () => {
    // Its own process group: npx runs the bin through a shell, and a terminal's signal reaches them all.
    const proc = spawn('npx', ['sabre', 'server', '--port', '0', '--shards', '1'], {
      cwd: app,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
    proc.stderr.on('data', (d: Buffer) => (out += d.toString()));
    // 'close' comes once every process of the group has let go of the pipes.
    const closed = new Promise<void>((resolve) => proc.once('close', () => resolve()));
    try {
      const port = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`server did not start:\n${out}`)), 30_000);
        const check = (): void => {
          const m = /ready to accept connections .* port=(\d+)/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(Number(m[1]));
          }
        };
        proc.stdout.on('data', check);
        proc.once('exit', () => {
          clearTimeout(timer);
          reject(new Error(`npx exited before the server was ready:\n${out}`));
        });
      });
      const client = new Redis({ port, host: '127.0.0.1', maxRetriesPerRequest: 0 });
      expect(await client.ping()).toBe('PONG');
      await client.quit();
      process.kill(-proc.pid!, 'SIGTERM');
      await closed;
      expect(out).toMatch(/shutting down reason=SIGTERM/);
      expect(out).toMatch(/\[server\] bye/);
      expect(await refused(port)).toBe(true);
    } finally {
      if (proc.exitCode === null && proc.signalCode === null) process.kill(-proc.pid!, 'SIGKILL');
    }
  }, 60_000);

  it('the programmatic API works from the installed package, and leaves nothing running after close()', async () => {
    writeFileSync(join(app, 'api.mjs'), API_SCRIPT);
    // The script exits by itself only when close() released every thread, socket and timer.
    const { stdout } = await run(process.execPath, ['api.mjs'], { cwd: app, timeout: 60_000 });
    const result: unknown = JSON.parse(/^RESULT (.*)$/m.exec(stdout)![1]!);
    expect(result).toEqual({
      ping: '+PONG\r\n',
      shutdown: 'closed',
      badOption: { config: true, sabre: true, code: 'SABRE_CONFIG', message: "server options: unknown option 'nosuch'" },
      badProxyOption: { config: true, message: 'invalid proxy config: threads: Too small: expected number to be >=1' },
      proxied: '200 from backend',
      adminStatus: 200,
      limiter: [true, false],
    });
  }, 70_000);

  it('its types resolve for a TypeScript consumer (exports "types")', async () => {
    writeFileSync(join(app, 'check.ts'), TYPES_CHECK);
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ['check.ts'],
      }),
    );
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: app, timeout: 60_000 }).catch(
      (err: { stdout: string }) => err,
    );
    expect(r.stdout).toBe('');
  }, 70_000);
});

/** What a user's program does: start a server and a proxy, use them, stop them; prints `RESULT <json>`. */
const API_SCRIPT = `
import { Agent, createServer, get } from 'node:http';
import { connect } from 'node:net';
import { ConfigError, SabreError, startProxy, startServer } from 'sabre';
import { GcraLimiter } from 'sabre/limiter';

const send = (port, line) => new Promise((resolve, reject) => {
  const s = connect(port, '127.0.0.1', () => s.write(line));
  let reply = '';
  s.on('data', (d) => { reply += d; if (reply.endsWith('\\r\\n')) s.end(); });
  s.on('close', () => resolve(reply));
  s.on('error', reject);
});
const result = {};

const server = await startServer({ port: 0, shards: 1, appendonly: false });
result.ping = await send(server.port, 'PING\\r\\n');
await server.close();

const stopped = await startServer({ port: 0, shards: 1 });
await send(stopped.port, 'SHUTDOWN NOSAVE\\r\\n');
result.shutdown = await stopped.closed.then(() => 'closed');

try {
  await startServer({ port: 0, nosuch: 1 });
} catch (e) {
  result.badOption = { config: e instanceof ConfigError, sabre: e instanceof SabreError, code: e.code, message: e.message };
}
try {
  await startProxy({ threads: 0 });
} catch (e) {
  result.badProxyOption = { config: e instanceof ConfigError, message: e.message };
}

const backend = createServer((req, res) => res.end('from backend'));
await new Promise((resolve) => backend.listen(0, '127.0.0.1', resolve));
const proxy = await startProxy({
  listen: { host: '127.0.0.1', port: 0 },
  admin: { host: '127.0.0.1', port: 0 },
  threads: 1,
  backends: [{ url: 'http://127.0.0.1:' + backend.address().port }],
});
// A keep-alive connection stays open: close() must end it (a worker terminated with a socket aborts the process).
const keepAlive = new Agent({ keepAlive: true });
const httpGet = (port, path) => new Promise((resolve, reject) => {
  get({ host: '127.0.0.1', port, path, agent: keepAlive }, (res) => {
    let body = '';
    res.on('data', (d) => (body += d));
    res.on('end', () => resolve({ status: res.statusCode, body }));
  }).on('error', reject);
});
const r = await httpGet(proxy.port, '/');
result.proxied = r.status + ' ' + r.body;
result.adminStatus = (await httpGet(proxy.adminPort, '/status')).status;
await proxy.close();
backend.close();

const limiter = new GcraLimiter({ limit: 1, windowMs: 60_000 });
result.limiter = [limiter.check('k').allowed, limiter.check('k').allowed];
console.log('RESULT ' + JSON.stringify(result));
`;

/** A TypeScript consumer of both entry points; compiles only if the declarations resolve and fit. */
const TYPES_CHECK = `
import { ConfigError, SabreError, startProxy, startServer, type ProxyOptions, type SabreProxy, type SabreServer } from 'sabre';
import { GcraLimiter, type CheckResult } from 'sabre/limiter';

export async function main(): Promise<unknown[]> {
  const server: SabreServer = await startServer({ port: 0, shards: 1, appendonly: false, save: '' });
  const options: ProxyOptions = { listen: { port: 0 }, threads: 1, backends: [{ url: 'http://127.0.0.1:8081', weight: 2 }] };
  const proxy: SabreProxy = await startProxy(options);
  const r: CheckResult = new GcraLimiter({ limit: 1, windowMs: 1000 }).check('k');
  const e: SabreError = new ConfigError('x');
  await Promise.all([server.close(), proxy.close()]);
  return [server.port, proxy.port, proxy.adminPort, r.allowed, e.code];
}
`;
