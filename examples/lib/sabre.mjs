// Starts a Sabre server from this checkout's dist/ on a free port, for examples run without one.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Spawns `sabre server` on a free 127.0.0.1 port; resolves with { port, stop() }. */
export async function startSabre(flags = []) {
  const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
  const proc = spawn(process.execPath, [cli, 'server', '--port', '0', '--bind', '127.0.0.1', '--shards', '2', ...flags], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise((resolve, reject) => {
    let out = '';
    proc.stdout.on('data', (d) => {
      out += d;
      const m = /ready to accept connections .*port=(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    proc.once('exit', (code) => reject(new Error(`sabre exited with ${code}`)));
  });
  const exited = new Promise((r) => proc.once('exit', r));
  return {
    port,
    stop: () => {
      proc.kill('SIGTERM');
      return exited;
    },
  };
}
