/** Cluster-mode nodes for tests: Sabre servers and real redis-server 7.0 nodes on free loopback ports, with explicit bus ports. */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { freePort } from './redis-server.js';
export { freePort };

const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

/** redis-server and redis-cli can be run (the mixed-cluster and tooling tests need them). */
export const hasRedisTools = spawnSync('redis-server', ['--version']).status === 0 && spawnSync('redis-cli', ['--version']).status === 0;
/** Why tests needing them are skipped. */
export const NO_REDIS_TOOLS = 'redis-server/redis-cli not installed (apt-get install redis-server redis-tools)';

/** A running cluster node. */
export interface ClusterNodeProcess {
  kind: 'sabre' | 'redis';
  port: number;
  busPort: number;
  proc: ChildProcess;
  output(): string;
  client(): Redis;
  stop(): Promise<void>;
}

function waitFor(proc: ChildProcess, out: () => string, re: RegExp, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not start:\n${out()}`)), 60_000);
    const check = (): void => {
      if (re.test(out())) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', check);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${what} exited with ${code}:\n${out()}`));
    });
  });
}

/**
 * Starts a node (Sabre or redis-server) in cluster mode keeping nodes.conf in `dir`; `at` reuses the
 * ports of a node that was stopped, so it restarts with its nodes.conf.
 */
export async function startClusterNode(
  kind: 'sabre' | 'redis',
  dir: string,
  extra: string[] = [],
  at?: { port: number; busPort: number },
): Promise<ClusterNodeProcess> {
  const port = at?.port ?? (await freePort());
  const busPort = at?.busPort ?? (await freePort());
  // Its own data directory: a replica writes the RDB of its full sync there.
  const data = join(dir, `data-${port}`);
  mkdirSync(data, { recursive: true });
  const common = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--cluster-enabled',
    'yes',
    '--cluster-port',
    String(busPort),
    '--cluster-config-file',
    join(dir, `nodes-${port}.conf`),
    '--cluster-node-timeout',
    '5000',
    '--dir',
    data,
    ...extra,
  ];
  const proc =
    kind === 'sabre'
      ? spawn(process.execPath, [CLI, 'server', '--shards', '2', ...common], { stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn('redis-server', [...common, '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  await waitFor(proc, () => out, kind === 'sabre' ? /ready to accept connections/ : /Ready to accept connections/, kind);
  const clients: Redis[] = [];
  return {
    kind,
    port,
    busPort,
    proc,
    output: () => out,
    client: () => {
      const c = new Redis({ port, host: '127.0.0.1', lazyConnect: false, maxRetriesPerRequest: 1 });
      clients.push(c);
      return c;
    },
    stop: async () => {
      for (const c of clients) c.disconnect();
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** Runs redis-cli with `args`; resolves with its exit code and output. */
export function redisCli(args: string[], timeoutMs = 300_000): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const p = spawn('redis-cli', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    p.stdout.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr.on('data', (d: Buffer) => (output += d.toString()));
    const t = setTimeout(() => p.kill('SIGKILL'), timeoutMs);
    p.once('exit', (code) => {
      clearTimeout(t);
      resolve({ code, output });
    });
  });
}

/** Polls `cond` until it holds (generous bound; no timing is asserted). */
export async function until(cond: () => Promise<boolean> | boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}
