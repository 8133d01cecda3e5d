/**
 * The server an integration suite talks to: Sabre (startServer), or, with
 * SABRE_COMPARE_REDIS=1 in the environment, a real redis-server started with the same
 * flags (--shards dropped). Running a suite both ways shows that its expectations are
 * Redis's behaviour and not Sabre's.
 */
import { spawn } from 'node:child_process';
import { startServer, type TestServer } from './server.js';
import { freePort } from './redis-server.js';

export const AGAINST_REDIS = process.env.SABRE_COMPARE_REDIS === '1';

export async function startTarget(flags: string[] = []): Promise<TestServer> {
  if (!AGAINST_REDIS) return startServer(flags);
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  for (let i = 0; i < flags.length; i += 2) if (flags[i] !== '--shards') args.push(flags[i]!, flags[i + 1]!);
  const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(out)), 10_000);
    proc.stdout!.on('data', () => {
      if (out.includes('Ready to accept connections')) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  return {
    port,
    proc,
    output: () => out,
    stop: async () => {
      if (proc.exitCode === null && proc.signalCode === null) proc.kill('SIGTERM');
      return exited;
    },
  };
}
