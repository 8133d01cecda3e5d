/** Free loopback ports and real redis-server processes for the tests that compare with or talk to Redis. */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

/**
 * Ports tests hand out, below Linux's ephemeral range (32768 and up): the kernel gives those to
 * every outgoing connection, so a port the kernel picked for us could be taken by some client's
 * socket between our check and the server's bind. Ports in this range are only ever taken on purpose.
 */
const TEST_PORTS_FROM = 20000;
const TEST_PORTS_TO = 32000;

/** Whether a server can listen on 127.0.0.1:`port` right now. */
function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/** A TCP port nothing listens on right now (127.0.0.1), outside the ephemeral range. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = TEST_PORTS_FROM + Math.floor(Math.random() * (TEST_PORTS_TO - TEST_PORTS_FROM));
    if (await canListen(port)) return port;
  }
}

/** Starts `redis-server --port <free> --bind 127.0.0.1 ...args` and resolves once it accepts connections. */
export async function spawnRedisServer(args: string[]): Promise<{ port: number; proc: ChildProcess }> {
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`redis-server did not start: ${out}`)), 10_000);
    proc.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('Ready to accept connections')) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  return { port, proc };
}
