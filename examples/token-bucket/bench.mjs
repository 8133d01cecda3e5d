// Checks per second of the three limiters on one key set, against one server.
// Usage: node examples/token-bucket/bench.mjs [redis-port] [--seconds 3] [--concurrency 32]
import { Redis } from 'ioredis';
import { cellLimiter, localLimiter, luaLimiter } from './limiters.mjs';

const args = process.argv.slice(2);
const opt = (name, fallback) => Number(args.includes(name) ? args[args.indexOf(name) + 1] : fallback);
const SECONDS = opt('--seconds', 3);
const CONCURRENCY = opt('--concurrency', 32);
const given = args[0] && !args[0].startsWith('--') ? Number(args[0]) : 0;
const { startSabre } = await import('../lib/sabre.mjs');
const server = given ? null : await startSabre();
const redis = new Redis({ port: given || server.port, host: '127.0.0.1' });
// A generous limit over 1024 keys: the work measured is the check, not the denial.
const limit = { capacity: 1_000_000, limit: 1_000_000, windowMs: 1000 };
const rows = [];
for (const limiter of [localLimiter(limit), cellLimiter(redis, limit), luaLimiter(redis, limit)]) {
  await limiter.check('warm');
  let checks = 0;
  const until = performance.now() + SECONDS * 1000;
  // CONCURRENCY callers in flight at once, as a busy web server would have them (ioredis pipelines them).
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async (_, w) => {
      for (let i = w; performance.now() < until; i += CONCURRENCY) {
        await limiter.check(`user:${i & 1023}`);
        checks++;
      }
    }),
  );
  rows.push({ limiter: limiter.name, 'checks/s': Math.round(checks / SECONDS) });
}
console.table(rows);
redis.disconnect();
await server?.stop();
