// Cross-shard MULTI/EXEC transfer soak: N clients move money between accounts on different
// shards for D seconds (a fifth of them with WATCH, the held path) while a checker reads every
// account in one transaction and with MGET; the total must never change.
// Usage: node native-bench/txn-soak.mjs [seconds=30] [clients=50] [shards=3] [accounts=16]
import net from 'node:net';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';

const SECONDS = Number(process.argv[2] ?? 30);
const CLIENTS = Number(process.argv[3] ?? 50);
const SHARDS = Number(process.argv[4] ?? 3);
const ACCOUNTS = Number(process.argv[5] ?? 16);
const START = 1000;
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));

const port = await new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => {
    const p = s.address().port;
    s.close(() => resolve(p));
  });
});
const srv = spawn(process.execPath, [CLI, 'server', '--port', String(port), '--bind', '127.0.0.1', '--shards', String(SHARDS)], {
  stdio: 'ignore',
});
try {
  const connect = async () => {
    for (let i = 0; i < 100; i++) {
      const c = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null });
      c.on('error', () => {});
      try {
        await c.connect();
        return c;
      } catch {
        c.disconnect();
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    throw new Error('server did not start');
  };
  const admin = await connect();
  const keys = Array.from({ length: ACCOUNTS }, (_, i) => `acct:${i}`);
  await admin.mset(...keys.flatMap((k) => [k, String(START)]));
  const clients = await Promise.all(Array.from({ length: CLIENTS }, connect));
  const deadline = Date.now() + SECONDS * 1000;
  let plain = 0;
  let watched = 0;
  let aborted = 0;
  const work = clients.map(async (c, n) => {
    for (let i = 0; Date.now() < deadline; i++) {
      const from = keys[(n + i) % ACCOUNTS];
      const to = keys[(n + 1 + i + (i % (ACCOUNTS - 1))) % ACCOUNTS];
      if (from === to) continue;
      if (n % 5 === 0) {
        await c.watch(from);
        const bal = Number(await c.get(from));
        if (
          (await c
            .multi()
            .set(from, String(bal - 2))
            .incrby(to, 2)
            .exec()) === null
        )
          aborted++;
        else watched++;
      } else {
        await c.multi().decrby(from, 1).incrby(to, 1).exec();
        plain++;
      }
    }
  });
  const checker = await connect();
  let checks = 0;
  let violations = 0;
  const check = (async () => {
    while (Date.now() < deadline) {
      const m = checker.multi();
      for (const k of keys) m.get(k);
      const a = (await m.exec()).reduce((s, [, v]) => s + Number(v), 0);
      const b = (await checker.mget(...keys)).reduce((s, v) => s + Number(v), 0);
      checks += 2;
      if (a !== ACCOUNTS * START) violations++;
      if (b !== ACCOUNTS * START) violations++;
    }
  })();
  await Promise.all([...work, check]);
  const final = (await admin.mget(...keys)).reduce((s, v) => s + Number(v), 0);
  console.log(
    JSON.stringify({
      seconds: SECONDS,
      clients: CLIENTS,
      shards: SHARDS,
      accounts: ACCOUNTS,
      plainTx: plain,
      watchedTx: watched,
      watchAborts: aborted,
      checks,
      violations,
      finalTotal: final,
      expected: ACCOUNTS * START,
    }),
  );
  for (const c of [...clients, checker, admin]) c.disconnect();
  if (violations > 0 || final !== ACCOUNTS * START) process.exitCode = 1;
} finally {
  srv.kill('SIGTERM');
}
