#!/usr/bin/env node
/** `sabre <program> [options]`: the single entry point for the server and the proxy. */
import { ConfigError, DataLoadError, SabreError } from './errors.js';

const USAGE = `usage: sabre <command> [options]

commands:
  server   run the Redis-compatible server   (sabre server --help)
  proxy    run the HTTP load balancer        (sabre proxy --help)
  inspect  look into a Sabre or Redis server (sabre inspect --help)
  dashboard  a live page for servers and proxies (sabre dashboard --help)
`;

const programs: Record<string, () => Promise<{ main(argv: string[]): Promise<void> }>> = {
  // Node's module loader opens every file of a module graph at once; loading the shard command set
  // first keeps that within a small `ulimit -n` (one shard starts under 64 descriptors).
  server: () => import('./shards/command-set.js').then(() => import('./server/main.js')),
  proxy: () => import('./proxy/main.js'),
  inspect: () => import('./inspect/main.js'),
  dashboard: () => import('./dashboard/main.js'),
};

async function run(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  if (cmd === undefined || cmd === '--help' || cmd === '-h' || cmd === 'help') {
    process.stdout.write(USAGE);
    return;
  }
  const load = programs[cmd];
  if (!load) {
    process.stderr.write(`sabre: unknown command '${cmd}'\n\n${USAGE}`);
    process.exitCode = 1;
    return;
  }
  await (await load()).main(rest);
}

run().catch((err: unknown) => {
  if (err instanceof ConfigError || err instanceof DataLoadError || (err instanceof SabreError && err.code === 'SABRE_INSPECT')) {
    process.stderr.write(`sabre: ${err.message}\n`);
  } else {
    process.stderr.write(`sabre: fatal: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  }
  process.exit(1);
});
