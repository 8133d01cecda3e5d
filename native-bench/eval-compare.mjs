// EVAL/EVALSHA throughput, Sabre (1 shard) vs real Redis 7.0 in the same run: redis-benchmark,
// alternating rounds, medians. Usage: node native-bench/eval-compare.mjs [rounds]
// Needs redis-server and redis-benchmark on PATH and `npm run build` done.
import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const ROUNDS = Number(process.argv[2] ?? 3);
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url));
const INCR = "return redis.call('INCR', KEYS[1])";
const TEN = "for i = 1, 5 do redis.call('INCR', KEYS[1]) redis.call('GET', KEYS[1]) end return 1";
const SET = "return redis.call('set',KEYS[1],ARGV[1])";

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

async function waitFor(port) {
  for (let i = 0; i < 200; i++) {
    if (
      spawnSync('redis-cli', ['-p', String(port), 'ping'])
        .stdout?.toString()
        .includes('PONG')
    )
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`no server on ${port}`);
}

const cli = (port, ...args) =>
  spawnSync('redis-cli', ['-p', String(port), ...args])
    .stdout.toString()
    .trim();

function bench(port, pipeline, n, args) {
  const r = spawnSync('redis-benchmark', [
    '-p',
    String(port),
    '-n',
    String(n),
    '-P',
    String(pipeline),
    '-c',
    '50',
    '-r',
    '100000',
    '--csv',
    ...args,
  ]);
  const out = r.stdout.toString() + r.stderr.toString();
  const m = /^"[^"]*","([\d.]+)"/m.exec(out.split('\n').slice(1).join('\n'));
  if (m === null) throw new Error(`redis-benchmark on ${port}: ${out}`);
  return Number(m[1]);
}

const rport = await freePort();
const sport = await freePort();
const redis = spawn('redis-server', ['--port', String(rport), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
const sabre = spawn(process.execPath, [CLI, 'server', '--port', String(sport), '--shards', '1'], { stdio: 'ignore' });
try {
  await waitFor(rport);
  await waitFor(sport);
  const cases = [];
  for (const [name, script] of [
    ['INCR', INCR],
    ['10 calls', TEN],
  ]) {
    const sha = cli(rport, 'script', 'load', script);
    cli(sport, 'script', 'load', script);
    cases.push({ name: `EVALSHA ${name} -P 1`, P: 1, n: 20000, args: ['evalsha', sha, '1', 'counter:__rand_int__'] });
    cases.push({ name: `EVALSHA ${name} -P 16`, P: 16, n: 100000, args: ['evalsha', sha, '1', 'counter:__rand_int__'] });
  }
  cases.push({ name: 'EVAL set -P 16', P: 16, n: 100000, args: ['eval', SET, '1', 'key:__rand_int__', 'v'] });
  const res = cases.map(() => ({ redis: [], sabre: [] }));
  for (let r = 0; r < ROUNDS; r++) {
    cases.forEach((c, i) => {
      res[i].redis.push(bench(rport, c.P, c.n, c.args));
      res[i].sabre.push(bench(sport, c.P, c.n, c.args));
    });
  }
  const med = (a) => a.slice().sort((x, y) => x - y)[a.length >> 1];
  console.log(`| case | Redis 7.0 req/s | Sabre req/s | Sabre/Redis |`);
  console.log('|---|---|---|---|');
  cases.forEach((c, i) => {
    const rr = med(res[i].redis);
    const ss = med(res[i].sabre);
    console.log(`| ${c.name} | ${Math.round(rr)} | ${Math.round(ss)} | ${(ss / rr).toFixed(2)}x |`);
  });
} finally {
  redis.kill();
  sabre.kill();
}
