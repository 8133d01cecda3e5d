// Records the HELP text of every container command from a running Redis 7.0 into data/redis-help.json.
// Usage: node scripts/dump-redis-help.mjs <port>   (redis-server 7.0.15, e.g. from native-bench/setup.sh)
import { writeFileSync } from 'node:fs';
import { Redis } from 'ioredis';

const port = Number(process.argv[2] ?? 6379);
const r = new Redis({ port, host: '127.0.0.1' });
const table = JSON.parse(
  await import('node:fs').then((fs) => fs.readFileSync(new URL('../data/redis-commands.json', import.meta.url), 'utf8')),
);
const help = {};
for (const c of table.commands) {
  if (!c.subcommands.includes(`${c.name}|help`)) continue;
  try {
    help[c.name] = await r.call(c.name, 'HELP');
  } catch (err) {
    console.error(`${c.name}: ${err.message}`);
  }
}
writeFileSync(new URL('../data/redis-help.json', import.meta.url), `${JSON.stringify(help, null, 1)}\n`);
console.log(`recorded HELP of ${Object.keys(help).length} commands`);
r.disconnect();
