/**
 * Real `redis-sentinel` processes for the failover tests, and the small things they share: free
 * ports, Sabre servers on a fixed port with a config file (so a restart keeps its address and
 * Sentinel's CONFIG REWRITE has a file to write), and waiting on a condition with a generous bound.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { startServer, type TestServer } from './server.js';
import { freePort } from './redis-server.js';
export { freePort };

/** True where `redis-sentinel` runs (Debian: apt-get install redis-sentinel). */
export const hasSentinel = spawnSync('redis-sentinel', ['--version'], { encoding: 'utf8' }).status === 0;

/** Polls `check` every `everyMs` until it returns a value other than undefined/false, or throws after `boundMs`. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined | false>, boundMs = 60_000, everyMs = 100): Promise<T> {
  const end = Date.now() + boundMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** A Sabre server on a fixed port, started with a config file in `dir` (lines given), restartable on the same port. */
export async function sabreWithConfig(dir: string, port: number, lines: string[], flags: string[] = []): Promise<TestServer> {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'sabre.conf');
  writeFileSync(file, `${[`port ${port}`, 'bind 127.0.0.1', `dir ${dir}`, ...lines].join('\n')}\n`);
  return startServer(['--config', file, '--port', String(port), ...flags]);
}

/** A Sabre server started again from the config file sabreWithConfig wrote (and Sentinel may have rewritten). */
export function restartSabre(dir: string, port: number, flags: string[] = []): Promise<TestServer> {
  return startServer(['--config', join(dir, 'sabre.conf'), '--port', String(port), ...flags]);
}

/** A running redis-sentinel. */
export interface TestSentinel {
  port: number;
  proc: ChildProcess;
  output(): string;
  stop(): Promise<void>;
}

/** Starts redis-sentinel on a free port with its own config file in `dir`, monitoring `mymaster` at masterPort. */
export async function startSentinel(
  dir: string,
  masterPort: number,
  opts: { quorum?: number; downAfterMs?: number; failoverTimeoutMs?: number; extra?: string[] } = {},
): Promise<TestSentinel> {
  mkdirSync(dir, { recursive: true });
  const port = await freePort();
  const file = join(dir, 'sentinel.conf');
  writeFileSync(
    file,
    `${[
      `port ${port}`,
      'bind 127.0.0.1',
      `dir ${dir}`,
      `sentinel monitor mymaster 127.0.0.1 ${masterPort} ${opts.quorum ?? 2}`,
      `sentinel down-after-milliseconds mymaster ${opts.downAfterMs ?? 1000}`,
      `sentinel failover-timeout mymaster ${opts.failoverTimeoutMs ?? 5000}`,
      'sentinel parallel-syncs mymaster 2',
      ...(opts.extra ?? []),
    ].join('\n')}\n`,
  );
  const proc = spawn('redis-sentinel', [file], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  await waitFor(
    `redis-sentinel on ${port}`,
    async () => {
      if (proc.exitCode !== null) throw new Error(`redis-sentinel exited:\n${out}`);
      const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 });
      c.on('error', () => {});
      try {
        await c.connect();
        return (await c.ping()) === 'PONG';
      } finally {
        c.disconnect();
      }
    },
    15_000,
  );
  return {
    port,
    proc,
    output: () => out,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** A client for one Sentinel's own commands. */
export function sentinelClient(s: TestSentinel): Redis {
  return new Redis({ port: s.port, host: '127.0.0.1', maxRetriesPerRequest: 1 });
}

/** SENTINEL MASTER's field/value list as an object. */
export async function sentinelMaster(c: Redis): Promise<Record<string, string>> {
  const flat = (await c.call('SENTINEL', 'MASTER', 'mymaster')) as string[];
  const out: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) out[flat[i]!] = flat[i + 1]!;
  return out;
}
