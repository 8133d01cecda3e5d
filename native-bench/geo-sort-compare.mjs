// Sabre vs Redis 7.0 for geo and SORT: redis-benchmark throughput of GEOADD, GEOSEARCH and SORT of a
// 100-element list (-P 1 and -P 16, alternating servers, median of runs), and memory per member of a
// 1M-member geo set (used_memory and RSS growth in both). Writes native-bench/results/geo-sort.md.
// Usage: npm run build && node native-bench/geo-sort-compare.mjs [--runs 5] [--requests 100000] [--elements 1000000]
import net from 'node:net';
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { cpus } from 'node:os';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const RUNS = Number(opt('runs', 5));
const REQUESTS = Number(opt('requests', 100000));
const N = Number(opt('elements', 1000000));

/** mulberry32, so both servers get the same data. */
function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function freePort() {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

function waitFor(proc, re) {
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`no start:\n${out}`)), 20000);
    const on = (d) => {
      out += d.toString();
      const m = re.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(m);
      }
    };
    proc.stdout.on('data', on);
    proc.stderr.on('data', on);
  });
}

async function startRedis() {
  const port = await freePort();
  const proc = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  await waitFor(proc, /Ready to accept connections/);
  return { name: 'redis', port, proc };
}

async function startSabre() {
  const proc = spawn(process.execPath, [`${root}dist/cli.js`, 'server', '--port', '0', '--bind', '127.0.0.1', '--shards', '1'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const m = await waitFor(proc, /ready to accept connections .*port=(\d+)/);
  return { name: 'sabre', port: Number(m[1]), proc };
}

async function stop(s) {
  if (s.proc.exitCode !== null) return;
  const done = new Promise((r) => s.proc.once('exit', r));
  s.proc.kill('SIGTERM');
  await done;
}

function encode(parts) {
  let s = `*${parts.length}\r\n`;
  for (const p of parts) s += `$${Buffer.byteLength(p)}\r\n${p}\r\n`;
  return s;
}

/** Sends commands pipelined and waits for as many one-line replies. */
function pipeline(port, cmds) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let replies = 0;
    let pending = Buffer.alloc(0);
    sock.on('data', (d) => {
      pending = pending.length ? Buffer.concat([pending, d]) : d;
      let i;
      let last = 0;
      while ((i = pending.indexOf(10, last)) !== -1) {
        if (pending[last] === 45) reject(new Error(pending.toString('latin1', last, i)));
        replies++;
        last = i + 1;
      }
      pending = pending.subarray(last);
      if (replies === cmds.length) {
        sock.end();
        resolve();
      }
    });
    sock.on('error', reject);
    let k = 0;
    const write = () => {
      while (k < cmds.length) if (!sock.write(cmds[k++])) return sock.once('drain', write);
    };
    write();
  });
}

function info(port, field) {
  const out = execFileSync('redis-cli', ['-p', String(port), 'info', 'memory']).toString();
  return Number(new RegExp(`${field}:(\\d+)`).exec(out)[1]);
}

function rss(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(s)[1]) * 1024;
}

/** GEOADD of N points in batches of 100 (the same points for both servers). */
function geoLoad() {
  const rand = rng(42);
  const cmds = [];
  for (let i = 0; i < N; i += 100) {
    const parts = ['geoadd', 'big'];
    for (let j = i; j < Math.min(N, i + 100); j++)
      parts.push((rand() * 360 - 180).toFixed(6), (rand() * 170 - 85).toFixed(6), `member:${j}`);
    cmds.push(encode(parts));
  }
  return cmds;
}

/** Loads twice into other keys (warming each process), then measures the third load's growth. */
async function measureLoad(srv, cmds) {
  for (let w = 0; w < 2; w++) {
    await pipeline(srv.port, cmds);
    execFileSync('redis-cli', ['-p', String(srv.port), 'rename', 'big', `warm${w}`]);
  }
  await new Promise((res) => setTimeout(res, 300));
  const b0 = rss(srv.proc.pid);
  const u0 = info(srv.port, 'used_memory');
  await pipeline(srv.port, cmds);
  await new Promise((res) => setTimeout(res, 300));
  return { rss: (rss(srv.proc.pid) - b0) / N, used: (info(srv.port, 'used_memory') - u0) / N };
}

/** What the throughput tests read: 1000 points around Sicily and a list of 100 random integers. */
function fixtures() {
  const rand = rng(7);
  const cmds = [];
  for (let i = 0; i < 1000; i += 100) {
    const parts = ['geoadd', 'pts'];
    for (let j = i; j < i + 100; j++) parts.push((12 + rand() * 6).toFixed(6), (36 + rand() * 3).toFixed(6), `p${j}`);
    cmds.push(encode(parts));
  }
  const list = ['rpush', 'l100'];
  for (let i = 0; i < 100; i++) list.push(String(Math.floor(rand() * 100000)));
  cmds.push(encode(list));
  return cmds;
}

const TESTS = [
  ['ZADD (reference)', ['-r', '100000', 'ZADD', 'z', '3479099956230698', 'm:__rand_int__']],
  ['GEOADD', ['-r', '100000', 'GEOADD', 'g', '13.361389', '38.115556', 'm:__rand_int__']],
  ['GEOSEARCH 50 km, ~20 hits', ['GEOSEARCH', 'pts', 'FROMLONLAT', '15', '37.5', 'BYRADIUS', '50', 'km', 'ASC', 'WITHDIST']],
  ['GEOSEARCH BYBOX COUNT 5', ['GEOSEARCH', 'pts', 'FROMMEMBER', 'p1', 'BYBOX', '200', '200', 'km', 'COUNT', '5']],
  ['LRANGE 0 99 (reference)', ['LRANGE', 'l100', '0', '99']],
  ['SORT 100 (numeric)', ['SORT', 'l100']],
  ['SORT 100 ALPHA LIMIT 0 10', ['SORT', 'l100', 'ALPHA', 'LIMIT', '0', '10']],
];

/** CPU seconds (user + system, all threads) a process has used. */
function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function benchOnce(port, depth, argv) {
  const out = execFileSync('redis-benchmark', ['-p', String(port), '-q', '--csv', '-n', String(REQUESTS), '-P', String(depth), ...argv], {
    stdio: ['ignore', 'pipe', 'ignore'],
  }).toString();
  const m = /"[^"]*","([\d.]+)"/.exec(out);
  return m ? Number(m[1]) : 0;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function bench() {
  const r = await startRedis();
  const s = await startSabre();
  const rows = [];
  try {
    for (const srv of [r, s]) await pipeline(srv.port, fixtures());
    // One unmeasured pass each, so Sabre's JIT has compiled the paths before the rounds.
    for (const srv of [r, s]) for (const [, argv] of TESTS) benchOnce(srv.port, 16, argv);
    for (const depth of [1, 16]) {
      for (const [label, argv] of TESTS) {
        const acc = { redis: [], sabre: [] };
        const cpu = { redis: [], sabre: [] };
        for (let run = 0; run < RUNS; run++) {
          for (const srv of run % 2 === 0 ? [r, s] : [s, r]) {
            const c0 = cpuSeconds(srv.proc.pid);
            acc[srv.name].push(benchOnce(srv.port, depth, argv));
            cpu[srv.name].push(((cpuSeconds(srv.proc.pid) - c0) / REQUESTS) * 1e6);
          }
        }
        const rv = median(acc.redis);
        const sv = median(acc.sabre);
        const rc = median(cpu.redis);
        const sc = median(cpu.sabre);
        rows.push(
          `| ${label} | ${depth} | ${Math.round(rv)} | ${Math.round(sv)} | ${(sv / rv).toFixed(2)} | ${rc.toFixed(1)} | ${sc.toFixed(1)} | ${(rc / sc).toFixed(2)} |`,
        );
        console.log(rows.at(-1));
      }
    }
  } finally {
    await stop(r);
    await stop(s);
  }
  return rows;
}

async function memory() {
  const cmds = geoLoad();
  const r = await startRedis();
  const redis = await measureLoad(r, cmds);
  await stop(r);
  const s = await startSabre();
  const sabre = await measureLoad(s, cmds);
  await stop(s);
  const f = (x) => x.toFixed(1);
  const row = `| geo set (GEOADD) | ${f(redis.used)} | ${f(redis.rss)} | ${f(sabre.used)} | ${f(sabre.rss)} | ${(sabre.used / redis.used).toFixed(2)} | ${(sabre.rss / redis.rss).toFixed(2)} |`;
  console.log(row);
  return [row];
}

const version = execFileSync('redis-server', ['--version'])
  .toString()
  .match(/v=(\S+)/)[1];
const lines = [
  `# Geo and SORT: Sabre vs Redis ${version}`,
  '',
  `Machine: ${cpus().length} cores, ${new Date().toISOString()}; Sabre with --shards 1.`,
  `Reproduce: \`npm run build && node native-bench/geo-sort-compare.mjs --runs ${RUNS} --requests ${REQUESTS} --elements ${N}\``,
  '',
  `## Memory per member (${N} members in one geo set)`,
  '',
  'Bytes per member grown by the third load (after two loads into other keys), in each server.',
  '',
  '| collection | Redis used_memory | Redis RSS | Sabre used_memory | Sabre RSS | used_memory Sabre/Redis | RSS Sabre/Redis |',
  '|---|---|---|---|---|---|---|',
  ...(await memory()),
  '',
  `## redis-benchmark (-n ${REQUESTS}, median of ${RUNS}, alternating servers)`,
  '',
  '1000 points around Sicily for the searches; SORT reads a list of 100 random integers.',
  '',
  "Throughput on a shared, loaded 2-core machine swings run to run, so each server's CPU time per request",
  '(user + system over all its threads, from /proc) is given too: "CPU Redis/Sabre" above 1 means Sabre spends less.',
  '',
  '| test | -P | Redis rps | Sabre rps | Sabre/Redis | Redis CPU µs/req | Sabre CPU µs/req | CPU Redis/Sabre |',
  '|---|---|---|---|---|---|---|---|',
  ...(await bench()),
  '',
];
mkdirSync(`${root}native-bench/results`, { recursive: true });
writeFileSync(`${root}native-bench/results/geo-sort.md`, lines.join('\n'));
console.log(lines.join('\n'));
