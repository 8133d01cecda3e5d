/** Starts a real redis-server on a free loopback port for interop tests (only where redis-server is installed). */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { Redis } from 'ioredis';
import { freePort } from '../helpers/redis-server.js';

/** True when redis-server and redis-check-rdb can be run. */
export const hasRedis =
  spawnSync('redis-server', ['--version']).status === 0 && spawnSync('redis-check-rdb', ['--version']).status !== null;

/** A running redis-server and a client connected to it. */
export interface RealRedis {
  client: Redis;
  proc: ChildProcess;
  stop(): Promise<void>;
}

/** Starts redis-server loading `dir/dbfilename` (when present), with saving and AOF off unless `extra` says otherwise. */
export async function startRedis(dir: string, dbfilename = 'dump.rdb', extra: string[] = []): Promise<RealRedis> {
  const port = await freePort();
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dir,
    '--dbfilename',
    dbfilename,
    '--save',
    '',
    '--appendonly',
    'no',
    ...extra,
  ];
  const proc = spawn('redis-server', args, {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  proc.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  proc.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${out}`)), 10_000);
    proc.stdout!.on('data', () => {
      if (out.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}:\n${out}`));
    });
  });
  const client = new Redis({ port, host: '127.0.0.1', lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  return {
    client,
    proc,
    async stop() {
      client.disconnect();
      proc.kill('SIGKILL');
      await exited;
    },
  };
}
