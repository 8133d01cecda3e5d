// Sabre vs Redis 7.0 for streams: redis-benchmark throughput of XADD, XRANGE (10 and 100 entries),
// XREAD and XREADGROUP (-P 1 and -P 16, alternating servers, median of runs), and memory per entry
// of a 1M-entry stream with two small fields per entry (used_memory and RSS growth in both).
// Writes native-bench/results/streams.md.
// Usage: npm run build && node native-bench/streams-compare.mjs [--runs 3] [--requests 100000] [--entries 1000000]
import net from 'node:net';
import { spawn, execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const RUNS = Number(opt('runs', 3));
const REQUESTS = Number(opt('requests', 100000));
const N = Number(opt('entries', 1000000));
const pinned = (_cpus, cmd, argv) => [cmd, argv];
const SERVER_CPUS = '';

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
  const proc = spawn(
    ...pinned(SERVER_CPUS, 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']),
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  await waitFor(proc, /Ready to accept connections/);
  return { name: 'redis', port, proc };
}

async function startSabre() {
  const proc = spawn(
    ...pinned(SERVER_CPUS, process.execPath, [`${root}dist/cli.js`, 'server', '--port', '0', '--bind', '127.0.0.1', '--shards', '1']),
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
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

/** Sends commands pipelined and waits for as many replies (counts top-level reply lines). */
function pipeline(port, cmds) {
  return new Promise((resolve, reject) => {
    const sock = net.connect(port, '127.0.0.1');
    let replies = 0;
    let pending = Buffer.alloc(0);
    sock.on('data', (d) => {
      pending = pending.length ? Buffer.concat([pending, d]) : d;
      // Replies here are ids (a bulk string: two lines), +OK or errors (one line).
      let i;
      let last = 0;
      while ((i = pending.indexOf(10, last)) !== -1) {
        if (pending[last] === 45) reject(new Error(pending.toString('latin1', last, i)));
        if (pending[last] !== 36) replies++;
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

function info(port, section, field) {
  const out = execFileSync('redis-cli', ['-p', String(port), 'info', section]).toString();
  return Number(new RegExp(`${field}:(\\d+)`).exec(out)[1]);
}

function rss(pid) {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(s)[1]) * 1024;
}

/** One XADD per entry, explicit ids so both servers hold the same stream. */
function loadCommands(key) {
  const cmds = [];
  for (let i = 1; i <= N; i++) cmds.push(encode(['xadd', key, `${i}-0`, 'f1', `v${i}`, 'f2', `w${i}`]));
  return cmds;
}

/** Loads twice into other keys (warming each process), then measures the third load's growth. */
async function measureLoad(srv) {
  for (let w = 0; w < 2; w++) await pipeline(srv.port, loadCommands(`warm${w}`));
  await new Promise((res) => setTimeout(res, 300));
  const b0 = rss(srv.proc.pid);
  const u0 = info(srv.port, 'memory', 'used_memory');
  await pipeline(srv.port, loadCommands('big'));
  await new Promise((res) => setTimeout(res, 300));
  return { rss: (rss(srv.proc.pid) - b0) / N, used: (info(srv.port, 'memory', 'used_memory') - u0) / N };
}

async function memory() {
  const r = await startRedis();
  const redis = await measureLoad(r);
  await stop(r);
  const s = await startSabre();
  const sabre = await measureLoad(s);
  await stop(s);
  const f = (x) => x.toFixed(1);
  const row = `| stream, 2 fields (XADD) | ${f(redis.used)} | ${f(redis.rss)} | ${f(sabre.used)} | ${f(sabre.rss)} | ${(sabre.used / redis.used).toFixed(2)} | ${(sabre.rss / redis.rss).toFixed(2)} |`;
  console.log(row);
  return [row];
}

const TESTS = {
  'XADD s * f v': ['xadd', 's', '*', 'f', 'v'],
  'XRANGE 10': ['xrange', 'r', '-', '+', 'COUNT', '10'],
  'XRANGE 100': ['xrange', 'r', '-', '+', 'COUNT', '100'],
  'XREAD COUNT 10': ['xread', 'COUNT', '10', 'STREAMS', 'r', '0'],
  'XREADGROUP > (1 entry)': ['xreadgroup', 'GROUP', 'g', 'c', 'COUNT', '1', 'STREAMS', 'q', '>'],
};

/** The streams the read tests read: r (1000 entries) and q (enough new entries for every XREADGROUP). */
async function prepare(srv) {
  execFileSync('redis-cli', ['-p', String(srv.port), 'flushall']);
  const cmds = [];
  for (let i = 1; i <= 1000; i++) cmds.push(encode(['xadd', 'r', `${i}-0`, 'f1', `v${i}`, 'f2', `w${i}`]));
  const need = REQUESTS * RUNS * 2 + 1000;
  for (let i = 1; i <= need; i++) cmds.push(encode(['xadd', 'q', `${i}-0`, 'job', `j${i}`]));
  await pipeline(srv.port, cmds);
  execFileSync('redis-cli', ['-p', String(srv.port), 'xgroup', 'create', 'q', 'g', '0']);
}

function benchOnce(port, depth, argv) {
  const out = execFileSync('redis-benchmark', ['-p', String(port), '-q', '--csv', '-n', String(REQUESTS), '-P', String(depth), ...argv], {
    stdio: ['ignore', 'pipe', 'ignore'],
  }).toString();
  const m = /^"[^"]+","([\d.]+)"/m.exec(out);
  return m ? Number(m[1]) : 0;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function bench() {
  const r = await startRedis();
  const s = await startSabre();
  const rows = [];
  try {
    await prepare(r);
    await prepare(s);
    for (const depth of [1, 16]) {
      for (const [label, argv] of Object.entries(TESTS)) {
        const acc = { redis: [], sabre: [] };
        for (let run = 0; run < RUNS; run++)
          for (const srv of run % 2 === 0 ? [r, s] : [s, r]) acc[srv.name].push(benchOnce(srv.port, depth, argv));
        const rv = median(acc.redis);
        const sv = median(acc.sabre);
        rows.push(`| ${label} | ${depth} | ${Math.round(rv)} | ${Math.round(sv)} | ${(sv / rv).toFixed(2)} |`);
        console.log(rows.at(-1));
      }
    }
  } finally {
    await stop(r);
    await stop(s);
  }
  return rows;
}

const version = execFileSync('redis-server', ['--version'])
  .toString()
  .match(/v=(\S+)/)[1];
const mem = await memory();
const rows = await bench();
const lines = [
  `# Streams: Sabre vs Redis ${version}`,
  '',
  `Machine: ${(await import('node:os')).cpus().length} cores, ${new Date().toISOString()}; Sabre with --shards 1.`,
  `Reproduce: \`npm run build && node native-bench/streams-compare.mjs --runs ${RUNS} --requests ${REQUESTS} --entries ${N}\``,
  '',
  `## Memory per entry (${N} entries in one stream, 2 field/value pairs each)`,
  '',
  'Bytes per entry grown by the third load (after two loads into other keys), in each server.',
  '',
  '| stream | Redis used_memory | Redis RSS | Sabre used_memory | Sabre RSS | used_memory Sabre/Redis | RSS Sabre/Redis |',
  '|---|---|---|---|---|---|---|',
  ...mem,
  '',
  `## redis-benchmark (-n ${REQUESTS}, median of ${RUNS}, alternating servers)`,
  '',
  'XRANGE and XREAD read a 1000-entry stream; XREADGROUP reads one new entry per call from a preloaded stream (its PEL grows).',
  '',
  '| test | -P | Redis rps | Sabre rps | Sabre/Redis |',
  '|---|---|---|---|---|',
  ...rows,
  '',
];
writeFileSync(`${root}native-bench/results/streams.md`, lines.join('\n'));
